//! Why a provisioning use case did not complete. Mapped to the SCIM wire in one place
//! (`api/error.rs`).
use crate::auth::AuthError;
use crate::scim::ScimError;
use crate::store::{Conflict, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    /// The caller is not let in (401).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The request itself is wrong: its SCIM error says how.
    #[error(transparent)]
    Invalid(#[from] ScimError),
    #[error("No {kind} with id '{id}' in this organization.")]
    NotFound { kind: &'static str, id: String },
    /// A uniqueness guard holds the value (409 `uniqueness`).
    #[error("{0}")]
    Taken(String),
    #[error(
        "The organization has no Enterprise licenses left (its seat limit is reached). An owner can buy more \
         licenses or free one by deactivating a member."
    )]
    NoLicenses,
    /// The change would leave the organization without an active Owner or Co-Owner
    /// (docs/ARCHITECTURE.md, "The last active Owner or Co-Owner").
    #[error(
        "User '{email}' is the last active Owner or Co-Owner of this organization: Insomnia refuses to {} them, \
         since nobody could then manage the organization's SCIM token. Make another member an Owner or Co-Owner \
         in Insomnia first, then retry; the organization's owners have been emailed.",
        refused.verb()
    )]
    LastAdmin { id: String, email: String, refused: crate::domain::LastAdminChange },
    #[error("If-Match does not match the current version W/\"{current}\" of the {kind}; read it again.")]
    Precondition { kind: &'static str, current: u64 },
    /// A conditional write lost to another writer while If-Match pinned the version.
    #[error("The {kind} was changed by another request; read it again.")]
    ChangedMeanwhile { kind: &'static str },
    #[error("The {kind} is being changed by other requests; retry shortly.")]
    Busy { kind: &'static str },
    /// A delete's first step is done and holds: the retried DELETE finishes it.
    #[error("The {kind} is being deleted: {what}. Retry the DELETE to finish it.")]
    Unfinished { kind: &'static str, what: String },
    /// Some transactions of a membership change committed, then the store failed; every count
    /// still matches what it counts, the change is recorded (docs/ARCHITECTURE.md, "Writes cut off
    /// part way"), and the retried request completes it.
    #[error(
        "{applied} of the {requested} member changes to group {team} were confirmed before the service failed; \
         the change is recorded and the group's member count matches the members it has. Retry the request to \
         complete it: members already added or removed are skipped."
    )]
    Interrupted { team: String, applied: u64, requested: u64 },
    /// A create that another request took over (the IdP's retry of it) before it completed.
    #[error("Group '{name}' is still being created by another request for it. Retry the request.")]
    NotCreated { name: String },
    /// The organization's connector is over its fair-use budget (429 with `Retry-After`).
    #[error(
        "This organization's SCIM connector is over its request budget ({per_second} requests/s, bursts of \
         {burst}); retry after {retry_after} s."
    )]
    OverBudget { retry_after: u64, per_second: u32, burst: u32 },
    /// DynamoDB is throttling: the request may be retried in a moment.
    #[error("The service is busy; retry the request in a few seconds.")]
    Throttled,
    /// DynamoDB did not answer in time or could not be reached (a fault on our side, worth a retry).
    #[error("The service could not reach its database in time; retry the request.")]
    Unavailable(#[source] StoreError),
    /// A store write refused for a conflict the use case has no better answer for (409; the SCIM
    /// mapper words it).
    #[error("write refused: {0}")]
    Conflict(Conflict),
    /// A fault on our side (the store failed or held something it cannot decode).
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ProvisioningError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Throttled => Self::Throttled,
            unavailable @ StoreError::Unavailable(_) => Self::Unavailable(unavailable),
            StoreError::Conflict(conflict) => Self::Conflict(conflict),
            StoreError::VersionMismatch => Self::ChangedMeanwhile { kind: "resource" },
            other => Self::Store(other),
        }
    }
}
