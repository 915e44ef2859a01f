//! One bad outbox item never stops email delivery: an item that cannot be decoded is set aside
//! (out of the due queue, kept for operators with the reason), reported once, and every other
//! email still goes out, in the same run and in later ones.
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::{EmailAddress, Plan};
use insomnia_scim::notify::{deliver_due, DeliveryReport, Mailer};
use insomnia_scim::runtime::TokenKeySource;
use insomnia_scim::scheduler::TokenScheduler;
use insomnia_scim::store::OutboxItem;
use serde_json::json;

use crate::helpers::{process_logs, sdk_config, sent_emails, spawn_app, TestApp, SENDER};

type Item = HashMap<String, AttributeValue>;

fn unique_email(prefix: &str) -> EmailAddress {
    EmailAddress::parse(&format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple())).unwrap()
}

/// Writes, straight into the table, an outbox item due at `due` that no code version could have
/// written: an unknown kind, no recipients, a count that is not a number.
async fn put_malformed_outbox_item(app: &TestApp, due: DateTime<Utc>) -> String {
    let id = format!("bad{}", uuid::Uuid::new_v4().simple());
    let sk = format!("{}#{id}", due.format("%Y-%m-%dT%H:%M:%S%.6fZ"));
    app.store
        .client()
        .put_item()
        .table_name(&app.table)
        .item("PK", AttributeValue::S("OUTBOX".into()))
        .item("SK", AttributeValue::S(sk))
        .item("id", AttributeValue::S(id.clone()))
        .item("type", AttributeValue::S("carrier_pigeon".into()))
        .item("attempts", AttributeValue::S("many".into()))
        .send()
        .await
        .unwrap();
    id
}

/// Every item of the table's outbox partitions (`OUTBOX`, `OUTBOX#…`).
async fn outbox_items(app: &TestApp) -> Vec<Item> {
    let output = app.store.client().scan().table_name(&app.table).send().await.unwrap();
    output
        .items()
        .iter()
        .filter(|item| item.get("PK").and_then(|pk| pk.as_s().ok()).is_some_and(|pk| pk.starts_with("OUTBOX")))
        .cloned()
        .collect()
}

fn pk(item: &Item) -> &str {
    item.get("PK").and_then(|pk| pk.as_s().ok()).map_or("", String::as_str)
}

/// Log lines that name `needle`, from the whole test process.
fn log_lines_naming(needle: &str) -> Vec<String> {
    process_logs().lines().filter(|line| line.contains(needle)).map(str::to_owned).collect()
}

#[tokio::test]
async fn an_undecodable_outbox_item_is_set_aside_once_and_every_other_email_still_goes_out() {
    let app = spawn_app().await;
    let mailer = Mailer::new(aws_sdk_sesv2::Client::new(&sdk_config().await), SENDER);
    let org = app.create_org(Plan::Enterprise, None).await;
    let now = Utc::now();
    let (before, after) = (unique_email("before-bad"), unique_email("after-bad"));
    // Due before and after the bad item, so neither is reached only by luck of the order.
    let early = OutboxItem::token_expired(vec![before.clone()], &org, "Acme", now - Duration::minutes(10));
    let late = OutboxItem::token_expired(vec![after.clone()], &org, "Acme", now - Duration::minutes(1));
    for item in [&early, &late] {
        app.store.enqueue_email(item).await.unwrap();
    }
    let bad_id = put_malformed_outbox_item(&app, now - Duration::minutes(5)).await;

    let report = deliver_due(&app.store, &mailer, &app.app.token_key, now, 10)
        .await
        .expect("one bad item must not fail the run");
    assert_eq!(report, DeliveryReport { sent: 2, failed: 1, ..DeliveryReport::default() });
    assert_eq!(sent_emails(before.as_str()).await.len(), 1, "the email due before the bad item");
    assert_eq!(sent_emails(after.as_str()).await.len(), 1, "the email due after the bad item");

    // Out of the due queue, kept for operators with the reason.
    let items = outbox_items(&app).await;
    assert!(items.iter().all(|item| pk(item) != "OUTBOX"), "the due queue still holds: {items:?}");
    let kept: Vec<&Item> = items.iter().filter(|item| format!("{item:?}").contains(&bad_id)).collect();
    assert_eq!(kept.len(), 1, "{items:?}");
    assert!(pk(kept[0]).starts_with("OUTBOX#"), "{:?}", kept[0]);
    let kept_text = format!("{:?}", kept[0]);
    assert!(kept_text.contains("decoded"), "the reason is kept: {kept_text}");
    assert!(kept_text.contains("carrier_pigeon"), "the original attributes are kept: {kept_text}");
    let unreadable = app.store.unreadable_emails().await.unwrap();
    assert_eq!(unreadable.len(), 1, "{unreadable:?}");
    assert_eq!(unreadable[0].id.as_deref(), Some(bad_id.as_str()));
    assert!(unreadable[0].reason.contains("decoded"), "{unreadable:?}");
    assert!(!unreadable[0].reason.contains("many"), "no stored value in the reason: {unreadable:?}");
    let reports = log_lines_naming(&bad_id);
    assert_eq!(reports.len(), 1, "reported once: {reports:?}");
    assert!(reports[0].contains("WARN"), "{reports:?}");

    // Later runs neither fail nor report it again, and still deliver new email.
    let again = deliver_due(&app.store, &mailer, &app.app.token_key, now + Duration::hours(1), 10).await.unwrap();
    assert_eq!(again, DeliveryReport::default());
    let newer = unique_email("newer");
    let fresh = OutboxItem::token_expired(vec![newer.clone()], &org, "Acme", now + Duration::hours(1));
    app.store.enqueue_email(&fresh).await.unwrap();
    let scheduler = TokenScheduler::new(
        app.store.clone(),
        mailer.clone(),
        TokenKeySource::Ready(app.app.token_key.clone()),
        Clock::Fixed(now + Duration::hours(2)),
    );
    let summary = scheduler.handle_event(&json!({})).await.expect("a run after the bad item was set aside succeeds");
    assert_eq!((summary.emails_sent, summary.emails_failed), (1, 0), "{summary:?}");
    assert!(summary.failures.is_empty(), "{summary:?}");
    assert_eq!(sent_emails(newer.as_str()).await.len(), 1);
    assert_eq!(log_lines_naming(&bad_id).len(), 1, "not reported again");
    assert_eq!(outbox_items(&app).await.len(), 1, "only the set-aside item is left");
}
