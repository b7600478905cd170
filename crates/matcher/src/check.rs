//! One check: the query's forms, the candidates the index files under them, verification of
//! each, ranking, and the explanation of the matches kept.

use crate::distance::osa;
use crate::explain::{explain, explain_pattern};
use crate::makes::MakeId;
use crate::normalise::{
    SerialKeys, allowed_edits, folded_alphabet, for_each_deletion_variant, hash_bytes,
    query_deletions,
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
        candidates
            .into_iter()
            .filter_map(|candidate| {
                let (id, record_make, record_plain) = self.facts(candidate)?;
                let stored = self.keys_of(candidate);
                let kind = verify(keys, stored, query_plain == record_plain)?;
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

    /// The slots whose first folded form starts with `prefix`.
    fn prefix_range(&self, prefix: &[u8]) -> std::ops::Range<usize> {
        let (order, keys) = (&self.base.by_prefix, &self.base.keys);
        let start = order.partition_point(|s| keys.primary(*s as usize) < prefix);
        let len = order[start..].partition_point(|s| keys.primary(*s as usize).starts_with(prefix));
        start..start + len
    }

    /// The slots whose first folded form, without its first `skip` bytes, starts with `prefix`.
    fn skip_range(&self, skip: usize, prefix: &[u8]) -> std::ops::Range<usize> {
        let (order, keys) = (&self.base.by_skip[skip - 1], &self.base.keys);
        let tail = |s: &u32| keys.primary(*s as usize).get(skip..).unwrap_or_default();
        let start = order.partition_point(|s| tail(s) < prefix);
        let len = order[start..].partition_point(|s| tail(s).starts_with(prefix));
        start..start + len
    }

    /// The slots whose first folded form ends with `suffix`.
    fn suffix_range(&self, suffix: &[u8]) -> std::ops::Range<usize> {
        let (order, keys) = (&self.base.by_suffix, &self.base.keys);
        let backwards = |s: &u32| keys.primary(*s as usize).iter().rev();
        let start = order.partition_point(|s| backwards(s).lt(suffix.iter().rev()));
        let len = order[start..].partition_point(|s| {
            let form = keys.primary(*s as usize);
            form.ends_with(suffix)
        });
        start..start + len
    }

    /// Candidates for a pattern from the sorted orders. A plan anchors on the readable start or
    /// end, extended past its first one or two unreadable characters by spelling them every way;
    /// a pattern without `*` and with two `?` may also spell one and look the other up as a
    /// deletion. The plan with the fewest candidates (counting a lookup as thirty) wins.
    fn pattern_range(&self, pattern: &Pattern, out: &mut Vec<u64>) {
        let tokens = &pattern.tokens;
        let mut plans: Vec<(usize, Plan)> = Vec::new();
        let head_end = tokens
            .iter()
            .position(|t| *t == Token::Run)
            .unwrap_or(tokens.len());
        let tail_start = tokens
            .iter()
            .rposition(|t| *t == Token::Run)
            .map_or(0, |i| i + 1);
        let ends: Vec<(bool, Vec<Token>)> = vec![
            (true, tokens[..head_end].to_vec()),
            (false, tokens[tail_start..].iter().rev().copied().collect()),
        ];
        // One or two characters filed off the start: the sorted order without them.
        let skipped = tokens.iter().take_while(|t| **t == Token::One).count();
        if (1..=2).contains(&skipped) {
            let run: Vec<u8> = tokens[skipped..]
                .iter()
                .map_while(|t| match t {
                    Token::Byte(b) => Some(*b),
                    _ => None,
                })
                .collect();
            if run.len() >= 2 {
                let mut ranges = vec![(Order::Skip(skipped), self.skip_range(skipped, &run))];
                // The unreadable characters may have been leading zeros, which stored forms drop.
                if let Some(range) = self.anchor_range(true, &run) {
                    ranges.push((Order::Prefix, range));
                }
                let cost = ranges.iter().map(|(_, r)| r.len()).sum::<usize>() + 60;
                plans.push((cost, Plan::Ranges(ranges)));
            }
        }
        // Cheap plans for both ends first: a costlier one is worked out only when they are poor.
        for spelled_out in 0..=2_u32 {
            // Spelling out costs lookups before it finds anything: only when it can pay.
            let lookups = 30 * folded_alphabet().len().pow(spelled_out);
            if plans.iter().any(|(cost, _)| *cost <= lookups) {
                break;
            }
            for (at_start, ordered) in &ends {
                let at_start = *at_start;
                let Some(anchors) = spell_anchor(ordered, spelled_out as usize) else {
                    continue;
                };
                let order = if at_start {
                    Order::Prefix
                } else {
                    Order::Suffix
                };
                let ranges: Vec<(Order, std::ops::Range<usize>)> = anchors
                    .iter()
                    .filter_map(|anchor| {
                        let anchor: Vec<u8> = if at_start {
                            anchor.clone()
                        } else {
                            anchor.iter().rev().copied().collect()
                        };
                        self.anchor_range(at_start, &anchor).map(|r| (order, r))
                    })
                    .collect();
                if ranges.is_empty() {
                    continue;
                }
                let cost = ranges.iter().map(|(_, r)| r.len()).sum::<usize>() + 30 * anchors.len();
                plans.push((cost, Plan::Ranges(ranges)));
            }
        }
        if let Some(len) = pattern.fixed_length() {
            let unknown: Vec<usize> = (0..len).filter(|i| tokens[*i] == Token::One).collect();
            if unknown.len() == 2 && len >= 4 {
                // Spell the first `?` every way; the second is then a deletion variant.
                let hashes: Vec<u64> = folded_alphabet()
                    .iter()
                    .map(|c| {
                        let mut variant: Vec<u8> = Vec::with_capacity(len);
                        for (i, token) in tokens.iter().enumerate() {
                            match token {
                                Token::Byte(b) => variant.push(*b),
                                _ if i == unknown[0] => variant.push(*c),
                                _ => {}
                            }
                        }
                        let zeros = variant.iter().take_while(|b| **b == b'0').count();
                        hash_bytes(&variant[zeros.min(variant.len() - 1)..])
                    })
                    .collect();
                plans.push((30 * hashes.len() + 200, Plan::Hashes(hashes)));
            }
        }
        match plans.into_iter().min_by_key(|(cost, _)| *cost) {
            Some((_, Plan::Ranges(ranges))) => {
                for (order, range) in ranges {
                    let order = match order {
                        Order::Prefix => &self.base.by_prefix,
                        Order::Suffix => &self.base.by_suffix,
                        Order::Skip(skip) => &self.base.by_skip[skip - 1],
                    };
                    out.extend(order[range].iter().map(|s| u64::from(*s)));
                }
            }
            Some((_, Plan::Hashes(hashes))) => {
                for hash in hashes {
                    self.base.lookup(hash, out);
                }
            }
            // Nothing readable at either end: every record is a candidate.
            None => {
                out.extend((0..self.base.len() as u64).filter(|s| self.base.is_alive(*s as u32)))
            }
        }
    }

    /// The slots whose first folded form starts (or ends) with `anchor`; None when the anchor
    /// says nothing (empty, or only leading zeros, which stored forms drop).
    fn anchor_range(&self, at_start: bool, anchor: &[u8]) -> Option<std::ops::Range<usize>> {
        if at_start {
            let zeros = anchor.iter().take_while(|b| **b == b'0').count();
            let anchor = &anchor[zeros..];
            (!anchor.is_empty()).then(|| self.prefix_range(anchor))
        } else {
            (!anchor.is_empty()).then(|| self.suffix_range(anchor))
        }
    }
}

/// One of the index's sorted orders.
#[derive(Clone, Copy)]
enum Order {
    /// By first folded form.
    Prefix,
    /// By first folded form read backwards.
    Suffix,
    /// By first folded form without its first one or two bytes.
    Skip(usize),
}

/// How a pattern's candidates are gathered.
enum Plan {
    /// Ranges of the sorted orders.
    Ranges(Vec<(Order, std::ops::Range<usize>)>),
    /// Hashes looked up in the variant table.
    Hashes(Vec<u64>),
}

/// The anchors an end of a pattern gives when its first `spelled_out` unreadable characters are
/// spelled every way: the tokens up to the next unreadable one. None when there are not that
/// many unreadable characters, or too few readable ones to narrow anything.
fn spell_anchor(ordered: &[Token], spelled_out: usize) -> Option<Vec<Vec<u8>>> {
    let mut anchors: Vec<Vec<u8>> = vec![Vec::new()];
    let mut seen_unknown = 0;
    let mut readable = 0;
    for token in ordered {
        match token {
            Token::Byte(b) => {
                readable += 1;
                anchors.iter_mut().for_each(|a| a.push(*b));
            }
            _ if seen_unknown == spelled_out => break,
            _ => {
                seen_unknown += 1;
                anchors = anchors
                    .iter()
                    .flat_map(|a| {
                        folded_alphabet()
                            .iter()
                            .map(move |c| [&a[..], &[*c][..]].concat())
                    })
                    .collect();
            }
        }
    }
    (seen_unknown == spelled_out && readable >= 1).then_some(anchors)
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

/// How a stored serial relates to the query's forms, if it matches at all.
fn verify(query: &SerialKeys, stored: StoredKeys<'_>, plain_equal: bool) -> Option<MatchKind> {
    let mut best: Option<usize> = None;
    for q in &query.folded {
        for r in stored.folded() {
            // Leading zeros count towards a serial's length, though not towards its edits.
            let allowed = allowed_edits(q.len() + query.zeros, r.len() + stored.zeros());
            if let Some(d) = osa(
                q,
                r,
                best.map_or(allowed, |b| b.saturating_sub(1)).min(allowed),
            ) {
                best = Some(best.map_or(d, |b| b.min(d)));
            }
        }
    }
    match best {
        Some(0) if plain_equal => return Some(MatchKind::Exact),
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
