//! Who is calling: API tokens (random, shown once, stored only as a SHA-256 hash), password
//! hashes (argon2id), and the extractor that turns a bearer token into an [`Actor`].

use armstrace_core::{Actor, Permission};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{ApiError, AppState};

/// Prefix of every Armstrace API token, so that a leaked one is recognisable.
const TOKEN_PREFIX: &str = "at_";

/// A new random API token (256 bits) to hand to its holder once.
pub fn new_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The hash under which a token is stored. Tokens carry 256 bits of entropy, so a fast hash
/// is enough; passwords, which do not, use argon2id.
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

/// The authenticated caller of an API route.
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

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|token| !token.is_empty())
            .ok_or(ApiError::Unauthorized)?;
        let actor = state
            .store
            .actor_for_token(&hash_token(token), chrono::Utc::now())
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Authenticated(actor))
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
    fn a_password_hash_is_argon2id_and_salted() {
        let one = hash_password("correct horse battery").unwrap();
        let two = hash_password("correct horse battery").unwrap();
        assert!(one.starts_with("$argon2id$"));
        assert_ne!(one, two);
    }
}
