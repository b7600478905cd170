//! Firearm records on SQLite and on PostgreSQL: created, read, changed under a version, marked
//! deleted, listed and exported, imported in batches, each change kept in history and the audit
//! trail — and, on PostgreSQL, in the change feed the nodes of a cluster follow.

mod common;

use std::sync::Arc;

use armstrace_core::history::{ChangeKind, FieldChange};
use armstrace_core::{
    Actor, Canonical, CountryCode, FirearmFields, FirearmInput, OrgKind, OrgState, Permissions,
    RecordStatus,
};
use armstrace_store::audit::{AuditFilter, AuditWho, verify_chain};
use armstrace_store::{
    BatchOutcome, Channel, FirearmFilter, SerialEntry, Store, StoreError, StoreResult,
};
use common::{Backend, TestDb};
use futures::TryStreamExt;
use serde_json::json;

/// A store with a secretariat and its administrator, who records everything here.
async fn store_with_admin(backend: Backend) -> (TestDb, Arc<dyn Store>, Actor) {
    let (db, store) = common::fresh(backend).await;
    let by = AuditWho::installation();
    let org = store
        .create_organisation(
            &by,
            "Secretariat",
            OrgKind::Secretariat,
            None,
            OrgState::Approved,
        )
        .await
        .unwrap();
    store
        .create_user(&by, org.id, "admin", None, Permissions::all())
        .await
        .unwrap();
    let admin = store.actor_for_user("admin").await.unwrap().unwrap();
    (db, store, admin)
}

/// A valid record of `country`, with every optional field filled.
fn record(country: &str, record_id: &str, serial: &str, make: &str, status: &str) -> FirearmFields {
    let input: FirearmInput = serde_json::from_value(json!({
        "record_id": record_id,
        "serial_number": serial,
        "make": make,
        "model": "17",
        "calibre": "9x19mm",
        "firearm_type": "pistol",
        "country_of_manufacture": "AT",
        "recording_country": country,
        "status": status,
        "event_date": "2023-05-17",
        "year_of_manufacture": 2011,
        "import_marks": "FR 2012",
        "additional_serials": ["SLIDE-1", "BARREL-2"],
        "serial_obliterated": true,
        "case_reference": "case/7",
        "notes": "with \"quotes\" and ünïcode"
    }))
    .unwrap();
    input.validate(chrono::Utc::now().date_naive()).unwrap()
}

/// A valid record with only the required fields.
fn bare_record(country: &str, record_id: &str, serial: &str) -> FirearmFields {
    let input: FirearmInput = serde_json::from_value(json!({
        "record_id": record_id,
        "serial_number": serial,
        "make": "Beretta",
        "firearm_type": "rifle",
        "recording_country": country,
        "status": "lost",
        "event_date": "2021-01-02",
    }))
    .unwrap();
    input.validate(chrono::Utc::now().date_naive()).unwrap()
}

fn conflict_code<T: std::fmt::Debug>(result: StoreResult<T>) -> &'static str {
    match result {
        Err(StoreError::Conflict { code, .. }) => code,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// The actions of the trail's `record.` entries, oldest first.
async fn record_actions(store: &dyn Store) -> Vec<String> {
    let filter = AuditFilter {
        action: Some("record.".into()),
        ..AuditFilter::default()
    };
    let entries = store.audit_entries(&filter, None, 1000).await.unwrap();
    entries.into_iter().map(|e| e.action).collect()
}

both!(a_created_record_reads_back_as_recorded_and_a_duplicate_is_refused);

async fn a_created_record_reads_back_as_recorded_and_a_duplicate_is_refused(backend: Backend) {
    let (_db, store, admin) = store_with_admin(backend).await;
    let mut fields = record("FR", "FR-1", "AB123", "Glock", "stolen");
    fields.canonical = Canonical {
        make: Some("glock".into()),
        model: Some("glock-17".into()),
        calibre: None,
    };
    let created = store
        .create_firearm(&admin, &fields, Channel::Web)
        .await
        .unwrap();
    assert_eq!(created.fields, fields);
    assert_eq!(created.version, 1);
    assert_eq!(created.deleted_at, None);
    assert_eq!(created.created_at, created.updated_at);
    let bare = bare_record("FR", "FR-2", "CD456");
    let plain = store
        .create_firearm(&admin, &bare, Channel::Api)
        .await
        .unwrap();
    assert_eq!(plain.fields, bare);
    assert!(plain.id > created.id);

    assert_eq!(
        store.firearm(created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.firearm(plain.id + 100).await.unwrap(), None);
    let mut found = store
        .firearms(&[plain.id, plain.id + 100, created.id])
        .await
        .unwrap();
    found.sort_by_key(|f| f.id);
    assert_eq!(found, [created.clone(), plain.clone()]);
    assert_eq!(store.firearms(&[]).await.unwrap(), []);

    let again = store
        .create_firearm(
            &admin,
            &record("FR", "FR-1", "ZZ999", "Colt", "lost"),
            Channel::Api,
        )
        .await;
    match again {
        Err(StoreError::Conflict { code, message }) => {
            assert_eq!(code, "duplicate");
            assert_eq!(message, "FR already has a record with record_id 'FR-1'");
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    // The same record_id in another country is another record.
    store
        .create_firearm(
            &admin,
            &record("DE", "FR-1", "AB123", "Glock", "stolen"),
            Channel::Api,
        )
        .await
        .unwrap();

    let history = store.history(created.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].kind, ChangeKind::Created);
    assert_eq!(history[0].user, "admin");
    assert_eq!(history[0].organisation, "Secretariat");
    assert_eq!(history[0].channel, "web");
    assert_eq!(history[0].version, 1);
    assert_eq!(history[0].at, created.created_at);
    assert!(history[0].changes.is_empty());
    assert_eq!(store.history(plain.id + 100).await.unwrap(), []);

    assert_eq!(
        record_actions(store.as_ref()).await,
        ["record.create", "record.create", "record.create"]
    );
}

both!(an_update_makes_the_next_version_and_a_stale_one_is_refused);

async fn an_update_makes_the_next_version_and_a_stale_one_is_refused(backend: Backend) {
    let (_db, store, admin) = store_with_admin(backend).await;
    let original = record("FR", "FR-1", "AB123", "Glock", "stolen");
    let created = store
        .create_firearm(&admin, &original, Channel::Api)
        .await
        .unwrap();
    let other = store
        .create_firearm(&admin, &bare_record("FR", "FR-2", "CD456"), Channel::Api)
        .await
        .unwrap();

    let mut changed = original.clone();
    changed.status = RecordStatus::Seized;
    changed.notes = None;
    // To the microsecond, as both backends keep times.
    let before_update = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
    let updated = store
        .update_firearm(&admin, created.id, &changed, Some(1))
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.fields, changed);
    assert_eq!(updated.created_at, created.created_at);
    assert!(
        before_update <= updated.updated_at && updated.updated_at <= chrono::Utc::now(),
        "updated at {} is the time of the update, not of the creation ({})",
        updated.updated_at,
        created.updated_at
    );
    assert_eq!(
        store.firearm(created.id).await.unwrap(),
        Some(updated.clone())
    );

    let mut stale = changed.clone();
    stale.make = "Colt".into();
    let refused = store
        .update_firearm(&admin, created.id, &stale, Some(1))
        .await;
    assert_eq!(conflict_code(refused), "stale_version");
    assert_eq!(
        store.firearm(created.id).await.unwrap(),
        Some(updated.clone())
    );

    // Repeating the record as it is changes nothing, not even the version.
    let same = store
        .update_firearm(&admin, created.id, &changed, None)
        .await
        .unwrap();
    assert_eq!(same, updated);

    let mut taken = changed.clone();
    taken.record_id = other.fields.record_id.clone();
    let collision = store.update_firearm(&admin, created.id, &taken, None).await;
    assert_eq!(conflict_code(collision), "duplicate");
    let missing = store
        .update_firearm(&admin, other.id + 100, &changed, None)
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    let history = store.history(created.id).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|h| (h.kind, h.version)).collect();
    assert_eq!(kinds, [(ChangeKind::Created, 1), (ChangeKind::Updated, 2)]);
    assert_eq!(history[1].channel, "api");
    assert_eq!(
        history[1].changes,
        [
            FieldChange {
                field: "status".into(),
                from: json!("stolen"),
                to: json!("seized"),
            },
            FieldChange {
                field: "notes".into(),
                from: json!("with \"quotes\" and ünïcode"),
                to: json!(null),
            },
        ]
    );
    assert_eq!(
        record_actions(store.as_ref()).await,
        ["record.create", "record.create", "record.update"]
    );
}

both!(a_deleted_record_is_kept_marked_and_can_no_longer_be_changed);

async fn a_deleted_record_is_kept_marked_and_can_no_longer_be_changed(backend: Backend) {
    let (_db, store, admin) = store_with_admin(backend).await;
    let fields = record("FR", "FR-1", "AB123", "Glock", "stolen");
    let created = store
        .create_firearm(&admin, &fields, Channel::Api)
        .await
        .unwrap();
    let kept = store
        .create_firearm(&admin, &bare_record("FR", "FR-2", "CD456"), Channel::Api)
        .await
        .unwrap();

    let deleted = store.delete_firearm(&admin, created.id).await.unwrap();
    assert_eq!(deleted.version, 2);
    assert_eq!(deleted.fields, fields);
    let at = deleted.deleted_at.expect("marked deleted");
    assert_eq!(deleted.updated_at, at);
    assert_eq!(
        store.firearm(created.id).await.unwrap(),
        Some(deleted.clone())
    );

    assert_eq!(
        conflict_code(store.delete_firearm(&admin, created.id).await),
        "deleted"
    );
    assert_eq!(
        conflict_code(
            store
                .update_firearm(&admin, created.id, &fields, None)
                .await
        ),
        "deleted"
    );
    let missing = store.delete_firearm(&admin, kept.id + 100).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    let live = FirearmFilter::default();
    let all = FirearmFilter {
        include_deleted: true,
        ..FirearmFilter::default()
    };
    assert_eq!(
        store.list_firearms(&live, None, 10).await.unwrap(),
        std::slice::from_ref(&kept)
    );
    assert_eq!(
        store.list_firearms(&all, None, 10).await.unwrap(),
        [deleted.clone(), kept.clone()]
    );
    assert_eq!(store.count_firearms(&live).await.unwrap(), 1);
    assert_eq!(store.count_firearms(&all).await.unwrap(), 2);

    let history = store.history(created.id).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|h| (h.kind, h.version)).collect();
    assert_eq!(kinds, [(ChangeKind::Created, 1), (ChangeKind::Deleted, 2)]);
    assert_eq!(history[1].at, at);
    assert!(history[1].changes.is_empty());
    assert_eq!(
        record_actions(store.as_ref()).await,
        ["record.create", "record.create", "record.delete"]
    );
}

both!(listing_filters_by_country_status_and_make_and_pages_by_id);

async fn listing_filters_by_country_status_and_make_and_pages_by_id(backend: Backend) {
    let (_db, store, admin) = store_with_admin(backend).await;
    let rows = [
        record("FR", "1", "S1", "Glock", "stolen"),
        record("DE", "2", "S2", "GLOCK", "stolen"),
        record("FR", "3", "S3", "Beretta", "seized"),
        record("FR", "4", "S4", "glock", "seized"),
        record("DE", "5", "S5", "Beretta", "lost"),
        record("FR", "6", "S6", "Glock", "stolen"),
        record("FR", "7", "S7", "Glocke", "stolen"),
    ];
    let mut ids = Vec::new();
    for fields in &rows {
        ids.push(
            store
                .create_firearm(&admin, fields, Channel::Api)
                .await
                .unwrap()
                .id,
        );
    }
    store.delete_firearm(&admin, ids[5]).await.unwrap();

    let listed = |filter: FirearmFilter| {
        let store = store.clone();
        async move {
            let found = store.list_firearms(&filter, None, 100).await.unwrap();
            let counted = store.count_firearms(&filter).await.unwrap();
            assert_eq!(counted, found.len() as u64);
            let exported: Vec<_> = store.export(filter).try_collect().await.unwrap();
            assert_eq!(exported, found);
            found.into_iter().map(|f| f.id).collect::<Vec<_>>()
        }
    };
    let pick = |positions: &[usize]| positions.iter().map(|p| ids[*p]).collect::<Vec<_>>();

    assert_eq!(
        listed(FirearmFilter::default()).await,
        pick(&[0, 1, 2, 3, 4, 6])
    );
    let france = Some(CountryCode::parse("FR").unwrap());
    assert_eq!(
        listed(FirearmFilter {
            recording_country: france,
            ..FirearmFilter::default()
        })
        .await,
        pick(&[0, 2, 3, 6])
    );
    assert_eq!(
        listed(FirearmFilter {
            status: Some(RecordStatus::Stolen),
            ..FirearmFilter::default()
        })
        .await,
        pick(&[0, 1, 6])
    );
    // The make matches whole, whatever its case.
    assert_eq!(
        listed(FirearmFilter {
            make: Some("gLoCk".into()),
            ..FirearmFilter::default()
        })
        .await,
        pick(&[0, 1, 3])
    );
    assert_eq!(
        listed(FirearmFilter {
            recording_country: france,
            status: Some(RecordStatus::Stolen),
            make: Some("GLOCK".into()),
            include_deleted: true,
        })
        .await,
        pick(&[0, 5])
    );
    assert_eq!(
        listed(FirearmFilter {
            make: Some("Colt".into()),
            ..FirearmFilter::default()
        })
        .await,
        Vec::<i64>::new()
    );

    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_firearms(&FirearmFilter::default(), after, 4)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|f| f.id);
        pages.push(page.into_iter().map(|f| f.id).collect::<Vec<_>>());
    }
    assert_eq!(pages, [pick(&[0, 1, 2, 3]), pick(&[4, 6])]);
    let rest = store
        .list_firearms(&FirearmFilter::default(), Some(ids[2]), 2)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|f| f.id).collect::<Vec<_>>(), pick(&[3, 4]));
}

both!(export_and_live_serials_stream_every_record_past_a_page);

async fn export_and_live_serials_stream_every_record_past_a_page(backend: Backend) {
    let (_db, store, admin) = store_with_admin(backend).await;
    // More than a page of export (2,000) and of SQLite's serial reader (8,192); PostgreSQL's
    // serial pages (20,000) would make the test slow.
    let rows: Vec<FirearmFields> = (0..8300)
        .map(|i| bare_record("FR", &format!("R{i}"), &format!("SER{i:05}")))
        .collect();
    let outcome = store.import_batch(&admin, &rows).await.unwrap();
    assert_eq!(outcome.imported, 8300);
    let ids: Vec<i64> = outcome.changed.iter().map(|(id, _)| *id).collect();
    store.delete_firearm(&admin, ids[10]).await.unwrap();

    let exported: Vec<_> = store
        .export(FirearmFilter::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(exported.len(), 8299);
    assert!(exported.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(exported[0].fields, rows[0]);
    assert_eq!(exported[8298].fields, rows[8299]);
    let everything: Vec<_> = store
        .export(FirearmFilter {
            include_deleted: true,
            ..FirearmFilter::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(everything.len(), 8300);

    let serials: Vec<SerialEntry> = store.live_serials().try_collect().await.unwrap();
    assert_eq!(serials.len(), 8299);
    assert!(serials.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(serials[8298].serial_number, "SER08299");
    assert_eq!(
        serials[..2],
        [
            SerialEntry {
                id: ids[0],
                serial_number: "SER00000".into(),
                make: "Beretta".into(),
            },
            SerialEntry {
                id: ids[1],
                serial_number: "SER00001".into(),
                make: "Beretta".into(),
            },
        ]
    );
    assert!(!serials.iter().any(|s| s.id == ids[10]));
}

both!(a_resolution_change_sets_the_canonical_make_the_index_reads);

async fn a_resolution_change_sets_the_canonical_make_the_index_reads(backend: Backend) {
    let (_db, store, admin) = store_with_admin(backend).await;
    let first = store
        .create_firearm(
            &admin,
            &record("FR", "1", "AB1", "Glokk", "stolen"),
            Channel::Api,
        )
        .await
        .unwrap();
    let second = store
        .create_firearm(
            &admin,
            &record("FR", "2", "AB2", "Beretta", "stolen"),
            Channel::Api,
        )
        .await
        .unwrap();
    let glock = Canonical {
        make: Some("glock".into()),
        model: Some("glock-17".into()),
        calibre: Some("9x19mm".into()),
    };
    store
        .set_canonical(
            &AuditWho::from(&admin),
            &[(first.id, glock.clone()), (second.id + 100, glock.clone())],
        )
        .await
        .unwrap();

    let resolved = store.firearm(first.id).await.unwrap().unwrap();
    assert_eq!(resolved.fields.canonical, glock);
    assert_eq!(resolved.fields.make, "Glokk", "what was typed stays");
    assert_eq!(resolved.version, first.version);
    assert_eq!(resolved.updated_at, first.updated_at);
    assert_eq!(store.history(first.id).await.unwrap().len(), 1);

    let serials: Vec<SerialEntry> = store.live_serials().try_collect().await.unwrap();
    let makes: Vec<(i64, &str)> = serials.iter().map(|s| (s.id, s.make.as_str())).collect();
    assert_eq!(makes, [(first.id, "glock"), (second.id, "Beretta")]);

    let filter = AuditFilter {
        action: Some("record.canonical".into()),
        ..AuditFilter::default()
    };
    let entries = store.audit_entries(&filter, None, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    let detail: serde_json::Value = serde_json::from_str(&entries[0].detail).unwrap();
    assert_eq!(
        detail,
        json!({ "records": 2, "ids": [first.id, second.id + 100] })
    );
}

both!(an_import_batch_counts_new_changed_restored_and_unchanged_rows);

async fn an_import_batch_counts_new_changed_restored_and_unchanged_rows(backend: Backend) {
    let (_db, store, admin) = store_with_admin(backend).await;
    let a = record("FR", "A", "SA", "Glock", "stolen");
    let b = record("FR", "B", "SB", "Glock", "stolen");
    let c = bare_record("DE", "C", "SC");
    let first = store
        .import_batch(&admin, &[a.clone(), b.clone(), c.clone()])
        .await
        .unwrap();
    let ids: Vec<i64> = first.changed.iter().map(|(id, _)| *id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "numbered in file order"
    );
    assert_eq!(
        first,
        BatchOutcome {
            imported: 3,
            updated: 0,
            unchanged: 0,
            changed: vec![(ids[0], 0), (ids[1], 1), (ids[2], 2)],
        }
    );
    let (id_a, id_b, id_c) = (ids[0], ids[1], ids[2]);
    let created = store.firearm(id_a).await.unwrap().unwrap();
    assert_eq!(created.fields, a);
    assert_eq!(created.version, 1);
    let history = store.history(id_a).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].channel, "import");
    let deleted_at = store
        .delete_firearm(&admin, id_c)
        .await
        .unwrap()
        .deleted_at
        .unwrap();

    let mut b_seized = b.clone();
    b_seized.status = RecordStatus::Seized;
    let mut b_noted = b_seized.clone();
    b_noted.notes = Some("second thoughts".into());
    let d = bare_record("FR", "D", "SD");
    let second = store
        .import_batch(
            &admin,
            &[
                a.clone(),
                b_seized.clone(),
                d.clone(),
                b_noted.clone(),
                c.clone(),
            ],
        )
        .await
        .unwrap();
    let id_d = second.changed[2].0;
    assert!(id_d > id_c);
    assert_eq!(
        second,
        BatchOutcome {
            imported: 1,
            updated: 3,
            unchanged: 1,
            // A repeated key is applied in file order: B's second row after its first.
            changed: vec![(id_b, 1), (id_c, 4), (id_d, 2), (id_b, 3)],
        }
    );

    let b_now = store.firearm(id_b).await.unwrap().unwrap();
    assert_eq!(b_now.fields, b_noted);
    assert_eq!(b_now.version, 3);
    let b_history: Vec<_> = store
        .history(id_b)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.kind, h.version, h.channel, h.changes))
        .collect();
    assert_eq!(
        b_history,
        [
            (ChangeKind::Created, 1, "import".to_string(), vec![]),
            (
                ChangeKind::Updated,
                2,
                "import".to_string(),
                vec![FieldChange {
                    field: "status".into(),
                    from: json!("stolen"),
                    to: json!("seized"),
                }]
            ),
            (
                ChangeKind::Updated,
                3,
                "import".to_string(),
                vec![FieldChange {
                    field: "notes".into(),
                    from: json!("with \"quotes\" and ünïcode"),
                    to: json!("second thoughts"),
                }]
            ),
        ]
    );

    let restored = store.firearm(id_c).await.unwrap().unwrap();
    assert_eq!(restored.deleted_at, None);
    assert_eq!(restored.version, 3);
    let c_history = store.history(id_c).await.unwrap();
    let last = c_history.last().unwrap();
    assert_eq!((last.kind, last.version), (ChangeKind::Updated, 3));
    assert_eq!(
        last.changes,
        [FieldChange {
            field: "deleted_at".into(),
            from: json!(deleted_at),
            to: json!(null),
        }]
    );
    assert_eq!(store.firearm(id_a).await.unwrap().unwrap(), created);
    assert_eq!(
        store
            .count_firearms(&FirearmFilter::default())
            .await
            .unwrap(),
        4
    );

    let filter = AuditFilter {
        action: Some("record.import".into()),
        ..AuditFilter::default()
    };
    let entries = store.audit_entries(&filter, None, 10).await.unwrap();
    let details: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect();
    assert_eq!(
        details[1],
        json!({
            "rows": 5,
            "imported": 1,
            "updated": 3,
            "unchanged": 1,
            "changed_ids": [id_b, id_c, id_d, id_b],
        })
    );
    let report = verify_chain(store.audit_chain(), None).await.unwrap();
    assert_eq!(report.broken, None);
}

both!(imports_of_overlapping_lists_at_once_both_commit_and_create_each_record_once);

async fn imports_of_overlapping_lists_at_once_both_commit_and_create_each_record_once(
    backend: Backend,
) {
    let (_db, store, admin) = store_with_admin(backend).await;
    let rows: Vec<FirearmFields> = (0..3000)
        .map(|i| bare_record("FR", &format!("R{i}"), &format!("SER{i}")))
        .collect();
    let reversed: Vec<FirearmFields> = rows.iter().rev().cloned().collect();
    let (one, two) = tokio::join!(
        store.import_batch(&admin, &rows),
        store.import_batch(&admin, &reversed)
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    assert_eq!(one.imported + two.imported, 3000);
    assert_eq!(one.unchanged + two.unchanged, 3000);
    assert_eq!(one.updated + two.updated, 0);
    assert_eq!(
        store
            .count_firearms(&FirearmFilter::default())
            .await
            .unwrap(),
        3000
    );

    let again = store.import_batch(&admin, &rows).await.unwrap();
    assert_eq!((again.imported, again.unchanged), (0, 3000));
    assert!(again.changed.is_empty());
}

both!(every_change_to_a_record_enters_the_change_feed);

async fn every_change_to_a_record_enters_the_change_feed(backend: Backend) {
    let (_db, store, admin) = store_with_admin(backend).await;
    let a_fields = record("FR", "A", "SA", "Glock", "stolen");
    let a = store
        .create_firearm(&admin, &a_fields, Channel::Api)
        .await
        .unwrap();
    let mut seized = a_fields.clone();
    seized.status = RecordStatus::Seized;
    store
        .update_firearm(&admin, a.id, &seized, Some(1))
        .await
        .unwrap();
    // Neither a change that changes nothing nor a refused one is fed.
    store
        .update_firearm(&admin, a.id, &seized, None)
        .await
        .unwrap();
    store
        .update_firearm(&admin, a.id, &a_fields, Some(1))
        .await
        .unwrap_err();
    store.delete_firearm(&admin, a.id).await.unwrap();
    let b = bare_record("FR", "B", "SB");
    let c = bare_record("FR", "C", "SC");
    let first = store
        .import_batch(&admin, &[b.clone(), c.clone()])
        .await
        .unwrap();
    let (id_b, id_c) = (first.changed[0].0, first.changed[1].0);
    let mut b_lost = b.clone();
    b_lost.notes = Some("found again".into());
    store
        .import_batch(&admin, &[b_lost, c, a_fields])
        .await
        .unwrap();
    store
        .set_canonical(
            &AuditWho::from(&admin),
            &[
                (id_c, Canonical::default()),
                (id_c + 100, Canonical::default()),
            ],
        )
        .await
        .unwrap();

    // Both backends feed every write that sets a record's columns, a change of status or
    // notes included (SQLite's triggers fire on the columns an UPDATE sets, and every write
    // sets them all): created, seized, deleted, B and C imported, B's notes, A restored, C's
    // resolution. The no-op update, the refused one and the unknown id are not fed.
    let expected = [a.id, a.id, a.id, id_b, id_c, id_b, a.id, id_c];
    let fed = store.changes_after(0, 100).await.unwrap();
    assert_eq!(
        fed.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
        expected,
        "{fed:?}"
    );
    assert!(
        fed.windows(2).all(|w| w[0].0 < w[1].0),
        "positions rise in commit order: {fed:?}"
    );
    let head = store.feed_head().await.unwrap();
    assert_eq!(head, fed.last().unwrap().0);
    // A follower reads on from any position, a page at a time, and finds nothing past the head.
    assert_eq!(store.changes_after(fed[2].0, 2).await.unwrap(), fed[3..5]);
    assert_eq!(store.changes_after(head, 100).await.unwrap(), []);
    let d = store
        .create_firearm(&admin, &bare_record("FR", "D", "SD"), Channel::Api)
        .await
        .unwrap();
    let after = store.changes_after(head, 100).await.unwrap();
    assert_eq!(after.iter().map(|(_, id)| *id).collect::<Vec<_>>(), [d.id]);
    assert!(after[0].0 > head);
    assert_eq!(store.feed_head().await.unwrap(), after[0].0);
}

/// Another node creates one of the batch's records while the batch runs: the batch waits for
/// it, then applies its row to that record as an update instead of failing on the duplicate.
#[tokio::test]
async fn an_import_row_whose_record_another_node_creates_meanwhile_updates_it() {
    use sqlx::Connection;
    let (db, store, admin) = store_with_admin(Backend::Postgres).await;
    let rows: Vec<FirearmFields> = (0..10)
        .map(|i| bare_record("FR", &format!("R{i}"), &format!("SER{i}")))
        .collect();
    let mut other = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut other_tx = other.begin().await.unwrap();
    let racing: i64 = sqlx::query_scalar(
        "INSERT INTO firearms (recording_country, record_id, serial_number, make, \
         firearm_type, status, event_date, created_at, created_by, created_channel, updated_at) \
         VALUES ('FR', 'R5', 'OTHER', 'Colt', 'pistol', 'stolen', '2020-01-01', now(), $1, \
         'api', now()) RETURNING id",
    )
    .bind(admin.user_id)
    .fetch_one(&mut *other_tx)
    .await
    .unwrap();

    let batch = {
        let (store, admin, rows) = (store.clone(), admin.clone(), rows.clone());
        tokio::spawn(async move { store.import_batch(&admin, &rows).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!batch.is_finished(), "the batch waits for the other writer");
    other_tx.commit().await.unwrap();
    let outcome = batch.await.unwrap().unwrap();

    assert_eq!(
        (outcome.imported, outcome.updated, outcome.unchanged),
        (9, 1, 0)
    );
    assert!(outcome.changed.contains(&(racing, 5)));
    let record = store.firearm(racing).await.unwrap().unwrap();
    assert_eq!(record.fields, rows[5]);
    assert_eq!(record.version, 2);
    let history = store.history(racing).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (h.kind, h.channel.as_str()))
            .collect::<Vec<_>>(),
        [
            (ChangeKind::Created, "api"),
            (ChangeKind::Updated, "import")
        ]
    );
    assert_eq!(
        store
            .count_firearms(&FirearmFilter::default())
            .await
            .unwrap(),
        10
    );
}

both!(a_pruned_feed_forgets_old_positions_and_says_how_far);

async fn a_pruned_feed_forgets_old_positions_and_says_how_far(backend: Backend) {
    let (_db, store, admin) = store_with_admin(backend).await;
    assert_eq!(store.feed_pruned_through().await.unwrap(), 0);
    let mut ids = Vec::new();
    for n in 0..5 {
        let fields = bare_record("FR", &format!("P-{n}"), &format!("SP{n}00"));
        ids.push(
            store
                .create_firearm(&admin, &fields, Channel::Api)
                .await
                .unwrap()
                .id,
        );
    }
    let fed = store.changes_after(0, 100).await.unwrap();
    assert_eq!(fed.iter().map(|(_, id)| *id).collect::<Vec<_>>(), ids);
    let head = store.feed_head().await.unwrap();

    // Forget all but the last two.
    let through = fed[2].0;
    assert_eq!(store.prune_feed(through).await.unwrap(), 3);
    assert_eq!(store.feed_pruned_through().await.unwrap(), through);
    assert_eq!(store.changes_after(0, 100).await.unwrap(), fed[3..]);
    assert_eq!(store.feed_head().await.unwrap(), head);
    // Asking again, or for less, changes nothing: the horizon never moves back.
    assert_eq!(store.prune_feed(through).await.unwrap(), 0);
    assert_eq!(store.prune_feed(fed[0].0).await.unwrap(), 0);
    assert_eq!(store.feed_pruned_through().await.unwrap(), through);

    // Forgotten to its end, the feed still stands where it stood, and goes on from there.
    assert_eq!(store.prune_feed(head).await.unwrap(), 2);
    assert_eq!(store.changes_after(0, 100).await.unwrap(), []);
    assert_eq!(store.feed_head().await.unwrap(), head);
    let later = store
        .create_firearm(&admin, &bare_record("FR", "P-9", "SP900"), Channel::Api)
        .await
        .unwrap();
    let after = store.changes_after(head, 100).await.unwrap();
    assert_eq!(
        after.iter().map(|(_, id)| *id).collect::<Vec<_>>(),
        [later.id]
    );
    assert!(after[0].0 > head);
}

both!(nodes_mark_how_far_they_read_the_feed_and_a_mark_not_renewed_lapses);

async fn nodes_mark_how_far_they_read_the_feed_and_a_mark_not_renewed_lapses(backend: Backend) {
    use std::time::Duration;
    let (_db, store, admin) = store_with_admin(backend).await;
    let an_hour = Duration::from_secs(3600);
    assert_eq!(store.feed_marks(an_hour).await.unwrap(), None);
    for n in 0..3 {
        let fields = bare_record("FR", &format!("M-{n}"), &format!("SM{n}00"));
        store
            .create_firearm(&admin, &fields, Channel::Api)
            .await
            .unwrap();
    }
    let head = store.feed_head().await.unwrap();
    assert!(head > 0);

    // A node starting marks the head as it stands; another marks where it has read to.
    assert_eq!(store.mark_feed("node-a", None).await.unwrap(), head);
    assert_eq!(
        store.mark_feed("node-b", Some(head - 2)).await.unwrap(),
        head - 2
    );
    assert_eq!(store.feed_marks(an_hour).await.unwrap(), Some(head - 2));
    // Renewed further on, the lowest mark is the other node's.
    assert_eq!(store.mark_feed("node-b", Some(head)).await.unwrap(), head);
    assert_eq!(
        store.mark_feed("node-a", Some(head - 1)).await.unwrap(),
        head - 1
    );
    assert_eq!(store.feed_marks(an_hour).await.unwrap(), Some(head - 1));

    // A feed pruned to its end: a starting node's mark is where the feed stands, not 0.
    assert_eq!(store.prune_feed(head).await.unwrap(), 3);
    assert_eq!(store.mark_feed("node-c", None).await.unwrap(), head);

    // Marks older than the freshness asked for no longer count, and are gone.
    std::thread::sleep(Duration::from_millis(50));
    store.mark_feed("node-b", Some(head)).await.unwrap();
    assert_eq!(
        store.feed_marks(Duration::from_millis(20)).await.unwrap(),
        Some(head)
    );
    assert_eq!(store.feed_marks(an_hour).await.unwrap(), Some(head));
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        store.feed_marks(Duration::from_millis(20)).await.unwrap(),
        None
    );
    assert_eq!(store.feed_marks(an_hour).await.unwrap(), None);
}
