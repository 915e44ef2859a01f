//! The Insomnia side of provisioning: organizations, members and accounts, teams and their
//! memberships, SCIM settings. Entities and their rules; no storage (that is `store/`).
mod email;
pub mod health;
mod ids;
mod lookup;
mod member;
mod oauth;
mod organization;
mod outbox;
mod reconciliation;
mod scim_settings;
mod team;

pub use email::{EmailAddress, EmailError};
pub use ids::{IdError, OrgId};
pub use lookup::LookupAttr;
pub use member::{Account, ManagedBy, MemberRecord};
pub use oauth::{
    AccessGrant, ClientId, CodeGrant, GrantFamily, OAuthClient, RedirectUri, RefreshGrant, MAX_REDIRECT_URIS,
};
pub use organization::{IdentityProvider, MemberRole, Organization, Plan, ScimRequirement, SsoConfig, ValueError};
pub use outbox::{LastAdminChange, OAuthCredential, OutboxItem, OutboxKind};
pub use reconciliation::{
    IdentityKey, ManualMember, ManualSummary, MemberTally, Mismatch, MismatchKind, MismatchSummary, Reconciliation,
    ReconciliationBuilder, RECONCILIATION_LISTED,
};
pub use scim_settings::{
    AutoRefresh, PreviousToken, RefreshFailure, RetiredToken, Retirement, ScimSettings, TokenHash, TokenState,
    TokenWindow, RETIRED_TOKENS,
};
pub use team::{MemberDelta, Membership, PendingKind, PendingMembers, TeamRecord};

/// The version a conditional write stores after reading `version`: every versioned record (SCIM
/// settings, members, teams) is bumped by this one rule, through its `next_version()`.
fn next_version(version: u64) -> u64 {
    version.saturating_add(1)
}
