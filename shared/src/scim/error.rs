//! RFC 7644 §3.12 errors: the status, `scimType` and `detail` of a refusal, and its body. Pure:
//! the response (headers, redaction, the request log's copy) is made in `api::error`, the SCIM
//! wire format's one mapper (docs/ARCHITECTURE.md, "Errors").
use axum::http::StatusCode;
use serde::Serialize;

use super::ERROR_SCHEMA;
use crate::auth::AuthError;
use crate::domain::IdError;

/// The `scimType` values of RFC 7644 Table 9 (plus none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    /// RFC 9865 §4: a cursor this service did not issue, or issued for another query.
    InvalidCursor,
    /// RFC 9865 §4: a cursor older than `cursorTimeout`.
    ExpiredCursor,
}

impl ScimType {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
            Self::InvalidCursor => "invalidCursor",
            Self::ExpiredCursor => "expiredCursor",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {detail}")]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<ScimType>,
    pub detail: String,
    /// Seconds the client should wait (`Retry-After`, RFC 9110 §10.2.3): a 429's or a 503's.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    schemas: [&'static str; 1],
    status: String,
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    scim_type: Option<&'static str>,
    detail: &'a str,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self { status, scim_type, detail: detail.into(), retry_after: None }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(scim_type), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, Some(ScimType::Uniqueness), detail)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            "The service failed to complete the request; it is safe to retry.",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(ErrorBody {
            schemas: [ERROR_SCHEMA],
            status: self.status.as_u16().to_string(),
            scim_type: self.scim_type.map(|t| t.as_str()),
            detail: &self.detail,
        })
        .unwrap_or_default()
    }
}

impl From<AuthError> for ScimError {
    fn from(err: AuthError) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, None, err.to_string())
    }
}

impl From<IdError> for ScimError {
    fn from(err: IdError) -> Self {
        // An id that cannot exist names no resource.
        Self::not_found(err.to_string())
    }
}

impl From<super::patch::PatchError> for ScimError {
    fn from(err: super::patch::PatchError) -> Self {
        use super::patch::PatchError as P;
        let scim_type = match &err {
            P::InvalidSyntax(_) => ScimType::InvalidSyntax,
            P::InvalidPath(_) => ScimType::InvalidPath,
            P::NoTarget(_) => ScimType::NoTarget,
            P::InvalidValue(_) => ScimType::InvalidValue,
            P::Mutability(_) => ScimType::Mutability,
            P::InvalidFilter(_) => ScimType::InvalidFilter,
        };
        Self::bad_request(scim_type, err.to_string())
    }
}

impl From<super::filter::FilterError> for ScimError {
    fn from(err: super::filter::FilterError) -> Self {
        Self::bad_request(ScimType::InvalidFilter, format!("Invalid filter: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_rfc_7644_shape() {
        let err = ScimError::bad_request(ScimType::InvalidFilter, "bad filter");
        assert_eq!(
            err.body(),
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "bad filter"
            })
        );
        let not_found = ScimError::not_found("no such user").body();
        assert!(not_found.get("scimType").is_none());
        assert_eq!(not_found["status"], "404");
    }
}
