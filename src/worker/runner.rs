//! Runs a claimed execution along its path: from the first step, or from where its records
//! say it stopped, each next step chosen by the definition (`next`, `on_error`, the case a
//! branch matched), never by counting records. The record of a step that reaches outside
//! (`http_request`, `sns_publish`, a finished `for_each`) is written to the store as the step
//! finishes, so a redelivered or taken-over execution resumes after it and never sends it
//! twice. The records of the other steps ride along with the next write (at the latest the
//! one that finishes the execution): were the worker to die first, running them again changes
//! nothing, and a workflow of such steps costs two writes (claim and finish).
//!
//! A run has a deadline: a step that might not finish before it is left to a fresh delivery
//! (`RunEnd::Continued`), so a long loop never outlives the worker's invocation.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::for_each::{self, LoopEnd};
use super::route::{self, Route};
use super::steps::{self, ExecutionInfo, StepContext, StepDeps, StepRun};
use crate::domain::{Execution, Step, StepRecord, StepStatus, Waiting, Workflow, WorkflowStep};
use crate::ports::{Store, StoreError};

/// Where a run stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// The path ran to its end (or a filter or `stop` ended it): the execution should
    /// succeed with this result.
    Completed(Value),
    /// A step failed for good: the execution should fail with this error.
    Failed(String),
    /// A step failed for a reason that may pass; the execution was given back (`queued`) with
    /// its finished steps kept. The message should come back after `retry_after`.
    Postponed {
        step: String,
        retry_after: Option<std::time::Duration>,
    },
    /// The run reached its deadline; the execution was given back (`queued`) with its
    /// progress kept. A fresh message should carry it on at once (not a redelivery, which
    /// would count toward the dead-letter limit).
    Continued,
    /// Another attempt took the execution over; this one stops without writing.
    Superseded,
    /// A step started waiting: the execution is stored `waiting` and no worker holds it.
    /// The caller arranges a wake-up at `until` (a delayed message, or the sweeper's index).
    Waiting { until: chrono::DateTime<Utc> },
}

/// This delivery of the message: on the last one a transient failure is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCount {
    pub receive_count: u32,
    pub max_receives: u32,
}

impl DeliveryCount {
    pub fn is_last(&self) -> bool {
        self.receive_count >= self.max_receives
    }
}

pub struct StepRunner<'a> {
    pub store: &'a dyn Store,
    pub deps: &'a StepDeps,
    /// How long this delivery may run steps; a step that might not finish in what is left
    /// waits for the next delivery.
    pub budget: Duration,
}

impl StepRunner<'_> {
    /// Runs what `running` has not finished yet of `steps` (the execution's own copy of its
    /// definition). `running` must hold the claim (status `running`, this attempt). Returns
    /// the execution with every step run so far: the store has it up to the last step that
    /// reached outside, and the caller's finishing write (a compare-and-swap on status and
    /// attempts) stores the rest.
    pub async fn run(
        &self,
        workflow: &Workflow,
        steps: &[WorkflowStep],
        mut running: Execution,
        delivery: DeliveryCount,
    ) -> Result<(Execution, RunEnd), StoreError> {
        let deadline = Instant::now() + self.budget;
        let attempt = running.attempts;
        let mut ctx = StepContext::new(
            running.trigger_context(),
            ExecutionInfo {
                id: running.id.to_string(),
                workflow_id: running.workflow_id.to_string(),
                attempt,
            },
        );
        let resumed = route::resume(steps, &running.steps, |r| ctx.record(r));
        let mut last_output = resumed.last_output;
        let mut at = resumed.route;
        let mut ran_any = false;
        while let Route::To(index) = at {
            let step = &steps[index];
            let fits = Instant::now() + step.action.worst_case() <= deadline;
            if ran_any && !fits {
                return self.hand_on(running, attempt).await;
            }
            // The step this execution waited in, woken: it ends (or waits on) with what it
            // waited for, instead of starting again.
            let woken = running
                .waiting
                .as_ref()
                .filter(|w| w.step == step.id && !ran_any)
                .cloned();
            let (record, retry_after) = match (&woken, &step.action) {
                (Some(waiting), _) => {
                    let started_at = running
                        .steps
                        .iter()
                        .find(|r| r.id == step.id)
                        .map_or_else(Utc::now, |r| r.started_at);
                    let run = steps::resume_step(step, waiting, self.deps).await;
                    if run.status == steps::StepStatus::Waiting {
                        let record = record_of(step, &run, started_at, delivery);
                        return self.park(running, attempt, record, &run).await;
                    }
                    (record_of(step, &run, started_at, delivery), run.retry_after)
                }
                (None, Step::ForEach(each)) => {
                    let looped = for_each::Loop {
                        store: self.store,
                        deps: self.deps,
                        execution: &running,
                        delivery,
                        deadline,
                        fresh: !ran_any,
                    };
                    match looped.run(step, each, &ctx).await? {
                        LoopEnd::Done(record) => (record, None),
                        LoopEnd::Retry { retry_after } => {
                            return self.postpone(running, attempt, &step.id, retry_after).await;
                        }
                        LoopEnd::Continue => return self.hand_on(running, attempt).await,
                    }
                }
                _ => {
                    let (record, run) = run_leaf(step, &ctx, self.deps, delivery).await;
                    if run.status == steps::StepStatus::Waiting {
                        return self.park(running, attempt, record, &run).await;
                    }
                    (record, run.retry_after)
                }
            };
            ran_any = true;
            let status = record.status;
            let Ok(next) = running.record_step(attempt, record.clone()) else {
                return Ok((running, RunEnd::Superseded));
            };
            let store_now = (step.action.reaches_outside()
                || matches!(step.action, Step::ForEach(_)))
                && status != StepStatus::Retrying;
            if store_now && !self.store.replace_execution(&running, &next).await? {
                return Ok((running, RunEnd::Superseded));
            }
            running = next;
            if status == StepStatus::Failed && !running.test {
                crate::measure::step_failed(&workflow.id, step.action.kind());
            }
            if status == StepStatus::Retrying {
                // Stored with the release, in the same write.
                return self.postpone(running, attempt, &step.id, retry_after).await;
            }
            ctx.record(&record);
            if status == StepStatus::Succeeded {
                last_output = record.output.clone().unwrap_or(Value::Null);
            }
            at = route::after(steps, index, &record);
        }
        let end = match at {
            Route::Filtered => {
                let by = running.steps.last().map(|r| r.id.clone());
                RunEnd::Completed(json!({ "outcome": "filtered", "filteredBy": by }))
            }
            Route::Stopped(reason) => {
                let by = running.steps.last().map(|r| r.id.clone());
                RunEnd::Completed(
                    json!({ "outcome": "stopped", "stoppedBy": by, "reason": reason }),
                )
            }
            Route::Fail(message) => RunEnd::Failed(message),
            Route::Complete | Route::To(_) => {
                RunEnd::Completed(json!({ "outcome": "completed", "output": last_output }))
            }
        };
        Ok((running, end))
    }

    /// Stores the execution `waiting` in the step `record` is of, as `run.suspend` says. When
    /// the step's resume URL was already used (a receiver that called back before this write),
    /// the wake-up is brought forward to now.
    async fn park(
        &self,
        running: Execution,
        attempt: u32,
        record: StepRecord,
        run: &StepRun,
    ) -> Result<(Execution, RunEnd), StoreError> {
        let Some(suspend) = &run.suspend else {
            return Ok((
                running,
                RunEnd::Failed(format!("step {:?} waits for nothing", record.id)),
            ));
        };
        let waiting = Waiting {
            step: record.id.clone(),
            kind: suspend.kind,
            wake_at: suspend.wake_at,
            expires_at: suspend.expires_at,
            token_hash: suspend.token_hash.clone(),
        };
        let Ok(parked) = running.wait(attempt, record, waiting) else {
            return Ok((running, RunEnd::Superseded));
        };
        if !self.store.replace_execution(&running, &parked).await? {
            return Ok((running, RunEnd::Superseded));
        }
        tracing::info!(execution_id = %parked.id, until = %suspend.wake_at, kind = suspend.kind.as_str(), "execution waiting");
        let decided = match &suspend.token_hash {
            Some(hash) => self
                .store
                .get_callback(hash)
                .await?
                .is_some_and(|c| c.decision.is_some()),
            None => false,
        };
        let now = Utc::now();
        if decided
            && let Some(woken) = parked.wake_now(now)
            && self.store.replace_execution(&parked, &woken).await?
        {
            return Ok((woken, RunEnd::Waiting { until: now }));
        }
        Ok((
            parked,
            RunEnd::Waiting {
                until: suspend.wake_at,
            },
        ))
    }

    /// Gives the execution back with its progress, for a later delivery of the message.
    async fn postpone(
        &self,
        running: Execution,
        attempt: u32,
        step: &str,
        retry_after: Option<Duration>,
    ) -> Result<(Execution, RunEnd), StoreError> {
        let end = RunEnd::Postponed {
            step: step.to_owned(),
            retry_after,
        };
        self.release(running, attempt, end).await
    }

    /// Gives the execution back with its progress, for a fresh message to carry on.
    async fn hand_on(
        &self,
        running: Execution,
        attempt: u32,
    ) -> Result<(Execution, RunEnd), StoreError> {
        tracing::info!(execution_id = %running.id, "the run reached its deadline; a fresh delivery carries it on");
        self.release(running, attempt, RunEnd::Continued).await
    }

    async fn release(
        &self,
        running: Execution,
        attempt: u32,
        end: RunEnd,
    ) -> Result<(Execution, RunEnd), StoreError> {
        let Ok(released) = running.release(attempt) else {
            return Ok((running, RunEnd::Superseded));
        };
        if !self.store.replace_execution(&running, &released).await? {
            return Ok((running, RunEnd::Superseded));
        }
        Ok((released, end))
    }
}

/// Runs one step that is not a loop and makes its record; the record's path is the step's
/// place in `ctx` (`chat[3].post` inside a loop).
pub(super) async fn run_leaf(
    step: &WorkflowStep,
    ctx: &StepContext,
    deps: &StepDeps,
    delivery: DeliveryCount,
) -> (StepRecord, StepRun) {
    let started_at = Utc::now();
    let execution_id = ctx.execution().id.clone();
    let run = steps::run_step(step, ctx, &execution_id, deps).await;
    let mut record = record_of(step, &run, started_at, delivery);
    let path = ctx.path_of(&step.id);
    if path != step.id {
        record.path = Some(path);
    }
    (record, run)
}

fn record_of(
    step: &WorkflowStep,
    run: &StepRun,
    started_at: chrono::DateTime<Utc>,
    delivery: DeliveryCount,
) -> StepRecord {
    let status = match run.status {
        steps::StepStatus::Succeeded => StepStatus::Succeeded,
        steps::StepStatus::Filtered => StepStatus::Filtered,
        steps::StepStatus::Stopped => StepStatus::Stopped,
        steps::StepStatus::Waiting => StepStatus::Waiting,
        steps::StepStatus::Failed if run.transient && !delivery.is_last() => StepStatus::Retrying,
        steps::StepStatus::Failed => StepStatus::Failed,
    };
    let error = match (&run.error, status) {
        (Some(e), StepStatus::Failed) if run.transient => Some(format!(
            "{e} (gave up after {} deliveries of the message)",
            delivery.receive_count
        )),
        (e, _) => e.clone(),
    };
    StepRecord {
        id: step.id.clone(),
        path: None,
        kind: step.action.kind().to_owned(),
        status,
        attempts: run.attempts.max(1),
        started_at,
        finished_at: Utc::now(),
        request: run.request.clone(),
        output: run.output.clone(),
        error,
        continued: status == StepStatus::Failed && step.continue_on_error,
        // A branch keeps its choice in its output, as its records always have.
        next: match (&step.action, &run.next) {
            (Step::Branch(_), _) | (_, None) => None,
            (_, Some(target)) => Some(target.as_str().to_owned()),
        },
    }
}
