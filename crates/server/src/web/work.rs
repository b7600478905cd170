//! Pages that take a file: importing a national list (summary and refused rows to download)
//! and checking a batch of serials (results as a table and as CSV); and the organisations an
//! administrator approves or suspends.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use armstrace_core::firearm::latest_date_anywhere;
use armstrace_core::{OrgState, Permission};
use armstrace_store::import::{ImportEvent, ImportFormat, ImportOptions, RawRow, import};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use serde::Deserialize;
use tokio_util::io::{StreamReader, SyncIoBridge};

use super::{CsrfOnly, Viewer, WebError, render, see_other};
use crate::checking::{BatchCsv, BatchLine, check_batch, index_fields};
use crate::{ApiError, AppState};

type PageResult = Result<Response, WebError>;

/// Refused rows kept for download: who imported, when, and the CSV.
type Kept = (i64, Instant, String);

/// Refused rows kept for download, by a random key, for an hour.
static REJECTS: LazyLock<Mutex<HashMap<String, Kept>>> = LazyLock::new(Mutex::default);

const KEPT: Duration = Duration::from_secs(3600);

/// Refused rows kept for download per import (the counts cover them all).
const MAX_KEPT_REJECTS: usize = 100_000;

fn keep_rejects(user_id: i64, csv: String) -> String {
    let key = hex::encode(rand::random::<[u8; 16]>());
    let mut kept = REJECTS.lock().unwrap_or_else(|e| e.into_inner());
    kept.retain(|_, (_, at, _)| at.elapsed() < KEPT);
    kept.insert(key.clone(), (user_id, Instant::now(), csv));
    key
}

/// The chunks of an upload as they arrive.
type Chunks =
    std::pin::Pin<Box<dyn futures::Stream<Item = std::io::Result<axum::body::Bytes>> + Send>>;

/// An uploaded file, read as it arrives.
type Upload = SyncIoBridge<StreamReader<Chunks, axum::body::Bytes>>;

/// Reads the form's fields before the file (the CSRF token among them, checked here) and hands
/// over the file field as a blocking reader fed from the upload as it arrives, whatever its
/// size. `None` when no file was chosen.
async fn upload(
    viewer: &Viewer,
    multipart: Multipart,
    file_field: &'static str,
) -> Result<Option<Upload>, WebError> {
    type Fields = Result<(HashMap<String, String>, bool), String>;
    let (fields_sent, fields_read) = tokio::sync::oneshot::channel::<Fields>();
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<axum::body::Bytes>>(4);
    tokio::spawn(async move {
        let mut multipart = multipart;
        let mut fields = HashMap::new();
        let mut fields_sent = Some(fields_sent);
        loop {
            let mut field = match multipart.next_field().await {
                Ok(Some(field)) => field,
                Ok(None) => {
                    if let Some(done) = fields_sent.take() {
                        let _ = done.send(Ok((fields, false)));
                    }
                    return;
                }
                Err(error) => {
                    match fields_sent.take() {
                        Some(done) => drop(done.send(Err(error.to_string()))),
                        None => drop(
                            sender
                                .send(Err(std::io::Error::other(error.to_string())))
                                .await,
                        ),
                    }
                    return;
                }
            };
            let name = field.name().unwrap_or_default().to_string();
            let Some(done) = fields_sent.take() else {
                // Fields after the file are not used.
                continue;
            };
            if name != file_field {
                match field.text().await {
                    Ok(text) => {
                        fields.insert(name, text);
                        fields_sent = Some(done);
                    }
                    Err(error) => drop(done.send(Err(error.to_string()))),
                }
                continue;
            }
            let chosen = field.file_name().is_some_and(|n| !n.is_empty());
            let _ = done.send(Ok((std::mem::take(&mut fields), chosen)));
            if !chosen {
                return;
            }
            loop {
                match field.chunk().await {
                    Ok(Some(bytes)) => {
                        if sender.send(Ok(bytes)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        let _ = sender
                            .send(Err(std::io::Error::other(error.to_string())))
                            .await;
                        return;
                    }
                }
            }
        }
    });
    let bad = |detail: String| {
        viewer.error(ApiError::BadRequest {
            code: "bad_upload",
            detail,
        })
    };
    let (fields, chosen) = fields_read
        .await
        .map_err(|_| bad("the upload ended early".into()))?
        .map_err(bad)?;
    viewer.check_form(fields.get("csrf_token").map_or("", String::as_str))?;
    if !chosen {
        return Ok(None);
    }
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    let stream: std::pin::Pin<
        Box<dyn futures::Stream<Item = std::io::Result<axum::body::Bytes>> + Send>,
    > = Box::pin(stream);
    Ok(Some(SyncIoBridge::new(StreamReader::new(stream))))
}

pub async fn import_form(viewer: Viewer) -> PageResult {
    viewer.require(Permission::Record)?;
    Ok(render(&viewer, "import.html", context! {}))
}

pub async fn import_list(
    State(state): State<AppState>,
    viewer: Viewer,
    multipart: Multipart,
) -> PageResult {
    viewer.require(Permission::Record)?;
    let catalogue = viewer.catalogue;
    let reader = upload(&viewer, multipart, "list").await?;
    let Some(reader) = reader else {
        let mut page = render(
            &viewer,
            "import.html",
            context! { error => catalogue.t("import_no_file") },
        );
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(page);
    };
    let mut header: Vec<String> = Vec::new();
    let mut rejects = csv::Writer::from_writer(Vec::new());
    let mut listed: Vec<Value> = Vec::new();
    let mut rejected_any = false;
    let mut kept_rejects = 0_usize;
    let mut last = None;
    let result = import(
        state.store.as_ref(),
        &viewer.actor,
        ImportFormat::Csv,
        reader,
        ImportOptions::new(
            latest_date_anywhere(chrono::Utc::now()),
            state.reference.resolver(),
        ),
        |event| match event {
            ImportEvent::Header { columns, .. } => {
                header = columns.to_vec();
                let mut first = vec!["line".to_string(), "errors".to_string()];
                first.extend(header.iter().cloned());
                let _ = rejects.write_record(&first);
            }
            ImportEvent::Rejected(row) => {
                rejected_any = true;
                let errors: Vec<String> = row
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect();
                kept_rejects += 1;
                // The file to download holds at most this many refused rows.
                if let (RawRow::Csv(fields), true) = (&row.raw, kept_rejects <= MAX_KEPT_REJECTS) {
                    let mut line = vec![row.line.to_string(), errors.join("; ")];
                    line.extend(fields.iter().cloned());
                    let _ = rejects.write_record(&line);
                }
                if listed.len() < 100 {
                    // Shown in the viewer's language where the catalogue has the words.
                    let shown: Vec<String> = row
                        .errors
                        .iter()
                        .map(|e| {
                            let words = catalogue.t(&format!("field_error_{}", e.code));
                            let words = if words.is_empty() {
                                e.message.as_str()
                            } else {
                                words
                            };
                            match catalogue.t(&format!("field_{}", e.field)) {
                                "" => format!("{}: {words}", e.field),
                                label => format!("{label}: {words}"),
                            }
                        })
                        .collect();
                    listed.push(context! { line => row.line, reasons => shown.join("; ") });
                }
            }
            ImportEvent::Changed(records) => {
                for (id, fields) in records {
                    index_fields(&state.index, *id, fields);
                }
            }
            ImportEvent::Committed(summary) => last = Some(*summary),
        },
    )
    .await;
    let (summary, failure) = match result {
        Ok(summary) => (summary, None),
        Err(error) => (
            last.unwrap_or_default(),
            Some(catalogue.f("import_failed", &[("detail", &error.to_string())])),
        ),
    };
    let download = rejected_any.then(|| {
        let csv = String::from_utf8(rejects.into_inner().unwrap_or_default()).unwrap_or_default();
        keep_rejects(viewer.actor.user_id, csv)
    });
    let columns: Vec<Value> = [
        ("check_make", summary.resolution.make),
        ("check_model", summary.resolution.model),
        ("check_calibre", summary.resolution.calibre),
    ]
    .into_iter()
    .map(|(key, c)| context! { label => catalogue.t(key), resolved => c.resolved, ambiguous => c.ambiguous, unknown => c.unknown })
    .collect();
    Ok(render(
        &viewer,
        "import.html",
        context! {
            done => true,
            imported => summary.imported,
            updated => summary.updated,
            unchanged => summary.unchanged,
            rejected => summary.rejected,
            resolution => columns,
            rejects => listed,
            download => download,
            failure => failure,
        },
    ))
}

pub async fn rejects(viewer: Viewer, Path(key): Path<String>) -> PageResult {
    let kept = REJECTS.lock().unwrap_or_else(|e| e.into_inner());
    match kept.get(&key) {
        Some((user, at, csv)) if *user == viewer.actor.user_id && at.elapsed() < KEPT => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"rejected-rows.csv\"",
                ),
            ],
            csv.clone(),
        )
            .into_response()),
        _ => Err(viewer.error(ApiError::NotFound("refused rows".into()))),
    }
}

pub async fn batch_form(viewer: Viewer) -> PageResult {
    viewer.require(Permission::Check)?;
    Ok(render(&viewer, "batch.html", context! {}))
}

#[derive(Deserialize)]
pub struct BatchQuery {
    format: Option<String>,
}

pub async fn batch(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<BatchQuery>,
    multipart: Multipart,
) -> PageResult {
    viewer.require(Permission::Check)?;
    let catalogue = viewer.catalogue;
    let reader = upload(&viewer, multipart, "serials").await?;
    let Some(reader) = reader else {
        let mut page = render(
            &viewer,
            "batch.html",
            context! { error => catalogue.t("import_no_file") },
        );
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(page);
    };
    let as_csv = query.format.as_deref() == Some("csv");
    let audit = crate::api::checks::check_audit(&state, &viewer.actor, None, None)
        .await
        .map_err(|e| viewer.error(e))?;
    let (lines_in, mut lines) = tokio::sync::mpsc::channel::<BatchLine>(256);
    let worker = tokio::spawn(check_batch(
        state.index.clone(),
        state.reference.clone(),
        audit,
        reader,
        lines_in,
    ));
    // The header is checked before any row is answered: no first line means an error or an
    // empty list, said as a page.
    let first = lines.recv().await;
    let mut worker = Some(worker);
    if first.is_none()
        && let Some(worker) = worker.take()
    {
        match worker.await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => {
                let mut page = render(
                    &viewer,
                    "batch.html",
                    context! { error => catalogue.f("batch_error", &[("detail", &error.to_string())]) },
                );
                *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
                return Ok(page);
            }
            Err(error) => return Err(viewer.error(ApiError::Internal(error.to_string()))),
        }
    }
    if as_csv {
        // Streamed as the rows are checked, whatever the list's size.
        let (chunks, body) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(16);
        tokio::spawn(async move {
            let buffer = SharedBuffer::default();
            let mut csv = BatchCsv::new(buffer.clone());
            let mut next = first;
            while let Some(line) = next {
                let written = csv
                    .write(&line)
                    .and_then(|()| csv.flush())
                    .map(|()| buffer.take())
                    .map_err(|e| std::io::Error::other(e.to_string()));
                if chunks.send(written).await.is_err() {
                    return;
                }
                next = lines.recv().await;
            }
            if let Some(worker) = worker {
                let _ = worker.await;
            }
        });
        let stream = futures::stream::unfold(body, |mut body| async move {
            body.recv().await.map(|chunk| (chunk, body))
        });
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"batch-check.csv\"",
                ),
            ],
            axum::body::Body::from_stream(stream),
        )
            .into_response());
    }
    // The page shows the first rows; every row is counted.
    const SHOWN: usize = 2000;
    let (mut total, mut matched) = (0_usize, 0_usize);
    let mut answered = Vec::new();
    let mut next = first;
    while let Some(line) = next {
        total += 1;
        matched += usize::from(!line.matches.is_empty());
        if answered.len() < SHOWN {
            answered.push(line);
        }
        next = lines.recv().await;
    }
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    let rows: Vec<Value> = answered
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let best = line.matches.first().map(|m| {
                context! {
                    level => format!("{:?}", m.confidence).to_lowercase(),
                    confidence => catalogue.t(&format!("check_{}", format!("{:?}", m.confidence).to_lowercase())),
                    record_id => m.record_id,
                    country => m.recording_country,
                    serial => m.serial_number,
                    make => m.make,
                    hit_id => m.hit_id,
                    more => line.matches.len() - 1,
                }
            });
            context! {
                row => i + 1,
                typed => line.input.get("serial_number").and_then(|v| v.as_str()).unwrap_or_default(),
                best => best,
                error => line.error.as_ref().map(|e| catalogue.f("batch_error", &[("detail", e)])),
            }
        })
        .collect();
    Ok(render(
        &viewer,
        "batch.html",
        context! {
            done => true,
            summary => catalogue.f("batch_rows", &[("rows", &total.to_string()), ("matched", &matched.to_string())]),
            rows => rows,
        },
    ))
}

#[derive(Deserialize)]
pub struct OrgsQuery {
    done: Option<String>,
    org: Option<String>,
}

pub async fn organisations(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<OrgsQuery>,
) -> PageResult {
    viewer.require(Permission::Admin)?;
    let catalogue = viewer.catalogue;
    let orgs = state
        .store
        .organisations()
        .await
        .map_err(|e| viewer.error(e))?;
    let rows: Vec<Value> = orgs
        .iter()
        .filter(|o| viewer.actor.may_administer(&o.as_ref()))
        .map(|o| {
            let may_approve = viewer.actor.may_approve(&o.as_ref());
            context! {
                id => o.id,
                name => o.name,
                kind => o.kind.to_string(),
                country => o.country.map(|c| c.to_string()),
                state_key => o.state.as_str(),
                state => catalogue.t(&format!("org_state_{}", o.state.as_str())),
                may_approve => may_approve && o.state != OrgState::Approved,
                may_suspend => may_approve && o.state == OrgState::Approved,
            }
        })
        .collect();
    let notice = match (query.done.as_deref(), query.org.as_deref()) {
        (Some("approved"), Some(org)) => Some(catalogue.f("orgs_approved", &[("org", org)])),
        (Some("suspended"), Some(org)) => Some(catalogue.f("orgs_suspended", &[("org", org)])),
        _ => None,
    };
    Ok(render(
        &viewer,
        "organisations.html",
        context! { orgs => rows, notice => notice },
    ))
}

pub async fn organisation_action(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(i64, String)>,
    axum::Form(form): axum::Form<CsrfOnly>,
) -> PageResult {
    viewer.check_form(&form.csrf_token)?;
    let (target, done) = match action.as_str() {
        "approve" => (OrgState::Approved, "approved"),
        "suspend" => (OrgState::Suspended, "suspended"),
        _ => return Err(viewer.error(ApiError::NotFound(format!("action {action}")))),
    };
    let org = crate::admin::set_org_state(state.store.as_ref(), &viewer.actor, id, target)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(see_other(&format!(
        "/organisations?done={done}&org={}",
        super::encode(&org.name)
    )))
}

/// Bytes written by one side and taken by the other, for an answer streamed as it is written.
#[derive(Clone, Default)]
struct SharedBuffer(std::sync::Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl std::io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
