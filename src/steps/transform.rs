//! `transform`: a JSON template; its rendered value is the step's output.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StepContext, StepDeps, StepRun, StepType, prefixed};
use crate::domain::{InvalidDefinition, TemplateEngine};

/// `transform`: reshapes data for later steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformStep {
    /// Any JSON; every string in it is a template (`"{{ trigger.body.id }}"`).
    pub output: Value,
}

#[async_trait]
impl StepType for TransformStep {
    const KIND: &'static str = "transform";

    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        engine
            .check_value(&self.output)
            .map_err(|e| InvalidDefinition::template(&format!("{path}.output"), e))
    }

    fn preview(
        &self,
        ctx: &StepContext,
        _key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String> {
        templates
            .render_value(&self.output, &ctx.to_template_context())
            .map(|value| json!({ "output": value }))
            .map_err(|e| prefixed("output", &e))
    }

    async fn run(&self, ctx: &StepContext, _key: &str, deps: &StepDeps) -> StepRun {
        match deps
            .templates
            .render_value(&self.output, &ctx.to_template_context())
        {
            Ok(value) => StepRun::succeeded(value),
            Err(e) => StepRun::failed(prefixed("output", &e)),
        }
    }
}
