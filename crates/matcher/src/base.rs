//! The index built in one go from every record: compact, immutable, read without locks. Each
//! record's folded forms and their deletion variants are hashed into one bucketed table;
//! two sorted orders (by form, and by reversed form) serve serials with unreadable parts.
//! A record changed or deleted later is marked dead here and lives on in the delta.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::makes::MakeId;
use crate::normalise::{for_each_deletion_variant, hash_bytes, indexed_deletions};
use crate::record::{KeyArena, StoredKeys};

/// The immutable part of the index.
pub(crate) struct Base {
    /// What a check needs of each slot, side by side so that one memory read brings it all.
    pub slots: Vec<SlotFacts>,
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
    /// Slots sorted by their first folded form without its first one, and first two, bytes:
    /// for serials whose first characters were filed off.
    pub by_skip: [Vec<u32>; 2],
    pub by_suffix: Vec<u32>,
}

/// The id, make and plain-form hash of one slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SlotFacts {
    pub id: i64,
    pub make: MakeId,
    pub plain_hash: u32,
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
        // temporary copy of every posting. Both passes share the slots out among all cores.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .max(1);
        let sample = records.len().min(10_000);
        let mut hashes = Vec::with_capacity(128);
        let sampled: usize = (0..sample)
            .map(|slot| {
                indexed_hashes(keys.get(slot), &mut hashes);
                hashes.len()
            })
            .sum();
        let estimate = (sampled * records.len()).checked_div(sample).unwrap_or(0);
        let buckets = (estimate / 2).max(1).next_power_of_two();
        let bucket_mask = buckets as u64 - 1;
        let counts: Vec<AtomicU32> = (0..=buckets).map(|_| AtomicU32::new(0)).collect();
        let count = records.len();
        let share = count.div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for first in (0..count).step_by(share) {
                let (keys, counts) = (&keys, &counts);
                scope.spawn(move || {
                    let mut hashes = Vec::with_capacity(128);
                    for slot in first..(first + share).min(count) {
                        indexed_hashes(keys.get(slot), &mut hashes);
                        for h in &hashes {
                            counts[(h & bucket_mask) as usize + 1].fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let mut bucket_starts: Vec<u32> = counts.into_iter().map(AtomicU32::into_inner).collect();
        for i in 1..bucket_starts.len() {
            bucket_starts[i] += bucket_starts[i - 1];
        }
        let total = bucket_starts[buckets] as usize;
        let fill: Vec<AtomicU32> = bucket_starts.iter().map(|s| AtomicU32::new(*s)).collect();
        let postings: Vec<AtomicU32> = (0..total).map(|_| AtomicU32::new(0)).collect();
        std::thread::scope(|scope| {
            for first in (0..count).step_by(share) {
                let (keys, fill, postings) = (&keys, &fill, &postings);
                scope.spawn(move || {
                    let mut hashes = Vec::with_capacity(128);
                    for slot in first..(first + share).min(count) {
                        indexed_hashes(keys.get(slot), &mut hashes);
                        for h in &hashes {
                            let at =
                                fill[(h & bucket_mask) as usize].fetch_add(1, Ordering::Relaxed);
                            postings[at as usize].store(slot as u32, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let postings: Vec<u32> = postings.into_iter().map(AtomicU32::into_inner).collect();
        // The four sorted orders are independent: sort them side by side.
        let primary = |slot: u32| keys.primary(slot as usize);
        let tail = |slot: u32, skip: usize| primary(slot).get(skip..).unwrap_or_default();
        let (by_prefix, by_suffix, skip_one, skip_two) = std::thread::scope(|scope| {
            let by_prefix = scope.spawn(|| sorted_by_form(count, |slot| primary(slot).iter()));
            let by_suffix =
                scope.spawn(|| sorted_by_form(count, |slot| primary(slot).iter().rev()));
            let skip_one = scope.spawn(|| sorted_by_form(count, |slot| tail(slot, 1).iter()));
            let skip_two = sorted_by_form(count, |slot| tail(slot, 2).iter());
            let join = |handle: std::thread::ScopedJoinHandle<'_, Vec<u32>>| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            };
            (join(by_prefix), join(by_suffix), join(skip_one), skip_two)
        });
        let by_skip = [skip_one, skip_two];
        let slots: Vec<SlotFacts> = records
            .iter()
            .map(|r| SlotFacts {
                id: r.id,
                make: r.make,
                plain_hash: r.plain_hash,
            })
            .collect();
        let by_id = (!slots.is_sorted_by_key(|s| s.id)).then(|| {
            let mut order: Vec<u32> = (0..slots.len() as u32).collect();
            order.sort_unstable_by_key(|slot| slots[*slot as usize].id);
            order
        });
        Base {
            dead: (0..slots.len().div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            slots,
            keys,
            by_id,
            bucket_mask,
            bucket_starts,
            postings,
            by_prefix,
            by_skip,
            by_suffix,
        }
    }

    /// Number of slots, dead or alive.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The slot holding `id`, if any.
    pub fn slot_of(&self, id: i64) -> Option<u32> {
        match &self.by_id {
            None => self
                .slots
                .binary_search_by_key(&id, |s| s.id)
                .ok()
                .map(|s| s as u32),
            Some(order) => order
                .binary_search_by_key(&id, |slot| self.slots[*slot as usize].id)
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
        self.slots.capacity() * std::mem::size_of::<SlotFacts>()
            + self.keys.memory_bytes()
            + self.by_id.as_ref().map_or(0, |o| o.capacity() * 4)
            + self.dead.capacity() * 8
            + self.bucket_starts.capacity() * 4
            + self.postings.capacity() * 4
            + self.by_prefix.capacity() * 4
            + self.by_skip.iter().map(|o| o.capacity() * 4).sum::<usize>()
            + self.by_suffix.capacity() * 4
    }
}

/// Slots `0..count` in the order of the byte sequence `form` gives each. The first eight bytes
/// of each are packed into a number kept beside the slot, so that most comparisons read no
/// further than the array being sorted; only sequences that agree on those bytes are read
/// whole.
fn sorted_by_form<'k, I>(count: usize, form: impl Fn(u32) -> I + Sync) -> Vec<u32>
where
    I: Iterator<Item = &'k u8> + Clone,
{
    // Folded forms hold no zero byte: a shorter form padded with zeros sorts before any longer
    // form it begins, as it should.
    let packed = |slot: u32| {
        form(slot)
            .take(8)
            .enumerate()
            .fold(0_u64, |key, (i, byte)| {
                key | u64::from(*byte) << (56 - 8 * i)
            })
    };
    let mut keyed: Vec<(u64, u32)> = (0..count as u32).map(|slot| (packed(slot), slot)).collect();
    keyed.sort_unstable_by(|(key_a, a), (key_b, b)| {
        key_a
            .cmp(key_b)
            .then_with(|| form(*a).skip(8).cmp(form(*b).skip(8)))
    });
    keyed.into_iter().map(|(_, slot)| slot).collect()
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
