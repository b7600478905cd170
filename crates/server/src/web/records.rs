//! The records pages: a filtered, paged list; a record with its history; the form that creates
//! or edits one (every field's problem shown beside it, nothing typed lost); deletion after
//! confirmation. The rules are the API's: `check` to read, `record` for one's own country to
//! write.

use armstrace_core::history::ChangeKind;
use armstrace_core::{CountryCode, Firearm, FirearmInput, FirearmType, Permission, RecordStatus};
use armstrace_reference::Canonicaliser;
use armstrace_store::FirearmFilter;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Catalogue, CsrfOnly, Viewer, WebError, render, see_other};
use crate::checking::index_record;
use crate::{ApiError, AppState};

type PageResult = Result<Response, WebError>;

const PAGE: u32 = 50;

#[derive(Deserialize, Serialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    country: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    make: String,
    after: Option<i64>,
}

fn options(
    catalogue: &Catalogue,
    prefix: &str,
    values: &[&'static str],
    chosen: &str,
) -> Vec<Value> {
    values
        .iter()
        .map(|v| context! { value => v, label => catalogue.t(&format!("{prefix}{v}")), selected => *v == chosen })
        .collect()
}

fn statuses() -> Vec<&'static str> {
    RecordStatus::ALL.iter().map(|s| s.as_str()).collect()
}

fn types() -> Vec<&'static str> {
    FirearmType::ALL.iter().map(|t| t.as_str()).collect()
}

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    viewer.require(Permission::Check)?;
    let catalogue = viewer.catalogue;
    let filter = FirearmFilter {
        recording_country: CountryCode::parse(query.country.trim()).ok(),
        status: RecordStatus::parse(&query.status),
        make: Some(query.make.trim().to_string()).filter(|m| !m.is_empty()),
        include_deleted: false,
    };
    let store = state.store.as_ref();
    let found = store
        .list_firearms(&filter, query.after, PAGE)
        .await
        .map_err(|e| viewer.error(e))?;
    let total = store
        .count_firearms(&filter)
        .await
        .map_err(|e| viewer.error(e))?;
    let rows: Vec<Value> = found
        .iter()
        .map(|f| {
            context! {
                id => f.id,
                record_id => f.fields.record_id.to_string(),
                serial => f.fields.serial_number.to_string(),
                make => f.fields.make,
                model => f.fields.model,
                firearm_type => catalogue.t(&format!("type_{}", f.fields.firearm_type.as_str())),
                country => f.fields.recording_country.to_string(),
                status => catalogue.t(&format!("status_{}", f.fields.status.as_str())),
                event_date => f.fields.event_date.to_string(),
            }
        })
        .collect();
    let next = (found.len() == PAGE as usize)
        .then(|| found.last().map(|f| f.id))
        .flatten()
        .map(|after| {
            format!(
                "/records?country={}&status={}&make={}&after={after}",
                super::encode(&query.country),
                super::encode(&query.status),
                super::encode(&query.make)
            )
        });
    Ok(render(
        &viewer,
        "records.html",
        context! {
            rows => rows,
            count => catalogue.f("records_count", &[("count", &total.to_string())]),
            query => query,
            statuses => options(catalogue, "status_", &statuses(), &query.status),
            next => next,
            paged => query.after.is_some(),
            may_record => viewer.actor.permissions.has(Permission::Record),
        },
    ))
}

/// The record `id`, which any user with `check` may read.
async fn load(state: &AppState, viewer: &Viewer, id: i64) -> Result<Firearm, WebError> {
    state
        .store
        .firearm(id)
        .await
        .map_err(|e| viewer.error(e))?
        .ok_or_else(|| viewer.error(ApiError::NotFound(format!("record {id}"))))
}

/// The live record `id`, which the viewer may change (`record`, for its country).
async fn changeable(state: &AppState, viewer: &Viewer, id: i64) -> Result<Firearm, WebError> {
    viewer.require(Permission::Record)?;
    let firearm = load(state, viewer, id).await?;
    if !viewer
        .actor
        .may_record_for(firearm.fields.recording_country)
        || firearm.deleted_at.is_some()
    {
        return Err(viewer.error(ApiError::forbidden(Permission::Record, "")));
    }
    Ok(firearm)
}

fn history_kind(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Created => "record_history_created",
        ChangeKind::Updated => "record_history_updated",
        ChangeKind::Deleted => "record_history_deleted",
    }
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> PageResult {
    viewer.require(Permission::Check)?;
    let catalogue = viewer.catalogue;
    let firearm = load(&state, &viewer, id).await?;
    let history = state.store.history(id).await.map_err(|e| viewer.error(e))?;
    let f = &firearm.fields;
    let canonical = [
        f.canonical.make.as_deref(),
        f.canonical.model.as_deref(),
        f.canonical.calibre.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let facts: Vec<Value> = [
        ("field_record_id", f.record_id.to_string()),
        ("field_serial_number", f.serial_number.to_string()),
        ("field_make", f.make.clone()),
        ("field_model", f.model.clone().unwrap_or_default()),
        ("field_calibre", f.calibre.clone().unwrap_or_default()),
        ("field_canonical", canonical),
        (
            "field_firearm_type",
            catalogue
                .t(&format!("type_{}", f.firearm_type.as_str()))
                .to_string(),
        ),
        (
            "field_country_of_manufacture",
            f.country_of_manufacture
                .map(|c| c.to_string())
                .unwrap_or_default(),
        ),
        ("field_recording_country", f.recording_country.to_string()),
        (
            "field_status",
            catalogue
                .t(&format!("status_{}", f.status.as_str()))
                .to_string(),
        ),
        ("field_event_date", f.event_date.to_string()),
        (
            "field_year_of_manufacture",
            f.year_of_manufacture
                .map(|y| y.to_string())
                .unwrap_or_default(),
        ),
        (
            "field_import_marks",
            f.import_marks.clone().unwrap_or_default(),
        ),
        ("field_additional_serials", f.additional_serials.join(", ")),
        (
            "field_case_reference",
            f.case_reference.clone().unwrap_or_default(),
        ),
        ("field_notes", f.notes.clone().unwrap_or_default()),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(key, value)| context! { label => catalogue.t(key), value => value })
    .collect();
    let history: Vec<Value> = history
        .iter()
        .rev()
        .map(|h| {
            let changes: Vec<String> = h
                .changes
                .iter()
                .map(|c| format!("{}: {} → {}", catalogue.t(&format!("field_{}", c.field)), plain(&c.from), plain(&c.to)))
                .collect();
            context! {
                kind => catalogue.t(history_kind(h.kind)),
                at => h.at.format("%Y-%m-%d %H:%M UTC").to_string(),
                by => catalogue.f("record_history_by", &[("user", &h.user), ("org", &h.organisation), ("channel", &h.channel)]),
                changes => changes,
            }
        })
        .collect();
    let may_change =
        firearm.deleted_at.is_none() && viewer.actor.may_record_for(f.recording_country);
    Ok(render(
        &viewer,
        "record.html",
        context! {
            id => firearm.id,
            facts => facts,
            history => history,
            deleted => firearm.deleted_at.map(|d| catalogue.f("record_deleted", &[("date", &d.format("%Y-%m-%d").to_string())])),
            may_change => may_change,
            obliterated => f.serial_obliterated,
        },
    ))
}

fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "—".into(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The form's fields, as typed.
#[derive(Deserialize, Serialize, Default, Clone)]
pub struct RecordForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    record_id: String,
    #[serde(default)]
    serial_number: String,
    #[serde(default)]
    make: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    calibre: String,
    #[serde(default)]
    firearm_type: String,
    #[serde(default)]
    country_of_manufacture: String,
    #[serde(default)]
    recording_country: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    event_date: String,
    #[serde(default)]
    year_of_manufacture: String,
    #[serde(default)]
    import_marks: String,
    #[serde(default)]
    additional_serials: String,
    #[serde(default)]
    serial_obliterated: Option<String>,
    #[serde(default)]
    case_reference: String,
    #[serde(default)]
    notes: String,
}

fn optional(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

impl RecordForm {
    fn from_record(firearm: &Firearm) -> Self {
        let f = &firearm.fields;
        RecordForm {
            version: Some(firearm.version),
            record_id: f.record_id.to_string(),
            serial_number: f.serial_number.to_string(),
            make: f.make.clone(),
            model: f.model.clone().unwrap_or_default(),
            calibre: f.calibre.clone().unwrap_or_default(),
            firearm_type: f.firearm_type.as_str().into(),
            country_of_manufacture: f
                .country_of_manufacture
                .map(|c| c.to_string())
                .unwrap_or_default(),
            recording_country: f.recording_country.to_string(),
            status: f.status.as_str().into(),
            event_date: f.event_date.to_string(),
            year_of_manufacture: f
                .year_of_manufacture
                .map(|y| y.to_string())
                .unwrap_or_default(),
            import_marks: f.import_marks.clone().unwrap_or_default(),
            additional_serials: f.additional_serials.join("\n"),
            serial_obliterated: f.serial_obliterated.then(|| "on".into()),
            case_reference: f.case_reference.clone().unwrap_or_default(),
            notes: f.notes.clone().unwrap_or_default(),
            ..RecordForm::default()
        }
    }

    /// What the form says, as the records module reads input; a year that is not a number is
    /// its own problem.
    fn input(&self) -> (FirearmInput, Option<armstrace_core::FieldError>) {
        let (year, year_problem) = match self.year_of_manufacture.trim() {
            "" => (None, None),
            text => match text.parse::<i32>() {
                Ok(year) => (Some(year), None),
                Err(_) => (
                    None,
                    Some(armstrace_core::FieldError::new(
                        "year_of_manufacture",
                        "not_a_year",
                        "write the year with four digits",
                    )),
                ),
            },
        };
        let input = FirearmInput {
            record_id: optional(&self.record_id),
            serial_number: optional(&self.serial_number),
            make: optional(&self.make),
            model: optional(&self.model),
            calibre: optional(&self.calibre),
            firearm_type: optional(&self.firearm_type),
            country_of_manufacture: optional(&self.country_of_manufacture),
            recording_country: optional(&self.recording_country),
            status: optional(&self.status),
            event_date: optional(&self.event_date),
            year_of_manufacture: year,
            import_marks: optional(&self.import_marks),
            additional_serials: Some(
                self.additional_serials
                    .lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect(),
            ),
            serial_obliterated: Some(self.serial_obliterated.is_some()),
            case_reference: optional(&self.case_reference),
            notes: optional(&self.notes),
        };
        (input, year_problem)
    }
}

impl RecordForm {
    /// The record the form describes (in `country`, when the record has one already), or
    /// every problem with it.
    fn validated(
        &self,
        country: Option<CountryCode>,
    ) -> Result<armstrace_core::FirearmFields, Vec<armstrace_core::FieldError>> {
        let (mut input, year_problem) = self.input();
        if let Some(country) = country {
            input.recording_country = Some(country.to_string());
        }
        let today = armstrace_core::firearm::latest_date_anywhere(chrono::Utc::now());
        match (input.validate(today), year_problem) {
            (Ok(fields), None) => Ok(fields),
            (Ok(_), Some(problem)) => Err(vec![problem]),
            (Err(errors), problem) => Err(errors.0.into_iter().chain(problem).collect()),
        }
    }
}

/// Each field's problems, in the viewer's language where the catalogue has the words.
fn field_errors(catalogue: &Catalogue, errors: &[armstrace_core::FieldError]) -> Value {
    let mut by_field = std::collections::BTreeMap::<String, Vec<String>>::new();
    for e in errors {
        let key = format!("field_error_{}", e.code);
        let text = match catalogue.t(&key) {
            "" => e.message.clone(),
            words => words.to_string(),
        };
        by_field.entry(e.field.clone()).or_default().push(text);
    }
    Value::from_serialize(&by_field)
}

fn form_page(
    viewer: &Viewer,
    form: &RecordForm,
    id: Option<i64>,
    errors: &[armstrace_core::FieldError],
    notice: Option<String>,
) -> Response {
    let catalogue = viewer.catalogue;
    let country = if form.recording_country.is_empty() {
        viewer
            .actor
            .country
            .map(|c| c.to_string())
            .unwrap_or_default()
    } else {
        form.recording_country.clone()
    };
    let mut page = render(
        viewer,
        "record_form.html",
        context! {
            id => id,
            form => form,
            recording_country => country,
            errors => field_errors(catalogue, errors),
            notice => notice,
            types => options(catalogue, "type_", &types(), &form.firearm_type),
            statuses => options(catalogue, "status_", &statuses(), &form.status),
        },
    );
    if !errors.is_empty() {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    page
}

pub async fn new_form(viewer: Viewer) -> PageResult {
    viewer.require(Permission::Record)?;
    Ok(form_page(&viewer, &RecordForm::default(), None, &[], None))
}

pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<RecordForm>,
) -> PageResult {
    viewer.require(Permission::Record)?;
    viewer.check_form(&form.csrf_token)?;
    let mut fields = match form.validated(None) {
        Ok(fields) => fields,
        Err(errors) => return Ok(form_page(&viewer, &form, None, &errors, None)),
    };
    if !viewer.actor.may_record_for(fields.recording_country) {
        let refused = armstrace_core::FieldError::new(
            "recording_country",
            "forbidden",
            format!(
                "you may not record firearms for {}",
                fields.recording_country
            ),
        );
        return Ok(form_page(&viewer, &form, None, &[refused], None));
    }
    Canonicaliser::new(state.reference.resolver()).fill(&mut fields);
    match state
        .store
        .create_firearm(&viewer.actor, &fields, armstrace_store::Channel::Web)
        .await
    {
        Ok(firearm) => {
            index_record(&state.index, &firearm);
            Ok(see_other(&format!("/records/{}", firearm.id)))
        }
        Err(armstrace_store::StoreError::Conflict { message, .. }) => {
            let taken = armstrace_core::FieldError::new("record_id", "duplicate", message);
            Ok(form_page(&viewer, &form, None, &[taken], None))
        }
        Err(other) => Err(viewer.error(other)),
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> PageResult {
    let firearm = changeable(&state, &viewer, id).await?;
    Ok(form_page(
        &viewer,
        &RecordForm::from_record(&firearm),
        Some(id),
        &[],
        None,
    ))
}

pub async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<RecordForm>,
) -> PageResult {
    viewer.require(Permission::Record)?;
    viewer.check_form(&form.csrf_token)?;
    let current = load(&state, &viewer, id).await?;
    if !viewer
        .actor
        .may_record_for(current.fields.recording_country)
    {
        return Err(viewer.error(ApiError::forbidden(Permission::Record, "")));
    }
    // A record's country never changes; the form shows it but does not send it back altered.
    let mut fields = match form.validated(Some(current.fields.recording_country)) {
        Ok(fields) => fields,
        Err(errors) => return Ok(form_page(&viewer, &form, Some(id), &errors, None)),
    };
    Canonicaliser::new(state.reference.resolver()).fill(&mut fields);
    match state
        .store
        .update_firearm(&viewer.actor, id, &fields, form.version)
        .await
    {
        Ok(firearm) => {
            index_record(&state.index, &firearm);
            Ok(see_other(&format!("/records/{id}")))
        }
        Err(armstrace_store::StoreError::Conflict { code, message }) => {
            let notice = (code == "stale_version")
                .then(|| viewer.catalogue.t("record_changed_meanwhile").to_string());
            let problem = armstrace_core::FieldError::new("record_id", "conflict", message);
            let mut form = form;
            form.version = Some(current.version);
            Ok(form_page(&viewer, &form, Some(id), &[problem], notice))
        }
        Err(other) => Err(viewer.error(other)),
    }
}

pub async fn delete_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> PageResult {
    let firearm = changeable(&state, &viewer, id).await?;
    Ok(render(
        &viewer,
        "record_delete.html",
        context! { id => id, record_id => firearm.fields.record_id.to_string(), serial => firearm.fields.serial_number.to_string() },
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> PageResult {
    viewer.require(Permission::Record)?;
    viewer.check_form(&form.csrf_token)?;
    let firearm = load(&state, &viewer, id).await?;
    if !viewer
        .actor
        .may_record_for(firearm.fields.recording_country)
    {
        return Err(viewer.error(ApiError::forbidden(Permission::Record, "")));
    }
    let deleted = state
        .store
        .delete_firearm(&viewer.actor, id)
        .await
        .map_err(|e| viewer.error(e))?;
    index_record(&state.index, &deleted);
    Ok(see_other(&format!("/records/{id}")))
}
