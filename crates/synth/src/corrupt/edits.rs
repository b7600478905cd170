//! Typing slips: substitutions, insertions, deletions and transpositions of readable characters.

use rand::Rng;

use super::script::is_cyrillic;
use super::{below, chance, pick, readable_positions, upper, with_case_of};

const DIGITS: &str = "0123456789";
pub(super) const LATIN: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
/// Cyrillic capitals used in substitutions and insertions (those serials are stamped with).
const CYRILLIC: &str = "АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЭЮЯ";

/// Keyboard rows, for typos that hit a neighbouring key.
const DIGIT_ROWS: [&str; 1] = ["1234567890"];
const NUMPAD_ROWS: [&str; 4] = ["789", "456", "123", "0"];
const LATIN_ROWS: [&str; 3] = ["QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM"];
const CYRILLIC_ROWS: [&str; 3] = ["ЙЦУКЕНГШЩЗХЪ", "ФЫВАПРОЛДЖЭ", "ЯЧСМИТЬБЮ"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edit {
    Substitute,
    Insert,
    Delete,
    Transpose,
}

/// The alphabet a character is substituted within, and the keyboard rows it sits on.
fn alphabet_of(c: char) -> (&'static str, &'static [&'static str]) {
    let c = upper(c);
    if c.is_ascii_digit() {
        (DIGITS, &DIGIT_ROWS)
    } else if is_cyrillic(c) {
        (CYRILLIC, &CYRILLIC_ROWS)
    } else {
        (LATIN, &LATIN_ROWS)
    }
}

/// Keys next to `c` (same row, or directly above or below) that are in `alphabet`, in a fixed order.
fn neighbours(c: char, rows: &[&str], alphabet: &str, out: &mut Vec<char>) {
    let rows: Vec<Vec<char>> = rows.iter().map(|r| r.chars().collect()).collect();
    for (r, row) in rows.iter().enumerate() {
        let Some(col) = row.iter().position(|&k| k == c) else {
            continue;
        };
        let mut near = vec![
            col.checked_sub(1).and_then(|i| row.get(i)),
            row.get(col + 1),
        ];
        if r > 0 {
            near.push(rows[r - 1].get(col));
        }
        near.push(rows.get(r + 1).and_then(|next| next.get(col)));
        for &k in near.into_iter().flatten() {
            if alphabet.contains(k) && !out.contains(&k) {
                out.push(k);
            }
        }
    }
}

/// A different character of the same kind: a neighbouring key half the time, any other otherwise.
fn typo_for<R: Rng>(rng: &mut R, old: char) -> char {
    let capital = upper(old);
    let (alphabet, rows) = alphabet_of(capital);
    let mut near = Vec::new();
    neighbours(capital, rows, alphabet, &mut near);
    if capital.is_ascii_digit() {
        neighbours(capital, &NUMPAD_ROWS, alphabet, &mut near);
    }
    near.retain(|&k| k != capital);
    let new = if !near.is_empty() && chance(rng, 50) {
        pick(rng, &near)
    } else {
        let others: Vec<char> = alphabet.chars().filter(|&k| k != capital).collect();
        pick(rng, &others)
    };
    with_case_of(new, old)
}

/// Applies `edit` at readable position `at` (`Insert` may use `at == readable count`, the end).
/// False when it cannot apply there (a transposition needs two adjacent, different characters).
fn apply_edit<R: Rng>(rng: &mut R, chars: &mut Vec<char>, edit: Edit, at: usize) -> bool {
    let readable = readable_positions(chars);
    match edit {
        Edit::Substitute => {
            let i = readable[at];
            chars[i] = typo_for(rng, chars[i]);
        }
        Edit::Insert => {
            let (i, like) = match readable.get(at) {
                Some(&i) => (i, chars[i]),
                None => {
                    let last = readable[readable.len() - 1];
                    (last + 1, chars[last])
                }
            };
            let new = if chance(rng, 40) {
                like
            } else {
                typo_for(rng, like)
            };
            chars.insert(i, new);
        }
        Edit::Delete => {
            let i = readable[at];
            chars.remove(i);
            // Do not leave a doubled, leading or trailing separator behind.
            let separator_at =
                |chars: &Vec<char>, j: usize| chars.get(j).is_some_and(|c| !c.is_alphanumeric());
            let doubled = i > 0 && separator_at(chars, i - 1) && separator_at(chars, i);
            if doubled || (i == 0 && separator_at(chars, 0)) {
                chars.remove(i);
            } else if i == chars.len() && i > 0 && separator_at(chars, i - 1) {
                chars.remove(i - 1);
            }
        }
        Edit::Transpose => {
            let Some(&i) = readable.get(at) else {
                return false;
            };
            if !swappable(chars, i) {
                return false;
            }
            chars.swap(i, i + 1);
        }
    }
    true
}

/// Whether raw positions `i` and `i + 1` are adjacent readable characters that differ.
fn swappable(chars: &[char], i: usize) -> bool {
    i + 1 < chars.len()
        && chars[i].is_alphanumeric()
        && chars[i + 1].is_alphanumeric()
        && upper(chars[i]) != upper(chars[i + 1])
}

/// Whether `serial` has two adjacent readable characters that differ.
pub(super) fn swappable_pair_exists(serial: &str) -> bool {
    serial
        .chars()
        .zip(serial.chars().skip(1))
        .any(|(a, b)| a.is_alphanumeric() && b.is_alphanumeric() && upper(a) != upper(b))
}

/// Whether `serial` has two adjacent ASCII digits.
pub(super) fn digit_pairs_exist(serial: &str) -> bool {
    serial
        .as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_digit() && w[1].is_ascii_digit())
}

/// Raw positions `i` where `i` and `i + 1` may be swapped.
fn swappable_pairs(chars: &[char]) -> Vec<usize> {
    (0..chars.len()).filter(|&i| swappable(chars, i)).collect()
}

/// One substitution, insertion or deletion of a readable character; None below 4 readable characters.
pub(super) fn one_edit<R: Rng>(rng: &mut R, original: &[char]) -> Option<Vec<char>> {
    let readable = readable_positions(original).len();
    if readable < 4 {
        return None;
    }
    let mut chars = original.to_vec();
    let (edit, at) = match below(rng, 100) {
        0..45 => (Edit::Substitute, below(rng, readable)),
        45..70 => (Edit::Insert, below(rng, readable + 1)),
        _ => (Edit::Delete, below(rng, readable)),
    };
    apply_edit(rng, &mut chars, edit, at);
    Some(chars)
}

/// Two adjacent, different readable characters swapped; None when there are no such two.
pub(super) fn transposition<R: Rng>(rng: &mut R, original: &[char]) -> Option<Vec<char>> {
    let pairs = swappable_pairs(original);
    if pairs.is_empty() {
        return None;
    }
    let mut chars = original.to_vec();
    let i = pick(rng, &pairs);
    chars.swap(i, i + 1);
    Some(chars)
}

/// The separator-free, uppercase form edits are counted on.
fn readable_upper(chars: impl IntoIterator<Item = char>) -> Vec<char> {
    chars
        .into_iter()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Edit distance counting a swap of two adjacent characters as one edit (optimal string alignment).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        for j in 0..=b.len() {
            table[i * width + j] = if i == 0 || j == 0 {
                i + j
            } else {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut best = (table[(i - 1) * width + j] + 1)
                    .min(table[i * width + j - 1] + 1)
                    .min(table[(i - 1) * width + j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    best = best.min(table[(i - 2) * width + j - 2] + 1);
                }
                best
            };
        }
    }
    table[a.len() * width + b.len()]
}

/// Two edits three or more characters apart, exactly two edits away; None below 8 readable characters.
pub(super) fn two_edits<R: Rng>(rng: &mut R, original: &[char]) -> Option<Vec<char>> {
    let readable = readable_positions(original).len();
    if readable < 8 {
        return None;
    }
    let target = readable_upper(original.iter().copied());
    const EDITS: [Edit; 4] = [
        Edit::Substitute,
        Edit::Insert,
        Edit::Delete,
        Edit::Transpose,
    ];
    // Edits at least three characters apart rarely interact; in runs of equal characters they can,
    // so check the distance and draw again, falling back to two substitutions far apart.
    for _ in 0..8 {
        let first = below(rng, readable - 3);
        let second = first + 3 + below(rng, readable - first - 3);
        let mut chars = original.to_vec();
        // The later position first, so the earlier one still points at the same character.
        let (late_edit, early_edit) = (pick(rng, &EDITS), pick(rng, &EDITS));
        let later = apply_edit(rng, &mut chars, late_edit, second);
        let earlier = apply_edit(rng, &mut chars, early_edit, first);
        if later && earlier && edit_distance(&target, &readable_upper(chars.iter().copied())) == 2 {
            return Some(chars);
        }
    }
    let mut chars = original.to_vec();
    apply_edit(rng, &mut chars, Edit::Substitute, readable - 1);
    apply_edit(rng, &mut chars, Edit::Substitute, 0);
    Some(chars)
}
