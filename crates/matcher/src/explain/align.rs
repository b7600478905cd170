//! The alignment behind an explanation: an edit-distance table over the typed and recorded
//! characters that also knows a Cyrillic letter spelled by several Latin ones (Ж as ZH), traced
//! back into one difference per step.

use super::{Difference, DifferenceKind, describe_char, read_differently};
use crate::normalise::TypedChar;

/// One way a character reads, folded: at most four bytes (Щ reads SHCH).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Reading {
    bytes: [u8; 4],
    len: u8,
}

impl Reading {
    fn new(bytes: &[u8]) -> Self {
        let mut reading = Reading {
            bytes: [0; 4],
            len: bytes.len().min(4) as u8,
        };
        reading.bytes[..reading.len as usize].copy_from_slice(&bytes[..reading.len as usize]);
        reading
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// The readings of each character of a serial (look-alike, and transliteration when it
/// differs), worked out once per explanation.
struct Readings(Vec<(Reading, Option<Reading>)>);

impl Readings {
    fn of(chars: &[TypedChar]) -> Self {
        Readings(
            chars
                .iter()
                .map(|c| {
                    let (first, second) = crate::normalise::readings(c.typed);
                    (Reading::new(&first), second.map(|s| Reading::new(&s)))
                })
                .collect(),
        )
    }

    fn each(&self, i: usize) -> impl Iterator<Item = &Reading> {
        let (first, second) = &self.0[i];
        std::iter::once(first).chain(second.iter())
    }

    /// Whether character `i` reads as more than one character (Ж as ZH): only such a character
    /// can be spelled by several.
    fn spelled_by_several(&self, i: usize) -> bool {
        self.each(i).any(|r| r.len > 1)
    }

    fn compatible(&self, i: usize, other: &Readings, j: usize) -> bool {
        self.each(i).any(|r| other.each(j).any(|o| o == r))
    }

    /// Whether the characters `run` together spell one reading of `other[j]`.
    fn spells(&self, run: std::ops::Range<usize>, other: &Readings, j: usize) -> bool {
        if run.len() < 2 {
            return false;
        }
        other
            .each(j)
            .filter(|reading| reading.len as usize >= run.len())
            .any(|reading| {
                let mut rest = reading.as_slice();
                for i in run.clone() {
                    match rest.strip_prefix(self.0[i].0.as_slice()) {
                        Some(after) => rest = after,
                        None => return false,
                    }
                }
                rest.is_empty()
            })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Same,
    Substitute,
    Insert,
    Delete,
    Swap,
    /// Several typed characters spell one recorded letter (Ж typed as ZH).
    Spell(usize),
    /// One typed letter stands for several recorded characters.
    Condense(usize),
}

/// The differences along the cheapest alignment of the typed and the recorded characters.
pub(super) fn align(q: &[TypedChar], r: &[TypedChar]) -> Vec<Difference> {
    let (n, m) = (q.len(), r.len());
    let (qr, rr) = (Readings::of(q), Readings::of(r));
    let compatible = |i: usize, j: usize| q[i].typed == r[j].typed || qr.compatible(i, &rr, j);
    let width = m + 1;
    let mut cost = vec![usize::MAX / 2; (n + 1) * width];
    let mut step = vec![Step::Same; (n + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=n {
        for j in 0..=m {
            if i == 0 && j == 0 {
                cost[at(0, 0)] = 0;
                continue;
            }
            let mut best = (usize::MAX / 2, Step::Same);
            let mut consider = |c: usize, s: Step| {
                if c < best.0 {
                    best = (c, s);
                }
            };
            if i > 0 && j > 0 {
                let same = compatible(i - 1, j - 1);
                consider(
                    cost[at(i - 1, j - 1)] + usize::from(!same),
                    if same { Step::Same } else { Step::Substitute },
                );
            }
            if i > 0 {
                consider(cost[at(i - 1, j)] + 1, Step::Insert);
            }
            if j > 0 {
                consider(cost[at(i, j - 1)] + 1, Step::Delete);
            }
            if i > 1
                && j > 1
                && compatible(i - 1, j - 2)
                && compatible(i - 2, j - 1)
                && !compatible(i - 1, j - 1)
            {
                consider(cost[at(i - 2, j - 2)] + 1, Step::Swap);
            }
            for k in 2..=4 {
                if i >= k
                    && j >= 1
                    && rr.spelled_by_several(j - 1)
                    && qr.spells(i - k..i, &rr, j - 1)
                {
                    consider(cost[at(i - k, j - 1)], Step::Spell(k));
                }
                if j >= k
                    && i >= 1
                    && qr.spelled_by_several(i - 1)
                    && rr.spells(j - k..j, &qr, i - 1)
                {
                    consider(cost[at(i - 1, j - k)], Step::Condense(k));
                }
            }
            cost[at(i, j)] = best.0;
            step[at(i, j)] = best.1;
        }
    }
    let mut out = Vec::new();
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        match step[at(i, j)] {
            Step::Same => {
                let (t, rc) = (&q[i - 1], &r[j - 1]);
                if t.typed != rc.typed {
                    out.push(read_differently(t, rc.typed));
                }
                i -= 1;
                j -= 1;
            }
            Step::Substitute => {
                let (t, rc) = (&q[i - 1], &r[j - 1]);
                out.push(Difference::new(
                    DifferenceKind::Substitution,
                    Some(t.position),
                    Some(t.typed.to_string()),
                    Some(rc.typed.to_string()),
                    format!(
                        "{} typed at position {} where the record has {}",
                        describe_char(t.typed),
                        t.position,
                        describe_char(rc.typed)
                    ),
                ));
                i -= 1;
                j -= 1;
            }
            Step::Insert => {
                let t = &q[i - 1];
                let between_digits = i >= 2
                    && q[i - 2].typed.is_ascii_digit()
                    && q.get(i).is_some_and(|c| c.typed.is_ascii_digit())
                    && t.typed.is_alphabetic();
                out.push(if between_digits {
                    Difference::new(
                        DifferenceKind::EmbeddedLetter,
                        Some(t.position),
                        Some(t.typed.to_string()),
                        None,
                        format!("letter {} between digits ignored", describe_char(t.typed)),
                    )
                } else {
                    Difference::new(
                        DifferenceKind::Insertion,
                        Some(t.position),
                        Some(t.typed.to_string()),
                        None,
                        format!(
                            "extra {} typed at position {}",
                            describe_char(t.typed),
                            t.position
                        ),
                    )
                });
                i -= 1;
            }
            Step::Delete => {
                let rc = &r[j - 1];
                let after = if i > 0 { Some(q[i - 1].position) } else { None };
                let between_digits = j >= 2
                    && r[j - 2].typed.is_ascii_digit()
                    && r.get(j).is_some_and(|c| c.typed.is_ascii_digit())
                    && rc.typed.is_alphabetic();
                out.push(if between_digits {
                    Difference::new(
                        DifferenceKind::EmbeddedLetter,
                        after,
                        None,
                        Some(rc.typed.to_string()),
                        format!(
                            "the record's letter {} between digits ignored",
                            describe_char(rc.typed)
                        ),
                    )
                } else {
                    Difference::new(
                        DifferenceKind::Deletion,
                        after,
                        None,
                        Some(rc.typed.to_string()),
                        match after {
                            Some(p) => {
                                format!("{} missing after position {p}", describe_char(rc.typed))
                            }
                            None => format!("{} missing at the start", describe_char(rc.typed)),
                        },
                    )
                });
                j -= 1;
            }
            Step::Swap => {
                let (a, b) = (&q[i - 2], &q[i - 1]);
                out.push(Difference::new(
                    DifferenceKind::Transposition,
                    Some(a.position),
                    Some(format!("{}{}", a.typed, b.typed)),
                    Some(format!("{}{}", r[j - 2].typed, r[j - 1].typed)),
                    format!("characters {} and {} swapped", a.position, b.position),
                ));
                i -= 2;
                j -= 2;
            }
            Step::Spell(k) => {
                let run: String = q[i - k..i].iter().map(|c| c.typed).collect();
                let letter = r[j - 1].typed;
                out.push(Difference::new(
                    DifferenceKind::Script,
                    Some(q[i - k].position),
                    Some(run.clone()),
                    Some(letter.to_string()),
                    format!("{} typed as {run}", describe_char(letter)),
                ));
                i -= k;
                j -= 1;
            }
            Step::Condense(k) => {
                let run: String = r[j - k..j].iter().map(|c| c.typed).collect();
                let t = &q[i - 1];
                out.push(Difference::new(
                    DifferenceKind::Script,
                    Some(t.position),
                    Some(t.typed.to_string()),
                    Some(run.clone()),
                    format!("{run} typed as {}", describe_char(t.typed)),
                ));
                i -= 1;
                j -= k;
            }
        }
    }
    out.reverse();
    out
}
