//! The pages: sign-in, the home dashboard, the check, hits with their follow-up, and the
//! organisation's notifications.

use armstrace_core::{OrgKind, Permission, RecordStatus};
use armstrace_matcher::{Confidence, Difference, DifferenceKind, MakeRelation};
use armstrace_store::FirearmFilter;
use armstrace_store::audit::AuditEvent;
use armstrace_store::hits::{HitChange, HitOutcome, HitState, NotificationFilter};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use minijinja::{Value, context};
use serde::{Deserialize, Serialize};

use super::{
    Catalogue, CsrfOnly, Language, Viewer, WebError, local_path, render, render_with, see_other,
};
use crate::api::hits::{apply_change, party_may, rule, text, visible_hit};
use crate::api::session::{CLEARED_SESSION_COOKIE, open_session, session_cookie};
use crate::auth::{SESSION_COOKIE, cookie, hash_token};
use crate::checking::{FoundFirearm, check_one, new_check_id};
use crate::{ApiError, AppState};

type PageResult = Result<Response, WebError>;

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
    out: Option<String>,
}

/// The cookie that pairs a sign-in form with the browser it was given to, so that another
/// site cannot sign a browser in under an account of its choosing.
const SIGNIN_COOKIE: &str = "armstrace_signin";

/// The sign-in page, with a fresh pairing token in the form and in a cookie.
fn sign_in_page(
    catalogue: &'static super::Catalogue,
    status: StatusCode,
    page: minijinja::Value,
) -> Response {
    let token = crate::auth::new_session_secret();
    let mut response = render_with(
        catalogue,
        "sign_in.html",
        context! { signin_token => token, ..page },
    );
    *response.status_mut() = status;
    let cookie = format!(
        "{SIGNIN_COOKIE}={token}; Path=/sign-in; HttpOnly; Secure; SameSite=Strict; Max-Age=3600"
    );
    response.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("the token is ASCII"),
    );
    response
}

pub async fn sign_in_form(
    Language(catalogue): Language,
    Query(query): Query<SignInQuery>,
) -> Response {
    let notice = query.out.map(|_| catalogue.t("signed_out"));
    sign_in_page(
        catalogue,
        StatusCode::OK,
        context! { next => local_path(query.next.as_deref()), notice => notice },
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    username: String,
    password: String,
    next: Option<String>,
    #[serde(default)]
    signin_token: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    Language(catalogue): Language,
    headers: axum::http::HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let next = local_path(form.next.as_deref());
    let paired = cookie(&headers, SIGNIN_COOKIE).is_some_and(|expected| {
        crate::auth::constant_time_eq(form.signin_token.as_bytes(), expected.as_bytes())
    });
    if !paired {
        return sign_in_page(
            catalogue,
            StatusCode::FORBIDDEN,
            context! { next => next, error => catalogue.t("form_expired"), username => form.username },
        );
    }
    match open_session(&state, form.username.trim(), form.password).await {
        Ok(opened) => {
            let mut response = see_other(&next);
            response.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&session_cookie(&opened.session)).expect("cookie is ASCII"),
            );
            response
        }
        Err(error) => {
            let (status, message) = match &error {
                ApiError::TooManyRequests { retry_after, .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    catalogue.f("signin_locked", &[("seconds", &retry_after.to_string())]),
                ),
                ApiError::Refused { .. } => (
                    StatusCode::FORBIDDEN,
                    catalogue.t("signin_org_suspended").to_string(),
                ),
                ApiError::BadCredentials => (
                    StatusCode::UNAUTHORIZED,
                    catalogue.t("signin_failed").to_string(),
                ),
                _ => return WebError::from_api(error, catalogue).into_response(),
            };
            sign_in_page(
                catalogue,
                status,
                context! { next => next, error => message, username => form.username },
            )
        }
    }
}

pub async fn sign_out(
    State(state): State<AppState>,
    viewer: Result<Viewer, WebError>,
    headers: axum::http::HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> PageResult {
    // A pending organisation's user signs out too.
    let viewer = match viewer {
        Ok(viewer) => viewer,
        Err(WebError::Pending(viewer)) => *viewer,
        Err(other) => return Err(other),
    };
    viewer.check_form(&form.csrf_token)?;
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        let event = AuditEvent::new(&viewer.actor, "signout");
        state
            .store
            .end_session(event, &hash_token(&session))
            .await
            .map_err(|e| viewer.error(e))?;
    }
    let mut response = see_other("/sign-in?out=1");
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(CLEARED_SESSION_COOKIE),
    );
    Ok(response)
}

pub async fn language(Path(code): Path<String>, Query(query): Query<SignInQuery>) -> Response {
    let code = super::i18n::by_code(&code).map_or("en", |c| c.code);
    let mut response = see_other(&local_path(query.next.as_deref()));
    let cookie = format!(
        "{}={code}; Path=/; SameSite=Lax; Max-Age=31536000",
        super::i18n::LANGUAGE_COOKIE
    );
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("ASCII"),
    );
    response
}

fn status_key(status: RecordStatus) -> String {
    format!("status_{}", status.as_str())
}

pub async fn home(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let actor = &viewer.actor;
    let store = state.store.as_ref();
    let scope = (actor.org_kind != OrgKind::Secretariat).then_some(actor.org_id);
    let open = if actor.permissions.has(Permission::Check) {
        store
            .hits(scope, Some(HitState::Open), None, 100)
            .await
            .map_err(|e| viewer.error(e))?
    } else {
        Vec::new()
    };
    let unread = store
        .unread_notifications(actor.org_id)
        .await
        .map_err(|e| viewer.error(e))?;
    let pending: Vec<Value> = if actor.permissions.has(Permission::Admin) {
        store
            .organisations()
            .await
            .map_err(|e| viewer.error(e))?
            .into_iter()
            .filter(|o| o.state == armstrace_core::OrgState::Pending && actor.may_approve(&o.as_ref()))
            .map(|o| context! { name => o.name, kind => o.kind.to_string(), country => o.country.map(|c| c.to_string()) })
            .collect()
    } else {
        Vec::new()
    };
    let mut records = Vec::new();
    if actor.permissions.has(Permission::Check) {
        for status in RecordStatus::ALL {
            let filter = FirearmFilter {
                recording_country: actor.country,
                status: Some(status),
                ..FirearmFilter::default()
            };
            let count = store
                .count_firearms(&filter)
                .await
                .map_err(|e| viewer.error(e))?;
            records.push(
                context! { label => viewer.catalogue.t(&status_key(status)), count => count },
            );
        }
    }
    let records_title = match actor.country {
        Some(country) => viewer
            .catalogue
            .f("home_records_of", &[("country", country.as_str())]),
        None => viewer.catalogue.t("home_all_records").to_string(),
    };
    let open_hits: Vec<Value> = open.iter().take(5).map(|h| hit_row(&viewer, h)).collect();
    Ok(render(
        &viewer,
        "home.html",
        context! {
            open_count => open.len(),
            open_hits => open_hits,
            unread => unread,
            pending => pending,
            records => records,
            records_title => records_title,
        },
    ))
}

#[derive(Deserialize, Default, Serialize, Clone)]
pub struct CheckForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    serial_number: String,
    #[serde(default)]
    make: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    calibre: String,
}

pub async fn check_form(viewer: Viewer) -> PageResult {
    viewer.require(Permission::Check)?;
    Ok(render(
        &viewer,
        "check.html",
        context! { form => CheckForm::default() },
    ))
}

fn confidence_key(confidence: Confidence) -> &'static str {
    match confidence {
        Confidence::Exact => "exact",
        Confidence::Strong => "strong",
        Confidence::Possible => "possible",
    }
}

/// A difference in the viewer's language.
fn difference_text(catalogue: &Catalogue, d: &Difference) -> String {
    let key = match d.kind {
        DifferenceKind::Format => "diff_format",
        DifferenceKind::LeadingZeros => "diff_leading_zeros",
        DifferenceKind::Confusable => "diff_confusable",
        DifferenceKind::Script => "diff_script",
        DifferenceKind::Substitution => "diff_substitution",
        DifferenceKind::Insertion => "diff_insertion",
        DifferenceKind::Deletion => "diff_deletion",
        DifferenceKind::Transposition => "diff_transposition",
        DifferenceKind::Unreadable => "diff_unreadable",
        DifferenceKind::EmbeddedLetter => "diff_embedded_letter",
    };
    let position = d.position.map(|p| p.to_string()).unwrap_or_default();
    catalogue.f(
        key,
        &[
            ("typed", d.typed.as_deref().unwrap_or("")),
            ("recorded", d.recorded.as_deref().unwrap_or("")),
            ("position", &position),
        ],
    )
}

/// The typed serial, character by character, marking those a difference names.
fn marked_serial(serial: &str, differences: &[Difference]) -> Vec<Value> {
    let marked: std::collections::HashSet<usize> = differences
        .iter()
        .filter(|d| {
            !matches!(
                d.kind,
                DifferenceKind::Format | DifferenceKind::LeadingZeros
            )
        })
        .filter_map(|d| d.position)
        .flat_map(|p| {
            let width = d_width(differences, p);
            p..p + width
        })
        .collect();
    serial
        .chars()
        .enumerate()
        .map(|(i, c)| context! { c => c.to_string(), marked => marked.contains(&(i + 1)) })
        .collect()
}

/// How many typed characters the difference at `position` covers (two for a swap).
fn d_width(differences: &[Difference], position: usize) -> usize {
    differences
        .iter()
        .find(|d| d.position == Some(position))
        .map_or(1, |d| {
            if d.kind == DifferenceKind::Transposition {
                2
            } else {
                d.typed.as_ref().map_or(1, |t| t.chars().count().max(1))
            }
        })
}

fn found_row(catalogue: &Catalogue, serial: &str, found: &FoundFirearm) -> Value {
    let fields = &found.firearm.fields;
    let level = confidence_key(found.confidence);
    let make = match found.make {
        MakeRelation::Same => catalogue.t("check_same_make"),
        MakeRelation::Different => catalogue.t("check_other_make"),
        _ => catalogue.t("check_no_make"),
    };
    let differences: Vec<String> = found
        .differences
        .iter()
        .map(|d| difference_text(catalogue, d))
        .collect();
    context! {
        level => level,
        confidence => catalogue.t(&format!("check_{level}")),
        hit_id => found.hit_id,
        hit_told => catalogue.f("check_hit_told", &[("country", fields.recording_country.as_str())]),
        record_id => fields.record_id.to_string(),
        recorded_serial => fields.serial_number.to_string(),
        recording_country => fields.recording_country.to_string(),
        make => fields.make,
        make_relation => make,
        model => fields.model,
        calibre => fields.calibre,
        firearm_type => fields.firearm_type.as_str(),
        status => catalogue.t(&status_key(fields.status)),
        event_date => fields.event_date.to_string(),
        typed => marked_serial(serial, &found.differences),
        differences => differences,
    }
}

pub async fn check(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CheckForm>,
) -> PageResult {
    viewer.require(Permission::Check)?;
    viewer.check_form(&form.csrf_token)?;
    let catalogue = viewer.catalogue;
    let serial = form.serial_number.trim().to_string();
    if serial.is_empty() {
        let mut page = render(
            &viewer,
            "check.html",
            context! { form => form, error => catalogue.t("check_required") },
        );
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(page);
    }
    let audit = crate::api::checks::check_audit(&state, &viewer.actor, None, None)
        .await
        .map_err(|e| viewer.error(e))?;
    let make = Some(form.make.trim()).filter(|m| !m.is_empty());
    let mut detail = serde_json::Map::new();
    detail.insert("channel".into(), "web".into());
    let outcome = check_one(
        &state.index,
        &state.reference,
        &audit,
        &new_check_id(),
        crate::checking::Typed {
            serial: &serial,
            make,
            model: Some(form.model.trim()).filter(|m| !m.is_empty()),
            calibre: Some(form.calibre.trim()).filter(|c| !c.is_empty()),
        },
        detail,
    )
    .await;
    let (outcome, found) = match outcome {
        Ok(answer) => answer,
        Err(crate::checking::CheckError::Query(error)) => {
            let message = match error {
                armstrace_matcher::QueryError::Empty => {
                    catalogue.t("check_error_empty").to_string()
                }
                armstrace_matcher::QueryError::TooFewReadable(n) => {
                    catalogue.f("check_error_too_few", &[("count", &n.to_string())])
                }
            };
            let mut page = render(
                &viewer,
                "check.html",
                context! { form => form, error => message },
            );
            *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(page);
        }
        Err(other) => return Err(viewer.error(ApiError::Internal(other.to_string()))),
    };
    let rows: Vec<Value> = found
        .iter()
        .map(|f| found_row(catalogue, &serial, f))
        .collect();
    let more = crate::checking::advice(&outcome, make.is_some()).map(|_| {
        catalogue.f(
            "check_more",
            &[("count", &outcome.equally_close.to_string())],
        )
    });
    Ok(render(
        &viewer,
        "check.html",
        context! {
            form => form,
            checked => true,
            trace_link => format!("/traces/new?{}", url::form_urlencoded::Serializer::new(String::new())
                .append_pair("serial", &form.serial_number)
                .append_pair("make", &form.make)
                .append_pair("model", &form.model)
                .append_pair("calibre", &form.calibre)
                .finish()),
            serial => serial,
            results => rows,
            total => outcome.total,
            more => more,
        },
    ))
}

fn hit_row(viewer: &Viewer, hit: &armstrace_store::hits::Hit) -> Value {
    context! {
        id => hit.id,
        state => viewer.catalogue.t(&format!("hit_state_{}", hit.state.as_str())),
        state_key => hit.state.as_str(),
        confidence => viewer.catalogue.t(&format!("check_{}", hit.confidence)),
        level => hit.confidence,
        serial_typed => hit.serial_typed,
        organisation => hit.organisation,
        recording_country => hit.recording_country,
        created_at => hit.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

#[derive(Deserialize)]
pub struct HitsQuery {
    state: Option<String>,
}

pub async fn hits(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<HitsQuery>,
) -> PageResult {
    viewer.require(Permission::Check)?;
    let filter = query.state.as_deref().and_then(HitState::parse);
    let scope = (viewer.actor.org_kind != OrgKind::Secretariat).then_some(viewer.actor.org_id);
    let found = state
        .store
        .hits(scope, filter, None, 200)
        .await
        .map_err(|e| viewer.error(e))?;
    let rows: Vec<Value> = found.iter().map(|h| hit_row(&viewer, h)).collect();
    let states: Vec<Value> = ["open", "confirmed", "rejected", "closed"]
        .into_iter()
        .map(|s| context! { key => s, label => viewer.catalogue.t(&format!("hit_state_{s}")), selected => filter.map(|f| f.as_str()) == Some(s) })
        .collect();
    Ok(render(
        &viewer,
        "hits.html",
        context! { hits => rows, states => states },
    ))
}

const OUTCOMES: [HitOutcome; 6] = [
    HitOutcome::Seized,
    HitOutcome::Returned,
    HitOutcome::TraceRequested,
    HitOutcome::NotTheWeapon,
    HitOutcome::NoAction,
    HitOutcome::Other,
];

pub async fn hit(State(state): State<AppState>, viewer: Viewer, Path(id): Path<i64>) -> PageResult {
    viewer.require(Permission::Check)?;
    let hit = visible_hit(&state, &viewer.actor, id)
        .await
        .map_err(|e| viewer.error(e))?;
    let record = state
        .store
        .firearm(hit.firearm_id)
        .await
        .map_err(|e| viewer.error(e))?;
    let events = state
        .store
        .hit_events(id)
        .await
        .map_err(|e| viewer.error(e))?;
    let catalogue = viewer.catalogue;
    let actor = &viewer.actor;
    // Offer only what the rules allow this viewer.
    let may = |change: &HitChange| {
        hit.state != HitState::Closed
            && actor.permissions.has(rule(change).0)
            && party_may(actor, &hit, change)
    };
    let may_confirm = may(&HitChange::Confirm { note: None }) && hit.state != HitState::Confirmed;
    let may_reject = may(&HitChange::Reject { note: None }) && hit.state != HitState::Rejected;
    let may_message = may(&HitChange::Message {
        text: String::new(),
    });
    let may_close = may(&HitChange::Close {
        outcome: HitOutcome::Other,
        note: None,
    });
    let differences: Vec<String> =
        serde_json::from_value::<Vec<Difference>>(hit.differences.clone())
            .unwrap_or_default()
            .iter()
            .map(|d| difference_text(catalogue, d))
            .collect();
    let parties: Vec<Value> = hit
        .parties
        .iter()
        .map(|p| {
            let roles: Vec<&str> = p
                .roles
                .iter()
                .map(|r| catalogue.t(&format!("hit_role_{r}")))
                .collect();
            context! { organisation => p.organisation, roles => roles.join(", ") }
        })
        .collect();
    let thread: Vec<Value> = events
        .iter()
        .map(|e| {
            context! {
                event => catalogue.t(&format!("event_{}", e.event.replace('.', "_"))),
                by => format!("{} ({})", e.username, e.organisation),
                at => e.at.format("%Y-%m-%d %H:%M UTC").to_string(),
                text => e.text,
            }
        })
        .collect();
    let outcomes: Vec<Value> = OUTCOMES
        .iter()
        .map(|o| context! { key => o.as_str(), label => catalogue.t(&format!("outcome_{}", o.as_str())) })
        .collect();
    let closed_with = hit.outcome.as_ref().map(|o| {
        catalogue.f(
            "hit_closed_with",
            &[("outcome", catalogue.t(&format!("outcome_{o}")))],
        )
    });
    Ok(render(
        &viewer,
        "hit.html",
        context! {
            hit => hit_row(&viewer, &hit),
            checked_by => catalogue.f("hit_checked_by", &[
                ("user", &hit.username),
                ("org", &hit.organisation),
                ("date", &hit.created_at.format("%Y-%m-%d %H:%M UTC").to_string()),
            ]),
            operation => hit.operation,
            on_behalf_of => hit.on_behalf_of,
            differences => differences,
            record => record.map(|r| context! {
                record_id => r.fields.record_id.to_string(),
                serial => r.fields.serial_number.to_string(),
                make => r.fields.make,
                model => r.fields.model,
                calibre => r.fields.calibre,
                country => r.fields.recording_country.to_string(),
                status => catalogue.t(&status_key(r.fields.status)),
                event_date => r.fields.event_date.to_string(),
            }),
            parties => parties,
            thread => thread,
            closed_with => closed_with,
            may_confirm => may_confirm,
            may_reject => may_reject,
            may_message => may_message,
            may_close => may_close,
            outcomes => outcomes,
        },
    ))
}

#[derive(Deserialize)]
pub struct HitActionForm {
    #[serde(default)]
    csrf_token: String,
    note: Option<String>,
    text: Option<String>,
    outcome: Option<String>,
}

pub async fn hit_action(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(i64, String)>,
    Form(form): Form<HitActionForm>,
) -> PageResult {
    viewer.check_form(&form.csrf_token)?;
    let note = text("note", form.note, false).map_err(|e| viewer.error(e))?;
    let change = match action.as_str() {
        "confirm" => HitChange::Confirm { note },
        "reject" => HitChange::Reject { note },
        "message" => HitChange::Message {
            text: text("text", form.text, true)
                .map_err(|e| viewer.error(e))?
                .unwrap_or_default(),
        },
        "close" => {
            let outcome = OUTCOMES
                .into_iter()
                .find(|o| Some(o.as_str()) == form.outcome.as_deref())
                .unwrap_or(HitOutcome::Other);
            HitChange::Close { outcome, note }
        }
        _ => return Err(viewer.error(ApiError::NotFound(format!("action {action}")))),
    };
    apply_change(&state, &viewer.actor, id, change)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(see_other(&format!("/hits/{id}")))
}

pub async fn notifications(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    let catalogue = viewer.catalogue;
    let found = state
        .store
        .notifications(viewer.actor.org_id, &NotificationFilter::default(), 0, 100)
        .await
        .map_err(|e| viewer.error(e))?;
    let rows: Vec<Value> = found
        .iter()
        .map(|n| {
            context! {
                id => n.id,
                link => match (n.hit_id, n.trace_id) {
                    (_, Some(trace)) => format!("/traces/{trace}"),
                    (hit, _) => format!("/hits/{}", hit.unwrap_or_default()),
                },
                title => match (n.hit_id, n.trace_id) {
                    (_, Some(trace)) => catalogue.f("trace_title", &[("id", &trace.to_string())]),
                    (hit, _) => catalogue.f("hit_title", &[("id", &hit.unwrap_or_default().to_string())]),
                },
                event => catalogue.t(&format!("event_{}", n.event.replace('.', "_"))),
                unread => n.read_at.is_none(),
                serial => n.data["hit"]["serial_typed"].as_str()
                    .or_else(|| n.data["trace"]["serial_numbers"][0].as_str())
                    .unwrap_or_default(),
                from => n.data["by"]["organisation"].as_str().map(|o| catalogue.f("inbox_from", &[("org", o)])),
                at => n.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            }
        })
        .collect();
    let labels: Vec<Value> = [
        "hit.created",
        "hit.confirmed",
        "hit.rejected",
        "hit.message",
        "hit.closed",
        "trace.sent",
        "trace.updated",
        "trace.acknowledged",
        "trace.information_requested",
        "trace.answered",
        "trace.forwarded",
        "trace.closed",
        "trace.message",
        "trace.attachment",
        "trace.overdue",
    ]
    .into_iter()
    .map(|e| context! { event => e, label => catalogue.t(&format!("event_{}", e.replace('.', "_"))) })
    .collect();
    Ok(render(
        &viewer,
        "notifications.html",
        context! { notifications => rows, labels => labels },
    ))
}

pub async fn mark_read(
    State(state): State<AppState>,
    viewer: Viewer,
    Form(form): Form<CsrfOnly>,
) -> PageResult {
    viewer.check_form(&form.csrf_token)?;
    state
        .store
        .mark_read(viewer.actor.org_id, None)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(see_other("/notifications"))
}

pub async fn stylesheet() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    )
}

pub async fn script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/app.js"),
    )
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
