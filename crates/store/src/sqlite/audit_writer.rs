//! The thread that appends grouped audit entries (checks) to the SQLite file. A check's entry
//! is the hottest write there is; through the async driver each statement costs several
//! hand-offs between threads, which on two cores cost more than the write. Here one thread
//! owns a plain connection: a group of entries costs one hand-off in and one out, and the
//! transaction (read the chain's end, insert, commit) runs without leaving the thread.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::oneshot;

use crate::audit::{AuditEntry, AuditEvent, GENESIS};
use crate::{StoreError, StoreResult};

/// Most entries committed in one transaction.
const MAX_GROUP: usize = 8192;

/// Microseconds the thread waits, after a first entry, for more to share its commit. Each
/// commit costs far more than an entry; on the benchmark 0.5 ms paid for itself, 1 ms and
/// more cost more in latency than they saved (docs/BENCHMARKS.md).
const LINGER: u64 = 500;

struct Job {
    events: Vec<AuditEvent>,
    done: oneshot::Sender<Result<(), String>>,
}

/// The handle to the writer thread; the thread ends when the last handle is dropped.
pub(super) struct AuditWriter {
    jobs: mpsc::Sender<Job>,
}

impl AuditWriter {
    /// Opens a connection to `path` and starts the thread.
    pub(super) fn start(path: &Path) -> StoreResult<Self> {
        let conn = rusqlite::Connection::open(path).map_err(backend)?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || run(conn, queue))
            .map_err(|e| StoreError::Backend(format!("starting the audit writer: {e}")))?;
        Ok(AuditWriter { jobs })
    }

    /// Appends `events` and returns once they are committed.
    pub(super) async fn append(&self, events: Vec<AuditEvent>) -> StoreResult<()> {
        let (done, committed) = oneshot::channel();
        let stopped = || StoreError::Backend("the audit writer has stopped".into());
        self.jobs
            .send(Job { events, done })
            .map_err(|_| stopped())?;
        committed
            .await
            .map_err(|_| stopped())?
            .map_err(StoreError::Backend)
    }
}

fn backend(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

fn run(mut conn: rusqlite::Connection, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut events = first.events;
        let mut waiting = vec![first.done];
        let deadline = std::time::Instant::now() + Duration::from_micros(LINGER);
        while events.len() < MAX_GROUP {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match queue.recv_timeout(left) {
                Ok(more) => {
                    events.extend(more.events);
                    waiting.push(more.done);
                }
                Err(_) => break,
            }
        }
        let result = append_group(&mut conn, &events).map_err(|e| e.to_string());
        if let Err(cause) = &result {
            tracing::error!(%cause, entries = events.len(), "writing the audit trail failed");
        }
        for done in waiting {
            let _ = done.send(result.clone());
        }
    }
}

fn append_group(conn: &mut rusqlite::Connection, events: &[AuditEvent]) -> rusqlite::Result<()> {
    // IMMEDIATE: the write lock is taken before the chain's end is read, so no other writer
    // (the service's own, or another process) appends in between.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let (mut id, mut prev): (i64, String) = tx
        .prepare_cached("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")?
        .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
        .or_else(|error| match error {
            rusqlite::Error::QueryReturnedNoRows => Ok((0, GENESIS.to_string())),
            other => Err(other),
        })?;
    let at = Utc::now();
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO audit_log (id, at, user_id, username, org_id, organisation, country, \
             on_behalf_of, action, target, detail, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        for event in events {
            id += 1;
            let entry = AuditEntry::chain(id, at, event, &prev);
            insert.execute(rusqlite::params![
                entry.id,
                entry.at,
                entry.user_id,
                entry.username,
                entry.org_id,
                entry.organisation,
                entry.country,
                entry.on_behalf_of,
                entry.action,
                entry.target,
                entry.detail,
                entry.prev_hash,
                entry.hash,
            ])?;
            prev = entry.hash;
        }
    }
    tx.commit()
}
