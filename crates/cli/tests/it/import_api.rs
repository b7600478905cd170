//! POST /api/v1/firearms/import: CSV and NDJSON, bad rows reported, good rows in, no duplicates.

use serde_json::Value;

use crate::support::{HEADER, TestServer};

async fn import(server: &TestServer, content_type: &str, body: String) -> (u16, Value) {
    let request = server
        .client
        .post(server.url("/api/v1/firearms/import"))
        .header("content-type", content_type)
        .body(body);
    server.send(request, None).await
}

fn list_with_bad_rows() -> String {
    [
        "recording_country,status,event_date,record_id,serial_number,make,model,calibre,firearm_type,country_of_manufacture,source_ref",
        "FR,stolen,2020-01-01,FR-1,ABC123,Glock,17,9x19mm,pistol,AT,x1",
        "FR,stolen,2020-01-01,FR-2,,Glock,17,9x19mm,pistol,AT,x2",
        "ZZ,stolen,2020-01-01,FR-3,ABC125,Glock,17,9x19mm,pistol,AT,x3",
        "FR,stolen,2020-01-01,FR-4,ABC126,Glock,17,9x19mm,SMG,AT,x4",
        "FR,stolen,2099-01-01,FR-5,ABC127,Glock,17,9x19mm,catapult,AT,x5",
        "FR,stolen,2020-01-01,FR-6,ABC128,Glock",
    ]
    .join("\n")
}

#[tokio::test]
async fn a_csv_import_takes_the_good_rows_and_reports_each_bad_one_with_line_and_field() {
    let (_installation, server) = TestServer::fresh();
    let (status, report) = import(&server, "text/csv", list_with_bad_rows()).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 2);
    assert_eq!(report["rejected"], 4);
    assert_eq!(
        report["summary"],
        "imported 2, updated 0, rejected 4, unchanged 0"
    );
    assert_eq!(report["ignored_columns"], serde_json::json!(["source_ref"]));
    let rejected = report["rejected_rows"].as_array().unwrap();
    let lines: Vec<u64> = rejected
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 4, 6, 7]);
    assert_eq!(rejected[0]["errors"][0]["field"], "serial_number");
    assert_eq!(rejected[1]["errors"][0]["field"], "recording_country");
    let fields_of_line_6: Vec<&str> = rejected[2]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields_of_line_6, ["firearm_type", "event_date"]);
    assert_eq!(rejected[3]["errors"][0]["code"], "field_count");
    let (_, page) = server.get("/api/v1/firearms").await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["record_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["FR-1", "FR-4"]);
}

#[tokio::test]
async fn importing_the_same_list_again_creates_no_duplicates_and_counts_changes() {
    let (_installation, server) = TestServer::fresh();
    let list = format!(
        "{HEADER}\nR1,S1,Glock,17,9mm,pistol,AT,FR,stolen,2020-01-01\nR2,S2,Glock,19,9mm,pistol,AT,FR,lost,2020-01-01\n"
    );
    let (_, first) = import(&server, "text/csv", list.clone()).await;
    assert_eq!(first["imported"], 2);
    let (_, again) = import(&server, "text/csv", list.clone()).await;
    assert_eq!(
        (
            again["imported"].as_u64(),
            again["updated"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(2))
    );
    let changed = list.replace(
        "R2,S2,Glock,19,9mm,pistol,AT,FR,lost",
        "R2,S2,Glock,19,9mm,pistol,AT,FR,recovered",
    );
    let (_, third) = import(&server, "text/csv", changed).await;
    assert_eq!(
        (
            third["imported"].as_u64(),
            third["updated"].as_u64(),
            third["unchanged"].as_u64()
        ),
        (Some(0), Some(1), Some(1))
    );
    let (_, page) = server.get("/api/v1/firearms?include_deleted=true").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let r2 = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["record_id"] == "R2")
        .unwrap();
    assert_eq!(r2["status"], "recovered");
    let (_, history) = server
        .get(&format!("/api/v1/firearms/{}/history", r2["id"]))
        .await;
    let channels: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["import", "import"]);
}

#[tokio::test]
async fn an_ndjson_import_reports_bad_lines_by_number() {
    let (_installation, server) = TestServer::fresh();
    let body = [
        r#"{"record_id":"N1","serial_number":"A1","make":"CZ","firearm_type":"pistol","recording_country":"CZ","status":"stolen","event_date":"2019-09-09"}"#,
        "",
        r#"{"record_id":"N2","serial_number":"A2","make":"CZ","firearm_type":"pistol","recording_country":"CZ","status":"stolen","event_date":"2019-09-09","year_of_manufacture":"old"}"#,
        r#"{"record_id": "#,
        r#"{"record_id":"N3","serial_number":"A3","make":"CZ","firearm_type":"rifle","recording_country":"CZ","status":"lost","event_date":"2019-09-09"}"#,
    ]
    .join("\n");
    let (status, report) = import(&server, "application/x-ndjson", body).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 2);
    assert_eq!(report["rejected"], 2);
    assert_eq!(report["rejected_rows"][0]["line"], 3);
    assert_eq!(
        report["rejected_rows"][0]["errors"][0]["field"],
        "year_of_manufacture"
    );
    assert_eq!(report["rejected_rows"][1]["line"], 4);
}

#[tokio::test]
async fn a_list_without_the_required_columns_is_refused_whole() {
    let (_installation, server) = TestServer::fresh();
    let (status, problem) = import(
        &server,
        "text/csv",
        "record_id,serial_number\nR1,S1\n".into(),
    )
    .await;
    assert_eq!(status, 422);
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("make") && message.contains("event_date"),
        "{message}"
    );
    let (_, page) = server.get("/api/v1/firearms").await;
    assert!(page["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_import_in_another_format_is_refused_415() {
    let (_installation, server) = TestServer::fresh();
    let (status, problem) = import(&server, "application/pdf", "%PDF".into()).await;
    assert_eq!(status, 415);
    assert_eq!(problem["code"], "unsupported_media_type");
}
