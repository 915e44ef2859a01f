//! Every error is an RFC 7644 §3.12 SCIM error.
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::spawn_app;
use crate::scim_client::{send_for_status_and_body, with_body, GROUP_SCHEMA, SCIM_JSON, USER_SCHEMA};

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

// A resource id that is not UTF-8 (`/Users/%FF%FE%FD`) names no resource: with a valid token the
// answer is `404` with a SCIM error body (RFC 7644 §3.12), not `401`; the token is still checked
// first, so a missing or wrong token is `401`. A non-UTF-8 organization id cannot exist, so no
// token is valid for it: `401`.

const NOT_UTF8: [&str; 3] = ["%FF%FE%FD", "%FF", "abc%C3%28"];

#[tokio::test]
async fn a_non_utf8_user_or_group_id_is_404_with_a_valid_token_and_401_without_one() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for collection in ["Users", "Groups"] {
        for id in NOT_UTF8 {
            let url = format!("{}/{collection}/{id}", org.base);
            for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
                let body = match collection {
                    "Users" => json!({"schemas": [USER_SCHEMA], "userName": "x@example.com"}),
                    _ => json!({"schemas": [GROUP_SCHEMA], "displayName": "x"}),
                };
                let request = || with_body(app.http.request(method.clone(), &url).header("accept", SCIM_JSON), &body);
                let (status, answer) = send_for_status_and_body(request().bearer_auth(&org.token)).await;
                crate::scim_client::assert_scim_error(status, &answer, StatusCode::NOT_FOUND, None);

                let (status, answer) = send_for_status_and_body(request().bearer_auth("iscim_not_the_token")).await;
                crate::scim_client::assert_scim_error(status, &answer, StatusCode::UNAUTHORIZED, None);
                let (status, answer) = send_for_status_and_body(request()).await;
                crate::scim_client::assert_scim_error(status, &answer, StatusCode::UNAUTHORIZED, None);
            }
        }
    }
    // The discovery resources by id answer the same way.
    for path in ["Schemas/%FF", "ResourceTypes/%FF"] {
        let url = format!("{}/{path}", org.base);
        let (status, answer) = send_for_status_and_body(app.get(&url, &org.token)).await;
        crate::scim_client::assert_scim_error(status, &answer, StatusCode::NOT_FOUND, None);
        let (status, answer) = send_for_status_and_body(app.get(&url, "iscim_not_the_token")).await;
        crate::scim_client::assert_scim_error(status, &answer, StatusCode::UNAUTHORIZED, None);
    }
}

#[tokio::test]
async fn a_non_utf8_organization_id_is_401_whatever_the_token() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for path in ["/Users", "/Users/some-id", "/Users/%FF", "/Groups", "/Groups/%FF", "/ServiceProviderConfig"] {
        let url = format!("{}/scim/v2/orgs/%FF{path}", app.address);
        let (status, answer) = send_for_status_and_body(app.get(&url, &org.token)).await;
        crate::scim_client::assert_scim_error(status, &answer, StatusCode::UNAUTHORIZED, None);
        // A valid organization id glued to bytes that are not UTF-8 is not that organization.
        let url = format!("{}%FF{path}", org.base);
        let (status, answer) = send_for_status_and_body(app.get(&url, &org.token)).await;
        crate::scim_client::assert_scim_error(status, &answer, StatusCode::UNAUTHORIZED, None);
    }
}
