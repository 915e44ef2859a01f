//! Static tokens without downtime (issue #16): a refresh with an overlap keeps the previous token
//! working until the overlap ends, then only the new one; a revoke stops every token at once; the
//! status shows each token's last use; the history records rotation, overlap end and revoke.
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use insomnia_scim::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{call, console_org, enable, scim_status, ConsoleOrg};
use crate::helpers::{spawn_app_on_table, spawn_app_with_clock, TestApp};

async fn refresh(app: &TestApp, org: &ConsoleOrg, body: Value) -> (StatusCode, Value) {
    call(app, Method::POST, &org.url(app, "/scim/token/refresh"), Some(&org.owner.session), Some(body)).await
}

async fn status(app: &TestApp, org: &ConsoleOrg) -> Value {
    let (code, body) = call(app, Method::GET, &org.url(app, "/scim"), Some(&org.owner.session), None).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body
}

/// A SCIM request with `token`, answered by the service as of `at` (same table).
async fn scim_at(app: &TestApp, org: &ConsoleOrg, token: &str, at: DateTime<Utc>) -> StatusCode {
    let later = spawn_app_on_table(&app.table, Clock::Fixed(at)).await;
    scim_status(&later, &org.id, token).await
}

/// The actions of the history, sorted (the app's clock stands still, so entries share a time).
fn actions(status: &Value) -> Vec<String> {
    let mut actions: Vec<String> =
        status["history"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap().to_owned()).collect();
    actions.sort();
    actions
}

#[tokio::test]
async fn during_an_overlap_both_tokens_work_and_after_it_only_the_new_one() {
    let t0 = Utc::now();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    let old = enable(&app, &org, "90d").await;
    assert_eq!(scim_status(&app, &org.id, &old).await, StatusCode::OK);

    for bad in [
        json!({ "passphrase": org.owner.passphrase, "overlapHours": 25 }),
        json!({ "passphrase": org.owner.passphrase, "overlapHours": -1 }),
    ] {
        let (code, body) = refresh(&app, &org, bad).await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    }
    let (code, issued) = refresh(&app, &org, json!({ "passphrase": org.owner.passphrase, "overlapHours": 2 })).await;
    assert_eq!(code, StatusCode::OK, "{issued}");
    let new = issued["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);

    // Both work now and just before the overlap ends; only the new one from its end on.
    assert_eq!(scim_status(&app, &org.id, &old).await, StatusCode::OK);
    assert_eq!(scim_status(&app, &org.id, &new).await, StatusCode::OK);
    let end = t0 + Duration::hours(2);
    assert_eq!(scim_at(&app, &org, &old, end - Duration::seconds(1)).await, StatusCode::OK);
    assert_eq!(scim_at(&app, &org, &new, end - Duration::seconds(1)).await, StatusCode::OK);
    assert_eq!(scim_at(&app, &org, &old, end).await, StatusCode::UNAUTHORIZED);
    assert_eq!(scim_at(&app, &org, &new, end).await, StatusCode::OK);
    assert_eq!(scim_at(&app, &org, &old, end + Duration::hours(30)).await, StatusCode::UNAUTHORIZED);

    // The status shows the current token and the previous one with the time it stops, and when
    // each was last used; it never shows a token.
    app.flush_logs().await;
    let now = status(&app, &org).await;
    assert_eq!(
        now["token"]["previous"]["validUntil"].as_str().map(|s| s.parse::<DateTime<Utc>>().unwrap()),
        Some(end),
        "{now}"
    );
    assert!(now["token"]["lastUsedAt"].is_string(), "{now}");
    assert!(now["token"]["previous"]["lastUsedAt"].is_string(), "{now}");
    assert!(!now.to_string().contains("iscim_"), "{now}");
    assert_eq!(actions(&now), ["enabled", "token_refreshed"], "the overlap's end is not shown before it happens");
    let rotation = now["history"].as_array().unwrap().iter().find(|h| h["action"] == "token_refreshed").unwrap();
    assert_eq!(rotation["overlapUntil"].as_str().map(|s| s.parse::<DateTime<Utc>>().unwrap()), Some(end));

    // After the overlap: no previous token, and the history shows its end.
    let later = spawn_app_on_table(&app.table, Clock::Fixed(end + Duration::minutes(1))).await;
    let after = status(&later, &org).await;
    assert!(after["token"]["previous"].is_null(), "{after}");
    assert_eq!(actions(&after), ["enabled", "overlap_ended", "token_refreshed"], "{after}");
}

#[tokio::test]
async fn without_an_overlap_the_old_token_stops_at_once_and_a_third_token_ends_the_second_overlap() {
    let app = spawn_app_with_clock(Clock::Fixed(Utc::now())).await;
    let org = console_org(&app).await;
    let first = enable(&app, &org, "90d").await;
    let (_, issued) = refresh(&app, &org, json!({ "passphrase": org.owner.passphrase })).await;
    let second = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(scim_status(&app, &org.id, &first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(scim_status(&app, &org.id, &second).await, StatusCode::OK);

    let (_, issued) = refresh(&app, &org, json!({ "passphrase": org.owner.passphrase, "overlapHours": 24 })).await;
    let third = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(scim_status(&app, &org.id, &second).await, StatusCode::OK);
    // At most two valid tokens: a rotation during an overlap ends it.
    let (_, issued) = refresh(&app, &org, json!({ "passphrase": org.owner.passphrase, "overlapHours": 1 })).await;
    let fourth = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(scim_status(&app, &org.id, &second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(scim_status(&app, &org.id, &third).await, StatusCode::OK);
    assert_eq!(scim_status(&app, &org.id, &fourth).await, StatusCode::OK);
    // The overlap end scheduled for the second token was removed with it.
    let later = spawn_app_on_table(&app.table, Clock::Fixed(app.app.clock.now() + Duration::hours(2))).await;
    let after = status(&later, &org).await;
    assert_eq!(
        actions(&after),
        ["enabled", "overlap_ended", "token_refreshed", "token_refreshed", "token_refreshed"],
        "{after}"
    );
}

#[tokio::test]
async fn revoke_stops_every_token_at_once_and_scim_stays_enabled_until_a_new_one() {
    let app = spawn_app_with_clock(Clock::Fixed(Utc::now())).await;
    let org = console_org(&app).await;
    let old = enable(&app, &org, "90d").await;
    let (_, issued) = refresh(&app, &org, json!({ "passphrase": org.owner.passphrase, "overlapHours": 2 })).await;
    let new = issued["token"].as_str().unwrap().to_owned();
    let url = org.url(&app, "/scim/token/revoke");

    // The passphrase is required; a wrong one changes nothing.
    let (code, body) = call(&app, Method::POST, &url, Some(&org.owner.session), Some(json!({}))).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
    let (code, body) =
        call(&app, Method::POST, &url, Some(&org.owner.session), Some(json!({ "passphrase": "wrong one" }))).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_passphrase")), "{body}");
    assert_eq!(scim_status(&app, &org.id, &new).await, StatusCode::OK);

    let (code, revoked) =
        call(&app, Method::POST, &url, Some(&org.owner.session), Some(json!({ "passphrase": org.owner.passphrase })))
            .await;
    assert_eq!(code, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["enabled"], true);
    assert_eq!(revoked["token"]["state"], "none");
    assert!(revoked["token"]["revokedAt"].is_string(), "{revoked}");
    assert_eq!(revoked["warnings"][0]["code"], "tokens_revoked");
    assert!(actions(&revoked).contains(&"tokens_revoked".to_owned()), "{revoked}");
    for token in [&old, &new] {
        assert_eq!(scim_status(&app, &org.id, token).await, StatusCode::UNAUTHORIZED);
    }
    // No token left to expire: the scheduler's expiry index no longer holds the organization.
    let expiring = app.store.scim_tokens_expiring_by(Utc::now() + Duration::days(400)).await.unwrap();
    assert!(
        !expiring.iter().any(|e| e.key == insomnia_scim::store::keys::org_pk(&org.id)),
        "a revoked token is still in the index"
    );
    // The history never shows the overlap end the revoke cancelled.
    let later = spawn_app_on_table(&app.table, Clock::Fixed(app.app.clock.now() + Duration::hours(3))).await;
    let after = status(&later, &org).await;
    assert!(!actions(&after).contains(&"overlap_ended".to_owned()), "{after}");

    // A new token works again.
    let (code, issued) = refresh(&app, &org, json!({ "passphrase": org.owner.passphrase, "overlapHours": 5 })).await;
    assert_eq!(code, StatusCode::OK, "{issued}");
    let fresh = issued["token"].as_str().unwrap();
    assert_eq!(scim_status(&app, &org.id, fresh).await, StatusCode::OK);
    // A revoked token is not brought back as the "previous" one by the overlap.
    assert_eq!(scim_status(&app, &org.id, &new).await, StatusCode::UNAUTHORIZED);
    assert!(status(&app, &org).await["token"]["previous"].is_null());
}

#[tokio::test]
async fn settings_a_revoke_stored_before_the_hash_was_optional_still_load() {
    let app = spawn_app_with_clock(Clock::Fixed(Utc::now())).await;
    let org = console_org(&app).await;
    let old = enable(&app, &org, "90d").await;
    let url = org.url(&app, "/scim/token/revoke");
    let passphrase = json!({ "passphrase": org.owner.passphrase });
    let (code, body) = call(&app, Method::POST, &url, Some(&org.owner.session), Some(passphrase.clone())).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    // As a revoke stored it then: an empty hash, not a missing one.
    app.store
        .client()
        .update_item()
        .table_name(&app.table)
        .key("PK", AttributeValue::S(insomnia_scim::store::keys::org_pk(&org.id)))
        .key("SK", AttributeValue::S("SCIM".into()))
        .update_expression("SET token_hash = :empty")
        .expression_attribute_values(":empty", AttributeValue::S(String::new()))
        .send()
        .await
        .unwrap();

    assert_eq!(app.store.scim_settings(&org.id).await.unwrap().unwrap().token_hash, None);
    assert_eq!(status(&app, &org).await["token"]["state"], "none");
    assert_eq!(scim_status(&app, &org.id, &old).await, StatusCode::UNAUTHORIZED);
    let (code, issued) = refresh(&app, &org, passphrase).await;
    assert_eq!(code, StatusCode::OK, "{issued}");
    assert_eq!(scim_status(&app, &org.id, issued["token"].as_str().unwrap()).await, StatusCode::OK);
}
