//! Reconciliation after the first sync: the manual members the IdP has not taken over, and the IdP
//! users that differ from a member's email only by domain or alias (a second account instead of a
//! link), with their licences; computed at most once a minute, read as one stored summary.
use chrono::Duration;
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::{MemberRole, Plan};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{call, console_org_with, enable, person, ConsoleOrg};
use crate::helpers::{spawn_app, spawn_app_on_table, OperatorScope, TestApp};

/// The IdP creates a user with `user_name` and `email` (active or not); answers its id.
pub async fn idp_creates(
    app: &TestApp,
    org: &ConsoleOrg,
    token: &str,
    user_name: &str,
    email: &str,
    active: bool,
) -> String {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "emails": [{ "value": email, "primary": true, "type": "work" }],
        "active": active,
    });
    let response = app
        .http
        .post(format!("{}/Users", org.connector_url(app)))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{user_name}");
    let created: Value = response.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

async fn reconciliation(app: &TestApp, org: &ConsoleOrg, method: Method) -> Value {
    let (status, body) =
        call(app, method, &org.url(app, "/members/reconciliation"), Some(&org.owner.session), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Manual members of `org`, one per local part, at `domain`; answers their emails.
pub async fn manual_members(app: &TestApp, org: &ConsoleOrg, tag: &str, locals: &[&str]) -> Vec<String> {
    let mut emails = Vec::new();
    for local in locals {
        let email = format!("{local}.{tag}@example.com");
        app.add_manual_member(&org.id, &email, MemberRole::Member, "a passphrase of theirs").await;
        emails.push(email);
    }
    emails
}

#[tokio::test]
async fn counts_manual_members_not_taken_over_and_second_accounts_by_domain_and_alias_with_their_licences() {
    let app = spawn_app().await;
    let org = console_org_with(&app, Plan::Enterprise, Some(50)).await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let emails = manual_members(&app, &org, tag, &["alice", "bob", "carol", "dan", "erin"]).await;
    let token = enable(&app, &org, "90d").await;

    // Nothing computed yet: the page's read is one item, and it is absent.
    let none = reconciliation(&app, &org, Method::GET).await;
    assert_eq!(none["summary"], Value::Null, "{none}");
    assert_eq!(none["idp"], "Okta");

    // alice is linked by her email (the IdP spells it in upper case): not flagged.
    idp_creates(&app, &org, &token, &emails[0].to_uppercase(), &emails[0].to_uppercase(), true).await;
    // bob by domain, carol by alias (and case), dan by domain but deactivated; frank is new.
    let bob =
        idp_creates(&app, &org, &token, &format!("bob.{tag}@example.org"), &format!("bob.{tag}@example.org"), true)
            .await;
    let carol = format!("Carol.{tag}+okta@Example.com");
    idp_creates(&app, &org, &token, &carol, &carol, true).await;
    let dan = format!("dan.{tag}@example.net");
    idp_creates(&app, &org, &token, &dan, &dan, false).await;
    idp_creates(&app, &org, &token, &format!("frank.{tag}@example.com"), &format!("frank.{tag}@example.com"), true)
        .await;

    let answer = reconciliation(&app, &org, Method::POST).await;
    let summary = &answer["summary"];
    assert_eq!(summary["idpSynced"], true, "{answer}");
    assert_eq!(summary["membersRead"], 10, "{answer}");
    // The owner, bob, carol, dan and erin are still added by hand, all active: 5 licences.
    assert_eq!(summary["manual"]["count"], 5, "{answer}");
    assert_eq!(summary["manual"]["licenses"], 5, "{answer}");
    let manual: Vec<&str> =
        summary["manual"]["listed"].as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert!(manual.contains(&org.owner.email.as_str()), "{manual:?}");
    assert!(!manual.contains(&emails[0].as_str()), "alice was linked: {manual:?}");
    let mismatches = &summary["mismatches"];
    assert_eq!(
        (&mismatches["count"], &mismatches["byDomain"], &mismatches["byAlias"], &mismatches["extraLicenses"]),
        (&json!(3), &json!(2), &json!(1), &json!(2)),
        "{answer}"
    );
    let listed = mismatches["listed"].as_array().unwrap();
    let of = |manual: &str| listed.iter().find(|m| m["manualEmail"] == manual).cloned().unwrap_or(Value::Null);
    assert_eq!(of(&emails[1])["kind"], "domain");
    assert_eq!(of(&emails[1])["provisionedId"], bob.as_str());
    assert_eq!(of(&emails[1])["extraLicenses"], 1);
    assert_eq!(of(&emails[2])["kind"], "alias");
    assert_eq!(of(&emails[2])["provisionedUserName"], carol.as_str());
    // dan's second account is deactivated: it takes no licence.
    assert_eq!(of(&emails[3])["kind"], "domain");
    assert_eq!(of(&emails[3])["extraLicenses"], 0);
    assert_eq!(of(&emails[0]), Value::Null, "a member linked by email is not flagged");
    assert_eq!(of(&emails[4]), Value::Null, "erin has no IdP user");
    // The duplicates' extra licences are their manual twins': counted once.
    assert_eq!(summary["totalLicenses"], 5, "{answer}");

    // The page's read answers the stored summary as it was computed.
    let stored = reconciliation(&app, &org, Method::GET).await;
    assert_eq!(stored["summary"], answer["summary"]);
}

#[tokio::test]
async fn is_computed_at_most_once_a_minute_and_not_before_the_first_sync() {
    let app = spawn_app().await;
    let org = console_org_with(&app, Plan::Enterprise, None).await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let emails = manual_members(&app, &org, tag, &["gina"]).await;
    let token = enable(&app, &org, "90d").await;

    let before = reconciliation(&app, &org, Method::POST).await;
    assert_eq!(before["summary"]["idpSynced"], false, "{before}");
    assert_eq!(before["summary"]["manual"]["count"], 2, "{before}");
    assert_eq!(before["changedSince"], false, "{before}");

    // Within the minute, a new check answers the stored one: the new second account waits.
    idp_creates(&app, &org, &token, &format!("gina.{tag}@example.org"), &format!("gina.{tag}@example.org"), true).await;
    let soon = reconciliation(&app, &org, Method::POST).await;
    assert_eq!(soon["summary"], before["summary"]);
    assert_eq!(soon["nextCheckAfter"], before["nextCheckAfter"]);
    // The page's read says the members changed since (the counters moved).
    let read = reconciliation(&app, &org, Method::GET).await;
    assert_eq!(read["changedSince"], true, "{read}");

    // Two minutes later it reads the members again.
    let later_at = chrono::Utc::now() + Duration::minutes(2);
    let later_app = spawn_app_on_table(&app.table, Clock::Fixed(later_at)).await;
    let later = reconciliation(&later_app, &org, Method::POST).await;
    assert_eq!(later["summary"]["idpSynced"], true, "{later}");
    assert_eq!(later["summary"]["mismatches"]["count"], 1, "{later}");
    assert_eq!(later["summary"]["mismatches"]["listed"][0]["manualEmail"], emails[0].as_str());
    assert_eq!(later["changedSince"], false, "{later}");
}

#[tokio::test]
async fn only_owners_and_co_owners_see_it() {
    let app = spawn_app().await;
    let org = console_org_with(&app, Plan::Enterprise, None).await;
    let member = person(&app, &org.id, MemberRole::Member, "plain").await;
    for method in [Method::GET, Method::POST] {
        let (status, body) =
            call(&app, method, &org.url(&app, "/members/reconciliation"), Some(&member.session), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("{}?page=2", org.url(&app, "/members/reconciliation")),
        Some(&org.owner.session),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

/// The cost at scale: a check reads every member once (page by page), the page's read is one
/// item whatever the size. Prints the figures docs/ARCHITECTURE.md, "Reconciliation", quotes.
#[tokio::test]
async fn a_large_organization_is_read_once_per_check_and_the_page_reads_one_item() {
    use insomnia_scim::domain::{EmailAddress, MemberRecord};
    const SIZE: usize = 10_000;
    let app = spawn_app().await;
    let org = console_org_with(&app, Plan::Enterprise, None).await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let now = chrono::Utc::now();
    let mut members: Vec<MemberRecord> = (0..SIZE - 10)
        .map(|i| {
            // The IdP's documents as Okta sends them: ~300 bytes each.
            let email = format!("user{i}.{tag}@example.org");
            let doc = json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": email, "externalId": format!("00u{i}{tag}"),
                "name": { "givenName": "Given", "familyName": format!("Family{i}") },
                "emails": [{ "value": email, "primary": true, "type": "work" }], "active": true,
            });
            MemberRecord::provisioned(EmailAddress::parse(&email).unwrap(), &doc, now)
        })
        .collect();
    // 10 manual members: the first 5 have a second account by domain among the IdP's users.
    for i in 0..10 {
        let email = format!("user{i}{}.{tag}@example.com", if i < 5 { "" } else { "-solo" });
        members.push(MemberRecord::manual(EmailAddress::parse(&email).unwrap(), MemberRole::Member, now));
    }
    let loaded = std::time::Instant::now();
    app.store.load_members_unchecked(&org.id.scope(), &members).await.unwrap();
    println!("loaded {SIZE} members in {:?}", loaded.elapsed());

    app.round_trips.start();
    let checked = reconciliation(&app, &org, Method::POST).await;
    let check_calls = app.round_trips.calls();
    let summary = &checked["summary"];
    assert_eq!(summary["membersRead"], SIZE + 1, "{summary}");
    assert_eq!(summary["manual"]["count"], 11, "{summary}");
    assert_eq!(summary["mismatches"]["count"], 5, "{summary}");
    assert_eq!(summary["mismatches"]["byDomain"], 5, "{summary}");

    app.round_trips.start();
    let read = reconciliation(&app, &org, Method::GET).await;
    let read_calls = app.round_trips.calls();
    assert_eq!(read["summary"], checked["summary"]);
    let queries = |calls: &[String]| calls.iter().filter(|c| c.starts_with("Query")).count();
    assert!(queries(&check_calls) >= 2, "the members come in several pages: {check_calls:?}");
    assert_eq!(queries(&read_calls), 0, "the page's read queries no member: {read_calls:?}");
    println!(
        "{SIZE} members: check {} ms ({} calls, {} member queries); page read {} calls: {read_calls:?}",
        summary["elapsedMs"],
        check_calls.len(),
        queries(&check_calls),
        read_calls.len()
    );
}
