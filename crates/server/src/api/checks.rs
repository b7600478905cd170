//! Check routes: one serial as an officer typed it, or a batch of them.

use armstrace_core::{Actor, CountryCode, OrgKind, Permission};
use armstrace_store::audit::AuditWho;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::body::{JsonBody, media_type};
use crate::auth::Authenticated;
use crate::checking::{
    CheckAudit, CheckError, FoundFirearm, Typed, advice, check_batch, check_one, new_check_id,
};
use crate::error::Problem;
use crate::{ApiError, AppState};

/// What an officer asks.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The serial as typed: worn, misread, in either script; `?` for each unreadable character,
    /// `*` for an unreadable run at the start or end (at least 3 readable characters).
    pub serial_number: String,
    /// The make, in any spelling, if known: matches at that make rank first.
    pub make: Option<String>,
    /// The model, if known: among matches alike in every other way, records of this model
    /// (as the reference table resolves it) come first.
    pub model: Option<String>,
    /// The calibre, if known: likewise.
    pub calibre: Option<String>,
    /// For a partner organisation checking for a country's customs administration that has no
    /// access of its own: that country's ISO code. The audit trail records both.
    #[schema(example = "TD")]
    pub on_behalf_of: Option<String>,
    /// The operation the check is made in (its name or reference), kept with its hits.
    pub operation: Option<String>,
}

/// The answer to a check.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckResponse {
    /// This check's identifier.
    pub check_id: String,
    /// The best matches, best first, at most 10.
    pub matches: Vec<FoundFirearm>,
    /// How many records matched in all.
    pub total: usize,
    /// How many records matched as closely as the best one.
    pub equally_close: usize,
    /// What to give to narrow the answer, when more records are as close than are shown.
    pub advice: Option<String>,
}

/// Checks a serial number against every live record.
#[utoipa::path(post, path = "/checks", tag = "checks", request_body = CheckRequest,
    responses(
        (status = 200, description = "The matches, best first", body = CheckResponse),
        (status = 403, description = "No 'check' permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No readable serial", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn check(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonBody(request): JsonBody<CheckRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    caller.require(Permission::Check)?;
    let audit = check_audit(
        &state,
        &caller.0,
        request.on_behalf_of.as_deref(),
        request.operation.as_deref(),
    )
    .await?;
    let make = request.make.as_deref();
    let check_id = new_check_id();
    let detail = serde_json::Map::new();
    let (outcome, matches) = check_one(
        &state.index,
        &state.reference,
        &audit,
        &check_id,
        Typed {
            serial: &request.serial_number,
            make,
            model: request.model.as_deref(),
            calibre: request.calibre.as_deref(),
        },
        detail,
    )
    .await
    .map_err(check_error)?;
    Ok(Json(CheckResponse {
        check_id,
        advice: advice(&outcome, make.is_some_and(|m| !m.trim().is_empty())),
        total: outcome.total,
        equally_close: outcome.equally_close,
        matches,
    }))
}

/// Who the trail records for a check, refusing `on_behalf_of` from anyone but a partner, and
/// for a country whose customs administration has access of its own.
pub(crate) async fn check_audit(
    state: &AppState,
    actor: &Actor,
    on_behalf_of: Option<&str>,
    operation: Option<&str>,
) -> Result<CheckAudit, ApiError> {
    let operation = operation
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_string);
    if operation.as_ref().is_some_and(|o| o.chars().count() > 200) {
        return Err(ApiError::invalid(
            "operation",
            "too_long",
            "an operation's name or reference is at most 200 characters",
        ));
    }
    let on_behalf_of = on_behalf_of
        .filter(|c| !c.trim().is_empty())
        .map(|c| {
            CountryCode::parse(c)
                .map_err(|e| ApiError::invalid("on_behalf_of", "invalid_country", e.to_string()))
        })
        .transpose()?;
    if let Some(country) = on_behalf_of {
        if actor.org_kind != OrgKind::Partner {
            return Err(ApiError::out_of_scope(
                "only a partner organisation checks on behalf of a country's customs administration",
            ));
        }
        let own_access = state.store.organisations().await?.into_iter().find(|o| {
            o.kind == OrgKind::Customs
                && o.country == Some(country)
                && o.state == armstrace_core::OrgState::Approved
        });
        if let Some(customs) = own_access {
            return Err(ApiError::out_of_scope(format!(
                "{country}'s customs administration has access of its own ({}); a partner checks only for one that has none",
                customs.name
            )));
        }
    }
    Ok(CheckAudit {
        log: state.audit.clone(),
        who: AuditWho::from(actor),
        on_behalf_of,
        policy: state.hit_policy.clone(),
        operation,
    })
}

fn check_error(error: CheckError) -> ApiError {
    match error {
        CheckError::Query(query) => ApiError::Validation(vec![armstrace_core::FieldError::new(
            "serial_number",
            match query {
                armstrace_matcher::QueryError::Empty => "no_readable_characters",
                armstrace_matcher::QueryError::TooFewReadable(_) => "too_few_readable_characters",
            },
            query.to_string(),
        )]),
        CheckError::Store(store) => store.into(),
        CheckError::Input(message) => ApiError::Validation(vec![armstrace_core::FieldError::new(
            "header",
            "invalid_header",
            message,
        )]),
    }
}

/// Checks every row of a CSV (a `serial_number` column; `make`, `model`, `calibre` and any other
/// columns optional and carried through) and answers one NDJSON line per row, in order:
/// `{"input": {…}, "matches": [{record_id, recording_country, serial_number, make, confidence, score, differences}]}`.
/// A partner checking for a country sends its code in `X-On-Behalf-Of`. Every row is in the
/// audit trail before its answer is sent.
#[utoipa::path(post, path = "/checks/batch", tag = "checks",
    params(("X-On-Behalf-Of" = Option<String>, Header, description = "For a partner: the ISO code of the country it checks for"),
           ("X-Operation" = Option<String>, Header, description = "The operation the checks are made in, kept with their hits")),
    request_body(content = String, description = "CSV with a serial_number column", content_type = "text/csv"),
    responses(
        (status = 200, description = "One JSON line per input row", content_type = "application/x-ndjson"),
        (status = 415, description = "Not CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No serial_number column", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn batch(
    State(state): State<AppState>,
    caller: Authenticated,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    caller.require(Permission::Check)?;
    let on_behalf_of = headers
        .get("x-on-behalf-of")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let operation = headers
        .get("x-operation")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let audit = check_audit(
        &state,
        &caller.0,
        on_behalf_of.as_deref(),
        operation.as_deref(),
    )
    .await?;
    let (media, content_type) = media_type(&headers);
    if media != "text/csv" {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the batch as text/csv with a serial_number column, not '{content_type}'"
        )));
    }
    let reader = SyncIoBridge::new(StreamReader::new(
        body.into_data_stream().map_err(std::io::Error::other),
    ));
    let (lines_in, mut lines) = mpsc::channel(256);
    let worker = tokio::spawn(check_batch(
        state.index.clone(),
        state.reference.clone(),
        audit,
        reader,
        lines_in,
    ));
    // The first line, or the error that came before any: a bad header is a 422, not a stream.
    let first = match lines.recv().await {
        Some(line) => Some(line),
        None => match worker.await {
            Ok(Ok(_)) => None,
            Ok(Err(error)) => return Err(check_error(error)),
            Err(error) => return Err(ApiError::Internal(error.to_string())),
        },
    };
    let stream = futures::stream::unfold((first, lines), |(pending, mut lines)| async move {
        let line = match pending {
            Some(line) => line,
            None => lines.recv().await?,
        };
        let mut bytes = serde_json::to_vec(&line).expect("lines serialise");
        bytes.push(b'\n');
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from(bytes)),
            (None, lines),
        ))
    });
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(response)
}
