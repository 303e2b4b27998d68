//! `echo`: outputs the trigger's payload. A unit variant of `Step` (`{"type": "echo"}`), so
//! its behaviour lives on this stand-in.

use async_trait::async_trait;
use serde_json::{Value, json};

use super::{StepContext, StepDeps, StepRun, StepType};
use crate::domain::{InvalidDefinition, TemplateEngine};

pub struct Echo;

#[async_trait]
impl StepType for Echo {
    const KIND: &'static str = "echo";

    fn check(&self, _engine: &TemplateEngine, _path: &str) -> Result<(), InvalidDefinition> {
        Ok(())
    }

    fn preview(
        &self,
        ctx: &StepContext,
        _key: &str,
        _templates: &TemplateEngine,
    ) -> Result<Value, String> {
        Ok(json!({ "output": ctx.trigger_body() }))
    }

    async fn run(&self, ctx: &StepContext, _key: &str, _deps: &StepDeps) -> StepRun {
        StepRun::succeeded(ctx.trigger_body().clone())
    }
}
