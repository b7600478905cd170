//! Corrupting a recorded serial the ways hands, OCR and worn metal do, one function per kind of query.

use rand::Rng;

use crate::queries::QueryKind;

mod edits;
mod script;

use edits::{LATIN, digit_pairs_exist, one_edit, swappable_pair_exists, transposition, two_edits};
use script::{script, script_applies};

/// Separators an officer may type between the characters of a serial.
const SEPARATORS: [char; 4] = [' ', '-', '.', '/'];

/// Characters read or typed as another: Latin letters and digits, plus Cyrillic О and В.
const CONFUSABLES: [(char, char); 16] = [
    ('O', '0'),
    ('0', 'O'),
    ('Q', '0'),
    ('I', '1'),
    ('1', 'I'),
    ('L', '1'),
    ('S', '5'),
    ('5', 'S'),
    ('B', '8'),
    ('8', 'B'),
    ('Z', '2'),
    ('2', 'Z'),
    ('G', '6'),
    ('6', 'G'),
    ('О', '0'),
    ('В', '8'),
];

/// Corrupts `serial` into a query of `kind`, or None when the kind does not apply (see [`QueryKind::applies_to`]).
pub fn corrupt<R: Rng>(rng: &mut R, serial: &str, kind: QueryKind) -> Option<String> {
    let chars: Vec<char> = serial.chars().collect();
    let corrupted = match kind {
        QueryKind::Format => format(rng, &chars)?,
        QueryKind::Confusable => confusable(rng, &chars)?,
        QueryKind::Script => script(rng, &chars)?,
        QueryKind::OneEdit => one_edit(rng, &chars)?,
        QueryKind::Transposition => transposition(rng, &chars)?,
        QueryKind::TwoEdits => two_edits(rng, &chars)?,
        QueryKind::Partial => partial(rng, &chars)?,
        QueryKind::EmbeddedLetter => embedded_letter(rng, &chars)?,
        QueryKind::Negative => return None,
    };
    Some(corrupted.into_iter().collect())
}

/// Whether `corrupt` returns a query of `kind` for `serial`; allocation-free, as it runs on every record.
pub(crate) fn applies(serial: &str, kind: QueryKind) -> bool {
    let readable = || serial.chars().filter(|c| c.is_alphanumeric()).count();
    match kind {
        QueryKind::Format => format_applies(serial),
        QueryKind::Confusable => serial.chars().any(|c| confused_with(c).is_some()),
        QueryKind::Script => script_applies(serial),
        QueryKind::OneEdit | QueryKind::Partial => readable() >= 4,
        QueryKind::TwoEdits => readable() >= 8,
        QueryKind::Transposition => swappable_pair_exists(serial),
        QueryKind::EmbeddedLetter => digit_pairs_exist(serial),
        QueryKind::Negative => false,
    }
}

/// A uniform index below `n` (drawn as u64, so identical on 32- and 64-bit machines).
pub(crate) fn below<R: Rng>(rng: &mut R, n: usize) -> usize {
    rng.gen_range(0..n as u64) as usize
}

/// True `percent` times in a hundred.
pub(crate) fn chance<R: Rng>(rng: &mut R, percent: u32) -> bool {
    rng.gen_range(0..100u32) < percent
}

/// A uniform element of a non-empty slice.
fn pick<R: Rng, T: Copy>(rng: &mut R, items: &[T]) -> T {
    items[below(rng, items.len())]
}

/// Raw positions of the readable (alphanumeric) characters.
fn readable_positions(chars: &[char]) -> Vec<usize> {
    (0..chars.len())
        .filter(|&i| chars[i].is_alphanumeric())
        .collect()
}

/// The character's single-character uppercase form, or itself.
fn upper(c: char) -> char {
    single(c.to_uppercase()).unwrap_or(c)
}

/// The same letter in the other case, when that is a single different character.
fn toggled(c: char) -> Option<char> {
    let other = if c.is_uppercase() {
        single(c.to_lowercase())
    } else if c.is_lowercase() {
        single(c.to_uppercase())
    } else {
        None
    }?;
    (other != c).then_some(other)
}

/// The only item of `chars`, if it has exactly one.
fn single(mut chars: impl Iterator<Item = char>) -> Option<char> {
    match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// Gives `new` (an uppercase character) the case of `like`.
fn with_case_of(new: char, like: char) -> char {
    if like.is_lowercase() {
        toggled(new).unwrap_or(new)
    } else {
        new
    }
}

// ---- Format ---------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormatMove {
    ToggleCase,
    RemoveSeparator,
    ChangeSeparator,
    AddSeparator,
    AddLeadingZeros,
    DropLeadingZeros,
}

/// How many leading zeros may be dropped without losing every character or leaving a separator first.
fn droppable_zeros(chars: &[char]) -> usize {
    let run = chars.iter().take_while(|&&c| c == '0').count();
    match chars.get(run) {
        _ if run == 0 => 0,
        Some(c) if c.is_alphanumeric() => run,
        _ => run - 1,
    }
}

/// The formatting moves possible on `chars`; none when it has no readable character.
fn format_moves(chars: &[char]) -> Vec<FormatMove> {
    if !chars.iter().any(|c| c.is_alphanumeric()) {
        return Vec::new();
    }
    let mut moves = Vec::new();
    if chars.iter().any(|&c| toggled(c).is_some()) {
        moves.push(FormatMove::ToggleCase);
    }
    if chars.iter().any(|c| !c.is_alphanumeric()) {
        moves.push(FormatMove::RemoveSeparator);
        moves.push(FormatMove::ChangeSeparator);
    }
    if chars
        .windows(2)
        .any(|w| w[0].is_alphanumeric() && w[1].is_alphanumeric())
    {
        moves.push(FormatMove::AddSeparator);
    }
    if chars[0].is_ascii_digit() {
        moves.push(FormatMove::AddLeadingZeros);
    }
    if droppable_zeros(chars) > 0 {
        moves.push(FormatMove::DropLeadingZeros);
    }
    moves
}

/// Same answer as `!format_moves(chars).is_empty()`, without collecting the characters.
fn format_applies(serial: &str) -> bool {
    let mut readable = false;
    let mut previous_readable = false;
    let mut other_move = serial.starts_with(|c: char| c.is_ascii_digit());
    for c in serial.chars() {
        let is_readable = c.is_alphanumeric();
        other_move |= !is_readable || previous_readable || toggled(c).is_some();
        readable |= is_readable;
        previous_readable = is_readable;
    }
    readable && other_move
}

/// Applies one random formatting move; false when none is possible.
fn format_step<R: Rng>(rng: &mut R, chars: &mut Vec<char>) -> bool {
    let moves = format_moves(chars);
    if moves.is_empty() {
        return false;
    }
    let chosen = pick(rng, &moves);
    match chosen {
        FormatMove::ToggleCase => {
            let cased: Vec<usize> = (0..chars.len())
                .filter(|&i| toggled(chars[i]).is_some())
                .collect();
            let flipped = if chance(rng, 50) {
                cased
            } else {
                vec![pick(rng, &cased)]
            };
            for i in flipped {
                chars[i] = toggled(chars[i]).unwrap_or(chars[i]);
            }
        }
        FormatMove::RemoveSeparator | FormatMove::ChangeSeparator => {
            let separators: Vec<usize> = (0..chars.len())
                .filter(|&i| !chars[i].is_alphanumeric())
                .collect();
            let at = pick(rng, &separators);
            if chosen == FormatMove::RemoveSeparator {
                chars.remove(at);
            } else {
                let others: Vec<char> = SEPARATORS
                    .iter()
                    .copied()
                    .filter(|&s| s != chars[at])
                    .collect();
                chars[at] = pick(rng, &others);
            }
        }
        FormatMove::AddSeparator => {
            let gaps: Vec<usize> = (1..chars.len())
                .filter(|&i| chars[i - 1].is_alphanumeric() && chars[i].is_alphanumeric())
                .collect();
            let at = pick(rng, &gaps);
            chars.insert(at, pick(rng, &SEPARATORS));
        }
        FormatMove::AddLeadingZeros => {
            for _ in 0..=below(rng, 2) {
                chars.insert(0, '0');
            }
        }
        FormatMove::DropLeadingZeros => {
            let dropped = 1 + below(rng, droppable_zeros(chars));
            chars.drain(..dropped);
        }
    }
    true
}

/// One or two formatting moves (case, separators, leading zeros), never giving back the original.
fn format<R: Rng>(rng: &mut R, original: &[char]) -> Option<Vec<char>> {
    if format_moves(original).is_empty() {
        return None;
    }
    let mut chars = original.to_vec();
    for _ in 0..=below(rng, 2) {
        if !format_step(rng, &mut chars) {
            break;
        }
    }
    // Two moves can undo each other; one more move on the unchanged serial always changes it.
    if chars == original {
        format_step(rng, &mut chars);
    }
    Some(chars)
}

// ---- Confusable -----------------------------------------------------------------------------

/// The look-alike a character is read as, if any (lowercase Latin letters count as capitals).
fn confused_with(c: char) -> Option<char> {
    let key = if c.is_ascii_lowercase() { upper(c) } else { c };
    CONFUSABLES
        .iter()
        .find(|(from, _)| *from == key)
        .map(|&(_, to)| to)
}

/// One or two characters replaced by their look-alikes.
fn confusable<R: Rng>(rng: &mut R, original: &[char]) -> Option<Vec<char>> {
    let mut candidates: Vec<usize> = (0..original.len())
        .filter(|&i| confused_with(original[i]).is_some())
        .collect();
    if candidates.is_empty() {
        return None;
    }
    let mut chars = original.to_vec();
    let replaced = if candidates.len() >= 2 && chance(rng, 40) {
        2
    } else {
        1
    };
    for _ in 0..replaced {
        let at = candidates.swap_remove(below(rng, candidates.len()));
        chars[at] = confused_with(chars[at]).unwrap_or(chars[at]);
    }
    Some(chars)
}

// ---- Partial --------------------------------------------------------------------------------

/// Up to two readable characters as `?`, and/or a leading or trailing run as `*`; 3 stay readable.
fn partial<R: Rng>(rng: &mut R, original: &[char]) -> Option<Vec<char>> {
    let readable = readable_positions(original);
    let n = readable.len();
    if n < 4 {
        return None;
    }
    let budget = n - 3;
    // 0: only `?`, 1: only a `*` run, 2: both.
    let style = if budget >= 2 {
        below(rng, 3)
    } else {
        below(rng, 2)
    };
    let marks = match style {
        0 => 1 + below(rng, budget.min(2)),
        2 => 1 + below(rng, (budget - 1).min(2)),
        _ => 0,
    };
    let run = if style == 0 {
        0
    } else {
        1 + below(rng, (budget - marks).min(4))
    };
    let leading = chance(rng, 50);
    // Readable indices lost under the star, and those left for `?`.
    let (starred, mut open): (Vec<usize>, Vec<usize>) = if leading {
        ((0..run).collect(), (run..n).collect())
    } else {
        ((n - run..n).collect(), (0..n - run).collect())
    };
    let mut chars = original.to_vec();
    for _ in 0..marks {
        let at = open.swap_remove(below(rng, open.len()));
        chars[readable[at]] = '?';
    }
    if run > 0 {
        if leading {
            let cut = readable[starred[run - 1]] + 1;
            let rest = chars[cut..]
                .iter()
                .skip_while(|c| !c.is_alphanumeric() && **c != '?');
            chars = std::iter::once('*').chain(rest.copied()).collect();
        } else {
            let cut = readable[starred[0]];
            let mut kept = chars[..cut].to_vec();
            while kept
                .last()
                .is_some_and(|c| !c.is_alphanumeric() && *c != '?')
            {
                kept.pop();
            }
            kept.push('*');
            chars = kept;
        }
    }
    Some(chars)
}

// ---- Embedded letter ------------------------------------------------------------------------

/// A random Latin capital inserted between two adjacent digits.
fn embedded_letter<R: Rng>(rng: &mut R, original: &[char]) -> Option<Vec<char>> {
    let gaps: Vec<usize> = (1..original.len())
        .filter(|&i| original[i - 1].is_ascii_digit() && original[i].is_ascii_digit())
        .collect();
    if gaps.is_empty() {
        return None;
    }
    let mut chars = original.to_vec();
    let latin: Vec<char> = LATIN.chars().collect();
    chars.insert(pick(rng, &gaps), pick(rng, &latin));
    Some(chars)
}
