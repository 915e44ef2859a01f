//! Who may use an organization's console endpoints: its active Owners and Co-Owners only.
use crate::helpers::OperatorScope;
use chrono::{Duration, Utc};
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::MemberRole;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{call, console_org, person, Person};
use crate::helpers::{spawn_app, spawn_app_on_table, TestApp};

/// Every `/admin/orgs/{orgId}` endpoint, with a body that a permitted caller could send.
fn endpoints(passphrase: &str) -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/scim", None),
        (Method::POST, "/scim/enable", Some(json!({ "idp": "okta", "window": "90d", "passphrase": passphrase }))),
        (Method::POST, "/scim/token/refresh", Some(json!({ "passphrase": passphrase }))),
        (Method::GET, "/scim/logs", None),
        (Method::GET, "/scim/history", None),
        (Method::GET, "/members", None),
        (Method::GET, "/members/reconciliation", None),
        (Method::POST, "/members/reconciliation", None),
        (Method::GET, "/members/some-member/timeline", None),
        (Method::POST, "/scim/disable", Some(json!({ "passphrase": passphrase }))),
    ]
}

async fn assert_refused(app: &TestApp, url: &str, session: Option<&str>, status: StatusCode, error: &str) {
    for (method, path, body) in endpoints("correct horse battery staple") {
        let (code, answer) = call(app, method.clone(), &format!("{url}{path}"), session, body).await;
        assert_eq!(code, status, "{method} {path}: {answer}");
        if path == "/scim/enable" && error == "forbidden" && code == StatusCode::FORBIDDEN && answer["error"] != error {
            // A member of the organization learns which requirement they miss.
            assert_eq!(answer["error"], "requirements_unmet", "{answer}");
            assert_eq!(answer["unmet"][0]["requirement"], "owner_or_co_owner", "{answer}");
            continue;
        }
        assert_eq!(answer["error"], error, "{method} {path}: {answer}");
    }
}

async fn assert_permitted(app: &TestApp, url: &str, caller: &Person) {
    for (method, path, body) in endpoints(&caller.passphrase) {
        let (code, answer) = call(app, method.clone(), &format!("{url}{path}"), Some(&caller.session), body).await;
        assert!(code.is_success() || code == StatusCode::CONFLICT, "{method} {path}: {code} {answer}");
    }
}

#[tokio::test]
async fn only_active_owners_and_co_owners_of_the_organization_are_let_in() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let url = org.url(&app, "");
    let member = person(&app, &org.id, MemberRole::Member, "member").await;
    let other_org = console_org(&app).await;

    assert_refused(&app, &url, Some(&member.session), StatusCode::FORBIDDEN, "forbidden").await;
    assert_refused(&app, &url, Some(&other_org.owner.session), StatusCode::FORBIDDEN, "forbidden").await;
    assert_refused(&app, &url, None, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_refused(&app, &url, Some("isess_forged"), StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_refused(&app, &url, Some("iscim_a_scim_token"), StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let bad_org = format!("{}/admin/orgs/no%20such%20org", app.address);
    assert_refused(&app, &bad_org, Some(&org.owner.session), StatusCode::FORBIDDEN, "forbidden").await;

    // Permitted: the owner (twice: enabled, then disabled at the end of the first round) and a co-owner.
    assert_permitted(&app, &url, &org.owner).await;
    let co_owner = person(&app, &org.id, MemberRole::CoOwner, "co-owner").await;
    assert_permitted(&app, &url, &co_owner).await;
    // The other organization's owner still administers their own organization.
    assert_permitted(&app, &other_org.url(&app, ""), &other_org.owner).await;

    let response = app.http.get(format!("{url}/scim")).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn an_expired_session_is_refused() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let (code, _) = call(&app, Method::GET, &org.url(&app, "/scim"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::OK);
    // 11 hours later it still works.
    let sooner = spawn_app_on_table(&app.table, Clock::Fixed(Utc::now() + Duration::hours(11))).await;
    let (code, _) = call(&sooner, Method::GET, &org.url(&sooner, "/scim"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::OK);
    // The same table 13 hours later (sessions last 12): moto never removes TTL items, the code must.
    let later = spawn_app_on_table(&app.table, Clock::Fixed(Utc::now() + Duration::hours(13))).await;
    assert_refused(&later, &org.url(&later, ""), Some(&org.owner.session), StatusCode::UNAUTHORIZED, "unauthenticated")
        .await;
    let (code, _) = call(
        &later,
        Method::DELETE,
        &format!("{}/auth/sessions/current", later.address),
        Some(&org.owner.session),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_deactivated_or_demoted_owner_loses_access_at_once() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let co_owner = person(&app, &org.id, MemberRole::CoOwner, "co-owner").await;
    let address = insomnia_scim::domain::EmailAddress::parse(&co_owner.email).unwrap();
    let record = app.store.org_member_by_email(&org.id, &address).await.unwrap().unwrap();

    let demoted = insomnia_scim::store::MemberRecord {
        role: MemberRole::Member,
        version: record.next_version(),
        ..record.clone()
    };
    app.store.write_member(&org.id.scope(), Some(&record), &demoted, Default::default()).await.unwrap();
    let (code, body) = call(&app, Method::GET, &org.url(&app, "/scim"), Some(&co_owner.session), None).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));

    let inactive_owner = insomnia_scim::store::MemberRecord {
        role: MemberRole::Owner,
        active: false,
        version: demoted.next_version(),
        ..demoted.clone()
    };
    app.store.write_member(&org.id.scope(), Some(&demoted), &inactive_owner, Default::default()).await.unwrap();
    let (code, _) = call(&app, Method::GET, &org.url(&app, "/members"), Some(&co_owner.session), None).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
}
