//! SCIM Groups as Insomnia teams: create (members may be inside), read, replace, patch (document
//! and membership changes in chunks with exact counts), delete, list (bounded per page).
use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::retry::{pause_after_conflict, WRITE_ATTEMPTS};
use super::{deletes, Caller, Expected, Provisioning, ProvisioningError};
use crate::auth::AuthorizedOrg;
use crate::domain::{Membership, TeamRecord};
use crate::scim::group::{
    self, filter_mentions_members, GroupDocument, ListPage, MemberRef, MembershipChange, Pushed, LIST_PAGE_BUDGET,
    MEMBERS_INLINE_LIMIT,
};
use crate::scim::list::{ListQuery, Projection};
use crate::scim::patch::PatchRequest;
use crate::scim::{ScimError, ScimType};
use crate::store::{Prefetch, Prefetched, TeamWriteError, TEAM_EXTERNAL_ID};

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
            tracing::error!(error = %cause, applied, requested, group = id, "membership change interrupted");
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
        version: team.version + 1,
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

/// A team, with its members when they were wanted.
pub struct GroupView {
    pub team: TeamRecord,
    pub members: Option<Vec<Membership>>,
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
    /// Creates a team with its members. If the members cannot all be written, the half-made team
    /// is undone, so the IdP's retry is not refused as a duplicate.
    pub async fn create_team(
        &self,
        caller: &Caller,
        doc: &GroupDocument,
        refs: &[MemberRef],
    ) -> Result<GroupView, ProvisioningError> {
        let name = doc.display_name().to_owned();
        let prefetch = Prefetch::team_name(&name).and_members(refs.iter().map(|r| r.value.as_str()));
        let (org, found) = self.authorize_with(caller, &prefetch).await?;
        if found.team_name_owner.is_some() {
            return Err(name_taken(&name));
        }
        let now = self.clock.now();
        let id = uuid::Uuid::new_v4().to_string();
        let mut members = self.resolve_members(&org, refs, &found, &id).await?;
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
        self.store.create_team(&org, &team).await.map_err(|e| team_error(e, &id, &name))?;
        if !members.is_empty() {
            if let Err(err) = self.store.add_team_members(&org, &id, &members, None, now).await {
                let failure = team_error(err, &id, &name);
                let undo = async {
                    let current = self.store.team_state(&org, &id).await?;
                    deletes::delete_team(self.store, &org, &id, current, &Expected::Any, now).await
                };
                return Err(match undo.await {
                    Ok(()) => ProvisioningError::NotCreated { name },
                    Err(undo) => {
                        tracing::error!(error = %undo, group = %id, "could not undo a partly created group");
                        failure
                    }
                });
            }
        }
        let team = self.store.team(&org, &id).await?.ok_or_else(|| not_found(&id))?;
        members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        Ok(GroupView { team, members: Some(members) })
    }

    /// The team, with its members when wanted, unless `unchanged` says the caller's copy is
    /// current (then no member is read).
    pub async fn read_team(
        &self,
        caller: &Caller,
        id: &str,
        members: MembersWanted,
        unchanged: impl Fn(u64) -> bool,
    ) -> Result<TeamRead, ProvisioningError> {
        let (org, found) = self.authorize_with(caller, &Prefetch::team(id)).await?;
        let team = found.team().cloned().ok_or_else(|| not_found(id))?;
        if unchanged(team.version) {
            return Ok(TeamRead::NotModified { version: team.version });
        }
        let members = self.members_for(&org, &team, members).await?;
        Ok(TeamRead::Found(GroupView { team, members }))
    }

    /// PUT: the team's document and its whole member set.
    pub async fn replace_team(
        &self,
        caller: &Caller,
        id: &str,
        expected: &Expected,
        doc: &GroupDocument,
        refs: &[MemberRef],
        members: MembersWanted,
    ) -> Result<GroupView, ProvisioningError> {
        let prefetch = Prefetch::team(id).and_members(refs.iter().map(|r| r.value.as_str()));
        let (org, found) = self.authorize_with(caller, &prefetch).await?;
        let team = found.team().cloned().ok_or_else(|| not_found(id))?;
        if !expected.allows(team.version) {
            return Err(ProvisioningError::Precondition { kind: KIND, current: team.version });
        }
        // Validate members before anything is written.
        self.resolve_members(&org, refs, &found, id).await?;
        let now = self.clock.now();
        let updated = rewritten(&team, doc, now);
        if updated.resource != team.resource || updated.display_name != team.display_name {
            self.store
                .update_team(&org, &team, &updated)
                .await
                .map_err(|e| team_error(e, id, &updated.display_name))?;
        }
        let change =
            MembershipChange { replace_all: Some(refs.iter().cloned().collect()), ..MembershipChange::default() };
        self.apply_members(&org, &updated, change, &found, None).await?;
        let team = self.store.team(&org, id).await?.ok_or_else(|| not_found(id))?;
        let members = self.members_for(&org, &team, members).await?;
        Ok(GroupView { team, members })
    }

    /// PATCH: the document part (rename, externalId) and the membership part. Answers the team's
    /// new version.
    pub async fn patch_team(
        &self,
        caller: &Caller,
        id: &str,
        expected: &Expected,
        document_ops: &PatchRequest,
        change: MembershipChange,
    ) -> Result<u64, ProvisioningError> {
        let adds: Vec<&MemberRef> = change.adds.iter().chain(change.replace_all.iter().flatten()).collect();
        let prefetch = Prefetch::team(id).and_members(adds.iter().map(|r| r.value.as_str()));
        let (org, found) = self.authorize_with(caller, &prefetch).await?;
        let team = found.team().cloned().ok_or_else(|| not_found(id))?;
        if !expected.allows(team.version) {
            return Err(ProvisioningError::Precondition { kind: KIND, current: team.version });
        }
        let mut doc = GroupDocument::of_team(&team);
        let tolerances = doc.patch(&team.id, document_ops)?;
        tolerances.iter().for_each(|t| caller.log.add_tolerance(t));
        // Unknown members refuse the whole request before anything is written.
        let added: Vec<MemberRef> = adds.into_iter().cloned().collect();
        self.resolve_members(&org, &added, &found, id).await?;

        let now = self.clock.now();
        let mut current = team.clone();
        let mut pinned = expected.pinned().then_some(team.version);
        if doc.to_stored() != GroupDocument::of_team(&team).to_stored() {
            current = self.write_document(&org, team.clone(), document_ops, now, expected.pinned()).await?;
            pinned = None;
        }
        if !change.is_empty() {
            self.apply_members(&org, &current, change, &found, pinned).await?;
        }
        let team = self.store.team(&org, id).await?.ok_or_else(|| not_found(id))?;
        Ok(team.version)
    }

    /// Deletes the team (docs/ARCHITECTURE.md, "Deletes").
    pub async fn delete_team(&self, caller: &Caller, id: &str, expected: &Expected) -> Result<(), ProvisioningError> {
        let (org, mut found) = self.authorize_with(caller, &Prefetch::team(id)).await?;
        let first = found.take_team_state();
        deletes::delete_team(self.store, &org, id, first, expected, self.clock.now()).await
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
                let prefetch = Prefetch::default().with_lookup(TEAM_EXTERNAL_ID, value);
                let (org, found) = self.authorize_with(caller, &prefetch).await?;
                let teams = self.store.teams_by_ids(&org, &found.ids).await?;
                (org, teams)
            }
            Some((path, value)) if path.is(rules, "members", Some("value")) || path.is(rules, "members", None) => {
                let (org, found) = self.authorize_with(caller, &Prefetch::default().with_user_teams(value)).await?;
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
                    "{} member value(s) are not users of this organization: {}{}. Nothing was changed.",
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

    /// Applies a member-set change to a team: validates every added user first (so an unknown one
    /// changes nothing), then writes memberships in transactions that keep the counts exact.
    async fn apply_members(
        &self,
        org: &AuthorizedOrg,
        team: &TeamRecord,
        change: MembershipChange,
        found: &Prefetched,
        expected: Option<u64>,
    ) -> Result<(), ProvisioningError> {
        let now = self.clock.now();
        let err = |e| team_error(e, &team.id, &team.display_name);
        let (to_add, to_remove): (Vec<MemberRef>, Vec<String>) = if let Some(target) = &change.replace_all {
            let current = self.store.team_members(org, &team.id).await?;
            let mut target: BTreeSet<MemberRef> = target.clone();
            target.extend(change.adds.iter().cloned());
            target.retain(|m| !change.removes.contains(&m.value));
            let target_ids: BTreeSet<&String> = target.iter().map(|m| &m.value).collect();
            let current_ids: BTreeSet<&String> = current.iter().map(|m| &m.user_id).collect();
            (
                target.iter().filter(|m| !current_ids.contains(&m.value)).cloned().collect(),
                current.iter().filter(|m| !target_ids.contains(&m.user_id)).map(|m| m.user_id.clone()).collect(),
            )
        } else {
            let mut removes: Vec<String> = change.removes.iter().cloned().collect();
            if !change.filtered_removes.is_empty() {
                let current = self.store.team_members(org, &team.id).await?;
                let parent = crate::scim::filter::AttrPath::new("members", None);
                for membership in &current {
                    let element = serde_json::json!({ "value": membership.user_id, "display": membership.display, "type": "User" });
                    if change.filtered_removes.iter().any(|f| f.matches_element(&element, &parent, group::rules())) {
                        removes.push(membership.user_id.clone());
                    }
                }
            }
            (change.adds.iter().cloned().collect(), removes)
        };
        let memberships = self.resolve_members(org, &to_add, found, &team.id).await?;
        let mut expected = expected;
        if !memberships.is_empty() {
            self.store.add_team_members(org, &team.id, &memberships, expected, now).await.map_err(err)?;
            expected = None;
        }
        if !to_remove.is_empty() {
            self.store.remove_team_members(org, &team.id, &to_remove, expected, now).await.map_err(err)?;
        }
        Ok(())
    }

    /// Applies the document part of a PATCH and writes it conditionally on the version read; after
    /// a lost race (unless If-Match pinned the version) it re-reads the team and applies the
    /// operations again to what is now stored, so no concurrent change is lost.
    async fn write_document(
        &self,
        org: &AuthorizedOrg,
        mut team: TeamRecord,
        document_ops: &PatchRequest,
        now: DateTime<Utc>,
        pinned: bool,
    ) -> Result<TeamRecord, ProvisioningError> {
        for attempt in 0..WRITE_ATTEMPTS {
            let mut doc = GroupDocument::of_team(&team);
            doc.patch(&team.id, document_ops)?;
            let renamed = rewritten(&team, &doc, now);
            match self.store.update_team(org, &team, &renamed).await {
                Ok(()) => return Ok(renamed),
                Err(TeamWriteError::Changed) if !pinned => {
                    pause_after_conflict(attempt).await;
                    team = self.store.team(org, &team.id).await?.ok_or_else(|| not_found(&team.id))?;
                }
                Err(e) => return Err(team_error(e, &team.id, &renamed.display_name)),
            }
        }
        Err(ProvisioningError::Busy { kind: KIND })
    }
}
