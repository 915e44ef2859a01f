//! The console's account state: admin sessions (keyed by a keyed hash of the session token, never
//! the token), sign-in attempt counters, passphrase reset codes (hashed), and passphrase changes.
//!
//! Every item that must vanish carries `ttl`; DynamoDB deletes expired items only eventually (and
//! moto never), so the readers check expiry times themselves.
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::dynamo::{applied, condition_failed, from_item, s, to_item};
use super::keys::{
    account_pk, account_sessions_gsi_pk, attempts_pk, attempts_window_sk, email_guard_sk, org_pk, session_pk,
    session_pk_of, user_sk, ACCOUNT_SK, RESET_SK, SESSION_SK,
};
use super::{Record, Store, StoreError};
use crate::domain::{EmailAddress, OrgId};
use crate::store::members::decode_member;
use crate::store::MemberRecord;

/// A signed-in console session. The token itself is never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub account_email: EmailAddress,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set when the account had to change its initial passphrase at sign-in: such a session may
    /// only change the passphrase (or sign out).
    pub must_change_passphrase: bool,
}

impl SessionRecord {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

#[derive(Serialize, Deserialize)]
struct SessionItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    ttl: i64,
    #[serde(flatten)]
    session: SessionRecord,
}

/// A pending passphrase reset: the keyed hash of the code mailed to the account, single use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResetCodeRecord {
    pub code_hash: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Wrong codes tried against this one so far.
    #[serde(default)]
    pub failed_attempts: u32,
}

#[derive(Serialize, Deserialize)]
struct ResetCodeItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    ttl: i64,
    #[serde(flatten)]
    reset: ResetCodeRecord,
}

impl Store {
    pub async fn put_session(&self, token_hash: &str, session: &SessionRecord) -> Result<(), StoreError> {
        let normalized = session.account_email.normalized();
        let item = to_item(&SessionItem {
            pk: session_pk(token_hash),
            sk: SESSION_SK.into(),
            gsi1pk: account_sessions_gsi_pk(&normalized),
            gsi1sk: session_pk(token_hash),
            ttl: session.expires_at.timestamp(),
            session: session.clone(),
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }

    /// The session under `token_hash`, read consistently so that a sign-out is final at once.
    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let output = self.item_by_key(session_pk(token_hash), SESSION_SK).await?;
        output.item.map(|item| from_item::<SessionItem>(item).map(|i| i.session)).transpose()
    }

    /// Revokes one session. Idempotent.
    pub async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(session_pk(token_hash)))
            .key("SK", s(SESSION_SK))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }

    /// Lifts the passphrase-change-only restriction of a session (after the change).
    pub async fn unrestrict_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(session_pk(token_hash)))
            .key("SK", s(SESSION_SK))
            .update_expression("SET must_change_passphrase = :false")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        if !applied(result)? {
            return Err(StoreError::NotFound(Record::Session));
        }
        Ok(())
    }

    /// Revokes every session of an account except `keep` (a token hash). Returns how many.
    pub async fn revoke_account_sessions(&self, email: &EmailAddress, keep: Option<&str>) -> Result<usize, StoreError> {
        let query = self.gsi1_query(account_sessions_gsi_pk(&email.normalized()));
        let mut hashes = Vec::new();
        self.query_pages(query, |items| {
            for item in items {
                let hash = item.get("PK").and_then(|v| v.as_s().ok()).and_then(|pk| session_pk_of(pk));
                if let Some(hash) = hash.filter(|hash| Some(*hash) != keep) {
                    hashes.push(hash.to_owned());
                }
            }
            Ok(true)
        })
        .await?;
        for hash in &hashes {
            self.delete_session(hash).await?;
        }
        Ok(hashes.len())
    }

    /// Counts one attempt in the counter `scope` (e.g. an account or a source address) for the
    /// window `window_start`, atomically, and returns the count including this attempt. Counting
    /// before the check means parallel guesses cannot slip past the limit.
    pub async fn count_attempt(
        &self,
        scope: &str,
        window_start: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(attempts_pk(scope)))
            .key("SK", s(attempts_window_sk(window_start)))
            .update_expression("ADD attempts :one SET #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":ttl", AttributeValue::N(expires_at.timestamp().to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let count = output
            .attributes
            .as_ref()
            .and_then(|a| a.get("attempts"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(1);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Gives back an attempt that succeeded: only failures keep counting against the limit.
    pub async fn give_back_attempt(&self, scope: &str, window_start: DateTime<Utc>) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(attempts_pk(scope)))
            .key("SK", s(attempts_window_sk(window_start)))
            .update_expression("ADD attempts :minus_one")
            .condition_expression("attempts > :zero")
            .expression_attribute_values(":minus_one", AttributeValue::N("-1".into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        applied(result).map(|_| ())
    }

    /// Stores the account's reset code, replacing any earlier one (which stops working).
    pub async fn put_reset_code(&self, email: &EmailAddress, reset: &ResetCodeRecord) -> Result<(), StoreError> {
        let item = to_item(&ResetCodeItem {
            pk: account_pk(&email.normalized()),
            sk: RESET_SK.into(),
            ttl: reset.expires_at.timestamp(),
            reset: reset.clone(),
        })?;
        self.put_unconditionally(item).await?;
        Ok(())
    }

    pub async fn reset_code(&self, email: &EmailAddress) -> Result<Option<ResetCodeRecord>, StoreError> {
        let output = self.item_by_key(account_pk(&email.normalized()), RESET_SK).await?;
        output.item.map(|item| from_item::<ResetCodeItem>(item).map(|i| i.reset)).transpose()
    }

    /// Notes a wrong code against the pending reset of `code_hash`; after `max_failures` the code
    /// is deleted (it cannot be guessed further).
    pub async fn fail_reset_code(
        &self,
        email: &EmailAddress,
        code_hash: &str,
        max_failures: u32,
    ) -> Result<(), StoreError> {
        let key_pk = s(account_pk(&email.normalized()));
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", key_pk.clone())
            .key("SK", s(RESET_SK))
            .update_expression("ADD failed_attempts :one")
            .condition_expression("code_hash = :hash")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":hash", s(code_hash))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            // Replaced or used meanwhile: nothing left to count against.
            Err(err) if condition_failed(&err) => return Ok(()),
            Err(err) => return Err(StoreError::from_sdk(err)),
        };
        let failures = output
            .attributes
            .as_ref()
            .and_then(|a| a.get("failed_attempts"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        if failures >= max_failures {
            self.consume_reset_code(email, code_hash).await?;
        }
        Ok(())
    }

    /// Deletes the pending reset if it still holds `code_hash`: `true` for the one caller that
    /// consumed it (single use even under concurrent confirmations).
    pub async fn consume_reset_code(&self, email: &EmailAddress, code_hash: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("PK", s(account_pk(&email.normalized())))
            .key("SK", s(RESET_SK))
            .condition_expression("code_hash = :hash")
            .expression_attribute_values(":hash", s(code_hash))
            .send()
            .await;
        applied(result)
    }

    /// Spends an account's initial passphrase: `true` for the one sign-in that may use it, `false`
    /// when it was used (or replaced) meanwhile. The caller has checked the hash and the expiry.
    pub async fn use_initial_credential(
        &self,
        email: &EmailAddress,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(account_pk(&email.normalized())))
            .key("SK", s(ACCOUNT_SK))
            .update_expression("SET initial_credential_used_at = :now")
            .condition_expression(
                "initial_credential_hash = :hash AND attribute_not_exists(initial_credential_used_at)",
            )
            .expression_attribute_values(":hash", s(hash))
            .expression_attribute_values(":now", s(now.to_rfc3339()))
            .send()
            .await;
        applied(result)
    }

    /// Sets an account's passphrase chosen by its owner. Also clears `must_change_passphrase` and
    /// `welcome_pending`: a late welcome retry then finds nothing pending and cannot overwrite it.
    pub async fn set_account_passphrase(&self, email: &EmailAddress, hash: &str) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(account_pk(&email.normalized())))
            .key("SK", s(ACCOUNT_SK))
            // The initial passphrase goes with the choice: it is one-time.
            .update_expression(
                "SET passphrase_hash = :hash, must_change_passphrase = :false, welcome_pending = :false \
                 REMOVE initial_credential_hash, initial_credential_expires_at, initial_credential_used_at",
            )
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":hash", s(hash))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .send()
            .await;
        if !applied(result)? {
            return Err(StoreError::NotFound(Record::Account));
        }
        Ok(())
    }

    /// The member of `org` that signs in with `email`, through the email guard, read consistently
    /// (a demoted or removed admin loses access at once).
    pub async fn org_member_by_email(
        &self,
        org: &OrgId,
        email: &EmailAddress,
    ) -> Result<Option<MemberRecord>, StoreError> {
        let guard = self
            .read_item()
            .key("PK", s(org_pk(org)))
            .key("SK", s(email_guard_sk(&email.normalized())))
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        let Some(member_id) = guard.item.as_ref().and_then(|i| i.get("member_id")).and_then(|v| v.as_s().ok()) else {
            return Ok(None);
        };
        let output = self.item_by_key(org_pk(org), user_sk(member_id)).await?;
        let member = output.item.map(decode_member).transpose()?.flatten();
        // The guard and the member are written together; re-check in case of a torn read.
        Ok(member.filter(|m| m.email == *email))
    }
}
