//! Import marks: the stamps an importer puts on a weapon when it legally enters a country.

use std::fmt::Write as _;

use rand::Rng;

/// Stamps of importers into the United States, which name the importer and its town.
const US_IMPORTER_STAMPS: [&str; 12] = [
    "CAI ST. ALBANS VT",
    "CAI GEORGIA VT",
    "CENTURY ARMS DELRAY BCH FL",
    "INTERARMS ALEX. VA",
    "K.B.I. HBG. PA",
    "EAA CORP. ROCKLEDGE FL",
    "I.O. INC. PALM BAY FL",
    "SAMCO MIAMI FL",
    "PW ARMS REDMOND WA",
    "TRISTAR N. KANSAS CITY MO",
    "NORTHERN FRONTIER ARMS BOISE ID",
    "GULF COAST IMP. MOBILE AL",
];

/// Invented importers elsewhere; their stamps read `NAME CC YY`.
const OTHER_IMPORTERS: [&str; 10] = [
    "ARMEX",
    "NORDWAFFEN",
    "EUROTAC",
    "BALTARM",
    "IBERARMAS",
    "ALPENJAGD",
    "MARE ARMI",
    "SAVANNA ARMS",
    "PACIFIC DEFENCE",
    "ANDES TIRO",
];

/// Appends a plausible import stamp for a weapon imported into `country` in `year`.
pub fn write_import_mark<R: Rng>(rng: &mut R, country: &str, year: u16, out: &mut String) {
    let short_year = year % 100;
    // Writing to a String cannot fail.
    let _ = if country == "US" {
        write!(
            out,
            "{}",
            US_IMPORTER_STAMPS[rng.gen_range(0..US_IMPORTER_STAMPS.len())]
        )
    } else {
        match rng.gen_range(0..3u8) {
            0 => write!(out, "IMP. {country} {year}"),
            1 => write!(out, "{country} {short_year:02}"),
            _ => {
                let importer = OTHER_IMPORTERS[rng.gen_range(0..OTHER_IMPORTERS.len())];
                write!(out, "{importer} {country} {short_year:02}")
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64;

    #[test]
    fn a_mark_outside_the_united_states_names_the_importing_country() {
        let mut rng = Pcg64::seed_from_u64(5);
        for _ in 0..50 {
            let mut mark = String::new();
            write_import_mark(&mut rng, "FR", 2003, &mut mark);
            assert!(mark.contains("FR"), "{mark}");
            assert!(mark.ends_with("03"), "{mark}");
        }
    }

    #[test]
    fn a_mark_in_the_united_states_is_an_importer_stamp() {
        let mut mark = String::new();
        write_import_mark(&mut Pcg64::seed_from_u64(1), "US", 1999, &mut mark);
        assert!(US_IMPORTER_STAMPS.contains(&mark.as_str()), "{mark}");
    }
}
