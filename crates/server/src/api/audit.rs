//! Reading the audit trail.

use armstrace_core::{CountryCode, OrgKind, Permission};
use armstrace_store::audit::{AuditEntry, AuditFilter};
use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::auth::Authenticated;
use crate::error::Problem;
use crate::{ApiError, AppState};

/// Filters of the audit trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this user's entries.
    pub username: Option<String>,
    /// Only this organisation's entries.
    pub organisation_id: Option<i64>,
    /// Only this action (`record.update`), or a family of them ending in `.` (`record.`).
    pub action: Option<String>,
    /// From this time (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Before this time (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Only entries by organisations of this country (the secretariat only; an NCB always
    /// reads its own).
    pub country: Option<String>,
    /// Entries after this id (the `next` of the previous page).
    pub after: Option<i64>,
    /// At most this many (1 to 1000; 100 when absent).
    pub limit: Option<u32>,
}

/// A page of the audit trail.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `after` for the next page; absent on the last.
    pub next: Option<i64>,
}

/// The audit trail: the secretariat reads all of it, an NCB admin its country's.
#[utoipa::path(get, path = "/audit", tag = "access", params(AuditQuery),
    responses(
        (status = 200, description = "A page of entries", body = AuditPage),
        (status = 403, description = "Neither the secretariat's nor an NCB's admin", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let actor = caller.require(Permission::Admin)?;
    let country = match actor.org_kind {
        OrgKind::Secretariat => query
            .country
            .as_deref()
            .map(|c| {
                CountryCode::parse(c)
                    .map_err(|e| ApiError::invalid("country", "invalid_country", e.to_string()))
            })
            .transpose()?,
        _ => actor.country,
    };
    if !actor.may_read_audit(actor.country) {
        return Err(ApiError::out_of_scope(
            "the audit trail is read by the secretariat's admins (all of it) and NCB admins (their country's)",
        ));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            "out_of_range",
            "limit is 1 to 1000",
        ));
    }
    let filter = AuditFilter {
        username: query.username,
        org_id: query.organisation_id,
        country,
        action: query.action,
        from: query.from,
        to: query.to,
    };
    let entries = state
        .store
        .audit_entries(&filter, query.after, limit)
        .await?;
    let next = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage { entries, next }))
}
