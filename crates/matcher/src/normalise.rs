//! How a serial number reads for matching. Three forms of one serial:
//! - the **plain** form: upper case, separators removed, scripts kept (`ЖВ-45.21` → `ЖВ4521`);
//! - the **folded** forms: Cyrillic read as Latin (each letter as its look-alike or its
//!   transliteration, so one serial may have several), confusable characters collapsed
//!   (O Q→0, I L→1, S→5, B→8, Z→2, G→6) and leading zeros dropped;
//! - the **stripped** form: letters embedded between digits removed (`369J257` → `369257`), the
//!   way some national files store serials.
//!
//! Folded forms are byte strings over `0-9A-Z` (plus the UTF-8 of any other script's letters).

/// The most folded forms one serial yields (Cyrillic letters read two ways multiply them).
pub const MAX_FOLDED_FORMS: usize = 8;

/// Longest folded form considered, in bytes; longer serials are cut (they are never typed).
pub const MAX_KEY_BYTES: usize = 40;

/// The Cyrillic capitals Armstrace reads, each with its Latin look-alike (if it has one) and its
/// transliteration. A letter without a look-alike reads, in the look-alike form, as a byte of its
/// own (0x80 + its place here), so that one mistyped Cyrillic letter is one edit, not two.
const CYRILLIC: &[(char, Option<u8>, &str)] = &[
    ('А', Some(b'A'), "A"),
    ('Б', None, "B"),
    ('В', Some(b'B'), "V"),
    ('Г', None, "G"),
    ('Д', None, "D"),
    ('Е', Some(b'E'), "E"),
    ('Ё', Some(b'E'), "YO"),
    ('Ж', None, "ZH"),
    ('З', Some(b'3'), "Z"),
    ('И', None, "I"),
    ('Й', None, "Y"),
    ('К', Some(b'K'), "K"),
    ('Л', None, "L"),
    ('М', Some(b'M'), "M"),
    ('Н', Some(b'H'), "N"),
    ('О', Some(b'O'), "O"),
    ('П', None, "P"),
    ('Р', Some(b'P'), "R"),
    ('С', Some(b'C'), "S"),
    ('Т', Some(b'T'), "T"),
    ('У', Some(b'Y'), "U"),
    ('Ф', None, "F"),
    ('Х', Some(b'X'), "KH"),
    ('Ц', None, "TS"),
    ('Ч', None, "CH"),
    ('Ш', None, "SH"),
    ('Щ', None, "SHCH"),
    ('Ъ', None, ""),
    ('Ы', None, "Y"),
    ('Ь', None, ""),
    ('Э', None, "E"),
    ('Ю', None, "YU"),
    ('Я', None, "YA"),
    ('І', Some(b'I'), "I"),
    ('Ї', None, "YI"),
    ('Є', None, "YE"),
    ('Ґ', None, "G"),
];

/// How a Cyrillic capital reads: (look-alike form, transliteration), both folded.
fn cyrillic(c: char) -> Option<(Vec<u8>, Vec<u8>)> {
    let place = CYRILLIC.iter().position(|(letter, _, _)| *letter == c)?;
    let (_, lookalike, translit) = CYRILLIC[place];
    let translit: Vec<u8> = translit.bytes().map(fold_confusable).collect();
    let lookalike = match lookalike {
        Some(latin) => vec![fold_confusable(latin)],
        // Hard and soft signs are not marked on metal: they read as nothing either way.
        None if translit.is_empty() => Vec::new(),
        None => vec![0x80 + place as u8],
    };
    Some((lookalike, translit))
}

/// Every byte a folded form can hold for one character: digits, the Latin letters that do not
/// fold into digits, and the Cyrillic letters that read as a byte of their own.
pub fn folded_alphabet() -> &'static [u8] {
    static ALPHABET: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    ALPHABET.get_or_init(|| {
        let mut alphabet: Vec<u8> = (b'0'..=b'9')
            .chain(b'A'..=b'Z')
            .filter(|b| fold_confusable(*b) == *b)
            .collect();
        alphabet.extend(CYRILLIC.iter().filter_map(|(c, _, _)| match cyrillic(*c) {
            Some((lookalike, _)) if lookalike.len() == 1 && lookalike[0] >= 0x80 => {
                Some(lookalike[0])
            }
            _ => None,
        }));
        alphabet
    })
}

/// Whether `c` is a Cyrillic letter Armstrace reads.
pub fn is_cyrillic(c: char) -> bool {
    c.to_uppercase().next().and_then(cyrillic).is_some()
}

/// The character a confusable ASCII character is read as; others unchanged.
pub fn fold_confusable(b: u8) -> u8 {
    match b {
        b'O' | b'Q' => b'0',
        b'I' | b'L' => b'1',
        b'S' => b'5',
        b'B' => b'8',
        b'Z' => b'2',
        b'G' => b'6',
        other => other,
    }
}

/// One character of a serial as typed, with what it reads as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedChar {
    /// The character as typed (upper-cased).
    pub typed: char,
    /// Its position among the serial's characters, counting from 1 (separators included).
    pub position: usize,
}

/// The plain form: the serial's letters and digits in upper case, with their typed positions;
/// separators and punctuation are dropped.
pub fn plain(serial: &str) -> Vec<TypedChar> {
    serial
        .chars()
        .enumerate()
        .filter(|(_, c)| c.is_alphanumeric())
        .map(|(i, c)| TypedChar {
            typed: c.to_uppercase().next().unwrap_or(c),
            position: i + 1,
        })
        .collect()
}

/// The plain form as a string (for comparing two serials "exactly").
pub fn plain_string(serial: &str) -> String {
    plain(serial).into_iter().map(|c| c.typed).collect()
}

/// How one plain character reads: one form, or two for a Cyrillic letter whose look-alike and
/// transliteration differ.
pub(crate) fn readings(c: char) -> (Vec<u8>, Option<Vec<u8>>) {
    if c.is_ascii_alphanumeric() {
        return (vec![fold_confusable(c.to_ascii_uppercase() as u8)], None);
    }
    if let Some((lookalike, translit)) = cyrillic(c) {
        return if lookalike == translit {
            (lookalike, None)
        } else {
            (lookalike, Some(translit))
        };
    }
    let mut other = String::new();
    other.extend(c.to_uppercase());
    (other.into_bytes(), None)
}

/// How many leading characters read as zero (at most all but one).
pub fn leading_zeros(chars: &[char]) -> usize {
    chars
        .iter()
        .take_while(|c| readings(**c).0 == b"0")
        .count()
        .min(chars.len().saturating_sub(1))
}

/// The folded forms of a plain serial, the look-alike reading first; at most
/// [`MAX_FOLDED_FORMS`], leading zeros dropped, each at most [`MAX_KEY_BYTES`].
pub fn folded_forms(chars: &[char]) -> Vec<Vec<u8>> {
    let chars = &chars[leading_zeros(chars)..];
    let mut forms: Vec<Vec<u8>> = vec![Vec::new()];
    let mut uniform_alternative: Option<Vec<u8>> = None;
    for &c in chars {
        let (first, second) = readings(c);
        match second {
            Some(second) if forms.len() * 2 < MAX_FOLDED_FORMS => {
                let mut doubled = Vec::with_capacity(forms.len() * 2);
                for form in &forms {
                    doubled.push([&form[..], &first[..]].concat());
                    doubled.push([&form[..], &second[..]].concat());
                }
                forms = doubled;
                if let Some(alt) = &mut uniform_alternative {
                    alt.extend_from_slice(&second);
                }
            }
            Some(second) => {
                // Too many ambiguous letters to read every way: keep the look-alike readings
                // and one all-transliterated reading.
                let alt = uniform_alternative.get_or_insert_with(|| forms[forms.len() - 1].clone());
                for form in &mut forms {
                    form.extend_from_slice(&first);
                }
                alt.extend_from_slice(&second);
            }
            None => {
                for form in &mut forms {
                    form.extend_from_slice(&first);
                }
                if let Some(alt) = &mut uniform_alternative {
                    alt.extend_from_slice(&first);
                }
            }
        }
    }
    if let Some(alt) = uniform_alternative {
        forms.push(alt);
    }
    let mut keys: Vec<Vec<u8>> = Vec::with_capacity(forms.len());
    for mut form in forms {
        form.truncate(MAX_KEY_BYTES);
        if !keys.contains(&form) {
            keys.push(form);
        }
    }
    keys.truncate(MAX_FOLDED_FORMS);
    keys
}

/// The plain characters with letters embedded between digits removed (runs of one or two
/// letters with a digit on each side), or None when there are none.
pub fn strip_embedded_letters(chars: &[char]) -> Option<Vec<char>> {
    let mut kept = Vec::with_capacity(chars.len());
    let mut removed = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() && i > 0 && chars[i - 1].is_ascii_digit() {
            let run = chars[i..].iter().take_while(|c| c.is_alphabetic()).count();
            if run <= 2 && chars.get(i + run).is_some_and(|c| c.is_ascii_digit()) {
                removed = true;
                i += run;
                continue;
            }
        }
        kept.push(c);
        i += 1;
    }
    removed.then_some(kept)
}

/// Every folded form and, when it differs, the stripped form of a serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialKeys {
    /// The folded forms, look-alike reading first.
    pub folded: Vec<Vec<u8>>,
    /// The folded stripped form, when the serial has letters embedded between digits.
    pub stripped: Option<Vec<u8>>,
    /// How many leading zeros the folded forms dropped: a serial's length for deciding how many
    /// typing errors it tolerates counts them.
    pub zeros: usize,
}

impl SerialKeys {
    /// The keys of a serial as typed.
    pub fn of(serial: &str) -> Self {
        let chars: Vec<char> = plain(serial).into_iter().map(|c| c.typed).collect();
        let folded = folded_forms(&chars);
        let stripped = strip_embedded_letters(&chars)
            .map(|kept| folded_forms(&kept).swap_remove(0))
            .filter(|key| !folded.contains(key));
        SerialKeys {
            folded,
            stripped,
            zeros: leading_zeros(&chars),
        }
    }

    /// The look-alike folded form: the one sorted indexes use.
    pub fn primary(&self) -> &[u8] {
        &self.folded[0]
    }
}

/// A fast, stable 64-bit hash of a byte string (not for security).
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = (bytes.len() as u64).wrapping_mul(K) ^ 0x2545_F491_4F6C_DD1D;
    for chunk in bytes.chunks(8) {
        let mut word = [0_u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(K);
        h ^= h >> 29;
    }
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 32)
}

/// Shortest folded form that tolerates one edit, and two edits.
pub const MIN_LEN_ONE_EDIT: usize = 4;
/// Shortest folded form indexed with two deletions.
pub const MIN_LEN_TWO_EDITS: usize = 8;
/// Shortest query form that looks up its own two-deletion variants. A shorter query within two
/// edits of a long serial is found without them: that serial's two-deletion variants (indexed)
/// meet the query itself, or its one-deletion variants.
pub const MIN_QUERY_LEN_TWO_EDITS: usize = MIN_LEN_TWO_EDITS;

/// Calls `each` with the hash of `key` and of every form of it with up to `deletions` bytes
/// removed. A form may come more than once (deleting either of two equal bytes gives the same);
/// callers that need each once sort and deduplicate.
pub fn for_each_deletion_variant(key: &[u8], deletions: usize, mut each: impl FnMut(u64)) {
    each(hash_bytes(key));
    if deletions == 0 || key.is_empty() {
        return;
    }
    let mut once = Vec::with_capacity(key.len());
    let mut twice = Vec::with_capacity(key.len());
    for i in 0..key.len() {
        // Deleting either of two equal neighbours gives the same form: skip the repeat.
        if i > 0 && key[i] == key[i - 1] {
            continue;
        }
        once.clear();
        once.extend_from_slice(&key[..i]);
        once.extend_from_slice(&key[i + 1..]);
        each(hash_bytes(&once));
        if deletions >= 2 {
            // Deleting j < i from the once-deleted form is covered when i was j: start at i.
            for j in i..once.len() {
                if j > i && once[j] == once[j - 1] {
                    continue;
                }
                twice.clear();
                twice.extend_from_slice(&once[..j]);
                twice.extend_from_slice(&once[j + 1..]);
                each(hash_bytes(&twice));
            }
        }
    }
}

/// How many deletions a stored form of this length is indexed with.
pub fn indexed_deletions(len: usize) -> usize {
    if len >= MIN_LEN_TWO_EDITS {
        2
    } else if len >= MIN_LEN_ONE_EDIT {
        1
    } else {
        0
    }
}

/// How many deletions a query form of this length is looked up with.
pub fn query_deletions(len: usize) -> usize {
    if len >= MIN_QUERY_LEN_TWO_EDITS {
        2
    } else if len >= MIN_LEN_ONE_EDIT {
        1
    } else {
        0
    }
}

/// How many edits two folded forms of these lengths may differ by and still match.
pub fn allowed_edits(a: usize, b: usize) -> usize {
    let longest = a.max(b);
    if longest >= MIN_LEN_TWO_EDITS {
        2
    } else if longest >= MIN_LEN_ONE_EDIT && a.min(b) >= MIN_LEN_ONE_EDIT - 1 {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(serial: &str) -> Vec<Vec<u8>> {
        SerialKeys::of(serial).folded
    }

    #[test]
    fn separators_case_and_leading_zeros_do_not_matter() {
        assert_eq!(keys("ab-12.34 5"), keys("AB12345"));
        assert_eq!(keys("0012345"), keys("12345"));
        assert_eq!(keys("000"), [b"0"]);
    }

    #[test]
    fn confusable_characters_read_the_same() {
        assert_eq!(keys("O1S8"), keys("0158"));
        assert_eq!(keys("IL25"), keys("11Z5"));
        assert_eq!(keys("G6"), keys("66"));
    }

    #[test]
    fn cyrillic_reads_as_its_look_alike_and_as_its_transliteration() {
        let forms = keys("РХ 1234");
        assert!(forms.contains(&keys("PX1234")[0]), "{forms:?}");
        assert!(forms.contains(&keys("RKH1234")[0]), "{forms:?}");
        assert!(keys("ЖВ4521").contains(&keys("ZHB4521")[0]));
        assert!(keys("ЖВ4521").contains(&keys("ZHV4521")[0]));
        assert!(keys("ЛК4412").contains(&keys("LK4412")[0]));
    }

    #[test]
    fn latin_typed_with_cyrillic_look_alikes_reads_as_latin() {
        assert_eq!(keys("РХ1234")[0], keys("PX1234")[0]);
        assert_eq!(keys("АВС123")[0], keys("ABC123")[0]);
    }

    #[test]
    fn a_cyrillic_letter_without_a_latin_look_alike_is_one_character() {
        assert_eq!(keys("ЯЛ0839")[0].len(), 6);
        assert_eq!(SerialKeys::of("ЧЛ0839").folded[0].len(), 6);
        assert_eq!(SerialKeys::of("0012345").zeros, 2);
    }

    #[test]
    fn many_ambiguous_letters_stay_within_the_form_limit() {
        let forms = keys("ВНРСХУ123");
        assert!(forms.len() <= MAX_FOLDED_FORMS);
        assert!(forms.contains(&keys("VNRSKHU123")[0]));
    }

    #[test]
    fn letters_between_digits_are_stripped_for_the_stripped_form() {
        let stripped = SerialKeys::of("369J257").stripped.unwrap();
        assert_eq!(stripped, SerialKeys::of("369257").folded[0]);
        assert_eq!(SerialKeys::of("AB12345").stripped, None);
        assert_eq!(
            SerialKeys::of("12ABC34").stripped,
            None,
            "a run of three letters is a real part"
        );
    }

    #[test]
    fn deletion_variants_include_the_key_and_every_deletion() {
        let mut hashes = Vec::new();
        for_each_deletion_variant(b"1123", 1, |h| hashes.push(h));
        assert_eq!(hashes[0], hash_bytes(b"1123"));
        assert_eq!(hashes.len(), 4, "1123 -> itself, 123, 113, 112");
        let mut twice = Vec::new();
        for_each_deletion_variant(b"12345", 2, |h| twice.push(h));
        for form in [&b"345"[..], b"125", b"135", b"2345", b"12345"] {
            assert!(twice.contains(&hash_bytes(form)), "{form:?}");
        }
    }
}
