//! The check engine: given a serial number as an officer typed it (and perhaps a make), find the
//! recorded firearms it may be, rank them, and say why each matched. In memory, no I/O.
//!
//! normalise -> candidates -> verify -> rank -> explain:
//! - [`normalise`] turns a serial into its folded forms (scripts, confusables, leading zeros);
//! - the index files every record's forms and their deletion variants, so that the candidates
//!   for a query are a handful of hash lookups away, whatever the typing error;
//! - each candidate is verified by edit distance (or pattern) on the folded forms;
//! - matches are ranked by confidence, make, kind and score, and [`explain`]ed in words.

mod base;
mod check;
mod delta;
pub mod distance;
pub mod explain;
pub mod makes;
pub mod normalise;
pub mod pattern;
mod record;

use std::sync::Mutex;

use serde::Serialize;

pub use check::{CheckOutcome, CheckQuery, QueryError};
pub use explain::{Difference, DifferenceKind};

use base::{Base, Staged, indexed_hashes};
use delta::Delta;
use makes::MakeTable;
use normalise::{SerialKeys, hash_bytes, plain_string};
use record::KeyArena;

/// How sure a match is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The same serial once case and separators are set aside, and a compatible make.
    Exact,
    /// The same serial once scripts, look-alikes and leading zeros are set aside, or one typing
    /// error away; a compatible make.
    Strong,
    /// Two typing errors, unreadable characters, letters between digits, or a different make.
    Possible,
}

/// How a record's serial relates to the typed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// Equal after case and separators.
    Exact,
    /// Equal after scripts, look-alikes and leading zeros.
    Folded,
    /// One substitution, insertion, deletion or swap.
    OneEdit,
    /// Equal once letters between digits are ignored.
    EmbeddedLetters,
    /// Matches a serial with unreadable characters.
    Pattern,
    /// Two typing errors.
    TwoEdits,
}

/// How the record's make relates to the make the officer gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MakeRelation {
    /// The same manufacturer (any known spelling).
    Same,
    /// No make was given.
    NotGiven,
    /// Another manufacturer.
    Different,
}

/// One recorded firearm a check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    /// The record's id in the store.
    pub firearm_id: i64,
    /// How sure the match is.
    pub confidence: Confidence,
    /// 0 to 1: higher is closer.
    pub score: f32,
    /// How the serials relate.
    pub kind: MatchKind,
    /// How the makes relate.
    pub make: MakeRelation,
    /// The serial as recorded.
    pub recorded_serial: String,
    /// Why it matched, in words.
    pub differences: Vec<Difference>,
}

/// A record as the index needs it.
#[derive(Debug, Clone, Copy)]
pub struct IndexRecord<'a> {
    /// The record's id in the store.
    pub firearm_id: i64,
    /// The serial as recorded.
    pub serial: &'a str,
    /// The make as recorded.
    pub make: &'a str,
}

/// The searchable index of every live record. Checks run from any number of threads and never
/// wait for writes; writes ([`CheckIndex::upsert`], [`CheckIndex::remove`]) are seen by the next
/// check.
pub struct CheckIndex {
    makes: MakeTable,
    base: Base,
    delta: Delta,
    /// Writers take turns so that two changes of one record cannot interleave; checks never take it.
    writing: Mutex<()>,
}

fn plain_hash(serial: &str) -> u32 {
    hash_bytes(plain_string(serial).as_bytes()) as u32
}

impl CheckIndex {
    /// An empty index.
    pub fn new() -> Self {
        CheckIndex {
            makes: MakeTable::new(),
            base: Base::empty(),
            delta: Delta::default(),
            writing: Mutex::new(()),
        }
    }

    /// Builds the index from every live record, best in ascending id order.
    pub fn build<'a>(records: impl IntoIterator<Item = IndexRecord<'a>>) -> Self {
        let mut builder = IndexBuilder::default();
        for record in records {
            builder.push(record);
        }
        builder.finish()
    }

    /// Adds a record, or replaces the indexed version of it.
    pub fn upsert(&self, record: IndexRecord<'_>) {
        let _turn = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        let keys = SerialKeys::of(record.serial);
        let mut arena = KeyArena::default();
        arena.push(record.serial, &keys);
        let mut hashes = Vec::new();
        indexed_hashes(arena.get(0), &mut hashes);
        // The new version is findable before the old one dies: a check in between sees one
        // of them, never neither.
        let replaced = self.delta.push(
            record.firearm_id,
            self.makes.intern(record.make),
            plain_hash(record.serial),
            record.serial,
            &keys,
            &hashes,
        );
        match replaced {
            Some(slot) => self.delta.entries[slot as usize].kill(),
            None => {
                if let Some(slot) = self.base.slot_of(record.firearm_id) {
                    self.base.kill(slot);
                }
            }
        }
    }

    /// Whether a check's make `typed` names a make the index knows (by any of its names).
    pub fn knows_make(&self, typed: &str) -> bool {
        self.makes.find(typed).is_some()
    }

    /// Makes the names of one manufacturer (the canonical first) one make for the checks that
    /// follow, as when the reference table gains an alias. A name already known keeps its make.
    pub fn learn_make<'a>(&self, names: impl IntoIterator<Item = &'a str>) {
        self.makes.learn_group(names);
    }

    /// Stops matching a record (deleted).
    pub fn remove(&self, firearm_id: i64) {
        let _turn = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = self.delta.forget(firearm_id) {
            self.delta.entries[slot as usize].kill();
        }
        if let Some(slot) = self.base.slot_of(firearm_id) {
            self.base.kill(slot);
        }
    }

    /// Records indexed, counting replaced versions still held.
    pub fn slots(&self) -> usize {
        self.base.len() + self.delta.len()
    }

    /// Approximate bytes of memory the built index holds (the part built in one go).
    pub fn memory_bytes(&self) -> usize {
        self.base.memory_bytes()
    }
}

/// Collects records one at a time (from a stream) and then builds the index, folding the
/// serials on every core.
#[derive(Default)]
pub struct IndexBuilder {
    makes: MakeTable,
    /// Makes seen so far by their spelling: most records repeat a spelling already interned.
    make_ids: std::collections::HashMap<String, makes::MakeId>,
    ids: Vec<i64>,
    record_makes: Vec<makes::MakeId>,
    serials: Vec<u8>,
    serial_ends: Vec<usize>,
}

impl IndexBuilder {
    /// A builder whose makes are `groups` (the names of one manufacturer each, the canonical
    /// first) instead of the built-in alias list.
    pub fn with_makes<'a>(
        groups: impl IntoIterator<Item = impl IntoIterator<Item = &'a str>>,
    ) -> Self {
        IndexBuilder {
            makes: MakeTable::with_groups(groups),
            ..IndexBuilder::default()
        }
    }

    /// Adds one live record.
    pub fn push(&mut self, record: IndexRecord<'_>) {
        let make = match self.make_ids.get(record.make) {
            Some(id) => *id,
            None => {
                let id = self.makes.intern(record.make);
                self.make_ids.insert(record.make.to_string(), id);
                id
            }
        };
        self.ids.push(record.firearm_id);
        self.record_makes.push(make);
        self.serials.extend_from_slice(record.serial.as_bytes());
        self.serial_ends.push(self.serials.len());
    }

    /// Records added so far.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn serial(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.serial_ends[i - 1] };
        std::str::from_utf8(&self.serials[start..self.serial_ends[i]]).unwrap_or_default()
    }

    /// The index of every record added.
    pub fn finish(self) -> CheckIndex {
        let count = self.ids.len();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .max(1);
        let share = count.div_ceil(threads).max(1);
        // Each core folds a share of the serials into an arena of its own; the arenas are then
        // joined in order, so that slot i is still record i.
        let parts: Vec<(KeyArena, Vec<u32>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..count)
                .step_by(share)
                .map(|first| {
                    let builder = &self;
                    scope.spawn(move || {
                        let mut arena = KeyArena::default();
                        let mut hashes = Vec::with_capacity(share);
                        for i in first..(first + share).min(count) {
                            let serial = builder.serial(i);
                            arena.push(serial, &SerialKeys::of(serial));
                            hashes.push(plain_hash(serial));
                        }
                        (arena, hashes)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let mut arena = KeyArena::default();
        let mut plain_hashes = Vec::with_capacity(count);
        for (part, hashes) in parts {
            arena.append(part);
            plain_hashes.extend(hashes);
        }
        arena.shrink_to_fit();
        let staged = (0..count)
            .map(|i| Staged {
                id: self.ids[i],
                make: self.record_makes[i],
                plain_hash: plain_hashes[i],
            })
            .collect();
        CheckIndex {
            base: Base::build(staged, arena),
            makes: self.makes,
            delta: Delta::default(),
            writing: Mutex::new(()),
        }
    }
}

impl Default for CheckIndex {
    fn default() -> Self {
        Self::new()
    }
}
