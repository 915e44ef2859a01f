//! Tokens never reach the table, the request log or the process logs; the request log records
//! each SCIM request of a known organization.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, OperatorScope, ScimOrg, TestApp};
use crate::scim_client::{
    created_id, encode, patch_body, scim, send, unique_email, user_with_work_email, with_body, SEARCH_SCHEMA,
    USER_SCHEMA,
};

#[tokio::test]
async fn no_token_value_is_stored_or_logged() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let wrong = "iscim_this-is-a-wrong-but-plausible-token";
    for token in [org.token.as_str(), wrong] {
        app.http
            .get(format!("{}/ServiceProviderConfig?filter=x", org.base))
            .bearer_auth(token)
            .header("user-agent", "Okta SCIM Client 1.0.0")
            .send()
            .await
            .unwrap();
    }
    app.flush_logs().await;

    let table = app.dump_table().await;
    let logs = app.store.recent_request_logs(&org.id.scope(), 10).await.unwrap();
    let process_logs = crate::helpers::process_logs();
    assert!(!process_logs.is_empty(), "the capture must see the service's traces");
    for secret in [org.token.as_str(), wrong] {
        assert!(!table.contains(secret), "token found in the table");
        assert!(!format!("{logs:?}").contains(secret), "token found in the request log");
        assert!(!process_logs.contains(secret), "token found in the process logs");
    }
    assert!(!table.to_lowercase().contains("authorization"), "no header is stored");
}

#[tokio::test]
async fn each_scim_request_is_recorded_newest_first() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let ok = app
        .http
        .get(format!("{}/Schemas?attributes=id", org.base))
        .bearer_auth(&org.token)
        .header("user-agent", "Okta SCIM Client 1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let request_id = ok.headers()["x-request-id"].to_str().unwrap().to_owned();
    app.flush_logs().await;
    let denied = app
        .http
        .get(format!("{}/ServiceProviderConfig", org.base))
        .bearer_auth("iscim_wrong")
        .header("user-agent", "Microsoft.Identity.Provisioning")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    app.flush_logs().await;

    let logs = app.store.recent_request_logs(&org.id.scope(), 10).await.unwrap();
    assert_eq!(logs.len(), 2, "{logs:#?}");
    let (newest, oldest) = (&logs[0], &logs[1]);
    assert_eq!(newest.status, 401);
    assert_eq!(newest.idp, "azure");
    assert!(newest.detail.as_deref().unwrap().contains("not valid"));
    assert_eq!(newest.resource_type.as_deref(), Some("ServiceProviderConfig"));
    assert_eq!(oldest.status, 200);
    assert_eq!(oldest.method, "GET");
    assert_eq!(oldest.path, format!("/scim/v2/orgs/{}/Schemas", org.id));
    assert_eq!(oldest.query.as_deref(), Some("attributes=id"));
    assert_eq!(oldest.idp, "okta");
    assert_eq!(oldest.request_id, request_id);
    assert!(oldest.scim_type.is_none() && oldest.detail.is_none());
}

#[tokio::test]
async fn requests_for_unknown_organizations_are_not_recorded() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    app.get(&format!("{}/scim/v2/orgs/ghost/Schemas", app.address), &org.token).send().await.unwrap();
    app.flush_logs().await;
    let ghost = insomnia_scim::domain::OrgId::parse("ghost").unwrap();
    assert!(app.store.recent_request_logs(&ghost.scope(), 10).await.unwrap().is_empty());
}

// No secret is ever stored or returned: a User's `password` (writeOnly, returned never) in any
// spelling and on any write, and a bearer token put in a URL. Each test scans its own table.

/// Whether any key or string anywhere in `value` mentions a password or holds `secret`.
fn exposes(value: &Value, secret: &str) -> bool {
    match value {
        Value::String(s) => s.contains(secret),
        Value::Array(items) => items.iter().any(|v| exposes(v, secret)),
        Value::Object(map) => {
            map.iter().any(|(k, v)| k.to_ascii_lowercase().contains("password") || exposes(v, secret))
        }
        _ => false,
    }
}

/// Every way to read the user back: GET (plain, asking for `password` by each spelling), list,
/// filter, `.search`. None may show the secret or a password attribute.
async fn assert_never_returned(app: &TestApp, org: &ScimOrg, id: &str, secret: &str) {
    let email = {
        let (_, _, user) = send(scim(app, org, Method::GET, &format!("/Users/{id}"))).await;
        user["userName"].as_str().unwrap().to_owned()
    };
    let reads = [
        format!("/Users/{id}"),
        format!("/Users/{id}?attributes=password"),
        format!("/Users/{id}?attributes={}", encode(&format!("{USER_SCHEMA}:password"))),
        format!("/Users/{id}?attributes=PASSWORD,userName"),
        format!("/Users/{id}?excludedAttributes=emails"),
        "/Users?attributes=password".to_owned(),
        format!("/Users?filter={}", encode(&format!("userName eq \"{email}\""))),
        format!("/Users?filter={}&attributes=password", encode("password pr")),
    ];
    for path in reads {
        let (status, _, body) = send(scim(app, org, Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(!exposes(&body, secret), "{path} returned a password: {body}");
    }
    let search = json!({"schemas": [SEARCH_SCHEMA], "attributes": ["password", "userName"]});
    let (status, _, body) = send(with_body(scim(app, org, Method::POST, "/Users/.search"), &search)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!exposes(&body, secret), ".search returned a password: {body}");
    app.flush_logs().await;
    assert!(!app.dump_table().await.contains(secret), "the password was stored");
}

/// The PATCH operations a client may set a password with (path in any case or as a URN, or in a
/// value object), each as a function of the password.
pub(crate) fn password_patch_forms() -> Vec<fn(&str) -> Value> {
    vec![
        |s| json!([{"op": "replace", "path": "password", "value": s}]),
        |s| json!([{"op": "add", "path": "PASSWORD", "value": s}]),
        |s| json!([{"op": "Replace", "path": format!("{USER_SCHEMA}:password"), "value": s}]),
        |s| json!([{"op": "replace", "value": {"password": s, "displayName": "Pat"}}]),
        |s| json!([{"op": "add", "value": {format!("{USER_SCHEMA}:password"): s}}]),
        |s| json!([{"op": "replace", "value": {USER_SCHEMA: {"password": s}}}]),
    ]
}

/// The spellings a client may use for the core `password` attribute as a key in a body.
pub(crate) fn password_keys() -> Vec<String> {
    vec![
        "password".to_owned(),
        "Password".to_owned(),
        format!("{USER_SCHEMA}:password"),
        format!("{USER_SCHEMA}:Password"),
        format!("{}:PASSWORD", USER_SCHEMA.to_uppercase()),
    ]
}

#[tokio::test]
async fn a_password_sent_on_post_in_any_spelling_is_neither_stored_nor_returned() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for (i, key) in password_keys().into_iter().enumerate() {
        let secret = format!("Post-Secret-{i}-{}", uuid::Uuid::new_v4().simple());
        let mut body = user_with_work_email(&unique_email("pw-post"));
        body[key.as_str()] = json!(secret);
        let (status, _, created) = send(with_body(scim(&app, &org, Method::POST, "/Users"), &body)).await;
        assert_eq!(status, StatusCode::CREATED, "{key}: {created}");
        assert!(!exposes(&created, &secret), "POST with {key} answered the password: {created}");
        assert_never_returned(&app, &org, created["id"].as_str().unwrap(), &secret).await;
    }
}

#[tokio::test]
async fn a_password_sent_on_put_is_neither_stored_nor_returned() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let email = unique_email("pw-put");
    let id = created_id(with_body(scim(&app, &org, Method::POST, "/Users"), &user_with_work_email(&email))).await;
    for (i, key) in password_keys().into_iter().enumerate() {
        let secret = format!("Put-Secret-{i}-{}", uuid::Uuid::new_v4().simple());
        let mut body = user_with_work_email(&email);
        body[key.as_str()] = json!(secret);
        let (status, _, replaced) =
            send(with_body(scim(&app, &org, Method::PUT, &format!("/Users/{id}")), &body)).await;
        assert_eq!(status, StatusCode::OK, "{key}: {replaced}");
        assert!(!exposes(&replaced, &secret), "PUT with {key} answered the password: {replaced}");
        assert_never_returned(&app, &org, &id, &secret).await;
    }
}

#[tokio::test]
async fn a_password_sent_by_patch_in_any_form_is_neither_stored_nor_returned() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = created_id(with_body(
        scim(&app, &org, Method::POST, "/Users"),
        &user_with_work_email(&unique_email("pw-patch")),
    ))
    .await;
    let forms = password_patch_forms();
    for (i, form) in forms.iter().enumerate() {
        let secret = format!("Patch-Secret-{i}-{}", uuid::Uuid::new_v4().simple());
        let request = with_body(scim(&app, &org, Method::PATCH, &format!("/Users/{id}")), &patch_body(form(&secret)));
        let (status, _, patched) = send(request).await;
        assert!(status == StatusCode::OK || status == StatusCode::NO_CONTENT, "form {i}: {status} {patched}");
        assert!(!exposes(&patched, &secret), "PATCH form {i} answered the password: {patched}");
        assert_never_returned(&app, &org, &id, &secret).await;
    }
}

#[tokio::test]
async fn a_token_put_in_the_url_is_never_written_to_the_request_log() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    // An opaque credential that does not look like one of ours: masked because it was presented.
    let opaque = format!("opaque.{}", uuid::Uuid::new_v4().simple());
    let requests = [
        (org.token.clone(), format!("/Users?access_token={}", org.token)),
        (org.token.clone(), format!("/Users?startIndex=1&x={}", org.token)),
        (org.token.clone(), format!("/Users/{}", org.token)),
        (org.token.clone(), format!("/Users?filter={}", encode(&format!("userName eq \"{}\"", org.token)))),
        (opaque.clone(), format!("/Users?token_hint={opaque}")),
        (opaque.clone(), format!("/Groups/{opaque}")),
    ];
    for (bearer, path) in &requests {
        let response = app.http.get(format!("{}{path}", org.base)).bearer_auth(bearer).send().await.unwrap();
        assert!(response.status().is_client_error() || response.status().is_success(), "{path}");
    }
    app.flush_logs().await;
    let table = app.dump_table().await;
    for secret in [org.token.as_str(), opaque.as_str()] {
        assert!(!table.contains(secret), "a token from a URL was stored in the table");
    }
    let logs = app.store.recent_request_logs(&org.id.scope(), 20).await.unwrap();
    assert_eq!(logs.len(), requests.len(), "every request is still logged");
    assert!(logs.iter().all(|l| !l.path.contains(opaque.as_str()) && !l.path.contains(org.token.as_str())));
    assert!(logs.iter().any(|l| l.query.as_deref().is_some_and(|q| q.contains("access_token=[redacted]"))));
    // What is not secret stays readable for the admin.
    assert!(logs.iter().any(|l| l.query.as_deref().is_some_and(|q| q.starts_with("startIndex=1&"))));
}

#[tokio::test]
async fn an_error_detail_that_echoes_a_secret_is_masked_before_it_is_stored() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let secret = format!("Hunter2-{}", uuid::Uuid::new_v4().simple());
    // A bad filter whose error detail quotes the input, a password comparison among it.
    let filter = format!("password eq \"{secret}\" and (");
    let (status, _, body) = send(scim(&app, &org, Method::GET, &format!("/Users?filter={}", encode(&filter)))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!body.to_string().contains(&secret), "the answer echoed a password: {body}");
    // A token pasted into a body attribute name would be quoted in the error detail.
    let pasted = json!({"schemas": [USER_SCHEMA], "userName": "x@example.com", org.token.clone(): "x"});
    let (status, _, body) = send(with_body(scim(&app, &org, Method::POST, "/Users"), &pasted)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.to_string().contains(&org.token), "the answer echoed a token: {body}");
    assert!(body["detail"].as_str().unwrap().contains("[redacted]"), "{body}");
    app.flush_logs().await;
    let table = app.dump_table().await;
    assert!(!table.contains(&secret), "a password from a filter was stored");
    assert!(!table.contains(&org.token), "a token from an error detail was stored");
    let logs = app.store.recent_request_logs(&org.id.scope(), 5).await.unwrap();
    assert_eq!(logs.len(), 2);
    assert!(logs.iter().all(|l| l.detail.is_some()), "the details are still kept, masked");
}
