//! Country codes: ISO 3166-1 alpha-2 plus XK, the code law enforcement uses for Kosovo.

mod table;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A country code Armstrace knows, always upper case (`FR`, `XK`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode([u8; 2]);

/// Why a text is not a country code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE, XK)")]
pub struct UnknownCountry(pub String);

impl CountryCode {
    /// Parses a code in any case, surrounding spaces ignored; refuses codes that are not assigned.
    pub fn parse(text: &str) -> Result<Self, UnknownCountry> {
        let trimmed = text.trim();
        let bytes = trimmed.as_bytes();
        if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(UnknownCountry(text.to_string()));
        }
        let code = [bytes[0].to_ascii_uppercase(), bytes[1].to_ascii_uppercase()];
        let key = std::str::from_utf8(&code).expect("ascii letters");
        match table::COUNTRIES.binary_search_by(|(c, _)| (*c).cmp(key)) {
            Ok(_) => Ok(CountryCode(code)),
            Err(_) => Err(UnknownCountry(text.to_string())),
        }
    }

    /// The two upper-case letters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("country codes are ascii")
    }

    /// The English short name, e.g. "France".
    pub fn name(&self) -> &'static str {
        let key = self.as_str();
        table::COUNTRIES
            .binary_search_by(|(c, _)| (*c).cmp(key))
            .map(|i| table::COUNTRIES[i].1)
            .expect("a CountryCode is always in the table")
    }

    /// Every known country code, in alphabetical order.
    pub fn all() -> impl Iterator<Item = CountryCode> {
        table::COUNTRIES.iter().map(|(c, _)| {
            let b = c.as_bytes();
            CountryCode([b[0], b[1]])
        })
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

impl TryFrom<String> for CountryCode {
    type Error = UnknownCountry;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        CountryCode::parse(&value)
    }
}

impl From<CountryCode> for String {
    fn from(value: CountryCode) -> Self {
        value.as_str().to_string()
    }
}

impl utoipa::PartialSchema for CountryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("ISO 3166-1 alpha-2 country code, or XK"))
            .examples(["FR"])
            .into()
    }
}

impl utoipa::ToSchema for CountryCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_accepted_in_any_case_and_stored_upper_case() {
        assert_eq!(CountryCode::parse(" fr ").unwrap().as_str(), "FR");
        assert_eq!(CountryCode::parse("xk").unwrap().name(), "Kosovo");
    }

    #[test]
    fn unassigned_and_malformed_codes_are_refused() {
        for bad in ["ZZ", "F", "FRA", "1A", "", "É1"] {
            assert!(CountryCode::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn the_table_is_sorted_and_holds_every_member_country() {
        assert!(table::COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(CountryCode::all().count() >= 196);
    }
}
