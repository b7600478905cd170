//! Where a serial with unreadable characters finds its candidates: ranges of the index's sorted
//! orders, or deletion variants, whichever plan reads the fewest records.

use crate::CheckIndex;
use crate::normalise::{folded_alphabet, hash_bytes};
use crate::pattern::{Pattern, Token};

impl CheckIndex {
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
    pub(super) fn pattern_range(&self, pattern: &Pattern, out: &mut Vec<u64>) {
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
        // A readable run after one or two characters that are unreadable, or readable but few:
        // the sorted order without the first characters, each candidate then checked whole.
        for skipped in 1..=2 {
            let head = &tokens[..skipped.min(tokens.len())];
            if head.len() < skipped || head.contains(&Token::Run) {
                break;
            }
            let run: Vec<u8> = tokens[skipped..]
                .iter()
                .map_while(|t| match t {
                    Token::Byte(b) => Some(*b),
                    _ => None,
                })
                .collect();
            if run.len() < 2 {
                continue;
            }
            let mut ranges = vec![(Order::Skip(skipped), self.skip_range(skipped, &run))];
            // The first characters may have been leading zeros, which stored forms drop: with
            // `zeros` of them dropped, the run starts `zeros` bytes earlier in the stored form.
            for zeros in 1..=skipped {
                let may_be_zeros = head[..zeros]
                    .iter()
                    .all(|t| matches!(t, Token::One | Token::Byte(b'0')));
                if !may_be_zeros {
                    break;
                }
                let rest = skipped - zeros;
                if rest == 0 {
                    ranges.extend(self.anchor_range(true, &run).map(|r| (Order::Prefix, r)));
                } else {
                    ranges.push((Order::Skip(rest), self.skip_range(rest, &run)));
                }
            }
            let cost = ranges.iter().map(|(_, r)| r.len()).sum::<usize>() + 60;
            plans.push((cost, Plan::Ranges(ranges)));
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
