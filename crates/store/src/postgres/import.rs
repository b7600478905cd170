//! Bulk creation and update of records in one transaction per batch, matched on recording
//! country and record_id: the write side of a national list import. A batch travels as one
//! array per column, so that each step is one statement whatever the batch size.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use armstrace_core::history::{ChangeKind, FieldChange, diff};
use armstrace_core::{Actor, Firearm, FirearmFields, FirearmId};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgArguments, PgPool};
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres, Row};

use super::audit::append;
use super::firearms::{
    FIELD_COLUMNS, PROVENANCE_COLUMNS, PendingHistory, feed_changes, firearm_from_row, serial_list,
    write_history,
};
use crate::audit::AuditEvent;
use crate::{BatchOutcome, Channel, StoreResult};

/// The type of each of [`FIELD_COLUMNS`], in order, as [`FieldArrays::bind`] binds them.
const FIELD_TYPES: [&str; 19] = [
    "text", "text", "text", "text", "text", "text", "text", "text", "text", "date", "bigint",
    "text", "text", "boolean", "text", "text", "text", "text", "text",
];

/// The advisory lock every import batch holds from its start to its commit: batches, on
/// whichever node, take turns (as SQLite's single writer makes them), so that two imports
/// whose lists overlap never wait for each other's new records in opposite orders.
const IMPORT_LOCK: i64 = 0x4152_4d53_494d_5054;

/// The arrays of the content columns, bound from `$first` on.
fn field_arrays(first: usize) -> String {
    let arrays: Vec<String> = FIELD_TYPES
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{ty}[]", first + i))
        .collect();
    arrays.join(", ")
}

/// The content columns of the unnested row `r`.
fn row_fields() -> String {
    FIELD_COLUMNS
        .split(", ")
        .map(|column| format!("r.{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creates new records, numbered in the order of the arrays ($1 to $19); a key another writer
/// created meanwhile is skipped (and not returned). $20 is the time, $21 the user, $22 the
/// channel.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO firearms ({FIELD_COLUMNS}, {PROVENANCE_COLUMNS}) \
         SELECT {fields}, $20, $21, $22, $20, 1 \
         FROM unnest({arrays}) WITH ORDINALITY AS r({FIELD_COLUMNS}, n) ORDER BY r.n \
         ON CONFLICT (recording_country, record_id) DO NOTHING \
         RETURNING id, recording_country, record_id",
        fields = row_fields(),
        arrays = field_arrays(1),
    )
});

/// Replaces the content of (and restores) the records $1 with $2 to $20. $21 is the time.
static UPDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE firearms f SET ({FIELD_COLUMNS}) = ROW({fields}), updated_at = $21, \
         deleted_at = NULL, version = f.version + 1 \
         FROM unnest($1::bigint[], {arrays}) AS r(id, {FIELD_COLUMNS}) WHERE f.id = r.id",
        fields = row_fields(),
        arrays = field_arrays(2),
    )
});

type Key<'a> = (&'a str, &'a str);

fn key_of(fields: &FirearmFields) -> Key<'_> {
    (fields.recording_country.as_str(), fields.record_id.as_str())
}

pub(super) async fn import_batch(
    pool: &PgPool,
    actor: &Actor,
    rows: &[FirearmFields],
) -> StoreResult<BatchOutcome> {
    let mut outcome = BatchOutcome::default();
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(IMPORT_LOCK)
        .execute(&mut *tx)
        .await?;
    // A key repeated within the batch is applied in file order: the first occurrence in one
    // round, the next in the following round, where it finds the first one stored. A row whose
    // key another writer created meanwhile goes to the next round too, where it is an update.
    let mut pending: Vec<(usize, &FirearmFields)> = rows.iter().enumerate().collect();
    while !pending.is_empty() {
        let mut seen = HashSet::new();
        let (round, later): (Vec<_>, Vec<_>) = pending
            .into_iter()
            .partition(|(_, f)| seen.insert(key_of(f)));
        pending = apply_round(&mut tx, actor, &round, &mut outcome).await?;
        pending.extend(later);
        pending.sort_unstable_by_key(|(position, _)| *position);
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
    let touched: Vec<FirearmId> = outcome.changed.iter().map(|(id, _)| *id).collect();
    feed_changes(&mut tx, &touched).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Applies rows whose keys are distinct; returns those whose key another writer created
/// meanwhile.
async fn apply_round<'r>(
    conn: &mut PgConnection,
    actor: &Actor,
    rows: &[(usize, &'r FirearmFields)],
    outcome: &mut BatchOutcome,
) -> StoreResult<Vec<(usize, &'r FirearmFields)>> {
    let now = Utc::now();
    let existing = existing_records(conn, rows).await?;
    let existing: HashMap<Key<'_>, &Firearm> = existing
        .iter()
        .map(|firearm| (key_of(&firearm.fields), firearm))
        .collect();
    let mut history = Vec::new();
    let mut updated: Vec<(FirearmId, &FirearmFields)> = Vec::new();
    let mut new_rows = Vec::new();
    for &(position, fields) in rows {
        let Some(current) = existing.get(&key_of(fields)) else {
            new_rows.push((position, fields));
            continue;
        };
        let mut changes = diff(&current.fields, fields);
        let restored = current.deleted_at.is_some();
        if changes.is_empty() && !restored {
            outcome.unchanged += 1;
            continue;
        }
        if restored {
            changes.push(FieldChange {
                field: "deleted_at".into(),
                from: serde_json::json!(current.deleted_at),
                to: serde_json::Value::Null,
            });
        }
        // The row is locked since it was read: its next version is this one.
        history.push(PendingHistory {
            firearm_id: current.id,
            kind: ChangeKind::Updated,
            changes,
            version: current.version + 1,
        });
        updated.push((current.id, fields));
        outcome.updated += 1;
        outcome.changed.push((current.id, position));
    }
    if !updated.is_empty() {
        let ids: Vec<FirearmId> = updated.iter().map(|(id, _)| *id).collect();
        FieldArrays::of(updated.iter().map(|(_, fields)| *fields))
            .bind(sqlx::query(&UPDATE).bind(ids))
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    let (created, raced) = insert_new(conn, actor, &new_rows, now).await?;
    outcome.imported += created.len() as u64;
    outcome.changed.extend(created);
    write_history(conn, actor, Channel::Import, now, &history).await?;
    Ok(raced)
}

/// The records a round created (id and position, in file order), and the rows it left to
/// the next round.
type Inserted<'r> = (Vec<(FirearmId, usize)>, Vec<(usize, &'r FirearmFields)>);

/// Creates `rows` as new records, numbered in file order, skipping those whose key another
/// writer created meanwhile.
async fn insert_new<'r>(
    conn: &mut PgConnection,
    actor: &Actor,
    rows: &[(usize, &'r FirearmFields)],
    now: DateTime<Utc>,
) -> StoreResult<Inserted<'r>> {
    if rows.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let created = FieldArrays::of(rows.iter().map(|(_, fields)| *fields))
        .bind(sqlx::query(&INSERT))
        .bind(now)
        .bind(actor.user_id)
        .bind(Channel::Import.as_str())
        .fetch_all(&mut *conn)
        .await?;
    let index: HashMap<Key<'_>, usize> = rows
        .iter()
        .enumerate()
        .map(|(i, (_, fields))| (key_of(fields), i))
        .collect();
    let mut taken = vec![false; rows.len()];
    let mut made = Vec::with_capacity(created.len());
    for row in &created {
        let key = (row.try_get::<&str, _>(1)?, row.try_get::<&str, _>(2)?);
        if let Some(&i) = index.get(&key) {
            taken[i] = true;
            made.push((row.try_get::<FirearmId, _>(0)?, rows[i].0));
        }
    }
    made.sort_unstable_by_key(|(_, position)| *position);
    let left = rows
        .iter()
        .zip(&taken)
        .filter(|(_, taken)| !**taken)
        .map(|(row, _)| *row)
        .collect();
    Ok((made, left))
}

/// The stored records (deleted ones too) that share a key with `rows`, locked until the
/// transaction ends, in id order so that concurrent writers queue instead of deadlocking.
async fn existing_records(
    conn: &mut PgConnection,
    rows: &[(usize, &FirearmFields)],
) -> StoreResult<Vec<Firearm>> {
    let countries: Vec<&str> = rows.iter().map(|(_, f)| key_of(f).0).collect();
    let record_ids: Vec<&str> = rows.iter().map(|(_, f)| key_of(f).1).collect();
    let found = sqlx::query(&format!(
        "SELECT {} FROM firearms \
         WHERE (recording_country, record_id) IN \
               (SELECT * FROM unnest($1::text[], $2::text[])) \
         ORDER BY id FOR NO KEY UPDATE",
        crate::rows::ALL_COLUMNS
    ))
    .bind(countries)
    .bind(record_ids)
    .fetch_all(&mut *conn)
    .await?;
    found.iter().map(firearm_from_row).collect()
}

/// Rows as one array per content column, in [`FIELD_COLUMNS`] order.
struct FieldArrays<'a> {
    recording_country: Vec<&'a str>,
    record_id: Vec<&'a str>,
    serial_number: Vec<&'a str>,
    make: Vec<&'a str>,
    model: Vec<Option<&'a str>>,
    calibre: Vec<Option<&'a str>>,
    firearm_type: Vec<&'a str>,
    country_of_manufacture: Vec<Option<&'a str>>,
    status: Vec<&'a str>,
    event_date: Vec<NaiveDate>,
    year_of_manufacture: Vec<Option<i64>>,
    import_marks: Vec<Option<&'a str>>,
    additional_serials: Vec<String>,
    serial_obliterated: Vec<bool>,
    case_reference: Vec<Option<&'a str>>,
    notes: Vec<Option<&'a str>>,
    make_ref: Vec<Option<&'a str>>,
    model_ref: Vec<Option<&'a str>>,
    calibre_ref: Vec<Option<&'a str>>,
}

impl<'a> FieldArrays<'a> {
    fn of(rows: impl ExactSizeIterator<Item = &'a FirearmFields>) -> Self {
        let n = rows.len();
        let mut arrays = FieldArrays {
            recording_country: Vec::with_capacity(n),
            record_id: Vec::with_capacity(n),
            serial_number: Vec::with_capacity(n),
            make: Vec::with_capacity(n),
            model: Vec::with_capacity(n),
            calibre: Vec::with_capacity(n),
            firearm_type: Vec::with_capacity(n),
            country_of_manufacture: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            event_date: Vec::with_capacity(n),
            year_of_manufacture: Vec::with_capacity(n),
            import_marks: Vec::with_capacity(n),
            additional_serials: Vec::with_capacity(n),
            serial_obliterated: Vec::with_capacity(n),
            case_reference: Vec::with_capacity(n),
            notes: Vec::with_capacity(n),
            make_ref: Vec::with_capacity(n),
            model_ref: Vec::with_capacity(n),
            calibre_ref: Vec::with_capacity(n),
        };
        for fields in rows {
            arrays
                .recording_country
                .push(fields.recording_country.as_str());
            arrays.record_id.push(fields.record_id.as_str());
            arrays.serial_number.push(fields.serial_number.as_str());
            arrays.make.push(fields.make.as_str());
            arrays.model.push(fields.model.as_deref());
            arrays.calibre.push(fields.calibre.as_deref());
            arrays.firearm_type.push(fields.firearm_type.as_str());
            arrays
                .country_of_manufacture
                .push(fields.country_of_manufacture.as_ref().map(|c| c.as_str()));
            arrays.status.push(fields.status.as_str());
            arrays.event_date.push(fields.event_date);
            arrays
                .year_of_manufacture
                .push(fields.year_of_manufacture.map(i64::from));
            arrays.import_marks.push(fields.import_marks.as_deref());
            arrays
                .additional_serials
                .push(serial_list(&fields.additional_serials));
            arrays.serial_obliterated.push(fields.serial_obliterated);
            arrays.case_reference.push(fields.case_reference.as_deref());
            arrays.notes.push(fields.notes.as_deref());
            arrays.make_ref.push(fields.canonical.make.as_deref());
            arrays.model_ref.push(fields.canonical.model.as_deref());
            arrays.calibre_ref.push(fields.canonical.calibre.as_deref());
        }
        arrays
    }

    /// Binds the arrays, in [`FIELD_TYPES`] order, after what `query` already binds.
    fn bind(self, query: Query<'a, Postgres, PgArguments>) -> Query<'a, Postgres, PgArguments> {
        query
            .bind(self.recording_country)
            .bind(self.record_id)
            .bind(self.serial_number)
            .bind(self.make)
            .bind(self.model)
            .bind(self.calibre)
            .bind(self.firearm_type)
            .bind(self.country_of_manufacture)
            .bind(self.status)
            .bind(self.event_date)
            .bind(self.year_of_manufacture)
            .bind(self.import_marks)
            .bind(self.additional_serials)
            .bind(self.serial_obliterated)
            .bind(self.case_reference)
            .bind(self.notes)
            .bind(self.make_ref)
            .bind(self.model_ref)
            .bind(self.calibre_ref)
    }
}
