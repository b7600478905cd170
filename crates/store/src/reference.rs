//! The reference table in force: the shipped table with the secretariat's additions and
//! corrections, which the store keeps as numbered versions of each entry.

use std::sync::Arc;

use armstrace_reference::{Entry, Kind, Resolver, Table};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{Store, StoreError, StoreResult};

/// One version of one entry, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ReferenceChange {
    /// Make, calibre or model.
    pub kind: Kind,
    /// The entry's key within its kind (an id, or `make/model` for a model).
    pub key: String,
    /// The entry's version this change made: the shipped entry is version 1.
    pub version: i64,
    /// The entry as it stands from this version.
    #[schema(value_type = Object)]
    pub entry: Entry,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub username: String,
    /// Their organisation.
    pub organisation: String,
}

/// The entry an entry's `kind` says, read from its stored JSON.
pub fn entry_from_json(kind: Kind, json: &str) -> StoreResult<Entry> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("reference {kind:?}: {e}"));
    Ok(match kind {
        Kind::Make => Entry::Make(serde_json::from_str(json).map_err(corrupt)?),
        Kind::Calibre => Entry::Calibre(serde_json::from_str(json).map_err(corrupt)?),
        Kind::Model => Entry::Model(serde_json::from_str(json).map_err(corrupt)?),
    })
}

/// The table in force and each changed entry's current version.
pub struct TableInForce {
    /// A resolver over the shipped table with every stored change applied, oldest first.
    pub resolver: Arc<Resolver>,
    /// The stored changes, oldest first.
    pub changes: Vec<ReferenceChange>,
}

impl TableInForce {
    /// The current version of the entry of `kind` with `key`: 0 when there is none, 1 when it
    /// is as shipped.
    pub fn version(&self, kind: Kind, key: &str) -> i64 {
        self.changes
            .iter()
            .rev()
            .find(|c| c.kind == kind && c.key == key)
            .map(|c| c.version)
            .unwrap_or_else(|| i64::from(self.table().entry(kind, key).is_some()))
    }

    /// The stored versions of one entry, oldest first.
    pub fn history(&self, kind: Kind, key: &str) -> Vec<&ReferenceChange> {
        self.changes
            .iter()
            .filter(|c| c.kind == kind && c.key == key)
            .collect()
    }

    /// The table.
    pub fn table(&self) -> &Table {
        self.resolver.table()
    }
}

/// The shipped table with the changes stored in `store`. A change that no longer fits the
/// shipped table (after an upgrade) is still applied; [`Table::problems`] names the clash.
pub async fn table_in_force(store: &dyn Store) -> StoreResult<TableInForce> {
    Ok(TableInForce::from_changes(store.reference_changes().await?))
}

impl TableInForce {
    /// The shipped table with `changes` (as stored, oldest first) applied.
    pub fn from_changes(changes: Vec<ReferenceChange>) -> Self {
        let mut table = armstrace_reference::shipped().table().clone();
        for change in &changes {
            table.apply(change.entry.clone());
        }
        let problems = table.problems();
        if !problems.is_empty() {
            tracing::warn!(
                problems = problems.len(),
                first = %problems[0],
                "the reference table in force has problems; correct the entries named"
            );
        }
        TableInForce {
            resolver: Arc::new(Resolver::new(table)),
            changes,
        }
    }
}
