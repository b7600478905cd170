//! The reads every request makes before anything else: the actor behind its API token or its
//! session. Through the async driver each one is a hand-off to the connection's thread and a
//! wake-up back, which on two cores cost more than the check the request asked for. Here it runs
//! on the calling thread with a plain connection: a lookup by a unique key of a few pages the
//! cache holds, in a WAL database, whose readers never wait for its writer.

use std::path::PathBuf;
use std::sync::Mutex;

use armstrace_core::Actor;
use chrono::{DateTime, Utc};

use super::access::{actor_from_parts, permissions};
use crate::{StoreError, StoreResult};

/// Connections kept for point reads; more are opened when all are busy, and the extra ones
/// closed after use.
const KEPT: usize = 8;

/// Plain read-only connections to the database file, lent one per read.
pub(super) struct PointReads {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

/// The actor's columns (as [`ActorRow::read`] reads them), then one more text column and an
/// expiry, for the credential `?1` names.
macro_rules! actor_by {
    ($extra:literal, $from:literal) => {
        concat!(
            "SELECT u.id, u.username, u.permissions, o.id, o.name, o.kind, o.country, o.state, ",
            $extra,
            " FROM ",
            $from,
            " JOIN users u ON u.id = c.user_id JOIN organisations o ON o.id = u.org_id \
             WHERE u.disabled_at IS NULL AND "
        )
    };
}

const BY_TOKEN: &str = concat!(
    actor_by!("c.permissions, c.expires_at", "api_tokens c"),
    "c.token_hash = ?1 AND c.revoked_at IS NULL"
);

const BY_SESSION: &str = concat!(
    actor_by!("c.csrf_token, c.expires_at", "sessions c"),
    "c.session_hash = ?1 AND c.ended_at IS NULL"
);

impl PointReads {
    pub(super) fn new(path: PathBuf) -> Self {
        PointReads {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn with<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> StoreResult<T> {
        let lent = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match lent {
            Some(conn) => conn,
            None => {
                let conn = super::plain_connection(&self.path, true)?;
                // Only a WAL recovery makes a reader wait; it should not hold a request long.
                conn.busy_timeout(std::time::Duration::from_secs(2))?;
                conn
            }
        };
        let result = read(&conn).map_err(StoreError::from);
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < KEPT {
            idle.push(conn);
        }
        result
    }

    /// The actor `sql` finds for `key`, with the credential's extra column, unless the
    /// credential expired by `now`.
    fn actor_by(
        &self,
        sql: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Actor, String)>> {
        let row = self.with(|conn| {
            let mut statement = conn.prepare_cached(sql)?;
            let mut rows = statement.query([key])?;
            rows.next()?
                .map(|row| Ok((ActorRow::read(row)?, row.get(8)?, row.get(9)?)))
                .transpose()
        })?;
        let Some((actor, extra, expires_at)) = row else {
            return Ok(None);
        };
        let expires_at: Option<String> = expires_at;
        if let Some(at) = expires_at
            && timestamp(&at)? <= now
        {
            return Ok(None);
        }
        Ok(Some((actor.into_actor()?, extra)))
    }

    /// The actor behind an unrevoked, unexpired token of an enabled user.
    pub(super) fn actor_for_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Actor>> {
        let Some((mut actor, token_permissions)) = self.actor_by(BY_TOKEN, token_hash, now)? else {
            return Ok(None);
        };
        // A token carries a subset of its user's permissions; the user may have lost some since.
        actor.permissions = actor.permissions.and(permissions(&token_permissions)?);
        Ok(Some(actor))
    }

    /// The actor behind an open, unexpired session of an enabled user, and its CSRF token.
    pub(super) fn actor_for_session(
        &self,
        session_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Actor, String)>> {
        self.actor_by(BY_SESSION, session_hash, now)
    }
}

/// The actor's columns as read, checked once the connection is handed back.
struct ActorRow {
    user_id: i64,
    username: String,
    permissions: String,
    org_id: i64,
    org_name: String,
    kind: String,
    country: Option<String>,
    state: String,
}

impl ActorRow {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(ActorRow {
            user_id: row.get(0)?,
            username: row.get(1)?,
            permissions: row.get(2)?,
            org_id: row.get(3)?,
            org_name: row.get(4)?,
            kind: row.get(5)?,
            country: row.get(6)?,
            state: row.get(7)?,
        })
    }

    fn into_actor(self) -> StoreResult<Actor> {
        actor_from_parts(
            self.user_id,
            self.username,
            &self.permissions,
            self.org_id,
            self.org_name,
            &self.kind,
            self.country.as_deref(),
            &self.state,
        )
    }
}

/// A time as the store writes it (RFC 3339).
fn timestamp(text: &str) -> StoreResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time '{text}': {e}")))
}
