//! The thread that records checks: it appends their audit entries to the SQLite file and reads
//! the records they hit, for many checks in one transaction. A check's entry is the hottest
//! write there is. Through the async driver each statement costs several hand-offs between
//! threads, which on two cores cost more than the write, and every commit empties the page
//! cache of the readers that would then fetch the hits. Here one thread owns a plain
//! connection whose cache its own commits leave warm: a group of checks costs one hand-off in
//! and one out, and the transaction (read the chain's end, insert, read the hits, commit) runs
//! without leaving the thread.

use std::path::Path;
use std::sync::mpsc;

use chrono::Utc;
use tokio::sync::oneshot;

use armstrace_core::{Firearm, FirearmId};

use crate::audit::{AuditEvent, GENESIS, Unchained, trail_time};
use crate::hits::{
    INSERT_NOTIFICATION, NewHit, QUEUE_EMAIL, QUEUE_WEBHOOKS, RECIPIENTS, RECORD_FACTS,
    RecordedCheck, hit_summary, merge_roles, stamp,
};
use crate::{StoreError, StoreResult};

/// Most entries committed in one transaction.
const MAX_GROUP: usize = 8192;

// No wait before a group commits: the entries that queue while one group commits make the
// next. Once a request's token no longer went through the async driver, waiting 0.5 ms for
// company cost more in latency than the larger groups saved: 11.2–11.6k audited checks/s
// with it, 12.9–13.3k without (docs/BENCHMARKS.md).

type Hits = Result<RecordedCheck, String>;

struct Job {
    events: Vec<Unchained>,
    reads: Vec<FirearmId>,
    hits: Vec<NewHit>,
    done: oneshot::Sender<Hits>,
}

/// The handle to the writer thread; the thread ends when the last handle is dropped.
pub(super) struct AuditWriter {
    jobs: mpsc::Sender<Job>,
}

impl AuditWriter {
    /// Opens a connection to `path` and starts the thread.
    pub(super) fn start(path: &Path) -> StoreResult<Self> {
        let conn = super::plain_connection(path, false)?;
        // The checkpointer copies the journal back; this thread checkpoints only past 64 MB,
        // so that the journal starts again from its beginning (see checkpointer.rs).
        for (pragma, value) in [
            ("synchronous", "NORMAL"),
            ("wal_autocheckpoint", "16384"),
            ("cache_size", "-65536"),
        ] {
            conn.pragma_update(None, pragma, value)?;
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || run(conn, queue))
            .map_err(|e| StoreError::Backend(format!("starting the audit writer: {e}")))?;
        Ok(AuditWriter { jobs })
    }

    /// Appends `events`, reads the live or deleted records `reads` names, makes `hits` with
    /// their notifications and deliveries, and returns the records and the hits' ids once all
    /// of it is committed.
    pub(super) async fn record(
        &self,
        events: Vec<AuditEvent>,
        reads: Vec<FirearmId>,
        hits: Vec<NewHit>,
    ) -> StoreResult<RecordedCheck> {
        let (done, committed) = oneshot::channel();
        let stopped = || StoreError::Backend("the audit writer has stopped".into());
        self.jobs
            .send(Job {
                // Written out here, on the request's thread.
                events: events.iter().map(Unchained::from).collect(),
                reads,
                hits,
                done,
            })
            .map_err(|_| stopped())?;
        committed
            .await
            .map_err(|_| stopped())?
            .map_err(StoreError::Backend)
    }
}

fn run(mut conn: rusqlite::Connection, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut entries = first.events.len();
        let mut jobs = vec![first];
        while entries < MAX_GROUP {
            let Ok(more) = queue.try_recv() else { break };
            entries += more.events.len();
            jobs.push(more);
        }
        match commit_group(&mut conn, &mut jobs) {
            Ok(hits) => {
                for (job, hits) in jobs.into_iter().zip(hits) {
                    let _ = job.done.send(hits);
                }
            }
            Err(error) => {
                let cause = error.to_string();
                tracing::error!(%cause, entries, "writing the audit trail failed");
                for job in jobs {
                    let _ = job.done.send(Err(cause.clone()));
                }
            }
        }
    }
}

fn commit_group(conn: &mut rusqlite::Connection, jobs: &mut [Job]) -> rusqlite::Result<Vec<Hits>> {
    // IMMEDIATE: the write lock is taken before the chain's end is read, so no other writer
    // (the service's own, or another process) appends in between.
    let appends = jobs.iter().any(|job| !job.events.is_empty());
    let tx = conn.transaction_with_behavior(if appends {
        rusqlite::TransactionBehavior::Immediate
    } else {
        rusqlite::TransactionBehavior::Deferred
    })?;
    let (mut id, mut prev): (i64, String) = if appends {
        tx.prepare_cached("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")?
            .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
            .or_else(|error| match error {
                rusqlite::Error::QueryReturnedNoRows => Ok((0, GENESIS.to_string())),
                other => Err(other),
            })?
    } else {
        (0, GENESIS.to_string())
    };
    let at = Utc::now();
    let at_text = trail_time(at);
    let mut hits = Vec::with_capacity(jobs.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO audit_log (id, at, user_id, username, org_id, organisation, country, \
             on_behalf_of, action, target, detail, prev_hash, hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        let mut read = tx.prepare_cached(concat!(
            "SELECT ",
            crate::rows::all_columns!(),
            " FROM firearms WHERE id = ?1"
        ))?;
        for job in jobs.iter_mut() {
            for event in std::mem::take(&mut job.events) {
                id += 1;
                let entry = event.chain(id, &at_text, &prev);
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
            let mut found = Vec::with_capacity(job.reads.len());
            for hit in &job.reads {
                let record = read
                    .query_row([hit], |row| Ok(crate::rows::firearm(row)))
                    .map(Some)
                    .or_else(|error| match error {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        other => Err(other),
                    })?;
                if let Some(record) = record {
                    found.push(record.map_err(|e| format!("stored record unreadable: {e}")));
                }
            }
            let made = make_hits(&tx, &job.hits, at)?;
            hits.push(
                found
                    .into_iter()
                    .collect::<Result<Vec<Firearm>, String>>()
                    .map(|records| RecordedCheck {
                        records,
                        hits: made,
                    }),
            );
        }
    }
    tx.commit()?;
    Ok(hits)
}

/// Makes each hit of one check, with a notification for each organisation party to it and
/// their deliveries, in the check's transaction; returns (check, record, hit id) per hit made.
fn make_hits(
    tx: &rusqlite::Transaction<'_>,
    hits: &[NewHit],
    at: chrono::DateTime<Utc>,
) -> rusqlite::Result<Vec<(String, FirearmId, i64)>> {
    let mut made = Vec::with_capacity(hits.len());
    // As sqlx writes times, so that either driver reads them back.
    let at_text = stamp(at);
    for hit in hits {
        let facts: Option<String> = tx
            .prepare_cached(RECORD_FACTS)?
            .query_row([hit.firearm_id], |row| row.get(0))
            .map(Some)
            .or_else(|error| match error {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                other => Err(other),
            })?;
        let Some(facts) = facts else { continue };
        let record: serde_json::Value = serde_json::from_str(&facts).unwrap_or_default();
        let recording_country = record["recording_country"].as_str().unwrap_or_default();
        let on_behalf_of = hit.on_behalf_of.map(|c| c.as_str().to_string());
        let org_id = hit.who.org_id.unwrap_or_default();
        tx.prepare_cached(
            "INSERT INTO hits (check_id, firearm_id, recording_country, confidence, score, \
             match_kind, make_relation, differences, serial_typed, make_typed, operation, \
             user_id, username, org_id, organisation, on_behalf_of, state, created_at, \
             updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
             ?15, ?16, 'open', ?17, ?17)",
        )?
        .execute(rusqlite::params![
            hit.check_id,
            hit.firearm_id,
            recording_country,
            hit.confidence,
            hit.score,
            hit.match_kind,
            hit.make_relation,
            hit.differences.to_string(),
            hit.serial_typed,
            hit.make_typed,
            hit.operation,
            hit.who.user_id,
            hit.who.username,
            org_id,
            hit.who.organisation,
            on_behalf_of,
            at_text,
        ])?;
        let hit_id = tx.last_insert_rowid();
        let found = tx
            .prepare_cached(RECIPIENTS)?
            .query_map(
                rusqlite::params![org_id, on_behalf_of, recording_country],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )?
            .collect::<rusqlite::Result<Vec<(i64, String, String)>>>()?;
        let payload = serde_json::json!({
            "event": "hit.created",
            "hit_id": hit_id,
            "hit": hit_summary(
                hit_id,
                &hit.confidence,
                &hit.serial_typed,
                hit.make_typed.as_deref(),
                &record,
                &hit.who.organisation,
                on_behalf_of.as_deref(),
            ),
            "by": { "username": hit.who.username, "organisation": hit.who.organisation },
            "at": at,
        })
        .to_string();
        for (party, _, roles) in merge_roles(found) {
            tx.prepare_cached(
                "INSERT INTO hit_parties (hit_id, org_id, roles) VALUES (?1, ?2, ?3)",
            )?
            .execute(rusqlite::params![hit_id, party, roles.join(",")])?;
            tx.prepare_cached(INSERT_NOTIFICATION)?
                .execute(rusqlite::params![
                    party,
                    hit_id,
                    "hit.created",
                    payload,
                    at_text
                ])?;
            let notification = tx.last_insert_rowid();
            for queue in [QUEUE_WEBHOOKS, QUEUE_EMAIL] {
                tx.prepare_cached(queue)?.execute(rusqlite::params![
                    notification,
                    at_text,
                    party
                ])?;
            }
        }
        made.push((hit.check_id.clone(), hit.firearm_id, hit_id));
    }
    Ok(made)
}
