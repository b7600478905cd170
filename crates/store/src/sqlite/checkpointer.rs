//! The thread that copies the WAL journal back into the database file. SQLite does this by
//! default in whichever connection commits when the journal has grown past a size, and so
//! it landed on the audit writer: every few seconds under load a check waited while ten
//! thousand pages were copied and the file synced, and the checks queued behind it left the
//! cores idle. Here a thread of its own does a passive checkpoint (one that waits for no
//! reader and no writer) twice a second.
//!
//! The audit writer still checkpoints once the journal passes 16,384 pages (64 MB), because
//! SQLite starts a journal again from its beginning only when a writer finds all of it
//! copied, and under steady load the passive rounds never catch up with the last commit:
//! without it the journal grew past a gigabyte in a minute of checks. By then this thread
//! has copied nearly all of it, so the writer's checkpoint is short.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use crate::{StoreError, StoreResult};

/// How often the journal is copied back.
const EVERY: Duration = Duration::from_millis(500);

/// The handle to the checkpointing thread; the thread ends when the handle is dropped.
pub(super) struct Checkpointer {
    _running: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Opens a connection to `path` and starts the thread.
    pub(super) fn start(path: &Path) -> StoreResult<Self> {
        let conn = super::plain_connection(path, false)?;
        let (running, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("checkpointer".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    // A failure (a disk full, say) is the writers' to report when they commit;
                    // the journal is copied back on the next round or by SQLite at close.
                    if let Err(error) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(%error, "copying the journal back into the database failed");
                    }
                }
            })
            .map_err(|e| StoreError::Backend(format!("starting the checkpointer: {e}")))?;
        Ok(Checkpointer { _running: running })
    }
}
