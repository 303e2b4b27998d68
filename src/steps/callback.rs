//! `callback`: hands a job to an outside system and waits for it to call back. The step
//! issues one resume URL (`callback.url`), sends `notify` with it, and the execution waits
//! until the URL receives a JSON POST, which becomes the step's output, or the timeout, which
//! goes to `on_timeout` or fails the execution.

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::approval::{decision_output, timeout_of};
use super::resume_url::{self, Notify};
use super::span::Span;
use super::{StepContext, StepDeps, StepRun, StepType};
use crate::domain::step::Target;
use crate::domain::{DecisionKind, InvalidDefinition, TemplateEngine, WaitKind, Waiting};

/// `callback`: waits for an outside system to call its URL; the call's body is the output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackStep {
    /// How long the URL stays valid: 1s .. 7d, default 24h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Span>,
    /// Sent when the step starts, with `callback.url` and `callback.expiresAt` in scope.
    pub notify: Notify,
    /// Where an expired URL goes (a step id below, or `end`); without it the execution fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<Target>,
}

impl CallbackStep {
    pub async fn resume(&self, step_id: &str, waiting: &Waiting, deps: &StepDeps) -> StepRun {
        let decision = match resume_url::decided(waiting, deps).await {
            Ok(decision) => decision,
            Err(run) => return run,
        };
        match decision.kind {
            DecisionKind::Received => {
                StepRun::succeeded(decision.body.clone().unwrap_or(Value::Null))
            }
            DecisionKind::TimedOut => match &self.on_timeout {
                Some(target) => StepRun {
                    next: Some(target.clone()),
                    ..StepRun::succeeded(decision_output(&decision))
                },
                None => StepRun::failed(format!(
                    "callback {step_id:?} was not called before its timeout"
                )),
            },
            _ => StepRun::failed(format!("callback {step_id:?} ended without a call")),
        }
    }
}

#[async_trait]
impl StepType for CallbackStep {
    const KIND: &'static str = "callback";

    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        self.notify.check(engine, &format!("{path}.notify"))
    }

    fn worst_case(&self) -> Duration {
        self.notify.worst_case()
    }

    fn reaches_outside(&self) -> bool {
        true
    }

    fn preview(
        &self,
        ctx: &StepContext,
        key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String> {
        resume_url::preview(
            WaitKind::Callback,
            &timeout_of(&self.timeout),
            Some(&self.notify),
            ctx,
            key,
            templates,
        )
    }

    async fn run(&self, ctx: &StepContext, key: &str, deps: &StepDeps) -> StepRun {
        resume_url::start(
            WaitKind::Callback,
            &timeout_of(&self.timeout),
            Some(&self.notify),
            ctx,
            key,
            deps,
        )
        .await
    }
}
