//! The console page over HTTP: the security headers of every kind of answer, the session cookie's
//! attributes, and the CSRF rule for state changes made with the cookie.
use insomnia_scim::domain::MemberRole;
use reqwest::header::{HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{console_org, enable, person, scim_status, sign_in, ConsoleOrg};
use crate::helpers::{spawn_app, TestApp};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

fn assert_security_headers(headers: &HeaderMap, what: &str, cache: &str) {
    assert_eq!(headers["content-security-policy"], CSP, "{what}");
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["cache-control"], cache, "{what}");
}

/// A cookie session: (cookie header value, CSRF secret).
struct CookieSession {
    cookie: String,
    csrf: String,
    set_cookie: String,
}

async fn cookie_sign_in(app: &TestApp, email: &str, passphrase: &str, host: Option<&str>) -> (CookieSession, Value) {
    let mut request = app
        .http
        .post(format!("{}/auth/sessions", app.address))
        .header("x-session-cookie", "1")
        .json(&json!({ "email": email, "passphrase": passphrase }));
    if let Some(host) = host {
        request = request.header("host", host);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert_security_headers(response.headers(), "sign-in", "no-store");
    let body: Value = response.json().await.unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = body["csrfToken"].as_str().unwrap().to_owned();
    (CookieSession { cookie, csrf, set_cookie }, body)
}

async fn with_cookie(
    app: &TestApp,
    method: Method,
    url: &str,
    session: &CookieSession,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = app.http.request(method, url).header("cookie", format!("theme=dark; {}", session.cookie));
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn owner_cookie(app: &TestApp, org: &ConsoleOrg) -> CookieSession {
    cookie_sign_in(app, &org.owner.email, &org.owner.passphrase, None).await.0
}

#[tokio::test]
async fn every_console_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    for (path, content_type, cache, marker) in [
        ("/console", "text/html; charset=utf-8", "no-store", "<title>SCIM"),
        ("/console/assets/console.js", "text/javascript; charset=utf-8", "no-cache", "'use strict'"),
        ("/console/assets/console.css", "text/css; charset=utf-8", "no-cache", ":root"),
    ] {
        let response = app.http.get(format!("{}{path}", app.address)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        assert_security_headers(response.headers(), path, cache);
        assert!(response.text().await.unwrap().contains(marker), "{path}");
    }
    // The router's own 404 and 405 under /admin/ too.
    let unknown = app.http.get(format!("{}/admin/orgs/acme/nothing-here", app.address)).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_security_headers(unknown.headers(), "unknown path", "no-store");
    let method = app.http.put(format!("{}/admin/orgs/acme/scim", app.address)).send().await.unwrap();
    assert_eq!(method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_security_headers(method.headers(), "unsupported method", "no-store");
    let missing = app.http.get(format!("{}/console/assets/other.js", app.address)).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_security_headers(missing.headers(), "unknown asset", "no-store");
    // JSON answers, refusals included.
    let refused = app.http.get(format!("{}/admin/orgs/acme/scim", app.address)).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_security_headers(refused.headers(), "a refusal", "no-store");
    let org = console_org(&app).await;
    let answer = app.http.get(org.url(&app, "/scim")).bearer_auth(&org.owner.session).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_security_headers(answer.headers(), "the status", "no-store");
}

#[tokio::test]
async fn a_cookie_sign_in_sets_an_http_only_strict_cookie_and_answers_no_token() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let (session, body) = cookie_sign_in(&app, &org.owner.email, &org.owner.passphrase, None).await;
    assert!(session.cookie.starts_with("isess=isess_"), "{}", session.set_cookie);
    let attributes = session.set_cookie.split_once(';').unwrap().1;
    assert_eq!(attributes, " Path=/; Max-Age=43200; HttpOnly; SameSite=Strict", "no Secure on a loopback host");
    assert!(body.get("token").is_none(), "the token is in the cookie only: {body}");
    assert_eq!(body["tokenType"], "Cookie");
    assert_eq!(body["csrfToken"].as_str().unwrap().len(), 64);
    // Any other host: Secure.
    let (remote, _) = cookie_sign_in(&app, &org.owner.email, &org.owner.passphrase, Some("console.example.com")).await;
    assert!(remote.set_cookie.ends_with("; HttpOnly; SameSite=Strict; Secure"), "{}", remote.set_cookie);
    assert!(remote.set_cookie.starts_with("__Host-isess=isess_"), "{}", remote.set_cookie);
    assert!(remote.set_cookie.contains("; Path=/;") && !remote.set_cookie.contains("Domain"), "{}", remote.set_cookie);
    assert_ne!(remote.csrf, session.csrf, "one CSRF secret per session");

    // The page, reloaded, gets its CSRF secret back from the cookie alone; a Bearer client none.
    let url = format!("{}/auth/sessions/current", app.address);
    let (status, headers, current) = with_cookie(&app, Method::GET, &url, &session, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!((current["tokenType"].as_str(), current["csrfToken"].as_str()), (Some("Cookie"), Some(&*session.csrf)));
    assert_eq!(current["email"], org.owner.email.as_str());
    let bearer: Value = app.http.get(&url).bearer_auth(&org.owner.session).send().await.unwrap().json().await.unwrap();
    assert_eq!(bearer["tokenType"], "Bearer");
    assert!(bearer.get("csrfToken").is_none(), "{bearer}");
    // Without a session: 401.
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_state_change_with_the_cookie_needs_the_sessions_csrf_token_and_without_it_changes_nothing() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let session = owner_cookie(&app, &org).await;
    let other = owner_cookie(&app, &org).await;
    let enable_url = org.url(&app, "/scim/enable");
    let body = json!({ "idp": "okta", "window": "90d", "passphrase": org.owner.passphrase });

    // Reading needs no CSRF token.
    let (status, _, _) = with_cookie(&app, Method::GET, &org.url(&app, "/scim"), &session, None, None).await;
    assert_eq!(status, StatusCode::OK);
    for csrf in [None, Some(""), Some("0".repeat(64).as_str()), Some(other.csrf.as_str()), Some(&session.csrf[..63])] {
        let (status, headers, refusal) =
            with_cookie(&app, Method::POST, &enable_url, &session, csrf, Some(body.clone())).await;
        assert_eq!((status, refusal["error"].as_str()), (StatusCode::FORBIDDEN, Some("csrf_rejected")), "{csrf:?}");
        assert_eq!(headers["content-type"], "application/json");
        assert!(app.store.scim_settings(&org.id).await.unwrap().is_none(), "nothing was enabled ({csrf:?})");
    }
    let (status, _, issued) =
        with_cookie(&app, Method::POST, &enable_url, &session, Some(&session.csrf), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let token = issued["token"].as_str().unwrap().to_owned();
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::OK);

    // Refresh and disable alike; a refused one leaves the token working.
    let refresh = org.url(&app, "/scim/token/refresh");
    let passphrase = json!({ "passphrase": org.owner.passphrase });
    let (status, _, _) = with_cookie(&app, Method::POST, &refresh, &session, None, Some(passphrase.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let disable = org.url(&app, "/scim/disable");
    let (status, _, _) =
        with_cookie(&app, Method::POST, &disable, &session, Some(&other.csrf), Some(passphrase.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::OK, "still enabled, same token");

    // Sign-out too: refused without the token (the session lives on), then done, the cookie removed.
    let current = format!("{}/auth/sessions/current", app.address);
    let (status, _, _) = with_cookie(&app, Method::DELETE, &current, &session, None, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = with_cookie(&app, Method::GET, &current, &session, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, headers, _) = with_cookie(&app, Method::DELETE, &current, &session, Some(&session.csrf), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(headers[SET_COOKIE], "isess=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
    let (status, _, _) = with_cookie(&app, Method::GET, &current, &session, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "signed out");
}

#[tokio::test]
async fn bearer_clients_keep_working_without_csrf_tokens_and_a_bearer_header_wins_over_a_cookie() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let token = enable(&app, &org, "90d").await;
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::OK);
    // A member's cookie beside the owner's Bearer header: the request is the owner's.
    let member = person(&app, &org.id, MemberRole::Member, "member").await;
    let member_cookie = cookie_sign_in(&app, &member.email, &member.passphrase, None).await.0;
    let response = app
        .http
        .post(org.url(&app, "/scim/disable"))
        .bearer_auth(&org.owner.session)
        .header("cookie", &member_cookie.cookie)
        .json(&json!({ "passphrase": org.owner.passphrase }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(scim_status(&app, &org.id, &token).await, StatusCode::UNAUTHORIZED);
    // A malformed cookie is an invalid session, not a server error.
    let response = app.http.get(org.url(&app, "/scim")).header("cookie", "isess=not-a-session").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn away_from_loopback_only_the_host_prefixed_cookie_is_a_session_so_a_tossed_one_is_ignored() {
    let app = spawn_app().await;
    let org = console_org(&app).await;
    let host = "console.example.com";
    let (session, _) = cookie_sign_in(&app, &org.owner.email, &org.owner.passphrase, Some(host)).await;
    let token = session.cookie.strip_prefix("__Host-isess=").unwrap().to_owned();
    let current = format!("{}/auth/sessions/current", app.address);
    let status_with = |cookie: String| {
        let request = app.http.get(&current).header("host", host).header("cookie", cookie);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status_with(format!("__Host-isess={token}")).await, StatusCode::OK);
    // A cookie a sibling subdomain could set (no prefix) is no session here, first or not.
    assert_eq!(status_with(format!("isess={token}")).await, StatusCode::UNAUTHORIZED);
    let other = sign_in(&app, &org.owner.email, &org.owner.passphrase).await;
    assert_eq!(status_with(format!("isess={other}; __Host-isess={token}")).await, StatusCode::OK);
    let answer: Value = app
        .http
        .get(&current)
        .header("host", host)
        .header("cookie", format!("isess={other}; __Host-isess={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["csrfToken"], session.csrf.as_str(), "the prefixed cookie's session, not the tossed one");
    // The same cookie twice cannot be told apart: neither is taken.
    assert_eq!(status_with(format!("__Host-isess={other}; __Host-isess={token}")).await, StatusCode::UNAUTHORIZED);
}
