//! Writing checks to the audit trail without slowing them: a check is answered only once its
//! entry is kept (committed, or on SQLite in the audit stage), and the store records many
//! checks together, reading the records they hit in the same transaction (see
//! `Store::record_check`).

use std::sync::Arc;

use armstrace_core::FirearmId;
use armstrace_store::audit::AuditEvent;
use armstrace_store::hits::{NewHit, RecordedCheck};
use armstrace_store::{Store, StoreResult};

use crate::ApiError;
use crate::hits::Wake;

/// Where a running service's audit entries go; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    store: Arc<dyn Store>,
    discard: bool,
    wake: Wake,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("discard", &self.discard)
            .finish()
    }
}

impl AuditLog {
    /// The trail of `store`; `wake` rings when a check makes hits.
    pub fn new(store: Arc<dyn Store>, wake: Wake) -> Self {
        AuditLog {
            store,
            discard: false,
            wake,
        }
    }

    /// A trail that drops its entries and only reads the hits, the same way the real one does.
    /// It exists only so that `armstrace bench api --route check` can show what the trail
    /// costs; the service never uses it.
    pub fn discarding(store: Arc<dyn Store>) -> Self {
        AuditLog {
            store,
            discard: true,
            wake: Wake::default(),
        }
    }

    /// Appends `events` and returns once they are committed.
    pub async fn record(&self, events: Vec<AuditEvent>) -> Result<(), ApiError> {
        if self.discard || events.is_empty() {
            return Ok(());
        }
        Ok(self.store.append_audit(&events).await?)
    }

    /// A batch of checks is running for about `span` more: deliveries hold back for it.
    pub fn batch_running(&self, span: std::time::Duration) {
        self.wake.busy(span);
    }

    /// Records checks (`events`) with the hits they make, and returns the records they
    /// matched (`reads`) and the hits' ids, once kept (see `Store::record_check`).
    pub async fn checks(
        &self,
        events: Vec<AuditEvent>,
        reads: Vec<FirearmId>,
        hits: Vec<NewHit>,
    ) -> StoreResult<RecordedCheck> {
        let events = if self.discard { Vec::new() } else { events };
        let recorded = self.store.record_check(events, reads, hits).await?;
        if !recorded.hits.is_empty() {
            self.wake.ring();
        }
        Ok(recorded)
    }
}
