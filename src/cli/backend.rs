//! Where the CLI and the local server keep their data: a SQLite file, or DynamoDB + SQS.

use std::path::PathBuf;
use std::sync::Arc;

use crate::adapters::sqlite::{SqliteQueue, SqliteStore};
use crate::ports::{Store, WorkQueue};

pub const DEFAULT_DB: &str = ".data/webhook-trigger.db";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Sqlite(PathBuf),
}

impl std::str::FromStr for StoreLocation {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if raw.contains("://") {
            return Err(format!(
                "unknown store {raw:?}: use a SQLite file path or sqlite://PATH"
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

pub async fn open(location: &StoreLocation) -> Result<Backend, BackendError> {
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
    }
}
