//! The trace request pages: the inbox of incoming and outgoing requests with filters and
//! exports, the form that writes a request (from a check that found nothing, or blank), and a
//! request's page with what it lacks, where to send it, its chain, attachments, timeline and
//! the moves the viewer may make. The rules are the API's ([`crate::traces`]).

use armstrace_core::Permission;
use armstrace_core::trace::{
    AnswerResult, Circumstances, Priority, TraceAction, TraceAnswer, TraceContent, TraceStatus,
    TracedFirearm, Transfer,
};
use armstrace_store::traces::{Direction, TraceFilter};
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::response::Response;
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{Catalogue, Viewer, WebError, render, see_other};
use crate::traces::{self as rules, ActionInput, Draft, country_field};
use crate::{ApiError, AppState};

type PageResult = Result<Response, WebError>;

fn status_label(catalogue: &Catalogue, status: TraceStatus) -> String {
    catalogue
        .t(&format!("trace_status_{}", status.as_str()))
        .to_string()
}

fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

#[derive(Deserialize, Serialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    direction: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    overdue: Option<String>,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    country: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> PageResult {
    viewer.require(Permission::Trace)?;
    let catalogue = viewer.catalogue;
    let mut filter = TraceFilter::new(rules::scope(&viewer.actor), 200);
    filter.direction = match query.direction.as_str() {
        "incoming" => Some(Direction::Incoming),
        "outgoing" => Some(Direction::Outgoing),
        _ => None,
    };
    filter.status = TraceStatus::parse(&query.status);
    filter.priority = Priority::parse(&query.priority);
    filter.country = country_field("country", Some(&query.country)).map_err(|e| viewer.error(e))?;
    let day = |field: &str, text: &str| {
        given(text)
            .map(|d| {
                chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
                    viewer.error(ApiError::invalid(field, "invalid_date", "YYYY-MM-DD"))
                })
            })
            .transpose()
    };
    filter.from = day("from", &query.from)?;
    filter.to = day("to", &query.to)?;
    let now = state.clock.now();
    let overdue = query.overdue.is_some();
    filter.overdue_at = overdue.then_some(now);
    let traces = state
        .store
        .traces(&filter)
        .await
        .map_err(|e| viewer.error(e))?;
    let rows: Vec<Value> = traces
        .iter()
        .map(|t| {
            context! {
                id => t.id,
                status => status_label(catalogue, t.status),
                status_key => t.status.as_str(),
                urgent => t.priority == Priority::Urgent,
                late => t.late(now).map(|l| catalogue.t(&format!("trace_late_{}", l.as_str()))),
                from => format!("{} ({})", t.requester_organisation, t.requester_country),
                to => t.to_country.map(|c| c.to_string()),
                serials => t.content.firearm.serial_numbers.join(", "),
                make => t.content.firearm.make,
                written => when(t.created_at),
            }
        })
        .collect();
    let statuses: Vec<Value> = TraceStatus::ALL
        .iter()
        .map(|s| context! { key => s.as_str(), label => status_label(catalogue, *s), selected => query.status == s.as_str() })
        .collect();
    let export = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            [
                ("direction", query.direction.as_str()),
                ("status", query.status.as_str()),
                ("priority", query.priority.as_str()),
                ("country", query.country.as_str()),
                ("from", query.from.as_str()),
                ("to", query.to.as_str()),
            ]
            .into_iter()
            .filter(|(_, v)| !v.is_empty()),
        )
        .extend_pairs(overdue.then_some(("overdue", "true")))
        .finish();
    Ok(render(
        &viewer,
        "traces.html",
        context! {
            traces => rows,
            statuses => statuses,
            direction => query.direction,
            priority => query.priority,
            country => query.country,
            from => query.from,
            to => query.to,
            overdue => overdue,
            export => export,
        },
    ))
}

/// The request form's fields, as typed (nothing lost when a problem is shown).
#[derive(Deserialize, Serialize, Default, Clone)]
pub struct TraceForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    to_country: String,
    #[serde(default)]
    on_behalf_of: String,
    #[serde(default)]
    serial_numbers: String,
    serial_obliterated: Option<String>,
    #[serde(default)]
    restored_serial: String,
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
    import_marks: String,
    #[serde(default)]
    other_markings: String,
    #[serde(default)]
    record_id: String,
    #[serde(default)]
    seized_on: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    case_reference: String,
    #[serde(default)]
    crime_type: String,
    #[serde(default)]
    how_found: String,
    #[serde(default)]
    legal_basis: String,
    #[serde(default)]
    intended_use: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    urgency: String,
    #[serde(default)]
    version: String,
}

fn given(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

impl TraceForm {
    fn to_draft(&self) -> Result<Draft, ApiError> {
        let seized_on = given(&self.seized_on)
            .map(|d| {
                chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
                    ApiError::invalid("circumstances.seized_on", "invalid_date", "YYYY-MM-DD")
                })
            })
            .transpose()?;
        let record_id = given(&self.record_id)
            .map(|r| {
                r.parse::<i64>().map_err(|_| {
                    ApiError::invalid("firearm.record_id", "invalid_type", "a record's number")
                })
            })
            .transpose()?;
        Ok(Draft {
            to_country: country_field("to_country", Some(&self.to_country))?,
            on_behalf_of: country_field("on_behalf_of", Some(&self.on_behalf_of))?,
            content: TraceContent {
                firearm: TracedFirearm {
                    serial_numbers: self
                        .serial_numbers
                        .split([',', '\n'])
                        .filter_map(given)
                        .collect(),
                    serial_obliterated: self.serial_obliterated.is_some(),
                    restored_serial: given(&self.restored_serial),
                    make: given(&self.make),
                    model: given(&self.model),
                    calibre: given(&self.calibre),
                    firearm_type: given(&self.firearm_type),
                    country_of_manufacture: country_field(
                        "firearm.country_of_manufacture",
                        Some(&self.country_of_manufacture),
                    )?,
                    import_marks: given(&self.import_marks),
                    other_markings: given(&self.other_markings),
                    record_id,
                },
                circumstances: Circumstances {
                    seized_on,
                    place: given(&self.place),
                    case_reference: given(&self.case_reference),
                    crime_type: given(&self.crime_type),
                    how_found: given(&self.how_found),
                },
                legal_basis: given(&self.legal_basis),
                intended_use: given(&self.intended_use),
                priority: Priority::parse(&self.priority),
                urgency: given(&self.urgency),
            },
        })
    }

    fn of(trace: &armstrace_store::traces::Trace) -> Self {
        let c = &trace.content;
        let f = &c.firearm;
        let s = &c.circumstances;
        let text = |t: &Option<String>| t.clone().unwrap_or_default();
        TraceForm {
            to_country: trace.to_country.map(|c| c.to_string()).unwrap_or_default(),
            serial_numbers: f.serial_numbers.join(", "),
            serial_obliterated: f.serial_obliterated.then(|| "on".into()),
            restored_serial: text(&f.restored_serial),
            make: text(&f.make),
            model: text(&f.model),
            calibre: text(&f.calibre),
            firearm_type: text(&f.firearm_type),
            country_of_manufacture: f
                .country_of_manufacture
                .map(|c| c.to_string())
                .unwrap_or_default(),
            import_marks: text(&f.import_marks),
            other_markings: text(&f.other_markings),
            record_id: f.record_id.map(|r| r.to_string()).unwrap_or_default(),
            seized_on: s.seized_on.map(|d| d.to_string()).unwrap_or_default(),
            place: text(&s.place),
            case_reference: text(&s.case_reference),
            crime_type: text(&s.crime_type),
            how_found: text(&s.how_found),
            legal_basis: text(&c.legal_basis),
            intended_use: text(&c.intended_use),
            priority: c.priority.unwrap_or(Priority::Routine).as_str().into(),
            urgency: text(&c.urgency),
            version: trace.version.to_string(),
            ..TraceForm::default()
        }
    }
}

/// What a check or a record fills in a new request.
#[derive(Deserialize, Default)]
pub struct Prefill {
    #[serde(default)]
    serial: String,
    #[serde(default)]
    make: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    calibre: String,
    #[serde(default)]
    record_id: String,
}

fn form_page(
    viewer: &Viewer,
    id: Option<i64>,
    form: &TraceForm,
    problem: Option<ApiError>,
) -> Response {
    // Each refused field shown beside its input: `firearm.make` belongs to `make`.
    let mut errors = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut notice = None;
    match problem {
        Some(ApiError::Validation(fields)) => {
            for f in fields {
                let name = f.field.rsplit('.').next().unwrap_or(&f.field).to_string();
                errors.entry(name).or_default().push(f.message);
            }
        }
        Some(other) => notice = Some(other.to_string()),
        None => {}
    }
    let priorities: Vec<Value> = [Priority::Routine, Priority::Urgent]
        .iter()
        .map(|p| context! { key => p.as_str(), label => viewer.catalogue.t(&format!("trace_priority_{}", p.as_str())), selected => form.priority == p.as_str() })
        .collect();
    render(
        viewer,
        "trace_form.html",
        context! {
            id => id,
            form => form,
            errors => errors,
            notice => notice,
            priorities => priorities,
            partner => viewer.actor.country.is_none(),
        },
    )
}

pub async fn new_form(viewer: Viewer, Query(prefill): Query<Prefill>) -> PageResult {
    viewer.require(Permission::Trace)?;
    let form = TraceForm {
        serial_numbers: prefill.serial,
        make: prefill.make,
        model: prefill.model,
        calibre: prefill.calibre,
        record_id: prefill.record_id,
        priority: "routine".into(),
        ..TraceForm::default()
    };
    Ok(form_page(&viewer, None, &form, None))
}

pub async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<TraceForm>,
) -> PageResult {
    viewer.check_form(&form.csrf_token)?;
    viewer.require(Permission::Trace)?;
    let created = match form.to_draft() {
        Ok(draft) => rules::create(&state, &viewer.actor, draft).await,
        Err(problem) => Err(problem),
    };
    match created {
        Ok(trace) => Ok(see_other(&format!("/traces/{}", trace.id))),
        Err(problem @ ApiError::Validation(_)) => {
            Ok(form_page(&viewer, None, &form, Some(problem)))
        }
        Err(problem) => Err(viewer.error(problem)),
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> PageResult {
    viewer.require(Permission::Trace)?;
    let (trace, _) = rules::visible(&state, &viewer.actor, id)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(form_page(&viewer, Some(id), &TraceForm::of(&trace), None))
}

pub async fn edit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    Form(form): Form<TraceForm>,
) -> PageResult {
    viewer.check_form(&form.csrf_token)?;
    let edited = match form.to_draft() {
        Ok(draft) => {
            rules::edit(
                &state,
                &viewer.actor,
                id,
                draft.to_country,
                draft.content,
                form.version.parse().ok(),
            )
            .await
        }
        Err(problem) => Err(problem),
    };
    match edited {
        Ok(_) => Ok(see_other(&format!("/traces/{id}"))),
        Err(problem @ (ApiError::Validation(_) | ApiError::Conflict { .. })) => {
            Ok(form_page(&viewer, Some(id), &form, Some(problem)))
        }
        Err(problem) => Err(viewer.error(problem)),
    }
}

pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
) -> PageResult {
    viewer.require(Permission::Trace)?;
    let view = rules::view(&state, &viewer.actor, id)
        .await
        .map_err(|e| viewer.error(e))?;
    let catalogue = viewer.catalogue;
    let t = &view.trace;
    let c = &t.content;
    let f = &c.firearm;
    let s = &c.circumstances;
    let missing: Vec<Value> = view
        .missing
        .iter()
        .map(|m| context! { field => catalogue.t(&format!("trace_field_{}", m.field.replace('.', "_"))), blocking => m.blocking, reason => m.reason })
        .collect();
    let timeline: Vec<Value> = view
        .timeline
        .iter()
        .map(|e| {
            context! {
                event => catalogue.t(&format!("event_{}", e.event.replace('.', "_"))),
                by => format!("{} ({})", e.username, e.organisation),
                at => when(e.at),
                text => e.text,
            }
        })
        .collect();
    let chain: Vec<Value> = view
        .chain
        .iter()
        .map(|l| {
            context! {
                id => l.id,
                this => l.id == t.id,
                from => l.requester_country.to_string(),
                to => l.to_country.map(|c| c.to_string()),
                status => status_label(catalogue, l.status),
                result => l.result.map(|r| catalogue.t(&format!("trace_result_{}", r.as_str()))),
            }
        })
        .collect();
    let destinations: Vec<Value> = view
        .destinations
        .iter()
        .map(|d| context! { country => d.country.to_string(), name => d.name, reason => d.reason })
        .collect();
    let attachments: Vec<Value> = view
        .attachments
        .iter()
        .map(|a| context! { id => a.id, name => a.name, kind => a.content_type, size => (a.size + 1023) / 1024, by => a.organisation, at => when(a.created_at) })
        .collect();
    let answer = t.answer.as_ref().map(|a| {
        context! {
            result => catalogue.t(&format!("trace_result_{}", a.result.as_str())),
            recipient => a.last_legal_recipient,
            country => a.last_legal_country.map(|c| c.name()),
            licences => a.licence_references.join(", "),
            text => a.text,
            transfers => a.transfers.iter().map(|tr| context! {
                date => tr.date.map(|d| d.to_string()),
                from => tr.from, to => tr.to,
                exporting => tr.exporting_country.map(|c| c.to_string()),
                importing => tr.importing_country.map(|c| c.to_string()),
                licence => tr.licence_reference,
            }).collect::<Vec<_>>(),
        }
    });
    let may = |a: TraceAction| view.actions.contains(&a);
    let results: Vec<Value> = [
        AnswerResult::Found,
        AnswerResult::Partial,
        AnswerResult::NotFound,
    ]
    .iter()
    .map(|r| context! { key => r.as_str(), label => catalogue.t(&format!("trace_result_{}", r.as_str())) })
    .collect();
    let blocked = view.missing.iter().any(|m| m.blocking) || t.to_country.is_none();
    Ok(render(
        &viewer,
        "trace.html",
        context! {
            id => t.id,
            status => status_label(catalogue, t.status),
            status_key => t.status.as_str(),
            urgent => t.priority == Priority::Urgent,
            urgency => c.urgency,
            late => view.late.map(|l| catalogue.t(&format!("trace_late_{}", l.as_str()))),
            from => format!("{} ({})", t.requester_organisation, t.requester_country),
            to => t.to_country.map(|c| format!("{} ({c})", c.name())),
            written => catalogue.f("trace_written_by", &[("user", &t.created_by), ("date", &when(t.created_at))]),
            acknowledge_by => t.deadlines.map(|d| when(d.acknowledge_by)),
            answer_by => t.deadlines.map(|d| when(d.answer_by)),
            serials => f.serial_numbers.join(", "),
            obliterated => f.serial_obliterated,
            restored => f.restored_serial,
            make => f.make, model => f.model, calibre => f.calibre,
            firearm_type => f.firearm_type,
            made_in => f.country_of_manufacture.map(|c| c.name()),
            import_marks => f.import_marks,
            other_markings => f.other_markings,
            record_id => f.record_id,
            seized_on => s.seized_on.map(|d| d.to_string()),
            place => s.place, case_reference => s.case_reference,
            crime_type => s.crime_type, how_found => s.how_found,
            legal_basis => c.legal_basis, intended_use => c.intended_use,
            missing => missing,
            destinations => destinations,
            chain => chain,
            timeline => timeline,
            attachments => attachments,
            answer => answer,
            results => results,
            can_edit => view.can_edit,
            can_write => view.can_write,
            may_send => may(TraceAction::Send),
            send_blocked => blocked,
            may_acknowledge => may(TraceAction::Acknowledge),
            may_request_information => may(TraceAction::RequestInformation),
            may_answer => may(TraceAction::Answer),
            may_forward => may(TraceAction::Forward),
            may_close => may(TraceAction::Close),
            max_mb => state.traces.max_attachment / (1024 * 1024),
        },
    ))
}

#[derive(Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    to_country: String,
    #[serde(default)]
    result: String,
    #[serde(default)]
    last_legal_recipient: String,
    #[serde(default)]
    last_legal_country: String,
    #[serde(default)]
    transfer_date: String,
    #[serde(default)]
    transfer_from: String,
    #[serde(default)]
    transfer_to: String,
    #[serde(default)]
    exporting_country: String,
    #[serde(default)]
    importing_country: String,
    #[serde(default)]
    licence_reference: String,
    #[serde(default)]
    licence_references: String,
}

impl ActionForm {
    fn answer(&self) -> Result<TraceAnswer, ApiError> {
        let result = [
            AnswerResult::Found,
            AnswerResult::Partial,
            AnswerResult::NotFound,
        ]
        .into_iter()
        .find(|r| r.as_str() == self.result)
        .ok_or_else(|| ApiError::invalid("result", "required", "found, partial or not found"))?;
        let transfer = Transfer {
            date: given(&self.transfer_date)
                .map(|d| {
                    chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| {
                        ApiError::invalid("transfer_date", "invalid_date", "YYYY-MM-DD")
                    })
                })
                .transpose()?,
            from: given(&self.transfer_from),
            to: given(&self.transfer_to),
            exporting_country: country_field("exporting_country", Some(&self.exporting_country))?,
            importing_country: country_field("importing_country", Some(&self.importing_country))?,
            licence_reference: given(&self.licence_reference),
        };
        Ok(TraceAnswer {
            result,
            last_legal_recipient: given(&self.last_legal_recipient),
            last_legal_country: country_field(
                "last_legal_country",
                Some(&self.last_legal_country),
            )?,
            transfers: if transfer == Transfer::default() {
                Vec::new()
            } else {
                vec![transfer]
            },
            licence_references: self
                .licence_references
                .split(',')
                .filter_map(given)
                .collect(),
            text: given(&self.text),
        })
    }
}

pub async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> PageResult {
    viewer.check_form(&form.csrf_token)?;
    let actor = &viewer.actor;
    let done = if action == "message" {
        rules::message(&state, actor, id, &form.text)
            .await
            .map(drop)
    } else {
        let Some(action) = TraceAction::parse(&action) else {
            return Err(viewer.error(ApiError::NotFound(format!("action {action}"))));
        };
        let input = match action {
            TraceAction::RequestInformation => Ok(ActionInput {
                text: Some(form.text.clone()),
                ..ActionInput::default()
            }),
            TraceAction::Answer => form.answer().map(|answer| ActionInput {
                answer: Some(answer),
                ..ActionInput::default()
            }),
            TraceAction::Forward => {
                country_field("to_country", Some(&form.to_country)).map(|to| ActionInput {
                    to_country: to,
                    text: given(&form.note),
                    ..ActionInput::default()
                })
            }
            _ => Ok(ActionInput {
                text: given(&form.note),
                ..ActionInput::default()
            }),
        };
        match input {
            Ok(input) => rules::act(&state, actor, id, action, input).await.map(drop),
            Err(problem) => Err(problem),
        }
    };
    done.map_err(|e| viewer.error(e))?;
    Ok(see_other(&format!("/traces/{id}")))
}

pub async fn attach(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<i64>,
    mut multipart: Multipart,
) -> PageResult {
    let bad = |detail: String| ApiError::BadRequest {
        code: "unreadable_form",
        detail,
    };
    let mut csrf = String::new();
    let mut file = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| viewer.error(bad(e.body_text())))?
    {
        match field.name() {
            Some("csrf_token") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| viewer.error(bad(e.body_text())))?;
                // Refused before any of the file is read, when the form is not this session's.
                viewer.check_form(&csrf)?;
            }
            Some("file") if csrf.is_empty() => {
                // The form sends its token first; a file before it is not from our page.
                viewer.check_form("")?;
            }
            Some("file") => {
                let name = field.file_name().unwrap_or("attachment").to_string();
                let declared = field.content_type().map(str::to_string);
                // Read no more than the deployment allows.
                let most = state.traces.max_attachment;
                let mut bytes = Vec::new();
                while let Some(chunk) = field
                    .chunk()
                    .await
                    .map_err(|e| viewer.error(bad(e.body_text())))?
                {
                    if bytes.len() + chunk.len() > most {
                        return Err(viewer.error(rules::too_large(most)));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                file = Some((name, declared, bytes));
            }
            _ => {}
        }
    }
    viewer.check_form(&csrf)?;
    let Some((name, declared, bytes)) = file else {
        return Err(viewer.error(ApiError::invalid("file", "required", "choose a file")));
    };
    rules::attach(
        &state,
        &viewer.actor,
        id,
        &name,
        declared.as_deref(),
        &bytes,
    )
    .await
    .map_err(|e| viewer.error(e))?;
    Ok(see_other(&format!("/traces/{id}")))
}

#[cfg(test)]
mod tests {
    use armstrace_core::trace::{
        AnswerResult, Late, Priority, TraceContent, TraceStatus, TracedFirearm,
    };

    use super::super::i18n::own_keys;

    /// The keys the pages build from values (a status, a missing field, an event) are all in
    /// the English and French catalogues.
    #[test]
    fn every_key_built_from_a_value_is_translated() {
        let mut keys: Vec<String> = TraceStatus::ALL
            .iter()
            .map(|s| format!("trace_status_{}", s.as_str()))
            .collect();
        keys.extend(
            [Late::Acknowledgement, Late::Answer]
                .iter()
                .map(|l| format!("trace_late_{}", l.as_str())),
        );
        keys.extend(
            [Priority::Routine, Priority::Urgent]
                .iter()
                .map(|p| format!("trace_priority_{}", p.as_str())),
        );
        keys.extend(
            [
                AnswerResult::Found,
                AnswerResult::NotFound,
                AnswerResult::Partial,
            ]
            .iter()
            .map(|r| format!("trace_result_{}", r.as_str())),
        );
        // Everything a request can lack: an empty urgent request of a firearm made abroad.
        let empty = TraceContent {
            priority: Some(Priority::Urgent),
            firearm: TracedFirearm {
                country_of_manufacture: armstrace_core::CountryCode::parse("DE").ok(),
                ..TracedFirearm::default()
            },
            ..TraceContent::default()
        };
        let obliterated = TraceContent {
            firearm: TracedFirearm {
                serial_obliterated: true,
                ..TracedFirearm::default()
            },
            ..TraceContent::default()
        };
        for content in [empty, obliterated] {
            keys.extend(
                content
                    .missing(armstrace_core::CountryCode::parse("FR").ok())
                    .iter()
                    .map(|m| format!("trace_field_{}", m.field.replace('.', "_"))),
            );
        }
        for event in [
            "created",
            "updated",
            "sent",
            "acknowledged",
            "information_requested",
            "answered",
            "forwarded",
            "closed",
            "message",
            "attachment",
            "overdue",
        ] {
            keys.push(format!("event_trace_{event}"));
        }
        for code in ["en", "fr"] {
            let catalogue = own_keys(code).unwrap();
            for key in &keys {
                assert!(catalogue.contains_key(key), "{code} lacks '{key}'");
            }
        }
    }
}
