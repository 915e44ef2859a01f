//! What the token scheduler reads and writes: the sparse expiry index of SCIM tokens (GSI1,
//! `SCIM_TOKEN_EXPIRY`, written by `scim_settings_put`), an organization's owners and co-owners
//! (GSI1, `ORG#{org}#ADMINS`), and the conditional writes of a refresh, a refresh failure and an
//! expiry notice on the SCIM settings item.
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::admin_history::{history_put_action, ScimHistoryAction, ScimHistoryEntry};
use super::dynamo::{applied, from_item, key_item, n as number, s, to_attribute as attribute, update, Action, Item};
use super::keys::{admins_gsi_pk, org_of_pk, org_pk, token_expiry_gsi_bound, token_expiry_gsi_sk, SCIM_SK};
use super::members::decode_member;
use super::outbox::outbox_put_action;
use super::table::GSI1_NAME;
use super::{Conflict, MemberRecord, OutboxItem, Record, Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::{OrgId, RefreshFailure, ScimSettings};

/// GSI1 partition of the SCIM settings items whose token expires.
pub const TOKEN_EXPIRY_GSI_PK: &str = "SCIM_TOKEN_EXPIRY";

/// One entry of the expiry index, decoded on its own: one bad item must not hide the others.
#[derive(Debug)]
pub struct ExpiryIndexEntry {
    /// The item's partition key, to name an entry that cannot be decoded.
    pub key: String,
    pub decoded: Result<(OrgId, ScimSettings), StoreError>,
}

impl Store {
    /// Every SCIM settings item whose token expires at or before `until` (already expired ones
    /// included), earliest expiry first: a query of the sparse expiry index, never a table scan.
    pub async fn scim_tokens_expiring_by(&self, until: DateTime<Utc>) -> Result<Vec<ExpiryIndexEntry>, StoreError> {
        let bound = token_expiry_gsi_bound(until);
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1_NAME)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK <= :bound")
            .expression_attribute_values(":pk", s(TOKEN_EXPIRY_GSI_PK))
            .expression_attribute_values(":bound", s(bound));
        self.query_all_decoded(query, |item| Ok(decode_expiry_entry(item))).await
    }

    /// The owners and co-owners of an organization (its sparse admins partition of GSI1).
    pub async fn organization_admins(&self, org: &AuthorizedOrg) -> Result<Vec<MemberRecord>, StoreError> {
        let query = self.gsi1_query(admins_gsi_pk(org));
        let admins = self.query_all_decoded(query, decode_member).await?;
        Ok(admins.into_iter().flatten().collect())
    }

    /// Extends the current token to `expires_at` (same token value, same hash), if the settings
    /// are still at `read.version`: moves its expiry index entry, records the refresh, and clears
    /// the failure and the notices, which were about the old expiry; the history gets the
    /// extension (old and new expiry) in the same transaction, so none goes unrecorded.
    /// `VersionMismatch` when another writer (a concurrent run, a manual refresh) changed the
    /// settings first.
    pub async fn extend_scim_token(
        &self,
        org: &AuthorizedOrg,
        read: &ScimSettings,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let settings = update(settings_key(org))
            .update_expression(
                "SET token_expires_at = :expires, GSI1PK = :gsi_pk, GSI1SK = :gsi_sk, version = :next, \
                 last_auto_refresh_at = :now REMOVE last_refresh_failure, notices_sent",
            )
            .condition_expression("version = :expected")
            .expression_attribute_values(":expires", attribute(&expires_at)?)
            .expression_attribute_values(":gsi_pk", s(TOKEN_EXPIRY_GSI_PK))
            .expression_attribute_values(":gsi_sk", s(token_expiry_gsi_sk(expires_at, org)))
            .expression_attribute_values(":next", number(read.next_version()))
            .expression_attribute_values(":now", attribute(&now)?)
            .expression_attribute_values(":expected", number(read.version))
            .action()?;
        let mut entry = ScimHistoryEntry::new(ScimHistoryAction::TokenAutoRefreshed, None, now);
        entry.idp = Some(read.idp);
        entry.window = Some(read.token_window);
        entry.token_expires_at = Some(expires_at);
        entry.previous_token_expires_at = read.token_expires_at;
        let actions = vec![
            (settings, Conflict::SettingsChanged),
            (history_put_action(org, &entry)?, Conflict::Exists(Record::HistoryEntry)),
        ];
        match self.transact(actions).await {
            Err(StoreError::Conflict(Conflict::SettingsChanged)) => Err(StoreError::VersionMismatch),
            other => other,
        }
    }

    /// Records why the token could not be refreshed, if the settings are still at `version`
    /// (`VersionMismatch` otherwise). The version is not bumped: this is bookkeeping, not a change
    /// an admin's concurrent edit should lose to.
    pub async fn record_refresh_failure(
        &self,
        org: &AuthorizedOrg,
        version: u64,
        failure: &RefreshFailure,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(settings_key(org)))
            .update_expression("SET last_refresh_failure = :failure")
            .condition_expression("version = :expected")
            .expression_attribute_values(":failure", attribute(failure)?)
            .expression_attribute_values(":expected", number(version))
            .send()
            .await;
        if !applied(result)? {
            return Err(StoreError::VersionMismatch);
        }
        Ok(())
    }

    /// Records an expiry notice as sent and queues its email, in one transaction, unless the notice
    /// is recorded already or the settings left `version`: then nothing is written and the answer
    /// is `false`. The condition is checked by DynamoDB, so two overlapping runs queue it once.
    /// `failure`, when given, is recorded in the same write.
    pub async fn record_expiry_notice(
        &self,
        org: &AuthorizedOrg,
        version: u64,
        notice_key: &str,
        failure: Option<&RefreshFailure>,
        email: &OutboxItem,
    ) -> Result<bool, StoreError> {
        let mut update = update(settings_key(org))
            .condition_expression("version = :expected AND NOT contains(notices_sent, :key)")
            .expression_attribute_values(":expected", number(version))
            .expression_attribute_values(":key", s(notice_key))
            .expression_attribute_values(":keys", AttributeValue::Ss(vec![notice_key.to_owned()]));
        update = match failure {
            Some(failure) => update
                .update_expression("ADD notices_sent :keys SET last_refresh_failure = :failure")
                .expression_attribute_values(":failure", attribute(failure)?),
            None => update.update_expression("ADD notices_sent :keys"),
        };
        // The notice recorded already, or the settings changed: either way, nothing to send.
        let actions = vec![
            (update.action()?, Conflict::Exists(Record::Notice)),
            (outbox_put_action(email)?, Conflict::Exists(Record::OutboxItem)),
        ];
        match self.transact(actions).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(Conflict::Exists(Record::Notice))) => Ok(false),
            Err(err) => Err(err),
        }
    }
}

fn settings_key(org: &OrgId) -> Item {
    key_item(org_pk(org), SCIM_SK.into())
}

fn decode_expiry_entry(item: Item) -> ExpiryIndexEntry {
    let key = item.get("PK").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let org = org_of_pk(&key)
        .and_then(|id| OrgId::parse(id).ok())
        .ok_or_else(|| StoreError::malformed(format!("expiry index item '{key}' has no organization key")));
    let decoded = org.and_then(|org| from_item::<ScimSettings>(item).map(|settings| (org, settings)));
    ExpiryIndexEntry { key, decoded }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IdentityProvider, TokenHash, TokenWindow};
    use crate::store::keys::token_expiry_gsi_sk;
    use crate::store::CodecError;
    use chrono::TimeZone;

    fn scim_settings_put(
        org: &OrgId,
        settings: &ScimSettings,
        expected: Option<u64>,
    ) -> Result<aws_sdk_dynamodb::types::Put, StoreError> {
        let put = crate::store::organizations::scim_settings_put(org, settings, expected)?;
        Ok(put.table_name("t").build().unwrap())
    }

    fn settings(notices: Vec<String>) -> ScimSettings {
        let created = Utc.with_ymd_and_hms(2026, 11, 3, 6, 0, 0).unwrap();
        let hash = TokenHash::new("h".into()).unwrap();
        ScimSettings {
            version: 4,
            last_refresh_failure: Some(RefreshFailure { reason: "plan".into(), at: created }),
            notices_sent: notices,
            ..ScimSettings::enabled(None, IdentityProvider::Okta, TokenWindow::Days30, hash, created)
        }
    }

    #[test]
    fn the_index_key_is_the_one_the_settings_put_writes() {
        let org = OrgId::parse("acme").unwrap();
        let settings = settings(Vec::new());
        let put = scim_settings_put(&org, &settings, Some(3)).unwrap();
        let expires_at = settings.token_expires_at.unwrap();
        assert_eq!(put.item["GSI1PK"], s(TOKEN_EXPIRY_GSI_PK));
        assert_eq!(put.item["GSI1SK"], s(token_expiry_gsi_sk(expires_at, &org)));
        // The same encoding as the codec: conditions and updates compare like with like.
        assert_eq!(put.item["token_expires_at"], attribute(&expires_at).unwrap());
    }

    #[test]
    fn notices_are_a_string_set_and_an_empty_set_is_left_out() {
        let org = OrgId::parse("acme").unwrap();
        let with = settings(vec!["a|b|20d".into(), "a|b|7d".into()]);
        let item = scim_settings_put(&org, &with, None).unwrap().item;
        assert_eq!(item["notices_sent"], AttributeValue::Ss(vec!["a|b|20d".into(), "a|b|7d".into()]));
        let entry = decode_expiry_entry(item);
        assert_eq!(entry.key, "ORG#acme");
        assert_eq!(entry.decoded.unwrap(), (org.clone(), with));

        let without = scim_settings_put(&org, &settings(Vec::new()), None).unwrap().item;
        assert!(!without.contains_key("notices_sent"));
        assert_eq!(decode_expiry_entry(without).decoded.unwrap().1.notices_sent, Vec::<String>::new());
    }

    #[test]
    fn an_undecodable_entry_keeps_its_key() {
        let item: Item = [("PK".to_owned(), s("ORG#broken")), ("enabled".to_owned(), s("yes"))].into();
        let entry = decode_expiry_entry(item);
        assert_eq!(entry.key, "ORG#broken");
        assert!(matches!(entry.decoded, Err(StoreError::Codec(_))));
        let keyless = decode_expiry_entry(Item::new());
        assert!(
            matches!(keyless.decoded, Err(StoreError::Codec(CodecError::Malformed(message))) if message.contains("no organization"))
        );
    }

    #[test]
    fn the_query_bound_keeps_keys_up_to_and_at_the_limit() {
        let org = OrgId::parse("zz_top-9").unwrap();
        let until = Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0).unwrap();
        let bound = token_expiry_gsi_bound(until);
        let at = |at: DateTime<Utc>| token_expiry_gsi_sk(at, &org);
        assert!(at(until) <= bound);
        assert!(at(until - chrono::Duration::nanoseconds(1)) <= bound);
        assert!(at(until + chrono::Duration::milliseconds(500)) > bound);
        assert!(at(until + chrono::Duration::seconds(1)) > bound);
    }
}
