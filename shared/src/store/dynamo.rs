//! The DynamoDB helpers every store file uses: items and their codec, a key item, a conditional
//! write's answer, and the actions of a TransactWriteItems. Nothing here knows an entity.
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, DeleteBuilder, PutBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update};
use std::collections::HashMap;

use super::StoreError;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The key of one item.
pub(crate) fn key_item(pk: String, sk: String) -> Item {
    [("PK".to_owned(), s(pk)), ("SK".to_owned(), s(sk))].into()
}

/// A record as an item, through serde_dynamo (the items' one codec).
pub(crate) fn to_item<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    Ok(serde_dynamo::to_item(value)?)
}

pub(crate) fn from_item<T: serde::de::DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

/// One value encoded exactly as the items' codec encodes it (for expression values).
pub(crate) fn to_attribute<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    Ok(serde_dynamo::to_attribute_value(value)?)
}

/// Whether a single-item write failed because its condition did not hold. The one test of it;
/// a transaction's failed conditions are read in `transact.rs`.
pub(crate) fn condition_failed<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// The answer of a conditional write: `true` when it applied, `false` when its condition did not
/// hold (a single-use credential already spent, an item already there or gone, …).
pub(crate) fn applied<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(err) if condition_failed(&err) => Ok(false),
        Err(err) => Err(StoreError::from_sdk(err)),
    }
}

// The actions of a transaction are built by the module of the item they write, away from the
// store; `Store::transact_items` names the store's table on each when it sends them
// (`on_table`), so they carry no table until then.

/// A put of `item` as a transaction action.
pub(crate) fn put(item: Item) -> PutBuilder {
    Put::builder().set_item(Some(item))
}

/// A put of an item that must not exist yet.
pub(crate) fn put_new(item: Item) -> Result<TransactWriteItem, StoreError> {
    put(item).condition_expression("attribute_not_exists(PK)").action()
}

pub(crate) fn update(key: Item) -> UpdateBuilder {
    Update::builder().set_key(Some(key))
}

pub(crate) fn delete(key: Item) -> DeleteBuilder {
    Delete::builder().set_key(Some(key))
}

/// A condition on an item the transaction does not write.
pub(crate) fn condition_check(key: Item) -> ConditionCheckBuilder {
    ConditionCheck::builder().set_key(Some(key))
}

/// A uniqueness guard: an item that exists while `holder` holds the value its sort key names.
pub(crate) fn guard_put(pk: String, sk: String, holder: &str) -> Result<TransactWriteItem, StoreError> {
    let mut item = key_item(pk, sk);
    item.insert("member_id".into(), s(holder));
    put_new(item)
}

/// Releases a guard, only if `holder` holds it: never a value another holder holds.
pub(crate) fn guard_delete(pk: String, sk: String, holder: &str) -> Result<TransactWriteItem, StoreError> {
    delete(key_item(pk, sk))
        .condition_expression("attribute_not_exists(PK) OR member_id = :id")
        .expression_attribute_values(":id", s(holder))
        .action()
}

/// The table of an action until `on_table` names the store's, as the transaction is sent.
const NAMED_WHEN_SENT: &str = "";

/// A builder finished into a transaction action (on no table until it is sent).
pub(crate) trait Action {
    fn action(self) -> Result<TransactWriteItem, StoreError>;
}

impl Action for PutBuilder {
    fn action(self) -> Result<TransactWriteItem, StoreError> {
        let put = self.table_name(NAMED_WHEN_SENT).build().map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

impl Action for UpdateBuilder {
    fn action(self) -> Result<TransactWriteItem, StoreError> {
        let update = self.table_name(NAMED_WHEN_SENT).build().map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

impl Action for ConditionCheckBuilder {
    fn action(self) -> Result<TransactWriteItem, StoreError> {
        let check = self.table_name(NAMED_WHEN_SENT).build().map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}

impl Action for DeleteBuilder {
    fn action(self) -> Result<TransactWriteItem, StoreError> {
        let delete = self.table_name(NAMED_WHEN_SENT).build().map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }
}

/// The action on `table` (set when the store sends its transaction).
pub(crate) fn on_table(mut action: TransactWriteItem, table: &str) -> TransactWriteItem {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_sent_on_the_stores_table() {
        let action = put_new(key_item("ORG#a".into(), "USER#1".into())).unwrap();
        let action = on_table(action, "the-table");
        let put = action.put.unwrap();
        assert_eq!(put.table_name, "the-table");
        assert_eq!(put.condition_expression.as_deref(), Some("attribute_not_exists(PK)"));
    }

    #[test]
    fn a_guard_is_released_only_by_its_holder() {
        let action = guard_delete("ORG#a".into(), "USERNAME#jane".into(), "m1").unwrap();
        let delete = action.delete.unwrap();
        assert_eq!(delete.expression_attribute_values.unwrap()[":id"], s("m1"));
    }

    #[test]
    fn values_are_encoded_as_items_encode_them() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(to_attribute(&at).unwrap(), s("2026-01-02T03:04:05Z"));
        assert!(matches!(from_item::<u32>(Item::new()), Err(StoreError::Codec(_))));
    }
}
