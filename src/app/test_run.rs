//! The test bench's "Run for real": a real execution of the workflow's saved version, marked
//! `test`, accepted exactly as a webhook is (one store write and one queue send, or the
//! embedded backend's one atomic write), with its input typed by the operator or taken from a
//! stored execution.

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::Value;

use super::{App, AppError};
use crate::domain::{Execution, RequestMeta, TriggerMeta, WorkflowId};
use crate::ports::ExecutionQuery;

/// A typed input: the body, and the headers and query the execution sees.
#[derive(Debug, Clone, Default)]
pub struct TestInput {
    /// `{}` when absent.
    pub body: Option<Value>,
    pub headers: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
}

/// Where a test run's input comes from, unchecked: a typed input, a stored execution (of this
/// workflow, or of `execution_workflow_id`'s), or else the workflow's latest execution.
#[derive(Debug, Clone, Default)]
pub struct TestRunRequest {
    pub input: Option<TestInput>,
    pub execution_id: Option<String>,
    pub execution_workflow_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TestRun {
    pub execution: Execution,
    pub workflow_version: u32,
}

impl App {
    pub async fn test_run(
        &self,
        raw_workflow_id: &str,
        request: TestRunRequest,
    ) -> Result<TestRun, AppError> {
        let workflow = self.workflow(raw_workflow_id).await?;
        let now = Utc::now();
        let retention = self.config().retention;
        let source = match (request.input, request.execution_id) {
            (Some(_), Some(_)) => {
                return Err(AppError::InvalidRequest(
                    "give either input or executionId, not both".into(),
                ));
            }
            (Some(input), None) => {
                let body = input
                    .body
                    .unwrap_or_else(|| Value::Object(Default::default()));
                let body_bytes = body.to_string().len();
                // Typed headers go through the webhook's own capture, so a typed credential
                // is dropped exactly as a sent one would be.
                let meta = RequestMeta::capture(
                    input.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    input.query,
                );
                Execution::new(
                    workflow.id.clone(),
                    TriggerMeta::GenericWebhook {
                        content_type: Some("application/json".into()),
                        idempotency_key: None,
                        body_bytes,
                    },
                    body,
                    now,
                    retention,
                )
                .with_request(meta)
            }
            (None, Some(raw_id)) => {
                let owner = match request.execution_workflow_id.as_deref() {
                    Some(raw) if !raw.is_empty() => {
                        WorkflowId::parse(raw).map_err(|_| AppError::WorkflowNotFound)?
                    }
                    _ => workflow.id.clone(),
                };
                let stored = self.get_execution(&owner, &raw_id).await?;
                copy_input(&stored, &workflow.id, now, retention)
            }
            (None, None) => {
                let latest = self
                    .store()
                    .list_executions(
                        &workflow.id,
                        &ExecutionQuery {
                            status: None,
                            limit: 1,
                            before: None,
                        },
                    )
                    .await?;
                let stored = latest.into_iter().next().ok_or_else(|| {
                    AppError::NoInput(format!(
                        "workflow {} has no execution to take an input from; give input or executionId",
                        workflow.id
                    ))
                })?;
                copy_input(&stored, &workflow.id, now, retention)
            }
        };
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
