//! `GET /Users` and `POST /Users/.search`: pages that cost about one page of reads, and filters
//! and sorts in bounded memory (docs/ARCHITECTURE.md, "Paging").
//!
//! - Key lookups (`id`, `userName`, `externalId`, `emails` eq) read only what the key names.
//! - No filter and no `sortBy`, or exactly `groups.value eq "<team>"`: an in-order walk of the
//!   organization's members (or the team's membership items). Page 1 and every cursor page start
//!   from a known position; page `startIndex` of an index walk starts where the previous page of
//!   the walk ended, remembered in a `WALK` position item (`store::WalkScope`), else it is read
//!   from the start. `totalResults` is the organization's (the team's) member counter.
//! - Any other filter, or a `sortBy`: the members are streamed page by page and only what the page
//!   needs is kept (the matches up to its end, or the top `startIndex - 1 + count` sort keys); an
//!   organization over [`LIST_ITEM_BUDGET`] items is `400 tooMany`, never a timeout.
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::cursor::{self, CursorPosition};
use super::{Caller, Provisioning, ProvisioningError, UserView};
use crate::auth::{AuthorizedOrg, TokenKey};
use crate::domain::{LookupAttr, MemberRecord, OrgId, TeamRecord};
use crate::scim::filter::Filter;
use crate::scim::list::{compare_sort_keys, sort_key, ListQuery};
use crate::scim::user;
use crate::scim::{ScimError, ScimType};
use crate::store::{Prefetch, Prefetched, StoreError, WalkPage, WalkScope};

/// Items one list request may read at most (about 50 MB of member items: well inside the
/// function's timeout and memory). A list that would read more is `400 tooMany`.
pub const LIST_ITEM_BUDGET: u64 = 50_000;
/// How long a remembered walk position is used (seconds): an IdP asks for the next page soon.
const WALK_TTL_SECS: i64 = crate::lifetimes::WALK_POSITION.num_seconds();
/// Member ids read per step when a team is streamed for a sort.
const TEAM_STREAM_STEP: usize = 500;

/// One page of a user list: the users (with their teams when `groups` was asked for), to be
/// rendered and projected by the caller.
pub struct UserPage {
    pub users: Vec<UserView>,
    pub total: usize,
    /// Under cursor paging, the cursor of the next page while more follow.
    pub next_cursor: Option<String>,
}

/// How a user list is answered; decided from the query alone ([`ListPlan::of`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListPlan {
    /// A filter that requires an equality answered by a key: a handful of candidates, re-checked
    /// against the whole filter (any `sortBy` applies to them).
    KeyLookup(KeyLookup),
    /// No filter and no `sortBy` (the organization's members), or exactly
    /// `groups.value eq "<team>"` without `sortBy` (the team's): an in-order walk.
    Walk(WalkScope),
    /// Exactly `groups.value eq "<team>"` with a `sortBy`: the team's members streamed in steps.
    SortedTeam(String),
    /// Any other filter, or a `sortBy` alone: the organization's members streamed.
    Streamed,
}

/// A key that answers a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLookup {
    Id(String),
    UserName(String),
    /// A value of an indexed attribute (as the filter spells it: the index normalizes).
    Indexed(LookupAttr, String),
}

impl ListPlan {
    pub fn of(query: &ListQuery) -> Self {
        let Some(filter) = &query.filter else {
            return if query.sort_by.is_some() { Self::Streamed } else { Self::Walk(WalkScope::Members) };
        };
        // A team's members are paged by key without re-checking the filter: only for exactly `groups.value eq`.
        if let Some(team) = team_equality(filter) {
            return if query.sort_by.is_some() { Self::SortedTeam(team) } else { Self::Walk(WalkScope::Team(team)) };
        }
        key_lookup(filter).map_or(Self::Streamed, Self::KeyLookup)
    }

    /// The fingerprint a cursor is bound to: the sequence it walks and the filter it applies.
    fn fingerprint(&self, query: &ListQuery) -> String {
        match (self, &query.filter) {
            (Self::Walk(scope), _) => scope.segment(),
            (_, None) => WalkScope::Members.segment(),
            (_, Some(filter)) => {
                let digest = Sha256::digest(format!("{filter:?}").as_bytes());
                let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
                format!("FILTER#{hex}")
            }
        }
    }
}

fn team_equality(filter: &Filter) -> Option<String> {
    let rules = user::rules();
    let (path, value) = filter.as_string_equality()?;
    (path.is(rules, "groups", Some("value")) || path.is(rules, "groups", None)).then(|| value.to_owned())
}

/// The candidates a lookup gives are re-checked against the whole filter, so any equality the
/// filter requires will do (`emails[type eq "work"].value eq "x"` requires `emails.value eq "x"`).
fn key_lookup(filter: &Filter) -> Option<KeyLookup> {
    let rules = user::rules();
    filter.required_string_equalities().into_iter().find_map(|(path, value)| {
        if path.is(rules, "id", None) {
            Some(KeyLookup::Id(value.to_owned()))
        } else if path.is(rules, "userName", None) {
            Some(KeyLookup::UserName(value.to_owned()))
        } else if path.is(rules, "externalId", None) {
            Some(KeyLookup::Indexed(LookupAttr::ExternalId, value.to_owned()))
        } else if path.is(rules, "emails", None) || path.is(rules, "emails", Some("value")) {
            Some(KeyLookup::Indexed(LookupAttr::Email, value.to_owned()))
        } else {
            None
        }
    })
}

/// Where the page starts: an index, or a cursor's position (none: the first cursor page).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Paging {
    Index(usize),
    Cursor(Option<CursorPosition>),
}

impl Paging {
    /// The paging `query` asks for; a cursor is checked against `fingerprint` (the plan's).
    fn of(
        key: &TokenKey,
        org: &OrgId,
        query: &ListQuery,
        fingerprint: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self, ScimError> {
        match query.cursor.as_deref() {
            None => Ok(Self::Index(query.start_index)),
            Some(_) if query.sort_by.is_some() => Err(ScimError::bad_request(
                ScimType::InvalidValue,
                "Cursor paging goes in id order: 'sortBy' pages by 'startIndex' only.",
            )),
            Some("") => Ok(Self::Cursor(None)),
            Some(text) => cursor::decode(key, org, fingerprint, text, now).map(|p| Self::Cursor(Some(p))),
        }
    }

    /// The id the page continues after, when it is known without a read.
    fn known_after(&self) -> Option<Option<&str>> {
        match self {
            Self::Index(1) | Self::Cursor(None) => Some(None),
            Self::Cursor(Some(position)) => Some(Some(position.after.as_str())),
            Self::Index(_) => None,
        }
    }

    /// The 1-based index of the page's first resource.
    fn index(&self) -> usize {
        match self {
            Self::Index(start) => *start,
            Self::Cursor(None) => 1,
            Self::Cursor(Some(position)) => position.index,
        }
    }
}

/// A user list or search, planned, with its paging read (a cursor checked): what `list_users` runs.
pub struct UserListRequest {
    query: ListQuery,
    plan: ListPlan,
    paging: Paging,
    fingerprint: String,
}

impl UserListRequest {
    pub fn query(&self) -> &ListQuery {
        &self.query
    }
}

fn too_many(what: &str, items: u64) -> ProvisioningError {
    ProvisioningError::Invalid(ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "Answering this would read {items} items of {what}, more than one request may read ({LIST_ITEM_BUDGET}). \
             Filter by userName, externalId or emails (eq, answered by key), or page without filter and sortBy \
             (startIndex in order, or cursor)."
        ),
    ))
}

fn counter(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

impl Provisioning<'_> {
    /// Plans a user list or search of `org` and reads its paging: a bad cursor is the caller's
    /// input error (answered after the token check, as every other).
    pub fn plan_user_list(&self, org: &OrgId, query: ListQuery) -> Result<UserListRequest, ScimError> {
        let plan = ListPlan::of(&query);
        let fingerprint = plan.fingerprint(&query);
        let paging = Paging::of(self.token_key, org, &query, &fingerprint, self.clock.now())?;
        Ok(UserListRequest { query, plan, paging, fingerprint })
    }

    /// One page of a user list or search. Filters are evaluated on resources as they are answered
    /// under `resources_at` (the connector's base URL: `meta.location` can be filtered on).
    pub async fn list_users(
        &self,
        caller: &Caller,
        request: &UserListRequest,
        resources_at: &str,
    ) -> Result<UserPage, ProvisioningError> {
        let UserListRequest { query, plan, paging, fingerprint } = request;
        let (org, page) = match plan {
            ListPlan::Walk(scope) => self.walk(caller, query, scope.clone(), paging, true).await?,
            ListPlan::SortedTeam(team) => self.sorted_team(caller, query, team, resources_at).await?,
            ListPlan::KeyLookup(lookup) => self.looked_up(caller, query, lookup, paging, resources_at).await?,
            ListPlan::Streamed => self.streamed(caller, query, paging, resources_at).await?,
        };
        let Listed { items, total, next_after } = page;
        let next_cursor = match (paging, next_after) {
            (Paging::Cursor(_), Some(after)) => {
                let position = CursorPosition { after, index: paging.index() + items.len() };
                Some(cursor::encode(self.token_key, &org, fingerprint, &position, self.clock.now()))
            }
            _ => None,
        };
        let teams = if query.projection.attributes.iter().any(|p| p.name.eq_ignore_ascii_case("groups")) {
            self.teams_of(&org, &items).await?
        } else {
            vec![Vec::new(); items.len()]
        };
        let users = items.into_iter().zip(teams).map(|(member, teams)| UserView { member, teams }).collect();
        Ok(UserPage { users, total, next_cursor })
    }

    /// Each member's teams (lists read them only on request): each member's team ids are queried
    /// at the same time, then every team named in one BatchGetItem, so the page costs two round
    /// trips whatever its size.
    async fn teams_of(
        &self,
        org: &AuthorizedOrg,
        members: &[MemberRecord],
    ) -> Result<Vec<Vec<TeamRecord>>, ProvisioningError> {
        let mut lookups = tokio::task::JoinSet::new();
        for (index, member) in members.iter().enumerate() {
            let (store, org, id) = (self.store.clone(), org.clone(), member.id.clone());
            lookups.spawn(async move { store.user_team_ids(&org, &id).await.map(|teams| (index, teams)) });
        }
        let mut team_ids: Vec<Vec<String>> = vec![Vec::new(); members.len()];
        while let Some(joined) = lookups.join_next().await {
            let (index, ids) = joined.map_err(StoreError::backend)??;
            if let Some(slot) = team_ids.get_mut(index) {
                *slot = ids;
            }
        }
        let every_team: Vec<String> = team_ids.iter().flatten().cloned().collect();
        if every_team.is_empty() {
            return Ok(vec![Vec::new(); members.len()]);
        }
        let teams = self.store.teams_by_ids(org, &every_team).await?;
        Ok(team_ids.iter().map(|ids| teams.iter().filter(|t| ids.contains(&t.id)).cloned().collect()).collect())
    }

    /// An in-order walk of the organization's members or of a team's: about one page of reads.
    async fn walk(
        &self,
        caller: &Caller,
        query: &ListQuery,
        scope: WalkScope,
        paging: &Paging,
        // Whether a member change under way on the team is completed first (once: a walk does not
        // chase a stream of changes).
        settle: bool,
    ) -> Result<(AuthorizedOrg, Listed), ProvisioningError> {
        let count = query.count;
        let total = |found: &Prefetched| match &scope {
            WalkScope::Members => found.organization.as_ref().map_or(0, |(_, counts)| counter(counts.members)),
            WalkScope::Team(_) => found.team().map_or(0, |team| counter(team.member_count)),
        };
        let mut behind_another_walk = false;
        let (org, total, mut page) = match (paging.known_after(), &scope) {
            // The position is known: the page is read beside the token check.
            (Some(after), WalkScope::Members) => {
                let (org, mut found) = self.authorize_with(caller, &Prefetch::walk_page(&scope, after, count)).await?;
                (org, total(&found), std::mem::take(&mut found.page))
            }
            (Some(after), WalkScope::Team(_)) => {
                let (org, mut found) = self.authorize_with(caller, &Prefetch::walk_page(&scope, after, count)).await?;
                if let Some(state) = found.team_with_pending_change().filter(|_| settle) {
                    // Its members are changing: complete that first, then read the page again.
                    super::teams::complete_pending_change(self.store, &org, state.clone(), self.clock.now()).await?;
                    return Box::pin(self.walk(caller, query, scope, paging, false)).await;
                }
                let ids = std::mem::take(&mut found.ids);
                let next_after = found.page.next_after.take();
                let items = self.members_in_order(&org, &ids).await?;
                (org, total(&found), WalkPage { items, next_after })
            }
            // Page `startIndex` of an index walk: where the walk's previous page ended, if remembered.
            (None, _) => {
                let start = paging.index();
                let (org, found) = self.authorize_with(caller, &Prefetch::walk_positions(&scope, start)).await?;
                if let Some(state) = found.team_with_pending_change().filter(|_| settle) {
                    super::teams::complete_pending_change(self.store, &org, state.clone(), self.clock.now()).await?;
                    return Box::pin(self.walk(caller, query, scope, paging, false)).await;
                }
                let total = total(&found);
                let now = self.clock.now().timestamp();
                // Walks that saw different members before this page remember different positions:
                // the smallest skips nobody (it may repeat what another walk already had).
                let live: Vec<String> =
                    found.walks.into_iter().filter(|walk| walk.expires_at >= now).map(|walk| walk.after).collect();
                // One live position is the walk's own (written before its previous page was answered).
                behind_another_walk = live.len() > 1;
                let remembered = live.into_iter().next();
                let page = match (&remembered, &scope) {
                    (Some(after), WalkScope::Members) => self.store.members_after(&org, Some(after), count).await?,
                    (Some(after), WalkScope::Team(team)) => {
                        let ids = self.store.team_member_ids_after(&org, team, Some(after), count).await?;
                        WalkPage { items: self.members_in_order(&org, &ids.items).await?, next_after: ids.next_after }
                    }
                    (None, _) => self.walk_from_start(&org, &scope, start, count).await?,
                };
                (org, total, page)
            }
        };
        let mut total = total;
        let end = paging.index() - 1 + page.items.len();
        // A page that started at a smaller position than this walk's own ends before the counter
        // says the walk does: while members follow, the walk is told to go on.
        if let (true, Some(after)) = (behind_another_walk, &page.next_after) {
            if page.items.len() == count && end >= total && self.member_follows(&org, &scope, after).await? {
                total = end + 1;
            }
        }
        // Another page may follow only while the counter says so (a query stopped at its limit
        // also answers a key when nothing follows).
        if end >= total || page.items.is_empty() {
            page.next_after = None;
        }
        // Remembered before the answer, so that the walk's own next page finds it.
        if let (Paging::Index(start), Some(after)) = (paging, &page.next_after) {
            self.remember_walk(&org, scope, start + page.items.len(), after.clone()).await;
        }
        Ok((org, Listed { items: page.items, total, next_after: page.next_after }))
    }

    /// Page `start` of a walk whose position is not remembered: read from the start, keeping
    /// only the page (bounded by the item budget).
    async fn walk_from_start(
        &self,
        org: &AuthorizedOrg,
        scope: &WalkScope,
        start: usize,
        count: usize,
    ) -> Result<WalkPage<MemberRecord>, ProvisioningError> {
        let end = start - 1 + count;
        if u64::try_from(end).unwrap_or(u64::MAX) > LIST_ITEM_BUDGET {
            return Err(too_many("a walk not started at startIndex=1 (page from 1, or use cursor)", end as u64));
        }
        match scope {
            WalkScope::Team(team) => {
                let ids = self.store.team_member_ids(org, team, start - 1, count).await?;
                let next_after = ids.last().cloned();
                Ok(WalkPage { items: self.members_in_order(org, &ids).await?, next_after })
            }
            WalkScope::Members => {
                let mut seen = 0usize;
                let mut items = Vec::new();
                self.store
                    .each_member_page(org, |members| {
                        for member in members {
                            seen += 1;
                            if seen >= start && items.len() < count {
                                items.push(member);
                            }
                        }
                        Ok(items.len() < count)
                    })
                    .await?;
                let next_after = items.last().map(|m: &MemberRecord| m.id.clone());
                Ok(WalkPage { items, next_after })
            }
        }
    }

    /// Remembers where the walk's page `start_index` starts. A failure only costs the next page
    /// a read from the start.
    async fn remember_walk(&self, org: &AuthorizedOrg, scope: WalkScope, start_index: usize, after: String) {
        let expires = self.clock.now() + chrono::Duration::seconds(WALK_TTL_SECS);
        if let Err(err) = self.store.remember_walk(org, &scope, start_index, &after, expires).await {
            tracing::warn!(error = %crate::telemetry::Chain(&err), "paging position not remembered; the next page reads from the start");
        }
    }

    /// Whether a member of the walk follows the id `after`.
    async fn member_follows(
        &self,
        org: &AuthorizedOrg,
        scope: &WalkScope,
        after: &str,
    ) -> Result<bool, ProvisioningError> {
        Ok(match scope {
            WalkScope::Members => !self.store.members_after(org, Some(after), 1).await?.items.is_empty(),
            WalkScope::Team(team) => {
                !self.store.team_member_ids_after(org, team, Some(after), 1).await?.items.is_empty()
            }
        })
    }

    /// Members by id, in the order of `ids` (members being deleted left out).
    async fn members_in_order(
        &self,
        org: &AuthorizedOrg,
        ids: &[String],
    ) -> Result<Vec<MemberRecord>, ProvisioningError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = self.store.members_by_ids(org, ids).await?;
        let mut ordered = Vec::with_capacity(found.len());
        for id in ids {
            if let Some(index) = found.iter().position(|m| &m.id == id) {
                ordered.push(found.swap_remove(index));
            }
        }
        Ok(ordered)
    }

    /// A filter answered by a key: a handful of candidates, re-checked against the whole filter.
    async fn looked_up(
        &self,
        caller: &Caller,
        query: &ListQuery,
        lookup: &KeyLookup,
        paging: &Paging,
        base_url: &str,
    ) -> Result<(AuthorizedOrg, Listed), ProvisioningError> {
        let (org, candidates) = match lookup {
            KeyLookup::Id(id) => {
                let (org, found) = self.authorize_with(caller, &Prefetch::member(id)).await?;
                (org, found.member(id).cloned().into_iter().collect())
            }
            KeyLookup::UserName(name) => {
                let (org, found) = self.authorize_with(caller, &Prefetch::user_name(name)).await?;
                let members = match &found.user_name_owner {
                    Some(owner) => self.store.member(&org, owner).await?.into_iter().collect(),
                    None => Vec::new(),
                };
                (org, members)
            }
            KeyLookup::Indexed(attribute, value) => {
                let (org, found) = self.authorize_with(caller, &Prefetch::lookup(*attribute, value)).await?;
                let members =
                    if found.ids.is_empty() { Vec::new() } else { self.store.members_by_ids(&org, &found.ids).await? };
                (org, members)
            }
        };
        let mut sink = Sink::new(query, paging, base_url);
        sink.offer_all(candidates.clone());
        let listed = match sink.finish() {
            Finished::Page(listed) => listed,
            Finished::Ids { ids, total } => {
                let items = ids.iter().filter_map(|id| candidates.iter().find(|m| &m.id == id).cloned()).collect();
                Listed { items, total, next_after: None }
            }
        };
        Ok((org, listed))
    }

    /// Any other filter, or a sort: the members streamed page by page, within the item budget.
    async fn streamed(
        &self,
        caller: &Caller,
        query: &ListQuery,
        paging: &Paging,
        base_url: &str,
    ) -> Result<(AuthorizedOrg, Listed), ProvisioningError> {
        let (org, found) = self.authorize_with(caller, &Prefetch::organization()).await?;
        let members = found.organization.as_ref().map_or(0, |(_, counts)| counts.members);
        if members > LIST_ITEM_BUDGET {
            return Err(too_many("this organization's users", members));
        }
        let mut sink = Sink::new(query, paging, base_url);
        let mut read = 0u64;
        self.store
            .each_member_page(&org, |page| {
                read += page.len() as u64;
                sink.offer_all(page);
                Ok(read <= LIST_ITEM_BUDGET)
            })
            .await?;
        if read > LIST_ITEM_BUDGET {
            return Err(too_many("this organization's users", read));
        }
        let listed = self.finish(&org, sink).await?;
        Ok((org, listed))
    }

    /// `groups.value eq "<team>"` with a `sortBy`: the team's members streamed in steps.
    async fn sorted_team(
        &self,
        caller: &Caller,
        query: &ListQuery,
        team: &str,
        base_url: &str,
    ) -> Result<(AuthorizedOrg, Listed), ProvisioningError> {
        let (org, found) = self.authorize_with(caller, &Prefetch::team(team)).await?;
        // Each member costs its membership item and its member item.
        let items = found.team().map_or(0, |t| t.member_count).saturating_mul(2);
        if items > LIST_ITEM_BUDGET {
            return Err(too_many("this group's members", items));
        }
        let mut unfiltered = query.clone();
        unfiltered.filter = None;
        let mut sink = Sink::new(&unfiltered, &Paging::Index(query.start_index), base_url);
        let mut after: Option<String> = None;
        let mut read = 0u64;
        loop {
            let ids = self.store.team_member_ids_after(&org, team, after.as_deref(), TEAM_STREAM_STEP).await?;
            read += 2 * ids.items.len() as u64;
            if read > LIST_ITEM_BUDGET {
                return Err(too_many("this group's members", read));
            }
            sink.offer_all(self.members_in_order(&org, &ids.items).await?);
            match ids.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let listed = self.finish(&org, sink).await?;
        Ok((org, listed))
    }

    /// The page a sink kept: a sorted page's members are read again by id.
    async fn finish(&self, org: &AuthorizedOrg, sink: Sink<'_>) -> Result<Listed, ProvisioningError> {
        match sink.finish() {
            Finished::Page(listed) => Ok(listed),
            Finished::Ids { ids, total } => {
                Ok(Listed { items: self.members_in_order(org, &ids).await?, total, next_after: None })
            }
        }
    }
}

/// A page of members with its total and, for a cursor walk, where the next page continues.
pub(super) struct Listed {
    items: Vec<MemberRecord>,
    total: usize,
    next_after: Option<String>,
}

/// A sort key with its stream position (ties keep the id order, as a stable sort does) and id.
struct Ranked {
    key: Option<Value>,
    seq: usize,
    id: String,
}

/// What a filtered or sorted list keeps while members stream past: never more than the page, or
/// for a sort, at most twice `startIndex - 1 + count` sort keys.
struct Sink<'q> {
    query: &'q ListQuery,
    /// Resources are tested as they are answered (`meta.location` included).
    base_url: &'q str,
    /// Matches before the page (index paging) to skip.
    skip: usize,
    /// Under cursor paging, the id the page continues after.
    after: Option<String>,
    matches: usize,
    page: Vec<MemberRecord>,
    /// Under cursor paging, matches after the page (only whether there are any matters).
    more: bool,
    ranked: Vec<Ranked>,
}

enum Finished {
    Page(Listed),
    Ids { ids: Vec<String>, total: usize },
}

impl<'q> Sink<'q> {
    fn new(query: &'q ListQuery, paging: &Paging, base_url: &'q str) -> Self {
        let (skip, after) = match paging {
            Paging::Index(start) => (start - 1, None),
            Paging::Cursor(position) => (0, position.as_ref().map(|p| p.after.clone())),
        };
        Self { query, base_url, skip, after, matches: 0, page: Vec::new(), more: false, ranked: Vec::new() }
    }

    fn keep(&self) -> usize {
        self.skip + self.query.count
    }

    fn offer_all(&mut self, members: Vec<MemberRecord>) {
        let rules = user::rules();
        for member in members {
            let resource = user::render(&member, self.base_url);
            if let Some(filter) = &self.query.filter {
                if !filter.matches(&resource, rules) {
                    continue;
                }
            }
            self.matches += 1;
            if let Some(path) = &self.query.sort_by {
                let key = sort_key(&resource, path, rules);
                self.ranked.push(Ranked { key, seq: self.matches, id: member.id });
                if self.ranked.len() >= 2 * self.keep().max(1) {
                    self.prune();
                }
                continue;
            }
            let past_cursor = self.after.as_deref().is_none_or(|after| member.id.as_str() > after);
            if self.after.is_some() && !past_cursor {
                continue;
            }
            if self.after.is_some() || self.matches > self.skip {
                if self.page.len() < self.query.count {
                    self.page.push(member);
                } else {
                    self.more = true;
                }
            }
        }
    }

    fn order(&self, a: &Ranked, b: &Ranked) -> std::cmp::Ordering {
        compare_sort_keys(&a.key, &b.key, self.query.descending).then(a.seq.cmp(&b.seq))
    }

    fn prune(&mut self) {
        let mut ranked = std::mem::take(&mut self.ranked);
        ranked.sort_by(|a, b| self.order(a, b));
        ranked.truncate(self.keep());
        self.ranked = ranked;
    }

    fn finish(mut self) -> Finished {
        if self.query.sort_by.is_some() {
            self.prune();
            let ids = self.ranked.into_iter().skip(self.skip).map(|r| r.id).collect();
            return Finished::Ids { ids, total: self.matches };
        }
        let next_after = match self.query.cursor {
            Some(_) if self.more => self.page.last().map(|m| m.id.clone()),
            _ => None,
        };
        Finished::Page(Listed { items: self.page, total: self.matches, next_after })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::domain::EmailAddress;

    fn members(n: usize) -> Vec<MemberRecord> {
        let mut members: Vec<MemberRecord> = (0..n)
            .map(|i| {
                // User names in an order unrelated to the ids.
                let email = format!("u{:04}@example.com", (i * 7919) % n);
                let resource = json!({"userName": email, "emails": [{"value": email, "primary": true}],
                                      "title": if i % 3 == 0 { "third" } else { "other" }});
                MemberRecord::provisioned(EmailAddress::parse(&email).unwrap(), &resource, Utc::now())
            })
            .collect();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        members
    }

    fn query(params: &[(&str, &str)]) -> ListQuery {
        let params: HashMap<String, String> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        ListQuery::from_params(&params).unwrap()
    }

    fn plan(params: &[(&str, &str)]) -> ListPlan {
        ListPlan::of(&query(params))
    }

    #[test]
    fn no_filter_walks_the_members_and_a_sort_alone_streams_them() {
        assert_eq!(plan(&[]), ListPlan::Walk(WalkScope::Members));
        assert_eq!(plan(&[("startIndex", "51"), ("count", "10")]), ListPlan::Walk(WalkScope::Members));
        assert_eq!(plan(&[("sortBy", "userName")]), ListPlan::Streamed);
    }

    #[test]
    fn exactly_a_team_equality_walks_the_team_or_streams_it_for_a_sort() {
        let team = || "t1".to_owned();
        assert_eq!(plan(&[("filter", r#"groups.value eq "t1""#)]), ListPlan::Walk(WalkScope::Team(team())));
        assert_eq!(plan(&[("filter", r#"groups eq "t1""#)]), ListPlan::Walk(WalkScope::Team(team())));
        assert_eq!(
            plan(&[("filter", r#"groups.value eq "t1""#), ("sortBy", "userName")]),
            ListPlan::SortedTeam(team())
        );
        // Anything more than the equality is not answered by the team's walk.
        assert_eq!(plan(&[("filter", r#"groups.value eq "t1" and title eq "x""#)]), ListPlan::Streamed);
    }

    #[test]
    fn a_required_equality_on_a_key_is_a_lookup() {
        let lookup = |filter: &str| plan(&[("filter", filter)]);
        assert_eq!(lookup(r#"id eq "u1""#), ListPlan::KeyLookup(KeyLookup::Id("u1".into())));
        assert_eq!(lookup(r#"userName eq "A@x.com""#), ListPlan::KeyLookup(KeyLookup::UserName("A@x.com".into())));
        assert_eq!(
            lookup(r#"externalId eq "E-1""#),
            ListPlan::KeyLookup(KeyLookup::Indexed(LookupAttr::ExternalId, "E-1".into()))
        );
        assert_eq!(
            lookup(r#"emails.value eq "A@x.com""#),
            ListPlan::KeyLookup(KeyLookup::Indexed(LookupAttr::Email, "A@x.com".into()))
        );
        assert_eq!(
            lookup(r#"emails[type eq "work"].value eq "a@x.com""#),
            ListPlan::KeyLookup(KeyLookup::Indexed(LookupAttr::Email, "a@x.com".into()))
        );
        assert_eq!(
            lookup(r#"userName eq "a@x.com" and title eq "x""#),
            ListPlan::KeyLookup(KeyLookup::UserName("a@x.com".into()))
        );
        // A sort applies to the candidates.
        assert_eq!(
            plan(&[("filter", r#"externalId eq "E-1""#), ("sortBy", "userName")]),
            ListPlan::KeyLookup(KeyLookup::Indexed(LookupAttr::ExternalId, "E-1".into()))
        );
    }

    #[test]
    fn a_filter_without_a_key_is_streamed() {
        assert_eq!(plan(&[("filter", r#"title eq "x""#)]), ListPlan::Streamed);
        assert_eq!(plan(&[("filter", r#"userName eq "a@x.com" or title eq "x""#)]), ListPlan::Streamed);
        assert_eq!(plan(&[("filter", "userName pr")]), ListPlan::Streamed);
    }

    #[test]
    fn a_cursor_is_bound_to_the_walk_or_to_the_filter() {
        let fingerprint = |params: &[(&str, &str)]| {
            let query = query(params);
            ListPlan::of(&query).fingerprint(&query)
        };
        assert_eq!(fingerprint(&[]), WalkScope::Members.segment());
        assert_eq!(fingerprint(&[("filter", r#"groups.value eq "t1""#)]), WalkScope::Team("t1".into()).segment());
        let by_title = fingerprint(&[("filter", r#"title eq "x""#)]);
        assert!(by_title.starts_with("FILTER#"));
        assert_ne!(by_title, fingerprint(&[("filter", r#"title eq "y""#)]));
        assert_eq!(by_title, fingerprint(&[("filter", r#"title eq "x""#), ("count", "3")]));
    }

    #[test]
    fn paging_is_an_index_or_a_cursor_and_never_a_cursor_with_a_sort() {
        let key = TokenKey::new(&[7u8; 32]).unwrap();
        let org = OrgId::parse("acme").unwrap();
        let now = Utc::now();
        let paging = |params: &[(&str, &str)]| {
            let query = query(params);
            let fingerprint = ListPlan::of(&query).fingerprint(&query);
            Paging::of(&key, &org, &query, &fingerprint, now)
        };
        assert_eq!(paging(&[("startIndex", "11")]).unwrap(), Paging::Index(11));
        assert_eq!(paging(&[("cursor", "")]).unwrap(), Paging::Cursor(None));
        assert!(paging(&[("cursor", ""), ("sortBy", "userName")]).is_err());
        assert!(paging(&[("cursor", "forged")]).is_err());
        let position = CursorPosition { after: "u9".into(), index: 11 };
        let issued = cursor::encode(&key, &org, &WalkScope::Members.segment(), &position, now);
        assert_eq!(paging(&[("cursor", &issued)]).unwrap(), Paging::Cursor(Some(position)));
        // A cursor of the member walk does not page a filtered list.
        assert!(paging(&[("cursor", &issued), ("filter", r#"title eq "x""#)]).is_err());
    }

    /// Streams `all` in pages of 37, as the store hands them over; the most sort keys ever held.
    fn stream(sink: &mut Sink<'_>, all: &[MemberRecord]) -> usize {
        let mut most = 0;
        for page in all.chunks(37) {
            sink.offer_all(page.to_vec());
            most = most.max(sink.ranked.len());
        }
        most
    }

    #[test]
    fn a_sorted_page_keeps_at_most_twice_its_end_in_sort_keys_and_equals_a_full_sort() {
        let all = members(1000);
        let query =
            query(&[("sortBy", "userName"), ("sortOrder", "descending"), ("startIndex", "41"), ("count", "10")]);
        let mut sink = Sink::new(&query, &Paging::Index(41), "https://x");
        let most = stream(&mut sink, &all);
        assert!(most <= 2 * 50, "held {most} sort keys for a page ending at 50");
        let Finished::Ids { ids, total } = sink.finish() else { panic!("a sort ends in ids") };
        assert_eq!(total, 1000);
        let mut names: Vec<&MemberRecord> = all.iter().collect();
        names.sort_by(|a, b| b.user_name.cmp(&a.user_name));
        let expected: Vec<String> = names[40..50].iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn a_filtered_page_keeps_only_its_own_matches_and_counts_the_rest() {
        let all = members(300);
        let query = query(&[("filter", "title eq \"third\""), ("startIndex", "11"), ("count", "5")]);
        let mut sink = Sink::new(&query, &Paging::Index(11), "https://x");
        for page in all.chunks(37) {
            sink.offer_all(page.to_vec());
            assert!(sink.page.len() <= 5);
        }
        let Finished::Page(listed) = sink.finish() else { panic!("no sort: a page") };
        let title =
            |m: &MemberRecord| user::render(m, "https://x").get("title").and_then(Value::as_str).map(str::to_owned);
        let matches: Vec<String> =
            all.iter().filter(|m| title(m).as_deref() == Some("third")).map(|m| m.id.clone()).collect();
        assert_eq!(matches.len(), 100);
        assert_eq!(listed.total, matches.len());
        assert_eq!(listed.items.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), matches[10..15].to_vec());
    }
}
