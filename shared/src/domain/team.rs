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

impl TeamRecord {
    /// A new team with no members yet, at version 1; `resource` is the group document as written.
    pub fn new(
        display_name: &str,
        external_id: Option<String>,
        resource: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            display_name: display_name.to_owned(),
            external_id,
            member_count: 0,
            version: 1,
            created_at: now,
            modified_at: now,
            resource: Some(resource.to_string()),
        }
    }

    /// The version the next write of this team (its memberships included) stores: its ETag.
    pub fn next_version(&self) -> u64 {
        super::next_version(self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub team_id: String,
    pub user_id: String,
    /// The member's userName when added (display only).
    pub display: Option<String>,
}

/// A member change recorded on its team before any membership moves (docs/ARCHITECTURE.md,
/// "Writes cut off part way"): whoever finds it — the writer, the next writer or reader of the
/// team, the IdP's retry, the scheduler's sweep — applies the recorded delta and clears it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingMembers {
    pub id: String,
    pub kind: PendingKind,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingKind {
    /// The team is being created with its members: nobody else sees it until it is complete.
    Create,
    /// The team's member set is changing (a replacement, or more changes than one transaction holds).
    Change,
}

impl PendingMembers {
    pub fn new(kind: PendingKind, since: DateTime<Utc>) -> Self {
        Self { id: uuid::Uuid::new_v4().simple().to_string(), kind, since }
    }
}

/// Memberships to add and user ids to remove: a member change as its intent records it. Applying
/// it again is harmless (adding a present member or removing an absent one changes nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberDelta {
    pub adds: Vec<Membership>,
    pub removes: Vec<String>,
}

impl MemberDelta {
    pub fn is_empty(&self) -> bool {
        self.adds.is_empty() && self.removes.is_empty()
    }

    pub fn len(&self) -> usize {
        self.adds.len() + self.removes.len()
    }
}
