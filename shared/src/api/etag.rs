//! ETags and conditional requests, one helper for Users and Groups: `W/"n"` of a resource's
//! version, `If-Match` (what a write expects) and `If-None-Match` (a GET that may answer 304).
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::provisioning::Expected;
use crate::scim::user::etag;

/// The versions an `If-Match` / `If-None-Match` header names; None for `*`.
fn named_versions(value: &str) -> Option<Vec<u64>> {
    if value.trim() == "*" {
        return None;
    }
    Some(
        value
            .split(',')
            .filter_map(|tag| tag.trim().trim_start_matches("W/").trim_matches('"').parse::<u64>().ok())
            .collect(),
    )
}

/// What the request's `If-Match` header asks of the current version.
pub fn expected(headers: &HeaderMap) -> Expected {
    match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()).map(named_versions) {
        Some(Some(versions)) => Expected::OneOf(versions),
        _ => Expected::Any,
    }
}

/// Whether `If-None-Match` names this version (or `*`): the GET answers 304.
pub fn not_modified(headers: &HeaderMap, version: u64) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(named_versions)
        .is_some_and(|versions| versions.is_none_or(|v| v.contains(&version)))
}

/// The answer carries the version's ETag.
pub fn with_etag(mut response: Response, version: u64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// 304 Not Modified, with the current ETag (RFC 9110 §15.4.5).
pub fn not_modified_response(version: u64) -> Response {
    with_etag(StatusCode::NOT_MODIFIED.into_response(), version)
}
