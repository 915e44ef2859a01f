//! SCIM errors on the wire (RFC 7644 §3.12): a use case's refusal becomes a `ScimError` here, and a
//! `ScimError` an HTTP response. One of the service's three wire formats, each with one mapper:
//! SCIM here, the console's JSON errors in `api::admin::error`, OAuth's (RFC 6749 §5.2) in
//! `api::oauth` (docs/ARCHITECTURE.md, "Errors").
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::provisioning::ProvisioningError;
use crate::scim::{ScimError, ScimType, SCIM_MEDIA_TYPE};
use crate::store::{Conflict, MemberConflict, Record};
use crate::telemetry::Chain;

impl From<ProvisioningError> for ScimError {
    fn from(err: ProvisioningError) -> Self {
        use ProvisioningError as E;
        let detail = err.to_string();
        match err {
            E::Auth(err) => err.into(),
            E::Invalid(err) => err,
            E::NotFound { .. } => ScimError::not_found(detail),
            E::Taken(_) => ScimError::conflict(detail),
            E::Conflict(conflict) => ScimError::conflict(conflict_detail(&conflict)),
            E::NoLicenses => ScimError::new(StatusCode::FORBIDDEN, None, detail),
            // RFC 7644 §3.12: "not compatible with the target attribute's mutability or current
            // state": the member's current state (the last admin) is what forbids the change.
            E::LastAdmin { .. } => ScimError::bad_request(ScimType::Mutability, detail),
            E::Precondition { .. } | E::ChangedMeanwhile { .. } => {
                ScimError::new(StatusCode::PRECONDITION_FAILED, None, detail)
            }
            // Worth retrying soon: what is recorded completes on the retry (docs/ARCHITECTURE.md,
            // "Writes cut off part way"), and the store answers again after a moment.
            E::Busy { .. } | E::Unfinished { .. } | E::Interrupted { .. } | E::NotCreated { .. } | E::Throttled => {
                ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, detail).with_retry_after(RETRY_AFTER_SECONDS)
            }
            E::Unavailable(cause) => {
                tracing::error!(error = %Chain(&cause), "store unavailable");
                ScimError::new(StatusCode::SERVICE_UNAVAILABLE, None, detail).with_retry_after(RETRY_AFTER_SECONDS)
            }
            E::OverBudget { retry_after, .. } => {
                ScimError::new(StatusCode::TOO_MANY_REQUESTS, None, detail).with_retry_after(retry_after)
            }
            E::Store(other) => {
                tracing::error!(error = %Chain(&other), "store failure");
                ScimError::internal()
            }
        }
    }
}

/// What a client reads when a write lost to a conflict its use case did not word itself.
fn conflict_detail(conflict: &Conflict) -> String {
    match conflict {
        Conflict::Member(MemberConflict::UserNameTaken) => {
            "This userName is already taken in this organization.".into()
        }
        Conflict::Member(MemberConflict::EmailTaken) => "This email is already a member of this organization.".into(),
        Conflict::Member(MemberConflict::SeatLimit) => {
            "The organization has no Enterprise licenses left (its seat limit is reached).".into()
        }
        Conflict::Member(MemberConflict::LastAdmin) => {
            "This user is the organization's last active Owner or Co-Owner and cannot be deactivated or deleted.".into()
        }
        Conflict::Member(MemberConflict::AccountCreatedMeanwhile) => {
            "An account for this email was created meanwhile; retry the request.".into()
        }
        Conflict::Member(MemberConflict::Changed) | Conflict::SettingsChanged => {
            "The resource was changed by another request; read it again.".into()
        }
        Conflict::OrganizationExists => "The organization exists already.".into(),
        Conflict::Exists(record) => format!("The {} exists already.", wire_name(*record)),
        Conflict::Changed(record) => format!("The {} was changed by another request; retry.", wire_name(*record)),
    }
}

fn wire_name(record: Record) -> &'static str {
    match record {
        Record::Organization => "organization",
        Record::Account => "account",
        Record::Session => "session",
        Record::HistoryEntry | Record::ScheduledEntry => "history entry",
        Record::OutboxItem => "email",
        Record::Notice => "notice",
        Record::OAuthClient => "OAuth client",
        Record::GrantFamily | Record::Grant => "OAuth grant",
        Record::Health => "connector health",
    }
}

/// How long a client is asked to wait before retrying a `503`.
const RETRY_AFTER_SECONDS: u64 = 2;

/// A value the request gave that cannot be used (a malformed query string).
pub(super) fn invalid_syntax(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}

impl IntoResponse for ScimError {
    fn into_response(mut self) -> Response {
        // A detail may quote the request (a filter, an attribute name): never a secret it held.
        self.detail = crate::redact::Redactor::default().text(&self.detail).into_string();
        let body = self.body().to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_MEDIA_TYPE));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"SCIM\""));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        // Kept for the request log, which records scimType and detail without parsing the body.
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthError;
    use crate::store::StoreError;

    #[test]
    fn responses_carry_the_scim_media_type() {
        let response = ScimError::from(AuthError::MissingToken).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::CONTENT_TYPE], SCIM_MEDIA_TYPE);
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn a_retry_after_becomes_the_header() {
        let response =
            ScimError::new(StatusCode::TOO_MANY_REQUESTS, None, "slow down").with_retry_after(3).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "3");
    }

    #[test]
    fn a_store_conflict_is_a_409_worded_here() {
        let err = ScimError::from(ProvisioningError::from(StoreError::Conflict(Conflict::Member(
            MemberConflict::EmailTaken,
        ))));
        assert_eq!((err.status, err.scim_type), (StatusCode::CONFLICT, Some(ScimType::Uniqueness)));
        assert!(err.detail.contains("already a member"), "{}", err.detail);
    }

    #[test]
    fn a_store_fault_answers_500_without_its_cause() {
        let err = ScimError::from(ProvisioningError::from(StoreError::backend("table xyz exploded")));
        assert_eq!(err.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!err.detail.contains("xyz"));
    }
}
