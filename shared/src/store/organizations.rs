//! Organization and SCIM settings items.
use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use serde::{Deserialize, Serialize};

use super::dynamo::{applied, from_item, n, put, s, to_item, Item};
use super::keys::{org_pk, token_expiry_gsi_sk, ORG_SK, SCIM_SK};
use super::token_expiry::TOKEN_EXPIRY_GSI_PK;
use super::{Conflict, Record, Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::{OrgId, Organization, ScimSettings};
use crate::retry::Backoff;

#[derive(Serialize, Deserialize)]
struct OrganizationItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    organization: Organization,
    /// Members consuming an Enterprise license, kept in the same transactions as member writes.
    #[serde(default, deserialize_with = "counter")]
    licenses_scim: u64,
    #[serde(default, deserialize_with = "counter")]
    licenses_manual: u64,
    #[serde(default, deserialize_with = "counter")]
    licenses_used: u64,
    /// Every member, active or not: the total of an unfiltered member list.
    #[serde(default, deserialize_with = "counter")]
    member_count: u64,
}

/// A counter as stored: `ADD`s can take one below zero (members written without counting them,
/// by `scimctl load-team`, then deleted); read as none rather than as an undecodable organization,
/// which answered every request of the organization with a 500.
fn counter<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let stored = i64::deserialize(deserializer)?;
    Ok(u64::try_from(stored).unwrap_or(0))
}

#[derive(Serialize, Deserialize)]
struct ScimSettingsItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    settings: ScimSettings,
}

/// License usage of an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LicenseCounts {
    pub scim: u64,
    pub manual: u64,
    pub members: u64,
}

impl Store {
    /// Creates an organization; fails with `Conflict` when the id is taken.
    pub async fn create_organization(&self, org: &Organization) -> Result<(), StoreError> {
        let item = to_item(&OrganizationItem {
            pk: org_pk(&org.id),
            sk: ORG_SK.into(),
            organization: org.clone(),
            licenses_scim: 0,
            licenses_manual: 0,
            licenses_used: 0,
            member_count: 0,
        })?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)");
        if !applied(put.send().await)? {
            return Err(StoreError::Conflict(Conflict::OrganizationExists));
        }
        Ok(())
    }

    /// Rewrites the organization's profile (plan, seats, domains, SSO); license counters are kept.
    pub async fn update_organization(&self, org: &Organization) -> Result<(), StoreError> {
        let profile = to_item(&org)?;
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", s(org_pk(&org.id)))
            .key("SK", s(ORG_SK))
            .condition_expression("attribute_exists(PK)");
        let mut sets = Vec::new();
        for (index, (name, value)) in profile.into_iter().enumerate() {
            sets.push(format!("#a{index} = :v{index}"));
            update = update
                .expression_attribute_names(format!("#a{index}"), name)
                .expression_attribute_values(format!(":v{index}"), value);
        }
        if !applied(update.update_expression(format!("SET {}", sets.join(", "))).send().await)? {
            return Err(StoreError::NotFound(Record::Organization));
        }
        Ok(())
    }

    pub async fn organization(&self, org: &AuthorizedOrg) -> Result<Option<(Organization, LicenseCounts)>, StoreError> {
        let output = self.item_by_key(org_pk(org), ORG_SK).await?;
        output.item.map(decode_organization).transpose()
    }

    pub async fn scim_settings(&self, org: &OrgId) -> Result<Option<ScimSettings>, StoreError> {
        let output = self.item_by_key(org_pk(org), SCIM_SK).await?;
        output.item.map(decode_scim_settings).transpose()
    }

    /// Replaces the SCIM settings if they are still at `expected_version` (None: must not exist).
    pub async fn put_scim_settings(
        &self,
        org: &AuthorizedOrg,
        settings: &ScimSettings,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let put = scim_settings_put(org, settings, expected_version)?;
        let sent = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(put.get_item().clone())
            .set_condition_expression(put.get_condition_expression().clone())
            .set_expression_attribute_values(put.get_expression_attribute_values().clone())
            .send()
            .await;
        if !applied(sent)? {
            return Err(StoreError::VersionMismatch);
        }
        Ok(())
    }

    /// BatchGetItem with `UnprocessedKeys` retried (each retry is a further round trip, only under throttling).
    pub async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        // DynamoDB refuses a BatchGetItem that names one key twice.
        let mut keys = keys;
        let mut seen = std::collections::HashSet::new();
        // A key longer than DynamoDB allows names nothing that can exist: leave it out.
        keys.retain(|key| {
            let pk = key.get("PK").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let sk = key.get("SK").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            super::keys::key_fits(&pk, &sk) && seen.insert((pk, sk))
        });
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = Vec::new();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(StoreError::backend)?,
        );
        let mut attempt = 0u32;
        while let Some(request) = pending.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(StoreError::from_sdk)?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(&self.table).unwrap_or_default());
            }
            pending = output
                .unprocessed_keys
                .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                .filter(|k| !k.keys.is_empty());
            if pending.is_some() {
                attempt += 1;
                if !Backoff::CONTENTION.allows(attempt) {
                    return Err(StoreError::Throttled);
                }
                Backoff::CONTENTION.pause(attempt).await;
            }
        }
        Ok(found)
    }
}

pub(crate) fn decode_organization(item: Item) -> Result<(Organization, LicenseCounts), StoreError> {
    let decoded: OrganizationItem = from_item(item)?;
    let counts =
        LicenseCounts { scim: decoded.licenses_scim, manual: decoded.licenses_manual, members: decoded.member_count };
    Ok((decoded.organization, counts))
}

/// The organization and its counters among BatchGetItem results.
pub(crate) fn decode_scim_settings(item: Item) -> Result<ScimSettings, StoreError> {
    from_item::<ScimSettingsItem>(item).map(|decoded| decoded.settings)
}

/// The conditional put of SCIM settings, also usable inside a transaction (`.action()`).
pub(crate) fn scim_settings_put(
    org: &OrgId,
    settings: &ScimSettings,
    expected_version: Option<u64>,
) -> Result<PutBuilder, StoreError> {
    let mut item = to_item(&ScimSettingsItem { pk: org_pk(org), sk: SCIM_SK.into(), settings: settings.clone() })?;
    // Sparse expiry index for the scheduler: only tokens that expire are in it.
    if let Some(expires_at) = settings.token_expires_at {
        item.insert("GSI1PK".into(), s(TOKEN_EXPIRY_GSI_PK));
        item.insert("GSI1SK".into(), s(token_expiry_gsi_sk(expires_at, org)));
    }
    let builder = put(item);
    Ok(match expected_version {
        None => builder.condition_expression("attribute_not_exists(PK)"),
        Some(version) => {
            builder.condition_expression("version = :expected").expression_attribute_values(":expected", n(version))
        }
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;
    use crate::domain::Plan;

    #[test]
    fn a_counter_below_zero_reads_as_zero_not_as_an_undecodable_organization() {
        let org = Organization::new(
            OrgId::parse("negative-counts").unwrap(),
            "Negative",
            Plan::Enterprise,
            None,
            chrono::Utc::now(),
        );
        let mut item = to_item(&OrganizationItem {
            pk: org_pk(&org.id),
            sk: ORG_SK.into(),
            organization: org,
            licenses_scim: 3,
            licenses_manual: 0,
            licenses_used: 3,
            member_count: 5,
        })
        .unwrap();
        item.insert("licenses_scim".into(), AttributeValue::N("-2".into()));
        item.insert("member_count".into(), AttributeValue::N("-1".into()));
        let (_, counts) = decode_organization(item).unwrap();
        assert_eq!(counts, LicenseCounts { scim: 0, manual: 0, members: 0 });
    }
}
