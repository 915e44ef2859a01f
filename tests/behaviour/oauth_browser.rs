//! The OAuth approval in a real browser (docs/ARCHITECTURE.md, "Tokens: rotation, revoke, OAuth"):
//! an owner approves on the authorization page and the browser follows the 303 to the IdP's
//! callback, played here by a small local HTTP listener that receives the code.
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use insomnia_scim::auth::CodeChallenge;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::admin_support::{call, console_org, enable, scim_status, within_one_throttle_window};
use crate::browser::Browser;
use crate::helpers::spawn_app;

const VERIFIER: &str = "a-browser-approval-verifier-of-at-least-43-characters-0123456789";

/// The IdP's callback: answers every request with a small page and sends on the request target
/// (path and query) of each one to `/callback`.
async fn idp_callback() -> (String, mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirect_uri = format!("http://{}/callback", listener.local_addr().unwrap());
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let target = text.split(' ').nth(1).unwrap_or_default().to_owned();
                let page = "<!doctype html><title>IdP</title><p id=\"idp\">Connected</p>";
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                if target.starts_with("/callback") {
                    let _ = sender.send(target);
                }
            });
        }
    });
    (redirect_uri, receiver)
}

fn query_value(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    let raw = query.split('&').find_map(|pair| pair.strip_prefix(&format!("{name}=")))?;
    Some(raw.replace("%3A", ":").replace("%2F", "/"))
}

#[tokio::test]
async fn an_owner_approves_the_oauth_connection_in_a_browser_and_the_idp_callback_receives_the_code() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    enable(&app, &org, "90d").await;
    let (redirect_uri, mut callbacks) = idp_callback().await;
    let (code, client) = call(
        &app,
        Method::POST,
        &org.url(&app, "/scim/oauth/client"),
        Some(&org.owner.session),
        Some(json!({ "passphrase": org.owner.passphrase, "redirectUris": [redirect_uri] })),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{client}");
    let client_id = client["clientId"].as_str().unwrap().to_owned();
    let client_secret = client["clientSecret"].as_str().unwrap().to_owned();

    // A stranger's failed sign-ins with the owner's email, from another address, lock nobody out
    // of the approval.
    within_one_throttle_window(Duration::from_secs(90)).await;
    let stranger = reqwest::Client::builder().local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9))).build().unwrap();
    for _ in 0..6 {
        let body = json!({ "email": org.owner.email, "passphrase": "a stranger's guess" });
        stranger.post(format!("{}/auth/sessions", app.address)).json(&body).send().await.unwrap();
    }

    let challenge = CodeChallenge::of_verifier(VERIFIER);
    let query: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &client_id),
        ("redirect_uri", &redirect_uri),
        ("state", "browser-state-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let authorize = reqwest::Url::parse_with_params(&format!("{}/oauth/authorize", app.address), &query).unwrap();
    let browser = Browser::start().await;
    browser.goto(authorize.as_str()).await;
    browser.wait_text("h1", "Approve the SCIM connection").await;
    browser.type_into("input[name=email]", &org.owner.email).await;
    browser.type_into("input[name=passphrase]", &org.owner.passphrase).await;
    browser.click("button[value=approve]").await;

    // The browser follows the 303 to the registered URI: the IdP receives the code.
    let target = tokio::time::timeout(Duration::from_secs(20), callbacks.recv())
        .await
        .expect("the IdP's callback received no request: the browser did not follow the approval's redirect")
        .unwrap();
    browser.wait_text("#idp", "Connected").await;
    assert!(browser.url().await.starts_with(&redirect_uri), "{}", browser.url().await);
    assert_eq!(query_value(&target, "state").as_deref(), Some("browser-state-1"), "{target}");
    assert_eq!(query_value(&target, "iss").as_deref(), Some(app.address.as_str()), "{target}");
    let code = query_value(&target, "code").unwrap();
    assert!(code.starts_with("iscim_ac_"), "{target}");

    // The code is good for a token that works on the connector.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", client_id.as_str()),
        ("client_secret", client_secret.as_str()),
    ];
    let response = app.http.post(format!("{}/oauth/token", app.address)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let issued: Value = response.json().await.unwrap();
    assert_eq!(scim_status(&app, &org.id, issued["access_token"].as_str().unwrap()).await, StatusCode::OK);
}
