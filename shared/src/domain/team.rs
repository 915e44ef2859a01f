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
    /// The team after one membership transaction conditioned on this version (`pinned`) that
    /// added (or removed) `applied` members at `now`, as the store wrote it: its version moves on
    /// once, its count by `applied`. None when the write was not pinned (the count and version
    /// then move from whatever committed meanwhile), unless it applied nothing.
    pub fn after_members_changed(
        &self,
        pinned: Option<u64>,
        applied: u64,
        added: bool,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        if applied == 0 {
            return Some(self.clone());
        }
        pinned.filter(|version| *version == self.version)?;
        let member_count =
            if added { self.member_count.saturating_add(applied) } else { self.member_count.saturating_sub(applied) };
        Some(Self { member_count, version: self.next_version(), modified_at: now, ..self.clone() })
    }

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

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn team(version: u64, member_count: u64) -> TeamRecord {
        let at = Utc.with_ymd_and_hms(2026, 12, 7, 10, 0, 0).unwrap();
        TeamRecord {
            id: "t".into(),
            display_name: "Team".into(),
            external_id: None,
            member_count,
            version,
            created_at: at,
            modified_at: at,
            resource: None,
        }
    }

    #[test]
    fn a_pinned_member_change_is_known_without_a_read() {
        let now = Utc.with_ymd_and_hms(2026, 12, 7, 11, 0, 0).unwrap();
        let before = team(4, 10);
        let added = before.after_members_changed(Some(4), 3, true, now).unwrap();
        assert_eq!((added.version, added.member_count, added.modified_at), (5, 13, now));
        let removed = before.after_members_changed(Some(4), 2, false, now).unwrap();
        assert_eq!((removed.version, removed.member_count), (5, 8));
        // Nothing applied: nothing written, the team as read.
        assert_eq!(before.after_members_changed(None, 0, true, now), Some(before.clone()));
        // Not pinned (or pinned elsewhere): whatever committed meanwhile moved it too.
        assert_eq!(before.after_members_changed(None, 1, true, now + Duration::seconds(1)), None);
        assert_eq!(before.after_members_changed(Some(3), 1, true, now), None);
    }
}
