//! The reference table: resolving what an officer typed, and browsing for autocomplete.

use armstrace_reference::{Calibre, Make, Model, Resolution, shipped};
use axum::Json;
use axum::extract::Query;
use serde::{Deserialize, Serialize};

use crate::ApiError;
use crate::auth::Authenticated;
use crate::error::Problem;

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
    let reference = shipped();
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
    _caller: Authenticated,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<Make>>, ApiError> {
    let limit = limit(query.limit)?;
    Ok(Json(
        shipped()
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
    _caller: Authenticated,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<Calibre>>, ApiError> {
    let limit = limit(query.limit)?;
    Ok(Json(
        shipped()
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
    _caller: Authenticated,
    Query(query): Query<ModelQuery>,
) -> Result<Json<Vec<Model>>, ApiError> {
    let limit = limit(query.limit)?;
    let reference = shipped();
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
    Ok(Json(shipped().trace_destinations(
        query.make.as_deref(),
        query.import_marks.as_deref(),
    )))
}
