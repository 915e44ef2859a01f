//! `/admin/orgs/{orgId}/scim…`: status, enable, token refresh, disable, request log, history.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::{only, params, AdminCaller, AdminJson, Params};
use crate::admin::{AdminError, HistoryPage, LogPage, LogQuery, ScimStatus};

/// Pages of the history endpoint.
const DEFAULT_HISTORY_PAGE: i32 = 50;
const MAX_HISTORY_PAGE: i32 = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableBody {
    /// The IdP SSO is configured with, confirmed by the caller: `okta` or `azure`.
    idp: Option<String>,
    /// `30d`, `90d`, `180d`, `1y`, `2y` or `none`.
    window: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[serde(default)]
    passphrase: String,
    /// A new expiry window; the current one when absent.
    window: Option<String>,
    /// Hours (0–24) the previous token keeps working; 0 (the default): it stops at once.
    #[serde(rename = "overlapHours")]
    overlap_hours: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    #[serde(default)]
    passphrase: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientBody {
    #[serde(default)]
    passphrase: String,
    /// Exact redirect URIs the authorization code grant may return to.
    #[serde(rename = "redirectUris", default)]
    redirect_uris: Vec<String>,
}

pub async fn status(request: AdminCaller) -> Result<Json<ScimStatus>, AdminError> {
    Ok(Json(request.console.scim_status(&request.caller, &request.origin).await?))
}

/// `POST …/scim/enable`: the answer holds the token, the only time it is shown.
pub async fn enable(request: AdminCaller, AdminJson(body): AdminJson<EnableBody>) -> Result<Response, AdminError> {
    let issued = request
        .console
        .enable_scim(&request.caller, body.idp.as_deref(), body.window.as_deref(), &request.origin)
        .await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// `POST …/scim/token/refresh`: needs the caller's passphrase; the answer holds the new token.
pub async fn refresh(request: AdminCaller, AdminJson(body): AdminJson<RefreshBody>) -> Result<Response, AdminError> {
    let issued = request
        .console
        .refresh_scim_token(
            &request.caller,
            &body.passphrase,
            body.window.as_deref(),
            body.overlap_hours,
            &request.origin,
            &request.source,
        )
        .await?;
    Ok(Json(issued).into_response())
}

/// `POST …/scim/token/revoke`: needs the caller's passphrase; every token and OAuth grant stops.
pub async fn revoke(
    request: AdminCaller,
    AdminJson(body): AdminJson<RevokeBody>,
) -> Result<Json<ScimStatus>, AdminError> {
    let status =
        request.console.revoke_scim_tokens(&request.caller, &body.passphrase, &request.origin, &request.source).await?;
    Ok(Json(status))
}

/// `POST …/scim/oauth/client`: creates (or replaces) the OAuth client; the answer holds its secret,
/// the only time it is shown.
pub async fn create_client(
    request: AdminCaller,
    AdminJson(body): AdminJson<ClientBody>,
) -> Result<Response, AdminError> {
    let issued = request
        .console
        .create_oauth_client(&request.caller, &body.passphrase, &body.redirect_uris, &request.origin, &request.source)
        .await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// `DELETE …/scim/oauth/client`: its grants stop at once.
pub async fn delete_client(request: AdminCaller) -> Result<StatusCode, AdminError> {
    request.console.delete_oauth_client(&request.caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn disable(request: AdminCaller) -> Result<Json<ScimStatus>, AdminError> {
    Ok(Json(request.console.disable_scim(&request.caller, &request.origin).await?))
}

/// `GET …/scim/logs?status=4xx&method=PATCH&resourceType=Users&from=…&to=…&limit=…&cursor=…`
pub async fn logs(request: AdminCaller, query: Params) -> Result<Json<LogPage>, AdminError> {
    let query = LogQuery::parse(&params(query)?)?;
    Ok(Json(request.console.scim_logs(&request.caller, &query).await?))
}

/// `GET …/scim/history?limit=…&cursor=…`, newest first.
pub async fn history(request: AdminCaller, query: Params) -> Result<Json<HistoryPage>, AdminError> {
    let params = params(query)?;
    only(&params, &["limit", "cursor"])?;
    let limit = crate::admin::parse_limit(params.get("limit"), DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE)?;
    let page = request.console.scim_history(&request.caller, params.get("cursor").map(String::as_str), limit).await?;
    Ok(Json(page))
}
