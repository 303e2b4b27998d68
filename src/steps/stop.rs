//! `stop`: ends the execution `succeeded`, outcome `stopped`, with a rendered reason (inside a
//! `for_each`, ends the item).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StepContext, StepDeps, StepRun, StepStatus, StepType};
use crate::domain::{InvalidDefinition, TemplateEngine};

/// `stop`: ends the execution early, as a success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopStep {
    /// A template; the result's `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[async_trait]
impl StepType for StopStep {
    const KIND: &'static str = "stop";

    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        self.reason
            .as_deref()
            .map_or(Ok(()), |r| engine.check_str(r))
            .map_err(|e| InvalidDefinition::template(&format!("{path}.reason"), e))
    }

    fn preview(
        &self,
        ctx: &StepContext,
        _key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String> {
        render_reason(self.reason.as_deref(), ctx, templates)
            .map(|reason| json!({ "stops": reason }))
    }

    async fn run(&self, ctx: &StepContext, _key: &str, deps: &StepDeps) -> StepRun {
        match render_reason(self.reason.as_deref(), ctx, &deps.templates) {
            Ok(reason) => StepRun {
                status: StepStatus::Stopped,
                ..StepRun::succeeded(json!({ "reason": reason }))
            },
            Err(error) => StepRun::failed(error),
        }
    }
}

fn render_reason(
    reason: Option<&str>,
    ctx: &StepContext,
    templates: &TemplateEngine,
) -> Result<Value, String> {
    reason
        .map(|r| {
            templates
                .render_str(r, &ctx.to_template_context())
                .map(Value::from)
                .map_err(|e| format!("reason: {e}"))
        })
        .unwrap_or(Ok(Value::Null))
}
