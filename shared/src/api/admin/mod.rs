//! HTTP adapter of the console (`scim-admin` function): `/auth/…` for accounts and sessions,
//! `/admin/orgs/{orgId}/…` for an organization's Owners and Co-Owners. JSON in and out; every
//! refusal is an `AdminError`, put on the wire by `error`.
pub(super) mod auth;
pub(super) mod cookie;
mod error;
pub(super) mod members;
pub(super) mod scim;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::to_bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::Response;
use lambda_http::request::RequestContext;
use serde::de::DeserializeOwned;

use super::{App, AppState};
use crate::admin::{AdminError, ConfirmedByPassphrase, Console, GuardedAction, OrgCaller, Session};

use cookie::{session_of, Transport};

/// Console bodies are small; anything larger is refused before it is parsed.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Answers may hold a token or a session: never cached (the console's static assets, which hold
/// neither, say otherwise themselves).
pub(super) async fn no_store(mut response: Response) -> Response {
    if !response.headers().contains_key(CACHE_CONTROL) {
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The use cases with this request's time.
pub(super) fn console(app: &App) -> Console {
    Console {
        store: app.store.clone(),
        key: app.token_key.clone(),
        mailer: app.mailer.clone(),
        background: app.logs.clone(),
        now: app.clock.now(),
    }
}

/// The caller's address, for the per-source attempt counters (docs/ARCHITECTURE.md, "Console
/// (web page)"): on Lambda API Gateway's `requestContext.http.sourceIp` (not a client-supplied
/// header), on a local server the connection's peer (`api::local_service` records it). Every
/// route that counts by source takes it through this one extractor; with neither (a router run
/// without either), one shared bucket.
pub struct ClientSource(pub String);

impl ClientSource {
    fn of(parts: &Parts) -> Self {
        Self::of_extensions(&parts.extensions)
    }

    /// The same, from a request's extensions (the request-log middleware holds a whole request).
    pub(in crate::api) fn of_extensions(extensions: &axum::http::Extensions) -> Self {
        if let Some(RequestContext::ApiGatewayV2(context)) = extensions.get::<RequestContext>() {
            if let Some(ip) = context.http.source_ip.as_deref().filter(|ip| !ip.is_empty()) {
                return Self(ip.chars().take(64).collect());
            }
        }
        if let Some(ConnectInfo(address)) = extensions.get::<ConnectInfo<SocketAddr>>() {
            return Self(address.ip().to_string());
        }
        Self("unknown".to_owned())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientSource {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(parts))
    }
}

/// A request that needs no session.
pub struct Anonymous {
    pub console: Console,
    pub source: String,
    /// The request's headers (a sign-in reads whether it asked for a cookie and the host).
    pub headers: axum::http::HeaderMap,
}

impl FromRequestParts<AppState> for Anonymous {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let ClientSource(source) = ClientSource::of(parts);
        Ok(Self { console: console(app), source, headers: parts.headers.clone() })
    }
}

/// A signed-in caller (any session, including one restricted to the passphrase change).
pub struct SignedIn {
    pub console: Console,
    pub session: Session,
    pub transport: Transport,
    pub headers: axum::http::HeaderMap,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let console = console(app);
        let (session, transport) = session_of(parts, &console).await?;
        Ok(Self { console, session, transport, headers: parts.headers.clone() })
    }
}

/// A signed-in caller of `/admin/orgs/{orgId}/…` who is a member of that organization (handlers
/// require the Owner or Co-Owner role).
pub struct AdminCaller {
    pub console: Console,
    pub caller: OrgCaller,
    pub origin: String,
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let console = console(app);
        let (session, _) = session_of(parts, &console).await?;
        let params =
            RawPathParams::from_request_parts(parts, app).await.map_err(|_| AdminError::NotOrgAdmin(String::new()))?;
        let raw_org = params.iter().find(|(name, _)| *name == "orgId").map(|(_, value)| value).unwrap_or_default();
        let caller = console.org_caller(session, raw_org).await?;
        Ok(Self { console, caller, origin: app.origin(&parts.headers) })
    }
}

impl AdminCaller {
    /// The caller's passphrase for `action`, checked where every guarded change goes through
    /// (docs/ARCHITECTURE.md, "Tokens: rotation, revoke, OAuth").
    pub async fn confirm(self, passphrase: &str, action: GuardedAction) -> Result<ConfirmedByPassphrase, AdminError> {
        self.console.confirm_passphrase(self.caller, passphrase, action).await
    }
}

/// A JSON body (`application/json`, or no content type); an empty body reads as `{}`.
pub struct AdminJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AdminJson<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let media_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
            .filter(|m| !m.is_empty());
        if let Some(media_type) = media_type.filter(|m| m != "application/json" && !m.ends_with("+json")) {
            return Err(AdminError::UnsupportedMediaType(media_type));
        }
        let bytes = to_bytes(request.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| AdminError::PayloadTooLarge(MAX_BODY_BYTES))?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        serde_json::from_slice(text)
            .map(AdminJson)
            .map_err(|e| AdminError::InvalidRequest(format!("The request body is not what this endpoint takes: {e}.")))
    }
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(query: Params) -> Result<HashMap<String, String>, AdminError> {
    query.map(|Query(map)| map).map_err(|e| AdminError::InvalidRequest(format!("The query string is invalid: {e}.")))
}

/// Refuses parameters an endpoint does not know (a typo would otherwise be silently ignored).
fn only(params: &HashMap<String, String>, accepted: &[&str]) -> Result<(), AdminError> {
    match params.keys().find(|k| !accepted.contains(&k.as_str())) {
        Some(unknown) => Err(AdminError::InvalidRequest(format!(
            "Unknown parameter `{unknown}`; accepted: {}.",
            accepted.join(", ")
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;

    fn parts_with(extensions: impl FnOnce(&mut axum::http::Extensions)) -> Parts {
        let mut request = axum::http::Request::new(());
        // A header a client could set never counts.
        request.headers_mut().insert("x-forwarded-for", HeaderValue::from_static("198.51.100.7"));
        extensions(request.extensions_mut());
        request.into_parts().0
    }

    #[test]
    fn the_source_is_api_gateways_source_ip_else_the_connections_peer() {
        let lambda = parts_with(|extensions| {
            let mut context = ApiGatewayV2httpRequestContext::default();
            context.http.source_ip = Some("203.0.113.9".into());
            extensions.insert(RequestContext::ApiGatewayV2(context));
            extensions.insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
        });
        assert_eq!(ClientSource::of(&lambda).0, "203.0.113.9");
        let local = parts_with(|extensions| {
            extensions.insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 5], 9))));
        });
        assert_eq!(ClientSource::of(&local).0, "127.0.0.5");
        assert_eq!(ClientSource::of(&parts_with(|_| {})).0, "unknown");
    }
}
