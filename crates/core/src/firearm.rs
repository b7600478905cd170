//! The firearm record: its vocabulary (type, status, serial number), its validated content and the
//! stored record with its identity and life cycle.

mod input;
mod vocabulary;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::country::CountryCode;

pub use input::{FirearmInput, MAX_ADDITIONAL_SERIALS};
pub use vocabulary::{FirearmType, RecordId, RecordStatus, SerialNumber};

/// The store's identifier of a firearm record.
pub type FirearmId = i64;

/// What a record says about a firearm, every field already validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirearmFields {
    /// The recording country's own reference, unique within that country.
    pub record_id: RecordId,
    /// The country whose NCB owns the record.
    pub recording_country: CountryCode,
    /// The serial number exactly as marked and typed.
    pub serial_number: SerialNumber,
    /// The manufacturer's name as marked.
    pub make: String,
    /// The model, when known.
    pub model: Option<String>,
    /// The calibre as written, when known.
    pub calibre: Option<String>,
    /// The kind of firearm.
    pub firearm_type: FirearmType,
    /// Where the firearm was made, when known.
    pub country_of_manufacture: Option<CountryCode>,
    /// Lost, stolen, trafficked, smuggled, seized or recovered.
    pub status: RecordStatus,
    /// When the loss, theft, seizure or other recorded event happened.
    pub event_date: NaiveDate,
    /// The year the firearm was made, when known.
    pub year_of_manufacture: Option<i32>,
    /// Import marks stamped on legal import.
    pub import_marks: Option<String>,
    /// Other serial numbers on the firearm (slide, barrel, frame …).
    pub additional_serials: Vec<String>,
    /// True when the serial number was filed off, fully or in part.
    pub serial_obliterated: bool,
    /// The recording agency's case reference.
    pub case_reference: Option<String>,
    /// Free-text notes.
    pub notes: Option<String>,
    /// The reference table's make, model and calibre that what was typed resolved to when the
    /// record was last written; set by the service, never typed.
    #[serde(default)]
    pub canonical: Canonical,
}

/// The reference table's identifiers for a record's make, model and calibre, where what was
/// typed resolved to one entry; `None` where it was ambiguous, unknown or not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Canonical {
    /// The make's identifier (`izhmash` for a record marked "Ижмаш").
    pub make: Option<String>,
    /// The model's identifier, `make/model` (`glock/17`).
    pub model: Option<String>,
    /// The calibre's identifier (`9x19mm` for "9mm Para").
    pub calibre: Option<String>,
}

/// A stored firearm record: its content, identity and life cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Firearm {
    /// The store's identifier.
    pub id: FirearmId,
    /// The record's content.
    #[serde(flatten)]
    pub fields: FirearmFields,
    /// When the record was created.
    pub created_at: DateTime<Utc>,
    /// When the record was last changed.
    pub updated_at: DateTime<Utc>,
    /// When the record was deleted; deleted records are kept with their history but not matched.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Incremented on every change.
    pub version: i64,
}

impl utoipa::PartialSchema for FirearmFields {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
        let string = |description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
        };
        let nullable = |description: &str| {
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::String,
                    Type::Null,
                ]))
                .description(Some(description))
        };
        ObjectBuilder::new()
            .property(
                "record_id",
                string("The recording country's own reference, unique within that country"),
            )
            .property("recording_country", CountryCode::schema())
            .property("serial_number", string("Serial number exactly as marked"))
            .property("make", string("Manufacturer as marked"))
            .property("model", nullable("Model"))
            .property("calibre", nullable("Calibre as written, e.g. 9x19mm"))
            .property("firearm_type", FirearmType::schema())
            .property("country_of_manufacture", nullable("ISO 3166-1 alpha-2"))
            .property("status", RecordStatus::schema())
            .property(
                "event_date",
                string("Date of the recorded event (YYYY-MM-DD), not in the future").format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Date),
                )),
            )
            .property(
                "year_of_manufacture",
                ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::Integer,
                    Type::Null,
                ])),
            )
            .property("import_marks", nullable("Import marks"))
            .property(
                "additional_serials",
                ArrayBuilder::new().items(string("Serial on slide, barrel, frame …")),
            )
            .property(
                "serial_obliterated",
                ObjectBuilder::new().schema_type(Type::Boolean),
            )
            .property("case_reference", nullable("Case reference"))
            .property("notes", nullable("Notes"))
            .property(
                "canonical",
                utoipa::openapi::schema::RefBuilder::new()
                    .ref_location_from_schema_name("Canonical")
                    .description(Some(
                        "What make, model and calibre resolved to in the reference table; \
                         set by the service, not taken on input",
                    )),
            )
            .required("record_id")
            .required("recording_country")
            .required("serial_number")
            .required("make")
            .required("firearm_type")
            .required("status")
            .required("event_date")
            .into()
    }
}

impl utoipa::ToSchema for FirearmFields {}

/// The latest calendar date anywhere on Earth at `now` (UTC+14), so that an event recorded
/// today in a country ahead of UTC is never refused as "in the future".
pub fn latest_date_anywhere(now: DateTime<Utc>) -> NaiveDate {
    (now + chrono::Duration::hours(14)).date_naive()
}
