//! Hits, notifications, webhooks and the outbox in PostgreSQL. Hits are made with the check
//! that finds them ([`make_hits`], called by the audit trail's `record`); a change to a hit
//! locks its row; the outbox is claimed with `SKIP LOCKED`, so that the senders of several
//! service processes never take the same delivery.

use armstrace_core::FirearmId;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{Value, json};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::audit::append;
use crate::audit::{AuditEvent, AuditWho};
use crate::hits::{
    Attempt, Delivery, DeliveryLog, DeliveryTarget, Hit, HitChange, HitEvent, HitParty, HitState,
    NewHit, Notification, NotificationFilter, Webhook, hit_summary, merge_roles, stamp,
};
use crate::{StoreError, StoreResult};

const HIT_COLUMNS: &str = "id, check_id, firearm_id, recording_country, confidence, score, \
     match_kind, make_relation, differences, serial_typed, make_typed, operation, username, \
     org_id, organisation, on_behalf_of, state, outcome, created_at, updated_at, version";

/// A record's key facts as a hit's notifications show them, from its row: $1 the record.
const RECORD_FACTS: &str = "SELECT json_build_object('id', id, 'record_id', record_id, \
     'recording_country', recording_country, 'serial_number', serial_number, 'make', make, \
     'model', model, 'firearm_type', firearm_type, 'status', status)::text \
     FROM firearms WHERE id = $1";

/// The organisations to tell of a new hit, with their role, in the order the roles are listed:
/// $1 searching organisation, $2 the country checked for (or NULL), $3 the recording country.
const RECIPIENTS: &str = "SELECT id, name, role FROM ( \
     SELECT 1 AS rank, id, name, 'secretariat' AS role FROM organisations \
        WHERE kind = 'secretariat' \
     UNION ALL SELECT 2, id, name, 'searcher' FROM organisations WHERE id = $1 \
     UNION ALL SELECT 3, id, name, 'on_behalf_of' FROM organisations \
        WHERE kind = 'ncb' AND country = $2 AND state = 'approved' \
     UNION ALL SELECT 4, id, name, 'recording_ncb' FROM organisations \
        WHERE kind = 'ncb' AND country = $3 AND state = 'approved' \
     ) AS found ORDER BY rank, id";

/// A notification's deliveries, to every live webhook of the organisation: $1 notification,
/// $2 time, $3 organisation.
const QUEUE_WEBHOOKS: &str = "INSERT INTO outbox \
     (notification_id, channel, webhook_id, state, next_attempt_at, created_at) \
     SELECT $1, 'webhook', id, 'pending', $2, $2 FROM webhooks \
     WHERE org_id = $3 AND deleted_at IS NULL ORDER BY id";

/// And to its duty address, if it has one: the same parameters.
const QUEUE_EMAIL: &str = "INSERT INTO outbox \
     (notification_id, channel, address, state, next_attempt_at, created_at) \
     SELECT $1, 'email', duty_email, 'pending', $2, $2 FROM organisations \
     WHERE id = $3 AND duty_email IS NOT NULL";

fn hit_from_row(row: &PgRow) -> StoreResult<Hit> {
    let state: String = row.try_get("state")?;
    let differences: String = row.try_get("differences")?;
    Ok(Hit {
        id: row.try_get("id")?,
        check_id: row.try_get("check_id")?,
        firearm_id: row.try_get("firearm_id")?,
        recording_country: row.try_get("recording_country")?,
        confidence: row.try_get("confidence")?,
        score: row.try_get::<f64, _>("score")? as f32,
        match_kind: row.try_get("match_kind")?,
        make_relation: row.try_get("make_relation")?,
        differences: serde_json::from_str(&differences).unwrap_or(Value::Null),
        serial_typed: row.try_get("serial_typed")?,
        make_typed: row.try_get("make_typed")?,
        operation: row.try_get("operation")?,
        username: row.try_get("username")?,
        org_id: row.try_get("org_id")?,
        organisation: row.try_get("organisation")?,
        on_behalf_of: row.try_get("on_behalf_of")?,
        state: HitState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("hit state '{state}'")))?,
        outcome: row.try_get("outcome")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
        parties: Vec::new(),
    })
}

async fn parties(conn: &mut PgConnection, hit_id: i64) -> StoreResult<Vec<HitParty>> {
    let rows = sqlx::query(
        "SELECT p.org_id, o.name, p.roles FROM hit_parties p \
         JOIN organisations o ON o.id = p.org_id WHERE p.hit_id = $1 ORDER BY p.seq",
    )
    .bind(hit_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            let roles: String = row.try_get(2)?;
            Ok(HitParty {
                org_id: row.try_get(0)?,
                organisation: row.try_get(1)?,
                roles: roles.split(',').map(str::to_string).collect(),
            })
        })
        .collect()
}

/// A hit with its parties; with `lock`, its row stays locked until the transaction ends.
async fn hit_in(conn: &mut PgConnection, id: i64, lock: bool) -> StoreResult<Option<Hit>> {
    let lock = if lock { " FOR UPDATE" } else { "" };
    let row = sqlx::query(&format!(
        "SELECT {HIT_COLUMNS} FROM hits WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut hit = hit_from_row(&row)?;
    hit.parties = parties(conn, id).await?;
    Ok(Some(hit))
}

pub(super) async fn hit(pool: &PgPool, id: i64) -> StoreResult<Option<Hit>> {
    let mut conn = pool.acquire().await?;
    hit_in(&mut conn, id, false).await
}

pub(super) async fn hits(
    pool: &PgPool,
    org_id: Option<i64>,
    state: Option<HitState>,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<Hit>> {
    let mut query =
        QueryBuilder::<Postgres>::new(format!("SELECT {HIT_COLUMNS} FROM hits WHERE TRUE"));
    if let Some(org_id) = org_id {
        query
            .push(" AND id IN (SELECT hit_id FROM hit_parties WHERE org_id = ")
            .push_bind(org_id)
            .push(")");
    }
    if let Some(state) = state {
        query.push(" AND state = ").push_bind(state.as_str());
    }
    if let Some(before) = before {
        query.push(" AND id < ").push_bind(before);
    }
    query
        .push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(limit));
    let mut conn = pool.acquire().await?;
    let rows = query.build().fetch_all(&mut *conn).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut hit = hit_from_row(row)?;
        hit.parties = parties(&mut conn, hit.id).await?;
        found.push(hit);
    }
    Ok(found)
}

pub(super) async fn hit_events(pool: &PgPool, hit_id: i64) -> StoreResult<Vec<HitEvent>> {
    let rows = sqlx::query(
        "SELECT id, at, username, org_id, organisation, event, text FROM hit_events \
         WHERE hit_id = $1 ORDER BY id",
    )
    .bind(hit_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(HitEvent {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                username: row.try_get("username")?,
                org_id: row.try_get("org_id")?,
                organisation: row.try_get("organisation")?,
                event: row.try_get("event")?,
                text: row.try_get("text")?,
            })
        })
        .collect()
}

/// Makes each hit of one check, with a notification for each organisation party to it and
/// their deliveries, in the check's transaction; returns (check, record, hit id) per hit made.
/// A hit on a record that does not exist is skipped.
pub(super) async fn make_hits(
    conn: &mut PgConnection,
    hits: &[NewHit],
    at: DateTime<Utc>,
) -> StoreResult<Vec<(String, FirearmId, i64)>> {
    let mut made = Vec::with_capacity(hits.len());
    for hit in hits {
        let facts: Option<String> = sqlx::query_scalar(RECORD_FACTS)
            .bind(hit.firearm_id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(facts) = facts else { continue };
        let record: Value = serde_json::from_str(&facts).unwrap_or_default();
        let recording_country = record["recording_country"].as_str().unwrap_or_default();
        let on_behalf_of = hit.on_behalf_of.map(|c| c.as_str().to_string());
        let org_id = hit.who.org_id.unwrap_or_default();
        let hit_id: i64 = sqlx::query_scalar(
            "INSERT INTO hits (check_id, firearm_id, recording_country, confidence, score, \
             match_kind, make_relation, differences, serial_typed, make_typed, operation, \
             user_id, username, org_id, organisation, on_behalf_of, state, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, 'open', $17, $17) RETURNING id",
        )
        .bind(&hit.check_id)
        .bind(hit.firearm_id)
        .bind(recording_country)
        .bind(&hit.confidence)
        .bind(f64::from(hit.score))
        .bind(&hit.match_kind)
        .bind(&hit.make_relation)
        .bind(hit.differences.to_string())
        .bind(&hit.serial_typed)
        .bind(hit.make_typed.as_deref())
        .bind(hit.operation.as_deref())
        .bind(hit.who.user_id)
        .bind(&hit.who.username)
        .bind(org_id)
        .bind(&hit.who.organisation)
        .bind(on_behalf_of.as_deref())
        .bind(at)
        .fetch_one(&mut *conn)
        .await?;
        let found: Vec<(i64, String, String)> = sqlx::query_as(RECIPIENTS)
            .bind(org_id)
            .bind(on_behalf_of.as_deref())
            .bind(recording_country)
            .fetch_all(&mut *conn)
            .await?;
        let payload = json!({
            "event": "hit.created",
            "hit_id": hit_id,
            "hit": hit_summary(
                hit_id,
                &hit.confidence,
                &hit.serial_typed,
                hit.make_typed.as_deref(),
                &record,
                &hit.who.organisation,
                on_behalf_of.as_deref(),
            ),
            "by": { "username": hit.who.username, "organisation": hit.who.organisation },
            "at": at,
        });
        let mut told = Vec::new();
        for (party, _, roles) in merge_roles(found) {
            sqlx::query("INSERT INTO hit_parties (hit_id, org_id, roles) VALUES ($1, $2, $3)")
                .bind(hit_id)
                .bind(party)
                .bind(roles.join(","))
                .execute(&mut *conn)
                .await?;
            told.push(party);
        }
        notify(conn, &told, About::Hit(hit_id), "hit.created", &payload, at).await?;
        made.push((hit.check_id.clone(), hit.firearm_id, hit_id));
    }
    Ok(made)
}

/// What a notification is about.
#[derive(Debug, Clone, Copy)]
pub(super) enum About {
    /// A hit.
    Hit(i64),
    /// A trace request.
    Trace(i64),
}

/// Notifies every organisation in `orgs` of `event` on what it is `about`, queueing their
/// deliveries.
pub(super) async fn notify(
    conn: &mut PgConnection,
    orgs: &[i64],
    about: About,
    event: &str,
    payload: &Value,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let payload = payload.to_string();
    let (hit_id, trace_id) = match about {
        About::Hit(id) => (Some(id), None),
        About::Trace(id) => (None, Some(id)),
    };
    for org in orgs {
        let notification: i64 = sqlx::query_scalar(
            "INSERT INTO notifications (org_id, hit_id, trace_id, event, payload, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(org)
        .bind(hit_id)
        .bind(trace_id)
        .bind(event)
        .bind(&payload)
        .bind(at)
        .fetch_one(&mut *conn)
        .await?;
        for queue in [QUEUE_WEBHOOKS, QUEUE_EMAIL] {
            sqlx::query(queue)
                .bind(notification)
                .bind(at)
                .bind(org)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

pub(super) async fn change_hit(
    pool: &PgPool,
    by: &AuditWho,
    hit_id: i64,
    change: &HitChange,
) -> StoreResult<Hit> {
    // To the microsecond, as stored: the payload then says the time the change is stored with.
    let now = Utc::now().trunc_subsecs(6);
    let mut tx = pool.begin().await?;
    // Locked: a concurrent change waits, then sees the state this one leaves.
    let hit = hit_in(&mut tx, hit_id, true)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("hit {hit_id}")))?;
    let next = change
        .next_state(hit.state)
        .map_err(|message| StoreError::Conflict {
            code: "hit_state",
            message,
        })?;
    let outcome = match change {
        HitChange::Close { outcome, .. } => Some(outcome.as_str()),
        _ => hit.outcome.as_deref(),
    };
    sqlx::query(
        "UPDATE hits SET state = $1, outcome = $2, updated_at = $3, version = version + 1 \
         WHERE id = $4",
    )
    .bind(next.as_str())
    .bind(outcome)
    .bind(now)
    .bind(hit_id)
    .execute(&mut *tx)
    .await?;
    let org_id = by.org_id.unwrap_or_default();
    sqlx::query(
        "INSERT INTO hit_events (hit_id, at, user_id, username, org_id, organisation, event, \
         text) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(hit_id)
    .bind(now)
    .bind(by.user_id)
    .bind(&by.username)
    .bind(org_id)
    .bind(&by.organisation)
    .bind(change.event())
    .bind(change.text())
    .execute(&mut *tx)
    .await?;
    let record: Option<String> = sqlx::query_scalar(RECORD_FACTS)
        .bind(hit.firearm_id)
        .fetch_optional(&mut *tx)
        .await?;
    let record: Value = record
        .and_then(|r| serde_json::from_str(&r).ok())
        .unwrap_or(Value::Null);
    let payload = json!({
        "event": change.event(),
        "hit_id": hit_id,
        "hit": hit_summary(
            hit_id,
            &hit.confidence,
            &hit.serial_typed,
            hit.make_typed.as_deref(),
            &record,
            &hit.organisation,
            hit.on_behalf_of.as_deref(),
        ),
        "state": next,
        "outcome": outcome,
        "text": change.text(),
        "by": { "username": by.username, "organisation": by.organisation },
        "at": now,
    });
    // Every other party learns of it; the one that made the change knows.
    let others: Vec<i64> = hit
        .parties
        .iter()
        .map(|p| p.org_id)
        .filter(|id| *id != org_id)
        .collect();
    notify(
        &mut tx,
        &others,
        About::Hit(hit_id),
        change.event(),
        &payload,
        now,
    )
    .await?;
    let event = AuditEvent::new(by.clone(), change.event())
        .target(format!("hit:{hit_id}"))
        .detail(
            json!({ "from": hit.state, "to": next, "outcome": outcome, "text": change.text() }),
        );
    append(&mut tx, &[event], now).await?;
    let changed = hit_in(&mut tx, hit_id, false).await?.expect("just changed");
    tx.commit().await?;
    Ok(changed)
}

fn notification_from_row(row: &PgRow) -> StoreResult<Notification> {
    let payload: String = row.try_get("payload")?;
    Ok(Notification {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        hit_id: row.try_get("hit_id")?,
        trace_id: row.try_get("trace_id")?,
        event: row.try_get("event")?,
        data: serde_json::from_str(&payload).unwrap_or(Value::Null),
        created_at: row.try_get("created_at")?,
        read_at: row.try_get("read_at")?,
    })
}

const NOTIFICATION_COLUMNS: &str =
    "id, org_id, hit_id, trace_id, event, payload, created_at, read_at";

pub(super) async fn notifications(
    pool: &PgPool,
    org_id: i64,
    filter: &NotificationFilter,
    offset: u32,
    limit: u32,
) -> StoreResult<Vec<Notification>> {
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE org_id = "
    ));
    query.push_bind(org_id);
    if filter.unread {
        query.push(" AND read_at IS NULL");
    }
    if let Some(hit_id) = filter.hit_id {
        query.push(" AND hit_id = ").push_bind(hit_id);
    }
    if let Some(trace_id) = filter.trace_id {
        query.push(" AND trace_id = ").push_bind(trace_id);
    }
    if let Some(event) = &filter.event {
        query.push(" AND event = ").push_bind(event.clone());
    }
    query
        .push(" ORDER BY read_at IS NOT NULL, id DESC LIMIT ")
        .push_bind(i64::from(limit))
        .push(" OFFSET ")
        .push_bind(i64::from(offset));
    let rows = query.build().fetch_all(pool).await?;
    rows.iter().map(notification_from_row).collect()
}

pub(super) async fn unread(pool: &PgPool, org_id: i64) -> StoreResult<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE org_id = $1 AND read_at IS NULL",
    )
    .bind(org_id)
    .fetch_one(pool)
    .await?;
    Ok(count as u64)
}

pub(super) async fn notifications_after(
    pool: &PgPool,
    org_id: i64,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<Notification>> {
    let rows = sqlx::query(&format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE org_id = $1 AND id > $2 \
         ORDER BY id LIMIT $3"
    ))
    .bind(org_id)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(notification_from_row).collect()
}

pub(super) async fn last_notification(pool: &PgPool) -> StoreResult<i64> {
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM notifications")
        .fetch_one(pool)
        .await?;
    Ok(last.unwrap_or(0))
}

pub(super) async fn mark_read(pool: &PgPool, org_id: i64, ids: Option<&[i64]>) -> StoreResult<u64> {
    let mut query = QueryBuilder::<Postgres>::new("UPDATE notifications SET read_at = ");
    query
        .push_bind(Utc::now())
        .push(" WHERE read_at IS NULL AND org_id = ")
        .push_bind(org_id);
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(0);
        }
        query.push(" AND id = ANY(").push_bind(ids).push(")");
    }
    Ok(query.build().execute(pool).await?.rows_affected())
}

fn webhook_from_row(row: &PgRow) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        url: row.try_get("url")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
    })
}

pub(super) async fn create_webhook(
    pool: &PgPool,
    by: &AuditWho,
    org_id: i64,
    url: &str,
    secret: &str,
) -> StoreResult<Webhook> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    let row = sqlx::query(
        "INSERT INTO webhooks (org_id, url, secret, created_at, created_by) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id, org_id, url, created_at, created_by",
    )
    .bind(org_id)
    .bind(url)
    .bind(secret)
    .bind(now)
    .bind(&by.username)
    .fetch_one(&mut *tx)
    .await?;
    let webhook = webhook_from_row(&row)?;
    // The secret never goes into the trail.
    let event = AuditEvent::new(by.clone(), "webhook.create")
        .target(format!("webhook:{}", webhook.id))
        .detail(json!({ "org_id": org_id, "url": url }));
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(webhook)
}

pub(super) async fn webhooks(pool: &PgPool, org_id: i64) -> StoreResult<Vec<Webhook>> {
    let rows = sqlx::query(
        "SELECT id, org_id, url, created_at, created_by FROM webhooks \
         WHERE org_id = $1 AND deleted_at IS NULL ORDER BY id",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(webhook_from_row).collect()
}

pub(super) async fn webhook(pool: &PgPool, id: i64) -> StoreResult<Option<Webhook>> {
    let row = sqlx::query(
        "SELECT id, org_id, url, created_at, created_by FROM webhooks \
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(webhook_from_row).transpose()
}

pub(super) async fn delete_webhook(pool: &PgPool, by: &AuditWho, id: i64) -> StoreResult<()> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    // The update locks the row: of two removals at once, the second finds it removed.
    let deleted =
        sqlx::query("UPDATE webhooks SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    if deleted == 0 {
        return Err(StoreError::NotFound(format!("webhook {id}")));
    }
    // What was waiting for it will not be sent.
    sqlx::query(
        "UPDATE outbox SET state = 'failed', last_error = 'the webhook was removed' \
         WHERE webhook_id = $1 AND state = 'pending'",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let event = AuditEvent::new(by.clone(), "webhook.delete").target(format!("webhook:{id}"));
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn set_duty_email(
    pool: &PgPool,
    by: &AuditWho,
    org_id: i64,
    address: Option<&str>,
) -> StoreResult<()> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    let changed = sqlx::query("UPDATE organisations SET duty_email = $1 WHERE id = $2")
        .bind(address)
        .bind(org_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(StoreError::NotFound(format!("organisation {org_id}")));
    }
    let event = AuditEvent::new(by.clone(), "org.duty_email")
        .target(format!("org:{org_id}"))
        .detail(json!({ "duty_email": address }));
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn duty_email(pool: &PgPool, org_id: i64) -> StoreResult<Option<String>> {
    let address: Option<Option<String>> =
        sqlx::query_scalar("SELECT duty_email FROM organisations WHERE id = $1")
            .bind(org_id)
            .fetch_optional(pool)
            .await?;
    Ok(address.flatten())
}

/// Claims due deliveries and reads what they deliver, in one statement: `SKIP LOCKED` passes
/// over the rows another sender is claiming this instant, and a row claimed meanwhile fails
/// the due test when it is locked and checked again. $1 the claim's end, $2 now, $3 how many.
const CLAIM: &str = "WITH claimed AS ( \
     UPDATE outbox SET claimed_until = $1 WHERE id IN (SELECT id FROM outbox \
        WHERE state = 'pending' AND next_attempt_at <= $2 \
        AND (claimed_until IS NULL OR claimed_until <= $2) \
        AND (webhook_id IS NULL OR webhook_id IN \
             (SELECT id FROM webhooks WHERE deleted_at IS NULL)) \
        ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id, notification_id, channel, webhook_id, address, attempts, claimed_until) \
     SELECT c.id AS outbox_id, c.channel, c.webhook_id, c.address, c.attempts, c.claimed_until, \
     w.url, w.secret, n.id, n.org_id, n.hit_id, n.trace_id, n.event, n.payload, n.created_at, \
     n.read_at FROM claimed c JOIN notifications n ON n.id = c.notification_id \
     LEFT JOIN webhooks w ON w.id = c.webhook_id ORDER BY c.id";

pub(super) async fn claim_deliveries(
    pool: &PgPool,
    lease: Duration,
    limit: u32,
) -> StoreResult<Vec<Delivery>> {
    let now = Utc::now();
    let rows = sqlx::query(CLAIM)
        .bind(now + lease)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            let channel: String = row.try_get("channel")?;
            let target = match channel.as_str() {
                "webhook" => DeliveryTarget::Webhook {
                    id: row.try_get("webhook_id")?,
                    url: row.try_get("url")?,
                    secret: row.try_get("secret")?,
                },
                "email" => DeliveryTarget::Email {
                    address: row.try_get("address")?,
                },
                other => return Err(StoreError::Corrupt(format!("outbox channel '{other}'"))),
            };
            // The stored end of the claim (to the microsecond), so that it compares equal
            // when the result comes back.
            let claimed_until: DateTime<Utc> = row.try_get("claimed_until")?;
            Ok(Delivery {
                id: row.try_get("outbox_id")?,
                claim: stamp(claimed_until),
                target,
                attempts: row.try_get("attempts")?,
                notification: notification_from_row(row)?,
            })
        })
        .collect()
}

pub(super) async fn finish_deliveries(
    pool: &PgPool,
    attempts: &[(i64, String, Attempt)],
) -> StoreResult<()> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    for (id, claim, attempt) in attempts {
        sqlx::query(
            "INSERT INTO delivery_attempts (outbox_id, at, status, error, millis) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(now)
        .bind(attempt.status.map(i64::from))
        .bind(attempt.error.as_deref())
        .bind(attempt.millis)
        .execute(&mut *tx)
        .await?;
        // A claim that is not one of ours matches no row.
        let claim = DateTime::parse_from_rfc3339(claim)
            .ok()
            .map(|c| c.with_timezone(&Utc));
        if attempt.delivered() {
            // Only while the row is still this claim's: a removed webhook's row stays failed,
            // and a claim that ran out (another sender has the row) records nothing.
            sqlx::query(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, \
                 delivered_at = $1, claimed_until = NULL, last_error = NULL \
                 WHERE id = $2 AND state = 'pending' AND claimed_until = $3",
            )
            .bind(now)
            .bind(id)
            .bind(claim)
            .execute(&mut *tx)
            .await?;
        } else {
            let (state, next) = match attempt.retry_at {
                Some(at) => ("pending", at),
                None => ("failed", now),
            };
            sqlx::query(
                "UPDATE outbox SET state = $1, attempts = attempts + 1, next_attempt_at = $2, \
                 claimed_until = NULL, last_error = $3 \
                 WHERE id = $4 AND state = 'pending' AND claimed_until = $5",
            )
            .bind(state)
            .bind(next)
            .bind(attempt.error.as_deref())
            .bind(id)
            .bind(claim)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn deliveries(
    pool: &PgPool,
    webhook_id: i64,
    limit: u32,
) -> StoreResult<Vec<DeliveryLog>> {
    let rows = sqlx::query(
        "SELECT id, notification_id, state, attempts, next_attempt_at, last_error, \
         delivered_at, created_at FROM outbox WHERE webhook_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(webhook_id)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let state: String = row.try_get("state")?;
            Ok(DeliveryLog {
                id: row.try_get("id")?,
                notification_id: row.try_get("notification_id")?,
                next_attempt_at: if state == "pending" {
                    row.try_get("next_attempt_at")?
                } else {
                    None
                },
                state,
                attempts: row.try_get("attempts")?,
                last_error: row.try_get("last_error")?,
                delivered_at: row.try_get("delivered_at")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .collect()
}
