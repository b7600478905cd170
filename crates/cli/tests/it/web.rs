//! The web interface in a real browser: signing in, a check that hits, the hit arriving live in
//! the recording NCB's inbox in a second browser, confirming it; a pending organisation's user
//! told why they wait; right-to-left Arabic; and a record's `<script>` shown as text.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::browser::Driver;
use crate::support::{Installation, TestServer, record};

const PASSWORD: &str = "a long enough passphrase";

#[tokio::test]
async fn a_check_that_hits_reaches_the_recording_ncb_live_and_is_confirmed_there() {
    let installation = Installation::new();
    let ncb_fr = installation.add_org("NCB France", "ncb", Some("FR"));
    installation.add_user_with_password(&ncb_fr, "ncb-fr", "check,record,admin", PASSWORD);
    let ncb_token = installation.add_user_with_token(&ncb_fr, "ncb-fr-system", "check,record");
    let berlin = installation.add_org("Polizei Berlin", "police", Some("DE"));
    installation.admin(&["org", "approve", &berlin]);
    installation.add_user_with_password(&berlin, "berlin", "check", PASSWORD);
    let server = TestServer::start(&installation);
    let mut marked = record("FR", "FR-WEB-1", "GX4471K");
    marked["notes"] = json!("<script>alert('x')</script>");
    marked["make"] = json!("<b>Glock</b>");
    let (status, _) = server
        .as_user(&ncb_token, Method::POST, "/api/v1/firearms", Some(marked))
        .await;
    assert_eq!(status, 201);
    let base = server.url("");

    let driver = Driver::start().await;
    let officer = driver.browser("officer").await;
    let ncb = driver.browser("ncb").await;

    // A wrong password is said so, and what was typed stays.
    officer.sign_in(&base, "berlin", "not the password").await;
    assert!(
        officer
            .wait_for_text("#signin-error", "wrong", Duration::from_secs(30))
            .await
    );
    assert_eq!(
        officer
            .client
            .find(fantoccini::Locator::Css("#username"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("berlin")
    );
    officer.screenshots("sign-in").await;
    officer.sign_in(&base, "berlin", PASSWORD).await;
    assert!(
        officer
            .wait_for_text("h1", "Home", Duration::from_secs(30))
            .await
    );
    officer.screenshots("home").await;

    // The NCB watches its inbox.
    ncb.sign_in(&base, "ncb-fr", PASSWORD).await;
    assert!(
        ncb.wait_for_text("h1", "Home", Duration::from_secs(30))
            .await
    );
    ncb.open(&format!("{base}/notifications")).await;
    assert!(
        ncb.wait_for_text("h1", "Notifications", Duration::from_secs(30))
            .await
    );

    // The officer checks a misread serial: O for 0 is still an exact-or-strong hit.
    officer.open(&format!("{base}/check")).await;
    officer.fill("#serial_number", "GX-4471-K").await;
    officer.click(".check-form button[type=submit]").await;
    assert!(
        officer
            .wait_for_text(".hit-told", "have been told", Duration::from_secs(30))
            .await
    );
    // The record's markup is shown as text, never run.
    let make = officer.text(".match .facts dd:nth-of-type(3)").await;
    assert!(make.contains("<b>Glock</b>"), "{make}");
    let source = officer.client.source().await.unwrap();
    assert!(
        source.contains("&lt;b&gt;Glock&lt;&#x2f;b&gt;")
            || source.contains("&lt;b&gt;Glock&lt;/b&gt;")
    );
    officer.screenshots("check-hit").await;

    // The hit arrives in the NCB's inbox without a reload, and the NCB confirms it.
    assert!(
        ncb.wait_for_text("#inbox li", "New hit", Duration::from_secs(30))
            .await,
        "the hit did not arrive live"
    );
    ncb.screenshots("notifications").await;
    ncb.click("#inbox li a").await;
    assert!(
        ncb.wait_for_text("h1", "Hit", Duration::from_secs(30))
            .await
    );
    ncb.fill("#confirm-note", "Our record: stolen in Lyon")
        .await;
    ncb.click("#confirm").await;
    assert!(
        ncb.wait_for_text("#hit-state", "Confirmed", Duration::from_secs(30))
            .await
    );
    assert!(
        ncb.wait_for_text(
            ".thread",
            "Our record: stolen in Lyon",
            Duration::from_secs(30)
        )
        .await
    );
    ncb.screenshots("hit").await;
    // The officer's organisation cannot confirm: the page offers no such button.
    officer.open(&format!("{base}/hits")).await;
    officer.click("table a").await;
    assert!(
        officer
            .wait_for_text("h1", "Hit", Duration::from_secs(30))
            .await
    );
    assert!(
        officer
            .client
            .find(fantoccini::Locator::Css("#confirm"))
            .await
            .is_err()
    );

    officer.close().await;
    ncb.close().await;
}

#[tokio::test]
async fn a_pending_organisation_is_explained_and_arabic_reads_right_to_left() {
    let installation = Installation::new();
    let pending = installation.add_org("Douane de Lille", "customs", Some("FR"));
    installation.add_user_with_password(&pending, "lille", "check", PASSWORD);
    let server = TestServer::start(&installation);
    let base = server.url("");
    let driver = Driver::start().await;
    let browser = driver.browser("pending").await;
    browser.sign_in(&base, "lille", PASSWORD).await;
    assert!(
        browser
            .wait_for_text("h1", "Waiting for approval", Duration::from_secs(30))
            .await
    );
    assert!(browser.text("main").await.contains("Douane de Lille"));
    // The pages the organisation may not use yet are refused by the server too.
    browser.open(&format!("{base}/check")).await;
    assert!(
        browser
            .wait_for_text("h1", "Waiting for approval", Duration::from_secs(30))
            .await
    );

    browser
        .open(&format!("{base}/language/ar?next=/sign-in"))
        .await;
    let dir = browser
        .client
        .find(fantoccini::Locator::Css("html"))
        .await
        .unwrap()
        .attr("dir")
        .await
        .unwrap();
    assert_eq!(dir.as_deref(), Some("rtl"));
    browser.screenshots("pending-ar").await;
    browser
        .open(&format!("{base}/language/fr?next=/check"))
        .await;
    assert!(
        browser
            .wait_for_text("h1", "approbation", Duration::from_secs(30))
            .await
    );
    browser.close().await;
}

#[tokio::test]
async fn an_ncb_approves_an_agency_imports_a_list_with_bad_rows_and_checks_a_batch() {
    let installation = Installation::new();
    let ncb_fr = installation.add_org("NCB France", "ncb", Some("FR"));
    installation.add_user_with_password(&ncb_fr, "ncb-fr", "check,record,admin", PASSWORD);
    installation.add_org("Police de Lyon", "police", Some("FR"));
    let server = TestServer::start(&installation);
    let base = server.url("");
    let driver = Driver::start().await;
    let ncb = driver.browser("ncb").await;
    ncb.sign_in(&base, "ncb-fr", PASSWORD).await;
    assert!(
        ncb.wait_for_text("h1", "Home", Duration::from_secs(30))
            .await
    );
    assert!(
        ncb.text("main").await.contains("Police de Lyon"),
        "the dashboard lists the pending agency"
    );

    // The NCB approves its country's agency.
    ncb.open(&format!("{base}/organisations")).await;
    assert!(
        ncb.wait_for_text(
            "tr[data-org='Police de Lyon']",
            "Waiting for approval",
            Duration::from_secs(30)
        )
        .await
    );
    ncb.click("tr[data-org='Police de Lyon'] button.approve")
        .await;
    assert!(
        ncb.wait_for_text(
            ".notice",
            "Police de Lyon is approved",
            Duration::from_secs(30)
        )
        .await
    );
    assert!(
        ncb.wait_for_text(
            "tr[data-org='Police de Lyon']",
            "Approved",
            Duration::from_secs(30)
        )
        .await
    );
    ncb.screenshots("organisations").await;

    // An import with a bad row: the good rows go in, the bad one is listed with its reason.
    let list = installation.path("list.csv");
    std::fs::write(
        &list,
        format!(
            "{}\nFR-L-1,LY40001,Glock,17,9mm Luger,pistol,AT,FR,stolen,2024-01-01\n\
             FR-L-2,LY40002,Beretta,92,9mm,pistol,IT,FR,lost,2024-02-01\n\
             FR-L-3,LY40003,Ижмаш,АКМ,7.62x39,assault_rifle,RU,FR,seized,2024-03-01\n\
             FR-L-4,LY40004,Walther,P99,9mm,pistol,DE,FR,stolen,not a date\n",
            crate::support::HEADER
        ),
    )
    .unwrap();
    ncb.open(&format!("{base}/import")).await;
    ncb.fill("#list", list.to_str().unwrap()).await;
    ncb.click("form[data-progress] button[type=submit]").await;
    assert!(
        ncb.wait_for_text("#imported", "3", Duration::from_secs(30))
            .await
    );
    assert_eq!(ncb.text("#rejected").await, "1");
    assert!(ncb.text("#rejects").await.contains("Date of the event"));
    assert!(
        ncb.client
            .find(fantoccini::Locator::Css("#rejects-download"))
            .await
            .is_ok()
    );
    ncb.screenshots("import").await;

    // A batch of serials: one is recorded.
    let batch = installation.path("batch.csv");
    std::fs::write(
        &batch,
        "serial_number,container\nLY-40003,MSCU1\nZZZ999999,MSCU2\nQQ1234567,MSCU3\n",
    )
    .unwrap();
    ncb.open(&format!("{base}/batch")).await;
    ncb.fill("#serials", batch.to_str().unwrap()).await;
    ncb.click("form[data-progress] button[type=submit]:not(#batch-csv)")
        .await;
    assert!(
        ncb.wait_for_text(
            "#batch-summary",
            "3 rows checked, 1 with a match",
            Duration::from_secs(30)
        )
        .await
    );
    assert!(ncb.text("table").await.contains("FR-L-3"));
    ncb.screenshots("batch").await;
    ncb.close().await;
}

#[tokio::test]
async fn a_record_is_created_with_its_mistakes_shown_edited_with_history_and_deleted() {
    let installation = Installation::new();
    let ncb_fr = installation.add_org("NCB France", "ncb", Some("FR"));
    installation.add_user_with_password(&ncb_fr, "ncb-fr", "check,record", PASSWORD);
    let server = TestServer::start(&installation);
    let base = server.url("");
    let driver = Driver::start().await;
    let ncb = driver.browser("records").await;
    ncb.sign_in(&base, "ncb-fr", PASSWORD).await;
    assert!(
        ncb.wait_for_text("h1", "Home", Duration::from_secs(30))
            .await
    );

    // Missing serial and a date in the wrong form: both said beside their fields, the rest kept.
    ncb.open(&format!("{base}/records/new")).await;
    ncb.fill("#record_id", "FR-WEB-9").await;
    ncb.fill("#make", "Beretta").await;
    ncb.fill("#notes", "found in a car boot").await;
    ncb.client
        .find(fantoccini::Locator::Css("#firearm_type"))
        .await
        .unwrap()
        .select_by_value("pistol")
        .await
        .unwrap();
    ncb.client
        .find(fantoccini::Locator::Css("#status"))
        .await
        .unwrap()
        .select_by_value("stolen")
        .await
        .unwrap();
    ncb.click(".record-form button[type=submit]").await;
    assert!(
        ncb.wait_for_text("#serial_number-error", "needed", Duration::from_secs(30))
            .await
    );
    assert!(ncb.text("#event_date-error").await.contains("needed"));
    let kept = ncb
        .client
        .find(fantoccini::Locator::Css("#notes"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("found in a car boot"));
    ncb.screenshots("record-form-errors").await;
    ncb.fill("#serial_number", "BR-771209").await;
    ncb.client
        .execute(
            "document.getElementById('event_date').value = '2024-05-06';",
            vec![],
        )
        .await
        .unwrap();
    ncb.click(".record-form button[type=submit]").await;
    assert!(
        ncb.wait_for_text("h1", "Record", Duration::from_secs(30))
            .await
    );
    assert!(ncb.text(".facts").await.contains("BR-771209"));
    assert!(
        ncb.text(".facts").await.contains("beretta"),
        "the canonical make is shown"
    );

    // An edit shows in the history.
    ncb.click("a[href$='/edit']").await;
    ncb.fill("#model", "92FS").await;
    ncb.click(".record-form button[type=submit]").await;
    assert!(
        ncb.wait_for_text(".thread", "92FS", Duration::from_secs(30))
            .await
    );
    ncb.screenshots("record").await;

    // Listed, then deleted after confirmation.
    ncb.open(&format!("{base}/records?country=FR")).await;
    assert!(
        ncb.wait_for_text("table", "FR-WEB-9", Duration::from_secs(30))
            .await
    );
    ncb.screenshots("records").await;
    ncb.click("table a").await;
    ncb.click("a[href$='/delete']").await;
    ncb.click("#delete-confirm").await;
    assert!(
        ncb.wait_for_text(".notice", "deleted", Duration::from_secs(30))
            .await
    );
    ncb.close().await;
}

#[tokio::test]
async fn an_admin_adds_a_user_issues_a_token_shown_once_registers_a_webhook_and_reads_the_trail() {
    let installation = Installation::new();
    let ncb_fr = installation.add_org("NCB France", "ncb", Some("FR"));
    installation.add_user_with_password(&ncb_fr, "ncb-fr", "check,record,admin", PASSWORD);
    let server = TestServer::start(&installation);
    let base = server.url("");
    let driver = Driver::start().await;
    let admin = driver.browser("admin").await;
    admin.sign_in(&base, "ncb-fr", PASSWORD).await;
    assert!(
        admin
            .wait_for_text("h1", "Home", Duration::from_secs(30))
            .await
    );

    admin.open(&format!("{base}/admin/users")).await;
    admin.fill("#new-username", "analyst-fr").await;
    admin.click("#new-user input[value='check']").await;
    admin.fill("#new-password", PASSWORD).await;
    admin.click("#new-user button[type=submit]").await;
    assert!(
        admin
            .wait_for_text(
                "tr[data-user='analyst-fr']",
                "analyst-fr",
                Duration::from_secs(30)
            )
            .await
    );
    admin.screenshots("admin-users").await;

    admin
        .click("tr[data-user='analyst-fr'] a[href$='/tokens']")
        .await;
    admin
        .click("form[action$='/tokens'] button[type=submit]")
        .await;
    assert!(
        admin
            .wait_for_text("#new-token", "at_", Duration::from_secs(30))
            .await
    );
    let secret = admin.text("#new-token").await;
    // The token works, and is not shown again.
    let (status, me) = server
        .as_user(&secret, Method::GET, "/api/v1/me", None)
        .await;
    assert_eq!((status, me["username"].as_str()), (200, Some("analyst-fr")));
    admin
        .open(&format!("{base}/admin/users/analyst-fr/tokens"))
        .await;
    assert!(!admin.client.source().await.unwrap().contains(&secret));

    admin.open(&format!("{base}/admin/webhooks")).await;
    admin.fill("#url", "https://ncb-fr.example/armstrace").await;
    admin.fill("#secret", "a secret of sixteen or more").await;
    admin.click("#new-webhook button[type=submit]").await;
    assert!(
        admin
            .wait_for_text(
                "main",
                "https://ncb-fr.example/armstrace",
                Duration::from_secs(30)
            )
            .await
    );

    admin.fill("#address", "duty@ncb-fr.example").await;
    admin.click("#duty-email button[type=submit]").await;
    assert!(
        admin
            .wait_for_text(
                ".notice",
                "Duty e-mail address saved",
                Duration::from_secs(30)
            )
            .await
    );

    admin
        .open(&format!("{base}/admin/audit?action=user."))
        .await;
    assert!(
        admin
            .wait_for_text("table", "user.create", Duration::from_secs(30))
            .await
    );
    admin.screenshots("admin-audit").await;
    admin.close().await;
}

/// WebDriver's keys for Tab and Enter.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

#[tokio::test]
async fn an_officer_signs_in_and_checks_with_the_keyboard_alone() {
    let installation = Installation::new();
    let ncb_fr = installation.add_org("NCB France", "ncb", Some("FR"));
    let ncb_token = installation.add_user_with_token(&ncb_fr, "ncb-fr-system", "check,record");
    installation.add_user_with_password(&ncb_fr, "ncb-fr", "check", PASSWORD);
    let server = TestServer::start(&installation);
    let (status, _) = server
        .as_user(
            &ncb_token,
            Method::POST,
            "/api/v1/firearms",
            Some(record("FR", "FR-KEY-1", "KB55012")),
        )
        .await;
    assert_eq!(status, 201);
    let base = server.url("");
    let driver = Driver::start().await;
    let officer = driver.browser("keyboard").await;
    officer.open(&format!("{base}/sign-in")).await;
    // The username field has the focus; Tab to the password; Enter signs in.
    let focused = officer.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("username")
    );
    focused.send_keys(&format!("ncb-fr{TAB}")).await.unwrap();
    let focused = officer.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("password")
    );
    focused
        .send_keys(&format!("{PASSWORD}{ENTER}"))
        .await
        .unwrap();
    assert!(
        officer
            .wait_for_text("h1", "Home", Duration::from_secs(30))
            .await
    );
    // On the check page the serial field has the focus; Enter checks.
    officer.open(&format!("{base}/check")).await;
    let focused = officer.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("serial_number")
    );
    focused.send_keys(&format!("KB55O12{ENTER}")).await.unwrap();
    assert!(
        officer
            .wait_for_text(".matches", "FR-KEY-1", Duration::from_secs(30))
            .await
    );
    assert!(officer.text(".why").await.contains("O read as 0"));
    officer.close().await;
}

#[tokio::test]
async fn a_form_posted_without_the_session_s_token_is_refused() {
    let installation = Installation::new();
    let ncb_fr = installation.add_org("NCB France", "ncb", Some("FR"));
    // Every permission the forms need: a refusal can only be the missing token's.
    installation.add_user_with_password(&ncb_fr, "ncb-fr", "check,record,trace,admin", PASSWORD);
    let server = TestServer::start(&installation);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let expired = "The form had expired";
    // A sign-in form posted from elsewhere (without the pairing the page gives) is refused.
    let forged = client
        .post(server.url("/sign-in"))
        .form(&[
            ("username", "ncb-fr"),
            ("password", PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(
        forged
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("armstrace_session="))
    );
    let cookie = form_sign_in(&client, &server, "ncb-fr").await;
    for (path, form) in [
        ("/check", vec![("serial_number", "AB12345")]),
        (
            "/records/new",
            vec![("record_id", "FR-X"), ("serial_number", "AB12345")],
        ),
        ("/notifications/read", vec![]),
        ("/traces/new", vec![("serial_numbers", "AB12345")]),
        ("/traces/1/act/close", vec![]),
        (
            "/admin/users",
            vec![("username", "intruder"), ("permission", "admin")],
        ),
        ("/sign-out", vec![]),
    ] {
        for token in [None, Some("not-the-token")] {
            let mut fields = form.clone();
            if let Some(token) = token {
                fields.push(("csrf_token", token));
            }
            let answer = client
                .post(server.url(path))
                .header("cookie", &cookie)
                .form(&fields)
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 403, "{path} took a form without the token");
            let page = answer.text().await.unwrap();
            assert!(
                page.contains(expired),
                "{path} refused for another reason: {page}"
            );
        }
    }
    // An upload is refused before its file is read: with a wrong token, and with the file
    // sent before any token.
    for parts in [
        vec![
            ("csrf_token", None, "not-the-token"),
            ("file", Some("a.png"), "x"),
        ],
        vec![("file", Some("a.png"), "x")],
    ] {
        let mut body = String::new();
        for (name, file, value) in parts {
            body.push_str("--XBOUNDARY\r\n");
            match file {
                Some(file) => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: image/png\r\n\r\n{value}\r\n"
                )),
                None => body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )),
            }
        }
        body.push_str("--XBOUNDARY--\r\n");
        let answer = client
            .post(server.url("/traces/1/attachments"))
            .header("cookie", &cookie)
            .header("content-type", "multipart/form-data; boundary=XBOUNDARY")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "an upload without the token");
        let page = answer.text().await.unwrap();
        assert!(
            page.contains(expired),
            "upload refused for another reason: {page}"
        );
    }
    // Nothing was done: the user does not exist, the session still works.
    let (status, _) = server.get("/api/v1/users/intruder/tokens").await;
    assert_eq!(status, 404);
    let home = client
        .get(server.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
}

#[tokio::test]
async fn a_batch_s_csv_answer_streams_every_row_and_its_matches() {
    let installation = Installation::new();
    let ncb_fr = installation.add_org("NCB France", "ncb", Some("FR"));
    let ncb_token = installation.add_user_with_token(&ncb_fr, "ncb-fr-system", "check,record");
    installation.add_user_with_password(&ncb_fr, "ncb-fr", "check", PASSWORD);
    let server = TestServer::start(&installation);
    let (status, _) = server
        .as_user(
            &ncb_token,
            Method::POST,
            "/api/v1/firearms",
            Some(record("FR", "FR-CSV-1", "CSV90017")),
        )
        .await;
    assert_eq!(status, 201);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = form_sign_in(&client, &server, "ncb-fr").await;
    let page = client
        .get(server.url("/batch"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let mut list = String::from("serial_number,container\n");
    for i in 0..3000 {
        list.push_str(&format!("NOPE{i:06}X,BOX{i}\n"));
    }
    list.push_str("CSV-90017,BOX-HIT\n");
    let form = reqwest::multipart::Form::new()
        .text("csrf_token", csrf)
        .part(
            "serials",
            reqwest::multipart::Part::text(list)
                .file_name("manifest.csv")
                .mime_str("text/csv")
                .unwrap(),
        );
    let answer = client
        .post(server.url("/batch?format=csv"))
        .header("cookie", &cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = answer.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("container,serial_number,match_rank"),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines.len(),
        1 + 3001,
        "one line per row without a match, one per match"
    );
    let hit = lines.iter().find(|l| l.contains("BOX-HIT")).unwrap();
    assert!(hit.contains("FR-CSV-1"), "{hit}");
}

/// Signs in through the sign-in form as a browser does (the page's pairing cookie and token
/// with the password); returns the session cookie.
async fn form_sign_in(client: &reqwest::Client, server: &TestServer, username: &str) -> String {
    let page = client.get(server.url("/sign-in")).send().await.unwrap();
    let first_part = |value: &reqwest::header::HeaderValue| {
        value
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    };
    let pairing = first_part(&page.headers()["set-cookie"]);
    let html = page.text().await.unwrap();
    let token = html
        .split("name=\"signin_token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let signed_in = client
        .post(server.url("/sign-in"))
        .header("cookie", pairing)
        .form(&[
            ("username", username),
            ("password", PASSWORD),
            ("next", "/"),
            ("signin_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(first_part)
        .find(|c| c.starts_with("armstrace_session="))
        .unwrap()
}

#[tokio::test]
async fn a_check_without_a_hit_becomes_a_trace_request_that_germany_answers() {
    let installation = Installation::new();
    let ncb_fr = installation.add_org("NCB France", "ncb", Some("FR"));
    installation.add_user_with_password(&ncb_fr, "ncb-fr", "check,trace", PASSWORD);
    let lyon = installation.add_org("Police nationale Lyon", "police", Some("FR"));
    installation.admin(&["org", "approve", &lyon]);
    installation.add_user_with_password(&lyon, "lyon", "check,trace", PASSWORD);
    let ncb_de = installation.add_org("NCB Germany", "ncb", Some("DE"));
    installation.add_user_with_password(&ncb_de, "ncb-de", "check,trace", PASSWORD);
    let server = TestServer::start(&installation);
    let base = server.url("");
    let driver = Driver::start().await;
    let officer = driver.browser("trace-officer").await;
    let germany = driver.browser("trace-ncb").await;
    let wait = Duration::from_secs(30);

    // Nothing recorded matches: the check page leads into a trace request, filled in.
    officer.sign_in(&base, "lyon", PASSWORD).await;
    assert!(officer.wait_for_text("h1", "Home", wait).await);
    officer.open(&format!("{base}/check")).await;
    officer.fill("#serial_number", "ZQ90417").await;
    officer.fill("#make", "Walther").await;
    officer.click(".check-form button[type=submit]").await;
    assert!(
        officer
            .wait_for_text("#start-trace", "Request a trace", wait)
            .await
    );
    officer.click("#start-trace").await;
    assert!(officer.wait_for_text("h1", "New trace request", wait).await);
    let prefilled = |css: &'static str| {
        let client = officer.client.clone();
        async move {
            client
                .find(fantoccini::Locator::Css(css))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    assert_eq!(prefilled("#serial_numbers").await, "ZQ90417");
    assert_eq!(prefilled("#make").await, "Walther");
    officer.fill("#to_country", "DE").await;
    // A date field takes its value as the browser's date picker gives it.
    officer
        .client
        .execute(
            "document.getElementById('seized_on').value = '2026-11-02'",
            Vec::new(),
        )
        .await
        .unwrap();
    officer.fill("#place", "Lyon, Part-Dieu").await;
    officer
        .fill("#legal_basis", "Mutual legal assistance")
        .await;
    officer.screenshots("trace-form").await;
    officer.click("#save-trace").await;
    assert!(officer.wait_for_text("h1", "Trace request", wait).await);
    // What is still needed, blocking first; where it should go.
    assert!(officer.wait_for_text("#missing", "Required:", wait).await);
    assert!(
        officer
            .text("#missing")
            .await
            .contains("What the answer will be used for")
    );
    assert!(officer.text("#destinations").await.contains("Germany"));
    officer.click("#edit-trace").await;
    assert!(officer.wait_for_text("h1", "complete it", wait).await);
    officer
        .fill("#intended_use", "Criminal investigation")
        .await;
    officer.click("#save-trace").await;
    assert!(officer.wait_for_text("#trace-status", "Draft", wait).await);
    officer.click("#send-trace").await;
    assert!(officer.wait_for_text("#trace-status", "Sent", wait).await);
    officer.screenshots("trace-sent").await;

    // Germany's inbox shows it live; the NCB acknowledges and answers on the page.
    germany.sign_in(&base, "ncb-de", PASSWORD).await;
    assert!(germany.wait_for_text("h1", "Home", wait).await);
    germany
        .open(&format!("{base}/traces?direction=incoming"))
        .await;
    assert!(germany.wait_for_text("#traces", "ZQ90417", wait).await);
    germany.click("#traces a").await;
    assert!(germany.wait_for_text("#trace-status", "Sent", wait).await);
    germany.fill("#ack-note", "With our firearms desk").await;
    germany.click("#acknowledge").await;
    assert!(
        germany
            .wait_for_text("#trace-status", "Acknowledged", wait)
            .await
    );
    germany
        .fill("#last_legal_recipient", "Waffen Huber, Graz")
        .await;
    germany.fill("#exporting_country", "DE").await;
    germany.fill("#importing_country", "AT").await;
    germany
        .fill("#answer-text", "Exported to Austria in 2009")
        .await;
    germany.click("#answer").await;
    assert!(
        germany
            .wait_for_text("#trace-status", "Answered", wait)
            .await
    );
    germany.screenshots("trace-answered").await;

    // The officer hears of it, reads the answer and closes the request.
    officer.open(&format!("{base}/notifications")).await;
    assert!(
        officer
            .wait_for_text("#inbox", "Trace request answered", wait)
            .await
    );
    officer.click("#inbox li a").await;
    assert!(
        officer
            .wait_for_text("#answer", "Waffen Huber, Graz", wait)
            .await
    );
    assert!(
        officer
            .text("#timeline")
            .await
            .contains("With our firearms desk")
    );
    officer.click("#close-trace").await;
    assert!(officer.wait_for_text("#trace-status", "Closed", wait).await);

    // The French NCB sees its agency's request; it is not its to close.
    let ncb = driver.browser("trace-ncb-fr").await;
    ncb.sign_in(&base, "ncb-fr", PASSWORD).await;
    assert!(ncb.wait_for_text("h1", "Home", wait).await);
    ncb.open(&format!("{base}/traces")).await;
    assert!(ncb.wait_for_text("#traces", "Closed", wait).await);

    officer.close().await;
    germany.close().await;
    ncb.close().await;
}
