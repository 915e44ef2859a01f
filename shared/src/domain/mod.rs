//! The Insomnia side of provisioning: organizations, members and accounts, teams and their
//! memberships, SCIM settings. Entities and their rules; no storage (that is `store/`).
mod email;
mod ids;
mod member;
mod organization;
mod scim_settings;
mod team;

pub use email::{EmailAddress, EmailError};
pub use ids::{IdError, OrgId};
pub use member::{Account, ManagedBy, MemberRecord};
pub use organization::{IdentityProvider, MemberRole, Organization, Plan, ScimRequirement, SsoConfig, ValueError};
pub use scim_settings::{RefreshFailure, ScimSettings, TokenState, TokenWindow, EXPIRY_WARNING_DAYS};
pub use team::{Membership, TeamRecord};
