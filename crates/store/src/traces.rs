//! Trace requests as the store keeps them: a request, its timeline and attachments, the
//! changes the service asks for, and which requests an organisation may see.

use armstrace_core::CountryCode;
use armstrace_core::trace::{
    Deadlines, Late, Priority, TraceAction, TraceAnswer, TraceContent, TraceStatus,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::{StoreError, StoreResult};

/// The columns a request is read from, with its requesting organisation's name (both backends).
pub(crate) const TRACE_COLUMNS: &str = "t.id, t.chain_id, t.parent_id, t.requester_org_id, \
     o.name AS requester_organisation, t.requester_country, t.to_country, t.status, t.priority, \
     t.content, t.answer, t.created_by, t.created_at, t.updated_at, t.sent_at, t.acknowledge_by, \
     t.answer_by, t.reminded, t.reminded_at, t.version";

/// The tables a request is read from.
pub(crate) const FROM_TRACES: &str =
    "FROM traces t JOIN organisations o ON o.id = t.requester_org_id";

/// A request's row as either backend reads it, before its tokens and documents are checked.
#[derive(sqlx::FromRow)]
pub(crate) struct TraceRow {
    id: i64,
    chain_id: i64,
    parent_id: Option<i64>,
    requester_org_id: i64,
    requester_organisation: String,
    requester_country: String,
    to_country: Option<String>,
    status: String,
    priority: String,
    content: String,
    answer: Option<String>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
    acknowledge_by: Option<DateTime<Utc>>,
    answer_by: Option<DateTime<Utc>>,
    reminded: Option<String>,
    reminded_at: Option<DateTime<Utc>>,
    version: i64,
}

/// Stored data that does not read back as a request.
/// A move the request's status does not allow.
pub(crate) fn conflict(message: impl Into<String>) -> StoreError {
    StoreError::Conflict {
        code: "trace_status",
        message: message.into(),
    }
}

/// What a notification about a trace request carries.
pub(crate) fn payload(
    trace: &Trace,
    event: &str,
    by: &crate::audit::AuditWho,
    text: Option<&str>,
    at: DateTime<Utc>,
) -> Value {
    serde_json::json!({
        "event": event,
        "trace_id": trace.id,
        "trace": trace_summary(trace),
        "text": text,
        "by": { "username": by.username, "organisation": by.organisation },
        "at": at,
    })
}

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("trace {what} '{value}'"))
}

/// A stored country code.
pub(crate) fn stored_country(value: &str) -> StoreResult<CountryCode> {
    CountryCode::parse(value).map_err(|_| corrupt("country", value))
}

impl TryFrom<TraceRow> for Trace {
    type Error = StoreError;

    fn try_from(row: TraceRow) -> StoreResult<Trace> {
        Ok(Trace {
            id: row.id,
            chain_id: row.chain_id,
            parent_id: row.parent_id,
            requester_org_id: row.requester_org_id,
            requester_organisation: row.requester_organisation,
            requester_country: stored_country(&row.requester_country)?,
            to_country: row.to_country.as_deref().map(stored_country).transpose()?,
            status: TraceStatus::parse(&row.status)
                .ok_or_else(|| corrupt("status", &row.status))?,
            priority: Priority::parse(&row.priority)
                .ok_or_else(|| corrupt("priority", &row.priority))?,
            content: serde_json::from_str(&row.content)
                .map_err(|e| corrupt("content", &e.to_string()))?,
            answer: row
                .answer
                .as_deref()
                .map(|a| serde_json::from_str(a).map_err(|e| corrupt("answer", &e.to_string())))
                .transpose()?,
            created_by: row.created_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            sent_at: row.sent_at,
            deadlines: row
                .acknowledge_by
                .zip(row.answer_by)
                .map(|(acknowledge_by, answer_by)| Deadlines {
                    acknowledge_by,
                    answer_by,
                }),
            reminded: match row.reminded.as_deref() {
                None => None,
                Some("acknowledgement") => Some(Late::Acknowledgement),
                Some("answer") => Some(Late::Answer),
                Some(other) => return Err(corrupt("reminder", other)),
            },
            reminded_at: row.reminded_at,
            version: row.version,
        })
    }
}

/// A request about to be written as a draft.
#[derive(Debug, Clone)]
pub struct NewTrace {
    /// The country asking: the requesting organisation's, or the one a partner asks for.
    pub requester_country: CountryCode,
    /// The country asked, once chosen.
    pub to_country: Option<CountryCode>,
    /// What the request says.
    pub content: TraceContent,
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Trace {
    /// Its identifier.
    pub id: i64,
    /// The first request of its chain (itself, unless it was forwarded to).
    pub chain_id: i64,
    /// The request it was forwarded from.
    pub parent_id: Option<i64>,
    /// The organisation asking.
    pub requester_org_id: i64,
    /// Its name.
    pub requester_organisation: String,
    /// The country asking.
    #[schema(value_type = String)]
    pub requester_country: CountryCode,
    /// The country asked (its NCB answers).
    #[schema(value_type = Option<String>)]
    pub to_country: Option<CountryCode>,
    /// Where it stands.
    pub status: TraceStatus,
    /// Routine or urgent.
    pub priority: Priority,
    /// What the request says.
    pub content: TraceContent,
    /// The recipient's answer, once given.
    pub answer: Option<TraceAnswer>,
    /// Who wrote it.
    pub created_by: String,
    /// When it was written.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was (last) sent.
    pub sent_at: Option<DateTime<Utc>>,
    /// When acknowledgement and answer are due, from the last sending.
    pub deadlines: Option<Deadlines>,
    /// The lateness the parties were last reminded of.
    #[schema(value_type = Option<String>)]
    pub reminded: Option<Late>,
    /// When they were last reminded.
    pub reminded_at: Option<DateTime<Utc>>,
    /// Incremented on every change.
    pub version: i64,
}

impl Trace {
    /// What is late about it at `now`.
    pub fn late(&self, now: DateTime<Utc>) -> Option<Late> {
        self.deadlines
            .as_ref()
            .and_then(|d| armstrace_core::trace::overdue(self.status, d, now))
    }
}

/// A step of a request's life.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TraceEvent {
    /// Its identifier.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`armstrace` for reminders).
    pub username: String,
    /// Their organisation.
    pub organisation: String,
    /// `trace.created`, `trace.updated`, `trace.sent`, `trace.acknowledged`,
    /// `trace.information_requested`, `trace.answered`, `trace.forwarded`, `trace.closed`,
    /// `trace.message`, `trace.attachment`, `trace.overdue`.
    pub event: String,
    /// The request's status after it.
    pub status: TraceStatus,
    /// The message or note.
    pub text: Option<String>,
    /// What else it carries (the answer, the linked request, the deadlines, an attachment).
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// An attachment without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    /// Its identifier.
    pub id: i64,
    /// The request it belongs to.
    pub trace_id: i64,
    /// The file name given.
    pub name: String,
    /// `image/jpeg`, `image/png` or `application/pdf`, as read from the content.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Who attached it.
    pub username: String,
    /// Their organisation.
    pub organisation: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A file to attach, already checked by the service.
pub struct NewAttachment<'a> {
    /// The name given.
    pub name: &'a str,
    /// The type read from the content.
    pub content_type: &'a str,
    /// SHA-256, hex.
    pub sha256: &'a str,
    /// The bytes.
    pub data: &'a [u8],
}

/// A change to a request, already allowed by the service's rules of who may act.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceChange {
    /// A move in its life.
    Move {
        /// Which.
        action: TraceAction,
        /// A note or the information asked for.
        text: Option<String>,
        /// For `send`: the deadlines from now.
        deadlines: Option<Deadlines>,
        /// For `answer`: the answer.
        answer: Option<TraceAnswer>,
        /// For `forward`: the next country on the trail, and the deadlines of the linked
        /// request it starts.
        forward_to: Option<(CountryCode, Deadlines)>,
    },
    /// A message to the other party.
    Message {
        /// The message.
        text: String,
    },
    /// The requester rewrites the request (a draft, or one sent back for information).
    Edit {
        /// The country asked.
        to_country: Option<CountryCode>,
        /// What the request now says.
        content: Box<TraceContent>,
        /// The version the change was made on, if the caller knows it.
        base_version: Option<i64>,
    },
}

impl TraceChange {
    /// The event it is recorded as.
    pub fn event(&self) -> &'static str {
        match self {
            TraceChange::Move { action, .. } => action.event(),
            TraceChange::Message { .. } => "trace.message",
            TraceChange::Edit { .. } => "trace.updated",
        }
    }
}

/// Who is looking: the secretariat sees every request; anyone else the requests of the chains
/// they are on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceScope {
    /// The secretariat.
    All,
    /// An organisation, and the country it is the NCB of (if it is one).
    Organisation {
        /// The organisation.
        org_id: i64,
        /// The country it is the NCB of.
        ncb_of: Option<CountryCode>,
    },
}

/// Incoming (to the viewer's country) or outgoing (from the viewer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Requests to the viewer's country (an NCB's).
    Incoming,
    /// Requests the viewer's organisation (or, for an NCB, its country) sent.
    Outgoing,
}

/// Which requests to list.
#[derive(Debug, Clone)]
pub struct TraceFilter {
    /// Who is looking.
    pub scope: TraceScope,
    /// Incoming or outgoing; both when absent.
    pub direction: Option<Direction>,
    /// In this status.
    pub status: Option<TraceStatus>,
    /// Of this priority.
    pub priority: Option<Priority>,
    /// Only those overdue at this moment.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Asking or asked country.
    pub country: Option<CountryCode>,
    /// Written on or after.
    pub from: Option<NaiveDate>,
    /// Written on or before.
    pub to: Option<NaiveDate>,
    /// Only requests older than this id (paging).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

impl TraceFilter {
    /// Everything `scope` may see, newest first, `limit` at a time.
    pub fn new(scope: TraceScope, limit: u32) -> Self {
        TraceFilter {
            scope,
            direction: None,
            status: None,
            priority: None,
            overdue_at: None,
            country: None,
            from: None,
            to: None,
            before: None,
            limit,
        }
    }
}

/// The key facts a notification carries about a request.
pub fn trace_summary(trace: &Trace) -> Value {
    let f = &trace.content.firearm;
    serde_json::json!({
        "trace_id": trace.id,
        "chain_id": trace.chain_id,
        "status": trace.status,
        "priority": trace.priority,
        "requester_organisation": trace.requester_organisation,
        "requester_country": trace.requester_country,
        "to_country": trace.to_country,
        "serial_numbers": f.serial_numbers,
        "make": f.make,
        "model": f.model,
        "calibre": f.calibre,
        "case_reference": trace.content.circumstances.case_reference,
        "deadlines": trace.deadlines,
    })
}
