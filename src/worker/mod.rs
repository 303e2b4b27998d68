//! The worker: takes a queued execution, runs its workflow's steps, records the outcome.
//! Shared by the SQS Lambda and the local in-process worker. Messages arrive at least once,
//! so every state change is a conditional write and a repeat does nothing.

pub mod local;
pub mod runner;
pub mod steps;

use std::sync::Arc;

use chrono::Utc;

use crate::domain::{Execution, TransitionError};
use crate::ports::{Store, StoreError, WorkItem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Nothing to do: the execution is gone (expired) or already finished.
    Skipped,
}

/// A message that should be delivered again later.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("execution {id} is being run by another worker")]
    Busy {
        id: String,
        /// How long until that worker's lease ends and the execution may be taken over, when
        /// known. A queue should hide the message at least this long: retrying sooner only
        /// spends receives and can dead-letter work that was never run.
        retry_after: Option<std::time::Duration>,
    },
}

#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    lease: chrono::Duration,
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, lease: chrono::Duration) -> Self {
        Self { store, lease }
    }

    pub async fn process(&self, item: &WorkItem) -> Result<Outcome, WorkerError> {
        let Some(queued) = self
            .store
            .get_execution(&item.workflow_id, &item.execution_id)
            .await?
        else {
            tracing::warn!(execution_id = %item.execution_id, "execution not found; message dropped");
            return Ok(Outcome::Skipped);
        };
        let running = match queued.claim(Utc::now(), self.lease) {
            Ok(running) => running,
            Err(TransitionError::AlreadyRunning) => {
                let now = Utc::now();
                let retry_after = queued
                    .started_at
                    .and_then(|started| started.checked_add_signed(self.lease))
                    .and_then(|end| (end - now).to_std().ok());
                return Err(WorkerError::Busy {
                    id: queued.id.to_string(),
                    retry_after,
                });
            }
            Err(reason) => {
                tracing::info!(execution_id = %queued.id, %reason, "nothing to do");
                return Ok(Outcome::Skipped);
            }
        };
        if !self.store.replace_execution(&queued, &running).await? {
            return Err(WorkerError::Busy {
                id: queued.id.to_string(),
                retry_after: None,
            });
        }
        tracing::info!(execution_id = %running.id, attempt = running.attempts, "execution running");

        let outcome = match self.store.get_workflow(&running.workflow_id).await? {
            Some(workflow) => runner::run_steps(&workflow.steps, &running)
                .await
                .map_err(|e| e.to_string()),
            None => Err(format!("workflow {} no longer exists", running.workflow_id)),
        };
        self.finish(&running, outcome).await
    }

    async fn finish(
        &self,
        running: &Execution,
        outcome: Result<serde_json::Value, String>,
    ) -> Result<Outcome, WorkerError> {
        let now = Utc::now();
        let (finished, result) = match outcome {
            Ok(value) => (
                running.succeed(running.attempts, value, now),
                Outcome::Succeeded,
            ),
            Err(error) => (running.fail(running.attempts, error, now), Outcome::Failed),
        };
        // The claim was just written by this attempt, so the transition itself cannot be refused.
        let finished = match finished {
            Ok(finished) => finished,
            Err(reason) => {
                tracing::warn!(execution_id = %running.id, %reason, "could not finish");
                return Ok(Outcome::Skipped);
            }
        };
        let written = match self.store.replace_execution(running, &finished).await {
            // A result too big to keep must not strand the execution in `running`.
            Err(StoreError::TooLarge(reason)) => {
                let error =
                    format!("the result was too large to store ({reason}); it was discarded");
                let failed = match running.fail(running.attempts, error, now) {
                    Ok(failed) => failed,
                    Err(_) => return Ok(Outcome::Skipped),
                };
                return match self.store.replace_execution(running, &failed).await? {
                    true => Ok(Outcome::Failed),
                    false => Ok(Outcome::Skipped),
                };
            }
            other => other?,
        };
        if written {
            tracing::info!(execution_id = %running.id, status = %finished.status, "execution finished");
            Ok(result)
        } else {
            tracing::warn!(execution_id = %running.id, "a later attempt took over; outcome discarded");
            Ok(Outcome::Skipped)
        }
    }
}
