//! The in-process worker of the local server: drains the SQLite queue with the same
//! `Worker` the SQS Lambda uses. It lives with the SQLite adapter because it drives that
//! queue's own receive / delete / postpone; the worker itself only knows the ports.

use std::time::Duration;

use tokio::sync::watch;

use super::{SqliteQueue, SqliteStore};
use crate::config::ConfigError;
use crate::ports::{WorkItem, WorkQueue};
use crate::worker::{DeliveryCount, Outcome, Worker, WorkerError};

#[derive(Debug, Clone)]
pub struct LocalWorkerConfig {
    /// At most this many executions run at once (and are taken per receive). Their store
    /// writes share the writer's commits, so more in flight means fewer fsyncs per execution;
    /// it also bounds how many `http_request` steps are out at once.
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
            batch: 64,
            visibility: Duration::from_secs(30),
            max_receives: 5,
            poll: Duration::from_millis(500),
            retry_delay: Duration::from_secs(10),
        }
    }
}

/// Most executions `serve` runs at once, whatever `LOCAL_WORKER_CONCURRENCY` asks.
pub const MAX_CONCURRENCY: usize = 1024;

impl LocalWorkerConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The defaults, with `LOCAL_WORKER_CONCURRENCY` (1 to [`MAX_CONCURRENCY`]) as `batch`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        if let Some(raw) = lookup("LOCAL_WORKER_CONCURRENCY") {
            config.batch = raw
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_CONCURRENCY).contains(n))
                .ok_or(ConfigError {
                    name: "LOCAL_WORKER_CONCURRENCY",
                    value: raw,
                    expected: "a whole number from 1 to 1024",
                })?;
        }
        Ok(config)
    }
}

/// The niceness of the local worker's threads: when the API and the worker want the same
/// cores, answering webhooks comes first (a 2xx is what a sender waits for; an execution can
/// wait in the fsync'd queue), and an idle API leaves the worker every core.
pub const WORKER_NICENESS: i32 = 10;

/// Runs [`run`] on threads of its own at a lower CPU priority ([`WORKER_NICENESS`]), on a
/// runtime of its own, so the API's runtime keeps its threads. Returns when `shutdown` turned
/// true and the executions in flight have finished.
pub fn spawn_background(
    worker: Worker,
    store: SqliteStore,
    queue: SqliteQueue,
    config: LocalWorkerConfig,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("local-worker".into())
        .spawn(move || {
            // Threads inherit their creator's niceness: the runtime's threads (and its
            // blocking pool) are created below, from this one.
            lower_priority();
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .thread_name("local-worker")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the local worker's runtime; nothing will run");
                    return;
                }
            };
            runtime.block_on(run(worker, store, queue, config, shutdown));
        })
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux the niceness is per thread, and `who = 0` is the calling thread.
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, WORKER_NICENESS) };
    if rc != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "could not lower the local worker's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Runs until `shutdown` turns true, then lets the executions in flight finish.
///
/// A pipeline, not batch by batch: whenever fewer than `config.batch` executions are running,
/// it takes more from the queue, so one slow execution never holds up the next receive.
pub async fn run(
    worker: Worker,
    store: SqliteStore,
    queue: SqliteQueue,
    config: LocalWorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) {
    let ready = queue.ready();
    let mut last_purge = std::time::Instant::now() - Duration::from_secs(3600);
    let mut last_gauge = std::time::Instant::now() - Duration::from_secs(1);
    let mut running = tokio::task::JoinSet::new();
    loop {
        if *shutdown.borrow() {
            while running.join_next().await.is_some() {}
            return;
        }
        if last_purge.elapsed() >= Duration::from_secs(3600) {
            last_purge = std::time::Instant::now();
            if let Err(e) = store.purge_expired().await {
                tracing::warn!(error = %e, "could not purge expired executions");
            }
        }
        // The waiting gauge, from the store (a restart must not reset it), once a second.
        if last_gauge.elapsed() >= Duration::from_secs(1) {
            last_gauge = std::time::Instant::now();
            match store.waiting_count().await {
                Ok(n) => crate::measure::waiting(n),
                Err(e) => tracing::warn!(error = %e, "could not count waiting executions"),
            }
        }
        let free = config.batch.saturating_sub(running.len());
        let mut received = 0;
        if free > 0 {
            for message in receive(&queue, &config, free).await {
                received += 1;
                let (worker, queue, config) = (worker.clone(), queue.clone(), config.clone());
                running.spawn(async move { handle(&worker, &queue, &config, message).await });
            }
        }
        // Full, or the queue had less than there was room for: wait for a slot or new work.
        if received == 0 || received < free {
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => report(done),
                _ = ready.notified() => {}
                _ = tokio::time::sleep(config.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
        // Reap what else has finished, without waiting.
        while let Some(done) = running.try_join_next() {
            report(done);
        }
    }
}

async fn receive(
    queue: &SqliteQueue,
    config: &LocalWorkerConfig,
    max: usize,
) -> Vec<super::ReceivedMessage> {
    match queue
        .receive(max, config.visibility, config.max_receives)
        .await
    {
        Ok(messages) => messages,
        Err(e) => {
            tracing::error!(error = %e, "queue receive failed");
            Vec::new()
        }
    }
}

fn report(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        // A panic in a step: the message was not deleted and comes back after its
        // visibility timeout, like any other failed delivery.
        tracing::error!(error = %e, "an execution's task failed");
    }
}

/// Processes one batch, its messages side by side (as many Lambda workers would take them):
/// their store writes share the writer's commits, and a slow step holds up only its own
/// execution. Returns how many messages it received.
pub async fn drain_once(worker: &Worker, queue: &SqliteQueue, config: &LocalWorkerConfig) -> usize {
    let messages = receive(queue, config, config.batch).await;
    let received = messages.len();
    let mut running = tokio::task::JoinSet::new();
    for message in messages {
        let (worker, queue, config) = (worker.clone(), queue.clone(), config.clone());
        running.spawn(async move { handle(&worker, &queue, &config, message).await });
    }
    while let Some(done) = running.join_next().await {
        report(done);
    }
    received
}

/// Runs one message's execution; deletes the message once the execution is settled.
async fn handle(
    worker: &Worker,
    queue: &SqliteQueue,
    config: &LocalWorkerConfig,
    message: super::ReceivedMessage,
) {
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
            Ok(Outcome::Waiting { until }) => {
                // The message itself is the wake-up: hidden until the time, its receive count
                // reset. A restart changes nothing (the row and its time are in the file).
                let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
                if let Err(e) = queue.defer(message.id, wait).await {
                    // It comes back after its visibility timeout and is deferred then.
                    tracing::warn!(error = %e, "could not defer the waiting execution's message");
                }
                false
            }
            Ok(Outcome::Continued) => match queue.enqueue(&item).await {
                // A fresh message, visible at once; this one is done with.
                Ok(()) => true,
                Err(e) => {
                    // Left as it is, this message comes back and carries the execution on.
                    tracing::warn!(error = %e, "could not queue the execution's next delivery");
                    false
                }
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_comes_from_the_environment_within_bounds() {
        let with = |v: &str| {
            let v = v.to_owned();
            LocalWorkerConfig::from_lookup(move |name| {
                (name == "LOCAL_WORKER_CONCURRENCY").then(|| v.clone())
            })
        };
        assert_eq!(
            LocalWorkerConfig::from_lookup(|_| None).map(|c| c.batch),
            Ok(64)
        );
        assert_eq!(with(" 8 ").map(|c| c.batch), Ok(8));
        for bad in ["0", "1025", "-1", "many", ""] {
            let err = with(bad).expect_err(bad);
            assert_eq!(err.name, "LOCAL_WORKER_CONCURRENCY");
        }
    }
}
