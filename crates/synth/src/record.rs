//! One generated record and its row in the CSV import format.

use std::fmt::Write as _;

/// The columns of the import format, in the order `gen` writes them.
pub const CSV_HEADER: [&str; 13] = [
    "record_id",
    "serial_number",
    "make",
    "model",
    "calibre",
    "firearm_type",
    "country_of_manufacture",
    "recording_country",
    "status",
    "event_date",
    "year_of_manufacture",
    "import_marks",
    "serial_obliterated",
];

/// The status tokens of the import format.
pub const STATUSES: [&str; 6] = [
    "lost",
    "stolen",
    "trafficked",
    "smuggled",
    "seized",
    "recovered",
];

/// One generated record; every field is already a string in import format ("" for absent optional ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticRecord {
    /// The recording country's own reference, unique within that country in one stream.
    pub record_id: String,
    /// The serial as recorded; when `serial_obliterated`, only the part that could be read.
    pub serial_number: String,
    /// The make as marked.
    pub make: String,
    /// The model designation.
    pub model: String,
    /// The calibre, in one of the spellings national lists use for it.
    pub calibre: String,
    /// One of [`crate::FIREARM_TYPES`].
    pub firearm_type: &'static str,
    /// ISO 3166-1 alpha-2 country of manufacture.
    pub country_of_manufacture: &'static str,
    /// ISO 3166-1 alpha-2 country whose NCB owns the record.
    pub recording_country: &'static str,
    /// One of [`STATUSES`].
    pub status: &'static str,
    /// The day the weapon was lost, stolen, seized…, as `YYYY-MM-DD`.
    pub event_date: String,
    /// The year of manufacture, when known; never after the event year.
    pub year_of_manufacture: Option<u16>,
    /// Importer stamps on the weapon, "" if none.
    pub import_marks: String,
    /// Whether the serial was (partly) filed off.
    pub serial_obliterated: bool,
}

impl SyntheticRecord {
    /// The record's fields in [`CSV_HEADER`] order; booleans are `true`/`false`.
    pub fn to_csv_row(&self) -> [String; 13] {
        let mut year = String::new();
        self.fields(&mut year).map(str::to_owned)
    }

    /// The fields as borrowed strings; `year` is scratch space for the year of manufacture.
    pub(crate) fn fields<'a>(&'a self, year: &'a mut String) -> [&'a str; 13] {
        year.clear();
        if let Some(y) = self.year_of_manufacture {
            // Writing to a String cannot fail.
            let _ = write!(year, "{y}");
        }
        [
            &self.record_id,
            &self.serial_number,
            &self.make,
            &self.model,
            &self.calibre,
            self.firearm_type,
            self.country_of_manufacture,
            self.recording_country,
            self.status,
            &self.event_date,
            year,
            &self.import_marks,
            if self.serial_obliterated {
                "true"
            } else {
                "false"
            },
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_follows_the_header_order_and_leaves_absent_fields_empty() {
        let record = SyntheticRecord {
            record_id: "FR-2019-000123".into(),
            serial_number: "BKR417".into(),
            make: "Glock".into(),
            model: "17".into(),
            calibre: "9mm Luger".into(),
            firearm_type: "pistol",
            country_of_manufacture: "AT",
            recording_country: "FR",
            status: "stolen",
            event_date: "2019-03-04".into(),
            year_of_manufacture: None,
            import_marks: String::new(),
            serial_obliterated: false,
        };
        let row = record.to_csv_row();
        assert_eq!(row[0], "FR-2019-000123");
        assert_eq!(
            row[CSV_HEADER
                .iter()
                .position(|c| *c == "year_of_manufacture")
                .unwrap()],
            ""
        );
        assert_eq!(row[12], "false");
        let with_year = SyntheticRecord {
            year_of_manufacture: Some(2011),
            ..record
        };
        assert_eq!(with_year.to_csv_row()[10], "2011");
    }
}
