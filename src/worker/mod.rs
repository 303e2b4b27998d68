//! The worker: takes a queued execution, runs its workflow's steps, records the outcome.
//! Shared by the SQS Lambda and the local in-process worker. Messages arrive at least once,
//! so every state change is a conditional write and a repeat does nothing.

pub mod dry_run;
pub mod for_each;
pub mod route;
pub mod runner;
pub mod steps;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;

use crate::cache::TtlCache;
use crate::domain::{Definition, Execution, TransitionError, Workflow, WorkflowId};
use crate::ports::{Store, StoreError, WorkItem};
pub use runner::DeliveryCount;
use runner::{RunEnd, StepRunner};
use steps::StepDeps;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Nothing to do: the execution is gone (expired) or already finished.
    Skipped,
    /// The run reached its deadline and gave the execution back with its progress kept:
    /// the caller sends a fresh message for it (at once) and then acknowledges this one, so
    /// that carrying on never counts toward the dead-letter limit.
    Continued,
    /// The execution waits (a `wait`, `approval` or `callback` step) until `until`, or was
    /// woken before its time (nothing changed). The caller arranges a wake-up at `until` and
    /// is done with the message: a wait is not a failed delivery.
    Waiting {
        until: chrono::DateTime<Utc>,
    },
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
    /// A step failed for a reason that may pass (its target timed out or answered 503); the
    /// execution was given back with its finished steps kept. Deliver the message again after
    /// `retry_after` (or the queue's own delay).
    #[error("execution {id} will run step {step} again later")]
    Postponed {
        id: String,
        step: String,
        retry_after: Option<std::time::Duration>,
    },
}

/// Everything the worker needs, so a new dependency is one field here.
#[derive(Clone)]
pub struct WorkerDeps {
    pub store: Arc<dyn Store>,
    /// What steps use to reach the world: HTTP, SNS, templates.
    pub steps: StepDeps,
    /// After this long a running execution whose worker went silent may be claimed again.
    pub lease: chrono::Duration,
    /// How long a workflow read for one execution is reused for the next ones (the API's
    /// `CACHE_TTL_SECONDS`): an edit reaches the worker within this long. Zero reads it for
    /// every execution.
    pub workflow_ttl: std::time::Duration,
    /// How long one delivery runs steps before it hands the execution on to a fresh message
    /// (`WORKER_STEP_BUDGET` in production; tests shorten it).
    pub budget: std::time::Duration,
}

/// A workflow as the worker caches it, with the copy of its steps each new execution takes:
/// built (and serialised) once per read of the workflow, shared by every execution.
struct LoadedWorkflow {
    workflow: Workflow,
    definition: Definition,
}

/// Saved versions' steps, by workflow and number. Versions never change, so an entry never
/// goes stale; the map is emptied when it reaches [`MAX_CACHED_VERSIONS`] to stay bounded.
type VersionCache = Mutex<HashMap<(WorkflowId, u32), Definition>>;
const MAX_CACHED_VERSIONS: usize = 256;

#[derive(Clone)]
pub struct Worker {
    deps: Arc<WorkerDeps>,
    workflows: Arc<TtlCache<WorkflowId, Arc<LoadedWorkflow>>>,
    versions: Arc<VersionCache>,
}

impl Worker {
    pub fn new(deps: WorkerDeps) -> Self {
        Self {
            workflows: Arc::new(TtlCache::new(deps.workflow_ttl)),
            versions: Arc::default(),
            deps: Arc::new(deps),
        }
    }

    /// The steps a fresh execution runs: those of the version it records (a replay of the
    /// original version, or an execution accepted under a version this process has not read
    /// yet), else the workflow's current ones. A recorded version that cannot be found (never
    /// in practice: versions are kept) runs the current steps, with a warning.
    async fn definition_for(
        &self,
        execution: &Execution,
        workflow: &LoadedWorkflow,
    ) -> Result<Definition, StoreError> {
        let number = match execution.workflow_version {
            Some(n) if n != workflow.workflow.version => n,
            _ => return Ok(workflow.definition.clone()),
        };
        let key = (workflow.workflow.id.clone(), number);
        if let Some(found) = self.cached_version(&key) {
            return Ok(found);
        }
        let Some(version) = self
            .store()
            .get_workflow_version(&workflow.workflow.id, number)
            .await?
        else {
            tracing::warn!(execution_id = %execution.id, version = number, "workflow version not found; running the current one");
            return Ok(workflow.definition.clone());
        };
        let definition = Definition::new(version.definition.steps);
        let mut versions = self
            .versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if versions.len() >= MAX_CACHED_VERSIONS {
            versions.clear();
        }
        versions.insert(key, definition.clone());
        Ok(definition)
    }

    fn cached_version(&self, key: &(WorkflowId, u32)) -> Option<Definition> {
        self.versions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// The workflow an execution runs, from this process's cache when it was read lately.
    async fn workflow(&self, id: &WorkflowId) -> Result<Option<Arc<LoadedWorkflow>>, StoreError> {
        if let Some(workflow) = self.workflows.get(id) {
            return Ok(Some(workflow));
        }
        let Some(workflow) = self.store().get_workflow(id).await? else {
            return Ok(None);
        };
        let workflow = Arc::new(LoadedWorkflow {
            definition: Definition::new(workflow.steps.clone()),
            workflow,
        });
        self.workflows.insert(id.clone(), workflow.clone());
        Ok(Some(workflow))
    }

    fn store(&self) -> &dyn Store {
        self.deps.store.as_ref()
    }

    /// Runs the execution `item` names. `delivery` says how often the queue has handed this
    /// message out: on its last delivery a step that keeps failing for a passing reason
    /// fails the execution instead of being retried.
    pub async fn process(
        &self,
        item: &WorkItem,
        delivery: DeliveryCount,
    ) -> Result<Outcome, WorkerError> {
        let Some(queued) = self
            .store()
            .get_execution(&item.workflow_id, &item.execution_id)
            .await?
        else {
            tracing::warn!(execution_id = %item.execution_id, "execution not found; message dropped");
            return Ok(Outcome::Skipped);
        };
        let workflow = if queued.status.is_final() {
            None
        } else {
            self.workflow(&queued.workflow_id).await?
        };
        let first_definition = match &workflow {
            Some(workflow) if queued.definition.is_none() => {
                Some(self.definition_for(&queued, workflow).await?)
            }
            _ => None,
        };
        let running = match queued.claim(Utc::now(), self.deps.lease) {
            // The first claim copies the steps it will run: a later edit of the workflow
            // cannot change the path of an execution already under way.
            Ok(mut running) => {
                if running.definition.is_none() {
                    running.definition = first_definition;
                }
                running
            }
            Err(TransitionError::AlreadyRunning) => {
                let now = Utc::now();
                let retry_after = queued
                    .started_at
                    .and_then(|started| started.checked_add_signed(self.deps.lease))
                    .and_then(|end| (end - now).to_std().ok());
                return Err(WorkerError::Busy {
                    id: queued.id.to_string(),
                    retry_after,
                });
            }
            // A duplicate or early wake-up: the wait goes on, unchanged.
            Err(TransitionError::NotDue(until)) => {
                tracing::info!(execution_id = %queued.id, %until, "woken before its time; still waiting");
                return Ok(Outcome::Waiting { until });
            }
            Err(reason) => {
                tracing::info!(execution_id = %queued.id, %reason, "nothing to do");
                return Ok(Outcome::Skipped);
            }
        };
        if !self.store().replace_execution(&queued, &running).await? {
            return Err(WorkerError::Busy {
                id: queued.id.to_string(),
                retry_after: None,
            });
        }
        tracing::info!(execution_id = %running.id, attempt = running.attempts, "execution running");
        let attempt = running.attempts;
        match self.run_claimed(item, workflow, running, delivery).await {
            Err(WorkerError::Store(err)) => {
                self.after_store_failure(item, attempt, delivery, err).await
            }
            other => other,
        }
    }

    /// The store failed after this attempt claimed the execution. Left `running`, it would
    /// wait out the whole lease before the next delivery could take it, and after the queue's
    /// last delivery it would be dead-lettered and stay `running` for good. So: on the last
    /// delivery it is failed with the reason; otherwise it is given back (`queued`) for the
    /// next one. Both best effort: the store may still be down.
    async fn after_store_failure(
        &self,
        item: &WorkItem,
        attempt: u32,
        delivery: DeliveryCount,
        err: StoreError,
    ) -> Result<Outcome, WorkerError> {
        let current = match self
            .store()
            .get_execution(&item.workflow_id, &item.execution_id)
            .await
        {
            Ok(Some(current)) => current,
            _ => return Err(err.into()),
        };
        let next = if delivery.is_last() {
            let reason = format!(
                "gave up after {} deliveries: the store failed ({err})",
                delivery.receive_count
            );
            current.fail(attempt, reason, Utc::now())
        } else {
            current.release(attempt)
        };
        let Ok(next) = next else {
            return Err(err.into());
        };
        match self.store().replace_execution(&current, &next).await {
            Ok(true) if delivery.is_last() => {
                tracing::error!(execution_id = %current.id, error = %err, "execution failed: the store kept failing");
                Ok(Outcome::Failed)
            }
            _ => Err(err.into()),
        }
    }

    async fn run_claimed(
        &self,
        item: &WorkItem,
        workflow: Option<Arc<LoadedWorkflow>>,
        running: Execution,
        delivery: DeliveryCount,
    ) -> Result<Outcome, WorkerError> {
        let Some(workflow) = workflow else {
            let error = format!("workflow {} no longer exists", running.workflow_id);
            return self.finish(item, &running, Err(error)).await;
        };
        let runner = StepRunner {
            store: self.store(),
            deps: &self.deps.steps,
            budget: self.deps.budget,
        };
        let attempt = running.attempts;
        let steps = running
            .definition
            .clone()
            .unwrap_or_else(|| workflow.definition.clone());
        let (running, end) = match runner
            .run(&workflow.workflow, &steps, running, delivery)
            .await
        {
            Ok(done) => done,
            Err(StoreError::TooLarge(reason)) => {
                return self.fail_too_large(item, attempt, reason).await;
            }
            Err(other) => return Err(other.into()),
        };
        match end {
            RunEnd::Completed(result) => self.finish(item, &running, Ok(result)).await,
            RunEnd::Failed(error) => self.finish(item, &running, Err(error)).await,
            RunEnd::Superseded => {
                tracing::warn!(execution_id = %running.id, "a later attempt took over; stopping");
                Ok(Outcome::Skipped)
            }
            RunEnd::Continued => Ok(Outcome::Continued),
            RunEnd::Waiting { until } => Ok(Outcome::Waiting { until }),
            RunEnd::Postponed { step, retry_after } => {
                tracing::info!(execution_id = %running.id, step, "step will be retried on a later delivery");
                Err(WorkerError::Postponed {
                    id: running.id.to_string(),
                    step,
                    retry_after,
                })
            }
        }
    }

    /// Step records or a result too big to keep must not strand the execution in `running`:
    /// it fails as stored, with the steps written so far, and the rest is discarded. Only
    /// while `attempt` still holds it: a later attempt that took over is left alone.
    async fn fail_too_large(
        &self,
        item: &WorkItem,
        attempt: u32,
        reason: String,
    ) -> Result<Outcome, WorkerError> {
        let Some(current) = self
            .store()
            .get_execution(&item.workflow_id, &item.execution_id)
            .await?
        else {
            return Ok(Outcome::Skipped);
        };
        // Short, so that the failed record, a little larger than the stored one, still fits.
        let reason: String = reason.chars().take(200).collect();
        let error = format!(
            "the execution grew too large to store ({reason}); the steps' records and result past the last stored step were discarded"
        );
        let failed = match current.fail(attempt, error, Utc::now()) {
            Ok(failed) => failed,
            Err(_) => return Ok(Outcome::Skipped),
        };
        match self.store().replace_execution(&current, &failed).await? {
            true => {
                if !failed.test {
                    crate::measure::execution_finished(&failed.workflow_id, "failed");
                }
                Ok(Outcome::Failed)
            }
            false => Ok(Outcome::Skipped),
        }
    }

    /// Stores the outcome, with the records of the steps run since the last write.
    async fn finish(
        &self,
        item: &WorkItem,
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
        let written = match self.store().replace_execution(running, &finished).await {
            Err(StoreError::TooLarge(reason)) => {
                return self.fail_too_large(item, running.attempts, reason).await;
            }
            other => other?,
        };
        // A test run is the operator trying the workflow: it stays out of the counts.
        if written && finished.test {
            tracing::info!(execution_id = %running.id, status = %finished.status, "test execution finished");
            Ok(result)
        } else if written {
            tracing::info!(execution_id = %running.id, status = %finished.status, "execution finished");
            let filtered = finished
                .result
                .as_ref()
                .and_then(|r| r.get("outcome"))
                .and_then(serde_json::Value::as_str)
                == Some("filtered");
            let waited = (finished.finished_at.unwrap_or(now) - finished.received_at)
                .num_milliseconds()
                .max(0) as f64
                / 1000.0;
            crate::measure::execution_latency(waited);
            crate::measure::execution_finished(
                &finished.workflow_id,
                match result {
                    Outcome::Succeeded if filtered => "filtered",
                    Outcome::Succeeded => "succeeded",
                    _ => "failed",
                },
            );
            Ok(result)
        } else {
            tracing::warn!(execution_id = %running.id, "a later attempt took over; outcome discarded");
            Ok(Outcome::Skipped)
        }
    }
}
