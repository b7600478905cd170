//! Trace requests as the service runs them: who may see a request and who may move it, the
//! clock deadlines are read from, the files a request may carry, and the loop that reminds
//! the parties of late requests. Shared by the API and the web pages.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use armstrace_core::trace::{
    AnswerResult, DeadlinePolicy, Late, Missing, Side, TraceAction, TraceAnswer, TraceContent,
    TraceStatus,
};
use armstrace_core::{Actor, CountryCode, FieldError, OrgKind, OrgState, Permission};
use armstrace_reference::Destination;
use armstrace_store::Store;
use armstrace_store::audit::AuditWho;
use armstrace_store::traces::{
    Attachment, NewAttachment, NewTrace, Trace, TraceChange, TraceEvent, TraceScope,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::hits::Wake;
use crate::{ApiError, AppState};

/// Where the service reads the time from. Tests give it a file holding an RFC 3339 instant
/// (`serve --clock-file`), so that deadlines pass without waiting; otherwise the system clock.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    file: Option<Arc<PathBuf>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Clock::default()
    }

    /// The time written in `file` (the system clock while the file is missing or empty).
    pub fn from_file(file: PathBuf) -> Self {
        Clock {
            file: Some(Arc::new(file)),
        }
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        let Some(file) = &self.file else {
            return Utc::now();
        };
        std::fs::read_to_string(file.as_ref())
            .ok()
            .and_then(|text| DateTime::parse_from_rfc3339(text.trim()).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now)
    }
}

/// How trace requests run in this deployment.
#[derive(Debug, Clone)]
pub struct TracePolicy {
    /// Time to acknowledge and to answer.
    pub deadlines: DeadlinePolicy,
    /// The largest attachment, in bytes.
    pub max_attachment: usize,
    /// How often the reminder loop looks for late requests.
    pub sweep: Duration,
    /// How long after a reminder a request still late is reminded of again.
    pub remind_again: chrono::Duration,
}

impl Default for TracePolicy {
    fn default() -> Self {
        TracePolicy {
            deadlines: DeadlinePolicy::default(),
            max_attachment: 10 * 1024 * 1024,
            sweep: Duration::from_secs(60),
            remind_again: chrono::Duration::hours(24),
        }
    }
}

/// What `actor` may see of the trace requests.
pub fn scope(actor: &Actor) -> TraceScope {
    match actor.org_kind {
        OrgKind::Secretariat => TraceScope::All,
        kind => TraceScope::Organisation {
            org_id: actor.org_id,
            ncb_of: (kind == OrgKind::Ncb).then_some(actor.country).flatten(),
        },
    }
}

/// Whether `actor` may see `trace`, one of `chain`: a draft its writer, the writer's NCB and the
/// secretariat; a sent request everyone on its chain (each request's asking organisation, the
/// asking country's NCB, the asked country's NCB) and the secretariat.
pub fn may_see(actor: &Actor, trace: &Trace, chain: &[Trace]) -> bool {
    let TraceScope::Organisation { org_id, ncb_of } = scope(actor) else {
        return true;
    };
    let asks = |t: &Trace| t.requester_org_id == org_id || ncb_of == Some(t.requester_country);
    if trace.status == TraceStatus::Draft {
        return asks(trace);
    }
    chain
        .iter()
        .filter(|t| t.status != TraceStatus::Draft)
        .any(|t| asks(t) || (ncb_of.is_some() && t.to_country == ncb_of))
}

/// A request `actor` may see with its chain (first first); any other is "not found", so that no
/// one learns that a request they may not see exists.
pub async fn visible(
    state: &AppState,
    actor: &Actor,
    id: i64,
) -> Result<(Trace, Vec<Trace>), ApiError> {
    let not_found = || ApiError::NotFound(format!("trace request {id}"));
    let trace = state.store.trace(id).await?.ok_or_else(not_found)?;
    let chain = state.store.trace_chain(trace.chain_id).await?;
    if may_see(actor, &trace, &chain) {
        Ok((trace, chain))
    } else {
        Err(not_found())
    }
}

/// Whether `actor` is the asking side of `trace`: the organisation that wrote it.
pub fn is_requester(actor: &Actor, trace: &Trace) -> bool {
    actor.org_id == trace.requester_org_id
}

/// Whether `actor` is the asked side: the NCB of the country asked.
pub fn is_recipient(actor: &Actor, trace: &Trace) -> bool {
    actor.org_kind == OrgKind::Ncb
        && trace.to_country.is_some()
        && actor.country == trace.to_country
}

/// Refuses `action` on `trace` unless `actor` holds `trace` and is on the side that takes it.
pub fn may_act(actor: &Actor, trace: &Trace, action: TraceAction) -> Result<(), ApiError> {
    let (allowed, who) = match action.side() {
        Side::Requester => (
            is_requester(actor, trace),
            format!(
                "only {} (which wrote the request) may {} it",
                trace.requester_organisation,
                action.as_path().replace('-', " ")
            ),
        ),
        Side::Recipient => (
            is_recipient(actor, trace),
            format!(
                "only the NCB of {} (the country asked) may {} this request",
                trace
                    .to_country
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_default(),
                action.as_path().replace('-', " ")
            ),
        ),
    };
    if allowed {
        Ok(())
    } else {
        Err(ApiError::out_of_scope(who))
    }
}

/// The actions `actor` could take on `trace` now.
pub fn actions(actor: &Actor, trace: &Trace) -> Vec<TraceAction> {
    if !actor.permissions.has(Permission::Trace) {
        return Vec::new();
    }
    [
        TraceAction::Send,
        TraceAction::Acknowledge,
        TraceAction::RequestInformation,
        TraceAction::Answer,
        TraceAction::Forward,
        TraceAction::Close,
    ]
    .into_iter()
    .filter(|a| a.next(trace.status).is_ok() && may_act(actor, trace, *a).is_ok())
    .collect()
}

/// Whether `actor` may write on `trace` (messages and attachments): its writer, or the NCB
/// asked once it was sent.
pub fn may_write(actor: &Actor, trace: &Trace) -> bool {
    actor.permissions.has(Permission::Trace)
        && trace.status != TraceStatus::Closed
        && (is_requester(actor, trace)
            || (trace.status != TraceStatus::Draft && is_recipient(actor, trace)))
}

/// The country a request by `actor` asks for: its organisation's, or, for a partner or the
/// secretariat, the one it names.
pub fn requester_country(
    actor: &Actor,
    on_behalf_of: Option<CountryCode>,
) -> Result<CountryCode, ApiError> {
    match (actor.country, on_behalf_of) {
        (Some(own), None) => Ok(own),
        (Some(own), Some(other)) if own == other => Ok(own),
        (Some(own), Some(_)) => Err(ApiError::invalid(
            "on_behalf_of",
            "not_allowed",
            format!("an organisation of {own} asks for {own} only"),
        )),
        (None, Some(country)) if actor.org_kind == OrgKind::Partner => Ok(country),
        (None, _) if actor.org_kind == OrgKind::Partner => Err(ApiError::invalid(
            "on_behalf_of",
            "required",
            "a partner names the country it asks for",
        )),
        (None, _) => Err(ApiError::out_of_scope(
            "the secretariat coordinates trace requests; a country's organisation sends them",
        )),
    }
}

/// The type of an attachment, read from its first bytes: JPEG, PNG and PDF only.
pub fn sniff(content: &[u8]) -> Option<&'static str> {
    if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if content.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if content.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

/// The name an attachment is kept under: `name` cleaned, ending in the extension of the type
/// read from its content (a PDF named `.html` is saved as `.html.pdf`, so that no download
/// opens as something else).
pub fn attachment_name(name: &str, content_type: &str) -> String {
    let cleaned = clean_name(name);
    let extensions: &[&str] = match content_type {
        "image/jpeg" => &["jpg", "jpeg"],
        "image/png" => &["png"],
        _ => &["pdf"],
    };
    let lower = cleaned.to_ascii_lowercase();
    if extensions.iter().any(|e| lower.ends_with(&format!(".{e}"))) {
        cleaned
    } else {
        format!("{cleaned}.{}", extensions[0])
    }
}

/// A file name safe to store and to give back in a header: its last path part, printable
/// characters only, at most 120 of them.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(120)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "attachment".into()
    } else {
        cleaned.to_string()
    }
}

/// Starts the loop that reminds the parties of late requests, every `policy.sweep`.
pub fn start_reminders(store: Arc<dyn Store>, clock: Clock, wake: Wake, policy: TracePolicy) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(policy.sweep).await;
            match remind_once(store.as_ref(), &clock, &policy).await {
                Ok(0) => {}
                Ok(sent) => {
                    tracing::info!(reminders = sent, "reminded parties of late trace requests");
                    wake.ring();
                }
                Err(error) => tracing::warn!(%error, "trace reminders failed; trying again"),
            }
        }
    });
}

/// One pass: reminds every late request due a reminder; returns how many were reminded.
pub async fn remind_once(
    store: &dyn Store,
    clock: &Clock,
    policy: &TracePolicy,
) -> Result<usize, armstrace_store::StoreError> {
    let now = clock.now();
    let due = store.due_trace_reminders(now, policy.remind_again).await?;
    let mut sent = 0;
    for id in due {
        if store
            .remind_trace(id, now, policy.remind_again)
            .await?
            .is_some()
        {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Most characters of a note or message.
pub const MAX_TEXT: usize = 4000;

/// Most bytes of what a request says, as JSON.
const MAX_CONTENT: usize = 64 * 1024;

/// Most serial numbers on one request.
const MAX_SERIALS: usize = 20;

/// A request as its writer sends it: the country asked (once chosen), the country asked for
/// (partners only), and what it says.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// The country asked.
    pub to_country: Option<CountryCode>,
    /// The country a partner asks for.
    pub on_behalf_of: Option<CountryCode>,
    /// What the request says.
    pub content: TraceContent,
}

/// Reads a country code given in `field`.
pub fn country_field(field: &str, text: Option<&str>) -> Result<Option<CountryCode>, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(code) => CountryCode::parse(code).map(Some).map_err(|_| {
            ApiError::invalid(
                field,
                "unknown_country",
                format!("'{code}' is not an ISO 3166-1 alpha-2 country code"),
            )
        }),
    }
}

/// Refuses content too large to be a request.
fn check_size(content: &TraceContent) -> Result<(), ApiError> {
    if content.firearm.serial_numbers.len() > MAX_SERIALS {
        return Err(ApiError::invalid(
            "firearm.serial_numbers",
            "too_many",
            format!("at most {MAX_SERIALS} serial numbers"),
        ));
    }
    let size = serde_json::to_vec(content).map(|v| v.len()).unwrap_or(0);
    if size > MAX_CONTENT {
        return Err(ApiError::invalid(
            "body",
            "too_large",
            format!("a request says at most {} KB", MAX_CONTENT / 1024),
        ));
    }
    Ok(())
}

/// Refuses a note or message that is blank (when `required`) or too long.
pub fn check_text(field: &str, text: Option<&str>, required: bool) -> Result<(), ApiError> {
    match text.map(str::trim) {
        None | Some("") if required => Err(ApiError::invalid(
            field,
            "required",
            format!("write the {field}"),
        )),
        Some(t) if t.chars().count() > MAX_TEXT => Err(ApiError::invalid(
            field,
            "too_long",
            format!("at most {MAX_TEXT} characters"),
        )),
        Some(t)
            if t.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') =>
        {
            Err(ApiError::invalid(
                field,
                "control_character",
                "remove the control characters (only line breaks and tabs are kept)",
            ))
        }
        _ => Ok(()),
    }
}

/// Writes a draft for `actor`.
pub async fn create(state: &AppState, actor: &Actor, draft: Draft) -> Result<Trace, ApiError> {
    require_trace(actor)?;
    let requester = requester_country(actor, draft.on_behalf_of)?;
    check_size(&draft.content)?;
    if draft.to_country == Some(requester) {
        return Err(ApiError::invalid(
            "to_country",
            "own_country",
            "a trace request goes to another country; search your own records for your own",
        ));
    }
    let new = NewTrace {
        requester_country: requester,
        to_country: draft.to_country,
        content: draft.content,
    };
    Ok(state
        .store
        .create_trace(&AuditWho::from(actor), &new, state.clock.now())
        .await?)
}

fn require_trace(actor: &Actor) -> Result<(), ApiError> {
    if actor.permissions.has(Permission::Trace) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            Permission::Trace,
            "trace requests need the 'trace' permission",
        ))
    }
}

/// Rewrites a draft (or a request sent back for information).
pub async fn edit(
    state: &AppState,
    actor: &Actor,
    id: i64,
    to_country: Option<CountryCode>,
    content: TraceContent,
    base_version: Option<i64>,
) -> Result<Trace, ApiError> {
    require_trace(actor)?;
    let (trace, _) = visible(state, actor, id).await?;
    if !is_requester(actor, &trace) {
        return Err(ApiError::out_of_scope(format!(
            "only {} (which wrote the request) may change it",
            trace.requester_organisation
        )));
    }
    check_size(&content)?;
    if to_country == Some(trace.requester_country) {
        return Err(ApiError::invalid(
            "to_country",
            "own_country",
            "a trace request goes to another country",
        ));
    }
    let change = TraceChange::Edit {
        to_country,
        content: Box::new(content),
        base_version,
    };
    let (trace, _) = state
        .store
        .change_trace(&AuditWho::from(actor), id, &change, state.clock.now())
        .await?;
    state.wake.ring();
    Ok(trace)
}

/// What an action carries besides itself.
#[derive(Debug, Clone, Default)]
pub struct ActionInput {
    /// A note, or (for `request-information`) what is needed.
    pub text: Option<String>,
    /// For `answer`.
    pub answer: Option<TraceAnswer>,
    /// For `forward`: the next country on the trail.
    pub to_country: Option<CountryCode>,
}

/// Whether `country` has an approved NCB here, to receive a request.
async fn has_ncb(state: &AppState, country: CountryCode) -> Result<bool, ApiError> {
    Ok(state.store.organisations().await?.iter().any(|o| {
        o.kind == OrgKind::Ncb && o.country == Some(country) && o.state == OrgState::Approved
    }))
}

async fn require_ncb(state: &AppState, field: &str, country: CountryCode) -> Result<(), ApiError> {
    if has_ncb(state, country).await? {
        Ok(())
    } else {
        Err(ApiError::invalid(
            field,
            "no_ncb",
            format!(
                "{} ({country}) has no approved NCB in Armstrace to receive the request",
                country.name()
            ),
        ))
    }
}

/// Takes `action` on request `id` for `actor`; gives the request and any linked request a
/// forward started.
pub async fn act(
    state: &AppState,
    actor: &Actor,
    id: i64,
    action: TraceAction,
    input: ActionInput,
) -> Result<(Trace, Option<Trace>), ApiError> {
    require_trace(actor)?;
    let (trace, chain) = visible(state, actor, id).await?;
    may_act(actor, &trace, action)?;
    let field = if action == TraceAction::RequestInformation {
        "text"
    } else {
        "note"
    };
    check_text(
        field,
        input.text.as_deref(),
        action == TraceAction::RequestInformation,
    )?;
    let now = state.clock.now();
    let mut deadlines = None;
    let mut forward_to = None;
    match action {
        TraceAction::Send => {
            let Some(to) = trace.to_country else {
                return Err(ApiError::invalid(
                    "to_country",
                    "required",
                    "choose the country to ask",
                ));
            };
            let blocking: Vec<FieldError> = trace
                .content
                .missing(Some(trace.requester_country))
                .into_iter()
                .filter(|m| m.blocking)
                .map(|m| FieldError::new(&m.field, "missing", m.reason))
                .collect();
            if !blocking.is_empty() {
                return Err(ApiError::Validation(blocking));
            }
            require_ncb(state, "to_country", to).await?;
            deadlines = Some(state.traces.deadlines.deadlines(now, trace.priority));
        }
        TraceAction::Answer => match &input.answer {
            None => return Err(ApiError::invalid("result", "required", "give the answer")),
            Some(answer) => {
                if let Some(problem) = answer.problem() {
                    return Err(ApiError::invalid(
                        "last_legal_recipient",
                        "required",
                        problem,
                    ));
                }
                check_text("text", answer.text.as_deref(), false)?;
            }
        },
        TraceAction::Forward => {
            let Some(to) = input.to_country else {
                return Err(ApiError::invalid(
                    "to_country",
                    "required",
                    "name the next country on the trail",
                ));
            };
            if chain
                .iter()
                .any(|t| t.to_country == Some(to) || t.requester_country == to)
            {
                return Err(ApiError::invalid(
                    "to_country",
                    "already_on_chain",
                    format!("{} is already on this request's chain", to.name()),
                ));
            }
            require_ncb(state, "to_country", to).await?;
            forward_to = Some((to, state.traces.deadlines.deadlines(now, trace.priority)));
        }
        _ => {}
    }
    let change = TraceChange::Move {
        action,
        text: input.text.filter(|t| !t.trim().is_empty()),
        deadlines,
        answer: input.answer,
        forward_to,
    };
    let changed = state
        .store
        .change_trace(&AuditWho::from(actor), id, &change, now)
        .await?;
    state.wake.ring();
    Ok(changed)
}

/// Writes a message on request `id`.
pub async fn message(
    state: &AppState,
    actor: &Actor,
    id: i64,
    text: &str,
) -> Result<Trace, ApiError> {
    require_trace(actor)?;
    let (trace, _) = visible(state, actor, id).await?;
    check_text("text", Some(text), true)?;
    if !may_write(actor, &trace) {
        return Err(ApiError::out_of_scope(
            "only the organisation that asks and the NCB asked write on a request",
        ));
    }
    let change = TraceChange::Message {
        text: text.trim().to_string(),
    };
    let (trace, _) = state
        .store
        .change_trace(&AuditWho::from(actor), id, &change, state.clock.now())
        .await?;
    state.wake.ring();
    Ok(trace)
}

/// The refusal of an attachment over `max` bytes.
pub fn too_large(max: usize) -> ApiError {
    ApiError::invalid(
        "body",
        "too_large",
        format!("an attachment is at most {} MB", max / (1024 * 1024)),
    )
}

/// Attaches a file to request `id`, after reading its type from its content (and refusing a
/// declared type that disagrees).
pub async fn attach(
    state: &AppState,
    actor: &Actor,
    id: i64,
    name: &str,
    declared: Option<&str>,
    content: &[u8],
) -> Result<Attachment, ApiError> {
    require_trace(actor)?;
    let (trace, _) = visible(state, actor, id).await?;
    if !may_write(actor, &trace) {
        return Err(ApiError::out_of_scope(
            "only the organisation that asks and the NCB asked attach files to a request",
        ));
    }
    if content.is_empty() {
        return Err(ApiError::invalid("body", "required", "the file is empty"));
    }
    if content.len() > state.traces.max_attachment {
        return Err(too_large(state.traces.max_attachment));
    }
    let Some(found) = sniff(content) else {
        return Err(ApiError::UnsupportedMediaType(
            "attach photographs or scans as JPEG, PNG or PDF; this file is none of them".into(),
        ));
    };
    let declared = declared
        .map(|d| {
            d.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|d| !d.is_empty() && d != "application/octet-stream");
    if let Some(declared) = declared.filter(|d| d != found) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the file was sent as {declared} but its content is {found}"
        )));
    }
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(content));
    let name = attachment_name(name, found);
    let file = NewAttachment {
        name: &name,
        content_type: found,
        sha256: &sha256,
        data: content,
    };
    let attachment = state
        .store
        .attach_to_trace(&AuditWho::from(actor), id, &file, state.clock.now())
        .await?;
    state.wake.ring();
    Ok(attachment)
}

/// A request as one party sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TraceView {
    /// The request.
    pub trace: Trace,
    /// What is late about it now.
    #[schema(value_type = Option<String>)]
    pub late: Option<Late>,
    /// Every request of its chain, first first (this one among them).
    pub chain: Vec<ChainLink>,
    /// What happened to it, oldest first.
    pub timeline: Vec<TraceEvent>,
    /// Its attachments.
    pub attachments: Vec<Attachment>,
    /// What it lacks that its recipient will need.
    pub missing: Vec<Missing>,
    /// Where to send it: the make's country, the countries of its import marks and of the
    /// trail so far.
    pub destinations: Vec<Destination>,
    /// What the caller may do to it now.
    pub actions: Vec<TraceAction>,
    /// Whether the caller may write messages and attach files.
    pub can_write: bool,
    /// Whether the caller may change what it says.
    pub can_edit: bool,
}

/// One request of a chain.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ChainLink {
    /// The request.
    pub id: i64,
    /// The request it was forwarded from.
    pub parent_id: Option<i64>,
    /// The country asking.
    #[schema(value_type = String)]
    pub requester_country: CountryCode,
    /// The country asked.
    #[schema(value_type = Option<String>)]
    pub to_country: Option<CountryCode>,
    /// Where it stands.
    pub status: TraceStatus,
    /// The answer's result, once answered.
    #[schema(value_type = Option<String>)]
    pub result: Option<AnswerResult>,
}

/// Request `id` as `actor` sees it.
pub async fn view(state: &AppState, actor: &Actor, id: i64) -> Result<TraceView, ApiError> {
    let (trace, chain) = visible(state, actor, id).await?;
    let timeline = state.store.trace_events(id).await?;
    let attachments = state.store.trace_attachments(id).await?;
    let now = state.clock.now();
    let f = &trace.content.firearm;
    let mut destinations = state
        .reference
        .resolver()
        .trace_destinations(f.make.as_deref(), f.import_marks.as_deref());
    // The country of manufacture the requester gave, when the table did not already name it
    // (an unknown make, a licensed production).
    if let Some(made) = f.country_of_manufacture
        && !destinations.iter().any(|d| d.country == made)
    {
        destinations.insert(
            0,
            Destination {
                country: made,
                name: made.name().to_string(),
                reason: "the country of manufacture given in the request".into(),
            },
        );
    }
    // Any country the trail names so far, in the answers along the chain.
    for answer in chain.iter().filter_map(|t| t.answer.as_ref()) {
        let named = answer
            .transfers
            .iter()
            .flat_map(|t| [t.exporting_country, t.importing_country])
            .chain([answer.last_legal_country])
            .flatten();
        for country in named {
            if !destinations.iter().any(|d| d.country == country) {
                destinations.push(Destination {
                    country,
                    name: country.name().to_string(),
                    reason: "named in an answer on this request's trail".into(),
                });
            }
        }
    }
    destinations.retain(|d| d.country != trace.requester_country);
    let can_edit = is_requester(actor, &trace)
        && trace.status.editable()
        && actor.permissions.has(Permission::Trace);
    Ok(TraceView {
        late: trace.late(now),
        chain: chain
            .iter()
            .map(|t| ChainLink {
                id: t.id,
                parent_id: t.parent_id,
                requester_country: t.requester_country,
                to_country: t.to_country,
                status: t.status,
                result: t.answer.as_ref().map(|a| a.result),
            })
            .collect(),
        missing: trace.content.missing(Some(trace.requester_country)),
        actions: actions(actor, &trace),
        can_write: may_write(actor, &trace),
        can_edit,
        destinations,
        timeline,
        attachments,
        trace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_known_by_their_first_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"MZ\x90\x00"), None);
        assert_eq!(sniff(b"<html>"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn a_file_name_keeps_only_its_last_printable_part() {
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("C:\\photos\\slide.jpg"), "slide.jpg");
        assert_eq!(clean_name("a\"b\r\nc.png"), "abc.png");
        assert_eq!(clean_name("  "), "attachment");
    }

    #[test]
    fn an_attachment_is_named_for_what_it_is() {
        assert_eq!(attachment_name("slide.JPG", "image/jpeg"), "slide.JPG");
        assert_eq!(
            attachment_name("evil.html", "application/pdf"),
            "evil.html.pdf"
        );
        assert_eq!(attachment_name("scan", "image/png"), "scan.png");
    }

    #[test]
    fn a_note_may_not_carry_control_characters() {
        assert!(check_text("note", Some("line one\nline two\tend"), false).is_ok());
        assert!(check_text("note", Some("red \u{1b}[31m"), false).is_err());
        assert!(check_text("note", Some(" "), true).is_err());
    }

    #[test]
    fn the_file_clock_reads_the_instant_written() {
        let dir = tempfile_dir();
        let path = dir.join("clock");
        let clock = Clock::from_file(path.clone());
        let before = Utc::now();
        assert!(clock.now() >= before, "no file: the system clock");
        std::fs::write(&path, "2030-01-02T03:04:05Z\n").unwrap();
        assert_eq!(clock.now().to_rfc3339(), "2030-01-02T03:04:05+00:00");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("armstrace-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
