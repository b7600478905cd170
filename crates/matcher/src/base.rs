//! The index built in one go from every record: compact, immutable, read without locks. Each
//! record's folded forms and their deletion variants are hashed into one bucketed table;
//! two sorted orders (by form, and by reversed form) serve serials with unreadable parts.
//! A record changed or deleted later is marked dead here and lives on in the delta.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::makes::MakeId;
use crate::normalise::{for_each_deletion_variant, hash_bytes, indexed_deletions};
use crate::record::{KeyArena, StoredKeys};

/// The immutable part of the index.
pub(crate) struct Base {
    pub ids: Vec<i64>,
    pub makes: Vec<MakeId>,
    pub plain_hashes: Vec<u32>,
    pub keys: KeyArena,
    /// Slot order by firearm id, when the records did not arrive in id order.
    by_id: Option<Vec<u32>>,
    dead: Vec<AtomicU64>,
    bucket_mask: u64,
    bucket_starts: Vec<u32>,
    /// Slots grouped by bucket. No fingerprint is kept: a slot that shares a bucket without
    /// sharing a variant is a false candidate that verification drops, cheaper than 4 bytes a
    /// posting.
    postings: Vec<u32>,
    /// Slots sorted by their first folded form, and by that form read backwards.
    pub by_prefix: Vec<u32>,
    pub by_suffix: Vec<u32>,
}

/// One record handed to the index.
pub(crate) struct Staged {
    pub id: i64,
    pub make: MakeId,
    pub plain_hash: u32,
}

impl Base {
    /// An empty index.
    pub fn empty() -> Self {
        Base::build(Vec::new(), KeyArena::default())
    }

    /// Builds the table from records and their keys (slot `i` is `records[i]`).
    pub fn build(records: Vec<Staged>, keys: KeyArena) -> Self {
        // Pass one counts the variants per bucket, pass two places them: no sort, and no
        // temporary copy of every posting.
        let mut hashes = Vec::with_capacity(128);
        let mut total = 0_usize;
        for slot in 0..records.len() {
            indexed_hashes(keys.get(slot), &mut hashes);
            total += hashes.len();
        }
        let buckets = (total / 2).max(1).next_power_of_two();
        let bucket_mask = buckets as u64 - 1;
        let mut counts = vec![0_u32; buckets + 1];
        for slot in 0..records.len() {
            indexed_hashes(keys.get(slot), &mut hashes);
            for h in &hashes {
                counts[(h & bucket_mask) as usize + 1] += 1;
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let bucket_starts = counts;
        let mut fill = bucket_starts.clone();
        let mut postings = vec![0_u32; total];
        for slot in 0..records.len() {
            indexed_hashes(keys.get(slot), &mut hashes);
            for h in &hashes {
                let bucket = (h & bucket_mask) as usize;
                postings[fill[bucket] as usize] = slot as u32;
                fill[bucket] += 1;
            }
        }
        let mut by_prefix: Vec<u32> = (0..records.len() as u32).collect();
        by_prefix.sort_unstable_by(|a, b| keys.primary(*a as usize).cmp(keys.primary(*b as usize)));
        let mut by_suffix = by_prefix.clone();
        by_suffix.sort_unstable_by(|a, b| {
            keys.primary(*a as usize)
                .iter()
                .rev()
                .cmp(keys.primary(*b as usize).iter().rev())
        });
        let ids: Vec<i64> = records.iter().map(|r| r.id).collect();
        let by_id = (!ids.is_sorted()).then(|| {
            let mut order: Vec<u32> = (0..ids.len() as u32).collect();
            order.sort_unstable_by_key(|slot| ids[*slot as usize]);
            order
        });
        Base {
            makes: records.iter().map(|r| r.make).collect(),
            plain_hashes: records.iter().map(|r| r.plain_hash).collect(),
            dead: (0..records.len().div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            ids,
            keys,
            by_id,
            bucket_mask,
            bucket_starts,
            postings,
            by_prefix,
            by_suffix,
        }
    }

    /// Number of slots, dead or alive.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The slot holding `id`, if any.
    pub fn slot_of(&self, id: i64) -> Option<u32> {
        match &self.by_id {
            None => self.ids.binary_search(&id).ok().map(|s| s as u32),
            Some(order) => order
                .binary_search_by_key(&id, |slot| self.ids[*slot as usize])
                .ok()
                .map(|i| order[i]),
        }
    }

    /// Marks a slot dead: its record was changed or deleted.
    pub fn kill(&self, slot: u32) {
        self.dead[slot as usize / 64].fetch_or(1 << (slot % 64), Ordering::Release);
    }

    /// Whether a slot's record still stands as indexed.
    pub fn is_alive(&self, slot: u32) -> bool {
        self.dead[slot as usize / 64].load(Ordering::Acquire) & (1 << (slot % 64)) == 0
    }

    /// Adds the slots filed under `hash` to `out`.
    pub fn lookup(&self, hash: u64, out: &mut Vec<u64>) {
        let bucket = (hash & self.bucket_mask) as usize;
        let range = self.bucket_starts[bucket] as usize..self.bucket_starts[bucket + 1] as usize;
        out.extend(self.postings[range].iter().map(|slot| u64::from(*slot)));
    }

    /// Bytes of memory the index holds.
    pub fn memory_bytes(&self) -> usize {
        self.ids.capacity() * 8
            + self.makes.capacity() * 4
            + self.plain_hashes.capacity() * 4
            + self.keys.memory_bytes()
            + self.by_id.as_ref().map_or(0, |o| o.capacity() * 4)
            + self.dead.capacity() * 8
            + self.bucket_starts.capacity() * 4
            + self.postings.capacity() * 4
            + self.by_prefix.capacity() * 4
            + self.by_suffix.capacity() * 4
    }
}

/// Every hash a record is filed under, once each, into `out`: each folded form with its
/// deletion variants, and its stripped form as it is.
pub(crate) fn indexed_hashes(keys: StoredKeys<'_>, out: &mut Vec<u64>) {
    out.clear();
    for form in keys.folded() {
        let deletions = indexed_deletions(form.len() + keys.zeros());
        for_each_deletion_variant(form, deletions, |h| out.push(h));
    }
    if let Some(stripped) = keys.stripped() {
        out.push(hash_bytes(stripped));
    }
    out.sort_unstable();
    out.dedup();
}
