//! The bearer token check (every route, every credential: see isolation.rs).
use crate::helpers::OperatorScope;
use chrono::{Duration, Utc};
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::TokenWindow;
use reqwest::StatusCode;

use crate::helpers::{spawn_app, spawn_app_on_table, spawn_app_with_clock};

async fn assert_unauthorized(response: reqwest::Response, detail_part: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    assert!(response.headers().contains_key("www-authenticate"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(body["status"], "401");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(detail_part), "{detail}");
}

#[tokio::test]
async fn a_wrong_token_is_401() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let forged = format!("{}x", org.token);
    let response = app.get(&format!("{}/ServiceProviderConfig", org.base), &forged).send().await.unwrap();
    assert_unauthorized(response, "not valid for this organization").await;
}

#[tokio::test]
async fn an_unknown_organization_answers_like_a_wrong_token() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    for path in ["/scim/v2/orgs/no-such-org/ServiceProviderConfig", "/scim/v2/orgs/bad%20id/Schemas"] {
        let response = app.get(&format!("{}{path}", app.address), &org.token).send().await.unwrap();
        assert_unauthorized(response, "not valid for this organization").await;
    }
}

#[tokio::test]
async fn malformed_authorization_headers_are_401() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let url = format!("{}/ServiceProviderConfig", org.base);
    for header in
        [format!("Basic {}", org.token), "Bearer".to_owned(), org.token.clone(), format!("Bearer {} extra", org.token)]
    {
        let response = app.http.get(&url).header("authorization", header).send().await.unwrap();
        assert_unauthorized(response, "must have the form 'Bearer <token>'").await;
    }
    let lowercase = app.http.get(&url).header("authorization", format!("bearer {}", org.token)).send().await.unwrap();
    assert_eq!(lowercase.status(), StatusCode::OK, "the scheme is case-insensitive");
}

#[tokio::test]
async fn an_expired_token_is_401_and_says_how_to_recover() {
    // Issue a 30-day token 31 days ago, as seen by the service today.
    let issued = Utc::now() - Duration::days(31);
    let issuer = spawn_app_with_clock(Clock::Fixed(issued)).await;
    let org = issuer.scim_org_with_window(TokenWindow::Days30).await;
    let url = format!("{}/ServiceProviderConfig", org.base);
    assert_eq!(issuer.get(&url, &org.token).send().await.unwrap().status(), StatusCode::OK);

    let today = spawn_app_on_table(&issuer.table, Clock::System).await;
    let url = format!("{}/scim/v2/orgs/{}/ServiceProviderConfig", today.address, org.id);
    let response = today.get(&url, &org.token).send().await.unwrap();
    assert_unauthorized(response, "expired").await;
}

#[tokio::test]
async fn disabled_scim_refuses_the_token() {
    let app = spawn_app().await;
    let org = app.scim_org().await;
    let settings = app.store.scim_settings(&org.id).await.unwrap().unwrap();
    app.store.put_scim_settings(&org.id.scope(), &settings.disabled(), Some(settings.version)).await.unwrap();
    let response = app.get(&format!("{}/Schemas", org.base), &org.token).send().await.unwrap();
    assert_unauthorized(response, "not valid for this organization").await;
}
