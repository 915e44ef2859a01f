//! The fair-use counters of an organization's SCIM connector and its budget item
//! (docs/ARCHITECTURE.md, "Fair use"). The counter is one atomic `ADD` per request, sent beside the
//! token check's read, so it costs no round trip of its own. Requests of one instance that arrive
//! while an `ADD` of their window is in flight share the next one (`ADD n`): a Lambda instance
//! serves one request at a time and sends one `ADD` each; the dev server, serving many at once,
//! sends fewer calls and counts exactly the same.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use tokio::sync::oneshot;

use super::dynamo::{key_item, n as number_attribute, Item};
pub(crate) use super::keys::FAIR_USE_SK;
use super::keys::{org_pk, rate_window_sk};
use super::{Store, StoreError};
use crate::auth::AuthorizedOrg;
use crate::domain::OrgId;

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
        rate_window_sk(&self.bucket, self.length_ms, self.index)
    }

    /// When the window ends (epoch milliseconds).
    pub fn ends_at_ms(&self) -> i64 {
        (self.index + 1).saturating_mul(self.length_ms)
    }
}

pub(crate) fn fair_use_key(org: &OrgId) -> Item {
    key_item(org_pk(org), FAIR_USE_SK.into())
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok())
}

pub(crate) fn decode_budget(item: &Item) -> Option<RateBudget> {
    let per_second = u32::try_from(number(item, "per_second")?).ok()?;
    let burst = u32::try_from(number(item, "burst")?).ok()?;
    (per_second > 0 && burst > 0).then_some(RateBudget { per_second, burst })
}

/// Where a request waiting for a shared `ADD` gets its count.
type CountWaiter = oneshot::Sender<Result<u64, StoreError>>;

/// The counts of one instance waiting for their window's next `ADD`, by counter key. A key is
/// present while an `ADD` of it is in flight; its list holds the requests that came meanwhile.
#[derive(Debug, Default)]
pub(crate) struct RequestCounts {
    waiting: Mutex<HashMap<String, Vec<CountWaiter>>>,
}

impl RequestCounts {
    /// Joins the in-flight `ADD` of `key` (its receiver), or, when none is in flight, marks one.
    fn join(&self, key: &str) -> Option<oneshot::Receiver<Result<u64, StoreError>>> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match waiting.get_mut(key) {
            Some(queue) => {
                let (sender, receiver) = oneshot::channel();
                queue.push(sender);
                Some(receiver)
            }
            None => {
                waiting.insert(key.to_owned(), Vec::new());
                None
            }
        }
    }

    /// The requests that came while the last `ADD` of `key` was in flight; when none did, the key
    /// is released (the next request sends its own `ADD`).
    fn next_batch(&self, key: &str) -> Vec<CountWaiter> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let batch = waiting.get_mut(key).map(std::mem::take).unwrap_or_default();
        if batch.is_empty() {
            waiting.remove(key);
        }
        batch
    }
}

/// Releases a key whose `ADD` was abandoned (its request was dropped mid-flight): the requests
/// waiting on it get an error (a failed count lets a request through) instead of waiting forever.
struct InFlight {
    counts: Arc<RequestCounts>,
    key: String,
    armed: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.armed {
            let mut waiting = self.counts.waiting.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            waiting.remove(&self.key);
        }
    }
}

/// One error for each request of a batch (`StoreError` is not `Clone`): the batch's, shared as
/// the cause.
fn shared_error(error: &Arc<StoreError>) -> StoreError {
    match error.as_ref() {
        StoreError::Throttled => StoreError::Throttled,
        StoreError::Unavailable(_) => StoreError::Unavailable(Box::new(error.clone())),
        _ => StoreError::Backend(Box::new(error.clone())),
    }
}

impl Store {
    /// Counts one request in `window`; answers the window's count including it. A request that
    /// finds an `ADD` of its window in flight waits for the next one, which counts every request
    /// that waited; each gets the count as if they had been added one by one.
    pub(crate) async fn count_request(&self, org: &OrgId, window: &RateWindow) -> Result<u64, StoreError> {
        let key = format!("{}|{}", org_pk(org), window.sk());
        if let Some(receiver) = self.request_counts.join(&key) {
            return receiver.await.unwrap_or_else(|abandoned| Err(StoreError::backend(abandoned)));
        }
        let mut in_flight = InFlight { counts: self.request_counts.clone(), key, armed: true };
        let mine = self.add_requests(org, window, 1).await;
        let batch = self.request_counts.next_batch(&in_flight.key);
        if batch.is_empty() {
            in_flight.armed = false;
            return mine;
        }
        // Those who waited are counted off this request's path (it has its answer).
        in_flight.armed = false;
        let store = self.clone();
        let (org, window, key) = (org.clone(), window.clone(), std::mem::take(&mut in_flight.key));
        tokio::spawn(async move {
            let mut batch = batch;
            let mut in_flight = InFlight { counts: store.request_counts.clone(), key, armed: true };
            while !batch.is_empty() {
                let n = batch.len() as u64;
                let result = store.add_requests(&org, &window, n).await.map_err(Arc::new);
                for (i, waiter) in (0u64..).zip(batch) {
                    // The batch's requests are counted in the order they came.
                    let _ = waiter.send(match &result {
                        Ok(total) => Ok(total.saturating_sub(n - 1 - i)),
                        Err(error) => Err(shared_error(error)),
                    });
                }
                batch = store.request_counts.next_batch(&in_flight.key);
            }
            in_flight.armed = false;
        });
        mine
    }

    /// Adds `n` requests to `window`'s counter; answers the count including them.
    async fn add_requests(&self, org: &OrgId, window: &RateWindow, n: u64) -> Result<u64, StoreError> {
        // Kept a minute past the window: DynamoDB's TTL deletes only eventually, and a late delete
        // only costs storage, since the key names its window.
        let ttl = window.ends_at_ms() / 1000 + 60;
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(org_pk(org), window.sk())))
            .update_expression("ADD n :n SET #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":n", number_attribute(n))
            .expression_attribute_values(":ttl", number_attribute(ttl))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(output.attributes.as_ref().and_then(|item| number(item, "n")).unwrap_or(n))
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
