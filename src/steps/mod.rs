//! The step types, one module each: its definition (the fields of the workflow file), its
//! load-time checks, its dry-run preview and its run, side by side. [`Step`] is the one list
//! of them: a new type is a module here, a variant of `Step`, and an arm of
//! [`with_step_type!`] (plus a port and an adapter if it reaches a new service).
//!
//! A step reports how it ended ([`StepRun`]: succeeded, failed and whether that may pass,
//! filtered, stopped, and for a branch where to go); the runner (`crate::worker`) records it
//! and picks the next step from the definition and the record alone, the same way for a live
//! run, a resumed one and the dry-run.

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::step::Target;
use crate::domain::template::join_path;
use crate::domain::{InvalidDefinition, TemplateEngine, TemplateError, WorkflowStep};

pub mod approval;
pub mod branch;
pub mod callback;
mod context;
pub mod echo;
pub mod fail;
pub mod filter;
pub mod for_each;
pub mod http_request;
mod outcome;
pub mod resume_url;
pub mod send_email;
pub mod sns_publish;
pub mod span;
pub mod stop;
#[cfg(test)]
mod tests;
pub mod transform;
pub mod wait;

pub use approval::ApprovalStep;
pub use branch::{BranchCase, BranchStep};
pub use callback::CallbackStep;
pub use context::{ExecutionInfo, StepContext, StepDeps};
pub use fail::FailStep;
pub use filter::FilterStep;
pub use for_each::ForEachStep;
pub use http_request::{
    ExpectStatus, HttpRequestStep, RetryPolicy, StatusMatch, check_literal_url, parse_retry_after,
    redacted_request,
};
pub use outcome::{StepRun, StepStatus, Suspend};
pub use resume_url::Notify;
pub use send_email::SendEmailStep;
pub use sns_publish::SnsPublishStep;
pub use span::Span;
pub use stop::StopStep;
pub use transform::TransformStep;
pub use wait::WaitStep;

/// What every step type provides.
#[async_trait]
pub trait StepType: Sync {
    /// Its `type` in a workflow file.
    const KIND: &'static str;

    /// Checks made before a definition is stored; `path` is the step's place (`steps[2]`),
    /// which errors extend with the field (`steps[2].url`).
    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition>;

    /// The longest one run of it can take (every attempt timing out, the longest waits).
    fn worst_case(&self) -> Duration {
        Duration::ZERO
    }

    /// Whether running it can be seen outside the execution (a request sent, a message
    /// published). Running any other step again changes nothing outside, so its record need
    /// not be stored before the next step starts.
    fn reaches_outside(&self) -> bool {
        false
    }

    /// What it would do, rendered against `ctx`, with nothing sent (`workflows dry-run`).
    /// `key` is the idempotency key a send would carry.
    fn preview(
        &self,
        ctx: &StepContext,
        key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String>;

    /// Runs it. `key` is `<execution>:<path>`, the idempotency key of what it sends.
    async fn run(&self, ctx: &StepContext, key: &str, deps: &StepDeps) -> StepRun;
}

/// One step as written in a workflow, by its `type`. Also the stored format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Outputs the trigger's payload.
    Echo,
    /// Fails with this message.
    Fail(FailStep),
    /// A condition; false ends the execution `succeeded`, outcome `filtered`.
    Filter(FilterStep),
    /// A JSON template; its rendered value is the step's output.
    Transform(TransformStep),
    /// Sends one HTTP request, retrying as `retry` says; the answer is the step's output.
    HttpRequest(HttpRequestStep),
    /// Publishes one message to an Amazon SNS topic.
    SnsPublish(SnsPublishStep),
    /// One email message (SES v2, or SMTP when serving locally).
    SendEmail(SendEmailStep),
    /// The first case whose `when` holds names the next step; `default` when none does.
    Branch(BranchStep),
    /// Ends the execution `succeeded`, outcome `stopped`, with a rendered `reason`.
    Stop(StopStep),
    /// Runs its own steps once per item of a list.
    ForEach(ForEachStep),
    /// Holds the execution for a time, with no worker.
    Wait(WaitStep),
    /// Asks a person (approve / deny links) and waits for the answer.
    Approval(ApprovalStep),
    /// Waits for an outside system to call its URL.
    Callback(CallbackStep),
}

/// Binds the step type's definition inside a [`Step`] to `$s` and evaluates `$body` with it:
/// the one place that lists every type's module.
macro_rules! with_step_type {
    ($step:expr, $s:ident => $body:expr) => {
        match $step {
            Step::Echo => {
                let $s = &echo::Echo;
                $body
            }
            Step::Fail($s) => $body,
            Step::Filter($s) => $body,
            Step::Transform($s) => $body,
            Step::HttpRequest($s) => $body,
            Step::SnsPublish($s) => $body,
            Step::SendEmail($s) => $body,
            Step::Branch($s) => $body,
            Step::Stop($s) => $body,
            Step::ForEach($s) => $body,
            Step::Wait($s) => $body,
            Step::Approval($s) => $body,
            Step::Callback($s) => $body,
        }
    };
}

/// The `KIND` of a step type, from a reference to it.
fn kind_of<T: StepType>(_: &T) -> &'static str {
    T::KIND
}

impl Step {
    pub fn kind(&self) -> &'static str {
        with_step_type!(self, s => kind_of(s))
    }

    /// Every type's name, for messages.
    pub const KINDS: [&'static str; 13] = [
        echo::Echo::KIND,
        FailStep::KIND,
        FilterStep::KIND,
        TransformStep::KIND,
        HttpRequestStep::KIND,
        SnsPublishStep::KIND,
        SendEmailStep::KIND,
        BranchStep::KIND,
        StopStep::KIND,
        ForEachStep::KIND,
        WaitStep::KIND,
        ApprovalStep::KIND,
        CallbackStep::KIND,
    ];

    /// See [`StepType::check`].
    pub fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        with_step_type!(self, s => s.check(engine, path))
    }

    /// See [`StepType::worst_case`]; for a `for_each`, one item.
    pub fn worst_case(&self) -> Duration {
        with_step_type!(self, s => s.worst_case())
    }

    /// Whether it makes the execution wait (and so may not sit inside a `for_each`).
    pub fn waits(&self) -> bool {
        matches!(self, Self::Wait(_) | Self::Approval(_) | Self::Callback(_))
    }

    /// The targets a step names besides `next` and `on_error`, with their field: an
    /// approval's `on_deny` and `on_timeout`, a callback's `on_timeout`.
    pub fn decision_targets(&self) -> Vec<(&'static str, &Target)> {
        match self {
            Self::Approval(a) => [("on_deny", &a.on_deny), ("on_timeout", &a.on_timeout)]
                .into_iter()
                .filter_map(|(field, t)| t.as_ref().map(|t| (field, t)))
                .collect(),
            Self::Callback(c) => c.on_timeout.iter().map(|t| ("on_timeout", t)).collect(),
            _ => Vec::new(),
        }
    }

    /// See [`StepType::reaches_outside`]. A loop stores its items' records itself.
    pub fn reaches_outside(&self) -> bool {
        with_step_type!(self, s => s.reaches_outside())
    }
}

/// Runs one step that is not a `for_each` (the worker runs loops).
pub async fn run_step(
    step: &WorkflowStep,
    ctx: &StepContext,
    execution_id: &str,
    deps: &StepDeps,
) -> StepRun {
    let key = idempotency_key(execution_id, ctx, &step.id);
    with_step_type!(&step.action, s => s.run(ctx, &key, deps).await)
}

/// What one step would do, rendered against `ctx` with nothing sent: the request an
/// `http_request` or `sns_publish` step would make (secrets redacted), the value a `transform`
/// would produce, whether a `filter` would pass, the case a `branch` would take, the items of a
/// `for_each`. For `workflows dry-run`.
pub fn preview_step(
    step: &WorkflowStep,
    ctx: &StepContext,
    execution_id: &str,
    templates: &TemplateEngine,
) -> Result<Value, String> {
    let key = idempotency_key(execution_id, ctx, &step.id);
    with_step_type!(&step.action, s => s.preview(ctx, &key, templates))
}

/// Ends the wait of a woken `wait`, `approval` or `callback` step: its final run (or, when
/// the wake-up came early, a run that waits on).
pub async fn resume_step(
    step: &WorkflowStep,
    waiting: &crate::domain::Waiting,
    deps: &StepDeps,
) -> StepRun {
    match &step.action {
        Step::Wait(s) => s.resume(waiting),
        Step::Approval(s) => s.resume(&step.id, waiting, deps).await,
        Step::Callback(s) => s.resume(&step.id, waiting, deps).await,
        other => StepRun::failed(format!("a {} step does not wait", other.kind())),
    }
}

/// `<execution>:<path>`: every item of a loop gets its own key, so a receiver that honours
/// the key drops only true repeats.
fn idempotency_key(execution_id: &str, ctx: &StepContext, step_id: &str) -> String {
    format!("{execution_id}:{}", ctx.path_of(step_id))
}

/// `body` + an error at `items[0]` inside it → `body.items[0]: ...`.
pub(crate) fn prefixed(field: &str, err: &TemplateError) -> String {
    format!("{}: {}", join_path(field, &err.path), err.message)
}

pub(crate) const REDACTED: &str = "[redacted]";

/// Header and query names whose values never reach a record.
pub fn is_sensitive_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if name == "idempotency-key" {
        // Built from the execution and step ids, which the record shows anyway.
        return false;
    }
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "x-api-key"
    ) || ["token", "secret", "password", "signature", "key"]
        .iter()
        .any(|word| name.contains(word))
}

#[cfg(test)]
mod stored_format {
    use super::*;
    use serde_json::json;

    /// Steps as workflows stored before the step types had modules of their own: each reads
    /// and writes back exactly as it was.
    #[test]
    fn stored_steps_of_every_older_type_round_trip_unchanged() {
        let stored = json!([
            {"type": "echo"},
            {"type": "fail", "message": "no"},
            {"type": "filter", "when": "trigger.body.ok"},
            {"type": "transform", "output": {"a": "{{ trigger.body.a }}"}},
            {"type": "http_request", "method": "POST", "url": "https://example.com/h",
             "timeout_ms": 10000, "retry": {"max_attempts": 3, "initial_backoff_ms": 500,
             "max_backoff_ms": 10000}, "follow_redirects": false},
            {"type": "sns_publish", "topic_arn": "arn:aws:sns:us-east-1:123456789012:t"},
        ]);
        let steps: Vec<Step> = serde_json::from_value(stored.clone()).expect("loads");
        let kinds: Vec<&str> = steps.iter().map(Step::kind).collect();
        assert_eq!(
            kinds,
            [
                "echo",
                "fail",
                "filter",
                "transform",
                "http_request",
                "sns_publish"
            ]
        );
        assert_eq!(serde_json::to_value(&steps).expect("writes"), stored);
    }

    #[test]
    fn every_kind_is_listed_once() {
        let mut kinds = Step::KINDS.to_vec();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), Step::KINDS.len());
    }
}
