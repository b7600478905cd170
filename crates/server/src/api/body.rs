//! Reading JSON request bodies so that a wrong type names its field and answers 422, and
//! malformed JSON answers 400, always as a problem document.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde::de::DeserializeOwned;

use armstrace_core::FieldError;

use crate::ApiError;

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !(essence == "application/json" || essence.ends_with("+json")) {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the body as application/json, not '{content_type}'"
            )));
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::BadRequest {
                code: "unreadable_body",
                detail: rejection.body_text(),
            })?;
        parse(&body).map(JsonBody)
    }
}

/// Parses JSON, naming the field at fault.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest {
                code: "malformed_json",
                detail: format!("the body is not valid JSON: {inner}"),
            };
        }
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::Validation(vec![FieldError::new(
            &field,
            "invalid_type",
            inner.to_string(),
        )])
    })
}

/// The media type of a request body without its parameters (`text/csv; charset=utf-8` is
/// `text/csv`), and the header as sent, for error messages.
pub fn media_type(headers: &axum::http::HeaderMap) -> (&str, &str) {
    let sent = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (sent.split(';').next().unwrap_or("").trim(), sent)
}
