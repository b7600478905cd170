//! Firearm records and their history in SQLite.

use armstrace_core::history::{ChangeKind, FieldChange, HistoryEntry, diff};
use armstrace_core::{Actor, Canonical, Firearm, FirearmFields, FirearmId};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::sqlite::SqlitePool;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::access::conflict_on_duplicate;
use super::audit::append;
use crate::audit::{AuditEvent, AuditWho};
use crate::paging::one_at_a_time;
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
    values: &mut sqlx::query_builder::Separated<'_, '_, Sqlite, Sep>,
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
    values: &mut sqlx::query_builder::Separated<'_, 'a, Sqlite, Sep>,
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
        .push_bind(fields.year_of_manufacture)
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

/// Writes history rows for `actor`, many per statement.
pub(super) async fn write_history(
    conn: &mut SqliteConnection,
    actor: &Actor,
    channel: Channel,
    at: DateTime<Utc>,
    entries: &[PendingHistory],
) -> StoreResult<()> {
    // Ten values a row: stay well under SQLite's bound-parameter limit.
    for chunk in entries.chunks(1000) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO firearm_history \
             (firearm_id, at, user_id, username, organisation, kind, channel, changes, version) ",
        );
        insert.push_values(chunk, |mut values, entry| {
            values
                .push_bind(entry.firearm_id)
                .push_bind(at)
                .push_bind(actor.user_id)
                .push_bind(actor.username.as_str())
                .push_bind(actor.org_name.as_str())
                .push_bind(entry.kind.as_str())
                .push_bind(channel.as_str())
                .push_bind(serde_json::to_string(&entry.changes).expect("values serialise"))
                .push_bind(entry.version);
        });
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

pub(super) async fn create(
    pool: &SqlitePool,
    actor: &Actor,
    fields: &FirearmFields,
    channel: Channel,
) -> StoreResult<Firearm> {
    let now = Utc::now();
    let mut insert = QueryBuilder::<Sqlite>::new(format!(
        "INSERT INTO firearms ({FIELD_COLUMNS}, {PROVENANCE_COLUMNS}) "
    ));
    insert.push_values([fields], |mut values, fields| {
        push_fields(&mut values, fields);
        push_provenance(&mut values, actor, channel, now);
    });
    insert.push(format!(" RETURNING {ALL_COLUMNS}"));
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let row = insert
        .build()
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict_on_duplicate(e, || duplicate_record(fields)))?;
    let firearm = firearm_from_row(&row)?;
    audit_change(&mut tx, actor, "record.create", &firearm, channel, now).await?;
    tx.commit().await?;
    Ok(firearm)
}

/// Writes the audit entry of a change to one record.
async fn audit_change(
    conn: &mut SqliteConnection,
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

pub(super) async fn get(pool: &SqlitePool, id: FirearmId) -> StoreResult<Option<Firearm>> {
    let row = sqlx::query(&format!("SELECT {ALL_COLUMNS} FROM firearms WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(firearm_from_row).transpose()
}

pub(super) async fn by_ids(pool: &SqlitePool, ids: &[FirearmId]) -> StoreResult<Vec<Firearm>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {ALL_COLUMNS} FROM firearms WHERE id IN ("
        ));
        let mut list = query.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        query.push(")");
        for row in query.build().fetch_all(pool).await? {
            found.push(firearm_from_row(&row)?);
        }
    }
    Ok(found)
}

async fn live_for_change(conn: &mut SqliteConnection, id: FirearmId) -> StoreResult<Firearm> {
    let row = sqlx::query(&format!("SELECT {ALL_COLUMNS} FROM firearms WHERE id = ?"))
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
    pool: &SqlitePool,
    actor: &Actor,
    id: FirearmId,
    fields: &FirearmFields,
    expected_version: Option<i64>,
) -> StoreResult<Firearm> {
    let now = Utc::now();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
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
        QueryBuilder::<Sqlite>::new(format!("UPDATE firearms SET ({FIELD_COLUMNS}) = ("));
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
    tx.commit().await?;
    Ok(firearm)
}

pub(super) async fn delete(
    pool: &SqlitePool,
    actor: &Actor,
    id: FirearmId,
) -> StoreResult<Firearm> {
    let now = Utc::now();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    live_for_change(&mut tx, id).await?;
    let row = sqlx::query(&format!(
        "UPDATE firearms SET deleted_at = ?, updated_at = ?, version = version + 1 \
         WHERE id = ? RETURNING {ALL_COLUMNS}"
    ))
    .bind(now)
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
    tx.commit().await?;
    Ok(firearm)
}

/// Adds the filter's conditions to a query that already has a `WHERE` clause.
fn push_filter(query: &mut QueryBuilder<'_, Sqlite>, filter: &FirearmFilter) {
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
        query
            .push(" AND make = ")
            .push_bind(make.clone())
            .push(" COLLATE NOCASE");
    }
}

pub(super) async fn list(
    pool: &SqlitePool,
    filter: &FirearmFilter,
    after: Option<FirearmId>,
    limit: u32,
) -> StoreResult<Vec<Firearm>> {
    let mut query =
        QueryBuilder::<Sqlite>::new(format!("SELECT {ALL_COLUMNS} FROM firearms WHERE id > "));
    query.push_bind(after.unwrap_or(0));
    push_filter(&mut query, filter);
    query
        .push(" ORDER BY id LIMIT ")
        .push_bind(i64::from(limit));
    let rows = query.build().fetch_all(pool).await?;
    rows.iter().map(firearm_from_row).collect()
}

pub(super) async fn count(pool: &SqlitePool, filter: &FirearmFilter) -> StoreResult<u64> {
    let mut query = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM firearms WHERE 1 = 1");
    push_filter(&mut query, filter);
    let count: i64 = query.build_query_scalar().fetch_one(pool).await?;
    Ok(count as u64)
}

pub(super) async fn history(pool: &SqlitePool, id: FirearmId) -> StoreResult<Vec<HistoryEntry>> {
    // The creation is kept on the record; every later change in firearm_history.
    let rows = sqlx::query(
        "SELECT f.created_at AS at, u.username, o.name AS organisation, 'created' AS kind, \
                f.created_channel AS channel, '[]' AS changes, 1 AS version, 0 AS entry \
         FROM firearms f JOIN users u ON u.id = f.created_by \
         JOIN organisations o ON o.id = u.org_id WHERE f.id = ?1 \
         UNION ALL \
         SELECT at, username, organisation, kind, channel, changes, version, id AS entry \
         FROM firearm_history WHERE firearm_id = ?1 \
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

pub(super) use crate::paging::paged;

/// Every record matching `filter`, by id.
pub(super) fn export(
    pool: &SqlitePool,
    filter: FirearmFilter,
) -> BoxStream<'_, StoreResult<Firearm>> {
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
    pool: &SqlitePool,
    by: &AuditWho,
    changes: &[(FirearmId, Canonical)],
) -> StoreResult<()> {
    let now = Utc::now();
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    for (id, canonical) in changes {
        sqlx::query(
            "UPDATE firearms SET make_ref = ?, model_ref = ?, calibre_ref = ? WHERE id = ?",
        )
        .bind(canonical.make.as_deref())
        .bind(canonical.model.as_deref())
        .bind(canonical.calibre.as_deref())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    let event = AuditEvent::new(by.clone(), "record.canonical").detail(serde_json::json!({
        "records": changes.len(),
        "ids": changes.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
    }));
    append(&mut tx, &[event], now).await?;
    tx.commit().await?;
    Ok(())
}

/// The serial and make of every live record, by id. A node reads them all when it starts, so
/// they are read on a thread of their own with a plain connection, in one pass, and handed over
/// a page at a time: through the async driver each row costs a hand-off between threads, which
/// took half the start-up of a node with 1.4 million records.
pub(super) fn live_serials(path: PathBuf) -> BoxStream<'static, StoreResult<SerialEntry>> {
    const PAGE: usize = 8192;
    let (pages, received) = tokio::sync::mpsc::channel::<StoreResult<Vec<SerialEntry>>>(4);
    type Pages = tokio::sync::mpsc::Sender<StoreResult<Vec<SerialEntry>>>;
    let read = move |pages: &Pages| -> rusqlite::Result<()> {
        let conn = super::plain_connection(&path, true)?;
        let mut statement = conn.prepare(
            "SELECT id, serial_number, COALESCE(make_ref, make) FROM firearms \
             WHERE deleted_at IS NULL ORDER BY id",
        )?;
        let mut rows = statement.query([])?;
        let mut page = Vec::with_capacity(PAGE);
        while let Some(row) = rows.next()? {
            page.push(SerialEntry {
                id: row.get(0)?,
                serial_number: row.get(1)?,
                make: row.get(2)?,
            });
            if page.len() == PAGE {
                let full = std::mem::replace(&mut page, Vec::with_capacity(PAGE));
                if pages.blocking_send(Ok(full)).is_err() {
                    // The reader of the stream went away: stop reading.
                    return Ok(());
                }
            }
        }
        if !page.is_empty() {
            let _ = pages.blocking_send(Ok(page));
        }
        Ok(())
    };
    let spawned = std::thread::Builder::new()
        .name("read-serials".into())
        .spawn(move || {
            if let Err(error) = read(&pages) {
                let _ = pages.blocking_send(Err(error.into()));
            }
        });
    if let Err(error) = spawned {
        let failed = StoreError::Backend(format!("starting the serial reader: {error}"));
        return futures::stream::once(async move { Err(failed) }).boxed();
    }
    let mut received = received;
    one_at_a_time(futures::stream::poll_fn(move |cx| received.poll_recv(cx)))
}
