//! A scheduler run with a failed organization or a failed email fails visibly (the Lambda returns
//! an error, which the `Errors` alarm counts), after handling every other organization.
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::TokenWindow;
use insomnia_scim::runtime::TokenKeySource;
use insomnia_scim::scheduler::TokenScheduler;
use serde_json::json;

use crate::helpers::{spawn_app_with_clock, TestApp};

fn scheduler(app: &TestApp) -> TokenScheduler {
    TokenScheduler::new(
        app.store.clone(),
        app.app.mailer.clone(),
        TokenKeySource::Ready(app.app.token_key.clone()),
        Clock::System,
    )
}

#[tokio::test]
async fn a_run_with_a_failed_organization_refreshes_the_healthy_one_and_then_fails() {
    let issued = Utc::now() - Duration::days(400);
    let app = spawn_app_with_clock(Clock::Fixed(issued)).await;
    let healthy = app.scim_org_with_window(TokenWindow::Days30).await;
    let expires_at = issued + Duration::days(30);
    // SCIM settings corrupted in the table: in the expiry index, but not decodable.
    let broken = format!("broken-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    app.store
        .client()
        .put_item()
        .table_name(&app.table)
        .item("PK", AttributeValue::S(format!("ORG#{broken}")))
        .item("SK", AttributeValue::S("SCIM".into()))
        .item("GSI1PK", AttributeValue::S("SCIM_TOKEN_EXPIRY".into()))
        .item("GSI1SK", AttributeValue::S(format!("{}#{broken}", expires_at.to_rfc3339())))
        .item("enabled", AttributeValue::S("not a boolean".into()))
        .send()
        .await
        .unwrap();

    let as_of = expires_at - Duration::days(10);
    let result = scheduler(&app).handle_event(&json!({ "as_of": as_of.to_rfc3339() })).await;

    let settings = app.store.scim_settings(&healthy.id).await.unwrap().unwrap();
    assert_eq!(settings.token_expires_at, Some(expires_at + Duration::days(30)), "the healthy one is refreshed");
    let error = result.expect_err("a run with a failed organization must fail").to_string();
    assert!(error.contains("1 failure"), "the error names the count: {error}");
    assert!(error.contains(&broken), "the error names what failed: {error}");
    assert!(crate::helpers::process_logs().contains("token scheduler run"), "the summary is logged");

    // The same run with the corrupt item repaired (deleted) succeeds.
    app.store
        .client()
        .delete_item()
        .table_name(&app.table)
        .key("PK", AttributeValue::S(format!("ORG#{broken}")))
        .key("SK", AttributeValue::S("SCIM".into()))
        .send()
        .await
        .unwrap();
    let summary = scheduler(&app).handle_event(&json!({ "as_of": as_of.to_rfc3339() })).await.unwrap();
    assert!(summary.failures.is_empty(), "{summary:?}");
}

#[tokio::test]
async fn a_run_that_gives_up_on_an_email_fails_once_and_the_next_run_succeeds() {
    let app = spawn_app_with_clock(Clock::System).await;
    let now = Utc::now();
    let id = format!("bad{}", uuid::Uuid::new_v4().simple());
    app.store
        .client()
        .put_item()
        .table_name(&app.table)
        .item("PK", AttributeValue::S("OUTBOX".into()))
        .item(
            "SK",
            AttributeValue::S(format!("{}#{id}", (now - Duration::minutes(1)).format("%Y-%m-%dT%H:%M:%S%.6fZ"))),
        )
        .item("id", AttributeValue::S(id.clone()))
        .item("recipients", AttributeValue::S("not a list".into()))
        .send()
        .await
        .unwrap();

    let error = scheduler(&app).handle_event(&json!({})).await.expect_err("an email was given up on").to_string();
    assert!(error.contains("1 failure") && error.contains("email"), "{error}");
    let summary = scheduler(&app).handle_event(&json!({})).await.expect("the bad item is reported only once");
    assert_eq!(summary.emails_failed, 0, "{summary:?}");
}
