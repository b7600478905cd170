//! The reference table the service resolves against: the shipped table with the secretariat's
//! changes, replaced whole after each change, and the rules a change must pass (shared by the
//! API and `armstrace reference import`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use armstrace_core::{Actor, FieldError, OrgKind, Permission};
use armstrace_matcher::CheckIndex;
use armstrace_reference::{Entry, Make, Resolver};
use armstrace_store::audit::AuditEvent;
use armstrace_store::reference::{ReferenceChange, TableInForce, table_in_force};
use armstrace_store::{Store, StoreError};

use crate::ApiError;

/// Most corrected makes remembered before the memory is emptied.
const REMEMBERED_CORRECTIONS: usize = 10_000;

/// The table in force, shared by every request.
#[derive(Clone)]
pub struct ReferenceTable {
    current: Arc<RwLock<Arc<TableInForce>>>,
    /// Makes typed in checks that the check index does not know, and the make the table
    /// corrects each to; emptied when the table changes.
    corrected: Arc<RwLock<HashMap<String, Option<String>>>>,
    /// Changes from this process take turns, so each is checked against the table it lands on.
    changing: Arc<tokio::sync::Mutex<()>>,
}

/// The names the check knows a make by: its canonical name, its identifier and its own
/// aliases (names it shares with other makes are left out).
pub fn make_names(make: &Make) -> impl Iterator<Item = &str> {
    std::iter::once(make.canonical.as_str())
        .chain(std::iter::once(make.id.as_str()))
        .chain(make.aliases.iter().map(String::as_str))
}

impl ReferenceTable {
    /// The table `in_force`.
    pub fn new(in_force: TableInForce) -> Self {
        ReferenceTable {
            current: Arc::new(RwLock::new(Arc::new(in_force))),
            corrected: Arc::default(),
            changing: Arc::default(),
        }
    }

    /// Reads the table in force from `store`.
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        Ok(Self::new(table_in_force(store).await?))
    }

    /// The table as it stands.
    pub fn current(&self) -> Arc<TableInForce> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The resolver over the table as it stands.
    pub fn resolver(&self) -> Arc<Resolver> {
        self.current().resolver.clone()
    }

    /// Adds or corrects `entry` on `by`'s authority, as the next version of its entry (or, with
    /// `expected_version`, only if the entry is still at that version), audited; then reads
    /// the table again. Returns the stored change.
    pub async fn change(
        &self,
        store: &dyn Store,
        by: &Actor,
        entry: Entry,
        expected_version: Option<i64>,
    ) -> Result<ReferenceChange, ApiError> {
        let _turn = self.changing.lock().await;
        let current = table_in_force(store).await?;
        let kind = entry.kind();
        let key = entry.key();
        let version = current.version(kind, &key);
        if let Some(expected) = expected_version
            && expected != version
        {
            return Err(ApiError::Conflict {
                code: "stale_version",
                message: format!(
                    "{} '{key}' is at version {version}, not {expected}",
                    kind.as_str()
                ),
            });
        }
        if current.table().entry(kind, &key).as_ref() == Some(&entry) {
            return Err(ApiError::Conflict {
                code: "unchanged",
                message: format!("{} '{key}' already reads exactly so", kind.as_str()),
            });
        }
        check_entry(&current, &entry)?;
        let event = AuditEvent::new(by, "reference.change")
            .target(format!("reference:{}:{key}", kind.as_str()))
            .detail(serde_json::json!({
                "kind": kind,
                "key": key,
                "version": version + 1,
                "entry": entry,
            }));
        let change = store.change_reference(event, &entry, version).await?;
        self.install(table_in_force(store).await?);
        Ok(change)
    }

    /// Makes `table` the one in force; the corrections remembered under the old one go.
    fn install(&self, table: TableInForce) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        self.corrected
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Follows the changes other processes make to the table (another node of a cluster,
    /// `armstrace reference import`), every `every`: the table is read again and the check
    /// index learns the changed makes' names.
    pub fn follow(
        &self,
        store: Arc<dyn Store>,
        index: Arc<CheckIndex>,
        seen: usize,
        every: std::time::Duration,
    ) {
        let table = self.clone();
        tokio::spawn(async move {
            let mut seen = seen;
            loop {
                tokio::time::sleep(every).await;
                match table.catch_up(store.as_ref(), &index, seen).await {
                    Ok(now) => seen = now,
                    Err(error) => {
                        tracing::warn!(%error, "following reference changes failed; retrying");
                    }
                }
            }
        });
    }

    /// Applies the changes after the first `seen`, if there are any; returns how many there are.
    pub async fn catch_up(
        &self,
        store: &dyn Store,
        index: &CheckIndex,
        seen: usize,
    ) -> Result<usize, StoreError> {
        // Most rounds find nothing new: count before reading the whole list.
        if store.reference_change_count().await? == seen {
            return Ok(seen);
        }
        // Read under the lock, so that a change this process makes meanwhile is not undone by
        // installing an older list.
        let _turn = self.changing.lock().await;
        let changes = store.reference_changes().await?;
        if changes.len() == seen {
            return Ok(seen);
        }
        for change in changes.iter().skip(seen) {
            if let Entry::Make(make) = &change.entry {
                index.learn_make(make_names(make));
            }
        }
        let count = changes.len();
        self.install(TableInForce::from_changes(changes));
        Ok(count)
    }

    /// The make a check should compare instead of `typed`: none when the check index knows
    /// the name `typed` (or the table cannot tell), else the identifier of the one make the
    /// table corrects it to ("Glok" is Glock). Remembered, so the correction is paid once.
    pub fn check_make(&self, index: &CheckIndex, typed: &str) -> Option<String> {
        if typed.trim().is_empty() || index.knows_make(typed) {
            return None;
        }
        if let Some(known) = self
            .corrected
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(typed)
        {
            return known.clone();
        }
        let resolution = self.resolver().make(typed);
        let corrected = resolution.id().map(str::to_string);
        let mut memory = self.corrected.write().unwrap_or_else(|e| e.into_inner());
        if memory.len() >= REMEMBERED_CORRECTIONS {
            memory.clear();
        }
        memory.insert(typed.to_string(), corrected.clone());
        corrected
    }
}

/// Whether `actor` may change the reference table: an administrator of the secretariat.
pub fn may_change(actor: &Actor) -> Result<(), ApiError> {
    if !actor.permissions.has(Permission::Admin) {
        return Err(ApiError::forbidden(
            Permission::Admin,
            format!(
                "changing the reference table needs the 'admin' permission, which {} does not have",
                actor.username
            ),
        ));
    }
    if actor.org_kind != OrgKind::Secretariat {
        return Err(ApiError::Refused {
            code: "out_of_scope",
            detail: "only the secretariat changes the reference table".into(),
        });
    }
    Ok(())
}

/// Refuses an entry that is wrong on its own or that would bring a duplicate, contradiction
/// or dangling reference into the table (problems the table already had do not count).
pub fn check_entry(current: &TableInForce, entry: &Entry) -> Result<(), ApiError> {
    let mut errors: Vec<FieldError> = entry
        .problems()
        .into_iter()
        .map(|(field, reason)| FieldError::new(field, "invalid", reason))
        .collect();
    if errors.is_empty() {
        let before: HashSet<String> = current.table().problems().into_iter().collect();
        let mut after = current.table().clone();
        after.apply(entry.clone());
        errors.extend(
            after
                .problems()
                .into_iter()
                .filter(|p| !before.contains(p))
                .map(|p| FieldError::new("entry", "conflicts", p)),
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}
