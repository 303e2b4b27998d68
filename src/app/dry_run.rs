//! `workflows dry-run` as a use case: a workflow's steps rendered against a stored execution,
//! nothing sent. The CLI calls it; the console's test bench will too.

use super::{App, AppError};
use crate::domain::{Execution, TemplateEngine, Workflow};
use crate::worker::dry_run::{StepPreview, dry_run};

/// What a dry-run rendered, with what it was rendered from.
pub struct DryRun {
    pub workflow: Workflow,
    pub execution: Execution,
    pub previews: Vec<StepPreview>,
}

impl App {
    pub async fn dry_run(
        &self,
        raw_workflow_id: &str,
        raw_execution_id: &str,
    ) -> Result<DryRun, AppError> {
        let workflow = self.workflow(raw_workflow_id).await?;
        let execution = self.get_execution(&workflow.id, raw_execution_id).await?;
        let previews = dry_run(&workflow, &execution, &TemplateEngine::new());
        Ok(DryRun {
            workflow,
            execution,
            previews,
        })
    }
}
