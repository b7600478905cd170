//! Organisations, users and API tokens in SQLite.

use armstrace_core::{Actor, CountryCode, OrgKind, Permissions};
use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::sqlite::{SqlitePool, SqliteRow};

use crate::{OrgState, Organisation, StoreError, StoreResult, User};

/// Turns a unique-key violation into a conflict that names `what`.
pub(super) fn conflict_on_duplicate(
    error: sqlx::Error,
    what: impl FnOnce() -> String,
) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
            code: "duplicate",
            message: what(),
        },
        _ => StoreError::Database(error),
    }
}

pub(super) async fn create_organisation(
    pool: &SqlitePool,
    name: &str,
    kind: OrgKind,
    country: Option<CountryCode>,
    state: OrgState,
) -> StoreResult<Organisation> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO organisations (name, kind, country, state, created_at) \
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(name)
    .bind(kind.as_str())
    .bind(country.map(|c| c.to_string()))
    .bind(state.as_str())
    .bind(Utc::now())
    .fetch_one(pool)
    .await
    .map_err(|e| conflict_on_duplicate(e, || format!("an organisation named '{name}' exists")))?;
    Ok(Organisation {
        id,
        name: name.to_string(),
        kind,
        country,
        state,
    })
}

pub(super) async fn organisations(pool: &SqlitePool) -> StoreResult<Vec<Organisation>> {
    let rows = sqlx::query("SELECT id, name, kind, country, state FROM organisations ORDER BY id")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Organisation {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                kind: org_kind(row.try_get("kind")?)?,
                country: optional_country(row.try_get("country")?)?,
                state: OrgState::parse(row.try_get("state")?)
                    .ok_or_else(|| StoreError::Corrupt("organisation state".into()))?,
            })
        })
        .collect()
}

pub(super) async fn create_user(
    pool: &SqlitePool,
    org_id: i64,
    username: &str,
    password_hash: Option<&str>,
    permissions: Permissions,
) -> StoreResult<User> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (org_id, username, password_hash, permissions, created_at) \
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(org_id)
    .bind(username)
    .bind(password_hash)
    .bind(permissions.to_string())
    .bind(Utc::now())
    .fetch_one(pool)
    .await
    .map_err(|e| conflict_on_duplicate(e, || format!("a user named '{username}' exists")))?;
    Ok(User {
        id,
        org_id,
        username: username.to_string(),
        permissions,
    })
}

pub(super) async fn create_token(
    pool: &SqlitePool,
    user_id: i64,
    token_hash: &str,
    permissions: Permissions,
    expires_at: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (user_id, token_hash, permissions, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(user_id)
    .bind(token_hash)
    .bind(permissions.to_string())
    .bind(Utc::now())
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

const ACTOR_COLUMNS: &str = "u.id AS user_id, u.username, u.permissions AS user_permissions, \
     o.id AS org_id, o.name AS org_name, o.kind, o.country";

pub(super) async fn actor_for_token(
    pool: &SqlitePool,
    token_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<Actor>> {
    let row = sqlx::query(&format!(
        "SELECT {ACTOR_COLUMNS}, t.permissions AS token_permissions, t.expires_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN organisations o ON o.id = u.org_id \
         WHERE t.token_hash = ? AND t.revoked_at IS NULL AND o.state = 'approved'"
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
    actor.permissions = actor
        .permissions
        .iter()
        .filter(|p| token_permissions.has(*p))
        .collect();
    Ok(Some(actor))
}

pub(super) async fn actor_for_user(
    pool: &SqlitePool,
    username: &str,
) -> StoreResult<Option<Actor>> {
    let row = sqlx::query(&format!(
        "SELECT {ACTOR_COLUMNS} FROM users u JOIN organisations o ON o.id = u.org_id \
         WHERE u.username = ?"
    ))
    .bind(username)
    .fetch_optional(pool)
    .await?;
    row.map(|row| actor_from_row(&row)).transpose()
}

fn actor_from_row(row: &SqliteRow) -> StoreResult<Actor> {
    Ok(Actor {
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        org_id: row.try_get("org_id")?,
        org_name: row.try_get("org_name")?,
        org_kind: org_kind(row.try_get("kind")?)?,
        country: optional_country(row.try_get("country")?)?,
        permissions: permissions(row.try_get("user_permissions")?)?,
    })
}

fn org_kind(text: &str) -> StoreResult<OrgKind> {
    OrgKind::parse(text).ok_or_else(|| StoreError::Corrupt(format!("organisation kind '{text}'")))
}

fn permissions(text: &str) -> StoreResult<Permissions> {
    Permissions::parse(text).map_err(StoreError::Corrupt)
}

pub(super) fn optional_country(text: Option<&str>) -> StoreResult<Option<CountryCode>> {
    text.map(|c| CountryCode::parse(c).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}
