//! A team of an organization (the Insomnia side of a SCIM Group) and its memberships: one per
//! member, never a list inside the team (docs/ARCHITECTURE.md, "Items").
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamRecord {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// Exact number of membership items.
    #[serde(default)]
    pub member_count: u64,
    /// Bumped by every change, memberships included: the ETag.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    /// The group document as the IdP wrote it, without id, meta and members (JSON text).
    pub resource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub team_id: String,
    pub user_id: String,
    /// The member's userName when added (display only).
    pub display: Option<String>,
}
