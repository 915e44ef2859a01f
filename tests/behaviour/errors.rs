//! Every error is an RFC 7644 §3.12 SCIM error.
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

async fn assert_scim_error(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["schemas"], serde_json::json!(["urn:ietf:params:scim:api:messages:2.0:Error"]));
    assert_eq!(body["status"], status.as_u16().to_string(), "status is a string");
    assert!(!body["detail"].as_str().unwrap().is_empty());
    body
}

#[tokio::test]
async fn unknown_paths_are_scim_404s() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for path in ["/nothing-here", "/scim/v2/orgs", "/scim/v2/orgs/x/Widgets"] {
        let response = app.get(&format!("{}{path}", app.address), &org.token).send().await.unwrap();
        assert_scim_error(response, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn unsupported_methods_are_scim_405s() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let response =
        app.http.delete(format!("{}/ServiceProviderConfig", org.base)).bearer_auth(&org.token).send().await.unwrap();
    assert_scim_error(response, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let response = app.get(&format!("{}/Schemas", org.base), &org.token).send().await.unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{id}");
}
