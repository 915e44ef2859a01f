//! SCIM use cases above the store, as `admin/` holds the console's: what a provisioning request
//! does, whatever HTTP carried it. The HTTP handlers in `api/` parse, call one use case, render.
mod deletes;
mod error;
mod retry;

pub use deletes::{delete_team, delete_user};
pub use error::ProvisioningError;
pub use retry::{pause_after_conflict, WRITE_ATTEMPTS};

/// What an `If-Match` header asks of the resource's current version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// No header, or `*`: any current version.
    Any,
    /// One of these versions (the weak ETags `W/"n"` the header named).
    OneOf(Vec<u64>),
}

impl Expected {
    pub fn allows(&self, version: u64) -> bool {
        match self {
            Self::Any => true,
            Self::OneOf(versions) => versions.contains(&version),
        }
    }
}
