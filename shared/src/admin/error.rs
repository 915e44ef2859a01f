//! Why a console request was refused. `api::admin::error` turns each into its HTTP status and JSON
//! body: the console's wire format has that one mapper (SCIM and OAuth have theirs;
//! docs/ARCHITECTURE.md, "Errors").
use crate::auth::PassphraseError;
use crate::domain::ScimRequirement;
use crate::store::{BoxError, PageError, StoreError};

/// A requirement for SCIM that is not met, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmet {
    pub requirement: ScimRequirement,
    pub message: String,
}

impl Unmet {
    pub fn new(requirement: ScimRequirement) -> Self {
        Self { requirement, message: requirement.describe().to_owned() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("Sign in first, then send the session token as 'Authorization: Bearer <token>'.")]
    SessionMissing,
    #[error("The session is unknown, signed out or expired; sign in again.")]
    SessionInvalid,
    #[error(
        "This change was made with the console's session cookie but without its CSRF token \
         (X-CSRF-Token); nothing was changed. Reload the console page."
    )]
    CsrfRejected,
    #[error("The email or passphrase is incorrect.")]
    InvalidCredentials,
    /// The welcome email's initial passphrase, right but spent: the person who holds it needs a reset.
    #[error(
        "This initial passphrase {0}: it works for one sign-in within 7 days. Request a passphrase reset \
         (POST /auth/passphrase-resets) to choose a passphrase of your own."
    )]
    InitialPassphraseSpent(&'static str),
    #[error(
        "Too many failed attempts for this account or from this network; try again in {retry_after_secs} seconds."
    )]
    TooManyAttempts { retry_after_secs: u64 },
    /// Too many wrong passphrases given in this session for a guarded change or a passphrase
    /// change (counted per session, apart from sign-ins).
    #[error(
        "Too many wrong passphrases in this session; try again in {retry_after_secs} seconds, or sign out and in again."
    )]
    TooManyConfirmations { retry_after_secs: u64 },
    #[error(
        "You must change your initial passphrase before anything else: POST /auth/passphrase with \
         currentPassphrase and newPassphrase."
    )]
    PassphraseChangeRequired,
    #[error("Only an active Owner or Co-Owner of organization '{0}' can use this endpoint.")]
    NotOrgAdmin(String),
    #[error("SCIM cannot be enabled: {}.", .0.iter().map(|u| u.message.as_str()).collect::<Vec<_>>().join("; "))]
    RequirementsUnmet(Vec<Unmet>),
    /// A refresh refused because the organization no longer meets a requirement.
    #[error(
        "The token cannot be refreshed: {}. Meet it (the SCIM page's Requirements say how), then refresh again; \
         until then the current token works until it expires.",
        .0.iter().map(|u| u.message.as_str()).collect::<Vec<_>>().join("; ")
    )]
    RefreshBlocked(Vec<Unmet>),
    #[error("The passphrase is incorrect; nothing was changed.")]
    WrongPassphrase,
    #[error(
        "SCIM is already enabled for this organization. To get a new token, refresh it (with your passphrase); \
         the connector URL stays the same."
    )]
    AlreadyEnabled,
    #[error("SCIM is not enabled for this organization; enable it first (a new token is issued then).")]
    NotEnabled,
    #[error("{0}")]
    InvalidRequest(String),
    #[error("The new passphrase is not acceptable: {0}.")]
    WeakPassphrase(String),
    #[error("The reset code is wrong, expired or already used; request a new one.")]
    InvalidResetCode,
    #[error("The cursor is not one this endpoint handed out for this query; start again without it.")]
    InvalidCursor,
    #[error("Another administrator changed the SCIM settings at the same time; read the status and try again.")]
    Conflict,
    #[error("Organization '{0}' no longer exists.")]
    OrganizationGone(String),
    #[error("Content-Type '{0}' is not supported; send application/json.")]
    UnsupportedMediaType(String),
    #[error("The request body is larger than the {0} bytes this endpoint accepts.")]
    PayloadTooLarge(usize),
    #[error("The service is busy; try again in a few seconds.")]
    Unavailable,
    /// The cause is logged (as a chain), never answered.
    #[error("An internal error occurred; try again later.")]
    Internal(#[source] BoxError),
}

impl AdminError {
    /// A fault on our side, with its cause kept for the log.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Throttled | StoreError::Unavailable(_) => Self::Unavailable,
            StoreError::VersionMismatch => Self::Conflict,
            other => Self::internal(other),
        }
    }
}

impl From<PageError> for AdminError {
    fn from(err: PageError) -> Self {
        match err {
            PageError::ForeignCursor => Self::InvalidCursor,
            PageError::Store(err) => err.into(),
        }
    }
}

impl From<PassphraseError> for AdminError {
    fn from(err: PassphraseError) -> Self {
        match err {
            PassphraseError::TooShort { .. } | PassphraseError::TooLong { .. } => Self::WeakPassphrase(err.to_string()),
            PassphraseError::CorruptHash | PassphraseError::Hashing => Self::internal(err),
        }
    }
}
