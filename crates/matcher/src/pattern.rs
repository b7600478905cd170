//! Serials with obliterated characters: `?` for each unreadable character and `*` for an
//! unreadable run (`12?45*`, `*7731`), matched against folded forms.

use crate::normalise::{fold_confusable, folded_forms};

/// The fewest readable characters a pattern must keep to be searched.
pub const MIN_READABLE: usize = 3;

/// One element of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// A readable character, folded.
    Byte(u8),
    /// `?`: exactly one unreadable character.
    One,
    /// `*`: a run of unreadable characters (possibly empty).
    Run,
}

/// A serial with unreadable parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// The tokens, in order.
    pub tokens: Vec<Token>,
}

/// Why a pattern cannot be searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooFewReadable(pub usize);

impl Pattern {
    /// Whether `serial` marks unreadable characters.
    pub fn is_pattern(serial: &str) -> bool {
        serial.contains(['?', '*'])
    }

    /// Reads a pattern: separators are dropped, letters and digits folded like stored serials
    /// (a Cyrillic letter by its look-alike); leading zeros are kept as typed.
    pub fn parse(serial: &str) -> Result<Self, TooFewReadable> {
        let mut tokens = Vec::new();
        for c in serial.chars() {
            match c {
                '?' => tokens.push(Token::One),
                '*' if tokens.last() != Some(&Token::Run) => tokens.push(Token::Run),
                '*' => {}
                c if c.is_alphanumeric() => {
                    let upper = c.to_uppercase().next().unwrap_or(c);
                    let reading = if upper.is_ascii() {
                        vec![fold_confusable(upper as u8)]
                    } else {
                        // A Cyrillic letter reads as its look-alike, like a stored serial's
                        // first folded form.
                        folded_forms(&[upper]).swap_remove(0)
                    };
                    tokens.extend(reading.into_iter().map(Token::Byte));
                }
                _ => {}
            }
        }
        let readable = tokens
            .iter()
            .filter(|t| matches!(t, Token::Byte(_)))
            .count();
        if readable < MIN_READABLE {
            return Err(TooFewReadable(readable));
        }
        Ok(Pattern { tokens })
    }

    /// The readable characters before the first unreadable one.
    pub fn prefix(&self) -> Vec<u8> {
        self.tokens
            .iter()
            .map_while(|t| match t {
                Token::Byte(b) => Some(*b),
                _ => None,
            })
            .collect()
    }

    /// The readable characters after the last unreadable one.
    pub fn suffix(&self) -> Vec<u8> {
        let mut suffix: Vec<u8> = self
            .tokens
            .iter()
            .rev()
            .map_while(|t| match t {
                Token::Byte(b) => Some(*b),
                _ => None,
            })
            .collect();
        suffix.reverse();
        suffix
    }

    /// Whether the pattern has no `*`, so it matches forms of one length only.
    pub fn fixed_length(&self) -> Option<usize> {
        (!self.tokens.contains(&Token::Run)).then_some(self.tokens.len())
    }

    /// Whether `key` matches the whole pattern.
    pub fn matches(&self, key: &[u8]) -> bool {
        let runs = self.tokens.iter().filter(|t| **t == Token::Run).count();
        let fixed = self.tokens.len() - runs;
        // The shapes officers type (no run, or one at an end) match position by position.
        match (runs, self.tokens.first(), self.tokens.last()) {
            (0, _, _) => key.len() == fixed && positionwise(&self.tokens, key),
            (1, Some(Token::Run), _) => {
                key.len() >= fixed && positionwise(&self.tokens[1..], &key[key.len() - fixed..])
            }
            (1, _, Some(Token::Run)) => {
                key.len() >= fixed && positionwise(&self.tokens[..fixed], &key[..fixed])
            }
            _ => glob(&self.tokens, key),
        }
    }
}

/// Tokens without runs against a key of the same length.
fn positionwise(tokens: &[Token], key: &[u8]) -> bool {
    tokens.iter().zip(key).all(|(t, b)| match t {
        Token::Byte(expected) => expected == b,
        _ => true,
    })
}

fn glob(tokens: &[Token], key: &[u8]) -> bool {
    match tokens.split_first() {
        None => key.is_empty(),
        Some((Token::Run, rest)) => (0..=key.len()).any(|skip| glob(rest, &key[skip..])),
        Some((Token::One, rest)) => !key.is_empty() && glob(rest, &key[1..]),
        Some((Token::Byte(b), rest)) => key.first() == Some(b) && glob(rest, &key[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_marks_stand_for_one_character_and_stars_for_a_run() {
        let pattern = Pattern::parse("12?45*").unwrap();
        assert!(pattern.matches(b"123456789"));
        assert!(pattern.matches(b"12945"));
        assert!(!pattern.matches(b"1245"));
        let pattern = Pattern::parse("*7731").unwrap();
        assert!(pattern.matches(b"987731"));
        assert!(!pattern.matches(b"77310"));
    }

    #[test]
    fn a_pattern_reads_like_a_stored_serial() {
        let pattern = Pattern::parse("ab-?o5").unwrap();
        assert!(pattern.matches(b"A8X05"), "B folds to 8 and O to 0");
        assert_eq!(pattern.prefix(), b"A8");
        assert_eq!(pattern.suffix(), b"05");
    }

    #[test]
    fn fewer_than_three_readable_characters_are_refused() {
        assert_eq!(Pattern::parse("1?2*"), Err(TooFewReadable(2)));
    }
}
