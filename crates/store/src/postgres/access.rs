//! Organisations, users, API tokens, sign-in and sessions in PostgreSQL. Every change here is
//! audited in the transaction that makes it; a change that reads a row before writing it locks
//! that row first, so that two nodes of a cluster cannot both act on the same state.

use armstrace_core::{Actor, CountryCode, OrgKind, OrgState, Permissions};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::json;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{PgConnection, Row};

use super::audit::append;
use crate::audit::{AuditEvent, AuditWho};
pub(super) use crate::rows::{optional_country, permissions};
use crate::rows::{org_kind, org_state};
use crate::{
    ApiToken, Credentials, Organisation, StoreError, StoreResult, TokenRef, User, UserChange,
};

/// PostgreSQL's code for a unique-key violation.
const UNIQUE_VIOLATION: &str = "23505";

/// Turns a unique-key violation into a conflict that names `what`.
pub(super) fn conflict_on_duplicate(
    error: sqlx::Error,
    what: impl FnOnce() -> String,
) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.code().as_deref() == Some(UNIQUE_VIOLATION) => {
            StoreError::Conflict {
                code: "duplicate",
                message: what(),
            }
        }
        _ => StoreError::Database(error),
    }
}

/// The time now as PostgreSQL keeps it (to the microsecond), so that what a function returns
/// equals what a later read gives.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub(super) async fn create_organisation(
    pool: &PgPool,
    by: &AuditWho,
    name: &str,
    kind: OrgKind,
    country: Option<CountryCode>,
    state: OrgState,
) -> StoreResult<Organisation> {
    let now = now();
    let mut tx = pool.begin().await?;
    if kind == OrgKind::Ncb {
        // There is no row to lock while a country has no NCB: hold off other writers of
        // organisations (readers go on) until this one commits.
        sqlx::query("LOCK TABLE organisations IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let existing: Option<String> = sqlx::query_scalar(
            "SELECT name FROM organisations WHERE kind = 'ncb' AND country = $1",
        )
        .bind(country.map(|c| c.to_string()))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(existing) = existing {
            return Err(StoreError::Conflict {
                code: "duplicate",
                message: format!(
                    "{} already has an NCB ('{existing}'); a country has one",
                    country.map(|c| c.to_string()).unwrap_or_default()
                ),
            });
        }
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO organisations (name, kind, country, state, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(name)
    .bind(kind.as_str())
    .bind(country.map(|c| c.to_string()))
    .bind(state.as_str())
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| conflict_on_duplicate(e, || format!("an organisation named '{name}' exists")))?;
    let org = Organisation {
        id,
        name: name.to_string(),
        kind,
        country,
        state,
    };
    let event = AuditEvent::new(by.clone(), "org.create")
        .target(format!("org:{id}"))
        .detail(json!({ "name": name, "kind": kind, "country": country, "state": state }));
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(org)
}

const ORG_COLUMNS: &str = "id, name, kind, country, state";

fn org_from_row(row: &PgRow) -> StoreResult<Organisation> {
    Ok(Organisation {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: org_kind(row.try_get("kind")?)?,
        country: optional_country(row.try_get("country")?)?,
        state: org_state(row.try_get("state")?)?,
    })
}

pub(super) async fn organisations(pool: &PgPool) -> StoreResult<Vec<Organisation>> {
    sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM organisations ORDER BY id"
    ))
    .fetch_all(pool)
    .await?
    .iter()
    .map(org_from_row)
    .collect()
}

pub(super) async fn organisation(pool: &PgPool, id: i64) -> StoreResult<Option<Organisation>> {
    sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM organisations WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(org_from_row)
    .transpose()
}

pub(super) async fn set_organisation_state(
    pool: &PgPool,
    by: &AuditWho,
    id: i64,
    state: OrgState,
) -> StoreResult<Organisation> {
    let now = now();
    let mut tx = pool.begin().await?;
    let mut org = sqlx::query(&format!(
        "SELECT {ORG_COLUMNS} FROM organisations WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(org_from_row)
    .transpose()?
    .ok_or_else(|| StoreError::NotFound(format!("organisation {id}")))?;
    let from = org.state;
    if from != state {
        sqlx::query("UPDATE organisations SET state = $1 WHERE id = $2")
            .bind(state.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        org.state = state;
    }
    let action = match state {
        OrgState::Approved => "org.approve",
        OrgState::Suspended => "org.suspend",
        OrgState::Pending => "org.reset",
    };
    let event = AuditEvent::new(by.clone(), action)
        .target(format!("org:{id}"))
        .detail(json!({ "name": org.name, "from": from, "to": state }));
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(org)
}

const USER_COLUMNS: &str = "id, org_id, username, permissions, disabled_at";

fn user_from_row(row: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        username: row.try_get("username")?,
        permissions: permissions(row.try_get("permissions")?)?,
        disabled: row
            .try_get::<Option<DateTime<Utc>>, _>("disabled_at")?
            .is_some(),
    })
}

pub(super) async fn update_user(
    pool: &PgPool,
    by: &AuditWho,
    username: &str,
    change: &UserChange,
) -> StoreResult<User> {
    let now = now();
    let mut tx = pool.begin().await?;
    let current = sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username = $1 FOR UPDATE"
    ))
    .bind(username)
    .fetch_optional(&mut *tx)
    .await?
    .as_ref()
    .map(user_from_row)
    .transpose()?
    .ok_or_else(|| StoreError::NotFound(format!("user '{username}'")))?;
    let mut events = Vec::new();
    let target = format!("user:{}", current.id);
    if let Some(permissions) = change.permissions.filter(|p| *p != current.permissions) {
        sqlx::query("UPDATE users SET permissions = $1 WHERE id = $2")
            .bind(permissions.to_string())
            .bind(current.id)
            .execute(&mut *tx)
            .await?;
        events.push(
            AuditEvent::new(by.clone(), "user.permissions")
                .target(target.clone())
                .detail(json!({
                    "username": username,
                    "from": current.permissions.to_string(),
                    "to": permissions.to_string(),
                })),
        );
    }
    if let Some(hash) = &change.password_hash {
        sqlx::query(
            "UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL \
             WHERE id = $2",
        )
        .bind(hash)
        .bind(current.id)
        .execute(&mut *tx)
        .await?;
        // A new password ends the sessions the old one opened.
        sqlx::query("UPDATE sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL")
            .bind(now)
            .bind(current.id)
            .execute(&mut *tx)
            .await?;
        events.push(
            AuditEvent::new(by.clone(), "user.password")
                .target(target.clone())
                .detail(json!({ "username": username })),
        );
    }
    if let Some(disabled) = change.disabled.filter(|d| *d != current.disabled) {
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
            .bind(disabled.then_some(now))
            .bind(current.id)
            .execute(&mut *tx)
            .await?;
        let action = if disabled {
            "user.disable"
        } else {
            "user.enable"
        };
        events.push(
            AuditEvent::new(by.clone(), action)
                .target(target.clone())
                .detail(json!({ "username": username })),
        );
    }
    append(&mut tx, &events, now).await?;
    let user = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(current.id)
        .fetch_one(&mut *tx)
        .await?;
    let user = user_from_row(&user)?;
    tx.commit().await?;
    Ok(user)
}

pub(super) async fn create_user(
    pool: &PgPool,
    by: &AuditWho,
    org_id: i64,
    username: &str,
    password_hash: Option<&str>,
    permissions: Permissions,
) -> StoreResult<User> {
    let now = now();
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (org_id, username, password_hash, permissions, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(org_id)
    .bind(username)
    .bind(password_hash)
    .bind(permissions.to_string())
    .bind(now)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| conflict_on_duplicate(e, || format!("a user named '{username}' exists")))?;
    let event = AuditEvent::new(by.clone(), "user.create")
        .target(format!("user:{id}"))
        .detail(json!({
            "username": username,
            "org_id": org_id,
            "permissions": permissions.to_string(),
            "password": password_hash.is_some(),
        }));
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(User {
        id,
        org_id,
        username: username.to_string(),
        permissions,
        disabled: false,
    })
}

pub(super) async fn user(pool: &PgPool, username: &str) -> StoreResult<Option<User>> {
    sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE username = $1"
    ))
    .bind(username)
    .fetch_optional(pool)
    .await?
    .as_ref()
    .map(user_from_row)
    .transpose()
}

pub(super) async fn users(pool: &PgPool, org_id: i64) -> StoreResult<Vec<User>> {
    sqlx::query(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE org_id = $1 ORDER BY id"
    ))
    .bind(org_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(user_from_row)
    .collect()
}

pub(super) async fn create_token(
    pool: &PgPool,
    by: &AuditWho,
    user_id: i64,
    token_hash: &str,
    permissions: Permissions,
    expires_at: Option<DateTime<Utc>>,
) -> StoreResult<ApiToken> {
    let now = now();
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens \
         (user_id, token_hash, permissions, created_at, expires_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(user_id)
    .bind(token_hash)
    .bind(permissions.to_string())
    .bind(now)
    .bind(expires_at)
    .bind(by.user_id)
    .fetch_one(&mut *tx)
    .await?;
    let token = token_in(&mut tx, &TokenRef::Id(id), Lock::None)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("token {id}")))?;
    let event = AuditEvent::new(by.clone(), "token.create")
        .target(format!("token:{id}"))
        .detail(json!({
            "user": token.username,
            "permissions": permissions.to_string(),
            "expires_at": expires_at,
        }));
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(token)
}

const TOKEN_COLUMNS: &str = "t.id, t.user_id, u.username, u.org_id, t.permissions, t.created_at, \
     t.expires_at, t.revoked_at";

fn token_from_row(row: &PgRow) -> StoreResult<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        org_id: row.try_get("org_id")?,
        permissions: permissions(row.try_get("permissions")?)?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// Whether a read locks the token's row until the transaction ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    None,
    ForUpdate,
}

async fn token_in(
    conn: &mut PgConnection,
    token: &TokenRef,
    lock: Lock,
) -> StoreResult<Option<ApiToken>> {
    let select =
        format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id");
    let lock = match lock {
        Lock::None => "",
        Lock::ForUpdate => " FOR UPDATE OF t",
    };
    let row = match token {
        TokenRef::Id(id) => {
            sqlx::query(&format!("{select} WHERE t.id = $1{lock}"))
                .bind(*id)
                .fetch_optional(conn)
                .await?
        }
        TokenRef::Hash(hash) => {
            sqlx::query(&format!("{select} WHERE t.token_hash = $1{lock}"))
                .bind(hash.as_str())
                .fetch_optional(conn)
                .await?
        }
    };
    row.as_ref().map(token_from_row).transpose()
}

pub(super) async fn token(pool: &PgPool, token: &TokenRef) -> StoreResult<Option<ApiToken>> {
    let mut conn = pool.acquire().await?;
    token_in(&mut conn, token, Lock::None).await
}

pub(super) async fn tokens(pool: &PgPool, user_id: i64) -> StoreResult<Vec<ApiToken>> {
    sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.user_id = $1 ORDER BY t.id"
    ))
    .bind(user_id)
    .fetch_all(pool)
    .await?
    .iter()
    .map(token_from_row)
    .collect()
}

pub(super) async fn revoke_token(
    pool: &PgPool,
    by: &AuditWho,
    token: &TokenRef,
) -> StoreResult<ApiToken> {
    let now = now();
    let mut tx = pool.begin().await?;
    let mut found = token_in(&mut tx, token, Lock::ForUpdate)
        .await?
        .ok_or_else(|| StoreError::NotFound("token".to_string()))?;
    if found.revoked_at.is_none() {
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
            .bind(now)
            .bind(found.id)
            .execute(&mut *tx)
            .await?;
        found.revoked_at = Some(now);
        let event = AuditEvent::new(by.clone(), "token.revoke")
            .target(format!("token:{}", found.id))
            .detail(json!({ "user": found.username }));
        append(&mut tx, &[event], now).await?;
    }
    tx.commit().await?;
    Ok(found)
}

const ACTOR_COLUMNS: &str = "u.id AS user_id, u.username, u.permissions AS user_permissions, \
     o.id AS org_id, o.name AS org_name, o.kind, o.country, o.state";

pub(super) async fn actor_for_token(
    pool: &PgPool,
    token_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<Actor>> {
    let row = sqlx::query(&format!(
        "SELECT {ACTOR_COLUMNS}, t.permissions AS token_permissions, t.expires_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN organisations o ON o.id = u.org_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL"
    ))
    .bind(token_hash)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: Option<DateTime<Utc>> = row.try_get("expires_at")?;
    if expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    let mut actor = actor_from_row(&row)?;
    // A token carries a subset of its user's permissions; the user may have lost some since.
    let token_permissions = permissions(row.try_get("token_permissions")?)?;
    actor.permissions = actor.permissions.and(token_permissions);
    Ok(Some(actor))
}

pub(super) async fn actor_for_user(pool: &PgPool, username: &str) -> StoreResult<Option<Actor>> {
    let row = sqlx::query(&format!(
        "SELECT {ACTOR_COLUMNS} FROM users u JOIN organisations o ON o.id = u.org_id \
         WHERE u.username = $1"
    ))
    .bind(username)
    .fetch_optional(pool)
    .await?;
    row.map(|row| actor_from_row(&row)).transpose()
}

pub(super) async fn credentials(pool: &PgPool, username: &str) -> StoreResult<Option<Credentials>> {
    let row = sqlx::query(&format!(
        "SELECT {ACTOR_COLUMNS}, u.password_hash, u.failed_logins, u.locked_until, u.disabled_at \
         FROM users u JOIN organisations o ON o.id = u.org_id WHERE u.username = $1"
    ))
    .bind(username)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Credentials {
        actor: actor_from_row(&row)?,
        password_hash: row.try_get("password_hash")?,
        failed_logins: row.try_get::<i64, _>("failed_logins")?.max(0) as u32,
        locked_until: row.try_get("locked_until")?,
        disabled: row
            .try_get::<Option<DateTime<Utc>>, _>("disabled_at")?
            .is_some(),
    }))
}

pub(super) async fn signin_failed(
    pool: &PgPool,
    event: AuditEvent,
    lock_for: fn(u32) -> Option<chrono::Duration>,
) -> StoreResult<Option<DateTime<Utc>>> {
    let now = now();
    let mut tx = pool.begin().await?;
    let mut locked_until = None;
    let mut event = event;
    if let Some(user_id) = event.who.user_id {
        // The increment locks the user's row: failures on two nodes count one after the other.
        let failed: i64 = sqlx::query_scalar(
            "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 \
             RETURNING failed_logins",
        )
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
        let failed = failed.max(0) as u32;
        locked_until = lock_for(failed).map(|d| now + d);
        if let Some(until) = locked_until {
            sqlx::query("UPDATE users SET locked_until = $1 WHERE id = $2")
                .bind(until)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(detail) = event.detail.as_object_mut() {
            detail.insert("failed_in_a_row".into(), json!(failed));
            detail.insert("locked_until".into(), json!(locked_until));
        }
    }
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(locked_until)
}

pub(super) async fn start_session(
    pool: &PgPool,
    event: AuditEvent,
    session_hash: &str,
    csrf_token: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    let now = now();
    let user_id = event
        .who
        .user_id
        .ok_or_else(|| StoreError::NotFound("user".into()))?;
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO sessions (session_hash, user_id, csrf_token, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(session_hash)
    .bind(user_id)
    .bind(csrf_token)
    .bind(now)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn actor_for_session(
    pool: &PgPool,
    session_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<(Actor, String)>> {
    let row = sqlx::query(&format!(
        "SELECT {ACTOR_COLUMNS}, s.csrf_token, s.expires_at \
         FROM sessions s JOIN users u ON u.id = s.user_id JOIN organisations o ON o.id = u.org_id \
         WHERE s.session_hash = $1 AND s.ended_at IS NULL AND u.disabled_at IS NULL"
    ))
    .bind(session_hash)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
    if expires_at <= now {
        return Ok(None);
    }
    Ok(Some((actor_from_row(&row)?, row.try_get("csrf_token")?)))
}

pub(super) async fn end_session(
    pool: &PgPool,
    event: AuditEvent,
    session_hash: &str,
) -> StoreResult<()> {
    let now = now();
    let mut tx = pool.begin().await?;
    // A concurrent sign-out of the same session waits for this row and then ends nothing.
    let ended = sqlx::query(
        "UPDATE sessions SET ended_at = $1 WHERE session_hash = $2 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(session_hash)
    .execute(&mut *tx)
    .await?;
    if ended.rows_affected() > 0 {
        append(&mut tx, &[event], now).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn actor_from_row(row: &PgRow) -> StoreResult<Actor> {
    Ok(Actor {
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        org_id: row.try_get("org_id")?,
        org_name: row.try_get("org_name")?,
        org_kind: org_kind(row.try_get("kind")?)?,
        country: optional_country(row.try_get("country")?)?,
        org_state: org_state(row.try_get("state")?)?,
        permissions: permissions(row.try_get("user_permissions")?)?,
    })
}
