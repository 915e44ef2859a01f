//! Tenant isolation on every route of the route table: a caller without a valid credential for
//! the organization in the URL is refused on every SCIM and console route, with every method it
//! serves, and the refusal changes nothing in the table (only the organization's request log
//! may record the refused request).
use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, Utc};
use insomnia_scim::api::routes::{Method as RouteMethod, Route, ROUTES};
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::OrgId;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{call, console_org, enable, sign_in, ConsoleOrg};
use crate::helpers::{spawn_app, spawn_app_on_table, ScimOrg, TestApp};
use crate::scim_client::{
    created_id, group_body, patch_body, scim, unique_email, user_with_work_email, with_body, ERROR_SCHEMA, SCIM_JSON,
    SEARCH_SCHEMA, USER_SCHEMA,
};

const NOT_VALID: &str = "not valid for this organization";
const MALFORMED: &str = "must have the form 'Bearer <token>'";

type Items = BTreeMap<(String, String), std::collections::HashMap<String, AttributeValue>>;

/// Every item of the test's table except request-log records (`ORG#…#LOG`) and fair-use counters
/// (`RATE#…`: a token that stops being valid is counted once more per instance, in its own bucket,
/// before it is forgotten; docs/ARCHITECTURE.md, "Fair use"), by key.
async fn table_items(app: &TestApp) -> Items {
    app.flush_logs().await;
    let pages: Vec<_> =
        app.store.client().scan().table_name(&app.table).into_paginator().items().send().collect().await;
    let text = |item: &std::collections::HashMap<String, AttributeValue>, key: &str| {
        item.get(key).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
    };
    pages
        .into_iter()
        .map(|item| item.unwrap())
        .filter(|item| {
            let pk = text(item, "PK");
            let counter = text(item, "SK").starts_with("RATE#")
                && item.keys().all(|k| ["PK", "SK", "n", "ttl"].contains(&k.as_str()));
            let log = pk.starts_with("ORG#") && pk.ends_with("#LOG");
            // The counters that bound how many refused requests are logged (they belong to the log).
            let log_counter = pk.starts_with("ATTEMPTS#UNAUTHLOG#");
            // Connector health is counted from the log as it is written (docs/ARCHITECTURE.md,
            // "Connector health"): a refused request counts there too, by design.
            let health = text(item, "SK") == "HEALTH" || pk == "HEALTHROSTER";
            !(log || counter || log_counter || health)
        })
        .map(|item| ((text(&item, "PK"), text(&item, "SK")), item))
        .collect()
}

fn assert_unchanged(before: &Items, after: &Items, probe: &str) {
    assert_changes(before, after, probe, 0);
}

/// Nothing added or changed, and only `removed_sessions` session items removed (a presented
/// expired session is deleted: moto, like DynamoDB's TTL, does not remove it on time).
fn assert_changes(before: &Items, after: &Items, probe: &str, removed_sessions: usize) {
    let added: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    let removed: Vec<_> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    let changed: Vec<_> =
        before.iter().filter(|(k, v)| after.get(*k).is_some_and(|a| a != *v)).map(|(k, _)| k).collect();
    let only_sessions = removed.len() == removed_sessions && removed.iter().all(|(pk, _)| pk.starts_with("SESSION#"));
    assert!(
        added.is_empty() && only_sessions && changed.is_empty(),
        "{probe} changed the table: added {added:?}, removed {removed:?}, changed {changed:?}"
    );
}

/// An organization of the test with a real user and a real group, reached through `server`.
struct Target {
    org: OrgId,
    user_id: String,
    group_id: String,
    /// The owner's passphrase, as a console body would carry it.
    passphrase: String,
}

impl Target {
    /// The concrete URL of `route` for this organization on `server`.
    fn url(&self, server: &TestApp, route: &Route) -> String {
        let resource_id = if route.path.contains("/Users/") {
            self.user_id.as_str()
        } else if route.path.contains("/Groups/") {
            self.group_id.as_str()
        } else if route.path.contains("/Schemas/") {
            USER_SCHEMA
        } else {
            "User"
        };
        let path = route.path.replace("{orgId}", self.org.as_str()).replace("{id}", resource_id);
        format!("{}{path}", server.address)
    }
}

/// A body that the route's owner could send.
fn body_for(route: &Route, target: &Target) -> Option<Value> {
    let path = route.path;
    let email = unique_email("isolation");
    match route.method {
        RouteMethod::Get | RouteMethod::Delete => None,
        _ if path.ends_with("/.search") => Some(json!({"schemas": [SEARCH_SCHEMA], "filter": "userName pr"})),
        _ if path.ends_with("/scim/enable") => {
            Some(json!({"idp": "okta", "window": "90d", "passphrase": target.passphrase}))
        }
        _ if path.ends_with("/scim/token/refresh") => Some(json!({"passphrase": target.passphrase})),
        _ if path.starts_with("/admin/") => None,
        RouteMethod::Patch if path.contains("/Users/") => {
            Some(patch_body(json!([{"op": "replace", "path": "active", "value": false}])))
        }
        RouteMethod::Patch => {
            Some(patch_body(json!([{"op": "add", "path": "members", "value": [{"value": target.user_id}]}])))
        }
        _ if path.contains("/Users") => Some(user_with_work_email(&email)),
        _ => Some(group_body(&format!("isolation {email}"), &[&target.user_id])),
    }
}

fn scim_routes() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(|route| route.path.starts_with("/scim/v2/orgs/{orgId}/"))
}

fn console_routes() -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(|route| route.path.starts_with("/admin/orgs/{orgId}"))
}

fn method_of(route: &Route) -> Method {
    Method::from_bytes(route.method.as_str().as_bytes()).unwrap()
}

/// Sends `route` of `target` on `server` with this Authorization header (none when None).
async fn send(server: &TestApp, route: &Route, target: &Target, authorization: Option<&str>) -> reqwest::Response {
    let mut request = server.http.request(method_of(route), target.url(server, route)).header("accept", SCIM_JSON);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if let Some(body) = body_for(route, target) {
        request = request.header("content-type", SCIM_JSON).body(body.to_string());
    }
    request.send().await.unwrap()
}

/// Every SCIM route of `target`, every method, with `authorization`: 401 with a SCIM error body.
/// The error's detail names `detail_part` (what the caller must fix).
async fn assert_scim_refused_everywhere(
    server: &TestApp,
    target: &Target,
    authorization: Option<&str>,
    detail_part: &str,
    probe: &str,
) {
    let mut walked = 0;
    for route in scim_routes() {
        let response = send(server, route, target, authorization).await;
        let status = response.status();
        let content_type = response.headers().get("content-type").cloned();
        assert!(response.headers().contains_key("www-authenticate"), "{probe}: {route:?}");
        let body: Value = response.json().await.unwrap_or_default();
        let shown: String = body.to_string().chars().take(300).collect();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{probe}: {route:?} answered {shown}");
        assert_eq!(content_type.as_ref().and_then(|v| v.to_str().ok()), Some(SCIM_JSON), "{probe}: {route:?}");
        assert_eq!(body["schemas"][0], ERROR_SCHEMA, "{probe}: {route:?} answered {shown}");
        assert_eq!(body["status"], "401", "{probe}: {route:?} answered {shown}");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(detail_part), "{probe}: {route:?} answered {shown}");
        walked += 1;
    }
    assert!(walked >= 19, "the route table lost SCIM routes");
}

/// An organization with SCIM enabled from the console (window `window`), a signed-in owner, a user
/// and a group.
async fn scim_target(app: &TestApp, window: &str) -> (ConsoleOrg, ScimOrg, Target) {
    let console = console_org(app).await;
    let token = enable(app, &console, window).await;
    let scim_org = ScimOrg { id: console.id.clone(), base: console.connector_url(app), token };
    let user = user_with_work_email(&unique_email("member"));
    let user_id = created_id(with_body(scim(app, &scim_org, Method::POST, "/Users"), &user)).await;
    let group = group_body(&format!("team {}", uuid::Uuid::new_v4().simple()), &[&user_id]);
    let group_id = created_id(with_body(scim(app, &scim_org, Method::POST, "/Groups"), &group)).await;
    let target = Target { org: console.id.clone(), user_id, group_id, passphrase: console.owner.passphrase.clone() };
    (console, scim_org, target)
}

#[tokio::test]
async fn no_credential_but_the_organizations_own_passes_any_route_and_a_refusal_writes_nothing() {
    let app = spawn_app().await;
    // The target's token lasts 30 days, so that it has expired on a server 31 days from now.
    let (target_console, target_scim, target) = scim_target(&app, "30d").await;
    let (other_console, other_scim, _) = scim_target(&app, "90d").await;
    let (disabled_console, disabled_scim, disabled) = scim_target(&app, "90d").await;
    let (code, body) = call(
        &app,
        Method::POST,
        &disabled_console.url(&app, "/scim/disable"),
        Some(&disabled_console.owner.session),
        Some(json!({ "passphrase": disabled_console.owner.passphrase })),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let later = spawn_app_on_table(&app.table, Clock::Fixed(Utc::now() + Duration::days(31))).await;

    let before = table_items(&app).await;
    let another = format!("Bearer {}", other_scim.token);
    assert_scim_refused_everywhere(&app, &target, Some(&another), NOT_VALID, "another organization's token").await;
    let own_but_disabled = format!("Bearer {}", disabled_scim.token);
    assert_scim_refused_everywhere(
        &app,
        &disabled,
        Some(&own_but_disabled),
        NOT_VALID,
        "a disabled organization's token",
    )
    .await;
    let expired = format!("Bearer {}", target_scim.token);
    assert_scim_refused_everywhere(&later, &target, Some(&expired), "expired", "an expired token").await;
    for malformed in [format!("Basic {}", target_scim.token), target_scim.token.clone(), "Bearer".to_owned()] {
        assert_scim_refused_everywhere(&app, &target, Some(&malformed), MALFORMED, "a malformed Authorization header")
            .await;
    }
    assert_scim_refused_everywhere(&app, &target, None, "Bearer token is required", "no Authorization header").await;
    later.flush_logs().await;
    assert_unchanged(&before, &table_items(&app).await, "a refused SCIM request");

    // The console routes of the target: another organization's owner, an expired, unknown or
    // malformed session, none.
    let forged = "isess_forged_session_value".to_owned();
    let probes: Vec<(&TestApp, Option<String>, &[StatusCode], &str)> = vec![
        (
            &app,
            Some(format!("Bearer {}", other_console.owner.session)),
            &[StatusCode::FORBIDDEN, StatusCode::NOT_FOUND],
            "another organization's owner",
        ),
        (&app, Some(format!("Bearer {forged}")), &[StatusCode::UNAUTHORIZED], "an unknown session"),
        (&app, Some(format!("Basic {}", target_console.owner.session)), &[StatusCode::UNAUTHORIZED], "a Basic header"),
        (&app, Some(target_console.owner.session.clone()), &[StatusCode::UNAUTHORIZED], "a header without scheme"),
        (&app, Some("Bearer".to_owned()), &[StatusCode::UNAUTHORIZED], "a header without session"),
        (&app, None, &[StatusCode::UNAUTHORIZED], "no session"),
        // Last: the target owner's own session, expired on the later server, which deletes it.
        (
            &later,
            Some(format!("Bearer {}", target_console.owner.session)),
            &[StatusCode::UNAUTHORIZED],
            "an expired session",
        ),
    ];
    let mut walked = 0;
    for (server, authorization, allowed, probe) in &probes {
        let before = table_items(&app).await;
        for route in console_routes() {
            let response = send(server, route, &target, authorization.as_deref()).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap_or_default();
            assert!(allowed.contains(&status), "{probe}: {route:?} answered {status} {body}");
            assert!(body["error"].is_string() && body["message"].is_string(), "{probe}: {route:?}: {body}");
            walked += 1;
        }
        server.flush_logs().await;
        let expired = usize::from(*probe == "an expired session");
        assert_changes(&before, &table_items(&app).await, probe, expired);
    }
    assert!(walked >= 7 * probes.len(), "the route table lost console routes");

    // The same walk with the organization's own credentials is let in (so the refusals above come
    // from the credential, not from the URL, the id or the body).
    let own = format!("Bearer {}", target_scim.token);
    for route in scim_routes() {
        let status = send(&app, route, &target, Some(&own)).await.status();
        // A search across resource types is not offered: 501 after the token check.
        let not_offered = route.path.ends_with("{orgId}/.search") && status == StatusCode::NOT_IMPLEMENTED;
        assert!(
            status != StatusCode::UNAUTHORIZED && (!status.is_server_error() || not_offered),
            "own token: {route:?} answered {status}"
        );
    }
    // A new session: the expired probe removed the first one.
    let session = sign_in(&app, &target_console.owner.email, &target_console.owner.passphrase).await;
    let owner = format!("Bearer {session}");
    for route in console_routes() {
        let status = send(&app, route, &target, Some(&owner)).await.status();
        assert!(
            status.is_success() || status == StatusCode::CONFLICT || status == StatusCode::BAD_REQUEST,
            "owner: {route:?} answered {status}"
        );
    }
}
