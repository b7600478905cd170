//! Firearm records and their history in PostgreSQL, and the change feed (`firearm_changes`)
//! that every write to a record appends to, for the other nodes of a cluster to follow.

use armstrace_core::history::{ChangeKind, FieldChange, HistoryEntry, diff};
use armstrace_core::{Actor, Canonical, Firearm, FirearmFields, FirearmId};
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::postgres::PgPool;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::access::conflict_on_duplicate;
use super::audit::append;
use crate::audit::{AuditEvent, AuditWho};
use crate::paging::paged;
pub(super) use crate::rows::FIELD_COLUMNS;
pub(super) use crate::rows::firearm as firearm_from_row;
pub(super) use crate::rows::serial_list;
use crate::rows::{ALL_COLUMNS, duplicate_record};
use crate::{Channel, FirearmFilter, SerialEntry, StoreError, StoreResult};

/// Who created a record, when and how, in the order [`push_provenance`] binds them.
pub(super) const PROVENANCE_COLUMNS: &str =
    "created_at, created_by, created_channel, updated_at, version";

/// Binds a new record's provenance in [`PROVENANCE_COLUMNS`] order.
pub(super) fn push_provenance<Sep: std::fmt::Display>(
    values: &mut sqlx::query_builder::Separated<'_, '_, Postgres, Sep>,
    actor: &Actor,
    channel: Channel,
    now: DateTime<Utc>,
) {
    values
        .push_bind(now)
        .push_bind(actor.user_id)
        .push_bind(channel.as_str())
        .push_bind(now)
        .push_bind(1_i64);
}

/// Binds a record's content in [`FIELD_COLUMNS`] order.
pub(super) fn push_fields<'a, Sep: std::fmt::Display>(
    values: &mut sqlx::query_builder::Separated<'_, 'a, Postgres, Sep>,
    fields: &'a FirearmFields,
) {
    values
        .push_bind(fields.recording_country.as_str())
        .push_bind(fields.record_id.as_str())
        .push_bind(fields.serial_number.as_str())
        .push_bind(fields.make.as_str())
        .push_bind(fields.model.as_deref())
        .push_bind(fields.calibre.as_deref())
        .push_bind(fields.firearm_type.as_str())
        .push_bind(fields.country_of_manufacture.as_ref().map(|c| c.as_str()))
        .push_bind(fields.status.as_str())
        .push_bind(fields.event_date)
        .push_bind(fields.year_of_manufacture.map(i64::from))
        .push_bind(fields.import_marks.as_deref())
        .push_bind(serial_list(&fields.additional_serials))
        .push_bind(fields.serial_obliterated)
        .push_bind(fields.case_reference.as_deref())
        .push_bind(fields.notes.as_deref())
        .push_bind(fields.canonical.make.as_deref())
        .push_bind(fields.canonical.model.as_deref())
        .push_bind(fields.canonical.calibre.as_deref());
}

/// One history row waiting to be written.
pub(super) struct PendingHistory {
    pub firearm_id: FirearmId,
    pub kind: ChangeKind,
    pub changes: Vec<FieldChange>,
    pub version: i64,
}

/// Writes history rows for `actor`, all in one statement.
pub(super) async fn write_history(
    conn: &mut PgConnection,
    actor: &Actor,
    channel: Channel,
    at: DateTime<Utc>,
    entries: &[PendingHistory],
) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = entries.iter().map(|e| e.firearm_id).collect();
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    let changes: Vec<String> = entries
        .iter()
        .map(|e| serde_json::to_string(&e.changes).expect("values serialise"))
        .collect();
    let versions: Vec<i64> = entries.iter().map(|e| e.version).collect();
    sqlx::query(
        "INSERT INTO firearm_history \
         (firearm_id, at, user_id, username, organisation, kind, channel, changes, version) \
         SELECT e.firearm_id, $5, $6, $7, $8, e.kind, $9, e.changes, e.version \
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) \
              WITH ORDINALITY AS e(firearm_id, kind, changes, version, n) \
         ORDER BY e.n",
    )
    .bind(ids)
    .bind(kinds)
    .bind(changes)
    .bind(versions)
    .bind(at)
    .bind(actor.user_id)
    .bind(actor.username.as_str())
    .bind(actor.org_name.as_str())
    .bind(channel.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The advisory lock a writer holds from its entries in the change feed to its commit.
const FEED_LOCK: i64 = 0x4152_4d53_4645_4544;

/// Appends the records `ids` to the change feed the other nodes of a cluster follow: the last
/// step of a transaction, right before its commit. The feed's lock, held from here to the
/// commit, makes the order of `seq` the order of the commits, so that a node that has read up
/// to some `seq` never finds a lower one committed later.
pub(super) async fn feed_changes(conn: &mut PgConnection, ids: &[FirearmId]) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(FEED_LOCK)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO firearm_changes (firearm_id) SELECT unnest($1::bigint[])")
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn create(
    pool: &PgPool,
    actor: &Actor,
    fields: &FirearmFields,
    channel: Channel,
) -> StoreResult<Firearm> {
    let now = Utc::now();
    let mut insert = QueryBuilder::<Postgres>::new(format!(
        "INSERT INTO firearms ({FIELD_COLUMNS}, {PROVENANCE_COLUMNS}) "
    ));
    insert.push_values([fields], |mut values, fields| {
        push_fields(&mut values, fields);
        push_provenance(&mut values, actor, channel, now);
    });
    insert.push(format!(" RETURNING {ALL_COLUMNS}"));
    let mut tx = pool.begin().await?;
    let row = insert
        .build()
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict_on_duplicate(e, || duplicate_record(fields)))?;
    let firearm = firearm_from_row(&row)?;
    audit_change(&mut tx, actor, "record.create", &firearm, channel, now).await?;
    feed_changes(&mut tx, &[firearm.id]).await?;
    tx.commit().await?;
    Ok(firearm)
}

/// Writes the audit entry of a change to one record.
async fn audit_change(
    conn: &mut PgConnection,
    actor: &Actor,
    action: &str,
    firearm: &Firearm,
    channel: Channel,
    at: DateTime<Utc>,
) -> StoreResult<()> {
    let event = AuditEvent::new(actor, action)
        .target(format!("firearm:{}", firearm.id))
        .detail(serde_json::json!({
            "recording_country": firearm.fields.recording_country,
            "record_id": firearm.fields.record_id.as_str(),
            "version": firearm.version,
            "channel": channel.as_str(),
        }));
    append(conn, &[event], at).await
}

pub(super) async fn get(pool: &PgPool, id: FirearmId) -> StoreResult<Option<Firearm>> {
    let row = sqlx::query(&format!("SELECT {ALL_COLUMNS} FROM firearms WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(firearm_from_row).transpose()
}

pub(super) async fn by_ids(pool: &PgPool, ids: &[FirearmId]) -> StoreResult<Vec<Firearm>> {
    let rows = sqlx::query(&format!(
        "SELECT {ALL_COLUMNS} FROM firearms WHERE id = ANY($1::bigint[])"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await?;
    rows.iter().map(firearm_from_row).collect()
}

/// The live record `id`, locked until the transaction ends so that no other node changes it
/// between this read and the caller's write.
async fn live_for_change(conn: &mut PgConnection, id: FirearmId) -> StoreResult<Firearm> {
    let row = sqlx::query(&format!(
        "SELECT {ALL_COLUMNS} FROM firearms WHERE id = $1 FOR NO KEY UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::NotFound(format!("firearm record {id}")))?;
    let firearm = firearm_from_row(&row)?;
    if firearm.deleted_at.is_some() {
        return Err(StoreError::Conflict {
            code: "deleted",
            message: format!("firearm record {id} was deleted and can no longer be changed"),
        });
    }
    Ok(firearm)
}

pub(super) async fn update(
    pool: &PgPool,
    actor: &Actor,
    id: FirearmId,
    fields: &FirearmFields,
    expected_version: Option<i64>,
) -> StoreResult<Firearm> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    let current = live_for_change(&mut tx, id).await?;
    if let Some(expected) = expected_version.filter(|v| *v != current.version) {
        return Err(StoreError::Conflict {
            code: "stale_version",
            message: format!(
                "firearm record {id} is at version {}, not {expected}; reload it and apply your change again",
                current.version
            ),
        });
    }
    let changes = diff(&current.fields, fields);
    if changes.is_empty() {
        return Ok(current);
    }
    let mut update =
        QueryBuilder::<Postgres>::new(format!("UPDATE firearms SET ({FIELD_COLUMNS}) = ROW("));
    push_fields(&mut update.separated(", "), fields);
    update.push("), updated_at = ");
    update.push_bind(now);
    update.push(", version = version + 1 WHERE id = ");
    update.push_bind(id);
    update.push(format!(" RETURNING {ALL_COLUMNS}"));
    let row = update
        .build()
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict_on_duplicate(e, || duplicate_record(fields)))?;
    let firearm = firearm_from_row(&row)?;
    let entry = PendingHistory {
        firearm_id: id,
        kind: ChangeKind::Updated,
        changes,
        version: firearm.version,
    };
    write_history(&mut tx, actor, Channel::Api, now, &[entry]).await?;
    audit_change(&mut tx, actor, "record.update", &firearm, Channel::Api, now).await?;
    feed_changes(&mut tx, &[id]).await?;
    tx.commit().await?;
    Ok(firearm)
}

pub(super) async fn delete(pool: &PgPool, actor: &Actor, id: FirearmId) -> StoreResult<Firearm> {
    let now = Utc::now();
    let mut tx = pool.begin().await?;
    live_for_change(&mut tx, id).await?;
    let row = sqlx::query(&format!(
        "UPDATE firearms SET deleted_at = $1, updated_at = $1, version = version + 1 \
         WHERE id = $2 RETURNING {ALL_COLUMNS}"
    ))
    .bind(now)
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let firearm = firearm_from_row(&row)?;
    let entry = PendingHistory {
        firearm_id: id,
        kind: ChangeKind::Deleted,
        changes: Vec::new(),
        version: firearm.version,
    };
    write_history(&mut tx, actor, Channel::Api, now, &[entry]).await?;
    audit_change(&mut tx, actor, "record.delete", &firearm, Channel::Api, now).await?;
    feed_changes(&mut tx, &[id]).await?;
    tx.commit().await?;
    Ok(firearm)
}

/// Adds the filter's conditions to a query that already has a `WHERE` clause.
fn push_filter(query: &mut QueryBuilder<'_, Postgres>, filter: &FirearmFilter) {
    if !filter.include_deleted {
        query.push(" AND deleted_at IS NULL");
    }
    if let Some(country) = filter.recording_country {
        query
            .push(" AND recording_country = ")
            .push_bind(country.to_string());
    }
    if let Some(status) = filter.status {
        query.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(make) = &filter.make {
        // Case-insensitive as SQLite's NOCASE, and served by the index on lower(make).
        query
            .push(" AND lower(make) = lower(")
            .push_bind(make.clone())
            .push(")");
    }
}

pub(super) async fn list(
    pool: &PgPool,
    filter: &FirearmFilter,
    after: Option<FirearmId>,
    limit: u32,
) -> StoreResult<Vec<Firearm>> {
    let mut query =
        QueryBuilder::<Postgres>::new(format!("SELECT {ALL_COLUMNS} FROM firearms WHERE id > "));
    query.push_bind(after.unwrap_or(0));
    push_filter(&mut query, filter);
    query
        .push(" ORDER BY id LIMIT ")
        .push_bind(i64::from(limit));
    let rows = query.build().fetch_all(pool).await?;
    rows.iter().map(firearm_from_row).collect()
}

pub(super) async fn count(pool: &PgPool, filter: &FirearmFilter) -> StoreResult<u64> {
    let mut query = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM firearms WHERE TRUE");
    push_filter(&mut query, filter);
    let count: i64 = query.build_query_scalar().fetch_one(pool).await?;
    Ok(count as u64)
}

pub(super) async fn history(pool: &PgPool, id: FirearmId) -> StoreResult<Vec<HistoryEntry>> {
    // The creation is kept on the record; every later change in firearm_history.
    let rows = sqlx::query(
        "SELECT f.created_at AS at, u.username, o.name AS organisation, 'created' AS kind, \
                f.created_channel AS channel, '[]' AS changes, 1::bigint AS version, \
                0::bigint AS entry \
         FROM firearms f JOIN users u ON u.id = f.created_by \
         JOIN organisations o ON o.id = u.org_id WHERE f.id = $1 \
         UNION ALL \
         SELECT at, username, organisation, kind, channel, changes, version, id AS entry \
         FROM firearm_history WHERE firearm_id = $1 \
         ORDER BY entry",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            let changes: String = row.try_get("changes")?;
            Ok(HistoryEntry {
                at: row.try_get("at")?,
                user: row.try_get("username")?,
                organisation: row.try_get("organisation")?,
                kind: ChangeKind::parse(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("history kind '{kind}'")))?,
                channel: row.try_get("channel")?,
                changes: serde_json::from_str(&changes)
                    .map_err(|e| StoreError::Corrupt(format!("history changes: {e}")))?,
                version: row.try_get("version")?,
            })
        })
        .collect()
}

/// Every record matching `filter`, by id.
pub(super) fn export(pool: &PgPool, filter: FirearmFilter) -> BoxStream<'_, StoreResult<Firearm>> {
    const PAGE: u32 = 2000;
    paged(
        PAGE as usize,
        move |after| {
            let filter = filter.clone();
            async move { list(pool, &filter, Some(after), PAGE).await }
        },
        |firearm| firearm.id,
    )
}

pub(super) async fn set_canonical(
    pool: &PgPool,
    by: &AuditWho,
    changes: &[(FirearmId, Canonical)],
) -> StoreResult<()> {
    let now = Utc::now();
    // One statement for all: an id named twice takes its last resolution, as applying the
    // changes one by one would.
    let mut last = std::collections::HashMap::with_capacity(changes.len());
    for (id, canonical) in changes {
        last.insert(*id, canonical);
    }
    let mut resolved: Vec<(FirearmId, &Canonical)> = last.into_iter().collect();
    resolved.sort_unstable_by_key(|(id, _)| *id);
    let ids: Vec<i64> = resolved.iter().map(|(id, _)| *id).collect();
    let makes: Vec<Option<&str>> = resolved.iter().map(|(_, c)| c.make.as_deref()).collect();
    let models: Vec<Option<&str>> = resolved.iter().map(|(_, c)| c.model.as_deref()).collect();
    let calibres: Vec<Option<&str>> = resolved.iter().map(|(_, c)| c.calibre.as_deref()).collect();
    let mut tx = pool.begin().await?;
    // Locks in id order, so that writers of many records on different nodes wait for each
    // other instead of deadlocking.
    sqlx::query(
        "SELECT id FROM firearms WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    let mut changed: Vec<i64> = sqlx::query_scalar(
        "UPDATE firearms f SET make_ref = c.make, model_ref = c.model, calibre_ref = c.calibre \
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) \
              AS c(id, make, model, calibre) \
         WHERE f.id = c.id RETURNING f.id",
    )
    .bind(&ids)
    .bind(makes)
    .bind(models)
    .bind(calibres)
    .fetch_all(&mut *tx)
    .await?;
    changed.sort_unstable();
    let event = AuditEvent::new(by.clone(), "record.canonical").detail(serde_json::json!({
        "records": changes.len(),
        "ids": changes.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
    }));
    append(&mut tx, &[event], now).await?;
    feed_changes(&mut tx, &changed).await?;
    tx.commit().await?;
    Ok(())
}

/// The serial and make of every live record, by id.
pub(super) fn live_serials(pool: &PgPool) -> BoxStream<'_, StoreResult<SerialEntry>> {
    const PAGE: i64 = 20_000;
    paged(
        PAGE as usize,
        move |after| async move {
            let rows = sqlx::query(
                "SELECT id, serial_number, COALESCE(make_ref, make) FROM firearms \
                 WHERE id > $1 AND deleted_at IS NULL ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(PAGE)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(SerialEntry {
                        id: row.try_get(0)?,
                        serial_number: row.try_get(1)?,
                        make: row.try_get(2)?,
                    })
                })
                .collect()
        },
        |entry| entry.id,
    )
}
