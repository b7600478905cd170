//! Every error the API returns, as an `application/problem+json` document with a stable code,
//! the HTTP status, and a sentence saying how to fix the request. Server faults are logged with
//! their cause and hidden from the client.

use armstrace_core::{FieldError, Permission};
use armstrace_store::StoreError;
use armstrace_store::import::ImportError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credentials, or credentials that are not valid.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// Valid credentials without the permission the route needs.
    #[error("{detail}")]
    Forbidden {
        /// The permission that is missing.
        permission: Permission,
        /// What was refused and why.
        detail: String,
    },
    /// A sign-in with a wrong username or password.
    #[error("the username or password is wrong")]
    BadCredentials,
    /// Valid credentials, refused for a reason other than a missing permission: the
    /// organisation is pending or suspended, or the thing belongs to someone else's scope.
    #[error("{detail}")]
    Refused {
        /// A stable reason: `org_pending`, `org_suspended`, `out_of_scope`, `csrf_failed`.
        code: &'static str,
        /// What was refused and why.
        detail: String,
    },
    /// Too many requests (or failed sign-ins): try again after `retry_after` seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// A stable reason.
        code: &'static str,
        /// Seconds to wait.
        retry_after: u64,
        /// What was limited.
        detail: String,
    },
    /// The resource does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request's content is invalid; every bad field is named.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// The change collides with existing data.
    #[error("{message}")]
    Conflict {
        /// A stable reason.
        code: &'static str,
        /// What collided.
        message: String,
    },
    /// The body is of a type the route does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request cannot be understood.
    #[error("{detail}")]
    BadRequest {
        /// A stable reason.
        code: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Something failed on our side; the cause is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize, utoipa::ToSchema)]
/// An RFC 9457 problem document.
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// A short summary.
    pub title: &'static str,
    /// What happened and how to fix it.
    pub detail: String,
    /// The permission that is missing, on 403.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_permission: Option<Permission>,
    /// Every invalid field, on 422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl ApiError {
    fn status_code_title(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::Refused { code, .. } => (StatusCode::FORBIDDEN, code, "Forbidden"),
            ApiError::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "Unauthorized",
            ),
            ApiError::TooManyRequests { code, .. } => {
                (StatusCode::TOO_MANY_REQUESTS, code, "Too many requests")
            }
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            ApiError::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Invalid fields",
            ),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code, "Conflict"),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported media type",
            ),
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code, "Bad request"),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal error",
            ),
        }
    }

    /// The problem document this error is answered as.
    pub fn problem(&self) -> Problem {
        let (status, code, title) = self.status_code_title();
        let detail = match self {
            ApiError::Unauthorized => {
                "send 'Authorization: Bearer <token>' with a valid, unexpired, unrevoked API token, or sign in at POST /api/v1/session".to_string()
            }
            ApiError::Validation(errors) => format!(
                "{} field(s) are invalid: {}",
                errors.len(),
                errors
                    .iter()
                    .map(|e| e.field.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ApiError::Internal(_) => {
                "the server failed to handle the request; it has been logged".to_string()
            }
            other => other.to_string(),
        };
        Problem {
            kind: format!("/problems/{code}"),
            code,
            status: status.as_u16(),
            title,
            detail,
            missing_permission: match self {
                ApiError::Forbidden { permission, .. } => Some(*permission),
                _ => None,
            },
            errors: match self {
                ApiError::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
        }
    }

    /// Refuses because the thing is outside the caller's scope.
    pub fn out_of_scope(detail: impl Into<String>) -> Self {
        ApiError::Refused {
            code: "out_of_scope",
            detail: detail.into(),
        }
    }

    /// One invalid field.
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, code, message.into())])
    }

    /// Refuses for want of `permission`.
    pub fn forbidden(permission: Permission, detail: impl Into<String>) -> Self {
        ApiError::Forbidden {
            permission,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let problem = self.problem();
        let status = StatusCode::from_u16(problem.status).expect("valid status");
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::TooManyRequests { retry_after, .. } = &self {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&retry_after.to_string()).expect("digits"),
            );
        }
        if matches!(self, ApiError::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict { code, message } => ApiError::Conflict { code, message },
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Header(header) => ApiError::Validation(vec![FieldError::new(
                "header",
                "invalid_header",
                header.to_string(),
            )]),
            ImportError::Read { .. } => ApiError::BadRequest {
                code: "unreadable_body",
                detail: error.to_string(),
            },
            ImportError::Store(store) => store.into(),
        }
    }
}
