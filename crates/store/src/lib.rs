//! Where Armstrace keeps its data: the [`Store`] trait every backend implements, the SQLite
//! backend with its migrations, and the streaming bulk import that feeds a store from a file.

pub mod import;
mod sqlite;

use std::sync::Arc;

use armstrace_core::history::HistoryEntry;
use armstrace_core::{
    Actor, CountryCode, Firearm, FirearmFields, FirearmId, OrgKind, Permissions, RecordStatus,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;

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
    /// A schema migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Whether an organisation may act yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgState {
    Approved,
    Pending,
    Suspended,
}

impl OrgState {
    /// The stored token.
    pub fn as_str(&self) -> &'static str {
        match self {
            OrgState::Approved => "approved",
            OrgState::Pending => "pending",
            OrgState::Suspended => "suspended",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [OrgState::Approved, OrgState::Pending, OrgState::Suspended]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

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
}

impl Channel {
    /// The stored token.
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Api => "api",
            Channel::Import => "import",
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
        name: &str,
        kind: OrgKind,
        country: Option<CountryCode>,
        state: OrgState,
    ) -> StoreResult<Organisation>;
    /// Every organisation, by id.
    async fn organisations(&self) -> StoreResult<Vec<Organisation>>;
    /// Creates a user; `password_hash` is an already-hashed PHC string.
    async fn create_user(
        &self,
        org_id: i64,
        username: &str,
        password_hash: Option<&str>,
        permissions: Permissions,
    ) -> StoreResult<User>;
    /// Stores a new API token by its hash.
    async fn create_token(
        &self,
        user_id: i64,
        token_hash: &str,
        permissions: Permissions,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
    /// The actor behind a live token of a user of an approved organisation, if any.
    async fn actor_for_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Actor>>;
    /// The actor for a user by name (the operator's identity on the command line).
    async fn actor_for_user(&self, username: &str) -> StoreResult<Option<Actor>>;

    /// Creates a record; a record with the same recording country and record_id is a conflict.
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
    Ok(Arc::new(SqliteStore::open(db, create).await?))
}

/// Whether the database `db` names already exists (for refusing to initialise over it).
pub fn exists(db: &str) -> bool {
    sqlite::path_of(db).exists()
}
