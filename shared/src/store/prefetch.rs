//! What a SCIM request reads together with its token check: one BatchGetItem for the
//! organization's SCIM settings and the items the request needs first, so the check costs no
//! round trip of its own (docs/ARCHITECTURE.md, "The request path").
use super::dynamo::key_item;
use super::keys::access_token_sk as access_sk;
use super::keys::{
    account_pk, email_guard_sk, org_pk, team_name_guard_sk, team_sk, user_name_guard_sk, user_sk, ACCOUNT_SK, ORG_SK,
    SCIM_SK,
};
use super::members::{decode_account, decode_member_state, MemberState};
use super::oauth::decode_access_grant;
use super::organizations::{decode_organization, decode_scim_settings, LicenseCounts};
use super::rate::{decode_budget, fair_use_key, RateBudget, RateWindow, FAIR_USE_SK};
use super::teams::{decode_team_state, TeamState};
use super::walks::{WalkPage, WalkPosition, WalkScope};
use super::{Item, Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::{
    AccessGrant, Account, EmailAddress, LookupAttr, MemberRecord, OrgId, Organization, ScimSettings, TeamRecord,
};

/// Members whose items are read with the token check at most (a BatchGetItem takes 100 keys).
const MAX_PREFETCHED_MEMBERS: usize = 90;

/// The items to read with the token check.
#[derive(Debug, Clone, Default)]
pub struct Prefetch {
    members: Vec<String>,
    team: Option<String>,
    user_name: Option<String>,
    team_name: Option<String>,
    organization: bool,
    /// The account of this email and the organization's email guard.
    account: Option<EmailAddress>,
    /// A query run at the same time as the BatchGetItem.
    alongside: Option<Alongside>,
    /// The keyed hash of a presented OAuth access token: its grant is read in the same
    /// BatchGetItem (docs/ARCHITECTURE.md, "Tokens: rotation, revoke, OAuth").
    access_token: Option<String>,
}

/// A query that runs alongside the token check's read.
#[derive(Debug, Clone)]
enum Alongside {
    /// The teams of this user (GSI1).
    UserTeams(String),
    /// Ids whose lookup value `(attribute, normalized value)` matches.
    Lookup { attribute: LookupAttr, value: String },
    /// Up to `take` members after the member `after` (from the first without).
    MembersAfter { after: Option<String>, take: usize },
    /// Up to `take` member ids of this team after the user `after` (from the first without).
    TeamMemberIdsAfter { team: String, after: Option<String>, take: usize },
    /// The remembered positions of page `start_index` of a walk.
    Walk { scope: WalkScope, start_index: usize },
}

/// What a use case reads with its token check, named in domain terms: the store decides which items
/// the BatchGetItem names and which query runs beside it (one at most), so a use case never
/// assembles a read.
impl Prefetch {
    /// A user.
    pub fn member(id: &str) -> Self {
        Self { members: vec![id.to_owned()], ..Self::default() }
    }

    /// A user and the teams it belongs to.
    pub fn member_with_teams(id: &str) -> Self {
        Self::member(id).with(Alongside::UserTeams(id.to_owned()))
    }

    /// The teams a user belongs to (its ids in `ids`).
    pub fn teams_of_member(id: &str) -> Self {
        Self::default().with(Alongside::UserTeams(id.to_owned()))
    }

    /// A team (its member counter included).
    pub fn team(id: &str) -> Self {
        Self { team: Some(id.to_owned()), ..Self::default() }
    }

    /// A team and the members a change of it names, when there are few enough to ride along (the
    /// rest are read later).
    pub fn team_and_members<'a>(id: &str, members: impl IntoIterator<Item = &'a str>) -> Self {
        Self::team(id).and_members(members)
    }

    /// What creating a team needs: who holds its name, and the members it names (as above).
    pub fn new_team<'a>(display_name: &str, members: impl IntoIterator<Item = &'a str>) -> Self {
        Self::team_name(display_name).and_members(members)
    }

    /// Who holds this userName (case-insensitive).
    pub fn user_name(user_name: &str) -> Self {
        Self { user_name: Some(user_name.to_owned()), ..Self::default() }
    }

    /// Who holds this team name (case-insensitive).
    pub fn team_name(display_name: &str) -> Self {
        Self { team_name: Some(display_name.to_owned()), ..Self::default() }
    }

    /// The organization (its license and member counters included).
    pub fn organization() -> Self {
        Self { organization: true, ..Self::default() }
    }

    /// What creating a member needs: the organization, who holds the userName and the email here,
    /// and the account of the email.
    pub fn new_member(user_name: &str, email: &EmailAddress) -> Self {
        Self {
            user_name: Some(user_name.to_owned()),
            organization: true,
            account: Some(email.clone()),
            ..Self::default()
        }
    }

    /// The ids a lookup value names (`externalId`, an email, a team's externalId), as the value is
    /// indexed (emails without case).
    pub fn lookup(attribute: LookupAttr, value: &str) -> Self {
        Self::default().with(Alongside::Lookup { attribute, value: attribute.normalize(value) })
    }

    /// The walk's counter (the organization's members or the team's) and up to `take` of its
    /// members after `after` (from the first without): members in `page`, or for a team member
    /// ids in `ids` and where its next page continues in `page.next_after`.
    pub fn walk_page(scope: &WalkScope, after: Option<&str>, take: usize) -> Self {
        let after = after.map(str::to_owned);
        match scope {
            WalkScope::Members => Self::organization().with(Alongside::MembersAfter { after, take }),
            WalkScope::Team(team) => {
                Self::team(team).with(Alongside::TeamMemberIdsAfter { team: team.clone(), after, take })
            }
        }
    }

    /// The walk's counter and the remembered positions of its page `start_index` (in `walks`).
    pub fn walk_positions(scope: &WalkScope, start_index: usize) -> Self {
        let counter = match scope {
            WalkScope::Members => Self::organization(),
            WalkScope::Team(team) => Self::team(team),
        };
        counter.with(Alongside::Walk { scope: scope.clone(), start_index })
    }

    fn and_members<'a>(mut self, ids: impl IntoIterator<Item = &'a str>) -> Self {
        let ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
        if ids.len() <= MAX_PREFETCHED_MEMBERS {
            self.members.extend(ids);
        }
        self
    }

    fn with(mut self, alongside: Alongside) -> Self {
        self.alongside = Some(alongside);
        self
    }

    /// Also the grant of the access token with this keyed hash (added by the token check only).
    pub(crate) fn with_access_token(mut self, hash: String) -> Self {
        self.access_token = Some(hash);
        self
    }

    fn is_empty(&self) -> bool {
        self.access_token.is_none()
            && self.members.is_empty()
            && self.team.is_none()
            && self.user_name.is_none()
            && self.team_name.is_none()
            && !self.organization
            && self.account.is_none()
    }

    fn keys(&self, org: &OrgId) -> Vec<Item> {
        let mut keys = Vec::new();
        let in_org = |sk: String| key_item(org_pk(org), sk);
        keys.extend(self.members.iter().map(|id| in_org(user_sk(id))));
        keys.extend(self.team.iter().map(|id| in_org(team_sk(id))));
        keys.extend(self.user_name.iter().map(|name| in_org(user_name_guard_sk(name))));
        keys.extend(self.team_name.iter().map(|name| in_org(team_name_guard_sk(name))));
        if self.organization {
            keys.push(in_org(ORG_SK.into()));
        }
        if let Some(email) = &self.account {
            keys.push(in_org(email_guard_sk(&email.normalized())));
            keys.push(key_item(account_pk(&email.normalized()), ACCOUNT_SK.into()));
        }
        keys.extend(self.access_token.iter().map(|hash| in_org(access_sk(hash))));
        keys
    }
}

/// What the prefetch found.
#[derive(Debug, Default)]
pub struct Prefetched {
    members: Vec<MemberState>,
    team: Option<TeamState>,
    /// The member holding the userName asked for.
    pub user_name_owner: Option<String>,
    /// The member of this organization holding the email asked for.
    pub email_owner: Option<String>,
    /// The team holding the name asked for.
    pub team_name_owner: Option<String>,
    pub organization: Option<(Organization, LicenseCounts)>,
    pub account: Option<Account>,
    /// What the query alongside found: team ids, member ids or lookup ids.
    pub ids: Vec<String>,
    /// The members `walk_page` of the organization asked for, and for a team's (whose ids are in
    /// `ids`) where its next page continues.
    pub page: WalkPage<MemberRecord>,
    /// The positions `walk_positions` asked for, smallest id first (expired ones too: the caller
    /// knows the time).
    pub walks: Vec<WalkPosition>,
    /// The organization's fair-use budget, when one is set (read only by a counted check).
    pub rate_budget: Option<RateBudget>,
    /// The count of the request's fair-use window, this request included (none: not counted).
    pub rate_count: Option<Result<u64, StoreError>>,
    /// The grant of the presented OAuth access token, when it exists.
    pub access_grant: Option<AccessGrant>,
}

impl Prefetched {
    /// A member as every reader sees it (none while it is being deleted).
    pub fn member(&self, id: &str) -> Option<&MemberRecord> {
        self.members.iter().find(|m| m.member.id == id && !m.deleting).map(|m| &m.member)
    }

    /// Every member found, as every reader sees them.
    pub fn members(&self) -> impl Iterator<Item = &MemberRecord> {
        self.members.iter().filter(|m| !m.deleting).map(|m| &m.member)
    }

    /// A member as the delete path sees it (also while being deleted).
    pub fn take_member_state(&mut self, id: &str) -> Option<MemberState> {
        let index = self.members.iter().position(|m| m.member.id == id)?;
        Some(self.members.swap_remove(index))
    }

    /// The team as every reader sees it (none while it is being deleted).
    pub fn team(&self) -> Option<&TeamRecord> {
        self.team.as_ref().filter(|t| !t.deleting && !t.being_created()).map(|t| &t.team)
    }

    /// The team, when a member change of it is under way (not its create, not its delete).
    pub fn team_with_pending_change(&self) -> Option<&TeamState> {
        self.team.as_ref().filter(|t| t.pending.is_some() && !t.deleting && !t.being_created())
    }

    /// The team as the delete path sees it.
    pub fn take_team_state(&mut self) -> Option<TeamState> {
        self.team.take()
    }
}

impl Store {
    /// The organization's SCIM settings and `prefetch`, in one read.
    pub async fn scim_settings_with(
        &self,
        org: &OrgId,
        prefetch: &Prefetch,
    ) -> Result<(Option<ScimSettings>, Prefetched), StoreError> {
        let (read, alongside) = tokio::join!(self.prefetch_read(org, prefetch, false), self.alongside(org, prefetch));
        let (settings, mut found) = read?;
        Self::merge_alongside(alongside?, &mut found);
        Ok((settings, found))
    }

    /// `scim_settings_with`, also reading the organization's fair-use budget in the same
    /// BatchGetItem and counting the request in `window` (if any) at the same time
    /// (docs/ARCHITECTURE.md, "Fair use"): no round trip of its own. A failed count is handed back,
    /// not raised, so the caller can let the request through.
    pub async fn scim_settings_counted(
        &self,
        org: &OrgId,
        prefetch: &Prefetch,
        window: Option<&RateWindow>,
    ) -> Result<(Option<ScimSettings>, Prefetched), StoreError> {
        let count = async {
            match window {
                Some(window) => Some(self.count_request(org, window).await),
                None => None,
            }
        };
        let (read, alongside, count) =
            tokio::join!(self.prefetch_read(org, prefetch, true), self.alongside(org, prefetch), count);
        let (settings, mut found) = read?;
        Self::merge_alongside(alongside?, &mut found);
        found.rate_count = count;
        Ok((settings, found))
    }

    fn merge_alongside(alongside: AlongsideResult, found: &mut Prefetched) {
        match alongside {
            AlongsideResult::Ids(ids) => found.ids = ids,
            AlongsideResult::Members(page) => found.page = page,
            AlongsideResult::Walks(positions) => found.walks = positions,
            AlongsideResult::IdsPage(page) => {
                found.ids = page.items;
                found.page.next_after = page.next_after;
            }
        }
    }

    async fn alongside(&self, org: &OrgId, prefetch: &Prefetch) -> Result<AlongsideResult, StoreError> {
        // Read before the token check, at the same time as its read; the use case sees the result
        // only together with the check's (docs/ARCHITECTURE.md, "Tenant scope").
        let org = &AuthorizedOrg::checked(org.clone());
        Ok(match &prefetch.alongside {
            None => AlongsideResult::Ids(Vec::new()),
            Some(Alongside::UserTeams(user)) => AlongsideResult::Ids(self.user_team_ids(org, user).await?),
            Some(Alongside::Lookup { attribute, value }) => {
                AlongsideResult::Ids(self.member_ids_by_lookup(org, attribute.as_str(), value).await?)
            }
            Some(Alongside::MembersAfter { after, take }) => {
                AlongsideResult::Members(self.members_after(org, after.as_deref(), *take).await?)
            }
            Some(Alongside::TeamMemberIdsAfter { team, after, take }) => {
                AlongsideResult::IdsPage(self.team_member_ids_after(org, team, after.as_deref(), *take).await?)
            }
            Some(Alongside::Walk { scope, start_index }) => {
                AlongsideResult::Walks(self.walk_positions(org, scope, *start_index).await?)
            }
        })
    }

    async fn prefetch_read(
        &self,
        org: &OrgId,
        prefetch: &Prefetch,
        with_budget: bool,
    ) -> Result<(Option<ScimSettings>, Prefetched), StoreError> {
        if prefetch.is_empty() && !with_budget {
            return Ok((self.scim_settings(org).await?, Prefetched::default()));
        }
        let mut keys = vec![key_item(org_pk(org), SCIM_SK.into())];
        if with_budget {
            keys.push(fair_use_key(org));
        }
        keys.extend(prefetch.keys(org));
        let mut settings = None;
        let mut found = Prefetched::default();
        for item in self.batch_get(keys).await? {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let (pk, sk) = (text("PK"), text("SK"));
            let owner = || item.get("member_id").and_then(|v| v.as_s().ok()).cloned();
            if sk == SCIM_SK && pk == org_pk(org) {
                settings = Some(decode_scim_settings(item)?);
            } else if sk.starts_with("OAUTH#AT#") {
                found.access_grant = Some(decode_access_grant(item)?);
            } else if sk == FAIR_USE_SK {
                found.rate_budget = decode_budget(&item);
            } else if sk == ORG_SK {
                found.organization = Some(decode_organization(item)?);
            } else if sk == ACCOUNT_SK {
                found.account = Some(decode_account(item)?);
            } else if sk.starts_with(super::keys::USER_SK_PREFIX) {
                found.members.push(decode_member_state(item)?);
            } else if sk.starts_with(super::keys::TEAM_SK_PREFIX) {
                found.team = Some(decode_team_state(item)?);
            } else if sk.starts_with("USERNAME#") {
                found.user_name_owner = owner();
            } else if sk.starts_with("EMAIL#") {
                found.email_owner = owner();
            } else if sk.starts_with("TEAMNAME#") {
                found.team_name_owner = owner();
            }
        }
        Ok((settings, found))
    }
}

enum AlongsideResult {
    Ids(Vec<String>),
    Members(WalkPage<MemberRecord>),
    IdsPage(WalkPage<String>),
    Walks(Vec<WalkPosition>),
}
