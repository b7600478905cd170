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

/// Collects records one at a time (from a stream) and then builds the index.
#[derive(Default)]
pub struct IndexBuilder {
    makes: MakeTable,
    staged: Vec<Staged>,
    arena: KeyArena,
}

impl IndexBuilder {
    /// Adds one live record.
    pub fn push(&mut self, record: IndexRecord<'_>) {
        let keys = SerialKeys::of(record.serial);
        self.arena.push(record.serial, &keys);
        self.staged.push(Staged {
            id: record.firearm_id,
            make: self.makes.intern(record.make),
            plain_hash: plain_hash(record.serial),
        });
    }

    /// Records added so far.
    pub fn len(&self) -> usize {
        self.staged.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.staged.is_empty()
    }

    /// The index of every record added.
    pub fn finish(self) -> CheckIndex {
        CheckIndex {
            base: Base::build(self.staged, self.arena),
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
