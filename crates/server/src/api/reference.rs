//! The reference table: resolving what an officer typed, and browsing for autocomplete.

use armstrace_core::FirearmType;
use armstrace_reference::{Calibre, Entry, Kind, Make, Model, Resolution, model_key};
use armstrace_store::reference::ReferenceChange;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::body::JsonBody;
use super::firearms::if_match_version;
use crate::auth::Authenticated;
use crate::error::Problem;
use crate::reference_table::{make_names, may_change};
use crate::{ApiError, AppState};

/// What to resolve; give any of the three.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResolveQuery {
    /// The make as typed, in any spelling or script.
    pub make: Option<String>,
    /// The model as typed (resolved within the make, when it resolves).
    pub model: Option<String>,
    /// The calibre as typed, in any notation.
    pub calibre: Option<String>,
}

/// What each given value resolved to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Resolved {
    /// The make, if one was given.
    pub make: Option<Resolution>,
    /// The model, if one was given.
    pub model: Option<Resolution>,
    /// The calibre, if one was given.
    pub calibre: Option<Resolution>,
}

/// Resolves a make, model and calibre as typed to the reference table's canonical entries,
/// with a confidence, and the alternatives when ambiguous.
#[utoipa::path(get, path = "/reference/resolve", tag = "reference", params(ResolveQuery),
    responses(
        (status = 200, description = "What each value resolved to", body = Resolved),
        (status = 422, description = "Nothing to resolve", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn resolve(
    State(state): State<AppState>,
    _caller: Authenticated,
    Query(query): Query<ResolveQuery>,
) -> Result<Json<Resolved>, ApiError> {
    if query.make.is_none() && query.model.is_none() && query.calibre.is_none() {
        return Err(ApiError::invalid(
            "make",
            "required",
            "give make, model or calibre to resolve",
        ));
    }
    let reference = state.reference.resolver();
    let make = query.make.as_deref().map(|m| reference.make(m));
    let model = query.model.as_deref().map(|typed| {
        let make_id = make.as_ref().and_then(|m| m.id());
        reference.model(make_id, typed)
    });
    Ok(Json(Resolved {
        make,
        model,
        calibre: query.calibre.as_deref().map(|c| reference.calibre(c)),
    }))
}

/// A search.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// What has been typed so far.
    #[serde(default)]
    pub q: String,
    /// At most this many (1 to 100; 20 when absent).
    pub limit: Option<usize>,
}

fn limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(20);
    if (1..=100).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid(
            "limit",
            "out_of_range",
            "limit is 1 to 100",
        ))
    }
}

/// Makes whose name or an alias begins with (or else contains) `q`, canonical names first.
#[utoipa::path(get, path = "/reference/makes", tag = "reference", params(SearchQuery),
    responses((status = 200, description = "Matching makes", body = [Make])))]
pub async fn makes(
    State(state): State<AppState>,
    _caller: Authenticated,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<Make>>, ApiError> {
    let limit = limit(query.limit)?;
    Ok(Json(
        state
            .reference
            .resolver()
            .search_makes(&query.q, limit)
            .into_iter()
            .cloned()
            .collect(),
    ))
}

/// Calibres whose name or an alias begins with (or else contains) `q`.
#[utoipa::path(get, path = "/reference/calibres", tag = "reference", params(SearchQuery),
    responses((status = 200, description = "Matching calibres", body = [Calibre])))]
pub async fn calibres(
    State(state): State<AppState>,
    _caller: Authenticated,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<Calibre>>, ApiError> {
    let limit = limit(query.limit)?;
    Ok(Json(
        state
            .reference
            .resolver()
            .search_calibres(&query.q, limit)
            .into_iter()
            .cloned()
            .collect(),
    ))
}

/// Models of a make.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ModelQuery {
    /// The make, in any spelling: it is resolved first.
    pub make: String,
    /// What has been typed of the model so far.
    #[serde(default)]
    pub q: String,
    /// At most this many (1 to 100; 20 when absent).
    pub limit: Option<usize>,
}

/// Models of a make whose name begins with (or else contains) `q`.
#[utoipa::path(get, path = "/reference/models", tag = "reference", params(ModelQuery),
    responses(
        (status = 200, description = "Matching models", body = [Model]),
        (status = 422, description = "The make does not resolve to one make", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn models(
    State(state): State<AppState>,
    _caller: Authenticated,
    Query(query): Query<ModelQuery>,
) -> Result<Json<Vec<Model>>, ApiError> {
    let limit = limit(query.limit)?;
    let reference = state.reference.resolver();
    let make = reference.make(&query.make);
    let Some(id) = make.id() else {
        return Err(ApiError::invalid(
            "make",
            "unresolved",
            format!(
                "'{}' does not name one make ({:?}); pick one from /reference/makes",
                query.make, make.status
            ),
        ));
    };
    Ok(Json(
        reference
            .search_models(id, &query.q, limit)
            .into_iter()
            .cloned()
            .collect(),
    ))
}

/// A firearm type of the records, with the names lists use for it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TypeEntry {
    /// The token records carry.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "submachine_gun")]
    pub firearm_type: FirearmType,
    /// The names an import or a form accepts for it, in any case and punctuation.
    pub names: Vec<&'static str>,
}

/// The firearm types of the records, each with the names national lists use for it.
#[utoipa::path(get, path = "/reference/types", tag = "reference",
    responses((status = 200, description = "Every type", body = [TypeEntry])))]
pub async fn types(_caller: Authenticated) -> Json<Vec<TypeEntry>> {
    Json(
        FirearmType::ALL
            .into_iter()
            .map(|firearm_type| TypeEntry {
                firearm_type,
                names: firearm_type.names().collect(),
            })
            .collect(),
    )
}

/// A firearm to trace.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TraceQuery {
    /// The make, in any spelling.
    pub make: Option<String>,
    /// The import marks stamped on the firearm.
    pub import_marks: Option<String>,
}

/// The countries a trace request about this firearm should go to first: the make's country,
/// then the countries its import marks name (through a known importer or maker, or by name).
#[utoipa::path(get, path = "/reference/trace-destinations", tag = "reference", params(TraceQuery),
    responses(
        (status = 200, description = "Countries, first first", body = [armstrace_reference::Destination]),
        (status = 422, description = "Neither make nor import marks", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn trace_destinations(
    State(state): State<AppState>,
    _caller: Authenticated,
    Query(query): Query<TraceQuery>,
) -> Result<Json<Vec<armstrace_reference::Destination>>, ApiError> {
    if query.make.is_none() && query.import_marks.is_none() {
        return Err(ApiError::invalid(
            "make",
            "required",
            "give make, import_marks or both",
        ));
    }
    Ok(Json(state.reference.resolver().trace_destinations(
        query.make.as_deref(),
        query.import_marks.as_deref(),
    )))
}

/// One entry of the table as it stands, with its version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReferenceEntry {
    /// Make, calibre or model.
    pub kind: Kind,
    /// Its key within its kind (for a model, `make/model`).
    pub key: String,
    /// 1 as shipped (or as first added); one more with each change.
    pub version: i64,
    /// The entry.
    #[schema(value_type = Object)]
    pub entry: Entry,
    /// When it last changed, unless it is as shipped.
    pub changed_at: Option<DateTime<Utc>>,
    /// Who changed it last, unless it is as shipped.
    pub changed_by: Option<String>,
}

fn entry_view(state: &AppState, kind: Kind, key: &str) -> Result<ReferenceEntry, ApiError> {
    let current = state.reference.current();
    let entry = current
        .table()
        .entry(kind, key)
        .ok_or_else(|| ApiError::NotFound(format!("{} '{key}'", kind.as_str())))?;
    let last = current.history(kind, key).last().copied();
    Ok(ReferenceEntry {
        kind,
        key: key.to_string(),
        version: current.version(kind, key),
        entry,
        changed_at: last.map(|c| c.at),
        changed_by: last.map(|c| format!("{} ({})", c.username, c.organisation)),
    })
}

fn with_version(view: ReferenceEntry) -> (HeaderMap, Json<ReferenceEntry>) {
    let mut headers = HeaderMap::new();
    let etag = format!("\"{}\"", view.version);
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).expect("ascii"));
    (headers, Json(view))
}

/// Stores `entry` under the key the path names; the secretariat's administrators only.
async fn put_entry(
    state: &AppState,
    caller: &Authenticated,
    headers: &HeaderMap,
    path_key: &str,
    entry: Entry,
) -> Result<(StatusCode, HeaderMap, Json<ReferenceEntry>), ApiError> {
    may_change(&caller.0)?;
    let key = entry.key();
    if key != path_key {
        return Err(ApiError::invalid(
            "id",
            "mismatch",
            format!(
                "the entry's key is '{key}' but the path names '{path_key}'; a key cannot change"
            ),
        ));
    }
    let expected = if_match_version(headers)?;
    let change = state
        .reference
        .change(state.store.as_ref(), &caller.0, entry, expected)
        .await?;
    if let Entry::Make(make) = &change.entry {
        // Checks from now on know the make by its new names.
        state.index.learn_make(make_names(make));
    }
    let status = if change.version == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let (headers, body) = with_version(entry_view(state, change.kind, &change.key)?);
    Ok((status, headers, body))
}

fn history_of(state: &AppState, kind: Kind, key: &str) -> Result<Vec<ReferenceChange>, ApiError> {
    let current = state.reference.current();
    if current.table().entry(kind, key).is_none() {
        return Err(ApiError::NotFound(format!("{} '{key}'", kind.as_str())));
    }
    Ok(current.history(kind, key).into_iter().cloned().collect())
}

/// A make, with its version.
#[utoipa::path(get, path = "/reference/makes/{id}", tag = "reference",
    params(("id" = String, Path, description = "The make's identifier")),
    responses(
        (status = 200, description = "The make", body = ReferenceEntry),
        (status = 404, description = "No such make", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_make(
    State(state): State<AppState>,
    _caller: Authenticated,
    Path(id): Path<String>,
) -> Result<(HeaderMap, Json<ReferenceEntry>), ApiError> {
    Ok(with_version(entry_view(&state, Kind::Make, &id)?))
}

/// Adds a make or corrects one, as its next version (with `If-Match`, only if it is still at
/// that version). Refused when it would give a name to two makes without marking it shared.
/// The secretariat's administrators only; audited.
#[utoipa::path(put, path = "/reference/makes/{id}", tag = "reference", request_body = Make,
    params(("id" = String, Path, description = "The make's identifier"),
           ("If-Match" = Option<String>, Header, description = "The version the change is based on, as returned in ETag")),
    responses(
        (status = 200, description = "Corrected", body = ReferenceEntry),
        (status = 201, description = "Added", body = ReferenceEntry),
        (status = 403, description = "Not an administrator of the secretariat", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed meanwhile, or already so", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, or in conflict with other entries", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_make(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(make): JsonBody<Make>,
) -> Result<(StatusCode, HeaderMap, Json<ReferenceEntry>), ApiError> {
    put_entry(&state, &caller, &headers, &id, Entry::Make(make)).await
}

/// Every change of a make, oldest first (empty while it is as shipped).
#[utoipa::path(get, path = "/reference/makes/{id}/history", tag = "reference",
    params(("id" = String, Path, description = "The make's identifier")),
    responses(
        (status = 200, description = "Its versions", body = [ReferenceChange]),
        (status = 404, description = "No such make", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn make_history(
    State(state): State<AppState>,
    _caller: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<ReferenceChange>>, ApiError> {
    Ok(Json(history_of(&state, Kind::Make, &id)?))
}

/// A calibre, with its version.
#[utoipa::path(get, path = "/reference/calibres/{id}", tag = "reference",
    params(("id" = String, Path, description = "The calibre's identifier")),
    responses(
        (status = 200, description = "The calibre", body = ReferenceEntry),
        (status = 404, description = "No such calibre", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_calibre(
    State(state): State<AppState>,
    _caller: Authenticated,
    Path(id): Path<String>,
) -> Result<(HeaderMap, Json<ReferenceEntry>), ApiError> {
    Ok(with_version(entry_view(&state, Kind::Calibre, &id)?))
}

/// Adds a calibre or corrects one, as its next version. The secretariat's administrators
/// only; audited.
#[utoipa::path(put, path = "/reference/calibres/{id}", tag = "reference", request_body = Calibre,
    params(("id" = String, Path, description = "The calibre's identifier"),
           ("If-Match" = Option<String>, Header, description = "The version the change is based on, as returned in ETag")),
    responses(
        (status = 200, description = "Corrected", body = ReferenceEntry),
        (status = 201, description = "Added", body = ReferenceEntry),
        (status = 403, description = "Not an administrator of the secretariat", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed meanwhile, or already so", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, or in conflict with other entries", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_calibre(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(calibre): JsonBody<Calibre>,
) -> Result<(StatusCode, HeaderMap, Json<ReferenceEntry>), ApiError> {
    put_entry(&state, &caller, &headers, &id, Entry::Calibre(calibre)).await
}

/// Every change of a calibre, oldest first.
#[utoipa::path(get, path = "/reference/calibres/{id}/history", tag = "reference",
    params(("id" = String, Path, description = "The calibre's identifier")),
    responses(
        (status = 200, description = "Its versions", body = [ReferenceChange]),
        (status = 404, description = "No such calibre", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn calibre_history(
    State(state): State<AppState>,
    _caller: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<ReferenceChange>>, ApiError> {
    Ok(Json(history_of(&state, Kind::Calibre, &id)?))
}

/// A model, with its version.
#[utoipa::path(get, path = "/reference/models/{make}/{model}", tag = "reference",
    params(("make" = String, Path, description = "The make's identifier"),
           ("model" = String, Path, description = "The model's name, in any case and punctuation")),
    responses(
        (status = 200, description = "The model", body = ReferenceEntry),
        (status = 404, description = "No such model", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_model(
    State(state): State<AppState>,
    _caller: Authenticated,
    Path((make, model)): Path<(String, String)>,
) -> Result<(HeaderMap, Json<ReferenceEntry>), ApiError> {
    Ok(with_version(entry_view(
        &state,
        Kind::Model,
        &model_key(&make, &model),
    )?))
}

/// Adds a model or corrects one, as its next version. The secretariat's administrators only;
/// audited.
#[utoipa::path(put, path = "/reference/models/{make}/{model}", tag = "reference", request_body = Model,
    params(("make" = String, Path, description = "The make's identifier"),
           ("model" = String, Path, description = "The model's name"),
           ("If-Match" = Option<String>, Header, description = "The version the change is based on, as returned in ETag")),
    responses(
        (status = 200, description = "Corrected", body = ReferenceEntry),
        (status = 201, description = "Added", body = ReferenceEntry),
        (status = 403, description = "Not an administrator of the secretariat", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed meanwhile, or already so", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, or in conflict with other entries", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn put_model(
    State(state): State<AppState>,
    caller: Authenticated,
    Path((make, name)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(model): JsonBody<Model>,
) -> Result<(StatusCode, HeaderMap, Json<ReferenceEntry>), ApiError> {
    let key = model_key(&make, &name);
    put_entry(&state, &caller, &headers, &key, Entry::Model(model)).await
}

/// Every change of a model, oldest first.
#[utoipa::path(get, path = "/reference/models/{make}/{model}/history", tag = "reference",
    params(("make" = String, Path, description = "The make's identifier"),
           ("model" = String, Path, description = "The model's name")),
    responses(
        (status = 200, description = "Its versions", body = [ReferenceChange]),
        (status = 404, description = "No such model", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn model_history(
    State(state): State<AppState>,
    _caller: Authenticated,
    Path((make, model)): Path<(String, String)>,
) -> Result<Json<Vec<ReferenceChange>>, ApiError> {
    Ok(Json(history_of(
        &state,
        Kind::Model,
        &model_key(&make, &model),
    )?))
}
