//! The secretariat's changes of the reference table in PostgreSQL.

use armstrace_reference::{Entry, Kind};
use chrono::{SubsecRound, Utc};
use sqlx::Row;
use sqlx::postgres::PgPool;

use super::audit::append;
use crate::audit::AuditEvent;
use crate::reference::{ReferenceChange, entry_from_json};
use crate::{StoreError, StoreResult};

pub(super) async fn changes(pool: &PgPool) -> StoreResult<Vec<ReferenceChange>> {
    let rows = sqlx::query(
        "SELECT kind, key, version, entry, at, username, organisation \
         FROM reference_changes ORDER BY seq",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            let kind = Kind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("reference kind '{kind}'")))?;
            Ok(ReferenceChange {
                kind,
                key: row.try_get("key")?,
                version: row.try_get("version")?,
                entry: entry_from_json(kind, row.try_get("entry")?)?,
                at: row.try_get("at")?,
                username: row.try_get("username")?,
                organisation: row.try_get("organisation")?,
            })
        })
        .collect()
}

pub(super) async fn change(
    pool: &PgPool,
    event: AuditEvent,
    entry: &Entry,
    base_version: i64,
) -> StoreResult<ReferenceChange> {
    // To the microsecond, as PostgreSQL keeps it: the change returned equals the one read back.
    let now = Utc::now().trunc_subsecs(6);
    let kind = entry.kind();
    let key = entry.key();
    let mut tx = pool.begin().await?;
    // The first change of an entry has no row to lock: hold off other writers of the table
    // (readers go on) until this change commits. Changes are rare: the secretariat makes them.
    sqlx::query("LOCK TABLE reference_changes IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await?;
    let stored: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(version) FROM reference_changes WHERE kind = $1 AND key = $2",
    )
    .bind(kind.as_str())
    .bind(&key)
    .fetch_one(&mut *tx)
    .await?;
    if stored.is_some_and(|v| v != base_version) {
        return Err(StoreError::Conflict {
            code: "stale_version",
            message: format!(
                "{} '{key}' is at version {}, not {base_version}; read it again and redo the change",
                kind.as_str(),
                stored.unwrap_or_default()
            ),
        });
    }
    let version = base_version + 1;
    let json = match entry {
        Entry::Make(make) => serde_json::to_string(make),
        Entry::Calibre(calibre) => serde_json::to_string(calibre),
        Entry::Model(model) => serde_json::to_string(model),
    }
    .expect("entries serialise");
    sqlx::query(
        "INSERT INTO reference_changes (kind, key, version, entry, at, username, organisation) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(kind.as_str())
    .bind(&key)
    .bind(version)
    .bind(&json)
    .bind(now)
    .bind(&event.who.username)
    .bind(&event.who.organisation)
    .execute(&mut *tx)
    .await?;
    let change = ReferenceChange {
        kind,
        key,
        version,
        entry: entry.clone(),
        at: now,
        username: event.who.username.clone(),
        organisation: event.who.organisation.clone(),
    };
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(change)
}
