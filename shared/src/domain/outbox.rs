//! An email to send: what it is about (its text is rendered from that at delivery time), to whom,
//! and its delivery attempts. The store keeps these in its outbox; a member write carries a new
//! account's welcome so that both are written together or not at all.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EmailAddress, OrgId};

/// What an outbox email is about; the message text is rendered from it at delivery time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboxKind {
    /// A brand-new account: the delivery sets and sends its initial passphrase.
    Welcome { account_email: EmailAddress },
    /// The organization's SCIM token expires soon and could not be refreshed automatically.
    TokenExpiring {
        days_left: u32,
        expires_at: DateTime<Utc>,
        /// Why it could not be refreshed, each in words ("the organization must be on the Enterprise
        /// plan"); empty in items queued before reasons were kept.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<String>,
    },
    /// The organization's SCIM token has expired: provisioning has stopped.
    TokenExpired,
    /// The IdP tried to deactivate or delete the organization's last active Owner or Co-Owner,
    /// and was refused (docs/ARCHITECTURE.md, "The last active Owner or Co-Owner").
    LastAdminKept { member_email: EmailAddress, refused: LastAdminChange },
    /// A credential of the OAuth connection expires soon (`days_left` 0: it has expired).
    OauthExpiring { credential: OAuthCredential, days_left: u32, expires_at: DateTime<Utc> },
    /// The SCIM connector became unhealthy (docs/ARCHITECTURE.md, "Connector health"): `state` as
    /// `HealthKind::as_str`, what happened and what to do, in the words the SCIM page uses (our
    /// own text: it holds no credential).
    ConnectorHealth { state: String, headline: String, advice: String },
}

/// What the IdP was refused on the last active Owner or Co-Owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastAdminChange {
    Deactivate,
    Delete,
}

impl LastAdminChange {
    /// The verb, as the email and the SCIM error say it.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Deactivate => "deactivate",
            Self::Delete => "delete",
        }
    }
}

/// What can still expire in an OAuth connection (docs/ARCHITECTURE.md, "Tokens: rotation, revoke, OAuth").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthCredential {
    /// The client secret (an admin makes a new client).
    ClientSecret,
    /// The newest refresh token of the connection, which its IdP stopped renewing.
    RefreshToken,
}

impl OutboxKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Welcome { .. } => "welcome",
            Self::TokenExpiring { .. } => "token_expiring",
            Self::TokenExpired => "token_expired",
            Self::OauthExpiring { .. } => "oauth_expiring",
            Self::LastAdminKept { .. } => "last_admin_kept",
            Self::ConnectorHealth { .. } => "connector_health",
        }
    }
}

/// One email to send (or given up on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub id: String,
    pub kind: OutboxKind,
    pub recipients: Vec<EmailAddress>,
    pub org: OrgId,
    /// Kept with the item so the message reads the same even if the organization changes meanwhile.
    pub org_name: String,
    /// Delivery attempts started so far.
    pub attempts: u32,
    pub due: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

impl OutboxItem {
    fn new(kind: OutboxKind, recipients: Vec<EmailAddress>, org: &OrgId, org_name: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().simple().to_string(),
            kind,
            recipients,
            org: org.clone(),
            org_name: org_name.to_owned(),
            attempts: 0,
            due: now,
            created_at: now,
            last_error: None,
        }
    }

    /// The welcome email of a new account, due at once.
    pub fn welcome(account_email: &EmailAddress, org: &OrgId, org_name: &str, now: DateTime<Utc>) -> Self {
        let kind = OutboxKind::Welcome { account_email: account_email.clone() };
        Self::new(kind, vec![account_email.clone()], org, org_name, now)
    }

    pub fn token_expiring(
        recipients: Vec<EmailAddress>,
        org: &OrgId,
        org_name: &str,
        days_left: u32,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        let kind = OutboxKind::TokenExpiring { days_left, expires_at, reasons: Vec::new() };
        Self::new(kind, recipients, org, org_name, now)
    }

    /// A token-expiring notice that names why the token could not be refreshed automatically.
    pub fn because(mut self, why: Vec<String>) -> Self {
        if let OutboxKind::TokenExpiring { reasons, .. } = &mut self.kind {
            *reasons = why;
        }
        self
    }

    pub fn token_expired(recipients: Vec<EmailAddress>, org: &OrgId, org_name: &str, now: DateTime<Utc>) -> Self {
        Self::new(OutboxKind::TokenExpired, recipients, org, org_name, now)
    }

    /// The notice that the IdP was refused on the last active Owner or Co-Owner.
    pub fn last_admin_kept(
        recipients: Vec<EmailAddress>,
        org: &OrgId,
        org_name: &str,
        member_email: &EmailAddress,
        refused: LastAdminChange,
        now: DateTime<Utc>,
    ) -> Self {
        let kind = OutboxKind::LastAdminKept { member_email: member_email.clone(), refused };
        Self::new(kind, recipients, org, org_name, now)
    }

    /// The connector became unhealthy: to owners and co-owners, due at once.
    pub fn connector_health(
        recipients: Vec<EmailAddress>,
        org: &OrgId,
        org_name: &str,
        state: &str,
        headline: String,
        advice: String,
        now: DateTime<Utc>,
    ) -> Self {
        let kind = OutboxKind::ConnectorHealth { state: state.to_owned(), headline, advice };
        Self::new(kind, recipients, org, org_name, now)
    }

    pub fn oauth_expiring(
        recipients: Vec<EmailAddress>,
        org: &OrgId,
        org_name: &str,
        credential: OAuthCredential,
        days_left: u32,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Self::new(OutboxKind::OauthExpiring { credential, days_left, expires_at }, recipients, org, org_name, now)
    }
}
