//! What changed in a record: field-by-field differences kept in its history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::firearm::{FirearmFields, FirearmInput};

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
    /// The fields that changed.
    pub changes: Vec<FieldChange>,
    /// The record's version after the change.
    pub version: i64,
}

/// The fields that differ between `before` (None for a new record) and `after`.
pub fn diff(before: Option<&FirearmFields>, after: &FirearmFields) -> Vec<FieldChange> {
    let as_map = |fields: &FirearmFields| match serde_json::to_value(FirearmInput::from(fields)) {
        Ok(Value::Object(map)) => map,
        _ => unreachable!("a firearm input serialises to an object"),
    };
    let after_map = as_map(after);
    let before_map = before.map(as_map).unwrap_or_default();
    after_map
        .into_iter()
        .filter_map(|(field, to)| {
            let from = before_map.get(&field).cloned().unwrap_or(Value::Null);
            let empty = |v: &Value| {
                v.is_null() || v == &Value::Bool(false) || v.as_array().is_some_and(Vec::is_empty)
            };
            let unchanged = from == to || (before.is_none() && empty(&to));
            (!unchanged).then_some(FieldChange { field, from, to })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let changes = diff(Some(&record("Glock")), &record("Walther"));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "make");
        assert_eq!(changes[0].from, "Glock");
        assert_eq!(changes[0].to, "Walther");
    }

    #[test]
    fn a_new_record_lists_the_fields_it_was_given() {
        let changes = diff(None, &record("Glock"));
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert!(fields.contains(&"serial_number") && fields.contains(&"make"));
        assert!(!fields.contains(&"notes"));
    }
}
