//! The one definition of the DynamoDB table: its keys, billing mode and TTL attribute.
//!
//! `webhook-trigger setup` creates the table from it, the store reads and writes the attributes
//! it names, and a test checks that the table in `template.yaml` says the same, so the table
//! deployed by SAM and the one made for local development cannot drift apart.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::request::build_error;
use crate::ports::StoreError;

/// Partition key attribute (string).
pub const PARTITION_KEY: &str = "pk";
/// Sort key attribute (string).
pub const SORT_KEY: &str = "sk";
/// Epoch seconds after which DynamoDB's TTL deletes an execution or a dedup record.
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// On-demand: webhook traffic is bursty and unpredictable; nothing to size or autoscale.
pub const BILLING_MODE: &str = "PAY_PER_REQUEST";

/// A key attribute as CloudFormation and the DynamoDB API spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: &'static str,
    /// `HASH` or `RANGE`.
    pub key_type: &'static str,
    /// `S`, `N` or `B`.
    pub attribute_type: &'static str,
}

/// The table's key schema, in order (HASH first). Beside it only the undelivered index's keys
/// are declared; every other attribute is schemaless.
pub const KEY_SCHEMA: [KeyAttribute; 2] = [
    KeyAttribute {
        name: PARTITION_KEY,
        key_type: "HASH",
        attribute_type: "S",
    },
    KeyAttribute {
        name: SORT_KEY,
        key_type: "RANGE",
        attribute_type: "S",
    },
];

/// The sparse index of executions still waiting for their first worker (queued, never
/// taken): only those items carry its two attributes, so the index holds the few executions
/// whose queue message may have been lost, and the sweeper reads them with one Query per
/// shard instead of a Scan of the table. A worker's claim rewrites the item without them.
pub const UNDELIVERED_INDEX: &str = "undelivered";
/// `U#{0..UNDELIVERED_SHARDS}`: spread over a few partitions so a burst of webhooks does not
/// write one index partition hot (an index that throttles throttles the table's writes).
pub const UNDELIVERED_SHARD: &str = "undelivered_shard";
/// Epoch milliseconds of the execution's last send (its arrival, or the sweeper's re-send).
pub const UNDELIVERED_SINCE: &str = "undelivered_since";
pub const UNDELIVERED_SHARDS: u32 = 4;

/// The undelivered index's key schema (HASH first). Projection: keys only, which name the
/// workflow and the execution, all a re-send needs.
pub const UNDELIVERED_INDEX_KEYS: [KeyAttribute; 2] = [
    KeyAttribute {
        name: UNDELIVERED_SHARD,
        key_type: "HASH",
        attribute_type: "S",
    },
    KeyAttribute {
        name: UNDELIVERED_SINCE,
        key_type: "RANGE",
        attribute_type: "N",
    },
];

fn key_element(key: &KeyAttribute) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(key.name)
        .key_type(KeyType::from(key.key_type))
        .build()
        .map_err(build_error)
}

/// Creates the table (and turns on TTL) unless it exists. For local development against an
/// emulator and for tests; on AWS the SAM template creates it.
pub async fn create_table(client: &Client, table: &str) -> Result<bool, StoreError> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::from(BILLING_MODE));
    for key in KEY_SCHEMA {
        request = request.key_schema(key_element(&key)?);
    }
    let mut index = GlobalSecondaryIndex::builder()
        .index_name(UNDELIVERED_INDEX)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        );
    for key in UNDELIVERED_INDEX_KEYS {
        index = index.key_schema(key_element(&key)?);
    }
    request = request.global_secondary_indexes(index.build().map_err(build_error)?);
    for key in KEY_SCHEMA.iter().chain(UNDELIVERED_INDEX_KEYS.iter()) {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key.name)
                .attribute_type(ScalarAttributeType::from(key.attribute_type))
                .build()
                .map_err(build_error)?,
        );
    }
    let created = match request.send().await {
        Ok(_) => true,
        Err(err) => {
            let exists = err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception());
            if !exists {
                return Err(super::unavailable("CreateTable", err));
            }
            false
        }
    };
    client
        .wait_until_table_exists()
        .table_name(table)
        .wait(std::time::Duration::from_secs(120))
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "table {table} did not become active: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            ))
        })?;
    let ttl = client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await;
    if let Err(err) = ttl {
        // Turning TTL on twice is refused ("TimeToLive is already enabled"); that is fine.
        let already = err
            .as_service_error()
            .and_then(|e| e.meta().message())
            .is_some_and(|m| m.contains("already enabled"));
        if !already {
            return Err(super::unavailable("UpdateTimeToLive", err));
        }
    }
    Ok(created)
}
