//! One check: the query's forms, the candidates the index files under them, verification of
//! each, ranking, and the explanation of the matches kept.

mod plan;

use crate::distance::Typed;
use crate::explain::{explain, explain_pattern};
use crate::makes::MakeId;
use crate::normalise::{
    SerialKeys, allowed_edits, for_each_deletion_variant, hash_bytes, query_deletions,
};
use crate::pattern::{Pattern, Token, TooFewReadable};
use crate::record::StoredKeys;
use crate::{CheckIndex, Confidence, MakeRelation, Match, MatchKind, plain_hash};

/// What an officer asks.
#[derive(Debug, Clone, Copy)]
pub struct CheckQuery<'a> {
    /// The serial as typed; `?` for an unreadable character, `*` for an unreadable run.
    pub serial: &'a str,
    /// The make, if known, in any spelling.
    pub make: Option<&'a str>,
    /// How many matches to return at most.
    pub limit: usize,
}

/// Why a query cannot be searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The serial has no letter or digit.
    Empty,
    /// A serial with unreadable parts keeps fewer than three readable characters.
    TooFewReadable(usize),
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Empty => write!(f, "the serial number has no letter or digit"),
            QueryError::TooFewReadable(n) => write!(
                f,
                "only {n} readable character(s): give at least 3, with ? for each unreadable character and * for an unreadable run"
            ),
        }
    }
}

impl std::error::Error for QueryError {}

/// The answer to a check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckOutcome {
    /// The best matches, best first, at most the query's limit.
    pub matches: Vec<Match>,
    /// How many records matched in all.
    pub total: usize,
    /// How many records matched as closely as the best one: when this exceeds the limit, the
    /// officer should give the make or more characters.
    pub equally_close: usize,
}

/// A candidate: the layer (base or delta) in the high bit, the slot below.
const DELTA: u64 = 1 << 63;

/// A verified candidate before explanation.
struct Found {
    candidate: u64,
    firearm_id: i64,
    kind: MatchKind,
    make: MakeRelation,
    confidence: Confidence,
    score: f32,
}

impl CheckIndex {
    /// Checks a serial against every live record.
    pub fn check(&self, query: &CheckQuery<'_>) -> Result<CheckOutcome, QueryError> {
        let make = query
            .make
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|m| self.makes.find(m));
        let mut found = if Pattern::is_pattern(query.serial) {
            let pattern = Pattern::parse(query.serial)
                .map_err(|TooFewReadable(n)| QueryError::TooFewReadable(n))?;
            self.check_pattern(&pattern, make)
        } else {
            let keys = SerialKeys::of(query.serial);
            if keys.folded.iter().all(Vec::is_empty) {
                return Err(QueryError::Empty);
            }
            self.check_serial(query.serial, &keys, make)
        };
        // The same serial (at any make) first: the same weapon recorded under another make
        // name is the alert that matters most. Then the given make before any other, and within
        // a make, the closest first: a match at another make never outranks a same-make match of
        // the same quality.
        found.sort_by(|a, b| {
            a.rank()
                .cmp(&b.rank())
                .then(b.score.total_cmp(&a.score))
                .then(a.firearm_id.cmp(&b.firearm_id))
        });
        let total = found.len();
        let equally_close = found.first().map_or(0, |best| {
            found.iter().take_while(|f| f.rank() == best.rank()).count()
        });
        found.truncate(query.limit);
        let matches = found
            .into_iter()
            .map(|f| {
                let recorded = self.keys_of(f.candidate).serial().to_string();
                let differences = if f.kind == MatchKind::Pattern {
                    explain_pattern(query.serial, &recorded)
                } else {
                    explain(query.serial, &recorded)
                };
                Match {
                    firearm_id: f.firearm_id,
                    confidence: f.confidence,
                    score: f.score,
                    kind: f.kind,
                    make: f.make,
                    recorded_serial: recorded,
                    differences,
                }
            })
            .collect();
        Ok(CheckOutcome {
            matches,
            total,
            equally_close,
        })
    }

    fn keys_of(&self, candidate: u64) -> StoredKeys<'_> {
        if candidate & DELTA != 0 {
            self.delta.entries[(candidate & !DELTA) as usize]
                .keys
                .get(0)
        } else {
            self.base.keys.get(candidate as usize)
        }
    }

    /// The live candidate's id, make and plain-form hash.
    fn facts(&self, candidate: u64) -> Option<(i64, MakeId, u32)> {
        if candidate & DELTA != 0 {
            let entry = &self.delta.entries[(candidate & !DELTA) as usize];
            entry
                .is_alive()
                .then_some((entry.id, entry.make, entry.plain_hash))
        } else {
            let slot = candidate as u32;
            self.base.is_alive(slot).then(|| {
                let s = slot as usize;
                (
                    self.base.slots[s].id,
                    self.base.slots[s].make,
                    self.base.slots[s].plain_hash,
                )
            })
        }
    }

    fn lookup(&self, hash: u64, out: &mut Vec<u64>) {
        self.base.lookup(hash, out);
        let start = out.len();
        self.delta.lookup(hash, out);
        for candidate in &mut out[start..] {
            *candidate |= DELTA;
        }
    }

    fn check_serial(
        &self,
        serial: &str,
        keys: &SerialKeys,
        make: Option<Option<MakeId>>,
    ) -> Vec<Found> {
        let mut hashes = Vec::with_capacity(64);
        for form in &keys.folded {
            let deletions = query_deletions(form.len() + keys.zeros);
            for_each_deletion_variant(form, deletions, |h| hashes.push(h));
        }
        if let Some(stripped) = &keys.stripped {
            hashes.push(hash_bytes(stripped));
        }
        hashes.sort_unstable();
        hashes.dedup();
        let mut candidates = Vec::with_capacity(256);
        for hash in hashes {
            self.lookup(hash, &mut candidates);
        }
        candidates.sort_unstable();
        candidates.dedup();
        let query_plain = plain_hash(serial);
        let typed: Vec<Typed> = keys.folded.iter().map(|form| Typed::new(form)).collect();
        // Most candidates fail verification: their forms are read first, and their id and
        // make only when they match.
        candidates
            .into_iter()
            .filter_map(|candidate| {
                let kind = verify(keys, &typed, self.keys_of(candidate))?;
                let (id, record_make, record_plain) = self.facts(candidate)?;
                let kind = if kind == MatchKind::Folded && query_plain == record_plain {
                    MatchKind::Exact
                } else {
                    kind
                };
                Some(found(candidate, id, kind, relation(make, record_make), 0.0))
            })
            .collect()
    }

    fn check_pattern(&self, pattern: &Pattern, make: Option<Option<MakeId>>) -> Vec<Found> {
        let mut candidates = Vec::new();
        let unknown = pattern.tokens.iter().filter(|t| **t == Token::One).count();
        match pattern.fixed_length() {
            // One or two `?` in a serial long enough to be indexed with deletions: the readable
            // characters alone are a deletion variant of every serial that fits.
            Some(len) if (unknown == 1 && len >= 4) || (unknown == 2 && len >= 8) => {
                let readable: Vec<u8> = pattern
                    .tokens
                    .iter()
                    .filter_map(|t| match t {
                        Token::Byte(b) => Some(*b),
                        _ => None,
                    })
                    .collect();
                // Stored forms have no leading zeros: neither may the variant looked up.
                let zeros = readable.iter().take_while(|b| **b == b'0').count();
                let readable = &readable[zeros.min(readable.len().saturating_sub(1))..];
                self.lookup(hash_bytes(readable), &mut candidates);
            }
            _ => self.pattern_range(pattern, &mut candidates),
        }
        // Records added since the build are few: look at each.
        candidates.extend((0..self.delta.entries.count() as u64).map(|slot| slot | DELTA));
        candidates.sort_unstable();
        candidates.dedup();
        let readable = pattern
            .tokens
            .iter()
            .filter(|t| matches!(t, Token::Byte(_)))
            .count();
        let specificity = readable as f32 / pattern.tokens.len().max(1) as f32;
        // A pattern may spell the record's leading zeros or leave them out; only one that
        // starts with a zero or an unreadable character can spell them.
        let may_spell_zeros =
            matches!(pattern.tokens.first(), Some(Token::Byte(b'0') | Token::One));
        let mut unstripped = Vec::new();
        candidates
            .into_iter()
            .filter_map(|candidate| {
                let (id, record_make, _) = self.facts(candidate)?;
                let stored = self.keys_of(candidate);
                let zeros = if may_spell_zeros { stored.zeros() } else { 0 };
                let fits = stored.folded().any(|form| {
                    pattern.matches(form)
                        || (zeros > 0 && {
                            unstripped.clear();
                            unstripped.resize(zeros, b'0');
                            unstripped.extend_from_slice(form);
                            pattern.matches(&unstripped)
                        })
                });
                fits.then(|| {
                    found(
                        candidate,
                        id,
                        MatchKind::Pattern,
                        relation(make, record_make),
                        specificity,
                    )
                })
            })
            .collect()
    }
}

impl Found {
    /// Where the match ranks: serial equal after folding, then make, then kind.
    fn rank(&self) -> (bool, MakeRelation, MatchKind) {
        let same_serial = matches!(self.kind, MatchKind::Exact | MatchKind::Folded);
        (!same_serial, self.make, self.kind)
    }
}

fn relation(asked: Option<Option<MakeId>>, recorded: MakeId) -> MakeRelation {
    match asked {
        None => MakeRelation::NotGiven,
        Some(Some(make)) if make == recorded => MakeRelation::Same,
        Some(_) => MakeRelation::Different,
    }
}

/// How a stored serial relates to the query's forms (`typed` prepared from them), if it
/// matches at all; the same folded form counts as [`MatchKind::Folded`], which the caller makes
/// [`MatchKind::Exact`] when the plain forms agree too.
fn verify(query: &SerialKeys, typed: &[Typed], stored: StoredKeys<'_>) -> Option<MatchKind> {
    let mut best: Option<usize> = None;
    'forms: for (q, prepared) in query.folded.iter().zip(typed) {
        for r in stored.folded() {
            // Leading zeros count towards a serial's length, though not towards its edits.
            let allowed = allowed_edits(q.len() + query.zeros, r.len() + stored.zeros());
            let bound = best.map_or(allowed, |b| b.saturating_sub(1)).min(allowed);
            if let Some(d) = prepared.distance(r, bound) {
                best = Some(best.map_or(d, |b| b.min(d)));
                if d == 0 {
                    break 'forms;
                }
            }
        }
    }
    match best {
        Some(0) => return Some(MatchKind::Folded),
        Some(1) => return Some(MatchKind::OneEdit),
        _ => {}
    }
    // Letters between digits explain a serial better than two typing errors do.
    let stripped_query = query.stripped.as_deref();
    let stripped_record = stored.stripped();
    let embedded = stored.folded().any(|r| Some(r) == stripped_query)
        || stripped_record.is_some_and(|s| query.folded.iter().any(|q| q == s))
        || (stripped_query.is_some() && stripped_query == stripped_record);
    if embedded {
        Some(MatchKind::EmbeddedLetters)
    } else {
        best.map(|_| MatchKind::TwoEdits)
    }
}

fn found(
    candidate: u64,
    firearm_id: i64,
    kind: MatchKind,
    make: MakeRelation,
    specificity: f32,
) -> Found {
    let base = match kind {
        MatchKind::Exact => 1.0,
        MatchKind::Folded => 0.95,
        MatchKind::OneEdit => 0.85,
        MatchKind::EmbeddedLetters => 0.7,
        MatchKind::Pattern => 0.5 + 0.3 * specificity,
        MatchKind::TwoEdits => 0.55,
    };
    let adjust = match make {
        MakeRelation::Same => 0.04,
        MakeRelation::NotGiven => 0.0,
        MakeRelation::Different => -0.25,
    };
    let confidence = match (kind, make) {
        (_, MakeRelation::Different) => Confidence::Possible,
        (MatchKind::Exact, _) => Confidence::Exact,
        (MatchKind::Folded | MatchKind::OneEdit, _) => Confidence::Strong,
        _ => Confidence::Possible,
    };
    Found {
        candidate,
        firearm_id,
        kind,
        make,
        confidence,
        score: (base + adjust as f32).clamp(0.0, 1.0),
    }
}
