//! The fair-use counters of an organization's SCIM connector and its budget item
//! (docs/ARCHITECTURE.md, "Fair use"). The counter is one atomic `ADD` per request, sent beside the
//! token check's read, so it costs no round trip of its own.
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::keys::org_pk;
use super::{Item, Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::OrgId;

/// SK of an organization's fair-use budget (absent: the defaults).
pub(crate) const FAIR_USE_SK: &str = "FAIRUSE";

/// A request budget: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    pub per_second: u32,
    pub burst: u32,
}

/// One fixed window of an organization's counter: which bucket (the keyed hash of the token
/// presented, so a wrong token never counts against the organization's budget), how long, which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateWindow {
    pub bucket: String,
    pub length_ms: i64,
    pub index: i64,
}

impl RateWindow {
    fn sk(&self) -> String {
        format!("RATE#{}#{}#{}", self.bucket, self.length_ms, self.index)
    }

    /// When the window ends (epoch milliseconds).
    pub fn ends_at_ms(&self) -> i64 {
        (self.index + 1).saturating_mul(self.length_ms)
    }
}

pub(crate) fn fair_use_key(org: &OrgId) -> Item {
    Item::from([("PK".into(), AttributeValue::S(org_pk(org))), ("SK".into(), AttributeValue::S(FAIR_USE_SK.into()))])
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

pub(crate) fn decode_budget(item: &Item) -> Option<RateBudget> {
    let per_second = u32::try_from(number(item, "per_second")?).ok()?;
    let burst = u32::try_from(number(item, "burst")?).ok()?;
    (per_second > 0 && burst > 0).then_some(RateBudget { per_second, burst })
}

impl Store {
    /// Counts one request in `window`; answers the window's count including it.
    pub(crate) async fn count_request(&self, org: &OrgId, window: &RateWindow) -> Result<u64, StoreError> {
        // Kept a minute past the window: DynamoDB's TTL deletes only eventually, and a late delete
        // only costs storage, since the key names its window.
        let ttl = window.ends_at_ms() / 1000 + 60;
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("PK", AttributeValue::S(org_pk(org)))
            .key("SK", AttributeValue::S(window.sk()))
            .update_expression("ADD n :one SET #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":ttl", AttributeValue::N(ttl.to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(output.attributes.as_ref().and_then(|item| number(item, "n")).unwrap_or(1))
    }

    /// Sets the organization's budget (the operator's `scimctl fair-use`).
    pub async fn set_rate_budget(&self, org: &AuthorizedOrg, budget: RateBudget) -> Result<(), StoreError> {
        let mut item = fair_use_key(org.id());
        item.insert("per_second".into(), AttributeValue::N(budget.per_second.to_string()));
        item.insert("burst".into(), AttributeValue::N(budget.burst.to_string()));
        self.put_unconditionally(item).await?;
        Ok(())
    }

    /// The organization's budget, if one was set.
    pub async fn rate_budget(&self, org: &AuthorizedOrg) -> Result<Option<RateBudget>, StoreError> {
        let output =
            self.read_item().set_key(Some(fair_use_key(org.id()))).send().await.map_err(StoreError::from_sdk)?;
        Ok(output.item.as_ref().and_then(decode_budget))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_item_decodes_and_a_broken_one_is_ignored() {
        let mut item = Item::new();
        item.insert("per_second".into(), AttributeValue::N("50".into()));
        item.insert("burst".into(), AttributeValue::N("200".into()));
        assert_eq!(decode_budget(&item), Some(RateBudget { per_second: 50, burst: 200 }));
        item.insert("burst".into(), AttributeValue::N("0".into()));
        assert_eq!(decode_budget(&item), None);
    }

    #[test]
    fn a_window_key_names_bucket_length_and_index() {
        let window = RateWindow { bucket: "ab12".into(), length_ms: 4000, index: 7 };
        assert_eq!(window.sk(), "RATE#ab12#4000#7");
        assert_eq!(window.ends_at_ms(), 32_000);
    }
}
