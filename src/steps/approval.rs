//! `approval`: asks a person. The step issues a resume URL (approve and deny links), sends
//! `notify` with them, and the execution waits, costing nothing, until a decision or the
//! timeout. Approved goes on; denied goes to `on_deny`, timed out to `on_timeout`, and
//! without them either fails the execution, naming the decision.

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::resume_url::{self, Notify};
use super::span::Span;
use super::{StepContext, StepDeps, StepRun, StepType};
use crate::domain::step::Target;
use crate::domain::{Decision, DecisionKind, InvalidDefinition, TemplateEngine, WaitKind, Waiting};

/// `approval`: asks a person, and waits for approve or deny.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalStep {
    /// How long the links stay valid: 1s .. 7d, default 24h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Span>,
    /// Sent when the step starts, with `approval.approveUrl`, `approval.denyUrl` and
    /// `approval.expiresAt` in scope. Without it only the console can decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Notify>,
    /// Where a denial goes (a step id below, or `end`); without it a denial fails the
    /// execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_deny: Option<Target>,
    /// Where an expired request goes (a step id below, or `end`); without it the execution
    /// fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_timeout: Option<Target>,
}

pub(super) fn timeout_of(timeout: &Option<Span>) -> Span {
    timeout.clone().unwrap_or_else(Span::default_timeout)
}

/// What the record of a decided wait shows.
pub(super) fn decision_output(decision: &Decision) -> Value {
    // Every field always there (null when not given), so templates can read each of them.
    json!({
        "decision": decision.kind.as_str(),
        "decidedAt": decision.decided_at,
        "comment": decision.comment,
        "decidedBy": decision.by,
    })
}

impl ApprovalStep {
    /// The step wakes with a decision (or without one, before the timeout: it waits on).
    pub async fn resume(&self, step_id: &str, waiting: &Waiting, deps: &StepDeps) -> StepRun {
        let decision = match resume_url::decided(waiting, deps).await {
            Ok(decision) => decision,
            Err(run) => return run,
        };
        let output = decision_output(&decision);
        let routed = |target: &Option<Target>, what: &str| match target {
            Some(target) => StepRun {
                next: Some(target.clone()),
                ..StepRun::succeeded(output.clone())
            },
            None => StepRun {
                output: Some(output.clone()),
                ..StepRun::failed(format!("approval {step_id:?} was {what}"))
            },
        };
        match decision.kind {
            DecisionKind::Approved => StepRun::succeeded(output),
            DecisionKind::Denied => routed(&self.on_deny, "denied"),
            DecisionKind::TimedOut => routed(&self.on_timeout, "not decided before its timeout"),
            DecisionKind::Received | DecisionKind::Cancelled => {
                StepRun::failed(format!("approval {step_id:?} ended without a decision"))
            }
        }
    }
}

#[async_trait]
impl StepType for ApprovalStep {
    const KIND: &'static str = "approval";

    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        match &self.notify {
            Some(notify) => notify.check(engine, &format!("{path}.notify")),
            None => Ok(()),
        }
    }

    fn worst_case(&self) -> Duration {
        self.notify
            .as_ref()
            .map_or(Duration::ZERO, Notify::worst_case)
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
            WaitKind::Approval,
            &timeout_of(&self.timeout),
            self.notify.as_ref(),
            ctx,
            key,
            templates,
        )
    }

    async fn run(&self, ctx: &StepContext, key: &str, deps: &StepDeps) -> StepRun {
        resume_url::start(
            WaitKind::Approval,
            &timeout_of(&self.timeout),
            self.notify.as_ref(),
            ctx,
            key,
            deps,
        )
        .await
    }
}
