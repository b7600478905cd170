//! Forgetting the change feed's old positions, alike on both backends. Every write of a record
//! adds a position, so the feed grows by every import; what followers have passed is of no
//! use. The position up to which it was forgotten is kept in `settings`, so that a follower
//! that was further behind learns it has missed changes instead of skipping them. Each node
//! marks how far it has read (`feed_readers`, by the database's clock), so that none forgets
//! what a node with a fresh mark has not read.

use crate::{StoreError, StoreResult};

/// The setting that holds the position up to which the feed was forgotten.
pub(crate) const PRUNED_KEY: &str = "feed_pruned_through";

/// Reads [`PRUNED_KEY`].
pub(crate) const PRUNED_THROUGH: &str =
    "SELECT value FROM settings WHERE key = 'feed_pruned_through'";

/// Positions forgotten per transaction.
pub(crate) const PRUNE_STEP: i64 = 10_000;

/// The stored horizon (0 when the feed was never pruned).
pub(crate) fn pruned_through(value: Option<String>) -> StoreResult<i64> {
    match value {
        None => Ok(0),
        Some(text) => text
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("{PRUNED_KEY} '{text}'"))),
    }
}

/// Milliseconds since 1970 by SQLite's clock, as SQL.
macro_rules! sqlite_now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)"
    };
}

/// Milliseconds since 1970 by PostgreSQL's clock, as SQL.
macro_rules! postgres_now_ms {
    () => {
        "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
    };
}

pub(crate) use {postgres_now_ms, sqlite_now_ms};

/// A freshness as milliseconds, for the query.
pub(crate) fn millis(fresh: std::time::Duration) -> i64 {
    i64::try_from(fresh.as_millis()).unwrap_or(i64::MAX)
}
