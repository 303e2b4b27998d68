//! The embedded backend: one SQLite file (WAL) holds keys, workflows, executions, SNS
//! subscriptions and the work queue, so a local process survives restarts with nothing lost.

mod queue;
mod schema;
mod store;
pub mod worker_loop;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Notify;

pub use queue::{ReceivedMessage, SqliteQueue};

use crate::ports::StoreError;

/// One connection shared by the store and the queue. SQLite serialises writers anyway, and
/// the local process is a development server, so one connection keeps it simple and correct.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Wakes the in-process worker as soon as something is queued, whether by the queue or
    /// by the store's outbox (an accepted webhook), instead of waiting for its next poll.
    ready: Arc<Notify>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        schema::prepare(&conn).map_err(unavailable)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            ready: Arc::new(Notify::new()),
        })
    }

    pub fn queue(&self) -> SqliteQueue {
        SqliteQueue::new(self.clone())
    }

    /// Runs blocking SQLite work off the async runtime's threads.
    async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
    }
}

pub(crate) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
