//! Check-benchmark queries: generated records' serials corrupted the ways real checks are typed, plus negatives.

use std::fmt;
use std::sync::OnceLock;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::catalogue::catalogue;
use crate::corrupt::{applies, below, chance, corrupt};
use crate::generator::Generator;
use crate::record::SyntheticRecord;
use crate::weighted::WeightedTable;

/// Share of non-negative queries that name the record's make, in percent.
const MAKE_GIVEN: u32 = 60;
/// Share of given makes typed in capitals, in percent.
const MAKE_IN_CAPITALS: u32 = 10;
/// Share of negatives that name a make, in percent.
const NEGATIVE_MAKE_GIVEN: u32 = 50;
/// Mixed into the query seed so corruption draws are independent of which records were sampled.
const CORRUPTION_STREAM: u64 = 0x6a09_e667_f3bc_c908;

/// The kinds of corruption a check must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueryKind {
    /// Case, separators (space, dash, dot, slash) and leading zeros changed.
    Format,
    /// One or two characters read as a look-alike (O↔0, I↔1, S↔5, B↔8, …).
    Confusable,
    /// Cyrillic letters typed in Latin (look-alike or transliterated), or Latin look-alikes typed in Cyrillic.
    Script,
    /// One substitution, insertion or deletion.
    OneEdit,
    /// Two adjacent, different characters swapped.
    Transposition,
    /// Two edits at different places (serials with at least 8 readable characters).
    TwoEdits,
    /// Obliterated characters written as `?` and/or a leading or trailing `*`.
    Partial,
    /// A Latin letter between two digits.
    EmbeddedLetter,
    /// A realistic serial that is in no record.
    Negative,
}

impl QueryKind {
    /// Every kind, in report order; the first eight are made from records.
    pub const ALL: [QueryKind; 9] = [
        QueryKind::Format,
        QueryKind::Confusable,
        QueryKind::Script,
        QueryKind::OneEdit,
        QueryKind::Transposition,
        QueryKind::TwoEdits,
        QueryKind::Partial,
        QueryKind::EmbeddedLetter,
        QueryKind::Negative,
    ];

    /// The kind's snake_case name, as in benchmark reports.
    pub fn as_str(&self) -> &'static str {
        match self {
            QueryKind::Format => "format",
            QueryKind::Confusable => "confusable",
            QueryKind::Script => "script",
            QueryKind::OneEdit => "one_edit",
            QueryKind::Transposition => "transposition",
            QueryKind::TwoEdits => "two_edits",
            QueryKind::Partial => "partial",
            QueryKind::EmbeddedLetter => "embedded_letter",
            QueryKind::Negative => "negative",
        }
    }

    /// Whether [`corrupt`] can make a query of this kind from `serial` (always false for `Negative`).
    pub fn applies_to(&self, serial: &str) -> bool {
        applies(serial, *self)
    }
}

impl fmt::Display for QueryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One benchmark query: what the officer typed, the make given (if any) and the source record's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckQuery {
    /// How the serial was corrupted.
    pub kind: QueryKind,
    /// The serial as typed.
    pub serial: String,
    /// The make as typed, when the officer gave one.
    pub make: Option<String>,
    /// 0-based position in the generated stream of the record the query was made from; None for negatives.
    pub source: Option<usize>,
}

/// A fresh serial in the format of a random make and model (weighted like records); may match a record.
pub fn negative_candidate<R: Rng>(rng: &mut R) -> String {
    negative(rng).1
}

/// A make's name and a fresh serial in the format of one of its models.
fn negative<R: Rng>(rng: &mut R) -> (&'static str, String) {
    struct Formats {
        makes: WeightedTable,
        models: Vec<WeightedTable>,
    }
    static FORMATS: OnceLock<Formats> = OnceLock::new();
    let catalogue = catalogue();
    let formats = FORMATS.get_or_init(|| Formats {
        makes: WeightedTable::new(catalogue.makes.iter().map(|m| m.weight)),
        models: catalogue
            .makes
            .iter()
            .map(|make| WeightedTable::new(make.models.iter().map(|m| m.weight)))
            .collect(),
    });
    let make_index = formats.makes.pick(rng);
    let make = &catalogue.makes[make_index];
    let model = &make.models[formats.models[make_index].pick(rng)];
    let mut serial = String::with_capacity(16);
    model.serial_pattern.generate(rng, &mut serial);
    (make.name, serial)
}

/// Builds `count` queries from the first `records` records of `Generator::new(seed)`, fixed by `query_seed`.
///
/// About 10% (rounded) are negatives, which the caller must still filter for distance to the
/// records; the rest are spread evenly over the other eight kinds, each made from records drawn
/// uniformly among those the kind applies to. A kind that fits fewer records than its share reuses
/// them (with fresh corruptions); a kind that fits none hands its share to the other kinds (to
/// negatives when no kind fits any record, e.g. `records == 0`). The result is shuffled.
pub fn queries(records: usize, seed: u64, count: usize, query_seed: u64) -> Vec<CheckQuery> {
    let mut negatives = count / 10 + usize::from(count % 10 >= 5);
    let positives = count - negatives;
    let kinds = &QueryKind::ALL[..QueryKind::ALL.len() - 1];
    let mut samples: Vec<Reservoir> = kinds
        .iter()
        .enumerate()
        .map(|(i, &kind)| Reservoir {
            kind,
            target: positives / kinds.len() + usize::from(i < positives % kinds.len()),
            seen: 0,
            items: Vec::new(),
        })
        .collect();

    let mut picking = Pcg64::seed_from_u64(query_seed);
    if positives > 0 {
        for (index, record) in Generator::new(seed).take(records).enumerate() {
            for sample in &mut samples {
                if sample.target > 0 && applies(&record.serial_number, sample.kind) {
                    sample.offer(&mut picking, index, &record);
                }
            }
        }
    }

    let orphaned: usize = samples
        .iter_mut()
        .filter(|s| s.items.is_empty())
        .map(|s| std::mem::take(&mut s.target))
        .sum();
    let fed: Vec<usize> = (0..samples.len())
        .filter(|&i| !samples[i].items.is_empty())
        .collect();
    if fed.is_empty() {
        negatives += orphaned;
    } else {
        for extra in 0..orphaned {
            samples[fed[extra % fed.len()]].target += 1;
        }
    }

    let mut rng = Pcg64::seed_from_u64(query_seed ^ CORRUPTION_STREAM);
    let mut out = Vec::with_capacity(count);
    for sample in &samples {
        for slot in 0..sample.target {
            let source = &sample.items[slot % sample.items.len()];
            let serial = corrupt(&mut rng, &source.serial, sample.kind)
                .expect("records are only sampled for kinds that apply to them");
            let make = if chance(&mut rng, MAKE_GIVEN) {
                Some(if chance(&mut rng, MAKE_IN_CAPITALS) {
                    source.make.to_uppercase()
                } else {
                    source.make.clone()
                })
            } else {
                None
            };
            out.push(CheckQuery {
                kind: sample.kind,
                serial,
                make,
                source: Some(source.index),
            });
        }
    }
    for _ in 0..negatives {
        let (make, serial) = negative(&mut rng);
        let make = chance(&mut rng, NEGATIVE_MAKE_GIVEN).then(|| make.to_owned());
        out.push(CheckQuery {
            kind: QueryKind::Negative,
            serial,
            make,
            source: None,
        });
    }
    for i in (1..out.len()).rev() {
        out.swap(i, below(&mut rng, i + 1));
    }
    out
}

/// A record chosen as the source of queries.
#[derive(Debug)]
struct Sampled {
    index: usize,
    serial: String,
    make: String,
}

/// A uniform sample of `target` records a kind applies to, drawn in one pass (reservoir sampling).
#[derive(Debug)]
struct Reservoir {
    kind: QueryKind,
    target: usize,
    seen: u64,
    items: Vec<Sampled>,
}

impl Reservoir {
    fn offer<R: Rng>(&mut self, rng: &mut R, index: usize, record: &SyntheticRecord) {
        self.seen += 1;
        if self.items.len() < self.target {
            self.items.push(Sampled {
                index,
                serial: record.serial_number.clone(),
                make: record.make.clone(),
            });
            return;
        }
        // Keep the new record with probability target / seen, in place of a uniform one.
        let slot = rng.gen_range(0..self.seen);
        let kept = usize::try_from(slot)
            .ok()
            .and_then(|s| self.items.get_mut(s));
        if let Some(item) = kept {
            item.index = index;
            item.serial.clone_from(&record.serial_number);
            item.make.clone_from(&record.make);
        }
    }
}
