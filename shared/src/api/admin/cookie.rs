//! The console page's session transport (docs/ARCHITECTURE.md, "Console (web page)"): a session
//! is presented either as `Authorization: Bearer <token>` (API clients, unchanged) or as the
//! HttpOnly session cookie (`__Host-isess`; `isess` on a loopback host) that a sign-in asking for it
//! (`X-Session-Cookie: 1`) set. Every
//! extractor of a signed-in request goes through `session_of`, which is where the one rule lives:
//! a cookie session may change state only with the session's CSRF secret in `X-CSRF-Token`.
use axum::http::header::{COOKIE, HOST};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};

use crate::admin::{csrf_matches, AdminError, Console, Session, SessionToken};
use crate::lifetimes;

/// The cookie that carries a console page's session token on a loopback host (plain HTTP, where a
/// `Secure` cookie, and so a `__Host-` one, would not be kept).
pub const SESSION_COOKIE: &str = "isess";
/// The cookie that carries it everywhere else: the `__Host-` prefix makes the browser keep it only
/// when set by this very host with `Secure`, `Path=/` and no `Domain`, so a sibling subdomain cannot
/// toss in a session cookie of its own.
pub const HOST_SESSION_COOKIE: &str = "__Host-isess";
/// Sent by the console page on sign-in: "put the session in a cookie, not in the answer". A
/// custom header cannot be sent by another site's page without a CORS preflight (which this
/// service never grants), so it is also the sign-in's defence against login CSRF.
pub const COOKIE_SIGN_IN_HEADER: &str = "x-session-cookie";
/// The CSRF secret that a cookie session's state changes carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How a request presented its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Bearer,
    Cookie,
}

/// The name of the session cookie for the request's host (see `HOST_SESSION_COOKIE`).
fn cookie_name(headers: &HeaderMap) -> &'static str {
    if loopback_host(headers) {
        SESSION_COOKIE
    } else {
        HOST_SESSION_COOKIE
    }
}

/// The session token in the request's session cookie: None without one; an error when the
/// cookie is given twice (which of the two is ours cannot be told, so neither is taken).
fn cookie_token(headers: &HeaderMap) -> Result<Option<&str>, AdminError> {
    let name = cookie_name(headers);
    let mut found = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(pair_name, _)| *pair_name == name)
        .map(|(_, value)| value.trim());
    let first = found.next();
    if found.next().is_some() {
        return Err(AdminError::SessionInvalid);
    }
    Ok(first)
}

/// GET and HEAD change nothing; every other method is a state change.
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD)
}

/// The request's session and how it came. A Bearer header wins (a browser never sends one on its
/// own, so it needs no CSRF check); else the cookie, whose state changes need the CSRF secret,
/// checked before anything is read.
pub async fn session_of(parts: &Parts, console: &Console) -> Result<(Session, Transport), AdminError> {
    if let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        // A header that is not text cannot hold a session token: invalid rather than missing.
        let session = console.authenticate(Some(header.to_str().unwrap_or("\u{0}"))).await?;
        return Ok((session, Transport::Bearer));
    }
    let token = cookie_token(&parts.headers)?.ok_or(AdminError::SessionMissing)?;
    let token_hash = SessionToken::parse(token)?.hash(&console.key);
    if changes_state(&parts.method) {
        let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !csrf_matches(&console.key, &token_hash, presented) {
            return Err(AdminError::CsrfRejected);
        }
    }
    Ok((console.authenticate_hash(token_hash).await?, Transport::Cookie))
}

/// Whether the sign-in asked for a cookie session.
pub fn wants_cookie(headers: &HeaderMap) -> bool {
    headers.get(COOKIE_SIGN_IN_HEADER).is_some_and(|v| v.as_bytes() == b"1")
}

/// The request came to a loopback host (`localhost`, `127.0.0.1`, `[::1]`): plain-HTTP local runs,
/// where a `Secure` cookie would not be stored. Decided from the request, not from configuration.
fn loopback_host(headers: &HeaderMap) -> bool {
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "::1"
}

fn cookie(headers: &HeaderMap, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if loopback_host(headers) { "" } else { "; Secure" };
    let name = cookie_name(headers);
    HeaderValue::from_str(&format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")).ok()
}

/// The `Set-Cookie` of a new cookie session (it lives as long as the session).
pub fn session_cookie(headers: &HeaderMap, token: &str) -> Option<HeaderValue> {
    cookie(headers, token, lifetimes::SESSION.num_seconds())
}

/// The `Set-Cookie` that removes the session cookie.
pub fn cleared_cookie(headers: &HeaderMap) -> Option<HeaderValue> {
    cookie(headers, "", 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let local = |cookies: &[&str]| {
            let mut pairs: Vec<(&'static str, &str)> = vec![("host", "127.0.0.1:8080")];
            pairs.extend(cookies.iter().map(|c| ("cookie", *c)));
            headers(&pairs)
        };
        let remote = |cookies: &[&str]| {
            let mut pairs: Vec<(&'static str, &str)> = vec![("host", "console.example.com")];
            pairs.extend(cookies.iter().map(|c| ("cookie", *c)));
            headers(&pairs)
        };
        assert_eq!(cookie_token(&local(&["a=1; isess=isess_abc; b=2"])).unwrap(), Some("isess_abc"));
        assert_eq!(cookie_token(&local(&["a=1", "isess=isess_x"])).unwrap(), Some("isess_x"));
        assert_eq!(cookie_token(&local(&["xisess=isess_abc"])).unwrap(), None);
        assert_eq!(cookie_token(&HeaderMap::new()).unwrap(), None);
        // Elsewhere only the `__Host-` cookie counts; a tossed `isess` is ignored, two are refused.
        assert_eq!(
            cookie_token(&remote(&["isess=isess_tossed; __Host-isess=isess_ours"])).unwrap(),
            Some("isess_ours")
        );
        assert_eq!(cookie_token(&remote(&["isess=isess_tossed"])).unwrap(), None);
        assert!(cookie_token(&remote(&["__Host-isess=isess_a", "__Host-isess=isess_b"])).is_err());
        assert!(cookie_token(&local(&["isess=isess_a; isess=isess_b"])).is_err());
    }

    #[test]
    fn secure_is_left_out_only_for_loopback_hosts() {
        for host in ["127.0.0.1:8080", "localhost", "LOCALHOST:3000", "[::1]:8080"] {
            let value = session_cookie(&headers(&[("host", host)]), "isess_a").unwrap();
            assert!(!value.to_str().unwrap().contains("Secure"), "{host}");
        }
        for host in ["api.example.com", "127.0.0.1.example.com", "localhost.evil.com:443", ""] {
            let value = session_cookie(&headers(&[("host", host)]), "isess_a").unwrap();
            let value = value.to_str().unwrap();
            assert!(value.ends_with("; HttpOnly; SameSite=Strict; Secure"), "{host}: {value}");
        }
        let cleared = cleared_cookie(&headers(&[("host", "api.example.com")])).unwrap();
        assert_eq!(cleared.to_str().unwrap(), "__Host-isess=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure");
        let value = session_cookie(&headers(&[("host", "api.example.com")]), "isess_a").unwrap();
        assert!(value.to_str().unwrap().starts_with("__Host-isess=isess_a; Path=/;"), "{value:?}");
    }

    #[test]
    fn only_safe_methods_skip_the_csrf_check() {
        assert!(!changes_state(&Method::GET));
        assert!(!changes_state(&Method::HEAD));
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS] {
            assert!(changes_state(&method), "{method}");
        }
    }
}
