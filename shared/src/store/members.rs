//! Organization members (SCIM Users) and global accounts.
//!
//! Every write of a member is one TransactWriteItems that also keeps, in step: the case-insensitive
//! userName and account-email guards (uniqueness under races), the lookup index items that answer
//! `externalId eq` / `emails.value eq` filters by key, the organization's license and member
//! counters (with the seat limit as a condition), and, for a brand-new account, the account and the
//! welcome email in the outbox.
use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dynamo::{
    condition_check, delete, from_item, guard_delete, guard_put, key_item, n, put, put_new, s, to_attribute, to_item,
    update, Action, Item,
};
use super::keys::{
    account_orgs_gsi_pk, account_pk, admins_gsi_pk, email_guard_sk, lookup_prefix, lookup_sk, org_pk,
    user_name_guard_sk, user_sk, user_sk_of, ACCOUNT_SK, ORG_SK, RECONCILIATION_SK, USER_SK_PREFIX,
};
use super::pending::{pending_delete, pending_put, PendingResource};
use super::{Conflict, Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::{Account, EmailAddress, ManagedBy, MemberRecord, OrgId, OutboxItem, Reconciliation};

/// What else a member write creates, in its transaction (domain values: the store makes the items).
#[derive(Default)]
pub struct MemberWriteExtras {
    /// Created with the member when the email has no account yet (fails if one appears meanwhile).
    pub new_account: Option<Account>,
    /// The welcome email, put in the outbox in the member's transaction.
    pub welcome: Option<OutboxItem>,
}

/// Kept for the operator CLI and tests: a member plus, optionally, its new account.
pub struct NewMember {
    pub member: MemberRecord,
    pub new_account: Option<Account>,
}

/// Why a member write was refused (worded for people by the wire mappers; this is the log's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberConflict {
    #[error("the userName is taken in the organization")]
    UserNameTaken,
    #[error("the email is a member of the organization already")]
    EmailTaken,
    #[error("no Enterprise license left (seat limit), or no such organization")]
    SeatLimit,
    #[error("an account for the email was created meanwhile")]
    AccountCreatedMeanwhile,
    #[error("the member was changed meanwhile")]
    Changed,
    /// The write would leave the organization without an active Owner or Co-Owner.
    #[error("the member is the organization's last active Owner or Co-Owner")]
    LastAdmin,
}

#[derive(Serialize, Deserialize)]
struct MemberItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK", skip_serializing_if = "Option::is_none", default)]
    gsi1pk: Option<String>,
    #[serde(rename = "GSI1SK", skip_serializing_if = "Option::is_none", default)]
    gsi1sk: Option<String>,
    /// Set by the first step of a delete: from then on no read shows the member, no write or new
    /// membership succeeds, and a retried delete resumes (docs/ARCHITECTURE.md, "Deletes").
    #[serde(skip_serializing_if = "Option::is_none", default)]
    deleting_since: Option<DateTime<Utc>>,
    /// Memberships the member holds, moved in the same transaction as each membership item; only
    /// those transactions write it (never serialized from here), and a delete finishes at zero.
    #[serde(skip_serializing, default)]
    team_count: i64,
    #[serde(flatten)]
    member: MemberRecord,
}

/// A member as the delete path sees it: also while a delete is under way.
#[derive(Debug, Clone)]
pub struct MemberState {
    pub member: MemberRecord,
    /// A delete has started (and will be finished by any retry).
    pub deleting: bool,
    /// Memberships still held (≤ 0 once none are left; older items have none recorded).
    pub team_count: i64,
}

/// The organization's last reconciliation (docs/ARCHITECTURE.md, "Reconciliation"): one item,
/// rewritten by each computation, so a page view reads one item instead of every member.
#[derive(Serialize, Deserialize)]
struct ReconciliationItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    summary: Reconciliation,
}

#[derive(Serialize, Deserialize)]
struct AccountItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    account: Account,
}

/// The email guard also lists the organization under its account (GSI1 `ACCOUNT#{email}#ORGS`), so
/// the console can show a signed-in person their organizations without a scan.
fn email_guard_put(org: &OrgId, email: &EmailAddress, member_id: &str) -> Result<TransactWriteItem, StoreError> {
    let mut item = key_item(org_pk(org), email_guard_sk(&email.normalized()));
    item.insert("member_id".into(), s(member_id));
    item.insert("GSI1PK".into(), s(account_orgs_gsi_pk(&email.normalized())));
    item.insert("GSI1SK".into(), s(org.as_str()));
    put_new(item)
}

/// License and member counter changes of one write.
#[derive(Default, PartialEq)]
struct CounterDelta {
    scim: i64,
    manual: i64,
    members: i64,
}

impl CounterDelta {
    fn between(old: Option<&MemberRecord>, new: Option<&MemberRecord>) -> Self {
        let mut delta = Self::default();
        for (member, sign) in [(old, -1), (new, 1)] {
            let Some(member) = member else { continue };
            delta.members += sign;
            if member.consumes_license() {
                match member.managed_by {
                    ManagedBy::Scim => delta.scim += sign,
                    ManagedBy::Manual => delta.manual += sign,
                }
            }
        }
        delta
    }

    fn used(&self) -> i64 {
        self.scim + self.manual
    }

    fn update(&self, org: &OrgId) -> Result<Option<TransactWriteItem>, StoreError> {
        if *self == Self::default() {
            return Ok(None);
        }
        let mut update = update(key_item(org_pk(org), ORG_SK.into()))
            .update_expression(
                "ADD licenses_scim :scim, licenses_manual :manual, licenses_used :used, member_count :members",
            )
            .expression_attribute_values(":scim", n(self.scim))
            .expression_attribute_values(":manual", n(self.manual))
            .expression_attribute_values(":used", n(self.used()))
            .expression_attribute_values(":members", n(self.members));
        update = if self.used() > 0 {
            update
                .condition_expression(
                    "attribute_exists(PK) AND (attribute_not_exists(seat_limit) OR attribute_type(seat_limit, :null) \
                     OR attribute_not_exists(licenses_used) OR licenses_used < seat_limit)",
                )
                .expression_attribute_values(":null", s("NULL"))
        } else {
            update.condition_expression("attribute_exists(PK)")
        };
        Ok(Some(update.action()?))
    }
}

impl Store {
    /// Creates (`old` None) or rewrites a member, with everything that must change with it, in one
    /// transaction. A rewrite is conditional on the stored version still being `old.version`.
    pub async fn write_member(
        &self,
        org: &AuthorizedOrg,
        old: Option<&MemberRecord>,
        new: &MemberRecord,
        extras: MemberWriteExtras,
    ) -> Result<(), MemberWriteError> {
        let mut actions: Vec<(TransactWriteItem, MemberConflict)> = Vec::new();
        let admin = new.role.is_admin();
        let item = to_item(&MemberItem {
            pk: org_pk(org),
            sk: user_sk(&new.id),
            gsi1pk: admin.then(|| admins_gsi_pk(org)),
            gsi1sk: admin.then(|| user_sk(&new.id)),
            deleting_since: None,
            team_count: 0,
            member: new.clone(),
        })?;
        let member_put = match old {
            None => put_new(item)?,
            // An update of the record's attributes, not a Put: the membership counter (written
            // only by membership transactions) is left as it is.
            Some(old) => rewrite(item, old.version)?,
        };
        actions.push((member_put, MemberConflict::Changed));

        let old_user_name = old.map(|o| o.user_name.to_lowercase());
        if old_user_name.as_deref() != Some(new.user_name.to_lowercase().as_str()) {
            actions.push((
                guard_put(org_pk(org), user_name_guard_sk(&new.user_name), &new.id)?,
                MemberConflict::UserNameTaken,
            ));
            if let Some(old) = old {
                actions.push((
                    guard_delete(org_pk(org), user_name_guard_sk(&old.user_name), &old.id)?,
                    MemberConflict::Changed,
                ));
            }
        }
        if old.map(|o| o.email.normalized()) != Some(new.email.normalized()) {
            actions.push((email_guard_put(org, &new.email, &new.id)?, MemberConflict::EmailTaken));
            if let Some(old) = old {
                actions.push((
                    guard_delete(org_pk(org), email_guard_sk(&old.email.normalized()), &old.id)?,
                    MemberConflict::Changed,
                ));
            }
        }

        let before: BTreeSet<&(String, String)> = old.map(|o| o.lookups.iter().collect()).unwrap_or_default();
        let after: BTreeSet<&(String, String)> = new.lookups.iter().collect();
        for (attribute, value) in after.difference(&before) {
            let mut item = key_item(org_pk(org), lookup_sk(attribute, value, &new.id));
            item.insert("member_id".into(), s(&new.id));
            actions.push((put(item).action()?, MemberConflict::Changed));
        }
        for (attribute, value) in before.difference(&after) {
            actions.push((
                delete(key_item(org_pk(org), lookup_sk(attribute, value, &new.id))).action()?,
                MemberConflict::Changed,
            ));
        }

        if let Some(old) = old.filter(|old| !new.is_active_admin() && old.is_active_admin()) {
            actions.push(self.another_admin_check(org, old).await?);
        }
        if let Some(update) = CounterDelta::between(old, Some(new)).update(org)? {
            actions.push((update, MemberConflict::SeatLimit));
        }
        if let Some(account) = &extras.new_account {
            let item = to_item(&AccountItem {
                pk: account_pk(&account.email.normalized()),
                sk: ACCOUNT_SK.into(),
                account: account.clone(),
            })?;
            actions.push((put_new(item)?, MemberConflict::AccountCreatedMeanwhile));
        }
        if let Some(welcome) = &extras.welcome {
            actions.push((super::outbox::outbox_put_action(welcome)?, MemberConflict::Changed));
        }
        self.transact_members(actions).await
    }

    /// Deletes a member that holds no membership, if still at `old.version` and not being deleted:
    /// the whole delete in one transaction. A membership added meanwhile makes it a `Conflict`.
    pub async fn delete_member_without_teams(
        &self,
        org: &AuthorizedOrg,
        old: &MemberRecord,
    ) -> Result<(), MemberWriteError> {
        let delete = delete(key_item(org_pk(org), user_sk(&old.id)))
            .condition_expression(
                "version = :expected AND attribute_not_exists(deleting_since) AND \
                 (attribute_not_exists(team_count) OR team_count <= :zero)",
            )
            .expression_attribute_values(":expected", n(old.version))
            .expression_attribute_values(":zero", n(0))
            .action()?;
        let admin_check = self.another_admin_check_if_admin(org, old).await?;
        self.delete_member_with(org, old, delete, admin_check).await
    }

    /// The first step of a delete: marks the member (if still at `member.version`) so that nothing
    /// can change it or add it to a team any more, and bumps its version.
    pub async fn mark_member_deleting(
        &self,
        org: &AuthorizedOrg,
        member: &MemberRecord,
        now: DateTime<Utc>,
    ) -> Result<(), MemberWriteError> {
        let action = update(key_item(org_pk(org), user_sk(&member.id)))
            .update_expression("SET deleting_since = :now, version = :next")
            .condition_expression("version = :expected AND attribute_not_exists(deleting_since)")
            .expression_attribute_values(":now", to_attribute(&now)?)
            .expression_attribute_values(":next", n(member.next_version()))
            .expression_attribute_values(":expected", n(member.version))
            .action()?;
        let record = pending_put(org, &PendingResource::User(member.id.clone()), now)?;
        let mut actions = vec![(action, MemberConflict::Changed), (record, MemberConflict::Changed)];
        // The mark is the point of no return: a marked member is on its way out.
        actions.extend(self.another_admin_check_if_admin(org, member).await?);
        self.transact_members(actions).await
    }

    /// The last step of a delete: removes the marked member with its guards, lookups and counters,
    /// once it holds no membership (`Conflict` while some remain, or when it is already gone).
    pub async fn finish_member_delete(
        &self,
        org: &AuthorizedOrg,
        marked: &MemberRecord,
    ) -> Result<(), MemberWriteError> {
        let delete = delete(key_item(org_pk(org), user_sk(&marked.id)))
            .condition_expression(
                "attribute_exists(deleting_since) AND (attribute_not_exists(team_count) OR team_count <= :zero)",
            )
            .expression_attribute_values(":zero", n(0))
            .action()?;
        // The mark carried the check that another admin remains.
        self.delete_member_with(org, marked, delete, None).await
    }

    /// The member item's `delete` with everything that goes with the member.
    async fn delete_member_with(
        &self,
        org: &OrgId,
        old: &MemberRecord,
        member_delete: TransactWriteItem,
        admin_check: Option<(TransactWriteItem, MemberConflict)>,
    ) -> Result<(), MemberWriteError> {
        let mut actions: Vec<(TransactWriteItem, MemberConflict)> = admin_check.into_iter().collect();
        actions.extend([
            (member_delete, MemberConflict::Changed),
            (guard_delete(org_pk(org), user_name_guard_sk(&old.user_name), &old.id)?, MemberConflict::Changed),
            (guard_delete(org_pk(org), email_guard_sk(&old.email.normalized()), &old.id)?, MemberConflict::Changed),
            (pending_delete(org, &PendingResource::User(old.id.clone()))?, MemberConflict::Changed),
        ]);
        for (attribute, value) in &old.lookups {
            actions.push((
                delete(key_item(org_pk(org), lookup_sk(attribute, value, &old.id))).action()?,
                MemberConflict::Changed,
            ));
        }
        if let Some(update) = CounterDelta::between(Some(old), None).update(org)? {
            actions.push((update, MemberConflict::Changed));
        }
        self.transact_members(actions).await
    }

    /// The check, for a write that ends `leaving`'s standing as an active Owner or Co-Owner, that
    /// another one still stands, in the same transaction (docs/ARCHITECTURE.md, "The last active
    /// Owner or Co-Owner"). The candidates come from the admins index (eventually consistent) and
    /// are confirmed by a consistent read; the check itself is consistent, and DynamoDB's
    /// transactions are serializable, so two admins leaving at once cannot each count on the
    /// other. `LastAdmin` when no other stands (an admin added a moment ago may not be indexed
    /// yet: refused is the safe side).
    async fn another_admin_check(
        &self,
        org: &AuthorizedOrg,
        leaving: &MemberRecord,
    ) -> Result<(TransactWriteItem, MemberConflict), MemberWriteError> {
        let indexed: Vec<String> = self
            .organization_admins(org)
            .await?
            .into_iter()
            .filter(|admin| admin.id != leaving.id && admin.is_active_admin())
            .map(|admin| admin.id)
            .collect();
        let confirmed = if indexed.is_empty() { Vec::new() } else { self.members_by_ids(org, &indexed).await? };
        let other = confirmed
            .into_iter()
            .find(MemberRecord::is_active_admin)
            .ok_or(MemberWriteError::Conflict(MemberConflict::LastAdmin))?;
        let check = condition_check(key_item(org_pk(org), user_sk(&other.id)))
            .condition_expression("active = :true AND GSI1PK = :admins AND attribute_not_exists(deleting_since)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":admins", s(admins_gsi_pk(org)))
            .action()?;
        // The other admin left meanwhile: read again (the next attempt finds another, or none).
        Ok((check, MemberConflict::Changed))
    }

    async fn another_admin_check_if_admin(
        &self,
        org: &AuthorizedOrg,
        leaving: &MemberRecord,
    ) -> Result<Option<(TransactWriteItem, MemberConflict)>, MemberWriteError> {
        if !leaving.is_active_admin() {
            return Ok(None);
        }
        self.another_admin_check(org, leaving).await.map(Some)
    }

    /// Adds a member by hand (operator CLI).
    pub async fn add_manual_member(&self, org: &AuthorizedOrg, new: &NewMember) -> Result<(), StoreError> {
        let extras = MemberWriteExtras { new_account: new.new_account.clone(), welcome: None };
        self.write_member(org, None, &new.member, extras).await.map_err(|err| match err {
            MemberWriteError::Conflict(conflict) => StoreError::Conflict(Conflict::Member(conflict)),
            MemberWriteError::Store(err) => err,
        })
    }

    /// The organizations `email` is a member of, by their email guards (GSI1: eventually
    /// consistent; what the caller may do in each is decided by a consistent read of the member).
    pub async fn account_organizations(&self, email: &EmailAddress) -> Result<Vec<OrgId>, StoreError> {
        let query = self.gsi1_query(account_orgs_gsi_pk(&email.normalized()));
        let ids = self
            .query_all_decoded(query, |item| {
                Ok(item.get("GSI1SK").and_then(|v| v.as_s().ok()).and_then(|raw| OrgId::parse(raw).ok()))
            })
            .await?;
        Ok(ids.into_iter().flatten().collect())
    }

    pub async fn account(&self, email: &EmailAddress) -> Result<Option<Account>, StoreError> {
        let output = self.item_by_key(account_pk(&email.normalized()), ACCOUNT_SK).await?;
        output.item.map(decode_account).transpose()
    }

    pub async fn member(&self, org: &AuthorizedOrg, id: &str) -> Result<Option<MemberRecord>, StoreError> {
        let output = self.item_by_key(org_pk(org), user_sk(id)).await?;
        Ok(output.item.map(decode_member).transpose()?.flatten())
    }

    /// The member as the delete path sees it (also while a delete is under way).
    pub async fn member_state(&self, org: &AuthorizedOrg, id: &str) -> Result<Option<MemberState>, StoreError> {
        let output = self.item_by_key(org_pk(org), user_sk(id)).await?;
        output.item.map(decode_member_state).transpose()
    }

    /// Member ids whose lookup value `(attribute, normalized value)` matches (a key lookup).
    pub async fn member_ids_by_lookup(
        &self,
        org: &AuthorizedOrg,
        attribute: &str,
        value: &str,
    ) -> Result<Vec<String>, StoreError> {
        if !super::keys::key_fits(&org_pk(org), &lookup_prefix(attribute, value)) {
            return Ok(Vec::new());
        }
        let output = self
            .query_table()
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(org_pk(org)))
            .expression_attribute_values(":prefix", s(lookup_prefix(attribute, value)))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(output
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| item.get("member_id").and_then(|v| v.as_s().ok()).cloned())
            .collect())
    }

    /// Members by id, in one BatchGetItem per 100 ids.
    pub async fn members_by_ids(&self, org: &AuthorizedOrg, ids: &[String]) -> Result<Vec<MemberRecord>, StoreError> {
        let mut members = Vec::new();
        let unique: BTreeSet<&String> = ids.iter().collect();
        let keys: Vec<Item> = unique.into_iter().map(|id| key_item(org_pk(org), user_sk(id))).collect();
        for chunk in keys.chunks(100) {
            for item in self.batch_get(chunk.to_vec()).await? {
                members.extend(decode_member(item)?);
            }
        }
        members.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(members)
    }

    /// Every member of the organization, in id order (paged internally).
    pub async fn members(&self, org: &AuthorizedOrg) -> Result<Vec<MemberRecord>, StoreError> {
        let mut members = Vec::new();
        let mut after = None;
        loop {
            let (page, next) = self.members_page(org, after.as_deref(), None).await?;
            members.extend(page);
            after = next;
            if after.is_none() {
                return Ok(members);
            }
        }
    }

    /// One page of members in id order, after the member `after` (an id). Also answers the id to
    /// continue after, while there may be more.
    pub async fn members_page(
        &self,
        org: &AuthorizedOrg,
        after: Option<&str>,
        limit: Option<i32>,
    ) -> Result<(Vec<MemberRecord>, Option<String>), StoreError> {
        let output = self
            .query_table()
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(org_pk(org)))
            .expression_attribute_values(":prefix", s(USER_SK_PREFIX))
            .set_exclusive_start_key(after.map(|id| key_item(org_pk(org), user_sk(id))))
            .set_limit(limit)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let next = output
            .last_evaluated_key
            .as_ref()
            .and_then(|key| key.get("SK"))
            .and_then(|sk| sk.as_s().ok())
            .and_then(|sk| user_sk_of(sk))
            .map(str::to_owned);
        let members = output
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|item| decode_member(item).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        Ok((members, next))
    }

    /// The organization's last reconciliation summary, if one was computed.
    pub async fn reconciliation(&self, org: &AuthorizedOrg) -> Result<Option<Reconciliation>, StoreError> {
        let output = self.item_by_key(org_pk(org), RECONCILIATION_SK).await?;
        output.item.map(|item| from_item::<ReconciliationItem>(item).map(|r| r.summary)).transpose()
    }

    /// Stores a reconciliation summary in place of the last one.
    pub async fn put_reconciliation(&self, org: &AuthorizedOrg, summary: &Reconciliation) -> Result<(), StoreError> {
        let item =
            to_item(&ReconciliationItem { pk: org_pk(org), sk: RECONCILIATION_SK.into(), summary: summary.clone() })?;
        self.put_unconditionally(item).await
    }

    async fn transact_members(
        &self,
        actions: Vec<(TransactWriteItem, MemberConflict)>,
    ) -> Result<(), MemberWriteError> {
        self.transact_labelled(actions).await?.map_err(MemberWriteError::Conflict)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MemberWriteError {
    #[error("member write refused: {0}")]
    Conflict(MemberConflict),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A member item as every read but the delete path sees it: None while a delete is under way.
pub(crate) fn decode_member(item: Item) -> Result<Option<MemberRecord>, StoreError> {
    from_item::<MemberItem>(item).map(|m| m.deleting_since.is_none().then_some(m.member))
}

pub(crate) fn decode_member_state(item: Item) -> Result<MemberState, StoreError> {
    from_item::<MemberItem>(item).map(|m| MemberState {
        deleting: m.deleting_since.is_some(),
        team_count: m.team_count,
        member: m.member,
    })
}

/// An Update that sets every attribute of `item` (but its key) and removes the optional index
/// attributes it lacks, if the stored version is still `expected`. Attributes the item does not
/// name, such as the membership counter and a delete mark, stay as they are.
fn rewrite(item: Item, expected: u64) -> Result<TransactWriteItem, StoreError> {
    let mut sets = Vec::new();
    let mut key = Item::new();
    let mut names = Vec::new();
    let mut present = BTreeSet::new();
    for (index, (name, value)) in item.into_iter().enumerate() {
        if name == "PK" || name == "SK" {
            key.insert(name, value);
            continue;
        }
        sets.push(format!("#a{index} = :a{index}"));
        names.push((index, name.clone(), value));
        present.insert(name);
    }
    let removes: Vec<&str> = ["GSI1PK", "GSI1SK"].into_iter().filter(|a| !present.contains(*a)).collect();
    let mut expression = format!("SET {}", sets.join(", "));
    if !removes.is_empty() {
        expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
    }
    let mut update = update(key);
    for (index, name, value) in names {
        update = update
            .expression_attribute_names(format!("#a{index}"), name)
            .expression_attribute_values(format!(":a{index}"), value);
    }
    update
        .update_expression(expression)
        .condition_expression("version = :expected")
        .expression_attribute_values(":expected", n(expected))
        .action()
}

pub(crate) fn decode_account(item: Item) -> Result<Account, StoreError> {
    from_item::<AccountItem>(item).map(|a| a.account)
}

/// A member as an item (for the fixture loaders).
#[cfg(feature = "fixtures")]
pub(crate) fn member_item(org: &OrgId, member: &MemberRecord) -> Result<Item, StoreError> {
    to_item(&MemberItem {
        pk: org_pk(org),
        sk: user_sk(&member.id),
        gsi1pk: None,
        gsi1sk: None,
        deleting_since: None,
        team_count: 0,
        member: member.clone(),
    })
}
