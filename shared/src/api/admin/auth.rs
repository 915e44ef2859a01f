//! `/auth/…`: sign-in and sign-out, passphrase change and reset.
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::cookie::{cleared_cookie, session_cookie, wants_cookie, Transport};
use super::{AdminJson, Anonymous, SignedIn};
use crate::admin::{csrf_token, AdminError};
use crate::lifetimes;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    email: String,
    passphrase: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangeBody {
    current_passphrase: String,
    new_passphrase: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequestBody {
    email: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetConfirmBody {
    email: String,
    code: String,
    new_passphrase: String,
}

/// `POST /auth/sessions`: the session token is in this answer only, or, when the console page asks
/// for it (`X-Session-Cookie: 1`), in an HttpOnly cookie only, with the session's CSRF secret in
/// the body instead.
pub async fn sign_in(request: Anonymous, AdminJson(body): AdminJson<SignInBody>) -> Result<Response, AdminError> {
    let signed_in = request.console.sign_in(&body.email, &body.passphrase, &request.source).await?;
    if wants_cookie(&request.headers) {
        let token_hash = signed_in.token.hash(&request.console.key);
        let body = json!({
            "tokenType": "Cookie",
            "csrfToken": csrf_token(&request.console.key, &token_hash),
            "email": signed_in.email.as_str(),
            "expiresAt": signed_in.expires_at,
            "mustChangePassphrase": signed_in.must_change_passphrase,
        });
        let mut response = (StatusCode::CREATED, Json(body)).into_response();
        let cookie = session_cookie(&request.headers, signed_in.token.reveal())
            .ok_or_else(|| AdminError::Internal("the session cookie is not a header value".into()))?;
        response.headers_mut().insert(SET_COOKIE, cookie);
        return Ok(response);
    }
    let message = if signed_in.must_change_passphrase {
        "Signed in. Change your initial passphrase now (POST /auth/passphrase): until then this session can do \
         nothing else."
    } else {
        "Signed in. Send the token as 'Authorization: Bearer <token>'."
    };
    let body = json!({
        "token": signed_in.token.reveal(),
        "tokenType": "Bearer",
        "email": signed_in.email.as_str(),
        "expiresAt": signed_in.expires_at,
        "mustChangePassphrase": signed_in.must_change_passphrase,
        "message": message,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /auth/sessions/current`: who is signed in; for a cookie session also its CSRF secret (a
/// reloaded console page has only the cookie, which its script cannot read). Asked with
/// `X-Session-Probe: 1` (the console page on load), no session is `200 {"signedIn": false}`: a
/// page nobody has signed in to yet is not an error (a 401 would show in the browser's console).
pub async fn current(
    headers: axum::http::HeaderMap,
    request: Result<SignedIn, AdminError>,
) -> Result<Json<serde_json::Value>, AdminError> {
    let request = match request {
        Ok(request) => request,
        Err(AdminError::SessionMissing | AdminError::SessionInvalid) if is_probe(&headers) => {
            return Ok(Json(json!({ "signedIn": false })));
        }
        Err(refused) => return Err(refused),
    };
    let record = &request.session.record;
    let mut body = json!({
        "signedIn": true,
        "tokenType": match request.transport { Transport::Bearer => "Bearer", Transport::Cookie => "Cookie" },
        "email": record.account_email.as_str(),
        "expiresAt": record.expires_at,
        "mustChangePassphrase": record.must_change_passphrase,
    });
    if let (Transport::Cookie, Some(fields)) = (request.transport, body.as_object_mut()) {
        fields.insert("csrfToken".into(), json!(csrf_token(&request.console.key, &request.session.token_hash)));
    }
    Ok(Json(body))
}

fn is_probe(headers: &axum::http::HeaderMap) -> bool {
    headers.get("x-session-probe").is_some_and(|value| value.as_bytes() == b"1")
}

/// `DELETE /auth/sessions/current`: the token stops working at once (and a cookie is removed).
pub async fn sign_out(request: SignedIn) -> Result<Response, AdminError> {
    request.console.sign_out(&request.session).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if request.transport == Transport::Cookie {
        if let Some(cleared) = cleared_cookie(&request.headers) {
            response.headers_mut().insert(SET_COOKIE, cleared);
        }
    }
    Ok(response)
}

/// `POST /auth/passphrase`: needs the current passphrase; the caller's other sessions end.
pub async fn change_passphrase(
    request: SignedIn,
    AdminJson(body): AdminJson<ChangeBody>,
) -> Result<Json<serde_json::Value>, AdminError> {
    request.console.change_passphrase(&request.session, &body.current_passphrase, &body.new_passphrase).await?;
    Ok(Json(json!({
        "message": "Passphrase changed. Your other sessions were signed out; this one stays signed in.",
        "mustChangePassphrase": false,
    })))
}

/// `POST /auth/passphrase-resets`: the same answer whether or not the account exists.
pub async fn request_reset(
    request: Anonymous,
    AdminJson(body): AdminJson<ResetRequestBody>,
) -> Result<Response, AdminError> {
    request.console.request_reset(&body.email, &request.source)?;
    let message = format!(
        "If an Insomnia account uses this email, a reset code is on its way to it. The code works once, for {} \
         minutes: confirm it with a new passphrase at POST /auth/passphrase-resets/confirm.",
        lifetimes::RESET_CODE.num_minutes()
    );
    Ok((StatusCode::ACCEPTED, Json(json!({ "message": message }))).into_response())
}

/// `POST /auth/passphrase-resets/confirm`: code + new passphrase; every session of the account ends.
pub async fn confirm_reset(
    request: Anonymous,
    AdminJson(body): AdminJson<ResetConfirmBody>,
) -> Result<Json<serde_json::Value>, AdminError> {
    request.console.confirm_reset(&body.email, &body.code, &body.new_passphrase, &request.source).await?;
    Ok(Json(json!({ "message": "Passphrase changed. Sign in with the new passphrase." })))
}

/// `GET /admin/orgs`: the organizations the signed-in person administers (id, name, role).
pub async fn organizations(request: SignedIn) -> Result<Json<serde_json::Value>, AdminError> {
    let organizations = request.console.managed_organizations(&request.session).await?;
    Ok(Json(json!({ "organizations": organizations })))
}
