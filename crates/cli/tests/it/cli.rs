//! init, serve, gen and the demo, as a user runs them.

use std::process::Stdio;

use crate::support::{Installation, NoInstallation, TestServer, armstrace, on_postgres};

#[test]
fn init_prints_the_administrator_token_as_its_last_line() {
    let installation = Installation::new();
    assert!(installation.token.starts_with("at_"));
    let verify = installation.run(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "the installation opens: {verify:?}"
    );
}

#[test]
fn init_on_an_existing_database_refuses_and_changes_nothing() {
    let installation = Installation::new();
    // What the database holds, as its audit chain's head and its organisations show it.
    let state = || {
        let verify = installation.run(&["audit", "verify"]);
        let orgs = installation.run(&["admin", "org", "list"]);
        assert!(verify.status.success() && orgs.status.success());
        (verify.stdout, orgs.stdout)
    };
    let before = state();
    let file = || (!on_postgres()).then(|| std::fs::read(&installation.db).unwrap());
    let bytes = file();
    let output = installation.run(&["init"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("already exists"), "{stderr}");
    assert!(!String::from_utf8(output.stdout).unwrap().contains("token:"));
    // Read the file before anything else opens the database again (opening one checkpoints).
    assert_eq!(file(), bytes, "not a byte of the file changed");
    assert_eq!(state(), before);
}

#[test]
fn serve_without_a_database_says_how_to_create_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("missing.db");
    let output = armstrace()
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("armstrace init")
    );
    assert!(!db.exists(), "serve must not create a database");
}

#[tokio::test]
async fn health_is_public_and_every_api_route_needs_a_valid_token() {
    let (_installation, server) = TestServer::fresh();
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    for path in [
        "/api/v1/firearms",
        "/api/v1/firearms/1",
        "/api/v1/firearms/1/history",
        "/api/v1/openapi.json",
    ] {
        let anonymous = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
        assert_eq!(
            anonymous.headers()["content-type"],
            "application/problem+json"
        );
        let forged = server
            .send(server.client.get(server.url(path)), Some("at_forged"))
            .await;
        assert_eq!(forged.0, 401, "{path}");
    }
    let anonymous_post = server
        .client
        .post(server.url("/api/v1/firearms/import"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous_post.status(), 401);
}

#[tokio::test]
async fn the_openapi_document_describes_the_records_routes() {
    let (_installation, server) = TestServer::fresh();
    let (status, document) = server.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/firearms",
        "/firearms/{id}",
        "/firearms/{id}/history",
        "/firearms/import",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    assert!(document["components"]["schemas"]["Firearm"].is_object());
}

#[tokio::test]
async fn serve_reads_its_database_and_address_from_the_environment() {
    let installation = Installation::new();
    let child = armstrace()
        .arg("serve")
        .env("ARMSTRACE_DB", &installation.db)
        .env("ARMSTRACE_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = TestServer::attach(child, installation.token.clone());
    assert_eq!(server.get("/api/v1/firearms").await.0, 200);
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let (_installation, server) = TestServer::fresh();
    assert_eq!(server.get("/api/v1/firearms").await.0, 200);
    assert!(server.terminate(), "serve should exit 0 on SIGTERM");
}

#[test]
fn gen_writes_the_same_list_for_the_same_seed() {
    let run = |seed: &str| {
        let output = armstrace()
            .args(["gen", "--records", "500", "--seed", seed])
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let first = run("7");
    assert_eq!(first, run("7"));
    assert_ne!(first, run("8"));
    assert_eq!(first.lines().count(), 501);
    assert!(first.starts_with("record_id,serial_number,make,model,calibre,firearm_type,country_of_manufacture,recording_country,status,event_date"));
}

#[tokio::test]
async fn the_demo_loads_a_world_and_prints_tokens_that_work() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let child = armstrace()
        .args([
            "serve",
            "--demo",
            "--demo-records",
            "3000",
            "--listen",
            "127.0.0.1:0",
            "--db",
        ])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The login table comes before the address: read it through the harness's line reader.
    let mut child = child;
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut token = None;
    let mut pending = None;
    let mut base = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.trim_start().starts_with("police-fr ") {
            token = line.split_whitespace().last().map(str::to_string);
        }
        if line.trim_start().starts_with("police-marseille ") {
            pending = line.split_whitespace().last().map(str::to_string);
        }
        if let Some(address) = line.strip_prefix("listening on ") {
            base = Some(address.to_string());
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let (token, base) = (token.expect("a login line for police-fr"), base.unwrap());
    let response = reqwest::Client::new()
        .get(format!("{base}/api/v1/firearms?limit=1000"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page: serde_json::Value = response.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1000);
    assert!(page["next_cursor"].is_string());

    // Trace requests at every stage to click through: the police's own draft and its
    // overdue request to Germany.
    let client = reqwest::Client::new();
    let traces: serde_json::Value = client
        .get(format!("{base}/api/v1/traces"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let states: Vec<(&str, &serde_json::Value)> = traces["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["status"].as_str().unwrap(), &t["late"]))
        .collect();
    assert!(
        states.contains(&("draft", &serde_json::Value::Null)),
        "{traces}"
    );
    assert!(
        states.contains(&("acknowledged", &serde_json::json!("answer"))),
        "{traces}"
    );

    // The agency awaiting approval sees its state and nothing else.
    let pending = pending.expect("a login line for police-marseille");
    let me: serde_json::Value = client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(&pending)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["organisation"]["state"], "pending");
    // Demo users sign in with the printed password.
    let signed_in = client
        .post(format!("{base}/api/v1/session"))
        .json(&serde_json::json!({ "username": "ncb-fr", "password": "demo-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_command_on_a_database_without_an_installation_says_how_to_make_one() {
    let none = NoInstallation::new();
    for args in [
        vec!["audit", "verify"],
        vec!["serve", "--listen", "127.0.0.1:0"],
    ] {
        let output = armstrace()
            .args(&args)
            .args(["--db", &none.url])
            .output()
            .unwrap();
        assert!(
            !output.status.success(),
            "{args:?} ran without an installation"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("no database at") && stderr.contains("armstrace init --db"),
            "{args:?}: {stderr}"
        );
    }
    if !on_postgres() {
        assert!(
            !std::path::Path::new(&none.url).exists(),
            "nothing was created in passing"
        );
    }
}

#[test]
fn the_check_benchmark_fills_the_trail_before_it_measures_what_the_trail_costs() {
    // 25,000 entries: two whole batches of the filling and a part of one.
    let output = armstrace()
        .args([
            "bench",
            "api",
            "--route",
            "check",
            "--records",
            "300",
            "--requests",
            "300",
            "--concurrency",
            "4",
            "--trail",
            "25000",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let filled = stdout
        .find("the trail holds 25000 entries")
        .expect("the filling reports where it stands");
    let measured = stdout
        .find("the audit trail costs")
        .expect("the trail's cost is printed");
    assert!(filled < measured, "the trail is filled first: {stdout}");
    assert!(
        stdout.contains("POST /api/v1/checks (audited): 300 requests"),
        "{stdout}"
    );
}
