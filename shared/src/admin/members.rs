//! The organization's members as admins see them (who manages each one, role, teams), the
//! Enterprise license counts, and the reconciliation after the first sync.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::authz::OrgCaller;
use super::cursor::Cursor;
use super::{AdminError, Console};
use crate::domain::{IdentityProvider, ManagedBy, MemberRecord, MemberTally, Reconciliation, ReconciliationBuilder};
use crate::lifetimes;
use crate::store::LicenseCounts;

pub const DEFAULT_MEMBERS_PAGE: i32 = 100;
pub const MAX_MEMBERS_PAGE: i32 = 200;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TeamRef {
    pub id: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub id: String,
    pub email: String,
    pub user_name: String,
    /// `scim` (provisioned by the IdP) or `manual` (added in Insomnia).
    pub managed_by: ManagedBy,
    pub active: bool,
    /// `owner`, `co-owner` or `member`.
    pub role: &'static str,
    pub external_id: Option<String>,
    pub teams: Vec<TeamRef>,
    pub created_at: DateTime<Utc>,
    /// Active members consume an Enterprise license.
    pub consumes_license: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenseView {
    pub scim_provisioned: u64,
    pub manual: u64,
    pub total_consuming: u64,
    /// None: no limit is enforced.
    pub seat_limit: Option<u32>,
    pub available: Option<u64>,
    /// Every member, active or not.
    pub members: u64,
}

impl LicenseView {
    pub fn new(counts: LicenseCounts, seat_limit: Option<u32>) -> Self {
        let total = counts.scim + counts.manual;
        Self {
            scim_provisioned: counts.scim,
            manual: counts.manual,
            total_consuming: total,
            seat_limit,
            available: seat_limit.map(|limit| u64::from(limit).saturating_sub(total)),
            members: counts.members,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MembersPage {
    pub org_id: String,
    pub licenses: LicenseView,
    pub members: Vec<MemberView>,
    pub next_cursor: Option<String>,
}

fn view(member: MemberRecord, teams: Vec<TeamRef>) -> MemberView {
    MemberView {
        consumes_license: member.consumes_license(),
        id: member.id,
        email: member.email.to_string(),
        user_name: member.user_name,
        managed_by: member.managed_by,
        active: member.active,
        role: member.role.as_str(),
        external_id: member.external_id,
        teams,
        created_at: member.created_at,
    }
}

impl Console {
    /// One page of members (in id order) with their teams, and the license counts.
    pub async fn members(
        &self,
        caller: &OrgCaller,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<MembersPage, AdminError> {
        caller.require_admin()?;
        let after = cursor.map(Cursor::decode).transpose()?;
        let (found, page) =
            tokio::try_join!(async { self.store.organization(&caller.org).await.map_err(AdminError::from) }, async {
                self.store.members_page(&caller.org, after.as_deref(), Some(limit)).await.map_err(AdminError::from)
            },)?;
        let (org, counts) = found.ok_or_else(|| AdminError::OrganizationGone(caller.org.to_string()))?;
        let (members, next) = page;

        // Each member's teams through GSI1, concurrently: one round trip of latency per page.
        let mut lookups = tokio::task::JoinSet::new();
        for (index, member) in members.iter().enumerate() {
            let (store, org, id) = (self.store.clone(), caller.org.clone(), member.id.clone());
            lookups.spawn(async move { store.user_team_ids(&org, &id).await.map(|teams| (index, teams)) });
        }
        let mut team_ids: Vec<Vec<String>> = vec![Vec::new(); members.len()];
        while let Some(joined) = lookups.join_next().await {
            let (index, ids) = joined.map_err(AdminError::internal)??;
            if let Some(slot) = team_ids.get_mut(index) {
                *slot = ids;
            }
        }
        let all_ids: Vec<String> = team_ids.iter().flatten().cloned().collect();
        let names: HashMap<String, String> = self
            .store
            .teams_by_ids(&caller.org, &all_ids)
            .await?
            .into_iter()
            .map(|team| (team.id, team.display_name))
            .collect();

        let views = members
            .into_iter()
            .zip(team_ids)
            .map(|(member, ids)| {
                let teams = ids
                    .into_iter()
                    .filter_map(|id| names.get(&id).map(|name| TeamRef { display_name: name.clone(), id }))
                    .collect();
                view(member, teams)
            })
            .collect();
        let next_cursor = next.as_deref().map(Cursor::encode);
        Ok(MembersPage {
            org_id: caller.org.to_string(),
            licenses: LicenseView::new(counts, org.seat_limit),
            members: views,
            next_cursor,
        })
    }
}

/// The organization's last reconciliation (docs/ARCHITECTURE.md, "Reconciliation").
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconciliationView {
    pub org_id: String,
    /// The IdP as people write it ("Okta", "Microsoft Entra ID"); None when none was chosen yet.
    pub idp: Option<&'static str>,
    /// None until a reconciliation was computed.
    pub summary: Option<Reconciliation>,
    /// A new computation is refused before this time (the last one is answered instead).
    pub next_check_after: Option<DateTime<Utc>>,
    /// The member counters moved since the summary's check: it may miss the changes.
    pub changed_since: bool,
}

fn tally(counts: LicenseCounts) -> MemberTally {
    MemberTally { licenses_scim: counts.scim, licenses_manual: counts.manual, members: counts.members }
}

/// The IdP's name as its admins write it.
fn idp_name(idp: IdentityProvider) -> &'static str {
    match idp {
        IdentityProvider::Okta => "Okta",
        IdentityProvider::Azure => "Microsoft Entra ID",
    }
}

impl Console {
    /// The last reconciliation, as stored: one read, whatever the organization's size.
    pub async fn reconciliation(&self, caller: &OrgCaller) -> Result<ReconciliationView, AdminError> {
        caller.require_admin()?;
        let (summary, (idp, now)) = tokio::try_join!(
            async { self.store.reconciliation(&caller.org).await.map_err(AdminError::from) },
            self.idp_and_tally(caller),
        )?;
        Ok(self.reconciliation_view(caller, idp, now, summary))
    }

    /// Reconciles now: reads every member once (page by page, O(members) time, memory for the
    /// manual members and the keys of the IdP's), stores the summary and answers it. At most once
    /// per `RECONCILIATION_INTERVAL` per organization: sooner, the stored one is answered.
    pub async fn reconcile(&self, caller: &OrgCaller) -> Result<ReconciliationView, AdminError> {
        caller.require_admin()?;
        // The counters are read before the members: a write during the pass shows as a change.
        let (last, (idp, before)) = tokio::try_join!(
            async { self.store.reconciliation(&caller.org).await.map_err(AdminError::from) },
            self.idp_and_tally(caller),
        )?;
        if let Some(last) = last.filter(|l| self.now < l.computed_at + lifetimes::RECONCILIATION_INTERVAL) {
            return Ok(self.reconciliation_view(caller, idp, before, Some(last)));
        }
        let started = std::time::Instant::now();
        let mut builder = ReconciliationBuilder::default();
        self.store
            .each_member_page(&caller.org, |page| {
                page.iter().for_each(|member| builder.add(member));
                Ok(true)
            })
            .await?;
        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let summary = builder.finish(self.now, elapsed, before);
        self.store.put_reconciliation(&caller.org, &summary).await?;
        Ok(self.reconciliation_view(caller, idp, before, Some(summary)))
    }

    /// The IdP's name (from the SCIM settings, else SSO) and the member counters now.
    async fn idp_and_tally(&self, caller: &OrgCaller) -> Result<(Option<&'static str>, MemberTally), AdminError> {
        let (settings, found) =
            tokio::try_join!(self.store.scim_settings(&caller.org), self.store.organization(&caller.org))?;
        let (org, counts) = found.ok_or_else(|| AdminError::OrganizationGone(caller.org.to_string()))?;
        let idp = settings.map(|s| s.idp).or_else(|| org.sso.map(|sso| sso.idp));
        Ok((idp.map(idp_name), tally(counts)))
    }

    fn reconciliation_view(
        &self,
        caller: &OrgCaller,
        idp: Option<&'static str>,
        now: MemberTally,
        summary: Option<Reconciliation>,
    ) -> ReconciliationView {
        let next_check_after = summary.as_ref().map(|s| s.computed_at + lifetimes::RECONCILIATION_INTERVAL);
        let changed_since = summary.as_ref().is_some_and(|s| s.tally != now);
        ReconciliationView { org_id: caller.org.to_string(), idp, summary, next_check_after, changed_since }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licenses_add_up_against_the_seat_limit() {
        let counts = LicenseCounts { scim: 3, manual: 2, members: 7 };
        let view = LicenseView::new(counts, Some(10));
        assert_eq!(view.total_consuming, 5);
        assert_eq!(view.available, Some(5));
        assert_eq!(LicenseView::new(counts, None).available, None);
        assert_eq!(LicenseView::new(counts, Some(4)).available, Some(0));
    }
}

/// Most events of a member's timeline shown at once.
pub const TIMELINE_LIMIT: i32 = 100;

/// One event of a member's provisioning timeline, as shown to admins.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineView {
    pub at: DateTime<Utc>,
    pub summary: String,
    pub user_name: String,
    pub idp: String,
    pub request_id: String,
    pub team: Option<String>,
    pub team_id: Option<String>,
    pub changes: Vec<ChangeView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeView {
    pub attribute: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelinePage {
    pub member_id: String,
    pub events: Vec<TimelineView>,
}

impl From<crate::store::TimelineEntry> for TimelineView {
    fn from(entry: crate::store::TimelineEntry) -> Self {
        Self {
            at: entry.at,
            summary: entry.summary.into_string(),
            user_name: entry.user_name.into_string(),
            idp: entry.idp,
            request_id: entry.request_id,
            team: entry.team.map(crate::log::Redacted::into_string),
            team_id: entry.team_id,
            changes: entry
                .changes
                .into_iter()
                .map(|c| ChangeView {
                    attribute: c.attribute,
                    old: c.old.map(crate::log::Redacted::into_string),
                    new: c.new.map(crate::log::Redacted::into_string),
                })
                .collect(),
        }
    }
}

impl Console {
    /// One member's SCIM history, newest first, from its timeline partition: one Query
    /// (docs/ARCHITECTURE.md, "Member timeline").
    pub async fn member_timeline(&self, caller: &OrgCaller, member_id: &str) -> Result<TimelinePage, AdminError> {
        caller.require_admin()?;
        if member_id.is_empty() || member_id.len() > 128 || member_id.contains('#') {
            return Err(AdminError::InvalidRequest(format!("'{member_id}' is not a member id.")));
        }
        let entries = self.store.member_timeline(&caller.org, member_id, TIMELINE_LIMIT).await?;
        Ok(TimelinePage {
            member_id: member_id.to_owned(),
            events: entries.into_iter().map(TimelineView::from).collect(),
        })
    }
}
