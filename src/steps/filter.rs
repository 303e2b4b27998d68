//! `filter`: a condition; false ends the execution `succeeded`, outcome `filtered` (inside a
//! `for_each`, ends the item). A missing field is absent, not an error (see
//! `TemplateEngine::eval_condition`).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StepContext, StepDeps, StepRun, StepStatus, StepType};
use crate::domain::{InvalidDefinition, TemplateEngine};

/// `filter`: goes on only when its condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FilterStep {
    /// A bare expression (no `{{ }}`), as `trigger.body.status == 'paid'`.
    pub when: String,
}

#[async_trait]
impl StepType for FilterStep {
    const KIND: &'static str = "filter";

    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        engine
            .check_expression(&self.when)
            .map_err(|e| InvalidDefinition::template(&format!("{path}.when"), e))
    }

    fn preview(
        &self,
        ctx: &StepContext,
        _key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String> {
        templates
            .eval_condition(&self.when, &ctx.to_template_context())
            .map(|passes| json!({ "passes": passes }))
            .map_err(|e| format!("when: {e}"))
    }

    async fn run(&self, ctx: &StepContext, _key: &str, deps: &StepDeps) -> StepRun {
        match deps
            .templates
            .eval_condition(&self.when, &ctx.to_template_context())
        {
            Ok(true) => StepRun::succeeded(json!({ "passed": true })),
            Ok(false) => StepRun {
                status: StepStatus::Filtered,
                ..StepRun::succeeded(json!({ "passed": false }))
            },
            Err(e) => StepRun::failed(format!("when: {e}")),
        }
    }
}
