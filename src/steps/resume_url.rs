//! What `approval` and `callback` share: issuing a resume URL (its token's record first, then
//! the notification that carries the URL), and reading the decision when the step wakes.
//! The token lives only in memory and in the notification sent; every record the step leaves
//! (request, output, error) has it scrubbed.

use std::time::Duration;

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{
    HttpRequestStep, SendEmailStep, StepContext, StepDeps, StepRun, StepStatus, StepType, Suspend,
};
use crate::domain::{
    Callback, CallbackToken, Decision, DecisionKind, ExecutionId, InvalidDefinition,
    TemplateEngine, WaitKind, Waiting, WorkflowId,
};

/// A resume URL's record is kept this long past its expiry, so the step that wakes at the
/// timeout still finds it (and a late click is told "expired", not "unknown").
const KEEP_AFTER_EXPIRY: chrono::Duration = chrono::Duration::days(7);

/// The message that hands the resume URL out: a `send_email` or `http_request` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Notify {
    /// An email, as a `send_email` step writes it.
    SendEmail(SendEmailStep),
    /// A request, as an `http_request` step sends it.
    HttpRequest(HttpRequestStep),
}

impl Notify {
    pub fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        match self {
            Self::SendEmail(s) => s.check(engine, path),
            Self::HttpRequest(s) => s.check(engine, path),
        }
    }

    pub fn worst_case(&self) -> Duration {
        match self {
            Self::SendEmail(s) => s.worst_case(),
            Self::HttpRequest(s) => StepType::worst_case(s),
        }
    }

    async fn run(&self, ctx: &StepContext, key: &str, deps: &StepDeps) -> StepRun {
        match self {
            Self::SendEmail(s) => s.run(ctx, key, deps).await,
            Self::HttpRequest(s) => s.run(ctx, key, deps).await,
        }
    }

    fn preview(
        &self,
        ctx: &StepContext,
        key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String> {
        match self {
            Self::SendEmail(s) => s.preview(ctx, key, templates),
            Self::HttpRequest(s) => s.preview(ctx, key, templates),
        }
    }
}

/// The variables a notification renders with: `approval.approveUrl` / `denyUrl` /
/// `expiresAt`, or `callback.url` / `expiresAt`.
fn variables(kind: WaitKind, url: &str, expires_at: chrono::DateTime<Utc>) -> Value {
    match kind {
        WaitKind::Approval => json!({
            "approveUrl": format!("{url}?decision=approve"),
            "denyUrl": format!("{url}?decision=deny"),
            "url": url,
            "expiresAt": expires_at,
        }),
        _ => json!({ "url": url, "expiresAt": expires_at }),
    }
}

/// What the dry-run shows: the notification rendered with placeholder URLs.
pub fn preview(
    kind: WaitKind,
    timeout: &super::span::Span,
    notify: Option<&Notify>,
    ctx: &StepContext,
    key: &str,
    templates: &TemplateEngine,
) -> Result<Value, String> {
    let expires_at = Utc::now() + timeout.chrono();
    let url = "https://webhook-trigger.example/callbacks/{token}";
    let mut preview = json!({ "wouldWaitUntil": expires_at, "timeout": timeout.to_string() });
    if let Some(notify) = notify {
        let ctx = ctx.with_local(kind.as_str(), variables(kind, url, expires_at));
        preview["notify"] = notify
            .preview(&ctx, key, templates)
            .map_err(|e| format!("notify: {e}"))?;
    }
    Ok(preview)
}

/// Starts the wait: records the URL's token (by hash), sends the notification, and reports
/// the step as waiting until `timeout`. A failed notification fails the step (or, when it may
/// pass, retries it later with a new token: a later attempt issues its own URL).
pub async fn start(
    kind: WaitKind,
    timeout: &super::span::Span,
    notify: Option<&Notify>,
    ctx: &StepContext,
    key: &str,
    deps: &StepDeps,
) -> StepRun {
    let Some(callbacks) = &deps.callbacks else {
        return StepRun::failed(format!(
            "a {} step cannot run here: no store for its resume URL",
            kind.as_str()
        ));
    };
    let Some(base_url) = &deps.base_url else {
        return StepRun::failed(format!(
            "WEBHOOK_BASE_URL is not set: a {} step needs it to build its resume URL",
            kind.as_str()
        ));
    };
    let execution = ctx.execution();
    // `key` is `<execution>:<step>` (waits are never inside a loop, so the path is the id).
    let step_id = key.rsplit(':').next().unwrap_or_default();
    let (Ok(workflow_id), Ok(execution_id)) = (
        WorkflowId::parse(&execution.workflow_id),
        ExecutionId::parse(&execution.id),
    ) else {
        return StepRun::failed("the execution's ids are unreadable");
    };
    let now = Utc::now();
    let expires_at = now + timeout.chrono();
    let token = CallbackToken::generate();
    let callback = Callback {
        token_hash: token.hash(),
        workflow_id,
        execution_id,
        step: step_id.to_owned(),
        kind,
        attempt: execution.attempt,
        expires_at,
        retain_until: expires_at + KEEP_AFTER_EXPIRY,
        decision: None,
    };
    // Before the notification: a receiver that calls back at once must find the record.
    if let Err(e) = callbacks.insert_callback(&callback).await {
        return StepRun {
            transient: true,
            ..StepRun::failed(format!("could not record the resume URL: {e}"))
        };
    }
    let suspend = Suspend {
        kind,
        wake_at: expires_at,
        expires_at: Some(expires_at),
        token_hash: Some(callback.token_hash),
    };
    let mut output = json!({ "expiresAt": expires_at, "resumeUrlIssued": true });
    let Some(notify) = notify else {
        return StepRun::waiting(output, suspend);
    };
    let url = format!("{base_url}/callbacks/{}", token.expose());
    let notify_ctx = ctx.with_local(kind.as_str(), variables(kind, &url, expires_at));
    // Each attempt's notification carries another URL, so it gets its own key.
    let key = format!("{key}#{}", execution.attempt);
    let sent = scrub(notify.run(&notify_ctx, &key, deps).await, token.expose());
    if sent.status != StepStatus::Succeeded {
        return StepRun {
            error: sent.error.map(|e| format!("notify: {e}")),
            ..sent
        };
    }
    output["notify"] = sent.output.unwrap_or(Value::Null);
    StepRun {
        request: sent.request,
        attempts: sent.attempts,
        ..StepRun::waiting(output, suspend)
    }
}

/// The decision a woken step acts on: the one made with its URL, or, once the timeout has
/// passed and none was, `timed_out`, recorded with the same single-use write, so a click in
/// the same instant either wins wholly or is refused.
pub async fn decision(waiting: &Waiting, deps: &StepDeps) -> Result<Option<Decision>, String> {
    let Some(callbacks) = &deps.callbacks else {
        return Err("no store for resume URLs".into());
    };
    let Some(hash) = &waiting.token_hash else {
        return Err("the wait has no resume URL".into());
    };
    let read = || async {
        callbacks
            .get_callback(hash)
            .await
            .map_err(|e| format!("could not read the resume URL's record: {e}"))
    };
    let Some(callback) = read().await? else {
        return Err("the resume URL's record is gone".into());
    };
    if let Some(decision) = callback.decision {
        return Ok(Some(decision));
    }
    let now = Utc::now();
    if now < callback.expires_at {
        return Ok(None);
    }
    let timed_out = Decision::new(DecisionKind::TimedOut, now);
    let won = callbacks
        .decide_callback(hash, &timed_out)
        .await
        .map_err(|e| format!("could not record the timeout: {e}"))?;
    if won {
        return Ok(Some(timed_out));
    }
    Ok(read().await?.and_then(|c| c.decision))
}

/// [`decision`] for a woken step: the decision, or the run the step ends this delivery with
/// (waiting on when none was made yet, a failure to retry when the store could not say).
pub async fn decided(waiting: &Waiting, deps: &StepDeps) -> Result<Decision, StepRun> {
    match decision(waiting, deps).await {
        Ok(Some(decision)) => Ok(decision),
        Ok(None) => Err(StepRun::waiting_again(waiting)),
        Err(error) => Err(StepRun {
            transient: true,
            ..StepRun::failed(error)
        }),
    }
}

/// The step's run with every trace of `secret` replaced.
fn scrub(mut run: StepRun, secret: &str) -> StepRun {
    let clean = |s: &str| s.replace(secret, super::REDACTED);
    run.error = run.error.as_deref().map(clean);
    if let Some(request) = run.request.as_mut() {
        scrub_value(request, secret);
    }
    if let Some(output) = run.output.as_mut() {
        scrub_value(output, secret);
    }
    run
}

fn scrub_value(value: &mut Value, secret: &str) {
    match value {
        Value::String(s) if s.contains(secret) => *s = s.replace(secret, super::REDACTED),
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_value(v, secret)),
        Value::Object(map) => map.values_mut().for_each(|v| scrub_value(v, secret)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_the_token_from_request_output_and_error() {
        let run = StepRun {
            request: Some(json!({"body": {"resume": "https://h/callbacks/SECRET"}, "n": 1})),
            error: Some("sent SECRET".into()),
            ..StepRun::succeeded(json!(["echo SECRET"]))
        };
        let clean = scrub(run, "SECRET");
        let all = format!("{:?} {:?} {:?}", clean.request, clean.output, clean.error);
        assert!(!all.contains("SECRET"), "{all}");
        assert!(all.contains("[redacted]"));
    }
}
