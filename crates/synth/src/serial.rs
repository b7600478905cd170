//! Serial-number patterns: the small notation the catalogue uses to say how a maker numbers its weapons.

use rand::Rng;

/// Latin letters used in serials; I, O and Q are left out because makers avoid them next to digits.
const LATIN: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// Uppercase Cyrillic letters seen in Soviet-pattern serials (no Ё, Й, Щ, Ъ, Ы, Ь).
const CYRILLIC: [char; 27] = [
    'А', 'Б', 'В', 'Г', 'Д', 'Е', 'Ж', 'З', 'И', 'К', 'Л', 'М', 'Н', 'О', 'П', 'Р', 'С', 'Т', 'У',
    'Ф', 'Х', 'Ц', 'Ч', 'Ш', 'Э', 'Ю', 'Я',
];

/// What one position of a pattern produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glyph {
    Digit,
    Latin,
    Cyrillic,
    Literal(char),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Element {
    glyph: Glyph,
    optional: bool,
}

/// A parsed serial pattern: `9` digit, `A` Latin letter, `Б` Cyrillic letter, `?` optional, `|` alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialPattern {
    source: &'static str,
    alternatives: Vec<Vec<Element>>,
}

impl SerialPattern {
    /// Parses a pattern such as `"AAA999|AA999"`; an empty alternative or a leading `?` is an error.
    pub fn parse(source: &'static str) -> Result<Self, String> {
        let mut alternatives = Vec::new();
        for alternative in source.split('|') {
            let mut elements: Vec<Element> = Vec::new();
            for c in alternative.chars() {
                let glyph = match c {
                    '9' => Glyph::Digit,
                    'A' => Glyph::Latin,
                    'Б' => Glyph::Cyrillic,
                    '?' => {
                        let Some(last) = elements.last_mut() else {
                            return Err(format!(
                                "`?` with nothing before it in serial pattern {source:?}"
                            ));
                        };
                        last.optional = true;
                        continue;
                    }
                    other => Glyph::Literal(other),
                };
                elements.push(Element {
                    glyph,
                    optional: false,
                });
            }
            if !elements
                .iter()
                .any(|e| e.glyph != Glyph::Literal(' ') && !e.optional)
            {
                return Err(format!(
                    "serial pattern {source:?} has an alternative that can be empty"
                ));
            }
            alternatives.push(elements);
        }
        Ok(Self {
            source,
            alternatives,
        })
    }

    /// The pattern as written in the catalogue.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// Whether serials drawn from this pattern can contain Cyrillic letters.
    pub fn uses_cyrillic(&self) -> bool {
        self.alternatives
            .iter()
            .flatten()
            .any(|e| e.glyph == Glyph::Cyrillic)
    }

    /// Appends one serial drawn from the pattern to `out`.
    pub(crate) fn generate<R: Rng>(&self, rng: &mut R, out: &mut String) {
        let alternative = &self.alternatives[rng.gen_range(0..self.alternatives.len())];
        for element in alternative {
            if element.optional && rng.gen_range(0..2u8) == 0 {
                continue;
            }
            out.push(match element.glyph {
                Glyph::Digit => char::from(b'0' + rng.gen_range(0..10u8)),
                Glyph::Latin => char::from(LATIN[rng.gen_range(0..LATIN.len())]),
                Glyph::Cyrillic => CYRILLIC[rng.gen_range(0..CYRILLIC.len())],
                Glyph::Literal(c) => c,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64;

    fn draw(pattern: &'static str, seed: u64) -> String {
        let mut out = String::new();
        SerialPattern::parse(pattern)
            .unwrap()
            .generate(&mut Pcg64::seed_from_u64(seed), &mut out);
        out
    }

    #[test]
    fn a_glock_style_pattern_gives_three_letters_and_three_digits() {
        let serial = draw("AAA999", 7);
        assert_eq!(serial.len(), 6);
        assert!(
            serial[..3].bytes().all(|b| b.is_ascii_uppercase()),
            "{serial}"
        );
        assert!(serial[3..].bytes().all(|b| b.is_ascii_digit()), "{serial}");
    }

    #[test]
    fn literals_and_separators_are_copied() {
        let serial = draw("T1102-99A99999", 3);
        assert!(serial.starts_with("T1102-"), "{serial}");
        assert_eq!(serial.chars().count(), 14);
    }

    #[test]
    fn a_cyrillic_pattern_gives_cyrillic_letters() {
        let pattern = SerialPattern::parse("ББ 9999").unwrap();
        assert!(pattern.uses_cyrillic());
        let serial = draw("ББ 9999", 1);
        let letters: Vec<char> = serial.chars().take(2).collect();
        assert!(letters.iter().all(|c| ('А'..='Я').contains(c)), "{serial}");
        assert_eq!(&serial[serial.len() - 5..serial.len() - 4], " ");
    }

    #[test]
    fn a_pattern_that_can_produce_nothing_is_rejected() {
        assert!(SerialPattern::parse("").is_err());
        assert!(SerialPattern::parse("AAA999|").is_err());
        assert!(SerialPattern::parse("?99").is_err());
        assert!(SerialPattern::parse("9?").is_err());
    }

    proptest! {
        #[test]
        fn serials_have_the_length_the_pattern_allows(seed in any::<u64>()) {
            let serial = draw("AAA?99999?", seed);
            let length = serial.chars().count();
            prop_assert!((6..=8).contains(&length), "{}", serial);
        }

        #[test]
        fn the_same_seed_draws_the_same_serial(seed in any::<u64>()) {
            prop_assert_eq!(draw("ББ 9999|A99999A", seed), draw("ББ 9999|A99999A", seed));
        }
    }
}
