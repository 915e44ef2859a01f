//! Why a provisioning use case did not complete, mapped to the SCIM wire in one place.
use axum::http::StatusCode;

use crate::scim::ScimError;
use crate::store::{StoreError, TeamWriteError};

#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    #[error("No {kind} with id '{id}' in this organization.")]
    NotFound { kind: &'static str, id: String },
    #[error("If-Match does not match the current version W/\"{current}\" of the {kind}; read it again.")]
    Precondition { kind: &'static str, current: u64 },
    #[error("The {kind} is being changed by other requests; retry shortly.")]
    Busy { kind: &'static str },
    /// A delete's first step is done and holds: the retried DELETE finishes it.
    #[error("The {kind} is being deleted: {what}. Retry the DELETE to finish it.")]
    Unfinished { kind: &'static str, what: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TeamWriteError> for ProvisioningError {
    fn from(err: TeamWriteError) -> Self {
        match err {
            TeamWriteError::Store(err) => Self::Store(err),
            TeamWriteError::Interrupted { cause, .. } => Self::Store(cause),
            TeamWriteError::NameTaken | TeamWriteError::Changed | TeamWriteError::Missing => {
                Self::Busy { kind: "group" }
            }
        }
    }
}

impl From<ProvisioningError> for ScimError {
    fn from(err: ProvisioningError) -> Self {
        let detail = err.to_string();
        match err {
            ProvisioningError::NotFound { .. } => ScimError::not_found(detail),
            ProvisioningError::Precondition { .. } => ScimError::new(StatusCode::PRECONDITION_FAILED, None, detail),
            ProvisioningError::Busy { .. } | ProvisioningError::Unfinished { .. } => {
                ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, detail)
            }
            ProvisioningError::Store(err) => err.into(),
        }
    }
}
