//! The dry-run as a use case: a workflow's steps rendered against an input, nothing sent.
//! The steps are the saved workflow's or an unsaved draft's; the input a stored execution (of
//! this workflow or another) or a request typed by hand. The CLI's `workflows dry-run` and
//! the console's test bench (`POST /admin/workflows/{id}/dry-run`) call it.

use serde_json::Value;

use super::input::{InputChoice, InputSource};
use super::{App, AppError};
use crate::domain::{
    DefinitionError, Execution, PayloadProblem, TemplateEngine, Workflow, WorkflowFile,
};
use crate::worker::dry_run::{StepPreview, dry_run};

/// What to render and against what; each part defaults as the route documents.
#[derive(Debug, Clone, Default)]
pub struct DryRunRequest {
    /// A draft document (the workflow file's form); `None` is the saved version.
    pub definition: Option<Value>,
    pub input: InputChoice,
}

/// What a dry-run rendered, with what it was rendered from.
pub struct DryRun {
    /// The saved workflow, or the draft with the saved workflow's id.
    pub workflow: Workflow,
    /// The stored execution, or one built from the typed input and never stored.
    pub execution: Execution,
    pub source: InputSource,
    pub previews: Vec<StepPreview>,
    /// What the workflow's `payload_schema` says of the input, when it has one: empty when
    /// a webhook with this body would be accepted.
    pub payload_problems: Option<Vec<PayloadProblem>>,
}

impl App {
    /// `workflows dry-run ID --execution E`: the saved steps against a stored execution.
    pub async fn dry_run(
        &self,
        raw_workflow_id: &str,
        raw_execution_id: &str,
    ) -> Result<DryRun, AppError> {
        let request = DryRunRequest {
            definition: None,
            input: InputChoice {
                execution_id: Some(raw_execution_id.to_owned()),
                ..InputChoice::default()
            },
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
            Some(draft) => drafted(saved, WorkflowFile::from_value(draft)?)?,
            None => saved,
        };
        let (execution, source) = self.chosen_input(&workflow.id, request.input).await?;
        let previews = dry_run(&workflow, &execution, &TemplateEngine::new());
        let payload_problems = match &workflow.payload_schema {
            Some(schema) => Some(
                schema
                    .check(&execution.payload)
                    .map_err(DefinitionError::from)?,
            ),
            None => None,
        };
        Ok(DryRun {
            workflow,
            execution,
            source,
            previews,
            payload_problems,
        })
    }
}

/// The saved workflow with a draft's definition: same id, nothing stored.
fn drafted(saved: Workflow, draft: WorkflowFile) -> Result<Workflow, AppError> {
    let payload_schema = draft.compiled_payload_schema()?;
    Ok(Workflow {
        name: draft.name,
        trigger: draft.trigger,
        steps: draft.steps,
        sns: draft.sns,
        auth: draft.auth,
        verify: draft.verify,
        payload_schema,
        ..saved
    })
}
