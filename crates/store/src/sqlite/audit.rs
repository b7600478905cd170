//! The audit trail in SQLite: entries appended inside the writer's transaction, so that an
//! action and its entry commit together or not at all.

use chrono::{DateTime, Utc};
use futures::TryFutureExt;
use futures::stream::BoxStream;
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::audit::{AuditEntry, AuditEvent, AuditFilter, GENESIS, Scope, merged};
use crate::{StoreError, StoreResult};

/// Entries per insert: thirteen values a row stay well under SQLite's bound-parameter limit.
const ROWS_PER_INSERT: usize = 500;

const COLUMNS: &str = "id, at, user_id, username, org_id, organisation, country, on_behalf_of, \
     action, target, detail, prev_hash, hash";

/// The last entry of the chain: its id and hash.
type Head = (i64, String);

/// Appends `events` to the chain. Call inside a transaction that holds the write lock (every
/// writer transaction here begins IMMEDIATE), so that no one else appends between the read of
/// the last entry and the inserts.
pub(super) async fn append(
    conn: &mut SqliteConnection,
    events: &[AuditEvent],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let head = last(conn).await?;
        insert_after(conn, chunk, at, head).await?;
    }
    Ok(())
}

async fn last(conn: &mut SqliteConnection) -> StoreResult<Head> {
    let last: Option<Head> =
        sqlx::query_as("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(last.unwrap_or((0, GENESIS.to_string())))
}

/// Inserts `events` (at most [`ROWS_PER_INSERT`]) after `head` in one statement; returns the
/// new head.
async fn insert_after(
    conn: &mut SqliteConnection,
    events: &[AuditEvent],
    at: DateTime<Utc>,
    head: Head,
) -> StoreResult<Head> {
    let (mut id, mut prev) = head;
    let entries: Vec<AuditEntry> = events
        .iter()
        .map(|event| {
            id += 1;
            let entry = AuditEntry::chain(id, at, event, &prev);
            prev = entry.hash.clone();
            entry
        })
        .collect();
    let mut insert = QueryBuilder::<Sqlite>::new(format!("INSERT INTO audit_log ({COLUMNS}) "));
    insert.push_values(&entries, |mut values, entry| {
        values
            .push_bind(entry.id)
            .push_bind(&entry.at)
            .push_bind(entry.user_id)
            .push_bind(&entry.username)
            .push_bind(entry.org_id)
            .push_bind(&entry.organisation)
            .push_bind(&entry.country)
            .push_bind(&entry.on_behalf_of)
            .push_bind(&entry.action)
            .push_bind(&entry.target)
            .push_bind(&entry.detail)
            .push_bind(&entry.prev_hash)
            .push_bind(&entry.hash);
    });
    insert.build().execute(&mut *conn).await?;
    Ok((id, prev))
}

fn entry_from_row(row: &SqliteRow) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        user_id: row.try_get("user_id")?,
        username: row.try_get("username")?,
        org_id: row.try_get("org_id")?,
        organisation: row.try_get("organisation")?,
        country: row.try_get("country")?,
        on_behalf_of: row.try_get("on_behalf_of")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Entries matching `filter` after entry `after`, oldest first (see `AuditFilter::scopes`).
pub(super) async fn entries(
    pool: &SqlitePool,
    filter: &AuditFilter,
    after: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let scopes = filter
        .scopes(
            |country| {
                sqlx::query_scalar("SELECT id FROM organisations WHERE country = ? ORDER BY id")
                    .bind(country.as_str().to_string())
                    .fetch_all(pool)
                    .map_err(StoreError::from)
            },
            |username| {
                sqlx::query_scalar("SELECT org_id FROM users WHERE username = ?")
                    .bind(username)
                    .fetch_optional(pool)
                    .map_err(StoreError::from)
            },
        )
        .await?;
    merged(scopes, limit, |scope| {
        page(pool, filter, scope, after, limit)
    })
    .await
}

/// Entries of `scope` matching `filter` after entry `after`, oldest first.
async fn page(
    pool: &SqlitePool,
    filter: &AuditFilter,
    scope: Scope,
    after: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let mut query =
        QueryBuilder::<Sqlite>::new(format!("SELECT {COLUMNS} FROM audit_log WHERE id > "));
    query.push_bind(after.unwrap_or(0));
    scope.push_to(&mut query);
    if let Some(username) = &filter.username {
        query.push(" AND username = ").push_bind(username.clone());
    }
    if let Some(org_id) = filter.org_id {
        query.push(" AND org_id = ").push_bind(org_id);
    }
    if let Some(country) = filter.country {
        query.push(" AND country = ").push_bind(country.to_string());
    }
    if let Some(action) = &filter.action {
        if let Some(prefix) = action.strip_suffix('.') {
            query
                .push(" AND (action = ")
                .push_bind(prefix.to_string())
                .push(" OR substr(action, 1, ")
                .push_bind(action.len() as i64)
                .push(") = ")
                .push_bind(action.clone())
                .push(")");
        } else {
            query.push(" AND action = ").push_bind(action.clone());
        }
    }
    let stamp = |t: &DateTime<Utc>| crate::audit::trail_time(*t);
    if let Some(from) = &filter.from {
        query.push(" AND at >= ").push_bind(stamp(from));
    }
    if let Some(to) = &filter.to {
        query.push(" AND at < ").push_bind(stamp(to));
    }
    query
        .push(" ORDER BY id LIMIT ")
        .push_bind(i64::from(limit));
    query
        .build()
        .fetch_all(pool)
        .await?
        .iter()
        .map(entry_from_row)
        .collect()
}

/// Every entry in id order, for verification, read a page at a time.
pub(super) fn chain(pool: &SqlitePool) -> BoxStream<'_, StoreResult<AuditEntry>> {
    const PAGE: u32 = 5000;
    crate::paging::paged(
        PAGE as usize,
        move |after| async move { entries(pool, &AuditFilter::default(), Some(after), PAGE).await },
        |entry| entry.id,
    )
}
