//! An execution's steps as a reader wants them: every step of the definition it runs, in the
//! definition's order, each with what became of it. The records say which steps ran (the path
//! taken); the rest were passed over (a branch chose another case, a `next` or `on_error`
//! jumped past them, a filter, a `stop` or a failure ended the run) or have not run yet.
//!
//! Targets only point forward, so a step above the last one that ran and without a record of
//! its own will never run: it is skipped even while the execution is still running. Below
//! the last one that ran, nothing is decided until the execution has finished.

use super::execution::{Execution, StepStatus};
use super::step::WorkflowStep;

/// What became of one step of the definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanState {
    /// On the path: the status of its record.
    Ran(StepStatus),
    /// Off the path: the run went past it, or ended before it, and it will not run.
    Skipped,
    /// Not run yet, and the execution has not finished: it may still run.
    Pending,
}

impl PlanState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ran(status) => status.as_str(),
            Self::Skipped => "skipped",
            Self::Pending => "pending",
        }
    }
}

/// One step of the definition and what became of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedStep<'a> {
    pub step: &'a WorkflowStep,
    pub state: PlanState,
}

impl Execution {
    /// The steps this execution runs: its own copy, or `current` (the workflow's steps) for a
    /// record stored before executions kept one.
    pub fn definition_or<'a>(&'a self, current: &'a [WorkflowStep]) -> &'a [WorkflowStep] {
        self.definition.as_deref().unwrap_or(current)
    }

    /// Every top-level step of its definition (see [`Execution::definition_or`]), in order,
    /// with its state. A loop's inner steps are in its items' records, not here.
    pub fn plan<'a>(&'a self, current: &'a [WorkflowStep]) -> Vec<PlannedStep<'a>> {
        let steps = self.definition_or(current);
        let ran = |step: &WorkflowStep| self.steps.iter().find(|r| r.id == step.id);
        let last_ran = steps.iter().rposition(|s| ran(s).is_some());
        let finished = self.status.is_final();
        steps
            .iter()
            .enumerate()
            .map(|(index, step)| {
                let state = match ran(step) {
                    Some(record) => PlanState::Ran(record.status),
                    None if finished || last_ran.is_some_and(|last| index < last) => {
                        PlanState::Skipped
                    }
                    None => PlanState::Pending,
                };
                PlannedStep { step, state }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::execution::{ExecutionStatus, StepRecord, TriggerMeta};
    use crate::domain::ids::WorkflowId;
    use chrono::{Duration, Utc};
    use serde_json::{Value, json};

    fn steps() -> Vec<WorkflowStep> {
        let mut steps: Vec<WorkflowStep> = serde_json::from_value(json!([
            {"id": "route", "type": "branch",
             "cases": [{"when": "trigger.body.critical", "next": "page"},
                       {"when": "trigger.body.alerts is defined", "next": "chat"}],
             "default": "ignore"},
            {"id": "page", "type": "echo", "next": "end"},
            {"id": "chat", "type": "for_each", "items": "trigger.body.alerts",
             "steps": [{"id": "post", "type": "echo"}], "next": "end"},
            {"id": "ignore", "type": "stop"},
        ]))
        .unwrap();
        crate::domain::step::number_steps(&mut steps);
        steps
    }

    fn execution(status: ExecutionStatus, ran: &[(&str, StepStatus, Value)]) -> Execution {
        let mut e = Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::GenericWebhook {
                content_type: None,
                idempotency_key: None,
                body_bytes: 2,
            },
            json!({}),
            Utc::now(),
            Duration::days(1),
        );
        e.status = status;
        let now = Utc::now();
        e.steps = ran
            .iter()
            .map(|(id, status, output)| StepRecord {
                id: (*id).into(),
                path: None,
                kind: "x".into(),
                status: *status,
                attempts: 1,
                started_at: now,
                finished_at: now,
                request: None,
                output: Some(output.clone()),
                error: None,
                continued: false,
                next: None,
            })
            .collect();
        e
    }

    fn states(e: &Execution, current: &[WorkflowStep]) -> Vec<(String, &'static str)> {
        e.plan(current)
            .iter()
            .map(|p| (p.step.id.clone(), p.state.as_str()))
            .collect()
    }

    fn expect(pairs: &[(&str, &'static str)]) -> Vec<(String, &'static str)> {
        pairs.iter().map(|(a, b)| ((*a).to_owned(), *b)).collect()
    }

    #[test]
    fn a_finished_execution_marks_every_step_off_its_path_skipped() {
        let e = execution(
            ExecutionStatus::Succeeded,
            &[
                (
                    "route",
                    StepStatus::Succeeded,
                    json!({"matched": 1, "next": "chat"}),
                ),
                ("chat", StepStatus::Succeeded, json!([])),
            ],
        );
        assert_eq!(
            states(&e, &steps()),
            expect(&[
                ("route", "succeeded"),
                ("page", "skipped"),
                ("chat", "succeeded"),
                ("ignore", "skipped"),
            ])
        );
    }

    #[test]
    fn a_stop_or_a_failure_skips_what_comes_after_it() {
        let stopped = execution(
            ExecutionStatus::Succeeded,
            &[
                (
                    "route",
                    StepStatus::Succeeded,
                    json!({"matched": "default", "next": "ignore"}),
                ),
                ("ignore", StepStatus::Stopped, json!({"reason": null})),
            ],
        );
        assert_eq!(
            states(&stopped, &steps()),
            expect(&[
                ("route", "succeeded"),
                ("page", "skipped"),
                ("chat", "skipped"),
                ("ignore", "stopped"),
            ])
        );
        let failed = execution(
            ExecutionStatus::Failed,
            &[("route", StepStatus::Failed, Value::Null)],
        );
        assert_eq!(
            states(&failed, &steps())[1..],
            expect(&[
                ("page", "skipped"),
                ("chat", "skipped"),
                ("ignore", "skipped")
            ])[..]
        );
    }

    #[test]
    fn while_it_runs_steps_passed_over_are_skipped_and_later_ones_pending() {
        let running = execution(
            ExecutionStatus::Running,
            &[
                (
                    "route",
                    StepStatus::Succeeded,
                    json!({"matched": 1, "next": "chat"}),
                ),
                ("chat", StepStatus::Retrying, Value::Null),
            ],
        );
        assert_eq!(
            states(&running, &steps()),
            expect(&[
                ("route", "succeeded"),
                ("page", "skipped"),
                ("chat", "retrying"),
                ("ignore", "pending"),
            ])
        );
        let queued = execution(ExecutionStatus::Queued, &[]);
        assert!(
            states(&queued, &steps())
                .iter()
                .all(|(_, state)| *state == "pending")
        );
    }

    #[test]
    fn the_executions_own_copy_wins_over_the_workflows_current_steps() {
        let mut e = execution(
            ExecutionStatus::Succeeded,
            &[("only", StepStatus::Succeeded, json!(1))],
        );
        let mut copy: Vec<WorkflowStep> =
            serde_json::from_value(json!([{"id": "only", "type": "echo"}])).unwrap();
        crate::domain::step::number_steps(&mut copy);
        e.definition = Some(copy.into());
        assert_eq!(states(&e, &steps()), expect(&[("only", "succeeded")]));
        e.definition = None;
        assert_eq!(
            states(&e, &steps()).len(),
            4,
            "a record without a copy is read against the workflow's steps"
        );
    }
}
