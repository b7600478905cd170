//! Who is calling: API tokens (random, shown once, stored only as a SHA-256 hash), password
//! sign-in (argon2id, lockout with back-off) opening a server-side session held in a cookie,
//! CSRF protection for requests authenticated by that cookie, and the extractors that turn a
//! request into an [`Actor`] and refuse it when its organisation may not act.

use std::sync::LazyLock;

use armstrace_core::{Actor, OrgState, Permission};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

/// Prefix of every Armstrace API token, so that a leaked one is recognisable.
const TOKEN_PREFIX: &str = "at_";

/// The session cookie.
pub const SESSION_COOKIE: &str = "armstrace_session";

/// The header carrying the CSRF token on requests authenticated by the session cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Failed sign-ins in a row before the account locks.
pub const FAILURES_BEFORE_LOCK: u32 = 5;

/// How long a session lasts.
pub const SESSION_HOURS: i64 = 12;

fn random_secret(prefix: &str) -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A new random API token (256 bits) to hand to its holder once.
pub fn new_token() -> String {
    random_secret(TOKEN_PREFIX)
}

/// A new random session identifier or CSRF token.
pub fn new_session_secret() -> String {
    random_secret("")
}

/// The hash under which a token or session is stored. Both carry 256 bits of entropy, so a
/// fast hash is enough; passwords, which do not, use argon2id.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hashes a password with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to verify against when the user does not exist, so that an unknown name takes as
/// long to refuse as a wrong password.
pub static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not a password of anyone").expect("hashing works"));

/// Why a password cannot be used, if it cannot.
pub fn password_problem(password: &str) -> Option<String> {
    (password.chars().count() < MIN_PASSWORD_LEN)
        .then(|| format!("a password needs at least {MIN_PASSWORD_LEN} characters"))
}

/// How long an account stays locked after `failures` failed sign-ins in a row: from the fifth,
/// 30 seconds, doubling with each further failure, at most an hour.
pub fn lock_for(failures: u32) -> Option<chrono::Duration> {
    let over = failures.checked_sub(FAILURES_BEFORE_LOCK)?;
    let seconds = 30_i64.saturating_mul(1_i64 << over.min(12)).min(3600);
    Some(chrono::Duration::seconds(seconds))
}

/// The value of cookie `name` in a request's headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// An API token, by the hash of its secret.
    Token(String),
    /// A session cookie, by the hash of its secret.
    Session(String),
}

/// A caller with valid credentials, whatever their organisation's state, except suspended:
/// used only where a pending organisation's users may go (who am I, sign-out).
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who.
    pub actor: Actor,
    /// With what.
    pub credential: Credential,
}

/// The authenticated caller of an API route: valid credentials of an approved organisation.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

impl Authenticated {
    /// Refuses unless the caller holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<&Actor, ApiError> {
        if self.0.permissions.has(permission) {
            Ok(&self.0)
        } else {
            Err(ApiError::forbidden(
                permission,
                format!(
                    "this route needs the '{}' permission, which {} does not have",
                    permission.as_str(),
                    self.0.username
                ),
            ))
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
}

/// Compares two secrets in a time that does not tell where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let now = chrono::Utc::now();
        let signed_in = if let Some(token) = bearer(parts) {
            let hash = hash_token(token);
            let actor = state
                .store
                .actor_for_token(&hash, now)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            SignedIn {
                actor,
                credential: Credential::Token(hash),
            }
        } else if let Some(session) = cookie(&parts.headers, SESSION_COOKIE) {
            let hash = hash_token(&session);
            let (actor, csrf) = state
                .store
                .actor_for_session(&hash, now)
                .await?
                .ok_or(ApiError::Unauthorized)?;
            // A cookie is sent by the browser whoever made the page: a request that changes
            // something must also prove it came from our pages, which alone know the token.
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !safe && !constant_time_eq(sent.as_bytes(), csrf.as_bytes()) {
                return Err(ApiError::Refused {
                    code: "csrf_failed",
                    detail: format!(
                        "a request signed in by cookie must send the session's CSRF token in '{CSRF_HEADER}'"
                    ),
                });
            }
            SignedIn {
                actor,
                credential: Credential::Session(hash),
            }
        } else {
            return Err(ApiError::Unauthorized);
        };
        if signed_in.actor.org_state == OrgState::Suspended {
            return Err(ApiError::Refused {
                code: "org_suspended",
                detail: format!(
                    "{} is suspended: every session and token of its users is refused",
                    signed_in.actor.org_name
                ),
            });
        }
        Ok(signed_in)
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let signed_in = SignedIn::from_request_parts(parts, state).await?;
        if signed_in.actor.org_state == OrgState::Pending {
            return Err(ApiError::Refused {
                code: "org_pending",
                detail: format!(
                    "{} is waiting for approval (by its country's NCB, or the secretariat for a partner); until then its users can only see that at GET /api/v1/me",
                    signed_in.actor.org_name
                ),
            });
        }
        Ok(Authenticated(signed_in.actor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_their_hash_reveals_nothing_of_them() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() > 40);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert!(!hash_token(&a).contains(&a[3..]));
    }

    #[test]
    fn a_password_hash_is_argon2id_salted_and_verifies() {
        let one = hash_password("correct horse battery").unwrap();
        let two = hash_password("correct horse battery").unwrap();
        assert!(one.starts_with("$argon2id$"));
        assert_ne!(one, two);
        assert!(verify_password("correct horse battery", &one));
        assert!(!verify_password("correct horse batterz", &one));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn the_lock_starts_at_the_fifth_failure_and_doubles_up_to_an_hour() {
        assert_eq!(lock_for(4), None);
        assert_eq!(lock_for(5), Some(chrono::Duration::seconds(30)));
        assert_eq!(lock_for(6), Some(chrono::Duration::seconds(60)));
        assert_eq!(lock_for(40), Some(chrono::Duration::seconds(3600)));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(password_problem("short").is_some());
        assert!(password_problem("twelve chars").is_none());
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; armstrace_session=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("xyz"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
