//! Paging positions and pages read from a position (docs/ARCHITECTURE.md, "Paging").
//!
//! An IdP walks `GET /Users?startIndex=…&count=…` in order. After serving a page, the use case
//! remembers where the next page starts: one small item `ORG#{org}` / `WALK#{scope}#{startIndex}`
//! holding the id the next page continues after, with a `ttl`. The next request reads it with its
//! token check (`Prefetch::with_walk`) and queries from there, so each page reads about one page of
//! items whatever its number. A missing or expired position falls back to reading from the start.
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::dynamo::{key_item, s, Item};
use super::keys::{
    membership_sk, membership_sk_of, org_pk, team_members_pk, team_walk_segment, walk_prefix, walk_sk, USER_SK_PREFIX,
};
use super::members::decode_member;
use super::{Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::{MemberRecord, OrgId};

/// Which ordered sequence a walk goes through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalkScope {
    /// Every member of the organization, in id order.
    Members,
    /// The members of one team, in user-id order of its membership items.
    Team(String),
}

impl WalkScope {
    /// The scope as a key segment and as part of a cursor (ids hold no `#`; a team id that did
    /// would only make a position that nothing else reads).
    pub fn segment(&self) -> String {
        match self {
            Self::Members => "USERS".into(),
            Self::Team(team) => team_walk_segment(team),
        }
    }
}

/// Where a page of a walk starts: after this id (as the position item holds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkPosition {
    pub after: String,
    pub expires_at: i64,
}

/// One page read from a position: the items in order and the id to continue after, when the
/// query stopped at its limit (more may follow).
#[derive(Debug)]
pub struct WalkPage<T> {
    pub items: Vec<T>,
    pub next_after: Option<String>,
}

impl<T> Default for WalkPage<T> {
    fn default() -> Self {
        Self { items: Vec::new(), next_after: None }
    }
}

/// Remembered positions of one page read at most: the smallest ids, expired ones included.
const WALK_POSITIONS_READ: i32 = 20;

pub(crate) fn decode_walk(item: &Item) -> Option<WalkPosition> {
    let after = item.get("after").and_then(|v| v.as_s().ok()).cloned()?;
    let expires_at = item.get("ttl").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0);
    Some(WalkPosition { after, expires_at })
}

impl Store {
    /// Remembers that page `start_index` of `scope` continues after `after`, until `expires_at`
    /// (also the item's `ttl`, so DynamoDB removes it later; readers check the time themselves).
    pub async fn remember_walk(
        &self,
        org: &AuthorizedOrg,
        scope: &WalkScope,
        start_index: usize,
        after: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sk = walk_sk(&scope.segment(), start_index, after);
        if !super::keys::key_fits(&org_pk(org), &sk) {
            return Ok(());
        }
        let mut item = key_item(org_pk(org), sk);
        item.insert("after".into(), s(after));
        item.insert("ttl".into(), AttributeValue::N(expires_at.timestamp().to_string()));
        self.put_unconditionally(item).await?;
        Ok(())
    }

    /// The remembered positions of page `start_index` of `scope`, smallest id first (expired
    /// ones too: the caller checks the time). Walks that saw different members before this page
    /// remember different positions; the smallest skips nobody (docs/ARCHITECTURE.md, "Paging").
    pub(crate) async fn walk_positions(
        &self,
        org: &OrgId,
        scope: &WalkScope,
        start_index: usize,
    ) -> Result<Vec<WalkPosition>, StoreError> {
        let prefix = walk_prefix(&scope.segment(), start_index);
        if !super::keys::key_fits(&org_pk(org), &prefix) {
            return Ok(Vec::new());
        }
        let output = self
            .query_table()
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(org_pk(org)))
            .expression_attribute_values(":prefix", s(prefix))
            .limit(WALK_POSITIONS_READ)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(output.items.unwrap_or_default().iter().filter_map(decode_walk).collect())
    }

    /// Up to `limit` members in id order after `after` (from the first without), reading only
    /// about `limit` items; members being deleted are left out, so a page may hold fewer.
    pub async fn members_after(
        &self,
        org: &AuthorizedOrg,
        after: Option<&str>,
        limit: usize,
    ) -> Result<WalkPage<MemberRecord>, StoreError> {
        let mut page = WalkPage::default();
        let mut from = after.map(str::to_owned);
        while page.items.len() < limit {
            let want = i32::try_from(limit - page.items.len()).unwrap_or(i32::MAX).max(1);
            let (members, next) = self.members_page(org, from.as_deref(), Some(want)).await?;
            page.items.extend(members);
            page.next_after = next.clone();
            match next {
                Some(next) => from = Some(next),
                None => break,
            }
        }
        Ok(page)
    }

    /// Up to `limit` user ids of a team's memberships after the user `after`, in key order,
    /// reading only those membership items (projected to `user_id`).
    pub async fn team_member_ids_after(
        &self,
        org: &AuthorizedOrg,
        team_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<WalkPage<String>, StoreError> {
        let pk = team_members_pk(org, team_id);
        let mut page = WalkPage::default();
        if !super::keys::key_fits(&pk, "") || limit == 0 {
            return Ok(page);
        }
        let mut start = after.map(|id| key_item(pk.clone(), membership_sk(id)));
        while page.items.len() < limit {
            let want = i32::try_from(limit - page.items.len()).unwrap_or(i32::MAX).max(1);
            let output = self
                .query_table()
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(&pk))
                .projection_expression("user_id")
                .set_exclusive_start_key(start)
                .limit(want)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            for item in output.items.unwrap_or_default() {
                if let Some(AttributeValue::S(id)) = item.get("user_id") {
                    page.items.push(id.clone());
                }
            }
            start = output.last_evaluated_key;
            page.next_after = start
                .as_ref()
                .and_then(|key| key.get("SK"))
                .and_then(|sk| sk.as_s().ok())
                .and_then(|sk| membership_sk_of(sk))
                .map(str::to_owned);
            if start.is_none() {
                break;
            }
        }
        Ok(page)
    }

    /// The organization's members page by page (≤ 1 MB each) in id order, each page decoded,
    /// until `each` says stop: a filter or a sort sees every member without holding them all.
    pub async fn each_member_page(
        &self,
        org: &AuthorizedOrg,
        mut each: impl FnMut(Vec<MemberRecord>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let query = self
            .query_table()
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(org_pk(org)))
            .expression_attribute_values(":prefix", s(USER_SK_PREFIX));
        self.query_pages(query, |items| {
            let mut members = Vec::with_capacity(items.len());
            for item in items {
                members.extend(decode_member(item)?);
            }
            each(members)
        })
        .await
    }
}
