//! Runs a workflow's steps in order for one execution. The result records each step's output
//! so the executions page shows what happened.

use serde_json::{Value, json};

use crate::domain::{Execution, Step, WorkflowStep};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("step {index} ({kind}) failed: {message}")]
pub struct StepFailure {
    pub index: usize,
    pub kind: &'static str,
    pub message: String,
}

pub async fn run_steps(
    steps: &[WorkflowStep],
    execution: &Execution,
) -> Result<Value, StepFailure> {
    let mut outputs = Vec::with_capacity(steps.len());
    for (index, step) in steps.iter().enumerate() {
        let output = match &step.action {
            Step::Echo => json!({ "type": "echo", "output": execution.payload }),
            Step::Fail { message } => {
                return Err(StepFailure {
                    index,
                    kind: "fail",
                    message: message.clone(),
                });
            }
            // Integration pending: the other step types run through `worker::steps::run_step`,
            // which needs the worker's ports; until that is wired here they fail visibly.
            other => {
                return Err(StepFailure {
                    index,
                    kind: other.kind(),
                    message: "this worker does not run this step type yet".into(),
                });
            }
        };
        outputs.push(output);
    }
    Ok(json!({ "steps": outputs }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TriggerMeta, WorkflowId};
    use chrono::{Duration, Utc};

    fn execution() -> Execution {
        Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::Replay {
                of: crate::domain::ExecutionId::generate(),
            },
            json!({"order": 7}),
            Utc::now(),
            Duration::days(1),
        )
    }

    #[tokio::test]
    async fn no_steps_succeeds_with_an_empty_result() {
        assert_eq!(
            run_steps(&[], &execution()).await.unwrap(),
            json!({"steps": []})
        );
    }

    #[tokio::test]
    async fn echo_returns_the_payload() {
        let result = run_steps(&[Step::Echo.into()], &execution()).await.unwrap();
        assert_eq!(result["steps"][0]["output"], json!({"order": 7}));
    }

    #[tokio::test]
    async fn a_failing_step_stops_the_run_and_says_which() {
        let steps = [
            Step::Echo.into(),
            Step::Fail {
                message: "nope".into(),
            }
            .into(),
            Step::Echo.into(),
        ];
        let err = run_steps(&steps, &execution()).await.unwrap_err();
        assert_eq!(err.index, 1);
        assert_eq!(err.to_string(), "step 1 (fail) failed: nope");
    }
}
