//! The one place where a use case's refusal becomes a SCIM error on the wire (RFC 7644 §3.12).
use axum::http::StatusCode;

use crate::provisioning::ProvisioningError;
use crate::scim::{ScimError, ScimType};

impl From<ProvisioningError> for ScimError {
    fn from(err: ProvisioningError) -> Self {
        use ProvisioningError as E;
        let detail = err.to_string();
        match err {
            E::Auth(err) => err.into(),
            E::Invalid(err) => err,
            E::NotFound { .. } => ScimError::not_found(detail),
            E::Taken(_) => ScimError::conflict(detail),
            E::NoLicenses => ScimError::new(StatusCode::FORBIDDEN, None, detail),
            E::Precondition { .. } | E::ChangedMeanwhile { .. } => {
                ScimError::new(StatusCode::PRECONDITION_FAILED, None, detail)
            }
            // Worth retrying soon: what is recorded completes on the retry (docs/ARCHITECTURE.md,
            // "Writes cut off part way"), and the store answers again after a moment.
            E::Busy { .. } | E::Unfinished { .. } | E::Interrupted { .. } | E::NotCreated { .. } | E::Throttled => {
                ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, detail).with_retry_after(RETRY_AFTER_SECONDS)
            }
            E::Unavailable(cause) => {
                tracing::error!(error = %cause, source = ?std::error::Error::source(&cause), "store unavailable");
                ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, detail).with_retry_after(RETRY_AFTER_SECONDS)
            }
            E::OverBudget { retry_after, .. } => {
                ScimError::new(StatusCode::TOO_MANY_REQUESTS, None, detail).with_retry_after(retry_after)
            }
            E::Store(other) => {
                tracing::error!(error = %other, "store failure");
                ScimError::internal()
            }
        }
    }
}

/// How long a client is asked to wait before retrying a `503`.
const RETRY_AFTER_SECONDS: u64 = 2;

/// A value the request gave that cannot be used (a malformed query string).
pub(super) fn invalid_syntax(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}
