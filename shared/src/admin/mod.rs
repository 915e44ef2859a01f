//! The console's use cases, for an organization's Owners and Co-Owners: accounts and sessions,
//! SCIM enablement and the token lifecycle, the SCIM history and request log, members and
//! licenses. The HTTP adapter is `api::admin`; the storage is `store` (sessions, admin_history).
mod accounts;
mod authz;
mod confirm;
mod cursor;
mod error;
mod logs;
mod members;
mod oauth_client;
mod scim;
mod session;
mod status;
mod throttle;

use chrono::{DateTime, Utc};

use crate::auth::TokenKey;
use crate::log::RequestLogWriter;
use crate::notify::Mailer;
use crate::store::Store;

pub use crate::store::GuardedAction;
pub use accounts::SignIn;
pub use authz::{ManagedOrganization, OrgCaller};
pub use confirm::ConfirmedByPassphrase;
pub use cursor::Cursor;
pub use error::{AdminError, Unmet};
pub use logs::{parse_limit, LogPage, LogQuery, LogView};
pub use members::{
    LicenseView, MemberView, MembersPage, ReconciliationView, TeamRef, TimelinePage, TimelineView,
    DEFAULT_MEMBERS_PAGE, MAX_MEMBERS_PAGE,
};
pub use oauth_client::IssuedClientView;
pub use scim::{connector_url, HistoryPage, HistoryView, IssuedTokenView};
pub use session::{csrf_matches, csrf_token, Session, SessionToken};
pub use status::{
    FailureView, HealthView, OAuthClientView, PreviousTokenView, RequirementView, ScimStatus, TokenView, Warning,
};
pub use throttle::{
    window_start, Counter, ACCOUNT_FAILURES, ACCOUNT_RESET_CONFIRMS, SESSION_FAILURES, SOURCE_FAILURES,
    SOURCE_RESET_CONFIRMS,
};

/// The ports a console request uses, and the time it runs at.
#[derive(Clone)]
pub struct Console {
    pub store: Store,
    pub key: TokenKey,
    pub mailer: Mailer,
    /// Work that must not delay (or, by its timing, give away anything in) the response.
    pub background: RequestLogWriter,
    pub now: DateTime<Utc>,
}
