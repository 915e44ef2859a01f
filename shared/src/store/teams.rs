//! Teams (SCIM Groups) and their memberships. A team item never holds its member list: each
//! membership is an item of its own (in the team's partition, indexed in GSI1 by user), so adding or
//! removing one member costs the same at 10 or 100k members. The team item keeps an exact
//! `member_count`, changed in the same transaction as the memberships.
use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dynamo::{
    delete, from_item, guard_delete, guard_put, key_item, n, put, put_new, s, to_attribute, to_item, update, Action,
    Item,
};
use super::keys::{
    lookup_sk, membership_sk, org_pk, team_intent_prefix, team_intent_sk, team_members_pk, team_name_guard_sk, team_sk,
    user_sk, user_teams_gsi_pk, TEAM_SK_PREFIX,
};
use super::pending::{pending_delete, pending_put, PendingResource};
use super::transact::TransactFailure;
use super::{Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::{LookupAttr, MemberDelta, Membership, OrgId, PendingKind, PendingMembers, TeamRecord};

/// Lookup-index attribute name of a team's externalId.
pub const TEAM_EXTERNAL_ID: &str = LookupAttr::TeamExternalId.as_str();
/// TransactWriteItems takes at most 100 actions: per membership its item and its member's
/// counter (the condition that the member exists and is not being deleted), plus the team's
/// counter.
pub const MEMBERSHIPS_PER_TRANSACTION: usize = 49;
/// Entries of a recorded member change per item (ids and names: well under the 400 KB item limit).
const INTENT_ENTRIES_PER_ITEM: usize = 1000;
/// Items of a recorded member change that fit beside the team's own actions in one transaction.
const MAX_INTENT_ITEMS: usize = 90;
/// The largest member change one request may make (a PUT replacing 20,000 members by 20,000 others).
pub const MAX_MEMBER_CHANGE: usize = INTENT_ENTRIES_PER_ITEM * MAX_INTENT_ITEMS;

#[derive(Serialize, Deserialize)]
struct TeamItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    /// Set by the first step of a delete: from then on no read shows the team, no write or added
    /// member succeeds, and a retried delete resumes (docs/ARCHITECTURE.md, "Deletes").
    #[serde(skip_serializing_if = "Option::is_none", default)]
    deleting_since: Option<DateTime<Utc>>,
    /// A member change under way (docs/ARCHITECTURE.md, "Writes cut off part way").
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pending: Option<PendingMembers>,
    #[serde(flatten)]
    team: TeamRecord,
}

/// A team as the write paths see it: also while a delete or a member change is under way.
#[derive(Debug, Clone)]
pub struct TeamState {
    pub team: TeamRecord,
    pub deleting: bool,
    pub pending: Option<PendingMembers>,
}

impl TeamState {
    /// Whether a create is still under way: nobody but its writers sees the team yet.
    pub fn being_created(&self) -> bool {
        self.pending.as_ref().is_some_and(|p| p.kind == PendingKind::Create)
    }
}

/// A team item as every read but the write paths sees it: None while a delete or the team's
/// create is under way.
fn decode_team(item: Item) -> Result<Option<TeamRecord>, StoreError> {
    let state = decode_team_state(item)?;
    Ok((!state.deleting && !state.being_created()).then_some(state.team))
}

pub(crate) fn decode_team_state(item: Item) -> Result<TeamState, StoreError> {
    from_item::<TeamItem>(item).map(|t| TeamState {
        deleting: t.deleting_since.is_some(),
        pending: t.pending,
        team: t.team,
    })
}

/// What a membership transaction requires of its team, besides existing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamGuard {
    /// No member change may be under way; with a version, the team must still be at it (If-Match).
    /// The transaction bumps the version.
    Settled(Option<u64>),
    /// The transaction belongs to this recorded change: it still must be the team's pending one.
    /// The version was bumped when the change was recorded.
    Intent(String),
    /// A delete's sweep: removals go on whatever else is under way.
    Sweep,
}

#[derive(Serialize, Deserialize)]
struct MembershipItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(flatten)]
    membership: Membership,
}

#[derive(Debug, thiserror::Error)]
pub enum TeamWriteError {
    #[error("the team name is taken")]
    NameTaken,
    #[error("the team was changed by another writer")]
    Changed,
    #[error("the team does not exist")]
    Missing,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Some transactions of a multi-transaction change committed, then one failed. The team's
    /// count still matches its membership items; `applied` changes were confirmed (one more
    /// transaction may have committed if only its answer was lost).
    #[error("{applied} of {requested} membership changes were confirmed before the store failed")]
    Interrupted {
        applied: u64,
        requested: u64,
        #[source]
        cause: StoreError,
    },
}

/// A batch of membership changes to one team: each is one conditional action in a transaction.
enum MembershipChange<'a> {
    /// Put each membership unless it exists.
    Add(&'a [Membership]),
    /// Delete each user's membership if it exists.
    Remove(&'a [String]),
}

impl MembershipChange<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Add(members) => members.len(),
            Self::Remove(user_ids) => user_ids.len(),
        }
    }

    /// The user of change `index` (indexes come from `0..len()`; past it, no user).
    fn user_id(&self, index: usize) -> Option<&str> {
        match self {
            Self::Add(members) => members.get(index).map(|m| m.user_id.as_str()),
            Self::Remove(user_ids) => user_ids.get(index).map(String::as_str),
        }
    }

    /// The member's membership counter, moved with the membership. An added member must exist and
    /// not be being deleted, so no membership outlives its member.
    fn member_counter(&self, org: &OrgId, index: usize) -> Result<TransactWriteItem, StoreError> {
        let user = self.user_id(index).ok_or_else(|| StoreError::malformed(format!("no member change {index}")))?;
        let update = update(key_item(org_pk(org), user_sk(user)))
            .update_expression("ADD team_count :delta")
            .expression_attribute_values(":delta", n(self.sign()));
        let update = match self {
            Self::Add(_) => {
                update.condition_expression("attribute_exists(PK) AND attribute_not_exists(deleting_since)")
            }
            Self::Remove(_) => update.condition_expression("attribute_exists(PK)"),
        };
        update.action()
    }

    /// How the team's counter moves per change.
    fn sign(&self) -> i64 {
        match self {
            Self::Add(_) => 1,
            Self::Remove(_) => -1,
        }
    }

    fn action(&self, org: &OrgId, team_id: &str, index: usize) -> Result<TransactWriteItem, StoreError> {
        let missing = || StoreError::malformed(format!("no member change {index}"));
        match self {
            Self::Add(members) => put_new(membership_item(org, members.get(index).ok_or_else(missing)?)?),
            Self::Remove(user_ids) => {
                let user = user_ids.get(index).ok_or_else(missing)?;
                delete(key_item(team_members_pk(org, team_id), membership_sk(user)))
                    .condition_expression("attribute_exists(PK)")
                    .action()
            }
        }
    }
}

pub(crate) fn team_key(org: &OrgId, id: &str) -> Item {
    key_item(org_pk(org), team_sk(id))
}

pub(crate) fn membership_item(org: &OrgId, membership: &Membership) -> Result<Item, StoreError> {
    to_item(&MembershipItem {
        pk: team_members_pk(org, &membership.team_id),
        sk: membership_sk(&membership.user_id),
        gsi1pk: user_teams_gsi_pk(org, &membership.user_id),
        gsi1sk: team_sk(&membership.team_id),
        membership: membership.clone(),
    })
}

/// The team's counter and version, moved with a transaction's memberships. Members are added
/// only to a team that is not being deleted; removals go on during its delete.
fn counter_update(
    org: &OrgId,
    team_id: &str,
    delta: i64,
    now: DateTime<Utc>,
    guard: &TeamGuard,
) -> Result<TransactWriteItem, StoreError> {
    let mut update = update(team_key(org, team_id))
        .expression_attribute_values(":delta", n(delta))
        .expression_attribute_values(":now", s(now.to_rfc3339()));
    let mut condition = String::from("attribute_exists(PK)");
    if delta > 0 {
        condition.push_str(" AND attribute_not_exists(deleting_since)");
    }
    match guard {
        TeamGuard::Settled(expected) => {
            update = update
                .update_expression("ADD member_count :delta, version :one SET modified_at = :now")
                .expression_attribute_values(":one", AttributeValue::N("1".into()));
            condition.push_str(" AND attribute_not_exists(pending)");
            if let Some(version) = expected {
                condition.push_str(" AND version = :expected");
                update = update.expression_attribute_values(":expected", AttributeValue::N(version.to_string()));
            }
        }
        TeamGuard::Intent(id) => {
            update = update
                .update_expression("ADD member_count :delta SET modified_at = :now")
                .expression_attribute_names("#pending", "pending")
                .expression_attribute_values(":intent", s(id));
            condition.push_str(" AND #pending.id = :intent");
        }
        TeamGuard::Sweep => {
            update = update
                .update_expression("ADD member_count :delta, version :one SET modified_at = :now")
                .expression_attribute_values(":one", AttributeValue::N("1".into()));
        }
    }
    update.condition_expression(condition).action()
}

/// The items recording a member change's delta, `INTENT_ENTRIES_PER_ITEM` entries each.
fn intent_items(
    org: &OrgId,
    team_id: &str,
    pending: &PendingMembers,
    delta: &MemberDelta,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let adds: Vec<(&str, Option<&str>)> =
        delta.adds.iter().map(|m| (m.user_id.as_str(), m.display.as_deref())).collect();
    let ttl = (pending.since + crate::lifetimes::MEMBER_CHANGE_RECORD).timestamp();
    let mut items = Vec::new();
    let mut chunk = 0;
    let (mut add_chunks, mut remove_chunks) =
        (adds.chunks(INTENT_ENTRIES_PER_ITEM), delta.removes.chunks(INTENT_ENTRIES_PER_ITEM));
    loop {
        let (adds, removes) = (add_chunks.next(), remove_chunks.next());
        if adds.is_none() && removes.is_none() {
            break;
        }
        let mut item = key_item(org_pk(org), team_intent_sk(team_id, &pending.id, chunk));
        item.insert("adds".into(), s(serde_json::to_string(adds.unwrap_or_default())?));
        item.insert("removes".into(), s(serde_json::to_string(removes.unwrap_or_default())?));
        item.insert("ttl".into(), n(ttl));
        items.push(put(item).action()?);
        chunk += 1;
    }
    if items.len() > MAX_INTENT_ITEMS {
        return Err(StoreError::malformed(format!(
            "a member change of {} entries is too large to record",
            delta.len()
        )));
    }
    Ok(items)
}

impl Store {
    /// Creates a team with its name guard and externalId lookup. With members, the team is
    /// created with its member change recorded (`PendingKind::Create`): nobody else sees it until
    /// the change is complete (docs/ARCHITECTURE.md, "Writes cut off part way").
    pub async fn create_team(
        &self,
        org: &AuthorizedOrg,
        team: &TeamRecord,
        intent: Option<(&PendingMembers, &MemberDelta)>,
    ) -> Result<(), TeamWriteError> {
        let item = to_item(&TeamItem {
            pk: org_pk(org),
            sk: team_sk(&team.id),
            deleting_since: None,
            pending: intent.map(|(pending, _)| pending.clone()),
            team: TeamRecord { member_count: 0, ..team.clone() },
        })?;
        let mut actions =
            vec![put_new(item)?, guard_put(org_pk(org), team_name_guard_sk(&team.display_name), &team.id)?];
        if let Some(external_id) = &team.external_id {
            let mut item = key_item(org_pk(org), lookup_sk(TEAM_EXTERNAL_ID, external_id, &team.id));
            item.insert("member_id".into(), s(&team.id));
            actions.push(put(item).action()?);
        }
        if let Some((pending, delta)) = intent {
            actions.push(pending_put(org, &PendingResource::Team(team.id.clone()), pending.since)?);
            actions.extend(intent_items(org, &team.id, pending, delta)?);
        }
        match self.transact_items(actions).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Conditions(failed)) if failed.contains(&1) => Err(TeamWriteError::NameTaken),
            Err(TransactFailure::Conditions(_)) => Err(TeamWriteError::Changed),
            Err(TransactFailure::Store(err)) => Err(err.into()),
        }
    }

    /// Rewrites a team's name, externalId and document if it is still at `old.version` and no
    /// member change is under way.
    pub async fn update_team(
        &self,
        org: &AuthorizedOrg,
        old: &TeamRecord,
        new: &TeamRecord,
    ) -> Result<(), TeamWriteError> {
        self.write_team(org, old, new, Some(old.version), None).await
    }

    /// Records a member change (and the document's, when `new` differs from `old`) in one
    /// transaction: the team's version moves on and its `pending` names the change, whose delta
    /// is written beside it. `expected` pins the version the change was computed from;
    /// `supersedes` takes over a create still under way (a retried POST) instead of requiring
    /// that no change is. Memberships move afterwards, under `TeamGuard::Intent`.
    pub async fn begin_member_change(
        &self,
        org: &AuthorizedOrg,
        old: &TeamRecord,
        new: &TeamRecord,
        expected: Option<u64>,
        intent: (&PendingMembers, &MemberDelta),
        supersedes: Option<&PendingMembers>,
    ) -> Result<(), TeamWriteError> {
        self.write_team(org, old, new, expected, Some((intent, supersedes))).await
    }

    async fn write_team(
        &self,
        org: &OrgId,
        old: &TeamRecord,
        new: &TeamRecord,
        expected: Option<u64>,
        intent: Option<((&PendingMembers, &MemberDelta), Option<&PendingMembers>)>,
    ) -> Result<(), TeamWriteError> {
        let mut set = String::from(
            "SET display_name = :name, external_id = :external, #resource = :resource, modified_at = :now, \
             version = version + :one",
        );
        let mut condition = String::from("attribute_exists(PK) AND attribute_not_exists(deleting_since)");
        let mut update = update(team_key(org, &old.id))
            .expression_attribute_names("#resource", "resource")
            .expression_attribute_names("#pending", "pending")
            .expression_attribute_values(":name", s(&new.display_name))
            .expression_attribute_values(":external", new.external_id.as_ref().map_or(AttributeValue::Null(true), s))
            .expression_attribute_values(":resource", new.resource.as_ref().map_or(AttributeValue::Null(true), s))
            .expression_attribute_values(":now", s(new.modified_at.to_rfc3339()))
            .expression_attribute_values(":one", n(1));
        if let Some(version) = expected {
            condition.push_str(" AND version = :expected");
            update = update.expression_attribute_values(":expected", n(version));
        }
        match intent.and_then(|(_, superseded)| superseded) {
            Some(superseded) => {
                condition.push_str(" AND #pending.id = :superseded");
                update = update.expression_attribute_values(":superseded", s(&superseded.id));
            }
            None => condition.push_str(" AND attribute_not_exists(#pending)"),
        }
        let mut extra = Vec::new();
        if let Some(((pending, delta), _)) = intent {
            set.push_str(", #pending = :pending");
            update = update.expression_attribute_values(":pending", to_attribute(pending)?);
            extra.push(pending_put(org, &PendingResource::Team(old.id.clone()), pending.since)?);
            extra.extend(intent_items(org, &old.id, pending, delta)?);
        }
        let update = update.update_expression(set).condition_expression(condition);
        let mut actions = vec![update.action()?];
        let mut name_index = None;
        if old.display_name.to_lowercase() != new.display_name.to_lowercase() {
            name_index = Some(actions.len());
            actions.push(guard_put(org_pk(org), team_name_guard_sk(&new.display_name), &old.id)?);
            actions.push(guard_delete(org_pk(org), team_name_guard_sk(&old.display_name), &old.id)?);
        }
        if old.external_id != new.external_id {
            if let Some(external_id) = &old.external_id {
                actions
                    .push(delete(key_item(org_pk(org), lookup_sk(TEAM_EXTERNAL_ID, external_id, &old.id))).action()?);
            }
            if let Some(external_id) = &new.external_id {
                let mut item = key_item(org_pk(org), lookup_sk(TEAM_EXTERNAL_ID, external_id, &old.id));
                item.insert("member_id".into(), s(&old.id));
                actions.push(put(item).action()?);
            }
        }
        actions.extend(extra);
        match self.transact_items(actions).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Conditions(failed)) if name_index.is_some_and(|i| failed.contains(&i)) => {
                Err(TeamWriteError::NameTaken)
            }
            Err(TransactFailure::Conditions(_)) => Err(TeamWriteError::Changed),
            Err(TransactFailure::Store(err)) => Err(err.into()),
        }
    }

    /// The delta a pending member change recorded.
    pub async fn member_change_delta(
        &self,
        org: &AuthorizedOrg,
        team_id: &str,
        pending: &PendingMembers,
    ) -> Result<MemberDelta, StoreError> {
        let query = self
            .query_table()
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(org_pk(org)))
            .expression_attribute_values(":prefix", s(team_intent_prefix(team_id, &pending.id)));
        let mut delta = MemberDelta::default();
        self.query_pages(query, |items| {
            for item in items {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or("[]");
                let adds: Vec<(String, Option<String>)> = serde_json::from_str(text("adds"))?;
                let removes: Vec<String> = serde_json::from_str(text("removes"))?;
                delta.adds.extend(adds.into_iter().map(|(user_id, display)| Membership {
                    team_id: team_id.to_owned(),
                    user_id,
                    display,
                }));
                delta.removes.extend(removes);
            }
            Ok(true)
        })
        .await?;
        Ok(delta)
    }

    /// The last step of a member change: the team no longer names it (`Changed` when it does not
    /// any more: another writer finished it, or a delete superseded it). Its recorded delta is
    /// left to its `ttl`.
    pub async fn finish_member_change(
        &self,
        org: &AuthorizedOrg,
        team_id: &str,
        pending: &PendingMembers,
    ) -> Result<(), TeamWriteError> {
        let settle = update(team_key(org, team_id))
            .update_expression("REMOVE #pending")
            .condition_expression("#pending.id = :intent")
            .expression_attribute_names("#pending", "pending")
            .expression_attribute_values(":intent", s(&pending.id))
            .action()?;
        let actions = vec![settle, pending_delete(org, &PendingResource::Team(team_id.to_owned()))?];
        match self.transact_items(actions).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Conditions(_)) => Err(TeamWriteError::Changed),
            Err(TransactFailure::Store(err)) => Err(err.into()),
        }
    }

    /// Adds memberships in transactions of up to 49 (plus the counter). Members already present
    /// are skipped, so the count stays exact. `guard` is what each transaction requires of the
    /// team (a pinned version holds for the first only). Returns how many were added.
    pub async fn add_team_members(
        &self,
        org: &AuthorizedOrg,
        team_id: &str,
        members: &[Membership],
        guard: TeamGuard,
        now: DateTime<Utc>,
    ) -> Result<u64, TeamWriteError> {
        self.change_team_members(org, team_id, MembershipChange::Add(members), guard, now).await
    }

    /// Removes memberships like `add_team_members` adds them; absent members are skipped.
    pub async fn remove_team_members(
        &self,
        org: &AuthorizedOrg,
        team_id: &str,
        user_ids: &[String],
        guard: TeamGuard,
        now: DateTime<Utc>,
    ) -> Result<u64, TeamWriteError> {
        self.change_team_members(org, team_id, MembershipChange::Remove(user_ids), guard, now).await
    }

    /// Applies a membership change in transactions of ≤ 99 memberships plus the team's counter, so
    /// every committed transaction moves the count by exactly what it wrote. A member whose
    /// condition fails (already present / already absent) is dropped and the rest retried;
    /// conflicts and throttling back off and retry. A failure after some transactions committed is
    /// `Interrupted`, saying how many changes were made.
    async fn change_team_members(
        &self,
        org: &OrgId,
        team_id: &str,
        change: MembershipChange<'_>,
        guard: TeamGuard,
        now: DateTime<Utc>,
    ) -> Result<u64, TeamWriteError> {
        let requested = change.len();
        let mut applied = 0;
        let mut guard = guard;
        let interrupted = |applied: u64, cause: StoreError| {
            if applied == 0 {
                TeamWriteError::Store(cause)
            } else {
                TeamWriteError::Interrupted { applied, requested: requested as u64, cause }
            }
        };
        // One change per member: a transaction may not name one item twice.
        let mut seen = BTreeSet::new();
        let unique: Vec<usize> = (0..requested).filter(|&i| seen.insert(change.user_id(i))).collect();
        for chunk in unique.chunks(MEMBERSHIPS_PER_TRANSACTION) {
            // (index, whether the member's counter moves too): a removal whose member is already
            // gone (an older membership) still removes the membership.
            let mut pending: Vec<(usize, bool)> = chunk.iter().map(|&i| (i, true)).collect();
            while !pending.is_empty() {
                let mut actions = Vec::with_capacity(2 * pending.len() + 1);
                let mut positions = Vec::with_capacity(pending.len());
                for &(index, counted) in &pending {
                    let membership = actions.len();
                    actions.push(change.action(org, team_id, index)?);
                    let counter = counted.then_some(actions.len());
                    if counted {
                        actions.push(change.member_counter(org, index)?);
                    }
                    positions.push((membership, counter));
                }
                let team_counter = actions.len();
                let delta = i64::try_from(pending.len()).unwrap_or(0) * change.sign();
                actions.push(counter_update(org, team_id, delta, now, &guard)?);
                match self.transact_items(actions).await {
                    Ok(()) => {
                        applied += pending.len() as u64;
                        // A pinned version holds for the first transaction: the next find it moved on.
                        if let TeamGuard::Settled(Some(_)) = guard {
                            guard = TeamGuard::Settled(None);
                        }
                        break;
                    }
                    Err(TransactFailure::Conditions(failed)) => {
                        if failed.contains(&team_counter) {
                            return Err(match &guard {
                                TeamGuard::Settled(Some(_)) => TeamWriteError::Changed,
                                TeamGuard::Intent(_) => TeamWriteError::Changed,
                                TeamGuard::Settled(None) | TeamGuard::Sweep => TeamWriteError::Missing,
                            });
                        }
                        pending = pending
                            .into_iter()
                            .zip(positions)
                            .filter_map(|((index, counted), (membership, counter))| {
                                let membership_failed = failed.contains(&membership);
                                let counter_failed = counter.is_some_and(|c| failed.contains(&c));
                                match change {
                                    // Already present, or the member is gone or being deleted.
                                    MembershipChange::Add(_) if membership_failed || counter_failed => None,
                                    // Already absent.
                                    MembershipChange::Remove(_) if membership_failed => None,
                                    MembershipChange::Remove(_) if counter_failed => Some((index, false)),
                                    _ => Some((index, counted)),
                                }
                            })
                            .collect();
                    }
                    Err(TransactFailure::Store(err)) => return Err(interrupted(applied, err)),
                }
            }
        }
        Ok(applied)
    }

    pub async fn team(&self, org: &AuthorizedOrg, id: &str) -> Result<Option<TeamRecord>, StoreError> {
        let output = self.read_item().set_key(Some(team_key(org, id))).send().await.map_err(StoreError::from_sdk)?;
        Ok(output.item.map(decode_team).transpose()?.flatten())
    }

    pub async fn teams(&self, org: &AuthorizedOrg) -> Result<Vec<TeamRecord>, StoreError> {
        let items = self.query_all(org_pk(org), Some(TEAM_SK_PREFIX)).await?;
        items.into_iter().filter_map(|item| decode_team(item).transpose()).collect()
    }

    pub async fn teams_by_ids(&self, org: &AuthorizedOrg, ids: &[String]) -> Result<Vec<TeamRecord>, StoreError> {
        let unique: BTreeSet<&String> = ids.iter().collect();
        let keys: Vec<Item> = unique.into_iter().map(|id| team_key(org, id)).collect();
        let mut teams = Vec::new();
        for chunk in keys.chunks(100) {
            for item in self.batch_get(chunk.to_vec()).await? {
                teams.extend(decode_team(item)?);
            }
        }
        teams.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(teams)
    }

    /// Every membership of a team, in user-id order.
    pub async fn team_members(&self, org: &AuthorizedOrg, team_id: &str) -> Result<Vec<Membership>, StoreError> {
        let mut members = Vec::new();
        self.each_membership_page(org, team_id, "team_id, user_id, display", |items| {
            for item in items {
                members.push(from_item::<Membership>(item)?);
            }
            Ok(true)
        })
        .await?;
        Ok(members)
    }

    /// The user ids of a team's memberships `skip..skip + take`, in key order (the order every
    /// page sees). Reads only the `user_id` of the memberships up to the page's end.
    pub async fn team_member_ids(
        &self,
        org: &AuthorizedOrg,
        team_id: &str,
        skip: usize,
        take: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        let mut seen = 0usize;
        self.each_membership_page(org, team_id, "user_id", |items| {
            for item in items {
                if seen >= skip && ids.len() < take {
                    if let Some(AttributeValue::S(id)) = item.get("user_id") {
                        ids.push(id.clone());
                    }
                }
                seen += 1;
            }
            Ok(ids.len() < take)
        })
        .await?;
        Ok(ids)
    }

    /// A team's memberships page by page, projected to `attributes` (see `query_pages`).
    async fn each_membership_page(
        &self,
        org: &OrgId,
        team_id: &str,
        attributes: &str,
        each: impl FnMut(Vec<Item>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let pk = team_members_pk(org, team_id);
        if !super::keys::key_fits(&pk, "") {
            return Ok(());
        }
        let query = self
            .query_table()
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(&pk))
            .projection_expression(attributes);
        self.query_pages(query, each).await
    }

    /// The ids of the teams a user belongs to (GSI1).
    pub async fn user_team_ids(&self, org: &AuthorizedOrg, user_id: &str) -> Result<Vec<String>, StoreError> {
        if !super::keys::key_fits(&user_teams_gsi_pk(org, user_id), "") {
            return Ok(Vec::new());
        }
        let query = self.gsi1_query(user_teams_gsi_pk(org, user_id));
        let ids =
            self.query_all_decoded(query, |item| Ok(item.get("team_id").and_then(|v| v.as_s().ok()).cloned())).await?;
        Ok(ids.into_iter().flatten().collect())
    }

    /// Removes a user from the given teams (before the user is deleted), counts kept exact.
    pub async fn remove_user_from_teams(
        &self,
        org: &AuthorizedOrg,
        user_id: &str,
        team_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<(), TeamWriteError> {
        for team_id in team_ids {
            match self.remove_team_members(org, team_id, &[user_id.to_owned()], TeamGuard::Sweep, now).await {
                Ok(_) | Err(TeamWriteError::Missing) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// The first step of a team's delete: marks it (if still at `team.version`) so that no member
    /// can be added and no write succeeds any more, and bumps its version. `Changed` when the team
    /// moved on (or another delete marked it first), `Missing` when it is gone.
    pub async fn mark_team_deleting(
        &self,
        org: &AuthorizedOrg,
        team: &TeamRecord,
        now: DateTime<Utc>,
    ) -> Result<(), TeamWriteError> {
        // A member change under way is superseded: its writers' transactions fail from now on.
        let mark = update(team_key(org, &team.id))
            .update_expression("SET deleting_since = :now, version = :next REMOVE #pending")
            .condition_expression("version = :expected AND attribute_not_exists(deleting_since)")
            .expression_attribute_names("#pending", "pending")
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .expression_attribute_values(":next", n(team.next_version()))
            .expression_attribute_values(":expected", n(team.version))
            .action()?;
        let actions = vec![mark, pending_put(org, &PendingResource::Team(team.id.clone()), now)?];
        match self.transact_items(actions).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Conditions(_)) => Err(TeamWriteError::Changed),
            Err(TransactFailure::Store(err)) => Err(err.into()),
        }
    }

    /// The last step of a team's delete, once its memberships are gone: the team, its name guard
    /// and its externalId lookup in one transaction. `Missing` when it is gone already.
    pub async fn finish_team_delete(&self, org: &AuthorizedOrg, team: &TeamRecord) -> Result<(), TeamWriteError> {
        let remove =
            delete(team_key(org, &team.id)).condition_expression("attribute_exists(deleting_since)").action()?;
        let mut actions = vec![
            remove,
            guard_delete(org_pk(org), team_name_guard_sk(&team.display_name), &team.id)?,
            pending_delete(org, &PendingResource::Team(team.id.clone()))?,
        ];
        if let Some(external_id) = &team.external_id {
            actions.push(delete(key_item(org_pk(org), lookup_sk(TEAM_EXTERNAL_ID, external_id, &team.id))).action()?);
        }
        match self.transact_items(actions).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Conditions(_)) => Err(TeamWriteError::Missing),
            Err(TransactFailure::Store(err)) => Err(err.into()),
        }
    }

    /// The team as the delete path sees it (also while a delete is under way).
    pub async fn team_state(&self, org: &AuthorizedOrg, id: &str) -> Result<Option<TeamState>, StoreError> {
        let output = self.read_item().set_key(Some(team_key(org, id))).send().await.map_err(StoreError::from_sdk)?;
        output.item.map(decode_team_state).transpose()
    }

    async fn query_all(&self, pk: String, sk_prefix: Option<&str>) -> Result<Vec<Item>, StoreError> {
        let query = self.query_table().expression_attribute_values(":pk", s(&pk));
        let query = match sk_prefix {
            Some(prefix) => query
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":prefix", s(prefix)),
            None => query.key_condition_expression("PK = :pk"),
        };
        self.query_all_decoded(query, Ok).await
    }
}
