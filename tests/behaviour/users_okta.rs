//! Okta's provisioning flow against /Users, with the requests exactly as Okta's SCIM 2.0 reference
//! shows them (developer.okta.com/docs/reference/scim/scim-20): Test Connector Configuration,
//! lookup by `userName eq`, create, profile update by PUT, deactivate and reactivate by PATCH.
use crate::helpers::OperatorScope;
use insomnia_scim::domain::MemberRole;
use insomnia_scim::store::ManagedBy;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, ScimOrg, TestApp};
use crate::scim_client::{
    created_id, empty_list_response, encode, licenses, okta, okta_user_body, send, with_utf8_body, LIST_SCHEMA,
    OKTA_AGENT, PATCH_SCHEMA, USER_SCHEMA,
};

fn lookup_path(user_name: &str) -> String {
    format!("/Users?filter={}&startIndex=1&count=100", encode(&format!("userName eq \"{user_name}\"")))
}

/// The body of Okta's "Create the User" request.
fn okta_create_body() -> Value {
    okta_user_body("test.user@okta.local", "00ujl29u0le5T6Aj10h7")
}

/// The body of Okta's "Update the User" PUT: the full user, with id, groups and meta.
fn okta_put_body(id: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "id": id,
        "userName": "test.user@okta.local",
        "name": {
            "givenName": "Another",
            "middleName": "Excited",
            "familyName": "User"
        },
        "emails": [{
            "primary": true,
            "value": "test.user@okta.local",
            "type": "work",
            "display": "test.user@okta.local"
        }],
        "active": true,
        "groups": [],
        "meta": {
            "resourceType": "User"
        }
    })
}

fn okta_active_patch(active: bool) -> Value {
    json!({
        "schemas": [PATCH_SCHEMA],
        "Operations": [{
            "op": "replace",
            "value": {
                "active": active
            }
        }]
    })
}

async fn okta_create(app: &TestApp, org: &ScimOrg) -> String {
    created_id(with_utf8_body(okta(app, org, Method::POST, "/Users"), &okta_create_body())).await
}

fn without(mut value: Value, keys: &[&str]) -> Value {
    if let Some(object) = value.as_object_mut() {
        for key in keys {
            object.remove(*key);
        }
    }
    value
}

#[tokio::test]
async fn okta_test_connector_configuration_gets_a_list_response_of_two() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for email in ["ann@example.com", "bob@example.com", "cy@example.com"] {
        app.add_manual_member(&org.id, email, MemberRole::Member, "a manual passphrase").await;
    }
    let (status, headers, body) = send(okta(&app, &org, Method::GET, "/Users?startIndex=1&count=2")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/scim+json");
    assert_eq!(body["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(body["totalResults"], 3, "manual members are listed too");
    assert_eq!(body["itemsPerPage"], 2);
    assert_eq!(body["startIndex"], 1);
    let resources = body["Resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2);
    for resource in resources {
        assert!(resource["id"].as_str().is_some_and(|id| !id.is_empty()), "{resource}");
        assert_eq!(resource["meta"]["resourceType"], "User");
    }
}

#[tokio::test]
async fn okta_test_connector_configuration_on_an_empty_organization_is_an_empty_list() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (status, _, body) = send(okta(&app, &org, Method::GET, "/Users?startIndex=1&count=2")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["schemas"], json!([LIST_SCHEMA]));
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["itemsPerPage"], 0);
    assert_eq!(body["startIndex"], 1);
    assert_eq!(body["Resources"], json!([]));
}

#[tokio::test]
async fn okta_lookup_of_an_unknown_user_name_is_an_empty_list_response() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (status, headers, body) = send(okta(&app, &org, Method::GET, &lookup_path("test.user@okta.local"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["content-type"], "application/scim+json");
    assert_eq!(body, empty_list_response());
}

#[tokio::test]
async fn okta_create_returns_the_user_as_sent_without_the_password() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let (status, headers, body) =
        send(with_utf8_body(okta(&app, &org, Method::POST, "/Users"), &okta_create_body())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(headers["content-type"], "application/scim+json");
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());
    let location = format!("{}/Users/{id}", org.base);
    assert_eq!(headers["location"], location.as_str());
    assert_eq!(headers["etag"], "W/\"1\"");
    assert_eq!(body["meta"]["resourceType"], "User");
    assert_eq!(body["meta"]["location"], location);
    assert_eq!(body["meta"]["version"], "W/\"1\"");
    assert!(body["meta"]["created"].is_string() && body["meta"]["lastModified"].is_string(), "{body}");
    let expected = json!({
        "schemas": [USER_SCHEMA],
        "id": id,
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "active": true
    });
    assert_eq!(without(body.clone(), &["meta", "groups"]), expected);
    assert!(body.get("password").is_none(), "the password is never returned: {body}");

    let table = app.dump_table().await;
    assert!(!table.contains("1mz050nq"), "the password Okta sends is never stored");
}

#[tokio::test]
async fn okta_create_makes_a_scim_managed_member_consuming_a_scim_license() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    assert_eq!(licenses(&app, &org).await, (0, 0));
    let id = okta_create(&app, &org).await;
    assert_eq!(licenses(&app, &org).await, (1, 0));
    let members = app.store.members(&org.id.scope()).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].id, id);
    assert_eq!(members[0].managed_by, ManagedBy::Scim);
    assert!(members[0].active);
    assert_eq!(members[0].email.as_str(), "test.user@okta.local");
    assert_eq!(members[0].user_name, "test.user@okta.local");
}

#[tokio::test]
async fn okta_lookup_after_create_finds_the_user_whatever_the_case() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = okta_create(&app, &org).await;
    for user_name in ["test.user@okta.local", "TEST.User@OKTA.local"] {
        let (status, _, body) = send(okta(&app, &org, Method::GET, &lookup_path(user_name))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["totalResults"], 1, "{user_name}: {body}");
        assert_eq!(body["itemsPerPage"], 1);
        assert_eq!(body["Resources"][0]["id"], id.as_str());
        assert_eq!(body["Resources"][0]["userName"], "test.user@okta.local");
    }
}

#[tokio::test]
async fn okta_profile_update_by_put_replaces_the_profile() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = okta_create(&app, &org).await;
    // Okta reads the user first, then PUTs the whole user back with its changes.
    let (status, headers, _) = send(okta(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["etag"], "W/\"1\"");

    let (status, headers, body) =
        send(with_utf8_body(okta(&app, &org, Method::PUT, &format!("/Users/{id}")), &okta_put_body(&id))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["etag"], "W/\"2\"");
    assert_eq!(body["meta"]["version"], "W/\"2\"");
    // `emails.display` is read-only in the service's /Schemas (RFC 7643 §2.4), so the copy Okta
    // echoes back is ignored.
    let expected = json!({
        "schemas": [USER_SCHEMA],
        "id": id,
        "userName": "test.user@okta.local",
        "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "active": true
    });
    assert_eq!(without(body, &["meta", "groups"]), expected, "PUT replaces: attributes left out are gone");

    let (_, _, read) = send(okta(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    assert_eq!(without(read, &["meta", "groups"]), expected);
    assert_eq!(licenses(&app, &org).await, (1, 0), "a profile update keeps the license");
}

#[tokio::test]
async fn okta_deactivation_patch_sets_active_false_and_frees_the_license() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = okta_create(&app, &org).await;
    assert_eq!(licenses(&app, &org).await, (1, 0));

    let (status, headers, body) =
        send(with_utf8_body(okta(&app, &org, Method::PATCH, &format!("/Users/{id}")), &okta_active_patch(false))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], json!(false));
    assert_eq!(body["userName"], "test.user@okta.local");
    assert_eq!(headers["etag"], "W/\"2\"");
    assert_eq!(licenses(&app, &org).await, (0, 0));
    app.flush_logs().await;
    let logs = app.store.recent_request_logs(&org.id.scope(), 1).await.unwrap();
    assert_eq!(logs[0].method, "PATCH");
    assert_eq!(logs[0].status, 200);
    assert!(logs[0].tolerances.is_empty(), "Okta's deactivation is plain RFC 7644: {:?}", logs[0].tolerances);

    let (status, _, read) = send(okta(&app, &org, Method::GET, &format!("/Users/{id}"))).await;
    assert_eq!(status, StatusCode::OK, "a deactivated user is still returned");
    assert_eq!(read["active"], json!(false));
    let members = app.store.members(&org.id.scope()).await.unwrap();
    assert_eq!(members.len(), 1, "deactivation keeps the member");
    assert!(!members[0].active);
}

#[tokio::test]
async fn okta_reactivation_patch_restores_access_and_the_license() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let id = okta_create(&app, &org).await;
    let path = format!("/Users/{id}");
    let (status, _, _) = send(with_utf8_body(okta(&app, &org, Method::PATCH, &path), &okta_active_patch(false))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(licenses(&app, &org).await, (0, 0));

    let (status, headers, body) =
        send(with_utf8_body(okta(&app, &org, Method::PATCH, &path), &okta_active_patch(true))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], json!(true));
    assert_eq!(headers["etag"], "W/\"3\"");
    assert_eq!(licenses(&app, &org).await, (1, 0));
    let members = app.store.members(&org.id.scope()).await.unwrap();
    assert_eq!(members.len(), 1);
    assert!(members[0].active);
    assert_eq!(members[0].managed_by, ManagedBy::Scim);
}

#[tokio::test]
async fn okta_full_flow_keeps_licenses_right_at_each_step_and_is_logged_as_okta() {
    let app = spawn_app().await;
    let org = app.scim_org().await;

    // Test Connector Configuration.
    let (status, _, body) = send(okta(&app, &org, Method::GET, "/Users?startIndex=1&count=2")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 0);
    assert_eq!(licenses(&app, &org).await, (0, 0));

    // Assignment: lookup, then create.
    let (status, _, body) = send(okta(&app, &org, Method::GET, &lookup_path("test.user@okta.local"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"], json!([]));
    let id = okta_create(&app, &org).await;
    assert_eq!(licenses(&app, &org).await, (1, 0));

    // Profile update: read, then PUT.
    let path = format!("/Users/{id}");
    let (status, _, _) = send(okta(&app, &org, Method::GET, &path)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = send(with_utf8_body(okta(&app, &org, Method::PUT, &path), &okta_put_body(&id))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"]["middleName"], "Excited");
    assert_eq!(licenses(&app, &org).await, (1, 0));

    // Deactivate, then reactivate.
    let (status, _, body) =
        send(with_utf8_body(okta(&app, &org, Method::PATCH, &path), &okta_active_patch(false))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(licenses(&app, &org).await, (0, 0));
    let (status, _, body) =
        send(with_utf8_body(okta(&app, &org, Method::PATCH, &path), &okta_active_patch(true))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["meta"]["version"], "W/\"4\"");
    assert_eq!(licenses(&app, &org).await, (1, 0));
    assert_eq!(app.store.members(&org.id.scope()).await.unwrap().len(), 1);

    app.flush_logs().await;
    let logs = app.store.recent_request_logs(&org.id.scope(), 20).await.unwrap();
    let seen: Vec<(&str, u16)> = logs.iter().map(|l| (l.method.as_str(), l.status)).collect();
    assert_eq!(
        seen,
        [("PATCH", 200), ("PATCH", 200), ("PUT", 200), ("GET", 200), ("POST", 201), ("GET", 200), ("GET", 200)],
        "newest first"
    );
    for log in &logs {
        assert_eq!(log.idp, "okta", "{log:?}");
        assert_eq!(log.user_agent.as_deref(), Some(OKTA_AGENT));
        assert_eq!(log.resource_type.as_deref(), Some("Users"), "{log:?}");
    }
    // Okta's PATCHes and GETs are plain RFC 7644 (its POST and PUT carry read-only `groups`/`meta`,
    // which the service may record as ignored).
    for log in logs.iter().filter(|l| l.method != "POST" && l.method != "PUT") {
        assert!(log.tolerances.is_empty(), "{log:?}");
    }
    assert_eq!(logs[4].path, format!("/scim/v2/orgs/{}/Users", org.id));
    assert_eq!(logs[2].path, format!("/scim/v2/orgs/{}/Users/{id}", org.id));
    assert_eq!(logs[6].query.as_deref(), Some("startIndex=1&count=2"));
}
