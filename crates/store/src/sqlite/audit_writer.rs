//! The thread that records checks: it appends their audit entries to the SQLite file and reads
//! the records they hit, for many checks in one transaction. A check's entry is the hottest
//! write there is. Through the async driver each statement costs several hand-offs between
//! threads, which on two cores cost more than the write, and every commit empties the page
//! cache of the readers that would then fetch the hits. Here one thread owns a plain
//! connection whose cache its own commits leave warm: a group of checks costs one hand-off in
//! and one out, and the transaction (read the chain's end, insert, read the hits, commit) runs
//! without leaving the thread. A group of checks that makes no hit writes its entries to the
//! stage (`audit_stage.rs`) instead, and reads the records inside the stage's open move, if
//! one is, or in a read transaction.

use std::path::Path;
use std::sync::mpsc;

use chrono::Utc;
use tokio::sync::oneshot;

use armstrace_core::{Firearm, FirearmId};

use super::audit_stage::{SLICE, Stage, chain_in};
use crate::audit::{AuditEvent, Unchained, trail_time};
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
    /// For a job that may wait in the stage, each event as JSON, written on the request's
    /// thread.
    written: Vec<String>,
    /// Whether the events may wait in the stage: a check's, without hits.
    stage: bool,
    reads: Vec<FirearmId>,
    hits: Vec<NewHit>,
    done: oneshot::Sender<Hits>,
}

/// The handle to the writer thread. Dropping it ends the thread, once it has moved what
/// waits in the stage.
pub(super) struct AuditWriter {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for AuditWriter {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
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
        let stage = match Stage::create(path) {
            Ok(stage) => Some(stage),
            Err(error) => {
                tracing::warn!(%error, "no audit stage beside the database: checks' entries are committed one group at a time");
                None
            }
        };
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || run(conn, queue, stage))
            .map_err(|e| StoreError::Backend(format!("starting the audit writer: {e}")))?;
        Ok(AuditWriter {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Returns once every entry answered for before is in the trail (moved from the stage).
    pub(super) async fn flush(&self) -> StoreResult<()> {
        self.send(Vec::new(), Vec::new(), false, Vec::new(), Vec::new())
            .await
            .map(drop)
    }

    /// Appends `events`, reads the live or deleted records `reads` names, makes `hits` with
    /// their notifications and deliveries, and returns the records and the hits' ids once all
    /// of it is kept. The entries of checks (`checks`) that make no hit are kept by writing them
    /// to the stage (see `audit_stage.rs`); any others are committed after whatever waits there.
    pub(super) async fn record(
        &self,
        events: Vec<AuditEvent>,
        checks: bool,
        reads: Vec<FirearmId>,
        hits: Vec<NewHit>,
    ) -> StoreResult<RecordedCheck> {
        // Written out here, on the request's thread.
        let events: Vec<Unchained> = events.iter().map(Unchained::from).collect();
        let stage = checks && hits.is_empty();
        let written = if stage {
            events
                .iter()
                .map(|event| {
                    serde_json::to_string(event).map_err(|e| StoreError::Backend(e.to_string()))
                })
                .collect::<StoreResult<_>>()?
        } else {
            Vec::new()
        };
        self.send(events, written, stage, reads, hits).await
    }

    async fn send(
        &self,
        events: Vec<Unchained>,
        written: Vec<String>,
        stage: bool,
        reads: Vec<FirearmId>,
        hits: Vec<NewHit>,
    ) -> StoreResult<RecordedCheck> {
        let (done, committed) = oneshot::channel();
        let stopped = || StoreError::Backend("the audit writer has stopped".into());
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(Job {
                stage,
                events,
                written,
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

fn run(mut conn: rusqlite::Connection, queue: mpsc::Receiver<Job>, mut stage: Option<Stage>) {
    loop {
        // While no check waits: a slice of what is due, or the open move's commit once it is
        // due, or sleep until either is.
        let next = match stage.as_mut() {
            Some(stage) if stage.movable() => match queue.try_recv() {
                Ok(job) => Ok(job),
                Err(mpsc::TryRecvError::Empty) => {
                    step(&mut conn, stage);
                    if stage.commit_due() {
                        commit_move(&mut conn, stage);
                    }
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => Err(()),
            },
            Some(stage) if stage.moving() => match queue.recv_timeout(stage.commit_in()) {
                Ok(job) => Ok(job),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    commit_move(&mut conn, stage);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
            },
            Some(stage) => match stage.movable_in() {
                Some(left) => match queue.recv_timeout(left) {
                    Ok(job) => Ok(job),
                    Err(mpsc::RecvTimeoutError::Timeout) => continue,
                    Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
                },
                None => queue.recv().map_err(drop),
            },
            None => queue.recv().map_err(drop),
        };
        let Ok(first) = next else { break };
        let mut entries = first.events.len();
        let mut jobs = vec![first];
        while entries < MAX_GROUP {
            let Ok(more) = queue.try_recv() else { break };
            entries += more.events.len();
            jobs.push(more);
        }
        let staged = match stage.as_mut().map(|stage| stage_group(stage, &mut jobs)) {
            Some(Ok(staged)) => staged,
            Some(Err(())) => {
                // The stage failed: what waits in it goes in now, and checks commit directly
                // from here on.
                if let Some(broken) = stage.take() {
                    broken.finish(&mut conn);
                }
                false
            }
            None => false,
        };
        if !staged && let Some(waiting) = stage.as_mut() {
            // Whatever waits goes first, so that the chain keeps the order of the answers.
            if let Err(error) = waiting.move_all(&mut conn) {
                // They stay in the stage (and its file), and these entries may not go
                // before them.
                tracing::error!(%error, "moving checks' audit entries into the trail failed");
                let cause = format!("moving the audit stage into the trail: {error}");
                for job in jobs {
                    let _ = job.done.send(Err(cause.clone()));
                }
                continue;
            }
        }
        // A group that only reads does so inside the open move, if one is.
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
        // Between groups: a slice of what is due, and the open move's commit once it is due.
        if let Some(stage) = stage.as_mut() {
            if stage.movable() {
                step(&mut conn, stage);
            }
            if stage.commit_due() {
                commit_move(&mut conn, stage);
            }
        }
    }
    if let Some(stage) = stage {
        stage.finish(&mut conn);
    }
}

/// Inserts a slice of what waits in the stage into the open move.
fn step(conn: &mut rusqlite::Connection, stage: &mut Stage) {
    if let Err(error) = stage.slice(conn, SLICE) {
        // They stay in the stage (and its file) for the next try.
        tracing::error!(%error, "moving checks' audit entries into the trail failed");
    }
}

/// Commits the open move.
fn commit_move(conn: &mut rusqlite::Connection, stage: &mut Stage) {
    if let Err(error) = stage.commit(conn) {
        // They stay in the stage (and its file) for the next try.
        tracing::error!(%error, "moving checks' audit entries into the trail failed");
    }
}

/// Writes the group's entries to the stage when every job in it may wait there, and says
/// whether it did; the jobs are then left with their reads only. `Err` when writing failed:
/// the jobs keep their entries.
fn stage_group(stage: &mut Stage, jobs: &mut [Job]) -> Result<bool, ()> {
    if !jobs.iter().all(|job| job.stage) {
        return Ok(false);
    }
    let counts: Vec<usize> = jobs.iter().map(|job| job.events.len()).collect();
    let mut events: Vec<Unchained> = jobs
        .iter_mut()
        .flat_map(|job| std::mem::take(&mut job.events))
        .collect();
    if events.is_empty() {
        return Ok(true);
    }
    let written: Vec<String> = jobs
        .iter_mut()
        .flat_map(|job| std::mem::take(&mut job.written))
        .collect();
    match stage.append(&trail_time(Utc::now()), &mut events, &written) {
        Ok(()) => Ok(true),
        Err(error) => {
            tracing::error!(%error, "writing checks' audit entries to the stage failed");
            let mut events = events.into_iter();
            for (job, count) in jobs.iter_mut().zip(counts) {
                job.events = events.by_ref().take(count).collect();
            }
            Err(())
        }
    }
}

fn commit_group(conn: &mut rusqlite::Connection, jobs: &mut [Job]) -> rusqlite::Result<Vec<Hits>> {
    let appends = jobs
        .iter()
        .any(|job| !job.events.is_empty() || !job.hits.is_empty());
    if appends {
        // IMMEDIATE: the write lock is taken before the chain's end is read, so no other
        // writer (the service's own, or another process) appends in between. No move is open:
        // the stage was emptied first.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let hits = group_in(&tx, jobs)?;
        tx.commit()?;
        Ok(hits)
    } else {
        // Reads only: a savepoint nests in the stage's open move, and outside one begins a
        // read transaction of its own.
        let reads = conn.savepoint()?;
        let hits = group_in(&reads, jobs)?;
        reads.commit()?;
        Ok(hits)
    }
}

/// Appends the group's entries, reads the records its checks found and makes its hits, in the
/// transaction `tx` is in.
fn group_in(tx: &rusqlite::Connection, jobs: &mut [Job]) -> rusqlite::Result<Vec<Hits>> {
    let at = Utc::now();
    let at_text = trail_time(at);
    let events: Vec<Unchained> = jobs
        .iter_mut()
        .flat_map(|job| std::mem::take(&mut job.events))
        .collect();
    chain_in(tx, events.iter().map(|event| (at_text.as_str(), event)))?;
    let mut hits = Vec::with_capacity(jobs.len());
    {
        let mut read = tx.prepare_cached(concat!(
            "SELECT ",
            crate::rows::all_columns!(),
            " FROM firearms WHERE id = ?1"
        ))?;
        for job in jobs.iter_mut() {
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
            let made = make_hits(tx, &job.hits, at)?;
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
    Ok(hits)
}

/// Makes each hit of one check, with a notification for each organisation party to it and
/// their deliveries, in the check's transaction; returns (check, record, hit id) per hit made.
fn make_hits(
    tx: &rusqlite::Connection,
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
