//! Administration routes: organisations, their approval and suspension, users and API tokens.
//! The rules are in [`crate::admin`], shared with the operator's command line.

use armstrace_core::{CountryCode, OrgKind, OrgState, Permission, Permissions};
use armstrace_store::{ApiToken, Organisation, TokenRef, User};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::body::JsonBody;
use super::session::OrgSummary;
use crate::admin::{self, DEFAULT_TOKEN_DAYS};
use crate::auth::Authenticated;
use crate::error::Problem;
use crate::{ApiError, AppState};

fn summary(org: Organisation) -> OrgSummary {
    OrgSummary {
        id: org.id,
        name: org.name,
        kind: org.kind,
        country: org.country.map(|c| c.to_string()),
        state: org.state,
    }
}

fn need_admin(caller: &Authenticated) -> Result<(), ApiError> {
    caller.require(Permission::Admin).map(|_| ())
}

/// A new organisation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    /// Unique name.
    pub name: String,
    /// ncb, police, customs, border, regulator or partner.
    pub kind: OrgKind,
    /// ISO 3166-1 alpha-2 code, for an NCB or a national agency.
    pub country: Option<String>,
}

fn country_field(country: Option<&str>) -> Result<Option<CountryCode>, ApiError> {
    country
        .map(|c| {
            CountryCode::parse(c)
                .map_err(|e| ApiError::invalid("country", "invalid_country", e.to_string()))
        })
        .transpose()
}

/// The organisations the caller administers: all for the secretariat, an NCB and its country's
/// agencies for an NCB, one's own otherwise.
#[utoipa::path(get, path = "/organisations", tag = "access",
    responses(
        (status = 200, description = "Organisations in the caller's scope", body = [OrgSummary]),
        (status = 403, description = "No 'admin' permission", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_orgs(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<Json<Vec<OrgSummary>>, ApiError> {
    need_admin(&caller)?;
    let orgs = state.store.organisations().await?;
    Ok(Json(
        orgs.into_iter()
            .filter(|o| caller.0.may_administer(&o.as_ref()))
            .map(summary)
            .collect(),
    ))
}

/// Creates an organisation: an NCB is approved at once; an agency waits for its NCB, a partner
/// for the secretariat.
#[utoipa::path(post, path = "/organisations", tag = "access", request_body = NewOrganisation,
    responses(
        (status = 201, description = "Created", body = OrgSummary),
        (status = 403, description = "Not the caller's to create", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken, or the country has an NCB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_org(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonBody(request): JsonBody<NewOrganisation>,
) -> Result<(StatusCode, Json<OrgSummary>), ApiError> {
    let country = country_field(request.country.as_deref())?;
    let org = admin::create_org(
        state.store.as_ref(),
        &caller.0,
        &request.name,
        request.kind,
        country,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(summary(org))))
}

/// One organisation in the caller's scope.
#[utoipa::path(get, path = "/organisations/{id}", tag = "access",
    params(("id" = i64, Path, description = "Organisation identifier")),
    responses(
        (status = 200, description = "The organisation", body = OrgSummary),
        (status = 404, description = "No such organisation in the caller's scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_org(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<OrgSummary>, ApiError> {
    Ok(Json(summary(
        admin::administered_org(state.store.as_ref(), &caller.0, id).await?,
    )))
}

/// Approves an organisation (an NCB its country's agencies, the secretariat partners and NCBs).
#[utoipa::path(post, path = "/organisations/{id}/approve", tag = "access",
    params(("id" = i64, Path, description = "Organisation identifier")),
    responses(
        (status = 200, description = "Approved", body = OrgSummary),
        (status = 403, description = "Not the caller's to approve", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn approve_org(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<OrgSummary>, ApiError> {
    let org = admin::set_org_state(state.store.as_ref(), &caller.0, id, OrgState::Approved).await?;
    Ok(Json(summary(org)))
}

/// Suspends an organisation: from the next request, every session and token of its users is
/// refused.
#[utoipa::path(post, path = "/organisations/{id}/suspend", tag = "access",
    params(("id" = i64, Path, description = "Organisation identifier")),
    responses(
        (status = 200, description = "Suspended", body = OrgSummary),
        (status = 403, description = "Not the caller's to suspend", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn suspend_org(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<OrgSummary>, ApiError> {
    let org =
        admin::set_org_state(state.store.as_ref(), &caller.0, id, OrgState::Suspended).await?;
    Ok(Json(summary(org)))
}

/// A user as an admin sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UserView {
    /// Identifier.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Organisation.
    pub organisation_id: i64,
    /// What the user may do.
    pub permissions: Vec<Permission>,
    /// A disabled user cannot sign in; their sessions and tokens are refused.
    pub disabled: bool,
}

fn user_view(user: User) -> UserView {
    UserView {
        id: user.id,
        username: user.username,
        organisation_id: user.org_id,
        permissions: user.permissions.iter().collect(),
        disabled: user.disabled,
    }
}

/// A change to a user; absent fields stay as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// The user's new permissions (their tokens keep only those the user still holds).
    pub permissions: Option<Vec<Permission>>,
    /// A new password (at least 12 characters); ends the user's open sessions.
    pub password: Option<String>,
    /// `true` disables the user (every session and token refused), `false` enables them again.
    pub disabled: Option<bool>,
}

/// Changes a user of an organisation the caller administers.
#[utoipa::path(patch, path = "/users/{username}", tag = "access", request_body = UserUpdate,
    params(("username" = String, Path, description = "Login name")),
    responses(
        (status = 200, description = "The user as changed", body = UserView),
        (status = 404, description = "No such user in the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(username): Path<String>,
    JsonBody(request): JsonBody<UserUpdate>,
) -> Result<Json<UserView>, ApiError> {
    let user = admin::update_user(
        state.store.as_ref(),
        &caller.0,
        &username,
        request.permissions.map(|list| list.into_iter().collect()),
        request.password.as_deref(),
        request.disabled,
    )
    .await?;
    Ok(Json(user_view(user)))
}

/// The users of an organisation in the caller's scope.
#[utoipa::path(get, path = "/organisations/{id}/users", tag = "access",
    params(("id" = i64, Path, description = "Organisation identifier")),
    responses(
        (status = 200, description = "Its users", body = [UserView]),
        (status = 404, description = "No such organisation in the caller's scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_users(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Vec<UserView>>, ApiError> {
    let org = admin::administered_org(state.store.as_ref(), &caller.0, id).await?;
    let users = state.store.users(org.id).await?;
    Ok(Json(users.into_iter().map(user_view).collect()))
}

/// A new user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The organisation (one the caller administers).
    pub organisation_id: i64,
    /// Login name: 3 to 64 letters, digits, `.`, `_`, `-` or `@`.
    pub username: String,
    /// What the user may do.
    pub permissions: Vec<Permission>,
    /// A password of at least 12 characters, for people; systems use tokens and need none.
    pub password: Option<String>,
}

/// Creates a user in an organisation the caller administers.
#[utoipa::path(post, path = "/users", tag = "access", request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 404, description = "No such organisation in the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The username is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonBody(request): JsonBody<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = admin::create_user(
        state.store.as_ref(),
        &caller.0,
        request.organisation_id,
        &request.username,
        request.permissions.into_iter().collect(),
        request.password.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user_view(user))))
}

/// A token, without its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    /// Identifier (to revoke it by).
    pub id: i64,
    /// The user it acts as.
    pub username: String,
    /// What it may do.
    pub permissions: Vec<Permission>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

fn token_view(token: ApiToken) -> TokenView {
    TokenView {
        id: token.id,
        username: token.username,
        permissions: token.permissions.iter().collect(),
        created_at: token.created_at,
        expires_at: token.expires_at,
        revoked_at: token.revoked_at,
    }
}

/// A token to create.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// The user the token acts as.
    pub username: String,
    /// A subset of the user's permissions; all of them when absent.
    pub permissions: Option<Vec<Permission>>,
    /// Days until it expires (1 to 366; 90 when absent).
    pub expires_in_days: Option<u32>,
}

/// A token just created: the secret is shown this once and never stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    /// The secret: send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// What was stored.
    #[serde(flatten)]
    pub details: TokenView,
}

/// Creates an API token for a user the caller administers.
#[utoipa::path(post, path = "/tokens", tag = "access", request_body = NewTokenRequest,
    responses(
        (status = 201, description = "Created; the secret is in this answer only", body = CreatedToken),
        (status = 404, description = "No such user in the caller's scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Permissions the user lacks, or a bad lifetime", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonBody(request): JsonBody<NewTokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let created = admin::create_token(
        state.store.as_ref(),
        &caller.0,
        &request.username,
        request
            .permissions
            .map(|list| list.into_iter().collect::<Permissions>()),
        request.expires_in_days.unwrap_or(DEFAULT_TOKEN_DAYS),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            token: created.secret,
            details: token_view(created.token),
        }),
    ))
}

/// A user's tokens (never their secrets).
#[utoipa::path(get, path = "/users/{username}/tokens", tag = "access",
    params(("username" = String, Path, description = "Login name")),
    responses(
        (status = 200, description = "The user's tokens", body = [TokenView]),
        (status = 404, description = "No such user in the caller's scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(username): Path<String>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    need_admin(&caller)?;
    let (user, _) = admin::administered_user(state.store.as_ref(), &caller.0, &username).await?;
    let tokens = state.store.tokens(user.id).await?;
    Ok(Json(tokens.into_iter().map(token_view).collect()))
}

/// Revokes a token: it is refused from the next request on.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "access",
    params(("id" = i64, Path, description = "Token identifier")),
    responses(
        (status = 200, description = "Revoked", body = TokenView),
        (status = 404, description = "No such token in the caller's scope", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<TokenView>, ApiError> {
    let token = admin::revoke_token(state.store.as_ref(), &caller.0, &TokenRef::Id(id)).await?;
    Ok(Json(token_view(token)))
}
