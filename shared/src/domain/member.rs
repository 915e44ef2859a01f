//! A member of an organization (the Insomnia side of a SCIM User) and the global account it
//! signs in with.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EmailAddress, MemberRole};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagedBy {
    Scim,
    Manual,
}

/// A member of an organization: the Insomnia side of a SCIM User.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub id: String,
    /// The Insomnia account this member signs in with.
    pub email: EmailAddress,
    pub user_name: String,
    pub role: MemberRole,
    pub managed_by: ManagedBy,
    /// Inactive members have no access and consume no license.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub version: u64,
    #[serde(default)]
    pub external_id: Option<String>,
    /// The SCIM representation as the IdP last wrote it (JSON text, without id, meta and groups);
    /// None for members added by hand.
    #[serde(default)]
    pub resource: Option<String>,
    /// Lookup values indexed for key-lookup filters: `(attribute, normalized value)`.
    #[serde(default)]
    pub lookups: Vec<(String, String)>,
}

impl MemberRecord {
    /// A new active, SCIM-managed member whose userName is its email, with the SCIM document as
    /// given: for fixtures and bulk loaders that write members without the SCIM path.
    pub fn provisioned(email: EmailAddress, resource: &serde_json::Value, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            user_name: email.to_string(),
            email,
            role: MemberRole::Member,
            managed_by: ManagedBy::Scim,
            active: true,
            created_at: now,
            modified_at: now,
            version: 1,
            external_id: None,
            resource: Some(resource.to_string()),
            lookups: Vec::new(),
        }
    }

    /// A member consumes an Enterprise license while active.
    pub fn consumes_license(&self) -> bool {
        self.active
    }
}

/// A global Insomnia account (one per email, across organizations).
#[derive(Clone, Serialize, Deserialize)]
pub struct Account {
    pub email: EmailAddress,
    /// Argon2id PHC string; None until the welcome email has delivered an initial passphrase.
    pub passphrase_hash: Option<String>,
    pub must_change_passphrase: bool,
    /// True while the welcome email (with the initial passphrase) has not been delivered.
    #[serde(default)]
    pub welcome_pending: bool,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("email", &self.email)
            .field("must_change_passphrase", &self.must_change_passphrase)
            .field("welcome_pending", &self.welcome_pending)
            .finish_non_exhaustive()
    }
}
