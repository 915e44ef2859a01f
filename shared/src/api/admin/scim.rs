//! `/admin/orgs/{orgId}/scim…`: status, enable, token refresh, disable, request log, history.
use std::str::FromStr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Deserializer};

use super::{only, params, AdminCaller, AdminJson, Params};
use crate::admin::{AdminError, GuardedAction, HistoryPage, LogPage, LogQuery, ScimStatus};
use crate::domain::{AutoRefresh, IdentityProvider, TokenWindow, ValueError};

/// Pages of the history endpoint.
const DEFAULT_HISTORY_PAGE: i32 = 50;
const MAX_HISTORY_PAGE: i32 = 200;

/// A body field read into its domain type by serde. A value the type refuses is kept, not answered
/// at once: like before, the passphrase is checked first (a refused one is counted and recorded
/// whatever else the body holds), then the value is the console's 400 naming the field.
pub struct Checked<T>(Result<T, ValueError>);

impl<'de, T: FromStr<Err = ValueError>> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Ok(Self(raw.parse()))
    }
}

/// The value of an optional field, or the 400 for a refused one (`field`: the name on the wire).
fn checked<T>(value: Option<Checked<T>>, field: &str) -> Result<Option<T>, AdminError> {
    value
        .map(|Checked(value)| value.map_err(|err| AdminError::InvalidRequest(format!("`{field}`: {err}."))))
        .transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnableBody {
    #[serde(default)]
    passphrase: String,
    /// The IdP SSO is configured with, confirmed by the caller: `okta` or `azure`.
    idp: Option<Checked<IdentityProvider>>,
    /// `30d`, `90d`, `180d`, `1y`, `2y` or `none`.
    window: Option<Checked<TokenWindow>>,
}

impl EnableBody {
    /// The window (required) and the confirmed IdP (a missing one is an unmet requirement).
    fn values(self) -> Result<(TokenWindow, Option<IdentityProvider>), AdminError> {
        let window = checked(self.window, "window")?.ok_or_else(|| {
            AdminError::InvalidRequest(format!("`window` is required: one of {}.", TokenWindow::ALL.join(", ")))
        })?;
        Ok((window, checked(self.idp, "idp")?))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[serde(default)]
    passphrase: String,
    /// A new expiry window; the current one when absent.
    window: Option<Checked<TokenWindow>>,
    /// Hours (0–24) the previous token keeps working; 0 (the default): it stops at once.
    #[serde(rename = "overlapHours")]
    overlap_hours: Option<u32>,
}

/// The body of revoke and disable: the caller's passphrase only.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassphraseBody {
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

/// `POST …/scim/enable`: needs the caller's passphrase; the answer holds the token, the only time
/// it is shown.
pub async fn enable(request: AdminCaller, AdminJson(body): AdminJson<EnableBody>) -> Result<Response, AdminError> {
    let (console, origin) = (request.console.clone(), request.origin.clone());
    let confirmed = request.confirm(&body.passphrase, GuardedAction::Enable).await?;
    let (window, idp) = body.values()?;
    let issued = console.enable_scim(&confirmed, idp, window, &origin).await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// `POST …/scim/token/refresh`: needs the caller's passphrase; the answer holds the new token.
pub async fn refresh(request: AdminCaller, AdminJson(body): AdminJson<RefreshBody>) -> Result<Response, AdminError> {
    let (console, origin) = (request.console.clone(), request.origin.clone());
    let confirmed = request.confirm(&body.passphrase, GuardedAction::Refresh).await?;
    let window = checked(body.window, "window")?;
    let issued = console.refresh_scim_token(&confirmed, window, body.overlap_hours, &origin).await?;
    Ok(Json(issued).into_response())
}

/// `POST …/scim/token/revoke`: needs the caller's passphrase; every token and OAuth grant stops.
pub async fn revoke(
    request: AdminCaller,
    AdminJson(body): AdminJson<PassphraseBody>,
) -> Result<Json<ScimStatus>, AdminError> {
    let (console, origin) = (request.console.clone(), request.origin.clone());
    let confirmed = request.confirm(&body.passphrase, GuardedAction::Revoke).await?;
    Ok(Json(console.revoke_scim_tokens(&confirmed, &origin).await?))
}

/// `POST …/scim/oauth/client`: needs the caller's passphrase; creates (or replaces) the OAuth
/// client; the answer holds its secret, the only time it is shown.
pub async fn create_client(
    request: AdminCaller,
    AdminJson(body): AdminJson<ClientBody>,
) -> Result<Response, AdminError> {
    let (console, origin) = (request.console.clone(), request.origin.clone());
    let confirmed = request.confirm(&body.passphrase, GuardedAction::OauthClient).await?;
    let issued = console.create_oauth_client(&confirmed, &body.redirect_uris, &origin).await?;
    Ok((StatusCode::CREATED, Json(issued)).into_response())
}

/// `DELETE …/scim/oauth/client`: needs the caller's passphrase; its grants stop at once.
pub async fn delete_client(
    request: AdminCaller,
    AdminJson(body): AdminJson<PassphraseBody>,
) -> Result<StatusCode, AdminError> {
    let console = request.console.clone();
    let confirmed = request.confirm(&body.passphrase, GuardedAction::DeleteOauthClient).await?;
    console.delete_oauth_client(&confirmed).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/scim/disable`: needs the caller's passphrase; the IdP's requests are refused from now on.
pub async fn disable(
    request: AdminCaller,
    AdminJson(body): AdminJson<PassphraseBody>,
) -> Result<Json<ScimStatus>, AdminError> {
    let (console, origin) = (request.console.clone(), request.origin.clone());
    let confirmed = request.confirm(&body.passphrase, GuardedAction::Disable).await?;
    Ok(Json(console.disable_scim(&confirmed, &origin).await?))
}

/// `POST …/scim/auto-refresh {passphrase, enabled}`: the token scheduler's automatic refresh on
/// or off (an owner's choice: off, a token lives only its window and the owners refresh it).
pub async fn auto_refresh(
    request: AdminCaller,
    AdminJson(body): AdminJson<AutoRefreshBody>,
) -> Result<Json<ScimStatus>, AdminError> {
    let (console, origin) = (request.console.clone(), request.origin.clone());
    let confirmed = request.confirm(&body.passphrase, GuardedAction::AutoRefresh).await?;
    let enabled =
        body.enabled.ok_or_else(|| AdminError::InvalidRequest("`enabled` (true or false) is required.".into()))?;
    let choice = if enabled { AutoRefresh::On } else { AutoRefresh::Off };
    Ok(Json(console.set_auto_refresh(&confirmed, &origin, choice).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoRefreshBody {
    #[serde(default)]
    passphrase: String,
    enabled: Option<bool>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn enable(body: serde_json::Value) -> Result<(TokenWindow, Option<IdentityProvider>), String> {
        let body: EnableBody = serde_json::from_value(body).map_err(|e| format!("serde: {e}"))?;
        body.values().map_err(|e| match e {
            AdminError::InvalidRequest(message) => message,
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn bodies_read_into_domain_types_and_a_refused_value_waits_for_the_handler() {
        let ok = enable(serde_json::json!({ "passphrase": "p", "window": "1Y", "idp": "Azure" }));
        assert_eq!(ok, Ok((TokenWindow::OneYear, Some(IdentityProvider::Azure))));
        assert_eq!(enable(serde_json::json!({ "window": "90" })), Ok((TokenWindow::Days90, None)));
        // A bad value is read, and refused only when the handler asks (after the passphrase).
        assert_eq!(
            enable(serde_json::json!({ "window": "7d", "idp": "ping" })),
            Err("`window`: '7d' is not a valid token expiry window; expected one of: 30d, 90d, 180d, 1y, 2y, none."
                .into())
        );
        assert_eq!(
            enable(serde_json::json!({ "window": "30d", "idp": "ping" })),
            Err("`idp`: 'ping' is not a valid identity provider; expected one of: okta, azure.".into())
        );
        assert_eq!(
            enable(serde_json::json!({ "idp": "okta" })),
            Err("`window` is required: one of 30d, 90d, 180d, 1y, 2y, none.".into())
        );
        // Not a string at all: the body itself is refused, as before.
        assert!(enable(serde_json::json!({ "window": 30 })).unwrap_err().starts_with("serde: invalid type"));
        let refresh: RefreshBody = serde_json::from_value(serde_json::json!({ "window": "2y" })).unwrap();
        assert_eq!(checked(refresh.window, "window").ok(), Some(Some(TokenWindow::TwoYears)));
    }
}
