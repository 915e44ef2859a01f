//! Organization members (SCIM Users) and global accounts.
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{account_pk, admins_gsi_pk, email_guard_sk, org_pk, user_name_guard_sk, user_sk, ACCOUNT_SK, ORG_SK};
use super::{from_item, s, to_item, Store, StoreError};
use crate::domain::{EmailAddress, MemberRole, OrgId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagedBy {
    Scim,
    Manual,
}

/// A member of an organization: the Insomnia side of a SCIM User.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub id: String,
    /// The Insomnia account this member signs in with.
    pub email: EmailAddress,
    pub user_name: String,
    pub role: MemberRole,
    pub managed_by: ManagedBy,
    /// Inactive members have no access and consume no license.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    pub version: u64,
}

/// A global Insomnia account (one per email, across organizations).
#[derive(Clone, Serialize, Deserialize)]
pub struct Account {
    pub email: EmailAddress,
    /// Argon2id PHC string; the passphrase itself is never stored.
    pub passphrase_hash: String,
    pub must_change_passphrase: bool,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("email", &self.email)
            .field("must_change_passphrase", &self.must_change_passphrase)
            .finish_non_exhaustive()
    }
}

pub struct NewMember {
    pub member: MemberRecord,
    /// Created with the member when the email has no account yet.
    pub new_account: Option<Account>,
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
    #[serde(flatten)]
    member: MemberRecord,
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

fn guard(org: &OrgId, sk: String, member_id: &str) -> Result<TransactWriteItem, StoreError> {
    put_new(
        [("PK".to_owned(), s(org_pk(org))), ("SK".to_owned(), s(sk)), ("member_id".to_owned(), s(member_id))].into(),
    )
}

fn put_new(item: super::Item) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(PK)")
        .table_name("")
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl Store {
    /// Adds a member by hand (operator CLI): the member, its userName and email guards, the account
    /// when new, and the license counter, in one transaction that respects the seat limit.
    pub async fn add_manual_member(&self, org: &OrgId, new: &NewMember) -> Result<(), StoreError> {
        let member = &new.member;
        let admin = member.role.is_admin();
        let item = to_item(&MemberItem {
            pk: org_pk(org),
            sk: user_sk(&member.id),
            gsi1pk: admin.then(|| admins_gsi_pk(org)),
            gsi1sk: admin.then(|| user_sk(&member.id)),
            member: member.clone(),
        })?;
        let mut actions = vec![
            put_new(item)?,
            guard(org, user_name_guard_sk(&member.user_name), &member.id)?,
            guard(org, email_guard_sk(&member.email.normalized()), &member.id)?,
            license_increment(org, member.managed_by)?,
        ];
        let mut labels = vec![
            "member id already exists".to_owned(),
            format!("userName '{}' is already taken in this organization", member.user_name),
            format!("{} is already a member of this organization", member.email),
            "the organization has no Enterprise licenses left (seat limit reached), or does not exist".to_owned(),
        ];
        if let Some(account) = &new.new_account {
            let item = to_item(&AccountItem {
                pk: account_pk(&account.email.normalized()),
                sk: ACCOUNT_SK.into(),
                account: account.clone(),
            })?;
            actions.push(put_new(item)?);
            labels.push(format!("an account for {} already exists", account.email));
        }
        self.transact(actions, &labels).await
    }

    pub async fn account(&self, email: &EmailAddress) -> Result<Option<Account>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(account_pk(&email.normalized())))
            .key("SK", s(ACCOUNT_SK))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        output.item.map(|item| from_item::<AccountItem>(item).map(|a| a.account)).transpose()
    }

    /// Every member of the organization, in id order (paged internally).
    pub async fn members(&self, org: &OrgId) -> Result<Vec<MemberRecord>, StoreError> {
        let mut members = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", s(org_pk(org)))
                .expression_attribute_values(":prefix", s("USER#"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            for item in output.items.unwrap_or_default() {
                members.push(from_item::<MemberItem>(item)?.member);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(members);
            }
        }
    }

    /// TransactWriteItems with every action's table set here; a cancelled transaction reports the
    /// label of the first action whose condition failed as a `Conflict`.
    pub(crate) async fn transact(&self, actions: Vec<TransactWriteItem>, labels: &[String]) -> Result<(), StoreError> {
        let actions = actions.into_iter().map(|action| with_table(action, &self.table)).collect::<Vec<_>>();
        match self.client.transact_write_items().set_transact_items(Some(actions)).send().await {
            Ok(_) => Ok(()),
            Err(err) => Err(transaction_error(err, labels)),
        }
    }
}

fn license_increment(org: &OrgId, managed_by: ManagedBy) -> Result<TransactWriteItem, StoreError> {
    let counter = match managed_by {
        ManagedBy::Scim => "licenses_scim",
        ManagedBy::Manual => "licenses_manual",
    };
    let update = Update::builder()
        .table_name("")
        .key("PK", s(org_pk(org)))
        .key("SK", s(ORG_SK))
        .update_expression(format!("ADD {counter} :one, licenses_used :one"))
        .condition_expression(
            "attribute_exists(PK) AND (attribute_not_exists(seat_limit) OR attribute_type(seat_limit, :null) \
             OR attribute_not_exists(licenses_used) OR licenses_used < seat_limit)",
        )
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .expression_attribute_values(":null", s("NULL"))
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn with_table(action: TransactWriteItem, table: &str) -> TransactWriteItem {
    let mut action = action;
    if let Some(put) = action.put.as_mut() {
        put.table_name = table.to_owned();
    }
    if let Some(update) = action.update.as_mut() {
        update.table_name = table.to_owned();
    }
    if let Some(delete) = action.delete.as_mut() {
        delete.table_name = table.to_owned();
    }
    if let Some(check) = action.condition_check.as_mut() {
        check.table_name = table.to_owned();
    }
    action
}

fn transaction_error<R>(err: SdkError<TransactWriteItemsError, R>, labels: &[String]) -> StoreError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() {
        let reasons = cancelled.cancellation_reasons();
        if let Some(index) = reasons.iter().position(|r| r.code() == Some("ConditionalCheckFailed")) {
            let label = labels.get(index).cloned().unwrap_or_else(|| "a condition failed".into());
            return StoreError::Conflict(label);
        }
        if reasons.iter().any(|r| matches!(r.code(), Some("ThrottlingError" | "TransactionConflict"))) {
            return StoreError::Throttled;
        }
    }
    StoreError::from_sdk(err)
}
