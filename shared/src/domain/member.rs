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

    /// A new active member added by hand (by an operator, or by Insomnia outside SCIM): its
    /// userName is its email, and it has no SCIM document until an IdP takes it over.
    pub fn manual(email: EmailAddress, role: MemberRole, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            user_name: email.to_string(),
            email,
            role,
            managed_by: ManagedBy::Manual,
            active: true,
            created_at: now,
            modified_at: now,
            version: 1,
            external_id: None,
            resource: None,
            lookups: Vec::new(),
        }
    }

    /// The version the next write of this member stores.
    pub fn next_version(&self) -> u64 {
        super::next_version(self.version)
    }

    /// An Owner or Co-Owner who can act in the console: the organization must always keep one
    /// (docs/ARCHITECTURE.md, "The last active Owner or Co-Owner").
    pub fn is_active_admin(&self) -> bool {
        self.active && self.role.is_admin()
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
    /// Argon2id PHC string of the passphrase the person chose (or an operator set); None until then.
    pub passphrase_hash: Option<String>,
    pub must_change_passphrase: bool,
    /// The welcome email's one-time initial passphrase, as a keyed hash (`auth::InitialCredential`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_credential_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_credential_expires_at: Option<DateTime<Utc>>,
    /// When it signed in: it is single use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_credential_used_at: Option<DateTime<Utc>>,
    /// True while the welcome email (with the initial passphrase) has not been delivered.
    #[serde(default)]
    pub welcome_pending: bool,
    pub created_at: DateTime<Utc>,
}

impl Account {
    /// A new account made by provisioning: no passphrase until its welcome delivers the initial one.
    pub fn awaiting_welcome(email: EmailAddress, now: DateTime<Utc>) -> Self {
        Self { welcome_pending: true, ..Self::with_passphrase_hash(email, None, true, now) }
    }

    /// An account whose passphrase an operator (or a test) set.
    pub fn with_passphrase_hash(
        email: EmailAddress,
        passphrase_hash: Option<String>,
        must_change_passphrase: bool,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            email,
            passphrase_hash,
            must_change_passphrase,
            initial_credential_hash: None,
            initial_credential_expires_at: None,
            initial_credential_used_at: None,
            welcome_pending: false,
            created_at: now,
        }
    }
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
