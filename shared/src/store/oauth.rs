//! The OAuth items of an organization's SCIM connector (docs/ARCHITECTURE.md, "Tokens: rotation,
//! revoke, OAuth"): its client, access tokens, refresh tokens, authorization codes and
//! refresh-token families, each secret under the key of its keyed hash (`OAUTH#AT#{hash}`, …), so
//! a presented one is found by a direct read; and the last-use writes of every credential.
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::dynamo::{
    condition_failed, delete, from_item, key_item, n, put, s, to_attribute, to_item, update, Action, Item,
};
use super::keys::{
    access_token_sk, code_sk, family_sk, org_pk, refresh_token_sk, OAUTH_CLIENTS_GSI_PK, OAUTH_CLIENT_SK as CLIENT_SK,
    OAUTH_CODE_PREFIX, OAUTH_FAMILY_PREFIX, OAUTH_REFRESH_PREFIX, SCIM_SK,
};
use super::organizations::{decode_scim_settings, scim_settings_put};
use super::{Conflict, Record, ScimHistoryEntry, Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::{AccessGrant, ClientId, CodeGrant, GrantFamily, OAuthClient, OrgId, RefreshGrant, ScimSettings};

/// Items outlive their secret (`lifetimes::OAUTH_ITEM_GRACE`; DynamoDB's TTL deletes only
/// eventually, and checks compare the expiry themselves).
fn ttl(expires_at: DateTime<Utc>) -> AttributeValue {
    n((expires_at + crate::lifetimes::OAUTH_ITEM_GRACE).timestamp())
}

#[derive(Serialize, Deserialize)]
struct Keyed<T> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    value: T,
}

fn item_of<T: Serialize>(
    org: &OrgId,
    sk: String,
    value: &T,
    expires_at: Option<DateTime<Utc>>,
) -> Result<Item, StoreError> {
    let mut item = to_item(&Keyed { pk: org_pk(org), sk, value })?;
    if let Some(at) = expires_at {
        item.insert("ttl".into(), ttl(at));
    }
    Ok(item)
}

fn client_item(org: &OrgId, client: &OAuthClient) -> Result<Item, StoreError> {
    let mut item = item_of(org, CLIENT_SK.into(), client, None)?;
    item.insert("GSI1PK".into(), s(OAUTH_CLIENTS_GSI_PK));
    item.insert("GSI1SK".into(), s(org.as_str()));
    Ok(item)
}

fn decode<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    from_item::<Keyed<T>>(item).map(|k| k.value)
}

fn put_if(item: Item, condition: Option<&str>) -> Result<TransactWriteItem, StoreError> {
    put(item).set_condition_expression(condition.map(str::to_owned)).action()
}

/// What the token endpoint reads for a request, in one BatchGetItem.
#[derive(Debug, Default)]
pub struct OAuthRead {
    pub settings: Option<ScimSettings>,
    pub client: Option<OAuthClient>,
    pub refresh: Option<RefreshGrant>,
    pub family: Option<GrantFamily>,
    pub code: Option<CodeGrant>,
}

/// What claiming a single-use secret found.
#[derive(Debug)]
pub enum Claim<T> {
    /// It was unused: now it is used, and this is it.
    Claimed(T),
    /// It had been used already (a replay).
    Reused(T),
    Missing,
}

impl Store {
    /// The organization's settings, its OAuth client, and, by keyed hash, a refresh token (with
    /// its family when `family` is given) and a code: one BatchGetItem.
    pub async fn oauth_read(
        &self,
        org: &OrgId,
        refresh_hash: Option<&str>,
        family: Option<&str>,
        code_hash: Option<&str>,
    ) -> Result<OAuthRead, StoreError> {
        let in_org = |sk: String| key_item(org_pk(org), sk);
        let mut keys = vec![in_org(SCIM_SK.into()), in_org(CLIENT_SK.into())];
        keys.extend(refresh_hash.map(|h| in_org(refresh_token_sk(h))));
        keys.extend(family.map(|f| in_org(family_sk(f))));
        keys.extend(code_hash.map(|h| in_org(code_sk(h))));
        let mut read = OAuthRead::default();
        for item in self.batch_get(keys).await? {
            let sk = item.get("SK").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            if sk == SCIM_SK {
                read.settings = Some(decode_scim_settings(item)?);
            } else if sk == CLIENT_SK {
                read.client = Some(decode(item)?);
            } else if sk.starts_with(OAUTH_REFRESH_PREFIX) {
                read.refresh = Some(decode(item)?);
            } else if sk.starts_with(OAUTH_FAMILY_PREFIX) {
                read.family = Some(decode(item)?);
            } else if sk.starts_with(OAUTH_CODE_PREFIX) {
                read.code = Some(decode(item)?);
            }
        }
        Ok(read)
    }

    pub async fn oauth_client(&self, org: &AuthorizedOrg) -> Result<Option<OAuthClient>, StoreError> {
        let output = self.item_by_key(org_pk(org), CLIENT_SK).await?;
        output.item.map(decode).transpose()
    }

    /// Every organization with an OAuth client (GSI1: eventually consistent, enough for a daily
    /// run; each client is then read consistently). An entry whose id does not parse is skipped.
    pub async fn oauth_client_orgs(&self) -> Result<Vec<OrgId>, StoreError> {
        let query = self.gsi1_query(OAUTH_CLIENTS_GSI_PK.to_owned());
        let ids = self
            .query_all_decoded(query, |item| {
                Ok(item.get("GSI1SK").and_then(|v| v.as_s().ok()).and_then(|raw| OrgId::parse(raw).ok()))
            })
            .await?;
        Ok(ids.into_iter().flatten().collect())
    }

    /// Records an OAuth expiry notice on the client it is about and queues its email, in one
    /// transaction; `false` when this client already had it (or was replaced meanwhile).
    pub async fn record_oauth_notice(
        &self,
        org: &AuthorizedOrg,
        client: &ClientId,
        notice_key: &str,
        email: &super::OutboxItem,
    ) -> Result<bool, StoreError> {
        let record = update(key_item(org_pk(org), CLIENT_SK.into()))
            .update_expression("ADD notices_sent :keys")
            .condition_expression("client_id = :client AND NOT contains(notices_sent, :key)")
            .expression_attribute_values(":client", s(client.as_str()))
            .expression_attribute_values(":key", s(notice_key))
            .expression_attribute_values(":keys", AttributeValue::Ss(vec![notice_key.to_owned()]))
            .action()?;
        let actions = vec![
            (record, Conflict::Exists(Record::Notice)),
            (super::outbox::outbox_put_action(email)?, Conflict::Exists(Record::OutboxItem)),
        ];
        match self.transact(actions).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(Conflict::Exists(Record::Notice))) => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Writes the client (replacing any), the settings with the grant epoch it moved on to, and
    /// the history entry, in one transaction (`VersionMismatch` when the settings changed).
    pub async fn put_oauth_client(
        &self,
        org: &AuthorizedOrg,
        client: &OAuthClient,
        settings: &ScimSettings,
        expected_version: u64,
        entry: &ScimHistoryEntry,
    ) -> Result<(), StoreError> {
        let actions = vec![
            (scim_settings_put(org, settings, Some(expected_version))?.action()?, Conflict::SettingsChanged),
            (put(client_item(org, client)?).action()?, Conflict::Changed(Record::OAuthClient)),
            (super::admin_history::history_put_action(org, entry)?, Conflict::Exists(Record::HistoryEntry)),
        ];
        settings_version_checked(self.transact(actions).await)
    }

    /// Removes the client, moving the grant epoch on in the same transaction.
    pub async fn delete_oauth_client(
        &self,
        org: &AuthorizedOrg,
        settings: &ScimSettings,
        expected_version: u64,
        entry: &ScimHistoryEntry,
    ) -> Result<(), StoreError> {
        let actions = vec![
            (scim_settings_put(org, settings, Some(expected_version))?.action()?, Conflict::SettingsChanged),
            (delete(key_item(org_pk(org), CLIENT_SK.into())).action()?, Conflict::Changed(Record::OAuthClient)),
            (super::admin_history::history_put_action(org, entry)?, Conflict::Exists(Record::HistoryEntry)),
        ];
        settings_version_checked(self.transact(actions).await)
    }

    pub async fn put_code(&self, org: &OrgId, hash: &str, code: &CodeGrant) -> Result<(), StoreError> {
        let item = item_of(org, code_sk(hash), code, Some(code.expires_at))?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)");
        if !super::dynamo::applied(put.send().await)? {
            return Err(StoreError::Conflict(Conflict::Exists(Record::Grant)));
        }
        Ok(())
    }

    /// Marks a code used (naming the family its exchange starts), if it was not: one conditional
    /// update, so two concurrent exchanges cannot both succeed.
    pub async fn claim_code(
        &self,
        org: &OrgId,
        hash: &str,
        family: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim<CodeGrant>, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(org_pk(org), code_sk(hash))))
            .update_expression("SET used_at = :now, #family = :family")
            .expression_attribute_names("#family", "family")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(used_at)")
            .expression_attribute_values(":now", to_attribute(&now)?)
            .expression_attribute_values(":family", s(family))
            .return_values(ReturnValue::AllNew);
        self.claim(update, org, code_sk(hash)).await
    }

    /// Marks a refresh token used, if it was not (see `claim_code`).
    pub async fn claim_refresh(
        &self,
        org: &OrgId,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Claim<RefreshGrant>, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(org_pk(org), refresh_token_sk(hash))))
            .update_expression("SET used_at = :now")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(used_at)")
            .expression_attribute_values(":now", to_attribute(&now)?)
            .return_values(ReturnValue::AllNew);
        self.claim(update, org, refresh_token_sk(hash)).await
    }

    async fn claim<T: DeserializeOwned>(
        &self,
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        org: &OrgId,
        sk: String,
    ) -> Result<Claim<T>, StoreError> {
        match update.send().await {
            Ok(output) => match output.attributes {
                Some(item) => Ok(Claim::Claimed(decode(item)?)),
                None => Ok(Claim::Missing),
            },
            Err(err) if condition_failed(&err) => {
                let output = self.item_by_key(org_pk(org), sk).await?;
                Ok(match output.item {
                    Some(item) => Claim::Reused(decode(item)?),
                    None => Claim::Missing,
                })
            }
            Err(err) => Err(StoreError::from_sdk(err)),
        }
    }

    /// Stores an access token's grant (client credentials: nothing else is written).
    pub async fn put_access_grant(&self, org: &OrgId, hash: &str, grant: &AccessGrant) -> Result<(), StoreError> {
        let item = item_of(org, access_token_sk(hash), grant, Some(grant.expires_at))?;
        self.put_unconditionally(item).await?;
        Ok(())
    }

    /// Stores a new refresh token and its access token, and writes the family (new, or updated
    /// with them: only while it is not revoked), in one transaction. `Conflict` when the family
    /// was revoked meanwhile.
    pub async fn put_refresh_grants(
        &self,
        org: &OrgId,
        family: &GrantFamily,
        new_family: bool,
        refresh: (&str, &RefreshGrant),
        access: (&str, &AccessGrant),
    ) -> Result<(), StoreError> {
        let condition = if new_family {
            "attribute_not_exists(PK)"
        } else {
            "attribute_exists(PK) AND attribute_not_exists(revoked_at)"
        };
        let family_put = item_of(org, family_sk(&family.id), family, Some(family.refresh_expires_at))?;
        let actions = vec![
            (put_if(family_put, Some(condition))?, Conflict::Changed(Record::GrantFamily)),
            (
                put_if(item_of(org, refresh_token_sk(refresh.0), refresh.1, Some(refresh.1.expires_at))?, None)?,
                Conflict::Changed(Record::Grant),
            ),
            (
                put_if(item_of(org, access_token_sk(access.0), access.1, Some(access.1.expires_at))?, None)?,
                Conflict::Changed(Record::Grant),
            ),
        ];
        self.transact(actions).await
    }

    /// Revokes a refresh-token family: marks it revoked and deletes its access tokens, so neither
    /// a refresh token nor an access token of it works any more.
    pub async fn revoke_family(&self, org: &OrgId, family: &GrantFamily, now: DateTime<Utc>) -> Result<(), StoreError> {
        let mark = update(key_item(org_pk(org), family_sk(&family.id)))
            .update_expression("SET revoked_at = :now")
            .expression_attribute_values(":now", to_attribute(&now)?)
            .action()?;
        let mut actions = vec![(mark, Conflict::Changed(Record::GrantFamily))];
        for (hash, _) in family.access_tokens.iter().filter(|(_, expires)| *expires > now).take(90) {
            let access = delete(key_item(org_pk(org), access_token_sk(hash))).action()?;
            actions.push((access, Conflict::Changed(Record::Grant)));
        }
        self.transact(actions).await
    }

    /// Every refresh-token family of the organization (revoked ones included), for the status.
    pub async fn oauth_families(&self, org: &AuthorizedOrg) -> Result<Vec<GrantFamily>, StoreError> {
        let query = self
            .query_table()
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(org_pk(org)))
            .expression_attribute_values(":prefix", s(OAUTH_FAMILY_PREFIX));
        self.query_all_decoded(query, decode).await
    }

    pub async fn family(&self, org: &OrgId, id: &str) -> Result<Option<GrantFamily>, StoreError> {
        let output = self.item_by_key(org_pk(org), family_sk(id)).await?;
        output.item.map(decode).transpose()
    }

    /// Notes that the current static token (whose keyed hash is `hash`) was used at `at`; nothing
    /// when the token was replaced meanwhile. Never bumps the version: bookkeeping only.
    pub async fn record_token_use(&self, org: &OrgId, hash: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(org_pk(org), SCIM_SK.into())))
            .update_expression("SET token_last_used_at = :at")
            .condition_expression("token_hash = :hash")
            .expression_attribute_values(":at", to_attribute(&at)?)
            .expression_attribute_values(":hash", s(hash));
        ignore_condition(update.send().await)
    }

    /// The same for the previous token during its overlap.
    pub async fn record_previous_token_use(
        &self,
        org: &OrgId,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(org_pk(org), SCIM_SK.into())))
            .update_expression("SET previous_token.last_used_at = :at")
            .condition_expression("previous_token.#hash = :hash")
            .expression_attribute_names("#hash", "hash")
            .expression_attribute_values(":at", to_attribute(&at)?)
            .expression_attribute_values(":hash", s(hash));
        ignore_condition(update.send().await)
    }

    /// The same for the OAuth client whose access token was used.
    pub async fn record_client_use(&self, org: &OrgId, client: &ClientId, at: DateTime<Utc>) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(org_pk(org), CLIENT_SK.into())))
            .update_expression("SET last_used_at = :at")
            .condition_expression("client_id = :client")
            .expression_attribute_values(":at", to_attribute(&at)?)
            .expression_attribute_values(":client", s(client.as_str()));
        ignore_condition(update.send().await)
    }
}

type UpdateResult<R> = Result<
    aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
    aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>,
>;

/// A last-use write whose condition failed (the credential was replaced meanwhile) did nothing.
fn ignore_condition<R: std::fmt::Debug + Send + Sync + 'static>(result: UpdateResult<R>) -> Result<(), StoreError> {
    super::dynamo::applied(result).map(|_| ())
}

/// A write that also replaced the SCIM settings: their condition failing means another writer
/// changed them first.
fn settings_version_checked(result: Result<(), StoreError>) -> Result<(), StoreError> {
    match result {
        Err(StoreError::Conflict(Conflict::SettingsChanged)) => Err(StoreError::VersionMismatch),
        other => other,
    }
}

/// The access-token grant among a prefetch's BatchGetItem results.
pub(crate) fn decode_access_grant(item: Item) -> Result<AccessGrant, StoreError> {
    decode(item)
}
