//! Script corruptions: Cyrillic letters typed in Latin, and Latin letters typed as their Cyrillic look-alikes.

use rand::Rng;

use super::{below, chance, upper, with_case_of};

/// Cyrillic capitals and the Latin capitals that look the same.
const LOOK_ALIKES: [(char, char); 12] = [
    ('А', 'A'),
    ('В', 'B'),
    ('Е', 'E'),
    ('К', 'K'),
    ('М', 'M'),
    ('Н', 'H'),
    ('О', 'O'),
    ('Р', 'P'),
    ('С', 'C'),
    ('Т', 'T'),
    ('У', 'Y'),
    ('Х', 'X'),
];

/// How Cyrillic capitals are spelled in Latin letters; Ъ and Ь have no spelling.
const TRANSLITERATIONS: [(char, &str); 35] = [
    ('А', "A"),
    ('Б', "B"),
    ('В', "V"),
    ('Г', "G"),
    ('Д', "D"),
    ('Е', "E"),
    ('Ё', "E"),
    ('Ж', "ZH"),
    ('З', "Z"),
    ('И', "I"),
    ('Й', "Y"),
    ('К', "K"),
    ('Л', "L"),
    ('М', "M"),
    ('Н', "N"),
    ('О', "O"),
    ('П', "P"),
    ('Р', "R"),
    ('С', "S"),
    ('Т', "T"),
    ('У', "U"),
    ('Ф', "F"),
    ('Х', "KH"),
    ('Ц', "TS"),
    ('Ч', "CH"),
    ('Ш', "SH"),
    ('Щ', "SHCH"),
    ('Ы', "Y"),
    ('Э', "E"),
    ('Ю', "YU"),
    ('Я', "YA"),
    ('І', "I"),
    ('Ї', "YI"),
    ('Є', "YE"),
    ('Ґ', "G"),
];

/// Whether `c` is in the Cyrillic block.
pub(super) fn is_cyrillic(c: char) -> bool {
    ('\u{400}'..='\u{4FF}').contains(&c)
}

fn look_alike(c: char) -> Option<char> {
    LOOK_ALIKES
        .iter()
        .find(|(cyrillic, _)| *cyrillic == c)
        .map(|&(_, latin)| latin)
}

fn transliteration(c: char) -> Option<&'static str> {
    TRANSLITERATIONS
        .iter()
        .find(|(cyrillic, _)| *cyrillic == c)
        .map(|&(_, latin)| latin)
}

fn cyrillic_look_alike(c: char) -> Option<char> {
    LOOK_ALIKES
        .iter()
        .find(|(_, latin)| *latin == c)
        .map(|&(cyrillic, _)| cyrillic)
}

/// Whether every Cyrillic letter has a Latin spelling, or (with none) some Latin letter has a Cyrillic twin.
pub(super) fn script_applies(serial: &str) -> bool {
    if serial.chars().any(is_cyrillic) {
        serial
            .chars()
            .filter(|&c| is_cyrillic(c))
            .all(|c| transliteration(upper(c)).is_some())
    } else {
        serial
            .chars()
            .any(|c| c.is_ascii_alphabetic() && cyrillic_look_alike(upper(c)).is_some())
    }
}

/// Cyrillic letters typed in Latin, or one or two Latin letters typed as their Cyrillic twins.
pub(super) fn script<R: Rng>(rng: &mut R, original: &[char]) -> Option<Vec<char>> {
    let serial: String = original.iter().collect();
    if !script_applies(&serial) {
        return None;
    }
    if !original.iter().any(|&c| is_cyrillic(c)) {
        let mut chars = original.to_vec();
        let mut candidates: Vec<usize> = (0..chars.len())
            .filter(|&i| {
                chars[i].is_ascii_alphabetic() && cyrillic_look_alike(upper(chars[i])).is_some()
            })
            .collect();
        let typed = if candidates.len() >= 2 && chance(rng, 40) {
            2
        } else {
            1
        };
        for _ in 0..typed {
            let at = candidates.swap_remove(below(rng, candidates.len()));
            let cyrillic = cyrillic_look_alike(upper(chars[at])).unwrap_or(chars[at]);
            chars[at] = with_case_of(cyrillic, chars[at]);
        }
        return Some(chars);
    }
    // One habit per officer most of the time: look-alike keys, or spelling out; sometimes a mix.
    let habit = below(rng, 100);
    let mut chars = Vec::with_capacity(original.len() + 4);
    for &c in original {
        if !is_cyrillic(c) {
            chars.push(c);
            continue;
        }
        let capital = upper(c);
        let by_look = match habit {
            0..45 => true,
            45..80 => false,
            _ => chance(rng, 50),
        };
        let latin = match look_alike(capital) {
            Some(latin) if by_look => latin.to_string(),
            _ => transliteration(capital)?.to_owned(),
        };
        chars.extend(latin.chars().map(|l| with_case_of(l, c)));
    }
    Some(chars)
}
