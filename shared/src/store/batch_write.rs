//! BatchWriteItem puts: many items in one round trip (fixtures, coalesced request-log records).
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use super::{Item, Store, StoreError};
use crate::retry::Backoff;

/// BatchWriteItem takes at most 25 items (moto takes more: the limit is kept here).
pub(crate) const BATCH_WRITE_LIMIT: usize = 25;

impl Store {
    /// BatchWriteItem puts, 25 per request, `UnprocessedItems` sent again after the one backoff.
    pub(crate) async fn put_all(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let requests: Vec<WriteRequest> = items
            .into_iter()
            .filter_map(|item| PutRequest::builder().set_item(Some(item)).build().ok())
            .map(|put| WriteRequest::builder().put_request(put).build())
            .collect();
        for chunk in requests.chunks(BATCH_WRITE_LIMIT) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(StoreError::from_sdk)?;
                pending = output.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                if !pending.is_empty() {
                    attempt += 1;
                    if !Backoff::CONTENTION.allows(attempt) {
                        return Err(StoreError::Throttled);
                    }
                    Backoff::CONTENTION.pause(attempt).await;
                }
            }
        }
        Ok(())
    }
}
