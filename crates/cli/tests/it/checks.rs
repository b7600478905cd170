//! Checks end to end: the API, the batch API, the command line, and an index that follows every
//! change made through the service.

use serde_json::{Value, json};

use crate::support::{HEADER, Installation, TestServer, record};

async fn check(server: &TestServer, body: Value) -> (u16, Value) {
    server.post("/api/v1/checks", body).await
}

fn ids(answer: &Value) -> Vec<String> {
    answer["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["firearm"]["record_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_check_finds_a_mistyped_serial_and_explains_it() {
    let (_installation, server) = TestServer::fresh();
    server
        .post("/api/v1/firearms", record("UA", "UA-1", "ЛК 4412"))
        .await;
    server
        .post("/api/v1/firearms", record("FR", "FR-1", "BKR417"))
        .await;
    let (status, answer) = check(&server, json!({"serial_number": "LK4412"})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(ids(&answer), ["UA-1"]);
    let first = &answer["matches"][0];
    assert_eq!(first["confidence"], "strong");
    assert_eq!(first["firearm"]["recording_country"], "UA");
    let words: Vec<&str> = first["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["description"].as_str().unwrap())
        .collect();
    assert_eq!(
        words,
        [
            "spaces, dashes or letter case differ; they are ignored",
            "Cyrillic Л typed as L",
            "Cyrillic К typed as K"
        ]
    );
    assert!(answer["check_id"].as_str().unwrap().len() >= 16);

    let (_, answer) = check(
        &server,
        json!({"serial_number": "bkr-417", "make": "GLOCK"}),
    )
    .await;
    assert_eq!(answer["matches"][0]["confidence"], "exact");
    let (_, answer) = check(&server, json!({"serial_number": "BKR471", "make": "Glock"})).await;
    assert_eq!(
        answer["matches"][0]["differences"][0]["description"],
        "characters 5 and 6 swapped"
    );
}

#[tokio::test]
async fn a_serial_far_from_every_record_finds_nothing_and_bad_queries_are_refused() {
    let (_installation, server) = TestServer::fresh();
    server
        .post("/api/v1/firearms", record("FR", "FR-1", "BKR417"))
        .await;
    let (status, answer) = check(&server, json!({"serial_number": "ZZZ999000"})).await;
    assert_eq!(status, 200);
    assert!(answer["matches"].as_array().unwrap().is_empty());
    let (status, problem) = check(&server, json!({"serial_number": "1?*"})).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["code"], "too_few_readable_characters");
    let (status, _) = check(&server, json!({"serial": "BKR417"})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn a_record_created_changed_and_deleted_is_matched_rematched_and_no_longer_matched() {
    let (_installation, server) = TestServer::fresh();
    assert!(ids(&check(&server, json!({"serial_number": "AB123456"})).await.1).is_empty());
    let (_, created) = server
        .post("/api/v1/firearms", record("FR", "FR-9", "AB123456"))
        .await;
    assert_eq!(
        ids(&check(&server, json!({"serial_number": "AB123456"})).await.1),
        ["FR-9"]
    );
    let path = format!("/api/v1/firearms/{}", created["id"]);
    server
        .patch(&path, json!({"serial_number": "CD777888"}))
        .await;
    assert!(
        ids(&check(&server, json!({"serial_number": "AB123456"})).await.1).is_empty(),
        "the old serial no longer matches"
    );
    assert_eq!(
        ids(&check(&server, json!({"serial_number": "CD777888"})).await.1),
        ["FR-9"]
    );
    server.delete(&path).await;
    assert!(
        ids(&check(&server, json!({"serial_number": "CD777888"})).await.1).is_empty(),
        "a deleted record is not matched"
    );
}

#[tokio::test]
async fn records_imported_through_the_api_are_matched_at_once() {
    let (_installation, server) = TestServer::fresh();
    let list = format!(
        "{HEADER}\nR1,XK-55501,Zastava,M70,7.62x39mm,assault rifle,RS,XK,smuggled,2019-03-03\n"
    );
    let request = server
        .client
        .post(server.url("/api/v1/firearms/import"))
        .header("content-type", "text/csv")
        .body(list);
    assert_eq!(server.send(request, None).await.0, 200);
    assert_eq!(
        ids(&check(&server, json!({"serial_number": "XK55501"})).await.1),
        ["R1"]
    );
}

#[tokio::test]
async fn a_user_without_check_permission_cannot_check() {
    let installation = Installation::new();
    let recorder = installation
        .add_user(
            "recorder-fr",
            armstrace_core::OrgKind::Police,
            "FR",
            "record",
        )
        .await;
    let server = TestServer::start(&installation);
    let request = server
        .client
        .post(server.url("/api/v1/checks"))
        .json(&json!({"serial_number": "123"}));
    let (status, problem) = server.send(request, Some(&recorder)).await;
    assert_eq!(status, 403);
    assert_eq!(problem["missing_permission"], "check");
}

#[tokio::test]
async fn a_batch_answers_one_line_per_row_with_the_callers_columns_carried_through() {
    let (_installation, server) = TestServer::fresh();
    server
        .post("/api/v1/firearms", record("FR", "FR-1", "BKR417"))
        .await;
    server
        .post("/api/v1/firearms", record("DE", "DE-1", "PX1234"))
        .await;
    let body = "parcel_ref,serial_number,make,declared_as\nP-1,BKR-417,Glock,toys\nP-2,NOTHING999,,books\nP-3,РХ1234,,parts\n";
    let response = server
        .client
        .post(server.url("/api/v1/checks/batch"))
        .bearer_auth(&server.token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0]["input"],
        json!({"parcel_ref": "P-1", "serial_number": "BKR-417", "make": "Glock", "declared_as": "toys"})
    );
    assert_eq!(lines[0]["matches"][0]["record_id"], "FR-1");
    assert_eq!(lines[0]["matches"][0]["recording_country"], "FR");
    assert_eq!(lines[0]["matches"][0]["confidence"], "exact");
    assert_eq!(lines[1]["input"]["parcel_ref"], "P-2");
    assert!(lines[1]["matches"].as_array().unwrap().is_empty());
    assert_eq!(lines[2]["matches"][0]["record_id"], "DE-1");
}

#[tokio::test]
async fn a_batch_without_a_serial_number_column_is_refused() {
    let (_installation, server) = TestServer::fresh();
    let request = server
        .client
        .post(server.url("/api/v1/checks/batch"))
        .header("content-type", "text/csv")
        .body("ref,serial\n1,2\n");
    let (status, problem) = server.send(request, None).await;
    assert_eq!(status, 422);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("serial_number")
    );
}

#[test]
fn the_command_line_checks_one_serial_and_a_batch() {
    let installation = Installation::new();
    let list = installation.path("list.csv");
    std::fs::write(&list, format!("{HEADER}\nFR-1,BKR417,Glock,17,9mm,pistol,AT,FR,stolen,2020-01-01\nUA-1,ЖВ 4521,Izhmash,AKM,7.62x39mm,assault rifle,RU,UA,trafficked,2015-05-05\n")).unwrap();
    assert!(
        installation
            .run(&["import", list.to_str().unwrap()])
            .status
            .success()
    );

    let output = installation.run(&["check", "ZHV-4521", "--make", "Kalashnikov"]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{text}");
    assert!(text.contains("UA UA-1"), "{text}");
    assert!(text.contains("Cyrillic Ж typed as ZH"), "{text}");

    let output = installation.run(&["check", "BKR417", "--format", "json"]);
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["matches"][0]["confidence"], "exact");

    let batch = installation.path("seized.csv");
    std::fs::write(&batch, "case,serial_number\nK1,8KR417\nK2,000\n").unwrap();
    let output = installation.run(&["check", "--batch", batch.to_str().unwrap()]);
    let lines: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["input"]["case"], "K1");
    assert_eq!(lines[0]["matches"][0]["record_id"], "FR-1");
    assert_eq!(
        lines[0]["matches"][0]["differences"][0],
        "8 read as B at position 1"
    );

    let output = installation.run(&[
        "check",
        "--batch",
        batch.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    let mut rows = text.lines();
    assert_eq!(
        rows.next().unwrap(),
        "case,serial_number,match_rank,match_record_id,match_recording_country,match_serial_number,match_make,match_confidence,match_score,match_differences,hit_id,error"
    );
    assert!(
        rows.next()
            .unwrap()
            .starts_with("K1,8KR417,1,FR-1,FR,BKR417,Glock,strong,")
    );
}
