//! The in-process worker of the local server: drains the SQLite queue with the same
//! `Worker` the SQS Lambda uses. It lives with the SQLite adapter because it drives that
//! queue's own receive / delete / postpone; the worker itself only knows the ports.

use std::time::Duration;

use tokio::sync::watch;

use super::{SqliteQueue, SqliteStore};
use crate::ports::WorkItem;
use crate::worker::{DeliveryCount, Outcome, Worker, WorkerError};

#[derive(Debug, Clone)]
pub struct LocalWorkerConfig {
    pub batch: usize,
    /// How long a received message stays hidden; a crash mid-run makes it visible again after this.
    pub visibility: Duration,
    /// After this many receives a message is dead-lettered (SQS's maxReceiveCount).
    pub max_receives: u32,
    /// Fallback poll interval, for work queued by another process (the CLI's replay).
    pub poll: Duration,
    /// How long a message waits after a step failed for a passing reason, when the step's
    /// target did not say (`Retry-After`).
    pub retry_delay: Duration,
}

impl Default for LocalWorkerConfig {
    fn default() -> Self {
        Self {
            batch: 10,
            visibility: Duration::from_secs(30),
            max_receives: 5,
            poll: Duration::from_millis(500),
            retry_delay: Duration::from_secs(10),
        }
    }
}

/// Runs until `shutdown` turns true.
pub async fn run(
    worker: Worker,
    store: SqliteStore,
    queue: SqliteQueue,
    config: LocalWorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let ready = queue.ready();
    let mut last_purge = std::time::Instant::now() - Duration::from_secs(3600);
    loop {
        if *shutdown.borrow() {
            return;
        }
        if last_purge.elapsed() >= Duration::from_secs(3600) {
            last_purge = std::time::Instant::now();
            if let Err(e) = store.purge_expired().await {
                tracing::warn!(error = %e, "could not purge expired executions");
            }
        }
        let drained = drain_once(&worker, &queue, &config).await;
        if drained == 0 {
            tokio::select! {
                _ = ready.notified() => {}
                _ = tokio::time::sleep(config.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Processes one batch; returns how many messages it received.
pub async fn drain_once(worker: &Worker, queue: &SqliteQueue, config: &LocalWorkerConfig) -> usize {
    let messages = match queue
        .receive(config.batch, config.visibility, config.max_receives)
        .await
    {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "queue receive failed");
            return 0;
        }
    };
    let received = messages.len();
    for message in messages {
        let done = match WorkItem::from_json(&message.body) {
            Ok(item) => match worker
                .process(
                    &item,
                    DeliveryCount {
                        receive_count: message.receive_count,
                        max_receives: config.max_receives,
                    },
                )
                .await
            {
                Ok(Outcome::Succeeded | Outcome::Failed | Outcome::Skipped) => true,
                Err(WorkerError::Busy {
                    id,
                    retry_after: Some(wait),
                }) => {
                    // Another worker (or one that died, e.g. before a restart) holds the
                    // lease: come back when it ends, so waiting does not use up the receives
                    // that would dead-letter the message.
                    tracing::info!(execution_id = %id, wait_ms = wait.as_millis() as u64, "execution leased elsewhere; retrying when the lease ends");
                    let wait = wait.saturating_add(Duration::from_millis(100));
                    if let Err(e) = queue.postpone(message.id, wait).await {
                        tracing::warn!(error = %e, "could not postpone the message");
                    }
                    false
                }
                Err(WorkerError::Postponed {
                    id, retry_after, ..
                }) => {
                    let wait = retry_after.unwrap_or(config.retry_delay);
                    tracing::info!(execution_id = %id, wait_ms = wait.as_millis() as u64, "a step will be retried");
                    if let Err(e) = queue.postpone(message.id, wait).await {
                        tracing::warn!(error = %e, "could not postpone the message");
                    }
                    false
                }
                Err(e) => {
                    tracing::warn!(error = %e, "will retry");
                    false
                }
            },
            Err(e) => {
                // Left on the queue, it reaches the dead-letter table after max_receives.
                tracing::error!(error = %e, "malformed work item");
                false
            }
        };
        if done && let Err(e) = queue.delete(message.id).await {
            tracing::warn!(error = %e, "could not delete processed message; it will be seen again");
        }
    }
    received
}
