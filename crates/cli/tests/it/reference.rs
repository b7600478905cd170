//! The reference table through the API, and in the check.

use serde_json::json;

use crate::support::{TestServer, record};

#[tokio::test]
async fn what_an_officer_typed_resolves_and_autocompletes() {
    let (_installation, server) = TestServer::fresh();
    let (status, resolved) = server
        .get("/api/v1/reference/resolve?make=Glok&model=G17&calibre=9mm%20Para")
        .await;
    assert_eq!(status, 200, "{resolved}");
    // "Glok" is common enough to be listed as an alias; a rarer typo is corrected.
    assert!(["alias", "corrected"].contains(&resolved["make"]["status"].as_str().unwrap()));
    let (_, typo) = server.get("/api/v1/reference/resolve?make=Glockk").await;
    assert_eq!(typo["make"]["status"], "corrected", "{typo}");
    assert_eq!(typo["make"]["resolved"]["canonical"], "Glock");
    assert_eq!(resolved["make"]["resolved"]["canonical"], "Glock");
    assert_eq!(resolved["calibre"]["resolved"]["id"], "9x19mm");
    let (_, ambiguous) = server.get("/api/v1/reference/resolve?calibre=9mm").await;
    assert_eq!(ambiguous["calibre"]["status"], "ambiguous");
    assert!(
        ambiguous["calibre"]["alternatives"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );
    let (_, unknown) = server
        .get("/api/v1/reference/resolve?make=qwertyuiop")
        .await;
    assert_eq!(unknown["make"]["status"], "unknown");
    let (status, problem) = server.get("/api/v1/reference/resolve").await;
    assert_eq!(status, 422, "{problem}");

    let (status, makes) = server.get("/api/v1/reference/makes?q=bere&limit=5").await;
    assert_eq!(status, 200);
    assert_eq!(makes[0]["canonical"], "Beretta", "{makes}");
    let (_, calibres) = server.get("/api/v1/reference/calibres?q=7.62x3").await;
    assert!(
        calibres
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "7.62x39mm"),
        "{calibres}"
    );
}

#[tokio::test]
async fn a_check_for_kalashnikov_finds_a_record_marked_izhmash_as_the_same_make() {
    let (_installation, server) = TestServer::fresh();
    let mut izhmash = record("UA", "UA-1", "1974AK0421");
    izhmash["make"] = json!("Ижмаш");
    izhmash["firearm_type"] = json!("assault_rifle");
    let (status, _) = server.post("/api/v1/firearms", izhmash).await;
    assert_eq!(status, 201);
    let mut other = record("UA", "UA-2", "1974AK0421");
    other["make"] = json!("Glock");
    let (status, _) = server.post("/api/v1/firearms", other).await;
    assert_eq!(status, 201);
    let (status, answer) = server
        .post(
            "/api/v1/checks",
            json!({ "serial_number": "1974AK0421", "make": "Kalashnikov" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let first = &answer["matches"][0];
    assert_eq!(first["make"], "same", "{answer}");
    assert_eq!(first["firearm"]["record_id"], "UA-1");
    assert_eq!(answer["matches"][1]["make"], "different");
}

#[tokio::test]
async fn a_trace_goes_first_to_the_make_s_country_then_to_the_importer_s() {
    let (_installation, server) = TestServer::fresh();
    let (status, destinations) = server
        .get("/api/v1/reference/trace-destinations?make=Zastava&import_marks=Century%20Arms%20Georgia%20VT")
        .await;
    assert_eq!(status, 200, "{destinations}");
    let countries: Vec<&str> = destinations
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["country"].as_str().unwrap())
        .collect();
    assert_eq!(countries.first(), Some(&"RS"), "{destinations}");
    assert!(countries.contains(&"US"), "{destinations}");
    let (status, _) = server.get("/api/v1/reference/trace-destinations").await;
    assert_eq!(status, 422);
}
