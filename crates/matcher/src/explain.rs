//! Why a record matched, in words an officer understands: each character that was read
//! differently, typed in another script, mistyped, swapped, missing, extra or unreadable.

use serde::{Deserialize, Serialize};

mod align;

use crate::normalise::{TypedChar, is_cyrillic, plain};
use align::align;

/// What kind of difference between the typed and the recorded serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// Spaces, dashes, dots, slashes or letter case differ.
    Format,
    /// Leading zeros were added or dropped.
    LeadingZeros,
    /// A character was read as a look-alike (O for 0, I for 1 …).
    Confusable,
    /// A letter was typed in another script (Cyrillic Р as Latin P, Ж as ZH …).
    Script,
    /// A character was mistyped.
    Substitution,
    /// A character was typed that is not in the record.
    Insertion,
    /// A character of the record was not typed.
    Deletion,
    /// Two neighbouring characters were swapped.
    Transposition,
    /// A character or run was unreadable (`?`, `*`).
    Unreadable,
    /// A letter between digits was ignored.
    EmbeddedLetter,
}

/// One difference, with a sentence saying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Difference {
    /// The kind of difference.
    pub kind: DifferenceKind,
    /// Where in the typed serial (1-based, counting every typed character), when it has a place.
    pub position: Option<usize>,
    /// What was typed there.
    pub typed: Option<String>,
    /// What the record has there.
    pub recorded: Option<String>,
    /// The difference in words.
    pub description: String,
}

impl Difference {
    pub(crate) fn new(
        kind: DifferenceKind,
        position: Option<usize>,
        typed: Option<String>,
        recorded: Option<String>,
        description: String,
    ) -> Self {
        Difference {
            kind,
            position,
            typed,
            recorded,
            description,
        }
    }
}

fn reads_as_zero(c: char) -> bool {
    crate::normalise::readings(c).0 == b"0"
}

pub(crate) fn describe_char(c: char) -> String {
    if is_cyrillic(c) {
        format!("Cyrillic {c}")
    } else {
        c.to_string()
    }
}

/// Differences between a serial as typed and as recorded, both without unreadable marks.
pub fn explain(typed: &str, recorded: &str) -> Vec<Difference> {
    let format = || {
        Difference::new(
            DifferenceKind::Format,
            None,
            None,
            None,
            "spaces, dashes or letter case differ; they are ignored".into(),
        )
    };
    if typed != recorded
        && crate::normalise::plain_string(typed) == crate::normalise::plain_string(recorded)
    {
        return vec![format()];
    }
    let mut differences = Vec::new();
    let mut q = plain(typed);
    let mut r = plain(recorded);
    if typed
        .chars()
        .filter(|c| !c.is_alphanumeric())
        .ne(recorded.chars().filter(|c| !c.is_alphanumeric()))
        || typed.chars().any(char::is_lowercase)
    {
        differences.push(format());
    }
    let zeros_q = q
        .iter()
        .take_while(|c| reads_as_zero(c.typed))
        .count()
        .min(q.len().saturating_sub(1));
    let zeros_r = r
        .iter()
        .take_while(|c| reads_as_zero(c.typed))
        .count()
        .min(r.len().saturating_sub(1));
    if zeros_q != zeros_r {
        let typed_zeros: String = q[..zeros_q].iter().map(|c| c.typed).collect();
        let recorded_zeros: String = r[..zeros_r].iter().map(|c| c.typed).collect();
        let description = if zeros_q > zeros_r {
            format!("leading zeros '{typed_zeros}' typed that the record does not have")
        } else {
            format!("the record's leading zeros '{recorded_zeros}' were not typed")
        };
        differences.push(Difference::new(
            DifferenceKind::LeadingZeros,
            Some(1),
            Some(typed_zeros),
            Some(recorded_zeros),
            description,
        ));
    }
    q.drain(..zeros_q);
    r.drain(..zeros_r);
    differences.extend(align(&q, &r));
    differences
}

/// A character typed as a look-alike or in another script.
pub(crate) fn read_differently(typed: &TypedChar, recorded: char) -> Difference {
    let script = is_cyrillic(typed.typed) != is_cyrillic(recorded);
    let description = if script && is_cyrillic(recorded) {
        format!("Cyrillic {recorded} typed as {}", typed.typed)
    } else if script {
        format!("{recorded} typed as Cyrillic {}", typed.typed)
    } else {
        format!(
            "{} read as {recorded} at position {}",
            typed.typed, typed.position
        )
    };
    Difference::new(
        if script {
            DifferenceKind::Script
        } else {
            DifferenceKind::Confusable
        },
        Some(typed.position),
        Some(typed.typed.to_string()),
        Some(recorded.to_string()),
        description,
    )
}

/// Differences between a pattern with unreadable marks and the serial it matched.
pub fn explain_pattern(typed: &str, recorded: &str) -> Vec<Difference> {
    let r: Vec<TypedChar> = plain(recorded);
    let tokens: Vec<(usize, char)> = typed
        .chars()
        .enumerate()
        .filter(|(_, c)| c.is_alphanumeric() || *c == '?' || *c == '*')
        .map(|(i, c)| (i + 1, c.to_uppercase().next().unwrap_or(c)))
        .collect();
    let mut out = Vec::new();
    // Leading and trailing runs take what the readable part leaves.
    let fixed = tokens.iter().filter(|(_, c)| *c != '*').count();
    let spare = r.len().saturating_sub(fixed);
    let leading = tokens.first().is_some_and(|(_, c)| *c == '*');
    let mut at = 0;
    for (index, (position, c)) in tokens.iter().enumerate() {
        match c {
            '*' => {
                let take = if leading && index == 0 {
                    spare
                } else {
                    r.len().saturating_sub(at).min(spare)
                };
                let run: String = r[at.min(r.len())..(at + take).min(r.len())]
                    .iter()
                    .map(|c| c.typed)
                    .collect();
                if !run.is_empty() {
                    out.push(Difference::new(
                        DifferenceKind::Unreadable,
                        Some(*position),
                        Some("*".into()),
                        Some(run.clone()),
                        format!("unreadable run at position {position} stands for {run}"),
                    ));
                }
                at += take;
            }
            '?' => {
                if let Some(rc) = r.get(at) {
                    out.push(Difference::new(
                        DifferenceKind::Unreadable,
                        Some(*position),
                        Some("?".into()),
                        Some(rc.typed.to_string()),
                        format!(
                            "unreadable character at position {position} stands for {}",
                            rc.typed
                        ),
                    ));
                }
                at += 1;
            }
            c => {
                if let Some(rc) = r.get(at).filter(|rc| rc.typed != *c) {
                    out.push(read_differently(
                        &TypedChar {
                            typed: *c,
                            position: *position,
                        },
                        rc.typed,
                    ));
                }
                at += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(typed: &str, recorded: &str) -> Vec<String> {
        explain(typed, recorded)
            .into_iter()
            .map(|d| d.description)
            .collect()
    }

    #[test]
    fn a_confusable_is_named_with_its_position() {
        assert_eq!(words("AB123O", "AB1230"), ["O read as 0 at position 6"]);
    }

    #[test]
    fn a_cyrillic_letter_typed_in_latin_is_named() {
        assert_eq!(
            words("LK4412", "ЛК4412"),
            ["Cyrillic Л typed as L", "Cyrillic К typed as K"]
        );
        assert_eq!(
            words("ZHV4521", "ЖВ4521"),
            ["Cyrillic Ж typed as ZH", "Cyrillic В typed as V"]
        );
    }

    #[test]
    fn typing_errors_are_named() {
        assert_eq!(words("124356", "123456"), ["characters 3 and 4 swapped"]);
        assert_eq!(
            words("123956", "123456"),
            ["9 typed at position 4 where the record has 4"]
        );
        assert_eq!(words("1234567", "123456"), ["extra 7 typed at position 7"]);
        assert_eq!(words("12356", "123456"), ["4 missing after position 3"]);
    }

    #[test]
    fn format_leading_zeros_and_embedded_letters_are_named() {
        assert_eq!(
            words("ab-123", "AB123"),
            ["spaces, dashes or letter case differ; they are ignored"]
        );
        assert_eq!(
            words("0012345", "12345"),
            ["leading zeros '00' typed that the record does not have"]
        );
        assert_eq!(
            words("369J257", "369257"),
            ["letter J between digits ignored"]
        );
    }

    #[test]
    fn unreadable_marks_say_what_they_stand_for() {
        let words: Vec<String> = explain_pattern("12?45*", "1234567")
            .into_iter()
            .map(|d| d.description)
            .collect();
        assert_eq!(
            words,
            [
                "unreadable character at position 3 stands for 3",
                "unreadable run at position 6 stands for 67"
            ]
        );
        let words: Vec<String> = explain_pattern("*7731", "AB7731")
            .into_iter()
            .map(|d| d.description)
            .collect();
        assert_eq!(words, ["unreadable run at position 1 stands for AB"]);
    }

    #[test]
    fn a_pattern_longer_than_the_serial_it_matched_explains_without_failing() {
        // Leading zeros a pattern spells may be missing from the record's plain form.
        let _ = explain_pattern("00?1*", "1");
        let _ = explain_pattern("???????*", "12");
    }
}
