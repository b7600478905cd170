//! Trace requests end to end: a French police agency asks Germany, Germany sends it back for
//! more, then forwards it to Austria, which answers; every move notified to the other party
//! (inbox and webhook) and audited; what a fourth country and a sibling agency may not see;
//! the completeness check; attachments checked by content; an urgent request going overdue
//! under a test clock, with reminders; CSV and PDF exports and the operator's command line.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::receivers::{Receiver, SmtpSink};
use crate::support::{Installation, TestServer};

/// France (a police agency and its NCB), Germany, Austria and Italy (NCBs), and a second
/// French agency.
struct World {
    installation: Installation,
    police_fr: String,
    ncb_fr: String,
    ncb_de: String,
    ncb_at: String,
    ncb_it: String,
    customs_fr: String,
}

fn world() -> World {
    let installation = Installation::new();
    let ncb_fr_org = installation.add_org("NCB France", "ncb", Some("FR"));
    let ncb_fr = installation.add_user_with_token(&ncb_fr_org, "ncb-fr", "check,trace,admin");
    let police_org = installation.add_org("Police nationale Lyon", "police", Some("FR"));
    installation.admin(&["org", "approve", &police_org]);
    let police_fr = installation.add_user_with_token(&police_org, "lyon", "check,trace");
    let customs_org = installation.add_org("Douane Marseille", "customs", Some("FR"));
    installation.admin(&["org", "approve", &customs_org]);
    let customs_fr = installation.add_user_with_token(&customs_org, "marseille", "check,trace");
    let de = installation.add_org("NCB Germany", "ncb", Some("DE"));
    let ncb_de = installation.add_user_with_token(&de, "ncb-de", "check,trace,admin");
    let at = installation.add_org("NCB Austria", "ncb", Some("AT"));
    let ncb_at = installation.add_user_with_token(&at, "ncb-at", "check,trace");
    let it = installation.add_org("NCB Italy", "ncb", Some("IT"));
    let ncb_it = installation.add_user_with_token(&it, "ncb-it", "check,trace");
    World {
        installation,
        police_fr,
        ncb_fr,
        ncb_de,
        ncb_at,
        ncb_it,
        customs_fr,
    }
}

async fn call(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    server.as_user(token, method, path, body).await
}

/// Calls and asserts the status.
async fn expect(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Value {
    let (got, answer) = call(server, token, method.clone(), path, body).await;
    assert_eq!(got, status, "{method} {path}: {answer}");
    answer
}

/// The events of `token`'s inbox about trace `id`, oldest first.
async fn trace_events(server: &TestServer, token: &str, id: i64) -> Vec<String> {
    let inbox = expect(
        server,
        token,
        Method::GET,
        &format!("/api/v1/notifications?trace_id={id}&limit=200"),
        None,
        200,
    )
    .await;
    let mut events: Vec<(i64, String)> = inbox["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            assert_eq!(n["trace_id"], id, "{n}");
            (
                n["id"].as_i64().unwrap(),
                n["event"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    events.sort();
    events.into_iter().map(|(_, e)| e).collect()
}

fn draft() -> Value {
    json!({
        "firearm": {
            "serial_numbers": ["WK41877"],
            "make": "Walther",
            "model": "PPK",
            "calibre": "7.65mm Browning",
            "firearm_type": "pistol",
            "country_of_manufacture": "DE"
        },
        "circumstances": {
            "seized_on": "2026-11-02",
            "place": "Lyon, Part-Dieu station",
            "case_reference": "LY-2026-4471",
            "crime_type": "trafficking",
            "how_found": "during Operation Rhone"
        }
    })
}

#[tokio::test]
async fn a_request_lives_across_three_countries_and_only_they_see_it() {
    let w = world();
    let server = TestServer::start_with(&w.installation, &["--allow-loopback-webhooks"]);
    let receiver = Receiver::start(
        std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        "a-webhook-secret-of-some-length",
        Vec::new(),
    );
    expect(
        &server,
        &w.ncb_de,
        Method::POST,
        "/api/v1/webhooks",
        Some(json!({ "url": receiver.url(), "secret": "a-webhook-secret-of-some-length" })),
        201,
    )
    .await;

    // A draft without legal basis or intended use: the completeness check names them, and
    // proposes Germany (the maker's country).
    let created = expect(
        &server,
        &w.police_fr,
        Method::POST,
        "/api/v1/traces",
        Some(draft()),
        201,
    )
    .await;
    let id = created["trace"]["id"].as_i64().unwrap();
    assert_eq!(created["trace"]["status"], "draft");
    let missing: Vec<(&str, bool)> = created["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["field"].as_str().unwrap(),
                m["blocking"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(missing.contains(&("legal_basis", true)), "{missing:?}");
    assert!(missing.contains(&("intended_use", true)), "{missing:?}");
    assert!(
        missing.contains(&("firearm.import_marks", false)),
        "made abroad without import marks: {missing:?}"
    );
    assert_eq!(created["destinations"][0]["country"], "DE", "{created}");

    // Sending is refused while anything blocking is missing, and names it.
    let refused = expect(
        &server,
        &w.police_fr,
        Method::POST,
        &format!("/api/v1/traces/{id}/send"),
        None,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "to_country", "{refused}");
    expect(
        &server,
        &w.police_fr,
        Method::PATCH,
        &format!("/api/v1/traces/{id}"),
        Some(json!({ "to_country": "DE" })),
        200,
    )
    .await;
    let refused = expect(
        &server,
        &w.police_fr,
        Method::POST,
        &format!("/api/v1/traces/{id}/send"),
        None,
        422,
    )
    .await;
    let fields: Vec<&str> = refused["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["legal_basis", "intended_use"], "{refused}");

    // Nobody but the writer, its NCB and the secretariat sees a draft.
    for token in [&w.ncb_de, &w.ncb_it, &w.customs_fr] {
        expect(
            &server,
            token,
            Method::GET,
            &format!("/api/v1/traces/{id}"),
            None,
            404,
        )
        .await;
    }
    expect(
        &server,
        &w.ncb_fr,
        Method::GET,
        &format!("/api/v1/traces/{id}"),
        None,
        200,
    )
    .await;

    let patched = expect(
        &server,
        &w.police_fr,
        Method::PATCH,
        &format!("/api/v1/traces/{id}"),
        Some(json!({
            "legal_basis": "Mutual legal assistance, case LY-2026-4471",
            "intended_use": "Criminal investigation and prosecution",
            "firearm": { "serial_numbers": ["WK41877", "41877"] }
        })),
        200,
    )
    .await;
    assert_eq!(
        patched["trace"]["content"]["firearm"]["make"], "Walther",
        "a merge patch keeps what it does not name"
    );
    let sent = expect(
        &server,
        &w.police_fr,
        Method::POST,
        &format!("/api/v1/traces/{id}/send"),
        None,
        200,
    )
    .await;
    assert_eq!(sent["trace"]["status"], "sent");
    assert!(
        sent["trace"]["deadlines"]["answer_by"].is_string(),
        "{sent}"
    );

    // Germany learns of it (inbox and webhook); Italy and a sibling French agency do not even
    // learn that it exists.
    assert_eq!(trace_events(&server, &w.ncb_de, id).await, ["trace.sent"]);
    let delivered = receiver
        .wait_for(Duration::from_secs(30), |r| {
            r.received()
                .iter()
                .any(|d| d.body["event"] == "trace.sent" && d.body["trace_id"] == id)
        })
        .await;
    assert!(delivered, "the webhook got {:?}", receiver.received());
    for token in [&w.ncb_it, &w.customs_fr] {
        let (status, answer) = call(
            &server,
            token,
            Method::GET,
            &format!("/api/v1/traces/{id}"),
            None,
        )
        .await;
        assert_eq!(status, 404, "{answer}");
        let list = expect(&server, token, Method::GET, "/api/v1/traces", None, 200).await;
        assert_eq!(list["traces"], json!([]), "{list}");
        let (status, _) = call(
            &server,
            token,
            Method::POST,
            &format!("/api/v1/traces/{id}/acknowledge"),
            None,
        )
        .await;
        assert_eq!(status, 404);
    }
    let incoming = expect(
        &server,
        &w.ncb_de,
        Method::GET,
        "/api/v1/traces?direction=incoming",
        None,
        200,
    )
    .await;
    assert_eq!(incoming["traces"][0]["id"], id);
    // Filtered by the date it was written, and by country.
    for (query, found) in [
        ("from=2000-01-01", true),
        ("to=2000-01-01", false),
        ("country=DE", true),
        ("country=AT", false),
        ("status=sent&priority=routine", true),
        ("status=closed", false),
    ] {
        let list = expect(
            &server,
            &w.ncb_de,
            Method::GET,
            &format!("/api/v1/traces?{query}"),
            None,
            200,
        )
        .await;
        assert_eq!(
            list["traces"].as_array().unwrap().len(),
            usize::from(found),
            "{query}: {list}"
        );
    }
    let outgoing = expect(
        &server,
        &w.ncb_de,
        Method::GET,
        "/api/v1/traces?direction=outgoing",
        None,
        200,
    )
    .await;
    assert_eq!(outgoing["traces"], json!([]));

    // Only the asked NCB acknowledges; only the requester changes what the request says.
    expect(
        &server,
        &w.police_fr,
        Method::POST,
        &format!("/api/v1/traces/{id}/acknowledge"),
        None,
        403,
    )
    .await;
    expect(
        &server,
        &w.ncb_de,
        Method::POST,
        &format!("/api/v1/traces/{id}/acknowledge"),
        Some(json!({ "note": "Received by the German NCB firearms desk" })),
        200,
    )
    .await;
    expect(
        &server,
        &w.ncb_de,
        Method::POST,
        &format!("/api/v1/traces/{id}/request-information"),
        Some(json!({ "text": "Please send the import marks and a photograph of the slide" })),
        200,
    )
    .await;
    expect(
        &server,
        &w.ncb_de,
        Method::PATCH,
        &format!("/api/v1/traces/{id}"),
        Some(json!({ "legal_basis": "x" })),
        403,
    )
    .await;
    expect(
        &server,
        &w.police_fr,
        Method::PATCH,
        &format!("/api/v1/traces/{id}"),
        Some(json!({ "firearm": { "import_marks": "WAFFEN-IMPORT WIEN AT" } })),
        200,
    )
    .await;
    expect(
        &server,
        &w.police_fr,
        Method::POST,
        &format!("/api/v1/traces/{id}/send"),
        None,
        200,
    )
    .await;

    // Germany passes it on to Austria, the country of the import marks.
    expect(
        &server,
        &w.ncb_de,
        Method::POST,
        &format!("/api/v1/traces/{id}/acknowledge"),
        None,
        200,
    )
    .await;
    expect(
        &server,
        &w.ncb_de,
        Method::POST,
        &format!("/api/v1/traces/{id}/forward"),
        Some(json!({ "to_country": "FR" })),
        422,
    )
    .await;
    let forwarded = expect(
        &server,
        &w.ncb_de,
        Method::POST,
        &format!("/api/v1/traces/{id}/forward"),
        Some(json!({ "to_country": "AT", "note": "Exported to Austria in 2009" })),
        200,
    )
    .await;
    assert_eq!(forwarded["trace"]["status"], "forwarded");
    let chain = forwarded["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2, "{forwarded}");
    let linked = chain[1]["id"].as_i64().unwrap();
    assert_eq!(chain[1]["parent_id"], id);
    assert_eq!(chain[1]["requester_country"], "DE");
    assert_eq!(chain[1]["to_country"], "AT");
    assert_eq!(
        trace_events(&server, &w.ncb_at, linked).await,
        ["trace.sent"]
    );

    // The whole chain is visible to those on it, and to no one else.
    for token in [&w.police_fr, &w.ncb_fr, &w.ncb_de, &w.ncb_at, &server.token] {
        for trace in [id, linked] {
            expect(
                &server,
                token,
                Method::GET,
                &format!("/api/v1/traces/{trace}"),
                None,
                200,
            )
            .await;
        }
    }
    for token in [&w.ncb_it, &w.customs_fr] {
        for trace in [id, linked] {
            expect(
                &server,
                token,
                Method::GET,
                &format!("/api/v1/traces/{trace}"),
                None,
                404,
            )
            .await;
        }
    }

    // Austria answers, with the trail in fields; the French requester hears of it.
    expect(
        &server,
        &w.ncb_at,
        Method::POST,
        &format!("/api/v1/traces/{linked}/answer"),
        Some(json!({ "result": "found" })),
        422,
    )
    .await;
    let answered = expect(
        &server,
        &w.ncb_at,
        Method::POST,
        &format!("/api/v1/traces/{linked}/answer"),
        Some(json!({
            "result": "found",
            "last_legal_recipient": "Waffen Huber, Graz (licensed dealer)",
            "last_legal_country": "AT",
            "transfers": [{
                "date": "2009-03-14",
                "from": "Carl Walther GmbH",
                "to": "Waffen Huber, Graz",
                "exporting_country": "DE",
                "importing_country": "AT",
                "licence_reference": "AT-IMP-2009-0331"
            }],
            "text": "Sold on to a private buyer in 2015; the register shows it reported stolen in 2021."
        })),
        200,
    )
    .await;
    assert_eq!(answered["trace"]["status"], "answered");
    assert_eq!(
        answered["trace"]["answer"]["transfers"][0]["licence_reference"],
        "AT-IMP-2009-0331"
    );
    assert_eq!(
        trace_events(&server, &w.police_fr, linked).await,
        ["trace.answered"]
    );
    assert_eq!(
        trace_events(&server, &w.ncb_de, linked).await,
        ["trace.answered"]
    );

    // Messages reach the other party; a fourth country cannot write.
    expect(
        &server,
        &w.police_fr,
        Method::POST,
        &format!("/api/v1/traces/{id}/messages"),
        Some(json!({ "text": "Thank you; we will ask Austria for the 2015 buyer." })),
        200,
    )
    .await;
    expect(
        &server,
        &w.ncb_it,
        Method::POST,
        &format!("/api/v1/traces/{id}/messages"),
        Some(json!({ "text": "hello" })),
        404,
    )
    .await;
    let closed = expect(
        &server,
        &w.police_fr,
        Method::POST,
        &format!("/api/v1/traces/{id}/close"),
        Some(json!({ "note": "Traced to the last legal owner" })),
        200,
    )
    .await;
    assert_eq!(closed["trace"]["status"], "closed");
    assert_eq!(closed["actions"], json!([]));
    // Closing the case closes the request it was forwarded on as: Austria stops work on it.
    let linked_view = expect(
        &server,
        &w.ncb_at,
        Method::GET,
        &format!("/api/v1/traces/{linked}"),
        None,
        200,
    )
    .await;
    assert_eq!(linked_view["trace"]["status"], "closed", "{linked_view}");
    assert_eq!(linked_view["actions"], json!([]));
    assert_eq!(
        trace_events(&server, &w.ncb_at, linked).await,
        ["trace.sent", "trace.closed"]
    );
    let conflict = expect(
        &server,
        &w.ncb_de,
        Method::POST,
        &format!("/api/v1/traces/{id}/acknowledge"),
        None,
        409,
    )
    .await;
    assert!(
        conflict["detail"].as_str().unwrap().contains("closed"),
        "{conflict}"
    );

    // Every move reached Germany, in order; the French side heard Germany's.
    assert_eq!(
        trace_events(&server, &w.ncb_de, id).await,
        [
            "trace.sent",
            "trace.updated",
            "trace.sent",
            "trace.message",
            "trace.closed"
        ]
    );
    assert_eq!(
        trace_events(&server, &w.police_fr, id).await,
        [
            "trace.acknowledged",
            "trace.information_requested",
            "trace.acknowledged",
            "trace.forwarded"
        ]
    );
    let timeline: Vec<String> = closed["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        timeline,
        [
            "trace.created",
            "trace.updated",
            "trace.updated",
            "trace.sent",
            "trace.acknowledged",
            "trace.information_requested",
            "trace.updated",
            "trace.sent",
            "trace.acknowledged",
            "trace.forwarded",
            "trace.message",
            "trace.closed"
        ]
    );

    // Audited, each with its request.
    let audit = expect(
        &server,
        &server.token,
        Method::GET,
        "/api/v1/audit?action=trace.&limit=100",
        None,
        200,
    )
    .await;
    let audited: Vec<(String, String)> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_string(),
                e["target"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let target = format!("trace:{id}");
    for action in [
        "trace.create",
        "trace.sent",
        "trace.acknowledged",
        "trace.information_requested",
        "trace.forwarded",
        "trace.message",
        "trace.closed",
    ] {
        assert!(
            audited.iter().any(|(a, t)| a == action && *t == target),
            "{action} on {target} not audited: {audited:?}"
        );
    }
    assert!(audited.contains(&("trace.answered".into(), format!("trace:{linked}"))));

    // The lists export to CSV and PDF, and a request to a PDF case file.
    let csv = server
        .client
        .get(server.url("/api/v1/traces/export?format=csv&direction=outgoing"))
        .bearer_auth(&w.police_fr)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("id,chain_id,status,priority")
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&format!("{id},{id},closed,routine")),
        "{csv}"
    );
    assert!(row.contains("WK41877 | 41877"), "{row}");
    assert_eq!(lines.next(), None, "only the French request: {csv}");
    for path in [
        "/api/v1/traces/export?format=pdf".to_string(),
        format!("/api/v1/traces/{id}/pdf"),
    ] {
        let pdf = server
            .client
            .get(server.url(&path))
            .bearer_auth(&w.police_fr)
            .send()
            .await
            .unwrap();
        assert_eq!(pdf.status(), 200, "{path}");
        assert_eq!(pdf.headers()["content-type"], "application/pdf");
        let bytes = pdf.bytes().await.unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "{path}");
        let shown = pdf_text(&bytes);
        assert!(
            shown.iter().any(|s| s.contains("WK41877")),
            "{path}: {shown:?}"
        );
    }
    // Another country's export leaves the request out.
    for token in [&w.ncb_it, &w.customs_fr] {
        let pdf = server
            .client
            .get(server.url("/api/v1/traces/export?format=pdf"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(pdf.status(), 200);
        let shown = pdf_text(&pdf.bytes().await.unwrap());
        assert!(!shown.is_empty(), "the export still has its title");
        assert!(!shown.iter().any(|s| s.contains("WK41877")), "{shown:?}");
        let csv = server
            .client
            .get(server.url("/api/v1/traces/export?format=csv"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
    }
    let pdf = server
        .client
        .get(server.url(&format!("/api/v1/traces/{id}/pdf")))
        .bearer_auth(&w.ncb_it)
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 404);

    // The operator's view.
    let list = w.installation.run(&["trace", "list"]);
    assert!(list.status.success(), "{list:?}");
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(list.contains("2 requests"), "{list}");
    assert_eq!(list.matches(" closed ").count(), 2, "{list}");
    let show = w.installation.run(&["trace", "show", &id.to_string()]);
    assert!(show.status.success(), "{show:?}");
    let show = String::from_utf8(show.stdout).unwrap();
    assert!(show.contains("trace request"), "{show}");
    assert!(show.contains("trace.forwarded"), "{show}");
    assert!(
        show.contains(&format!("{linked} DE -> AT (closed)")),
        "{show}"
    );
    let missing = w.installation.run(&["trace", "show", "999"]);
    assert!(!missing.status.success());
}

/// Every string a PDF of the service shows.
fn pdf_text(pdf: &[u8]) -> Vec<String> {
    armstrace_server::pdf::inspect::shown_text(pdf).expect("a PDF as the service writes them")
}

/// The smallest files of each kind: the signature is what counts.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
const PDF: &[u8] = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

async fn upload(
    server: &TestServer,
    token: &str,
    id: i64,
    name: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = server
        .client
        .post(server.url(&format!("/api/v1/traces/{id}/attachments?name={name}")))
        .header("content-type", content_type)
        .body(body);
    server.send(request, Some(token)).await
}

#[tokio::test]
async fn attachments_are_checked_by_content_and_kept_to_the_parties() {
    let w = world();
    let server = TestServer::start_with(&w.installation, &["--attachment-max-mb", "1"]);
    let created = expect(
        &server,
        &w.police_fr,
        Method::POST,
        "/api/v1/traces",
        Some(draft()),
        201,
    )
    .await;
    let id = created["trace"]["id"].as_i64().unwrap();

    let (status, attached) = upload(
        &server,
        &w.police_fr,
        id,
        "slide.png",
        "image/png",
        PNG.to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{attached}");
    assert_eq!(attached["content_type"], "image/png");
    assert_eq!(attached["size"], PNG.len());
    let attachment = attached["id"].as_i64().unwrap();
    // Sent without a type, the content decides.
    let (status, attached) = upload(
        &server,
        &w.police_fr,
        id,
        "../../report.pdf",
        "application/octet-stream",
        PDF.to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{attached}");
    assert_eq!(attached["content_type"], "application/pdf");
    assert_eq!(attached["name"], "report.pdf");

    // Refused: a program, a type that lies, an empty file, one over the limit.
    let (status, refused) = upload(
        &server,
        &w.police_fr,
        id,
        "photo.jpg",
        "image/jpeg",
        b"MZ\x90\0\x03\0\0\0".to_vec(),
    )
    .await;
    assert_eq!(status, 415, "{refused}");
    let (status, refused) = upload(
        &server,
        &w.police_fr,
        id,
        "x.png",
        "image/png",
        PDF.to_vec(),
    )
    .await;
    assert_eq!(status, 415, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("application/pdf")
    );
    let (status, _) = upload(&server, &w.police_fr, id, "x.png", "image/png", Vec::new()).await;
    assert_eq!(status, 422);
    let mut big = vec![0xFF, 0xD8, 0xFF, 0xE0];
    big.resize(1024 * 1024 + 10, 0);
    let (status, refused) = upload(&server, &w.police_fr, id, "big.jpg", "image/jpeg", big).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["errors"][0]["code"], "too_large");

    // Downloaded as stored; not by a country off the request; the recipient NCB of a draft
    // cannot attach.
    let download = server
        .client
        .get(server.url(&format!("/api/v1/traces/{id}/attachments/{attachment}")))
        .bearer_auth(&w.police_fr)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "image/png");
    assert_eq!(download.headers()["x-content-type-options"], "nosniff");
    assert_eq!(download.bytes().await.unwrap().as_ref(), PNG);
    let (status, _) = call(
        &server,
        &w.ncb_it,
        Method::GET,
        &format!("/api/v1/traces/{id}/attachments/{attachment}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = upload(&server, &w.ncb_de, id, "x.png", "image/png", PNG.to_vec()).await;
    assert_eq!(status, 404, "Germany does not see a French draft");
    let view = expect(
        &server,
        &w.police_fr,
        Method::GET,
        &format!("/api/v1/traces/{id}"),
        None,
        200,
    )
    .await;
    assert_eq!(view["attachments"].as_array().unwrap().len(), 2);
}

fn write_clock(path: &std::path::Path, at: &str) {
    std::fs::write(path, at).unwrap();
}

/// Waits until `token`'s inbox holds `n` `trace.overdue` notifications about `id`.
async fn wait_for_overdue(server: &TestServer, token: &str, id: i64, n: usize) -> Vec<String> {
    let until = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let events = trace_events(server, token, id).await;
        let overdue = events.iter().filter(|e| *e == "trace.overdue").count();
        if overdue >= n || std::time::Instant::now() > until {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_urgent_request_goes_overdue_under_a_test_clock_and_everyone_is_reminded() {
    let w = world();
    let clock = w.installation.path("clock");
    // Wednesday morning.
    write_clock(&clock, "2026-11-18T09:00:00Z");
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(
        &w.installation,
        &[
            "--clock-file",
            clock.to_str().unwrap(),
            "--trace-sweep-ms",
            "100",
            "--smtp-url",
            &sink.url(),
            "--smtp-from",
            "armstrace@example.org",
        ],
    );
    // Germany's duty desk gets its notifications by e-mail too.
    let me = expect(&server, &w.ncb_de, Method::GET, "/api/v1/me", None, 200).await;
    let org = me["organisation"]["id"].as_i64().unwrap();
    expect(
        &server,
        &w.ncb_de,
        Method::PUT,
        &format!("/api/v1/organisations/{org}/duty-email"),
        Some(json!({ "address": "duty@ncb-de.example" })),
        200,
    )
    .await;
    let mut request = draft();
    request["to_country"] = json!("DE");
    request["legal_basis"] = json!("Mutual legal assistance");
    request["intended_use"] = json!("Investigation");
    request["priority"] = json!("urgent");
    let created = expect(
        &server,
        &w.police_fr,
        Method::POST,
        "/api/v1/traces",
        Some(request),
        201,
    )
    .await;
    let id = created["trace"]["id"].as_i64().unwrap();
    // Urgent needs its reason before it goes.
    let refused = expect(
        &server,
        &w.police_fr,
        Method::POST,
        &format!("/api/v1/traces/{id}/send"),
        None,
        422,
    )
    .await;
    assert_eq!(refused["errors"][0]["field"], "urgency", "{refused}");
    expect(
        &server,
        &w.police_fr,
        Method::PATCH,
        &format!("/api/v1/traces/{id}"),
        Some(json!({ "urgency": "Suspect in custody until tomorrow noon" })),
        200,
    )
    .await;
    let sent = expect(
        &server,
        &w.police_fr,
        Method::POST,
        &format!("/api/v1/traces/{id}/send"),
        None,
        200,
    )
    .await;
    assert_eq!(
        sent["trace"]["deadlines"]["answer_by"], "2026-11-19T09:00:00Z",
        "urgent: 24 hours"
    );
    assert_eq!(sent["late"], Value::Null);
    let overdue = expect(
        &server,
        &w.ncb_de,
        Method::GET,
        "/api/v1/traces?overdue=true",
        None,
        200,
    )
    .await;
    assert_eq!(overdue["traces"], json!([]));

    // A day and an hour later it is late; both parties and the French NCB are reminded once.
    write_clock(&clock, "2026-11-19T10:00:00Z");
    for token in [&w.police_fr, &w.ncb_de, &w.ncb_fr] {
        let events = wait_for_overdue(&server, token, id, 1).await;
        assert!(events.contains(&"trace.overdue".to_string()), "{events:?}");
    }
    let events = trace_events(&server, &w.ncb_it, id).await;
    assert!(events.is_empty(), "Italy is not told: {events:?}");
    let until = std::time::Instant::now() + Duration::from_secs(30);
    let overdue_mail = |mail: &Vec<(Vec<String>, String)>| {
        mail.iter().any(|(_, text)| {
            text.contains("trace.overdue") && text.contains(&format!("trace request {id}"))
        })
    };
    while !overdue_mail(&sink.mail()) && std::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mail = sink.mail();
    assert!(overdue_mail(&mail), "{mail:?}");
    assert!(
        mail.iter().all(|(to, _)| to == &["<duty@ncb-de.example>"]),
        "{mail:?}"
    );
    let view = expect(
        &server,
        &w.ncb_de,
        Method::GET,
        &format!("/api/v1/traces/{id}"),
        None,
        200,
    )
    .await;
    assert_eq!(view["late"], "answer", "{view}");
    let overdue = expect(
        &server,
        &w.ncb_de,
        Method::GET,
        "/api/v1/traces?overdue=true&priority=urgent",
        None,
        200,
    )
    .await;
    assert_eq!(overdue["traces"][0]["id"], id);
    assert_eq!(overdue["traces"][0]["late"], "answer");

    // Another day on, still late: reminded again.
    write_clock(&clock, "2026-11-20T10:30:00Z");
    let events = wait_for_overdue(&server, &w.ncb_de, id, 2).await;
    let reminders = events.iter().filter(|e| *e == "trace.overdue").count();
    assert_eq!(reminders, 2, "{events:?}");

    // Answered, it is late no longer.
    expect(
        &server,
        &w.ncb_de,
        Method::POST,
        &format!("/api/v1/traces/{id}/answer"),
        Some(json!({ "result": "not_found", "text": "No German record of this serial" })),
        200,
    )
    .await;
    let overdue = expect(
        &server,
        &w.police_fr,
        Method::GET,
        "/api/v1/traces?overdue=true",
        None,
        200,
    )
    .await;
    assert_eq!(overdue["traces"], json!([]));
    let timeline = expect(
        &server,
        &w.police_fr,
        Method::GET,
        &format!("/api/v1/traces/{id}"),
        None,
        200,
    )
    .await;
    let reminded = timeline["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "trace.overdue")
        .count();
    assert_eq!(reminded, 2, "{timeline}");
}
