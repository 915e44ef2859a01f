//! What the console tests share: signed-in owners, JSON requests, reading sent mail.
use chrono::Utc;
use insomnia_scim::domain::{EmailAddress, MemberRole, OrgId, Organization, Plan};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::TestApp;

pub const PASSPHRASE: &str = "correct horse battery staple";

pub fn unique_email(prefix: &str) -> String {
    format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// An account that signs in to the console.
pub struct Person {
    pub email: String,
    pub passphrase: String,
    pub session: String,
}

/// An Enterprise organization meeting every SCIM requirement (SSO with Okta), not yet enabled,
/// with a signed-in owner.
pub struct ConsoleOrg {
    pub id: OrgId,
    pub owner: Person,
}

impl ConsoleOrg {
    pub fn url(&self, app: &TestApp, path: &str) -> String {
        format!("{}/admin/orgs/{}{path}", app.address, self.id)
    }

    pub fn connector_url(&self, app: &TestApp) -> String {
        format!("{}/scim/v2/orgs/{}", app.address, self.id)
    }
}

/// Sends a console request; answers the status and the JSON body (Null when there is none).
pub async fn call(
    app: &TestApp,
    method: Method,
    url: &str,
    session: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (status, _, body) = call_with_headers(app, method, url, session, body).await;
    (status, body)
}

pub async fn call_with_headers(
    app: &TestApp,
    method: Method,
    url: &str,
    session: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = app.http.request(method, url);
    if let Some(session) = session {
        request = request.bearer_auth(session);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    if status.is_client_error() || status.is_server_error() {
        assert!(!status.is_server_error(), "{status}: {body}");
        assert!(body["error"].is_string() && body["message"].is_string(), "not a console error: {body}");
        assert_eq!(headers["content-type"], "application/json");
    }
    (status, headers, body)
}

/// Waits, when the sign-in throttle's fixed window (lifetimes::THROTTLE_WINDOW) ends within `needed`, until the
/// next one begins: a run of failed attempts counted across a window's end would start over and
/// not reach the limit.
pub async fn within_one_throttle_window(needed: std::time::Duration) {
    let now = Utc::now();
    let left = (insomnia_scim::admin::window_start(now) + insomnia_scim::lifetimes::THROTTLE_WINDOW - now)
        .to_std()
        .unwrap_or_default();
    if left < needed {
        tokio::time::sleep(left + std::time::Duration::from_secs(1)).await;
    }
}

pub async fn sign_in_raw(app: &TestApp, email: &str, passphrase: &str) -> (StatusCode, Value) {
    let url = format!("{}/auth/sessions", app.address);
    call(app, Method::POST, &url, None, Some(json!({ "email": email, "passphrase": passphrase }))).await
}

pub async fn sign_in(app: &TestApp, email: &str, passphrase: &str) -> String {
    let (status, body) = sign_in_raw(app, email, passphrase).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// A member of `org` with `role`, signed in.
pub async fn person(app: &TestApp, org: &OrgId, role: MemberRole, prefix: &str) -> Person {
    let email = unique_email(prefix);
    let passphrase = format!("{PASSPHRASE} {prefix}");
    app.add_manual_member(org, &email, role, &passphrase).await;
    let session = sign_in(app, &email, &passphrase).await;
    Person { email, passphrase, session }
}

pub async fn console_org(app: &TestApp) -> ConsoleOrg {
    console_org_with(app, Plan::Enterprise, None).await
}

pub async fn console_org_with(app: &TestApp, plan: Plan, seats: Option<u32>) -> ConsoleOrg {
    let id = app.create_org(plan, seats).await;
    let owner = person(app, &id, MemberRole::Owner, "owner").await;
    ConsoleOrg { id, owner }
}

/// An organization that meets none of the organization-side requirements.
pub async fn bare_org(app: &TestApp) -> OrgId {
    let id = OrgId::parse(&format!("bare-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])).unwrap();
    let org = Organization::new(id.clone(), "Bare Org", Plan::Team, None, Utc::now());
    app.store.create_organization(&org).await.unwrap();
    id
}

/// Enables SCIM from the console; answers the token.
pub async fn enable(app: &TestApp, org: &ConsoleOrg, window: &str) -> String {
    let (status, body) = call(
        app,
        Method::POST,
        &org.url(app, "/scim/enable"),
        Some(&org.owner.session),
        Some(json!({ "idp": "okta", "window": window, "passphrase": org.owner.passphrase })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

pub async fn status(app: &TestApp, org: &ConsoleOrg) -> Value {
    let (status, body) = call(app, Method::GET, &org.url(app, "/scim"), Some(&org.owner.session), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The status of a SCIM request with `token` on the organization's connector.
pub async fn scim_status(app: &TestApp, org: &OrgId, token: &str) -> StatusCode {
    let url = format!("{}/scim/v2/orgs/{org}/Users?count=1", app.address);
    app.get(&url, token).send().await.unwrap().status()
}

pub use crate::helpers::sent_emails;

/// The account item as stored.
pub async fn account(app: &TestApp, email: &str) -> insomnia_scim::store::Account {
    app.store.account(&EmailAddress::parse(email).unwrap()).await.unwrap().unwrap()
}
