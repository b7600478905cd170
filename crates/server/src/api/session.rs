//! Signing in and out, and who am I.

use armstrace_core::{OrgKind, OrgState, Permission};
use armstrace_store::audit::{AuditEvent, AuditWho};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::body::JsonBody;
use crate::auth::{
    Credential, DUMMY_HASH, SESSION_COOKIE, SESSION_HOURS, SignedIn, hash_token, lock_for,
    new_session_secret, verify_password,
};
use crate::error::Problem;
use crate::{ApiError, AppState};

/// A sign-in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// An organisation as its users see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OrgSummary {
    /// Identifier.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: OrgKind,
    /// Country (none for the secretariat and partners).
    #[schema(value_type = Option<String>, example = "FR")]
    pub country: Option<String>,
    /// approved, pending or suspended.
    pub state: OrgState,
}

/// Who the caller is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// User identifier.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// The user's organisation, with its state.
    pub organisation: OrgSummary,
    /// What this session or token may do.
    pub permissions: Vec<Permission>,
    /// `token` or `session`.
    pub signed_in_with: &'static str,
}

/// A session just opened.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionOpened {
    /// Who signed in.
    pub me: Me,
    /// Send this in `X-CSRF-Token` with every request that changes something.
    pub csrf_token: String,
    /// When the session ends.
    pub expires_at: DateTime<Utc>,
}

fn me(signed_in: &SignedIn) -> Me {
    let actor = &signed_in.actor;
    Me {
        user_id: actor.user_id,
        username: actor.username.clone(),
        organisation: OrgSummary {
            id: actor.org_id,
            name: actor.org_name.clone(),
            kind: actor.org_kind,
            country: actor.country.map(|c| c.to_string()),
            state: actor.org_state,
        },
        permissions: actor.permissions.iter().collect(),
        signed_in_with: match signed_in.credential {
            Credential::Token(_) => "token",
            Credential::Session(_) => "session",
        },
    }
}

/// Who the caller is, and their organisation's state (the one route a pending organisation's
/// users may use).
#[utoipa::path(get, path = "/me", tag = "access",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No valid credentials", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn who_am_i(caller: SignedIn) -> Json<Me> {
    Json(me(&caller))
}

/// Signs in with a password and opens a session held in an `HttpOnly`, `Secure`,
/// `SameSite=Strict` cookie. Five failures in a row lock the account for 30 seconds, doubling
/// with each further failure up to an hour.
#[utoipa::path(post, path = "/session", tag = "access", security(()), request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionOpened),
        (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The organisation is suspended", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The account is locked for a while", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_in(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SignInRequest>,
) -> Result<Response, ApiError> {
    let opened = open_session(&state, &request.username, request.password).await?;
    let signed_in = SignedIn {
        actor: opened.actor,
        credential: Credential::Session(hash_token(&opened.session)),
    };
    let mut response = Json(SessionOpened {
        me: me(&signed_in),
        csrf_token: opened.csrf_token,
        expires_at: opened.expires_at,
    })
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&session_cookie(&opened.session)).expect("cookie is ASCII"),
    );
    Ok(response)
}

/// A session just opened by a password.
pub(crate) struct OpenedSession {
    /// Who signed in.
    pub actor: armstrace_core::Actor,
    /// The session's secret, for the cookie.
    pub session: String,
    /// The token a request that changes something must carry.
    pub csrf_token: String,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// The `Set-Cookie` value of a session.
pub(crate) fn session_cookie(session: &str) -> String {
    format!(
        "{SESSION_COOKIE}={session}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        SESSION_HOURS * 3600
    )
}

/// The `Set-Cookie` value that ends a session in the browser.
pub(crate) const CLEARED_SESSION_COOKIE: &str =
    "armstrace_session=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0";

/// Checks a password, counting failures and locking after repeated ones, refuses a suspended
/// organisation, and opens a session; every outcome is audited. Shared by the API and the web
/// pages.
pub(crate) async fn open_session(
    state: &AppState,
    username: &str,
    password: String,
) -> Result<OpenedSession, ApiError> {
    let now = Utc::now();
    let credentials = state.store.credentials(username).await?;
    if let Some(until) = credentials
        .as_ref()
        .and_then(|c| c.locked_until)
        .filter(|until| *until > now)
    {
        let event = AuditEvent::new(
            &credentials.as_ref().expect("locked").actor,
            "signin.failure",
        )
        .detail(json!({ "reason": "locked", "locked_until": until }));
        state.audit.record(vec![event]).await?;
        return Err(locked(until, now));
    }
    let hash = credentials
        .as_ref()
        .and_then(|c| c.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // A disabled user is refused like a wrong password, and counted like one.
    let known = credentials
        .as_ref()
        .is_some_and(|c| c.password_hash.is_some() && !c.disabled);
    let unverified = credentials.as_ref().map(|c| c.actor.clone());
    let Some(credentials) = credentials.filter(|_| matches && known) else {
        let who = match &unverified {
            Some(actor) => AuditWho::from(actor),
            None => AuditWho::unknown(username),
        };
        let event =
            AuditEvent::new(who, "signin.failure").detail(json!({ "reason": "bad_credentials" }));
        if let Some(until) = state.store.signin_failed(event, lock_for).await? {
            return Err(locked(until, now));
        }
        return Err(ApiError::BadCredentials);
    };
    let actor = credentials.actor;
    if actor.org_state == OrgState::Suspended {
        let event =
            AuditEvent::new(&actor, "signin.failure").detail(json!({ "reason": "org_suspended" }));
        state.audit.record(vec![event]).await?;
        return Err(ApiError::Refused {
            code: "org_suspended",
            detail: format!("{} is suspended: its users cannot sign in", actor.org_name),
        });
    }
    let session = new_session_secret();
    let csrf_token = new_session_secret();
    let expires_at = now + chrono::Duration::hours(SESSION_HOURS);
    let event =
        AuditEvent::new(&actor, "signin.success").detail(json!({ "expires_at": expires_at }));
    state
        .store
        .start_session(event, &hash_token(&session), &csrf_token, expires_at)
        .await?;
    Ok(OpenedSession {
        actor,
        session,
        csrf_token,
        expires_at,
    })
}

fn locked(until: DateTime<Utc>, now: DateTime<Utc>) -> ApiError {
    let seconds = (until - now).num_seconds().max(1) as u64;
    ApiError::TooManyRequests {
        code: "account_locked",
        retry_after: seconds,
        detail: format!(
            "too many failed sign-ins in a row: this account is locked for {seconds} more seconds"
        ),
    }
}

/// Signs out: ends the session and clears its cookie.
#[utoipa::path(delete, path = "/session", tag = "access",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn sign_out(
    State(state): State<AppState>,
    caller: SignedIn,
) -> Result<Response, ApiError> {
    let Credential::Session(hash) = &caller.credential else {
        return Err(ApiError::BadRequest {
            code: "not_a_session",
            detail: "this request is signed with an API token; a token ends when it is revoked or expires".into(),
        });
    };
    let event = AuditEvent::new(&caller.actor, "signout");
    state.store.end_session(event, hash).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(CLEARED_SESSION_COOKIE),
    );
    Ok(response)
}

/// A password change by its owner.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: String,
    /// The new one: at least 12 characters.
    pub new_password: String,
}

/// Changes the caller's own password (the current one must be given); ends every open session
/// of the caller, this one included.
#[utoipa::path(put, path = "/me/password", tag = "access", request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; sign in again"),
        (status = 401, description = "The current password is wrong", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The new password is too short", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: crate::auth::Authenticated,
    JsonBody(request): JsonBody<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let actor = caller.0;
    let credentials = state
        .store
        .credentials(&actor.username)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let hash = credentials
        .password_hash
        .clone()
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let current = request.current_password;
    let matches = tokio::task::spawn_blocking(move || verify_password(&current, &hash))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if !matches || credentials.password_hash.is_none() {
        let event = AuditEvent::new(&actor, "signin.failure")
            .detail(json!({ "reason": "bad_current_password" }));
        state.store.signin_failed(event, lock_for).await?;
        return Err(ApiError::BadCredentials);
    }
    let password_hash = crate::admin::new_password_hash(&request.new_password)
        .await
        .map_err(|error| match error {
            ApiError::Validation(mut errors) => {
                for e in &mut errors {
                    e.field = "new_password".into();
                }
                ApiError::Validation(errors)
            }
            other => other,
        })?;
    let change = armstrace_store::UserChange {
        password_hash: Some(password_hash),
        ..Default::default()
    };
    state
        .store
        .update_user(&AuditWho::from(&actor), &actor.username, &change)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
