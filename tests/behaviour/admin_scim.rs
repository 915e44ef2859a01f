//! SCIM enablement and the token lifecycle from the console: requirements, the token shown once,
//! refresh with the passphrase, disable, status, history.
use crate::helpers::OperatorScope;
use chrono::{Duration, Utc};
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::{IdentityProvider, MemberRole, RefreshFailure, SsoConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{
    bare_org, call, console_org, enable, person, scim_status, sign_in, status, ConsoleOrg, Person,
};
use crate::helpers::{process_logs, spawn_app, spawn_app_on_table, TestApp};

fn unmet_of(body: &Value) -> Vec<String> {
    body["unmet"].as_array().unwrap().iter().map(|u| u["requirement"].as_str().unwrap().to_owned()).collect()
}

/// Enables with `body` and the person's passphrase.
async fn try_enable(app: &TestApp, org_url: &str, person: &Person, mut body: Value) -> (StatusCode, Value) {
    body["passphrase"] = json!(person.passphrase);
    call(app, Method::POST, &format!("{org_url}/scim/enable"), Some(&person.session), Some(body)).await
}

fn owner_passphrase(org: &ConsoleOrg) -> Value {
    json!({ "passphrase": org.owner.passphrase })
}

async fn refresh(app: &TestApp, org: &ConsoleOrg, body: Value) -> (StatusCode, Value) {
    call(app, Method::POST, &org.url(app, "/scim/token/refresh"), Some(&org.owner.session), Some(body)).await
}

#[tokio::test]
async fn enabling_names_every_unmet_requirement_at_once() {
    let app = spawn_app().await;
    let id = bare_org(&app).await;
    let owner = person(&app, &id, MemberRole::Owner, "owner").await;
    let member = person(&app, &id, MemberRole::Member, "member").await;
    let url = format!("{}/admin/orgs/{id}", app.address);

    let (code, body) = try_enable(&app, &url, &owner, json!({ "window": "90d" })).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "requirements_unmet");
    assert_eq!(unmet_of(&body), ["enterprise_plan", "verified_domain", "sso_configured", "idp_confirmed"]);
    let message = body["message"].as_str().unwrap();
    for part in ["Enterprise plan", "verified domain", "SSO must be configured", "confirm the identity provider"] {
        assert!(message.contains(part), "{part}: {message}");
    }
    // A plain member is refused before their passphrase is even checked.
    let (code, body) = try_enable(&app, &url, &member, json!({ "window": "90d", "idp": "okta" })).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");

    // One requirement after the other.
    let (mut org, _) = app.store.organization(&id.scope()).await.unwrap().unwrap();
    org.plan = insomnia_scim::domain::Plan::Enterprise;
    app.store.update_organization(&org).await.unwrap();
    let (_, body) = try_enable(&app, &url, &owner, json!({ "window": "90d", "idp": "okta" })).await;
    assert_eq!(unmet_of(&body), ["verified_domain", "sso_configured"]);
    org.verify_domain("example.com").unwrap();
    app.store.update_organization(&org).await.unwrap();
    let (_, body) = try_enable(&app, &url, &owner, json!({ "window": "90d", "idp": "okta" })).await;
    assert_eq!(unmet_of(&body), ["sso_configured"]);
    org.sso = Some(SsoConfig { idp: IdentityProvider::Azure, configured_at: Utc::now() });
    app.store.update_organization(&org).await.unwrap();
    let (_, body) = try_enable(&app, &url, &owner, json!({ "window": "90d" })).await;
    assert_eq!(unmet_of(&body), ["idp_confirmed"]);
    let (_, body) = try_enable(&app, &url, &owner, json!({ "window": "90d", "idp": "okta" })).await;
    assert_eq!(unmet_of(&body), ["idp_confirmed"]);
    assert!(body["unmet"][0]["message"].as_str().unwrap().contains("SSO is configured with azure"), "{body}");

    // Bad input is a 400 naming what is accepted.
    for (request, expected) in [
        (json!({ "idp": "azure" }), "`window` is required"),
        (json!({ "idp": "azure", "window": "7d" }), "30d, 90d, 180d, 1y, 2y, none"),
        (json!({ "idp": "ping", "window": "90d" }), "okta, azure"),
        (json!({ "idp": "azure", "window": "90d", "token": "mine" }), "unknown field `token`"),
    ] {
        let (code, body) = try_enable(&app, &url, &owner, request).await;
        assert_eq!((code, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
        assert!(body["message"].as_str().unwrap().contains(expected), "{body}");
    }
    // Nothing was enabled by any refusal.
    assert!(app.store.scim_settings(&id).await.unwrap().is_none());

    let (code, body) = try_enable(&app, &url, &owner, json!({ "window": "90d", "idp": "Azure" })).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert_eq!(body["idp"], "azure");
}

#[tokio::test]
async fn the_token_is_shown_once_and_only_by_the_enable_answer() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let before = status(&app, &org).await;
    assert_eq!(before["enabled"], false);
    assert_eq!(before["token"]["state"], "none");
    assert_eq!(before["unmet"], json!(["idp_confirmed"]));
    assert_eq!(before["connectorUrl"], org.connector_url(&app));

    let (code, issued) =
        try_enable(&app, &org.url(&app, ""), &org.owner, json!({ "idp": "okta", "window": "1y" })).await;
    assert_eq!(code, StatusCode::CREATED, "{issued}");
    let token = issued["token"].as_str().unwrap();
    assert!(token.starts_with("iscim_"));
    assert_eq!(issued["connectorUrl"], org.connector_url(&app));
    assert_eq!(issued["window"], "1y");
    assert_eq!(issued["tokenState"], "valid");
    assert!(issued["message"].as_str().unwrap().contains("shown only this once"));
    assert_eq!(scim_status(&app, &org.id, token).await, StatusCode::OK);

    for _ in 0..2 {
        let after = status(&app, &org).await;
        let text = after.to_string();
        assert!(!text.contains(token) && !text.contains("iscim_"), "the status shows the token: {text}");
        assert!(!text.to_lowercase().contains("hash"), "{text}");
        assert_eq!(after["enabled"], true);
        assert_eq!(after["idp"], "okta");
        assert_eq!(after["token"]["state"], "valid");
        assert_eq!(after["token"]["window"], "1y");
        assert_eq!(after["token"]["daysLeft"], 365);
        assert!(after["unmet"].as_array().unwrap().is_empty(), "{after}");
        assert!(after["requirements"].as_array().unwrap().iter().all(|r| r["met"] == true), "{after}");
        assert_eq!(after["warnings"], json!([]));
        assert_eq!(after["history"][0]["action"], "enabled");
        assert_eq!(after["history"][0]["actor"], org.owner.email);
    }
    let history = call(&app, Method::GET, &org.url(&app, "/scim/history"), Some(&org.owner.session), None).await.1;
    assert!(!history.to_string().contains(token));
    assert!(!app.dump_table().await.contains(token), "the token is stored");
    assert!(!process_logs().contains(token), "the token was logged");

    let (code, body) =
        try_enable(&app, &org.url(&app, ""), &org.owner, json!({ "idp": "okta", "window": "90d" })).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::CONFLICT, Some("already_enabled")));
    assert_eq!(scim_status(&app, &org.id, token).await, StatusCode::OK, "a refused enable changed the token");
}

#[tokio::test]
async fn a_refresh_with_a_wrong_passphrase_changes_nothing() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    let before = status(&app, &org).await;
    for body in [json!({ "passphrase": "not my passphrase" }), json!({ "passphrase": "not mine", "window": "2y" })] {
        let (code, error) = refresh(&app, &org, body).await;
        assert_eq!((code, error["error"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_passphrase")), "{error}");
        assert!(error.get("token").is_none());
    }
    let (code, error) = refresh(&app, &org, json!({})).await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::OK);
    // The SCIM call just made is the token's last use (and the connector's health), and the history
    // records the refused passphrases (who, when, which change); nothing else changed.
    let unused = |mut status: Value| {
        status["token"]["lastUsedAt"] = Value::Null;
        status["health"] = Value::Null;
        let history = status["history"].as_array().unwrap().iter();
        let refused = history.clone().filter(|h| h["action"] == "passphrase_refused").count();
        status["history"] = history.filter(|h| h["action"] != "passphrase_refused").cloned().collect();
        (status, refused)
    };
    let (after, refused) = unused(status(&app, &org).await);
    assert_eq!((after, refused), (unused(before).0, 2));
}

#[tokio::test]
async fn a_refresh_kills_the_old_token_at_once_and_keeps_the_url() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let old = enable(&app, &org, "90d").await;
    let (code, issued) = refresh(&app, &org, json!({ "passphrase": org.owner.passphrase, "window": "none" })).await;
    assert_eq!(code, StatusCode::OK, "{issued}");
    let new = issued["token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(issued["connectorUrl"], org.connector_url(&app));
    assert_eq!(issued["window"], "none");
    assert_eq!(issued["expiresAt"], Value::Null);
    assert_eq!(issued["tokenState"], "no_expiry");

    assert_eq!(scim_status(&app, &org.id, &old).await, StatusCode::UNAUTHORIZED);
    assert_eq!(scim_status(&app, &org.id, new).await, StatusCode::OK);
    let after = status(&app, &org).await;
    assert_eq!(after["connectorUrl"], org.connector_url(&app));
    assert_eq!(after["token"]["state"], "no_expiry");
    assert_eq!(after["history"][0]["action"], "token_refreshed");
    assert_eq!(after["history"][0]["actor"], org.owner.email);
    assert_eq!(after["history"][1]["action"], "enabled");
    assert!(!after.to_string().contains(new));

    // Without a window the current one is kept; a co-owner may refresh too.
    let co_owner = person(&app, &org.id, MemberRole::CoOwner, "co-owner").await;
    let body = json!({ "passphrase": co_owner.passphrase });
    let (code, again) =
        call(&app, Method::POST, &org.url(&app, "/scim/token/refresh"), Some(&co_owner.session), Some(body)).await;
    assert_eq!(code, StatusCode::OK, "{again}");
    assert_eq!(again["window"], "none");
    assert_eq!(scim_status(&app, &org.id, new).await, StatusCode::UNAUTHORIZED);
    assert_eq!(scim_status(&app, &org.id, again["token"].as_str().unwrap()).await, StatusCode::OK);
}

#[tokio::test]
async fn disabling_refuses_every_scim_request_until_enabled_again_with_a_new_token() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    let (code, disabled) = call(
        &app,
        Method::POST,
        &org.url(&app, "/scim/disable"),
        Some(&org.owner.session),
        Some(owner_passphrase(&org)),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["token"]["state"], "none");
    assert_eq!(disabled["warnings"][0]["code"], "scim_disabled");
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::UNAUTHORIZED);
    for route in ["/Users", "/Groups", "/ServiceProviderConfig"] {
        let url = format!("{}{route}", org.connector_url(&app));
        assert_eq!(app.get(&url, &token).send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "{route}");
    }

    let (code, body) = call(
        &app,
        Method::POST,
        &org.url(&app, "/scim/disable"),
        Some(&org.owner.session),
        Some(owner_passphrase(&org)),
    )
    .await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::CONFLICT, Some("not_enabled")));
    let (code, body) = refresh(&app, &org, json!({ "passphrase": org.owner.passphrase })).await;
    assert_eq!((code, body["error"].as_str()), (StatusCode::CONFLICT, Some("not_enabled")));

    let again = enable(&app, &org, "30d").await;
    assert_ne!(again, token);
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(scim_status(&app, &org.id, &again).await, StatusCode::OK);
    let history = status(&app, &org).await["history"].clone();
    let actions: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["enabled", "disabled", "enabled"]);
}

#[tokio::test]
async fn the_status_follows_the_token_towards_its_expiry() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    enable(&app, &org, "30d").await;
    let now = Utc::now();
    let at = |days: i64| Clock::Fixed(now + Duration::days(days));

    let soon = spawn_app_on_table(&app.table, at(15)).await;
    let session = sign_in(&soon, &org.owner.email, &org.owner.passphrase).await;
    let (_, body) = call(&soon, Method::GET, &org.url(&soon, "/scim"), Some(&session), None).await;
    assert_eq!(body["token"]["state"], "expiring_soon", "{body}");
    assert_eq!(body["token"]["daysLeft"], 15);
    assert_eq!(body["warnings"][0]["code"], "token_expiring_soon");
    assert!(body["warnings"][0]["message"].as_str().unwrap().contains("expires in 15 days"), "{body}");

    let expired = spawn_app_on_table(&app.table, at(31)).await;
    let session = sign_in(&expired, &org.owner.email, &org.owner.passphrase).await;
    let (_, body) = call(&expired, Method::GET, &org.url(&expired, "/scim"), Some(&session), None).await;
    assert_eq!(body["token"]["state"], "expired");
    assert_eq!(body["warnings"][0]["level"], "error");
    assert!(body["warnings"][0]["message"].as_str().unwrap().contains("provisioning has stopped"), "{body}");

    // A failed automatic refresh of this token, as the scheduler records it.
    let mut settings = app.store.scim_settings(&org.id).await.unwrap().unwrap();
    let failed_at = now + Duration::days(14);
    settings.last_refresh_failure = Some(RefreshFailure { reason: "the plan is not Enterprise".into(), at: failed_at });
    settings.version += 1;
    app.store.put_scim_settings(&org.id.scope(), &settings, Some(settings.version - 1)).await.unwrap();
    let (_, body) = call(
        &soon,
        Method::GET,
        &org.url(&soon, "/scim"),
        Some(&sign_in(&soon, &org.owner.email, &org.owner.passphrase).await),
        None,
    )
    .await;
    assert_eq!(body["lastRefreshFailure"]["reason"], "the plan is not Enterprise");
    let codes: Vec<&str> = body["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["token_expiring_soon", "auto_refresh_failed"]);
    assert!(body["warnings"][0]["message"].as_str().unwrap().contains("could not be refreshed automatically"));
}

#[tokio::test]
async fn the_history_pages_through_every_change_newest_first() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    enable(&app, &org, "90d").await;
    for window in ["1y", "2y"] {
        let (code, _) = refresh(&app, &org, json!({ "passphrase": org.owner.passphrase, "window": window })).await;
        assert_eq!(code, StatusCode::OK);
    }
    let (code, _) = call(
        &app,
        Method::POST,
        &org.url(&app, "/scim/disable"),
        Some(&org.owner.session),
        Some(owner_passphrase(&org)),
    )
    .await;
    assert_eq!(code, StatusCode::OK);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let mut url = org.url(&app, "/scim/history?limit=3");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let (code, page) = call(&app, Method::GET, &url, Some(&org.owner.session), None).await;
        assert_eq!(code, StatusCode::OK, "{page}");
        seen.extend(page["history"].as_array().unwrap().iter().cloned());
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let actions: Vec<&str> = seen.iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["disabled", "token_refreshed", "token_refreshed", "enabled"]);
    assert_eq!(seen[1]["window"], "2y");
    assert_eq!(seen[2]["window"], "1y");
    assert!(seen.iter().all(|h| h["actor"] == org.owner.email.as_str()));

    for bad in ["limit=0", "limit=x", "cursor=nonsense", "page=2"] {
        let (code, body) =
            call(&app, Method::GET, &org.url(&app, &format!("/scim/history?{bad}")), Some(&org.owner.session), None)
                .await;
        assert_eq!(code, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

/// Owners may turn the scheduler's automatic refresh off (a token then lives only its window) and
/// on again: with their passphrase (a wrong one changes nothing), recorded in the history, said by
/// the status.
#[tokio::test]
async fn an_owner_turns_automatic_refresh_off_and_on_with_the_passphrase() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    enable(&app, &org, "30d").await;
    assert_eq!(status(&app, &org).await["autoRefresh"], true, "on by default");
    let url = org.url(&app, "/scim/auto-refresh");
    let turn = |passphrase: &str, enabled: bool| {
        call(
            &app,
            Method::POST,
            &url,
            Some(&org.owner.session),
            Some(json!({ "passphrase": passphrase, "enabled": enabled })),
        )
    };
    let (code, error) = turn("not my passphrase", false).await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_passphrase")), "{error}");
    assert_eq!(status(&app, &org).await["autoRefresh"], true, "a wrong passphrase changes nothing");

    let (code, off) = turn(&org.owner.passphrase, false).await;
    assert_eq!(code, StatusCode::OK, "{off}");
    assert_eq!(off["autoRefresh"], false);
    let latest = &off["history"][0];
    assert_eq!(
        (latest["action"].as_str(), latest["actor"].as_str()),
        (Some("auto_refresh_off"), Some(org.owner.email.as_str()))
    );
    let settings = app.store.scim_settings(&org.id).await.unwrap().unwrap();
    assert_eq!(settings.auto_refresh, insomnia_scim::domain::AutoRefresh::Off);

    let (code, on) = turn(&org.owner.passphrase, true).await;
    assert_eq!((code, on["autoRefresh"].as_bool()), (StatusCode::OK, Some(true)), "{on}");
    assert_eq!(on["history"][0]["action"], "auto_refresh_on");
    let (code, error) =
        call(&app, Method::POST, &url, Some(&org.owner.session), Some(json!({ "passphrase": org.owner.passphrase })))
            .await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{error}");
}

/// A refresh refused because the organization no longer meets a requirement says refresh (not
/// "enable"), names the requirement and what to do.
#[tokio::test]
async fn a_refresh_refused_for_an_unmet_requirement_says_refresh_and_what_to_do() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    enable(&app, &org, "30d").await;
    let (mut organization, _) = app.store.organization(&org.id.scope()).await.unwrap().unwrap();
    organization.plan = insomnia_scim::domain::Plan::Team;
    app.store.update_organization(&organization).await.unwrap();
    let (code, error) = refresh(&app, &org, owner_passphrase(&org)).await;
    assert_eq!((code, error["error"].as_str()), (StatusCode::FORBIDDEN, Some("requirements_unmet")), "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("The token cannot be refreshed"), "{message}");
    assert!(!message.contains("enabled"), "{message}");
    assert!(message.contains("Enterprise plan") && message.contains("then refresh again"), "{message}");
    assert_eq!(error["unmet"][0]["requirement"], "enterprise_plan", "{error}");
}
