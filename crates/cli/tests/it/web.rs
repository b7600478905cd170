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
    assert!(officer.text("#signin-error").await.contains("wrong"));
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
            .wait_for_text("h1", "Home", Duration::from_secs(5))
            .await
    );
    officer.screenshots("home").await;

    // The NCB watches its inbox.
    ncb.sign_in(&base, "ncb-fr", PASSWORD).await;
    assert!(
        ncb.wait_for_text("h1", "Home", Duration::from_secs(5))
            .await
    );
    ncb.open(&format!("{base}/notifications")).await;
    assert!(
        ncb.wait_for_text("h1", "Notifications", Duration::from_secs(5))
            .await
    );

    // The officer checks a misread serial: O for 0 is still an exact-or-strong hit.
    officer.open(&format!("{base}/check")).await;
    officer.fill("#serial_number", "GX-4471-K").await;
    officer.click(".check-form button[type=submit]").await;
    assert!(
        officer
            .wait_for_text(".hit-told", "have been told", Duration::from_secs(5))
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
        ncb.wait_for_text("#inbox li", "New hit", Duration::from_secs(5))
            .await,
        "the hit did not arrive live"
    );
    ncb.screenshots("notifications").await;
    ncb.click("#inbox li a").await;
    assert!(ncb.wait_for_text("h1", "Hit", Duration::from_secs(5)).await);
    ncb.fill("#confirm-note", "Our record: stolen in Lyon")
        .await;
    ncb.click("#confirm").await;
    assert!(
        ncb.wait_for_text("#hit-state", "Confirmed", Duration::from_secs(5))
            .await
    );
    assert!(
        ncb.wait_for_text(
            ".thread",
            "Our record: stolen in Lyon",
            Duration::from_secs(5)
        )
        .await
    );
    ncb.screenshots("hit").await;
    // The officer's organisation cannot confirm: the page offers no such button.
    officer.open(&format!("{base}/hits")).await;
    officer.click("table a").await;
    assert!(
        officer
            .wait_for_text("h1", "Hit", Duration::from_secs(5))
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
            .wait_for_text("h1", "Waiting for approval", Duration::from_secs(5))
            .await
    );
    assert!(browser.text("main").await.contains("Douane de Lille"));
    // The pages the organisation may not use yet are refused by the server too.
    browser.open(&format!("{base}/check")).await;
    assert!(
        browser
            .wait_for_text("h1", "Waiting for approval", Duration::from_secs(5))
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
            .wait_for_text("h1", "approbation", Duration::from_secs(5))
            .await
    );
    browser.close().await;
}
