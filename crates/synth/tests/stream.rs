//! The generated stream as its users see it: CSV bytes, record fields and their shares.

use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::OnceLock;

use armstrace_synth::{
    CSV_HEADER, FIREARM_TYPES, Generator, STATUSES, SyntheticRecord, catalogue, write_csv,
};

const ROWS: usize = 200_000;

/// One shared sample, so every test reads the same 200,000 records without regenerating them.
fn sample() -> &'static [SyntheticRecord] {
    static SAMPLE: OnceLock<Vec<SyntheticRecord>> = OnceLock::new();
    SAMPLE.get_or_init(|| Generator::new(20_240_611).take(ROWS).collect())
}

fn csv_bytes(records: u64, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    write_csv(&mut out, records, seed).unwrap();
    out
}

/// The share of the sample matching `predicate`, in thousandths.
fn per_mille(predicate: impl Fn(&SyntheticRecord) -> bool) -> usize {
    sample().iter().filter(|r| predicate(r)).count() * 1000 / ROWS
}

#[test]
fn the_same_seed_gives_identical_csv_bytes() {
    assert_eq!(csv_bytes(5_000, 7), csv_bytes(5_000, 7));
}

/// Pins the stream itself, so a dependency upgrade that changes random values is noticed.
/// A deliberate change to the catalogue or the generator changes these rows: update them then.
#[test]
fn the_stream_for_a_fixed_seed_does_not_change_between_builds() {
    let csv = String::from_utf8(csv_bytes(3, 42)).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(
        rows,
        [
            "1299/2019,28637,Zastava Arms,M70,7.62mm M43,assault_rifle,RS,RS,stolen,2019-07-08,,,false",
            "CA-F00001196,BX980783,Taurus,Model 85,.38 Special,revolver,BR,CA,trafficked,2017-03-22,2006,,false",
            "2083/2020,DJP184,Glock,43,9x19mm,pistol,AT,ZA,lost,2020-06-13,2020,,false",
        ]
    );
}

#[test]
fn different_seeds_give_different_csv() {
    assert_ne!(csv_bytes(100, 7), csv_bytes(100, 8));
}

#[test]
fn the_header_matches_csv_header_and_every_row_has_thirteen_fields() {
    let bytes = csv_bytes(1_000, 1);
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    assert_eq!(reader.headers().unwrap(), CSV_HEADER.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1_000);
    assert!(rows.iter().all(|row| row.len() == CSV_HEADER.len()));
}

#[test]
fn a_csv_row_is_the_record_it_was_written_from() {
    let bytes = csv_bytes(50, 3);
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    for (row, record) in reader.records().zip(Generator::new(3)) {
        assert_eq!(
            row.unwrap(),
            csv::StringRecord::from(record.to_csv_row().to_vec())
        );
    }
}

#[test]
fn writing_no_records_writes_only_the_header() {
    assert_eq!(
        String::from_utf8(csv_bytes(0, 1)).unwrap(),
        format!("{}\n", CSV_HEADER.join(","))
    );
}

#[test]
fn record_ids_are_unique_within_each_recording_country() {
    let mut seen = HashSet::with_capacity(ROWS);
    for record in sample() {
        assert!(
            seen.insert((record.recording_country, record.record_id.as_str())),
            "{} {} appears twice",
            record.recording_country,
            record.record_id
        );
    }
}

#[test]
fn records_are_spread_over_about_forty_recording_countries() {
    let countries: HashSet<&str> = sample().iter().map(|r| r.recording_country).collect();
    assert!(
        (35..=50).contains(&countries.len()),
        "{} countries",
        countries.len()
    );
    assert!(countries.contains("XK"));
    assert!(
        countries
            .iter()
            .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
    );
}

#[test]
fn every_firearm_type_and_status_is_an_allowed_token() {
    for record in sample() {
        assert!(
            FIREARM_TYPES.contains(&record.firearm_type),
            "{}",
            record.firearm_type
        );
        assert!(STATUSES.contains(&record.status), "{}", record.status);
    }
    let statuses: HashSet<&str> = sample().iter().map(|r| r.status).collect();
    assert_eq!(statuses.len(), STATUSES.len());
}

#[test]
fn stolen_and_lost_are_the_most_common_statuses() {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for record in sample() {
        *counts.entry(record.status).or_default() += 1;
    }
    let mut ranked: Vec<(&str, usize)> = counts.into_iter().collect();
    ranked.sort_by_key(|&(status, count)| (std::cmp::Reverse(count), status));
    assert_eq!([ranked[0].0, ranked[1].0], ["stolen", "lost"]);
}

#[test]
fn every_event_date_is_in_range_and_no_weapon_is_made_after_its_event() {
    for record in sample() {
        let date = &record.event_date;
        let parts: Vec<u16> = date.split('-').map(|p| p.parse().unwrap()).collect();
        assert_eq!(date.len(), 10, "{date}");
        assert!(
            ("1995-01-01"..="2025-12-31").contains(&date.as_str()),
            "{date}"
        );
        assert!(
            (1..=12).contains(&parts[1]) && (1..=31).contains(&parts[2]),
            "{date}"
        );
        if let Some(made) = record.year_of_manufacture {
            assert!(made <= parts[0], "made {made}, event {date}");
        }
    }
}

#[test]
fn make_model_type_calibre_and_year_agree_with_the_catalogue() {
    for record in sample() {
        let make = catalogue()
            .make(&record.make)
            .unwrap_or_else(|| panic!("unknown make {}", record.make));
        let model = make.models.iter().find(|m| m.name == record.model).unwrap();
        assert_eq!(
            (record.firearm_type, record.country_of_manufacture),
            (model.firearm_type, model.country)
        );
        let spelled_as_listed = model.calibres.iter().any(|name| {
            let calibre = catalogue().calibre(name).unwrap();
            calibre.name == record.calibre || calibre.variants.contains(&record.calibre.as_str())
        });
        assert!(
            spelled_as_listed,
            "{} {}: {}",
            record.make, record.model, record.calibre
        );
        if let Some(made) = record.year_of_manufacture {
            assert!(
                (model.first_year..=model.last_year).contains(&made),
                "{} {} made {made}",
                record.make,
                record.model
            );
        }
    }
}

#[test]
fn calibres_are_spelled_in_more_than_one_way() {
    let nine_mm: HashSet<&str> = sample()
        .iter()
        .filter(|r| r.make == "Glock" && r.model == "17")
        .map(|r| r.calibre.as_str())
        .collect();
    assert!(
        nine_mm.contains("9x19mm") && nine_mm.contains("9mm Parabellum"),
        "{nine_mm:?}"
    );
}

#[test]
fn the_catalogue_is_drawn_from_widely() {
    let makes: HashSet<&str> = sample().iter().map(|r| r.make.as_str()).collect();
    assert_eq!(makes.len(), catalogue().makes.len());
    let types: HashSet<&str> = sample().iter().map(|r| r.firearm_type).collect();
    assert!(types.len() >= 9, "{types:?}");
}

#[test]
fn some_serials_are_written_in_cyrillic() {
    let share = per_mille(|r| r.serial_number.chars().any(|c| ('А'..='Я').contains(&c)));
    assert!((50..=80).contains(&share), "{share}‰ Cyrillic serials");
}

#[test]
fn short_numeric_serials_are_common() {
    let share = per_mille(|r| {
        r.serial_number.len() <= 7 && r.serial_number.bytes().all(|b| b.is_ascii_digit())
    });
    assert!(share >= 100, "{share}‰ short numeric serials");
}

#[test]
fn some_serials_appear_at_two_different_makes() {
    let mut makes_by_serial: HashMap<&str, HashSet<&str>> = HashMap::new();
    for record in sample() {
        makes_by_serial
            .entry(&record.serial_number)
            .or_default()
            .insert(&record.make);
    }
    let shared = sample()
        .iter()
        .filter(|r| makes_by_serial[r.serial_number.as_str()].len() > 1)
        .count();
    assert!(
        shared * 1000 / ROWS >= 20,
        "only {shared} records share a serial with another make"
    );
}

#[test]
fn optional_fields_appear_about_as_often_as_in_national_lists() {
    let made = per_mille(|r| r.year_of_manufacture.is_some());
    let marked = per_mille(|r| !r.import_marks.is_empty());
    let obliterated = per_mille(|r| r.serial_obliterated);
    assert!(
        (550..=650).contains(&made),
        "{made}‰ with year of manufacture"
    );
    assert!((120..=180).contains(&marked), "{marked}‰ with import marks");
    assert!(
        (5..=15).contains(&obliterated),
        "{obliterated}‰ obliterated"
    );
}

#[test]
fn no_serial_is_empty() {
    assert!(
        sample()
            .iter()
            .all(|r| r.serial_number.chars().count() >= 3)
    );
}

/// A writer that accepts `budget` bytes and then fails like a closed pipe.
struct ClosedPipe {
    budget: usize,
}

impl io::Write for ClosedPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget == 0 {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "reader went away",
            ));
        }
        let taken = buf.len().min(self.budget);
        self.budget -= taken;
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_csv_returns_the_writers_error_instead_of_panicking() {
    for budget in [0, 10, 100_000] {
        let error = write_csv(ClosedPipe { budget }, 50_000, 1).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::BrokenPipe, "budget {budget}");
    }
}
