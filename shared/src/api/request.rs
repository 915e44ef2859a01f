//! What the SCIM handlers of Users, Groups and Bulk share: the [`Checked`] extractor (the caller and
//! its parsed input, bad input answered only after the token check) and resource answers.
use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::etag::expected;
use super::{scim_text, AppState, ScimCaller};
use crate::provisioning::Expected;
use crate::scim::list::Projection;
use crate::scim::ScimError;

/// A SCIM request as its handler is given it: the caller and the input parsed from the path's
/// resource id, the query, the headers and the body. Extracting it reads nothing when the input is
/// good (the use case checks the token in the same read as its first data); bad input is answered
/// only after the token check, so a bad request of a known organization is answered 401 or 400 in
/// the same order as a good one, and is logged (RFC 7644 §3.12: only a caller with a valid token
/// learns anything).
pub(super) struct Checked<T>(pub ScimCaller, pub T);

/// The raw parts of a SCIM request that an input is parsed from.
pub(super) struct Raw<'a, B> {
    pub app: &'a AppState,
    pub caller: &'a ScimCaller,
    /// The resource id in the path (empty on a collection's route).
    pub id: String,
    /// The query parameters (a malformed query string is a SCIM error, answered after the check).
    pub query: Result<HashMap<String, String>, ScimError>,
    pub headers: HeaderMap,
    pub body: Result<B, ScimError>,
}

impl<'a, B> Raw<'a, B> {
    /// The same request with another body.
    pub fn with_body<C>(self, body: C) -> Raw<'a, C> {
        let Self { app, caller, id, query, headers, body: _ } = self;
        Raw { app, caller, id, query, headers, body: Ok(body) }
    }
}

/// The input of one SCIM endpoint, parsed from its request.
pub(super) trait ScimInput: Sized + Send {
    /// The body the endpoint reads ([`NoBody`], `ScimBody`, `BulkBody`).
    type Body: FromRequest<AppState, Rejection = ScimError> + Send;

    fn parse(raw: Raw<'_, Self::Body>) -> Result<Self, ScimError>;
}

/// The body of an endpoint that reads none.
pub(super) struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ScimError;

    async fn from_request(_request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self)
    }
}

impl<T: ScimInput> FromRequest<AppState> for Checked<T> {
    type Rejection = ScimError;

    async fn from_request(request: Request, app: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let caller = ScimCaller::from_request_parts(&mut parts, app).await?;
        let id = match RawPathParams::from_request_parts(&mut parts, app).await {
            Ok(params) => {
                params.iter().find(|(name, _)| *name == "id").map(|(_, id)| id.to_owned()).unwrap_or_default()
            }
            // The caller's extraction answered a path that is not UTF-8.
            Err(_) => String::new(),
        };
        let query = Query::<HashMap<String, String>>::from_request_parts(&mut parts, app)
            .await
            .map(|Query(map)| map)
            .map_err(|e| super::error::invalid_syntax(format!("The query string is invalid: {e}")));
        let headers = parts.headers.clone();
        let body = T::Body::from_request(Request::from_parts(parts, body), app).await;
        let input = parse_checked(Raw { app, caller: &caller, id, query, headers, body }).await?;
        Ok(Self(caller, input))
    }
}

/// Parses `raw` as `T`; bad input is answered after the token check (a wrong token: 401 first).
/// The extractor hands every request through here, and Bulk each operation.
pub(super) async fn parse_checked<T: ScimInput>(raw: Raw<'_, T::Body>) -> Result<T, ScimError> {
    let (app, caller) = (raw.app, raw.caller);
    after_check(app, caller, T::parse(raw)).await
}

/// `parsed`, or its error once the token has passed the check (the check's 401 first).
pub(super) async fn after_check<T>(
    app: &AppState,
    caller: &ScimCaller,
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

/// `DELETE /Users/{id}` and `DELETE /Groups/{id}`: the resource and the version asked for.
pub(super) struct Target {
    pub id: String,
    pub expected: Expected,
}

impl ScimInput for Target {
    type Body = NoBody;

    fn parse(raw: Raw<'_, NoBody>) -> Result<Self, ScimError> {
        Ok(Self { expected: expected(&raw.headers), id: raw.id })
    }
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

/// `GET /Users/{id}` and `GET /Groups/{id}`: the id, what to answer of it, and the headers of a
/// conditional read (`If-None-Match`).
pub(super) struct ResourceRead {
    pub(super) id: String,
    pub(super) projection: Projection,
    pub(super) headers: HeaderMap,
}

impl ScimInput for ResourceRead {
    type Body = NoBody;

    fn parse(raw: Raw<'_, NoBody>) -> Result<Self, ScimError> {
        let projection = Projection::from_params(&raw.query?)?;
        Ok(Self { id: raw.id, projection, headers: raw.headers })
    }
}
