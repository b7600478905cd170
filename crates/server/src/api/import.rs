//! Bulk import of a national list over HTTP, streamed from the request body into the store.

use armstrace_core::firearm::latest_date_anywhere;
use armstrace_core::{FieldError, Permission};
use armstrace_reference::ResolutionCounts;
use armstrace_store::import::{ImportEvent, ImportFormat, ImportOptions, import as run_import};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use futures::TryStreamExt;
use serde::Serialize;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::body::media_type;
use crate::auth::Authenticated;
use crate::checking::index_fields;
use crate::error::Problem;
use crate::{ApiError, AppState};

/// Rejected rows listed in one answer; the counts always cover all of them.
const MAX_LISTED_REJECTS: usize = 1000;

/// One refused row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RejectedRowReport {
    /// Line number in the body (the CSV header is line 1).
    pub line: u64,
    /// Every problem found in the row.
    pub errors: Vec<FieldError>,
}

/// What an import did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// New records.
    pub imported: u64,
    /// Existing records (same recording country and record_id) that changed.
    pub updated: u64,
    /// Existing records repeated without change.
    pub unchanged: u64,
    /// Rows refused.
    pub rejected: u64,
    /// The refused rows with their reasons (the first 1000).
    pub rejected_rows: Vec<RejectedRowReport>,
    /// True when more rows were refused than are listed.
    pub rejected_rows_truncated: bool,
    /// Header columns that are not Armstrace's and were ignored.
    pub ignored_columns: Vec<String>,
    /// How the make, model and calibre of the rows taken resolved in the reference table,
    /// per column (values left empty are not counted).
    pub resolution: ResolutionCounts,
    /// `imported N, updated U, rejected R, unchanged K`.
    pub summary: String,
}

/// Imports a national list: `text/csv` with a header, or `application/x-ndjson`, one record
/// per line. Records are matched on recording country and record_id, so importing the same
/// list again updates instead of duplicating. Bad rows are reported and skipped; good rows go in.
#[utoipa::path(post, path = "/firearms/import", tag = "firearms",
    request_body(description = "CSV with header record_id,serial_number,make,model,calibre,firearm_type,country_of_manufacture,recording_country,status,event_date (any order, optional extra columns), or NDJSON",
        content((String = "text/csv"), (String = "application/x-ndjson"))),
    responses(
        (status = 200, description = "Import finished", body = ImportReport),
        (status = 415, description = "Neither CSV nor NDJSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The header lacks required columns", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn import(
    State(state): State<AppState>,
    caller: Authenticated,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ImportReport>, ApiError> {
    let actor = caller.require(Permission::Record)?.clone();
    let (media, content_type) = media_type(&headers);
    let format = match media {
        "text/csv" => ImportFormat::Csv,
        "application/x-ndjson" | "application/jsonl" | "application/jsonlines" => {
            ImportFormat::Ndjson
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "send the list as text/csv or application/x-ndjson, not '{content_type}'"
            )));
        }
    };
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let reader = SyncIoBridge::new(StreamReader::new(stream));
    let mut rejected_rows = Vec::new();
    let mut ignored_columns = Vec::new();
    let summary = run_import(
        state.store.as_ref(),
        &actor,
        format,
        reader,
        ImportOptions::new(
            latest_date_anywhere(chrono::Utc::now()),
            state.reference.resolver(),
        ),
        |event| match event {
            ImportEvent::Header { ignored, .. } => ignored_columns = ignored.to_vec(),
            ImportEvent::Changed(records) => {
                for (id, fields) in records {
                    index_fields(&state.index, *id, fields);
                }
            }
            ImportEvent::Rejected(row) if rejected_rows.len() < MAX_LISTED_REJECTS => rejected_rows
                .push(RejectedRowReport {
                    line: row.line,
                    errors: row.errors.clone(),
                }),
            _ => {}
        },
    )
    .await?;
    tracing::info!(user = %actor.username, %summary, "import finished");
    Ok(Json(ImportReport {
        imported: summary.imported,
        updated: summary.updated,
        unchanged: summary.unchanged,
        rejected: summary.rejected,
        rejected_rows_truncated: summary.rejected > rejected_rows.len() as u64,
        rejected_rows,
        ignored_columns,
        resolution: summary.resolution,
        summary: summary.to_string(),
    }))
}
