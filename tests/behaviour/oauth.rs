//! OAuth 2.0 for the SCIM connector (issue #16): client credentials, the authorization code flow
//! with PKCE (its refusals: wrong verifier, wrong redirect URI, reused code, reused refresh token,
//! the family revoked on reuse), access tokens on the SCIM routes like static tokens, their
//! expiry (401) and renewal by refresh, and revoke ending every grant.
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use insomnia_scim::auth::CodeChallenge;
use insomnia_scim::clock::Clock;
use insomnia_scim::domain::MemberRole;
use insomnia_scim::runtime::TokenKeySource;
use insomnia_scim::scheduler::TokenScheduler;
use reqwest::header::{CACHE_CONTROL, LOCATION};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::admin_support::{call, console_org, enable, person, scim_status, ConsoleOrg};
use crate::helpers::{sent_emails, spawn_app_on_table, spawn_app_with_clock, OperatorScope, TestApp};

const REDIRECT: &str = "https://idp.example.com/oauth/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-1B0jLmS6sdDDX5N5RIzkKhCWj0u7S4-verifier-of-this-test";

struct Client {
    id: String,
    secret: String,
}

async fn create_client(app: &TestApp, org: &ConsoleOrg, redirect_uris: &[&str]) -> Client {
    let (code, body) = call(
        app,
        Method::POST,
        &org.url(app, "/scim/oauth/client"),
        Some(&org.owner.session),
        Some(json!({ "passphrase": org.owner.passphrase, "redirectUris": redirect_uris })),
    )
    .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    assert!(body["message"].as_str().unwrap().contains("shown only this once"));
    assert!(body["tokenUrl"].as_str().unwrap().ends_with("/oauth/token"), "{body}");
    Client {
        id: body["clientId"].as_str().unwrap().to_owned(),
        secret: body["clientSecret"].as_str().unwrap().to_owned(),
    }
}

/// A token request; the answer's status, body and Cache-Control.
async fn token(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value, String) {
    let response = app.http.post(format!("{}/oauth/token", app.address)).form(form).send().await.unwrap();
    let status = response.status();
    let cache = response.headers().get(CACHE_CONTROL).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, response.json().await.unwrap(), cache)
}

async fn client_credentials(app: &TestApp, client: &Client) -> (StatusCode, Value) {
    let (status, body, _) = token(
        app,
        &[("grant_type", "client_credentials"), ("client_id", &client.id), ("client_secret", &client.secret)],
    )
    .await;
    (status, body)
}

async fn refresh(app: &TestApp, client: &Client, refresh_token: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", client.id.as_str()),
        ("client_secret", client.secret.as_str()),
    ];
    let (status, body, _) = token(app, &form).await;
    (status, body)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn authorize_query(client: &Client, redirect_uri: &str, state: &str) -> Vec<(String, String)> {
    let challenge = CodeChallenge::of_verifier(VERIFIER);
    [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", redirect_uri),
        ("state", state),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

/// The hidden fields of the approval page.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|chunk| {
            let name = chunk.split("name=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
            let value = chunk.split("value=\"").nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
            (name, value)
        })
        .collect()
}

/// GET the approval page; its hidden fields.
async fn approval_form(app: &TestApp, client: &Client, state: &str) -> Vec<(String, String)> {
    let response = no_redirects()
        .get(format!("{}/oauth/authorize", app.address))
        .query(&authorize_query(client, REDIRECT, state))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; style-src 'self'; form-action 'self' https://idp.example.com; frame-ancestors 'none'"
    );
    assert_eq!(headers[CACHE_CONTROL], "no-store");
    let html = response.text().await.unwrap();
    assert!(!html.contains("<script"), "{html}");
    hidden_fields(&html)
}

/// POST the approval form with these credentials; the answer's status and Location.
async fn approve(
    app: &TestApp,
    fields: &[(String, String)],
    email: &str,
    passphrase: &str,
) -> (StatusCode, Option<String>, String) {
    let mut form = fields.to_vec();
    form.extend([("email".to_owned(), email.to_owned()), ("passphrase".to_owned(), passphrase.to_owned())]);
    form.push(("decision".to_owned(), "approve".to_owned()));
    let response = no_redirects().post(format!("{}/oauth/authorize", app.address)).form(&form).send().await.unwrap();
    let location = response.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_owned());
    (response.status(), location, response.text().await.unwrap_or_default())
}

fn query_value(location: &str, name: &str) -> Option<String> {
    let query = location.split_once('?')?.1;
    query.split('&').find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

/// The whole flow up to the code: page, sign-in and approval by the owner.
async fn code_for(app: &TestApp, org: &ConsoleOrg, client: &Client, state: &str) -> String {
    let fields = approval_form(app, client, state).await;
    let (status, location, body) = approve(app, &fields, &org.owner.email, &org.owner.passphrase).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let location = location.unwrap();
    assert!(location.starts_with(&format!("{REDIRECT}?code=iscim_ac_")), "{location}");
    assert_eq!(query_value(&location, "state").as_deref(), Some(state));
    assert_eq!(issuer_of(&location), app.address, "RFC 9207: the answer names its issuer");
    query_value(&location, "code").unwrap()
}

/// The `iss` of an authorization answer (RFC 9207), decoded.
fn issuer_of(location: &str) -> String {
    query_value(location, "iss").unwrap_or_default().replace("%3A", ":").replace("%2F", "/")
}

async fn exchange(
    app: &TestApp,
    client: &Client,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
        ("client_id", client.id.as_str()),
        ("client_secret", client.secret.as_str()),
    ];
    let (status, body, cache) = token(app, &form).await;
    assert_eq!(cache, "no-store");
    (status, body)
}

fn str_of<'a>(body: &'a Value, name: &str) -> &'a str {
    body[name].as_str().unwrap_or_else(|| panic!("{name} in {body}"))
}

#[tokio::test]
async fn client_credentials_give_an_access_token_that_works_on_scim_routes_until_it_expires() {
    let t0 = Utc::now();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    let static_token = enable(&app, &org, "90d").await;
    let client = create_client(&app, &org, &[]).await;
    assert!(client.id.starts_with(&format!("{}.", org.id)));
    assert!(client.secret.starts_with("iscim_cs_"));

    // Refusals: RFC 6749 §5.2 JSON, never cached.
    let wrong = Client { id: client.id.clone(), secret: "iscim_cs_wrong".into() };
    let (status, body, cache) = token(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", &wrong.id), ("client_secret", &wrong.secret)],
    )
    .await;
    assert_eq!(
        (status, str_of(&body, "error"), cache.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client", "no-store")
    );
    for (form, error) in [
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (vec![("client_id", client.id.as_str())], "invalid_request"),
        (vec![("grant_type", "client_credentials"), ("grant_type", "client_credentials")], "invalid_request"),
    ] {
        let (status, body, _) = token(&app, &form).await;
        assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, error), "{body}");
    }
    let (status, body, _) = token(
        &app,
        &[("grant_type", "client_credentials"), ("client_id", "nobody.abcdefghijkl"), ("client_secret", "x")],
    )
    .await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::UNAUTHORIZED, "invalid_client"));
    // HTTP Basic client authentication (client_secret_basic) works the same.
    let basic = app
        .http
        .post(format!("{}/oauth/token", app.address))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);

    let (status, issued) = client_credentials(&app, &client).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    let access = str_of(&issued, "access_token").to_owned();
    assert!(access.starts_with("iscim_at_"));
    assert_eq!((issued["token_type"].as_str(), issued["expires_in"].as_i64()), (Some("Bearer"), Some(3600)));
    assert!(issued.get("refresh_token").is_none(), "no refresh token for client credentials");

    // On every kind of SCIM route, like the static token (which keeps working).
    let base = org.connector_url(&app);
    for path in ["/ServiceProviderConfig", "/Users?count=1", "/Groups?count=1"] {
        let response = app.get(&format!("{base}{path}"), &access).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    let created = app
        .http
        .post(format!("{base}/Users"))
        .bearer_auth(&access)
        .json(&json!({ "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "oauth-user@example.com",
                       "emails": [{ "value": "oauth-user@example.com", "primary": true }], "active": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(scim_status(&app, &org.id, &static_token).await, StatusCode::OK);
    // Another organization's connector refuses it.
    let other = console_org(&app).await;
    enable(&app, &other, "90d").await;
    assert_eq!(scim_status(&app, &other.id, &access).await, StatusCode::UNAUTHORIZED);

    // It expires after an hour: 401 with a message saying so.
    let at = |t: DateTime<Utc>| spawn_app_on_table(&app.table, Clock::Fixed(t));
    assert_eq!(scim_status(&at(t0 + Duration::minutes(59)).await, &org.id, &access).await, StatusCode::OK);
    let later = at(t0 + Duration::hours(1)).await;
    let response = later.get(&format!("{}/Users?count=1", org.connector_url(&later)), &access).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("access token has expired"));
    // A new one from the same client, on the later server.
    let (_, renewed) = client_credentials(&later, &client).await;
    assert_eq!(scim_status(&later, &org.id, str_of(&renewed, "access_token")).await, StatusCode::OK);

    // Stored only as keyed hashes, never logged; the request log masks it.
    app.flush_logs().await;
    later.flush_logs().await;
    let table = app.dump_table().await;
    for secret in [&access, &client.secret, &str_of(&renewed, "access_token").to_owned()] {
        assert!(!table.contains(secret.as_str()), "a secret is stored in clear");
        assert!(!crate::helpers::process_logs().contains(secret.as_str()), "a secret was logged");
    }
    // The status shows the client and its last use, never its secret.
    let (_, status_body) = call(&app, Method::GET, &org.url(&app, "/scim"), Some(&org.owner.session), None).await;
    assert_eq!(status_body["oauthClient"]["clientId"], client.id.as_str(), "{status_body}");
    assert!(status_body["oauthClient"]["lastUsedAt"].is_string(), "{status_body}");
    assert!(!status_body.to_string().contains("iscim_cs_"));

    // Revoke ends every grant, and the client with it (a new one must be created).
    let (code, _) = call(
        &app,
        Method::POST,
        &org.url(&app, "/scim/token/revoke"),
        Some(&org.owner.session),
        Some(json!({ "passphrase": org.owner.passphrase })),
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(scim_status(&app, &org.id, &access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(client_credentials(&app, &client).await.0, StatusCode::UNAUTHORIZED);
    let fresh = create_client(&app, &org, &[]).await;
    let (_, issued) = client_credentials(&app, &fresh).await;
    assert_eq!(scim_status(&app, &org.id, str_of(&issued, "access_token")).await, StatusCode::OK);

    // Disabling SCIM kills every grant at once too.
    let passphrase = json!({ "passphrase": org.owner.passphrase });
    let (code, _) =
        call(&app, Method::POST, &org.url(&app, "/scim/disable"), Some(&org.owner.session), Some(passphrase)).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(scim_status(&app, &org.id, str_of(&issued, "access_token")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(client_credentials(&app, &fresh).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_authorization_code_flow_with_pkce_and_its_refusals() {
    let app = spawn_app_with_clock(Clock::Fixed(Utc::now())).await;
    let org = console_org(&app).await;
    enable(&app, &org, "90d").await;
    let client = create_client(&app, &org, &[REDIRECT, "https://other.example.com/cb"]).await;
    let member = person(&app, &org.id, MemberRole::Member, "member").await;

    // Registered redirect URIs must be https (or loopback) without a fragment.
    let (code, body) = call(
        &app,
        Method::POST,
        &org.url(&app, "/scim/oauth/client"),
        Some(&org.owner.session),
        Some(json!({ "passphrase": org.owner.passphrase, "redirectUris": ["http://evil.example.com/cb"] })),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");

    // An unregistered redirect URI (or an unknown client) is never redirected to.
    for query in [
        authorize_query(&client, "https://idp.example.com/oauth/callback/other", "s"),
        authorize_query(&Client { id: format!("{}.unknownclient1", org.id), secret: String::new() }, REDIRECT, "s"),
    ] {
        let response =
            no_redirects().get(format!("{}/oauth/authorize", app.address)).query(&query).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get(LOCATION).is_none());
    }
    // Other errors go back to the registered URI (RFC 6749 §4.1.2.1), with the state.
    let mut no_pkce = authorize_query(&client, REDIRECT, "st-1");
    no_pkce.retain(|(k, _)| !k.starts_with("code_challenge"));
    let response = no_redirects().get(format!("{}/oauth/authorize", app.address)).query(&no_pkce).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_value(&location, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query_value(&location, "state").as_deref(), Some("st-1"));

    // The approval: a wrong passphrase, a plain member, a tampered form are refused.
    let fields = approval_form(&app, &client, "state-42").await;
    assert!(fields.iter().any(|(k, _)| k == "form_token"));
    let (status, location, _) = approve(&app, &fields, &org.owner.email, "not the passphrase").await;
    assert_eq!((status, location), (StatusCode::UNAUTHORIZED, None));
    let (status, location, _) = approve(&app, &fields, &member.email, &member.passphrase).await;
    assert_eq!((status, location), (StatusCode::FORBIDDEN, None));
    let tampered: Vec<_> = fields
        .iter()
        .map(|(k, v)| if k == "state" { (k.clone(), "other".to_owned()) } else { (k.clone(), v.clone()) })
        .collect();
    let (status, location, _) = approve(&app, &tampered, &org.owner.email, &org.owner.passphrase).await;
    assert_eq!((status, location), (StatusCode::BAD_REQUEST, None));
    let no_token: Vec<_> = fields.iter().filter(|(k, _)| k != "form_token").cloned().collect();
    let (status, _, _) = approve(&app, &no_token, &org.owner.email, &org.owner.passphrase).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A co-owner who has only the welcome's initial passphrase is refused, and it is not spent.
    let newcomer = crate::admin_support::unique_email("newcomer");
    let address = insomnia_scim::domain::EmailAddress::parse(&newcomer).unwrap();
    crate::helpers::create_pending_account(&app, &address).await;
    app.try_add_manual_member(&org.id, &newcomer, MemberRole::CoOwner).await.unwrap();
    let credential = insomnia_scim::auth::InitialCredential::generate();
    let hash = credential.hash(&app.app.token_key, &address);
    assert!(app.store.set_initial_credential(&address, &hash, Utc::now() + Duration::days(7)).await.unwrap());
    let (status, location, page) = approve(&app, &fields, &newcomer, credential.reveal()).await;
    assert_eq!((status, location), (StatusCode::FORBIDDEN, None), "{page}");
    assert!(page.contains("Change your initial passphrase in the console first"), "{page}");
    let (status, body) = crate::admin_support::sign_in_raw(&app, &newcomer, credential.reveal()).await;
    assert_eq!(status, StatusCode::CREATED, "the initial passphrase still signs in once: {body}");

    let code = code_for(&app, &org, &client, "state-42").await;
    // The exchange: wrong verifier, wrong redirect URI, another client are refused.
    let (status, body) =
        exchange(&app, &client, &code, REDIRECT, "wrong-verifier-wrong-verifier-wrong-verifier-x").await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    let (status, body) = exchange(&app, &client, &code, "https://other.example.com/cb", VERIFIER).await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    let (status, body) = exchange(&app, &client, "iscim_ac_not-a-code", REDIRECT, VERIFIER).await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");

    let (status, tokens) = exchange(&app, &client, &code, REDIRECT, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = str_of(&tokens, "access_token").to_owned();
    let refresh_token = str_of(&tokens, "refresh_token").to_owned();
    assert!(refresh_token.starts_with("iscim_rt_"));
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(scim_status(&app, &org.id, &access).await, StatusCode::OK);

    // The code again: refused, and the tokens issued for it are revoked.
    let (status, body) = exchange(&app, &client, &code, REDIRECT, VERIFIER).await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    assert_eq!(scim_status(&app, &org.id, &access).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&app, &client, &refresh_token).await.0, StatusCode::BAD_REQUEST);

    // A denied approval goes back with access_denied.
    let mut denied = approval_form(&app, &client, "st-9").await;
    denied.push(("decision".to_owned(), "deny".to_owned()));
    let response = no_redirects().post(format!("{}/oauth/authorize", app.address)).form(&denied).send().await.unwrap();
    let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(query_value(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(issuer_of(&location), app.address, "RFC 9207: error answers name the issuer too");
    // Nothing secret is stored in clear.
    let table = app.dump_table().await;
    assert!(!table.contains(&code) && !table.contains(&refresh_token) && !table.contains(&access));
}

#[tokio::test]
async fn refresh_rotates_renews_an_expired_access_token_and_a_reused_refresh_token_revokes_its_family() {
    let t0 = Utc::now();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    enable(&app, &org, "90d").await;
    let client = create_client(&app, &org, &[REDIRECT]).await;
    let code = code_for(&app, &org, &client, "s").await;
    let (_, first) = exchange(&app, &client, &code, REDIRECT, VERIFIER).await;
    let access1 = str_of(&first, "access_token").to_owned();
    let refresh1 = str_of(&first, "refresh_token").to_owned();

    // An hour later the access token is refused; the refresh token renews it (and is rotated).
    let later = spawn_app_on_table(&app.table, Clock::Fixed(t0 + Duration::minutes(61))).await;
    assert_eq!(scim_status(&later, &org.id, &access1).await, StatusCode::UNAUTHORIZED);
    let (status, second) = refresh(&later, &client, &refresh1).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let access2 = str_of(&second, "access_token").to_owned();
    let refresh2 = str_of(&second, "refresh_token").to_owned();
    assert_ne!(refresh2, refresh1);
    assert_eq!(scim_status(&later, &org.id, &access2).await, StatusCode::OK);
    let (status, third) = refresh(&later, &client, &refresh2).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    let access3 = str_of(&third, "access_token").to_owned();
    let refresh3 = str_of(&third, "refresh_token").to_owned();
    assert_eq!(scim_status(&later, &org.id, &access3).await, StatusCode::OK);

    // Another client cannot use it.
    let other = Client { id: client.id.clone(), secret: "iscim_cs_wrong".into() };
    assert_eq!(refresh(&later, &other, &refresh3).await.0, StatusCode::UNAUTHORIZED);

    // refresh1 presented again (a stolen copy): refused, and the whole family revoked.
    let (status, body) = refresh(&later, &client, &refresh1).await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");
    for access in [&access2, &access3] {
        assert_eq!(scim_status(&later, &org.id, access).await, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = refresh(&later, &client, &refresh3).await;
    assert_eq!((status, str_of(&body, "error")), (StatusCode::BAD_REQUEST, "invalid_grant"), "{body}");

    // A new authorization starts a new family, unaffected.
    let code = code_for(&later, &org, &client, "again").await;
    let (status, fresh) = exchange(&later, &client, &code, REDIRECT, VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(scim_status(&later, &org.id, str_of(&fresh, "access_token")).await, StatusCode::OK);

    // The history records the revoked family.
    let (_, history) =
        call(&later, Method::GET, &org.url(&later, "/scim/history"), Some(&org.owner.session), None).await;
    let actions: Vec<&str> =
        history["history"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"oauth_family_revoked"), "{history}");
    assert!(actions.contains(&"oauth_client_created"), "{history}");
}

#[tokio::test]
async fn the_status_warns_of_what_can_still_expire_and_not_of_a_connection_that_keeps_refreshing() {
    let t0 = Utc::now();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    enable(&app, &org, "none").await;
    let client = create_client(&app, &org, &[REDIRECT]).await;
    let code = code_for(&app, &org, &client, "s").await;
    let (_, tokens) = exchange(&app, &client, &code, REDIRECT, VERIFIER).await;
    let codes = |status: &Value| -> Vec<String> {
        status["warnings"].as_array().unwrap().iter().map(|w| w["code"].as_str().unwrap().to_owned()).collect()
    };
    let status_at = |at: DateTime<Utc>| {
        let table = app.table.clone();
        let (email, passphrase, org_url) = (org.owner.email.clone(), org.owner.passphrase.clone(), org.id.clone());
        async move {
            let later = spawn_app_on_table(&table, Clock::Fixed(at)).await;
            let session = crate::admin_support::sign_in(&later, &email, &passphrase).await;
            let url = format!("{}/admin/orgs/{org_url}/scim", later.address);
            let (code, body) = call(&later, Method::GET, &url, Some(&session), None).await;
            assert_eq!(code, StatusCode::OK, "{body}");
            (later, body)
        }
    };
    let (_, fresh) = status_at(t0 + Duration::days(1)).await;
    assert_eq!(codes(&fresh), Vec::<String>::new(), "{fresh}");

    // 75 days without a refresh: the refresh token (90 days unused) is about to expire.
    let (later, stale) = status_at(t0 + Duration::days(75)).await;
    assert_eq!(codes(&stale), ["oauth_refresh_token_expiring"], "{stale}");
    // The IdP refreshes: its lifetime starts again, nothing to do.
    let (status, _) = refresh(&later, &client, str_of(&tokens, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    let (_, renewed) = status_at(t0 + Duration::days(76)).await;
    assert_eq!(codes(&renewed), Vec::<String>::new(), "{renewed}");

    // The client secret (two years) is announced 20 days ahead.
    let (_, secret) = status_at(t0 + Duration::days(711)).await;
    assert!(codes(&secret).contains(&"oauth_client_secret_expiring".to_owned()), "{secret}");
}

#[tokio::test]
async fn a_scim_call_with_an_access_token_costs_one_round_trip_and_its_last_use_is_written_once_a_minute() {
    let t0 = Utc::now();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    enable(&app, &org, "90d").await;
    let client = create_client(&app, &org, &[]).await;
    let (_, issued) = client_credentials(&app, &client).await;
    let access = str_of(&issued, "access_token").to_owned();
    let url = format!("{}/ServiceProviderConfig", org.connector_url(&app));
    // The first use: counted from then on by this instance, and its last use written.
    app.round_trips.start();
    assert_eq!(app.get(&url, &access).send().await.unwrap().status(), StatusCode::OK);
    app.flush_logs().await;
    assert_eq!(app.round_trips.use_writes(), 1, "the first use of the minute is written, after the response");
    for _ in 0..3 {
        app.round_trips.start();
        assert_eq!(app.get(&url, &access).send().await.unwrap().status(), StatusCode::OK);
        app.flush_logs().await;
        // One BatchGetItem: the settings, the fair-use budget and the access token's grant.
        assert_eq!(app.round_trips.calls(), ["BatchGetItem"]);
        assert_eq!(app.round_trips.sequential(), 1);
        let (_, body) = &app.round_trips.requests()[0];
        assert!(body.contains("OAUTH#AT#") && body.contains("\"SCIM\""), "{body}");
        assert!(!body.contains(&access), "the token itself is never sent to DynamoDB");
        assert_eq!(app.round_trips.use_writes(), 0, "at most once a minute");
        assert_eq!(app.round_trips.rate_counts(), 1, "counted in the organization's budget");
    }
    // A minute later (another instance of the same table), the use is written again.
    let later = spawn_app_on_table(&app.table, Clock::Fixed(t0 + Duration::minutes(1))).await;
    later.round_trips.start();
    assert_eq!(
        later
            .get(&format!("{}/ServiceProviderConfig", org.connector_url(&later)), &access)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    later.flush_logs().await;
    assert_eq!(later.round_trips.use_writes(), 1);
    let client_item = app.store.oauth_client(&crate::helpers::OperatorScope::scope(&org.id)).await.unwrap().unwrap();
    assert_eq!(client_item.last_used_at, Some(t0 + Duration::minutes(1)));
}

#[tokio::test]
async fn an_oauth_notice_recorded_under_its_key_of_before_is_not_sent_again() {
    let t0 = Utc::now();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    enable(&app, &org, "none").await;
    let client = create_client(&app, &org, &[REDIRECT]).await;
    let code = code_for(&app, &org, &client, "s").await;
    exchange(&app, &client, &code, REDIRECT, VERIFIER).await;
    let families = app.store.oauth_families(&org.id.scope()).await.unwrap();
    let family = families.first().unwrap();
    // As the refresh token's 20-day notice was recorded before notices were named by their place.
    let old_key = format!("refresh:{}:{}:20d", family.id, family.refresh_expires_at.to_rfc3339());
    app.store
        .client()
        .update_item()
        .table_name(&app.table)
        .key("PK", AttributeValue::S(insomnia_scim::store::keys::org_pk(&org.id)))
        .key("SK", AttributeValue::S("OAUTH#CLIENT".into()))
        .update_expression("ADD notices_sent :keys")
        .expression_attribute_values(":keys", AttributeValue::Ss(vec![old_key]))
        .send()
        .await
        .unwrap();
    let scheduler = |at: DateTime<Utc>| {
        let key = TokenKeySource::Ready(app.app.token_key.clone());
        TokenScheduler::new(app.store.clone(), app.app.mailer.clone(), key, Clock::Fixed(at))
    };

    let run = scheduler(t0 + Duration::days(75)).run().await;
    assert_eq!((run.oauth_notices_queued, run.failure_count()), (0, 0), "{run:?}");
    // The next notice (7 days before) is still sent.
    let run = scheduler(t0 + Duration::days(84)).run().await;
    assert_eq!((run.oauth_notices_queued, run.failure_count()), (1, 0), "{run:?}");
}

#[tokio::test]
async fn the_scheduler_emails_owners_before_an_oauth_credential_ends_and_not_while_the_idp_keeps_refreshing() {
    let t0 = Utc::now();
    let app = spawn_app_with_clock(Clock::Fixed(t0)).await;
    let org = console_org(&app).await;
    enable(&app, &org, "none").await;
    let client = create_client(&app, &org, &[REDIRECT]).await;
    let code = code_for(&app, &org, &client, "s").await;
    let (_, tokens) = exchange(&app, &client, &code, REDIRECT, VERIFIER).await;
    let scheduler = |at: DateTime<Utc>| {
        let key = TokenKeySource::Ready(app.app.token_key.clone());
        TokenScheduler::new(app.store.clone(), app.app.mailer.clone(), key, Clock::Fixed(at))
    };
    let oauth_mail = || async {
        let mail = sent_emails(&org.owner.email).await;
        mail.into_iter().filter(|m| m["subject"].as_str().unwrap_or_default().contains("(OAuth)")).collect::<Vec<_>>()
    };

    let run = scheduler(t0 + Duration::days(1)).run().await;
    assert_eq!((run.oauth_notices_queued, run.failure_count()), (0, 0), "{run:?}");
    // 75 days without a refresh: the refresh token (90 days) ends within 20 days.
    let run = scheduler(t0 + Duration::days(75)).run().await;
    assert_eq!((run.oauth_notices_queued, run.failure_count()), (1, 0), "{run:?}");
    let mail = oauth_mail().await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    let body = mail[0]["body"].as_str().unwrap();
    assert!(body.contains("has not renewed its OAuth access") && body.contains("in 15 days"), "{body}");
    assert_eq!(scheduler(t0 + Duration::days(75)).run().await.oauth_notices_queued, 0, "once");

    // The IdP refreshes: the connection's lifetime starts again and nobody is told anything.
    let later = spawn_app_on_table(&app.table, Clock::Fixed(t0 + Duration::days(76))).await;
    let (status, _) = refresh(&later, &client, str_of(&tokens, "refresh_token")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(scheduler(t0 + Duration::days(80)).run().await.oauth_notices_queued, 0);
    assert_eq!(oauth_mail().await.len(), 1);

    // The client secret (two years) is announced 20 days ahead; by then the unused connection has
    // ended too, which is said once.
    let run = scheduler(t0 + Duration::days(711)).run().await;
    assert_eq!((run.oauth_notices_queued, run.failure_count()), (2, 0), "{run:?}");
    let bodies: Vec<String> = oauth_mail().await.iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect();
    assert!(bodies.iter().any(|b| b.contains("OAuth client secret") && b.contains("expires in 19 days")), "{bodies:?}");
    assert!(bodies.iter().any(|b| b.contains("has expired") && b.contains("has stopped")), "{bodies:?}");

    // After a revoke the client serves nobody: no more notices about it.
    let (code, body) = call(
        &app,
        Method::POST,
        &org.url(&app, "/scim/token/revoke"),
        Some(&org.owner.session),
        Some(json!({ "passphrase": org.owner.passphrase })),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{body}");
    assert_eq!(scheduler(t0 + Duration::days(730)).run().await.oauth_notices_queued, 0);
}
