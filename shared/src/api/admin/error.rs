//! Console errors on the wire: each `AdminError` gets its HTTP status and a JSON body
//! `{"error": "<code>", "message": "<what is wrong>", "unmet": [...]}` here, and only here (one of
//! the three wire formats, each with its one mapper: docs/ARCHITECTURE.md, "Errors"). Bad input is
//! always a 4xx; a 5xx means the service itself failed (and its cause is only logged).
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::admin::AdminError;
use crate::domain::ScimRequirement;

#[derive(Serialize)]
struct UnmetBody<'a> {
    requirement: ScimRequirement,
    message: &'a str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unmet: Option<Vec<UnmetBody<'a>>>,
}

/// The status and the stable error code of each refusal.
pub fn status_and_code(err: &AdminError) -> (StatusCode, &'static str) {
    match err {
        AdminError::SessionMissing | AdminError::SessionInvalid => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        AdminError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
        AdminError::InitialPassphraseSpent(_) => (StatusCode::UNAUTHORIZED, "initial_passphrase_spent"),
        AdminError::TooManyAttempts { .. } | AdminError::TooManyConfirmations { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
        }
        AdminError::PassphraseChangeRequired => (StatusCode::FORBIDDEN, "passphrase_change_required"),
        AdminError::NotOrgAdmin(_) => (StatusCode::FORBIDDEN, "forbidden"),
        AdminError::CsrfRejected => (StatusCode::FORBIDDEN, "csrf_rejected"),
        AdminError::RequirementsUnmet(_) | AdminError::RefreshBlocked(_) => {
            (StatusCode::FORBIDDEN, "requirements_unmet")
        }
        AdminError::WrongPassphrase => (StatusCode::FORBIDDEN, "wrong_passphrase"),
        AdminError::AlreadyEnabled => (StatusCode::CONFLICT, "already_enabled"),
        AdminError::NotEnabled => (StatusCode::CONFLICT, "not_enabled"),
        AdminError::Conflict => (StatusCode::CONFLICT, "conflict"),
        AdminError::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
        AdminError::WeakPassphrase(_) => (StatusCode::BAD_REQUEST, "weak_passphrase"),
        AdminError::InvalidResetCode => (StatusCode::BAD_REQUEST, "invalid_reset_code"),
        AdminError::InvalidCursor => (StatusCode::BAD_REQUEST, "invalid_cursor"),
        AdminError::OrganizationGone(_) => (StatusCode::NOT_FOUND, "organization_not_found"),
        AdminError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        AdminError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        AdminError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        AdminError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code) = status_and_code(&self);
        if let AdminError::Internal(cause) = &self {
            tracing::error!(error = %crate::telemetry::Chain(cause.as_ref()), "console request failed");
        }
        let unmet = match &self {
            AdminError::RequirementsUnmet(unmet) | AdminError::RefreshBlocked(unmet) => Some(
                unmet.iter().map(|u| UnmetBody { requirement: u.requirement, message: u.message.as_str() }).collect(),
            ),
            _ => None,
        };
        let body = ErrorBody { error: code, message: self.to_string(), unmet };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            AdminError::SessionMissing | AdminError::SessionInvalid => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AdminError::TooManyAttempts { retry_after_secs }
            | AdminError::TooManyConfirmations { retry_after_secs } => {
                if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            AdminError::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::Unmet;

    #[test]
    fn bad_input_is_never_a_server_error() {
        for err in [
            AdminError::InvalidRequest("x".into()),
            AdminError::WeakPassphrase("x".into()),
            AdminError::InvalidCursor,
            AdminError::InvalidResetCode,
            AdminError::UnsupportedMediaType("text/plain".into()),
            AdminError::PayloadTooLarge(10),
            AdminError::RequirementsUnmet(vec![Unmet::new(ScimRequirement::EnterprisePlan)]),
        ] {
            assert!(status_and_code(&err).0.is_client_error(), "{err:?}");
        }
        assert_eq!(status_and_code(&AdminError::Internal("boom".into())).0, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[tokio::test]
    async fn refusals_name_every_unmet_requirement_and_hide_internals() {
        let err = AdminError::RequirementsUnmet(vec![
            Unmet::new(ScimRequirement::EnterprisePlan),
            Unmet::new(ScimRequirement::VerifiedDomain),
        ]);
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let bytes = axum::body::to_bytes(response.into_body(), 10_000).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["error"], "requirements_unmet");
        assert_eq!(body["unmet"][0]["requirement"], "enterprise_plan");
        assert_eq!(body["unmet"][1]["requirement"], "verified_domain");
        assert!(body["message"].as_str().unwrap().contains("Enterprise plan"));

        let internal = AdminError::Internal("table xyz exploded".into()).into_response();
        let bytes = axum::body::to_bytes(internal.into_body(), 10_000).await.unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("xyz"));
    }
}
