//! What the store answers when a call does not do what was asked. Causes are kept as sources (the
//! SDK's error, the codec's error), never flattened into text; what conflicted is a kind, and the
//! sentences a caller reads are written by the wire mappers (docs/ARCHITECTURE.md, "Errors").
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use super::MemberConflict;

/// A cause of any type, kept for the error chain that is logged.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write's condition did not hold: the kind says what conflicted.
    #[error("write refused: {0}")]
    Conflict(Conflict),
    #[error("the item was changed by another writer")]
    VersionMismatch,
    #[error("{0} not found")]
    NotFound(Missing),
    #[error("DynamoDB is throttling requests")]
    Throttled,
    /// DynamoDB did not answer in time or could not be reached: worth a retry soon.
    #[error("DynamoDB could not be reached in time")]
    Unavailable(#[source] BoxError),
    #[error("a stored item could not be decoded (or a new one encoded)")]
    Codec(#[source] CodecError),
    /// Any other failure of a DynamoDB call (or of building one, or of a task that made one).
    #[error("DynamoDB request failed")]
    Backend(#[source] BoxError),
}

/// What a refused write conflicted with. Callers decide what it means for them; the wire mappers
/// word it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    #[error("the organization exists already")]
    OrganizationExists,
    #[error("{0}")]
    Member(MemberConflict),
    /// The SCIM settings are no longer at the version the write expected.
    #[error("the SCIM settings changed")]
    SettingsChanged,
    /// An item the write creates exists already (a history entry, an outbox item, a grant).
    #[error("the {0} exists already")]
    Exists(Record),
    /// An item the write replaces or removes was changed, moved or removed by another writer.
    #[error("the {0} was changed by another writer")]
    Changed(Record),
}

/// The records a conflict or a miss names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record {
    Organization,
    Account,
    Session,
    HistoryEntry,
    ScheduledEntry,
    OutboxItem,
    /// An expiry notice (recorded already, or what it is about changed).
    Notice,
    OAuthClient,
    GrantFamily,
    Grant,
    /// An organization's connector health (its state moved meanwhile).
    Health,
}

impl std::fmt::Display for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Organization => "organization",
            Self::Account => "account",
            Self::Session => "session",
            Self::HistoryEntry => "history entry",
            Self::ScheduledEntry => "scheduled entry",
            Self::OutboxItem => "outbox item",
            Self::Notice => "expiry notice",
            Self::OAuthClient => "OAuth client",
            Self::GrantFamily => "grant family",
            Self::Grant => "grant",
            Self::Health => "connector health",
        })
    }
}

/// What was looked for and not found.
pub type Missing = Record;

/// Why an item could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error(transparent)]
    Item(#[from] serde_dynamo::Error),
    /// A JSON-encoded attribute (a recorded member change).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// An item that decodes but cannot be what its key says (no typed cause: the check is ours).
    #[error("{0}")]
    Malformed(String),
}

impl From<serde_dynamo::Error> for StoreError {
    fn from(err: serde_dynamo::Error) -> Self {
        Self::Codec(err.into())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(err: serde_json::Error) -> Self {
        Self::Codec(err.into())
    }
}

impl StoreError {
    pub(crate) fn from_sdk<E, R>(err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = err.code().unwrap_or_default();
        if matches!(code, "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") {
            return Self::Throttled;
        }
        if matches!(err, SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)) {
            return Self::Unavailable(Box::new(err));
        }
        Self::Backend(Box::new(err))
    }

    /// Any other cause (a request that could not be built, a task that ended abnormally).
    pub(crate) fn backend(err: impl Into<BoxError>) -> Self {
        Self::Backend(err.into())
    }

    pub(crate) fn malformed(why: impl Into<String>) -> Self {
        Self::Codec(CodecError::Malformed(why.into()))
    }
}
