//! The SQLite backend: one file, WAL journal, one writer connection and a pool of readers.

mod access;
mod audit;
mod audit_stage;
mod audit_writer;
mod checkpointer;
mod firearms;
mod hits;
mod import;
mod point_reads;
mod reference;
mod traces;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use armstrace_core::history::HistoryEntry;
use armstrace_core::{
    Actor, CountryCode, Firearm, FirearmFields, FirearmId, OrgKind, OrgState, Permissions,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::audit::{AuditEntry, AuditEvent, AuditFilter, AuditWho};
use crate::{
    ApiToken, BatchOutcome, Channel, Credentials, FirearmFilter, Organisation, SerialEntry, Store,
    StoreResult, TokenRef, User, UserChange,
};

/// A store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    /// The single writer: SQLite allows one at a time, so writes queue here instead of failing
    /// with "database is locked".
    writer: SqlitePool,
    /// Readers run beside the writer thanks to the WAL journal.
    readers: SqlitePool,
    /// The thread that appends grouped audit entries (checks).
    audit_writer: Arc<audit_writer::AuditWriter>,
    /// The database file, for readers of a whole table on a thread of their own.
    path: PathBuf,
    /// The reads every request makes (its token or session), on the calling thread.
    point_reads: Arc<point_reads::PointReads>,
    /// Copies the journal back into the file, so that no writer has to.
    _checkpointer: Arc<checkpointer::Checkpointer>,
}

/// The file a `--db` value names (`sqlite://path`, `sqlite:path` or a plain path).
pub(crate) fn path_of(db: &str) -> PathBuf {
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    PathBuf::from(path.split('?').next().unwrap_or(path))
}

/// A plain connection to the database file, for work that runs on a thread of its own or
/// on the caller's (the audit writer, the start-up read, the reads every request makes):
/// the async driver's hand-offs between threads cost more there than the work.
pub(crate) fn plain_connection(
    path: &std::path::Path,
    read_only: bool,
) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::default()
    };
    let conn = rusqlite::Connection::open_with_flags(path, flags)?;
    // A WAL reader waits only during a recovery, and a writer for the one before it.
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// Brings the schema up to date. Migrations run with foreign keys off, so that one may rebuild
/// a table others refer to (SQLite cannot loosen a column in place); afterwards every
/// reference is checked, and a dangling one stops the opening.
async fn migrate(writer: &SqlitePool) -> StoreResult<()> {
    let mut conn = writer.acquire().await?;
    sqlx::query("PRAGMA foreign_keys = OFF")
        .execute(&mut *conn)
        .await?;
    let migrated = sqlx::migrate!("./migrations/sqlite").run(&mut *conn).await;
    sqlx::query("PRAGMA foreign_keys = ON")
        .execute(&mut *conn)
        .await?;
    migrated?;
    let dangling: Vec<(String, i64)> =
        sqlx::query_as("SELECT \"table\", rowid FROM pragma_foreign_key_check LIMIT 5")
            .fetch_all(&mut *conn)
            .await?;
    if dangling.is_empty() {
        Ok(())
    } else {
        Err(crate::StoreError::Corrupt(format!(
            "rows refer to rows that do not exist after migrating: {dangling:?}"
        )))
    }
}

impl SqliteStore {
    /// Opens (with `create`, creates) the database file and migrates its schema.
    pub async fn open(db: &str, create: bool) -> StoreResult<Self> {
        let path = path_of(db);
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-65536")
            // Fewer, larger checkpoints: index pages rewritten by consecutive batches are
            // copied back to the database once instead of once per batch.
            .pragma("wal_autocheckpoint", "10000")
            .pragma("temp_store", "memory");
        // A file's connection does not go stale the way a network one does: no ping before
        // each use (it costs a round trip to the connection's thread).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        migrate(&writer).await?;
        // What a process that ended without moving its checks' audit entries left.
        let stage_of = path.clone();
        tokio::task::spawn_blocking(move || audit_stage::recover(&stage_of))
            .await
            .map_err(|e| {
                crate::StoreError::Backend(format!("moving audit stages left behind: {e}"))
            })??;
        let readers = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore {
            writer,
            readers,
            audit_writer: Arc::new(audit_writer::AuditWriter::start(&path)?),
            point_reads: Arc::new(point_reads::PointReads::new(path.clone())),
            _checkpointer: Arc::new(checkpointer::Checkpointer::start(&path)?),
            path,
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn is_initialised(&self) -> StoreResult<bool> {
        let secretariats: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM organisations WHERE kind = 'secretariat'")
                .fetch_one(&self.readers)
                .await?;
        Ok(secretariats > 0)
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.readers)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn create_organisation(
        &self,
        by: &AuditWho,
        name: &str,
        kind: OrgKind,
        country: Option<CountryCode>,
        state: OrgState,
    ) -> StoreResult<Organisation> {
        access::create_organisation(&self.writer, by, name, kind, country, state).await
    }

    async fn organisations(&self) -> StoreResult<Vec<Organisation>> {
        access::organisations(&self.readers).await
    }

    async fn organisation(&self, id: i64) -> StoreResult<Option<Organisation>> {
        access::organisation(&self.readers, id).await
    }

    async fn set_organisation_state(
        &self,
        by: &AuditWho,
        id: i64,
        state: OrgState,
    ) -> StoreResult<Organisation> {
        access::set_organisation_state(&self.writer, by, id, state).await
    }

    async fn create_user(
        &self,
        by: &AuditWho,
        org_id: i64,
        username: &str,
        password_hash: Option<&str>,
        permissions: Permissions,
    ) -> StoreResult<User> {
        access::create_user(
            &self.writer,
            by,
            org_id,
            username,
            password_hash,
            permissions,
        )
        .await
    }

    async fn user(&self, username: &str) -> StoreResult<Option<User>> {
        access::user(&self.readers, username).await
    }

    async fn update_user(
        &self,
        by: &AuditWho,
        username: &str,
        change: &UserChange,
    ) -> StoreResult<User> {
        access::update_user(&self.writer, by, username, change).await
    }

    async fn users(&self, org_id: i64) -> StoreResult<Vec<User>> {
        access::users(&self.readers, org_id).await
    }

    async fn create_token(
        &self,
        by: &AuditWho,
        user_id: i64,
        token_hash: &str,
        permissions: Permissions,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<ApiToken> {
        access::create_token(
            &self.writer,
            by,
            user_id,
            token_hash,
            permissions,
            expires_at,
        )
        .await
    }

    async fn token(&self, token: &TokenRef) -> StoreResult<Option<ApiToken>> {
        access::token(&self.readers, token).await
    }

    async fn tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>> {
        access::tokens(&self.readers, user_id).await
    }

    async fn revoke_token(&self, by: &AuditWho, token: &TokenRef) -> StoreResult<ApiToken> {
        access::revoke_token(&self.writer, by, token).await
    }

    async fn actor_for_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Actor>> {
        self.point_reads.actor_for_token(token_hash, now)
    }

    async fn actor_for_user(&self, username: &str) -> StoreResult<Option<Actor>> {
        access::actor_for_user(&self.readers, username).await
    }

    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>> {
        access::credentials(&self.readers, username).await
    }

    async fn signin_failed(
        &self,
        event: AuditEvent,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        access::signin_failed(&self.writer, event, lock_for).await
    }

    async fn start_session(
        &self,
        event: AuditEvent,
        session_hash: &str,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        access::start_session(&self.writer, event, session_hash, csrf_token, expires_at).await
    }

    async fn actor_for_session(
        &self,
        session_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Actor, String)>> {
        self.point_reads.actor_for_session(session_hash, now)
    }

    async fn end_session(&self, event: AuditEvent, session_hash: &str) -> StoreResult<()> {
        access::end_session(&self.writer, event, session_hash).await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        self.audit_writer
            .record(events.to_vec(), false, Vec::new(), Vec::new())
            .await
            .map(drop)
    }

    async fn record_check(
        &self,
        events: Vec<AuditEvent>,
        reads: Vec<FirearmId>,
        hits: Vec<crate::hits::NewHit>,
    ) -> StoreResult<crate::hits::RecordedCheck> {
        self.audit_writer.record(events, true, reads, hits).await
    }

    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        // Checks answered are in the trail before it is read.
        self.audit_writer.flush().await?;
        audit::entries(&self.readers, filter, after, limit).await
    }

    fn audit_chain(&self) -> BoxStream<'_, StoreResult<AuditEntry>> {
        use futures::{StreamExt, TryStreamExt};
        futures::stream::once(self.audit_writer.flush())
            .map_ok(|()| audit::chain(&self.readers))
            .try_flatten()
            .boxed()
    }

    async fn reference_changes(&self) -> StoreResult<Vec<crate::reference::ReferenceChange>> {
        reference::changes(&self.readers).await
    }

    async fn reference_change_count(&self) -> StoreResult<usize> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reference_changes")
            .fetch_one(&self.readers)
            .await?;
        Ok(count as usize)
    }

    async fn change_reference(
        &self,
        event: AuditEvent,
        entry: &armstrace_reference::Entry,
        base_version: i64,
    ) -> StoreResult<crate::reference::ReferenceChange> {
        reference::change(&self.writer, event, entry, base_version).await
    }

    async fn set_canonical(
        &self,
        by: &AuditWho,
        changes: &[(FirearmId, armstrace_core::Canonical)],
    ) -> StoreResult<()> {
        firearms::set_canonical(&self.writer, by, changes).await
    }

    async fn hit(&self, id: i64) -> StoreResult<Option<crate::hits::Hit>> {
        hits::hit(&self.readers, id).await
    }

    async fn hits(
        &self,
        org_id: Option<i64>,
        state: Option<crate::hits::HitState>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<crate::hits::Hit>> {
        hits::hits(&self.readers, org_id, state, before, limit).await
    }

    async fn hit_events(&self, hit_id: i64) -> StoreResult<Vec<crate::hits::HitEvent>> {
        hits::hit_events(&self.readers, hit_id).await
    }

    async fn change_hit(
        &self,
        by: &AuditWho,
        hit_id: i64,
        change: &crate::hits::HitChange,
    ) -> StoreResult<crate::hits::Hit> {
        hits::change_hit(&self.writer, by, hit_id, change).await
    }

    async fn notifications(
        &self,
        org_id: i64,
        filter: &crate::hits::NotificationFilter,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<crate::hits::Notification>> {
        hits::notifications(&self.readers, org_id, filter, offset, limit).await
    }

    async fn unread_notifications(&self, org_id: i64) -> StoreResult<u64> {
        hits::unread(&self.readers, org_id).await
    }

    async fn notifications_after(
        &self,
        org_id: i64,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<crate::hits::Notification>> {
        hits::notifications_after(&self.readers, org_id, after, limit).await
    }

    async fn last_notification(&self) -> StoreResult<i64> {
        hits::last_notification(&self.readers).await
    }

    async fn mark_read(&self, org_id: i64, ids: Option<&[i64]>) -> StoreResult<u64> {
        hits::mark_read(&self.writer, org_id, ids).await
    }

    async fn create_webhook(
        &self,
        by: &AuditWho,
        org_id: i64,
        url: &str,
        secret: &str,
    ) -> StoreResult<crate::hits::Webhook> {
        hits::create_webhook(&self.writer, by, org_id, url, secret).await
    }

    async fn webhooks(&self, org_id: i64) -> StoreResult<Vec<crate::hits::Webhook>> {
        hits::webhooks(&self.readers, org_id).await
    }

    async fn webhook(&self, id: i64) -> StoreResult<Option<crate::hits::Webhook>> {
        hits::webhook(&self.readers, id).await
    }

    async fn delete_webhook(&self, by: &AuditWho, id: i64) -> StoreResult<()> {
        hits::delete_webhook(&self.writer, by, id).await
    }

    async fn set_duty_email(
        &self,
        by: &AuditWho,
        org_id: i64,
        address: Option<&str>,
    ) -> StoreResult<()> {
        hits::set_duty_email(&self.writer, by, org_id, address).await
    }

    async fn duty_email(&self, org_id: i64) -> StoreResult<Option<String>> {
        hits::duty_email(&self.readers, org_id).await
    }

    async fn claim_deliveries(
        &self,
        lease: chrono::Duration,
        limit: u32,
    ) -> StoreResult<Vec<crate::hits::Delivery>> {
        hits::claim_deliveries(&self.writer, lease, limit).await
    }

    async fn finish_deliveries(
        &self,
        attempts: &[(i64, String, crate::hits::Attempt)],
    ) -> StoreResult<()> {
        hits::finish_deliveries(&self.writer, attempts).await
    }

    async fn deliveries(
        &self,
        webhook_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<crate::hits::DeliveryLog>> {
        hits::deliveries(&self.readers, webhook_id, limit).await
    }

    async fn create_trace(
        &self,
        by: &AuditWho,
        new: &crate::traces::NewTrace,
        now: DateTime<Utc>,
    ) -> StoreResult<crate::traces::Trace> {
        traces::create(&self.writer, by, new, now).await
    }

    async fn trace(&self, id: i64) -> StoreResult<Option<crate::traces::Trace>> {
        traces::trace(&self.readers, id).await
    }

    async fn trace_chain(&self, chain_id: i64) -> StoreResult<Vec<crate::traces::Trace>> {
        traces::chain(&self.readers, chain_id).await
    }

    async fn traces(
        &self,
        filter: &crate::traces::TraceFilter,
    ) -> StoreResult<Vec<crate::traces::Trace>> {
        traces::list(&self.readers, filter).await
    }

    async fn trace_events(&self, id: i64) -> StoreResult<Vec<crate::traces::TraceEvent>> {
        traces::events(&self.readers, id).await
    }

    async fn change_trace(
        &self,
        by: &AuditWho,
        id: i64,
        change: &crate::traces::TraceChange,
        now: DateTime<Utc>,
    ) -> StoreResult<(crate::traces::Trace, Option<crate::traces::Trace>)> {
        traces::change(&self.writer, by, id, change, now).await
    }

    async fn attach_to_trace(
        &self,
        by: &AuditWho,
        id: i64,
        file: &crate::traces::NewAttachment<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<crate::traces::Attachment> {
        traces::attach(&self.writer, by, id, file, now).await
    }

    async fn trace_attachments(&self, id: i64) -> StoreResult<Vec<crate::traces::Attachment>> {
        traces::attachments(&self.readers, id).await
    }

    async fn trace_attachment(
        &self,
        trace_id: i64,
        id: i64,
    ) -> StoreResult<Option<(crate::traces::Attachment, Vec<u8>)>> {
        traces::attachment(&self.readers, trace_id, id).await
    }

    async fn due_trace_reminders(
        &self,
        now: DateTime<Utc>,
        again: chrono::Duration,
    ) -> StoreResult<Vec<i64>> {
        traces::due_reminders(&self.readers, now, again).await
    }

    async fn remind_trace(
        &self,
        id: i64,
        now: DateTime<Utc>,
        again: chrono::Duration,
    ) -> StoreResult<Option<armstrace_core::trace::Late>> {
        traces::remind(&self.writer, id, now, again).await
    }

    async fn changes_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, FirearmId)>> {
        Ok(sqlx::query_as(
            "SELECT seq, firearm_id FROM firearm_changes WHERE seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.readers)
        .await?)
    }

    async fn feed_head(&self) -> StoreResult<i64> {
        let newest = sqlx::query_scalar::<_, Option<i64>>("SELECT max(seq) FROM firearm_changes")
            .fetch_one(&self.readers)
            .await?
            .unwrap_or(0);
        // A feed pruned to its end still stands where it stood.
        Ok(newest.max(self.feed_pruned_through().await?))
    }

    async fn prune_feed(&self, through: i64) -> StoreResult<u64> {
        let mut forgotten = 0;
        loop {
            let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
            let done = crate::feed::pruned_through(
                sqlx::query_scalar(crate::feed::PRUNED_THROUGH)
                    .fetch_optional(&mut *tx)
                    .await?,
            )?;
            if done >= through {
                return Ok(forgotten);
            }
            let next = through.min(done + crate::feed::PRUNE_STEP);
            forgotten += sqlx::query("DELETE FROM firearm_changes WHERE seq <= ?")
                .bind(next)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES (?, ?) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(crate::feed::PRUNED_KEY)
            .bind(next.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        }
    }

    async fn feed_pruned_through(&self) -> StoreResult<i64> {
        Ok(crate::feed::pruned_through(
            sqlx::query_scalar(crate::feed::PRUNED_THROUGH)
                .fetch_optional(&self.readers)
                .await?,
        )?)
    }

    async fn mark_feed(&self, node: &str, position: Option<i64>) -> StoreResult<i64> {
        const MARK: &str = concat!(
            "INSERT INTO feed_readers (node, position, seen_ms) VALUES (?1, COALESCE(?2, max(\
             COALESCE((SELECT max(seq) FROM firearm_changes), 0), \
             COALESCE((SELECT CAST(value AS INTEGER) FROM settings \
             WHERE key = 'feed_pruned_through'), 0))), ",
            crate::feed::sqlite_now_ms!(),
            ") ON CONFLICT (node) DO UPDATE SET position = excluded.position, \
             seen_ms = excluded.seen_ms RETURNING position"
        );
        Ok(sqlx::query_scalar(MARK)
            .bind(node)
            .bind(position)
            .fetch_one(&self.writer)
            .await?)
    }

    async fn feed_marks(&self, fresh: std::time::Duration) -> StoreResult<Option<i64>> {
        const LAPSED: &str = concat!(
            "DELETE FROM feed_readers WHERE seen_ms < ",
            crate::feed::sqlite_now_ms!(),
            " - ?1"
        );
        let mut tx = self.writer.begin().await?;
        sqlx::query(LAPSED)
            .bind(crate::feed::millis(fresh))
            .execute(&mut *tx)
            .await?;
        let lowest = sqlx::query_scalar("SELECT min(position) FROM feed_readers")
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(lowest)
    }

    async fn create_firearm(
        &self,
        actor: &Actor,
        fields: &FirearmFields,
        channel: Channel,
    ) -> StoreResult<Firearm> {
        firearms::create(&self.writer, actor, fields, channel).await
    }

    async fn firearm(&self, id: FirearmId) -> StoreResult<Option<Firearm>> {
        firearms::get(&self.readers, id).await
    }

    async fn firearms(&self, ids: &[FirearmId]) -> StoreResult<Vec<Firearm>> {
        firearms::by_ids(&self.readers, ids).await
    }

    async fn update_firearm(
        &self,
        actor: &Actor,
        id: FirearmId,
        fields: &FirearmFields,
        expected_version: Option<i64>,
    ) -> StoreResult<Firearm> {
        firearms::update(&self.writer, actor, id, fields, expected_version).await
    }

    async fn delete_firearm(&self, actor: &Actor, id: FirearmId) -> StoreResult<Firearm> {
        firearms::delete(&self.writer, actor, id).await
    }

    async fn list_firearms(
        &self,
        filter: &FirearmFilter,
        after: Option<FirearmId>,
        limit: u32,
    ) -> StoreResult<Vec<Firearm>> {
        firearms::list(&self.readers, filter, after, limit).await
    }

    async fn count_firearms(&self, filter: &FirearmFilter) -> StoreResult<u64> {
        firearms::count(&self.readers, filter).await
    }

    async fn history(&self, id: FirearmId) -> StoreResult<Vec<HistoryEntry>> {
        firearms::history(&self.readers, id).await
    }

    async fn import_batch(
        &self,
        actor: &Actor,
        rows: &[FirearmFields],
    ) -> StoreResult<BatchOutcome> {
        import::import_batch(&self.writer, actor, rows).await
    }

    fn export(&self, filter: FirearmFilter) -> BoxStream<'_, StoreResult<Firearm>> {
        firearms::export(&self.readers, filter)
    }

    fn live_serials(&self) -> BoxStream<'_, StoreResult<SerialEntry>> {
        firearms::live_serials(self.path.clone())
    }
}
