//! `fail`: fails with its message (or goes to its `on_error`).

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StepContext, StepDeps, StepRun, StepType};
use crate::domain::{InvalidDefinition, TemplateEngine};

/// `fail`: ends the execution `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailStep {
    /// The execution's error.
    pub message: String,
}

#[async_trait]
impl StepType for FailStep {
    const KIND: &'static str = "fail";

    fn check(&self, _engine: &TemplateEngine, _path: &str) -> Result<(), InvalidDefinition> {
        Ok(())
    }

    fn preview(
        &self,
        _ctx: &StepContext,
        _key: &str,
        _templates: &TemplateEngine,
    ) -> Result<Value, String> {
        Ok(json!({ "fails": self.message }))
    }

    async fn run(&self, _ctx: &StepContext, _key: &str, _deps: &StepDeps) -> StepRun {
        StepRun::failed(self.message.clone())
    }
}
