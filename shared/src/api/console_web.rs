//! The console as a web page (docs/ARCHITECTURE.md, "Console (web page)"): one HTML page, its
//! script and its style sheet, embedded in the `scim-admin` binary (nothing is fetched at run
//! time, nothing is built). The page is a small client of the console's JSON endpoints, signed in
//! with the HttpOnly session cookie; `security_headers` is put on every answer of the function.
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("../../assets/console/console.html");
const SCRIPT: &str = include_str!("../../assets/console/console.js");
const STYLE: &str = include_str!("../../assets/console/console.css");

/// Only this origin's script and style; no inline script or style, no frames, no plugins, forms
/// and requests to this origin only.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers every answer of `scim-admin` carries (pages, assets and JSON alike). A handler
/// that set a stricter policy of its own keeps it (the OAuth approval page allows no script).
pub(super) async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let own_policy = headers.get(CONTENT_SECURITY_POLICY).cloned();
    let fixed: [(HeaderName, &'static str); 6] = [
        (CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (REFERRER_POLICY, "no-referrer"),
        (X_FRAME_OPTIONS, "DENY"),
        (STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
        (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Some(policy) = own_policy {
        headers.insert(CONTENT_SECURITY_POLICY, policy);
    }
    response
}

fn text(content_type: &'static str, body: &'static str, cache: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

/// `GET /console`: the page. `no-store`: the browser keeps no copy of a page that showed a token.
pub async fn page() -> Response {
    text("text/html; charset=utf-8", PAGE, "no-store")
}

/// `GET /console/assets/{file}`: the script and the style sheet (they hold no secret; revalidated
/// on each load so a deployment is picked up at once).
pub async fn asset(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "console.js" => text("text/javascript; charset=utf-8", SCRIPT, "no-cache"),
        "console.css" => text("text/css; charset=utf-8", STYLE, "no-cache"),
        _ => (StatusCode::NOT_FOUND, "No such console asset.").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_script_or_style_and_names_its_assets() {
        assert!(PAGE.contains(r#"<script src="/console/assets/console.js" defer></script>"#));
        assert!(PAGE.contains(r#"<link rel="stylesheet" href="/console/assets/console.css">"#));
        assert_eq!(PAGE.matches("<script").count(), 1, "one script element, the external one");
        assert!(!PAGE.contains("<style") && !PAGE.contains(" style="), "inline style");
        let handler =
            PAGE.split(|c: char| c.is_whitespace() || c == '<').any(|w| w.starts_with("on") && w.contains('='));
        assert!(!handler, "an inline event handler");
        assert!(!SCRIPT.contains("localStorage") && !SCRIPT.contains("sessionStorage"), "no web storage");
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("eval("), "DOM built from text nodes only");
    }
}
