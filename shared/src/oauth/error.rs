//! Why a token request was refused: RFC 6749 §5.2 error codes, put on the wire by `api::oauth`
//! (the OAuth wire format's one mapper; docs/ARCHITECTURE.md, "Errors").
use crate::store::{BoxError, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    /// Unknown client, wrong secret, or a client no longer valid (401).
    #[error("{0}")]
    InvalidClient(String),
    /// A code or refresh token that is unknown, expired, used, revoked, or not this client's.
    #[error("{0}")]
    InvalidGrant(String),
    #[error("grant_type must be authorization_code, refresh_token or client_credentials")]
    UnsupportedGrantType,
    #[error("the service is busy; try again")]
    Unavailable,
    /// The cause is logged (as a chain), never answered.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl OAuthError {
    /// The RFC 6749 §5.2 `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient(_) => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::Unavailable => "temporarily_unavailable",
            Self::Internal(_) => "server_error",
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Throttled | StoreError::Unavailable(_) => Self::Unavailable,
            other => Self::Internal(Box::new(other)),
        }
    }
}
