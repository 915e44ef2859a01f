//! The request log that explains itself and a member's timeline, in a real browser: the details
//! dialog with masked bodies, the subject, operation and UTC filters, the timeline with diffs.
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::admin_support::{console_org, enable, unique_email};
use crate::browser::Browser;
use crate::console_browser::{assert_clean, open_console, open_org, sign_in};
use crate::helpers::spawn_app;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[tokio::test]
async fn an_owner_reads_bodies_filters_by_subject_and_follows_a_members_timeline_in_a_browser() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    let base = org.connector_url(&app);
    let send = |method: reqwest::Method, path: String, body: Value| {
        app.http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&token)
            .header("user-agent", "Okta SCIM Client 1.0.0")
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
    };
    let bob = unique_email("bob");
    let password = format!("Browser-Secret-{}", uuid::Uuid::new_v4().simple());
    let created = send(
        reqwest::Method::POST,
        "/Users".into(),
        json!({"schemas": [USER_SCHEMA], "userName": bob, "name": {"givenName": "Bob", "familyName": "Stone"},
            "emails": [{"value": bob, "type": "work", "primary": true}], "password": password}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    for operations in [
        json!([{"op": "replace", "path": "name.givenName", "value": "Robert"}, {"op": "add", "path": "title", "value": "Engineer"}]),
        json!([{"op": "replace", "path": "active", "value": false}]),
    ] {
        let patched = send(
            reqwest::Method::PATCH,
            format!("/Users/{id}"),
            json!({"schemas": [PATCH_SCHEMA], "Operations": operations}),
        )
        .await
        .unwrap();
        assert_eq!(patched.status(), StatusCode::OK);
    }
    app.flush_logs().await;

    let mut browser = Browser::start().await;
    open_console(&browser, &app).await;
    sign_in(&browser, &org.owner.email, &org.owner.passphrase).await;
    open_org(&browser, org.id.as_str()).await;
    browser.click("#tab-logs").await;
    let rows = browser.wait_text("#logs-body", &format!("Deactivated {bob}")).await;
    assert!(rows.contains(&format!("Updated {bob} (name.givenName, title)")), "{rows}");
    assert!(rows.contains(&format!("Created {bob}")), "{rows}");

    // The details of the create: both bodies, the password masked.
    browser
        .script(
            "Array.from(document.querySelectorAll('#logs-body tr')).find(r => r.textContent.includes('Created ')).querySelector('button').click();",
            json!([]),
        )
        .await;
    let sent = browser.wait_text("#log-request-body", "[redacted]").await;
    assert!(sent.contains(&bob) && sent.contains("\"password\": \"[redacted]\""), "{sent}");
    assert!(!browser.source().await.contains(&password), "the password is on the page");
    let answered = browser.text("#log-response-body").await;
    assert!(answered.contains(&id), "{answered}");
    assert!(browser.text("#log-facts").await.contains(&format!("Created {bob}")));
    assert_clean(&browser, "log details with bodies").await;
    browser.screens("log-details-bodies").await;
    browser.click("#log-dialog .cancel").await;
    browser.wait_until("the dialog is closed", "!document.getElementById('log-dialog').open").await;

    // Filters on the server: this member's deactivations, from a UTC time.
    browser.type_into("#f-subject", bob.split('@').next().unwrap()).await;
    browser.choose("#f-operation", "deactivated").await;
    browser.script("document.getElementById('f-from').value = '2020-01-01T00:00';", json!([])).await;
    browser.click("#f-apply").await;
    browser
        .wait_until(
            "one row, this member's deactivation",
            "document.querySelectorAll('#logs-body tr').length === 1 && document.getElementById('logs-body').textContent.includes('Deactivated')",
        )
        .await;
    browser
        .wait_until(
            "the log read by subject and operation from 2020-01-01 00:00 UTC",
            "performance.getEntriesByType('resource').some(e => e.name.includes('operation=deactivated') && e.name.includes('subject=bob') && e.name.includes('from=2020-01-01T00%3A00%3A00.000Z'))",
        )
        .await;
    assert_clean(&browser, "logs filtered by subject and operation").await;
    browser.screens("logs-subject-filter").await;

    // The member's timeline, from the members tab: newest first, with diffs.
    browser.click("#tab-members").await;
    browser.wait_text("#members-body", &bob).await;
    browser
        .script(
            "Array.from(document.querySelectorAll('#members-body tr')).find(r => r.textContent.includes(arguments[0])).querySelector('button').click();",
            json!([bob]),
        )
        .await;
    let timeline = browser.wait_text("#timeline-events", "Deactivated").await;
    assert!(timeline.contains("name.givenName: Bob → Robert"), "{timeline}");
    assert!(timeline.contains("active: true → false"), "{timeline}");
    assert!(timeline.contains("title: ∅ → Engineer"), "{timeline}");
    let order: Value = browser
        .script(
            "return Array.from(document.querySelectorAll('#timeline-events li')).map(li => li.dataset.summary);",
            json!([]),
        )
        .await;
    assert_eq!(order, json!(["Deactivated", "Updated", "Created"]));
    assert!(!browser.source().await.contains(&password));
    assert_clean(&browser, "member timeline").await;
    browser.screens("member-timeline").await;
}
