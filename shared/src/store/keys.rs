//! Key layout (docs/ARCHITECTURE.md, "Items"). Every key of the table is built here.
use chrono::{DateTime, Utc};

use crate::domain::OrgId;

pub const ORG_SK: &str = "ORG";
pub const SCIM_SK: &str = "SCIM";
pub const ACCOUNT_SK: &str = "ACCOUNT";
/// GSI1 partition of owner and co-owner member items (a sparse index of an organization's admins).
pub fn admins_gsi_pk(org: &OrgId) -> String {
    format!("ORG#{org}#ADMINS")
}

pub fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

pub fn user_sk(id: &str) -> String {
    format!("USER#{id}")
}

pub fn user_name_guard_sk(user_name: &str) -> String {
    format!("USERNAME#{}", user_name.to_lowercase())
}

/// GSI1 partition of an account's email guards: the organizations it is a member of.
pub fn account_orgs_gsi_pk(normalized_email: &str) -> String {
    format!("ACCOUNT#{normalized_email}#ORGS")
}

pub fn email_guard_sk(normalized_email: &str) -> String {
    format!("EMAIL#{normalized_email}")
}

pub fn account_pk(normalized_email: &str) -> String {
    format!("ACCOUNT#{normalized_email}")
}

pub fn log_pk(org: &OrgId) -> String {
    format!("ORG#{org}#LOG")
}

/// Prefix of the lookup index items of one attribute value (`LOOKUP#{attribute}#{value}#{memberId}`).
/// A value containing `#` may share a prefix with another; callers re-check the filter.
pub fn lookup_prefix(attribute: &str, normalized_value: &str) -> String {
    format!("LOOKUP#{attribute}#{normalized_value}#")
}

pub fn team_sk(id: &str) -> String {
    format!("GROUP#{id}")
}

pub fn team_name_guard_sk(display_name: &str) -> String {
    format!("TEAMNAME#{}", display_name.to_lowercase())
}

/// The partition holding one team's membership items (one item per member).
pub fn team_members_pk(org: &OrgId, team_id: &str) -> String {
    format!("ORG#{org}#GROUP#{team_id}")
}

/// The remembered paging positions of page `start_index` of `scope`, one per id a walk's page
/// `start_index` continues after (docs/ARCHITECTURE.md, "Paging").
pub fn walk_prefix(scope: &str, start_index: usize) -> String {
    format!("WALK#{scope}#{start_index}#")
}

pub fn walk_sk(scope: &str, start_index: usize, after: &str) -> String {
    format!("{}{after}", walk_prefix(scope, start_index))
}

pub fn membership_sk(user_id: &str) -> String {
    format!("MEMBER#{user_id}")
}

/// GSI1 partition listing one user's teams (the reverse of a team's membership partition).
pub fn user_teams_gsi_pk(org: &OrgId, user_id: &str) -> String {
    format!("ORG#{org}#USER#{user_id}")
}

/// DynamoDB's limits: 2048 bytes for a partition key, 1024 for a sort key. A longer key (e.g.
/// built from a hostile filter value) names nothing that can exist.
pub fn key_fits(partition: &str, sort: &str) -> bool {
    partition.len() <= 2048 && sort.len() <= 1024
}

/// A time as sort keys hold it: fixed width (microseconds, UTC), so that keys order by time. The
/// request log, the SCIM history and the outbox all key by it.
pub fn sortable_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The partition of unfinished multi-step writes (docs/ARCHITECTURE.md, "Writes cut off part
/// way"): one item per resource while its delete or member change is under way, so the sweep
/// finds them without a scan.
pub const PENDING_PK: &str = "PENDING";

pub fn pending_user_sk(org: &OrgId, user_id: &str) -> String {
    format!("{org}#USER#{user_id}")
}

pub fn pending_team_sk(org: &OrgId, team_id: &str) -> String {
    format!("{org}#GROUP#{team_id}")
}

/// Prefix of one member change's recorded delta (its chunks `…#{n}`), in the organization's partition.
pub fn team_intent_prefix(team_id: &str, intent_id: &str) -> String {
    format!("INTENT#{team_id}#{intent_id}#")
}

pub fn team_intent_sk(team_id: &str, intent_id: &str, chunk: usize) -> String {
    format!("{}{chunk:04}", team_intent_prefix(team_id, intent_id))
}
