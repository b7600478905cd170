//! The PostgreSQL backend: one database server shared by every node of a cluster. Writes that
//! must be serialised across nodes (the audit chain) take an advisory lock; the rest rely on
//! row locks and constraints.

mod access;
mod audit;
mod firearms;
mod hits;
mod import;
mod reference;
mod traces;

use std::time::Duration;

use armstrace_core::history::HistoryEntry;
use armstrace_core::{
    Actor, CountryCode, Firearm, FirearmFields, FirearmId, OrgKind, OrgState, Permissions,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::audit::{AuditEntry, AuditEvent, AuditFilter, AuditWho};
use crate::{
    ApiToken, BatchOutcome, Channel, Credentials, FirearmFilter, Organisation, SerialEntry, Store,
    StoreResult, TokenRef, User, UserChange,
};

/// A store in a PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    /// The primary: every write, and every read that must see the latest writes.
    pool: PgPool,
    /// Where long reads go that may lag a little (lists, counts, exports, the index's first
    /// read, the audit trail): a streaming replica when one is given, else the primary.
    reader: PgPool,
    /// Writes checks' audit entries and hits in groups.
    recorder: audit::Recorder,
}

/// Whether a `--db` value names a PostgreSQL database.
pub fn is_postgres(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// Creates the database `name` on the server `server` names (for benchmarks and tools that
/// want a database of their own); returns its URL.
pub async fn create_database(server: &str, name: &str) -> StoreResult<String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(server).await?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let (base, query) = server.split_once('?').unwrap_or((server, ""));
    let root = match base.rfind('/') {
        Some(slash) if slash > base.find("://").map_or(0, |i| i + 2) => &base[..slash],
        _ => base,
    };
    Ok(if query.is_empty() {
        format!("{root}/{name}")
    } else {
        format!("{root}/{name}?{query}")
    })
}

/// Drops the database `name` on the server `server` names, closing its connections.
pub async fn drop_database(server: &str, name: &str) -> StoreResult<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(server).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// Held while the change feed is pruned (see `prune_feed`): "ARMSPRUN".
const PRUNE_LOCK: i64 = 0x4152_4d53_5052_554e;

/// Whether the database holds a schema `armstrace init` made.
const HAS_SCHEMA: &str = "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
     WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations')";

/// How each of a node's pools (the database's, the replica's) connects.
fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(30))
}

/// Whether the database `url` names holds Armstrace's schema.
pub(crate) async fn has_schema(url: &str) -> StoreResult<bool> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let found: bool = sqlx::query_scalar(HAS_SCHEMA).fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(found)
}

impl PgStore {
    /// Connects to the database `url` names and migrates its schema. The database itself must
    /// exist (`createdb`); with `create`, an empty one is fine, without it the schema must be
    /// there already (`armstrace init` made it).
    pub async fn open(url: &str, create: bool) -> StoreResult<Self> {
        let pool = pool_options().connect(url).await?;
        if !create {
            let installed: bool = sqlx::query_scalar(HAS_SCHEMA).fetch_one(&pool).await?;
            if !installed {
                return Err(crate::StoreError::NotFound(
                    "an Armstrace schema in this database (run `armstrace init` first)".into(),
                ));
            }
        }
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore {
            reader: pool.clone(),
            recorder: audit::Recorder::start(pool.clone()),
            pool,
        })
    }

    /// The same store, sending long reads that may lag to the streaming replica `url` names.
    pub async fn with_read_replica(mut self, url: &str) -> StoreResult<Self> {
        self.reader = pool_options().connect(url).await?;
        Ok(self)
    }

    /// The connection pool (for tests and tools).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    async fn is_initialised(&self) -> StoreResult<bool> {
        let secretariats: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM organisations WHERE kind = 'secretariat'")
                .fetch_one(&self.pool)
                .await?;
        Ok(secretariats > 0)
    }

    async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
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
        access::create_organisation(&self.pool, by, name, kind, country, state).await
    }

    async fn organisations(&self) -> StoreResult<Vec<Organisation>> {
        access::organisations(&self.pool).await
    }

    async fn organisation(&self, id: i64) -> StoreResult<Option<Organisation>> {
        access::organisation(&self.pool, id).await
    }

    async fn set_organisation_state(
        &self,
        by: &AuditWho,
        id: i64,
        state: OrgState,
    ) -> StoreResult<Organisation> {
        access::set_organisation_state(&self.pool, by, id, state).await
    }

    async fn create_user(
        &self,
        by: &AuditWho,
        org_id: i64,
        username: &str,
        password_hash: Option<&str>,
        permissions: Permissions,
    ) -> StoreResult<User> {
        access::create_user(&self.pool, by, org_id, username, password_hash, permissions).await
    }

    async fn user(&self, username: &str) -> StoreResult<Option<User>> {
        access::user(&self.pool, username).await
    }

    async fn update_user(
        &self,
        by: &AuditWho,
        username: &str,
        change: &UserChange,
    ) -> StoreResult<User> {
        access::update_user(&self.pool, by, username, change).await
    }

    async fn users(&self, org_id: i64) -> StoreResult<Vec<User>> {
        access::users(&self.pool, org_id).await
    }

    async fn create_token(
        &self,
        by: &AuditWho,
        user_id: i64,
        token_hash: &str,
        permissions: Permissions,
        expires_at: Option<DateTime<Utc>>,
    ) -> StoreResult<ApiToken> {
        access::create_token(&self.pool, by, user_id, token_hash, permissions, expires_at).await
    }

    async fn token(&self, token: &TokenRef) -> StoreResult<Option<ApiToken>> {
        access::token(&self.pool, token).await
    }

    async fn tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>> {
        access::tokens(&self.pool, user_id).await
    }

    async fn revoke_token(&self, by: &AuditWho, token: &TokenRef) -> StoreResult<ApiToken> {
        access::revoke_token(&self.pool, by, token).await
    }

    async fn actor_for_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Actor>> {
        access::actor_for_token(&self.pool, token_hash, now).await
    }

    async fn actor_for_user(&self, username: &str) -> StoreResult<Option<Actor>> {
        access::actor_for_user(&self.pool, username).await
    }

    async fn credentials(&self, username: &str) -> StoreResult<Option<Credentials>> {
        access::credentials(&self.pool, username).await
    }

    async fn signin_failed(
        &self,
        event: AuditEvent,
        lock_for: fn(u32) -> Option<chrono::Duration>,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        access::signin_failed(&self.pool, event, lock_for).await
    }

    async fn start_session(
        &self,
        event: AuditEvent,
        session_hash: &str,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        access::start_session(&self.pool, event, session_hash, csrf_token, expires_at).await
    }

    async fn actor_for_session(
        &self,
        session_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<(Actor, String)>> {
        access::actor_for_session(&self.pool, session_hash, now).await
    }

    async fn end_session(&self, event: AuditEvent, session_hash: &str) -> StoreResult<()> {
        access::end_session(&self.pool, event, session_hash).await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> StoreResult<()> {
        self.recorder
            .record(events.to_vec(), Vec::new(), Vec::new())
            .await
            .map(drop)
    }

    async fn record_check(
        &self,
        events: Vec<AuditEvent>,
        reads: Vec<FirearmId>,
        hits: Vec<crate::hits::NewHit>,
    ) -> StoreResult<crate::hits::RecordedCheck> {
        self.recorder.record(events, reads, hits).await
    }

    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEntry>> {
        audit::entries(&self.reader, filter, after, limit).await
    }

    fn audit_chain(&self) -> BoxStream<'_, StoreResult<AuditEntry>> {
        audit::chain(&self.reader)
    }

    async fn reference_changes(&self) -> StoreResult<Vec<crate::reference::ReferenceChange>> {
        reference::changes(&self.pool).await
    }

    async fn reference_change_count(&self) -> StoreResult<usize> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reference_changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(count as usize)
    }

    async fn change_reference(
        &self,
        event: AuditEvent,
        entry: &armstrace_reference::Entry,
        base_version: i64,
    ) -> StoreResult<crate::reference::ReferenceChange> {
        reference::change(&self.pool, event, entry, base_version).await
    }

    async fn set_canonical(
        &self,
        by: &AuditWho,
        changes: &[(FirearmId, armstrace_core::Canonical)],
    ) -> StoreResult<()> {
        firearms::set_canonical(&self.pool, by, changes).await
    }

    async fn hit(&self, id: i64) -> StoreResult<Option<crate::hits::Hit>> {
        hits::hit(&self.pool, id).await
    }

    async fn hits(
        &self,
        org_id: Option<i64>,
        state: Option<crate::hits::HitState>,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<crate::hits::Hit>> {
        hits::hits(&self.pool, org_id, state, before, limit).await
    }

    async fn hit_events(&self, hit_id: i64) -> StoreResult<Vec<crate::hits::HitEvent>> {
        hits::hit_events(&self.pool, hit_id).await
    }

    async fn change_hit(
        &self,
        by: &AuditWho,
        hit_id: i64,
        change: &crate::hits::HitChange,
    ) -> StoreResult<crate::hits::Hit> {
        hits::change_hit(&self.pool, by, hit_id, change).await
    }

    async fn notifications(
        &self,
        org_id: i64,
        filter: &crate::hits::NotificationFilter,
        offset: u32,
        limit: u32,
    ) -> StoreResult<Vec<crate::hits::Notification>> {
        hits::notifications(&self.pool, org_id, filter, offset, limit).await
    }

    async fn unread_notifications(&self, org_id: i64) -> StoreResult<u64> {
        hits::unread(&self.pool, org_id).await
    }

    async fn notifications_after(
        &self,
        org_id: i64,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<crate::hits::Notification>> {
        hits::notifications_after(&self.pool, org_id, after, limit).await
    }

    async fn last_notification(&self) -> StoreResult<i64> {
        hits::last_notification(&self.pool).await
    }

    async fn mark_read(&self, org_id: i64, ids: Option<&[i64]>) -> StoreResult<u64> {
        hits::mark_read(&self.pool, org_id, ids).await
    }

    async fn create_webhook(
        &self,
        by: &AuditWho,
        org_id: i64,
        url: &str,
        secret: &str,
    ) -> StoreResult<crate::hits::Webhook> {
        hits::create_webhook(&self.pool, by, org_id, url, secret).await
    }

    async fn webhooks(&self, org_id: i64) -> StoreResult<Vec<crate::hits::Webhook>> {
        hits::webhooks(&self.pool, org_id).await
    }

    async fn webhook(&self, id: i64) -> StoreResult<Option<crate::hits::Webhook>> {
        hits::webhook(&self.pool, id).await
    }

    async fn delete_webhook(&self, by: &AuditWho, id: i64) -> StoreResult<()> {
        hits::delete_webhook(&self.pool, by, id).await
    }

    async fn set_duty_email(
        &self,
        by: &AuditWho,
        org_id: i64,
        address: Option<&str>,
    ) -> StoreResult<()> {
        hits::set_duty_email(&self.pool, by, org_id, address).await
    }

    async fn duty_email(&self, org_id: i64) -> StoreResult<Option<String>> {
        hits::duty_email(&self.pool, org_id).await
    }

    async fn claim_deliveries(
        &self,
        lease: chrono::Duration,
        limit: u32,
    ) -> StoreResult<Vec<crate::hits::Delivery>> {
        hits::claim_deliveries(&self.pool, lease, limit).await
    }

    async fn finish_deliveries(
        &self,
        attempts: &[(i64, String, crate::hits::Attempt)],
    ) -> StoreResult<()> {
        hits::finish_deliveries(&self.pool, attempts).await
    }

    async fn deliveries(
        &self,
        webhook_id: i64,
        limit: u32,
    ) -> StoreResult<Vec<crate::hits::DeliveryLog>> {
        hits::deliveries(&self.pool, webhook_id, limit).await
    }

    async fn create_trace(
        &self,
        by: &AuditWho,
        new: &crate::traces::NewTrace,
        now: DateTime<Utc>,
    ) -> StoreResult<crate::traces::Trace> {
        traces::create(&self.pool, by, new, now).await
    }

    async fn trace(&self, id: i64) -> StoreResult<Option<crate::traces::Trace>> {
        traces::trace(&self.pool, id).await
    }

    async fn trace_chain(&self, chain_id: i64) -> StoreResult<Vec<crate::traces::Trace>> {
        traces::chain(&self.pool, chain_id).await
    }

    async fn traces(
        &self,
        filter: &crate::traces::TraceFilter,
    ) -> StoreResult<Vec<crate::traces::Trace>> {
        traces::list(&self.pool, filter).await
    }

    async fn trace_events(&self, id: i64) -> StoreResult<Vec<crate::traces::TraceEvent>> {
        traces::events(&self.pool, id).await
    }

    async fn change_trace(
        &self,
        by: &AuditWho,
        id: i64,
        change: &crate::traces::TraceChange,
        now: DateTime<Utc>,
    ) -> StoreResult<(crate::traces::Trace, Option<crate::traces::Trace>)> {
        traces::change(&self.pool, by, id, change, now).await
    }

    async fn attach_to_trace(
        &self,
        by: &AuditWho,
        id: i64,
        file: &crate::traces::NewAttachment<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<crate::traces::Attachment> {
        traces::attach(&self.pool, by, id, file, now).await
    }

    async fn trace_attachments(&self, id: i64) -> StoreResult<Vec<crate::traces::Attachment>> {
        traces::attachments(&self.pool, id).await
    }

    async fn trace_attachment(
        &self,
        trace_id: i64,
        id: i64,
    ) -> StoreResult<Option<(crate::traces::Attachment, Vec<u8>)>> {
        traces::attachment(&self.pool, trace_id, id).await
    }

    async fn due_trace_reminders(
        &self,
        now: DateTime<Utc>,
        again: chrono::Duration,
    ) -> StoreResult<Vec<i64>> {
        traces::due_reminders(&self.pool, now, again).await
    }

    async fn remind_trace(
        &self,
        id: i64,
        now: DateTime<Utc>,
        again: chrono::Duration,
    ) -> StoreResult<Option<armstrace_core::trace::Late>> {
        traces::remind(&self.pool, id, now, again).await
    }

    async fn changes_after(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, FirearmId)>> {
        Ok(sqlx::query_as(
            "SELECT seq, firearm_id FROM firearm_changes WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    // From where the index's first read comes, so that the feed replays from no later than
    // what that read saw.
    async fn feed_head(&self) -> StoreResult<i64> {
        let newest = sqlx::query_scalar::<_, Option<i64>>("SELECT max(seq) FROM firearm_changes")
            .fetch_one(&self.reader)
            .await?
            .unwrap_or(0);
        // A feed pruned to its end still stands where it stood.
        Ok(newest.max(self.feed_pruned_through().await?))
    }

    async fn prune_feed(&self, through: i64) -> StoreResult<u64> {
        let mut forgotten = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            // One pruner at a time: the horizon is read and moved under this lock.
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PRUNE_LOCK)
                .execute(&mut *tx)
                .await?;
            let done = crate::feed::pruned_through(
                sqlx::query_scalar(crate::feed::PRUNED_THROUGH)
                    .fetch_optional(&mut *tx)
                    .await?,
            )?;
            if done >= through {
                return Ok(forgotten);
            }
            let next = through.min(done + crate::feed::PRUNE_STEP);
            forgotten += sqlx::query("DELETE FROM firearm_changes WHERE seq <= $1")
                .bind(next)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) \
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
                .fetch_optional(&self.pool)
                .await?,
        )?)
    }

    async fn mark_feed(&self, node: &str, position: Option<i64>) -> StoreResult<i64> {
        const MARK: &str = concat!(
            "INSERT INTO feed_readers (node, position, seen_ms) VALUES ($1, COALESCE($2, \
             GREATEST(COALESCE((SELECT max(seq) FROM firearm_changes), 0), \
             COALESCE((SELECT value::bigint FROM settings \
             WHERE key = 'feed_pruned_through'), 0))), ",
            crate::feed::postgres_now_ms!(),
            ") ON CONFLICT (node) DO UPDATE SET position = excluded.position, \
             seen_ms = excluded.seen_ms RETURNING position"
        );
        Ok(sqlx::query_scalar(MARK)
            .bind(node)
            .bind(position)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn feed_marks(&self, fresh: std::time::Duration) -> StoreResult<Option<i64>> {
        const LAPSED: &str = concat!(
            "DELETE FROM feed_readers WHERE seen_ms < ",
            crate::feed::postgres_now_ms!(),
            " - $1"
        );
        let mut tx = self.pool.begin().await?;
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
        firearms::create(&self.pool, actor, fields, channel).await
    }

    async fn firearm(&self, id: FirearmId) -> StoreResult<Option<Firearm>> {
        firearms::get(&self.pool, id).await
    }

    async fn firearms(&self, ids: &[FirearmId]) -> StoreResult<Vec<Firearm>> {
        firearms::by_ids(&self.pool, ids).await
    }

    async fn update_firearm(
        &self,
        actor: &Actor,
        id: FirearmId,
        fields: &FirearmFields,
        expected_version: Option<i64>,
    ) -> StoreResult<Firearm> {
        firearms::update(&self.pool, actor, id, fields, expected_version).await
    }

    async fn delete_firearm(&self, actor: &Actor, id: FirearmId) -> StoreResult<Firearm> {
        firearms::delete(&self.pool, actor, id).await
    }

    async fn list_firearms(
        &self,
        filter: &FirearmFilter,
        after: Option<FirearmId>,
        limit: u32,
    ) -> StoreResult<Vec<Firearm>> {
        firearms::list(&self.reader, filter, after, limit).await
    }

    async fn count_firearms(&self, filter: &FirearmFilter) -> StoreResult<u64> {
        firearms::count(&self.reader, filter).await
    }

    async fn history(&self, id: FirearmId) -> StoreResult<Vec<HistoryEntry>> {
        firearms::history(&self.pool, id).await
    }

    async fn import_batch(
        &self,
        actor: &Actor,
        rows: &[FirearmFields],
    ) -> StoreResult<BatchOutcome> {
        import::import_batch(&self.pool, actor, rows).await
    }

    fn export(&self, filter: FirearmFilter) -> BoxStream<'_, StoreResult<Firearm>> {
        firearms::export(&self.reader, filter)
    }

    fn live_serials(&self) -> BoxStream<'_, StoreResult<SerialEntry>> {
        firearms::live_serials(&self.reader)
    }
}
