//! The connector health banner in a real browser (issue #23): above the SCIM page's tabs, it says
//! what is wrong and what to do, links to the requests at fault in the log, and notes recovery.
use chrono::{DateTime, Duration, DurationRound, Utc};
use insomnia_scim::clock::Clock;
use insomnia_scim::lifetimes;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::admin_support::{call, console_org, enable, scim_status, sign_in as console_sign_in, ConsoleOrg};
use crate::browser::Browser;
use crate::helpers::{spawn_app_on_table, spawn_app_with_clock, TestApp};

const ENTER: &str = "\u{E007}";

async fn open_as_owner(browser: &Browser, app: &TestApp, org: &ConsoleOrg) {
    browser.goto(&format!("{}/console", app.address)).await;
    browser.find("#sign-in-email").await;
    browser.type_into("#sign-in-email", &org.owner.email).await;
    browser.type_into("#sign-in-passphrase", &org.owner.passphrase).await;
    browser.click("#sign-in-submit").await;
    browser.find("#org-id").await;
    browser.type_into("#org-id", org.id.as_str()).await;
    browser.keys(ENTER).await;
}

async fn scim_at(app: &TestApp, org: &ConsoleOrg, token: &str, at: DateTime<Utc>) -> StatusCode {
    let later = spawn_app_on_table(&app.table, Clock::Fixed(at)).await;
    let code = scim_status(&later, &org.id, token).await;
    later.flush_logs().await;
    code
}

#[tokio::test]
async fn the_health_banner_says_the_idp_sends_the_replaced_token_links_the_log_and_notes_recovery() {
    let t0 = Utc::now().duration_trunc(Duration::minutes(1)).unwrap();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    let old = enable(&app, &org, "90d").await;
    assert_eq!(scim_at(&app, &org, &old, t0 + Duration::minutes(1)).await, StatusCode::OK);
    let replaced_at = t0 + Duration::minutes(2);
    let later = spawn_app_on_table(&app.table, Clock::Fixed(replaced_at)).await;
    let session = console_sign_in(&later, &org.owner.email, &org.owner.passphrase).await;
    let (code, issued) = call(
        &later,
        Method::POST,
        &org.url(&later, "/scim/token/refresh"),
        Some(&session),
        Some(json!({ "passphrase": org.owner.passphrase })),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{issued}");
    let new = issued["token"].as_str().unwrap().to_owned();
    // Past the time to paste the new token, the IdP still sends the old one.
    let late = replaced_at + lifetimes::HEALTH_RETIRED_GRACE + Duration::minutes(1);
    for _ in 0..3 {
        assert_eq!(scim_at(&app, &org, &old, late).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(scim_at(&app, &org, "iscim_a_stranger", late).await, StatusCode::UNAUTHORIZED);

    let mut browser = Browser::start().await;
    let page = spawn_app_on_table(&app.table, Clock::Fixed(late + Duration::minutes(1))).await;
    open_as_owner(&browser, &page, &org).await;
    let when = replaced_at.format("%b %-d at %H:%M UTC").to_string();
    let banner = browser.wait_text("#health[data-code=health-failing_credentials]", "still sending the token").await;
    assert!(banner.contains(&format!("replaced on {when}")), "{banner}");
    assert!(banner.contains("Paste the new token into Okta."), "{banner}");
    assert!(banner.contains("1 request in the last hour came with a token this organization never issued"), "{banner}");
    let role = browser.script("return document.getElementById('health').getAttribute('role');", json!([])).await;
    assert_eq!(role, json!("alert"));
    // Above the tabs: seen from every tab.
    let above = browser
        .script(
            "return document.getElementById('health-banner').compareDocumentPosition(document.getElementById('tabs')) \
             & Node.DOCUMENT_POSITION_FOLLOWING;",
            json!([]),
        )
        .await;
    assert_ne!(above, json!(0), "the banner comes before the tabs");
    let errors = browser.script_errors().await;
    assert!(errors.is_empty(), "JavaScript errors: {errors:?}");
    let unlabelled = browser.unlabelled_controls().await;
    assert!(unlabelled.is_empty(), "controls without a label: {unlabelled:?}");
    browser.screens("health-failing-credentials").await;

    // The banner's button opens the log filtered to the refused requests.
    browser.click("#health button").await;
    browser.wait_until("the logs tab", "!document.getElementById('panel-logs').hidden").await;
    browser.wait_text("#logs-body", "401").await;
    let code = browser.property("#f-code", "value").await;
    assert_eq!(code, json!("401"));
    let statuses = browser
        .script("return Array.from(document.querySelectorAll('#logs-body tr')).map(r => r.dataset.status);", json!([]))
        .await;
    let statuses = statuses.as_array().unwrap();
    assert!(!statuses.is_empty() && statuses.iter().all(|s| s == "401"), "{statuses:?}");

    // The new token pasted into Okta: the banner notes the recovery.
    let fixed = late + Duration::minutes(3);
    assert_eq!(scim_at(&app, &org, &new, fixed).await, StatusCode::OK);
    // (The page's service answers as of a few minutes before: the success is in the counters.)
    browser.reload().await;
    let banner = browser.wait_text("#health[data-code=health-healthy]", "provisioning normally").await;
    let since = fixed.format("%H:%M").to_string();
    assert!(banner.contains("since") && banner.contains(&since), "{banner}");
    browser.screens("health-recovered").await;
}
