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
            E::Busy { .. } | E::Unfinished { .. } | E::Interrupted { .. } | E::NotCreated { .. } => {
                ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, detail)
            }
            E::Throttled => ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, detail),
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

/// A value the request gave that cannot be used (a malformed query string).
pub(super) fn invalid_syntax(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}
