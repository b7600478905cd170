//! Where Armstrace keeps its data: the [`Store`] trait every backend implements, the SQLite
//! backend with its migrations, and the streaming bulk import that feeds a store from a file.

pub mod audit;
mod feed;
pub mod hits;
pub mod import;
mod paging;
mod postgres;
pub mod reference;
mod rows;
mod sqlite;
pub mod traces;

use std::sync::Arc;

pub use armstrace_core::OrgState;
use armstrace_core::history::HistoryEntry;
use armstrace_core::{
    Actor, CountryCode, Firearm, FirearmFields, FirearmId, OrgKind, OrgRef, Permissions,
    RecordStatus,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

use crate::audit::{AuditEntry, AuditEvent, AuditFilter, AuditWho};

pub use postgres::{PgStore, create_database, drop_database, is_postgres};
pub use sqlite::SqliteStore;

/// What can go wrong in a store, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The change collides with existing data (a duplicate key, a stale version).
    #[error("{message}")]
    Conflict {
        /// A stable machine-readable reason.
        code: &'static str,
        /// What collided, in words.
        message: String,
    },
    /// The database holds a value Armstrace cannot read back.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The database refused or failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database failed, through a driver other than the async one.
    #[error("database error: {0}")]
    Backend(String),
    /// A schema migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Backend(error.to_string())
    }
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// An organisation: the secretariat, an NCB, a national agency or a partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Identifier.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Kind.
    pub kind: OrgKind,
    /// Country, for NCBs and national agencies.
    pub country: Option<CountryCode>,
    /// Approved, pending or suspended.
    pub state: OrgState,
}

impl Organisation {
    /// The organisation as the access rules see it.
    pub fn as_ref(&self) -> OrgRef {
        OrgRef {
            id: self.id,
            kind: self.kind,
            country: self.country,
        }
    }
}

/// An API token, without its secret (which is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Identifier.
    pub id: i64,
    /// The user the token acts as.
    pub user_id: i64,
    /// That user's name.
    pub username: String,
    /// That user's organisation.
    pub org_id: i64,
    /// The permissions the token carries (never more than its user holds).
    pub permissions: Permissions,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Names a token: by its identifier, or by the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRef {
    /// The token's identifier.
    Id(i64),
    /// The SHA-256 hash of the token's secret.
    Hash(String),
}

/// What a password sign-in is checked against.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Who signs in.
    pub actor: Actor,
    /// The argon2id hash of the password (none for accounts that use tokens only).
    pub password_hash: Option<String>,
    /// Failed sign-ins since the last success.
    pub failed_logins: u32,
    /// Sign-in is refused until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// The account is disabled: sign-in is refused.
    pub disabled: bool,
}

/// A change to a user; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    /// New permissions (tokens keep only those they carry that the user still holds).
    pub permissions: Option<Permissions>,
    /// A new password's argon2id hash; ends the user's open sessions.
    pub password_hash: Option<String>,
    /// Disable (every session and token refused) or enable again.
    pub disabled: Option<bool>,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Identifier.
    pub id: i64,
    /// The user's organisation.
    pub org_id: i64,
    /// Unique login name.
    pub username: String,
    /// What the user may do.
    pub permissions: Permissions,
    /// Disabled users cannot sign in, and their sessions and tokens are refused.
    pub disabled: bool,
}

/// Which firearm records a listing or export covers.
#[derive(Debug, Clone, Default)]
pub struct FirearmFilter {
    /// Only records of this recording country.
    pub recording_country: Option<CountryCode>,
    /// Only records with this status.
    pub status: Option<RecordStatus>,
    /// Only records of this make (case-insensitive, exact).
    pub make: Option<String>,
    /// Include deleted records too.
    pub include_deleted: bool,
}

/// How a change reached the store, kept in history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Api,
    Import,
    Web,
}

impl Channel {
    /// The stored token.
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Import => "import",
            Channel::Web => "web",
        }
    }
}

/// What one committed import batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// New records.
    pub imported: u64,
    /// Existing records whose content changed (or that were restored after deletion).
    pub updated: u64,
    /// Existing records the batch repeated exactly.
    pub unchanged: u64,
    /// The records created or changed: their id and their row's position in the batch.
    pub changed: Vec<(FirearmId, usize)>,
}

/// What the check index needs of a live record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialEntry {
    /// The record's id.
    pub id: FirearmId,
    /// The serial as recorded.
    pub serial_number: String,
    /// The make as recorded.
    pub make: String,
}

/// Everything Armstrace keeps, behind one interface so that every backend passes one suite.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether the schema holds an initialised installation (a secretariat exists).
    async fn is_initialised(&self) -> StoreResult<bool>;
    /// A setting of this installation.
    async fn setting(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets a setting of this installation.
    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()>;

    /// Creates an organisation.
    async fn create_organisation(
        &self,
        by: &AuditWho,
        name: &str,
        kind: OrgKind,
        country: Option<CountryCode>,
        state: OrgState,
    ) -> StoreResult<Organisation>;
    /// Every organisation.
    async fn organisations(&self) -> StoreResult<Vec<Organisation>>;
    /// One organisation.
    async fn organisation(&self, id: i64) -> StoreResult<Option<Organisation>>;
    /// Approves, suspends (or returns to pending) an organisation; audited.
    async fn set_organisation_state(
        &self,
        by: &AuditWho,
        id: i64,
        state: OrgState,
    ) -> StoreResult<Organisation>;
    /// Creates a user; audited.
    async fn create_user(
        &self,
        by: &AuditWho,
        org_id: i64,
        username: &str,
        password_hash: Option<&str>,
        permissions: Permissions,
    ) -> StoreResult<User>;
    /// A user by name.
    async fn user(&self, username: &str) -> StoreResult<Option<User>>;
    /// Changes a user's permissions, password or whether they are disabled; audited.
    async fn update_user(
        &self,
        by: &AuditWho,
        username: &str,
        change: &UserChange,
    ) -> StoreResult<User>;
    /// The users of an organisation.
    async fn users(&self, org_id: i64) -> StoreResult<Vec<User>>;
    /// Stores a new token's hash; audited.
    async fn create_token(
        &self,
        by: &AuditWho,
        user_id: i64,
        token_hash: &str,
        permissions: Permissions,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<ApiToken>;
    /// A token, by id or by the hash of its secret.
    async fn token(&self, token: &TokenRef) -> StoreResult<Option<ApiToken>>;
    /// A user's tokens.
    async fn tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>>;
    /// Revokes a token (revoking twice changes nothing); audited.
    async fn revoke_token(&self, by: &AuditWho, token: &TokenRef) -> StoreResult<ApiToken>;
    /// The actor behind an unrevoked, unexpired token, whatever its organisation's state.
    async fn actor_for_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Actor>>;
    /// The actor a user name stands for (for the operator's command line).
    async fn actor_for_user(&self, username: &str) -> StoreResult<Option<Actor>>;
    /// What a password sign-in under `username` is checked against.
    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>>;
    /// Records a failed sign-in (`event`); for a known user, counts it and locks the account
    /// for `lock_for(failures in a row)`. Returns until when the account is locked.
    async fn signin_failed(
        &self,
        event: AuditEvent,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> StoreResult<Option<DateTime<Utc>>>;
    /// Records a successful sign-in (`event`) and opens its session.
    async fn start_session(
        &self,
        event: AuditEvent,
        session_hash: &str,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The actor behind an open session, and the session's CSRF token.
    async fn actor_for_session(
        &self,
        session_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Actor, String)>>;
    /// Ends a session (sign-out); audited.
    async fn end_session(&self, event: AuditEvent, session_hash: &str) -> StoreResult<()>;

    /// Appends entries to the audit trail in one transaction.
    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()>;
    /// Records checks: appends their entries and reads the records they hit (`hits`, deleted
    /// ones too, in no particular order; ids that name nothing are skipped), in one
    /// transaction. Returns once the entries are kept: committed, or, on SQLite, for checks
    /// that make no hit, written to the process's audit stage, from which they are chained
    /// into the trail within about 120 ms and before any reading of it in the process. A
    /// check is answered only when nothing can lose its entry.
    async fn record_check(
        &self,
        events: Vec<AuditEvent>,
        reads: Vec<FirearmId>,
        hits: Vec<hits::NewHit>,
    ) -> StoreResult<hits::RecordedCheck>;
    /// Audit entries matching `filter` after entry `after`, oldest first.
    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>>;
    /// Every audit entry in chain order.
    fn audit_chain(&self) -> BoxStream<'_, StoreResult<AuditEntry>>;

    /// Every stored change of the reference table, oldest first.
    async fn reference_changes(&self) -> StoreResult<Vec<reference::ReferenceChange>>;
    /// How many changes of the reference table are stored: what a node polls to learn whether
    /// another process changed the table, without reading the changes.
    async fn reference_change_count(&self) -> StoreResult<usize>;
    /// Stores `entry` as version `base_version + 1` of its entry, with `event` in the audit
    /// trail; refuses (conflict) when the entry has moved past `base_version` meanwhile.
    async fn change_reference(
        &self,
        event: AuditEvent,
        entry: &armstrace_reference::Entry,
        base_version: i64,
    ) -> StoreResult<reference::ReferenceChange>;

    /// Sets what the records' make, model and calibre resolve to, after the reference table
    /// changed; what was typed, the version and the history stay. One audit entry per call.
    async fn set_canonical(
        &self,
        by: &AuditWho,
        changes: &[(FirearmId, armstrace_core::Canonical)],
    ) -> StoreResult<()>;

    /// A hit with its parties.
    async fn hit(&self, id: i64) -> StoreResult<Option<hits::Hit>>;
    /// Hits newest first (ids below `before`): those `org_id` is party to, or all.
    async fn hits(
        &self,
        org_id: Option<i64>,
        state: Option<hits::HitState>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<hits::Hit>>;
    /// A hit's follow-up, oldest first.
    async fn hit_events(&self, hit_id: i64) -> StoreResult<Vec<hits::HitEvent>>;
    /// Applies `change` to a hit on `by`'s behalf, notifying the other parties and queueing
    /// their deliveries in the same transaction; audited. Refuses (conflict) a change the
    /// hit's state does not allow.
    async fn change_hit(
        &self,
        by: &AuditWho,
        hit_id: i64,
        change: &hits::HitChange,
    ) -> StoreResult<hits::Hit>;
    /// An organisation's notifications, unread first, then newest first.
    async fn notifications(
        &self,
        org_id: i64,
        filter: &hits::NotificationFilter,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<hits::Notification>>;
    /// How many of an organisation's notifications are unread.
    async fn unread_notifications(&self, org_id: i64) -> StoreResult<u64>;
    /// An organisation's notifications with ids above `after`, oldest first.
    async fn notifications_after(
        &self,
        org_id: i64,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<hits::Notification>>;
    /// The newest notification's id, of any organisation (0 when there is none).
    async fn last_notification(&self) -> StoreResult<i64>;
    /// Marks an organisation's notifications read: these, or all. Returns how many changed.
    async fn mark_read(&self, org_id: i64, ids: Option<&[i64]>) -> StoreResult<u64>;
    /// Registers a webhook; audited (without its secret).
    async fn create_webhook(
        &self,
        by: &AuditWho,
        org_id: i64,
        url: &str,
        secret: &str,
    ) -> StoreResult<hits::Webhook>;
    /// An organisation's webhooks.
    async fn webhooks(&self, org_id: i64) -> StoreResult<Vec<hits::Webhook>>;
    /// A webhook that has not been removed.
    async fn webhook(&self, id: i64) -> StoreResult<Option<hits::Webhook>>;
    /// Removes a webhook; what waits for it is not sent. Audited.
    async fn delete_webhook(&self, by: &AuditWho, id: i64) -> StoreResult<()>;
    /// Sets or clears an organisation's duty e-mail address; audited.
    async fn set_duty_email(
        &self,
        by: &AuditWho,
        org_id: i64,
        address: Option<&str>,
    ) -> StoreResult<()>;
    /// An organisation's duty e-mail address.
    async fn duty_email(&self, org_id: i64) -> StoreResult<Option<String>>;
    /// Claims up to `limit` deliveries that are due, for `lease`: no one else takes them
    /// until it runs out.
    async fn claim_deliveries(
        &self,
        lease: chrono::Duration,
        limit: u32,
    ) -> StoreResult<Vec<hits::Delivery>>;
    /// Records attempts at claimed deliveries (outbox id, attempt), in one transaction: each
    /// delivered, to be retried, or given up.
    async fn finish_deliveries(&self, attempts: &[(i64, String, hits::Attempt)])
    -> StoreResult<()>;
    /// A webhook's deliveries, newest first.
    async fn deliveries(&self, webhook_id: i64, limit: u32) -> StoreResult<Vec<hits::DeliveryLog>>;

    /// Writes a draft trace request by `by`, at `now`.
    async fn create_trace(
        &self,
        by: &AuditWho,
        new: &traces::NewTrace,
        now: DateTime<Utc>,
    ) -> StoreResult<traces::Trace>;

    /// A trace request.
    async fn trace(&self, id: i64) -> StoreResult<Option<traces::Trace>>;

    /// Every request of a chain, first first.
    async fn trace_chain(&self, chain_id: i64) -> StoreResult<Vec<traces::Trace>>;

    /// The requests `filter` picks, newest first.
    async fn traces(&self, filter: &traces::TraceFilter) -> StoreResult<Vec<traces::Trace>>;

    /// A request's timeline, oldest first.
    async fn trace_events(&self, id: i64) -> StoreResult<Vec<traces::TraceEvent>>;

    /// Changes a request, checking the move against the status it is in, telling the other
    /// parties and auditing; gives the request and any linked request a forward started.
    async fn change_trace(
        &self,
        by: &AuditWho,
        id: i64,
        change: &traces::TraceChange,
        now: DateTime<Utc>,
    ) -> StoreResult<(traces::Trace, Option<traces::Trace>)>;

    /// Attaches a checked file to a request.
    async fn attach_to_trace(
        &self,
        by: &AuditWho,
        id: i64,
        file: &traces::NewAttachment<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<traces::Attachment>;

    /// A request's attachments, without their bytes.
    async fn trace_attachments(&self, id: i64) -> StoreResult<Vec<traces::Attachment>>;

    /// One attachment with its bytes.
    async fn trace_attachment(
        &self,
        trace_id: i64,
        id: i64,
    ) -> StoreResult<Option<(traces::Attachment, Vec<u8>)>>;

    /// Requests late at `now` whose parties are due a reminder (none for `again` since the
    /// last).
    async fn due_trace_reminders(
        &self,
        now: DateTime<Utc>,
        again: chrono::Duration,
    ) -> StoreResult<Vec<i64>>;

    /// Reminds the parties of a late request and their NCBs, unless someone just did.
    async fn remind_trace(
        &self,
        id: i64,
        now: DateTime<Utc>,
        again: chrono::Duration,
    ) -> StoreResult<Option<armstrace_core::trace::Late>>;

    /// The change feed: the records created or changed after position `after`, in commit order,
    /// as (position, record), at most `limit`. A service follows it to keep its check index in
    /// step with what other processes write.
    async fn changes_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, FirearmId)>>;

    /// The feed's newest position (0 when nothing was ever written).
    async fn feed_head(&self) -> StoreResult<i64>;

    /// Forgets the feed's positions up to `through` (ten thousand per transaction, so that no
    /// writer waits long) and remembers that it did; returns the positions forgotten. A
    /// follower behind [`Store::feed_pruned_through`] has missed changes for good.
    async fn prune_feed(&self, through: i64) -> StoreResult<u64>;

    /// The position up to which the feed was forgotten (0 when it never was).
    async fn feed_pruned_through(&self) -> StoreResult<i64>;

    /// Marks the feed as read by `node` up to `position`, or, when `position` is `None`, up to
    /// its head as it stands (read in the same statement); returns the position marked. A node
    /// renews its mark while it runs, and nodes forget no position after a mark renewed within
    /// [`Store::feed_marks`]' freshness: a node that is slow, not dead, is not cut off.
    async fn mark_feed(&self, node: &str, position: Option<i64>) -> StoreResult<i64>;

    /// The lowest position marked by a node in the last `fresh` (by the database's clock), if
    /// any; marks older than that are deleted.
    async fn feed_marks(&self, fresh: std::time::Duration) -> StoreResult<Option<i64>>;

    /// Creates a record; audited.
    async fn create_firearm(
        &self,
        actor: &Actor,
        fields: &FirearmFields,
        channel: Channel,
    ) -> StoreResult<Firearm>;
    /// A record by id, deleted or not.
    async fn firearm(&self, id: FirearmId) -> StoreResult<Option<Firearm>>;
    /// The records with these ids that exist, in no particular order.
    async fn firearms(&self, ids: &[FirearmId]) -> StoreResult<Vec<Firearm>>;
    /// Replaces a live record's content; with `expected_version`, refuses a stale change.
    async fn update_firearm(
        &self,
        actor: &Actor,
        id: FirearmId,
        fields: &FirearmFields,
        expected_version: Option<i64>,
    ) -> StoreResult<Firearm>;
    /// Marks a live record deleted, keeping it and its history.
    async fn delete_firearm(&self, actor: &Actor, id: FirearmId) -> StoreResult<Firearm>;
    /// Records matching `filter` with ids above `after`, by id, at most `limit`.
    async fn list_firearms(
        &self,
        filter: &FirearmFilter,
        after: Option<FirearmId>,
        limit: u32,
    ) -> StoreResult<Vec<Firearm>>;
    /// How many records match `filter`.
    async fn count_firearms(&self, filter: &FirearmFilter) -> StoreResult<u64>;
    /// A record's history, oldest first.
    async fn history(&self, id: FirearmId) -> StoreResult<Vec<HistoryEntry>>;
    /// Creates or updates records matched on recording country and record_id, in one
    /// transaction: when it returns, every row is committed.
    async fn import_batch(
        &self,
        actor: &Actor,
        rows: &[FirearmFields],
    ) -> StoreResult<BatchOutcome>;
    /// Every record matching `filter`, by id, streamed.
    fn export(&self, filter: FirearmFilter) -> BoxStream<'_, StoreResult<Firearm>>;
    /// The serial and make of every live record, by id, streamed: what the check index is built from.
    fn live_serials(&self) -> BoxStream<'_, StoreResult<SerialEntry>>;
}

/// Opens the store a `--db` value names: a SQLite file path or `sqlite:` URL. With `create`,
/// a missing SQLite file is created; the schema is migrated either way.
pub async fn open(db: &str, create: bool) -> StoreResult<Arc<dyn Store>> {
    if is_postgres(db) {
        Ok(Arc::new(PgStore::open(db, create).await?))
    } else {
        Ok(Arc::new(SqliteStore::open(db, create).await?))
    }
}

/// `db` as it may be shown or logged: a URL's password replaced by `***`.
pub fn redacted(db: &str) -> String {
    let Some((scheme, rest)) = db.split_once("://") else {
        return db.to_string();
    };
    let (authority, path) = match rest.split_once('/') {
        Some((authority, path)) => (authority, Some(path)),
        None => (rest, None),
    };
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_string(),
        },
        None => authority.to_string(),
    };
    match path {
        Some(path) => format!("{scheme}://{authority}/{path}"),
        None => format!("{scheme}://{authority}"),
    }
}

/// Opens the PostgreSQL database `db` with a streaming replica `replica` for long reads that
/// may lag a little (lists, exports, the check index's first read, the audit trail).
pub async fn open_with_read_replica(db: &str, replica: &str) -> StoreResult<Arc<dyn Store>> {
    if !is_postgres(db) || !is_postgres(replica) {
        return Err(StoreError::NotFound(
            "a PostgreSQL database and replica (a read replica needs PostgreSQL)".into(),
        ));
    }
    Ok(Arc::new(
        PgStore::open(db, false)
            .await?
            .with_read_replica(replica)
            .await?,
    ))
}

/// Whether the database `db` names already holds an installation's schema (for refusing to
/// initialise over it): a SQLite file that exists, or a PostgreSQL database with the schema.
pub async fn exists(db: &str) -> StoreResult<bool> {
    if is_postgres(db) {
        postgres::has_schema(db).await
    } else {
        Ok(sqlite::path_of(db).exists())
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn a_database_url_is_shown_without_its_password() {
        assert_eq!(
            redacted("postgres://armstrace:s3cret@db.example:5432/armstrace?sslmode=require"),
            "postgres://armstrace:***@db.example:5432/armstrace?sslmode=require"
        );
        assert_eq!(
            redacted("postgres://armstrace@127.0.0.1/x"),
            "postgres://armstrace@127.0.0.1/x"
        );
        assert_eq!(redacted("armstrace.db"), "armstrace.db");
    }
}
