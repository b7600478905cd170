//! Several `serve` processes on one database behave as one system: a record written through
//! one node (or imported from the command line) is found by checks on another; a hit made on
//! one reaches live streams on the other; each delivery is sent once across the nodes, and a
//! node killed mid-delivery leaves its deliveries to the others; the audit chain stays one chain
//! under writes from both. The suite runs on SQLite and on PostgreSQL (scripts/test.sh).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::hits::read_events;
use crate::receivers::{Answer, Receiver};
use crate::support::{
    HEADER, Installation, TestServer, WEBHOOK_SECRET as SECRET, armstrace, on_postgres, record,
};

/// The French NCB (records, receives hits) and a Berlin police agency (checks).
struct World {
    installation: Installation,
    ncb_fr: String,
    berlin: String,
}

fn world() -> World {
    let installation = Installation::new();
    let ncb_fr_org = installation.add_org("NCB France", "ncb", Some("FR"));
    let ncb_fr = installation.add_user_with_token(&ncb_fr_org, "ncb-fr", "check,record,admin");
    let berlin_org = installation.add_org("Polizei Berlin", "police", Some("DE"));
    installation.admin(&["org", "approve", &berlin_org]);
    let berlin = installation.add_user_with_token(&berlin_org, "berlin", "check");
    World {
        installation,
        ncb_fr,
        berlin,
    }
}

/// Serials far enough apart that no two match each other.
fn serial(i: usize) -> String {
    let letter = char::from(b'A' + (i % 26) as u8);
    format!("{letter}Q{letter}{:05}", 20_000 + i * 3_217)
}

/// Records a French firearm `record_id` with serial `serial(n)` through `node` as `token`.
async fn record_fr(node: &TestServer, token: &str, record_id: &str, n: usize) -> (u16, Value) {
    let firearm = record("FR", record_id, &serial(n));
    node.as_user(token, Method::POST, "/api/v1/firearms", Some(firearm))
        .await
}

async fn check(server: &TestServer, token: &str, serial: &str) -> Value {
    let (status, answer) = server
        .as_user(
            token,
            Method::POST,
            "/api/v1/checks",
            Some(json!({ "serial_number": serial })),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// Checks `serial` on `server` until a record matches, for at most `most`.
async fn found_within(server: &TestServer, token: &str, serial: &str, most: Duration) -> bool {
    let until = std::time::Instant::now() + most;
    loop {
        let answer = check(server, token, serial).await;
        let exact = answer["matches"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m["confidence"] == "exact"));
        if exact {
            return true;
        }
        if std::time::Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_record_written_through_one_node_is_found_by_checks_on_the_other() {
    let w = world();
    let a = TestServer::start(&w.installation);
    let b = TestServer::start(&w.installation);
    let most = Duration::from_secs(30);

    // Created through A, found on B.
    let (status, created) = record_fr(&a, &w.ncb_fr, "FR-NODE-1", 1).await;
    assert_eq!(status, 201, "{created}");
    assert!(found_within(&b, &w.berlin, &serial(1), most).await);

    // Changed through A: B finds the new serial and no longer the old one.
    let id = created["id"].as_i64().unwrap();
    let (status, changed) = a
        .as_user(
            &w.ncb_fr,
            Method::PATCH,
            &format!("/api/v1/firearms/{id}"),
            Some(json!({ "serial_number": serial(2) })),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert!(found_within(&b, &w.berlin, &serial(2), most).await);
    let old = check(&b, &w.berlin, &serial(1)).await;
    assert_eq!(old["matches"], json!([]), "{old}");

    // Deleted through B: A stops finding it.
    let (status, _) = b
        .as_user(
            &w.ncb_fr,
            Method::DELETE,
            &format!("/api/v1/firearms/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let until = std::time::Instant::now() + most;
    while check(&a, &w.berlin, &serial(2)).await["matches"] != json!([]) {
        assert!(
            std::time::Instant::now() < until,
            "A still finds a deleted record"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // An import from the command line reaches both running nodes.
    let list = w.installation.path("list.csv");
    let mut text = format!("{HEADER}\n");
    for i in 10..20 {
        text.push_str(&format!(
            "FR-CLI-{i},{},Glock,17,9x19mm,pistol,AT,FR,stolen,2023-05-17\n",
            serial(i)
        ));
    }
    std::fs::write(&list, text).unwrap();
    let imported = w
        .installation
        .run(&["import", list.to_str().unwrap(), "--as", "ncb-fr"]);
    assert!(imported.status.success(), "{imported:?}");
    for node in [&a, &b] {
        assert!(found_within(node, &w.berlin, &serial(19), most).await);
    }

    // A node started late builds its index from the store and finds everything.
    let c = TestServer::start(&w.installation);
    assert!(found_within(&c, &w.berlin, &serial(10), Duration::ZERO).await);
}

#[tokio::test]
async fn a_hit_made_on_one_node_reaches_a_live_stream_on_the_other() {
    let w = world();
    let a = TestServer::start(&w.installation);
    let b = TestServer::start(&w.installation);
    let (status, _) = record_fr(&a, &w.ncb_fr, "FR-SSE-NODE", 3).await;
    assert_eq!(status, 201);
    let mut stream = b
        .client
        .get(b.url("/api/v1/notifications/stream"))
        .bearer_auth(&w.ncb_fr)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let answer = check(&a, &w.berlin, &serial(3)).await;
    let hit = answer["matches"][0]["hit_id"].as_i64().unwrap();
    let pushed = read_events(&mut stream, 1, Duration::from_secs(30)).await;
    assert_eq!(pushed.len(), 1, "nothing reached node B's stream");
    assert_eq!(pushed[0].1["hit_id"], hit);
    assert_eq!(pushed[0].1["event"], "hit.created");
}

#[tokio::test]
async fn each_delivery_is_sent_once_across_the_nodes_and_survives_a_killed_node() {
    let w = world();
    let options = [
        "--allow-loopback-webhooks",
        "--webhook-timeout-ms",
        "3000",
        "--delivery-retry-ms",
        "200",
    ];
    let mut a = TestServer::start_with(&w.installation, &options);
    let b = TestServer::start_with(&w.installation, &options);
    let receiver = Receiver::start(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        SECRET,
        Vec::new(),
    );
    a.register_webhook(&w.ncb_fr, &receiver.url()).await;

    // Both nodes' senders race for the same outbox: every delivery arrives exactly once.
    for i in 0..20 {
        let (status, _) = record_fr(&a, &w.ncb_fr, &format!("FR-ONCE-{i}"), 100 + i).await;
        assert_eq!(status, 201);
    }
    // Node B has followed the records before it checks them (that check is a hit too: 21
    // deliveries in all).
    assert!(found_within(&b, &w.berlin, &serial(119), Duration::from_secs(30)).await);
    let checks = (0..20).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        let token = w.berlin.clone();
        async move { check(node, &token, &serial(100 + i)).await }
    });
    futures::future::join_all(checks).await;
    assert!(
        receiver
            .wait_for(Duration::from_secs(30), |r| r.taken_keys().len() == 21)
            .await,
        "{} of 21 deliveries arrived",
        receiver.taken_keys().len()
    );
    // Give a second sender every chance to send one again, then count.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 21, "every delivery sent once");

    // The receiver turns slow; node A is killed with its deliveries in flight; B sends them.
    let slow = Receiver::start(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        SECRET,
        vec![Answer::Slow(Duration::from_secs(5)); 10],
    );
    a.register_webhook(&w.ncb_fr, &slow.url()).await;
    for i in 0..10 {
        let (status, _) = record_fr(&a, &w.ncb_fr, &format!("FR-KILL-{i}"), 200 + i).await;
        assert_eq!(status, 201);
        check(&a, &w.berlin, &serial(200 + i)).await;
    }
    assert!(
        slow.wait_for(Duration::from_secs(30), |r| !r.received().is_empty())
            .await,
        "no delivery was attempted"
    );
    a.kill();
    assert!(
        slow.wait_for(Duration::from_secs(60), |r| r.taken_keys().len() == 10)
            .await,
        "{} of 10 deliveries arrived after node A was killed",
        slow.taken_keys().len()
    );
    drop(b);
}

#[tokio::test]
async fn the_audit_chain_stays_one_chain_under_writes_from_both_nodes() {
    let w = world();
    let a = TestServer::start(&w.installation);
    let b = TestServer::start(&w.installation);
    let before = w.installation.audit_entries();
    let checks = (0..60).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        let token = w.berlin.clone();
        async move { check(node, &token, &serial(300 + i)).await }
    });
    futures::future::join_all(checks).await;
    let records = (0..20).map(|i| {
        let node = if i % 2 == 0 { &b } else { &a };
        let token = w.ncb_fr.clone();
        async move {
            record_fr(node, &token, &format!("FR-AUDIT-{i}"), 400 + i)
                .await
                .0
        }
    });
    assert!(
        futures::future::join_all(records)
            .await
            .iter()
            .all(|s| *s == 201)
    );
    // Each check and each change is answered only once its entry is kept for good; on SQLite
    // a check's entry may still wait in its node's audit stage, which the node's own reading
    // of the trail moves in. All 80 are then there, each once, in one intact chain.
    for node in [&a, &b] {
        let (status, page) = node.get("/api/v1/audit?limit=1").await;
        assert_eq!(status, 200, "{page}");
    }
    assert_eq!(w.installation.audit_entries(), before + 80);
}

#[tokio::test]
async fn long_reads_go_to_a_read_replica() {
    let w = world();
    let db = w.installation.db.to_str().unwrap().to_string();
    if !on_postgres() {
        // A replica is a PostgreSQL feature: SQLite says so instead of starting.
        let output = armstrace()
            .args(["serve", "--listen", "127.0.0.1:0", "--db", &db])
            .args([
                "--db-read-replica",
                "postgres://reader:secret@127.0.0.1:1/x",
            ])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("PostgreSQL"), "{stderr}");
        assert!(
            !stderr.contains("secret"),
            "the password is never shown: {stderr}"
        );
        return;
    }
    // A frozen copy of the database stands in for a replica that lags behind: what a read
    // finds there tells where it went. It starts with one record.
    let list = w.installation.path("before.csv");
    std::fs::write(
        &list,
        format!(
            "{HEADER}\nFR-BEFORE-1,{},Glock,17,9x19mm,pistol,AT,FR,stolen,2023-05-17\n",
            serial(499)
        ),
    )
    .unwrap();
    let imported = w
        .installation
        .run(&["import", list.to_str().unwrap(), "--as", "ncb-fr"]);
    assert!(imported.status.success(), "{imported:?}");
    let replica = w.installation.pg_copy();
    let server = TestServer::start_with(&w.installation, &["--db-read-replica", &replica.url]);
    let (status, created) = record_fr(&server, &w.ncb_fr, "FR-REPLICA-1", 500).await;
    assert_eq!(status, 201);
    // A list is a long read: the replica answers it, without the record written since.
    let (status, page) = server
        .as_user(&w.ncb_fr, Method::GET, "/api/v1/firearms?limit=100", None)
        .await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["record_id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["FR-BEFORE-1"], "{page}");
    // A record read by its id comes from the primary, as do checks (through the feed).
    let id = created["id"].as_i64().unwrap();
    let (status, read) = server
        .as_user(
            &w.ncb_fr,
            Method::GET,
            &format!("/api/v1/firearms/{id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(read["record_id"], "FR-REPLICA-1");
    assert!(found_within(&server, &w.berlin, &serial(500), Duration::from_secs(30)).await);
    drop(server);
}

#[tokio::test]
async fn a_node_cut_off_from_the_database_catches_up_from_the_feed() {
    let w = world();
    let a = TestServer::start(&w.installation);
    let b = TestServer::start(&w.installation);
    let (status, _) = record_fr(&a, &w.ncb_fr, "FR-CUT-0", 600).await;
    assert_eq!(status, 201);
    assert!(found_within(&b, &w.berlin, &serial(600), Duration::from_secs(30)).await);
    if on_postgres() {
        // Every connection to the database is cut, both nodes' included, as when the network
        // or the server goes away for a moment.
        use sqlx::Connection;
        let url = w.installation.db.to_str().unwrap().to_string();
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        let cut: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert!(!cut.is_empty(), "the nodes had connections to cut");
    }
    // Records written while and after it was cut off reach node B.
    for i in 1..=5 {
        let until = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, _) = record_fr(&a, &w.ncb_fr, &format!("FR-CUT-{i}"), 600 + i).await;
            // A request caught by the cut fails once; the node reconnects for the next.
            if status == 201 || status == 409 {
                break;
            }
            assert!(
                std::time::Instant::now() < until,
                "node A did not recover: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for i in 1..=5 {
        assert!(
            found_within(&b, &w.berlin, &serial(600 + i), Duration::from_secs(30)).await,
            "node B missed record {i}"
        );
    }
}

#[tokio::test]
async fn a_reference_change_made_through_one_node_reaches_the_other() {
    let w = world();
    let a = TestServer::start(&w.installation);
    let b = TestServer::start_with(&w.installation, &["--reference-follow-ms", "100"]);
    let resolve = "/api/v1/reference/resolve?make=Glokk%20Wien";
    let (status, before) = b.get(resolve).await;
    assert_eq!(status, 200, "{before}");
    let was = before["make"]["status"].as_str().expect("a status");
    assert_ne!(was, "alias", "{before}");
    let (status, glock) = a.get("/api/v1/reference/makes/glock").await;
    assert_eq!(status, 200, "{glock}");
    let mut entry = glock["entry"].clone();
    entry["aliases"]
        .as_array_mut()
        .unwrap()
        .push(json!("Glokk Wien"));
    let request = a
        .client
        .put(a.url("/api/v1/reference/makes/glock"))
        .json(&entry);
    let (status, changed) = a.send(request, None).await;
    assert_eq!(status, 200, "{changed}");
    // Node B reads the table again and resolves the new name.
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, after) = b.get(resolve).await;
        if after["make"]["status"] == "alias" {
            assert_eq!(after["make"]["resolved"]["id"], "glock");
            break;
        }
        assert!(
            std::time::Instant::now() < until,
            "node B never learnt the alias: {after}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_node_behind_the_forgotten_part_of_the_feed_stops_and_a_restart_catches_up() {
    let w = world();
    // Node A keeps one position of the feed, prunes often, and counts a mark on the feed as
    // lapsed after 200 ms; node B looks at the feed rarely and renews its mark only once a
    // minute, as a node stopped or cut off would not at all. So A forgets changes B has not
    // read.
    let a = TestServer::start_with(
        &w.installation,
        &[
            "--feed-keep",
            "1",
            "--feed-prune-ms",
            "50",
            "--follow-ms",
            "20",
            "--feed-mark-ms",
            "200",
        ],
    );
    let mut b = TestServer::start_watched(&w.installation, &["--follow-ms", "3000"]);
    for i in 0..3 {
        let (status, _) = record_fr(&a, &w.ncb_fr, &format!("FR-PRUNE-{i}"), 700 + i).await;
        assert_eq!(status, 201);
    }
    let (succeeded, stderr) = b
        .exit_within(Duration::from_secs(60))
        .expect("node B went on serving checks from an index that lacks changes");
    assert!(!succeeded, "{stderr}");
    assert!(
        stderr.contains("forgotten") && stderr.contains("restart it"),
        "{stderr}"
    );
    // Node A, which prunes, never forgets what it has not read itself; a restarted node B
    // builds its index again and finds every record.
    let b = TestServer::start(&w.installation);
    for i in 0..3 {
        assert!(found_within(&a, &w.berlin, &serial(700 + i), Duration::from_secs(30)).await);
        assert!(found_within(&b, &w.berlin, &serial(700 + i), Duration::from_secs(5)).await);
    }
}

#[tokio::test]
async fn a_slow_node_whose_mark_is_fresh_is_waited_for_and_not_cut_off() {
    let w = world();
    let store = w.installation.store().await;
    // Node A keeps one position of the feed and prunes often, with marks lasting as long as
    // they do by default.
    let a = TestServer::start_with(
        &w.installation,
        &[
            "--feed-keep",
            "1",
            "--feed-prune-ms",
            "50",
            "--follow-ms",
            "20",
        ],
    );
    for n in 0..2 {
        let (status, _) = record_fr(&a, &w.ncb_fr, &format!("FR-EARLY-{n}"), 800 + n).await;
        assert_eq!(status, 201);
    }
    // A forgets all but the newest position once it has read them.
    let head = store.feed_head().await.unwrap();
    assert!(head > 1);
    assert!(pruned_to_within(store.as_ref(), head - 1, Duration::from_secs(30)).await);

    // Node B starts at the head and looks at the feed only every 3 s.
    let mut b = TestServer::start_watched(&w.installation, &["--follow-ms", "3000"]);
    for n in 2..5 {
        let (status, _) = record_fr(&a, &w.ncb_fr, &format!("FR-LATE-{n}"), 800 + n).await;
        assert_eq!(status, 201);
    }
    // A goes as far as B's mark, where B started, and no further.
    assert!(pruned_to_within(store.as_ref(), head, Duration::from_secs(30)).await);
    for n in 2..5 {
        assert!(found_within(&b, &w.berlin, &serial(800 + n), Duration::from_secs(30)).await);
    }
    assert!(
        b.exit_within(Duration::from_millis(200)).is_none(),
        "node B stopped, though its mark was fresh"
    );
    assert_eq!(store.feed_pruned_through().await.unwrap(), head);
}

/// Whether the change feed is forgotten up to exactly `through` within `most`.
async fn pruned_to_within(
    store: &dyn armstrace_store::Store,
    through: i64,
    most: Duration,
) -> bool {
    let until = std::time::Instant::now() + most;
    loop {
        let pruned = store.feed_pruned_through().await.unwrap();
        assert!(pruned <= through, "pruned to {pruned}, past {through}");
        if pruned == through {
            return true;
        }
        if std::time::Instant::now() > until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
