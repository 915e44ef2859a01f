//! The passphrase gate (docs/ARCHITECTURE.md, "Tokens: rotation, revoke, OAuth"): every change
//! that issues a credential or stops provisioning asks for the acting person's passphrase, and the
//! throttles (docs/ARCHITECTURE.md, "Console (web page)") cannot be aimed at somebody else.
use std::net::{IpAddr, Ipv4Addr};

use insomnia_scim::domain::MemberRole;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{
    call, console_org, enable, person, scim_status, sign_in, sign_in_raw, unique_email, within_one_throttle_window,
    ConsoleOrg,
};
use crate::helpers::{spawn_app, OperatorScope, TestApp};

/// A client whose connections come from `last` (127.0.0.`last`): another source address.
fn from_address(last: u8) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))).build().unwrap()
}

async fn post(app: &TestApp, org: &ConsoleOrg, session: &str, path: &str, body: Value) -> (StatusCode, Value) {
    call(app, Method::POST, &org.url(app, path), Some(session), Some(body)).await
}

/// `DELETE …/scim/oauth/client` with `body`.
async fn delete_client(app: &TestApp, org: &ConsoleOrg, session: &str, body: Value) -> (StatusCode, Value) {
    call(app, Method::DELETE, &org.url(app, "/scim/oauth/client"), Some(session), Some(body)).await
}

async fn enabled(app: &TestApp, org: &ConsoleOrg) -> bool {
    app.store.scim_settings(&org.id).await.unwrap().is_some_and(|s| s.enabled)
}

async fn history(app: &TestApp, org: &ConsoleOrg) -> Vec<Value> {
    let (code, page) =
        call(app, Method::GET, &org.url(app, "/scim/history?limit=200"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::OK, "{page}");
    page["history"].as_array().unwrap().clone()
}

/// A sign-in from `client`: its status and body.
async fn sign_in_from(app: &TestApp, client: &reqwest::Client, email: &str, passphrase: &str) -> (StatusCode, Value) {
    let response = client
        .post(format!("{}/auth/sessions", app.address))
        .json(&json!({ "email": email, "passphrase": passphrase }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn disable_then_enable_with_a_session_alone_mints_no_token() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let session = org.owner.session.clone();

    // The first enable issues a token: it needs the passphrase too.
    let (code, refusal) = post(&app, &org, &session, "/scim/enable", json!({ "idp": "okta", "window": "2y" })).await;
    assert_eq!((code, refusal["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{refusal}");
    assert!(refusal["message"].as_str().unwrap().contains("`passphrase` is required to enable SCIM"), "{refusal}");
    assert!(app.store.scim_settings(&org.id).await.unwrap().is_none(), "nothing was enabled");
    let token = enable(&app, &org, "90d").await;

    // With the session alone (no passphrase), disabling is refused and the token keeps working.
    for body in [json!({}), json!({ "passphrase": "" }), json!({ "passphrase": "not the owner's passphrase" })] {
        let (code, refusal) = post(&app, &org, &session, "/scim/disable", body.clone()).await;
        assert!(matches!(code, StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN), "{body}: {code} {refusal}");
        assert!(enabled(&app, &org).await, "{body}: still enabled");
        assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::OK, "{body}");
    }
    let (code, _) = post(&app, &org, &session, "/scim/disable", json!({ "passphrase": org.owner.passphrase })).await;
    assert_eq!(code, StatusCode::OK);

    // The attack of the finding: enable again with the session alone. No token is minted.
    for body in
        [json!({ "idp": "okta", "window": "2y" }), json!({ "idp": "okta", "window": "2y", "passphrase": "guess" })]
    {
        let (code, refusal) = post(&app, &org, &session, "/scim/enable", body.clone()).await;
        assert!(matches!(code, StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN), "{body}: {code} {refusal}");
        assert!(refusal.get("token").is_none(), "{refusal}");
        assert!(!enabled(&app, &org).await, "{body}: still disabled");
    }
    let (code, issued) = post(
        &app,
        &org,
        &session,
        "/scim/enable",
        json!({ "idp": "okta", "window": "2y", "passphrase": org.owner.passphrase }),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{issued}");
    assert_eq!(scim_status(&app, &org.id, issued["token"].as_str().unwrap()).await, StatusCode::OK);
}

#[tokio::test]
async fn every_guarded_change_refuses_a_wrong_passphrase_and_the_history_records_who_tried_what() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    let session = org.owner.session.clone();
    let wrong = "a wrong passphrase given to the gate";
    let guarded = [
        ("/scim/token/refresh", json!({ "passphrase": wrong }), "refresh"),
        ("/scim/token/revoke", json!({ "passphrase": wrong }), "revoke"),
        ("/scim/oauth/client", json!({ "passphrase": wrong, "redirectUris": [] }), "oauth_client"),
        ("/scim/disable", json!({ "passphrase": wrong }), "disable"),
    ];
    let version = app.store.scim_settings(&org.id).await.unwrap().unwrap().version;
    for (path, body, _) in &guarded {
        let (code, refusal) = post(&app, &org, &session, path, body.clone()).await;
        assert_eq!((code, refusal["error"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_passphrase")), "{path}");
        assert!(!refusal.to_string().contains(wrong), "{path}: the attempt is not echoed");
        let mut without = body.clone();
        without.as_object_mut().unwrap().remove("passphrase");
        let (code, refusal) = post(&app, &org, &session, path, without).await;
        assert_eq!((code, refusal["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{path}");
    }
    let settings = app.store.scim_settings(&org.id).await.unwrap().unwrap();
    assert_eq!(settings.version, version, "nothing changed");
    assert!(app.store.oauth_client(&org.id.scope()).await.unwrap().is_none());
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::OK);

    // Deleting the OAuth client stops provisioning through OAuth: the same gate (in a new session:
    // this one has used up four of its five wrong passphrases).
    let session = sign_in(&app, &org.owner.email, &org.owner.passphrase).await;
    let client = json!({ "passphrase": org.owner.passphrase, "redirectUris": [] });
    let (code, _) = post(&app, &org, &session, "/scim/oauth/client", client).await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, refusal) = delete_client(&app, &org, &session, json!({ "passphrase": wrong })).await;
    assert_eq!((code, refusal["error"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_passphrase")));
    let (code, refusal) = delete_client(&app, &org, &session, json!({})).await;
    assert_eq!((code, refusal["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    assert!(app.store.oauth_client(&org.id.scope()).await.unwrap().is_some(), "still there");
    let (code, _) = delete_client(&app, &org, &session, json!({ "passphrase": org.owner.passphrase })).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    assert!(app.store.oauth_client(&org.id.scope()).await.unwrap().is_none());

    // Who, when and which change; never the attempt itself.
    let entries = history(&app, &org).await;
    let refused: Vec<&Value> = entries.iter().filter(|e| e["action"] == "passphrase_refused").collect();
    let mut attempted: Vec<&str> = refused.iter().map(|e| e["attempted"].as_str().unwrap()).collect();
    attempted.sort_unstable();
    assert_eq!(attempted, ["delete_oauth_client", "disable", "oauth_client", "refresh", "revoke"]);
    assert!(refused.iter().all(|e| e["actor"] == org.owner.email.as_str() && e["at"].is_string()), "{refused:?}");
    let stored = serde_json::to_string(&entries).unwrap();
    assert!(!stored.contains(wrong), "{stored}");
}

#[tokio::test]
async fn failed_sign_ins_with_a_co_owners_email_do_not_lock_them_out_of_refresh_and_revoke() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let co_owner = person(&app, &org.id, MemberRole::CoOwner, "co-owner").await;
    enable(&app, &org, "90d").await;
    within_one_throttle_window(std::time::Duration::from_secs(60)).await;

    // A stranger fills the co-owner's sign-in counter from another address, then from this one.
    let stranger = from_address(2);
    for _ in 0..6 {
        sign_in_from(&app, &stranger, &co_owner.email, "a stranger's guess").await;
    }
    let (code, _) = sign_in_from(&app, &stranger, &co_owner.email, &co_owner.passphrase).await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "the stranger's own address is locked");
    // Their sign-in from their own address still works.
    sign_in(&app, &co_owner.email, &co_owner.passphrase).await;
    for _ in 0..6 {
        sign_in_raw(&app, &co_owner.email, "a stranger's guess").await;
    }

    // Signed in, the co-owner re-confirms their passphrase: not the sign-in lockout's business.
    let passphrase = json!({ "passphrase": co_owner.passphrase });
    let (code, body) = post(&app, &org, &co_owner.session, "/scim/token/refresh", passphrase.clone()).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, body) = post(&app, &org, &co_owner.session, "/scim/token/revoke", passphrase.clone()).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let client = json!({ "passphrase": co_owner.passphrase, "redirectUris": [] });
    let (code, body) = post(&app, &org, &co_owner.session, "/scim/oauth/client", client).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (code, body) = post(&app, &org, &co_owner.session, "/scim/disable", passphrase).await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn wrong_re_confirmations_are_throttled_per_session() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    within_one_throttle_window(std::time::Duration::from_secs(60)).await;
    let session = org.owner.session.clone();
    for _ in 0..5 {
        let (code, _) = post(&app, &org, &session, "/scim/token/refresh", json!({ "passphrase": "guess" })).await;
        assert_eq!(code, StatusCode::FORBIDDEN);
    }
    let right = json!({ "passphrase": org.owner.passphrase });
    let (code, refusal) = post(&app, &org, &session, "/scim/token/refresh", right.clone()).await;
    assert_eq!((code, refusal["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")));
    assert!(refusal["message"].as_str().unwrap().contains("in this session"), "{refusal}");
    let (code, _) = post(&app, &org, &session, "/scim/disable", right.clone()).await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "every guarded change of the session");
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::OK, "nothing changed");

    // Neither the sign-in nor another session of the same person is locked by it.
    let other = sign_in(&app, &org.owner.email, &org.owner.passphrase).await;
    let (code, body) = post(&app, &org, &other, "/scim/token/refresh", right).await;
    assert_eq!(code, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn each_client_address_has_its_own_sign_in_bucket() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    within_one_throttle_window(std::time::Duration::from_secs(60)).await;
    let prober = from_address(3);
    for _ in 0..30 {
        let (code, _) = sign_in_from(&app, &prober, &unique_email("probe"), "a wrong passphrase!").await;
        assert_eq!(code, StatusCode::UNAUTHORIZED);
    }
    let (code, error) = sign_in_from(&app, &prober, &unique_email("probe"), "a wrong passphrase!").await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "{error}");
    // Another address is a bucket of its own: its failures are still only failures, and the
    // owner signs in.
    let (code, _) = sign_in_from(&app, &from_address(4), &unique_email("probe"), "a wrong passphrase!").await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let (code, _) = sign_in_from(&app, &from_address(4), &org.owner.email, &org.owner.passphrase).await;
    assert_eq!(code, StatusCode::CREATED);
}

#[tokio::test]
async fn reset_confirmations_are_throttled_per_email_and_per_source() {
    let app = spawn_app().await;
    within_one_throttle_window(std::time::Duration::from_secs(60)).await;
    let confirm = |client: reqwest::Client, email: String| {
        let url = format!("{}/auth/passphrase-resets/confirm", app.address);
        async move {
            let body = json!({ "email": email, "code": "x", "newPassphrase": "a long enough new passphrase" });
            let response = client.post(url).json(&body).send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or_default())
        }
    };
    // One email: ten confirmations a window.
    let email = unique_email("unknown");
    for _ in 0..10 {
        let (code, body) = confirm(from_address(5), email.clone()).await;
        assert_eq!((code, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_reset_code")));
    }
    let (code, body) = confirm(from_address(6), email.clone()).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_attempts")));
    // One source: thirty a window, whatever the email.
    for _ in 0..20 {
        let (code, _) = confirm(from_address(5), unique_email("unknown")).await;
        assert_eq!(code, StatusCode::BAD_REQUEST);
    }
    let (code, _) = confirm(from_address(5), unique_email("unknown")).await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS);
    let (code, _) = confirm(from_address(7), unique_email("unknown")).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "another source is not locked");
}
