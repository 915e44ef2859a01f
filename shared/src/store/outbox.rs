//! The email outbox (docs/ARCHITECTURE.md, "Items"): the emails still to send (`domain::OutboxItem`),
//! keyed by when they are due, plus the welcome-passphrase write on the account item. Outbox items hold no secret: a welcome's
//! passphrase is generated at delivery time and exists only in memory and in the email.
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dynamo::{applied, delete, from_item, key_item, put_new, s, to_item, update, Action, Item};
use super::keys::{
    account_pk, notice_sk, org_pk, timed_sk, timed_sk_bound, ACCOUNT_SK, OUTBOX_FAILED_PK, OUTBOX_PK,
    OUTBOX_UNREADABLE_PK,
};
use super::{Conflict, Record, Store, StoreError};
use crate::domain::{EmailAddress, OrgId, OutboxItem};
use aws_sdk_dynamodb::types::builders::UpdateBuilder;

/// One read of the due queue: the emails to deliver, and the items that cannot be read.
#[derive(Debug, Default)]
pub struct DueEmails {
    pub emails: Vec<OutboxItem>,
    pub unreadable: Vec<UnreadableEmail>,
}

/// An outbox item that cannot be read, so can never be sent: it is set aside for operators.
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadableEmail {
    /// Its sort key in the due queue.
    pub sk: String,
    /// Its `id` attribute, when it has one.
    pub id: Option<String>,
    /// Why it cannot be read; quoted values are left out, as the item may hold anything.
    pub reason: String,
    /// The item as found, without its key.
    pub attributes: Item,
}

impl UnreadableEmail {
    fn new(mut item: Item, error: &StoreError) -> Self {
        let sk = take_string(&mut item, "SK").unwrap_or_default();
        item.remove("PK");
        let id = item.get("id").and_then(|id| id.as_s().ok()).cloned();
        Self { sk, id, reason: without_quoted_values(&crate::telemetry::Chain(error).to_string()), attributes: item }
    }
}

fn take_string(item: &mut Item, name: &str) -> Option<String> {
    match item.remove(name) {
        Some(AttributeValue::S(value)) => Some(value),
        _ => None,
    }
}

/// The codec's messages quote the offending value (`invalid type: string "…"`): keep the shape of
/// the problem, never the content, out of logs and the set-aside record.
fn without_quoted_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            if !quoted {
                out.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

#[derive(Serialize, Deserialize)]
struct OutboxRecord {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    item: OutboxItem,
}

/// How claiming a welcome email went.
#[derive(Debug)]
pub enum WelcomeClaim {
    /// Claimed, with the account's new initial credential set: send it.
    Claimed(Box<OutboxItem>),
    /// Another delivery claimed it first.
    ClaimedElsewhere,
    /// The account waits for no welcome (delivered already, a passphrase chosen, or no account):
    /// nothing was claimed, and nothing must be sent.
    NotPending,
}

enum WelcomeClaimConflict {
    Elsewhere,
    NotPending,
}

/// The update that gives an account whose welcome is pending its initial credential.
fn initial_credential_update(email: &EmailAddress, hash: &str, expires_at: DateTime<Utc>) -> UpdateBuilder {
    update(key_item(account_pk(&email.normalized()), ACCOUNT_SK.into()))
        .update_expression(
            "SET initial_credential_hash = :hash, initial_credential_expires_at = :expires, \
             must_change_passphrase = :true REMOVE initial_credential_used_at",
        )
        .condition_expression("welcome_pending = :true")
        .expression_attribute_values(":hash", s(hash))
        .expression_attribute_values(":expires", s(expires_at.to_rfc3339()))
        .expression_attribute_values(":true", AttributeValue::Bool(true))
}

fn outbox_sk(due: DateTime<Utc>, id: &str) -> String {
    timed_sk(due, id)
}

fn outbox_key(item: &OutboxItem) -> Item {
    key_item(OUTBOX_PK.to_owned(), outbox_sk(item.due, &item.id))
}

fn encode(pk: &str, sk: String, item: &OutboxItem) -> Result<Item, StoreError> {
    to_item(&OutboxRecord { pk: pk.to_owned(), sk, item: item.clone() })
}

/// A put of a new outbox item in a transaction, so that a member and its welcome email (or a
/// notice and its email) are written together or not at all.
pub(crate) fn outbox_put_action(item: &OutboxItem) -> Result<TransactWriteItem, StoreError> {
    put_new(encode(OUTBOX_PK, outbox_sk(item.due, &item.id), item)?)
}

/// Deleting the item as it was read: the condition makes two runs that read the same item
/// disagree, so only one of them moves it.
fn delete_existing_action(item: &OutboxItem) -> Result<TransactWriteItem, StoreError> {
    delete(outbox_key(item)).condition_expression("attribute_exists(PK)").action()
}

impl Store {
    /// Adds an email to the outbox (outside of any other write).
    pub async fn enqueue_email(&self, item: &OutboxItem) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(OUTBOX_PK, outbox_sk(item.due, &item.id), item)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        if !applied(result)? {
            return Err(StoreError::Conflict(Conflict::Exists(Record::OutboxItem)));
        }
        Ok(())
    }

    /// Queues `item` unless the organization's notice `notice` was queued already (and is kept
    /// until `keep_until`): both in one transaction, so that requests retried at once, or
    /// concurrent ones, queue it once. `false` when it was queued already.
    pub async fn enqueue_email_once(
        &self,
        org: &OrgId,
        notice: &str,
        keep_until: DateTime<Utc>,
        item: &OutboxItem,
    ) -> Result<bool, StoreError> {
        let mut record = key_item(org_pk(org), notice_sk(notice));
        record.insert("ttl".into(), super::dynamo::n(keep_until.timestamp()));
        let actions = vec![
            (put_new(record)?, Conflict::Exists(Record::Notice)),
            (outbox_put_action(item)?, Conflict::Exists(Record::OutboxItem)),
        ];
        match self.transact(actions).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(Conflict::Exists(Record::Notice))) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// The readable emails among the oldest `limit` items due at `now`.
    pub async fn due_emails(&self, now: DateTime<Utc>, limit: i32) -> Result<Vec<OutboxItem>, StoreError> {
        Ok(self.due_outbox(now, limit).await?.emails)
    }

    /// The oldest items due at `now`, at most `limit`: the emails, and apart the items that
    /// cannot be read (one such item must not keep every other email from being delivered).
    pub async fn due_outbox(&self, now: DateTime<Utc>, limit: i32) -> Result<DueEmails, StoreError> {
        let bound = timed_sk_bound(now);
        let output = self
            .query_table()
            .key_condition_expression("PK = :pk AND SK < :bound")
            .expression_attribute_values(":pk", s(OUTBOX_PK))
            .expression_attribute_values(":bound", s(bound))
            .limit(limit)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let mut due = DueEmails::default();
        for item in output.items.unwrap_or_default() {
            match from_item::<OutboxRecord>(item.clone()) {
                // Claiming and completing address the item by the key its contents give.
                Ok(record) if record.sk == outbox_sk(record.item.due, &record.item.id) => due.emails.push(record.item),
                Ok(_) => {
                    let error = StoreError::malformed("its sort key does not match its due time and id");
                    due.unreadable.push(UnreadableEmail::new(item, &error));
                }
                Err(error) => due.unreadable.push(UnreadableEmail::new(item, &error)),
            }
        }
        Ok(due)
    }

    /// Moves an unreadable item out of the due queue into the unreadable list (keyed by `now`), as
    /// found plus the reason, in one transaction. `false` when it is not in the queue any more
    /// (another run set it aside first, or an operator removed it).
    pub async fn set_aside_unreadable_email(
        &self,
        bad: &UnreadableEmail,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let remove = delete(key_item(OUTBOX_PK.to_owned(), bad.sk.clone()))
            .condition_expression("attribute_exists(PK)")
            .action()?;
        let record: Item = [
            ("PK".to_owned(), s(OUTBOX_UNREADABLE_PK)),
            ("SK".to_owned(), s(timed_sk(now, &bad.sk))),
            ("original_sk".to_owned(), s(&bad.sk)),
            ("reason".to_owned(), s(&bad.reason)),
            ("set_aside_at".to_owned(), s(now.to_rfc3339())),
            ("original".to_owned(), AttributeValue::M(bad.attributes.clone())),
        ]
        .into();
        // Set aside by another run, or already: either way it is out of the queue.
        let actions = vec![
            (remove, Conflict::Changed(Record::OutboxItem)),
            (put_new(record)?, Conflict::Exists(Record::OutboxItem)),
        ];
        match self.transact(actions).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Every item set aside as unreadable, oldest first.
    pub async fn unreadable_emails(&self) -> Result<Vec<UnreadableEmail>, StoreError> {
        let query = self
            .query_table()
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(OUTBOX_UNREADABLE_PK));
        self.query_all_decoded(query, |mut item| {
            let sk = take_string(&mut item, "original_sk").unwrap_or_default();
            let reason = take_string(&mut item, "reason").unwrap_or_default();
            let attributes = match item.remove("original") {
                Some(AttributeValue::M(attributes)) => attributes,
                _ => Item::new(),
            };
            let id = attributes.get("id").and_then(|id| id.as_s().ok()).cloned();
            Ok(UnreadableEmail { sk, id, reason, attributes })
        })
        .await
    }

    /// Claims an email for one delivery attempt by moving it to `retry_at` with one more attempt, in
    /// one transaction. The claim is also the retry: a run that dies mid-send leaves the email due
    /// again at `retry_at`. `None` when another run claimed (or completed) it first.
    pub async fn claim_email(
        &self,
        item: &OutboxItem,
        retry_at: DateTime<Utc>,
    ) -> Result<Option<OutboxItem>, StoreError> {
        let claimed = OutboxItem { attempts: item.attempts.saturating_add(1), due: retry_at, ..item.clone() };
        let moved = self.move_email(item, OUTBOX_PK, outbox_sk(retry_at, &claimed.id), &claimed).await;
        match moved {
            Ok(()) => Ok(Some(claimed)),
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Notes why the last attempt of a claimed email failed (the email stays due at its retry time).
    pub async fn record_email_error(&self, item: &OutboxItem, error: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(outbox_key(item)))
            .update_expression("SET last_error = :error")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":error", s(error))
            .send()
            .await;
        if !applied(result)? {
            return Err(StoreError::NotFound(Record::OutboxItem));
        }
        Ok(())
    }

    /// Removes a sent (or no longer needed) email. Idempotent.
    pub async fn complete_email(&self, item: &OutboxItem) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(outbox_key(item)))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }

    /// Gives up on an email: it moves to the failed list (keyed by `now`) with `error`, and is
    /// never retried.
    pub async fn fail_email_permanently(
        &self,
        item: &OutboxItem,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let failed = OutboxItem { last_error: Some(error.to_owned()), ..item.clone() };
        self.move_email(item, OUTBOX_FAILED_PK, outbox_sk(now, &item.id), &failed).await
    }

    /// Every email given up on, oldest failure first.
    pub async fn failed_emails(&self) -> Result<Vec<OutboxItem>, StoreError> {
        let query = self
            .query_table()
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(OUTBOX_FAILED_PK));
        self.query_all_decoded(query, |item| Ok(from_item::<OutboxRecord>(item)?.item)).await
    }

    /// Sets a new account's one-time initial passphrase (its keyed hash, its expiry) and the
    /// must-change flag while its welcome is pending. `false` when it is not pending any more (the
    /// welcome was delivered, or the user has set a passphrase) or there is no such account: then
    /// nothing must be sent. (Delivery does this inside `claim_welcome`; kept for operators' tools
    /// and tests that set a credential without an email.)
    pub async fn set_initial_credential(
        &self,
        email: &EmailAddress,
        hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let update = initial_credential_update(email, hash, expires_at).table_name(&self.table).build();
        let update = update.map_err(StoreError::backend)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_values(update.expression_attribute_values)
            .send()
            .await;
        applied(result)
    }

    /// Claims a welcome email as `claim_email` does and, in the same transaction, sets the
    /// account's initial credential (`set_initial_credential`): one call where there were two.
    /// `welcome_pending` stays true until `complete_welcome`, so a send that fails after this is
    /// retried with a fresh credential instead of being skipped; the new one replaces the old.
    pub async fn claim_welcome(
        &self,
        item: &OutboxItem,
        retry_at: DateTime<Utc>,
        account: &EmailAddress,
        hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<WelcomeClaim, StoreError> {
        let claimed = OutboxItem { attempts: item.attempts.saturating_add(1), due: retry_at, ..item.clone() };
        let actions = vec![
            (delete_existing_action(item)?, WelcomeClaimConflict::Elsewhere),
            (put_new(encode(OUTBOX_PK, outbox_sk(retry_at, &claimed.id), &claimed)?)?, WelcomeClaimConflict::Elsewhere),
            (initial_credential_update(account, hash, expires_at).action()?, WelcomeClaimConflict::NotPending),
        ];
        Ok(match self.transact_labelled(actions).await? {
            Ok(()) => WelcomeClaim::Claimed(Box::new(claimed)),
            Err(WelcomeClaimConflict::Elsewhere) => WelcomeClaim::ClaimedElsewhere,
            Err(WelcomeClaimConflict::NotPending) => WelcomeClaim::NotPending,
        })
    }

    /// Marks an account's welcome as delivered (later welcome deliveries send nothing) and
    /// removes the delivered item, in one transaction.
    pub async fn complete_welcome(&self, item: &OutboxItem, account: &EmailAddress) -> Result<(), StoreError> {
        let finish = update(key_item(account_pk(&account.normalized()), ACCOUNT_SK.into()))
            .update_expression("SET welcome_pending = :false")
            // Never create a stray account item.
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .action()?;
        let actions = vec![
            (finish, Conflict::Changed(Record::Account)),
            (delete(outbox_key(item)).action()?, Conflict::Changed(Record::OutboxItem)),
        ];
        self.transact(actions).await
    }

    /// Deletes `from` (which must still exist) and puts `to` under `pk`/`sk`, in one transaction.
    async fn move_email(&self, from: &OutboxItem, pk: &str, sk: String, to: &OutboxItem) -> Result<(), StoreError> {
        let actions = vec![
            (delete_existing_action(from)?, Conflict::Changed(Record::OutboxItem)),
            (put_new(encode(pk, sk, to)?)?, Conflict::Exists(Record::OutboxItem)),
        ];
        self.transact(actions).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::OrgId;
    use chrono::TimeZone;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 3, hour, 0, 0).unwrap()
    }

    #[test]
    fn items_round_trip_through_the_item_codec() {
        let org = OrgId::parse("acme").unwrap();
        let owner = EmailAddress::parse("Owner@Example.com").unwrap();
        let mut expiring = OutboxItem::token_expiring(vec![owner.clone()], &org, "Acme", 7, at(12), at(1));
        expiring.attempts = 3;
        expiring.last_error = Some("throttled".into());
        for item in [
            OutboxItem::welcome(&owner, &org, "Acme", at(1)),
            expiring,
            OutboxItem::token_expired(vec![owner.clone()], &org, "Acme", at(1)),
        ] {
            let encoded = encode(OUTBOX_PK, outbox_sk(item.due, &item.id), &item).unwrap();
            assert_eq!(encoded["PK"], s("OUTBOX"));
            let decoded: OutboxRecord = from_item(encoded).unwrap();
            assert_eq!(decoded.item, item);
        }
    }

    #[test]
    fn sort_keys_order_by_due_time_and_stop_at_the_bound() {
        let early = outbox_sk(at(1), "ffff");
        let later = outbox_sk(at(2), "0000");
        assert!(early < later);
        let bound = timed_sk_bound(at(1));
        assert!(early < bound && bound < later);
    }

    #[test]
    fn an_unreadable_item_keeps_its_key_and_attributes_but_no_quoted_value_in_its_reason() {
        let item: Item = [
            ("PK".to_owned(), s(OUTBOX_PK)),
            ("SK".to_owned(), s("2026-11-03T01:00:00.000000Z#abc")),
            ("id".to_owned(), s("abc")),
            ("attempts".to_owned(), s("hunter2")),
        ]
        .into();
        let error = from_item::<OutboxRecord>(item.clone()).err().unwrap();
        let bad = UnreadableEmail::new(item, &error);
        assert_eq!((bad.sk.as_str(), bad.id.as_deref()), ("2026-11-03T01:00:00.000000Z#abc", Some("abc")));
        assert!(bad.reason.contains("could not be decoded"), "{}", bad.reason);
        assert!(!bad.reason.contains("hunter2"), "{}", bad.reason);
        assert_eq!(bad.attributes.get("attempts"), Some(&s("hunter2")));
        assert!(!bad.attributes.contains_key("PK") && !bad.attributes.contains_key("SK"));
        assert_eq!(
            without_quoted_values(r#"invalid type: string "x y", expected u32"#),
            r#"invalid type: string "…", expected u32"#
        );
    }

    #[test]
    fn the_put_action_only_creates() {
        let org = OrgId::parse("acme").unwrap();
        let item = OutboxItem::welcome(&EmailAddress::parse("a@example.com").unwrap(), &org, "Acme", at(1));
        let action = outbox_put_action(&item).unwrap();
        let put = action.put.unwrap();
        assert_eq!(put.condition_expression.as_deref(), Some("attribute_not_exists(PK)"));
        assert_eq!(put.item["SK"], s(outbox_sk(at(1), &item.id)));
    }
}
