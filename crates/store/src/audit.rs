//! The audit trail: what is written (an [`AuditEvent`]), what is kept (an [`AuditEntry`], hash
//! chained to the one before), and the walk that proves the chain intact. Backends store the
//! entries; the hashing and the verification are the same for all of them.

use armstrace_core::{Actor, CountryCode};
use chrono::{DateTime, Utc};
use futures::{Stream, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::StoreResult;

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something, as the trail keeps it: names are copied, so that the entry reads the same
/// after a user or an organisation is renamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditWho {
    /// The user, when one is known (not for a sign-in under an unknown name).
    pub user_id: Option<i64>,
    /// The user's name, or the name that was tried.
    pub username: String,
    /// The user's organisation.
    pub org_id: Option<i64>,
    /// The organisation's name.
    pub organisation: String,
    /// The organisation's country (none for the secretariat and partners).
    pub country: Option<CountryCode>,
}

impl AuditWho {
    /// Someone who tried to sign in under a name that does not exist.
    pub fn unknown(username: &str) -> Self {
        AuditWho {
            user_id: None,
            username: username.to_string(),
            org_id: None,
            organisation: String::new(),
            country: None,
        }
    }

    /// The installation itself, creating its secretariat and first administrator.
    pub fn installation() -> Self {
        AuditWho {
            user_id: None,
            username: "(installation)".to_string(),
            org_id: None,
            organisation: String::new(),
            country: None,
        }
    }
}

impl From<&Actor> for AuditWho {
    fn from(actor: &Actor) -> Self {
        AuditWho {
            user_id: Some(actor.user_id),
            username: actor.username.clone(),
            org_id: Some(actor.org_id),
            organisation: actor.org_name.clone(),
            country: actor.country,
        }
    }
}

/// One thing to record in the trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Who did it.
    pub who: AuditWho,
    /// The country a partner acted for, when it acted on someone's behalf.
    pub on_behalf_of: Option<CountryCode>,
    /// What was done: `check`, `record.create`, `signin.failure`, `org.suspend`, …
    pub action: String,
    /// What it was done to: `firearm:12`, `org:3`, `user:7`, `token:5`.
    pub target: Option<String>,
    /// The particulars: the query and its hits, the counts of an import, the reason of a refusal.
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// An event by `who` with no target or detail yet.
    pub fn new(who: impl Into<AuditWho>, action: &str) -> Self {
        AuditEvent {
            who: who.into(),
            on_behalf_of: None,
            action: action.to_string(),
            target: None,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    /// The same event, done to `target`.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// The same event, with its particulars.
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// An entry of the trail as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub id: i64,
    /// When, in RFC 3339 UTC, exactly as hashed.
    pub at: String,
    /// The user, when known.
    pub user_id: Option<i64>,
    /// The user's name (or the name tried at a failed sign-in).
    pub username: String,
    /// The user's organisation.
    pub org_id: Option<i64>,
    /// The organisation's name.
    pub organisation: String,
    /// The organisation's country.
    pub country: Option<String>,
    /// The country a partner acted for.
    pub on_behalf_of: Option<String>,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub target: Option<String>,
    /// The particulars: a JSON object, stored (and hashed) as text, answered as JSON.
    #[serde(serialize_with = "as_raw_json")]
    #[schema(value_type = Object)]
    pub detail: String,
    /// The hash of the entry before (the genesis value for the first).
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

/// Writes stored JSON text as JSON (it was written by `serde_json`, so it is valid; should it not
/// be, it is written as a string instead of failing the answer).
fn as_raw_json<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    match serde_json::value::RawValue::from_string(text.to_string()) {
        Ok(raw) => raw.serialize(serializer),
        Err(_) => serializer.serialize_str(text),
    }
}

/// A moment as the trail writes (and hashes) it.
pub fn trail_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// An event in the columns it is stored in, waiting for its place in the chain. The audit
/// writer of checks takes these ready-made, so that the text is written on the request's
/// thread and not in the one thread every check waits for. On SQLite a check's entry waits as
/// one line of JSON in a file of its own before it is chained (see `sqlite/audit_stage.rs`).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Unchained {
    user_id: Option<i64>,
    username: String,
    org_id: Option<i64>,
    organisation: String,
    country: Option<String>,
    on_behalf_of: Option<String>,
    action: String,
    target: Option<String>,
    /// JSON text, written out once; a stage line carries it as it is (not as a string, which
    /// would escape every quote).
    detail: Box<serde_json::value::RawValue>,
}

impl PartialEq for Unchained {
    fn eq(&self, other: &Self) -> bool {
        self.columns() == other.columns()
    }
}

impl From<&AuditEvent> for Unchained {
    fn from(event: &AuditEvent) -> Self {
        Unchained {
            user_id: event.who.user_id,
            username: event.who.username.clone(),
            org_id: event.who.org_id,
            organisation: event.who.organisation.clone(),
            country: event.who.country.map(|c| c.to_string()),
            on_behalf_of: event.on_behalf_of.map(|c| c.to_string()),
            action: event.action.clone(),
            target: event.target.clone(),
            detail: serde_json::value::to_raw_value(&event.detail)
                .expect("a JSON value writes out"),
        }
    }
}

impl Unchained {
    /// The entry at position `id`, made at `at` (as [`trail_time`] writes it), after `prev_hash`.
    pub fn chain(self, id: i64, at: &str, prev_hash: &str) -> AuditEntry {
        let hash = self.hash_at(id, at, prev_hash);
        AuditEntry {
            id,
            at: at.to_string(),
            user_id: self.user_id,
            username: self.username,
            org_id: self.org_id,
            organisation: self.organisation,
            country: self.country,
            on_behalf_of: self.on_behalf_of,
            action: self.action,
            target: self.target,
            detail: self.detail.get().to_string(),
            prev_hash: prev_hash.to_string(),
            hash,
        }
    }

    /// The hash the entry would have at position `id`, made at `at`, after `prev_hash`.
    pub fn hash_at(&self, id: i64, at: &str, prev_hash: &str) -> String {
        hash(id, at, &self.columns(), prev_hash)
    }

    /// The columns as the trail stores them between its position and time and its hashes.
    pub fn columns(&self) -> Columns<'_> {
        Columns {
            user_id: self.user_id,
            username: &self.username,
            org_id: self.org_id,
            organisation: &self.organisation,
            country: self.country.as_deref(),
            on_behalf_of: self.on_behalf_of.as_deref(),
            action: &self.action,
            target: self.target.as_deref(),
            detail: self.detail.get(),
        }
    }
}

/// An entry's columns between its position and time and its hashes, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Columns<'a> {
    pub user_id: Option<i64>,
    pub username: &'a str,
    pub org_id: Option<i64>,
    pub organisation: &'a str,
    pub country: Option<&'a str>,
    pub on_behalf_of: Option<&'a str>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: &'a str,
}

/// SHA-256 over every column of an entry but its hash, each written with its length so that no
/// two different entries read the same, numbers in decimal. Nothing is allocated but the
/// answer: the audit writer hashes every check.
fn hash(id: i64, at: &str, columns: &Columns<'_>, prev_hash: &str) -> String {
    let mut hasher = Sha256::new();
    let mut field = |value: Option<&[u8]>| match value {
        None => hasher.update(b"-;"),
        Some(text) => {
            hasher.update(itoa::Buffer::new().format(text.len()));
            hasher.update(b":");
            hasher.update(text);
            hasher.update(b";");
        }
    };
    let (mut id_text, mut user_text, mut org_text) = (
        itoa::Buffer::new(),
        itoa::Buffer::new(),
        itoa::Buffer::new(),
    );
    field(Some(id_text.format(id).as_bytes()));
    field(Some(at.as_bytes()));
    field(columns.user_id.map(|n| user_text.format(n).as_bytes()));
    field(Some(columns.username.as_bytes()));
    field(columns.org_id.map(|n| org_text.format(n).as_bytes()));
    field(Some(columns.organisation.as_bytes()));
    field(columns.country.map(str::as_bytes));
    field(columns.on_behalf_of.map(str::as_bytes));
    field(Some(columns.action.as_bytes()));
    field(columns.target.map(str::as_bytes));
    field(Some(columns.detail.as_bytes()));
    field(Some(prev_hash.as_bytes()));
    // Into a buffer at once: `hex::encode` goes a character at a time, which showed in the
    // audit writer's profile.
    let mut text = [0u8; 64];
    hex::encode_to_slice(hasher.finalize(), &mut text).expect("32 bytes fill 64 digits");
    String::from_utf8_lossy(&text).into_owned()
}

impl AuditEntry {
    /// Makes the entry that follows `prev_hash` at position `id`, with its hash.
    pub fn chain(id: i64, at: DateTime<Utc>, event: &AuditEvent, prev_hash: &str) -> Self {
        Unchained::from(event).chain(id, &trail_time(at), prev_hash)
    }

    /// The hash the entry's columns give (see [`hash`]).
    pub fn computed_hash(&self) -> String {
        let columns = Columns {
            user_id: self.user_id,
            username: &self.username,
            org_id: self.org_id,
            organisation: &self.organisation,
            country: self.country.as_deref(),
            on_behalf_of: self.on_behalf_of.as_deref(),
            action: &self.action,
            target: self.target.as_deref(),
            detail: &self.detail,
        };
        hash(self.id, &self.at, &columns, &self.prev_hash)
    }
}

/// Which entries a reader wants.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this user's.
    pub username: Option<String>,
    /// Only this organisation's.
    pub org_id: Option<i64>,
    /// Only entries by organisations of this country.
    pub country: Option<CountryCode>,
    /// Only this action (`record.update`), or actions under a prefix (`record.`).
    pub action: Option<String>,
    /// Only entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub to: Option<DateTime<Utc>>,
}

/// Which organisation's entries one pass over the trail keeps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Any organisation's, or none's.
    Everyone,
    /// This organisation's, read through the index on (organisation, id).
    Org(i64),
    /// Entries of no organisation (sign-ins under unknown names, the installation's own), read
    /// through the same index.
    NoOrg,
}

/// How a filtered read finds its entries. The trail has one index besides its ids, on
/// (organisation, id): every check's entry pays for each index it is in, and checks are most of
/// the trail. A country's entries are its organisations' (an organisation's country never
/// changes), and a user's are their organisation's or, for a name nobody has, no
/// organisation's; each such part is read in id order through the index, and the parts are
/// merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan<'a> {
    /// One pass, in id order.
    One(Scope),
    /// Each organisation of the country apart.
    Country(CountryCode),
    /// The organisation of the user of this name (if one has it), and entries of none.
    User(&'a str),
}

impl AuditFilter {
    /// How to read the entries this filter keeps.
    fn plan(&self) -> Plan<'_> {
        match (self.org_id, self.country, &self.username) {
            (Some(org), _, _) => Plan::One(Scope::Org(org)),
            (None, Some(country), _) => Plan::Country(country),
            (None, None, Some(username)) => Plan::User(username),
            (None, None, None) => Plan::One(Scope::Everyone),
        }
    }

    /// The scopes to read (see [`Plan`]), given the backend's lookups: the organisations of a
    /// country, and the organisation of the user of a name.
    pub(crate) async fn scopes<C, U>(
        &self,
        orgs_of: impl FnOnce(CountryCode) -> C,
        org_of: impl FnOnce(String) -> U,
    ) -> StoreResult<Vec<Scope>>
    where
        C: std::future::Future<Output = StoreResult<Vec<i64>>>,
        U: std::future::Future<Output = StoreResult<Option<i64>>>,
    {
        Ok(match self.plan() {
            Plan::One(scope) => vec![scope],
            Plan::Country(country) => orgs_of(country)
                .await?
                .into_iter()
                .map(Scope::Org)
                .collect(),
            Plan::User(username) => org_of(username.to_string())
                .await?
                .map(Scope::Org)
                .into_iter()
                .chain([Scope::NoOrg])
                .collect(),
        })
    }
}

impl Scope {
    /// Confines `query`, whose `WHERE` clause is open, to the scope.
    pub(crate) fn push_to<'args, DB: sqlx::Database>(
        self,
        query: &mut sqlx::QueryBuilder<'args, DB>,
    ) where
        i64: 'args + sqlx::Encode<'args, DB> + sqlx::Type<DB>,
    {
        match self {
            Scope::Everyone => {}
            Scope::Org(org_id) => {
                query.push(" AND org_id = ").push_bind(org_id);
            }
            Scope::NoOrg => {
                query.push(" AND org_id IS NULL");
            }
        }
    }
}

/// The first `limit` entries of `scopes` together, in id order: each scope's own first `limit`
/// (read by `read`, in id order) hold them all.
pub(crate) async fn merged<F, Fut>(
    scopes: impl IntoIterator<Item = Scope>,
    limit: u32,
    mut read: F,
) -> StoreResult<Vec<AuditEntry>>
where
    F: FnMut(Scope) -> Fut,
    Fut: std::future::Future<Output = StoreResult<Vec<AuditEntry>>>,
{
    let mut scopes = scopes.into_iter();
    let Some(first) = scopes.next() else {
        return Ok(Vec::new());
    };
    let mut entries = read(first).await?;
    let mut apart = false;
    for scope in scopes {
        entries.extend(read(scope).await?);
        apart = true;
    }
    if apart {
        entries.sort_unstable_by_key(|entry| entry.id);
        entries.truncate(limit as usize);
    }
    Ok(entries)
}

/// Where and how a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// The entry's columns no longer give its hash.
    #[error("entry {id} was altered: its content does not match its hash")]
    Altered {
        /// The entry.
        id: i64,
    },
    /// Entries between two stored ones are gone.
    #[error("entry {missing} is missing: the chain jumps from entry {before} to entry {after}")]
    Missing {
        /// The first missing position.
        missing: i64,
        /// The entry before the gap (0 at the start).
        before: i64,
        /// The entry after it.
        after: i64,
    },
    /// The entry does not follow the one stored before it.
    #[error(
        "entry {id} does not follow entry {before}: an entry was removed, replaced or reordered here"
    )]
    Unlinked {
        /// The entry.
        id: i64,
        /// The entry stored before it.
        before: i64,
    },
}

/// What a walk of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Entries walked before the walk ended.
    pub entries: u64,
    /// The hash of the last entry that verified (the genesis value for an empty trail).
    pub head: String,
    /// The first break, if the chain is not intact.
    pub broken: Option<ChainBreak>,
    /// Whether an entry with the recorded head's hash was walked (when one was given).
    pub recorded_head_found: Option<bool>,
}

/// Walks the entries in id order and stops at the first break. A `recorded_head` (the hash of
/// an entry written down outside the database earlier) must be met on the way: if it is not,
/// entries were cut from the end since.
pub async fn verify_chain(
    mut entries: impl Stream<Item = StoreResult<AuditEntry>> + Unpin,
    recorded_head: Option<&str>,
) -> StoreResult<ChainReport> {
    let recorded_head = recorded_head.map(|h| h.trim().to_lowercase());
    let mut report = ChainReport {
        entries: 0,
        head: GENESIS.to_string(),
        broken: None,
        recorded_head_found: recorded_head.as_ref().map(|h| h == GENESIS),
    };
    let mut before = 0_i64;
    while let Some(entry) = entries.try_next().await? {
        let broken = if entry.id != before + 1 {
            Some(if entry.id > before + 1 {
                ChainBreak::Missing {
                    missing: before + 1,
                    before,
                    after: entry.id,
                }
            } else {
                ChainBreak::Unlinked {
                    id: entry.id,
                    before,
                }
            })
        } else if entry.computed_hash() != entry.hash {
            Some(ChainBreak::Altered { id: entry.id })
        } else if entry.prev_hash != report.head {
            Some(ChainBreak::Unlinked {
                id: entry.id,
                before,
            })
        } else {
            None
        };
        if broken.is_some() {
            report.broken = broken;
            return Ok(report);
        }
        report.entries += 1;
        if recorded_head.as_ref() == Some(&entry.hash) {
            report.recorded_head_found = Some(true);
        }
        report.head = entry.hash;
        before = entry.id;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|id| {
                let event = AuditEvent::new(AuditWho::unknown("someone"), "check")
                    .detail(serde_json::json!({ "serial": format!("A{id}") }));
                let entry = AuditEntry::chain(id, Utc::now(), &event, &prev);
                prev = entry.hash.clone();
                entry
            })
            .collect()
    }

    async fn walk(entries: Vec<AuditEntry>) -> ChainReport {
        verify_chain(futures::stream::iter(entries.into_iter().map(Ok)), None)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_untouched_chain_verifies_to_its_head() {
        let entries = chain(5);
        let head = entries[4].hash.clone();
        let report = walk(entries).await;
        assert_eq!(report.entries, 5);
        assert_eq!(report.head, head);
        assert_eq!(report.broken, None);
    }

    #[tokio::test]
    async fn a_recorded_head_must_be_met_on_the_walk() {
        let entries = chain(5);
        let recorded = entries[2].hash.clone();
        let stream = |e: Vec<AuditEntry>| futures::stream::iter(e.into_iter().map(Ok));
        let report = verify_chain(stream(entries.clone()), Some(&recorded))
            .await
            .unwrap();
        assert_eq!(report.recorded_head_found, Some(true));
        let cut = entries[..2].to_vec();
        let report = verify_chain(stream(cut), Some(&recorded)).await.unwrap();
        assert_eq!(report.broken, None);
        assert_eq!(report.recorded_head_found, Some(false));
    }

    #[tokio::test]
    async fn an_altered_entry_is_named() {
        let mut entries = chain(5);
        entries[2].detail = r#"{"serial":"B3"}"#.to_string();
        let report = walk(entries).await;
        assert_eq!(report.broken, Some(ChainBreak::Altered { id: 3 }));
        assert_eq!(report.entries, 2);
    }

    #[tokio::test]
    async fn a_removed_entry_is_named() {
        let mut entries = chain(5);
        entries.remove(3);
        let report = walk(entries).await;
        assert_eq!(
            report.broken,
            Some(ChainBreak::Missing {
                missing: 4,
                before: 3,
                after: 5
            })
        );
    }

    #[tokio::test]
    async fn entries_swapped_and_renumbered_are_found() {
        let mut entries = chain(5);
        entries.swap(1, 2);
        entries[1].id = 2;
        entries[2].id = 3;
        let report = walk(entries).await;
        assert_eq!(report.broken, Some(ChainBreak::Altered { id: 2 }));
    }

    #[tokio::test]
    async fn a_rehashed_forgery_does_not_link_to_its_predecessor() {
        let mut entries = chain(5);
        // A forger who recomputes the altered entry's hash still breaks the next link.
        entries[2].detail = r#"{"serial":"forged"}"#.to_string();
        entries[2].hash = entries[2].computed_hash();
        let report = walk(entries).await;
        assert_eq!(
            report.broken,
            Some(ChainBreak::Unlinked { id: 4, before: 3 })
        );
    }

    /// The hash of a given entry is fixed for good: every trail ever written depends on it.
    #[test]
    fn an_entry_s_hash_is_what_it_always_was() {
        let entry = AuditEntry {
            id: 42,
            at: "2026-11-23T08:00:00.123456Z".into(),
            user_id: Some(7),
            username: "ncb-fr".into(),
            org_id: None,
            organisation: "NCB France".into(),
            country: Some("FR".into()),
            on_behalf_of: None,
            action: "check".into(),
            target: None,
            detail: r#"{"serial_number":"AB 123"}"#.into(),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        };
        assert_eq!(
            entry.computed_hash(),
            "e247300ec0804caf7adf0e8933a7acbbf1520577d3ebd7d83f1323b190498f45"
        );
    }

    #[test]
    fn the_hash_separates_fields() {
        let mut a = chain(1).remove(0);
        let mut b = a.clone();
        a.username = "ab".into();
        a.organisation = "c".into();
        b.username = "a".into();
        b.organisation = "bc".into();
        assert_ne!(a.computed_hash(), b.computed_hash());
    }
}
