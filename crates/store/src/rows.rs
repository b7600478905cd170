//! Reading a record from a row, whichever driver read it: the async drivers' SQLite and
//! PostgreSQL rows and the plain SQLite connection's (the audit writer reads the records a
//! check found). Each driver says how to get a column of a kind; what makes a [`Firearm`] of
//! the columns is written once. With it, the other column values both backends read and
//! write alike.

use armstrace_core::{
    Canonical, CountryCode, Firearm, FirearmFields, FirearmType, OrgKind, OrgState, Permissions,
    RecordId, RecordStatus, SerialNumber,
};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use crate::{StoreError, StoreResult};

/// A record's content columns, in the order both backends write them (a macro, so that
/// queries can be put together at compile time).
macro_rules! field_columns {
    () => {
        "recording_country, record_id, serial_number, make, model, calibre, firearm_type, \
         country_of_manufacture, status, event_date, year_of_manufacture, import_marks, \
         additional_serials, serial_obliterated, case_reference, notes, make_ref, model_ref, \
         calibre_ref"
    };
}

/// Every column [`firearm`] reads: the id, the content, the provenance.
macro_rules! all_columns {
    () => {
        concat!(
            "id, ",
            $crate::rows::field_columns!(),
            ", created_at, updated_at, deleted_at, version"
        )
    };
}
pub(crate) use {all_columns, field_columns};

/// [`field_columns!`] as a constant.
pub(crate) const FIELD_COLUMNS: &str = field_columns!();

/// [`all_columns!`] as a constant.
pub(crate) const ALL_COLUMNS: &str = all_columns!();

/// A row whose columns are read by position (as [`ALL_COLUMNS`] lists them): a lookup by
/// name compares the name with every column's, which cost the audit writer a fifth of its
/// time.
pub(crate) trait Columns {
    /// A text column that may be NULL.
    fn text(&self, at: usize) -> StoreResult<Option<String>>;
    /// An integer column that may be NULL.
    fn int(&self, at: usize) -> StoreResult<Option<i64>>;
    /// A true/false column.
    fn flag(&self, at: usize) -> StoreResult<bool>;
    /// A calendar date.
    fn date(&self, at: usize) -> StoreResult<NaiveDate>;
    /// A moment that may be NULL.
    fn time(&self, at: usize) -> StoreResult<Option<DateTime<Utc>>>;
}

/// The position of each column in [`ALL_COLUMNS`].
mod at {
    pub const ID: usize = 0;
    pub const RECORDING_COUNTRY: usize = 1;
    pub const RECORD_ID: usize = 2;
    pub const SERIAL_NUMBER: usize = 3;
    pub const MAKE: usize = 4;
    pub const MODEL: usize = 5;
    pub const CALIBRE: usize = 6;
    pub const FIREARM_TYPE: usize = 7;
    pub const COUNTRY_OF_MANUFACTURE: usize = 8;
    pub const STATUS: usize = 9;
    pub const EVENT_DATE: usize = 10;
    pub const YEAR_OF_MANUFACTURE: usize = 11;
    pub const IMPORT_MARKS: usize = 12;
    pub const ADDITIONAL_SERIALS: usize = 13;
    pub const SERIAL_OBLITERATED: usize = 14;
    pub const CASE_REFERENCE: usize = 15;
    pub const NOTES: usize = 16;
    pub const MAKE_REF: usize = 17;
    pub const MODEL_REF: usize = 18;
    pub const CALIBRE_REF: usize = 19;
    pub const CREATED_AT: usize = 20;
    pub const UPDATED_AT: usize = 21;
    pub const DELETED_AT: usize = 22;
    pub const VERSION: usize = 23;
}

fn missing(at: usize) -> StoreError {
    StoreError::Corrupt(format!("{} is empty", column_name(at)))
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} '{value}'"))
}

/// The record in `row`, which has [`ALL_COLUMNS`] in that order.
pub(crate) fn firearm(row: &impl Columns) -> StoreResult<Firearm> {
    let text = |at: usize| row.text(at)?.ok_or_else(|| missing(at));
    let firearm_type = text(at::FIREARM_TYPE)?;
    let status = text(at::STATUS)?;
    let country = text(at::RECORDING_COUNTRY)?;
    let additional = text(at::ADDITIONAL_SERIALS)?;
    let year = row.int(at::YEAR_OF_MANUFACTURE)?;
    Ok(Firearm {
        id: row.int(at::ID)?.ok_or_else(|| missing(at::ID))?,
        fields: FirearmFields {
            record_id: RecordId::parse(&text(at::RECORD_ID)?)
                .map_err(|e| StoreError::Corrupt(e.message))?,
            recording_country: CountryCode::parse(&country)
                .map_err(|_| corrupt("recording_country", &country))?,
            serial_number: SerialNumber::parse(&text(at::SERIAL_NUMBER)?)
                .map_err(|e| StoreError::Corrupt(e.message))?,
            make: text(at::MAKE)?,
            model: row.text(at::MODEL)?,
            calibre: row.text(at::CALIBRE)?,
            firearm_type: FirearmType::parse(&firearm_type)
                .ok_or_else(|| corrupt("firearm_type", &firearm_type))?,
            country_of_manufacture: optional_country(
                row.text(at::COUNTRY_OF_MANUFACTURE)?.as_deref(),
            )?,
            status: RecordStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            event_date: row.date(at::EVENT_DATE)?,
            year_of_manufacture: year
                .map(|y| {
                    i32::try_from(y).map_err(|_| corrupt("year_of_manufacture", &y.to_string()))
                })
                .transpose()?,
            import_marks: row.text(at::IMPORT_MARKS)?,
            additional_serials: serde_json::from_str(&additional)
                .map_err(|_| corrupt("additional_serials", &additional))?,
            serial_obliterated: row.flag(at::SERIAL_OBLITERATED)?,
            case_reference: row.text(at::CASE_REFERENCE)?,
            notes: row.text(at::NOTES)?,
            canonical: Canonical {
                make: row.text(at::MAKE_REF)?,
                model: row.text(at::MODEL_REF)?,
                calibre: row.text(at::CALIBRE_REF)?,
            },
        },
        created_at: row
            .time(at::CREATED_AT)?
            .ok_or_else(|| missing(at::CREATED_AT))?,
        updated_at: row
            .time(at::UPDATED_AT)?
            .ok_or_else(|| missing(at::UPDATED_AT))?,
        deleted_at: row.time(at::DELETED_AT)?,
        version: row.int(at::VERSION)?.ok_or_else(|| missing(at::VERSION))?,
    })
}

/// An organisation's kind as stored.
pub(crate) fn org_kind(text: &str) -> StoreResult<OrgKind> {
    OrgKind::parse(text).ok_or_else(|| StoreError::Corrupt(format!("organisation kind '{text}'")))
}

/// An organisation's state as stored.
pub(crate) fn org_state(text: &str) -> StoreResult<OrgState> {
    OrgState::parse(text).ok_or_else(|| StoreError::Corrupt(format!("organisation state '{text}'")))
}

/// Permissions as stored (`check,record`).
pub(crate) fn permissions(text: &str) -> StoreResult<Permissions> {
    Permissions::parse(text).map_err(StoreError::Corrupt)
}

/// A record's additional serials as they are written: a JSON list.
pub(crate) fn serial_list(serials: &[String]) -> String {
    if serials.is_empty() {
        return "[]".to_string();
    }
    serde_json::to_string(serials).expect("strings serialise")
}

/// Why a second record with the same key is refused.
pub(crate) fn duplicate_record(fields: &FirearmFields) -> String {
    format!(
        "{} already has a record with record_id '{}'",
        fields.recording_country, fields.record_id
    )
}

/// A country column that may be empty.
pub(crate) fn optional_country(text: Option<&str>) -> StoreResult<Option<CountryCode>> {
    text.map(|c| CountryCode::parse(c).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

/// The rows of the async drivers: both read every kind the same way.
macro_rules! sqlx_columns {
    ($row:ty) => {
        impl Columns for $row {
            fn text(&self, at: usize) -> StoreResult<Option<String>> {
                Ok(self.try_get(at)?)
            }
            fn int(&self, at: usize) -> StoreResult<Option<i64>> {
                Ok(self.try_get(at)?)
            }
            fn flag(&self, at: usize) -> StoreResult<bool> {
                Ok(self.try_get(at)?)
            }
            fn date(&self, at: usize) -> StoreResult<NaiveDate> {
                Ok(self.try_get(at)?)
            }
            fn time(&self, at: usize) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(self.try_get(at)?)
            }
        }
    };
}

sqlx_columns!(sqlx::sqlite::SqliteRow);
sqlx_columns!(sqlx::postgres::PgRow);

impl Columns for rusqlite::Row<'_> {
    fn text(&self, at: usize) -> StoreResult<Option<String>> {
        self.get(at).map_err(StoreError::from)
    }
    fn int(&self, at: usize) -> StoreResult<Option<i64>> {
        self.get(at).map_err(StoreError::from)
    }
    fn flag(&self, at: usize) -> StoreResult<bool> {
        self.get(at).map_err(StoreError::from)
    }
    fn date(&self, at: usize) -> StoreResult<NaiveDate> {
        let text: String = self.get(at).map_err(StoreError::from)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| corrupt(column_name(at), &text))
    }
    fn time(&self, at: usize) -> StoreResult<Option<DateTime<Utc>>> {
        let Some(text) = self
            .get::<_, Option<String>>(at)
            .map_err(StoreError::from)?
        else {
            return Ok(None);
        };
        sqlite_time(&text)
            .map(Some)
            .ok_or_else(|| corrupt(column_name(at), &text))
    }
}

fn column_name(at: usize) -> &'static str {
    ALL_COLUMNS.split(',').nth(at).unwrap_or("?").trim()
}

/// A moment as SQLite keeps it: RFC 3339 (what [`crate::hits::stamp`] writes), or with a
/// space for the `T` and an offset (what the async driver writes).
fn sqlite_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_position_names_its_column() {
        let names: Vec<&str> = ALL_COLUMNS.split(',').map(str::trim).collect();
        let positions = [
            ("id", at::ID),
            ("recording_country", at::RECORDING_COUNTRY),
            ("record_id", at::RECORD_ID),
            ("serial_number", at::SERIAL_NUMBER),
            ("make", at::MAKE),
            ("model", at::MODEL),
            ("calibre", at::CALIBRE),
            ("firearm_type", at::FIREARM_TYPE),
            ("country_of_manufacture", at::COUNTRY_OF_MANUFACTURE),
            ("status", at::STATUS),
            ("event_date", at::EVENT_DATE),
            ("year_of_manufacture", at::YEAR_OF_MANUFACTURE),
            ("import_marks", at::IMPORT_MARKS),
            ("additional_serials", at::ADDITIONAL_SERIALS),
            ("serial_obliterated", at::SERIAL_OBLITERATED),
            ("case_reference", at::CASE_REFERENCE),
            ("notes", at::NOTES),
            ("make_ref", at::MAKE_REF),
            ("model_ref", at::MODEL_REF),
            ("calibre_ref", at::CALIBRE_REF),
            ("created_at", at::CREATED_AT),
            ("updated_at", at::UPDATED_AT),
            ("deleted_at", at::DELETED_AT),
            ("version", at::VERSION),
        ];
        assert_eq!(names.len(), positions.len());
        for (name, at) in positions {
            assert_eq!(names[at], name);
        }
        // The content columns are the same, in the same order, after the id.
        let fields: Vec<&str> = FIELD_COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(fields, names[1..=fields.len()]);
    }

    #[test]
    fn sqlite_times_read_in_every_form_sqlite_holds() {
        let at = DateTime::parse_from_rfc3339("2026-11-23T04:05:06.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        for text in [
            "2026-11-23T04:05:06.123456Z",
            "2026-11-23T04:05:06.123456+00:00",
            "2026-11-23 04:05:06.123456+00:00",
            "2026-11-23 04:05:06.123456",
            "2026-11-23T06:05:06.123456+02:00",
        ] {
            assert_eq!(sqlite_time(text), Some(at), "{text}");
        }
        assert_eq!(sqlite_time("23/11/2026"), None);
    }
}
