//! Writing checks to the audit trail without slowing them: every check waits until its entry
//! is committed (a check the trail does not hold is never answered), but entries of checks
//! that arrive together are committed together, in one transaction.

use std::sync::Arc;

use armstrace_store::Store;
use armstrace_store::audit::AuditEvent;
use tokio::sync::{mpsc, oneshot};

use crate::ApiError;

/// Most entries committed in one transaction.
const MAX_GROUP: usize = 4096;

#[derive(Debug)]
struct Pending {
    events: Vec<AuditEvent>,
    done: oneshot::Sender<Result<(), String>>,
}

/// The handle every request uses to log; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Pending>,
}

impl AuditLog {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (queue, mut pending) = mpsc::channel::<Pending>(MAX_GROUP);
        tokio::spawn(async move {
            while let Some(first) = pending.recv().await {
                let mut events = first.events;
                let mut waiting = vec![first.done];
                while events.len() < MAX_GROUP {
                    match pending.try_recv() {
                        Ok(more) => {
                            events.extend(more.events);
                            waiting.push(more.done);
                        }
                        Err(_) => break,
                    }
                }
                let result = store.append_audit(&events).await.map_err(|e| e.to_string());
                if let Err(cause) = &result {
                    tracing::error!(%cause, entries = events.len(), "writing the audit trail failed");
                }
                for done in waiting {
                    let _ = done.send(result.clone());
                }
            }
        });
        AuditLog { queue }
    }

    /// A trail that accepts entries and drops them. It exists only so that `armstrace bench api
    /// --route check` can show what the real trail costs; the service never uses it.
    pub fn discarding() -> Self {
        let (queue, mut pending) = mpsc::channel::<Pending>(MAX_GROUP);
        tokio::spawn(async move {
            while let Some(dropped) = pending.recv().await {
                let _ = dropped.done.send(Ok(()));
            }
        });
        AuditLog { queue }
    }

    /// Appends `events` and returns once they are committed.
    pub async fn record(&self, events: Vec<AuditEvent>) -> Result<(), ApiError> {
        if events.is_empty() {
            return Ok(());
        }
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Pending { events, done })
            .await
            .map_err(|_| ApiError::Internal("the audit writer has stopped".into()))?;
        committed
            .await
            .map_err(|_| ApiError::Internal("the audit writer has stopped".into()))?
            .map_err(ApiError::Internal)
    }
}
