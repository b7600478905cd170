//! Checks as the service runs them: the index built from the store at start-up, one check
//! answered with the matching records, and batches of checks (customs manifests, seizure lists)
//! streamed through every core. Shared by the API and the command line.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use armstrace_core::CountryCode;
use armstrace_core::{Firearm, FirearmFields, FirearmId};
use armstrace_matcher::{
    CheckIndex, CheckOutcome, CheckQuery, IndexBuilder, IndexRecord, Match, QueryError,
};
use armstrace_store::audit::{AuditEvent, AuditWho};
use armstrace_store::{Store, StoreError};
use futures::TryStreamExt;
use rayon::prelude::*;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::hits::{HitContext, HitPolicy};
use armstrace_store::hits::NewHit;

use crate::reference_table::{ReferenceTable, make_names};

/// Most matches a check answers.
pub const MAX_MATCHES: usize = 10;

/// Rows checked together in a batch (in parallel, then their records fetched in one query).
const BATCH_CHUNK: usize = 512;

/// Builds the check index from every live record in the store, its makes grouped as the
/// reference `table` groups them; returns it and how long it took.
pub async fn build_index(
    store: &dyn Store,
    table: &armstrace_reference::Table,
) -> Result<(CheckIndex, std::time::Duration), StoreError> {
    let started = Instant::now();
    // A record marked "Izhmash" and a check for "Kalashnikov" name one make. Names several
    // makes share are left out. Records are indexed under their resolved make.
    let mut builder = IndexBuilder::with_makes(table.makes.iter().map(make_names));
    let mut entries = store.live_serials();
    while let Some(entry) = entries.try_next().await? {
        builder.push(IndexRecord {
            firearm_id: entry.id,
            serial: &entry.serial_number,
            make: &entry.make,
        });
    }
    tracing::info!(records = builder.len(), read = ?started.elapsed(), "read the serials for the check index");
    // The build uses every core: off the async workers, and a panic in it stays a panic.
    let index = tokio::task::spawn_blocking(move || builder.finish())
        .await
        .unwrap_or_else(|failed| std::panic::resume_unwind(failed.into_panic()));
    Ok((index, started.elapsed()))
}

/// Keeps the index in step with a record just created, changed or deleted.
pub fn index_record(index: &CheckIndex, firearm: &Firearm) {
    if firearm.deleted_at.is_some() {
        index.remove(firearm.id);
    } else {
        index_fields(index, firearm.id, &firearm.fields);
    }
}

/// Why a node stopped following the change feed.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The store could not be read; the next round tries again.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Changes this node had not read yet were forgotten: its index may lack them for good.
    #[error(
        "this node had read the change feed up to position {position}, but positions up to \
         {pruned_through} have been forgotten since, so its check index may lack changes: \
         restart it to build the index again (a node that may be stopped or cut off from the \
         database for longer than --feed-mark-secs needs a larger --feed-keep)"
    )]
    Behind {
        /// Where this node stood.
        position: i64,
        /// Up to where the feed was forgotten.
        pruned_through: i64,
    },
}

/// A node following the change feed.
pub struct Following {
    /// The position this node has read up to.
    pub position: Arc<std::sync::atomic::AtomicI64>,
    /// Answers once, if the node finds that changes it had not read were forgotten: it must
    /// then stop serving checks from an index that may lack them.
    pub behind: tokio::sync::oneshot::Receiver<FollowError>,
}

/// Follows the store's change feed from position `from`, every `every`, so that `index` learns
/// of records other processes write: another node of a cluster, an import from the command
/// line. Applying a change this process made itself again is harmless: it reads the record as
/// it stands.
pub fn follow_changes(
    store: Arc<dyn Store>,
    index: Arc<CheckIndex>,
    from: i64,
    every: std::time::Duration,
) -> Following {
    use std::sync::atomic::Ordering;
    let position = Arc::new(std::sync::atomic::AtomicI64::new(from));
    let (tell, behind) = tokio::sync::oneshot::channel();
    let read = position.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match catch_up(store.as_ref(), &index, read.load(Ordering::Relaxed)).await {
                Ok(next) => read.store(next, Ordering::Relaxed),
                Err(FollowError::Store(error)) => {
                    tracing::warn!(%error, "following the change feed failed; retrying")
                }
                Err(lost) => {
                    tracing::error!(error = %lost, "stopped following the change feed");
                    let _ = tell.send(lost);
                    return;
                }
            }
        }
    });
    Following { position, behind }
}

/// How a node keeps the change feed short without cutting off another.
#[derive(Debug, Clone)]
pub struct Pruning {
    /// This node's name on the feed (unique per process).
    pub node: String,
    /// Positions kept behind the newest, for nodes whose mark has lapsed.
    pub keep: u64,
    /// How long a node's mark counts without being renewed.
    pub mark_lasts: std::time::Duration,
    /// Time between two rounds.
    pub every: std::time::Duration,
}

/// A name for this process on the change feed, unique among the nodes of a cluster.
pub fn node_name() -> String {
    format!("node-{}", crate::auth::new_session_secret())
}

/// Each round (the first at once, then every `pruning.every`): renews this node's mark on the
/// change feed at the position it has read (`read`, from [`follow_changes`]), then forgets the
/// positions more than `keep` behind the newest, but none that this node or another whose mark
/// is fresh has not read. Every node of a cluster does the same: a node that is merely slow is
/// waited for, and only one whose mark lapsed (stopped, or cut off from the database) and is
/// further behind than `keep` learns it missed changes, and stops.
pub fn prune_changes(
    store: Arc<dyn Store>,
    read: Arc<std::sync::atomic::AtomicI64>,
    pruning: Pruning,
) {
    tokio::spawn(async move {
        loop {
            if let Err(error) = prune_round(store.as_ref(), &read, &pruning).await {
                tracing::warn!(%error, "pruning the change feed failed");
            }
            tokio::time::sleep(pruning.every).await;
        }
    });
}

async fn prune_round(
    store: &dyn Store,
    read: &std::sync::atomic::AtomicI64,
    pruning: &Pruning,
) -> Result<(), StoreError> {
    let position = read.load(std::sync::atomic::Ordering::Relaxed);
    store.mark_feed(&pruning.node, Some(position)).await?;
    let marked = store.feed_marks(pruning.mark_lasts).await?;
    let head = store.feed_head().await?;
    let through = head
        .saturating_sub(i64::try_from(pruning.keep).unwrap_or(i64::MAX))
        .min(position)
        .min(marked.unwrap_or(i64::MAX));
    if through > 0 {
        let forgotten = store.prune_feed(through).await?;
        if forgotten > 0 {
            tracing::info!(forgotten, through, "pruned the change feed");
        }
    }
    Ok(())
}

/// Applies every change after `position` to `index`; returns the new position.
pub async fn catch_up(
    store: &dyn Store,
    index: &CheckIndex,
    mut position: i64,
) -> Result<i64, FollowError> {
    loop {
        let changes = store.changes_after(position, 5000).await?;
        // Read after the changes: a pruning that removed some of them shows here.
        let pruned_through = store.feed_pruned_through().await?;
        if pruned_through > position {
            return Err(FollowError::Behind {
                position,
                pruned_through,
            });
        }
        let Some(&(last, _)) = changes.last() else {
            return Ok(position);
        };
        let mut ids: Vec<FirearmId> = changes.iter().map(|(_, id)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        for firearm in store.firearms(&ids).await? {
            index_record(index, &firearm);
        }
        position = last;
    }
}

/// Keeps the index in step with a live record's content (as an import stores it).
pub fn index_fields(index: &CheckIndex, id: FirearmId, fields: &FirearmFields) {
    index.upsert(IndexRecord {
        firearm_id: id,
        serial: fields.serial_number.as_str(),
        make: fields.canonical.make.as_deref().unwrap_or(&fields.make),
    });
}

/// One match with the record it found.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FoundFirearm {
    /// The matching record.
    pub firearm: Firearm,
    /// exact, strong or possible.
    #[schema(value_type = String, example = "strong")]
    pub confidence: armstrace_matcher::Confidence,
    /// 0 to 1, higher is closer.
    pub score: f32,
    /// How the serials relate: exact, folded, one_edit, embedded_letters, pattern, two_edits.
    #[schema(value_type = String, example = "one_edit")]
    pub kind: armstrace_matcher::MatchKind,
    /// How the makes relate: same, not_given, different.
    #[schema(value_type = String, example = "same")]
    pub make: armstrace_matcher::MakeRelation,
    /// Why it matched, in words.
    pub differences: Vec<armstrace_matcher::Difference>,
    /// The hit this match made (the secretariat and the recording NCB have been told), when
    /// its confidence is one the hit policy names.
    pub hit_id: Option<i64>,
}

/// Who runs a check, as the audit trail records it.
#[derive(Debug, Clone)]
pub struct CheckAudit {
    /// Where the entries go.
    pub log: crate::audit_log::AuditLog,
    /// Who checks.
    pub who: AuditWho,
    /// The country a partner checks for.
    pub on_behalf_of: Option<CountryCode>,
    /// Which matches become hits.
    pub policy: HitPolicy,
    /// The operation the checks are made in, if any.
    pub operation: Option<String>,
}

impl CheckAudit {
    /// What the hits of check `check_id` of `serial` (and `make`) carry.
    pub fn hit_context(&self, check_id: &str, serial: &str, make: Option<&str>) -> HitContext {
        HitContext {
            check_id: check_id.to_string(),
            serial: serial.to_string(),
            make: make.map(str::to_string),
            operation: self.operation.clone(),
            who: self.who.clone(),
            on_behalf_of: self.on_behalf_of,
        }
    }

    /// The hits a check's `outcome` makes under the policy.
    fn hits(&self, context: &HitContext, outcome: &CheckOutcome) -> Vec<NewHit> {
        outcome
            .matches
            .iter()
            .filter(|m| self.policy.makes_hit(m))
            .map(|m| context.hit(m))
            .collect()
    }

    /// The entry of one check: the query, how many records matched, and which were shown.
    pub fn event(
        &self,
        serial: &str,
        make: Option<&str>,
        outcome: Result<&CheckOutcome, &QueryError>,
        mut detail: serde_json::Map<String, serde_json::Value>,
    ) -> AuditEvent {
        detail.insert("serial_number".into(), serial.into());
        detail.insert("make".into(), make.into());
        match outcome {
            Ok(outcome) => {
                detail.insert("matches".into(), outcome.total.into());
                detail.insert(
                    "hits".into(),
                    outcome
                        .matches
                        .iter()
                        .map(|m| m.firearm_id)
                        .collect::<Vec<_>>()
                        .into(),
                );
            }
            Err(error) => {
                detail.insert("error".into(), error.to_string().into());
            }
        }
        let mut event = AuditEvent::new(self.who.clone(), "check").detail(detail.into());
        event.on_behalf_of = self.on_behalf_of;
        event
    }
}

/// What an officer typed for one check.
#[derive(Debug, Clone, Copy, Default)]
pub struct Typed<'a> {
    /// The serial as read.
    pub serial: &'a str,
    /// The make, if known.
    pub make: Option<&'a str>,
    /// The model, if known: among matches alike in every other way, those of this model
    /// come first.
    pub model: Option<&'a str>,
    /// The calibre, if known: likewise.
    pub calibre: Option<&'a str>,
}

/// Runs one check (identified by `check_id`), records it in the audit trail (with `detail`
/// added to the entry) with the hits it makes, and fetches the records it found, best first.
pub async fn check_one(
    index: &CheckIndex,
    reference: &ReferenceTable,
    audit: &CheckAudit,
    check_id: &str,
    typed: Typed<'_>,
    mut detail: serde_json::Map<String, serde_json::Value>,
) -> Result<(CheckOutcome, Vec<FoundFirearm>), CheckError> {
    let Typed { serial, make, .. } = typed;
    // The entry names the check, as its hits do.
    detail.insert("check_id".into(), check_id.into());
    let corrected = make.and_then(|m| reference.check_make(index, m));
    if let Some(corrected) = &corrected {
        detail.insert("make_compared_as".into(), corrected.clone().into());
    }
    let outcome = index.check(&CheckQuery {
        serial,
        make: corrected.as_deref().or(make),
        limit: MAX_MATCHES,
    })?;
    let ids: Vec<FirearmId> = outcome.matches.iter().map(|m| m.firearm_id).collect();
    let hits = audit.hits(&audit.hit_context(check_id, serial, make), &outcome);
    let event = audit.event(serial, make, Ok(&outcome), detail);
    let recorded = audit.log.checks(vec![event], ids, hits).await?;
    let hit_ids: HashMap<FirearmId, i64> = recorded
        .hits
        .into_iter()
        .map(|(_, firearm, hit)| (firearm, hit))
        .collect();
    let mut records: HashMap<FirearmId, Firearm> =
        recorded.records.into_iter().map(|f| (f.id, f)).collect();
    let mut found: Vec<FoundFirearm> = outcome
        .matches
        .iter()
        .filter_map(|m| {
            records
                .remove(&m.firearm_id)
                .map(|firearm| found(m, firearm, hit_ids.get(&m.firearm_id).copied()))
        })
        .collect();
    prefer_described(&mut found, reference, typed);
    Ok((outcome, found))
}

/// Among matches alike in confidence, kind, make and score, puts first those whose record's
/// model and calibre are the ones typed (as the reference table resolves both). The engine's
/// order stands otherwise: no model or calibre lifts a match above a better one.
fn prefer_described(found: &mut [FoundFirearm], reference: &ReferenceTable, typed: Typed<'_>) {
    if typed.model.is_none() && typed.calibre.is_none() {
        return;
    }
    let resolver = reference.resolver();
    let make = typed
        .make
        .and_then(|m| resolver.make(m).id().map(str::to_string));
    let model = typed
        .model
        .and_then(|m| resolver.model(make.as_deref(), m).id().map(str::to_string));
    let calibre = typed
        .calibre
        .and_then(|c| resolver.calibre(c).id().map(str::to_string));
    let agreement = |f: &FoundFirearm| {
        let canonical = &f.firearm.fields.canonical;
        u8::from(model.is_some() && canonical.model == model)
            + u8::from(calibre.is_some() && canonical.calibre == calibre)
    };
    let alike = |a: &FoundFirearm, b: &FoundFirearm| {
        a.confidence == b.confidence && a.kind == b.kind && a.make == b.make && a.score == b.score
    };
    let mut start = 0;
    while start < found.len() {
        let mut end = start + 1;
        while end < found.len() && alike(&found[start], &found[end]) {
            end += 1;
        }
        found[start..end].sort_by_key(|f| std::cmp::Reverse(agreement(f)));
        start = end;
    }
}

fn found(m: &Match, firearm: Firearm, hit_id: Option<i64>) -> FoundFirearm {
    FoundFirearm {
        firearm,
        confidence: m.confidence,
        score: m.score,
        kind: m.kind,
        make: m.make,
        differences: m.differences.clone(),
        hit_id,
    }
}

/// Advice for the officer when more records are as close as the best than a check shows.
pub fn advice(outcome: &CheckOutcome, make_given: bool) -> Option<String> {
    (outcome.equally_close > MAX_MATCHES).then(|| {
        let more = if make_given {
            "more characters"
        } else {
            "the make or more characters"
        };
        format!(
            "{} records are this close to what was typed; give {more} to narrow it down",
            outcome.equally_close
        )
    })
}

/// Why a check or a batch could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The query cannot be searched.
    #[error("{0}")]
    Query(#[from] QueryError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The batch file has no serial_number column or cannot be read.
    #[error("{0}")]
    Input(String),
}

/// One match in a batch answer.
#[derive(Debug, Clone, Serialize)]
pub struct BatchMatch {
    /// The hit this match made, if it made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hit_id: Option<i64>,
    /// The recording country's reference.
    pub record_id: String,
    /// The recording country.
    pub recording_country: String,
    /// The serial as recorded.
    pub serial_number: String,
    /// The make as recorded.
    pub make: String,
    /// exact, strong or possible.
    pub confidence: armstrace_matcher::Confidence,
    /// 0 to 1, higher is closer.
    pub score: f32,
    /// Why it matched, in words.
    pub differences: Vec<String>,
}

/// The answer for one batch row.
#[derive(Debug, Clone, Serialize)]
pub struct BatchLine {
    /// Every column of the input row, as given.
    pub input: serde_json::Map<String, serde_json::Value>,
    /// The matches, best first, at most ten.
    pub matches: Vec<BatchMatch>,
    /// Why the row could not be checked, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

struct BatchRow {
    input: serde_json::Map<String, serde_json::Value>,
    serial: String,
    make: Option<String>,
}

/// Checks every row of a CSV (a `serial_number` column, optional `make`, any other columns
/// carried through) and sends one answer per row, in input order, to `out`. The header is
/// checked before anything is sent: an error then means nothing was.
pub async fn check_batch<R: Read + Send + 'static>(
    index: Arc<CheckIndex>,
    reference: ReferenceTable,
    audit: CheckAudit,
    reader: R,
    out: mpsc::Sender<BatchLine>,
) -> Result<u64, CheckError> {
    let batch_id = new_check_id();
    let (rows_in, mut rows) = mpsc::channel::<Result<Vec<BatchRow>, CheckError>>(2);
    let parser = tokio::task::spawn_blocking(move || parse_rows(reader, rows_in));
    let mut checked = 0_u64;
    while let Some(chunk) = rows.recv().await {
        let chunk = chunk?;
        audit
            .log
            .batch_running(std::time::Duration::from_millis(250));
        let index = index.clone();
        let reference = reference.clone();
        let (chunk, outcomes) = tokio::task::spawn_blocking(move || {
            let outcomes: Vec<Result<CheckOutcome, QueryError>> = chunk
                .par_iter()
                .map(|row| {
                    let make = row.make.as_deref();
                    let corrected = make.and_then(|m| reference.check_make(&index, m));
                    index.check(&CheckQuery {
                        serial: &row.serial,
                        make: corrected.as_deref().or(make),
                        limit: MAX_MATCHES,
                    })
                })
                .collect();
            (chunk, outcomes)
        })
        .await
        .map_err(|e| CheckError::Input(format!("a batch worker failed: {e}")))?;
        let ids: Vec<FirearmId> = outcomes
            .iter()
            .flatten()
            .flat_map(|o| o.matches.iter().map(|m| m.firearm_id))
            .collect();
        // Every row's check, and the hits it makes, are in the trail before its answer goes
        // out.
        let first_row = checked + 1;
        let row_id = |i: usize| format!("{batch_id}/{}", first_row + i as u64);
        let mut hits = Vec::new();
        let events = chunk
            .iter()
            .zip(&outcomes)
            .enumerate()
            .map(|(i, (row, outcome))| {
                if let Ok(outcome) = outcome {
                    let context = audit.hit_context(&row_id(i), &row.serial, row.make.as_deref());
                    hits.extend(audit.hits(&context, outcome));
                }
                let mut detail = serde_json::Map::new();
                detail.insert("batch".into(), batch_id.clone().into());
                detail.insert("row".into(), (checked + i as u64 + 1).into());
                audit.event(&row.serial, row.make.as_deref(), outcome.as_ref(), detail)
            })
            .collect();
        let recorded = audit.log.checks(events, ids, hits).await?;
        let records: HashMap<FirearmId, Firearm> =
            recorded.records.into_iter().map(|f| (f.id, f)).collect();
        let hit_ids: HashMap<(String, FirearmId), i64> = recorded
            .hits
            .into_iter()
            .map(|(check, firearm, hit)| ((check, firearm), hit))
            .collect();
        for (i, (row, outcome)) in chunk.into_iter().zip(outcomes).enumerate() {
            let check = row_id(i);
            let line = match outcome {
                Ok(outcome) => BatchLine {
                    input: row.input,
                    matches: outcome
                        .matches
                        .iter()
                        .filter_map(|m| {
                            let hit = hit_ids.get(&(check.clone(), m.firearm_id)).copied();
                            records.get(&m.firearm_id).map(|f| batch_match(m, f, hit))
                        })
                        .collect(),
                    error: None,
                },
                Err(error) => BatchLine {
                    input: row.input,
                    matches: Vec::new(),
                    error: Some(error.to_string()),
                },
            };
            checked += 1;
            if out.send(line).await.is_err() {
                return Ok(checked);
            }
        }
    }
    let _ = parser.await;
    Ok(checked)
}

/// A new random identifier of a check or a batch (128 bits, hex).
pub fn new_check_id() -> String {
    use rand::RngCore;
    let mut bytes = [0_u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn batch_match(m: &Match, firearm: &Firearm, hit_id: Option<i64>) -> BatchMatch {
    BatchMatch {
        hit_id,
        record_id: firearm.fields.record_id.to_string(),
        recording_country: firearm.fields.recording_country.to_string(),
        serial_number: firearm.fields.serial_number.to_string(),
        make: firearm.fields.make.clone(),
        confidence: m.confidence,
        score: m.score,
        differences: m
            .differences
            .iter()
            .map(|d| d.description.clone())
            .collect(),
    }
}

fn parse_rows<R: Read>(reader: R, out: mpsc::Sender<Result<Vec<BatchRow>, CheckError>>) {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let header: Vec<String> = match csv.headers() {
        Ok(h) => h
            .iter()
            .map(|n| n.trim_start_matches('\u{feff}').to_string())
            .collect(),
        Err(e) => {
            let _ = out.blocking_send(Err(CheckError::Input(format!(
                "the header cannot be read: {e}"
            ))));
            return;
        }
    };
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case(name))
    };
    let Some(serial_at) = column("serial_number") else {
        let _ = out.blocking_send(Err(CheckError::Input(
            "the header has no serial_number column; a batch needs serial_number and may have make, model, calibre and any other columns".into(),
        )));
        return;
    };
    let make_at = column("make");
    let mut chunk = Vec::with_capacity(BATCH_CHUNK);
    for record in csv.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let _ = out.blocking_send(Err(CheckError::Input(format!(
                    "the file cannot be read further: {e}"
                ))));
                return;
            }
        };
        let input = header
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.clone(),
                    serde_json::Value::from(record.get(i).unwrap_or_default()),
                )
            })
            .collect();
        chunk.push(BatchRow {
            input,
            serial: record.get(serial_at).unwrap_or_default().to_string(),
            make: make_at
                .and_then(|i| record.get(i))
                .map(str::to_string)
                .filter(|m| !m.trim().is_empty()),
        });
        if chunk.len() == BATCH_CHUNK && out.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
        {
            return;
        }
    }
    if !chunk.is_empty() {
        let _ = out.blocking_send(Ok(chunk));
    }
}

/// Columns a CSV batch answer adds after the input's own.
pub const MATCH_COLUMNS: [&str; 10] = [
    "match_rank",
    "match_record_id",
    "match_recording_country",
    "match_serial_number",
    "match_make",
    "match_confidence",
    "match_score",
    "match_differences",
    "hit_id",
    "error",
];

/// A batch answer written as CSV: the input's columns, then one row per match (or one row
/// with the error, or empty match columns, when there is none).
pub struct BatchCsv<W: std::io::Write> {
    writer: csv::Writer<W>,
    started: bool,
}

impl<W: std::io::Write> BatchCsv<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> Self {
        BatchCsv {
            writer: csv::Writer::from_writer(out),
            started: false,
        }
    }

    /// Writes one input row's answer (the header before the first).
    pub fn write(&mut self, line: &BatchLine) -> Result<(), csv::Error> {
        if !self.started {
            self.started = true;
            let mut header: Vec<String> = line.input.keys().cloned().collect();
            header.extend(MATCH_COLUMNS.iter().map(|c| c.to_string()));
            self.writer.write_record(&header)?;
        }
        let input: Vec<String> = line
            .input
            .values()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect();
        if line.matches.is_empty() {
            let mut row = input.clone();
            row.extend(std::iter::repeat_n(String::new(), MATCH_COLUMNS.len() - 1));
            row.push(line.error.clone().unwrap_or_default());
            self.writer.write_record(&row)?;
        }
        for (rank, m) in line.matches.iter().enumerate() {
            let mut row = input.clone();
            row.extend([
                (rank + 1).to_string(),
                m.record_id.clone(),
                m.recording_country.clone(),
                m.serial_number.clone(),
                m.make.clone(),
                format!("{:?}", m.confidence).to_lowercase(),
                format!("{:.2}", m.score),
                m.differences.join("; "),
                m.hit_id.map(|h| h.to_string()).unwrap_or_default(),
                String::new(),
            ]);
            self.writer.write_record(&row)?;
        }
        Ok(())
    }

    /// Pushes what is buffered to the output.
    pub fn flush(&mut self) -> Result<(), csv::Error> {
        self.writer.flush().map_err(csv::Error::from)
    }

    /// Flushes and gives the output back.
    pub fn finish(self) -> std::io::Result<W> {
        self.writer
            .into_inner()
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
