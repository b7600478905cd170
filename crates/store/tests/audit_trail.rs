//! The audit trail, on SQLite and on PostgreSQL: every kind of append keeps one intact chain, and a recorded check
//! reads its hits exactly as the rest of the store does.

mod common;

use armstrace_core::{FirearmInput, OrgKind, OrgState, Permissions};
use armstrace_store::Channel;
use armstrace_store::audit::{AuditEvent, AuditFilter, AuditWho, verify_chain};
use common::Backend;
use serde_json::json;

fn input(record_id: &str, serial: &str) -> FirearmInput {
    serde_json::from_value(json!({
        "record_id": record_id,
        "serial_number": serial,
        "make": "Glock",
        "model": "17",
        "calibre": "9x19mm",
        "firearm_type": "pistol",
        "country_of_manufacture": "AT",
        "recording_country": "FR",
        "status": "stolen",
        "event_date": "2023-05-17",
        "year_of_manufacture": 2011,
        "import_marks": "FR 2012",
        "additional_serials": ["SLIDE-1", "BARREL-2"],
        "serial_obliterated": true,
        "case_reference": "case/7",
        "notes": "with \"quotes\" and ünïcode"
    }))
    .unwrap()
}

both!(a_recorded_check_reads_its_hits_as_the_store_does_and_every_append_chains);

async fn a_recorded_check_reads_its_hits_as_the_store_does_and_every_append_chains(
    backend: Backend,
) {
    let (_db, store) = common::fresh(backend).await;
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
    let today = chrono::Utc::now().date_naive();
    let mut ids = Vec::new();
    for (i, serial) in ["AB123", "CD456", "EF789"].into_iter().enumerate() {
        let fields = input(&format!("FR-{i}"), serial).validate(today).unwrap();
        let firearm = store
            .create_firearm(&admin, &fields, Channel::Api)
            .await
            .unwrap();
        ids.push(firearm.id);
    }
    let mut plain = input("FR-9", "GH000");
    plain.model = None;
    plain.additional_serials = None;
    plain.serial_obliterated = None;
    let fields = plain.validate(today).unwrap();
    ids.push(
        store
            .create_firearm(&admin, &fields, Channel::Api)
            .await
            .unwrap()
            .id,
    );
    store.delete_firearm(&admin, ids[1]).await.unwrap();

    let event = AuditEvent::new(&admin, "check").detail(json!({ "serial_number": "AB123" }));
    let mut asked = ids.clone();
    asked.push(9999);
    let mut hits = store
        .record_check(vec![event], asked, Vec::new())
        .await
        .unwrap()
        .records;
    hits.sort_by_key(|f| f.id);
    let mut expected = store.firearms(&ids).await.unwrap();
    expected.sort_by_key(|f| f.id);
    assert_eq!(hits, expected);
    assert!(hits[1].deleted_at.is_some());

    store
        .append_audit(&[AuditEvent::new(&admin, "signout")])
        .await
        .unwrap();
    let report = verify_chain(store.audit_chain(), None).await.unwrap();
    assert_eq!(report.broken, None);
    // org, user, four creations, one deletion, the check, the sign-out.
    assert_eq!(report.entries, 9);
}

/// Checks' entries land in the journal; the store's checkpointer copies them into the database
/// file while the store is open, without any writer doing it (SQLite's own copying starts
/// only at 10,000 pages, and the audit writer's at 16,384).
#[tokio::test]
async fn the_journal_is_copied_back_into_the_file_while_the_store_runs() {
    let db = common::fresh_db(Backend::Sqlite).await;
    let store = armstrace_store::open(&db.url, true).await.unwrap();
    let file = std::path::PathBuf::from(&db.url);
    let pages = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len()) / 4096;
    // Let the checkpointer copy what opening wrote, then start from a quiet file.
    let file = &file;
    let settled = |before: u64| async move {
        for _ in 0..100 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            if pages(file) > before {
                return true;
            }
        }
        false
    };
    settled(0).await;
    let before = pages(file);
    let who = AuditWho::installation();
    for round in 0..200 {
        let events = (0..10)
            .map(|n| {
                AuditEvent::new(who.clone(), "check")
                    .detail(json!({ "serial_number": format!("SN{round}-{n}"), "padding": "x".repeat(400) }))
            })
            .collect();
        store
            .record_check(events, Vec::new(), Vec::new())
            .await
            .unwrap();
    }
    // Reading the trail moves the entries still waiting in the audit stage into it.
    store
        .audit_entries(&AuditFilter::default(), None, 1)
        .await
        .unwrap();
    let journal = std::path::PathBuf::from(format!("{}-wal", db.url));
    assert!(
        pages(&journal) > 200,
        "2,000 entries of 500 bytes went to the journal first"
    );
    assert!(
        settled(before).await,
        "the database file grew from {before} pages: the entries were copied into it"
    );
    // Everything copied is still one intact chain.
    let report = verify_chain(store.audit_chain(), None).await.unwrap();
    assert_eq!((report.entries, report.broken), (2000, None));
}

/// Which entries a filter should keep, said by the entry's own columns.
type Keeps = Box<dyn Fn(&armstrace_store::audit::AuditEntry) -> bool>;

both!(filtered_reads_find_exactly_the_entries_of_a_country_a_user_or_an_organisation);

/// The trail is indexed by organisation only: a country's entries are merged from its
/// organisations', a user's from their organisation's and from entries of no organisation. Each
/// filter, read a few entries at a time, must give exactly what filtering the whole trail by
/// its columns gives.
async fn filtered_reads_find_exactly_the_entries_of_a_country_a_user_or_an_organisation(
    backend: Backend,
) {
    let (db, store) = common::fresh(backend).await;
    // Checks pay for every index the trail has: it keeps one, on (organisation, id).
    let indexes: Vec<String> = match backend {
        Backend::Sqlite => rusqlite::Connection::open(&db.url)
            .unwrap()
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log'",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap(),
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
            sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE tablename = 'audit_log' AND indexname <> 'audit_log_pkey'")
                .fetch_all(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(indexes, ["audit_by_org"]);
    let by = AuditWho::installation();
    let mut actors = Vec::new();
    for (name, kind, country, user) in [
        ("Secretariat", OrgKind::Secretariat, None, "sec"),
        ("NCB France", OrgKind::Ncb, Some("FR"), "fr-ncb"),
        ("Police France", OrgKind::Police, Some("FR"), "fr-police"),
        ("NCB Germany", OrgKind::Ncb, Some("DE"), "de-ncb"),
        ("Customs France", OrgKind::Customs, Some("FR"), "fr-customs"),
    ] {
        let country = country.map(|c| armstrace_core::CountryCode::parse(c).unwrap());
        let org = store
            .create_organisation(&by, name, kind, country, OrgState::Approved)
            .await
            .unwrap();
        store
            .create_user(&by, org.id, user, None, Permissions::all())
            .await
            .unwrap();
        actors.push(store.actor_for_user(user).await.unwrap().unwrap());
    }
    // Interleaved: checks through the check path, other actions directly, and sign-ins under
    // a name nobody has.
    for round in 0..7 {
        for (n, actor) in actors.iter().enumerate() {
            if (round + n) % 3 == 0 {
                let event = AuditEvent::new(actor, "check")
                    .detail(json!({ "serial_number": format!("S{round}-{n}") }));
                store
                    .record_check(vec![event], Vec::new(), Vec::new())
                    .await
                    .unwrap();
            } else {
                store
                    .append_audit(&[AuditEvent::new(actor, "record.update")])
                    .await
                    .unwrap();
            }
        }
        if round % 2 == 0 {
            store
                .append_audit(&[AuditEvent::new(
                    AuditWho::unknown("ghost"),
                    "signin.failure",
                )])
                .await
                .unwrap();
        }
    }
    let all = store
        .audit_entries(&AuditFilter::default(), None, 10_000)
        .await
        .unwrap();
    let fr = Some("FR".to_string());
    let filters: Vec<(AuditFilter, Keeps)> = vec![
        (
            AuditFilter {
                country: armstrace_core::CountryCode::parse("FR").ok(),
                ..Default::default()
            },
            Box::new(move |e| e.country == fr),
        ),
        (
            AuditFilter {
                country: armstrace_core::CountryCode::parse("DE").ok(),
                action: Some("check".into()),
                ..Default::default()
            },
            Box::new(|e| e.country.as_deref() == Some("DE") && e.action == "check"),
        ),
        (
            AuditFilter {
                username: Some("fr-police".into()),
                ..Default::default()
            },
            Box::new(|e| e.username == "fr-police"),
        ),
        (
            AuditFilter {
                username: Some("ghost".into()),
                ..Default::default()
            },
            Box::new(|e| e.username == "ghost"),
        ),
        (
            AuditFilter {
                username: Some("(installation)".into()),
                action: Some("org.".into()),
                ..Default::default()
            },
            Box::new(|e| e.username == "(installation)" && e.action.starts_with("org.")),
        ),
        (
            AuditFilter {
                org_id: Some(actors[4].org_id),
                ..Default::default()
            },
            Box::new(|e| e.organisation == "Customs France"),
        ),
        (
            AuditFilter {
                username: Some("nobody-at-all".into()),
                ..Default::default()
            },
            Box::new(|_| false),
        ),
    ];
    for (filter, keeps) in filters {
        let expected: Vec<i64> = all.iter().filter(|e| keeps(e)).map(|e| e.id).collect();
        // Three at a time, so that pages end inside the merged parts.
        let mut read = Vec::new();
        let mut after = None;
        loop {
            let page = store.audit_entries(&filter, after, 3).await.unwrap();
            assert!(page.len() <= 3, "{filter:?}");
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            read.extend(page.iter().map(|e| e.id));
        }
        assert_eq!(read, expected, "{filter:?}");
    }
    // The filters above each keep something, but the last.
    assert!(
        all.iter()
            .any(|e| e.username == "ghost" && e.org_id.is_none())
    );
    assert!(
        all.iter()
            .filter(|e| e.country.as_deref() == Some("FR"))
            .count()
            > 20
    );
}
