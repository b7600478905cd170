//! The deterministic record stream: draws country, weapon, dates, serial and marks for each record.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::calendar::{FIRST_YEAR, LAST_YEAR, civil_from_days, first_day_of, last_day_of};
use crate::catalogue::{Catalogue, Model, catalogue};
use crate::countries::{RECORDING_COUNTRIES, RecordingCountry, region_of};
use crate::import_marks::write_import_mark;
use crate::record::{STATUSES, SyntheticRecord};
use crate::weighted::WeightedTable;

/// Shares of records with a property, in thousandths.
const YEAR_OF_MANUFACTURE_KNOWN: u32 = 600;
const SERIAL_REUSED_FROM_OTHER_MAKE: u32 = 21;
const SERIAL_OBLITERATED: u32 = 10;
const IMPORT_MARKED: u32 = 175;
/// Import marking became common practice only in the late 1960s.
const FIRST_IMPORT_MARK_YEAR: u16 = 1968;

/// Relative shares of `STATUSES`: stolen and lost dominate national lists.
const STATUS_WEIGHTS: [u32; 6] = [25, 38, 10, 9, 12, 6];

/// How many recent serials are kept for reuse at another make; bounds memory.
const RECENT_SERIALS: usize = 1024;

/// Deterministic stream of records: same seed -> same records, byte for byte.
#[derive(Debug, Clone)]
pub struct Generator {
    rng: Pcg64,
    catalogue: &'static Catalogue,
    countries: WeightedTable,
    makes_by_country: Vec<WeightedTable>,
    models_by_make: Vec<WeightedTable>,
    statuses: WeightedTable,
    next_reference: Vec<u64>,
    recent_serials: RecentSerials,
}

impl Generator {
    /// A generator whose whole stream is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut rng = Pcg64::seed_from_u64(seed);
        let catalogue = catalogue();
        let next_reference = RECORDING_COUNTRIES
            .iter()
            .map(|_| rng.gen_range(1..=5000))
            .collect();
        Self {
            rng,
            catalogue,
            countries: WeightedTable::new(RECORDING_COUNTRIES.iter().map(|c| c.weight)),
            makes_by_country: RECORDING_COUNTRIES
                .iter()
                .map(|country| {
                    WeightedTable::new(
                        catalogue
                            .makes
                            .iter()
                            .map(|make| make.weight * affinity(country, make.country)),
                    )
                })
                .collect(),
            models_by_make: catalogue
                .makes
                .iter()
                .map(|make| WeightedTable::new(make.models.iter().map(|m| m.weight)))
                .collect(),
            statuses: WeightedTable::new(STATUS_WEIGHTS),
            next_reference,
            recent_serials: RecentSerials::default(),
        }
    }

    fn per_mille(&mut self, share: u32) -> bool {
        self.rng.gen_range(0..1000) < share
    }

    /// A day between the model's introduction (or 1995) and the end of 2025, leaning towards recent years.
    fn event_day(&mut self, model: &Model) -> i32 {
        let start = first_day_of(model.first_year.max(FIRST_YEAR));
        let span = (last_day_of(LAST_YEAR) - start + 1) as u32;
        let mut offset = self.rng.gen_range(0..span);
        if self.rng.gen_range(0..2u8) == 0 {
            offset = offset.max(self.rng.gen_range(0..span));
        }
        start + offset as i32
    }

    fn calibre(&mut self, model: &Model) -> &'static str {
        // The first calibre listed is the model's usual one: give it two extra tickets.
        let choice = self
            .rng
            .gen_range(0..model.calibre_indices.len() + 2)
            .saturating_sub(2);
        let calibre = &self.catalogue.calibres[model.calibre_indices[choice]];
        if calibre.variants.is_empty() || self.per_mille(550) {
            calibre.name
        } else {
            calibre.variants[self.rng.gen_range(0..calibre.variants.len())]
        }
    }

    fn serial(&mut self, make_index: usize, model: &Model) -> String {
        let mut serial = String::with_capacity(16);
        let reused = self.per_mille(SERIAL_REUSED_FROM_OTHER_MAKE)
            && self
                .recent_serials
                .copy_from_other_make(&mut self.rng, make_index, &mut serial);
        if !reused {
            model.serial_pattern.generate(&mut self.rng, &mut serial);
            self.recent_serials.remember(&serial, make_index);
        }
        serial
    }

    fn import_marks(
        &mut self,
        country: &RecordingCountry,
        model: &Model,
        made: Option<u16>,
        year: u16,
    ) -> String {
        let mut marks = String::new();
        if self.per_mille(IMPORT_MARKED) {
            let importer = if self.per_mille(700) {
                country.code
            } else {
                RECORDING_COUNTRIES[self.countries.pick(&mut self.rng)].code
            };
            if importer != model.country {
                let earliest = made.unwrap_or(model.first_year).max(FIRST_IMPORT_MARK_YEAR);
                let imported = self.rng.gen_range(earliest..=year);
                write_import_mark(&mut self.rng, importer, imported, &mut marks);
            }
        }
        marks
    }
}

impl Iterator for Generator {
    type Item = SyntheticRecord;

    fn next(&mut self) -> Option<SyntheticRecord> {
        let catalogue = self.catalogue;
        let country_index = self.countries.pick(&mut self.rng);
        let country = &RECORDING_COUNTRIES[country_index];
        let make_index = self.makes_by_country[country_index].pick(&mut self.rng);
        let make = &catalogue.makes[make_index];
        let model = &make.models[self.models_by_make[make_index].pick(&mut self.rng)];

        let (year, month, day) = civil_from_days(self.event_day(model));
        let year_of_manufacture = self.per_mille(YEAR_OF_MANUFACTURE_KNOWN).then(|| {
            self.rng
                .gen_range(model.first_year..=model.last_year.min(year))
        });
        let calibre = self.calibre(model);
        let mut serial_number = self.serial(make_index, model);
        let serial_obliterated = self.per_mille(SERIAL_OBLITERATED);
        if serial_obliterated {
            keep_readable_part(&mut self.rng, &mut serial_number);
        }
        let import_marks = self.import_marks(country, model, year_of_manufacture, year);
        let status = STATUSES[self.statuses.pick(&mut self.rng)];

        let mut record_id = String::with_capacity(16);
        let counter = &mut self.next_reference[country_index];
        country
            .id_style
            .write(country.code, year, *counter, &mut record_id);
        *counter += 1;

        Some(SyntheticRecord {
            record_id,
            serial_number,
            make: make.name.to_owned(),
            model: model.name.to_owned(),
            calibre: calibre.to_owned(),
            firearm_type: model.firearm_type,
            country_of_manufacture: model.country,
            recording_country: country.code,
            status,
            event_date: format!("{year:04}-{month:02}-{day:02}"),
            year_of_manufacture,
            import_marks,
            serial_obliterated,
        })
    }
}

/// How much more often a country records weapons made at home or nearby.
fn affinity(country: &RecordingCountry, made_in: &str) -> u32 {
    if country.code == made_in {
        6
    } else if region_of(made_in) == Some(country.region) {
        3
    } else {
        1
    }
}

/// Cuts up to a third (at most three) of the trailing characters off a filed-off serial,
/// keeping at least three readable.
fn keep_readable_part<R: Rng>(rng: &mut R, serial: &mut String) {
    let length = serial.chars().count();
    if length <= 3 {
        return;
    }
    let drawn = rng.gen_range(1..=(length / 3).clamp(1, 3));
    for lost in (1..=drawn).rev() {
        let cut = serial
            .char_indices()
            .nth(length - lost)
            .map_or(serial.len(), |(i, _)| i);
        let readable = serial[..cut].trim_end();
        if readable.chars().count() >= 3 {
            serial.truncate(readable.len());
            return;
        }
    }
}

/// A ring of recently drawn serials and their makes, so a few records can carry a serial that
/// another make also used — the case that makes serial-only matching unreliable.
#[derive(Debug, Clone, Default)]
struct RecentSerials {
    entries: Vec<(String, usize)>,
    next: usize,
}

impl RecentSerials {
    fn remember(&mut self, serial: &str, make_index: usize) {
        if self.entries.len() < RECENT_SERIALS {
            self.entries.push((serial.to_owned(), make_index));
        } else {
            let entry = &mut self.entries[self.next];
            entry.0.clear();
            entry.0.push_str(serial);
            entry.1 = make_index;
        }
        self.next = (self.next + 1) % RECENT_SERIALS;
    }

    /// Copies a remembered serial of a make other than `make_index` into `out`; false if the draw found none.
    fn copy_from_other_make<R: Rng>(
        &self,
        rng: &mut R,
        make_index: usize,
        out: &mut String,
    ) -> bool {
        if self.entries.is_empty() {
            return false;
        }
        let (serial, make) = &self.entries[rng.gen_range(0..self.entries.len())];
        if *make == make_index {
            return false;
        }
        out.push_str(serial);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filed_off_serial_keeps_at_least_three_characters() {
        let mut rng = Pcg64::seed_from_u64(2);
        for original in ["ЕА 1234", "BKR417", "12345", "1234", "123"] {
            let mut serial = original.to_owned();
            keep_readable_part(&mut rng, &mut serial);
            assert!(original.starts_with(&serial), "{original} -> {serial}");
            assert!(serial.chars().count() >= 3, "{original} -> {serial}");
            assert!(!serial.ends_with(' '));
        }
    }

    #[test]
    fn the_serial_ring_stays_bounded() {
        let mut recent = RecentSerials::default();
        for i in 0..(3 * RECENT_SERIALS) {
            recent.remember(&i.to_string(), i % 7);
        }
        assert_eq!(recent.entries.len(), RECENT_SERIALS);
    }

    #[test]
    fn countries_lean_towards_weapons_made_at_home() {
        let zastava = Generator::new(11)
            .filter(|r| r.recording_country == "RS")
            .take(2_000)
            .filter(|r| r.make == "Zastava Arms")
            .count();
        assert!(
            zastava > 200,
            "only {zastava} of 2000 Serbian records are Zastava"
        );
    }
}
