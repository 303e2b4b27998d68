//! The test bench's "Run for real": a real execution of the workflow's saved version, marked
//! `test`, accepted exactly as a webhook is (one store write and one queue send, or the
//! embedded backend's one atomic write), with its input chosen as a dry-run's is (`super::input`).

use chrono::Utc;

use super::input::InputChoice;
use super::{App, AppError};
use crate::domain::{Execution, WorkflowId};

#[derive(Debug, Clone)]
pub struct TestRun {
    pub execution: Execution,
    pub workflow_version: u32,
}

impl App {
    pub async fn test_run(
        &self,
        raw_workflow_id: &str,
        choice: InputChoice,
    ) -> Result<TestRun, AppError> {
        let workflow = self.workflow(raw_workflow_id).await?;
        let now = Utc::now();
        let retention = self.config().retention;
        let (sample, _) = self.chosen_input(&workflow.id, choice).await?;
        let source = copy_input(&sample, &workflow.id, now, retention);
        let execution = source.of_version(workflow.version).as_test();
        self.record_and_dispatch(execution.clone(), None).await?;
        Ok(TestRun {
            execution,
            workflow_version: workflow.version,
        })
    }
}

/// A new execution of `workflow_id` with what `stored` received: its trigger (an SNS
/// envelope stays one), body, headers and query.
fn copy_input(
    stored: &Execution,
    workflow_id: &WorkflowId,
    now: chrono::DateTime<Utc>,
    retention: chrono::Duration,
) -> Execution {
    Execution::new(
        workflow_id.clone(),
        stored.trigger.clone(),
        stored.payload.clone(),
        now,
        retention,
    )
    .with_request(stored.request.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RequestMeta, TriggerMeta};

    #[test]
    fn a_copied_input_is_a_fresh_execution_of_the_target_workflow() {
        let other = WorkflowId::generate();
        let stored = Execution::new(
            other,
            TriggerMeta::GenericWebhook {
                content_type: None,
                idempotency_key: Some("k".into()),
                body_bytes: 9,
            },
            serde_json::json!({"a": 1}),
            Utc::now(),
            chrono::Duration::days(1),
        )
        .with_request(RequestMeta::capture([("x-source", "ci")], []));
        let target = WorkflowId::generate();
        let copy = copy_input(&stored, &target, Utc::now(), chrono::Duration::days(1));
        assert_ne!(copy.id, stored.id);
        assert_eq!(copy.workflow_id, target);
        assert_eq!(copy.payload, stored.payload);
        assert_eq!(copy.request, stored.request);
        assert!(copy.steps.is_empty() && copy.attempts == 0);
    }
}
