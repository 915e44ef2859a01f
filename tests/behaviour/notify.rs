//! The email outbox delivered through SES (moto): welcomes with an initial passphrase that only the
//! email carries, retries with backoff, permanent failures set aside, only due emails sent.
//! Sent mail is read back from moto's `/_tests/ses-messages.json` (infra/moto_server.py) (`.ses.Message[]`), by recipient.
use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use insomnia_scim::auth::initial_credential_matches;
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::{EmailAddress, OrgId, Plan};
use insomnia_scim::lifetimes;
use insomnia_scim::notify::{deliver, deliver_due, DeliveryOutcome, DeliveryReport, Mailer, MAX_ATTEMPTS};
use insomnia_scim::runtime::TokenKeySource;
use insomnia_scim::scheduler::TokenScheduler;
use insomnia_scim::store::{OutboxItem, OutboxKind};
use serde_json::{json, Value};

use crate::helpers::{
    account_key, create_pending_account, process_logs, sdk_config, spawn_app, unreachable_mailer, TestApp, SENDER,
    TOKEN_KEY_SECRET,
};

const ORG_NAME: &str = "Acme Corp";

fn unique_email(prefix: &str) -> EmailAddress {
    EmailAddress::parse(&format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple())).unwrap()
}

async fn mailer_from(sender: &str) -> Mailer {
    Mailer::new(aws_sdk_sesv2::Client::new(&sdk_config().await), sender)
}

async fn sent_emails(to: &EmailAddress) -> Vec<Value> {
    crate::helpers::sent_emails(to.as_str()).await
}

/// The passphrase line of a welcome email.
fn passphrase_in(message: &Value) -> String {
    let body = message["body"].as_str().unwrap();
    let line = body.lines().find(|line| line.contains("Initial passphrase:")).unwrap_or_else(|| panic!("{body}"));
    line.split_once(':').unwrap().1.trim().to_owned()
}

async fn account_item(app: &TestApp, email: &EmailAddress) -> std::collections::HashMap<String, AttributeValue> {
    let output =
        app.store.client().get_item().table_name(&app.table).set_key(Some(account_key(email))).send().await.unwrap();
    output.item.unwrap()
}

/// The attribute names of every item in the outbox partitions (pending and failed).
async fn outbox_attribute_names(app: &TestApp) -> BTreeSet<String> {
    let output = app.store.client().scan().table_name(&app.table).send().await.unwrap();
    output
        .items()
        .iter()
        .filter(|item| item.get("PK").and_then(|pk| pk.as_s().ok()).is_some_and(|pk| pk.starts_with("OUTBOX")))
        .flat_map(|item| item.keys().cloned())
        .collect()
}

fn assert_no_secret_attribute(names: &BTreeSet<String>) {
    let expected =
        ["PK", "SK", "id", "kind", "recipients", "org", "org_name", "attempts", "due", "created_at", "last_error"];
    let unexpected: Vec<_> = names.iter().filter(|name| !expected.contains(&name.as_str())).collect();
    assert!(unexpected.is_empty(), "outbox items hold unexpected attributes: {unexpected:?}");
}

async fn org_of(app: &TestApp) -> OrgId {
    app.create_org(Plan::Enterprise, None).await
}

#[tokio::test]
async fn a_welcome_is_delivered_once_with_a_passphrase_that_only_the_email_holds() {
    let app = spawn_app().await;
    let mailer = mailer_from(SENDER).await;
    let org = org_of(&app).await;
    let email = unique_email("Welcome");
    create_pending_account(&app, &email).await;
    let now = Utc::now();
    let item = OutboxItem::welcome(&email, &org, ORG_NAME, now);
    app.store.enqueue_email(&item).await.unwrap();

    assert_eq!(deliver(&app.store, &mailer, &app.app.token_key, item.clone(), now).await, DeliveryOutcome::Sent);

    let sent = sent_emails(&email).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["source"], SENDER);
    assert!(sent[0]["subject"].as_str().unwrap().contains(ORG_NAME));
    let body = sent[0]["body"].as_str().unwrap();
    assert!(
        body.contains(email.as_str()) && body.contains("one\nsign-in only") && body.contains("within 7 days"),
        "{body}"
    );
    let passphrase = passphrase_in(&sent[0]);

    let account = account_item(&app, &email).await;
    let hash = account["initial_credential_hash"].as_s().unwrap().clone();
    assert!(initial_credential_matches(&app.app.token_key, &email, &passphrase, &hash), "the emailed passphrase");
    assert!(!account.contains_key("passphrase_hash"), "a one-time credential, not a chosen passphrase: {account:?}");
    let expires_at: DateTime<Utc> = account["initial_credential_expires_at"].as_s().unwrap().parse().unwrap();
    assert_eq!(expires_at, now + lifetimes::INITIAL_CREDENTIAL);
    assert_eq!(account["welcome_pending"], AttributeValue::Bool(false));
    assert_eq!(account["must_change_passphrase"], AttributeValue::Bool(true));

    let table = app.dump_table().await;
    assert!(!table.contains(&passphrase), "the passphrase is in the table");
    let process_logs = crate::helpers::process_logs();
    assert!(process_logs.contains("outbox email delivered"), "the capture must see the delivery");
    assert!(!process_logs.contains(&passphrase), "the passphrase is in the process logs");
    assert!(app.store.due_emails(now + Duration::days(365), 10).await.unwrap().is_empty(), "completed");
    assert_no_secret_attribute(&outbox_attribute_names(&app).await);

    // A second run holding the same (now stale) item, and a duplicate welcome, send nothing.
    assert_eq!(deliver(&app.store, &mailer, &app.app.token_key, item, now).await, DeliveryOutcome::ClaimedElsewhere);
    let duplicate = OutboxItem::welcome(&email, &org, ORG_NAME, now);
    app.store.enqueue_email(&duplicate).await.unwrap();
    assert_eq!(deliver(&app.store, &mailer, &app.app.token_key, duplicate, now).await, DeliveryOutcome::NotNeeded);
    assert_eq!(sent_emails(&email).await.len(), 1);
    assert_eq!(account_item(&app, &email).await["initial_credential_hash"].as_s().unwrap(), &hash, "unchanged");
    assert!(app.store.due_emails(now + Duration::days(365), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unverified_sender_is_a_permanent_failure_set_aside_and_never_retried() {
    let app = spawn_app().await;
    let sender = format!("nobody@unverified-{}.example.org", uuid::Uuid::new_v4().simple());
    let mailer = mailer_from(&sender).await;
    let org = org_of(&app).await;
    let owner = unique_email("owner");
    let now = Utc::now();
    let item = OutboxItem::token_expiring(vec![owner.clone()], &org, ORG_NAME, 12, now + Duration::days(12), now);
    app.store.enqueue_email(&item).await.unwrap();

    let outcome = deliver(&app.store, &mailer, &app.app.token_key, item.clone(), now).await;
    assert!(matches!(&outcome, DeliveryOutcome::FailedPermanently { .. }), "{outcome:?}");

    let failed = app.store.failed_emails().await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, item.id);
    assert_eq!(failed[0].attempts, 1);
    assert!(matches!(failed[0].kind, OutboxKind::TokenExpiring { days_left: 12, .. }));
    let error = failed[0].last_error.clone().unwrap_or_default();
    assert!(error.to_lowercase().contains("reject") || error.contains("not verified"), "{error}");

    let much_later = now + Duration::days(30);
    assert!(app.store.due_emails(much_later, 10).await.unwrap().is_empty(), "not retried");
    assert_eq!(
        deliver_due(&app.store, &mailer, &app.app.token_key, much_later, 10).await.unwrap(),
        DeliveryReport::default()
    );
    assert!(sent_emails(&owner).await.is_empty());
}

#[tokio::test]
async fn a_transient_failure_is_retried_with_backoff_and_the_retry_sends_a_working_passphrase() {
    let app = spawn_app().await;
    let org = org_of(&app).await;
    let email = unique_email("retry");
    create_pending_account(&app, &email).await;
    let now = Utc::now();
    let item = OutboxItem::welcome(&email, &org, ORG_NAME, now);
    app.store.enqueue_email(&item).await.unwrap();

    let outcome = deliver(&app.store, &unreachable_mailer().await, &app.app.token_key, item.clone(), now).await;
    let first_retry = now + Duration::minutes(1);
    assert_eq!(outcome, DeliveryOutcome::Retrying { attempts: 1, next_due: first_retry });

    assert!(app.store.due_emails(now, 10).await.unwrap().is_empty(), "not due before its retry time");
    let due = app.store.due_emails(first_retry, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].id.as_str(), due[0].attempts, due[0].due), (item.id.as_str(), 1, first_retry));
    assert!(due[0].last_error.as_deref().is_some_and(|e| !e.is_empty()), "{:?}", due[0].last_error);
    assert!(app.store.failed_emails().await.unwrap().is_empty());
    assert_eq!(account_item(&app, &email).await["welcome_pending"], AttributeValue::Bool(true), "still pending");
    assert_no_secret_attribute(&outbox_attribute_names(&app).await);

    // The retry generates a fresh passphrase; the one from the failed attempt never worked for anyone.
    let retried =
        deliver(&app.store, &mailer_from(SENDER).await, &app.app.token_key, due[0].clone(), first_retry).await;
    assert_eq!(retried, DeliveryOutcome::Sent);
    let sent = sent_emails(&email).await;
    assert_eq!(sent.len(), 1);
    let account = account_item(&app, &email).await;
    let hash = account["initial_credential_hash"].as_s().unwrap();
    assert!(initial_credential_matches(&app.app.token_key, &email, &passphrase_in(&sent[0]), hash));
    assert_eq!(account["welcome_pending"], AttributeValue::Bool(false));
    assert!(!app.dump_table().await.contains(&passphrase_in(&sent[0])));
}

#[tokio::test]
async fn an_email_that_keeps_failing_is_given_up_after_the_last_attempt() {
    let app = spawn_app().await;
    let org = org_of(&app).await;
    let owner = unique_email("owner");
    let now = Utc::now();
    let mut item = OutboxItem::token_expired(vec![owner.clone()], &org, ORG_NAME, now);
    item.attempts = MAX_ATTEMPTS - 1;
    app.store.enqueue_email(&item).await.unwrap();

    let outcome = deliver(&app.store, &unreachable_mailer().await, &app.app.token_key, item.clone(), now).await;
    assert!(matches!(&outcome, DeliveryOutcome::FailedPermanently { .. }), "{outcome:?}");
    let failed = app.store.failed_emails().await.unwrap();
    assert_eq!((failed.len(), failed[0].attempts), (1, MAX_ATTEMPTS));
    assert!(app.store.due_emails(now + Duration::days(30), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn deliver_due_sends_only_what_is_due() {
    let app = spawn_app().await;
    let mailer = mailer_from(SENDER).await;
    let org = org_of(&app).await;
    let (due_owner, later_owner) = (unique_email("due"), unique_email("later"));
    let now: DateTime<Utc> = Utc::now();
    let due = OutboxItem::token_expired(vec![due_owner.clone()], &org, ORG_NAME, now - Duration::minutes(5));
    let later = OutboxItem::token_expiring(
        vec![later_owner.clone()],
        &org,
        ORG_NAME,
        3,
        now + Duration::days(3),
        now + Duration::hours(1),
    );
    for item in [&due, &later] {
        app.store.enqueue_email(item).await.unwrap();
    }

    let report = deliver_due(&app.store, &mailer, &app.app.token_key, now, 10).await.unwrap();
    assert_eq!(report, DeliveryReport { sent: 1, ..DeliveryReport::default() });

    let sent = sent_emails(&due_owner).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["subject"], format!("SCIM provisioning for {ORG_NAME} has stopped"));
    assert!(sent_emails(&later_owner).await.is_empty(), "not due yet");
    let pending = app.store.due_emails(now + Duration::hours(2), 10).await.unwrap();
    assert_eq!(pending.iter().map(|item| item.id.as_str()).collect::<Vec<_>>(), [later.id.as_str()]);

    let report = deliver_due(&app.store, &mailer, &app.app.token_key, now + Duration::hours(2), 10).await.unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(sent_emails(&later_owner).await.len(), 1);
}

#[tokio::test]
async fn the_scheduler_reads_the_token_key_from_secrets_manager_to_retry_a_welcome() {
    let app = spawn_app().await;
    let org = org_of(&app).await;
    let email = unique_email("scheduled");
    create_pending_account(&app, &email).await;
    let now = Utc::now();
    let item = OutboxItem::welcome(&email, &org, ORG_NAME, now);
    app.store.enqueue_email(&item).await.unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
    let scheduler = |secret_id: &str, at| {
        let key = TokenKeySource::from_secret(secrets.clone(), secret_id.to_owned());
        TokenScheduler::new(app.store.clone(), app.app.mailer.clone(), key, Clock::Fixed(at))
    };

    // Without a readable secret nothing is sent, the email stays due, and the run says so.
    let summary = scheduler("behaviour-tests/no-such-secret", now).run().await;
    assert_eq!(summary.failure_count(), 1, "{summary:?}");
    assert!(sent_emails(&email).await.is_empty());
    assert_eq!(app.store.due_emails(now, 10).await.unwrap().len(), 1, "still due");

    let summary = scheduler(TOKEN_KEY_SECRET, now).run().await;
    assert_eq!(summary.failure_count(), 0, "{summary:?}");
    let sent = sent_emails(&email).await;
    assert_eq!(sent.len(), 1);
    // Hashed under the same key the functions load: the console signs it in.
    let (code, body) = crate::admin_support::sign_in_raw(&app, email.as_str(), &passphrase_in(&sent[0])).await;
    assert_eq!(code, reqwest::StatusCode::CREATED, "{body}");
}

// One bad outbox item never stops email delivery: an item that cannot be decoded is set aside
// (out of the due queue, kept for operators with the reason), reported once, and every other
// email still goes out, in the same run and in later ones.

type Item = HashMap<String, AttributeValue>;

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
    assert_eq!(crate::helpers::sent_emails(before.as_str()).await.len(), 1, "the email due before the bad item");
    assert_eq!(crate::helpers::sent_emails(after.as_str()).await.len(), 1, "the email due after the bad item");

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
    assert_eq!(crate::helpers::sent_emails(newer.as_str()).await.len(), 1);
    assert_eq!(log_lines_naming(&bad_id).len(), 1, "not reported again");
    assert_eq!(outbox_items(&app).await.len(), 1, "only the set-aside item is left");
}
