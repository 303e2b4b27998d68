//! Where the CLI and the local server keep their data: a SQLite file, or DynamoDB + SQS.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::sqlite::{SqliteQueue, SqliteStore};
use crate::adapters::sqs::SqsQueue;
use crate::ports::{QueueError, Store, WorkItem, WorkQueue};

pub const DEFAULT_DB: &str = ".data/webhook-trigger.db";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
    /// `dynamodb://TABLE`: the deployed table (or one on an emulator, via `AWS_ENDPOINT_URL`).
    DynamoDb(String),
}

impl std::str::FromStr for StoreLocation {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if let Some(table) = raw.strip_prefix("dynamodb://") {
            let valid = (3..=255).contains(&table.len())
                && table
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !valid {
                return Err(format!(
                    "invalid DynamoDB table name {table:?}: 3 to 255 of letters, digits, '_', '-', '.'"
                ));
            }
            return Ok(Self::DynamoDb(table.to_owned()));
        }
        if raw.contains("://") {
            return Err(format!(
                "unknown store {raw:?}: use a SQLite file path, sqlite://PATH or dynamodb://TABLE"
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(raw)))
    }
}

pub struct Backend {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn WorkQueue>,
    /// Present for the embedded backend, whose queue the local process drains itself.
    pub local: Option<(SqliteStore, SqliteQueue)>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot open the store: {0}")]
pub struct BackendError(pub String);

/// Opens the store; for DynamoDB the queue URL comes from `QUEUE_URL`.
pub async fn open(location: &StoreLocation) -> Result<Backend, BackendError> {
    open_with_queue(location, std::env::var("QUEUE_URL").ok()).await
}

/// Opens the store. `queue_url` is the SQS queue for DynamoDB (only `executions replay`
/// sends to it, so it may be absent); the embedded store has its own queue.
pub async fn open_with_queue(
    location: &StoreLocation,
    queue_url: Option<String>,
) -> Result<Backend, BackendError> {
    match location {
        StoreLocation::Sqlite(path) => {
            let store = SqliteStore::open(path).map_err(|e| BackendError(e.to_string()))?;
            let queue = store.queue();
            Ok(Backend {
                store: Arc::new(store.clone()),
                queue: Arc::new(queue.clone()),
                local: Some((store, queue)),
            })
        }
        StoreLocation::DynamoDb(table) => {
            let sdk = crate::adapters::aws::sdk_config().await;
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table.clone());
            let queue: Arc<dyn WorkQueue> = match queue_url.filter(|u| !u.is_empty()) {
                Some(url) => Arc::new(SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), url)),
                None => Arc::new(NoQueue),
            };
            Ok(Backend {
                store: Arc::new(store),
                queue,
                local: None,
            })
        }
    }
}

/// Stands in for the SQS queue when no URL was given: reading and managing need none, and a
/// replay says what is missing instead of failing somewhere inside the SDK.
struct NoQueue;

#[async_trait]
impl WorkQueue for NoQueue {
    async fn enqueue(&self, _item: &WorkItem) -> Result<(), QueueError> {
        Err(QueueError::Unavailable(
            "no SQS queue URL: pass --queue-url or set QUEUE_URL (the stack's QueueUrl output)"
                .into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_locations_parse() {
        assert_eq!(
            "dynamodb://webhooks-Table-1".parse::<StoreLocation>(),
            Ok(StoreLocation::DynamoDb("webhooks-Table-1".into()))
        );
        assert!("dynamodb://x".parse::<StoreLocation>().is_err());
        assert!("dynamodb://a/b".parse::<StoreLocation>().is_err());
        assert!("postgres://db".parse::<StoreLocation>().is_err());
        assert_eq!(
            "data/x.db".parse::<StoreLocation>(),
            Ok(StoreLocation::Sqlite("data/x.db".into()))
        );
    }
}
