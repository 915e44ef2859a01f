use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    Conflict(String),
    #[error("the item was changed by another writer")]
    VersionMismatch,
    #[error("{0} not found")]
    NotFound(String),
    #[error("DynamoDB is throttling requests")]
    Throttled,
    /// DynamoDB did not answer in time or could not be reached: worth a retry soon.
    #[error("DynamoDB could not be reached in time")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("a stored item could not be decoded: {0}")]
    Codec(String),
    #[error("DynamoDB request failed: {0}")]
    Backend(String),
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
        Self::Backend(aws_sdk_dynamodb::error::DisplayErrorContext(&err).to_string())
    }
}
