//! SCIM use cases above the store, as `admin/` holds the console's: what a provisioning request
//! does, whatever HTTP carried it (docs/ARCHITECTURE.md, "Layers"). The HTTP handlers in `api/`
//! parse, call one use case, render. Every use case checks the caller's token first, in the same
//! read as its first data (the [`Gate`]), and works on an [`AuthorizedOrg`](crate::auth::AuthorizedOrg).
mod cursor;
mod decision;
mod deletes;
mod error;
pub mod fair_use;
mod gate;
pub mod health;
mod last_use;
mod retry;
mod teams;
mod user_lists;
mod users;

pub use decision::{decide, recognise_refused, Decision};
pub use deletes::{delete_team, delete_user};
pub use error::ProvisioningError;
pub use gate::{Caller, Gate};
pub use retry::{pause_after_conflict, WRITE_ATTEMPTS};
pub use teams::{finish_team_write, GroupPage, GroupView, MembersWanted, TeamPatched, TeamRead};
pub use user_lists::{KeyLookup, ListPlan, UserListRequest, UserPage, LIST_ITEM_BUDGET};
pub use users::{UserChange, UserView};

use crate::auth::TokenKey;
use crate::clock::Clock;
use crate::log::RequestLogWriter;
use crate::notify::Mailer;
use crate::store::Store;

/// What the use cases work with, borrowed from the function's state for one request.
#[derive(Clone, Copy)]
pub struct Provisioning<'a> {
    pub store: &'a Store,
    pub token_key: &'a TokenKey,
    pub clock: &'a Clock,
    pub mailer: &'a Mailer,
    /// The token check, with what this instance remembers between requests.
    pub gate: &'a Gate,
    /// Work that runs after the response (the welcome email).
    pub background: &'a RequestLogWriter,
}

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

    /// Whether the caller named the version it read: then a lost race is refused, not retried.
    pub fn pinned(&self) -> bool {
        matches!(self, Self::OneOf(_))
    }
}
