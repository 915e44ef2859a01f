//! TransactWriteItems, sent and read back in one place (docs/ARCHITECTURE.md, "Retries"): what a
//! cancelled transaction means is decided here, for every writer. A transaction that another
//! transaction or DynamoDB's throttling got in the way of is sent again after the one backoff
//! policy; what remains is a condition that failed (which action) or a store error.
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{Conflict, Store, StoreError};
use crate::retry::Backoff;

/// Why a transaction did not commit.
#[derive(Debug)]
pub(crate) enum TransactFailure {
    /// These actions' conditions failed (positions in the transaction, in order).
    Conditions(Vec<usize>),
    /// The store failed, or kept getting in the way (`Throttled`) past the retries.
    Store(StoreError),
}

impl From<StoreError> for TransactFailure {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl Store {
    /// Sends `actions` (built without a table: see `dynamo.rs`) as one transaction on the store's table.
    pub(crate) async fn transact_items(&self, actions: Vec<TransactWriteItem>) -> Result<(), TransactFailure> {
        let actions: Vec<TransactWriteItem> =
            actions.into_iter().map(|action| super::dynamo::on_table(action, &self.table)).collect();
        let mut attempt = 0;
        loop {
            let sent = self.client.transact_write_items().set_transact_items(Some(actions.clone())).send().await;
            let Err(err) = sent else { return Ok(()) };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() else {
                return Err(StoreError::from_sdk(err).into());
            };
            let reasons = cancelled.cancellation_reasons();
            let failed: Vec<usize> = reasons
                .iter()
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect();
            if !failed.is_empty() {
                return Err(TransactFailure::Conditions(failed));
            }
            let contention =
                reasons.iter().any(|r| matches!(r.code(), Some("TransactionConflict" | "ThrottlingError")));
            if !contention {
                return Err(StoreError::from_sdk(err).into());
            }
            attempt += 1;
            if !Backoff::CONTENTION.allows(attempt) {
                return Err(StoreError::Throttled.into());
            }
            Backoff::CONTENTION.pause(attempt).await;
        }
    }

    /// A transaction whose failed condition is told by the label of its action: `Ok(Err(label))`
    /// (the first action whose condition failed), so each caller says what that means for it.
    pub(crate) async fn transact_labelled<L>(
        &self,
        actions: Vec<(TransactWriteItem, L)>,
    ) -> Result<Result<(), L>, StoreError> {
        let (actions, mut labels): (Vec<_>, Vec<_>) = actions.into_iter().unzip();
        match self.transact_items(actions).await {
            Ok(()) => Ok(Ok(())),
            Err(TransactFailure::Conditions(failed)) => match failed.first().filter(|i| **i < labels.len()) {
                Some(first) => Ok(Err(labels.swap_remove(*first))),
                None => Err(StoreError::backend("a transaction was cancelled for a condition it does not have")),
            },
            Err(TransactFailure::Store(err)) => Err(err),
        }
    }

    /// A transaction whose failed condition is the `Conflict` its action is labelled with.
    pub(crate) async fn transact(&self, actions: Vec<(TransactWriteItem, Conflict)>) -> Result<(), StoreError> {
        self.transact_labelled(actions).await?.map_err(StoreError::Conflict)
    }
}
