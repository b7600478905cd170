//! Hits and their follow-up, each organisation's notifications (listed, marked read, streamed
//! live), webhooks with their delivery log, and an organisation's duty e-mail address.

use std::convert::Infallible;
use std::time::Duration;

use armstrace_core::{Actor, Firearm, OrgKind, Permission};
use armstrace_store::audit::AuditWho;
use armstrace_store::hits::{
    DeliveryLog, Hit, HitChange, HitEvent, HitOutcome, HitState, Notification, NotificationFilter,
    Webhook,
};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};

use super::body::JsonBody;
use crate::admin::administered_org;
use crate::auth::Authenticated;
use crate::error::Problem;
use crate::hits::wait;
use crate::{ApiError, AppState};

/// Most characters of a message or note.
const MAX_TEXT: usize = 4000;

/// A page of hits.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HitPage {
    /// Newest first.
    pub hits: Vec<Hit>,
    /// Pass as `before` for the next page; absent on the last.
    pub next: Option<i64>,
}

/// Which hits.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HitQuery {
    /// Only hits in this state.
    pub state: Option<HitState>,
    /// Only hits older than this id (the previous page's `next`).
    pub before: Option<i64>,
    /// At most this many (1 to 200; 50 when absent).
    pub limit: Option<u32>,
}

fn page_limit(limit: Option<u32>, default: u32, most: u32) -> Result<u32, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=most).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::invalid(
            "limit",
            "out_of_range",
            format!("limit is 1 to {most}"),
        ))
    }
}

/// The hits the caller's organisation is party to (the secretariat: every hit), newest first.
#[utoipa::path(get, path = "/hits", tag = "hits", params(HitQuery),
    responses((status = 200, description = "Hits, newest first", body = HitPage)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<HitQuery>,
) -> Result<Json<HitPage>, ApiError> {
    let actor = caller.require(Permission::Check)?;
    let limit = page_limit(query.limit, 50, 200)?;
    let scope = (actor.org_kind != OrgKind::Secretariat).then_some(actor.org_id);
    let hits = state
        .store
        .hits(scope, query.state, query.before, limit)
        .await?;
    let next = (hits.len() == limit as usize)
        .then(|| hits.last().map(|h| h.id))
        .flatten();
    Ok(Json(HitPage { hits, next }))
}

/// A hit with the record it matched and its follow-up.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HitView {
    /// The hit.
    pub hit: Hit,
    /// The record it matched, as it stands now.
    pub record: Option<Firearm>,
    /// Its follow-up, oldest first.
    pub events: Vec<HitEvent>,
}

/// A hit the caller's organisation is party to (the secretariat sees every hit); any other is
/// "not found".
pub(crate) async fn visible_hit(state: &AppState, actor: &Actor, id: i64) -> Result<Hit, ApiError> {
    let hit = state.store.hit(id).await?;
    match hit {
        Some(hit) if actor.org_kind == OrgKind::Secretariat || hit.is_party(actor.org_id) => {
            Ok(hit)
        }
        _ => Err(ApiError::NotFound(format!("hit {id}"))),
    }
}

/// A hit, the record it matched and its follow-up.
#[utoipa::path(get, path = "/hits/{id}", tag = "hits",
    params(("id" = i64, Path, description = "The hit")),
    responses(
        (status = 200, description = "The hit", body = HitView),
        (status = 404, description = "No such hit the caller is party to", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<HitView>, ApiError> {
    let actor = caller.require(Permission::Check)?;
    let hit = visible_hit(&state, actor, id).await?;
    let record = state.store.firearm(hit.firearm_id).await?;
    let events = state.store.hit_events(id).await?;
    Ok(Json(HitView {
        hit,
        record,
        events,
    }))
}

/// A note on a decision.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Note {
    /// Why, in words.
    pub note: Option<String>,
}

/// A message to the other parties.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// The text (1 to 4000 characters).
    pub text: String,
}

/// How a hit is closed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Closing {
    /// seized, returned, trace_requested, not_the_weapon, no_action or other.
    pub outcome: HitOutcome,
    /// Why, in words.
    pub note: Option<String>,
}

pub(crate) fn text(
    field: &str,
    text: Option<String>,
    required: bool,
) -> Result<Option<String>, ApiError> {
    let text = text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    match &text {
        None if required => Err(ApiError::invalid(field, "required", "write something")),
        Some(t) if t.chars().count() > MAX_TEXT => Err(ApiError::invalid(
            field,
            "too_long",
            format!("at most {MAX_TEXT} characters"),
        )),
        _ => Ok(text),
    }
}

/// Whether `actor`'s organisation is party to `hit` in a role that may make `change` (the
/// permission is checked apart).
pub(crate) fn party_may(actor: &Actor, hit: &Hit, change: &HitChange) -> bool {
    let (_, roles) = rule(change);
    roles.is_empty()
        || roles.iter().any(|role| hit.has_role(actor.org_id, role))
        || (roles.contains(&"secretariat") && actor.org_kind == OrgKind::Secretariat)
}

/// Who may make a change: the permission and the roles (any party when empty).
pub(crate) fn rule(change: &HitChange) -> (Permission, &'static [&'static str]) {
    match change {
        HitChange::Confirm { .. } | HitChange::Reject { .. } => {
            (Permission::Record, &["recording_ncb"])
        }
        HitChange::Message { .. } => (Permission::Check, &[]),
        HitChange::Close { .. } => (
            Permission::Check,
            &["searcher", "recording_ncb", "secretariat"],
        ),
    }
}

async fn change(
    state: &AppState,
    caller: &Authenticated,
    id: i64,
    change: HitChange,
) -> Result<Json<Hit>, ApiError> {
    Ok(Json(apply_change(state, &caller.0, id, change).await?))
}

/// Applies `change` for `actor`, who must hold the permission and be party to the hit in a
/// role the change allows (see [`rule`]); the other parties are told.
pub(crate) async fn apply_change(
    state: &AppState,
    actor: &Actor,
    id: i64,
    change: HitChange,
) -> Result<Hit, ApiError> {
    let (permission, _) = rule(&change);
    if !actor.permissions.has(permission) {
        return Err(ApiError::forbidden(
            permission,
            format!(
                "this needs the '{}' permission, which {} does not have",
                permission.as_str(),
                actor.username
            ),
        ));
    }
    let hit = visible_hit(state, actor, id).await?;
    if !party_may(actor, &hit, &change) {
        return Err(ApiError::out_of_scope(match change {
            HitChange::Confirm { .. } | HitChange::Reject { .. } => format!(
                "only the NCB of {}, which recorded the firearm, confirms or rejects this hit",
                hit.recording_country
            ),
            _ => {
                "only the searching organisation, the recording NCB and the secretariat close a hit"
                    .to_string()
            }
        }));
    }
    let changed = state
        .store
        .change_hit(&AuditWho::from(actor), id, &change)
        .await?;
    state.wake.ring();
    Ok(changed)
}

/// The recording NCB confirms the hit is the recorded weapon. Every other party is told.
#[utoipa::path(post, path = "/hits/{id}/confirm", tag = "hits", request_body = Note,
    params(("id" = i64, Path, description = "The hit")),
    responses(
        (status = 200, description = "Confirmed", body = Hit),
        (status = 403, description = "Not the recording NCB", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Closed, or already confirmed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<Note>,
) -> Result<Json<Hit>, ApiError> {
    let note = text("note", body.note, false)?;
    change(&state, &caller, id, HitChange::Confirm { note }).await
}

/// The recording NCB says the hit is not the recorded weapon. Every other party is told.
#[utoipa::path(post, path = "/hits/{id}/reject", tag = "hits", request_body = Note,
    params(("id" = i64, Path, description = "The hit")),
    responses(
        (status = 200, description = "Rejected", body = Hit),
        (status = 403, description = "Not the recording NCB", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Closed, or already rejected", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<Note>,
) -> Result<Json<Hit>, ApiError> {
    let note = text("note", body.note, false)?;
    change(&state, &caller, id, HitChange::Reject { note }).await
}

/// A message to the other parties of a hit.
#[utoipa::path(post, path = "/hits/{id}/messages", tag = "hits", request_body = Message,
    params(("id" = i64, Path, description = "The hit")),
    responses(
        (status = 200, description = "Sent", body = Hit),
        (status = 409, description = "The hit is closed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn message(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<Message>,
) -> Result<Json<Hit>, ApiError> {
    let text = text("text", Some(body.text), true)?.unwrap_or_default();
    change(&state, &caller, id, HitChange::Message { text }).await
}

/// Closes a hit with an outcome: the searching organisation, the recording NCB or the
/// secretariat. Every other party is told.
#[utoipa::path(post, path = "/hits/{id}/close", tag = "hits", request_body = Closing,
    params(("id" = i64, Path, description = "The hit")),
    responses(
        (status = 200, description = "Closed", body = Hit),
        (status = 403, description = "Not a party that closes hits", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already closed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn close(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<Closing>,
) -> Result<Json<Hit>, ApiError> {
    let note = text("note", body.note, false)?;
    change(
        &state,
        &caller,
        id,
        HitChange::Close {
            outcome: body.outcome,
            note,
        },
    )
    .await
}

/// Which notifications.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuery {
    /// Only unread ones.
    #[serde(default)]
    pub unread: bool,
    /// Only about this hit.
    pub hit_id: Option<i64>,
    /// Only about this trace request.
    pub trace_id: Option<i64>,
    /// Only this event (`hit.created`, `hit.confirmed`, `hit.rejected`, `hit.message`,
    /// `hit.closed`, `trace.sent`, `trace.overdue` …).
    pub event: Option<String>,
    /// Skip this many.
    #[serde(default)]
    pub offset: u32,
    /// At most this many (1 to 200; 50 when absent).
    pub limit: Option<u32>,
}

/// An organisation's inbox.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Inbox {
    /// Unread first, then newest first.
    pub notifications: Vec<Notification>,
    /// How many are unread in all.
    pub unread: u64,
}

/// The caller's organisation's notifications, unread first.
#[utoipa::path(get, path = "/notifications", tag = "hits", params(NotificationQuery),
    responses((status = 200, description = "The inbox", body = Inbox)))]
pub async fn notifications(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<NotificationQuery>,
) -> Result<Json<Inbox>, ApiError> {
    let limit = page_limit(query.limit, 50, 200)?;
    let filter = NotificationFilter {
        unread: query.unread,
        hit_id: query.hit_id,
        trace_id: query.trace_id,
        event: query.event,
    };
    let org = caller.0.org_id;
    Ok(Json(Inbox {
        notifications: state
            .store
            .notifications(org, &filter, query.offset, limit)
            .await?,
        unread: state.store.unread_notifications(org).await?,
    }))
}

/// Which notifications to mark read.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkRead {
    /// These notifications.
    pub ids: Option<Vec<i64>>,
    /// Or every one.
    #[serde(default)]
    pub all: bool,
}

/// How many were marked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Marked {
    /// Notifications that were unread and now are read.
    pub marked: u64,
}

/// Marks notifications of the caller's organisation read: `{"ids": [..]}` or `{"all": true}`.
#[utoipa::path(post, path = "/notifications/read", tag = "hits", request_body = MarkRead,
    responses(
        (status = 200, description = "Marked", body = Marked),
        (status = 422, description = "Neither ids nor all", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn mark_read(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonBody(body): JsonBody<MarkRead>,
) -> Result<Json<Marked>, ApiError> {
    let marked = match (body.ids, body.all) {
        (Some(ids), false) => {
            state
                .store
                .mark_read(caller.0.org_id, Some(ids.as_slice()))
                .await?
        }
        (None, true) => state.store.mark_read(caller.0.org_id, None).await?,
        _ => {
            return Err(ApiError::invalid(
                "ids",
                "required",
                "give ids, or all: true (not both)",
            ));
        }
    };
    Ok(Json(Marked { marked }))
}

/// Server-Sent Events: each new notification of the caller's organisation as it is stored
/// (event name = the notification's event, id = its id, data = the notification as JSON).
/// Reconnect with `Last-Event-ID` to get what was missed first.
#[utoipa::path(get, path = "/notifications/stream", tag = "hits",
    params(("Last-Event-ID" = Option<i64>, Header, description = "The last notification received; what came after it is sent first")),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream")))]
pub async fn stream(
    State(state): State<AppState>,
    caller: Authenticated,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let org = caller.0.org_id;
    let last = match headers.get("last-event-id") {
        None => state.store.last_notification().await?,
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| ApiError::BadRequest {
                code: "invalid_last_event_id",
                detail: "Last-Event-ID must be the id of a notification".into(),
            })?,
    };
    let store = state.store.clone();
    let mut woken = state.wake.subscribe();
    let events = async_stream(move |sender| async move {
        let mut last = last;
        loop {
            match store.notifications_after(org, last, 500).await {
                Ok(found) => {
                    let full = found.len() == 500;
                    for notification in found {
                        last = notification.id;
                        let event = Event::default()
                            .id(notification.id.to_string())
                            .event(notification.event.clone())
                            .json_data(&notification)
                            .expect("a notification serialises");
                        if sender.send(Ok(event)).await.is_err() {
                            return;
                        }
                    }
                    if full {
                        continue;
                    }
                }
                Err(error) => tracing::error!(%error, "reading notifications for a stream failed"),
            }
            if sender.is_closed() {
                return;
            }
            wait(&mut woken, Duration::from_secs(1)).await;
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

/// A stream fed by `produce` through a small channel.
fn async_stream<T: Send + 'static, F, Fut>(produce: F) -> impl Stream<Item = T>
where
    F: FnOnce(tokio::sync::mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    tokio::spawn(produce(sender));
    tokio_stream_from(receiver)
}

fn tokio_stream_from<T>(mut receiver: tokio::sync::mpsc::Receiver<T>) -> impl Stream<Item = T> {
    futures::stream::poll_fn(move |cx| receiver.poll_recv(cx))
}

/// A webhook to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// `https://` to a public host (loopback, `http://` too, only where the service allows it).
    pub url: String,
    /// At least 16 characters; every body is signed with it (`X-Armstrace-Signature:
    /// sha256=<hex HMAC-SHA256 of the body>`). Never shown again.
    pub secret: String,
    /// The organisation it delivers for: the caller's own when absent (an NCB's admin may
    /// name its country's agencies, the secretariat's any organisation).
    pub organisation_id: Option<i64>,
}

/// Which organisation's webhooks.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WebhookQuery {
    /// The organisation: the caller's own when absent.
    pub organisation_id: Option<i64>,
}

/// Whether `address` is this machine, a private network or a link-local one: never a
/// national system's public endpoint, and a way into networks the service can reach.
fn internal(address: std::net::IpAddr) -> bool {
    match address {
        std::net::IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Refuses a URL that is not `https://` to a public host; `http://` and `https://` to this
/// machine only when the service allows loopback webhooks (tests, a receiver on the same
/// host).
fn check_url(url: &str, allow_loopback: bool) -> Result<(), ApiError> {
    let bad = |why: &str| ApiError::invalid("url", "invalid_url", why.to_string());
    if url.len() > 2000 || url.contains(char::is_whitespace) {
        return Err(bad("the URL is too long or holds spaces"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&format!("not a URL: {e}")))?;
    let host = parsed.host().ok_or_else(|| bad("the URL names no host"))?;
    let loopback = match &host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(v4) => v4.is_loopback(),
        url::Host::Ipv6(v6) => v6.is_loopback(),
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad(
            "put no user or password in the URL; the secret signs every body",
        ));
    }
    if loopback {
        return if allow_loopback {
            Ok(())
        } else {
            Err(bad(
                "this service does not deliver to its own machine (serve --allow-loopback-webhooks)",
            ))
        };
    }
    if parsed.scheme() != "https" {
        return Err(bad("a webhook URL starts with https://"));
    }
    let literal = match host {
        url::Host::Ipv4(v4) => Some(std::net::IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(std::net::IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    };
    if literal.is_some_and(internal) {
        return Err(bad(
            "a webhook goes to a public address, not a private or link-local one",
        ));
    }
    Ok(())
}

pub(crate) fn check_webhook(url: &str, secret: &str, allow_loopback: bool) -> Result<(), ApiError> {
    check_url(url, allow_loopback)?;
    if secret.chars().count() < 16 {
        return Err(ApiError::invalid(
            "secret",
            "too_short",
            "a webhook secret has at least 16 characters",
        ));
    }
    Ok(())
}

/// Registers a webhook for an organisation (its admins, its NCB's, the secretariat's): every
/// notification of the organisation is posted to it, signed, retried until it is taken.
#[utoipa::path(post, path = "/webhooks", tag = "hits", request_body = NewWebhook,
    responses(
        (status = 201, description = "Registered", body = Webhook),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A URL that is not HTTPS (or loopback HTTP), or a short secret", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_webhook(
    State(state): State<AppState>,
    caller: Authenticated,
    JsonBody(body): JsonBody<NewWebhook>,
) -> Result<(StatusCode, Json<Webhook>), ApiError> {
    let actor = caller.require(Permission::Admin)?;
    let org = body.organisation_id.unwrap_or(actor.org_id);
    administered_org(state.store.as_ref(), actor, org).await?;
    let url = body.url.trim();
    check_webhook(url, &body.secret, state.allow_loopback_webhooks)?;
    let webhook = state
        .store
        .create_webhook(&AuditWho::from(actor), org, url, &body.secret)
        .await?;
    Ok((StatusCode::CREATED, Json(webhook)))
}

/// An organisation's webhooks (the caller's own by default).
#[utoipa::path(get, path = "/webhooks", tag = "hits", params(WebhookQuery),
    responses((status = 200, description = "Webhooks", body = [Webhook])))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    caller: Authenticated,
    Query(query): Query<WebhookQuery>,
) -> Result<Json<Vec<Webhook>>, ApiError> {
    let actor = caller.require(Permission::Admin)?;
    let org = query.organisation_id.unwrap_or(actor.org_id);
    administered_org(state.store.as_ref(), actor, org).await?;
    Ok(Json(state.store.webhooks(org).await?))
}

/// A webhook of an organisation the caller administers; any other is "not found".
pub(crate) async fn administered_webhook(
    state: &AppState,
    actor: &Actor,
    id: i64,
) -> Result<Webhook, ApiError> {
    if !actor.permissions.has(Permission::Admin) {
        return Err(ApiError::forbidden(
            Permission::Admin,
            format!(
                "managing webhooks needs the 'admin' permission, which {} does not have",
                actor.username
            ),
        ));
    }
    let hook = state
        .store
        .webhook(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("webhook {id}")))?;
    administered_org(state.store.as_ref(), actor, hook.org_id)
        .await
        .map_err(|_| ApiError::NotFound(format!("webhook {id}")))?;
    Ok(hook)
}

/// An organisation's duty address as typed: none when empty, refused when not an address.
pub(crate) fn parse_duty_email(address: Option<&str>) -> Result<Option<String>, ApiError> {
    let address = address.map(str::trim).filter(|a| !a.is_empty());
    match address {
        Some(a) if a.parse::<lettre::Address>().is_err() => Err(ApiError::invalid(
            "address",
            "invalid_email",
            format!("'{a}' is not an e-mail address"),
        )),
        other => Ok(other.map(str::to_string)),
    }
}

/// Removes a webhook; what waits for it is not sent.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "hits",
    params(("id" = i64, Path, description = "The webhook")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such webhook of an organisation the caller administers", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    administered_webhook(&state, &caller.0, id).await?;
    state
        .store
        .delete_webhook(&AuditWho::from(&caller.0), id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A webhook's deliveries, newest first: state, attempts, the last error.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "hits",
    params(("id" = i64, Path, description = "The webhook")),
    responses(
        (status = 200, description = "The delivery log", body = [DeliveryLog]),
        (status = 404, description = "No such webhook of an organisation the caller administers", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Vec<DeliveryLog>>, ApiError> {
    administered_webhook(&state, &caller.0, id).await?;
    Ok(Json(state.store.deliveries(id, 500).await?))
}

/// An organisation's duty e-mail address.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DutyEmail {
    /// Where its notifications are e-mailed; null for none.
    pub address: Option<String>,
}

/// Sets or clears where an organisation's notifications are e-mailed (its admins, its NCB,
/// the secretariat).
#[utoipa::path(put, path = "/organisations/{id}/duty-email", tag = "hits", request_body = DutyEmail,
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "Set", body = DutyEmail),
        (status = 422, description = "Not an e-mail address", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn set_duty_email(
    State(state): State<AppState>,
    caller: Authenticated,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<DutyEmail>,
) -> Result<Json<DutyEmail>, ApiError> {
    administered_org(state.store.as_ref(), &caller.0, id).await?;
    let address = parse_duty_email(body.address.as_deref())?;
    state
        .store
        .set_duty_email(&AuditWho::from(&caller.0), id, address.as_deref())
        .await?;
    Ok(Json(DutyEmail { address }))
}
