//! Hits, their follow-up, each organisation's notifications, webhooks and the outbox of
//! deliveries: the types the store speaks, the rules of a hit's life, and the SQL both of the
//! SQLite writers share.

use armstrace_core::{CountryCode, FirearmId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::AuditWho;

/// A match a check is about to record as a hit.
#[derive(Debug, Clone)]
pub struct NewHit {
    /// The check's identifier (for a batch, the batch's with the row).
    pub check_id: String,
    /// The record matched.
    pub firearm_id: FirearmId,
    /// `exact`, `strong` or `possible`.
    pub confidence: String,
    /// 0 to 1.
    pub score: f32,
    /// How the serials relate.
    pub match_kind: String,
    /// How the makes relate.
    pub make_relation: String,
    /// Why it matched: the differences, as the check explains them.
    pub differences: Value,
    /// The serial as typed.
    pub serial_typed: String,
    /// The make as typed.
    pub make_typed: Option<String>,
    /// The operation the check was made in, if any.
    pub operation: Option<String>,
    /// Who checked.
    pub who: AuditWho,
    /// The country a partner checked for.
    pub on_behalf_of: Option<CountryCode>,
}

/// What a recorded check gives back: the records read, per job, and the hits made.
#[derive(Debug, Clone, Default)]
pub struct RecordedCheck {
    /// The records the check asked to read that exist.
    pub records: Vec<armstrace_core::Firearm>,
    /// The hits made, in the order they were asked for: (check, record, hit id).
    pub hits: Vec<(String, FirearmId, i64)>,
}

/// Where a hit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HitState {
    /// Made; the recording NCB has not yet said whether it is that weapon.
    Open,
    /// The recording NCB confirmed it is the recorded weapon.
    Confirmed,
    /// The recording NCB says it is not.
    Rejected,
    /// Followed up and closed with an outcome.
    Closed,
}

impl HitState {
    /// The stored token.
    pub fn as_str(self) -> &'static str {
        match self {
            HitState::Open => "open",
            HitState::Confirmed => "confirmed",
            HitState::Rejected => "rejected",
            HitState::Closed => "closed",
        }
    }

    /// Reads a stored token.
    pub fn parse(text: &str) -> Option<Self> {
        [
            HitState::Open,
            HitState::Confirmed,
            HitState::Rejected,
            HitState::Closed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// How a hit was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HitOutcome {
    /// The firearm was seized.
    Seized,
    /// The firearm was returned to its lawful owner.
    Returned,
    /// A trace request was sent.
    TraceRequested,
    /// Not the recorded weapon after all.
    NotTheWeapon,
    /// Nothing further to do.
    NoAction,
    /// Something else, said in the note.
    Other,
}

impl HitOutcome {
    /// The stored token.
    pub fn as_str(self) -> &'static str {
        match self {
            HitOutcome::Seized => "seized",
            HitOutcome::Returned => "returned",
            HitOutcome::TraceRequested => "trace_requested",
            HitOutcome::NotTheWeapon => "not_the_weapon",
            HitOutcome::NoAction => "no_action",
            HitOutcome::Other => "other",
        }
    }
}

/// A change to a hit's follow-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HitChange {
    /// The recording NCB confirms it is the recorded weapon.
    Confirm { note: Option<String> },
    /// The recording NCB says it is not.
    Reject { note: Option<String> },
    /// A message to the other parties.
    Message { text: String },
    /// The hit is closed with an outcome.
    Close {
        outcome: HitOutcome,
        note: Option<String>,
    },
}

impl HitChange {
    /// The event it is recorded and notified as.
    pub fn event(&self) -> &'static str {
        match self {
            HitChange::Confirm { .. } => "hit.confirmed",
            HitChange::Reject { .. } => "hit.rejected",
            HitChange::Message { .. } => "hit.message",
            HitChange::Close { .. } => "hit.closed",
        }
    }

    /// The text it carries.
    pub fn text(&self) -> Option<&str> {
        match self {
            HitChange::Confirm { note } | HitChange::Reject { note } => note.as_deref(),
            HitChange::Close { note, .. } => note.as_deref(),
            HitChange::Message { text } => Some(text),
        }
    }

    /// The state a hit in `state` moves to, or why it cannot.
    pub fn next_state(&self, state: HitState) -> Result<HitState, String> {
        match (self, state) {
            (_, HitState::Closed) => Err("the hit is closed".into()),
            (HitChange::Message { .. }, state) => Ok(state),
            (HitChange::Confirm { .. }, HitState::Open | HitState::Rejected) => {
                Ok(HitState::Confirmed)
            }
            (HitChange::Reject { .. }, HitState::Open | HitState::Confirmed) => {
                Ok(HitState::Rejected)
            }
            (HitChange::Confirm { .. }, HitState::Confirmed) => {
                Err("the hit is already confirmed".into())
            }
            (HitChange::Reject { .. }, HitState::Rejected) => {
                Err("the hit is already rejected".into())
            }
            (HitChange::Close { .. }, _) => Ok(HitState::Closed),
        }
    }
}

/// An organisation party to a hit, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HitParty {
    /// The organisation.
    pub org_id: i64,
    /// Its name.
    pub organisation: String,
    /// `secretariat`, `searcher`, `on_behalf_of`, `recording_ncb` (one or more).
    pub roles: Vec<String>,
}

/// A hit as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Hit {
    /// Its identifier.
    pub id: i64,
    /// The check that made it.
    pub check_id: String,
    /// The record it matched.
    pub firearm_id: FirearmId,
    /// The record's recording country.
    #[schema(value_type = String)]
    pub recording_country: String,
    /// `exact` or `strong` (or `possible`, if the policy says so).
    pub confidence: String,
    /// 0 to 1.
    pub score: f32,
    /// How the serials relate.
    pub match_kind: String,
    /// How the makes relate.
    pub make_relation: String,
    /// Which characters differed, and how.
    #[schema(value_type = Object)]
    pub differences: Value,
    /// What the officer typed.
    pub serial_typed: String,
    /// The make the officer gave.
    pub make_typed: Option<String>,
    /// The operation the check was made in.
    pub operation: Option<String>,
    /// Who checked.
    pub username: String,
    /// Their organisation.
    pub org_id: i64,
    /// Its name.
    pub organisation: String,
    /// The country a partner checked for.
    pub on_behalf_of: Option<String>,
    /// Where it stands.
    pub state: HitState,
    /// How it was closed.
    pub outcome: Option<String>,
    /// When the check made it.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Incremented on every change.
    pub version: i64,
    /// The organisations told of it.
    pub parties: Vec<HitParty>,
}

impl Hit {
    /// Whether organisation `org_id` is party to the hit.
    pub fn is_party(&self, org_id: i64) -> bool {
        self.parties.iter().any(|p| p.org_id == org_id)
    }

    /// Whether organisation `org_id` is party in `role`.
    pub fn has_role(&self, org_id: i64, role: &str) -> bool {
        self.parties
            .iter()
            .any(|p| p.org_id == org_id && p.roles.iter().any(|r| r == role))
    }
}

/// A step of a hit's follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HitEvent {
    /// Its identifier.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub username: String,
    /// Their organisation.
    pub org_id: i64,
    /// Its name.
    pub organisation: String,
    /// `hit.confirmed`, `hit.rejected`, `hit.message`, `hit.closed`.
    pub event: String,
    /// The message or note.
    pub text: Option<String>,
}

/// One notification in an organisation's inbox.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Notification {
    /// Its identifier; the live stream's event id.
    pub id: i64,
    /// The organisation it is for.
    pub org_id: i64,
    /// The hit it is about, if it is about a hit.
    pub hit_id: Option<i64>,
    /// The trace request it is about, if it is about one.
    pub trace_id: Option<i64>,
    /// `hit.created`, `hit.confirmed`, `hit.rejected`, `hit.message`, `hit.closed`, or a
    /// trace request's `trace.*` event.
    pub event: String,
    /// What happened, with the hit's key facts.
    #[schema(value_type = Object)]
    pub data: Value,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When the organisation marked it read.
    pub read_at: Option<DateTime<Utc>>,
}

/// Which notifications to list.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    /// Only unread ones.
    pub unread: bool,
    /// Only about this hit.
    pub hit_id: Option<i64>,
    /// Only about this trace request.
    pub trace_id: Option<i64>,
    /// Only this event.
    pub event: Option<String>,
}

/// A registered webhook (the secret is never read back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    /// Its identifier.
    pub id: i64,
    /// The organisation it delivers for.
    pub org_id: i64,
    /// Where deliveries are posted.
    pub url: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Who registered it.
    pub created_by: String,
}

/// A delivery the sender has claimed.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The outbox row.
    pub id: i64,
    /// The claim: its result is recorded only while the row is still this claim's.
    pub claim: String,
    /// Where to: a webhook (with its secret) or an e-mail address.
    pub target: DeliveryTarget,
    /// Attempts made before this one.
    pub attempts: i64,
    /// The notification to deliver.
    pub notification: Notification,
}

/// Where a delivery goes.
#[derive(Debug, Clone)]
pub enum DeliveryTarget {
    /// A webhook.
    Webhook {
        /// Its identifier.
        id: i64,
        /// Its URL.
        url: String,
        /// The secret its bodies are signed with.
        secret: String,
    },
    /// The organisation's duty address.
    Email {
        /// The address.
        address: String,
    },
}

/// What became of one attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    /// What went wrong, if anything.
    pub error: Option<String>,
    /// How long it took.
    pub millis: i64,
    /// When to try again, if it failed and is worth trying again; `None` after a failure
    /// means give up.
    pub retry_at: Option<DateTime<Utc>>,
}

impl Attempt {
    /// Whether it was delivered.
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// A delivery as the organisation's admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeliveryLog {
    /// The outbox row.
    pub id: i64,
    /// The notification delivered.
    pub notification_id: i64,
    /// `pending`, `delivered` or `failed` (given up).
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// A time as both SQLite writers store it, so that stored times compare as text.
pub fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// The key facts a notification carries about a hit.
pub fn hit_summary(
    hit_id: i64,
    confidence: &str,
    serial_typed: &str,
    make_typed: Option<&str>,
    record: &Value,
    searcher: &str,
    on_behalf_of: Option<&str>,
) -> Value {
    serde_json::json!({
        "hit_id": hit_id,
        "confidence": confidence,
        "serial_typed": serial_typed,
        "make_typed": make_typed,
        "record": record,
        "searching_organisation": searcher,
        "on_behalf_of": on_behalf_of,
    })
}

/// A record's key facts as a hit's notifications show them, from its row.
pub(crate) const RECORD_FACTS: &str = "SELECT json_object('id', id, 'record_id', record_id, \
     'recording_country', recording_country, 'serial_number', serial_number, 'make', make, \
     'model', model, 'firearm_type', firearm_type, 'status', status) \
     FROM firearms WHERE id = ?1";

/// The organisations to tell of a new hit, with their role: ?1 searching organisation,
/// ?2 the country checked for (or NULL), ?3 the recording country.
pub(crate) const RECIPIENTS: &str = "\
     SELECT id, name, 'secretariat' FROM organisations WHERE kind = 'secretariat' \
     UNION ALL SELECT id, name, 'searcher' FROM organisations WHERE id = ?1 \
     UNION ALL SELECT id, name, 'on_behalf_of' FROM organisations \
        WHERE kind = 'ncb' AND country = ?2 AND state = 'approved' \
     UNION ALL SELECT id, name, 'recording_ncb' FROM organisations \
        WHERE kind = 'ncb' AND country = ?3 AND state = 'approved'";

/// A notification: ?1 organisation, ?2 hit, ?3 event, ?4 payload, ?5 time.
pub(crate) const INSERT_NOTIFICATION: &str = "INSERT INTO notifications \
     (org_id, hit_id, event, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";

/// Its deliveries, to every live webhook of the organisation: ?1 notification, ?2 time,
/// ?3 organisation.
pub(crate) const QUEUE_WEBHOOKS: &str = "INSERT INTO outbox \
     (notification_id, channel, webhook_id, state, next_attempt_at, created_at) \
     SELECT ?1, 'webhook', id, 'pending', ?2, ?2 FROM webhooks \
     WHERE org_id = ?3 AND deleted_at IS NULL";

/// And to its duty address, if it has one: the same parameters.
pub(crate) const QUEUE_EMAIL: &str = "INSERT INTO outbox \
     (notification_id, channel, address, state, next_attempt_at, created_at) \
     SELECT ?1, 'email', duty_email, 'pending', ?2, ?2 FROM organisations \
     WHERE id = ?3 AND duty_email IS NOT NULL";

/// Roles merged per organisation, in the order found: one notification per organisation even
/// when two roles fall on it.
pub fn merge_roles(found: Vec<(i64, String, String)>) -> Vec<(i64, String, Vec<String>)> {
    let mut merged: Vec<(i64, String, Vec<String>)> = Vec::new();
    for (org_id, name, role) in found {
        match merged.iter_mut().find(|(id, _, _)| *id == org_id) {
            Some((_, _, roles)) => roles.push(role),
            None => merged.push((org_id, name, vec![role])),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_moves_only_along_its_life() {
        let confirm = HitChange::Confirm { note: None };
        let reject = HitChange::Reject { note: None };
        let close = HitChange::Close {
            outcome: HitOutcome::Seized,
            note: None,
        };
        assert_eq!(confirm.next_state(HitState::Open), Ok(HitState::Confirmed));
        assert_eq!(
            reject.next_state(HitState::Confirmed),
            Ok(HitState::Rejected)
        );
        assert!(confirm.next_state(HitState::Confirmed).is_err());
        assert_eq!(close.next_state(HitState::Open), Ok(HitState::Closed));
        assert!(confirm.next_state(HitState::Closed).is_err());
        let message = HitChange::Message { text: "x".into() };
        assert!(message.next_state(HitState::Closed).is_err());
    }

    #[test]
    fn two_roles_of_one_organisation_make_one_recipient() {
        let merged = merge_roles(vec![
            (1, "Secretariat".into(), "secretariat".into()),
            (7, "NCB Paris".into(), "searcher".into()),
            (7, "NCB Paris".into(), "recording_ncb".into()),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[1].2, ["searcher", "recording_ncb"]);
    }
}
