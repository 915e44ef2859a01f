//! SCIM Groups as Insomnia teams: create (members may be inside), read, replace, patch (document
//! and membership changes in chunks with exact counts), delete, list (bounded per page).
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::retry::{pause_after_conflict, WRITE_ATTEMPTS};
use super::{deletes, Caller, Expected, Provisioning, ProvisioningError};
use crate::auth::AuthorizedOrg;
use crate::domain::{LookupAttr, MemberDelta, Membership, PendingKind, PendingMembers, TeamRecord};
use crate::log::{LogSubject, MemberEvent, MemberEventKind, Operation};
use crate::scim::group::{
    self, filter_mentions_members, GroupDocument, ListPage, MemberRef, MembershipChange, Pushed, LIST_PAGE_BUDGET,
    MEMBERS_INLINE_LIMIT,
};
use crate::scim::list::{ListQuery, Projection};
use crate::scim::patch::PatchRequest;
use crate::scim::{ScimError, ScimType};
use crate::store::{Prefetch, Prefetched, Store, TeamGuard, TeamState, TeamWriteError, MEMBERSHIPS_PER_TRANSACTION};

const KIND: &str = "group";

fn not_found(id: &str) -> ProvisioningError {
    ProvisioningError::NotFound { kind: KIND, id: id.to_owned() }
}

fn name_taken(name: &str) -> ProvisioningError {
    ProvisioningError::Taken(format!("A group with displayName '{name}' already exists in this organization."))
}

/// What a failed team write means for the request.
fn team_error(err: TeamWriteError, id: &str, name: &str) -> ProvisioningError {
    match err {
        TeamWriteError::NameTaken => name_taken(name),
        TeamWriteError::Changed => ProvisioningError::ChangedMeanwhile { kind: KIND },
        TeamWriteError::Missing => not_found(id),
        TeamWriteError::Store(err) => err.into(),
        TeamWriteError::Interrupted { applied, requested, cause } => {
            tracing::error!(error = %crate::telemetry::Chain(&cause), applied, requested, group = id, "membership change interrupted");
            ProvisioningError::Interrupted { team: id.to_owned(), applied, requested }
        }
    }
}

fn too_many(team: &TeamRecord) -> ProvisioningError {
    ProvisioningError::Invalid(ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "Group '{}' has {} members, more than the {MEMBERS_INLINE_LIMIT} one response can carry. Request it with \
             excludedAttributes=members and page its members with GET /Users?filter=groups.value eq \"{}\".",
            team.display_name, team.member_count, team.id
        ),
    ))
}

/// A group under the member limit whose text still outweighs a whole response (long member ids or names).
fn too_big_for_a_response(team: &TeamRecord) -> ProvisioningError {
    ProvisioningError::Invalid(ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "Group '{}' with its {} members is larger than one response can carry. Request it with \
             excludedAttributes=members and page its members with GET /Users?filter=groups.value eq \"{}\".",
            team.display_name, team.member_count, team.id
        ),
    ))
}

/// The team as the IdP's document now describes it (its members are items of their own).
fn rewritten(team: &TeamRecord, doc: &GroupDocument, now: DateTime<Utc>) -> TeamRecord {
    TeamRecord {
        display_name: doc.display_name().to_owned(),
        external_id: doc.external_id(),
        modified_at: now,
        version: team.next_version(),
        resource: Some(doc.to_stored()),
        ..team.clone()
    }
}

/// Whether an answer shows the group's members (and so whether they are read at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembersWanted {
    Yes,
    No,
}

impl MembersWanted {
    pub fn of(projection: &Projection) -> Self {
        let wanted = !projection.excludes("members", group::rules())
            && (projection.attributes.is_empty()
                || projection.attributes.iter().any(|p| p.name.eq_ignore_ascii_case("members")));
        if wanted {
            Self::Yes
        } else {
            Self::No
        }
    }
}

/// What `change_team` did: the change (none when there was nothing to change), and the team as
/// the write left it when that is known without reading it again.
struct ChangeOutcome {
    change: Option<TeamChange>,
    known: Option<TeamRecord>,
}

/// What a team write changed: the team before and after, and the members added and removed.
struct TeamChange {
    before: TeamRecord,
    after: TeamRecord,
    delta: MemberDelta,
}

/// The joins and leaves of a member change, for the members' timelines (the log keeps the first
/// `TIMELINE_MEMBERS_PER_REQUEST`, and counts the others on the team's row).
fn team_events(team: &TeamRecord, delta: &MemberDelta) -> Vec<MemberEvent> {
    let joins = delta.adds.iter().map(|m| MemberEvent {
        member_id: m.user_id.clone(),
        user_name: m.display.clone().unwrap_or_else(|| m.user_id.clone()),
        kind: MemberEventKind::JoinedTeam { team_id: team.id.clone(), team: team.display_name.clone() },
    });
    let leaves = delta.removes.iter().map(|user_id| MemberEvent {
        member_id: user_id.clone(),
        user_name: user_id.clone(),
        kind: MemberEventKind::LeftTeam { team_id: team.id.clone(), team: team.display_name.clone() },
    });
    joins.chain(leaves).collect()
}

/// Tells the request log what a PUT or PATCH of a team did (docs/ARCHITECTURE.md, "Request log").
fn describe_team_change(caller: &Caller, id: &str, change: Option<TeamChange>) {
    let Some(TeamChange { before, after, delta }) = change else {
        caller.log.update(|note| {
            if note.subject.is_none() {
                note.subject = Some(LogSubject::group(id, id));
            }
            note.operation = Some(Operation::Updated { attributes: Vec::new() });
        });
        return;
    };
    let document = |team: &TeamRecord| {
        let mut doc = team.resource.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()).unwrap_or_default();
        if let Value::Object(map) = &mut doc {
            map.insert("displayName".into(), Value::String(team.display_name.clone()));
        }
        Some(doc)
    };
    let attributes: Vec<String> =
        crate::log::diff(&crate::log::Redactor::default(), document(&before).as_ref(), document(&after).as_ref())
            .into_iter()
            .map(|c| c.attribute)
            .filter(|a| a != "members" && !a.starts_with("members["))
            .collect();
    let operation = if delta.is_empty() {
        Operation::Updated { attributes }
    } else {
        Operation::Members { added: delta.adds.len(), removed: delta.removes.len(), attributes }
    };
    caller.log.describe(LogSubject::group(&after.id, &after.display_name), operation);
    caller.log.member_events(team_events(&after, &delta));
}

/// A team, with its members when they were wanted.
pub struct GroupView {
    pub team: TeamRecord,
    pub members: Option<Vec<Membership>>,
}

/// What a PATCH answers: the group (when the client asked for attributes), or the version it made,
/// when known without a read (`None`: a plain member change without If-Match commutes with
/// concurrent ones, so the version it left is not known without reading the group again).
pub enum TeamPatched {
    View(GroupView),
    Version(Option<u64>),
}

/// What a conditional read found.
pub enum TeamRead {
    /// The caller's copy is current.
    NotModified {
        version: u64,
    },
    Found(GroupView),
}

/// One page of a group list: the ListResponse text, bounded to one Lambda response.
pub struct GroupPage(pub String);

impl Provisioning<'_> {
    /// Creates a team with its members. With members, the team and its member change are
    /// recorded in one transaction and nobody sees the team until the change is complete; a
    /// create cut off part way is taken over by the IdP's retry (same displayName) or undone by
    /// the sweep (docs/ARCHITECTURE.md, "Writes cut off part way").
    pub async fn create_team(
        &self,
        caller: &Caller,
        doc: &GroupDocument,
        refs: &[MemberRef],
    ) -> Result<GroupView, ProvisioningError> {
        let name = doc.display_name().to_owned();
        let prefetch = Prefetch::new_team(&name, refs.iter().map(|r| r.value.as_str()));
        let (org, found) = self.authorize_with(caller, &prefetch).await?;
        let superseded = match &found.team_name_owner {
            None => None,
            Some(owner) => match self.store.team_state(&org, owner).await? {
                // A create of this name that was cut off part way: this request takes it over.
                Some(state) if state.being_created() && !state.deleting => Some(state),
                _ => return Err(name_taken(&name)),
            },
        };
        let now = self.clock.now();
        let id = superseded.as_ref().map_or_else(|| uuid::Uuid::new_v4().to_string(), |s| s.team.id.clone());
        let members = self.resolve_members(&org, refs, &found, &id).await?;
        let pending = PendingMembers::new(PendingKind::Create, now);
        match superseded {
            Some(state) => {
                let old = state.team.clone();
                let current = self.store.team_members(&org, &id).await?;
                let delta = replacement_delta(&current, members.clone());
                let updated = rewritten(&old, doc, now);
                let previous = state.pending.as_ref();
                self.store
                    .begin_member_change(&org, &old, &updated, None, (&pending, &delta), previous)
                    .await
                    .map_err(|e| team_error(e, &id, &name))?;
                settle(self.store, &org, &id, &pending, &delta, self.clock.now()).await?;
            }
            None => {
                let team = TeamRecord {
                    id: id.clone(),
                    display_name: name.clone(),
                    external_id: doc.external_id(),
                    member_count: 0,
                    version: 1,
                    created_at: now,
                    modified_at: now,
                    resource: Some(doc.to_stored()),
                };
                let delta = MemberDelta { adds: members.clone(), removes: Vec::new() };
                let intent = (!delta.is_empty()).then_some((&pending, &delta));
                self.store.create_team(&org, &team, intent).await.map_err(|e| team_error(e, &id, &name))?;
                if intent.is_some() {
                    settle(self.store, &org, &id, &pending, &delta, self.clock.now()).await?;
                }
            }
        }
        let team = self.store.team(&org, &id).await?.ok_or(ProvisioningError::NotCreated { name })?;
        caller.log.describe(LogSubject::group(&team.id, &team.display_name), Operation::Created);
        caller.log.member_events(team_events(&team, &MemberDelta { adds: members.clone(), removes: Vec::new() }));
        let mut members = members;
        members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        Ok(GroupView { team, members: Some(members) })
    }

    /// The team, with its members when wanted, unless `unchanged` says the caller's copy is
    /// current (then no member is read). A member change under way is completed first, so the
    /// answer shows the team before or after it, never part way.
    pub async fn read_team(
        &self,
        caller: &Caller,
        id: &str,
        members: MembersWanted,
        unchanged: impl Fn(u64) -> bool,
    ) -> Result<TeamRead, ProvisioningError> {
        let (org, mut found) = self.authorize_with(caller, &Prefetch::team(id)).await?;
        let state = settled(self.store, &org, id, found.take_team_state(), self.clock.now()).await?;
        let team = state.filter(visible).map(|s| s.team).ok_or_else(|| not_found(id))?;
        caller.log.describe(LogSubject::group(&team.id, &team.display_name), Operation::Read);
        if unchanged(team.version) {
            return Ok(TeamRead::NotModified { version: team.version });
        }
        let members = self.members_for(&org, &team, members).await?;
        Ok(TeamRead::Found(GroupView { team, members }))
    }

    /// PUT: the team's document and its whole member set, as one change.
    pub async fn replace_team(
        &self,
        caller: &Caller,
        id: &str,
        expected: &Expected,
        doc: &GroupDocument,
        refs: &[MemberRef],
        members: MembersWanted,
    ) -> Result<GroupView, ProvisioningError> {
        let prefetch = Prefetch::team_and_members(id, refs.iter().map(|r| r.value.as_str()));
        let (org, mut found) = self.authorize_with(caller, &prefetch).await?;
        // Validate members before anything is written.
        let target = self.resolve_members(&org, refs, &found, id).await?;
        let first = found.take_team_state();
        let ops = MemberOps::Replace(target);
        let outcome = self
            .change_team(&org, id, expected, first, |team| Ok(rewritten(team, doc, self.clock.now())), &ops)
            .await?;
        describe_team_change(caller, id, outcome.change);
        // A replacement answers the whole group as it now is (moved by whatever committed meanwhile).
        let team = self.store.team(&org, id).await?.ok_or_else(|| not_found(id))?;
        let members = self.members_for(&org, &team, members).await?;
        Ok(GroupView { team, members })
    }

    /// PATCH: the document part (rename, externalId) and the membership part, as one change.
    /// Answers the group projected (`body`: which members it shows), or without a body the
    /// team's new version when known.
    pub async fn patch_team(
        &self,
        caller: &Caller,
        id: &str,
        expected: &Expected,
        document_ops: &PatchRequest,
        change: MembershipChange,
        body: Option<MembersWanted>,
    ) -> Result<TeamPatched, ProvisioningError> {
        let adds: Vec<&MemberRef> = change.adds.iter().chain(change.replace_all.iter().flatten()).collect();
        let prefetch = Prefetch::team_and_members(id, adds.iter().map(|r| r.value.as_str()));
        let (org, mut found) = self.authorize_with(caller, &prefetch).await?;
        // Unknown members refuse the whole request before anything is written.
        let added: Vec<MemberRef> = adds.into_iter().cloned().collect();
        let resolved = self.resolve_members(&org, &added, &found, id).await?;
        let membership = |r: &MemberRef| resolved.iter().find(|m| m.user_id == r.value).cloned();
        let ops = MemberOps::Patch {
            replace_all: change.replace_all.as_ref().map(|all| all.iter().filter_map(membership).collect()),
            adds: change.adds.iter().filter_map(membership).collect(),
            removes: change.removes.iter().cloned().collect(),
            filtered_removes: change.filtered_removes.clone(),
        };
        let first = found.take_team_state();
        let logged = std::sync::atomic::AtomicBool::new(false);
        let apply = |team: &TeamRecord| {
            let mut doc = GroupDocument::of_team(team);
            let tolerances = doc.patch(&team.id, document_ops)?;
            if !logged.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
            }
            Ok(rewritten(team, &doc, self.clock.now()))
        };
        let outcome = self.change_team(&org, id, expected, first, apply, &ops).await?;
        describe_team_change(caller, id, outcome.change);
        let Some(members) = body else {
            // No read after the write (docs/ARCHITECTURE.md, "Round trips per operation").
            return Ok(TeamPatched::Version(outcome.known.map(|team| team.version)));
        };
        let team = self.store.team(&org, id).await?.ok_or_else(|| not_found(id))?;
        let members = self.members_for(&org, &team, members).await?;
        Ok(TeamPatched::View(GroupView { team, members }))
    }

    /// Changes a team's document and members as one change, serializable with every other
    /// change of the team: computed from the version read and written conditionally on it (or,
    /// for plain adds and removes, which commute, on no other change being under way). One
    /// transaction when it fits; otherwise recorded as the team's pending change first, so that a
    /// cut-off request leaves a change that the next writer, reader, retry or sweep completes.
    /// A lost race re-reads and recomputes, unless If-Match pinned the version (then `412`).
    async fn change_team(
        &self,
        org: &AuthorizedOrg,
        id: &str,
        expected: &Expected,
        first: Option<TeamState>,
        rewrite: impl Fn(&TeamRecord) -> Result<TeamRecord, ProvisioningError>,
        ops: &MemberOps,
    ) -> Result<ChangeOutcome, ProvisioningError> {
        let mut state = first;
        for attempt in 0..WRITE_ATTEMPTS {
            let current = settled(self.store, org, id, state.take(), self.clock.now()).await?;
            let team = current.filter(visible).map(|s| s.team).ok_or_else(|| not_found(id))?;
            if !expected.allows(team.version) {
                return Err(ProvisioningError::Precondition { kind: KIND, current: team.version });
            }
            let updated = rewrite(&team)?;
            let document_changed = updated.resource != team.resource
                || updated.display_name != team.display_name
                || updated.external_id != team.external_id;
            let (delta, read_members) = self.member_delta(org, &team, ops).await?;
            if delta.is_empty() && !document_changed {
                return Ok(ChangeOutcome { change: None, known: Some(team) });
            }
            // Computed from what the version shows (or pinned by If-Match): the write holds only at that version.
            let pin = (read_members || expected.pinned()).then_some(team.version);
            let now = self.clock.now();
            let fits_one_transaction = !document_changed
                && (delta.adds.is_empty() || delta.removes.is_empty())
                && delta.len() <= MEMBERSHIPS_PER_TRANSACTION;
            let written = if delta.is_empty() {
                self.store.update_team(org, &team, &updated).await.map(|()| Some(updated.clone()))
            } else if fits_one_transaction {
                let guard = TeamGuard::Settled(pin);
                let result = if delta.adds.is_empty() {
                    self.store.remove_team_members(org, id, &delta.removes, guard, now).await
                } else {
                    self.store.add_team_members(org, id, &delta.adds, guard, now).await
                };
                result.map(|applied| team.after_members_changed(pin, applied, !delta.adds.is_empty(), now))
            } else {
                let pending = PendingMembers::new(PendingKind::Change, now);
                match self.store.begin_member_change(org, &team, &updated, pin, (&pending, &delta), None).await {
                    Ok(()) => {
                        settle(self.store, org, id, &pending, &delta, now).await?;
                        let change = Some(TeamChange { before: team, after: updated, delta });
                        return Ok(ChangeOutcome { change, known: None });
                    }
                    Err(err) => Err(err),
                }
            };
            match written {
                Ok(known) => {
                    let change = Some(TeamChange { before: team, after: updated, delta });
                    return Ok(ChangeOutcome { change, known });
                }
                // Changed meanwhile, or another change is under way: read again (If-Match is checked again).
                Err(TeamWriteError::Changed | TeamWriteError::Missing) => {
                    pause_after_conflict(attempt).await;
                    state = self.store.team_state(org, id).await?;
                }
                Err(err) => return Err(team_error(err, id, &updated.display_name)),
            }
        }
        Err(ProvisioningError::Busy { kind: KIND })
    }

    /// The memberships a change adds and removes, and whether the current members had to be read
    /// to know (a replacement, a removal by filter).
    async fn member_delta(
        &self,
        org: &AuthorizedOrg,
        team: &TeamRecord,
        ops: &MemberOps,
    ) -> Result<(MemberDelta, bool), ProvisioningError> {
        match ops {
            MemberOps::Replace(target) => {
                let current = self.store.team_members(org, &team.id).await?;
                Ok((replacement_delta(&current, target.clone()), true))
            }
            MemberOps::Patch { replace_all: Some(all), adds, removes, .. } => {
                let current = self.store.team_members(org, &team.id).await?;
                let mut target: Vec<Membership> = all.iter().chain(adds).cloned().collect();
                target.retain(|m| !removes.contains(&m.user_id));
                Ok((replacement_delta(&current, target), true))
            }
            MemberOps::Patch { replace_all: None, adds, removes, filtered_removes } if !filtered_removes.is_empty() => {
                let current = self.store.team_members(org, &team.id).await?;
                let parent = crate::scim::filter::AttrPath::new("members", None);
                let present: BTreeSet<&String> = current.iter().map(|m| &m.user_id).collect();
                let mut removing: BTreeSet<String> = removes.iter().filter(|r| present.contains(r)).cloned().collect();
                for membership in &current {
                    let element = serde_json::json!({ "value": membership.user_id, "display": membership.display, "type": "User" });
                    if filtered_removes.iter().any(|f| f.matches_element(&element, &parent, group::rules())) {
                        removing.insert(membership.user_id.clone());
                    }
                }
                let adds = adds.iter().filter(|m| !present.contains(&m.user_id)).cloned().collect();
                Ok((MemberDelta { adds, removes: removing.into_iter().collect() }, true))
            }
            // Plain adds and removes: each is skipped when already done, so nothing needs reading.
            MemberOps::Patch { adds, removes, .. } => {
                Ok((MemberDelta { adds: adds.clone(), removes: removes.clone() }, false))
            }
        }
    }

    /// Deletes the team (docs/ARCHITECTURE.md, "Deletes").
    pub async fn delete_team(&self, caller: &Caller, id: &str, expected: &Expected) -> Result<(), ProvisioningError> {
        let (org, mut found) = self.authorize_with(caller, &Prefetch::team(id)).await?;
        let first = found.take_team_state();
        let name = first.as_ref().map_or_else(|| id.to_owned(), |s| s.team.display_name.clone());
        deletes::delete_team(self.store, &org, id, first, expected, self.clock.now()).await?;
        caller.log.describe(LogSubject::group(id, &name), Operation::Deleted);
        Ok(())
    }

    /// One page of a group list or search, as ListResponse text: it ends before the group that would
    /// take it over one Lambda response.
    pub async fn list_teams(
        &self,
        caller: &Caller,
        query: &ListQuery,
        base_url: &str,
    ) -> Result<GroupPage, ProvisioningError> {
        let rules = group::rules();
        let equality = query.filter.as_ref().and_then(|f| f.as_string_equality());
        let (org, teams): (AuthorizedOrg, Vec<TeamRecord>) = match equality {
            Some((path, value)) if path.is(rules, "displayName", None) => {
                let (org, found) = self.authorize_with(caller, &Prefetch::team_name(value)).await?;
                let teams = match &found.team_name_owner {
                    Some(owner) => self.store.team(&org, owner).await?.into_iter().collect(),
                    None => Vec::new(),
                };
                (org, teams)
            }
            Some((path, value)) if path.is(rules, "id", None) => {
                let (org, found) = self.authorize_with(caller, &Prefetch::team(value)).await?;
                let teams = found.team().cloned().into_iter().collect();
                (org, teams)
            }
            Some((path, value)) if path.is(rules, "externalId", None) => {
                let prefetch = Prefetch::lookup(LookupAttr::TeamExternalId, value);
                let (org, found) = self.authorize_with(caller, &prefetch).await?;
                let teams = self.store.teams_by_ids(&org, &found.ids).await?;
                (org, teams)
            }
            Some((path, value)) if path.is(rules, "members", Some("value")) || path.is(rules, "members", None) => {
                let (org, found) = self.authorize_with(caller, &Prefetch::teams_of_member(value)).await?;
                let teams = self.store.teams_by_ids(&org, &found.ids).await?;
                (org, teams)
            }
            _ => {
                let org = self.authorize(caller).await?;
                let teams = self.store.teams(&org).await?;
                (org, teams)
            }
        };
        let (page, total) = match query.filter.as_ref().filter(|f| filter_mentions_members(f)) {
            Some(filter) => {
                // Filtered one team at a time, so that only one team's members are held at once.
                let mut matching = Vec::new();
                for team in &teams {
                    if team.member_count > MEMBERS_INLINE_LIMIT {
                        return Err(too_many(team));
                    }
                    let members = self.store.team_members(&org, &team.id).await?;
                    if filter.matches(&group::render(team, Some(&members), base_url), rules) {
                        matching.push(group::render(team, None, base_url));
                    }
                }
                let mut unfiltered = query.clone();
                unfiltered.filter = None;
                unfiltered.page_of(matching, rules)
            }
            None => query.page_of(teams.iter().map(|team| group::render(team, None, base_url)).collect(), rules),
        };
        // Written group by group and held to one Lambda response: the page ends before the group that would not fit.
        let wanted = MembersWanted::of(&query.projection);
        let mut written = ListPage::new(total, query.start_index, LIST_PAGE_BUDGET);
        for doc in page {
            let id = doc.get("id").and_then(Value::as_str).unwrap_or_default();
            let Some(team) = teams.iter().find(|t| t.id == id) else { continue };
            let members = self.members_for(&org, team, wanted).await?;
            let text = group::render_text(team, members.as_deref(), base_url, &query.projection);
            match written.push(&text) {
                Pushed::Added => {}
                Pushed::Full => break,
                Pushed::TooBig => return Err(too_big_for_a_response(team)),
            }
        }
        Ok(GroupPage(written.finish()))
    }

    /// The team's members, unless they are not wanted (then nothing is read).
    async fn members_for(
        &self,
        org: &AuthorizedOrg,
        team: &TeamRecord,
        wanted: MembersWanted,
    ) -> Result<Option<Vec<Membership>>, ProvisioningError> {
        if wanted == MembersWanted::No {
            return Ok(None);
        }
        if team.member_count > MEMBERS_INLINE_LIMIT {
            return Err(too_many(team));
        }
        Ok(Some(self.store.team_members(org, &team.id).await?))
    }

    /// Members as the team would hold them: each requested id must be a user of this organization.
    /// `found` holds the users read with the token check.
    async fn resolve_members(
        &self,
        org: &AuthorizedOrg,
        refs: &[MemberRef],
        found: &Prefetched,
        team_id: &str,
    ) -> Result<Vec<Membership>, ProvisioningError> {
        let mut known: HashMap<String, String> = found.members().map(|m| (m.id.clone(), m.user_name.clone())).collect();
        let missing: Vec<String> =
            refs.iter().filter(|r| !known.contains_key(&r.value)).map(|r| r.value.clone()).collect();
        if !missing.is_empty() {
            for member in self.store.members_by_ids(org, &missing).await? {
                known.insert(member.id.clone(), member.user_name.clone());
            }
        }
        let unknown: Vec<&str> =
            refs.iter().filter(|r| !known.contains_key(&r.value)).map(|r| r.value.as_str()).collect();
        if !unknown.is_empty() {
            let shown: Vec<&str> = unknown.iter().take(5).copied().collect();
            return Err(ProvisioningError::Invalid(ScimError::bad_request(
                ScimType::InvalidValue,
                format!(
                    "{} member value(s) are not users of this organization: {}{}. Nothing was changed. A member must be \
                     an existing user: create the users (POST /Users) before adding them to a group.",
                    unknown.len(),
                    shown.join(", "),
                    if unknown.len() > shown.len() { ", …" } else { "" }
                ),
            )));
        }
        let mut seen = BTreeSet::new();
        Ok(refs
            .iter()
            .filter(|r| seen.insert(r.value.clone()))
            .map(|r| Membership {
                team_id: team_id.to_owned(),
                user_id: r.value.clone(),
                display: known.get(&r.value).cloned(),
            })
            .collect())
    }
}

/// Applies a recorded member change and clears it. Harmless to run twice or by several requests
/// at once: each membership transaction requires the change to still be pending, and adding a
/// present member or removing an absent one is skipped.
async fn settle(
    store: &Store,
    org: &AuthorizedOrg,
    id: &str,
    pending: &PendingMembers,
    delta: &MemberDelta,
    now: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    let guard = TeamGuard::Intent(pending.id.clone());
    let applied = async {
        if !delta.adds.is_empty() {
            store.add_team_members(org, id, &delta.adds, guard.clone(), now).await?;
        }
        if !delta.removes.is_empty() {
            store.remove_team_members(org, id, &delta.removes, guard.clone(), now).await?;
        }
        store.finish_member_change(org, id, pending).await
    };
    match applied.await {
        // Changed: another request finished it, or a delete or a retried create superseded it.
        Ok(()) | Err(TeamWriteError::Changed | TeamWriteError::Missing) => Ok(()),
        // The change stays recorded: the retry, the next request on the team or the sweep completes it.
        Err(TeamWriteError::Store(cause)) => {
            tracing::error!(error = %crate::telemetry::Chain(&cause), group = id, "member change interrupted; it completes on retry");
            Err(ProvisioningError::Interrupted { team: id.to_owned(), applied: 0, requested: delta.len() as u64 })
        }
        Err(err) => Err(team_error(err, id, "")),
    }
}

/// The team once no member change is under way: a pending change is completed first.
async fn settled(
    store: &Store,
    org: &AuthorizedOrg,
    id: &str,
    first: Option<TeamState>,
    now: DateTime<Utc>,
) -> Result<Option<TeamState>, ProvisioningError> {
    let mut state = first;
    for _ in 0..WRITE_ATTEMPTS {
        let Some(current) = state.as_ref() else { return Ok(None) };
        let pending = match &current.pending {
            Some(pending) if !current.deleting && !current.being_created() => pending.clone(),
            _ => return Ok(state),
        };
        let delta = store.member_change_delta(org, id, &pending).await?;
        settle(store, org, id, &pending, &delta, now).await?;
        state = store.team_state(org, id).await?;
    }
    Err(ProvisioningError::Busy { kind: KIND })
}

/// Completes the member change under way on a team before a reader reads its members.
pub(super) async fn complete_pending_change(
    store: &Store,
    org: &AuthorizedOrg,
    state: TeamState,
    now: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    let id = state.team.id.clone();
    settled(store, org, &id, Some(state), now).await.map(|_| ())
}

/// Completes or undoes a team write that no request finished (the scheduler's sweep,
/// docs/ARCHITECTURE.md, "Writes cut off part way"): a member change is completed; a create that
/// nobody took over is undone (its POST was never answered and nobody saw the team); a delete is
/// finished.
pub async fn finish_team_write(
    store: &Store,
    org: &AuthorizedOrg,
    id: &str,
    now: DateTime<Utc>,
) -> Result<(), ProvisioningError> {
    let Some(state) = store.team_state(org, id).await? else { return Ok(()) };
    if state.deleting || state.being_created() {
        return deletes::delete_team(store, org, id, Some(state), &Expected::Any, now).await;
    }
    settled(store, org, id, Some(state), now).await.map(|_| ())
}

/// A member change as the request states it (the memberships to add already resolved).
enum MemberOps {
    /// PUT: exactly these members.
    Replace(Vec<Membership>),
    Patch {
        replace_all: Option<Vec<Membership>>,
        adds: Vec<Membership>,
        removes: Vec<String>,
        filtered_removes: Vec<crate::scim::filter::Filter>,
    },
}

/// What turns `current` into exactly `target`.
fn replacement_delta(current: &[Membership], target: Vec<Membership>) -> MemberDelta {
    let mut seen = BTreeSet::new();
    let target: Vec<Membership> = target.into_iter().filter(|m| seen.insert(m.user_id.clone())).collect();
    let current_ids: BTreeSet<&String> = current.iter().map(|m| &m.user_id).collect();
    let adds = target.iter().filter(|m| !current_ids.contains(&m.user_id)).cloned().collect();
    let removes = current.iter().filter(|m| !seen.contains(&m.user_id)).map(|m| m.user_id.clone()).collect();
    MemberDelta { adds, removes }
}

/// A team any request may see: not being deleted, and its create complete.
fn visible(state: &TeamState) -> bool {
    !state.deleting && !state.being_created()
}
