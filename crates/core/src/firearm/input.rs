//! A firearm record as a person or a national system sent it, before validation, and the rules
//! that turn it into [`FirearmFields`] or into the full list of what is wrong with it.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{FirearmFields, FirearmType, RecordId, RecordStatus, SerialNumber};
use crate::country::CountryCode;
use crate::validation::{FieldError, ValidationErrors};

/// The most other serials (slide, barrel …) one record may list.
pub const MAX_ADDITIONAL_SERIALS: usize = 16;

/// The earliest year of manufacture accepted.
const EARLIEST_YEAR: i32 = 1800;

/// A record as sent: every field optional so that all problems can be reported together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirearmInput {
    /// The recording country's own reference, unique within that country.
    pub record_id: Option<String>,
    /// The serial number exactly as marked.
    pub serial_number: Option<String>,
    /// Manufacturer as marked.
    pub make: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Calibre as written.
    pub calibre: Option<String>,
    /// pistol, revolver, rifle, carbine, assault_rifle, shotgun, submachine_gun, machine_gun,
    /// grenade_launcher or other (common synonyms such as "SMG" are accepted).
    pub firearm_type: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_of_manufacture: Option<String>,
    /// ISO 3166-1 alpha-2 of the country whose NCB owns the record.
    pub recording_country: Option<String>,
    /// lost, stolen, trafficked, smuggled, seized or recovered.
    pub status: Option<String>,
    /// YYYY-MM-DD, not in the future.
    pub event_date: Option<String>,
    /// Year the firearm was made.
    pub year_of_manufacture: Option<i32>,
    /// Import marks.
    pub import_marks: Option<String>,
    /// Other serials on the firearm.
    pub additional_serials: Option<Vec<String>>,
    /// True when the serial was filed off, fully or in part.
    pub serial_obliterated: Option<bool>,
    /// Case reference.
    pub case_reference: Option<String>,
    /// Notes.
    pub notes: Option<String>,
}

/// Longest accepted text per free-text field, in characters.
const TEXT_LIMITS: &[(&str, usize)] = &[
    ("make", 100),
    ("model", 100),
    ("calibre", 50),
    ("import_marks", 200),
    ("case_reference", 100),
    ("notes", 4000),
];

impl FirearmInput {
    /// Validates every field against today's date and returns the record's content, or every
    /// problem found.
    pub fn validate(&self, today: NaiveDate) -> Result<FirearmFields, ValidationErrors> {
        let mut errors = Vec::new();

        let record_id = keep(
            &mut errors,
            required(&self.record_id, "record_id").and_then(RecordId::parse),
        );
        let serial_number = keep(
            &mut errors,
            required(&self.serial_number, "serial_number").and_then(SerialNumber::parse),
        );
        let make = keep(
            &mut errors,
            required(&self.make, "make").and_then(|m| text("make", m)),
        );
        let model = keep(&mut errors, optional_text(&self.model, "model"));
        let calibre = keep(&mut errors, optional_text(&self.calibre, "calibre"));
        let firearm_type = keep(
            &mut errors,
            required(&self.firearm_type, "firearm_type").and_then(|t| {
                FirearmType::parse(t).ok_or_else(|| {
                    FieldError::new(
                        "firearm_type",
                        "unknown_firearm_type",
                        format!(
                            "'{t}' is not a firearm type; use one of {}",
                            FirearmType::ALL.map(|k| k.as_str()).join(", ")
                        ),
                    )
                })
            }),
        );
        let country_of_manufacture = keep(
            &mut errors,
            match non_blank(&self.country_of_manufacture) {
                None => Ok(None),
                Some(code) => country("country_of_manufacture", code).map(Some),
            },
        );
        let recording_country = keep(
            &mut errors,
            required(&self.recording_country, "recording_country")
                .and_then(|c| country("recording_country", c)),
        );
        let status = keep(
            &mut errors,
            required(&self.status, "status").and_then(|s| {
                RecordStatus::parse(s).ok_or_else(|| {
                    FieldError::new(
                        "status",
                        "unknown_status",
                        format!(
                            "'{s}' is not a record status; use one of {}",
                            RecordStatus::ALL.map(|k| k.as_str()).join(", ")
                        ),
                    )
                })
            }),
        );
        let event_date = keep(
            &mut errors,
            required(&self.event_date, "event_date").and_then(|d| date("event_date", d, today)),
        );
        let year_of_manufacture = keep(
            &mut errors,
            match self.year_of_manufacture {
                None => Ok(None),
                Some(year) if year < EARLIEST_YEAR || year > today.year() => Err(FieldError::new(
                    "year_of_manufacture",
                    "out_of_range",
                    format!(
                        "year_of_manufacture {year} is not between {EARLIEST_YEAR} and {}",
                        today.year()
                    ),
                )),
                Some(year) => match event_date.map(|d| d.year()) {
                    Some(event_year) if year > event_year => Err(FieldError::new(
                        "year_of_manufacture",
                        "after_event",
                        format!(
                            "year_of_manufacture {year} is after the event date's year {event_year}"
                        ),
                    )),
                    _ => Ok(Some(year)),
                },
            },
        );
        let import_marks = keep(
            &mut errors,
            optional_text(&self.import_marks, "import_marks"),
        );
        let additional_serials = keep(
            &mut errors,
            additional_serials(self.additional_serials.as_deref()),
        );
        let case_reference = keep(
            &mut errors,
            optional_text(&self.case_reference, "case_reference"),
        );
        let notes = keep(&mut errors, optional_text(&self.notes, "notes"));

        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        Ok(FirearmFields {
            record_id: record_id.expect("no error"),
            recording_country: recording_country.expect("no error"),
            serial_number: serial_number.expect("no error"),
            make: make.expect("no error"),
            model: model.expect("no error"),
            calibre: calibre.expect("no error"),
            firearm_type: firearm_type.expect("no error"),
            country_of_manufacture: country_of_manufacture.expect("no error"),
            status: status.expect("no error"),
            event_date: event_date.expect("no error"),
            year_of_manufacture: year_of_manufacture.expect("no error"),
            import_marks: import_marks.expect("no error"),
            additional_serials: additional_serials.expect("no error"),
            serial_obliterated: self.serial_obliterated.unwrap_or(false),
            case_reference: case_reference.expect("no error"),
            notes: notes.expect("no error"),
            canonical: super::Canonical::default(),
        })
    }
}

impl From<&FirearmFields> for FirearmInput {
    fn from(fields: &FirearmFields) -> Self {
        FirearmInput {
            record_id: Some(fields.record_id.to_string()),
            serial_number: Some(fields.serial_number.to_string()),
            make: Some(fields.make.clone()),
            model: fields.model.clone(),
            calibre: fields.calibre.clone(),
            firearm_type: Some(fields.firearm_type.as_str().to_string()),
            country_of_manufacture: fields.country_of_manufacture.map(|c| c.to_string()),
            recording_country: Some(fields.recording_country.to_string()),
            status: Some(fields.status.as_str().to_string()),
            event_date: Some(fields.event_date.to_string()),
            year_of_manufacture: fields.year_of_manufacture,
            import_marks: fields.import_marks.clone(),
            additional_serials: Some(fields.additional_serials.clone()),
            serial_obliterated: Some(fields.serial_obliterated),
            case_reference: fields.case_reference.clone(),
            notes: fields.notes.clone(),
        }
    }
}

/// The value when valid; otherwise the error goes to `errors`.
fn keep<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(error) => {
            errors.push(error);
            None
        }
    }
}

fn non_blank(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn required<'a>(value: &'a Option<String>, field: &str) -> Result<&'a str, FieldError> {
    non_blank(value)
        .ok_or_else(|| FieldError::new(field, "required", format!("{field} is required")))
}

fn limit(field: &str) -> usize {
    TEXT_LIMITS
        .iter()
        .find(|(name, _)| *name == field)
        .map(|(_, max)| *max)
        .unwrap_or(100)
}

fn text(field: &str, value: &str) -> Result<String, FieldError> {
    let max = limit(field);
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("{field} is longer than {max} characters"),
        ));
    }
    let allows_lines = field == "notes";
    if value
        .chars()
        .any(|c| c.is_control() && !(allows_lines && (c == '\n' || c == '\r' || c == '\t')))
    {
        return Err(FieldError::new(
            field,
            "control_character",
            format!("{field} contains a control character"),
        ));
    }
    Ok(value.to_string())
}

fn optional_text(value: &Option<String>, field: &str) -> Result<Option<String>, FieldError> {
    non_blank(value).map(|v| text(field, v)).transpose()
}

fn country(field: &str, code: &str) -> Result<CountryCode, FieldError> {
    CountryCode::parse(code)
        .map_err(|error| FieldError::new(field, "unknown_country", error.to_string()))
}

fn date(field: &str, text: &str, today: NaiveDate) -> Result<NaiveDate, FieldError> {
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        FieldError::new(
            field,
            "invalid_date",
            format!("'{text}' is not a date; write it as YYYY-MM-DD"),
        )
    })?;
    if date > today {
        return Err(FieldError::new(
            field,
            "in_future",
            format!("{field} {date} is in the future"),
        ));
    }
    if date.year() < EARLIEST_YEAR {
        return Err(FieldError::new(
            field,
            "out_of_range",
            format!("{field} {date} is before {EARLIEST_YEAR}"),
        ));
    }
    Ok(date)
}

fn additional_serials(serials: Option<&[String]>) -> Result<Vec<String>, FieldError> {
    let serials: Vec<&str> = serials
        .unwrap_or_default()
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if serials.len() > MAX_ADDITIONAL_SERIALS {
        return Err(FieldError::new(
            "additional_serials",
            "too_many",
            format!("at most {MAX_ADDITIONAL_SERIALS} additional serials may be given"),
        ));
    }
    serials
        .into_iter()
        .map(|s| {
            SerialNumber::parse(s)
                .map(String::from)
                .map_err(|e| FieldError::new("additional_serials", e.code, e.message))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn complete() -> FirearmInput {
        FirearmInput {
            record_id: Some("FR-2024-000123".into()),
            serial_number: Some("BKR417".into()),
            make: Some("Glock".into()),
            model: Some("17".into()),
            calibre: Some("9x19mm".into()),
            firearm_type: Some("Pistol".into()),
            country_of_manufacture: Some("at".into()),
            recording_country: Some("FR".into()),
            status: Some("Stolen".into()),
            event_date: Some("2024-03-01".into()),
            year_of_manufacture: Some(2015),
            ..FirearmInput::default()
        }
    }

    #[test]
    fn a_complete_record_is_accepted_and_normalised() {
        let fields = complete().validate(today()).unwrap();
        assert_eq!(fields.firearm_type, FirearmType::Pistol);
        assert_eq!(fields.country_of_manufacture.unwrap().as_str(), "AT");
        assert_eq!(fields.status, RecordStatus::Stolen);
        assert!(!fields.serial_obliterated);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let input = FirearmInput {
            serial_number: Some(" ".into()),
            recording_country: Some("QQ".into()),
            event_date: Some("2030-01-01".into()),
            status: Some("misplaced".into()),
            ..complete()
        };
        let errors = input.validate(today()).unwrap_err().0;
        let fields: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            fields,
            [
                ("serial_number", "required"),
                ("recording_country", "unknown_country"),
                ("status", "unknown_status"),
                ("event_date", "in_future"),
            ]
        );
    }

    #[test]
    fn a_year_of_manufacture_after_the_event_is_refused() {
        let input = FirearmInput {
            year_of_manufacture: Some(2025),
            ..complete()
        };
        assert_eq!(
            input.validate(today()).unwrap_err().0[0].code,
            "after_event"
        );
    }

    #[test]
    fn a_record_converted_back_to_input_validates_to_itself() {
        let fields = complete().validate(today()).unwrap();
        assert_eq!(
            FirearmInput::from(&fields).validate(today()).unwrap(),
            fields
        );
    }
}
