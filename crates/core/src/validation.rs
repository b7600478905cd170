//! Field-level validation errors, collected so that a user learns every problem at once.

use serde::Serialize;

/// One field that was refused, with a stable code and a sentence saying how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// The field at fault, as named in the API and the import header.
    pub field: String,
    /// A stable machine-readable reason, e.g. `required`, `unknown_country`, `in_future`.
    pub code: &'static str,
    /// What is wrong and how to put it right.
    pub message: String,
}

impl FieldError {
    /// A refusal of `field` for `code`, explained by `message`.
    pub fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_string(),
            code,
            message: message.into(),
        }
    }
}

/// Every field error found in one record; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// A single-field refusal.
    pub fn one(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        ValidationErrors(vec![FieldError::new(field, code, message)])
    }
}
