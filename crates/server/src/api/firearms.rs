//! Firearm record routes: create, read, change, delete, list and history.

use armstrace_core::firearm::latest_date_anywhere;
use armstrace_core::history::HistoryEntry;
use armstrace_core::{
    Actor, CountryCode, FieldError, Firearm, FirearmId, FirearmInput, Permission, RecordStatus,
};
use armstrace_reference::Canonicaliser;
use armstrace_store::FirearmFilter;
use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::body::{JsonBody, parse};
use crate::auth::Authenticated;
use crate::checking::index_record;
use crate::error::Problem;
use crate::{ApiError, AppState};

/// Default and largest page size of a listing.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 1000;

/// Refuses unless the caller may change records of `country`.
fn require_recording(caller: &Authenticated, country: CountryCode) -> Result<&Actor, ApiError> {
    let actor = caller.require(Permission::Record)?;
    if actor.may_record_for(country) {
        Ok(actor)
    } else {
        Err(ApiError::forbidden(
            Permission::Record,
            format!(
                "{} may record firearms only for its own country, not for {country}",
                actor.org_name
            ),
        ))
    }
}

/// Refuses unless the caller may read `firearm`: anyone with `check`, or a recorder of its country.
fn require_reading(caller: &Authenticated, firearm: &Firearm) -> Result<(), ApiError> {
    let actor = &caller.0;
    if actor.permissions.has(Permission::Check)
        || actor.may_record_for(firearm.fields.recording_country)
    {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            Permission::Check,
            "reading firearm records needs the 'check' permission",
        ))
    }
}

/// The `{id}` of a record route: anything but a number names no record, so it is a 404.
pub struct RecordPath(pub FirearmId);

impl<S: Send + Sync> FromRequestParts<S> for RecordPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("firearm record".into()))?;
        raw.parse()
            .map(RecordPath)
            .map_err(|_| ApiError::NotFound(format!("firearm record '{raw}'")))
    }
}

async fn load(state: &AppState, id: FirearmId) -> Result<Firearm, ApiError> {
    state
        .store
        .firearm(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("firearm record {id}")))
}

fn with_etag(firearm: &Firearm) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let etag = format!("\"{}\"", firearm.version);
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("ascii"));
    headers
}

/// Creates a firearm record.
#[utoipa::path(post, path = "/firearms", tag = "firearms", request_body = FirearmInput,
    responses(
        (status = 201, description = "Created", body = Firearm),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed to record for that country", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The country already has a record with that record_id", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonBody(input): JsonBody<FirearmInput>,
) -> Result<(StatusCode, HeaderMap, Json<Firearm>), ApiError> {
    caller.require(Permission::Record)?;
    let mut fields = input
        .validate(latest_date_anywhere(chrono::Utc::now()))
        .map_err(|e| ApiError::Validation(e.0))?;
    let actor = require_recording(&caller, fields.recording_country)?;
    Canonicaliser::new(state.reference.resolver()).fill(&mut fields);
    let firearm = state
        .store
        .create_firearm(actor, &fields, armstrace_store::Channel::Api)
        .await?;
    index_record(&state.index, &firearm);
    let mut headers = with_etag(&firearm);
    let location = format!("/api/v1/firearms/{}", firearm.id);
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(&location).expect("ascii"),
    );
    Ok((StatusCode::CREATED, headers, Json(firearm)))
}

/// Reads one firearm record, deleted or not.
#[utoipa::path(get, path = "/firearms/{id}", tag = "firearms",
    params(("id" = i64, Path, description = "Record id")),
    responses(
        (status = 200, description = "The record; its ETag is its version", body = Firearm),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Authenticated,
    RecordPath(id): RecordPath,
) -> Result<(HeaderMap, Json<Firearm>), ApiError> {
    let firearm = load(&state, id).await?;
    require_reading(&caller, &firearm)?;
    Ok((with_etag(&firearm), Json(firearm)))
}

/// Changes a record with a JSON merge patch (RFC 7386): the fields given replace the stored ones,
/// `null` clears an optional field. With `If-Match: "<version>"`, a change to a record changed
/// meanwhile is refused with 409.
#[utoipa::path(patch, path = "/firearms/{id}", tag = "firearms",
    params(("id" = i64, Path, description = "Record id"),
           ("If-Match" = Option<String>, Header, description = "The version the change is based on, as returned in ETag")),
    request_body(content = FirearmInput, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The changed record", body = Firearm),
        (status = 403, description = "Not allowed to change this country's records", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Deleted, or changed since the If-Match version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Authenticated,
    RecordPath(id): RecordPath,
    headers: HeaderMap,
    JsonBody(patch): JsonBody<serde_json::Value>,
) -> Result<(HeaderMap, Json<Firearm>), ApiError> {
    let current = load(&state, id).await?;
    let actor = require_recording(&caller, current.fields.recording_country)?;
    let serde_json::Value::Object(changes) = patch else {
        return Err(ApiError::Validation(vec![FieldError::new(
            "body",
            "not_an_object",
            "a patch is a JSON object of the fields to change",
        )]));
    };
    let mut merged = serde_json::to_value(FirearmInput::from(&current.fields)).expect("serialises");
    let object = merged.as_object_mut().expect("an input is an object");
    for (field, value) in changes {
        object.insert(field, value);
    }
    let input: FirearmInput = parse(merged.to_string().as_bytes())?;
    let mut fields = input
        .validate(latest_date_anywhere(chrono::Utc::now()))
        .map_err(|e| ApiError::Validation(e.0))?;
    if fields.recording_country != current.fields.recording_country {
        return Err(ApiError::Validation(vec![FieldError::new(
            "recording_country",
            "immutable",
            "a record's recording country cannot change; the new country should record it itself",
        )]));
    }
    let expected_version = if_match_version(&headers)?;
    Canonicaliser::new(state.reference.resolver()).fill(&mut fields);
    let firearm = state
        .store
        .update_firearm(actor, id, &fields, expected_version)
        .await?;
    index_record(&state.index, &firearm);
    Ok((with_etag(&firearm), Json(firearm)))
}

pub(super) fn if_match_version(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| ApiError::BadRequest {
            code: "invalid_if_match",
            detail: "If-Match must be the ETag of what is changed, e.g. \"3\"".to_string(),
        })
}

/// Deletes a record: it stays with its history, is no longer matched and no longer listed by default.
#[utoipa::path(delete, path = "/firearms/{id}", tag = "firearms",
    params(("id" = i64, Path, description = "Record id")),
    responses(
        (status = 200, description = "The record as deleted", body = Firearm),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already deleted", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Authenticated,
    RecordPath(id): RecordPath,
) -> Result<Json<Firearm>, ApiError> {
    let current = load(&state, id).await?;
    let actor = require_recording(&caller, current.fields.recording_country)?;
    let firearm = state.store.delete_firearm(actor, id).await?;
    index_record(&state.index, &firearm);
    Ok(Json(firearm))
}

/// Filters and paging of a listing.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Only records of this recording country (ISO 3166-1 alpha-2).
    recording_country: Option<String>,
    /// Only records with this status.
    status: Option<String>,
    /// Only records of this make (case-insensitive).
    make: Option<String>,
    /// Also list deleted records.
    include_deleted: Option<bool>,
    /// Page size, 1 to 1000 (default 50).
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// One page of records.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FirearmPage {
    /// The records, by id.
    pub items: Vec<Firearm>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Lists records with filters and stable cursor paging (records added meanwhile never shift a page).
#[utoipa::path(get, path = "/firearms", tag = "firearms", params(ListQuery),
    responses(
        (status = 200, description = "One page", body = FirearmPage),
        (status = 422, description = "Invalid filter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<ListQuery>,
) -> Result<Json<FirearmPage>, ApiError> {
    caller.require(Permission::Check)?;
    let mut errors = Vec::new();
    let recording_country = query.recording_country.as_deref().and_then(|c| {
        CountryCode::parse(c)
            .map_err(|e| {
                errors.push(FieldError::new(
                    "recording_country",
                    "unknown_country",
                    e.to_string(),
                ))
            })
            .ok()
    });
    let status = query.status.as_deref().and_then(|s| {
        let status = RecordStatus::parse(s);
        if status.is_none() {
            errors.push(FieldError::new(
                "status",
                "unknown_status",
                format!("'{s}' is not a record status"),
            ));
        }
        status
    });
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            "out_of_range",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let after = match query.cursor.as_deref().map(decode_cursor) {
        Some(Some(after)) => Some(after),
        Some(None) => {
            errors.push(FieldError::new(
                "cursor",
                "invalid_cursor",
                "pass the next_cursor of a previous page unchanged",
            ));
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let filter = FirearmFilter {
        recording_country,
        status,
        make: query.make.filter(|m| !m.trim().is_empty()),
        include_deleted: query.include_deleted.unwrap_or(false),
    };
    // One more than asked tells whether another page exists.
    let mut items = state.store.list_firearms(&filter, after, limit + 1).await?;
    let next_cursor = (items.len() > limit as usize).then(|| {
        items.truncate(limit as usize);
        encode_cursor(items.last().expect("a full page").id)
    });
    Ok(Json(FirearmPage { items, next_cursor }))
}

fn encode_cursor(after: FirearmId) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{after}"))
}

fn decode_cursor(cursor: &str) -> Option<FirearmId> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("after:")?
        .parse()
        .ok()
}

/// A record's history: who changed what, when; oldest first.
#[utoipa::path(get, path = "/firearms/{id}/history", tag = "firearms",
    params(("id" = i64, Path, description = "Record id")),
    responses(
        (status = 200, description = "History, oldest first", body = [HistoryEntry]),
        (status = 404, description = "No such record", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn history(
    State(state): State<AppState>,
    caller: Authenticated,
    RecordPath(id): RecordPath,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let firearm = load(&state, id).await?;
    require_reading(&caller, &firearm)?;
    Ok(Json(state.store.history(id).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_a_forged_one_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(1234)), Some(1234));
        assert_eq!(decode_cursor("not a cursor"), None);
        assert_eq!(
            decode_cursor(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("x")),
            None
        );
    }
}
