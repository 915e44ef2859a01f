//! The Insomnia side of provisioning: organizations, their members and SCIM settings.
mod email;
mod ids;
mod organization;
mod scim_settings;

pub use email::{EmailAddress, EmailError};
pub use ids::{IdError, OrgId};
pub use organization::{IdentityProvider, MemberRole, Organization, Plan, ScimRequirement, SsoConfig, ValueError};
pub use scim_settings::{RefreshFailure, ScimSettings, TokenState, TokenWindow, EXPIRY_WARNING_DAYS};
