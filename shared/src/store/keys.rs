//! Key layout (docs/ARCHITECTURE.md, "Items"). Every key of the table is built here.
use chrono::{DateTime, Utc};

use crate::domain::OrgId;

pub const ORG_SK: &str = "ORG";
pub const SCIM_SK: &str = "SCIM";
pub const ACCOUNT_SK: &str = "ACCOUNT";
/// An organization's fair-use budget (absent: the defaults).
pub const FAIR_USE_SK: &str = "FAIRUSE";
/// The organization's last reconciliation summary (docs/ARCHITECTURE.md, "Reconciliation").
pub const RECONCILIATION_SK: &str = "RECONCILIATION";
/// An organization's connector health counters and state (docs/ARCHITECTURE.md, "Connector health").
pub const HEALTH_SK: &str = "HEALTH";
/// The partition listing every organization with a health item (sort key: the organization), for
/// the scheduler's rounds; written once per organization.
pub const HEALTH_ROSTER_PK: &str = "HEALTHROSTER";
/// GSI1 partition of owner and co-owner member items (a sparse index of an organization's admins).
pub fn admins_gsi_pk(org: &OrgId) -> String {
    format!("ORG#{org}#ADMINS")
}

pub fn org_pk(org: &OrgId) -> String {
    format!("ORG#{org}")
}

/// The organization id an organization partition key names (not yet parsed).
pub fn org_of_pk(pk: &str) -> Option<&str> {
    pk.strip_prefix("ORG#")
}

/// Sort-key prefix of the member items in an organization's partition.
pub const USER_SK_PREFIX: &str = "USER#";

pub fn user_sk(id: &str) -> String {
    format!("{USER_SK_PREFIX}{id}")
}

/// The member id a member item's sort key names.
pub fn user_sk_of(sk: &str) -> Option<&str> {
    sk.strip_prefix(USER_SK_PREFIX)
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

/// One member's provisioning timeline (its own partition, beside the request log: one Query
/// reads it newest first; sort keys are `timed_sk`).
pub fn member_timeline_pk(org: &OrgId, member_id: &str) -> String {
    format!("ORG#{org}#TIMELINE#{member_id}")
}

/// Prefix of the lookup index items of one attribute value (`LOOKUP#{attribute}#{value}#{memberId}`).
/// A value containing `#` may share a prefix with another; callers re-check the filter.
pub fn lookup_prefix(attribute: &str, normalized_value: &str) -> String {
    format!("LOOKUP#{attribute}#{normalized_value}#")
}

pub fn lookup_sk(attribute: &str, normalized_value: &str, member_id: &str) -> String {
    format!("{}{member_id}", lookup_prefix(attribute, normalized_value))
}

/// Sort-key prefix of the team items in an organization's partition.
pub const TEAM_SK_PREFIX: &str = "GROUP#";

pub fn team_sk(id: &str) -> String {
    format!("{TEAM_SK_PREFIX}{id}")
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

/// Sort-key prefix of the membership items in a team's partition.
pub const MEMBERSHIP_SK_PREFIX: &str = "MEMBER#";

pub fn membership_sk(user_id: &str) -> String {
    format!("{MEMBERSHIP_SK_PREFIX}{user_id}")
}

/// The user id a membership item's sort key names.
pub fn membership_sk_of(sk: &str) -> Option<&str> {
    sk.strip_prefix(MEMBERSHIP_SK_PREFIX)
}

/// The segment of a walk over one team's members (`walk_prefix` scopes).
pub fn team_walk_segment(team_id: &str) -> String {
    team_sk(team_id)
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

// The SCIM history, beside the organization's partition.
pub fn history_pk(org: &OrgId) -> String {
    format!("{}#SCIMHISTORY", org_pk(org))
}

/// Above every timed key (`{time}#…`, see `timed_sk`) at or before `at`, below every later one:
/// '$' sorts right after '#'.
pub fn timed_sk_bound(at: DateTime<Utc>) -> String {
    format!("{}$", sortable_time(at))
}

/// The end of a time range over timed keys, the whole of its last microsecond included ('~' sorts
/// after every character of an id).
pub fn timed_range_end(to: DateTime<Utc>) -> String {
    format!("{}~", sortable_time(to))
}

/// The upper bound of the token expiry index up to `until` ('~' sorts after every character of an
/// organization id: keys expiring exactly at `until` are in).
pub fn token_expiry_gsi_bound(until: DateTime<Utc>) -> String {
    format!("{}#~", until.to_rfc3339())
}

/// A history entry or a request-log record: by time, then its id (unique).
pub fn timed_sk(at: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", sortable_time(at))
}

/// The SCIM token expiry index's sort key: RFC 3339 expiry, then the organization (unique per token).
pub fn token_expiry_gsi_sk(expires_at: DateTime<Utc>, org: &OrgId) -> String {
    format!("{}#{org}", expires_at.to_rfc3339())
}

// The OAuth items of an organization's connector, each secret under its keyed hash.
pub const OAUTH_CLIENT_SK: &str = "OAUTH#CLIENT";
pub const OAUTH_REFRESH_PREFIX: &str = "OAUTH#RT#";
pub const OAUTH_FAMILY_PREFIX: &str = "OAUTH#FAMILY#";
pub const OAUTH_CODE_PREFIX: &str = "OAUTH#CODE#";

pub fn access_token_sk(hash: &str) -> String {
    format!("OAUTH#AT#{hash}")
}

pub fn refresh_token_sk(hash: &str) -> String {
    format!("{OAUTH_REFRESH_PREFIX}{hash}")
}

pub fn code_sk(hash: &str) -> String {
    format!("{OAUTH_CODE_PREFIX}{hash}")
}

pub fn family_sk(id: &str) -> String {
    format!("{OAUTH_FAMILY_PREFIX}{id}")
}

/// GSI1 partition of every OAuth client: the scheduler's daily look at what can still expire.
pub const OAUTH_CLIENTS_GSI_PK: &str = "OAUTH_CLIENTS";

/// One fixed window of an organization's fair-use counter (`bucket`: the keyed hash of the token
/// presented; the window's length and index).
pub fn rate_window_sk(bucket: &str, length_ms: i64, index: i64) -> String {
    format!("{}{length_ms}#{index}", rate_bucket_prefix(bucket))
}

/// The prefix of every window of one fair-use bucket.
pub fn rate_bucket_prefix(bucket: &str) -> String {
    format!("RATE#{bucket}#")
}

/// Partition of the emails still to send, sorted by due time.
pub const OUTBOX_PK: &str = "OUTBOX";
/// A one-off notice already queued for an organization (in its partition, with a TTL).
pub fn notice_sk(notice: &str) -> String {
    format!("NOTICE#{notice}")
}
/// Partition of the emails given up on: kept for operators to see, never retried.
pub const OUTBOX_FAILED_PK: &str = "OUTBOX#FAILED";
/// Partition of the items found in the due queue that cannot be read (not decodable, or not under
/// the key their contents give): set aside as found, so they never hold up the others.
pub const OUTBOX_UNREADABLE_PK: &str = "OUTBOX#UNREADABLE";

// The console's items.
pub const SESSION_SK: &str = "SESSION";
pub const RESET_SK: &str = "RESET";

pub fn session_pk(token_hash: &str) -> String {
    format!("SESSION#{token_hash}")
}

/// The token hash a session item's partition key names.
pub fn session_pk_of(pk: &str) -> Option<&str> {
    pk.strip_prefix("SESSION#")
}

/// GSI1 partition listing an account's sessions, so a passphrase change can revoke them all.
pub fn account_sessions_gsi_pk(normalized_email: &str) -> String {
    format!("ACCOUNT#{normalized_email}#SESSIONS")
}

pub fn attempts_pk(scope: &str) -> String {
    format!("ATTEMPTS#{scope}")
}

/// One counting window of sign-in attempts.
pub fn attempts_window_sk(window_start: DateTime<Utc>) -> String {
    format!("WINDOW#{}", window_start.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_keys_agree() {
        assert_eq!(user_sk_of(&user_sk("u1")), Some("u1"));
        assert_eq!(membership_sk_of(&membership_sk("u2")), Some("u2"));
        assert_eq!(session_pk_of(&session_pk("h")), Some("h"));
        assert!(family_sk("f").starts_with(OAUTH_FAMILY_PREFIX));
        assert!(lookup_sk("externalId", "x", "m").starts_with(&lookup_prefix("externalId", "x")));
        assert_eq!(rate_window_sk("ab12", 4000, 7), "RATE#ab12#4000#7");
        assert_eq!(team_walk_segment("t"), "GROUP#t");
    }
}
