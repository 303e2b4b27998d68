use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{ExecutionId, WorkflowId};

/// The message handed to the worker: a reference to a stored execution, never its payload,
/// so the queue holds no customer data and its size limit never matters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkItem {
    pub workflow_id: WorkflowId,
    pub execution_id: ExecutionId,
}

impl WorkItem {
    pub fn to_json(&self) -> String {
        // A struct of two strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(body: &str) -> Result<Self, QueueError> {
        serde_json::from_str(body).map_err(|e| QueueError::BadMessage(e.to_string()))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    #[error("message is not a work item: {0}")]
    BadMessage(String),
}

#[async_trait]
pub trait WorkQueue: Send + Sync {
    async fn enqueue(&self, item: &WorkItem) -> Result<(), QueueError>;
}

/// Hands a received message back to the queue for later, so a worker waiting on a step's
/// target does not hold the message (or, on Lambda, the function) while it waits.
#[async_trait]
pub trait Redelivery: Send + Sync {
    /// Hides the message `receipt` identifies for `delay` before it is delivered again.
    async fn postpone(&self, receipt: &str, delay: std::time::Duration) -> Result<(), QueueError>;
}

/// Sends a work item that becomes visible only after a delay: the wake-up of an execution
/// that waits a short time (SQS `DelaySeconds`, at most [`MAX_QUEUE_DELAY`]).
#[async_trait]
pub trait DelayedQueue: Send + Sync {
    async fn enqueue_after(
        &self,
        item: &WorkItem,
        delay: std::time::Duration,
    ) -> Result<(), QueueError>;
}

/// The longest delay SQS gives a message (15 minutes). A longer wait is woken by the
/// sweeper, which reads waiting executions by wake-up time.
pub const MAX_QUEUE_DELAY: std::time::Duration = std::time::Duration::from_secs(900);
