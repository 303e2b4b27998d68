//! The dry-run as a use case: a workflow's steps rendered against an input, nothing sent.
//! The steps are the saved workflow's or an unsaved draft's; the input a stored execution (of
//! this workflow or another) or a request typed by hand. The CLI's `workflows dry-run` and
//! the console's test bench (`POST /admin/workflows/{id}/dry-run`) call it.

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::Value;

use super::{App, AppError};
use crate::domain::{
    Execution, RequestMeta, TemplateEngine, TriggerMeta, Workflow, WorkflowFile, WorkflowId,
};
use crate::ports::ExecutionQuery;
use crate::worker::dry_run::{StepPreview, dry_run};

/// A request typed by hand, as a sender would have made it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DryRunInput {
    /// JSON, or a string for a body that was not JSON.
    pub body: Value,
    pub headers: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
}

/// What to render and against what; each part defaults as the route documents.
#[derive(Debug, Clone, Default)]
pub struct DryRunRequest {
    /// A draft document (the workflow file's form); `None` is the saved version.
    pub definition: Option<Value>,
    /// A stored execution; `None` with no `input` is the workflow's latest.
    pub execution_id: Option<String>,
    /// The workflow the execution belongs to; `None` is this one.
    pub execution_workflow_id: Option<String>,
    pub input: Option<DryRunInput>,
}

/// Where the input came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRunSource {
    Execution,
    Input,
}

/// What a dry-run rendered, with what it was rendered from.
pub struct DryRun {
    /// The saved workflow, or the draft with the saved workflow's id.
    pub workflow: Workflow,
    /// The stored execution, or one built from the typed input and never stored.
    pub execution: Execution,
    pub source: DryRunSource,
    pub previews: Vec<StepPreview>,
}

impl App {
    /// `workflows dry-run ID --execution E`: the saved steps against a stored execution.
    pub async fn dry_run(
        &self,
        raw_workflow_id: &str,
        raw_execution_id: &str,
    ) -> Result<DryRun, AppError> {
        let request = DryRunRequest {
            execution_id: Some(raw_execution_id.to_owned()),
            ..DryRunRequest::default()
        };
        self.dry_run_with(raw_workflow_id, request).await
    }

    pub async fn dry_run_with(
        &self,
        raw_workflow_id: &str,
        request: DryRunRequest,
    ) -> Result<DryRun, AppError> {
        let saved = self.workflow(raw_workflow_id).await?;
        let workflow = match request.definition {
            Some(draft) => drafted(saved, WorkflowFile::from_value(draft)?),
            None => saved,
        };
        let (execution, source) = match (request.input, request.execution_id) {
            (Some(_), Some(_)) => {
                return Err(AppError::InvalidRequest(
                    "give executionId or input, not both".into(),
                ));
            }
            (Some(input), None) => (typed(&workflow.id, input), DryRunSource::Input),
            (None, execution_id) => {
                let owner = match &request.execution_workflow_id {
                    Some(raw) => WorkflowId::parse(raw).map_err(|_| AppError::WorkflowNotFound)?,
                    None => workflow.id.clone(),
                };
                let execution = match execution_id {
                    Some(id) => self.get_execution(&owner, &id).await?,
                    None => self.latest_execution(&owner).await?,
                };
                (execution, DryRunSource::Execution)
            }
        };
        let previews = dry_run(&workflow, &execution, &TemplateEngine::new());
        Ok(DryRun {
            workflow,
            execution,
            source,
            previews,
        })
    }

    async fn latest_execution(&self, workflow_id: &WorkflowId) -> Result<Execution, AppError> {
        let query = ExecutionQuery {
            status: None,
            limit: 1,
            before: None,
        };
        let mut newest = self.store().list_executions(workflow_id, &query).await?;
        if newest.is_empty() {
            return Err(AppError::NoInput(format!(
                "workflow {workflow_id} has no execution yet: send one, or give an input"
            )));
        }
        Ok(newest.swap_remove(0))
    }
}

/// The saved workflow with a draft's definition: same id, nothing stored.
fn drafted(saved: Workflow, draft: WorkflowFile) -> Workflow {
    Workflow {
        name: draft.name,
        trigger: draft.trigger,
        steps: draft.steps,
        sns: draft.sns,
        auth: draft.auth,
        verify: draft.verify,
        ..saved
    }
}

/// An execution of the typed request, as the accept path would have recorded it (header
/// names in lower case, credentials left out); never stored, so it expires at once.
fn typed(workflow_id: &WorkflowId, input: DryRunInput) -> Execution {
    let body_bytes = match &input.body {
        Value::String(text) => text.len(),
        other => other.to_string().len(),
    };
    let request = RequestMeta::capture(
        input.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        input.query,
    );
    let now = Utc::now();
    Execution::new(
        workflow_id.clone(),
        TriggerMeta::GenericWebhook {
            content_type: None,
            idempotency_key: None,
            body_bytes,
        },
        input.body,
        now,
        chrono::Duration::zero(),
    )
    .with_request(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_typed_input_is_what_templates_see_as_trigger() {
        let input = DryRunInput {
            body: json!({"n": 1}),
            headers: BTreeMap::from([
                ("X-Event".to_owned(), "push".to_owned()),
                ("X-Api-Key".to_owned(), "secret".to_owned()),
            ]),
            query: BTreeMap::from([("tag".to_owned(), "a".to_owned())]),
        };
        let id = WorkflowId::generate();
        let execution = typed(&id, input);
        let trigger = execution.trigger_context();
        assert_eq!(trigger["body"], json!({"n": 1}));
        assert_eq!(
            trigger["headers"]["x-event"], "push",
            "names as the accept path keeps them"
        );
        assert_eq!(trigger["query"]["tag"], "a");
        assert!(trigger["headers"].get("x-api-key").is_none(), "{trigger}");
        assert_eq!(execution.workflow_id, id);
    }
}
