//! The exchange format of national lists: which CSV columns exist, how a row becomes a
//! [`FirearmInput`], and how a record is written back out so that export and import round-trip.

use crate::firearm::{FirearmFields, FirearmInput};
use crate::validation::FieldError;

/// Columns every import file must have, in the order exports write them first.
pub const REQUIRED_COLUMNS: [&str; 10] = [
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
];

/// Columns an import file may add.
pub const OPTIONAL_COLUMNS: [&str; 6] = [
    "year_of_manufacture",
    "import_marks",
    "additional_serials",
    "serial_obliterated",
    "case_reference",
    "notes",
];

/// Separator of several serials in the `additional_serials` column.
pub const SERIAL_SEPARATOR: char = ';';

/// Every column an export writes, in order.
pub fn export_columns() -> impl Iterator<Item = &'static str> {
    REQUIRED_COLUMNS.into_iter().chain(OPTIONAL_COLUMNS)
}

/// Where each known column stands in one file's header.
#[derive(Debug, Clone)]
pub struct ImportHeader {
    positions: Vec<(&'static str, usize)>,
    /// Header names that are not Armstrace columns; they are ignored.
    pub ignored: Vec<String>,
}

/// A header that cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Required columns are absent.
    #[error("the header lacks the column(s) {}; an import needs {}", .0.join(", "), REQUIRED_COLUMNS.join(","))]
    Missing(Vec<&'static str>),
    /// A column appears twice.
    #[error("the column '{0}' appears twice in the header")]
    Duplicate(String),
}

impl ImportHeader {
    /// Reads a header in any column order and any case; a byte-order mark is ignored.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, HeaderError> {
        let mut positions: Vec<(&'static str, usize)> = Vec::new();
        let mut ignored = Vec::new();
        for (index, raw) in names.into_iter().enumerate() {
            let name = raw.trim_start_matches('\u{feff}').trim().to_lowercase();
            match export_columns().find(|c| *c == name) {
                Some(column) if positions.iter().any(|(c, _)| *c == column) => {
                    return Err(HeaderError::Duplicate(column.to_string()));
                }
                Some(column) => positions.push((column, index)),
                None => ignored.push(raw.to_string()),
            }
        }
        let missing: Vec<_> = REQUIRED_COLUMNS
            .into_iter()
            .filter(|c| !positions.iter().any(|(p, _)| p == c))
            .collect();
        if !missing.is_empty() {
            return Err(HeaderError::Missing(missing));
        }
        Ok(ImportHeader { positions, ignored })
    }

    /// Turns one row into an input; values that cannot even be read (a year that is not a
    /// number, a yes/no that is neither) are reported here, the rest by validation.
    pub fn read_row<'a>(
        &self,
        row: impl Fn(usize) -> Option<&'a str>,
    ) -> Result<FirearmInput, Vec<FieldError>> {
        let mut input = FirearmInput::default();
        let mut errors = Vec::new();
        for (column, index) in &self.positions {
            let value = row(*index).map(str::trim).filter(|v| !v.is_empty());
            let Some(value) = value else { continue };
            let text = Some(value.to_string());
            match *column {
                "record_id" => input.record_id = text,
                "serial_number" => input.serial_number = text,
                "make" => input.make = text,
                "model" => input.model = text,
                "calibre" => input.calibre = text,
                "firearm_type" => input.firearm_type = text,
                "country_of_manufacture" => input.country_of_manufacture = text,
                "recording_country" => input.recording_country = text,
                "status" => input.status = text,
                "event_date" => input.event_date = text,
                "import_marks" => input.import_marks = text,
                "case_reference" => input.case_reference = text,
                "notes" => input.notes = text,
                "additional_serials" => {
                    input.additional_serials = Some(
                        value
                            .split(SERIAL_SEPARATOR)
                            .map(|s| s.trim().to_string())
                            .collect(),
                    )
                }
                "year_of_manufacture" => match value.parse() {
                    Ok(year) => input.year_of_manufacture = Some(year),
                    Err(_) => errors.push(FieldError::new(
                        column,
                        "not_a_number",
                        format!("year_of_manufacture '{value}' is not a year such as 1998"),
                    )),
                },
                "serial_obliterated" => match parse_yes_no(value) {
                    Some(flag) => input.serial_obliterated = Some(flag),
                    None => errors.push(FieldError::new(
                        column,
                        "not_a_boolean",
                        format!(
                            "serial_obliterated '{value}' is not one of true, false, yes, no, 1, 0"
                        ),
                    )),
                },
                other => unreachable!("unhandled column {other}"),
            }
        }
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(errors)
        }
    }
}

fn parse_yes_no(value: &str) -> Option<bool> {
    match value.to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Some(true),
        "false" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// A record as one export row, in the order of [`export_columns`].
pub fn export_row(fields: &FirearmFields) -> Vec<String> {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    vec![
        fields.record_id.to_string(),
        fields.serial_number.to_string(),
        fields.make.clone(),
        text(&fields.model),
        text(&fields.calibre),
        fields.firearm_type.as_str().to_string(),
        fields
            .country_of_manufacture
            .map(|c| c.to_string())
            .unwrap_or_default(),
        fields.recording_country.to_string(),
        fields.status.as_str().to_string(),
        fields.event_date.to_string(),
        fields
            .year_of_manufacture
            .map(|y| y.to_string())
            .unwrap_or_default(),
        text(&fields.import_marks),
        fields
            .additional_serials
            .join(&SERIAL_SEPARATOR.to_string()),
        if fields.serial_obliterated {
            "true"
        } else {
            "false"
        }
        .to_string(),
        text(&fields.case_reference),
        text(&fields.notes),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    const HEADER: &str = "Status,record_id,serial_number,make,model,calibre,firearm_type,country_of_manufacture,recording_country,event_date,source_system";

    #[test]
    fn columns_are_found_in_any_order_and_case_and_extra_ones_are_ignored() {
        let header = ImportHeader::parse(HEADER.split(',')).unwrap();
        assert_eq!(header.ignored, ["source_system"]);
        let row: Vec<&str> = "stolen,R1,ABC123,Glock,17,9x19mm,pistol,AT,FR,2020-02-02,X"
            .split(',')
            .collect();
        let input = header.read_row(|i| row.get(i).copied()).unwrap();
        assert_eq!(input.status.as_deref(), Some("stolen"));
        assert_eq!(input.serial_number.as_deref(), Some("ABC123"));
    }

    #[test]
    fn a_header_without_required_columns_names_them() {
        let error = ImportHeader::parse(["record_id", "serial_number"]).unwrap_err();
        let HeaderError::Missing(missing) = &error else {
            panic!("{error:?}")
        };
        assert!(missing.contains(&"make") && missing.contains(&"event_date"));
    }

    #[test]
    fn an_exported_row_reads_back_as_the_same_record() {
        let header = ImportHeader::parse(export_columns()).unwrap();
        let fields = FirearmInput {
            record_id: Some("R-9".into()),
            serial_number: Some("ЖВ 4521".into()),
            make: Some("Izhmash".into()),
            firearm_type: Some("assault_rifle".into()),
            recording_country: Some("UA".into()),
            status: Some("trafficked".into()),
            event_date: Some("2014-06-30".into()),
            year_of_manufacture: Some(1978),
            additional_serials: Some(vec!["ЖВ 4521-1".into(), "77".into()]),
            serial_obliterated: Some(true),
            notes: Some("found, in part".into()),
            ..FirearmInput::default()
        }
        .validate(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
        .unwrap();
        let row = export_row(&fields);
        let input = header.read_row(|i| row.get(i).map(String::as_str)).unwrap();
        assert_eq!(
            input
                .validate(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
                .unwrap(),
            fields
        );
    }
}
