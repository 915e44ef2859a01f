//! The table definition: the one source of truth for the local stack (`scimctl bootstrap`), and
//! checked against `template.yaml` by a test.
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};

use super::{Store, StoreError};

pub const PARTITION_KEY: &str = "PK";
pub const SORT_KEY: &str = "SK";
pub const GSI1_NAME: &str = "GSI1";
pub const GSI1_PARTITION_KEY: &str = "GSI1PK";
pub const GSI1_SORT_KEY: &str = "GSI1SK";
pub const TTL_ATTRIBUTE: &str = "ttl";

/// Every key attribute, all strings.
pub const KEY_ATTRIBUTES: [&str; 4] = [PARTITION_KEY, SORT_KEY, GSI1_PARTITION_KEY, GSI1_SORT_KEY];

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(StoreError::backend)
}

impl Store {
    /// Creates the table (on-demand, GSI1 projecting all attributes) and turns on TTL.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let mut request = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
            .key_schema(key(SORT_KEY, KeyType::Range)?);
        for name in KEY_ATTRIBUTES {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(StoreError::backend)?,
            );
        }
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1_NAME)
            .key_schema(key(GSI1_PARTITION_KEY, KeyType::Hash)?)
            .key_schema(key(GSI1_SORT_KEY, KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(StoreError::backend)?;
        request.global_secondary_indexes(gsi).send().await.map_err(StoreError::from_sdk)?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(StoreError::backend)?,
            )
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        Ok(())
    }

    /// Creates the table unless it exists already.
    pub async fn ensure_table(&self) -> Result<bool, StoreError> {
        match self.client.describe_table().table_name(&self.table).send().await {
            Ok(_) => Ok(false),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
                self.create_table().await?;
                Ok(true)
            }
            Err(err) => Err(StoreError::from_sdk(err)),
        }
    }

    pub async fn delete_table(&self) -> Result<(), StoreError> {
        self.client.delete_table().table_name(&self.table).send().await.map_err(StoreError::from_sdk)?;
        Ok(())
    }
}
