//! The token scheduler against the local stack: automatic refresh of eligible tokens, expiry notices
//! (20, 7, 1 days, expired) to owners and co-owners only, each at most once even with repeated or
//! overlapping runs, email retries, one bad record not stopping a run, and an expired token refused.
//! Every run is "as of" a fixed time; sent mail is read back from moto (`/_tests/ses-messages.json` (infra/moto_server.py)).
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::{EmailAddress, MemberRole, OrgId, Plan, ScimSettings, TokenWindow};
use insomnia_scim::runtime::TokenKeySource;
use insomnia_scim::scheduler::{ExpiryNotice, RunSummary, TokenScheduler};
use insomnia_scim::store::OutboxItem;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{
    spawn_app_on_table, spawn_app_with_clock, unreachable_mailer, OperatorScope, ScimOrg, TestApp, SENDER,
};

/// An organization with SCIM on, an owner, a co-owner and a plain member (unique addresses: moto's
/// mail store is shared by the whole test run).
struct Fixture {
    app: TestApp,
    org: ScimOrg,
    owner: EmailAddress,
    co_owner: EmailAddress,
    member: EmailAddress,
    expires_at: DateTime<Utc>,
}

impl Fixture {
    async fn new(window: TokenWindow, eligible: bool) -> Self {
        let issued = Utc::now() - Duration::days(400);
        let app = spawn_app_with_clock(Clock::Fixed(issued)).await;
        let org = app.scim_org_with_window(window).await;
        let [owner, co_owner, member] = ["owner", "coowner", "member"].map(unique_email);
        for (email, role) in
            [(&owner, MemberRole::Owner), (&co_owner, MemberRole::CoOwner), (&member, MemberRole::Member)]
        {
            app.try_add_manual_member(&org.id, email.as_str(), role).await.unwrap();
        }
        if !eligible {
            // Downgraded after SCIM was enabled: the token can no longer be refreshed automatically.
            let (mut organization, _) = app.store.organization(&org.id.scope()).await.unwrap().unwrap();
            organization.plan = Plan::Team;
            app.store.update_organization(&organization).await.unwrap();
        }
        let expires_at = window.expiry_from(issued).unwrap_or(issued);
        Self { app, org, owner, co_owner, member, expires_at }
    }

    fn scheduler_at(&self, at: DateTime<Utc>) -> TokenScheduler {
        TokenScheduler::new(
            self.app.store.clone(),
            self.app.app.mailer.clone(),
            TokenKeySource::Ready(self.app.app.token_key.clone()),
            Clock::Fixed(at),
        )
    }

    async fn run_days_before_expiry(&self, days: i64) -> RunSummary {
        self.scheduler_at(self.expires_at - Duration::days(days)).run().await
    }

    async fn settings(&self) -> ScimSettings {
        self.app.store.scim_settings(&self.org.id).await.unwrap().unwrap()
    }

    /// A SCIM request with the organization's token, answered by the service as of `at`.
    async fn scim_status_at(&self, at: DateTime<Utc>) -> (StatusCode, Value) {
        let app = spawn_app_on_table(&self.app.table, Clock::Fixed(at)).await;
        let url = format!("{}/scim/v2/orgs/{}/Users?startIndex=1&count=1", app.address, self.org.id);
        let response = app.get(&url, &self.org.token).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn unique_email(prefix: &str) -> EmailAddress {
    EmailAddress::parse(&format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple())).unwrap()
}

async fn sent_emails(to: &EmailAddress) -> Vec<Value> {
    crate::helpers::sent_emails(to.as_str()).await
}

async fn subjects(to: &EmailAddress) -> Vec<String> {
    sent_emails(to).await.iter().map(|m| m["subject"].as_str().unwrap_or_default().to_owned()).collect()
}

fn org_ids(entries: &[insomnia_scim::store::ExpiryIndexEntry]) -> Vec<OrgId> {
    entries.iter().filter_map(|entry| entry.decoded.as_ref().ok().map(|(org, _)| org.clone())).collect()
}

/// With automatic refresh turned off by an owner, an eligible token is not extended: the owners
/// are warned as when a requirement is unmet, with the reason; turned on again, the next run
/// extends it.
#[tokio::test]
async fn a_token_whose_automatic_refresh_is_off_is_not_extended_and_the_owners_are_told_why() {
    let f = Fixture::new(TokenWindow::Days30, true).await;
    let settings = f.settings().await;
    let off = settings.with_auto_refresh(insomnia_scim::domain::AutoRefresh::Off);
    f.app.store.put_scim_settings(&f.org.id.scope(), &off, Some(settings.version)).await.unwrap();

    let run_at = f.expires_at - Duration::days(20);
    let summary = f.scheduler_at(run_at).run().await;
    assert_eq!((summary.orgs_seen, summary.refreshed, summary.notices_queued), (1, 0, 1), "{summary:?}");
    let after = f.settings().await;
    assert_eq!(after.token_expires_at, Some(f.expires_at), "not extended");
    let failure = after.last_refresh_failure.clone().unwrap();
    assert!(failure.reason.contains("automatic refresh is turned off"), "{failure:?}");
    let warned = sent_emails(&f.owner).await;
    assert_eq!(warned.len(), 1, "the owner is warned");
    let body = warned[0]["body"].as_str().unwrap();
    assert!(body.contains("automatic refresh is turned off"), "the email says why: {body}");

    let on = after.with_auto_refresh(insomnia_scim::domain::AutoRefresh::On);
    f.app.store.put_scim_settings(&f.org.id.scope(), &on, Some(after.version)).await.unwrap();
    let summary = f.scheduler_at(run_at + Duration::days(1)).run().await;
    assert_eq!(summary.refreshed, 1, "{summary:?}");
    assert_eq!(f.settings().await.token_expires_at, Some(f.expires_at + Duration::days(30)));
}

#[tokio::test]
async fn an_eligible_token_is_extended_by_its_window_and_keeps_working() {
    let f = Fixture::new(TokenWindow::Days30, true).await;
    let before = f.settings().await;

    let early = f.run_days_before_expiry(25).await;
    assert_eq!((early.orgs_seen, early.refreshed), (0, 0), "outside the 20-day window: {early:?}");

    let run_at = f.expires_at - Duration::days(20);
    let summary = f.scheduler_at(run_at).run().await;
    assert_eq!((summary.orgs_seen, summary.refreshed, summary.notices_queued), (1, 1, 0), "{summary:?}");
    assert!(summary.failures.is_empty(), "{summary:?}");

    let after = f.settings().await;
    let extended = f.expires_at + Duration::days(30);
    assert_eq!(after.token_expires_at, Some(extended), "extended from the old expiry by the window");
    assert_eq!(after.token_hash, before.token_hash, "the same token: the IdP keeps working");
    assert_eq!(after.token_created_at, before.token_created_at);
    assert_eq!(after.version, before.version + 1);
    assert_eq!(after.last_auto_refresh_at, Some(run_at));
    assert_eq!(after.last_refresh_failure, None);
    // The extension is in the history the owners read, with the expiry it replaced.
    let (history, _) = f.app.store.scim_history_page(&f.org.id.scope(), None, 10).await.unwrap();
    let extensions: Vec<_> = history
        .iter()
        .filter(|e| e.action == insomnia_scim::store::ScimHistoryAction::TokenAutoRefreshed)
        .map(|e| (e.at, e.previous_token_expires_at, e.token_expires_at, e.actor.clone()))
        .collect();
    assert_eq!(extensions, vec![(run_at, Some(f.expires_at), Some(extended), None)], "{history:?}");

    // The expiry index moved with it: the next runs see the token only near its new expiry.
    let store = &f.app.store;
    assert!(
        !org_ids(&store.scim_tokens_expiring_by(f.expires_at + Duration::days(1)).await.unwrap()).contains(&f.org.id)
    );
    assert!(org_ids(&store.scim_tokens_expiring_by(extended).await.unwrap()).contains(&f.org.id));
    let again = f.scheduler_at(run_at).run().await;
    assert_eq!((again.orgs_seen, again.refreshed), (0, 0), "{again:?}");
    assert_eq!(f.settings().await, after);

    let (status, body) = f.scim_status_at(f.expires_at + Duration::days(1)).await;
    assert_eq!(status, StatusCode::OK, "the token works past its old expiry: {body}");
    assert!(sent_emails(&f.owner).await.is_empty(), "nobody is warned about a refreshed token");
}

#[tokio::test]
async fn an_ineligible_token_gets_each_notice_once_and_only_owners_and_co_owners_get_them() {
    let f = Fixture::new(TokenWindow::Days90, false).await;
    let before = f.settings().await;
    let steps: [(i64, u32, Option<&str>); 6] = [
        (25, 0, None),
        (20, 1, Some("SCIM provisioning for Test Org stops in 20 days")),
        (19, 0, None),
        (7, 1, Some("SCIM provisioning for Test Org stops in 7 days")),
        (1, 1, Some("SCIM provisioning for Test Org stops in 1 day")),
        (0, 1, Some("SCIM provisioning for Test Org has stopped")),
    ];
    let mut expected: Vec<String> = Vec::new();
    for (days, queued, subject) in steps {
        let summary = f.run_days_before_expiry(days).await;
        assert_eq!(summary.refreshed, 0, "day {days}: {summary:?}");
        assert_eq!((summary.notices_queued, summary.emails_sent), (queued, queued), "day {days}: {summary:?}");
        assert!(summary.failures.is_empty(), "day {days}: {summary:?}");
        expected.extend(subject.map(str::to_owned));
        assert_eq!(subjects(&f.owner).await, expected, "owner, day {days}");
        assert_eq!(subjects(&f.co_owner).await, expected, "co-owner, day {days}");
        assert!(sent_emails(&f.member).await.is_empty(), "a plain member got mail on day {days}");
        if days == 1 {
            let failure = f.settings().await.refresh_warning().cloned().expect("the failure is recorded");
            assert!(failure.reason.contains("Enterprise plan"), "{failure:?}");
            assert_eq!(failure.at, f.expires_at - Duration::days(20), "kept from when first found while unchanged");
        }
    }

    let notices = sent_emails(&f.owner).await;
    assert_eq!(notices[0]["source"], SENDER);
    let warning = notices[0]["body"].as_str().unwrap();
    for expected in ["expires in 20 days", "could not refresh it automatically", "Enter your passphrase"] {
        assert!(warning.contains(expected), "missing {expected:?} in:\n{warning}");
    }
    // It names the requirement that failed, as the SCIM page does, not every requirement.
    assert!(warning.contains("the organization must be on the Enterprise plan"), "{warning}");
    assert!(!warning.contains("a verified domain, SSO"), "{warning}");
    let expired = notices[3]["body"].as_str().unwrap();
    for expected in [
        "has expired, so SCIM provisioning has stopped",
        "Enterprise Controls > SCIM and choose Refresh Token",
        "Enter your passphrase",
        "replace the old token with the new one",
    ] {
        assert!(expired.contains(expected), "missing {expected:?} in:\n{expired}");
    }
    assert!(!expired.contains(&f.org.token), "a notice never carries the token");

    // Not refreshed; the failure is recorded for the admin status; four notices on record.
    let after = f.settings().await;
    assert_eq!((after.token_expires_at, after.version), (before.token_expires_at, before.version));
    assert_eq!(after.last_auto_refresh_at, None);
    let failure = after.refresh_warning().expect("the failure is recorded");
    assert!(failure.reason.contains("Enterprise plan") && failure.reason.contains("expired before"), "{failure:?}");
    assert_eq!(failure.at, f.expires_at, "a new reason is recorded when found");
    assert_eq!(after.notices_sent.len(), 4, "{:?}", after.notices_sent);

    // Days later: the expired token is known and notified, nothing else happens.
    let later = f.scheduler_at(f.expires_at + Duration::days(3)).run().await;
    assert_eq!((later.orgs_seen, later.unchanged, later.notices_queued), (1, 1, 0), "{later:?}");
    assert_eq!(sent_emails(&f.owner).await.len(), 4);
}

#[tokio::test]
async fn a_run_that_missed_the_20_day_mark_sends_that_notice_then_waits_for_the_7_day_one() {
    let f = Fixture::new(TokenWindow::Days90, false).await;
    let summary = f.run_days_before_expiry(19).await;
    assert_eq!(summary.notices_queued, 1, "{summary:?}");
    assert_eq!(subjects(&f.owner).await, ["SCIM provisioning for Test Org stops in 19 days"]);
    let settings = f.settings().await;
    assert_eq!(settings.notices_sent.len(), 1);
    assert!(ExpiryNotice::FirstWarning.was_sent(&settings), "{:?}", settings.notices_sent);

    assert_eq!(f.run_days_before_expiry(18).await.notices_queued, 0);
    assert_eq!(f.run_days_before_expiry(8).await.notices_queued, 0);
    assert_eq!(f.run_days_before_expiry(7).await.notices_queued, 1);
    assert_eq!(sent_emails(&f.owner).await.len(), 2);
}

#[tokio::test]
async fn a_notice_recorded_under_its_key_of_before_is_not_sent_again() {
    let f = Fixture::new(TokenWindow::Days90, false).await;
    // As the 20-day notice was recorded before notices were named by their place.
    let settings = f.settings().await;
    let expires_at = settings.token_expires_at.unwrap();
    let recorded = ScimSettings {
        notices_sent: vec![format!("{}|{}|20d", settings.token_created_at.to_rfc3339(), expires_at.to_rfc3339())],
        version: settings.next_version(),
        ..settings.clone()
    };
    f.app.store.put_scim_settings(&f.org.id.scope(), &recorded, Some(settings.version)).await.unwrap();

    assert_eq!(f.run_days_before_expiry(19).await.notices_queued, 0);
    assert!(sent_emails(&f.owner).await.is_empty());
    assert_eq!(f.run_days_before_expiry(7).await.notices_queued, 1);
    assert_eq!(subjects(&f.owner).await, ["SCIM provisioning for Test Org stops in 7 days"]);
}

#[tokio::test]
async fn repeated_and_concurrent_runs_send_each_notice_once() {
    let f = Fixture::new(TokenWindow::Days90, false).await;
    let at = f.expires_at - Duration::days(20);
    let first = f.scheduler_at(at).run().await;
    let second = f.scheduler_at(at + Duration::hours(3)).run().await;
    assert_eq!((first.notices_queued, second.notices_queued), (1, 0));
    assert_eq!(sent_emails(&f.owner).await.len(), 1);

    // Two runs at once, as an overlapping schedule would: one notice, one email.
    let at = f.expires_at - Duration::days(7);
    let (a, b) = (f.scheduler_at(at), f.scheduler_at(at));
    let (a, b) = tokio::join!(a.run(), b.run());
    assert_eq!(a.notices_queued + b.notices_queued, 1, "{a:?}\n{b:?}");
    assert_eq!(a.emails_sent + b.emails_sent, 1, "{a:?}\n{b:?}");
    assert!(a.failures.is_empty() && b.failures.is_empty(), "{a:?}\n{b:?}");
    assert_eq!(
        subjects(&f.owner).await.last().map(String::as_str),
        Some("SCIM provisioning for Test Org stops in 7 days")
    );
    assert_eq!(sent_emails(&f.owner).await.len(), 2);
    assert_eq!(sent_emails(&f.co_owner).await.len(), 2);

    // What decides it: two writers holding the same read, in either order, record one notice.
    let settings = f.settings().await;
    let key = ExpiryNotice::LastWarning.key(&settings).unwrap();
    let email = || OutboxItem::token_expired(vec![f.owner.clone()], &f.org.id, "Test Org", at);
    let store = &f.app.store;
    assert!(store.record_expiry_notice(&f.org.id.scope(), settings.version, &key, None, &email()).await.unwrap());
    assert!(!store.record_expiry_notice(&f.org.id.scope(), settings.version, &key, None, &email()).await.unwrap());
    assert_eq!(store.due_emails(at, 10).await.unwrap().len(), 1, "one email queued");
    let stale = store.record_expiry_notice(&f.org.id.scope(), settings.version - 1, "other", None, &email()).await;
    assert!(!stale.unwrap(), "a write on a stale version records nothing");
    assert_eq!(store.due_emails(at, 10).await.unwrap().len(), 1);

    // Two eligible runs at once extend the token once.
    let e = Fixture::new(TokenWindow::Days30, true).await;
    let at = e.expires_at - Duration::days(10);
    let (a, b) = (e.scheduler_at(at), e.scheduler_at(at));
    let (a, b) = tokio::join!(a.run(), b.run());
    assert_eq!(a.refreshed + b.refreshed, 1, "{a:?}\n{b:?}");
    assert_eq!(e.settings().await.token_expires_at, Some(e.expires_at + Duration::days(30)));
}

#[tokio::test]
async fn tokens_without_expiry_are_never_touched() {
    let f = Fixture::new(TokenWindow::NoExpiry, false).await;
    let before = f.settings().await;
    for years in [1, 2, 5] {
        let summary = f.scheduler_at(f.expires_at + Duration::days(365 * years)).run().await;
        assert_eq!((summary.orgs_seen, summary.refreshed, summary.notices_queued), (0, 0, 0), "{summary:?}");
    }
    assert_eq!(f.settings().await, before);
    assert!(sent_emails(&f.owner).await.is_empty());
    let (status, _) = f.scim_status_at(f.expires_at + Duration::days(3650)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_notice_that_fails_to_send_is_retried_by_a_later_run() {
    let f = Fixture::new(TokenWindow::Days30, false).await;
    let at = f.expires_at - Duration::days(20);
    let outage = TokenScheduler::new(
        f.app.store.clone(),
        unreachable_mailer().await,
        TokenKeySource::Ready(f.app.app.token_key.clone()),
        Clock::Fixed(at),
    );
    let summary = outage.run().await;
    assert_eq!((summary.notices_queued, summary.emails_sent, summary.emails_retried), (1, 0, 1), "{summary:?}");
    assert!(sent_emails(&f.owner).await.is_empty());
    let waiting = f.app.store.due_emails(at + Duration::minutes(1), 10).await.unwrap();
    assert_eq!(waiting.len(), 1, "due again after its backoff");
    assert_eq!(waiting[0].attempts, 1);
    assert!(waiting[0].last_error.as_deref().is_some_and(|e| !e.is_empty()), "{:?}", waiting[0].last_error);

    // Not due yet a few seconds later; sent by the next run after the backoff, and not queued twice.
    let too_soon = f.scheduler_at(at + Duration::seconds(10)).run().await;
    assert_eq!((too_soon.notices_queued, too_soon.emails_sent), (0, 0), "{too_soon:?}");
    let retry = f.scheduler_at(at + Duration::minutes(2)).run().await;
    assert_eq!((retry.notices_queued, retry.emails_sent, retry.emails_retried), (0, 1, 0), "{retry:?}");
    assert_eq!(subjects(&f.owner).await, ["SCIM provisioning for Test Org stops in 20 days"]);
    assert!(f.app.store.due_emails(at + Duration::days(30), 10).await.unwrap().is_empty());
    assert!(f.app.store.failed_emails().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_bad_organization_record_is_reported_and_the_run_goes_on() {
    let f = Fixture::new(TokenWindow::Days30, false).await;
    let store = &f.app.store;

    // SCIM settings whose organization item is missing, and an entry that cannot be decoded.
    let ghost = OrgId::parse(&format!("ghost-{}", &uuid::Uuid::new_v4().simple().to_string()[..8])).unwrap();
    let mut settings = f.settings().await;
    settings.version = 1;
    store.put_scim_settings(&ghost.scope(), &settings, None).await.unwrap();
    let broken = format!("broken-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    store
        .client()
        .put_item()
        .table_name(&f.app.table)
        .item("PK", AttributeValue::S(org_pk_of(&broken)))
        .item("SK", AttributeValue::S("SCIM".into()))
        .item("GSI1PK", AttributeValue::S("SCIM_TOKEN_EXPIRY".into()))
        .item("GSI1SK", AttributeValue::S(format!("{}#{broken}", f.expires_at.to_rfc3339())))
        .item("enabled", AttributeValue::S("not a boolean".into()))
        .send()
        .await
        .unwrap();

    let summary = f.run_days_before_expiry(20).await;
    assert_eq!(summary.orgs_seen, 3, "{summary:?}");
    assert_eq!((summary.notices_queued, summary.emails_sent), (1, 1), "the good organization: {summary:?}");
    assert_eq!(summary.failures.len(), 2, "{summary:?}");
    let failure_of = |org: &str| {
        summary.failures.iter().find(|failure| failure.org.as_deref() == Some(org)).map(|f| f.error.clone())
    };
    let ghost_error = failure_of(ghost.as_str()).unwrap_or_else(|| panic!("{summary:?}"));
    assert!(ghost_error.contains("does not exist"), "{ghost_error}");
    let broken_error = failure_of(&org_pk_of(&broken)).unwrap_or_else(|| panic!("{summary:?}"));
    assert!(broken_error.contains("cannot be read"), "{broken_error}");
    assert_eq!(subjects(&f.owner).await, ["SCIM provisioning for Test Org stops in 20 days"]);
    assert!(crate::helpers::process_logs().contains("token scheduler run"), "the summary is logged");
}

#[tokio::test]
async fn an_organization_with_scim_disabled_gets_no_notice_but_the_failure_is_recorded() {
    let f = Fixture::new(TokenWindow::Days30, true).await;
    let settings = f.settings().await;
    f.app.store.put_scim_settings(&f.org.id.scope(), &settings.disabled(), Some(settings.version)).await.unwrap();

    let summary = f.run_days_before_expiry(20).await;
    assert_eq!((summary.refreshed, summary.not_refreshable, summary.notices_queued), (0, 1, 0), "{summary:?}");
    let after = f.settings().await;
    assert_eq!(after.token_expires_at, Some(f.expires_at));
    assert!(after.refresh_warning().is_some_and(|failure| failure.reason.contains("SCIM is disabled")));
    assert!(sent_emails(&f.owner).await.is_empty());
}

#[tokio::test]
async fn an_expired_token_gets_the_expired_notice_and_the_scim_endpoints_refuse_it() {
    let f = Fixture::new(TokenWindow::Days30, true).await;
    let (status, _) = f.scim_status_at(f.expires_at - Duration::hours(1)).await;
    assert_eq!(status, StatusCode::OK, "valid until it expires");

    // The schedule did not run before expiry (an outage): an expired token is not revived.
    let after_expiry = f.expires_at + Duration::hours(1);
    let summary = f.scheduler_at(after_expiry).run().await;
    assert_eq!((summary.refreshed, summary.notices_queued, summary.emails_sent), (0, 1, 1), "{summary:?}");
    assert_eq!(subjects(&f.owner).await, ["SCIM provisioning for Test Org has stopped"]);
    let settings = f.settings().await;
    assert_eq!(settings.token_expires_at, Some(f.expires_at));
    let failure = settings.refresh_warning().expect("recorded");
    assert!(failure.reason.contains("expired before it could be refreshed"), "{failure:?}");

    let (status, body) = f.scim_status_at(after_expiry).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body["detail"].as_str().is_some_and(|detail| detail.contains("expired")), "{body}");
}

#[tokio::test]
async fn a_notice_with_nobody_to_send_it_to_is_reported_and_sent_once_an_owner_is_there() {
    let issued = Utc::now() - Duration::days(400);
    let app = spawn_app_with_clock(Clock::Fixed(issued)).await;
    let org = app.scim_org_with_window(TokenWindow::Days30).await;
    let member = unique_email("member");
    app.try_add_manual_member(&org.id, member.as_str(), MemberRole::Member).await.unwrap();
    let (mut organization, _) = app.store.organization(&org.id.scope()).await.unwrap().unwrap();
    organization.verified_domains.clear();
    app.store.update_organization(&organization).await.unwrap();
    let at = issued + Duration::days(10);
    let scheduler = |at| {
        TokenScheduler::new(
            app.store.clone(),
            app.app.mailer.clone(),
            TokenKeySource::Ready(app.app.token_key.clone()),
            Clock::Fixed(at),
        )
    };

    let summary = scheduler(at).run().await;
    assert_eq!(summary.notices_queued, 0, "{summary:?}");
    assert_eq!(summary.failures.len(), 1, "{summary:?}");
    assert!(summary.failures[0].error.contains("no active owner or co-owner"), "{summary:?}");
    let settings = app.store.scim_settings(&org.id).await.unwrap().unwrap();
    assert!(settings.notices_sent.is_empty());
    assert!(settings.refresh_warning().is_some_and(|failure| failure.reason.contains("verified domain")));
    assert!(sent_emails(&member).await.is_empty());

    let owner = unique_email("owner");
    app.try_add_manual_member(&org.id, owner.as_str(), MemberRole::Owner).await.unwrap();
    let summary = scheduler(at + Duration::days(1)).run().await;
    assert_eq!((summary.notices_queued, summary.emails_sent), (1, 1), "{summary:?}");
    assert_eq!(subjects(&owner).await, ["SCIM provisioning for Test Org stops in 19 days"]);
}

// A scheduler run with a failed organization or a failed email fails visibly (the Lambda returns
// an error, which the `Errors` alarm counts), after handling every other organization.

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
        .item("PK", AttributeValue::S(org_pk_of(&broken)))
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
        .key("PK", AttributeValue::S(org_pk_of(&broken)))
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

/// The partition key of the organization named `id` (as the store builds it).
fn org_pk_of(id: &str) -> String {
    insomnia_scim::store::keys::org_pk(&insomnia_scim::domain::OrgId::parse(id).unwrap())
}
