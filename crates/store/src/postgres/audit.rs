//! The audit trail in PostgreSQL: entries appended inside the writer's transaction under the
//! chain's advisory lock, so that one chain grows whichever node writes; and a recorded check
//! (its entries, the records it read and its hits) in one transaction.

use crate::audit::{AuditEntry, AuditEvent, AuditFilter, GENESIS, Scope, merged};
use crate::{StoreError, StoreResult};
use chrono::{DateTime, Utc};
use futures::TryFutureExt;
use futures::stream::BoxStream;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

/// Entries per insert: thirteen values a row stay well under PostgreSQL's bound-parameter limit.
const ROWS_PER_INSERT: usize = 2000;

/// The advisory lock every appender takes: one chain, whichever node writes.
const CHAIN_LOCK: i64 = 0x4152_4d53_4155_4454;

const COLUMNS: &str = "id, at, user_id, username, org_id, organisation, country, on_behalf_of, \
     action, target, detail, prev_hash, hash";

/// The last entry of the chain: its id and hash.
type Head = (i64, String);

/// Appends `events` to the chain inside the caller's transaction. The chain's advisory lock,
/// held until the transaction ends, keeps every other appender (on this node or another) out
/// between the read of the last entry and the inserts.
pub(super) async fn append(
    conn: &mut PgConnection,
    events: &[AuditEvent],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CHAIN_LOCK)
        .execute(&mut *conn)
        .await?;
    let mut head = last(conn).await?;
    for chunk in events.chunks(ROWS_PER_INSERT) {
        head = insert_after(conn, chunk, at, head).await?;
    }
    Ok(())
}

async fn last(conn: &mut PgConnection) -> StoreResult<Head> {
    let last: Option<Head> =
        sqlx::query_as("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(last.unwrap_or((0, GENESIS.to_string())))
}

/// The time an entry was hashed with, as stored.
fn time_of(entry: &AuditEntry) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&entry.at)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("audit time '{}': {e}", entry.at)))
}

/// Inserts `events` after `head` in one statement; returns the new head.
async fn insert_after(
    conn: &mut PgConnection,
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
    let times = entries
        .iter()
        .map(time_of)
        .collect::<StoreResult<Vec<_>>>()?;
    let mut insert = QueryBuilder::<Postgres>::new(format!("INSERT INTO audit_log ({COLUMNS}) "));
    insert.push_values(entries.iter().zip(&times), |mut values, (entry, time)| {
        values
            .push_bind(entry.id)
            .push_bind(*time)
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

fn entry_from_row(row: &PgRow) -> StoreResult<AuditEntry> {
    let at: DateTime<Utc> = row.try_get("at")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        // Written back exactly as it was hashed (microseconds, `Z`).
        at: crate::audit::trail_time(at),
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
    pool: &PgPool,
    filter: &AuditFilter,
    after: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let scopes = filter
        .scopes(
            |country| {
                sqlx::query_scalar("SELECT id FROM organisations WHERE country = $1 ORDER BY id")
                    .bind(country.as_str().to_string())
                    .fetch_all(pool)
                    .map_err(StoreError::from)
            },
            |username| {
                sqlx::query_scalar("SELECT org_id FROM users WHERE username = $1")
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
    pool: &PgPool,
    filter: &AuditFilter,
    scope: Scope,
    after: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let mut query =
        QueryBuilder::<Postgres>::new(format!("SELECT {COLUMNS} FROM audit_log WHERE id > "));
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
                .push(" OR left(action, ")
                .push_bind(action.chars().count() as i32)
                .push(") = ")
                .push_bind(action.clone())
                .push(")");
        } else {
            query.push(" AND action = ").push_bind(action.clone());
        }
    }
    if let Some(from) = filter.from {
        query.push(" AND at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        query.push(" AND at < ").push_bind(to);
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
pub(super) fn chain(pool: &PgPool) -> BoxStream<'_, StoreResult<AuditEntry>> {
    const PAGE: u32 = 5000;
    crate::paging::paged(
        PAGE as usize,
        move |after| async move { entries(pool, &AuditFilter::default(), Some(after), PAGE).await },
        |entry| entry.id,
    )
}

/// One check's part of a group: what it asks, and where its answer goes.
pub(super) struct Job {
    events: Vec<crate::audit::AuditEvent>,
    reads: Vec<armstrace_core::FirearmId>,
    hits: Vec<crate::hits::NewHit>,
    reply: tokio::sync::oneshot::Sender<StoreResult<crate::hits::RecordedCheck>>,
}

/// The most checks one transaction records.
const GROUP: usize = 512;

/// Records checks in groups: while one transaction commits, the checks that arrive meanwhile
/// wait for the next, and go in together. One commit (and one turn of the chain's lock) then
/// serves many checks, as the SQLite backend's writer thread does.
#[derive(Clone)]
pub(super) struct Recorder {
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
}

impl Recorder {
    /// Starts the task that writes the groups to `pool`.
    pub(super) fn start(pool: PgPool) -> Self {
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            while let Some(first) = queue.recv().await {
                let mut group = vec![first];
                while group.len() < GROUP {
                    match queue.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                write_group(&pool, group).await;
            }
        });
        Recorder { jobs }
    }

    /// Records one check's entries, reads and hits; returns once they are committed.
    pub(super) async fn record(
        &self,
        events: Vec<crate::audit::AuditEvent>,
        reads: Vec<armstrace_core::FirearmId>,
        hits: Vec<crate::hits::NewHit>,
    ) -> StoreResult<crate::hits::RecordedCheck> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            events,
            reads,
            hits,
            reply,
        };
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Backend("the audit recorder stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Backend("the audit recorder stopped".into()))?
    }
}

/// Writes a group in one transaction and answers each of its checks: all committed, or all
/// told why not.
async fn write_group(pool: &PgPool, group: Vec<Job>) {
    let mut parts = Vec::with_capacity(group.len());
    let mut replies = Vec::with_capacity(group.len());
    for job in group {
        parts.push((job.events, job.reads, job.hits));
        replies.push(job.reply);
    }
    match record_all(pool, parts).await {
        Ok(recorded) => {
            for (reply, one) in replies.into_iter().zip(recorded) {
                let _ = reply.send(Ok(one));
            }
        }
        Err(error) => {
            let message = error.to_string();
            for reply in replies {
                let _ = reply.send(Err(StoreError::Backend(message.clone())));
            }
        }
    }
}

type Part = (
    Vec<crate::audit::AuditEvent>,
    Vec<armstrace_core::FirearmId>,
    Vec<crate::hits::NewHit>,
);

/// Records every part in one transaction; the answers in the parts' order.
async fn record_all(
    pool: &PgPool,
    parts: Vec<Part>,
) -> StoreResult<Vec<crate::hits::RecordedCheck>> {
    // To the microsecond, as stored: a notification's payload then says the time it is stored
    // with.
    let at = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    let mut tx = pool.begin().await?;
    let mut answers = Vec::with_capacity(parts.len());
    let mut events = Vec::new();
    for (own_events, reads, hits) in parts {
        // In the order asked, repeats included, as the SQLite writer reads them one by one.
        // Most checks find nothing to read: they cost no round trip here.
        let mut records = Vec::with_capacity(reads.len());
        if !reads.is_empty() {
            let rows = sqlx::query(&format!(
                "SELECT {} FROM unnest($1::bigint[]) WITH ORDINALITY AS asked (asked_id, n) \
                 JOIN firearms ON id = asked.asked_id ORDER BY asked.n",
                crate::rows::ALL_COLUMNS
            ))
            .bind(&reads)
            .fetch_all(&mut *tx)
            .await?;
            for row in &rows {
                records.push(super::firearms::firearm_from_row(row)?);
            }
        }
        let hits = super::hits::make_hits(&mut tx, &hits, at).await?;
        answers.push(crate::hits::RecordedCheck { records, hits });
        events.extend(own_events);
    }
    // Appended last: the chain's lock is then held from here to the commit only, and taken
    // after this transaction's row locks, in the order every other writer takes them.
    append(&mut tx, &events, at).await?;
    tx.commit().await?;
    Ok(answers)
}
