//! What changed in a record: field-by-field differences kept in its history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::firearm::FirearmFields;

/// What kind of change a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

impl ChangeKind {
    /// The stored token.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deleted => "deleted",
        }
    }

    /// Reads a stored token.
    pub fn parse(text: &str) -> Option<Self> {
        [
            ChangeKind::Created,
            ChangeKind::Updated,
            ChangeKind::Deleted,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }
}

/// One field's value before and after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldChange {
    /// The field, as named in the API.
    pub field: String,
    /// The value before (null when it was absent or the record is new).
    pub from: Value,
    /// The value after (null when it was removed).
    pub to: Value,
}

/// One entry of a record's history: who changed what, when, and by which channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// When the change was made.
    pub at: DateTime<Utc>,
    /// The user who made it.
    pub user: String,
    /// The user's organisation.
    pub organisation: String,
    /// Created, updated or deleted.
    pub kind: ChangeKind,
    /// `api` or `import`.
    pub channel: String,
    /// The fields that changed, with their values before and after (empty for a creation:
    /// the first version is the record as created).
    pub changes: Vec<FieldChange>,
    /// The record's version after the change.
    pub version: i64,
}

/// A record's fields as (name, value) pairs, in the API's order.
fn field_values(fields: &FirearmFields) -> [(&'static str, Value); 16] {
    let text = |value: &Option<String>| value.as_deref().map_or(Value::Null, Value::from);
    [
        ("record_id", Value::from(fields.record_id.as_str())),
        ("serial_number", Value::from(fields.serial_number.as_str())),
        ("make", Value::from(fields.make.as_str())),
        ("model", text(&fields.model)),
        ("calibre", text(&fields.calibre)),
        ("firearm_type", Value::from(fields.firearm_type.as_str())),
        (
            "country_of_manufacture",
            fields
                .country_of_manufacture
                .map_or(Value::Null, |c| Value::from(c.as_str())),
        ),
        (
            "recording_country",
            Value::from(fields.recording_country.as_str()),
        ),
        ("status", Value::from(fields.status.as_str())),
        ("event_date", Value::from(fields.event_date.to_string())),
        (
            "year_of_manufacture",
            fields.year_of_manufacture.map_or(Value::Null, Value::from),
        ),
        ("import_marks", text(&fields.import_marks)),
        (
            "additional_serials",
            Value::from(fields.additional_serials.clone()),
        ),
        ("serial_obliterated", Value::from(fields.serial_obliterated)),
        ("case_reference", text(&fields.case_reference)),
        ("notes", text(&fields.notes)),
    ]
}

/// The fields that differ between `before` and `after`. A creation records no field changes:
/// the first version is the record as created, and every later entry says what changed from it.
pub fn diff(before: &FirearmFields, after: &FirearmFields) -> Vec<FieldChange> {
    if before == after {
        return Vec::new();
    }
    field_values(before)
        .into_iter()
        .zip(field_values(after))
        .filter(|((_, from), (_, to))| from != to)
        .map(|((field, from), (_, to))| FieldChange {
            field: field.to_string(),
            from,
            to,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firearm::FirearmInput;
    use chrono::NaiveDate;

    fn record(make: &str) -> FirearmFields {
        FirearmInput {
            record_id: Some("1".into()),
            serial_number: Some("123".into()),
            make: Some(make.into()),
            firearm_type: Some("pistol".into()),
            recording_country: Some("DE".into()),
            status: Some("lost".into()),
            event_date: Some("2020-01-01".into()),
            ..FirearmInput::default()
        }
        .validate(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
        .unwrap()
    }

    #[test]
    fn a_change_lists_only_the_fields_that_differ() {
        let changes = diff(&record("Glock"), &record("Walther"));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "make");
        assert_eq!(changes[0].from, "Glock");
        assert_eq!(changes[0].to, "Walther");
    }

    #[test]
    fn an_unchanged_record_has_no_changes() {
        assert!(diff(&record("Glock"), &record("Glock")).is_empty());
    }

    #[test]
    fn every_field_of_the_api_is_compared() {
        let names: Vec<_> = field_values(&record("Glock"))
            .map(|(name, _)| name)
            .to_vec();
        let api = serde_json::to_value(FirearmInput::from(&record("Glock"))).unwrap();
        let mut api_names: Vec<_> = api
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        api_names.sort_unstable();
        assert_eq!(sorted, api_names);
    }
}
