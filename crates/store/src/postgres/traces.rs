//! Trace requests in PostgreSQL: each change is one transaction that locks the request's row
//! (and, for a change, its chain's first row before it), checks the move against the status it
//! finds, writes the timeline, notifies the other parties (with their deliveries queued) and
//! appends to the audit trail. Rows are always locked before the audit trail's advisory lock.

use armstrace_core::CountryCode;
use armstrace_core::trace::{Deadlines, Late, Priority, TraceAction, TraceStatus};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::audit::append;
use super::hits::{About, notify};
use crate::audit::{AuditEvent, AuditWho};
use crate::traces::{
    Attachment, Direction, FROM_TRACES, NewAttachment, NewTrace, TRACE_COLUMNS, Trace, TraceChange,
    TraceEvent, TraceFilter, TraceRow, TraceScope, conflict, corrupt, payload,
};
use crate::{StoreError, StoreResult};

fn trace_from_row(row: &PgRow) -> StoreResult<Trace> {
    Trace::try_from(<TraceRow as sqlx::FromRow<PgRow>>::from_row(row)?)
}

async fn trace_in(conn: &mut PgConnection, id: i64) -> StoreResult<Option<Trace>> {
    let row = sqlx::query(&format!(
        "SELECT {TRACE_COLUMNS} {FROM_TRACES} WHERE t.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(trace_from_row).transpose()
}

/// The request `id`, its row locked until the transaction ends: two service processes cannot
/// both act on the status they read.
async fn trace_locked(conn: &mut PgConnection, id: i64) -> StoreResult<Option<Trace>> {
    let row = sqlx::query(&format!(
        "SELECT {TRACE_COLUMNS} {FROM_TRACES} WHERE t.id = $1 FOR UPDATE OF t"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(trace_from_row).transpose()
}

/// Locks the first request of `id`'s chain until the transaction ends. Every change takes it
/// before the request's own row, so a close (which ends the requests forwarded from it) and a
/// forward (which adds one) on the same chain never interleave.
async fn lock_chain(conn: &mut PgConnection, id: i64) -> StoreResult<()> {
    sqlx::query(
        "SELECT f.id FROM traces f WHERE f.id = (SELECT t.chain_id FROM traces t WHERE t.id = $1) \
         FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(())
}

pub(super) async fn trace(pool: &PgPool, id: i64) -> StoreResult<Option<Trace>> {
    let mut conn = pool.acquire().await?;
    trace_in(&mut conn, id).await
}

async fn chain_in(conn: &mut PgConnection, chain_id: i64) -> StoreResult<Vec<Trace>> {
    let rows = sqlx::query(&format!(
        "SELECT {TRACE_COLUMNS} {FROM_TRACES} WHERE t.chain_id = $1 ORDER BY t.id"
    ))
    .bind(chain_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(trace_from_row).collect()
}

/// Every request of a chain, their rows locked until the transaction ends.
async fn chain_locked(conn: &mut PgConnection, chain_id: i64) -> StoreResult<Vec<Trace>> {
    let rows = sqlx::query(&format!(
        "SELECT {TRACE_COLUMNS} {FROM_TRACES} WHERE t.chain_id = $1 ORDER BY t.id FOR UPDATE OF t"
    ))
    .bind(chain_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(trace_from_row).collect()
}

pub(super) async fn chain(pool: &PgPool, chain_id: i64) -> StoreResult<Vec<Trace>> {
    let mut conn = pool.acquire().await?;
    chain_in(&mut conn, chain_id).await
}

/// The first moment of `day`, UTC.
fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// Restricts `query` to what `scope` may see: drafts to their writer and its NCB; sent requests
/// to everyone on their chain (each request's asking organisation, the asking country's NCB and
/// the asked country's NCB).
fn push_scope(query: &mut QueryBuilder<'_, Postgres>, scope: &TraceScope) {
    let TraceScope::Organisation { org_id, ncb_of } = scope else {
        return;
    };
    let ncb = ncb_of.map(|c| c.as_str().to_string());
    query
        .push(" AND ((t.status = 'draft' AND (t.requester_org_id = ")
        .push_bind(*org_id)
        .push(" OR t.requester_country = ")
        .push_bind(ncb.clone())
        .push(
            ")) OR (t.status != 'draft' AND t.chain_id IN (SELECT x.chain_id FROM traces x \
               WHERE x.status != 'draft' AND (x.requester_org_id = ",
        )
        .push_bind(*org_id)
        .push(" OR x.requester_country = ")
        .push_bind(ncb.clone())
        .push(" OR x.to_country = ")
        .push_bind(ncb)
        .push("))))");
}

pub(super) async fn list(pool: &PgPool, filter: &TraceFilter) -> StoreResult<Vec<Trace>> {
    let mut query =
        QueryBuilder::<Postgres>::new(format!("SELECT {TRACE_COLUMNS} {FROM_TRACES} WHERE TRUE"));
    push_scope(&mut query, &filter.scope);
    if let (Some(direction), TraceScope::Organisation { org_id, ncb_of }) =
        (filter.direction, &filter.scope)
    {
        let ncb = ncb_of.map(|c| c.as_str().to_string());
        match direction {
            Direction::Outgoing => {
                query
                    .push(" AND (t.requester_org_id = ")
                    .push_bind(*org_id)
                    .push(" OR t.requester_country = ")
                    .push_bind(ncb)
                    .push(")");
            }
            Direction::Incoming => {
                query
                    .push(" AND t.status != 'draft' AND t.to_country = ")
                    .push_bind(ncb);
            }
        }
    }
    if let Some(status) = filter.status {
        query.push(" AND t.status = ").push_bind(status.as_str());
    }
    if let Some(priority) = filter.priority {
        query
            .push(" AND t.priority = ")
            .push_bind(priority.as_str());
    }
    if let Some(now) = filter.overdue_at {
        query
            .push(" AND ((t.status = 'sent' AND t.acknowledge_by < ")
            .push_bind(now)
            .push(") OR (t.status IN ('sent', 'acknowledged') AND t.answer_by < ")
            .push_bind(now)
            .push("))");
    }
    if let Some(country) = filter.country {
        let country = country.as_str().to_string();
        query
            .push(" AND (t.requester_country = ")
            .push_bind(country.clone())
            .push(" OR t.to_country = ")
            .push_bind(country)
            .push(")");
    }
    if let Some(from) = filter.from {
        query
            .push(" AND t.created_at >= ")
            .push_bind(midnight(from));
    }
    if let Some(to) = filter.to {
        // Every time of that day comes before the next day's midnight, UTC.
        let next = to.succ_opt().unwrap_or(to);
        query.push(" AND t.created_at < ").push_bind(midnight(next));
    }
    if let Some(before) = filter.before {
        query.push(" AND t.id < ").push_bind(before);
    }
    query
        .push(" ORDER BY t.id DESC LIMIT ")
        .push_bind(i64::from(filter.limit));
    let rows = query.build().fetch_all(pool).await?;
    rows.iter().map(trace_from_row).collect()
}

pub(super) async fn events(pool: &PgPool, trace_id: i64) -> StoreResult<Vec<TraceEvent>> {
    let rows = sqlx::query(
        "SELECT id, at, username, organisation, event, status, text, data FROM trace_events \
         WHERE trace_id = $1 ORDER BY id",
    )
    .bind(trace_id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let status: String = row.try_get("status")?;
            let data: Option<String> = row.try_get("data")?;
            Ok(TraceEvent {
                id: row.try_get("id")?,
                at: row.try_get("at")?,
                username: row.try_get("username")?,
                organisation: row.try_get("organisation")?,
                event: row.try_get("event")?,
                status: TraceStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
                text: row.try_get("text")?,
                data: data.and_then(|d| serde_json::from_str(&d).ok()),
            })
        })
        .collect()
}

/// One step of the timeline.
struct Step<'a> {
    event: &'a str,
    status: TraceStatus,
    text: Option<&'a str>,
    data: Option<Value>,
}

async fn record_step(
    conn: &mut PgConnection,
    by: &AuditWho,
    trace_id: i64,
    step: &Step<'_>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO trace_events (trace_id, at, user_id, username, org_id, organisation, event, \
         status, text, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(trace_id)
    .bind(now)
    .bind(by.user_id)
    .bind(&by.username)
    .bind(by.org_id)
    .bind(&by.organisation)
    .bind(step.event)
    .bind(step.status.as_str())
    .bind(step.text)
    .bind(step.data.as_ref().map(Value::to_string))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The approved NCBs of `country`.
async fn ncbs(conn: &mut PgConnection, country: Option<CountryCode>) -> StoreResult<Vec<i64>> {
    let Some(country) = country else {
        return Ok(Vec::new());
    };
    Ok(sqlx::query_scalar(
        "SELECT id FROM organisations WHERE kind = 'ncb' AND country = $1 AND state = 'approved'",
    )
    .bind(country.as_str())
    .fetch_all(&mut *conn)
    .await?)
}

/// Who hears of a change to `trace`: its asking organisation, the NCBs of the asked country,
/// and the asking organisations further up its chain (with `with_ncbs`, the asking country's
/// NCBs as well); never the organisation that made the change.
async fn parties(
    conn: &mut PgConnection,
    trace: &Trace,
    with_ncbs: bool,
    except: Option<i64>,
) -> StoreResult<Vec<i64>> {
    let mut orgs = vec![trace.requester_org_id];
    orgs.extend(ncbs(conn, trace.to_country).await?);
    if with_ncbs {
        orgs.extend(ncbs(conn, Some(trace.requester_country)).await?);
    }
    let up: Vec<(i64, String)> = sqlx::query_as(
        "SELECT requester_org_id, requester_country FROM traces \
         WHERE chain_id = $1 AND id < $2 ORDER BY id",
    )
    .bind(trace.chain_id)
    .bind(trace.id)
    .fetch_all(&mut *conn)
    .await?;
    for (org, country) in up {
        orgs.push(org);
        if with_ncbs {
            let country = CountryCode::parse(&country).map_err(|_| corrupt("country", &country))?;
            orgs.extend(ncbs(conn, Some(country)).await?);
        }
    }
    let mut seen = std::collections::HashSet::new();
    orgs.retain(|o| Some(*o) != except && seen.insert(*o));
    Ok(orgs)
}

/// Tells `orgs` of `event` on `trace`.
async fn tell(
    conn: &mut PgConnection,
    orgs: &[i64],
    trace: &Trace,
    event: &str,
    by: &AuditWho,
    text: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let payload = payload(trace, event, by, text, now);
    notify(conn, orgs, About::Trace(trace.id), event, &payload, now).await
}

pub(super) async fn create(
    pool: &PgPool,
    by: &AuditWho,
    new: &NewTrace,
    now: DateTime<Utc>,
) -> StoreResult<Trace> {
    let org_id = by
        .org_id
        .ok_or_else(|| StoreError::NotFound("the requester's organisation".into()))?;
    let priority = new.content.priority.unwrap_or(Priority::Routine);
    let mut tx = pool.begin().await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO traces (chain_id, requester_org_id, requester_country, to_country, status, \
         priority, content, created_by, created_at, updated_at) \
         VALUES (0, $1, $2, $3, 'draft', $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(org_id)
    .bind(new.requester_country.as_str())
    .bind(new.to_country.map(|c| c.as_str().to_string()))
    .bind(priority.as_str())
    .bind(serde_json::to_string(&new.content).expect("content serialises"))
    .bind(&by.username)
    .bind(now)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE traces SET chain_id = id WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let step = Step {
        event: "trace.created",
        status: TraceStatus::Draft,
        text: None,
        data: None,
    };
    record_step(&mut tx, by, id, &step, now).await?;
    let event = AuditEvent::new(by.clone(), "trace.create")
        .target(format!("trace:{id}"))
        .detail(json!({ "to_country": new.to_country, "content": new.content }));
    append(&mut tx, &[event], now).await?;
    let trace = trace_in(&mut tx, id).await?.expect("just written");
    tx.commit().await?;
    Ok(trace)
}

/// What a change made: the request as it now stands, and the linked request a forward started.
pub type Changed = (Trace, Option<Trace>);

pub(super) async fn change(
    pool: &PgPool,
    by: &AuditWho,
    id: i64,
    change: &TraceChange,
    now: DateTime<Utc>,
) -> StoreResult<Changed> {
    let mut tx = pool.begin().await?;
    lock_chain(&mut tx, id).await?;
    let trace = trace_locked(&mut tx, id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("trace {id}")))?;
    let event = change.event();
    let mut linked = None;
    let (status, text, data) = match change {
        TraceChange::Edit {
            to_country,
            content,
            base_version,
        } => {
            if !trace.status.editable() {
                return Err(conflict(
                    "only a draft, or a request sent back for more information, can be changed",
                ));
            }
            if base_version.is_some_and(|v| v != trace.version) {
                return Err(StoreError::Conflict {
                    code: "stale_version",
                    message: format!(
                        "the request changed since version {}; it is now version {}",
                        base_version.unwrap_or_default(),
                        trace.version
                    ),
                });
            }
            if trace.status != TraceStatus::Draft && *to_country != trace.to_country {
                return Err(conflict(
                    "the country asked cannot change once the request was sent",
                ));
            }
            let priority = content.priority.unwrap_or(Priority::Routine);
            sqlx::query(
                "UPDATE traces SET to_country = $1, content = $2, priority = $3 WHERE id = $4",
            )
            .bind(to_country.map(|c| c.as_str().to_string()))
            .bind(serde_json::to_string(content).expect("content serialises"))
            .bind(priority.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            (
                trace.status,
                None,
                Some(json!({ "content": content, "to_country": to_country })),
            )
        }
        TraceChange::Message { text } => {
            match trace.status {
                TraceStatus::Draft => {
                    return Err(conflict("a draft has no recipient to write to yet"));
                }
                TraceStatus::Closed => return Err(conflict("the request is closed")),
                _ => {}
            }
            (trace.status, Some(text.as_str()), None)
        }
        TraceChange::Move {
            action,
            text,
            deadlines,
            answer,
            forward_to,
        } => {
            let next = action.next(trace.status).map_err(conflict)?;
            let mut data = None;
            match action {
                TraceAction::Send => {
                    // Checked again here: a change made since the service checked it must
                    // not send a request nobody can act on.
                    let blocking = trace
                        .content
                        .missing(Some(trace.requester_country))
                        .iter()
                        .any(|m| m.blocking);
                    if trace.to_country.is_none() || blocking {
                        return Err(StoreError::Conflict {
                            code: "trace_incomplete",
                            message: "the request changed and lacks what the recipient needs; \
                                      read it again"
                                .into(),
                        });
                    }
                    let deadlines = deadlines.expect("a sending carries its deadlines");
                    sqlx::query(
                        "UPDATE traces SET sent_at = $1, acknowledge_by = $2, answer_by = $3, \
                         reminded = NULL, reminded_at = NULL WHERE id = $4",
                    )
                    .bind(now)
                    .bind(deadlines.acknowledge_by)
                    .bind(deadlines.answer_by)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    data = Some(json!({ "deadlines": deadlines }));
                }
                TraceAction::Answer => {
                    let answer = answer.as_ref().expect("an answer carries the answer");
                    sqlx::query("UPDATE traces SET answer = $1 WHERE id = $2")
                        .bind(serde_json::to_string(answer).expect("answer serialises"))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    data = Some(json!({ "answer": answer }));
                }
                TraceAction::Forward => {
                    let (to, deadlines) = forward_to.expect("a forward names the next country");
                    let next_trace =
                        start_linked(&mut tx, by, &trace, to, &deadlines, text.as_deref(), now)
                            .await?;
                    data = Some(json!({ "linked_trace_id": next_trace.id, "to_country": to }));
                    linked = Some(next_trace);
                }
                _ => {}
            }
            (next, text.as_deref(), data)
        }
    };
    sqlx::query(
        "UPDATE traces SET status = $1, updated_at = $2, version = version + 1 WHERE id = $3",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let step = Step {
        event,
        status,
        text,
        data: data.clone(),
    };
    record_step(&mut tx, by, id, &step, now).await?;
    let changed = trace_in(&mut tx, id).await?.expect("just changed");
    if changed.status != TraceStatus::Draft {
        let others = parties(&mut tx, &changed, false, by.org_id).await?;
        tell(&mut tx, &others, &changed, event, by, text, now).await?;
    }
    if status == TraceStatus::Closed {
        close_linked(&mut tx, by, &changed, now).await?;
    }
    let audit = AuditEvent::new(by.clone(), event)
        .target(format!("trace:{id}"))
        .detail(json!({ "from": trace.status, "to": status, "text": text, "data": data }));
    append(&mut tx, &[audit], now).await?;
    tx.commit().await?;
    Ok((changed, linked))
}

/// Closes, with the request `closed`, every request forwarded from it (and on from those)
/// that is still open: the requester ended the case, so no one down the chain works on it or is
/// reminded of it. Each is closed on its own timeline, told to its parties and audited.
async fn close_linked(
    conn: &mut PgConnection,
    by: &AuditWho,
    closed: &Trace,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    // Every row it may close is locked before the first audit append takes the chain's
    // advisory lock: a reminder or an attachment holding one of them, and waiting for that
    // lock, would otherwise deadlock with this close.
    let chain = chain_locked(conn, closed.chain_id).await?;
    let mut ended = vec![closed.id];
    let text = "closed with the request it was forwarded from";
    for linked in &chain {
        let below = linked.parent_id.is_some_and(|p| ended.contains(&p));
        if !below {
            continue;
        }
        ended.push(linked.id);
        if linked.status == TraceStatus::Closed {
            continue;
        }
        sqlx::query(
            "UPDATE traces SET status = 'closed', updated_at = $1, version = version + 1 \
             WHERE id = $2",
        )
        .bind(now)
        .bind(linked.id)
        .execute(&mut *conn)
        .await?;
        let step = Step {
            event: "trace.closed",
            status: TraceStatus::Closed,
            text: Some(text),
            data: Some(json!({ "closed_with": closed.id })),
        };
        record_step(conn, by, linked.id, &step, now).await?;
        let now_closed = trace_in(conn, linked.id).await?.expect("just closed");
        let others = parties(conn, &now_closed, false, by.org_id).await?;
        tell(
            conn,
            &others,
            &now_closed,
            "trace.closed",
            by,
            Some(text),
            now,
        )
        .await?;
        let audit = AuditEvent::new(by.clone(), "trace.closed")
            .target(format!("trace:{}", linked.id))
            .detail(json!({ "from": linked.status, "to": TraceStatus::Closed, "closed_with": closed.id }));
        append(conn, &[audit], now).await?;
    }
    Ok(())
}

/// Starts the request a forward passes on: from the forwarding NCB to `to`, sent at once, in
/// the same chain.
async fn start_linked(
    conn: &mut PgConnection,
    by: &AuditWho,
    from: &Trace,
    to: CountryCode,
    deadlines: &Deadlines,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<Trace> {
    let org_id = by
        .org_id
        .ok_or_else(|| StoreError::NotFound("the forwarding organisation".into()))?;
    let forwarding_country = from
        .to_country
        .ok_or_else(|| conflict("a request with no country asked cannot be forwarded"))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO traces (chain_id, parent_id, requester_org_id, requester_country, \
         to_country, status, priority, content, created_by, created_at, updated_at, sent_at, \
         acknowledge_by, answer_by) \
         VALUES ($1, $2, $3, $4, $5, 'sent', $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(from.chain_id)
    .bind(from.id)
    .bind(org_id)
    .bind(forwarding_country.as_str())
    .bind(to.as_str())
    .bind(from.priority.as_str())
    .bind(serde_json::to_string(&from.content).expect("content serialises"))
    .bind(&by.username)
    .bind(now)
    .bind(now)
    .bind(now)
    .bind(deadlines.acknowledge_by)
    .bind(deadlines.answer_by)
    .fetch_one(&mut *conn)
    .await?;
    let step = Step {
        event: "trace.sent",
        status: TraceStatus::Sent,
        text: note,
        data: Some(json!({ "forwarded_from": from.id, "deadlines": deadlines })),
    };
    record_step(conn, by, id, &step, now).await?;
    let linked = trace_in(conn, id).await?.expect("just written");
    let recipients = ncbs(conn, Some(to)).await?;
    tell(conn, &recipients, &linked, "trace.sent", by, note, now).await?;
    let audit = AuditEvent::new(by.clone(), "trace.create")
        .target(format!("trace:{id}"))
        .detail(json!({ "forwarded_from": from.id, "to_country": to }));
    append(conn, &[audit], now).await?;
    Ok(linked)
}

const ATTACHMENT_COLUMNS: &str =
    "id, trace_id, name, content_type, size, sha256, username, organisation, created_at";

fn attachment_from_row(row: &PgRow) -> StoreResult<Attachment> {
    Ok(Attachment {
        id: row.try_get("id")?,
        trace_id: row.try_get("trace_id")?,
        name: row.try_get("name")?,
        content_type: row.try_get("content_type")?,
        size: row.try_get("size")?,
        sha256: row.try_get("sha256")?,
        username: row.try_get("username")?,
        organisation: row.try_get("organisation")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(super) async fn attach(
    pool: &PgPool,
    by: &AuditWho,
    trace_id: i64,
    file: &NewAttachment<'_>,
    now: DateTime<Utc>,
) -> StoreResult<Attachment> {
    let mut tx = pool.begin().await?;
    let trace = trace_locked(&mut tx, trace_id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("trace {trace_id}")))?;
    if trace.status == TraceStatus::Closed {
        return Err(conflict("the request is closed"));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO trace_attachments (trace_id, name, content_type, size, sha256, data, \
         username, organisation, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         RETURNING id",
    )
    .bind(trace_id)
    .bind(file.name)
    .bind(file.content_type)
    .bind(file.data.len() as i64)
    .bind(file.sha256)
    .bind(file.data)
    .bind(&by.username)
    .bind(&by.organisation)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let data = json!({
        "attachment_id": id,
        "name": file.name,
        "content_type": file.content_type,
        "size": file.data.len(),
        "sha256": file.sha256,
    });
    let step = Step {
        event: "trace.attachment",
        status: trace.status,
        text: Some(file.name),
        data: Some(data.clone()),
    };
    record_step(&mut tx, by, trace_id, &step, now).await?;
    sqlx::query("UPDATE traces SET updated_at = $1, version = version + 1 WHERE id = $2")
        .bind(now)
        .bind(trace_id)
        .execute(&mut *tx)
        .await?;
    if trace.status != TraceStatus::Draft {
        let others = parties(&mut tx, &trace, false, by.org_id).await?;
        tell(
            &mut tx,
            &others,
            &trace,
            "trace.attachment",
            by,
            Some(file.name),
            now,
        )
        .await?;
    }
    let audit = AuditEvent::new(by.clone(), "trace.attachment")
        .target(format!("trace:{trace_id}"))
        .detail(data);
    append(&mut tx, &[audit], now).await?;
    let row = sqlx::query(&format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM trace_attachments WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let attachment = attachment_from_row(&row)?;
    tx.commit().await?;
    Ok(attachment)
}

pub(super) async fn attachments(pool: &PgPool, trace_id: i64) -> StoreResult<Vec<Attachment>> {
    let rows = sqlx::query(&format!(
        "SELECT {ATTACHMENT_COLUMNS} FROM trace_attachments WHERE trace_id = $1 ORDER BY id"
    ))
    .bind(trace_id)
    .fetch_all(pool)
    .await?;
    rows.iter().map(attachment_from_row).collect()
}

pub(super) async fn attachment(
    pool: &PgPool,
    trace_id: i64,
    id: i64,
) -> StoreResult<Option<(Attachment, Vec<u8>)>> {
    let row = sqlx::query(&format!(
        "SELECT {ATTACHMENT_COLUMNS}, data FROM trace_attachments WHERE trace_id = $1 AND id = $2"
    ))
    .bind(trace_id)
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|row| Ok((attachment_from_row(&row)?, row.try_get("data")?)))
        .transpose()
}

/// The requests late at `now` whose parties were not reminded of that lateness, or not since
/// `again`.
pub(super) async fn due_reminders(
    pool: &PgPool,
    now: DateTime<Utc>,
    again: Duration,
) -> StoreResult<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM traces WHERE \
         ((status = 'sent' AND acknowledge_by < $1) \
          OR (status IN ('sent', 'acknowledged') AND answer_by < $1)) \
         AND (reminded_at IS NULL OR reminded_at <= $2 \
              OR (reminded = 'acknowledgement' AND status IN ('sent', 'acknowledged') \
                  AND answer_by < $1)) \
         ORDER BY id LIMIT 500",
    )
    .bind(now)
    .bind(now - again)
    .fetch_all(pool)
    .await?)
}

/// Reminds the parties of `id` and their NCBs that it is late, if it still is and they were not
/// reminded of that since `again`; returns the lateness reminded of.
pub(super) async fn remind(
    pool: &PgPool,
    id: i64,
    now: DateTime<Utc>,
    again: Duration,
) -> StoreResult<Option<Late>> {
    let mut tx = pool.begin().await?;
    let Some(trace) = trace_locked(&mut tx, id).await? else {
        return Ok(None);
    };
    let Some(late) = trace.late(now) else {
        return Ok(None);
    };
    let fresh =
        trace.reminded == Some(late) && trace.reminded_at.is_some_and(|at| at > now - again);
    if fresh {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE traces SET reminded = $1, reminded_at = $2, version = version + 1 WHERE id = $3",
    )
    .bind(late.as_str())
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let by = AuditWho {
        username: "armstrace".into(),
        organisation: "Armstrace deadline reminder".into(),
        ..AuditWho::installation()
    };
    let text = match late {
        Late::Acknowledgement => "not acknowledged in time",
        Late::Answer => "not answered in time",
    };
    let step = Step {
        event: "trace.overdue",
        status: trace.status,
        text: Some(text),
        data: Some(json!({ "late": late, "deadlines": trace.deadlines })),
    };
    record_step(&mut tx, &by, id, &step, now).await?;
    let everyone = parties(&mut tx, &trace, true, None).await?;
    tell(
        &mut tx,
        &everyone,
        &trace,
        "trace.overdue",
        &by,
        Some(text),
        now,
    )
    .await?;
    let audit = AuditEvent::new(by, "trace.overdue")
        .target(format!("trace:{id}"))
        .detail(json!({ "late": late, "deadlines": trace.deadlines }));
    append(&mut tx, &[audit], now).await?;
    tx.commit().await?;
    Ok(Some(late))
}
