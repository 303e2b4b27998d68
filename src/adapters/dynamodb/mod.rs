//! The AWS store: one DynamoDB table (on demand) holding keys, workflows, executions (and the
//! item records of their `for_each` steps), dedup records and SNS subscriptions.
//!
//! # Layout (`pk` / `sk`)
//!
//! | item | pk | sk | why |
//! | --- | --- | --- | --- |
//! | API key | `APIKEY#{name}` | `APIKEY` | read on every webhook (through a short cache): one GetItem, spread over partitions |
//! | API key, listing copy | `APIKEYS` | `APIKEY#{name}` | only the CLI lists keys: one Query, no Scan |
//! | workflow | `WORKFLOW#{id}` | `WORKFLOW` | read by every webhook and every worker run: one GetItem, in its own partition |
//! | workflow, listing copy | `WORKFLOWS` | `WORKFLOW#{id}` | the CLI's `workflows list`: one Query |
//! | workflow version | `WORKFLOW#{id}` | `VERSION#{n:010}` | immutable, written in one TransactWriteItems with the workflow item, which is conditional on its `version` attribute (so a stale save is a failed condition, `409`); the history is one Query in version order and outlives a deleted workflow |
//! | execution | `WORKFLOW#{id}` | `EXEC#{ulid}` | ULIDs sort by time, so newest first is one Query with `ScanIndexForward=false` |
//! | dedup record | `WORKFLOW#{id}` | `DEDUP#{key}` | written in the same transaction as its execution, conditional on not existing |
//! | SNS subscription | `WORKFLOW#{id}` | `SNSSUB#{topicArn}` | one Query per workflow |
//! | signing secrets | `WORKFLOW#{id}` | `SECRETS` | apart from the workflow item, read (through a cache) only by signed webhooks |
//! | API key usage | `APIKEY#{name}` | `USAGE` | `lastUsedAt`, written at most once a minute per key and process, never racing the key item |
//! | admin key | `ADMINKEY#{name}` | `ADMINKEY` | the console's operator credential; the few there are are listed (`ADMINKEYS`) and cached |
//! | `for_each` item record | `WORKFLOW#{id}` | `ITEM#{execution}#{step}#{index:010}` | one per item of a loop, apart from the execution (which would outgrow 400 KB); a step's items are one Query in index order, TTL as their execution's, and `ITEM#` sorts outside every `EXEC#` listing |
//! | resume URL (approval, callback) | `CALLBACK#{sha256 of token}` | `CALLBACK` | one GetItem from the token a request carries; `decided` is the single-use condition; TTL as its execution's |
//! | rejection counts | `WORKFLOW#{id}` | `REJECTED#{hour}` | refused requests per hour and reason, added to with `ADD` (no read), TTL 48 h; the console reads a day with one Query |
//! | refusal sample | `WORKFLOW#{id}` | `REFUSED#{minute}#{reason}` | one refused request per workflow, minute and reason, put only if absent (the first wins), TTL 48 h; newest first is one Query |
//!
//! Secrets and usage have listing copies too (`WORKFLOWSECRETS`, `APIKEYUSAGE`), as every
//! keyed record does.
//!
//! One sparse index, `undelivered` (`undelivered_shard` / `undelivered_since`, keys only): only
//! executions no worker has taken carry its attributes, so the sweeper finds those whose queue
//! message was lost with one Query per shard (`schema::UNDELIVERED_INDEX`). Waiting executions
//! are in the same index under shards of their own (`W#{n}`, keyed by their wake-up time), so
//! the same sweep wakes those whose time has come.
//!
//! Keys and workflows are written twice (the item the request path reads, and a copy in one
//! fixed partition for listing) in one transaction, so the copies never disagree: the request
//! path never touches the fixed partition (no hot key), and listing never needs a Scan of a
//! table that is mostly executions. Admin writes are rare, so the second write costs nothing
//! that matters.
//!
//! Each record is stored whole as JSON in `record` (the same serde form as the SQLite store,
//! so both backends hold identical data); beside it are only the attributes that conditions and
//! filters need: `status` and `attempts` (compare-and-swap), `expires_at` (TTL, epoch seconds),
//! `version` on workflow items (the versioned save's condition).
//! The table's key schema, billing mode and TTL attribute are defined once in [`schema`].

mod callbacks;
mod executions;
mod item;
mod items;
mod records;
mod refusal_samples;
mod rejections;
mod request;
pub mod schema;
mod undelivered;
mod versions;

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::StoreError;

/// A DynamoDB item as the SDK represents it.
type Item = HashMap<String, AttributeValue>;

/// Cheap to clone: the SDK client is a handle to one shared connection pool, built once per
/// process.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: Arc<str>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: Arc::from(table.into()),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// An SDK failure as the store reports it: the operation, the table's error code and message
/// (DynamoDB's messages name attributes and limits, never item contents or credentials).
pub(crate) fn unavailable<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(format!(
        "DynamoDB {operation} failed: {}",
        DisplayErrorContext(err)
    ))
}
