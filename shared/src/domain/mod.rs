//! The Insomnia side of provisioning: organizations, members and accounts, teams and their
//! memberships, SCIM settings. Entities and their rules; no storage (that is `store/`).
mod email;
mod ids;
mod member;
mod oauth;
mod organization;
mod outbox;
mod scim_settings;
mod team;

pub use email::{EmailAddress, EmailError};
pub use ids::{IdError, OrgId};
pub use member::{Account, ManagedBy, MemberRecord};
pub use oauth::{
    AccessGrant, ClientId, CodeGrant, GrantFamily, OAuthClient, RedirectUri, RefreshGrant, ACCESS_TOKEN_LIFETIME,
    CLIENT_SECRET_LIFETIME, CODE_LIFETIME, MAX_REDIRECT_URIS, REFRESH_TOKEN_LIFETIME,
};
pub use organization::{IdentityProvider, MemberRole, Organization, Plan, ScimRequirement, SsoConfig, ValueError};
pub use outbox::{OAuthCredential, OutboxItem, OutboxKind};
pub use scim_settings::{
    PreviousToken, RefreshFailure, ScimSettings, TokenState, TokenWindow, EXPIRY_WARNING_DAYS, MAX_OVERLAP_HOURS,
};
pub use team::{MemberDelta, Membership, PendingKind, PendingMembers, TeamRecord};
