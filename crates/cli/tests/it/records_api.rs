//! The records API: create, read, change, delete, list, history, and who may do what.

use armstrace_core::OrgKind;
use serde_json::json;

use crate::support::{Installation, TestServer, record};

#[tokio::test]
async fn a_created_record_is_answered_201_with_its_id_and_reads_back() {
    let (_installation, server) = TestServer::fresh();
    let (status, created) = server
        .post("/api/v1/firearms", record("FR", "FR-1", "BKR417"))
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["serial_number"], "BKR417");
    assert_eq!(created["version"], 1);
    let (status, read) = server.get(&format!("/api/v1/firearms/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(read, created);
}

#[tokio::test]
async fn the_serial_number_is_kept_exactly_as_typed() {
    let (_installation, server) = TestServer::fresh();
    let (_, created) = server
        .post("/api/v1/firearms", record("UA", "UA-7", "ЖВ 45-21/a"))
        .await;
    assert_eq!(created["serial_number"], "ЖВ 45-21/a");
}

#[tokio::test]
async fn firearm_types_are_read_with_the_synonyms_of_national_lists() {
    let (_installation, server) = TestServer::fresh();
    let mut body = record("DE", "DE-1", "123456");
    body["firearm_type"] = json!("Sub-Machine Gun");
    let (_, created) = server.post("/api/v1/firearms", body).await;
    assert_eq!(created["firearm_type"], "submachine_gun");
    let mut body = record("DE", "DE-2", "123457");
    body["firearm_type"] = json!("SMG");
    let (_, created) = server.post("/api/v1/firearms", body).await;
    assert_eq!(created["firearm_type"], "submachine_gun");
}

#[tokio::test]
async fn an_invalid_record_is_refused_422_naming_every_bad_field() {
    let (_installation, server) = TestServer::fresh();
    let mut body = record("FR", "FR-1", "  ");
    body["recording_country"] = json!("QQ");
    body["event_date"] = json!("2999-01-01");
    body["status"] = json!("misplaced");
    let response = server
        .client
        .post(server.url("/api/v1/firearms"))
        .bearer_auth(&server.token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: serde_json::Value = response.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["serial_number", "recording_country", "status", "event_date"]
    );
    assert_eq!(problem["errors"][1]["code"], "unknown_country");
    assert_eq!(problem["errors"][3]["code"], "in_future");
}

#[tokio::test]
async fn a_wrong_type_unknown_field_or_broken_json_gets_a_problem_document() {
    let (_installation, server) = TestServer::fresh();
    let mut body = record("FR", "FR-1", "X1");
    body["year_of_manufacture"] = json!("nineteen");
    let (status, problem) = server.post("/api/v1/firearms", body).await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "year_of_manufacture");
    let mut body = record("FR", "FR-1", "X1");
    body["colour"] = json!("black");
    let (status, problem) = server.post("/api/v1/firearms", body).await;
    assert_eq!(status, 422);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("colour")
    );
    let broken = server
        .client
        .post(server.url("/api/v1/firearms"))
        .header("content-type", "application/json")
        .body("{\"record_id\":");
    let (status, problem) = server.send(broken, None).await;
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "malformed_json");
    let (status, _) = server
        .send(
            server
                .client
                .post(server.url("/api/v1/firearms"))
                .body("record"),
            None,
        )
        .await;
    assert_eq!(status, 415);
}

#[tokio::test]
async fn a_second_record_with_the_same_reference_in_a_country_is_a_conflict() {
    let (_installation, server) = TestServer::fresh();
    assert_eq!(
        server
            .post("/api/v1/firearms", record("FR", "FR-1", "A1"))
            .await
            .0,
        201
    );
    let (status, problem) = server
        .post("/api/v1/firearms", record("FR", "FR-1", "B2"))
        .await;
    assert_eq!(status, 409);
    assert!(problem["detail"].as_str().unwrap().contains("FR-1"));
    // The same reference in another country is another record.
    assert_eq!(
        server
            .post("/api/v1/firearms", record("DE", "FR-1", "A1"))
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn a_record_changed_then_deleted_keeps_its_whole_history() {
    let (_installation, server) = TestServer::fresh();
    let (_, created) = server
        .post("/api/v1/firearms", record("FR", "FR-1", "BKR417"))
        .await;
    let path = format!("/api/v1/firearms/{}", created["id"]);
    let (status, changed) = server
        .patch(
            &path,
            json!({"status": "recovered", "notes": "found in Lyon"}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["status"], "recovered");
    assert_eq!(changed["make"], "Glock", "fields not in the patch stay");
    assert_eq!(changed["version"], 2);
    let (_, cleared) = server.patch(&path, json!({"notes": null})).await;
    assert_eq!(cleared["notes"], serde_json::Value::Null);
    let (status, deleted) = server.delete(&path).await;
    assert_eq!(status, 200);
    assert!(deleted["deleted_at"].is_string());
    let (status, still_there) = server.get(&path).await;
    assert_eq!(status, 200, "a deleted record is kept");
    assert!(still_there["deleted_at"].is_string());
    let (_, history) = server.get(&format!("{path}/history")).await;
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "updated", "updated", "deleted"]);
    let change = &history[1]["changes"];
    assert!(
        change
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "status" && c["from"] == "stolen" && c["to"] == "recovered")
    );
    assert_eq!(history[1]["user"], "admin");
    assert!(history[1]["at"].is_string());
    assert_eq!(
        server.patch(&path, json!({"status": "stolen"})).await.0,
        409,
        "a deleted record cannot change"
    );
    assert_eq!(server.delete(&path).await.0, 409);
}

#[tokio::test]
async fn a_change_based_on_a_stale_version_is_refused() {
    let (_installation, server) = TestServer::fresh();
    let (_, created) = server
        .post("/api/v1/firearms", record("FR", "FR-1", "BKR417"))
        .await;
    let path = format!("/api/v1/firearms/{}", created["id"]);
    let first = server
        .client
        .patch(server.url(&path))
        .header("if-match", "\"1\"")
        .json(&json!({"model": "19"}));
    assert_eq!(server.send(first, None).await.0, 200);
    let stale = server
        .client
        .patch(server.url(&path))
        .header("if-match", "\"1\"")
        .json(&json!({"model": "26"}));
    let (status, problem) = server.send(stale, None).await;
    assert_eq!(status, 409);
    assert_eq!(problem["code"], "stale_version");
}

#[tokio::test]
async fn the_recording_country_of_a_record_cannot_be_patched() {
    let (_installation, server) = TestServer::fresh();
    let (_, created) = server
        .post("/api/v1/firearms", record("FR", "FR-1", "BKR417"))
        .await;
    let (status, problem) = server
        .patch(
            &format!("/api/v1/firearms/{}", created["id"]),
            json!({"recording_country": "DE"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["code"], "immutable");
}

#[tokio::test]
async fn an_unknown_record_is_404() {
    let (_installation, server) = TestServer::fresh();
    let (status, problem) = server.get("/api/v1/firearms/999").await;
    assert_eq!(status, 404);
    assert_eq!(problem["code"], "not_found");
    assert_eq!(server.patch("/api/v1/firearms/999", json!({})).await.0, 404);
    assert_eq!(server.delete("/api/v1/firearms/999").await.0, 404);
    let (status, problem) = server.get("/api/v1/firearms/not-a-number").await;
    assert_eq!(status, 404);
    assert_eq!(problem["code"], "not_found");
}

#[tokio::test]
async fn listing_filters_and_pages_with_a_stable_cursor() {
    let (_installation, server) = TestServer::fresh();
    for i in 0..7 {
        server
            .post(
                "/api/v1/firearms",
                record("FR", &format!("FR-{i}"), &format!("F{i}")),
            )
            .await;
        server
            .post(
                "/api/v1/firearms",
                record("DE", &format!("DE-{i}"), &format!("D{i}")),
            )
            .await;
    }
    let mut body = record("FR", "FR-walther", "W1");
    body["make"] = json!("Walther");
    server.post("/api/v1/firearms", body).await;

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("/api/v1/firearms?recording_country=fr&limit=3&cursor={c}"),
            None => "/api/v1/firearms?recording_country=fr&limit=3".to_string(),
        };
        let (status, page) = server.get(&query).await;
        assert_eq!(status, 200, "{page}");
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["recording_country"], "FR");
            seen.push(item["record_id"].as_str().unwrap().to_string());
        }
        if seen.len() == 3 {
            // A record added while paging never shifts the pages already read.
            server
                .post("/api/v1/firearms", record("FR", "FR-late", "L1"))
                .await;
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let mut expected: Vec<String> = (0..7).map(|i| format!("FR-{i}")).collect();
    expected.push("FR-walther".into());
    expected.push("FR-late".into());
    assert_eq!(seen, expected);

    let (_, glocks) = server
        .get("/api/v1/firearms?recording_country=FR&make=glock&status=stolen&limit=50")
        .await;
    assert_eq!(glocks["items"].as_array().unwrap().len(), 8);
    let (status, problem) = server
        .get("/api/v1/firearms?recording_country=XX&limit=0&status=gone")
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"].as_array().unwrap().len(), 3);
    assert_eq!(server.get("/api/v1/firearms?cursor=bogus").await.0, 422);
}

#[tokio::test]
async fn a_deleted_record_is_listed_only_when_asked_for() {
    let (_installation, server) = TestServer::fresh();
    let (_, created) = server
        .post("/api/v1/firearms", record("FR", "FR-1", "A"))
        .await;
    server
        .post("/api/v1/firearms", record("FR", "FR-2", "B"))
        .await;
    server
        .delete(&format!("/api/v1/firearms/{}", created["id"]))
        .await;
    let (_, page) = server.get("/api/v1/firearms").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let (_, page) = server.get("/api/v1/firearms?include_deleted=true").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_ncb_records_for_its_own_country_only() {
    let installation = Installation::new();
    let ncb_de = installation
        .add_user("ncb-de", OrgKind::Ncb, "DE", "check,record")
        .await;
    let server = TestServer::start(&installation);
    let (_, french) = server
        .post("/api/v1/firearms", record("FR", "FR-1", "A"))
        .await;
    let create_fr = server
        .client
        .post(server.url("/api/v1/firearms"))
        .json(&record("FR", "FR-2", "B"));
    let (status, problem) = server.send(create_fr, Some(&ncb_de)).await;
    assert_eq!(status, 403);
    assert_eq!(problem["missing_permission"], "record");
    let edit_fr = server
        .client
        .patch(server.url(&format!("/api/v1/firearms/{}", french["id"])))
        .json(&json!({"status": "seized"}));
    assert_eq!(server.send(edit_fr, Some(&ncb_de)).await.0, 403);
    let create_de = server
        .client
        .post(server.url("/api/v1/firearms"))
        .json(&record("DE", "DE-1", "C"));
    assert_eq!(server.send(create_de, Some(&ncb_de)).await.0, 201);
    // Everyone with `check` reads every country's records.
    let read_fr = server
        .client
        .get(server.url(&format!("/api/v1/firearms/{}", french["id"])));
    assert_eq!(server.send(read_fr, Some(&ncb_de)).await.0, 200);
}

#[tokio::test]
async fn a_user_without_record_permission_cannot_write() {
    let installation = Installation::new();
    let customs = installation
        .add_user("customs-fr", OrgKind::Customs, "FR", "check")
        .await;
    let server = TestServer::start(&installation);
    let create = server
        .client
        .post(server.url("/api/v1/firearms"))
        .json(&record("FR", "FR-1", "A"));
    let (status, problem) = server.send(create, Some(&customs)).await;
    assert_eq!(status, 403);
    assert_eq!(problem["missing_permission"], "record");
    let import = server
        .client
        .post(server.url("/api/v1/firearms/import"))
        .header("content-type", "text/csv")
        .body("x");
    assert_eq!(server.send(import, Some(&customs)).await.0, 403);
}
