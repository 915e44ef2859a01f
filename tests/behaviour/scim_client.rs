//! The small SCIM client the behaviour tests share: requests to an organization's connector (as a
//! plain client, as Okta or as Microsoft Entra ID), JSON bodies, sending, query encoding, the
//! bodies the IdPs create users with, and the group and user reads the tests check against.
use crate::helpers::OperatorScope;
use std::collections::BTreeSet;

use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{ScimOrg, TestApp};

pub(crate) const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub(crate) const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub(crate) const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub(crate) const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub(crate) const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub(crate) const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
pub(crate) const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub(crate) const SCIM_JSON: &str = "application/scim+json";

/// The User-Agent of Okta's SCIM client.
pub(crate) const OKTA_AGENT: &str = "Okta SCIM Client 1.0.0";
/// Microsoft does not document the User-Agent of its provisioning service; this is the one the
/// service is known to send (and that the request log maps to `azure`).
pub(crate) const ENTRA_AGENT: &str = "Microsoft.Identity.Provisioning";

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/// A request to `path` under the organization's SCIM base URL, with its bearer token and
/// `Accept: application/scim+json`, and no User-Agent.
pub(crate) fn scim(app: &TestApp, org: &ScimOrg, method: Method, path: &str) -> RequestBuilder {
    app.http.request(method, format!("{}{path}", org.base)).bearer_auth(&org.token).header("accept", SCIM_JSON)
}

/// [`scim`] as Okta's SCIM client sends it (its User-Agent).
pub(crate) fn okta(app: &TestApp, org: &ScimOrg, method: Method, path: &str) -> RequestBuilder {
    scim(app, org, method, path).header("user-agent", OKTA_AGENT)
}

/// [`scim`] as Microsoft Entra ID's provisioning service sends it (its User-Agent).
pub(crate) fn entra(app: &TestApp, org: &ScimOrg, method: Method, path: &str) -> RequestBuilder {
    scim(app, org, method, path).header("user-agent", ENTRA_AGENT)
}

/// The request with `body` as `Content-Type: application/scim+json`.
pub(crate) fn with_body(request: RequestBuilder, body: &Value) -> RequestBuilder {
    request.header("content-type", SCIM_JSON).body(body.to_string())
}

/// The request with `body` as `Content-Type: application/scim+json; charset=utf-8`, the way the
/// IdPs send it.
pub(crate) fn with_utf8_body(request: RequestBuilder, body: &Value) -> RequestBuilder {
    request.header("content-type", "application/scim+json; charset=utf-8").body(body.to_string())
}

/// A PatchOp request body with these `Operations`.
pub(crate) fn patch_body(operations: Value) -> Value {
    json!({"schemas": [PATCH_SCHEMA], "Operations": operations})
}

/// Percent-encoding of a query value as IdPs write it (`%20`, `%22`, `%40`).
pub(crate) fn encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The ListResponse of a query that matches nothing.
pub(crate) fn empty_list_response() -> Value {
    json!({"schemas": [LIST_SCHEMA], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

/// Sends the request; returns the status, the headers and the body (`Null` when empty, a JSON
/// string when it is not JSON).
pub(crate) async fn send(request: RequestBuilder) -> (StatusCode, HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, headers, body)
}

/// [`send`] without the headers.
pub(crate) async fn send_for_status_and_body(request: RequestBuilder) -> (StatusCode, Value) {
    let (status, _, body) = send(request).await;
    (status, body)
}

/// Sends the request, asserts 200 OK (showing the body otherwise) and returns the body.
pub(crate) async fn ok_body(request: RequestBuilder) -> Value {
    let (status, _, body) = send(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Sends a create request, asserts 201 Created (showing the body otherwise) and returns the id of
/// the new resource.
pub(crate) async fn created_id(request: RequestBuilder) -> String {
    let (status, _, created) = send(request).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// Asserts an RFC 7644 §3.12 error: this status, the Error schema, the status as a string, a
/// non-empty `detail` and (when given) this `scimType`.
pub(crate) fn assert_scim_error(status: StatusCode, body: &Value, expected: StatusCode, scim_type: Option<&str>) {
    assert_scim_error_ignoring_detail(status, body, expected, scim_type);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
}

/// [`assert_scim_error`] without the check of `detail`.
pub(crate) fn assert_scim_error_ignoring_detail(
    status: StatusCode,
    body: &Value,
    expected: StatusCode,
    scim_type: Option<&str>,
) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "{body}");
    assert_eq!(body["status"], expected.as_u16().to_string(), "{body}");
    if let Some(scim_type) = scim_type {
        assert_eq!(body["scimType"], scim_type, "{body}");
    }
}

// ---------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------

/// A GUID, as Entra uses for external ids and user names.
pub(crate) fn new_guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A unique address for this test (SES mail in moto is shared by the whole run).
pub(crate) fn unique_email(prefix: &str) -> String {
    format!("{prefix}.{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// A user whose userName and primary work email are `email`, with a name, active.
pub(crate) fn user_with_work_email(email: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": email,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": email, "type": "work"}],
        "active": true
    })
}

/// The body of Okta's "Create the User" request, with this userName (also the work email) and
/// externalId.
pub(crate) fn okta_user_body(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {
            "givenName": "Test",
            "familyName": "User"
        },
        "emails": [{
            "primary": true,
            "value": user_name,
            "type": "work"
        }],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

/// The body of Entra's "Create User" request, with this userName and work email (and a new
/// externalId).
pub(crate) fn entra_user_body(user_name: &str, email: &str) -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "externalId": new_guid(),
        "userName": user_name,
        "active": true,
        "emails": [{
            "primary": true,
            "type": "work",
            "value": email
        }],
        "meta": {
            "resourceType": "User"
        },
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName"
        },
        "roles": []
    })
}

/// `GET /Users/{id}`, expected to be 200.
pub(crate) async fn read_user(app: &TestApp, org: &ScimOrg, id: &str) -> Value {
    ok_body(scim(app, org, Method::GET, &format!("/Users/{id}"))).await
}

/// The organization's licenses in use: (SCIM, manual).
pub(crate) async fn licenses(app: &TestApp, org: &ScimOrg) -> (u64, u64) {
    let (_, counts) = app.store.organization(&org.id.scope()).await.unwrap().unwrap();
    (counts.scim, counts.manual)
}

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

/// A group with this displayName and these member ids (`members` is always present).
pub(crate) fn group_body(display_name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": [GROUP_SCHEMA], "displayName": display_name, "members": members})
}

/// `POST /Groups` with `body`.
pub(crate) async fn post_group(app: &TestApp, org: &ScimOrg, body: &Value) -> (StatusCode, HeaderMap, Value) {
    send(with_body(scim(app, org, Method::POST, "/Groups"), body)).await
}

/// Creates a group with these members (see [`group_body`]); returns its id.
pub(crate) async fn create_group(app: &TestApp, org: &ScimOrg, display_name: &str, members: &[&str]) -> String {
    created_id(with_body(scim(app, org, Method::POST, "/Groups"), &group_body(display_name, members))).await
}

/// Creates a group from a body with only `schemas` and `displayName` (no `members` key); returns
/// its id.
pub(crate) async fn create_bare_group(app: &TestApp, org: &ScimOrg, display_name: &str) -> String {
    let body = json!({"schemas": [GROUP_SCHEMA], "displayName": display_name});
    created_id(with_body(scim(app, org, Method::POST, "/Groups"), &body)).await
}

/// `GET /Groups/{id}`.
pub(crate) async fn get_group(app: &TestApp, org: &ScimOrg, id: &str) -> (StatusCode, HeaderMap, Value) {
    send(scim(app, org, Method::GET, &format!("/Groups/{id}"))).await
}

/// `GET /Groups/{id}`, expected to be 200.
pub(crate) async fn read_group(app: &TestApp, org: &ScimOrg, id: &str) -> Value {
    ok_body(scim(app, org, Method::GET, &format!("/Groups/{id}"))).await
}

/// The (unsent) `PATCH /Groups/{id}` with these operations.
pub(crate) fn patch_group_request(app: &TestApp, org: &ScimOrg, id: &str, operations: &Value) -> RequestBuilder {
    with_body(scim(app, org, Method::PATCH, &format!("/Groups/{id}")), &patch_body(operations.clone()))
}

/// `PATCH /Groups/{id}` with these operations.
pub(crate) async fn patch_group(
    app: &TestApp,
    org: &ScimOrg,
    id: &str,
    operations: Value,
) -> (StatusCode, HeaderMap, Value) {
    send(patch_group_request(app, org, id, &operations)).await
}

/// The member ids of a group resource, in the order returned (`members` absent or null = none).
pub(crate) fn member_values(group: &Value) -> Vec<String> {
    match group.get("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(members) => members
            .as_array()
            .unwrap_or_else(|| panic!("members is not an array: {group}"))
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_owned())
            .collect(),
    }
}

/// [`member_values`] as a set.
pub(crate) fn member_value_set(group: &Value) -> BTreeSet<String> {
    member_values(group).into_iter().collect()
}

/// The team's member count as the store keeps it.
pub(crate) async fn member_count(app: &TestApp, org: &ScimOrg, id: &str) -> u64 {
    app.store
        .team(&org.id.scope(), id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no team {id} in the store"))
        .member_count
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/// These strings as an owned set.
pub(crate) fn string_set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// These strings, owned and sorted.
pub(crate) fn sorted_strings(values: &[&str]) -> Vec<String> {
    let mut values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
    values.sort();
    values
}
