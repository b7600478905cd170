//! Reading a record from a row, whichever driver read it: the async drivers' SQLite and
//! PostgreSQL rows and the plain SQLite connection's (the audit writer reads the records a
//! check found). Each driver says how to get a column of a kind; what makes a [`Firearm`] of
//! the columns is written once.

use armstrace_core::{
    Canonical, CountryCode, Firearm, FirearmFields, FirearmType, RecordId, RecordStatus,
    SerialNumber,
};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use crate::{StoreError, StoreResult};

/// A record's content columns, in the order both backends write them.
pub(crate) const FIELD_COLUMNS: &str = "recording_country, record_id, serial_number, make, \
     model, calibre, firearm_type, country_of_manufacture, status, event_date, \
     year_of_manufacture, import_marks, additional_serials, serial_obliterated, \
     case_reference, notes, make_ref, model_ref, calibre_ref";

/// Every column [`firearm`] reads.
pub(crate) const ALL_COLUMNS: &str = "id, recording_country, record_id, serial_number, make, \
     model, calibre, firearm_type, country_of_manufacture, status, event_date, \
     year_of_manufacture, import_marks, additional_serials, serial_obliterated, \
     case_reference, notes, make_ref, model_ref, calibre_ref, created_at, updated_at, \
     deleted_at, version";

/// A row whose columns are read by name.
pub(crate) trait Columns {
    /// A text column that may be NULL.
    fn text(&self, name: &str) -> StoreResult<Option<String>>;
    /// An integer column that may be NULL.
    fn int(&self, name: &str) -> StoreResult<Option<i64>>;
    /// A true/false column.
    fn flag(&self, name: &str) -> StoreResult<bool>;
    /// A calendar date.
    fn date(&self, name: &str) -> StoreResult<NaiveDate>;
    /// A moment that may be NULL.
    fn time(&self, name: &str) -> StoreResult<Option<DateTime<Utc>>>;
}

fn missing(name: &str) -> StoreError {
    StoreError::Corrupt(format!("{name} is empty"))
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} '{value}'"))
}

/// The record in `row` (as [`ALL_COLUMNS`] selects it).
pub(crate) fn firearm(row: &impl Columns) -> StoreResult<Firearm> {
    let text = |name: &str| row.text(name)?.ok_or_else(|| missing(name));
    let firearm_type = text("firearm_type")?;
    let status = text("status")?;
    let country = text("recording_country")?;
    let additional = text("additional_serials")?;
    let year = row.int("year_of_manufacture")?;
    Ok(Firearm {
        id: row.int("id")?.ok_or_else(|| missing("id"))?,
        fields: FirearmFields {
            record_id: RecordId::parse(&text("record_id")?)
                .map_err(|e| StoreError::Corrupt(e.message))?,
            recording_country: CountryCode::parse(&country)
                .map_err(|_| corrupt("recording_country", &country))?,
            serial_number: SerialNumber::parse(&text("serial_number")?)
                .map_err(|e| StoreError::Corrupt(e.message))?,
            make: text("make")?,
            model: row.text("model")?,
            calibre: row.text("calibre")?,
            firearm_type: FirearmType::parse(&firearm_type)
                .ok_or_else(|| corrupt("firearm_type", &firearm_type))?,
            country_of_manufacture: optional_country(
                row.text("country_of_manufacture")?.as_deref(),
            )?,
            status: RecordStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            event_date: row.date("event_date")?,
            year_of_manufacture: year
                .map(|y| {
                    i32::try_from(y).map_err(|_| corrupt("year_of_manufacture", &y.to_string()))
                })
                .transpose()?,
            import_marks: row.text("import_marks")?,
            additional_serials: serde_json::from_str(&additional)
                .map_err(|_| corrupt("additional_serials", &additional))?,
            serial_obliterated: row.flag("serial_obliterated")?,
            case_reference: row.text("case_reference")?,
            notes: row.text("notes")?,
            canonical: Canonical {
                make: row.text("make_ref")?,
                model: row.text("model_ref")?,
                calibre: row.text("calibre_ref")?,
            },
        },
        created_at: row
            .time("created_at")?
            .ok_or_else(|| missing("created_at"))?,
        updated_at: row
            .time("updated_at")?
            .ok_or_else(|| missing("updated_at"))?,
        deleted_at: row.time("deleted_at")?,
        version: row.int("version")?.ok_or_else(|| missing("version"))?,
    })
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
            fn text(&self, name: &str) -> StoreResult<Option<String>> {
                Ok(self.try_get(name)?)
            }
            fn int(&self, name: &str) -> StoreResult<Option<i64>> {
                Ok(self.try_get(name)?)
            }
            fn flag(&self, name: &str) -> StoreResult<bool> {
                Ok(self.try_get(name)?)
            }
            fn date(&self, name: &str) -> StoreResult<NaiveDate> {
                Ok(self.try_get(name)?)
            }
            fn time(&self, name: &str) -> StoreResult<Option<DateTime<Utc>>> {
                Ok(self.try_get(name)?)
            }
        }
    };
}

sqlx_columns!(sqlx::sqlite::SqliteRow);
sqlx_columns!(sqlx::postgres::PgRow);

impl Columns for rusqlite::Row<'_> {
    fn text(&self, name: &str) -> StoreResult<Option<String>> {
        self.get(name).map_err(plain)
    }
    fn int(&self, name: &str) -> StoreResult<Option<i64>> {
        self.get(name).map_err(plain)
    }
    fn flag(&self, name: &str) -> StoreResult<bool> {
        self.get(name).map_err(plain)
    }
    fn date(&self, name: &str) -> StoreResult<NaiveDate> {
        let text: String = self.get(name).map_err(plain)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| corrupt(name, &text))
    }
    fn time(&self, name: &str) -> StoreResult<Option<DateTime<Utc>>> {
        let Some(text) = self.get::<_, Option<String>>(name).map_err(plain)? else {
            return Ok(None);
        };
        sqlite_time(&text)
            .map(Some)
            .ok_or_else(|| corrupt(name, &text))
    }
}

fn plain(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(error.to_string())
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
