//! `/auth/…`: sign-in and sign-out, passphrase change and reset.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{AdminJson, Anonymous, SignedIn};
use crate::admin::{AdminError, RESET_CODE_LIFETIME};

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

/// `POST /auth/sessions`: the session token is in this answer only.
pub async fn sign_in(request: Anonymous, AdminJson(body): AdminJson<SignInBody>) -> Result<Response, AdminError> {
    let signed_in = request.console.sign_in(&body.email, &body.passphrase, &request.source).await?;
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

/// `DELETE /auth/sessions/current`: the token stops working at once.
pub async fn sign_out(request: SignedIn) -> Result<StatusCode, AdminError> {
    request.console.sign_out(&request.session).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /auth/passphrase`: needs the current passphrase; the caller's other sessions end.
pub async fn change_passphrase(
    request: SignedIn,
    AdminJson(body): AdminJson<ChangeBody>,
) -> Result<Json<serde_json::Value>, AdminError> {
    request
        .console
        .change_passphrase(&request.session, &body.current_passphrase, &body.new_passphrase, &request.source)
        .await?;
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
        RESET_CODE_LIFETIME.num_minutes()
    );
    Ok((StatusCode::ACCEPTED, Json(json!({ "message": message }))).into_response())
}

/// `POST /auth/passphrase-resets/confirm`: code + new passphrase; every session of the account ends.
pub async fn confirm_reset(
    request: Anonymous,
    AdminJson(body): AdminJson<ResetConfirmBody>,
) -> Result<Json<serde_json::Value>, AdminError> {
    request.console.confirm_reset(&body.email, &body.code, &body.new_passphrase).await?;
    Ok(Json(json!({ "message": "Passphrase changed. Sign in with the new passphrase." })))
}
