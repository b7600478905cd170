//! Administration, with the same rules whether it comes from the API or from the operator's
//! command line: creating organisations, approving and suspending them, creating users, and
//! creating and revoking API tokens. Each operation is audited by the store in the transaction
//! that makes it.

use armstrace_core::{Actor, CountryCode, OrgKind, OrgState, Permission, Permissions};
use armstrace_store::audit::AuditWho;
use armstrace_store::{ApiToken, Organisation, Store, TokenRef, User, UserChange};
use chrono::{DateTime, Utc};

use crate::ApiError;
use crate::auth::{hash_password, hash_token, new_token, password_problem};

/// Default lifetime of an API token.
pub const DEFAULT_TOKEN_DAYS: u32 = 90;

/// Longest lifetime of an API token.
pub const MAX_TOKEN_DAYS: u32 = 366;

fn need_admin(by: &Actor) -> Result<(), ApiError> {
    if by.permissions.has(Permission::Admin) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            Permission::Admin,
            format!(
                "administration needs the 'admin' permission, which {} does not have",
                by.username
            ),
        ))
    }
}

async fn organisation(store: &dyn Store, id: i64) -> Result<Organisation, ApiError> {
    store
        .organisation(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("organisation {id}")))
}

/// A user of an organisation the actor administers, with that organisation; any other user
/// answers 404, as if it did not exist.
pub async fn administered_user(
    store: &dyn Store,
    by: &Actor,
    username: &str,
) -> Result<(User, Organisation), ApiError> {
    need_admin(by)?;
    let not_found = || ApiError::NotFound(format!("user '{username}'"));
    let user = store.user(username).await?.ok_or_else(not_found)?;
    let org = administered_org(store, by, user.org_id)
        .await
        .map_err(|_| not_found())?;
    Ok((user, org))
}

/// An organisation the actor may administer, or why not.
pub async fn administered_org(
    store: &dyn Store,
    by: &Actor,
    id: i64,
) -> Result<Organisation, ApiError> {
    need_admin(by)?;
    let org = organisation(store, id).await?;
    if by.may_administer(&org.as_ref()) {
        Ok(org)
    } else {
        // Outside one's scope an organisation might as well not exist.
        Err(ApiError::NotFound(format!("organisation {id}")))
    }
}

/// Creates an organisation: an NCB approved at once, an agency or a partner pending.
pub async fn create_org(
    store: &dyn Store,
    by: &Actor,
    name: &str,
    kind: OrgKind,
    country: Option<CountryCode>,
) -> Result<Organisation, ApiError> {
    need_admin(by)?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::invalid(
            "name",
            "invalid_name",
            "give a name of 1 to 200 characters",
        ));
    }
    match (kind.has_country(), country) {
        (true, None) => {
            return Err(ApiError::invalid(
                "country",
                "required",
                format!(
                    "a {kind} organisation belongs to a country: give its ISO 3166-1 alpha-2 code"
                ),
            ));
        }
        (false, Some(_)) => {
            return Err(ApiError::invalid(
                "country",
                "not_allowed",
                format!("a {kind} organisation has no country"),
            ));
        }
        _ => {}
    }
    if kind == OrgKind::Secretariat {
        return Err(ApiError::invalid(
            "kind",
            "not_allowed",
            "there is exactly one secretariat, created with the installation",
        ));
    }
    if !by.may_create_org(kind, country) {
        return Err(ApiError::out_of_scope(match by.org_kind {
            OrgKind::Ncb => "an NCB creates police, customs, border and regulator agencies of its own country only".to_string(),
            _ => "only the secretariat and NCBs create organisations".to_string(),
        }));
    }
    Ok(store
        .create_organisation(
            &AuditWho::from(by),
            name,
            kind,
            country,
            kind.initial_state(),
        )
        .await?)
}

/// Approves or suspends an organisation.
pub async fn set_org_state(
    store: &dyn Store,
    by: &Actor,
    id: i64,
    state: OrgState,
) -> Result<Organisation, ApiError> {
    need_admin(by)?;
    let org = organisation(store, id).await?;
    if !by.may_approve(&org.as_ref()) {
        return Err(ApiError::out_of_scope(format!(
            "{} cannot approve or suspend {}: an NCB decides on its country's agencies, the secretariat on NCBs and partners",
            by.org_name, org.name
        )));
    }
    Ok(store
        .set_organisation_state(&AuditWho::from(by), id, state)
        .await?)
}

/// A login name: 3 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn username_problem(username: &str) -> Option<&'static str> {
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    (!(3..=64).contains(&username.len()) || !ok_chars)
        .then_some("a username has 3 to 64 letters, digits, '.', '_', '-' or '@'")
}

/// Creates a user in an organisation the actor administers.
pub async fn create_user(
    store: &dyn Store,
    by: &Actor,
    org_id: i64,
    username: &str,
    permissions: Permissions,
    password: Option<&str>,
) -> Result<User, ApiError> {
    let org = administered_org(store, by, org_id).await?;
    if let Some(problem) = username_problem(username) {
        return Err(ApiError::invalid("username", "invalid_username", problem));
    }
    let beyond = permissions.without(org.kind.grantable());
    if !beyond.is_empty() {
        return Err(ApiError::invalid(
            "permissions",
            "not_grantable",
            format!("users of a {} organisation cannot hold: {beyond}", org.kind),
        ));
    }
    let hash = match password {
        None => None,
        Some(password) => Some(new_password_hash(password).await?),
    };
    Ok(store
        .create_user(
            &AuditWho::from(by),
            org.id,
            username,
            hash.as_deref(),
            permissions,
        )
        .await?)
}

/// Hashes a new password, refusing one that is too short.
pub async fn new_password_hash(password: &str) -> Result<String, ApiError> {
    if let Some(problem) = password_problem(password) {
        return Err(ApiError::invalid("password", "too_short", problem));
    }
    let password = password.to_string();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
}

/// Changes a user of an organisation the actor administers: permissions, a new password,
/// disabled or enabled.
pub async fn update_user(
    store: &dyn Store,
    by: &Actor,
    username: &str,
    permissions: Option<Permissions>,
    password: Option<&str>,
    disabled: Option<bool>,
) -> Result<User, ApiError> {
    let (user, org) = administered_user(store, by, username).await?;
    if let Some(permissions) = permissions {
        let beyond = permissions.without(org.kind.grantable());
        if !beyond.is_empty() {
            return Err(ApiError::invalid(
                "permissions",
                "not_grantable",
                format!("users of a {} organisation cannot hold: {beyond}", org.kind),
            ));
        }
    }
    if user.id == by.user_id && disabled == Some(true) {
        return Err(ApiError::invalid(
            "disabled",
            "own_account",
            "an administrator cannot disable their own account; ask another administrator",
        ));
    }
    let password_hash = match password {
        Some(password) => Some(new_password_hash(password).await?),
        None => None,
    };
    let change = UserChange {
        permissions,
        password_hash,
        disabled,
    };
    Ok(store
        .update_user(&AuditWho::from(by), username, &change)
        .await?)
}

/// A token as created: the secret, shown once, and what it carries.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The secret to hand to its holder; not stored.
    pub secret: String,
    /// The stored token.
    pub token: ApiToken,
}

/// Creates a token for `username` carrying `permissions` (all of the user's when none), valid
/// for `days`.
pub async fn create_token(
    store: &dyn Store,
    by: &Actor,
    username: &str,
    permissions: Option<Permissions>,
    days: u32,
) -> Result<NewToken, ApiError> {
    let (user, _) = administered_user(store, by, username).await?;
    let permissions = permissions.unwrap_or(user.permissions);
    let beyond = permissions.without(user.permissions);
    if !beyond.is_empty() {
        return Err(ApiError::invalid(
            "permissions",
            "not_held",
            format!(
                "a token carries a subset of its user's permissions; {username} does not hold: {beyond}"
            ),
        ));
    }
    if permissions.is_empty() {
        return Err(ApiError::invalid(
            "permissions",
            "empty",
            "a token needs at least one permission",
        ));
    }
    if !(1..=MAX_TOKEN_DAYS).contains(&days) {
        return Err(ApiError::invalid(
            "expires_in_days",
            "out_of_range",
            format!("a token lives 1 to {MAX_TOKEN_DAYS} days"),
        ));
    }
    let expires_at: DateTime<Utc> = Utc::now() + chrono::Duration::days(i64::from(days));
    let secret = new_token();
    let token = store
        .create_token(
            &AuditWho::from(by),
            user.id,
            &hash_token(&secret),
            permissions,
            Some(expires_at),
        )
        .await?;
    Ok(NewToken { secret, token })
}

/// Revokes a token of a user the actor administers (or the actor's own).
pub async fn revoke_token(
    store: &dyn Store,
    by: &Actor,
    token: &TokenRef,
) -> Result<ApiToken, ApiError> {
    let found = store
        .token(token)
        .await?
        .ok_or_else(|| ApiError::NotFound("token".into()))?;
    if found.user_id != by.user_id {
        administered_org(store, by, found.org_id)
            .await
            .map_err(|_| ApiError::NotFound("token".into()))?;
    }
    Ok(store.revoke_token(&AuditWho::from(by), token).await?)
}

/// Reads a lifetime such as `30d`, `12w` or `90` (days).
pub fn parse_days(text: &str) -> Result<u32, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "d"),
    };
    let n: u32 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a lifetime; write e.g. 30d, 12w or 365d"))?;
    match unit {
        "d" => Ok(n),
        "w" => Ok(n.saturating_mul(7)),
        _ => Err(format!("'{text}': use d (days) or w (weeks), e.g. 30d")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_in_days_or_weeks() {
        assert_eq!(parse_days("30d"), Ok(30));
        assert_eq!(parse_days("2w"), Ok(14));
        assert_eq!(parse_days("7"), Ok(7));
        assert!(parse_days("1y").is_err());
        assert!(parse_days("soon").is_err());
    }

    #[test]
    fn usernames_are_checked() {
        assert!(username_problem("ncb-fr.admin@x").is_none());
        assert!(username_problem("ab").is_some());
        assert!(username_problem("has space").is_some());
    }
}
