//! What the SCIM handlers of Users and Groups share: query parameters, the order of the token
//! check and input errors, list and search queries, resource answers.
use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::body::ScimBody;
use super::{scim_text, AppState, ScimCaller};
use crate::scim::list::ListQuery;
use crate::scim::ScimError;

/// Query parameters, with a malformed query string answered as a SCIM error.
pub(super) type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

pub(super) fn params(query: Params) -> Result<HashMap<String, String>, ScimError> {
    query.map(|Query(map)| map).map_err(|e| super::error::invalid_syntax(format!("The query string is invalid: {e}")))
}

/// Runs `parse` after the token check when the input is bad, so that a bad request of a known
/// organization is answered 401 or 400 in the same order as a good one, and is logged.
pub(super) async fn checked<T>(
    caller: &ScimCaller,
    app: &AppState,
    parsed: Result<T, ScimError>,
) -> Result<T, ScimError> {
    match parsed {
        Ok(value) => Ok(value),
        Err(err) => {
            caller.authorize(app).await?;
            Err(err)
        }
    }
}

/// The query of `GET /Users` or `GET /Groups`.
pub(super) async fn list_query(caller: &ScimCaller, app: &AppState, query: Params) -> Result<ListQuery, ScimError> {
    checked(caller, app, params(query).and_then(|p| ListQuery::from_params(&p))).await
}

/// The query of `POST /Users/.search` or `POST /Groups/.search` (RFC 7644 §3.4.3).
pub(super) async fn search_query(
    caller: &ScimCaller,
    app: &AppState,
    body: Result<ScimBody, ScimError>,
) -> Result<ListQuery, ScimError> {
    checked(caller, app, body.and_then(|b| ListQuery::from_search_request(&b.0))).await
}

/// A resource answer: its text, its ETag, and for a create its `Location`.
pub(super) fn resource_response(status: StatusCode, body: String, version: u64, location: &str) -> Response {
    let mut response = super::etag::with_etag(scim_text(status, body), version);
    if status == StatusCode::CREATED {
        if let Ok(value) = HeaderValue::from_str(location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
    }
    response
}
