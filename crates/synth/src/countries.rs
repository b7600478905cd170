//! Recording countries: how many records each enters, its region, and how its NCB numbers records.

use std::fmt::Write as _;

/// A broad region, used to make each country's list lean towards weapons made nearby.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    NorthAmerica,
    LatinAmerica,
    WesternEurope,
    EasternEurope,
    MiddleEast,
    Africa,
    Asia,
    Oceania,
}

/// How a country's NCB writes its own record references. Every style can be read back to its
/// counter (the counter is last, or followed only by a separator and a four-digit year), so
/// distinct counters always give distinct references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordIdStyle {
    /// `FR-2019-000123`
    CodeYearCounter,
    /// `DE/19/004512`
    CodeShortYearCounter,
    /// `4512/2019`
    CounterSlashYear,
    /// `2019004512`
    YearCounter,
    /// `NL.19.04512`
    CodeDotShortYearCounter,
    /// A fixed prefix and a zero-padded counter, e.g. `G000123456`.
    Prefixed(&'static str, usize),
}

/// A country whose NCB records illicit firearms.
#[derive(Debug, Clone, Copy)]
pub struct RecordingCountry {
    /// ISO 3166-1 alpha-2 code (XK for Kosovo).
    pub code: &'static str,
    /// Relative share of all records.
    pub weight: u32,
    /// Where the country lies.
    pub region: Region,
    /// How its record references look.
    pub id_style: RecordIdStyle,
}

use RecordIdStyle::*;
use Region::*;

const fn country(
    code: &'static str,
    weight: u32,
    region: Region,
    id_style: RecordIdStyle,
) -> RecordingCountry {
    RecordingCountry {
        code,
        weight,
        region,
        id_style,
    }
}

/// The recording countries the generator spreads records over.
pub const RECORDING_COUNTRIES: [RecordingCountry; 45] = [
    country("US", 130, NorthAmerica, Prefixed("G", 9)),
    country("CA", 18, NorthAmerica, Prefixed("CA-F", 8)),
    country("MX", 45, LatinAmerica, CounterSlashYear),
    country("BR", 55, LatinAmerica, YearCounter),
    country("AR", 18, LatinAmerica, CodeYearCounter),
    country("CO", 22, LatinAmerica, CounterSlashYear),
    country("CL", 10, LatinAmerica, YearCounter),
    country("PE", 10, LatinAmerica, CounterSlashYear),
    country("GT", 8, LatinAmerica, CodeYearCounter),
    country("JM", 5, LatinAmerica, Prefixed("JCF", 7)),
    country("DE", 55, WesternEurope, CodeShortYearCounter),
    country("FR", 50, WesternEurope, CodeYearCounter),
    country("GB", 40, WesternEurope, Prefixed("GB", 8)),
    country("IT", 40, WesternEurope, CounterSlashYear),
    country("ES", 35, WesternEurope, YearCounter),
    country("NL", 12, WesternEurope, CodeDotShortYearCounter),
    country("BE", 12, WesternEurope, CodeDotShortYearCounter),
    country("AT", 8, WesternEurope, CodeShortYearCounter),
    country("CH", 6, WesternEurope, CodeShortYearCounter),
    country("SE", 10, WesternEurope, Prefixed("SE-", 7)),
    country("FI", 5, WesternEurope, Prefixed("FI-", 7)),
    country("PT", 6, WesternEurope, CounterSlashYear),
    country("GR", 8, WesternEurope, CodeYearCounter),
    country("PL", 20, EasternEurope, CounterSlashYear),
    country("CZ", 8, EasternEurope, CodeYearCounter),
    country("HU", 8, EasternEurope, CodeShortYearCounter),
    country("RO", 12, EasternEurope, YearCounter),
    country("BG", 10, EasternEurope, CounterSlashYear),
    country("RS", 15, EasternEurope, CounterSlashYear),
    country("HR", 8, EasternEurope, CodeShortYearCounter),
    country("BA", 10, EasternEurope, CounterSlashYear),
    country("XK", 6, EasternEurope, CodeYearCounter),
    country("AL", 8, EasternEurope, CodeYearCounter),
    country("MK", 6, EasternEurope, CounterSlashYear),
    country("UA", 30, EasternEurope, CodeYearCounter),
    country("TR", 28, MiddleEast, YearCounter),
    country("IL", 5, MiddleEast, Prefixed("IL", 8)),
    country("ZA", 40, Africa, CounterSlashYear),
    country("NG", 20, Africa, CodeYearCounter),
    country("KE", 12, Africa, CounterSlashYear),
    country("PH", 20, Asia, YearCounter),
    country("TH", 14, Asia, CounterSlashYear),
    country("IN", 15, Asia, CodeYearCounter),
    country("AU", 14, Oceania, Prefixed("AU", 8)),
    country("NZ", 4, Oceania, Prefixed("NZ", 8)),
];

/// The region of a country of manufacture, where the catalogue knows it.
pub fn region_of(code: &str) -> Option<Region> {
    if let Some(country) = RECORDING_COUNTRIES.iter().find(|c| c.code == code) {
        return Some(country.region);
    }
    match code {
        "RU" => Some(EasternEurope),
        "CN" | "JP" => Some(Asia),
        _ => None,
    }
}

impl RecordIdStyle {
    /// Appends the reference for the `counter`-th record of country `code`, recorded in `year`.
    pub fn write(self, code: &str, year: u16, counter: u64, out: &mut String) {
        let short_year = year % 100;
        // Writing to a String cannot fail.
        let _ = match self {
            CodeYearCounter => write!(out, "{code}-{year}-{counter:06}"),
            CodeShortYearCounter => write!(out, "{code}/{short_year:02}/{counter:06}"),
            CounterSlashYear => write!(out, "{counter}/{year}"),
            YearCounter => write!(out, "{year}{counter:06}"),
            CodeDotShortYearCounter => write!(out, "{code}.{short_year:02}.{counter:05}"),
            Prefixed(prefix, width) => write!(out, "{prefix}{counter:0width$}"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(style: RecordIdStyle, code: &str, year: u16, counter: u64) -> String {
        let mut out = String::new();
        style.write(code, year, counter, &mut out);
        out
    }

    #[test]
    fn references_look_like_national_ones() {
        assert_eq!(
            reference(CodeYearCounter, "FR", 2019, 123),
            "FR-2019-000123"
        );
        assert_eq!(
            reference(CodeShortYearCounter, "DE", 2017, 4512),
            "DE/17/004512"
        );
        assert_eq!(reference(CounterSlashYear, "IT", 2003, 4512), "4512/2003");
        assert_eq!(reference(YearCounter, "BR", 2021, 7), "2021000007");
        assert_eq!(
            reference(CodeDotShortYearCounter, "NL", 2005, 42),
            "NL.05.00042"
        );
        assert_eq!(reference(Prefixed("G", 9), "US", 2005, 42), "G000000042");
    }

    #[test]
    fn a_counter_wider_than_its_padding_is_written_whole() {
        assert_eq!(
            reference(YearCounter, "BR", 2021, 12_345_678),
            "202112345678"
        );
    }

    #[test]
    fn country_codes_are_distinct_and_every_maker_country_has_a_region() {
        for (i, country) in RECORDING_COUNTRIES.iter().enumerate() {
            assert!(
                RECORDING_COUNTRIES[..i]
                    .iter()
                    .all(|c| c.code != country.code),
                "{}",
                country.code
            );
        }
        for make in &crate::catalogue().makes {
            for model in &make.models {
                assert!(
                    region_of(model.country).is_some(),
                    "{} {}: {}",
                    make.name,
                    model.name,
                    model.country
                );
            }
        }
    }
}
