//! Trace requests: drafts, the moves of their life (one route each), messages, attachments,
//! lists of incoming and outgoing requests with their CSV and PDF exports, and a request's
//! case file as PDF. The rules are in [`crate::traces`].

use armstrace_core::trace::{
    Circumstances, Late, Priority, TraceAction, TraceAnswer, TraceContent, TraceStatus,
    TracedFirearm,
};
use armstrace_core::{Actor, Permission};
use armstrace_store::traces::{Attachment, Direction, Trace, TraceFilter};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::body::{JsonBody, media_type, parse};
use crate::auth::Authenticated;
use crate::error::Problem;
use crate::traces::{self as rules, ActionInput, Draft, TraceView, country_field};
use crate::{ApiError, AppState};

/// A request as its writer sends it. Country codes are ISO 3166-1 alpha-2.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceDraft {
    /// The country asked (its NCB answers); may wait until the request is sent.
    pub to_country: Option<String>,
    /// For a partner: the country it asks for.
    pub on_behalf_of: Option<String>,
    /// The firearm as identified.
    #[serde(default)]
    pub firearm: TracedFirearm,
    /// Where and how it was found.
    #[serde(default)]
    pub circumstances: Circumstances,
    /// The legal basis of the request.
    pub legal_basis: Option<String>,
    /// What the answer will be used for.
    pub intended_use: Option<String>,
    /// `routine` (the default) or `urgent`.
    pub priority: Option<Priority>,
    /// Why it is urgent (required when urgent).
    pub urgency: Option<String>,
}

impl TraceDraft {
    fn into_draft(self) -> Result<Draft, ApiError> {
        Ok(Draft {
            to_country: country_field("to_country", self.to_country.as_deref())?,
            on_behalf_of: country_field("on_behalf_of", self.on_behalf_of.as_deref())?,
            content: TraceContent {
                firearm: self.firearm,
                circumstances: self.circumstances,
                legal_basis: self.legal_basis,
                intended_use: self.intended_use,
                priority: self.priority,
                urgency: self.urgency,
            },
        })
    }

    fn of(trace: &Trace) -> Self {
        let c = trace.content.clone();
        TraceDraft {
            to_country: trace.to_country.map(|c| c.as_str().to_string()),
            on_behalf_of: None,
            firearm: c.firearm,
            circumstances: c.circumstances,
            legal_basis: c.legal_basis,
            intended_use: c.intended_use,
            priority: c.priority,
            urgency: c.urgency,
        }
    }
}

/// Writes a draft trace request. Nothing is sent: the recipient sees it once `send` succeeds.
#[utoipa::path(post, path = "/traces", tag = "traces", request_body = TraceDraft,
    responses(
        (status = 201, description = "The draft, with what it lacks and where to send it", body = TraceView),
        (status = 403, description = "No 'trace' permission, or the secretariat", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonBody(draft): JsonBody<TraceDraft>,
) -> Result<(StatusCode, Json<TraceView>), ApiError> {
    let actor = caller.require(Permission::Trace)?;
    let trace = rules::create(&state, actor, draft.into_draft()?).await?;
    let view = rules::view(&state, actor, trace.id).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Which requests.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TraceQuery {
    /// `incoming` (to the caller's country, for an NCB) or `outgoing`; both when absent.
    pub direction: Option<Direction>,
    /// Only in this status.
    pub status: Option<TraceStatus>,
    /// Only of this priority.
    pub priority: Option<Priority>,
    /// Only those overdue now.
    #[serde(default)]
    pub overdue: bool,
    /// Only those asking or asked by this country.
    pub country: Option<String>,
    /// Written on or after (YYYY-MM-DD).
    pub from: Option<chrono::NaiveDate>,
    /// Written on or before (YYYY-MM-DD).
    pub to: Option<chrono::NaiveDate>,
    /// Only requests older than this id (the previous page's `next`).
    pub before: Option<i64>,
    /// At most this many (1 to 200, 50 when absent; exports up to 10,000).
    pub limit: Option<u32>,
    /// For `/traces/export`: `csv` (the default) or `pdf`.
    pub format: Option<ExportFormat>,
}

/// An export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Comma-separated values, one request a row.
    Csv,
    /// A printable list.
    Pdf,
}

/// A request in a list, with what is late about it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TraceItem {
    /// The request.
    #[serde(flatten)]
    pub trace: Trace,
    /// What is late now.
    #[schema(value_type = Option<String>)]
    pub late: Option<Late>,
}

/// A page of requests.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TracePage {
    /// Newest first.
    pub traces: Vec<TraceItem>,
    /// Pass as `before` for the next page; absent on the last.
    pub next: Option<i64>,
}

/// The filter a query names, for `actor`.
pub(crate) fn filter(
    state: &AppState,
    actor: &Actor,
    query: &TraceQuery,
    default: u32,
    most: u32,
) -> Result<TraceFilter, ApiError> {
    let limit = query.limit.unwrap_or(default);
    if !(1..=most).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "out_of_range",
            format!("limit is 1 to {most}"),
        ));
    }
    let mut filter = TraceFilter::new(rules::scope(actor), limit);
    filter.direction = query.direction;
    filter.status = query.status;
    filter.priority = query.priority;
    filter.overdue_at = query.overdue.then(|| state.clock.now());
    filter.country = country_field("country", query.country.as_deref())?;
    filter.from = query.from;
    filter.to = query.to;
    filter.before = query.before;
    Ok(filter)
}

/// The requests the caller may see (incoming and outgoing), newest first.
#[utoipa::path(get, path = "/traces", tag = "traces", params(TraceQuery),
    responses((status = 200, description = "Requests, newest first", body = TracePage)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<TraceQuery>,
) -> Result<Json<TracePage>, ApiError> {
    let actor = caller.require(Permission::Trace)?;
    let filter = filter(&state, actor, &query, 50, 200)?;
    let traces = state.store.traces(&filter).await?;
    let next = (traces.len() == filter.limit as usize)
        .then(|| traces.last().map(|t| t.id))
        .flatten();
    let now = state.clock.now();
    Ok(Json(TracePage {
        traces: traces
            .into_iter()
            .map(|trace| TraceItem {
                late: trace.late(now),
                trace,
            })
            .collect(),
        next,
    }))
}

/// The same list as a file for the case file: CSV or PDF (up to 10,000 requests).
#[utoipa::path(get, path = "/traces/export", tag = "traces", params(TraceQuery),
    responses(
        (status = 200, description = "The list as CSV", content_type = "text/csv"),
        (status = 200, description = "The list as PDF", content_type = "application/pdf"),
    ))]
pub async fn export(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<TraceQuery>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Permission::Trace)?;
    let filter = filter(&state, actor, &query, 10_000, 10_000)?;
    let traces = state.store.traces(&filter).await?;
    let now = state.clock.now();
    let (content_type, name, bytes) = match query.format.unwrap_or(ExportFormat::Csv) {
        ExportFormat::Csv => (
            "text/csv; charset=utf-8",
            "trace-requests.csv",
            crate::trace_export::list_csv(&traces, now),
        ),
        ExportFormat::Pdf => (
            "application/pdf",
            "trace-requests.pdf",
            crate::trace_export::list_pdf(&traces, actor, now),
        ),
    };
    Ok(file(content_type, name, bytes))
}

/// `Content-Disposition` for a download named `name`: an ASCII fallback, and the name itself
/// percent-encoded (RFC 6266 and 5987).
fn disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

fn file(content_type: &str, name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition(name)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// A request with its status, timeline, chain, attachments, what it lacks, where to send it
/// and what the caller may do.
#[utoipa::path(get, path = "/traces/{id}", tag = "traces",
    params(("id" = i64, Path, description = "The request")),
    responses(
        (status = 200, description = "The request", body = TraceView),
        (status = 404, description = "No such request the caller may see", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<TraceView>, ApiError> {
    let actor = caller.require(Permission::Trace)?;
    Ok(Json(rules::view(&state, actor, id).await?))
}

/// RFC 7396: `patch` merged into `target` (null removes).
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Changes a draft, or a request sent back for more information, by JSON merge patch
/// (RFC 7396) on the fields of `POST /traces`. `If-Match: "<version>"` refuses a stale change.
#[utoipa::path(patch, path = "/traces/{id}", tag = "traces",
    params(("id" = i64, Path, description = "The request")),
    request_body(content = TraceDraft, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The request", body = TraceView),
        (status = 409, description = "Not a draft or sent back, or a stale version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    headers: HeaderMap,
    JsonBody(changes): JsonBody<Value>,
) -> Result<Json<TraceView>, ApiError> {
    let actor = caller.require(Permission::Trace)?;
    let (trace, _) = rules::visible(&state, actor, id).await?;
    if !changes.is_object() {
        return Err(ApiError::invalid(
            "body",
            "invalid_type",
            "send an object of the fields to change",
        ));
    }
    let mut current = serde_json::to_value(TraceDraft::of(&trace)).expect("serialises");
    merge(&mut current, &changes);
    let merged: TraceDraft = parse(current.to_string().as_bytes())?;
    let base_version = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"').parse::<i64>())
        .transpose()
        .map_err(|_| ApiError::BadRequest {
            code: "bad_if_match",
            detail: "If-Match carries the request's version, e.g. \"3\"".into(),
        })?;
    let draft = merged.into_draft()?;
    rules::edit(
        &state,
        actor,
        id,
        draft.to_country,
        draft.content,
        base_version,
    )
    .await?;
    Ok(Json(rules::view(&state, actor, id).await?))
}

/// A note on a move.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceNote {
    /// Why, or what else the other party should know.
    pub note: Option<String>,
}

/// What the recipient needs to answer.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InformationRequest {
    /// What is missing.
    pub text: String,
}

/// The next country on the trail.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Forwarding {
    /// ISO 3166-1 alpha-2 code of the country to pass the request on to.
    pub to_country: String,
    /// Why (e.g. the export licence that sent the weapon there).
    pub note: Option<String>,
}

/// A message to the other party.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceMessage {
    /// The message.
    pub text: String,
}

/// A body that may be left out (then `T::default()`), else JSON.
fn optional<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let (essence, sent) = media_type(headers);
    if !(essence == "application/json" || essence.ends_with("+json")) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the body as application/json, not '{sent}'"
        )));
    }
    parse(body)
}

async fn act(
    state: &AppState,
    caller: &Authenticated,
    id: i64,
    action: TraceAction,
    input: ActionInput,
) -> Result<Json<TraceView>, ApiError> {
    let actor = caller.require(Permission::Trace)?;
    rules::act(state, actor, id, action, input).await?;
    Ok(Json(rules::view(state, actor, id).await?))
}

/// A move whose body is an optional note.
async fn act_with_note(
    state: &AppState,
    caller: &Authenticated,
    id: i64,
    action: TraceAction,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Json<TraceView>, ApiError> {
    let note: TraceNote = optional(headers, body)?;
    let input = ActionInput {
        text: note.note,
        ..ActionInput::default()
    };
    act(state, caller, id, action, input).await
}

/// Sends a draft (or a request sent back for information, once completed) to the NCB of
/// `to_country`; refused with 422 naming each blocking gap. Deadlines start now.
#[utoipa::path(post, path = "/traces/{id}/send", tag = "traces",
    params(("id" = i64, Path, description = "The request")),
    responses(
        (status = 200, description = "Sent", body = TraceView),
        (status = 409, description = "Not a draft or sent back", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "What is missing", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn send(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<TraceView>, ApiError> {
    act(
        &state,
        &caller,
        id,
        TraceAction::Send,
        ActionInput::default(),
    )
    .await
}

/// The asked NCB acknowledges the request.
#[utoipa::path(post, path = "/traces/{id}/acknowledge", tag = "traces",
    params(("id" = i64, Path, description = "The request")), request_body(content = TraceNote, description = "Optional"),
    responses((status = 200, description = "Acknowledged", body = TraceView),
        (status = 403, description = "Not the NCB asked", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not sent", body = Problem, content_type = "application/problem+json")))]
pub async fn acknowledge(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TraceView>, ApiError> {
    act_with_note(
        &state,
        &caller,
        id,
        TraceAction::Acknowledge,
        &headers,
        &body,
    )
    .await
}

/// The asked NCB sends the request back, saying what it needs; the requester completes it
/// (PATCH) and sends it again.
#[utoipa::path(post, path = "/traces/{id}/request-information", tag = "traces",
    params(("id" = i64, Path, description = "The request")), request_body = InformationRequest,
    responses((status = 200, description = "Sent back", body = TraceView),
        (status = 403, description = "Not the NCB asked", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not sent or acknowledged", body = Problem, content_type = "application/problem+json")))]
pub async fn request_information(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    JsonBody(request): JsonBody<InformationRequest>,
) -> Result<Json<TraceView>, ApiError> {
    let input = ActionInput {
        text: Some(request.text),
        ..ActionInput::default()
    };
    act(&state, &caller, id, TraceAction::RequestInformation, input).await
}

/// The asked NCB answers: found, not found or partial, with the trail in fields.
#[utoipa::path(post, path = "/traces/{id}/answer", tag = "traces",
    params(("id" = i64, Path, description = "The request")), request_body = TraceAnswer,
    responses((status = 200, description = "Answered", body = TraceView),
        (status = 403, description = "Not the NCB asked", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not sent or acknowledged", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid answer", body = Problem, content_type = "application/problem+json")))]
pub async fn answer(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    JsonBody(answer): JsonBody<TraceAnswer>,
) -> Result<Json<TraceView>, ApiError> {
    let input = ActionInput {
        answer: Some(answer),
        ..ActionInput::default()
    };
    act(&state, &caller, id, TraceAction::Answer, input).await
}

/// The asked NCB passes the request on to the next country on the trail: a linked request,
/// sent at once, that everyone on the chain sees.
#[utoipa::path(post, path = "/traces/{id}/forward", tag = "traces",
    params(("id" = i64, Path, description = "The request")), request_body = Forwarding,
    responses((status = 200, description = "Forwarded; the linked request is in `chain`", body = TraceView),
        (status = 403, description = "Not the NCB asked", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not sent or acknowledged", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No such country, no NCB there, or already on the chain", body = Problem, content_type = "application/problem+json")))]
pub async fn forward(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    JsonBody(forwarding): JsonBody<Forwarding>,
) -> Result<Json<TraceView>, ApiError> {
    let to = country_field("to_country", Some(&forwarding.to_country))?;
    let input = ActionInput {
        text: forwarding.note,
        to_country: to,
        ..ActionInput::default()
    };
    act(&state, &caller, id, TraceAction::Forward, input).await
}

/// The requester closes the request.
#[utoipa::path(post, path = "/traces/{id}/close", tag = "traces",
    params(("id" = i64, Path, description = "The request")), request_body(content = TraceNote, description = "Optional"),
    responses((status = 200, description = "Closed", body = TraceView),
        (status = 403, description = "Not the requester", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A draft, or already closed", body = Problem, content_type = "application/problem+json")))]
pub async fn close(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TraceView>, ApiError> {
    act_with_note(&state, &caller, id, TraceAction::Close, &headers, &body).await
}

/// A message to the other party, kept in the timeline.
#[utoipa::path(post, path = "/traces/{id}/messages", tag = "traces",
    params(("id" = i64, Path, description = "The request")), request_body = TraceMessage,
    responses((status = 200, description = "Written", body = TraceView),
        (status = 403, description = "Not a party that writes", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A draft, or closed", body = Problem, content_type = "application/problem+json")))]
pub async fn message(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    JsonBody(message): JsonBody<TraceMessage>,
) -> Result<Json<TraceView>, ApiError> {
    let actor = caller.require(Permission::Trace)?;
    rules::message(&state, actor, id, &message.text).await?;
    Ok(Json(rules::view(&state, actor, id).await?))
}

/// The attachment's name.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttachmentQuery {
    /// The file name to keep (`slide-markings.jpg`).
    pub name: Option<String>,
}

/// Attaches a photograph of the markings or a document: the body is the file itself (JPEG,
/// PNG or PDF, read from its content; a `Content-Type` that disagrees is refused), at most the
/// deployment's limit (10 MB by default).
#[utoipa::path(post, path = "/traces/{id}/attachments", tag = "traces",
    params(("id" = i64, Path, description = "The request"), AttachmentQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "Attached", body = Attachment),
        (status = 415, description = "Not JPEG, PNG or PDF, or not what it was declared as", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or too large", body = Problem, content_type = "application/problem+json")))]
pub async fn attach(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    Query(query): Query<AttachmentQuery>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<Attachment>), ApiError> {
    let actor = caller.require(Permission::Trace)?;
    let (declared, _) = media_type(&headers);
    let name = query.name.unwrap_or_else(|| "attachment".into());
    // Read no more than the deployment allows (and one byte more, to know it was more).
    let body = axum::body::to_bytes(body, state.traces.max_attachment + 1)
        .await
        .map_err(|_| rules::too_large(state.traces.max_attachment))?;
    let attachment = rules::attach(&state, actor, id, &name, Some(declared), &body).await?;
    Ok((StatusCode::CREATED, Json(attachment)))
}

/// An attachment's content, as a download.
#[utoipa::path(get, path = "/traces/{id}/attachments/{attachment}", tag = "traces",
    params(("id" = i64, Path, description = "The request"), ("attachment" = i64, Path, description = "The attachment")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 404, description = "No such attachment the caller may see", body = Problem, content_type = "application/problem+json")))]
pub async fn attachment(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((id, attachment)): Path<(i64, i64)>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Permission::Trace)?;
    download(&state, actor, id, attachment).await
}

/// An attachment of a request `actor` may see, as a download.
pub(crate) async fn download(
    state: &AppState,
    actor: &Actor,
    id: i64,
    attachment: i64,
) -> Result<Response, ApiError> {
    rules::visible(state, actor, id).await?;
    let (meta, bytes) = state
        .store
        .trace_attachment(id, attachment)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("attachment {attachment}")))?;
    Ok(file(&meta.content_type, &meta.name, bytes))
}

/// The request as a PDF for the case file: what it says, its chain, answer and timeline.
#[utoipa::path(get, path = "/traces/{id}/pdf", tag = "traces",
    params(("id" = i64, Path, description = "The request")),
    responses((status = 200, description = "The case file", content_type = "application/pdf"),
        (status = 404, description = "No such request the caller may see", body = Problem, content_type = "application/problem+json")))]
pub async fn case_file(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let actor = caller.require(Permission::Trace)?;
    let view = rules::view(&state, actor, id).await?;
    let bytes = crate::trace_export::case_file_pdf(&view, actor, state.clock.now());
    Ok(file(
        "application/pdf",
        &format!("trace-request-{id}.pdf"),
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn a_download_s_name_cannot_break_out_of_its_header() {
        assert_eq!(
            disposition("été; filename=x.pdf"),
            "attachment; filename=\"_t__ filename_x.pdf\"; filename*=UTF-8''%C3%A9t%C3%A9%3B%20filename%3Dx.pdf"
        );
    }
}
