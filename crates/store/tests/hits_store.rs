//! Hits, notifications, webhooks and the outbox, on SQLite and on PostgreSQL: a recorded check
//! makes its hits with their parties and notifications, a hit changes only as its state
//! allows, every organisation reads and marks its own inbox, and the outbox hands each due
//! delivery to one sender at a time.

mod common;

use std::collections::HashSet;

use armstrace_core::{CountryCode, FirearmInput, OrgKind, OrgState, Permissions};
use armstrace_store::audit::{AuditEvent, AuditFilter, AuditWho, verify_chain};
use armstrace_store::hits::{
    Attempt, DeliveryTarget, HitChange, HitOutcome, HitState, NewHit, NotificationFilter,
};
use armstrace_store::{Channel, Store, StoreError};
use chrono::{Duration, Utc};
use common::Backend;
use serde_json::json;

fn country(code: &str) -> CountryCode {
    CountryCode::parse(code).unwrap()
}

/// An installation with a French record and the organisations a hit on it concerns.
struct World {
    store: std::sync::Arc<dyn Store>,
    secretariat: i64,
    ncb_fr: i64,
    ncb_de: i64,
    partner: i64,
    police_de: i64,
    firearm: i64,
}

async fn org(store: &dyn Store, name: &str, kind: OrgKind, code: Option<&str>) -> i64 {
    store
        .create_organisation(
            &AuditWho::installation(),
            name,
            kind,
            code.map(country),
            OrgState::Approved,
        )
        .await
        .unwrap()
        .id
}

async fn world(store: std::sync::Arc<dyn Store>) -> World {
    let s = store.as_ref();
    let secretariat = org(s, "Secretariat", OrgKind::Secretariat, None).await;
    let ncb_fr = org(s, "NCB France", OrgKind::Ncb, Some("FR")).await;
    let ncb_de = org(s, "NCB Germany", OrgKind::Ncb, Some("DE")).await;
    let partner = org(s, "Partner", OrgKind::Partner, None).await;
    let police_de = org(s, "Police Berlin", OrgKind::Police, Some("DE")).await;
    s.create_user(
        &AuditWho::installation(),
        ncb_fr,
        "ncb-fr",
        None,
        Permissions::all(),
    )
    .await
    .unwrap();
    let actor = s.actor_for_user("ncb-fr").await.unwrap().unwrap();
    let input: FirearmInput = serde_json::from_value(json!({
        "record_id": "FR-1", "serial_number": "GX4471K", "make": "Glock",
        "model": "17", "calibre": "9x19mm", "firearm_type": "pistol",
        "country_of_manufacture": "AT", "recording_country": "FR",
        "status": "stolen", "event_date": "2023-05-17"
    }))
    .unwrap();
    let fields = input.validate(Utc::now().date_naive()).unwrap();
    let firearm = s
        .create_firearm(&actor, &fields, Channel::Api)
        .await
        .unwrap()
        .id;
    World {
        store,
        secretariat,
        ncb_fr,
        ncb_de,
        partner,
        police_de,
        firearm,
    }
}

/// Someone of organisation `org_id`, as the trail names them.
fn who(org_id: i64, name: &str, code: Option<&str>) -> AuditWho {
    AuditWho {
        user_id: None,
        username: format!("{name} officer"),
        org_id: Some(org_id),
        organisation: name.into(),
        country: code.map(country),
    }
}

fn new_hit(check_id: &str, firearm_id: i64, by: AuditWho, for_country: Option<&str>) -> NewHit {
    NewHit {
        check_id: check_id.into(),
        firearm_id,
        confidence: "strong".into(),
        score: 0.875,
        match_kind: "confusable".into(),
        make_relation: "same".into(),
        differences: json!([{ "position": 2, "typed": "0", "recorded": "O" }]),
        serial_typed: "GX447IK".into(),
        make_typed: Some("Glock".into()),
        operation: Some("Operation Orion".into()),
        who: by,
        on_behalf_of: for_country.map(country),
    }
}

/// Records a check by the partner for Germany that hits the French record; the hit's id.
async fn partner_hit(w: &World, check_id: &str) -> i64 {
    let by = who(w.partner, "Partner", None);
    let event = AuditEvent::new(by.clone(), "check");
    let recorded = w
        .store
        .record_check(
            vec![event],
            vec![w.firearm],
            vec![new_hit(check_id, w.firearm, by, Some("DE"))],
        )
        .await
        .unwrap();
    recorded.hits[0].2
}

fn roles(hit: &armstrace_store::hits::Hit) -> Vec<(i64, Vec<&str>)> {
    hit.parties
        .iter()
        .map(|p| (p.org_id, p.roles.iter().map(String::as_str).collect()))
        .collect()
}

both!(a_recorded_check_makes_its_hits_with_their_parties_and_notifications);

async fn a_recorded_check_makes_its_hits_with_their_parties_and_notifications(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let s = w.store.as_ref();
    let by = who(w.partner, "Partner", None);
    let recorded = s
        .record_check(
            vec![AuditEvent::new(by.clone(), "check")],
            vec![w.firearm, 9999],
            vec![
                new_hit("check-1", w.firearm, by.clone(), Some("DE")),
                new_hit("check-1", 9999, by.clone(), Some("DE")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        recorded.records.len(),
        1,
        "an id that names nothing is skipped"
    );
    assert_eq!(recorded.records[0].id, w.firearm);
    assert_eq!(
        recorded.hits.len(),
        1,
        "no hit on a record that does not exist"
    );
    let (check, firearm, hit_id) = recorded.hits[0].clone();
    assert_eq!((check.as_str(), firearm), ("check-1", w.firearm));

    let hit = s.hit(hit_id).await.unwrap().unwrap();
    assert_eq!(hit.check_id, "check-1");
    assert_eq!(hit.recording_country, "FR");
    assert_eq!(hit.confidence, "strong");
    assert_eq!(hit.score, 0.875);
    assert_eq!(hit.match_kind, "confusable");
    assert_eq!(hit.make_relation, "same");
    assert_eq!(
        hit.differences,
        json!([{ "position": 2, "typed": "0", "recorded": "O" }])
    );
    assert_eq!(hit.serial_typed, "GX447IK");
    assert_eq!(hit.make_typed.as_deref(), Some("Glock"));
    assert_eq!(hit.operation.as_deref(), Some("Operation Orion"));
    assert_eq!(hit.username, "Partner officer");
    assert_eq!(
        (hit.org_id, hit.organisation.as_str()),
        (w.partner, "Partner")
    );
    assert_eq!(hit.on_behalf_of.as_deref(), Some("DE"));
    assert_eq!(hit.state, HitState::Open);
    assert_eq!(hit.outcome, None);
    assert_eq!(hit.version, 1);
    assert_eq!(hit.created_at, hit.updated_at);
    assert_eq!(
        roles(&hit),
        [
            (w.secretariat, vec!["secretariat"]),
            (w.partner, vec!["searcher"]),
            (w.ncb_de, vec!["on_behalf_of"]),
            (w.ncb_fr, vec!["recording_ncb"]),
        ]
    );
    assert_eq!(hit.parties[2].organisation, "NCB Germany");
    assert!(s.hit_events(hit_id).await.unwrap().is_empty());

    // Each party is told once; an organisation outside the hit is not.
    for party in [w.secretariat, w.partner, w.ncb_de, w.ncb_fr] {
        let told = s
            .notifications(party, &NotificationFilter::default(), 0, 10)
            .await
            .unwrap();
        assert_eq!(told.len(), 1);
        let n = &told[0];
        assert_eq!(
            (n.org_id, n.hit_id, n.trace_id),
            (party, Some(hit_id), None)
        );
        assert_eq!(n.event, "hit.created");
        assert_eq!(n.read_at, None);
        assert_eq!(n.created_at, hit.created_at);
        assert_eq!(n.data["event"], "hit.created");
        assert_eq!(n.data["hit_id"], hit_id);
        assert_eq!(n.data["hit"]["serial_typed"], "GX447IK");
        assert_eq!(n.data["hit"]["on_behalf_of"], "DE");
        assert_eq!(n.data["hit"]["searching_organisation"], "Partner");
        assert_eq!(n.data["hit"]["record"]["id"], w.firearm);
        assert_eq!(n.data["hit"]["record"]["serial_number"], "GX4471K");
        assert_eq!(n.data["hit"]["record"]["model"], "17");
        assert_eq!(n.data["by"]["username"], "Partner officer");
        assert_eq!(
            n.data["at"],
            json!(n.created_at),
            "the payload says when, as stored"
        );
        assert_eq!(s.unread_notifications(party).await.unwrap(), 1);
    }
    assert_eq!(s.unread_notifications(w.police_de).await.unwrap(), 0);

    // Two roles of one organisation make one party and one notification.
    let ncb = who(w.ncb_fr, "NCB France", Some("FR"));
    let own = s
        .record_check(
            Vec::new(),
            Vec::new(),
            vec![new_hit("check-2", w.firearm, ncb, None)],
        )
        .await
        .unwrap();
    assert!(own.records.is_empty());
    let own = s.hit(own.hits[0].2).await.unwrap().unwrap();
    assert_eq!(
        roles(&own),
        [
            (w.secretariat, vec!["secretariat"]),
            (w.ncb_fr, vec!["searcher", "recording_ncb"]),
        ]
    );
    assert_eq!(own.on_behalf_of, None);
    assert_eq!(s.unread_notifications(w.ncb_fr).await.unwrap(), 2);

    // Listings: newest first, by party, state and position.
    let ids = |hits: Vec<armstrace_store::hits::Hit>| hits.iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.hits(None, None, None, 10).await.unwrap()),
        [own.id, hit_id]
    );
    assert_eq!(
        ids(s.hits(Some(w.ncb_de), None, None, 10).await.unwrap()),
        [hit_id]
    );
    assert!(
        s.hits(Some(w.police_de), None, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(s.hits(None, None, Some(own.id), 10).await.unwrap()),
        [hit_id]
    );
    assert_eq!(ids(s.hits(None, None, None, 1).await.unwrap()), [own.id]);
    let open = s
        .hits(Some(w.ncb_fr), Some(HitState::Open), None, 10)
        .await
        .unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(open[1], hit, "a listed hit carries its parties");
    assert!(
        s.hits(None, Some(HitState::Closed), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.hit(9999).await.unwrap(), None);

    let report = verify_chain(s.audit_chain(), None).await.unwrap();
    assert_eq!(report.broken, None);
    // Five organisations, the user, the record and the first check.
    assert_eq!(report.entries, 8);
}

both!(a_hit_changes_only_as_its_state_allows_and_tells_the_other_parties);

async fn a_hit_changes_only_as_its_state_allows_and_tells_the_other_parties(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let s = w.store.as_ref();
    let hit_id = partner_hit(&w, "check-1").await;
    let ncb = who(w.ncb_fr, "NCB France", Some("FR"));
    let confirm = HitChange::Confirm {
        note: Some("it is ours".into()),
    };

    let confirmed = s.change_hit(&ncb, hit_id, &confirm).await.unwrap();
    assert_eq!(confirmed.state, HitState::Confirmed);
    assert_eq!(confirmed.version, 2);
    assert!(confirmed.updated_at > confirmed.created_at);
    assert_eq!(confirmed.parties.len(), 4);
    for party in [w.secretariat, w.partner, w.ncb_de] {
        let told = s
            .notifications(
                party,
                &NotificationFilter {
                    event: Some("hit.confirmed".into()),
                    ..Default::default()
                },
                0,
                10,
            )
            .await
            .unwrap();
        assert_eq!(told.len(), 1);
        assert_eq!(told[0].hit_id, Some(hit_id));
        assert_eq!(told[0].data["state"], "confirmed");
        assert_eq!(told[0].data["text"], "it is ours");
        assert_eq!(told[0].data["by"]["organisation"], "NCB France");
        assert_eq!(told[0].data["hit"]["record"]["serial_number"], "GX4471K");
        assert_eq!(told[0].data["at"], json!(confirmed.updated_at));
    }
    assert_eq!(
        s.unread_notifications(w.ncb_fr).await.unwrap(),
        1,
        "the party that made the change is not told of it"
    );

    let again = s.change_hit(&ncb, hit_id, &confirm).await;
    assert!(
        matches!(
            again,
            Err(StoreError::Conflict {
                code: "hit_state",
                ..
            })
        ),
        "{again:?}"
    );
    let message = HitChange::Message {
        text: "seized in Kehl".into(),
    };
    let partner = who(w.partner, "Partner", None);
    let messaged = s.change_hit(&partner, hit_id, &message).await.unwrap();
    assert_eq!(
        messaged.state,
        HitState::Confirmed,
        "a message keeps the state"
    );
    assert_eq!(messaged.version, 3);
    assert_eq!(s.unread_notifications(w.ncb_fr).await.unwrap(), 2);
    assert_eq!(
        s.unread_notifications(w.partner).await.unwrap(),
        2,
        "created and confirmed; not its own message"
    );

    let close = HitChange::Close {
        outcome: HitOutcome::Seized,
        note: None,
    };
    let closed = s.change_hit(&ncb, hit_id, &close).await.unwrap();
    assert_eq!(closed.state, HitState::Closed);
    assert_eq!(closed.outcome.as_deref(), Some("seized"));
    assert_eq!(closed.version, 4);
    let after = s.change_hit(&partner, hit_id, &message).await;
    assert!(
        matches!(
            after,
            Err(StoreError::Conflict {
                code: "hit_state",
                ..
            })
        ),
        "{after:?}"
    );
    assert_eq!(
        s.hit(hit_id).await.unwrap().unwrap(),
        closed,
        "a refusal changes nothing"
    );
    let missing = s.change_hit(&ncb, 9999, &message).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    let events = s.hit_events(hit_id).await.unwrap();
    let steps: Vec<(&str, &str, Option<&str>)> = events
        .iter()
        .map(|e| (e.event.as_str(), e.organisation.as_str(), e.text.as_deref()))
        .collect();
    assert_eq!(
        steps,
        [
            ("hit.confirmed", "NCB France", Some("it is ours")),
            ("hit.message", "Partner", Some("seized in Kehl")),
            ("hit.closed", "NCB France", None),
        ]
    );
    assert_eq!(events[1].org_id, w.partner);
    assert_eq!(events[2].at, closed.updated_at);
    let listed = s
        .hits(None, Some(HitState::Closed), None, 10)
        .await
        .unwrap();
    assert_eq!(listed, [closed]);

    let trail = s
        .audit_entries(
            &AuditFilter {
                action: Some("hit.".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["hit.confirmed", "hit.message", "hit.closed"]);
    assert_eq!(trail[0].target.as_deref(), Some(&*format!("hit:{hit_id}")));
    let detail: serde_json::Value = serde_json::from_str(&trail[2].detail).unwrap();
    assert_eq!(
        detail,
        json!({ "from": "confirmed", "to": "closed", "outcome": "seized", "text": null })
    );
}

both!(an_inbox_lists_unread_first_and_marks_only_its_own_read);

async fn an_inbox_lists_unread_first_and_marks_only_its_own_read(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    assert_eq!(store.last_notification().await.unwrap(), 0);
    let w = world(store).await;
    let s = w.store.as_ref();
    let mut hits = Vec::new();
    for i in 0..4 {
        hits.push(partner_hit(&w, &format!("check-{i}")).await);
    }
    let all = NotificationFilter::default();
    let inbox = s.notifications(w.ncb_fr, &all, 0, 10).await.unwrap();
    let ids: Vec<i64> = inbox.iter().map(|n| n.id).collect();
    let hit_ids: Vec<Option<i64>> = inbox.iter().map(|n| n.hit_id).collect();
    assert_eq!(
        hit_ids,
        hits.iter().rev().map(|h| Some(*h)).collect::<Vec<_>>()
    );
    assert!(ids.windows(2).all(|p| p[0] > p[1]), "newest first: {ids:?}");

    // Marking another organisation's notification changes nothing.
    let germany = s.notifications(w.ncb_de, &all, 0, 10).await.unwrap();
    assert_eq!(
        s.mark_read(w.ncb_fr, Some(&[germany[0].id])).await.unwrap(),
        0
    );
    assert_eq!(s.mark_read(w.ncb_fr, Some(&[])).await.unwrap(), 0);
    let newest = ids[0];
    let third = ids[2];
    assert_eq!(
        s.mark_read(w.ncb_fr, Some(&[newest, third])).await.unwrap(),
        2
    );
    assert_eq!(
        s.mark_read(w.ncb_fr, Some(&[newest])).await.unwrap(),
        0,
        "already read"
    );
    assert_eq!(s.unread_notifications(w.ncb_fr).await.unwrap(), 2);
    assert_eq!(s.unread_notifications(w.ncb_de).await.unwrap(), 4);

    let inbox = s.notifications(w.ncb_fr, &all, 0, 10).await.unwrap();
    let order: Vec<i64> = inbox.iter().map(|n| n.id).collect();
    assert_eq!(
        order,
        [ids[1], ids[3], ids[0], ids[2]],
        "unread first, then newest first"
    );
    assert!(inbox[0].read_at.is_none() && inbox[2].read_at.is_some());
    let page: Vec<i64> = s
        .notifications(w.ncb_fr, &all, 1, 2)
        .await
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(page, [ids[3], ids[0]]);
    let unread = NotificationFilter {
        unread: true,
        ..Default::default()
    };
    let listed: Vec<i64> = s
        .notifications(w.ncb_fr, &unread, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(listed, [ids[1], ids[3]]);
    let about_one = NotificationFilter {
        hit_id: Some(hits[0]),
        ..Default::default()
    };
    let listed = s.notifications(w.ncb_fr, &about_one, 0, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, ids[3]);
    let other_event = NotificationFilter {
        event: Some("hit.closed".into()),
        ..Default::default()
    };
    assert!(
        s.notifications(w.ncb_fr, &other_event, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let traces = NotificationFilter {
        trace_id: Some(1),
        ..Default::default()
    };
    assert!(
        s.notifications(w.ncb_fr, &traces, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(s.mark_read(w.ncb_fr, None).await.unwrap(), 2);
    assert_eq!(s.unread_notifications(w.ncb_fr).await.unwrap(), 0);
    assert_eq!(s.mark_read(w.ncb_fr, None).await.unwrap(), 0);

    // The live stream's view: oldest first after a position, whatever was read.
    let after: Vec<i64> = s
        .notifications_after(w.ncb_fr, ids[3], 2)
        .await
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(after, [ids[2], ids[1]]);
    assert!(
        s.notifications_after(w.ncb_fr, ids[0], 10)
            .await
            .unwrap()
            .is_empty()
    );
    let everyone = [w.secretariat, w.partner, w.ncb_de, w.ncb_fr];
    let mut last = 0;
    for org in everyone {
        for n in s.notifications(org, &all, 0, 10).await.unwrap() {
            last = last.max(n.id);
        }
    }
    assert_eq!(s.last_notification().await.unwrap(), last);
    assert!(last >= newest);
}

both!(webhooks_are_registered_listed_and_removed_without_their_secret);

async fn webhooks_are_registered_listed_and_removed_without_their_secret(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let s = w.store.as_ref();
    let admin = who(w.ncb_fr, "NCB France", Some("FR"));
    let first = s
        .create_webhook(&admin, w.ncb_fr, "https://ncb.fr.example/one", "secret-one")
        .await
        .unwrap();
    let second = s
        .create_webhook(&admin, w.ncb_fr, "https://ncb.fr.example/two", "secret-two")
        .await
        .unwrap();
    assert_eq!(first.org_id, w.ncb_fr);
    assert_eq!(first.url, "https://ncb.fr.example/one");
    assert_eq!(first.created_by, "NCB France officer");
    assert!(second.id > first.id);
    assert_eq!(
        s.webhooks(w.ncb_fr).await.unwrap(),
        [first.clone(), second.clone()]
    );
    assert!(s.webhooks(w.ncb_de).await.unwrap().is_empty());
    assert_eq!(s.webhook(first.id).await.unwrap(), Some(first.clone()));

    // A hit queues a delivery to each; removing one fails what waits for it.
    partner_hit(&w, "check-1").await;
    let queued = s.deliveries(first.id, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].state, "pending");
    assert_eq!(queued[0].attempts, 0);
    assert_eq!(queued[0].next_attempt_at, Some(queued[0].created_at));
    s.delete_webhook(&admin, first.id).await.unwrap();
    assert_eq!(s.webhook(first.id).await.unwrap(), None);
    assert_eq!(
        s.webhooks(w.ncb_fr).await.unwrap(),
        std::slice::from_ref(&second)
    );
    let failed = s.deliveries(first.id, 10).await.unwrap();
    assert_eq!(failed[0].state, "failed");
    assert_eq!(
        failed[0].last_error.as_deref(),
        Some("the webhook was removed")
    );
    assert_eq!(failed[0].next_attempt_at, None);
    assert_eq!(
        s.deliveries(second.id, 10).await.unwrap()[0].state,
        "pending"
    );
    let twice = s.delete_webhook(&admin, first.id).await;
    assert!(matches!(twice, Err(StoreError::NotFound(_))), "{twice:?}");
    let unknown = s.delete_webhook(&admin, 9999).await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );

    // Only live webhooks are delivered to.
    let claimed = s.claim_deliveries(Duration::seconds(30), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(matches!(&claimed[0].target, DeliveryTarget::Webhook { id, .. } if *id == second.id));

    let trail = s
        .audit_entries(
            &AuditFilter {
                action: Some("webhook.".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["webhook.create", "webhook.create", "webhook.delete"]
    );
    assert!(trail.iter().all(|e| !e.detail.contains("secret-")));
    let detail: serde_json::Value = serde_json::from_str(&trail[0].detail).unwrap();
    assert_eq!(
        detail,
        json!({ "org_id": w.ncb_fr, "url": "https://ncb.fr.example/one" })
    );
}

both!(a_duty_address_is_set_cleared_and_refused_for_no_organisation);

async fn a_duty_address_is_set_cleared_and_refused_for_no_organisation(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let s = w.store.as_ref();
    let admin = who(w.ncb_fr, "NCB France", Some("FR"));
    assert_eq!(s.duty_email(w.ncb_fr).await.unwrap(), None);
    s.set_duty_email(&admin, w.ncb_fr, Some("duty@ncb.fr.example"))
        .await
        .unwrap();
    assert_eq!(
        s.duty_email(w.ncb_fr).await.unwrap().as_deref(),
        Some("duty@ncb.fr.example")
    );
    assert_eq!(s.duty_email(w.ncb_de).await.unwrap(), None);
    s.set_duty_email(&admin, w.ncb_fr, None).await.unwrap();
    assert_eq!(s.duty_email(w.ncb_fr).await.unwrap(), None);
    let unknown = s
        .set_duty_email(&admin, 9999, Some("nobody@example.org"))
        .await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound(_))),
        "{unknown:?}"
    );
    assert_eq!(s.duty_email(9999).await.unwrap(), None);

    let trail = s
        .audit_entries(
            &AuditFilter {
                action: Some("org.duty_email".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    let details: Vec<serde_json::Value> = trail
        .iter()
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .collect();
    assert_eq!(
        details,
        [
            json!({ "duty_email": "duty@ncb.fr.example" }),
            json!({ "duty_email": null })
        ]
    );
}

both!(a_delivery_is_claimed_retried_and_given_up);

async fn a_delivery_is_claimed_retried_and_given_up(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let s = w.store.as_ref();
    let admin = who(w.ncb_fr, "NCB France", Some("FR"));
    let hook = s
        .create_webhook(&admin, w.ncb_fr, "https://ncb.fr.example/hits", "s3cret")
        .await
        .unwrap();
    s.set_duty_email(&admin, w.ncb_fr, Some("duty@ncb.fr.example"))
        .await
        .unwrap();
    assert!(
        s.claim_deliveries(Duration::seconds(30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let hit_id = partner_hit(&w, "check-1").await;
    let notification = s
        .notifications(w.ncb_fr, &NotificationFilter::default(), 0, 1)
        .await
        .unwrap()
        .remove(0);

    let claimed = s.claim_deliveries(Duration::seconds(30), 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "the webhook and the duty address");
    assert!(claimed[0].id < claimed[1].id);
    let (webhook, email) = (&claimed[0], &claimed[1]);
    match &webhook.target {
        DeliveryTarget::Webhook { id, url, secret } => {
            assert_eq!(
                (*id, url.as_str(), secret.as_str()),
                (hook.id, hook.url.as_str(), "s3cret")
            );
        }
        other => panic!("{other:?}"),
    }
    match &email.target {
        DeliveryTarget::Email { address } => assert_eq!(address, "duty@ncb.fr.example"),
        other => panic!("{other:?}"),
    }
    for delivery in &claimed {
        assert_eq!(delivery.attempts, 0);
        assert_eq!(delivery.notification, notification);
        assert_eq!(delivery.notification.hit_id, Some(hit_id));
    }
    assert!(
        s.claim_deliveries(Duration::seconds(30), 10)
            .await
            .unwrap()
            .is_empty(),
        "claimed deliveries are no one else's until the lease runs out"
    );

    // The webhook failed and is retried at once; the e-mail went.
    let now = Utc::now();
    s.finish_deliveries(&[
        (
            webhook.id,
            webhook.claim.clone(),
            Attempt {
                status: Some(503),
                error: Some("HTTP 503".into()),
                millis: 120,
                retry_at: Some(now - Duration::seconds(1)),
            },
        ),
        (
            email.id,
            email.claim.clone(),
            Attempt {
                status: None,
                error: None,
                millis: 40,
                retry_at: None,
            },
        ),
    ])
    .await
    .unwrap();
    let log = s.deliveries(hook.id, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].id, webhook.id);
    assert_eq!(log[0].notification_id, notification.id);
    assert_eq!(log[0].state, "pending");
    assert_eq!(log[0].attempts, 1);
    assert_eq!(log[0].last_error.as_deref(), Some("HTTP 503"));
    assert!(log[0].next_attempt_at.unwrap() < now);
    assert_eq!(log[0].delivered_at, None);

    let retried = s.claim_deliveries(Duration::seconds(30), 10).await.unwrap();
    assert_eq!(retried.len(), 1, "the delivered e-mail is not sent again");
    assert_eq!(retried[0].id, webhook.id);
    assert_eq!(retried[0].attempts, 1);

    // Failing again without a retry gives up.
    s.finish_deliveries(&[(
        retried[0].id,
        retried[0].claim.clone(),
        Attempt {
            status: None,
            error: Some("connection refused".into()),
            millis: 3,
            retry_at: None,
        },
    )])
    .await
    .unwrap();
    let log = s.deliveries(hook.id, 10).await.unwrap();
    assert_eq!(log[0].state, "failed");
    assert_eq!(log[0].attempts, 2);
    assert_eq!(log[0].last_error.as_deref(), Some("connection refused"));
    assert_eq!(log[0].next_attempt_at, None);
    assert!(
        s.claim_deliveries(Duration::seconds(30), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A retry in the future waits for its time; a delivered one records when.
    partner_hit(&w, "check-2").await;
    let claimed = s.claim_deliveries(Duration::seconds(30), 1).await.unwrap();
    assert_eq!(claimed.len(), 1, "at most the limit");
    assert!(matches!(claimed[0].target, DeliveryTarget::Webhook { .. }));
    s.finish_deliveries(&[(
        claimed[0].id,
        claimed[0].claim.clone(),
        Attempt {
            status: Some(500),
            error: Some("HTTP 500".into()),
            millis: 9,
            retry_at: Some(Utc::now() + Duration::hours(1)),
        },
    )])
    .await
    .unwrap();
    let rest = s.claim_deliveries(Duration::seconds(30), 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert!(matches!(rest[0].target, DeliveryTarget::Email { .. }));
    s.finish_deliveries(&[(
        rest[0].id,
        rest[0].claim.clone(),
        Attempt {
            status: None,
            error: None,
            millis: 5,
            retry_at: None,
        },
    )])
    .await
    .unwrap();
    assert!(
        s.claim_deliveries(Duration::seconds(30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let log = s.deliveries(hook.id, 1).await.unwrap();
    assert_eq!(log.len(), 1, "newest first, at most the limit");
    assert_eq!(log[0].id, claimed[0].id);
    assert_eq!(log[0].state, "pending");
    assert!(log[0].next_attempt_at.unwrap() > Utc::now());
}

both!(two_senders_claiming_at_once_never_get_the_same_delivery);

async fn two_senders_claiming_at_once_never_get_the_same_delivery(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let s = w.store.as_ref();
    let admin = who(w.ncb_fr, "NCB France", Some("FR"));
    for i in 0..3 {
        s.create_webhook(
            &admin,
            w.ncb_fr,
            &format!("https://ncb.fr.example/{i}"),
            "k",
        )
        .await
        .unwrap();
    }
    s.set_duty_email(&admin, w.ncb_fr, Some("duty@ncb.fr.example"))
        .await
        .unwrap();
    for i in 0..10 {
        partner_hit(&w, &format!("check-{i}")).await;
    }
    let queued = 10 * 4;

    let senders: Vec<_> = (0..6)
        .map(|_| {
            let store = w.store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = store
                        .claim_deliveries(Duration::seconds(60), 3)
                        .await
                        .unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.iter().map(|d| d.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for sender in senders {
        all.extend(sender.await.unwrap());
    }
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(distinct.len(), all.len(), "a delivery was claimed twice");
    assert_eq!(all.len(), queued, "every delivery was claimed");
}

both!(a_result_under_a_claim_that_ran_out_is_ignored);

async fn a_result_under_a_claim_that_ran_out_is_ignored(backend: Backend) {
    let (_db, store) = common::fresh(backend).await;
    let w = world(store).await;
    let s = w.store.as_ref();
    let admin = who(w.ncb_fr, "NCB France", Some("FR"));
    let hook = s
        .create_webhook(&admin, w.ncb_fr, "https://ncb.fr.example/hits", "k")
        .await
        .unwrap();
    partner_hit(&w, "check-1").await;
    let delivered = Attempt {
        status: Some(200),
        error: None,
        millis: 10,
        retry_at: None,
    };

    // A lease already over: another sender takes the row at once.
    let stale = s
        .claim_deliveries(Duration::seconds(-5), 10)
        .await
        .unwrap()
        .remove(0);
    let current = s
        .claim_deliveries(Duration::seconds(60), 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(stale.id, current.id);
    assert_ne!(stale.claim, current.claim);
    s.finish_deliveries(&[(stale.id, stale.claim.clone(), delivered.clone())])
        .await
        .unwrap();
    let log = s.deliveries(hook.id, 10).await.unwrap();
    assert_eq!((log[0].state.as_str(), log[0].attempts), ("pending", 0));
    s.finish_deliveries(&[(current.id, "not a claim".into(), delivered.clone())])
        .await
        .unwrap();
    assert_eq!(s.deliveries(hook.id, 10).await.unwrap()[0].state, "pending");

    s.finish_deliveries(&[(current.id, current.claim.clone(), delivered.clone())])
        .await
        .unwrap();
    let log = s.deliveries(hook.id, 10).await.unwrap();
    assert_eq!((log[0].state.as_str(), log[0].attempts), ("delivered", 1));
    assert!(log[0].delivered_at.is_some());
    assert_eq!(log[0].last_error, None);

    // A removed webhook's delivery stays failed whatever its sender reports.
    partner_hit(&w, "check-2").await;
    let claimed = s
        .claim_deliveries(Duration::seconds(60), 10)
        .await
        .unwrap()
        .remove(0);
    s.delete_webhook(&admin, hook.id).await.unwrap();
    s.finish_deliveries(&[(claimed.id, claimed.claim.clone(), delivered)])
        .await
        .unwrap();
    let log = s.deliveries(hook.id, 10).await.unwrap();
    assert_eq!(log[0].id, claimed.id);
    assert_eq!((log[0].state.as_str(), log[0].attempts), ("failed", 0));
}
