//! The embedded backend: one SQLite file (WAL) holds keys, workflows, executions (with the
//! item records of their `for_each` steps), SNS subscriptions and the work queue, so a local
//! process survives restarts with nothing lost.

mod callbacks;
mod checkpointer;
mod group_commit;
mod items;
mod queue;
mod refusal_samples;
mod rejections;
mod schema;
mod store;
mod versions;
pub mod worker_loop;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Notify;

pub use group_commit::CommitStats;
pub use queue::{ReceivedMessage, SqliteQueue};

use crate::ports::StoreError;

/// Two connections to one file, shared by the store and the queue: the hot writes (accepted
/// webhooks, the worker's state changes, queue receives and deletes) go to one writer thread
/// that commits them in groups (`group_commit`); reads and the rare other writes (keys,
/// workflows, subscriptions) use `conn`. SQLite serialises writers anyway; WAL lets reads on
/// `conn` go on while a group commits.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Wakes the in-process worker as soon as something is queued, whether by the queue or
    /// by the store's outbox (an accepted webhook), instead of waiting for its next poll.
    ready: Arc<Notify>,
    writes: group_commit::Submit,
    counters: Arc<group_commit::Counters>,
    /// Stops the background checkpointer when the last clone is dropped.
    _checkpoints: Option<Arc<checkpointer::Stop>>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let cannot_open = |e: rusqlite::Error| {
            StoreError::Unavailable(format!("cannot open {}: {e}", path.display()))
        };
        let conn = Connection::open(path).map_err(cannot_open)?;
        schema::prepare(&conn).map_err(unavailable)?;
        let writer = Connection::open(path).map_err(cannot_open)?;
        schema::configure(&writer).map_err(unavailable)?;
        let checkpoints = checkpointer::start(path, &[&conn, &writer]);
        let conn = Arc::new(Mutex::new(conn));
        let ready = Arc::new(Notify::new());
        let counters = Arc::new(group_commit::Counters::default());
        // Out of threads is a store that cannot open, not a panic.
        let writes = group_commit::start(writer, counters.clone())
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            conn,
            ready,
            writes,
            counters,
            _checkpoints: checkpoints.map(Arc::new),
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

impl SqliteStore {
    /// Runs `work` in the writer's next group: it shares that group's transaction and its one
    /// fsync, and is answered once the group has committed; if another write of the group
    /// fails, `work` may run a second time (`group_commit::commit_batch`), so it must only
    /// touch the connection. For writes someone waits on to be answered (an accepted webhook).
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_in(group_commit::Lane::Urgent, work).await
    }

    /// [`Self::write`] for the worker's writes: groups with webhooks waiting take only a
    /// few of them (`group_commit`), so they never hold up a webhook's answer for long.
    async fn write_background<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_in(group_commit::Lane::Background, work).await
    }

    async fn write_in<T, F>(&self, lane: group_commit::Lane, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let stopped = || StoreError::Unavailable("the store's writer has stopped".into());
        let (job, answer) = group_commit::job(work);
        self.writes.send((lane, job)).map_err(|_| stopped())?;
        // Counted once it is in the writer's channel: whoever sees the count can rely on the
        // writer's next batch taking it (an urgent one; a background one beside urgent ones
        // may wait a batch or more behind the first 16).
        self.counters
            .submitted
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        answer.await.map_err(|_| stopped())?
    }

    /// What the group-commit writer has done since this store was opened.
    pub fn commit_stats(&self) -> CommitStats {
        self.counters.snapshot()
    }

    /// The connection's `synchronous` and `journal_mode` settings, as SQLite reports them
    /// (2 = FULL): what a 2xx's durability rests on.
    pub async fn durability(&self) -> Result<(i64, String), StoreError> {
        self.with_conn(|c| {
            let sync: i64 = c
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .map_err(unavailable)?;
            let journal: String = c
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .map_err(unavailable)?;
            Ok((sync, journal))
        })
        .await
    }
}

pub(crate) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
