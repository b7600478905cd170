//! Upgrading a database written before trace requests: the notifications table is rebuilt to
//! take trace notifications, and every notification, its deliveries and their references
//! survive; then a trace request's notifications, visibility and reminders work on it.

use armstrace_core::trace::{DeadlinePolicy, Priority, TraceAction, TraceContent};
use armstrace_core::{CountryCode, FirearmInput, OrgKind, OrgState, Permissions};
use armstrace_store::Store;
use armstrace_store::audit::AuditWho;
use armstrace_store::hits::{NewHit, NotificationFilter};
use armstrace_store::traces::{NewTrace, TraceChange, TraceFilter, TraceScope};
use serde_json::json;
use sqlx::Connection;

/// The notifications table as migration 5 made it.
const NOTIFICATIONS_BEFORE_TRACES: &str = "
    PRAGMA foreign_keys = OFF;
    DROP TABLE trace_attachments;
    DROP TABLE trace_events;
    DROP TABLE traces;
    CREATE TABLE notifications_old (
        id          INTEGER PRIMARY KEY,
        org_id      INTEGER NOT NULL REFERENCES organisations(id),
        hit_id      INTEGER NOT NULL REFERENCES hits(id),
        event       TEXT NOT NULL,
        payload     TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        read_at     TEXT
    );
    INSERT INTO notifications_old
        SELECT id, org_id, hit_id, event, payload, created_at, read_at FROM notifications;
    DROP TABLE notifications;
    ALTER TABLE notifications_old RENAME TO notifications;
    CREATE INDEX notifications_by_org ON notifications (org_id, id);
    DELETE FROM _sqlx_migrations WHERE version = 6;
";

fn country(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap()
}

async fn org(store: &dyn Store, name: &str, kind: OrgKind, code: &str) -> i64 {
    store
        .create_organisation(
            &AuditWho::installation(),
            name,
            kind,
            Some(country(code)),
            OrgState::Approved,
        )
        .await
        .unwrap()
        .id
}

fn who(org_id: i64, name: &str, code: &str) -> AuditWho {
    AuditWho {
        user_id: None,
        username: name.into(),
        org_id: Some(org_id),
        organisation: name.into(),
        country: Some(country(code)),
    }
}

#[tokio::test]
async fn notifications_survive_the_upgrade_and_trace_requests_work_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("upgrade.db");
    let path = db.to_str().unwrap().to_string();

    // A database with a hit, its notifications and their deliveries.
    let (ncb_fr, ncb_de, police_fr, notified) = {
        let store = armstrace_store::open(&path, true).await.unwrap();
        let store = store.as_ref();
        let ncb_fr = org(store, "NCB France", OrgKind::Ncb, "FR").await;
        let ncb_de = org(store, "NCB Germany", OrgKind::Ncb, "DE").await;
        let police_fr = org(store, "Police Lyon", OrgKind::Police, "FR").await;
        store
            .set_duty_email(
                &AuditWho::installation(),
                ncb_fr,
                Some("duty@ncb.fr.example"),
            )
            .await
            .unwrap();
        let user = store
            .create_user(
                &AuditWho::installation(),
                ncb_fr,
                "ncb-fr",
                None,
                Permissions::all(),
            )
            .await
            .unwrap();
        let actor = store.actor_for_user(&user.username).await.unwrap().unwrap();
        let input: FirearmInput = serde_json::from_value(json!({
            "record_id": "FR-1", "serial_number": "GX4471K", "make": "Glock",
            "model": "17", "calibre": "9x19mm", "firearm_type": "pistol",
            "country_of_manufacture": "AT", "recording_country": "FR",
            "status": "stolen", "event_date": "2023-05-17"
        }))
        .unwrap();
        let fields = input.validate(chrono::Utc::now().date_naive()).unwrap();
        let firearm = store
            .create_firearm(&actor, &fields, armstrace_store::Channel::Api)
            .await
            .unwrap();
        store
            .record_check(
                Vec::new(),
                Vec::new(),
                vec![NewHit {
                    check_id: "before-traces".into(),
                    firearm_id: firearm.id,
                    confidence: "exact".into(),
                    score: 1.0,
                    match_kind: "exact".into(),
                    make_relation: "not_given".into(),
                    differences: json!([]),
                    serial_typed: "GX4471K".into(),
                    make_typed: None,
                    operation: None,
                    who: who(police_fr, "Police Lyon", "FR"),
                    on_behalf_of: None,
                }],
            )
            .await
            .unwrap();
        let notified = store
            .notifications(ncb_fr, &NotificationFilter::default(), 0, 100)
            .await
            .unwrap();
        assert_eq!(notified.len(), 1);
        (ncb_fr, ncb_de, police_fr, notified)
    };

    // Back to the schema of migration 5.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite:{path}"))
        .await
        .unwrap();
    sqlx::raw_sql(NOTIFICATIONS_BEFORE_TRACES)
        .execute(&mut conn)
        .await
        .unwrap();
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(queued, 1, "the duty e-mail of the NCB's notification");
    conn.close().await.unwrap();

    // Opening migrates again: every notification is kept, with its hit and deliveries.
    let store = armstrace_store::open(&path, false).await.unwrap();
    let store = store.as_ref();
    let after = store
        .notifications(ncb_fr, &NotificationFilter::default(), 0, 100)
        .await
        .unwrap();
    assert_eq!(after, notified);
    assert_eq!(after[0].trace_id, None);
    let claimed = store
        .claim_deliveries(chrono::Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].notification.id, after[0].id);

    // A trace request on the upgraded database: the German NCB is told, Lyon's police sees
    // its own request, and the French NCB its agency's.
    let lyon = who(police_fr, "Police Lyon", "FR");
    let now = chrono::Utc::now();
    let content: TraceContent = serde_json::from_value(json!({
        "firearm": { "serial_numbers": ["WK41877"], "make": "Walther" },
        "legal_basis": "Mutual legal assistance",
        "intended_use": "Investigation"
    }))
    .unwrap();
    let trace = store
        .create_trace(
            &lyon,
            &NewTrace {
                requester_country: country("FR"),
                to_country: Some(country("DE")),
                content,
            },
            now,
        )
        .await
        .unwrap();
    let send = TraceChange::Move {
        action: TraceAction::Send,
        text: None,
        deadlines: Some(DeadlinePolicy::default().deadlines(now, Priority::Urgent)),
        answer: None,
        forward_to: None,
    };
    store
        .change_trace(&lyon, trace.id, &send, now)
        .await
        .unwrap();
    let told = store
        .notifications(ncb_de, &NotificationFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].trace_id, Some(trace.id));
    assert_eq!(told[0].hit_id, None);
    assert_eq!(told[0].event, "trace.sent");
    for (org_id, ncb_of) in [(police_fr, None), (ncb_fr, Some(country("FR")))] {
        let seen = store
            .traces(&TraceFilter::new(
                TraceScope::Organisation { org_id, ncb_of },
                10,
            ))
            .await
            .unwrap();
        assert_eq!(seen.len(), 1, "org {org_id}");
    }
    let italy = org(store, "NCB Italy", OrgKind::Ncb, "IT").await;
    let unseen = store
        .traces(&TraceFilter::new(
            TraceScope::Organisation {
                org_id: italy,
                ncb_of: Some(country("IT")),
            },
            10,
        ))
        .await
        .unwrap();
    assert!(unseen.is_empty());

    // A day later it is late: one reminder each, not two.
    let later = now + chrono::Duration::hours(25);
    let again = chrono::Duration::hours(24);
    let due = store.due_trace_reminders(later, again).await.unwrap();
    assert_eq!(due, [trace.id]);
    assert!(
        store
            .remind_trace(trace.id, later, again)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .remind_trace(trace.id, later, again)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .due_trace_reminders(later, again)
            .await
            .unwrap()
            .is_empty()
    );
    for org_id in [police_fr, ncb_fr, ncb_de] {
        let overdue = store
            .notifications(
                org_id,
                &NotificationFilter {
                    event: Some("trace.overdue".into()),
                    ..NotificationFilter::default()
                },
                0,
                10,
            )
            .await
            .unwrap();
        assert_eq!(overdue.len(), 1, "org {org_id}");
    }
}
