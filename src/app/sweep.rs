//! The sweeper: re-sends executions whose queue message may have been lost. On AWS the
//! execution is written to DynamoDB, then sent to SQS; a crash, a Lambda timeout or an SQS
//! outage between the two leaves an execution `queued` with no message. A scheduled function
//! finds those (the store's sparse index of executions no worker has taken) once they have
//! waited longer than any send can take, and sends them again. The worker's conditional
//! transitions make a second message for one execution harmless.
//!
//! It also wakes waiting executions whose time has come (`wait`s longer than SQS can delay
//! a message, approval and callback timeouts, decisions whose own message was lost): the same
//! index holds them by wake-up time, so a wait of seven days costs one stored record and no
//! invocation until the sweep that finds it due.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ports::{PendingDispatch, QueueError, StoreError, WorkQueue};

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub resent: usize,
    /// Waiting executions sent a wake-up.
    pub woken: usize,
    /// How long past its wake-up time the oldest due execution was (0 when none was due):
    /// the alarm on a stalled wake-up engine watches it.
    pub oldest_overdue_seconds: u64,
    /// Executions waiting after the sweep.
    pub waiting: u64,
}

pub struct Sweeper {
    pending: Arc<dyn PendingDispatch>,
    queue: Arc<dyn WorkQueue>,
    /// An execution waiting this long for its first worker has lost its message (or is stuck
    /// behind a backlog, where one more message costs nothing). Longer than the API
    /// function's timeout, so a send still in flight is not doubled.
    after: chrono::Duration,
    /// Most executions re-sent per sweep, so one run stays well inside its timeout; the next
    /// sweep takes the rest.
    batch: usize,
}

impl Sweeper {
    pub fn new(
        pending: Arc<dyn PendingDispatch>,
        queue: Arc<dyn WorkQueue>,
        after: chrono::Duration,
        batch: usize,
    ) -> Self {
        Self {
            pending,
            queue,
            after,
            batch,
        }
    }

    /// Re-sends what has waited since before `now - after`, and notes each re-send so the
    /// next sweeps leave it alone for `after` again.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, SweepError> {
        let stranded = self
            .pending
            .undelivered_before(now - self.after, self.batch)
            .await?;
        let mut report = SweepReport::default();
        for item in stranded {
            self.queue.enqueue(&item).await?;
            tracing::warn!(execution_id = %item.execution_id, workflow_id = %item.workflow_id, "re-sent an execution whose queue message was missing");
            self.pending.mark_resent(&item, now).await?;
            report.resent += 1;
        }
        let due = self.pending.due_wakeups(now, self.batch).await?;
        if let Some((_, oldest)) = due.first() {
            report.oldest_overdue_seconds = (now - *oldest).num_seconds().max(0) as u64;
        }
        for (item, _) in due {
            self.queue.enqueue(&item).await?;
            tracing::info!(execution_id = %item.execution_id, workflow_id = %item.workflow_id, "woke a waiting execution");
            report.woken += 1;
        }
        report.waiting = self.pending.count_waiting().await?;
        crate::measure::wakeups(report.woken, report.oldest_overdue_seconds);
        crate::measure::waiting(report.waiting);
        Ok(report)
    }
}
