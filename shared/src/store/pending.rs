//! Unfinished multi-step writes (docs/ARCHITECTURE.md, "Writes cut off part way"). The first
//! transaction of a write that takes several (a delete that has to sweep memberships, a member
//! change recorded as an intent) also puts one item in the `PENDING` partition, and the write's
//! last transaction deletes it. A request cut off in between leaves the item, so the scheduler's
//! sweep finds every such write with one query and completes it; no scan, no per-request cost.
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::dynamo::{delete, key_item, put, s, Action};
use super::keys::{pending_team_sk, pending_user_sk, sortable_time, PENDING_PK};
use super::{Store, StoreError};
use crate::domain::OrgId;

/// Which resource an unfinished write is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingResource {
    User(String),
    Team(String),
}

/// One unfinished write, as the sweep finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingWrite {
    pub org: OrgId,
    pub resource: PendingResource,
    pub since: DateTime<Utc>,
}

fn pending_sk(org: &OrgId, resource: &PendingResource) -> String {
    match resource {
        PendingResource::User(id) => pending_user_sk(org, id),
        PendingResource::Team(id) => pending_team_sk(org, id),
    }
}

/// The put of a write's pending item, in the transaction that starts the write.
pub(crate) fn pending_put(
    org: &OrgId,
    resource: &PendingResource,
    since: DateTime<Utc>,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = key_item(PENDING_PK.to_owned(), pending_sk(org, resource));
    item.insert("org".into(), s(org.as_str()));
    let (kind, id) = match resource {
        PendingResource::User(id) => ("user", id),
        PendingResource::Team(id) => ("group", id),
    };
    item.insert("kind".into(), s(kind));
    item.insert("id".into(), s(id));
    item.insert("since".into(), s(sortable_time(since)));
    put(item).action()
}

/// The delete of a write's pending item, in the transaction that finishes the write.
pub(crate) fn pending_delete(org: &OrgId, resource: &PendingResource) -> Result<TransactWriteItem, StoreError> {
    delete(key_item(PENDING_PK.to_owned(), pending_sk(org, resource))).action()
}

fn decode_pending(item: &super::Item) -> Option<PendingWrite> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let org = OrgId::parse(&text("org")?).ok()?;
    let id = text("id")?;
    let resource = match text("kind")?.as_str() {
        "user" => PendingResource::User(id),
        "group" => PendingResource::Team(id),
        _ => return None,
    };
    let since = DateTime::parse_from_rfc3339(&text("since")?).ok()?.with_timezone(&Utc);
    Some(PendingWrite { org, resource, since })
}

impl Store {
    /// The unfinished writes that started before `before`, oldest first, at most `limit`.
    pub async fn pending_writes(&self, before: DateTime<Utc>, limit: usize) -> Result<Vec<PendingWrite>, StoreError> {
        let query = self
            .query_table()
            .key_condition_expression("PK = :pk")
            .filter_expression("since < :before")
            .expression_attribute_values(":pk", s(PENDING_PK))
            .expression_attribute_values(":before", AttributeValue::S(sortable_time(before)));
        let mut found = Vec::new();
        self.query_pages(query, |items| {
            found.extend(items.iter().filter_map(decode_pending));
            Ok(found.len() < limit)
        })
        .await?;
        found.sort_by_key(|write| write.since);
        found.truncate(limit);
        Ok(found)
    }
}
