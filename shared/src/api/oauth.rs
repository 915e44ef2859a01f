//! HTTP adapter of OAuth 2.0 for the SCIM connector: `/oauth/authorize` (a small server-rendered
//! page: no script, a strict CSP, never cached, never framed) and `/oauth/token` (RFC 6749 §5 JSON,
//! `Cache-Control: no-store`). Refusals of the token endpoint are put on the wire here, and only
//! here (RFC 6749 §5.2).
use std::collections::HashMap;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::admin::ClientSource;
use super::{admin, App, AppState};
use crate::admin::AdminError;
use crate::oauth::{
    ApprovalRefusal, AuthorizeParams, AuthorizeRefusal, OAuth, OAuthError, TokenRequest, ValidAuthorize,
};

const CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'";

/// The approval page's policy: its form posts here (`'self'`), and the answer is a 303 to the
/// registered redirect URI, which browsers check against `form-action` too (Chromium and Safari
/// block it otherwise): exactly that URI's origin is allowed as well (docs/ARCHITECTURE.md,
/// "Tokens: rotation, revoke, OAuth").
fn approval_csp(redirect_uri: &str) -> String {
    match origin_of(redirect_uri) {
        Some(origin) => {
            format!("default-src 'none'; style-src 'self'; form-action 'self' {origin}; frame-ancestors 'none'")
        }
        None => CSP.to_owned(),
    }
}

/// `scheme://host[:port]` of an absolute `http`/`https` URI, when its authority holds only the
/// characters a host and port are made of (anything else could not be a CSP source expression).
fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if authority.is_empty() || authority.contains('@') || !authority.chars().all(plain) {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

fn oauth(app: &App) -> OAuth {
    let console = admin::console(app);
    OAuth { store: app.store.clone(), key: app.token_key.clone(), now: console.now, console }
}

/// Form or query fields, each at most once (RFC 6749 §3.1, §3.2).
fn single(fields: Vec<(String, String)>) -> Result<HashMap<String, String>, String> {
    let mut map = HashMap::new();
    for (name, value) in fields {
        if map.insert(name.clone(), value).is_some() {
            return Err(format!("`{name}` is given more than once"));
        }
    }
    Ok(map)
}

fn authorize_params(map: &HashMap<String, String>) -> AuthorizeParams {
    let get = |name: &str| map.get(name).cloned();
    AuthorizeParams {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        state: get("state"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
    }
}

/// `GET /oauth/authorize`: the sign-in and approval page, or the request's refusal.
pub async fn authorize_page(
    State(app): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let issuer = app.origin(&headers);
    let map = match query.map_err(|e| e.to_string()).and_then(|Query(fields)| single(fields)) {
        Ok(map) => map,
        Err(why) => return page(StatusCode::BAD_REQUEST, "Invalid request", &escape(&why), None),
    };
    match oauth(&app).check_authorize(&authorize_params(&map)).await {
        Ok(request) => approval_page(StatusCode::OK, &request, None),
        Err(refusal) => refused(refusal, &issuer),
    }
}

/// `POST /oauth/authorize`: sign in and approve (or deny); 303 to the registered redirect URI.
pub async fn authorize_approve(
    State(app): State<AppState>,
    ClientSource(source): ClientSource,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let map = match form.map_err(|e| e.to_string()).and_then(|Form(fields)| single(fields)) {
        Ok(map) => map,
        Err(why) => return page(StatusCode::BAD_REQUEST, "Invalid request", &escape(&why), None),
    };
    let oauth = oauth(&app);
    let issuer = app.origin(&headers);
    let params = authorize_params(&map);
    let field = |name: &str| map.get(name).map(String::as_str).unwrap_or_default();
    if field("decision") == "deny" {
        return match oauth.check_authorize(&params).await {
            Ok(request) => redirect_error(
                &request.redirect_uri,
                "access_denied",
                "the owner denied access",
                request.state.as_deref(),
                &issuer,
            ),
            Err(refusal) => refused(refusal, &issuer),
        };
    }
    match oauth.approve(&params, field("form_token"), field("email"), field("passphrase"), &source).await {
        Ok(approval) => {
            let mut query = vec![("code", approval.code.as_str())];
            if let Some(state) = approval.state.as_deref() {
                query.push(("state", state));
            }
            // RFC 9207: the issuer, so a client talking to several servers can tell whose code it is.
            query.push(("iss", issuer.as_str()));
            see_other(&with_query(&approval.redirect_uri, &query))
        }
        Err(ApprovalRefusal::Request(refusal)) => refused(refusal, &issuer),
        Err(ApprovalRefusal::FormExpired) => page(
            StatusCode::BAD_REQUEST,
            "This form has expired",
            "Start the connection again from your identity provider.",
            None,
        ),
        Err(refusal) => {
            // The form is shown again with what went wrong.
            let (status, message) = match &refusal {
                ApprovalRefusal::SignIn(AdminError::InvalidCredentials) => {
                    (StatusCode::UNAUTHORIZED, "The email or passphrase is not correct.".to_owned())
                }
                ApprovalRefusal::SignIn(AdminError::TooManyAttempts { retry_after_secs }) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many failed sign-ins: try again in {retry_after_secs} seconds."),
                ),
                ApprovalRefusal::SignIn(AdminError::PassphraseChangeRequired) => (
                    StatusCode::FORBIDDEN,
                    "Change your initial passphrase in the console first, then approve again.".to_owned(),
                ),
                ApprovalRefusal::SignIn(AdminError::InvalidRequest(why)) => (StatusCode::BAD_REQUEST, why.clone()),
                ApprovalRefusal::NotAdmin => (
                    StatusCode::FORBIDDEN,
                    "Only an Owner or Co-Owner of this organization can approve its SCIM connection.".to_owned(),
                ),
                ApprovalRefusal::SignIn(err) => {
                    tracing::error!(error = %crate::telemetry::Chain(err), "OAuth approval sign-in failed");
                    (StatusCode::SERVICE_UNAVAILABLE, "The service could not sign you in; try again.".to_owned())
                }
                ApprovalRefusal::Failed(err) => {
                    tracing::error!(error = %crate::telemetry::Chain(err), "OAuth approval failed");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "The service could not finish the approval; try again.".to_owned(),
                    )
                }
                ApprovalRefusal::Request(_) | ApprovalRefusal::FormExpired => {
                    (StatusCode::BAD_REQUEST, "Start again from your identity provider.".to_owned())
                }
            };
            match oauth.check_authorize(&params).await {
                Ok(request) => approval_page(status, &request, Some(&message)),
                Err(refusal) => refused(refusal, &issuer),
            }
        }
    }
}

/// `POST /oauth/token`: client credentials, authorization code, refresh token.
pub async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let basic = headers.get(AUTHORIZATION).is_some();
    let map = match form.map_err(|e| e.to_string()).and_then(|Form(fields)| single(fields)) {
        Ok(map) => map,
        Err(why) => return token_error(&OAuthError::InvalidRequest(why), basic),
    };
    let mut request = TokenRequest {
        grant_type: map.get("grant_type").cloned(),
        client_id: map.get("client_id").cloned(),
        client_secret: map.get("client_secret").cloned(),
        code: map.get("code").cloned(),
        redirect_uri: map.get("redirect_uri").cloned(),
        code_verifier: map.get("code_verifier").cloned(),
        refresh_token: map.get("refresh_token").cloned(),
    };
    if basic {
        // client_secret_basic (RFC 6749 §2.3.1): id and secret form-urlencoded, then base64.
        let Some((id, secret)) = basic_credentials(&headers) else {
            return token_error(
                &OAuthError::InvalidClient("the Authorization header must be Basic client credentials".into()),
                true,
            );
        };
        if request.client_secret.is_some() || request.client_id.as_ref().is_some_and(|given| *given != id) {
            return token_error(&OAuthError::InvalidRequest("use one client authentication method".into()), true);
        }
        request.client_id = Some(id);
        request.client_secret = Some(secret);
    }
    match oauth(&app).token(&request).await {
        Ok(answer) => {
            let mut response = Json(answer).into_response();
            no_cache(&mut response);
            response
        }
        Err(err) => token_error(&err, basic),
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((percent_decode(id)?, percent_decode(secret)?))
}

/// The token endpoint's refusals (RFC 6749 §5.2): 401 for client authentication, 400 otherwise.
fn token_error(err: &OAuthError, basic: bool) -> Response {
    let status = match err {
        OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
        OAuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        OAuthError::Internal(cause) => {
            tracing::error!(error = %crate::telemetry::Chain(cause.as_ref()), "OAuth token request failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let description = match err {
        OAuthError::Internal(_) => "internal error".to_owned(),
        other => other.to_string(),
    };
    let body = serde_json::json!({ "error": err.code(), "error_description": description });
    let mut response = (status, Json(body)).into_response();
    no_cache(&mut response);
    if matches!(err, OAuthError::InvalidClient(_)) {
        let challenge = if basic { "Basic realm=\"oauth\"" } else { "Basic realm=\"oauth\", error=\"invalid_client\"" };
        response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    }
    response
}

fn no_cache(response: &mut Response) {
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(PRAGMA, HeaderValue::from_static("no-cache"));
}

fn refused(refusal: AuthorizeRefusal, issuer: &str) -> Response {
    match refusal {
        AuthorizeRefusal::Page(message) => {
            page(StatusCode::BAD_REQUEST, "This request cannot be approved", &escape(&message), None)
        }
        AuthorizeRefusal::Redirect { redirect_uri, error, description, state } => {
            redirect_error(&redirect_uri, error, &description, state.as_deref(), issuer)
        }
    }
}

/// An error answer to the registered redirect URI (RFC 6749 §4.1.2.1), with `iss` (RFC 9207).
fn redirect_error(redirect_uri: &str, error: &str, description: &str, state: Option<&str>, issuer: &str) -> Response {
    let mut query = vec![("error", error), ("error_description", description)];
    if let Some(state) = state {
        query.push(("state", state));
    }
    query.push(("iss", issuer));
    see_other(&with_query(redirect_uri, &query))
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(LOCATION, value);
            response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => page(StatusCode::BAD_REQUEST, "Invalid redirect", "The redirect URI cannot be used.", None),
    }
}

fn with_query(uri: &str, query: &[(&str, &str)]) -> String {
    let joined: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{}", joined.join("&"))
}

fn approval_page(status: StatusCode, request: &ValidAuthorize, error: Option<&str>) -> Response {
    let hidden = [
        ("response_type", "code"),
        ("client_id", request.client_id.as_str()),
        ("redirect_uri", request.redirect_uri.as_str()),
        ("state", request.state.as_deref().unwrap_or_default()),
        ("code_challenge", request.code_challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("form_token", request.form_token.as_str()),
    ];
    let fields: String = hidden
        .iter()
        .filter(|(name, value)| !(value.is_empty() && *name == "state"))
        .map(|(name, value)| format!("<input type=\"hidden\" name=\"{name}\" value=\"{}\">\n", escape(value)))
        .collect();
    let body = format!(
        "<p>An identity provider asks to provision the users and teams of the organization \
         <strong>{org}</strong> through SCIM, as OAuth client <code>{client}</code>, and will return to \
         <code>{uri}</code>.</p>\n<p>Sign in as an Owner or Co-Owner of the organization to approve.</p>\n\
         <form method=\"post\" action=\"/oauth/authorize\">\n{fields}\
         <label>Email <input type=\"email\" name=\"email\" autocomplete=\"username\" required></label>\n\
         <label>Passphrase <input type=\"password\" name=\"passphrase\" autocomplete=\"current-password\" required></label>\n\
         <button type=\"submit\" name=\"decision\" value=\"approve\">Sign in and approve</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>Deny</button>\n</form>",
        org = escape(request.org.as_str()),
        client = escape(request.client_id.as_str()),
        uri = escape(&request.redirect_uri),
    );
    let mut response = page(status, "Approve the SCIM connection", &body, error);
    if let Ok(csp) = HeaderValue::from_str(&approval_csp(&request.redirect_uri)) {
        response.headers_mut().insert("content-security-policy", csp);
    }
    response
}

/// A page: its body is HTML built from escaped text only.
fn page(status: StatusCode, title: &str, body_html: &str, error: Option<&str>) -> Response {
    let error = error.map(|e| format!("<p role=\"alert\"><strong>{}</strong></p>\n", escape(e))).unwrap_or_default();
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} - SCIM for Insomnia</title>\
         <meta name=\"viewport\" content=\"width=device-width\"></head>\n<body><h1>{title}</h1>\n{error}{body_html}\n</body></html>\n",
        title = escape(title),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_encoding() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(percent_decode("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(with_query("https://x/cb", &[("code", "c"), ("state", "s 1")]), "https://x/cb?code=c&state=s%201");
        assert_eq!(with_query("https://x/cb?a=1", &[("code", "c")]), "https://x/cb?a=1&code=c");
    }

    #[test]
    fn the_approval_page_may_post_to_exactly_the_redirect_uris_origin() {
        assert_eq!(
            approval_csp("https://acme.okta.com/oauth2/v1/authorize/callback?x=1"),
            "default-src 'none'; style-src 'self'; form-action 'self' https://acme.okta.com; frame-ancestors 'none'"
        );
        assert_eq!(origin_of("http://127.0.0.1:8123/cb").as_deref(), Some("http://127.0.0.1:8123"));
        assert_eq!(origin_of("https://[::1]:9/cb").as_deref(), Some("https://[::1]:9"));
        for odd in ["https://a;b.example/cb", "https://u@x.example/", "javascript://x", "https:///cb", "nothing"] {
            assert_eq!(origin_of(odd), None, "{odd}");
        }
        assert_eq!(approval_csp("https://a b/"), CSP);
    }

    #[test]
    fn duplicate_parameters_are_refused() {
        assert!(single(vec![("a".into(), "1".into()), ("a".into(), "2".into())]).is_err());
        assert_eq!(single(vec![("a".into(), "1".into())]).unwrap()["a"], "1");
    }
}
