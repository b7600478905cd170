//! Hits after they are made, notifications, webhooks and the outbox in SQLite. Hits themselves
//! are made with the check, by the audit writer.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::audit::append;
use crate::audit::{AuditEvent, AuditWho};
use crate::hits::{
    Attempt, Delivery, DeliveryLog, DeliveryTarget, Hit, HitChange, HitEvent, HitParty, HitState,
    Notification, NotificationFilter, QUEUE_EMAIL, QUEUE_WEBHOOKS, RECORD_FACTS, Webhook,
    hit_summary, stamp,
};
use crate::{StoreError, StoreResult};

const HIT_COLUMNS: &str = "id, check_id, firearm_id, recording_country, confidence, score, \
     match_kind, make_relation, differences, serial_typed, make_typed, operation, username, \
     org_id, organisation, on_behalf_of, state, outcome, created_at, updated_at, version";

fn hit_from_row(row: &SqliteRow) -> StoreResult<Hit> {
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

async fn parties(conn: &mut SqliteConnection, hit_id: i64) -> StoreResult<Vec<HitParty>> {
    let rows = sqlx::query(
        "SELECT p.org_id, o.name, p.roles FROM hit_parties p \
         JOIN organisations o ON o.id = p.org_id WHERE p.hit_id = ? ORDER BY p.rowid",
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

async fn hit_in(conn: &mut SqliteConnection, id: i64) -> StoreResult<Option<Hit>> {
    let row = sqlx::query(&format!("SELECT {HIT_COLUMNS} FROM hits WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut hit = hit_from_row(&row)?;
    hit.parties = parties(conn, id).await?;
    Ok(Some(hit))
}

pub(super) async fn hit(pool: &SqlitePool, id: i64) -> StoreResult<Option<Hit>> {
    let mut conn = pool.acquire().await?;
    hit_in(&mut conn, id).await
}

pub(super) async fn hits(
    pool: &SqlitePool,
    org_id: Option<i64>,
    state: Option<HitState>,
    before: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<Hit>> {
    let mut query = QueryBuilder::<Sqlite>::new(format!("SELECT {HIT_COLUMNS} FROM hits WHERE 1"));
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

pub(super) async fn hit_events(pool: &SqlitePool, hit_id: i64) -> StoreResult<Vec<HitEvent>> {
    let rows = sqlx::query(
        "SELECT id, at, username, org_id, organisation, event, text FROM hit_events \
         WHERE hit_id = ? ORDER BY id",
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
    conn: &mut SqliteConnection,
    orgs: &[i64],
    about: About,
    event: &str,
    payload: &Value,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let payload = payload.to_string();
    let at = stamp(at);
    let (hit_id, trace_id) = match about {
        About::Hit(id) => (Some(id), None),
        About::Trace(id) => (None, Some(id)),
    };
    for org in orgs {
        let notification = sqlx::query(
            "INSERT INTO notifications (org_id, hit_id, trace_id, event, payload, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(org)
        .bind(hit_id)
        .bind(trace_id)
        .bind(event)
        .bind(&payload)
        .bind(&at)
        .execute(&mut *conn)
        .await?
        .last_insert_rowid();
        for queue in [QUEUE_WEBHOOKS, QUEUE_EMAIL] {
            sqlx::query(queue)
                .bind(notification)
                .bind(&at)
                .bind(org)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

pub(super) async fn change_hit(
    pool: &SqlitePool,
    by: &AuditWho,
    hit_id: i64,
    change: &HitChange,
) -> StoreResult<Hit> {
    let now = Utc::now();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let hit = hit_in(&mut tx, hit_id)
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
        "UPDATE hits SET state = ?, outcome = ?, updated_at = ?, version = version + 1 \
         WHERE id = ?",
    )
    .bind(next.as_str())
    .bind(outcome)
    .bind(stamp(now))
    .bind(hit_id)
    .execute(&mut *tx)
    .await?;
    let org_id = by.org_id.unwrap_or_default();
    sqlx::query(
        "INSERT INTO hit_events (hit_id, at, user_id, username, org_id, organisation, event, \
         text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(hit_id)
    .bind(stamp(now))
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
    let changed = hit_in(&mut tx, hit_id).await?.expect("just changed");
    tx.commit().await?;
    Ok(changed)
}

fn notification_from_row(row: &SqliteRow) -> StoreResult<Notification> {
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
    pool: &SqlitePool,
    org_id: i64,
    filter: &NotificationFilter,
    offset: u32,
    limit: u32,
) -> StoreResult<Vec<Notification>> {
    let mut query = QueryBuilder::<Sqlite>::new(format!(
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

pub(super) async fn unread(pool: &SqlitePool, org_id: i64) -> StoreResult<u64> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE org_id = ? AND read_at IS NULL",
    )
    .bind(org_id)
    .fetch_one(pool)
    .await?;
    Ok(count as u64)
}

pub(super) async fn notifications_after(
    pool: &SqlitePool,
    org_id: i64,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<Notification>> {
    let rows = sqlx::query(&format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE org_id = ? AND id > ? \
         ORDER BY id LIMIT ?"
    ))
    .bind(org_id)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    rows.iter().map(notification_from_row).collect()
}

pub(super) async fn last_notification(pool: &SqlitePool) -> StoreResult<i64> {
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM notifications")
        .fetch_one(pool)
        .await?;
    Ok(last.unwrap_or(0))
}

pub(super) async fn mark_read(
    pool: &SqlitePool,
    org_id: i64,
    ids: Option<&[i64]>,
) -> StoreResult<u64> {
    let mut query = QueryBuilder::<Sqlite>::new("UPDATE notifications SET read_at = ");
    query
        .push_bind(stamp(Utc::now()))
        .push(" WHERE read_at IS NULL AND org_id = ")
        .push_bind(org_id);
    if let Some(ids) = ids {
        if ids.is_empty() {
            return Ok(0);
        }
        query.push(" AND id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        list.push_unseparated(")");
    }
    Ok(query.build().execute(pool).await?.rows_affected())
}

fn webhook_from_row(row: &SqliteRow) -> StoreResult<Webhook> {
    Ok(Webhook {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        url: row.try_get("url")?,
        created_at: row.try_get("created_at")?,
        created_by: row.try_get("created_by")?,
    })
}

pub(super) async fn create_webhook(
    pool: &SqlitePool,
    by: &AuditWho,
    org_id: i64,
    url: &str,
    secret: &str,
) -> StoreResult<Webhook> {
    let now = Utc::now();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let row = sqlx::query(
        "INSERT INTO webhooks (org_id, url, secret, created_at, created_by) \
         VALUES (?, ?, ?, ?, ?) RETURNING id, org_id, url, created_at, created_by",
    )
    .bind(org_id)
    .bind(url)
    .bind(secret)
    .bind(stamp(now))
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

pub(super) async fn webhooks(pool: &SqlitePool, org_id: i64) -> StoreResult<Vec<Webhook>> {
    let rows = sqlx::query(
        "SELECT id, org_id, url, created_at, created_by FROM webhooks \
         WHERE org_id = ? AND deleted_at IS NULL ORDER BY id",
    )
    .bind(org_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(webhook_from_row).collect()
}

pub(super) async fn webhook(pool: &SqlitePool, id: i64) -> StoreResult<Option<Webhook>> {
    let row = sqlx::query(
        "SELECT id, org_id, url, created_at, created_by FROM webhooks \
         WHERE id = ? AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(webhook_from_row).transpose()
}

pub(super) async fn delete_webhook(pool: &SqlitePool, by: &AuditWho, id: i64) -> StoreResult<()> {
    let now = Utc::now();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let deleted =
        sqlx::query("UPDATE webhooks SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
            .bind(stamp(now))
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
         WHERE webhook_id = ? AND state = 'pending'",
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
    pool: &SqlitePool,
    by: &AuditWho,
    org_id: i64,
    address: Option<&str>,
) -> StoreResult<()> {
    let now = Utc::now();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let changed = sqlx::query("UPDATE organisations SET duty_email = ? WHERE id = ?")
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

pub(super) async fn duty_email(pool: &SqlitePool, org_id: i64) -> StoreResult<Option<String>> {
    let address: Option<Option<String>> =
        sqlx::query_scalar("SELECT duty_email FROM organisations WHERE id = ?")
            .bind(org_id)
            .fetch_optional(pool)
            .await?;
    Ok(address.flatten())
}

pub(super) async fn claim_deliveries(
    pool: &SqlitePool,
    lease: Duration,
    limit: u32,
) -> StoreResult<Vec<Delivery>> {
    let now = Utc::now();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let claim = stamp(now + lease);
    let rows = sqlx::query(
        "UPDATE outbox SET claimed_until = ?1 WHERE id IN (SELECT id FROM outbox \
         WHERE state = 'pending' AND next_attempt_at <= ?2 \
         AND (claimed_until IS NULL OR claimed_until <= ?2) \
         AND (webhook_id IS NULL OR webhook_id IN \
              (SELECT id FROM webhooks WHERE deleted_at IS NULL)) \
         ORDER BY id LIMIT ?3) \
         RETURNING id, notification_id, channel, webhook_id, address, attempts",
    )
    .bind(&claim)
    .bind(stamp(now))
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        let channel: String = row.try_get("channel")?;
        let target = match channel.as_str() {
            "webhook" => {
                let webhook_id: i64 = row.try_get("webhook_id")?;
                let hook = sqlx::query("SELECT url, secret FROM webhooks WHERE id = ?")
                    .bind(webhook_id)
                    .fetch_one(&mut *tx)
                    .await?;
                DeliveryTarget::Webhook {
                    id: webhook_id,
                    url: hook.try_get(0)?,
                    secret: hook.try_get(1)?,
                }
            }
            "email" => DeliveryTarget::Email {
                address: row.try_get("address")?,
            },
            other => return Err(StoreError::Corrupt(format!("outbox channel '{other}'"))),
        };
        let notification = sqlx::query(&format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?"
        ))
        .bind(row.try_get::<i64, _>("notification_id")?)
        .fetch_one(&mut *tx)
        .await?;
        claimed.push(Delivery {
            id,
            claim: claim.clone(),
            target,
            attempts: row.try_get("attempts")?,
            notification: notification_from_row(&notification)?,
        });
    }
    tx.commit().await?;
    claimed.sort_by_key(|d| d.id);
    Ok(claimed)
}

pub(super) async fn finish_deliveries(
    pool: &SqlitePool,
    attempts: &[(i64, String, Attempt)],
) -> StoreResult<()> {
    let now = stamp(Utc::now());
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for (id, claim, attempt) in attempts {
        sqlx::query(
            "INSERT INTO delivery_attempts (outbox_id, at, status, error, millis) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&now)
        .bind(attempt.status.map(i64::from))
        .bind(attempt.error.as_deref())
        .bind(attempt.millis)
        .execute(&mut *tx)
        .await?;
        if attempt.delivered() {
            // Only while the row is still this claim's: a removed webhook's row stays failed,
            // and a claim that ran out (another sender has the row) records nothing.
            sqlx::query(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, \
                 delivered_at = ?, claimed_until = NULL, last_error = NULL \
                 WHERE id = ? AND state = 'pending' AND claimed_until = ?",
            )
            .bind(&now)
            .bind(id)
            .bind(claim)
            .execute(&mut *tx)
            .await?;
        } else {
            let (state, next) = match attempt.retry_at {
                Some(at) => ("pending", stamp(at)),
                None => ("failed", now.clone()),
            };
            sqlx::query(
                "UPDATE outbox SET state = ?, attempts = attempts + 1, next_attempt_at = ?, \
                 claimed_until = NULL, last_error = ? \
                 WHERE id = ? AND state = 'pending' AND claimed_until = ?",
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
    pool: &SqlitePool,
    webhook_id: i64,
    limit: u32,
) -> StoreResult<Vec<DeliveryLog>> {
    let rows = sqlx::query(
        "SELECT id, notification_id, state, attempts, next_attempt_at, last_error, \
         delivered_at, created_at FROM outbox WHERE webhook_id = ? ORDER BY id DESC LIMIT ?",
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
