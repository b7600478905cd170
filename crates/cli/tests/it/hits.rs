//! Hits: made with the check and told to the secretariat, the searching organisation and the
//! recording NCB; followed up by them with permission checks; delivered to inboxes, live
//! streams, webhooks (failing, slow, then recovering; across a SIGKILL) and duty e-mail.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::receivers::{Answer, Receiver, SmtpSink};
use crate::support::{Installation, TestServer, WEBHOOK_SECRET as SECRET, record};

/// An installation with the French NCB (which records), a Berlin police agency (which
/// checks), the German NCB and the Italian NCB (neither party to French hits).
struct World {
    installation: Installation,
    ncb_fr_org: String,
    ncb_fr: String,
    berlin: String,
    ncb_it: String,
}

fn world() -> World {
    let installation = Installation::new();
    let ncb_fr_org = installation.add_org("NCB France", "ncb", Some("FR"));
    let ncb_fr = installation.add_user_with_token(&ncb_fr_org, "ncb-fr", "check,record,admin");
    installation.add_org("NCB Germany", "ncb", Some("DE"));
    let berlin_org = installation.add_org("Polizei Berlin", "police", Some("DE"));
    installation.admin(&["org", "approve", &berlin_org]);
    let berlin = installation.add_user_with_token(&berlin_org, "berlin", "check,admin");
    let it_org = installation.add_org("NCB Italy", "ncb", Some("IT"));
    let ncb_it = installation.add_user_with_token(&it_org, "ncb-it", "check,record");
    World {
        installation,
        ncb_fr_org,
        ncb_fr,
        berlin,
        ncb_it,
    }
}

/// Serials no two of which are within the check's reach of each other.
fn serial(i: usize) -> String {
    let letter = char::from(b'A' + (i % 26) as u8);
    format!("{letter}{letter}{letter}{:05}", 10_000 + i * 4_111)
}

async fn add_french_record(server: &TestServer, ncb_fr: &str, record_id: &str, serial: &str) {
    let (status, created) = server
        .as_user(
            ncb_fr,
            Method::POST,
            "/api/v1/firearms",
            Some(record("FR", record_id, serial)),
        )
        .await;
    assert_eq!(status, 201, "{created}");
}

async fn check(server: &TestServer, token: &str, serial: &str) -> Value {
    let (status, answer) = server
        .as_user(
            token,
            Method::POST,
            "/api/v1/checks",
            Some(json!({ "serial_number": serial, "operation": "Operation Trident" })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn inbox(server: &TestServer, token: &str) -> Value {
    let (status, inbox) = server
        .as_user(token, Method::GET, "/api/v1/notifications", None)
        .await;
    assert_eq!(status, 200, "{inbox}");
    inbox
}

fn events(inbox: &Value, hit_id: i64) -> Vec<String> {
    inbox["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["hit_id"] == hit_id)
        .map(|n| n["event"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_hit_is_told_to_three_offices_and_followed_up_by_whom_the_rules_allow() {
    let w = world();
    let server = TestServer::start(&w.installation);
    add_french_record(&server, &w.ncb_fr, "FR-HIT-1", "HX7731Q").await;

    // Berlin police check; the exact match makes a hit.
    let answer = check(&server, &w.berlin, "HX-7731-Q").await;
    let first = &answer["matches"][0];
    assert_eq!(first["confidence"], "exact", "{answer}");
    let hit_id = first["hit_id"]
        .as_i64()
        .expect("an exact match makes a hit");

    // The secretariat, the searching agency and the recording NCB are told, once each; the
    // German and Italian NCBs are not.
    for token in [&server.token, &w.berlin, &w.ncb_fr] {
        assert_eq!(
            events(&inbox(&server, token).await, hit_id),
            ["hit.created"]
        );
    }
    assert!(events(&inbox(&server, &w.ncb_it).await, hit_id).is_empty());
    let (status, _) = server
        .as_user(
            &w.ncb_it,
            Method::GET,
            &format!("/api/v1/hits/{hit_id}"),
            None,
        )
        .await;
    assert_eq!(status, 404, "a hit is visible only to its parties");

    // The hit carries the check, the record, the confidence and why.
    let (status, view) = server
        .as_user(
            &w.ncb_fr,
            Method::GET,
            &format!("/api/v1/hits/{hit_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["hit"]["serial_typed"], "HX-7731-Q");
    assert_eq!(view["hit"]["username"], "berlin");
    assert_eq!(view["hit"]["organisation"], "Polizei Berlin");
    assert_eq!(view["hit"]["operation"], "Operation Trident");
    assert_eq!(view["hit"]["state"], "open");
    assert_eq!(view["record"]["record_id"], "FR-HIT-1");
    assert!(view["hit"]["differences"].is_array());
    let roles: Vec<&str> = view["hit"]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["roles"].as_array().unwrap())
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(roles, ["secretariat", "searcher", "recording_ncb"]);

    // The searching agency cannot confirm a hit on another country's record.
    let path = format!("/api/v1/hits/{hit_id}/confirm");
    let (status, refused) = server
        .as_user(&w.berlin, Method::POST, &path, Some(json!({})))
        .await;
    assert_eq!(status, 403, "{refused}");
    // The recording NCB confirms; the others are told, not the NCB itself.
    let (status, confirmed) = server
        .as_user(
            &w.ncb_fr,
            Method::POST,
            &path,
            Some(json!({ "note": "markings match our record" })),
        )
        .await;
    assert_eq!(status, 200, "{confirmed}");
    assert_eq!(confirmed["state"], "confirmed");
    assert!(events(&inbox(&server, &w.berlin).await, hit_id).contains(&"hit.confirmed".into()));
    assert!(events(&inbox(&server, &server.token).await, hit_id).contains(&"hit.confirmed".into()));
    assert!(!events(&inbox(&server, &w.ncb_fr).await, hit_id).contains(&"hit.confirmed".into()));

    // Messages go both ways; the searching agency closes it with an outcome.
    let (status, _) = server
        .as_user(
            &w.berlin,
            Method::POST,
            &format!("/api/v1/hits/{hit_id}/messages"),
            Some(json!({ "text": "Seized at the A12 crossing; photos follow." })),
        )
        .await;
    assert_eq!(status, 200);
    assert!(events(&inbox(&server, &w.ncb_fr).await, hit_id).contains(&"hit.message".into()));
    let (status, closed) = server
        .as_user(
            &w.berlin,
            Method::POST,
            &format!("/api/v1/hits/{hit_id}/close"),
            Some(json!({ "outcome": "seized", "note": "held as evidence" })),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(
        (closed["state"].as_str(), closed["outcome"].as_str()),
        (Some("closed"), Some("seized"))
    );
    let (status, late) = server
        .as_user(&w.ncb_fr, Method::POST, &path, Some(json!({})))
        .await;
    assert_eq!((status, late["code"].as_str()), (409, Some("hit_state")));

    // The thread, in order, and the trail.
    let (_, view) = server
        .as_user(
            &w.berlin,
            Method::GET,
            &format!("/api/v1/hits/{hit_id}"),
            None,
        )
        .await;
    let thread: Vec<&str> = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(thread, ["hit.confirmed", "hit.message", "hit.closed"]);
    let (_, audit) = server.get("/api/v1/audit?action=hit.").await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 3, "{audit}");

    // Unread first; marking read empties the unread count.
    let before = inbox(&server, &w.ncb_fr).await;
    assert!(before["unread"].as_u64().unwrap() >= 2);
    let (status, marked) = server
        .as_user(
            &w.ncb_fr,
            Method::POST,
            "/api/v1/notifications/read",
            Some(json!({ "all": true })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(marked["marked"], before["unread"]);
    assert_eq!(inbox(&server, &w.ncb_fr).await["unread"], 0);
}

#[tokio::test]
async fn one_organisation_in_two_roles_gets_one_notification() {
    let w = world();
    let server = TestServer::start(&w.installation);
    add_french_record(&server, &w.ncb_fr, "FR-HIT-2", "QZ40091").await;
    // The French NCB checks its own record: searcher and recording NCB at once.
    let answer = check(&server, &w.ncb_fr, "QZ40091").await;
    let hit_id = answer["matches"][0]["hit_id"].as_i64().unwrap();
    assert_eq!(
        events(&inbox(&server, &w.ncb_fr).await, hit_id),
        ["hit.created"]
    );
    // Under the default policy exactly the exact and strong matches make hits.
    let answer = check(&server, &w.ncb_fr, "QZ4O0?1").await;
    let matches = answer["matches"].as_array().unwrap();
    assert!(!matches.is_empty());
    for m in matches {
        let hits = m["confidence"] == "exact" || m["confidence"] == "strong";
        assert_eq!(m["hit_id"].is_i64(), hits, "{m}");
    }
    // A service not told otherwise refuses webhooks to its own machine.
    let (status, refused) = server
        .as_user(
            &w.ncb_fr,
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({ "url": "http://127.0.0.1:9/hook", "secret": SECRET })),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
}

/// Reads Server-Sent Events from `response` until `n` events have come or `most` passed.
pub(crate) async fn read_events(
    response: &mut reqwest::Response,
    n: usize,
    most: Duration,
) -> Vec<(String, Value)> {
    let mut found = Vec::new();
    let mut buffer = String::new();
    let until = tokio::time::Instant::now() + most;
    while found.len() < n {
        let chunk = match tokio::time::timeout_at(until, response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            _ => break,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut id = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if !data.is_empty() {
                found.push((id, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_live_stream_pushes_each_notification_and_replays_what_was_missed() {
    let w = world();
    let server = TestServer::start(&w.installation);
    add_french_record(&server, &w.ncb_fr, "FR-SSE-1", &serial(1)).await;
    add_french_record(&server, &w.ncb_fr, "FR-SSE-2", &serial(2)).await;
    let mut stream = server
        .client
        .get(server.url("/api/v1/notifications/stream"))
        .bearer_auth(&w.ncb_fr)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let answer = check(&server, &w.berlin, &serial(1)).await;
    let hit_id = answer["matches"][0]["hit_id"].as_i64().unwrap();
    let pushed = read_events(&mut stream, 1, Duration::from_secs(5)).await;
    assert_eq!(pushed.len(), 1, "nothing was pushed");
    let (first_id, first) = &pushed[0];
    assert_eq!(first["hit_id"], hit_id);
    assert_eq!(first["event"], "hit.created");
    drop(stream);

    // While disconnected, another hit; reconnecting from the last id replays it.
    let answer = check(&server, &w.berlin, &serial(2)).await;
    let missed = answer["matches"][0]["hit_id"].as_i64().unwrap();
    let mut again = server
        .client
        .get(server.url("/api/v1/notifications/stream"))
        .bearer_auth(&w.ncb_fr)
        .header("last-event-id", first_id)
        .send()
        .await
        .unwrap();
    let replayed = read_events(&mut again, 1, Duration::from_secs(5)).await;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0].1["hit_id"], missed);
}

#[tokio::test]
async fn webhooks_are_signed_and_retried_through_failures_and_timeouts_until_taken() {
    let w = world();
    let server = TestServer::start_with(
        &w.installation,
        &[
            "--webhook-timeout-ms",
            "300",
            "--delivery-retry-ms",
            "100",
            "--allow-loopback-webhooks",
        ],
    );
    // The first two attempts fail, the third answers too late, then it recovers.
    let receiver = Receiver::start(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        SECRET,
        vec![
            Answer::Fail,
            Answer::Fail,
            Answer::Slow(Duration::from_millis(1500)),
        ],
    );
    let hook = server.register_webhook(&w.ncb_fr, &receiver.url()).await;
    // Refused: plain HTTP to another machine, and a short secret.
    let (status, _) = server
        .as_user(
            &w.ncb_fr,
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({ "url": "http://198.51.100.7/hook", "secret": SECRET })),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = server
        .as_user(
            &w.ncb_fr,
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({ "url": "https://10.1.2.3/hook", "secret": SECRET })),
        )
        .await;
    assert_eq!(status, 422, "a private address is refused");
    let (status, _) = server
        .as_user(
            &w.ncb_fr,
            Method::POST,
            "/api/v1/webhooks",
            Some(json!({ "url": receiver.url(), "secret": "short" })),
        )
        .await;
    assert_eq!(status, 422);

    for i in 0..3 {
        add_french_record(&server, &w.ncb_fr, &format!("FR-WH-{i}"), &serial(i)).await;
        check(&server, &w.berlin, &serial(i)).await;
    }
    assert!(
        receiver
            .wait_for(Duration::from_secs(20), |r| r.taken_keys().len() == 3)
            .await,
        "not every notification arrived: {:?}",
        receiver.received()
    );
    let received = receiver.received();
    assert!(
        received.iter().all(|d| d.signed),
        "a body was not signed right"
    );
    // Every attempt at one notification carries the same idempotency key.
    let mut keys = std::collections::HashMap::new();
    for delivered in &received {
        let key = keys
            .entry(delivered.body["id"].as_i64().unwrap())
            .or_insert_with(|| delivered.idempotency_key.clone());
        assert_eq!(key, &delivered.idempotency_key);
    }
    assert!(received.len() >= 6, "the failures were not retried");
    for delivered in received.iter().filter(|d| d.taken) {
        assert_eq!(delivered.body["event"], "hit.created");
        assert!(delivered.body["hit_id"].is_i64());
        assert_eq!(
            delivered.body["data"]["hit"]["record"]["recording_country"],
            "FR"
        );
    }
    // The delivery log tells the organisation's admin what happened (results are recorded
    // in groups, a moment after the receiver answers).
    let deliveries = format!("/api/v1/webhooks/{hook}/deliveries");
    let mut log = Value::Null;
    for _ in 0..100 {
        let (status, found) = server
            .as_user(&w.ncb_fr, Method::GET, &deliveries, None)
            .await;
        assert_eq!(status, 200, "{found}");
        log = found;
        if log
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "delivered")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 3);
    assert!(log.iter().all(|d| d["state"] == "delivered"), "{log:?}");
    assert!(
        log.iter()
            .map(|d| d["attempts"].as_i64().unwrap())
            .sum::<i64>()
            >= 6
    );
    // Another organisation's admin does not see it.
    let (status, _) = server
        .as_user(
            &w.berlin,
            Method::GET,
            &format!("/api/v1/webhooks/{hook}/deliveries"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn deliveries_pending_when_the_server_is_killed_arrive_after_restart() {
    let w = world();
    // A port with nobody listening yet: every delivery fails until the receiver starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = port.local_addr().unwrap();
    drop(port);
    let url = format!("http://{address}/hook");
    let options = [
        "--webhook-timeout-ms",
        "500",
        "--delivery-retry-ms",
        "200",
        "--allow-loopback-webhooks",
    ];
    let server = TestServer::start_with(&w.installation, &options);
    server.register_webhook(&w.ncb_fr, &url).await;
    server.register_webhook(&w.berlin, &url).await;
    let mut list = String::from("serial_number\n");
    for i in 0..10 {
        add_french_record(&server, &w.ncb_fr, &format!("FR-KILL-{i}"), &serial(i)).await;
        list.push_str(&format!("{}\n", serial(i)));
    }
    let (status, _) = server
        .send(
            server
                .client
                .post(server.url("/api/v1/checks/batch"))
                .header("content-type", "text/csv")
                .body(list),
            Some(&w.berlin),
        )
        .await;
    assert_eq!(status, 200);
    // 10 hits: the French NCB and Berlin each have a webhook, so 20 deliveries wait.
    let mut server = server;
    server.kill();
    let receiver = Receiver::start(
        std::net::TcpListener::bind(address).unwrap(),
        SECRET,
        vec![],
    );
    let _restarted = TestServer::start_with(&w.installation, &options);
    assert!(
        receiver
            .wait_for(Duration::from_secs(30), |r| r.taken_keys().len() == 20)
            .await,
        "{} of 20 deliveries arrived after the restart",
        receiver.taken_keys().len()
    );
}

#[tokio::test]
async fn an_organisation_s_duty_address_gets_its_notifications_by_e_mail() {
    let w = world();
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(
        &w.installation,
        &[
            "--smtp-url",
            &sink.url(),
            "--smtp-from",
            "armstrace@example.org",
        ],
    );
    let path = format!("/api/v1/organisations/{}/duty-email", w.ncb_fr_org);
    let (status, _) = server
        .as_user(
            &w.ncb_fr,
            Method::PUT,
            &path,
            Some(json!({ "address": "not an address" })),
        )
        .await;
    assert_eq!(status, 422);
    let (status, set) = server
        .as_user(
            &w.ncb_fr,
            Method::PUT,
            &path,
            Some(json!({ "address": "duty@ncb-fr.example" })),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    add_french_record(&server, &w.ncb_fr, "FR-MAIL-1", "MAIL33001").await;
    check(&server, &w.berlin, "MAIL33001").await;
    let until = std::time::Instant::now() + Duration::from_secs(15);
    while sink.mail().is_empty() && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mail = sink.mail();
    assert_eq!(mail.len(), 1, "{mail:?}");
    let (recipients, text) = &mail[0];
    assert_eq!(recipients, &["<duty@ncb-fr.example>"]);
    assert!(text.contains("hit.created"), "{text}");
    assert!(text.contains("FR-MAIL-1"), "{text}");
}

#[tokio::test]
async fn a_partner_s_hit_for_a_country_is_told_to_that_country_s_ncb_too() {
    let w = world();
    let partner = w
        .installation
        .add_org("Customs Partnership", "partner", None);
    w.installation.admin(&["org", "approve", &partner]);
    let partner_token = w
        .installation
        .add_user_with_token(&partner, "partner-officer", "check");
    let chad = w.installation.add_org("NCB Chad", "ncb", Some("TD"));
    let chad_token = w.installation.add_user_with_token(&chad, "ncb-td", "check");
    let server = TestServer::start(&w.installation);
    add_french_record(&server, &w.ncb_fr, "FR-TD-1", &serial(7)).await;
    let (status, answer) = server
        .as_user(
            &partner_token,
            Method::POST,
            "/api/v1/checks",
            Some(json!({ "serial_number": serial(7), "on_behalf_of": "TD" })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let hit_id = answer["matches"][0]["hit_id"].as_i64().unwrap();
    assert_eq!(
        events(&inbox(&server, &chad_token).await, hit_id),
        ["hit.created"]
    );
    let (_, view) = server
        .as_user(
            &chad_token,
            Method::GET,
            &format!("/api/v1/hits/{hit_id}"),
            None,
        )
        .await;
    assert_eq!(view["hit"]["on_behalf_of"], "TD");
    let chad_roles = view["hit"]["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["organisation"] == "NCB Chad")
        .map(|p| p["roles"].clone());
    assert_eq!(chad_roles, Some(json!(["on_behalf_of"])));
}
