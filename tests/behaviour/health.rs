//! Connector health (issue #23, docs/ARCHITECTURE.md "Connector health"): each state reached from
//! requests or the scheduler's as-of runs and left again, one email to owners and co-owners per
//! transition into trouble (at most one a day), the state and its advice in the status JSON,
//! requests with a replaced, revoked or expired token told apart from unknown tokens (a retired
//! token only once the time to paste the new one into the IdP has passed).
use chrono::{DateTime, Duration, DurationRound, Utc};
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::MemberRole;
use insomnia_scim::lifetimes;
use insomnia_scim::runtime::TokenKeySource;
use insomnia_scim::scheduler::{RunSummary, TokenScheduler};
use insomnia_scim::store::RateBudget;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{call, console_org, enable, person, scim_status, sent_emails, sign_in, ConsoleOrg};
use crate::helpers::{spawn_app_on_table, spawn_app_with_clock, OperatorScope, TestApp};

/// A start on a whole minute (times in messages are to the minute).
fn start() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::minutes(1)).unwrap()
}

/// The service as of `at` (same table).
async fn app_at(app: &TestApp, at: DateTime<Utc>) -> TestApp {
    spawn_app_on_table(&app.table, Clock::Fixed(at)).await
}

/// A SCIM request with `token` answered as of `at`, its log (and health) written.
async fn scim_at(app: &TestApp, org: &ConsoleOrg, token: &str, at: DateTime<Utc>) -> StatusCode {
    let later = app_at(app, at).await;
    let code = scim_status(&later, &org.id, token).await;
    later.flush_logs().await;
    code
}

/// `n` SCIM user creates the service refuses (400, no userName), as of `at`.
async fn bad_creates_at(app: &TestApp, org: &ConsoleOrg, token: &str, at: DateTime<Utc>, n: usize) {
    let later = app_at(app, at).await;
    let url = format!("{}/Users", org.connector_url(&later));
    for _ in 0..n {
        let body = json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "active": true });
        let response = later.http.post(&url).bearer_auth(token).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    later.flush_logs().await;
}

/// The owner's console call as of `at` (signed in then: sessions last hours, the tests days).
async fn owner_at(
    app: &TestApp,
    org: &ConsoleOrg,
    at: DateTime<Utc>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let later = app_at(app, at).await;
    let session = sign_in(&later, &org.owner.email, &org.owner.passphrase).await;
    call(&later, method, &org.url(&later, path), Some(&session), body).await
}

/// The status JSON as of `at`.
async fn status_at(app: &TestApp, org: &ConsoleOrg, at: DateTime<Utc>) -> Value {
    let (code, body) = owner_at(app, org, at, Method::GET, "/scim", None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body
}

/// The scheduler's frequent run (sweep, health, due emails) as of `at`.
async fn sweep_at(app: &TestApp, at: DateTime<Utc>) -> RunSummary {
    let scheduler = TokenScheduler::new(
        app.store.clone(),
        app.app.mailer.clone(),
        TokenKeySource::Ready(app.app.token_key.clone()),
        Clock::Fixed(at),
    );
    let summary = scheduler.sweep_as_of(at).await;
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    summary
}

fn health_emails(emails: &[Value]) -> Vec<&Value> {
    emails.iter().filter(|m| m["subject"].as_str().is_some_and(|s| s.contains("needs attention"))).collect()
}

fn body_of(email: &Value) -> String {
    email["body"].as_str().unwrap_or_default().to_owned()
}

fn minute(at: DateTime<Utc>) -> String {
    at.format("%b %-d at %H:%M UTC").to_string()
}

#[tokio::test]
async fn an_idp_still_sending_the_replaced_token_fails_credentials_once_and_recovers_with_the_new_one() {
    let t0 = start();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    let co_owner = person(&app, &org.id, MemberRole::CoOwner, "coowner").await;
    let member = person(&app, &org.id, MemberRole::Member, "member").await;
    let old = enable(&app, &org, "90d").await;

    // Before any request: waiting, nothing to do but connect.
    assert_eq!(status_at(&app, &org, t0).await["health"]["state"], "waiting");
    assert_eq!(scim_at(&app, &org, &old, t0 + Duration::minutes(1)).await, StatusCode::OK);
    let healthy = status_at(&app, &org, t0 + Duration::minutes(1)).await;
    assert_eq!(healthy["health"]["state"], "healthy", "{healthy}");

    // Replaced at t0 + 2 min, without overlap: the IdP keeps sending the old token.
    let replaced_at = t0 + Duration::minutes(2);
    let refresh = json!({ "passphrase": org.owner.passphrase });
    let (code, issued) = owner_at(&app, &org, replaced_at, Method::POST, "/scim/token/refresh", Some(refresh)).await;
    assert_eq!(code, StatusCode::OK, "{issued}");
    let new = issued["token"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(scim_at(&app, &org, &old, t0 + Duration::minutes(3)).await, StatusCode::UNAUTHORIZED);
    }
    // Strangers' tokens are counted apart and change nothing by themselves.
    for _ in 0..4 {
        let code = scim_at(&app, &org, "iscim_not_a_token_of_ours", t0 + Duration::minutes(3)).await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    // While the admin pastes the new token into the IdP, the old one is expected a while.
    let pasting = status_at(&app, &org, t0 + Duration::minutes(4)).await;
    assert_eq!(pasting["health"]["state"], "healthy", "{pasting}");
    assert_eq!(pasting["health"]["unknownTokens"], 4);
    assert!(health_emails(&sent_emails(&org.owner.email).await).is_empty());

    // The grace over and no success since: the scheduler's run moves it, and emails the owners.
    let due = replaced_at + lifetimes::HEALTH_RETIRED_GRACE;
    assert_eq!(sweep_at(&app, due - Duration::minutes(1)).await.health_changes, 0);
    let summary = sweep_at(&app, due).await;
    assert_eq!((summary.health_changes, summary.health_emails_queued), (1, 1));

    let failing = status_at(&app, &org, due + Duration::minutes(1)).await;
    let health = &failing["health"];
    assert_eq!(health["state"], "failing_credentials", "{failing}");
    assert_eq!(health["credential"], "replaced");
    assert_eq!(health["level"], "error");
    let headline = health["headline"].as_str().unwrap();
    assert_eq!(
        headline,
        format!("Your identity provider is still sending the token replaced on {}.", minute(replaced_at))
    );
    assert_eq!(health["advice"], "Paste the new token into Okta.");
    assert_eq!(health["logFilter"], "401");
    assert_eq!(health["unknownTokens"], 4);
    assert_eq!(health["since"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), due);
    for secret in [&old, &new] {
        assert!(!failing.to_string().contains(secret.as_str()), "no token in the status");
    }

    // One email, to the owner and the co-owner only, saying what to do.
    let to_owner = sent_emails(&org.owner.email).await;
    let emails = health_emails(&to_owner);
    assert_eq!(emails.len(), 1, "{to_owner:?}");
    let text = body_of(emails[0]);
    assert!(text.contains(headline) && text.contains("Paste the new token into Okta."), "{text}");
    assert!(!text.contains(&old) && !text.contains(&new));
    assert_eq!(health_emails(&sent_emails(&co_owner.email).await).len(), 1);
    assert!(health_emails(&sent_emails(&member.email).await).is_empty());

    // The log's rows of those requests say which credential was sent (never the token).
    let (code, logs) =
        owner_at(&app, &org, due + Duration::minutes(1), Method::GET, "/scim/logs?status=401", None).await;
    assert_eq!(code, StatusCode::OK, "{logs}");
    let refused: Vec<&str> = logs["logs"].as_array().unwrap().iter().filter_map(|l| l["refused"].as_str()).collect();
    assert_eq!(refused.len(), 3, "the three old-token requests, not the strangers': {logs}");
    assert!(refused.iter().all(|r| *r == format!("the token replaced on {}", minute(replaced_at))), "{refused:?}");
    assert!(!logs.to_string().contains(old.as_str()));

    // More requests with the old token, more runs: no second email.
    assert_eq!(scim_at(&app, &org, &old, due + Duration::minutes(2)).await, StatusCode::UNAUTHORIZED);
    sweep_at(&app, due + Duration::minutes(3)).await;
    assert_eq!(health_emails(&sent_emails(&org.owner.email).await).len(), 1);

    // The new token pasted: healthy again, since then.
    let fixed = due + Duration::minutes(4);
    assert_eq!(scim_at(&app, &org, &new, fixed).await, StatusCode::OK);
    let recovered = status_at(&app, &org, fixed).await;
    assert_eq!(recovered["health"]["state"], "healthy", "{recovered}");
    assert_eq!(recovered["health"]["since"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(), fixed);

    // Trouble again the same day (errors): the state says so, but no second email that day.
    bad_creates_at(&app, &org, &new, fixed + Duration::minutes(1), 10).await;
    let errors = status_at(&app, &org, fixed + Duration::minutes(1)).await;
    assert_eq!(errors["health"]["state"], "errors", "{errors}");
    sweep_at(&app, fixed + Duration::minutes(2)).await;
    assert_eq!(health_emails(&sent_emails(&org.owner.email).await).len(), 1);
}

#[tokio::test]
async fn revoked_and_expired_tokens_are_named_and_a_stranger_never_emails() {
    let t0 = start();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "30d").await;
    assert_eq!(scim_at(&app, &org, &token, t0).await, StatusCode::OK);

    // Only unknown tokens for a long time: still healthy, counted, nobody emailed.
    for _ in 0..25 {
        assert_eq!(scim_at(&app, &org, "iscim_stranger", t0 + Duration::minutes(1)).await, StatusCode::UNAUTHORIZED);
    }
    let status = status_at(&app, &org, t0 + Duration::minutes(1)).await;
    assert_eq!(status["health"]["state"], "healthy", "{status}");
    assert_eq!(status["health"]["unknownTokens"], 25, "every one counted, beyond the log's bound");
    sweep_at(&app, t0 + Duration::minutes(2)).await;
    assert!(health_emails(&sent_emails(&org.owner.email).await).is_empty());

    // The token expires: the IdP's requests say so.
    let expired_at = t0 + Duration::days(30);
    assert_eq!(scim_at(&app, &org, &token, expired_at + Duration::hours(1)).await, StatusCode::UNAUTHORIZED);
    let expired = status_at(&app, &org, expired_at + Duration::hours(1)).await;
    assert_eq!(expired["health"]["state"], "failing_credentials", "{expired}");
    assert_eq!(expired["health"]["credential"], "expired");
    assert!(expired["health"]["headline"].as_str().unwrap().contains(&format!("expired on {}", minute(expired_at))));
    // The token's own expiry notice tells the owners (the token scheduler's): no second email.
    sweep_at(&app, expired_at + Duration::hours(1)).await;
    assert!(health_emails(&sent_emails(&org.owner.email).await).is_empty());

    // Refreshed, then every token revoked: the IdP still sending the new one is told "revoked".
    let refresh = json!({ "passphrase": org.owner.passphrase });
    let at = expired_at + Duration::hours(2);
    let (code, issued) = owner_at(&app, &org, at, Method::POST, "/scim/token/refresh", Some(refresh)).await;
    assert_eq!(code, StatusCode::OK, "{issued}");
    let second = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(scim_at(&app, &org, &second, expired_at + Duration::hours(2)).await, StatusCode::OK);
    let revoked_at = expired_at + Duration::hours(3);
    let revoke = json!({ "passphrase": org.owner.passphrase });
    let (code, body) = owner_at(&app, &org, revoked_at, Method::POST, "/scim/token/revoke", Some(revoke)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let past_grace = revoked_at + lifetimes::HEALTH_RETIRED_GRACE;
    assert_eq!(scim_at(&app, &org, &second, past_grace).await, StatusCode::UNAUTHORIZED);
    let revoked = status_at(&app, &org, past_grace).await;
    assert_eq!(revoked["health"]["credential"], "revoked", "{revoked}");
    assert!(revoked["health"]["headline"].as_str().unwrap().contains(&format!("revoked on {}", minute(revoked_at))));
    assert!(revoked["health"]["advice"].as_str().unwrap().contains("Refresh the token"));
    // The expired token is a replaced one now (the refresh retired it).
    assert_eq!(scim_at(&app, &org, &token, past_grace + Duration::minutes(1)).await, StatusCode::UNAUTHORIZED);
    let replaced = status_at(&app, &org, past_grace + Duration::minutes(1)).await;
    assert_eq!(replaced["health"]["credential"], "replaced", "{replaced}");
}

#[tokio::test]
async fn errors_in_the_last_hour_name_their_reasons_and_leave_with_the_hour() {
    let t0 = start();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    for _ in 0..5 {
        assert_eq!(scim_at(&app, &org, &token, t0).await, StatusCode::OK);
    }
    // 5 bad of 10: errors (9 requests with 4 bad would be too few to judge).
    bad_creates_at(&app, &org, &token, t0 + Duration::minutes(1), 4).await;
    assert_eq!(status_at(&app, &org, t0 + Duration::minutes(1)).await["health"]["state"], "healthy");
    bad_creates_at(&app, &org, &token, t0 + Duration::minutes(1), 1).await;
    let status = status_at(&app, &org, t0 + Duration::minutes(1)).await;
    let health = &status["health"];
    assert_eq!(health["state"], "errors", "{status}");
    assert_eq!(health["headline"], "5 of the last 10 requests from Okta failed in the last hour.");
    assert_eq!(health["logFilter"], "4xx");
    assert_eq!(health["topReasons"][0]["count"], 5, "{health}");
    assert!(health["topReasons"][0]["reason"].as_str().unwrap().starts_with("400"), "{health}");
    // The filter the page links to lists exactly those requests.
    let (code, logs) =
        call(&app, Method::GET, &org.url(&app, "/scim/logs?status=4xx"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(logs["logs"].as_array().unwrap().len(), 5, "{logs}");
    sweep_at(&app, t0 + Duration::minutes(2)).await;
    assert_eq!(health_emails(&sent_emails(&org.owner.email).await).len(), 1);

    // Nothing more from the IdP: an as-of run past the hour finds it healthy again, no email.
    assert_eq!(sweep_at(&app, t0 + Duration::minutes(30)).await.health_changes, 0);
    let summary = sweep_at(&app, t0 + Duration::minutes(67)).await;
    assert_eq!((summary.health_changes, summary.health_emails_queued), (1, 0));
    let after = status_at(&app, &org, t0 + Duration::minutes(67)).await;
    assert_eq!(after["health"]["state"], "healthy", "{after}");
    assert_eq!(
        after["health"]["since"].as_str().unwrap().parse::<DateTime<Utc>>().unwrap(),
        t0 + Duration::minutes(67)
    );
    assert_eq!(health_emails(&sent_emails(&org.owner.email).await).len(), 1);
}

#[tokio::test]
async fn a_connector_that_stops_calling_goes_quiet_after_its_learned_cycle_and_comes_back() {
    let t0 = start();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    // Two runs 40 minutes apart (Entra's cycle), a few requests each.
    for run in [t0, t0 + Duration::minutes(40)] {
        for _ in 0..3 {
            assert_eq!(scim_at(&app, &org, &token, run).await, StatusCode::OK);
        }
    }
    let last = t0 + Duration::minutes(40);
    // Twice the cycle after the last call: still healthy; a minute later, quiet (two runs at once
    // move it once and email once).
    assert_eq!(sweep_at(&app, last + Duration::minutes(80)).await.health_changes, 0);
    let at = last + Duration::minutes(81);
    let (a, b) = tokio::join!(sweep_at(&app, at), sweep_at(&app, at));
    assert_eq!(a.health_changes + b.health_changes, 1, "{a:?} {b:?}");
    let quiet = status_at(&app, &org, at).await;
    let health = &quiet["health"];
    assert_eq!(health["state"], "quiet", "{quiet}");
    assert_eq!(health["level"], "warning");
    assert!(health["advice"].as_str().unwrap().contains("every 40 minutes"), "{health}");
    assert!(health["headline"].as_str().unwrap().contains(&minute(last)), "{health}");
    // Delivered by that run or the next.
    sweep_at(&app, at + Duration::minutes(10)).await;
    let emails = sent_emails(&org.owner.email).await;
    assert_eq!(health_emails(&emails).len(), 1, "{emails:?}");

    // The IdP calls again: healthy.
    let back = at + Duration::minutes(20);
    assert_eq!(scim_at(&app, &org, &token, back).await, StatusCode::OK);
    let status = status_at(&app, &org, back).await;
    assert_eq!(status["health"]["state"], "healthy", "{status}");
    assert_eq!(health_emails(&sent_emails(&org.owner.email).await).len(), 1);
}

#[tokio::test]
async fn throttled_429s_over_the_budget_say_the_budget_and_pass_with_the_hour() {
    let t0 = start();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    app.store.set_rate_budget(&org.id.scope(), RateBudget { per_second: 2, burst: 4 }).await.unwrap();
    // One instance, a clock that stands still: the window never ends, so the burst is all it gets.
    let later = app_at(&app, t0 + Duration::minutes(1)).await;
    let mut throttled = 0;
    for _ in 0..30 {
        if scim_status(&later, &org.id, &token).await == StatusCode::TOO_MANY_REQUESTS {
            throttled += 1;
        }
    }
    later.flush_logs().await;
    assert!(throttled >= 10, "{throttled}");
    let status = status_at(&app, &org, t0 + Duration::minutes(1)).await;
    let health = &status["health"];
    assert_eq!(health["state"], "throttled", "{status}");
    assert_eq!(health["logFilter"], "429");
    assert!(health["advice"].as_str().unwrap().contains("2 requests a second (bursts of 4)"), "{health}");

    let summary = sweep_at(&app, t0 + Duration::minutes(70)).await;
    assert_eq!(summary.health_changes, 1);
    assert_eq!(status_at(&app, &org, t0 + Duration::minutes(70)).await["health"]["state"], "healthy");
}

#[tokio::test]
async fn health_costs_the_request_no_round_trip_and_the_log_pass_one_update() {
    let app = spawn_app_with_clock(Clock::Fixed(start())).await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    let url = format!("{}/ServiceProviderConfig", org.connector_url(&app));
    // The first request creates the health item, lists the organization and stores the first state.
    assert_eq!(app.get(&url, &token).send().await.unwrap().status(), StatusCode::OK);
    app.flush_logs().await;
    for _ in 0..3 {
        // The request's own task: the token check's one read, nothing of health.
        app.round_trips.start_served_only();
        assert_eq!(app.get(&url, &token).send().await.unwrap().status(), StatusCode::OK);
        app.flush_logs().await;
        assert_eq!(app.round_trips.health_writes(), 0, "nothing of health on the request path");
        assert_eq!(app.round_trips.calls(), ["BatchGetItem"]);
        assert_eq!(app.round_trips.sequential(), 1);
        // After the response: the log's put and, beside it, one UpdateItem of the health item.
        app.round_trips.start();
        assert_eq!(app.get(&url, &token).send().await.unwrap().status(), StatusCode::OK);
        app.flush_logs().await;
        assert_eq!(app.round_trips.log_writes(), 1);
        assert_eq!(app.round_trips.health_writes(), 1, "one UpdateItem per log pass");
    }
}
