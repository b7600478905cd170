//! Bulk creation and update of records in one transaction per batch, matched on recording
//! country and record_id: the write side of a national list import.

use std::collections::{HashMap, HashSet};

use armstrace_core::history::{ChangeKind, diff};
use armstrace_core::{Actor, FirearmFields};
use chrono::Utc;
use sqlx::sqlite::SqlitePool;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::audit::append;
use super::firearms::{
    FIELD_COLUMNS, PROVENANCE_COLUMNS, PendingHistory, firearm_from_row, push_fields,
    push_provenance, write_history,
};
use crate::audit::AuditEvent;
use crate::{BatchOutcome, Channel, StoreResult};

/// Rows per multi-row statement: 21 values a row stays under SQLite's parameter limit.
const ROWS_PER_STATEMENT: usize = 1000;

type Key = (String, String);

fn key_of(fields: &FirearmFields) -> Key {
    (
        fields.recording_country.to_string(),
        fields.record_id.to_string(),
    )
}

pub(super) async fn import_batch(
    pool: &SqlitePool,
    actor: &Actor,
    rows: &[FirearmFields],
) -> StoreResult<BatchOutcome> {
    let mut outcome = BatchOutcome::default();
    // IMMEDIATE takes the write lock at once, so that a batch never fails half-way because
    // another process wrote to the same file meanwhile.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    // A key repeated within the batch is applied in file order: the first occurrence in one
    // round, the next in the following round, where it finds the first one stored.
    let mut pending: Vec<(usize, &FirearmFields)> = rows.iter().enumerate().collect();
    while !pending.is_empty() {
        let mut seen = HashSet::new();
        let (round, later): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(_, f)| seen.insert(key_of(f)));
        apply_round(&mut tx, actor, &round, &mut outcome).await?;
        pending = later;
    }
    // One entry per batch: who, how many, and which records it created or changed (each
    // record's history holds the field-by-field change).
    let event = AuditEvent::new(actor, "record.import").detail(serde_json::json!({
        "rows": rows.len(),
        "imported": outcome.imported,
        "updated": outcome.updated,
        "unchanged": outcome.unchanged,
        "changed_ids": outcome.changed.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
    }));
    append(&mut tx, &[event], Utc::now()).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Applies rows whose keys are distinct.
async fn apply_round(
    conn: &mut SqliteConnection,
    actor: &Actor,
    rows: &[(usize, &FirearmFields)],
    outcome: &mut BatchOutcome,
) -> StoreResult<()> {
    let now = Utc::now();
    let existing = existing_records(conn, rows).await?;
    let mut history = Vec::new();
    let mut new_rows = Vec::new();
    for &(position, fields) in rows {
        let Some(current) = existing.get(&key_of(fields)) else {
            new_rows.push((position, fields));
            continue;
        };
        let changes = diff(&current.fields, fields);
        let restored = current.deleted_at.is_some();
        if changes.is_empty() && !restored {
            outcome.unchanged += 1;
            continue;
        }
        let mut update =
            QueryBuilder::<Sqlite>::new(format!("UPDATE firearms SET ({FIELD_COLUMNS}) = ("));
        push_fields(&mut update.separated(", "), fields);
        update.push("), updated_at = ").push_bind(now);
        update.push(", deleted_at = NULL, version = version + 1 WHERE id = ");
        update.push_bind(current.id);
        update.push(" RETURNING version");
        let version: i64 = update.build().fetch_one(&mut *conn).await?.try_get(0)?;
        let mut changes = changes;
        if restored {
            changes.push(armstrace_core::history::FieldChange {
                field: "deleted_at".into(),
                from: serde_json::json!(current.deleted_at),
                to: serde_json::Value::Null,
            });
        }
        history.push(PendingHistory {
            firearm_id: current.id,
            kind: ChangeKind::Updated,
            changes,
            version,
        });
        outcome.updated += 1;
        outcome.changed.push((current.id, position));
    }
    // The transaction holds the write lock (IMMEDIATE): no one else can take these ids.
    let mut next_id: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) + 1 FROM firearms")
        .fetch_one(&mut *conn)
        .await?;
    for chunk in new_rows.chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<Sqlite>::new(format!(
            "INSERT INTO firearms (id, {FIELD_COLUMNS}, {PROVENANCE_COLUMNS}) "
        ));
        insert.push_values(chunk, |mut values, (position, fields)| {
            values.push_bind(next_id);
            outcome.changed.push((next_id, *position));
            next_id += 1;
            push_fields(&mut values, fields);
            push_provenance(&mut values, actor, Channel::Import, now);
        });
        insert.build().execute(&mut *conn).await?;
        outcome.imported += chunk.len() as u64;
    }
    write_history(conn, actor, Channel::Import, now, &history).await
}

/// The stored records (deleted ones too) that share a key with `rows`.
async fn existing_records(
    conn: &mut SqliteConnection,
    rows: &[(usize, &FirearmFields)],
) -> StoreResult<HashMap<Key, armstrace_core::Firearm>> {
    let mut found = HashMap::new();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut query = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {} FROM firearms WHERE (recording_country, record_id) IN (",
            crate::rows::ALL_COLUMNS
        ));
        query.push_values(chunk, |mut values, (_, fields)| {
            values
                .push_bind(fields.recording_country.as_str())
                .push_bind(fields.record_id.as_str());
        });
        query.push(")");
        for row in query.build().fetch_all(&mut *conn).await? {
            let firearm = firearm_from_row(&row)?;
            found.insert(key_of(&firearm.fields), firearm);
        }
    }
    Ok(found)
}
