//! Records created or changed since the index was built. Writers append; readers never wait:
//! entries live in an append-only vector and their hashes in a lock-free map.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::makes::MakeId;
use crate::normalise::SerialKeys;
use crate::record::KeyArena;

/// One record version added after the build.
pub(crate) struct DeltaEntry {
    pub id: i64,
    pub make: MakeId,
    pub plain_hash: u32,
    /// The serial and forms, packed like the base's (an arena of one).
    pub keys: KeyArena,
    dead: AtomicBool,
}

impl DeltaEntry {
    /// Whether this version still stands.
    pub fn is_alive(&self) -> bool {
        !self.dead.load(Ordering::Acquire)
    }

    /// Marks this version replaced or deleted.
    pub fn kill(&self) {
        self.dead.store(true, Ordering::Release);
    }
}

/// The records added since the build.
#[derive(Default)]
pub(crate) struct Delta {
    pub entries: boxcar::Vec<DeltaEntry>,
    postings: papaya::HashMap<u64, Vec<u32>>,
    latest: papaya::HashMap<i64, u32>,
}

impl Delta {
    /// Appends a record version and files it under `hashes`; returns the slot it replaced.
    pub fn push(
        &self,
        id: i64,
        make: MakeId,
        plain_hash: u32,
        serial: &str,
        keys: &SerialKeys,
        hashes: &[u64],
    ) -> Option<u32> {
        let mut arena = KeyArena::default();
        arena.push(serial, keys);
        let slot = self.entries.push(DeltaEntry {
            id,
            make,
            plain_hash,
            keys: arena,
            dead: AtomicBool::new(false),
        }) as u32;
        let postings = self.postings.pin();
        for &hash in hashes {
            postings.update_or_insert_with(
                hash,
                |slots| {
                    let mut slots = slots.clone();
                    slots.push(slot);
                    slots
                },
                || vec![slot],
            );
        }
        self.latest.pin().insert(id, slot).copied()
    }

    /// Forgets `id`'s latest version (after a deletion).
    pub fn forget(&self, id: i64) -> Option<u32> {
        self.latest.pin().remove(&id).copied()
    }

    /// Adds the slots filed under `hash` to `out`.
    pub fn lookup(&self, hash: u64, out: &mut Vec<u64>) {
        if let Some(slots) = self.postings.pin().get(&hash) {
            out.extend(slots.iter().map(|s| u64::from(*s)));
        }
    }

    /// Number of versions appended (live or not).
    pub fn len(&self) -> usize {
        self.entries.count()
    }
}
