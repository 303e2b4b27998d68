//! Runs a claimed execution's steps in order. The record of a step that reaches outside
//! (`http_request`, `sns_publish`) is written to the store as the step finishes, so a
//! redelivered or taken-over execution resumes after it and never sends it twice. The records
//! of the other steps ride along with the next write (at the latest the one that finishes the
//! execution): were the worker to die first, running them again changes nothing, and a
//! workflow of such steps costs two writes (claim and finish) instead of one more per step.

use chrono::Utc;
use serde_json::{Value, json};

use super::steps::{self, ExecutionInfo, StepContext, StepDeps, StepRun};
use crate::domain::{Execution, StepRecord, StepStatus, Workflow, WorkflowStep};
use crate::ports::{Store, StoreError};

/// Where a run stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEnd {
    /// Every step ran (or a filter ended it): the execution should succeed with this result.
    Completed(Value),
    /// A step failed for good: the execution should fail with this error.
    Failed(String),
    /// A step failed for a reason that may pass; the execution was given back (`queued`) with
    /// its finished steps kept. The message should come back after `retry_after`.
    Postponed {
        step: String,
        retry_after: Option<std::time::Duration>,
    },
    /// Another attempt took the execution over; this one stops without writing.
    Superseded,
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
}

impl StepRunner<'_> {
    /// Runs the steps of `workflow` that `running` has not finished yet. `running` must hold
    /// the claim (status `running`, this attempt). Returns the execution with every step run
    /// so far: the store has it up to the last step that reached outside, and the caller's
    /// finishing write (a compare-and-swap on status and attempts) stores the rest.
    pub async fn run(
        &self,
        workflow: &Workflow,
        mut running: Execution,
        delivery: DeliveryCount,
    ) -> Result<(Execution, RunEnd), StoreError> {
        let attempt = running.attempts;
        let mut ctx = StepContext::new(
            running.trigger_context(),
            ExecutionInfo {
                id: running.id.to_string(),
                workflow_id: running.workflow_id.to_string(),
                attempt,
            },
        );
        let finished = running.finished_steps();
        for record in &running.steps[..finished] {
            ctx.record_output(&record.id, record.output.clone().unwrap_or(Value::Null));
        }
        let mut last_output = running
            .steps
            .get(finished.wrapping_sub(1))
            .and_then(|r| r.output.clone())
            .unwrap_or(Value::Null);
        for step in workflow.steps.iter().skip(finished) {
            let started_at = Utc::now();
            let run = steps::run_step(step, &ctx, &running.id.to_string(), self.deps).await;
            let record = record_of(step, &run, started_at, delivery);
            let status = record.status;
            let error = record.error.clone();
            let output = record.output.clone();
            let continued = record.continued;
            let Ok(next) = running.record_step(attempt, record) else {
                return Ok((running, RunEnd::Superseded));
            };
            // A step to be retried is stored with the release below, in the same write.
            let store_now = step.action.reaches_outside() && status != StepStatus::Retrying;
            if store_now && !self.store.replace_execution(&running, &next).await? {
                return Ok((running, RunEnd::Superseded));
            }
            running = next;
            if status == StepStatus::Failed {
                crate::measure::step_failed(&workflow.id, step.action.kind());
            }
            match status {
                StepStatus::Succeeded => {
                    let output = output.unwrap_or(Value::Null);
                    ctx.record_output(&step.id, output.clone());
                    last_output = output;
                }
                StepStatus::Filtered => {
                    let result = json!({ "outcome": "filtered", "filteredBy": step.id });
                    return Ok((running, RunEnd::Completed(result)));
                }
                StepStatus::Failed if continued => {
                    // Later steps can tell a failed step by its `error`.
                    ctx.record_output(&step.id, json!({ "error": error }));
                }
                StepStatus::Failed => {
                    let message = format!(
                        "step \"{}\" ({}) failed: {}",
                        step.id,
                        step.action.kind(),
                        error.unwrap_or_default()
                    );
                    return Ok((running, RunEnd::Failed(message)));
                }
                StepStatus::Retrying => {
                    let Ok(released) = running.release(attempt) else {
                        return Ok((running, RunEnd::Superseded));
                    };
                    if !self.store.replace_execution(&running, &released).await? {
                        return Ok((running, RunEnd::Superseded));
                    }
                    let end = RunEnd::Postponed {
                        step: step.id.clone(),
                        retry_after: run.retry_after,
                    };
                    return Ok((released, end));
                }
            }
        }
        let result = json!({ "outcome": "completed", "output": last_output });
        Ok((running, RunEnd::Completed(result)))
    }
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
    }
}
