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
    let (status, types) = server.get("/api/v1/reference/types").await;
    assert_eq!(status, 200);
    let smg = types
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "submachine_gun")
        .unwrap();
    assert!(
        smg["names"].as_array().unwrap().contains(&json!("smg")),
        "{types}"
    );
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

#[tokio::test]
async fn a_record_keeps_what_was_typed_and_stores_what_it_resolved_to() {
    let (_installation, server) = TestServer::fresh();
    let mut typed = record("DE", "DE-CANON-1", "ABC12345");
    typed["make"] = json!("Glockk");
    typed["model"] = json!("G17");
    typed["calibre"] = json!("9 mm Para");
    let (status, created) = server.post("/api/v1/firearms", typed).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["make"], "Glockk");
    assert_eq!(created["calibre"], "9 mm Para");
    assert_eq!(
        created["canonical"],
        json!({ "make": "glock", "model": "glock/17", "calibre": "9x19mm" })
    );
    // An ambiguous calibre and an unknown make are kept as typed, with no canonical value.
    let id = created["id"].as_i64().unwrap();
    let (status, changed) = server
        .patch(
            &format!("/api/v1/firearms/{id}"),
            json!({ "make": "Qwertyuiop Arms", "calibre": "9mm" }),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        changed["canonical"],
        json!({ "make": null, "model": null, "calibre": null })
    );
    let (_, read) = server.get(&format!("/api/v1/firearms/{id}")).await;
    assert_eq!(read["canonical"], changed["canonical"]);
}

#[tokio::test]
async fn an_import_reports_per_column_how_values_resolved() {
    let (_installation, server) = TestServer::fresh();
    let csv = "record_id,serial_number,make,model,calibre,firearm_type,country_of_manufacture,recording_country,status,event_date\n\
        R1,S0001,Glock,17,9mm Luger,pistol,,FR,stolen,2024-01-01\n\
        R2,S0002,Ижмаш,АКМ,7.62x39,assault_rifle,,FR,stolen,2024-01-01\n\
        R3,S0003,IZH,,9mm,pistol,,FR,stolen,2024-01-01\n\
        R4,S0004,Qwertyuiop,Zork 9,,pistol,,FR,stolen,2024-01-01\n\
        R5,S0005,Glock,17,9mm Luger,pistol,,FR,stolen,not a date\n";
    let (status, report) = server
        .send(
            server
                .client
                .post(server.url("/api/v1/firearms/import"))
                .header("content-type", "text/csv")
                .body(csv),
            None,
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 4);
    assert_eq!(report["rejected"], 1);
    // Rows refused are not counted; empty values are not counted.
    assert_eq!(
        report["resolution"],
        json!({
            "make": { "resolved": 2, "ambiguous": 1, "unknown": 1 },
            "model": { "resolved": 2, "ambiguous": 0, "unknown": 1 },
            "calibre": { "resolved": 2, "ambiguous": 1, "unknown": 0 },
        }),
        "{report}"
    );
    let (_, page) = server
        .get("/api/v1/firearms?recording_country=FR&limit=10")
        .await;
    let izhmash = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["record_id"] == "R2")
        .unwrap();
    assert_eq!(
        izhmash["canonical"],
        json!({ "make": "izhmash", "model": "izhmash/akm", "calibre": "7.62x39mm" })
    );
}

async fn put(
    server: &TestServer,
    path: &str,
    body: serde_json::Value,
    if_match: Option<&str>,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut request = server.client.put(server.url(path)).json(&body);
    if let Some(version) = if_match {
        request = request.header("if-match", version);
    }
    server.send(request, token).await
}

#[tokio::test]
async fn the_secretariat_corrects_the_table_in_versions_and_everyone_else_is_refused() {
    let (installation, server) = TestServer::fresh();
    let (status, glock) = server.get("/api/v1/reference/makes/glock").await;
    assert_eq!(status, 200, "{glock}");
    assert_eq!(glock["version"], 1);
    assert_eq!(glock["changed_by"], serde_json::Value::Null);
    let mut entry = glock["entry"].clone();
    entry["aliases"]
        .as_array_mut()
        .unwrap()
        .push(json!("Glokk Austria"));

    // Before the change the name is not the make's; after it, it is.
    let (_, before) = server
        .get("/api/v1/reference/resolve?make=Glokk%20Austria")
        .await;
    assert_ne!(before["make"]["status"], "alias", "{before}");
    let (status, changed) = put(
        &server,
        "/api/v1/reference/makes/glock",
        entry.clone(),
        Some("\"1\""),
        None,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["version"], 2);
    let (_, after) = server
        .get("/api/v1/reference/resolve?make=Glokk%20Austria")
        .await;
    assert_eq!(after["make"]["status"], "alias", "{after}");
    assert_eq!(after["make"]["resolved"]["id"], "glock");

    // A change based on an old version, or that changes nothing, is refused.
    let (status, stale) = put(
        &server,
        "/api/v1/reference/makes/glock",
        entry.clone(),
        Some("\"1\""),
        None,
    )
    .await;
    assert_eq!(
        (status, stale["code"].as_str()),
        (409, Some("stale_version"))
    );
    let (status, same) = put(
        &server,
        "/api/v1/reference/makes/glock",
        entry.clone(),
        None,
        None,
    )
    .await;
    assert_eq!((status, same["code"].as_str()), (409, Some("unchanged")));

    // A name of another make, not marked shared, is a contradiction.
    let mut contradiction = entry.clone();
    contradiction["aliases"]
        .as_array_mut()
        .unwrap()
        .push(json!("Walther"));
    let (status, problem) = put(
        &server,
        "/api/v1/reference/makes/glock",
        contradiction,
        None,
        None,
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("walther"), "{problem}");
    // A key that does not match the path, a bad id, a model of a make that is not there.
    let (status, _) = put(
        &server,
        "/api/v1/reference/makes/walther",
        entry.clone(),
        None,
        None,
    )
    .await;
    assert_eq!(status, 422);
    let model = json!({
        "make": "no-such-make", "name": "X1", "firearm_type": "pistol", "source": "test"
    });
    let (status, problem) = put(
        &server,
        "/api/v1/reference/models/no-such-make/X1",
        model,
        None,
        None,
    )
    .await;
    assert_eq!(status, 422, "{problem}");

    // A new calibre is added (201) and resolves.
    let calibre = json!({
        "id": "6.5x99mm-test", "canonical": "6.5x99mm Test", "system": "metric",
        "aliases": ["6.5 Test Magnum"], "source": "test"
    });
    let (status, added) = put(
        &server,
        "/api/v1/reference/calibres/6.5x99mm-test",
        calibre,
        None,
        None,
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let (_, resolved) = server
        .get("/api/v1/reference/resolve?calibre=6.5%20test%20magnum")
        .await;
    assert_eq!(resolved["calibre"]["resolved"]["id"], "6.5x99mm-test");

    // The history and the audit trail say who changed what.
    let (_, history) = server.get("/api/v1/reference/makes/glock/history").await;
    let history = history.as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["version"], 2);
    assert_eq!(history[0]["username"], "admin");
    let (_, audit) = server.get("/api/v1/audit?action=reference.change").await;
    let targets: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert!(targets.contains(&"reference:make:glock"), "{audit}");
    assert!(
        targets.contains(&"reference:calibre:6.5x99mm-test"),
        "{audit}"
    );

    // An NCB administrator may not change the table.
    let ncb = installation.add_org("NCB Paris", "ncb", Some("FR"));
    let ncb_admin = installation.add_user_with_token(&ncb, "ncb-admin", "admin,check");
    let (status, refused) = put(
        &server,
        "/api/v1/reference/makes/glock",
        glock["entry"].clone(),
        None,
        Some(&ncb_admin),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (403, Some("out_of_scope")),
        "{refused}"
    );

    // The change outlives a restart.
    drop(server);
    let server = TestServer::start(&installation);
    let (_, glock) = server.get("/api/v1/reference/makes/glock").await;
    assert_eq!(glock["version"], 2, "{glock}");
}

#[tokio::test]
async fn a_make_added_to_the_table_groups_its_names_in_the_check_at_once() {
    let (_installation, server) = TestServer::fresh();
    let mut acme = record("FR", "FR-ACME-1", "AC77123");
    acme["make"] = json!("Acme Werke");
    let (status, _) = server.post("/api/v1/firearms", acme).await;
    assert_eq!(status, 201);
    let check = json!({ "serial_number": "AC77123", "make": "Acme Arms" });
    let (_, answer) = server.post("/api/v1/checks", check.clone()).await;
    assert_eq!(answer["matches"][0]["make"], "different", "{answer}");

    let make = json!({
        "id": "acme-arms", "canonical": "Acme Arms", "country": "FR",
        "aliases": ["Acme Werke"], "source": "test"
    });
    let (status, added) = put(
        &server,
        "/api/v1/reference/makes/acme-arms",
        make,
        None,
        None,
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let (_, answer) = server.post("/api/v1/checks", check).await;
    assert_eq!(answer["matches"][0]["make"], "same", "{answer}");
}

#[tokio::test]
async fn the_table_moves_as_files_and_a_file_with_a_contradiction_changes_nothing() {
    let installation = crate::support::Installation::new();
    // A record of a make the table does not know yet.
    let list = installation.path("acme.csv");
    std::fs::write(
        &list,
        format!(
            "{}\nFR-ACME-9,AW-1234,Acme Werke,,,pistol,,FR,stolen,2024-01-01\n",
            crate::support::HEADER
        ),
    )
    .unwrap();
    let imported = installation.run(&["import", list.to_str().unwrap()]);
    assert!(imported.status.success(), "{imported:?}");
    assert!(
        String::from_utf8_lossy(&imported.stdout)
            .contains("make: 0 resolved, 0 ambiguous, 1 unknown"),
        "{imported:?}"
    );
    let dir = installation.path("reference");
    let dir_arg = dir.to_str().unwrap();
    let exported = installation.run(&["reference", "export", dir_arg]);
    assert!(exported.status.success(), "{exported:?}");
    let makes = std::fs::read_to_string(dir.join("makes.tsv")).unwrap();
    assert!(makes.starts_with("id\tcanonical\tcountry\taliases\tshared_aliases\tsource\n"));
    assert!(makes.contains("\nglock\tGlock\tAT\t"));

    // Unchanged files change nothing.
    let again = installation.run(&["reference", "import", dir_arg]);
    assert!(again.status.success(), "{again:?}");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("added 0, corrected 0"), "{stdout}");

    // A name given to two makes is refused, and nothing is stored.
    let glock_line = makes
        .lines()
        .find(|l| l.starts_with("glock\t"))
        .unwrap()
        .to_string();
    let mut fields: Vec<String> = glock_line.split('\t').map(str::to_string).collect();
    fields[3] = format!("{}|Walther", fields[3]);
    let contradicting = makes.replace(&glock_line, &fields.join("\t"));
    std::fs::write(dir.join("makes.tsv"), &contradicting).unwrap();
    let refused = installation.run(&["reference", "import", dir_arg]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("walther"), "{stderr}");
    assert!(stderr.contains("nothing was changed"), "{stderr}");

    // A new alias and a new make go in as versions, and come out in the next export.
    fields[3] = fields[3].replace("|Walther", "|Glokk Wien");
    let corrected = makes.replace(&glock_line, &fields.join("\t"))
        + "acme-arms\tAcme Arms\tFR\tAcme Werke\t\ttest\n";
    std::fs::write(dir.join("makes.tsv"), &corrected).unwrap();
    let dry = installation.run(&["reference", "import", dir_arg, "--dry-run"]);
    assert!(String::from_utf8_lossy(&dry.stdout).contains("would add 1, correct 1"));
    let imported = installation.run(&["reference", "import", dir_arg]);
    assert!(imported.status.success(), "{imported:?}");
    let stdout = String::from_utf8_lossy(&imported.stdout);
    assert!(stdout.contains("added 1, corrected 1"), "{stdout}");
    let out = installation.path("out");
    let exported = installation.run(&["reference", "export", out.to_str().unwrap()]);
    assert!(exported.status.success());
    let makes = std::fs::read_to_string(out.join("makes.tsv")).unwrap();
    assert!(makes.contains("Glokk Wien"));
    assert!(makes.contains("acme-arms\tAcme Arms\tFR\tAcme Werke\t\ttest"));

    // The record stored before the make was known resolves to it now.
    let resolved = installation.run(&["reference", "resolve-records"]);
    assert!(resolved.status.success(), "{resolved:?}");
    let stdout = String::from_utf8_lossy(&resolved.stdout);
    assert!(
        stdout.contains("1 records resolved again, 1 changed"),
        "{stdout}"
    );
    let store = armstrace_store::open(installation.db.to_str().unwrap(), false)
        .await
        .unwrap();
    let record = store.firearm(1).await.unwrap().unwrap();
    assert_eq!(record.fields.make, "Acme Werke");
    assert_eq!(record.fields.canonical.make.as_deref(), Some("acme-arms"));
    let again = installation.run(&["reference", "resolve-records"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("1 records resolved again, 0 changed"));
    let verified = installation.run(&["audit", "verify"]);
    assert!(verified.status.success(), "{verified:?}");
}

#[tokio::test]
async fn a_typo_in_the_checked_make_is_corrected_by_the_table_and_the_trail_says_so() {
    let (_installation, server) = TestServer::fresh();
    let mut glock = record("AT", "AT-1", "BXK4471");
    glock["make"] = json!("Glock");
    server.post("/api/v1/firearms", glock).await;
    let mut walther = record("DE", "DE-1", "BXK4471");
    walther["make"] = json!("Walther");
    server.post("/api/v1/firearms", walther).await;
    let (status, answer) = server
        .post(
            "/api/v1/checks",
            json!({ "serial_number": "BXK4471", "make": "Glockk" }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["matches"][0]["make"], "same", "{answer}");
    assert_eq!(answer["matches"][0]["firearm"]["record_id"], "AT-1");
    assert_eq!(answer["matches"][1]["make"], "different");
    // Nonsense is not corrected into anything.
    let (_, answer) = server
        .post(
            "/api/v1/checks",
            json!({ "serial_number": "BXK4471", "make": "Qwertyuiop" }),
        )
        .await;
    assert!(
        answer["matches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["make"] == "different"),
        "{answer}"
    );
    let (_, audit) = server.get("/api/v1/audit?action=check").await;
    let typo = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["detail"]["make"] == "Glockk")
        .unwrap_or_else(|| panic!("{audit}"));
    assert_eq!(typo["detail"]["make_compared_as"], "glock", "{typo}");
}

#[tokio::test]
async fn among_equally_close_matches_the_model_and_calibre_typed_come_first() {
    let (_installation, server) = TestServer::fresh();
    for (id, model, calibre) in [("AT-17", "17", "9x19mm"), ("AT-22", "22", ".40 S&W")] {
        let mut firearm = record("AT", id, "TWN4410");
        firearm["model"] = json!(model);
        firearm["calibre"] = json!(calibre);
        let (status, _) = server.post("/api/v1/firearms", firearm).await;
        assert_eq!(status, 201);
    }
    for (model, calibre, first) in [
        ("G22", ".40 Smith & Wesson", "AT-22"),
        ("G17", "9mm Luger", "AT-17"),
    ] {
        let (status, answer) = server
            .post(
                "/api/v1/checks",
                json!({ "serial_number": "TWN4410", "make": "Glock", "model": model, "calibre": calibre }),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["matches"][0]["firearm"]["record_id"], first,
            "{answer}"
        );
        assert_eq!(
            answer["matches"][0]["confidence"],
            answer["matches"][1]["confidence"]
        );
    }
}
