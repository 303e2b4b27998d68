//! Runs ONE workflow step: renders its templates against what the execution knows so far,
//! talks to the world through the outbound ports, and reports what happened. Deciding what to
//! do next (stop, continue on error, redeliver) is the caller's business.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::domain::step::check_literal_url;
use crate::domain::step::{BranchStep, Target};
use crate::domain::template::join_path;
use crate::domain::{
    HttpRequestStep, RetryPolicy, SnsPublishStep, Step, StepRecord, TemplateContext,
    TemplateEngine, TemplateError, WorkflowStep,
};
use crate::ports::{
    HttpSender, OutboundError, OutboundRequest, OutboundResponse, SnsAttribute, SnsPublishRequest,
    SnsPublisher,
};

/// Response bytes kept in a step's output; more is cut and `bodyTruncated` set.
pub const MAX_RECORDED_BODY: usize = 64 * 1024;
/// The longest `retry_after` reported for redelivery, whatever a server asked for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
/// Response headers copied into the output; the rest are noise or private.
const KEPT_HEADERS: [&str; 5] = [
    "content-type",
    "location",
    "retry-after",
    "etag",
    "x-request-id",
];
const REDACTED: &str = "[redacted]";

/// What running a step needs from the process; built once and shared.
#[derive(Clone)]
pub struct StepDeps {
    pub http: Arc<dyn HttpSender>,
    pub sns: Arc<dyn SnsPublisher>,
    pub templates: Arc<TemplateEngine>,
}

/// The execution a step runs in, as templates see it under `execution`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub id: String,
    pub workflow_id: String,
    pub attempt: u32,
}

/// Everything templates may read: `trigger` (the request: `body`, `headers`, `query`, `sns`),
/// `steps.<id>.output` (and `.error`) of the steps already run, and `execution`; inside a
/// `for_each`, the item under its name and `loop`.
#[derive(Debug, Clone)]
pub struct StepContext {
    trigger: Value,
    execution: ExecutionInfo,
    steps: Map<String, Value>,
    /// The item and `loop` inside a `for_each`.
    locals: Map<String, Value>,
    /// `chat[3].` inside item 3 of the loop `chat`; empty at the top level.
    path_prefix: String,
}

impl StepContext {
    /// `trigger` is the object `{"body": ..., "headers": ..., "query": ..., "sns": ...}`.
    pub fn new(trigger: Value, execution: ExecutionInfo) -> Self {
        Self {
            trigger,
            execution,
            steps: Map::new(),
            locals: Map::new(),
            path_prefix: String::new(),
        }
    }

    /// Makes a finished step visible to later steps: `steps.<id>.output`, and for a failed
    /// one `steps.<id>.error` (its `output` is `{"error": ...}`, so that a step after a
    /// `continue_on_error` failure can tell it by `output.error`). The live run, a resumed
    /// run and the dry-run all build their context through this one function, from records.
    pub fn record(&mut self, record: &StepRecord) {
        let scope = match (&record.error, record.status) {
            (Some(error), crate::domain::StepStatus::Failed) => {
                json!({ "output": { "error": error }, "error": error })
            }
            _ => json!({ "output": record.output.clone().unwrap_or(Value::Null) }),
        };
        self.steps.insert(record.id.clone(), scope);
    }

    /// Makes an output visible as `steps.<id>.output` (the dry-run's steps that did not run).
    pub fn record_output(&mut self, step_id: &str, output: Value) {
        self.steps
            .insert(step_id.to_owned(), json!({ "output": output }));
    }

    /// The context of one item of the loop `loop_id`: the item under `name`, and `loop`
    /// (`index` from 1, `index0` from 0, `first`, `last`, `length`) as in Jinja's own loops.
    pub fn for_item(
        &self,
        loop_id: &str,
        name: &str,
        item: &Value,
        index: usize,
        length: usize,
    ) -> Self {
        let mut child = self.clone();
        child.locals.insert(name.to_owned(), item.clone());
        child.locals.insert(
            "loop".to_owned(),
            json!({
                "index": index + 1,
                "index0": index,
                "first": index == 0,
                "last": index + 1 == length,
                "length": length,
            }),
        );
        child.path_prefix = format!("{loop_id}[{index}].");
        child
    }

    /// Where a step of this context sits: its id, or `chat[3].post` inside a loop.
    pub fn path_of(&self, step_id: &str) -> String {
        format!("{}{step_id}", self.path_prefix)
    }

    pub fn trigger_body(&self) -> &Value {
        self.trigger.get("body").unwrap_or(&Value::Null)
    }

    pub fn execution(&self) -> &ExecutionInfo {
        &self.execution
    }

    pub fn to_template_context(&self) -> TemplateContext {
        let mut vars = json!({
            "trigger": self.trigger,
            "steps": self.steps,
            "execution": {
                "id": self.execution.id,
                "workflowId": self.execution.workflow_id,
                "attempt": self.execution.attempt,
            },
        });
        if let Value::Object(map) = &mut vars {
            map.extend(self.locals.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        TemplateContext::from_json(&vars)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    /// A filter said no: the execution ends `succeeded` with outcome `filtered` (inside a
    /// `for_each`, the item ends).
    Filtered,
    /// A `stop` step: the execution ends `succeeded` with outcome `stopped` (inside a
    /// `for_each`, the item ends).
    Stopped,
}

/// What one step did, ready to be recorded on the execution.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRun {
    pub status: StepStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// The request as sent (HTTP or SNS), secrets redacted; for the executions page.
    pub request: Option<Value>,
    /// Sends made (HTTP attempts, SNS publishes); 0 for steps that send nothing.
    pub attempts: u32,
    /// The failure may go away by itself (network, 408, 429, 5xx): worth redelivering later.
    pub transient: bool,
    /// When a redelivery should come, if the server said or retries ran out waiting.
    pub retry_after: Option<Duration>,
    /// Where a `branch` goes.
    pub next: Option<Target>,
}

impl StepRun {
    fn succeeded(output: Value) -> Self {
        Self {
            status: StepStatus::Succeeded,
            output: Some(output),
            error: None,
            request: None,
            attempts: 0,
            transient: false,
            retry_after: None,
            next: None,
        }
    }

    pub fn failed(error: impl Into<String>) -> Self {
        Self {
            status: StepStatus::Failed,
            output: None,
            error: Some(error.into()),
            request: None,
            attempts: 0,
            transient: false,
            retry_after: None,
            next: None,
        }
    }
}

pub async fn run_step(
    step: &WorkflowStep,
    ctx: &StepContext,
    execution_id: &str,
    deps: &StepDeps,
) -> StepRun {
    let templates = &deps.templates;
    match &step.action {
        Step::Echo => StepRun::succeeded(ctx.trigger_body().clone()),
        Step::Fail { message } => StepRun::failed(message.clone()),
        Step::Filter { when } => match templates.eval_condition(when, &ctx.to_template_context()) {
            Ok(true) => StepRun::succeeded(json!({ "passed": true })),
            Ok(false) => StepRun {
                status: StepStatus::Filtered,
                ..StepRun::succeeded(json!({ "passed": false }))
            },
            Err(e) => StepRun::failed(format!("when: {e}")),
        },
        Step::Transform { output } => {
            match templates.render_value(output, &ctx.to_template_context()) {
                Ok(value) => StepRun::succeeded(value),
                Err(e) => StepRun::failed(prefixed("output", &e)),
            }
        }
        Step::HttpRequest(http) => {
            let key = idempotency_key(execution_id, ctx, &step.id);
            match render_http(http, ctx, templates, &key) {
                Ok(request) => send_http(http, request, deps.http.as_ref()).await,
                Err(error) => StepRun::failed(error),
            }
        }
        Step::SnsPublish(sns) => {
            let dedup = idempotency_key(execution_id, ctx, &step.id);
            match render_sns(sns, ctx, templates, &dedup) {
                Ok(request) => publish(request, deps.sns.as_ref()).await,
                Err(error) => StepRun::failed(error),
            }
        }
        Step::Branch(branch) => match choose(branch, ctx, templates) {
            Ok((matched, next)) => StepRun {
                next: Some(next.clone()),
                ..StepRun::succeeded(json!({ "matched": matched, "next": next.as_str() }))
            },
            Err(error) => StepRun::failed(error),
        },
        Step::Stop { reason } => match render_reason(reason.as_deref(), ctx, templates) {
            Ok(reason) => StepRun {
                status: StepStatus::Stopped,
                ..StepRun::succeeded(json!({ "reason": reason }))
            },
            Err(error) => StepRun::failed(error),
        },
        // The runner runs a loop itself: it needs the store for its items' records.
        Step::ForEach(_) => StepRun::failed("a for_each runs in the runner, not as a single step"),
    }
}

/// The first case whose `when` holds, as its index and target; `"default"` when none does.
fn choose<'a>(
    branch: &'a BranchStep,
    ctx: &StepContext,
    templates: &TemplateEngine,
) -> Result<(Value, &'a Target), String> {
    let tctx = ctx.to_template_context();
    for (index, case) in branch.cases.iter().enumerate() {
        let holds = templates
            .eval_condition(&case.when, &tctx)
            .map_err(|e| format!("cases[{index}].when: {e}"))?;
        if holds {
            return Ok((Value::from(index), &case.next));
        }
    }
    Ok((Value::from("default"), &branch.default))
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

/// `<execution>:<path>`: every item of a loop gets its own key, so a receiver that honours
/// the key drops only true repeats.
fn idempotency_key(execution_id: &str, ctx: &StepContext, step_id: &str) -> String {
    format!("{execution_id}:{}", ctx.path_of(step_id))
}

/// `body` + an error at `items[0]` inside it → `body.items[0]: ...`.
fn prefixed(field: &str, err: &TemplateError) -> String {
    format!("{}: {}", join_path(field, &err.path), err.message)
}

fn render_http(
    http: &HttpRequestStep,
    ctx: &StepContext,
    templates: &TemplateEngine,
    idempotency_key: &str,
) -> Result<OutboundRequest, String> {
    let tctx = ctx.to_template_context();
    let raw_url = templates
        .render_str(&http.url, &tctx)
        .map_err(|e| format!("url: {e}"))?;
    let mut url = check_literal_url(raw_url.trim()).map_err(|e| format!("url: {e}"))?;
    if !http.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in &http.query {
            let value = templates
                .render_str(value, &tctx)
                .map_err(|e| format!("query[{name:?}]: {e}"))?;
            pairs.append_pair(name, &value);
        }
    }
    let mut headers = Vec::with_capacity(http.headers.len() + 2);
    for (name, value) in &http.headers {
        let value = templates
            .render_str(value, &tctx)
            .map_err(|e| format!("headers[{name:?}]: {e}"))?;
        if value.contains(['\r', '\n']) {
            return Err(format!(
                "headers[{name:?}]: the value contains a line break"
            ));
        }
        headers.push((name.clone(), value));
    }
    let body = match &http.body {
        Some(template) => Some(
            templates
                .render_value(template, &tctx)
                .map_err(|e| prefixed("body", &e))?,
        ),
        None if http.sends_default_body() => Some(ctx.trigger_body().clone()),
        None => None,
    };
    let body = body
        .map(|b| serde_json::to_vec(&b).map_err(|e| format!("body: cannot be encoded: {e}")))
        .transpose()?;
    fn has(headers: &[(String, String)], name: &str) -> bool {
        headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
    if body.is_some() && !has(&headers, "content-type") {
        headers.push(("Content-Type".into(), "application/json".into()));
    }
    // An author who sets their own key (say, from the payload) knows the receiver better.
    if !has(&headers, "idempotency-key") {
        headers.push(("Idempotency-Key".into(), idempotency_key.to_owned()));
    }
    Ok(OutboundRequest {
        method: http.method.to_ascii_uppercase(),
        url: url.into(),
        headers,
        body,
        timeout: Duration::from_millis(http.timeout_ms),
        follow_redirects: http.follow_redirects,
    })
}

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

/// The request as recorded on the execution: sensitive header and query values replaced.
pub fn redacted_request(request: &OutboundRequest) -> Value {
    let url = match url::Url::parse(&request.url) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some(REDACTED));
            }
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if is_sensitive_name(&k) {
                        REDACTED.to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            if !pairs.is_empty() {
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
            url.to_string()
        }
        Err(_) => request.url.clone(),
    };
    let headers: Map<String, Value> = request
        .headers
        .iter()
        .map(|(n, v)| {
            let v = if is_sensitive_name(n) { REDACTED } else { v };
            (n.clone(), Value::from(v))
        })
        .collect();
    let body = request.body.as_deref().map(|b| {
        serde_json::from_slice::<Value>(b)
            .unwrap_or_else(|_| Value::from(String::from_utf8_lossy(b).into_owned()))
    });
    json!({
        "method": request.method,
        "url": url,
        "headers": headers,
        "body": body,
        "timeoutMs": u64::try_from(request.timeout.as_millis()).unwrap_or(u64::MAX),
    })
}

fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The wait a `Retry-After` header asks for: delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Exponential backoff with equal jitter: half the step is fixed so retries never bunch up at
/// zero, half is random so many executions hitting one server spread out.
fn backoff(policy: &RetryPolicy, failed_attempts: u32) -> Duration {
    let exp = failed_attempts.saturating_sub(1).min(20);
    let ceiling = policy
        .initial_backoff_ms
        .saturating_mul(1u64 << exp)
        .min(policy.max_backoff_ms);
    let half = ceiling / 2;
    Duration::from_millis(half + rand::rng().random_range(0..=ceiling - half))
}

/// Sends with the step's retry policy. Retries happen here, inside the invocation, as long as
/// each wait fits under `max_backoff_ms`; a longer `Retry-After` ends the run as transient so
/// the queue redelivers after it instead of keeping the worker asleep.
async fn send_http(
    http: &HttpRequestStep,
    request: OutboundRequest,
    sender: &dyn HttpSender,
) -> StepRun {
    let recorded = redacted_request(&request);
    let policy = &http.retry;
    let max_attempts = policy.max_attempts.max(1);
    let cap = Duration::from_millis(policy.max_backoff_ms);
    let started = Instant::now();
    let mut attempts = 0;
    let mut run = loop {
        attempts += 1;
        let result = send_once(sender, request.clone()).await;
        let (mut run, wait) = match result {
            Ok(response) => {
                let output = response_output(&response, started.elapsed());
                let status = response.status;
                if http.expect_status.matches(status) {
                    break StepRun::succeeded(output);
                }
                let transient = retryable_status(status);
                let asked = response
                    .header("retry-after")
                    .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                let run = StepRun {
                    status: StepStatus::Failed,
                    output: Some(output),
                    error: Some(format!(
                        "expected status {}, got {status}",
                        http.expect_status
                    )),
                    request: None,
                    attempts: 0,
                    transient,
                    retry_after: asked.map(|d| d.min(MAX_RETRY_AFTER)),
                    next: None,
                };
                if !transient {
                    break run;
                }
                (run, asked)
            }
            Err(error) => {
                let transient = error.is_transient();
                let run = StepRun {
                    transient,
                    ..StepRun::failed(error.to_string())
                };
                if !transient {
                    break run;
                }
                (run, None)
            }
        };
        if attempts >= max_attempts {
            if run.retry_after.is_none() {
                run.retry_after = Some(backoff(policy, attempts));
            }
            break run;
        }
        let wait = match wait {
            Some(asked) if asked > cap => break run,
            Some(asked) => asked,
            None => backoff(policy, attempts),
        };
        tracing::info!(
            attempt = attempts,
            wait_ms = wait.as_millis() as u64,
            "retrying HTTP step"
        );
        tokio::time::sleep(wait).await;
    };
    run.attempts = attempts;
    run.request = Some(recorded);
    run
}

/// One send, bounded here as well: a sender that never answers must not hold the worker.
async fn send_once(
    sender: &dyn HttpSender,
    request: OutboundRequest,
) -> Result<OutboundResponse, OutboundError> {
    let limit = request.timeout;
    // The sender enforces the timeout itself; the margin lets its own error win the race.
    match tokio::time::timeout(limit + Duration::from_secs(1), sender.send(request)).await {
        Ok(result) => result,
        Err(_) => Err(OutboundError::Timeout(limit)),
    }
}

fn response_output(response: &OutboundResponse, elapsed: Duration) -> Value {
    let headers: Map<String, Value> = KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            response
                .header(name)
                .map(|v| ((*name).to_owned(), Value::from(v)))
        })
        .collect();
    let (bytes, cut) = if response.body.len() > MAX_RECORDED_BODY {
        (&response.body[..MAX_RECORDED_BODY], true)
    } else {
        (&response.body[..], false)
    };
    let truncated = cut || response.body_truncated;
    let body = if bytes.is_empty() {
        Value::Null
    } else if let (false, Ok(json)) = (truncated, serde_json::from_slice::<Value>(bytes)) {
        json
    } else {
        Value::from(String::from_utf8_lossy(bytes).into_owned())
    };
    json!({
        "status": response.status,
        "headers": headers,
        "body": body,
        "bodyTruncated": truncated,
        "elapsedMs": u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
    })
}

fn render_sns(
    sns: &SnsPublishStep,
    ctx: &StepContext,
    templates: &TemplateEngine,
    dedup_id: &str,
) -> Result<SnsPublishRequest, String> {
    let tctx = ctx.to_template_context();
    let topic_arn = templates
        .render_str(&sns.topic_arn, &tctx)
        .map_err(|e| format!("topic_arn: {e}"))?
        .trim()
        .to_owned();
    if !topic_arn.starts_with("arn:") || topic_arn.split(':').count() != 6 {
        return Err(format!("topic_arn: {topic_arn:?} is not a topic ARN"));
    }
    let subject = sns
        .subject
        .as_ref()
        .map(|s| {
            templates
                .render_str(s, &tctx)
                .map_err(|e| format!("subject: {e}"))
        })
        .transpose()?;
    let message = match &sns.message {
        Some(template) => templates
            .render_value(template, &tctx)
            .map_err(|e| prefixed("message", &e))?,
        None => ctx.trigger_body().clone(),
    };
    let message = match message {
        Value::String(text) => text,
        other => serde_json::to_string(&other).map_err(|e| format!("message: {e}"))?,
    };
    let mut attributes = Vec::with_capacity(sns.message_attributes.len());
    for (name, template) in &sns.message_attributes {
        let at = format!("message_attributes[{name:?}]");
        let value = templates
            .render_value(template, &tctx)
            .map_err(|e| prefixed(&at, &e))?;
        let (data_type, value) = match value {
            Value::String(s) => ("String", s),
            Value::Number(n) => ("Number", n.to_string()),
            Value::Bool(b) => ("String", b.to_string()),
            Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                ("String.Array", Value::Array(items).to_string())
            }
            other => {
                return Err(format!(
                    "{at}: renders to {other}, not a string, number or list"
                ));
            }
        };
        attributes.push(SnsAttribute {
            name: name.clone(),
            data_type: data_type.into(),
            value,
        });
    }
    let fifo = SnsPublishStep::is_fifo(&topic_arn);
    Ok(SnsPublishRequest {
        message_group_id: fifo.then(|| ctx.execution().workflow_id.clone()),
        deduplication_id: fifo.then(|| dedup_id.to_owned()),
        topic_arn,
        subject,
        message,
        attributes,
    })
}

async fn publish(request: SnsPublishRequest, publisher: &dyn SnsPublisher) -> StepRun {
    let recorded = recorded_sns(&request);
    let mut run = match publisher.publish(request).await {
        Ok(message_id) => StepRun::succeeded(json!({ "messageId": message_id })),
        Err(error) => StepRun {
            transient: error.is_transient(),
            ..StepRun::failed(error.to_string())
        },
    };
    run.attempts = 1;
    run.request = Some(recorded);
    run
}

/// What one step would do, rendered against `ctx` with nothing sent: the request an
/// `http_request` or `sns_publish` step would make (secrets redacted), the value a `transform`
/// would produce, whether a `filter` would pass. For `workflows dry-run`.
pub fn preview_step(
    step: &WorkflowStep,
    ctx: &StepContext,
    execution_id: &str,
    templates: &TemplateEngine,
) -> Result<Value, String> {
    let key = idempotency_key(execution_id, ctx, &step.id);
    match &step.action {
        Step::Echo => Ok(json!({ "output": ctx.trigger_body() })),
        Step::Fail { message } => Ok(json!({ "fails": message })),
        Step::Filter { when } => templates
            .eval_condition(when, &ctx.to_template_context())
            .map(|passes| json!({ "passes": passes }))
            .map_err(|e| format!("when: {e}")),
        Step::Branch(branch) => choose(branch, ctx, templates)
            .map(|(matched, next)| json!({ "matched": matched, "next": next.as_str() })),
        Step::Stop { reason } => render_reason(reason.as_deref(), ctx, templates)
            .map(|reason| json!({ "stops": reason })),
        Step::ForEach(each) => templates
            .eval_json(&each.items, &ctx.to_template_context())
            .map(|items| json!({ "items": items }))
            .map_err(|e| format!("items: {e}")),
        Step::Transform { output } => templates
            .render_value(output, &ctx.to_template_context())
            .map(|value| json!({ "output": value }))
            .map_err(|e| prefixed("output", &e)),
        Step::HttpRequest(http) => render_http(http, ctx, templates, &key)
            .map(|request| json!({ "request": redacted_request(&request) })),
        Step::SnsPublish(sns) => render_sns(sns, ctx, templates, &key)
            .map(|request| json!({ "request": recorded_sns(&request) })),
    }
}

fn recorded_sns(request: &SnsPublishRequest) -> Value {
    json!({
        "topicArn": request.topic_arn,
        "subject": request.subject,
        "message": request.message,
        "messageAttributes": request.attributes.iter().map(|a| {
            let value = if is_sensitive_name(&a.name) { REDACTED } else { a.value.as_str() };
            (a.name.clone(), json!({"dataType": a.data_type, "value": value}))
        }).collect::<Map<String, Value>>(),
        "messageGroupId": request.message_group_id,
        "messageDeduplicationId": request.deduplication_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::PublishError;
    use async_trait::async_trait;
    use std::collections::VecDeque;
    use std::sync::Mutex;

    /// Answers from a script, one entry per call; `None` never answers.
    struct ScriptedHttp {
        script: Mutex<VecDeque<Option<Result<OutboundResponse, OutboundError>>>>,
        seen: Mutex<Vec<OutboundRequest>>,
    }

    impl ScriptedHttp {
        fn new(script: Vec<Option<Result<OutboundResponse, OutboundError>>>) -> Arc<Self> {
            Arc::new(Self {
                script: Mutex::new(script.into()),
                seen: Mutex::new(Vec::new()),
            })
        }
        fn calls(&self) -> usize {
            self.seen.lock().unwrap().len()
        }
        fn last(&self) -> OutboundRequest {
            self.seen.lock().unwrap().last().cloned().unwrap()
        }
    }

    #[async_trait]
    impl HttpSender for ScriptedHttp {
        async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
            self.seen.lock().unwrap().push(request);
            let next = self.script.lock().unwrap().pop_front();
            match next {
                Some(Some(answer)) => answer,
                Some(None) => std::future::pending().await,
                None => panic!("more calls than scripted"),
            }
        }
    }

    #[derive(Default)]
    struct RecordingSns {
        seen: Mutex<Vec<SnsPublishRequest>>,
        fail_with: Option<PublishError>,
    }

    #[async_trait]
    impl SnsPublisher for RecordingSns {
        async fn publish(&self, request: SnsPublishRequest) -> Result<String, PublishError> {
            self.seen.lock().unwrap().push(request);
            match &self.fail_with {
                Some(e) => Err(e.clone()),
                None => Ok("msg-1".into()),
            }
        }
    }

    fn answer(
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Option<Result<OutboundResponse, OutboundError>> {
        Some(Ok(OutboundResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
            body_truncated: false,
        }))
    }

    fn deps(http: Arc<ScriptedHttp>, sns: Arc<RecordingSns>) -> StepDeps {
        StepDeps {
            http,
            sns,
            templates: Arc::new(TemplateEngine::new()),
        }
    }

    fn ctx() -> StepContext {
        let mut ctx = StepContext::new(
            json!({"body": {"order": 7, "note": "a \"quoted\"\nline", "ok": true}, "headers": {}}),
            ExecutionInfo {
                id: "01EXEC".into(),
                workflow_id: "wf1".into(),
                attempt: 1,
            },
        );
        ctx.record_output("lookup", json!({"token": "abc"}));
        ctx
    }

    fn step(raw: Value) -> WorkflowStep {
        serde_json::from_value(raw).unwrap()
    }

    /// The default `http_request` step against `http`, with default dependencies.
    async fn run_plain_http_step(http: &Arc<ScriptedHttp>) -> StepRun {
        run_step(
            &http_step(json!({})),
            &ctx(),
            "01EXEC",
            &deps(http.clone(), Default::default()),
        )
        .await
    }

    fn http_step(extra: Value) -> WorkflowStep {
        let mut raw =
            json!({"id": "call", "type": "http_request", "url": "https://example.com/hook"});
        if let (Value::Object(base), Value::Object(extra)) = (&mut raw, extra) {
            base.extend(extra);
        }
        step(raw)
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_failures_then_succeeds() {
        let http = ScriptedHttp::new(vec![
            Some(Err(OutboundError::Connect("refused".into()))),
            answer(503, &[], ""),
            answer(
                200,
                &[("content-type", "application/json"), ("x-other", "no")],
                r#"{"id": 9}"#,
            ),
        ]);
        let run = run_plain_http_step(&http).await;
        assert_eq!(run.status, StepStatus::Succeeded, "{run:?}");
        assert_eq!(http.calls(), 3);
        assert_eq!(run.attempts, 3);
        let out = run.output.unwrap();
        assert_eq!(out["status"], 200);
        assert_eq!(out["body"], json!({"id": 9}));
        assert_eq!(out["bodyTruncated"], false);
        assert_eq!(out["headers"], json!({"content-type": "application/json"}));
        assert!(out["elapsedMs"].is_u64());
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_that_cannot_send_http_fails_the_step_at_once() {
        let http = ScriptedHttp::new(vec![Some(Err(OutboundError::Setup(
            "no root certificate could be loaded".into(),
        )))]);
        let run = run_plain_http_step(&http).await;
        assert_eq!(run.status, StepStatus::Failed, "{run:?}");
        assert!(!run.transient, "retrying does not load certificates");
        assert_eq!(http.calls(), 1);
        let error = run.error.unwrap_or_default();
        assert!(error.contains("no root certificate"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_is_honoured_before_the_next_attempt() {
        let http = ScriptedHttp::new(vec![
            answer(429, &[("retry-after", "5")], "slow down"),
            answer(201, &[], ""),
        ]);
        let d = deps(http.clone(), Default::default());
        let task =
            tokio::spawn(
                async move { run_step(&http_step(json!({})), &ctx(), "01EXEC", &d).await },
            );
        settle().await;
        assert_eq!(http.calls(), 1);
        tokio::time::advance(Duration::from_millis(4_900)).await;
        settle().await;
        assert_eq!(http.calls(), 1, "retried before Retry-After");
        tokio::time::advance(Duration::from_millis(200)).await;
        settle().await;
        assert_eq!(http.calls(), 2);
        let run = task.await.unwrap();
        assert_eq!(run.status, StepStatus::Succeeded);
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_beyond_the_cap_ends_the_run_for_redelivery() {
        let http = ScriptedHttp::new(vec![answer(503, &[("retry-after", "120")], "")]);
        let run = run_plain_http_step(&http).await;
        assert_eq!(http.calls(), 1);
        assert_eq!(run.status, StepStatus::Failed);
        assert!(run.transient);
        assert_eq!(run.retry_after, Some(Duration::from_secs(120)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_never_answers_times_out_transiently() {
        let http = ScriptedHttp::new(vec![None, None]);
        let s = http_step(json!({"timeout_ms": 2000, "retry": {"max_attempts": 2}}));
        let run = run_step(
            &s,
            &ctx(),
            "01EXEC",
            &deps(http.clone(), Default::default()),
        )
        .await;
        assert_eq!(http.calls(), 2);
        assert_eq!(run.status, StepStatus::Failed);
        assert!(run.transient);
        assert!(run.retry_after.is_some());
        assert!(run.error.unwrap().contains("no answer"));
    }

    #[tokio::test(start_paused = true)]
    async fn expect_status_decides_success_and_transience() {
        let http = ScriptedHttp::new(vec![answer(404, &[], "nope")]);
        let run = run_plain_http_step(&http).await;
        assert_eq!(
            (run.status, run.transient, run.attempts),
            (StepStatus::Failed, false, 1)
        );
        assert_eq!(run.error.as_deref(), Some("expected status 2xx, got 404"));
        assert_eq!(run.output.unwrap()["body"], "nope");

        let http = ScriptedHttp::new(vec![answer(404, &[], "")]);
        let s = http_step(json!({"expect_status": [200, 404]}));
        let run = run_step(&s, &ctx(), "01EXEC", &deps(http, Default::default())).await;
        assert_eq!(run.status, StepStatus::Succeeded);

        let http = ScriptedHttp::new(vec![answer(500, &[], ""), answer(500, &[], "")]);
        let s = http_step(json!({"retry": {"max_attempts": 2}}));
        let run = run_step(
            &s,
            &ctx(),
            "01EXEC",
            &deps(http.clone(), Default::default()),
        )
        .await;
        assert_eq!(http.calls(), 2);
        assert!(run.transient && run.status == StepStatus::Failed);
    }

    #[tokio::test]
    async fn request_carries_idempotency_key_json_body_and_encoded_query() {
        let http = ScriptedHttp::new(vec![answer(200, &[], "")]);
        let s = http_step(json!({
            "query": {"q": "{{ trigger.body.note }}", "n": "{{ trigger.body.order }}"},
            "body": {"order": "{{ trigger.body.order }}", "note": "{{ trigger.body.note }}", "tok": "{{ steps.lookup.output.token }}"}
        }));
        let run = run_step(
            &s,
            &ctx(),
            "01EXEC",
            &deps(http.clone(), Default::default()),
        )
        .await;
        assert_eq!(run.status, StepStatus::Succeeded);
        let sent = http.last();
        assert_eq!(sent.method, "POST");
        assert!(
            sent.headers
                .contains(&("Idempotency-Key".into(), "01EXEC:call".into()))
        );
        assert!(
            sent.headers
                .contains(&("Content-Type".into(), "application/json".into()))
        );
        let body: Value = serde_json::from_slice(sent.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"order": 7, "note": "a \"quoted\"\nline", "tok": "abc"})
        );
        let url = url::Url::parse(&sent.url).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            [
                ("n".into(), "7".into()),
                ("q".into(), "a \"quoted\"\nline".into())
            ]
        );
        assert_eq!(sent.timeout, Duration::from_millis(10_000));
        assert!(!sent.follow_redirects);
    }

    #[tokio::test]
    async fn default_body_is_the_trigger_body_and_get_sends_none() {
        let http = ScriptedHttp::new(vec![answer(200, &[], ""), answer(200, &[], "")]);
        let d = deps(http.clone(), Default::default());
        run_step(&http_step(json!({})), &ctx(), "e", &d).await;
        let body: Value = serde_json::from_slice(http.last().body.as_deref().unwrap()).unwrap();
        assert_eq!(body["order"], 7);
        run_step(&http_step(json!({"method": "get"})), &ctx(), "e", &d).await;
        assert_eq!(http.last().method, "GET");
        assert_eq!(http.last().body, None);
    }

    #[tokio::test]
    async fn secrets_are_redacted_in_the_recorded_request() {
        let http = ScriptedHttp::new(vec![answer(200, &[], "")]);
        let s = http_step(json!({
            "url": "https://user:pw@example.com/h?api_key=k1&page=2",
            "headers": {"Authorization": "Bearer s3cret", "X-Client-Token": "t", "Cookie": "c", "X-Trace": "visible"},
            "query": {"access_token": "{{ steps.lookup.output.token }}"}
        }));
        let run = run_step(
            &s,
            &ctx(),
            "01EXEC",
            &deps(http.clone(), Default::default()),
        )
        .await;
        let rec = run.request.unwrap();
        let text = rec.to_string();
        for secret in ["s3cret", "k1", "abc", "pw@"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert_eq!(rec["headers"]["Authorization"], REDACTED);
        assert_eq!(rec["headers"]["X-Client-Token"], REDACTED);
        assert_eq!(rec["headers"]["Cookie"], REDACTED);
        assert_eq!(rec["headers"]["X-Trace"], "visible");
        assert_eq!(rec["headers"]["Idempotency-Key"], "01EXEC:call");
        assert!(text.contains("page=2"));
        // The real request still carries them.
        assert!(http.last().url.contains("api_key=k1"));
    }

    #[tokio::test]
    async fn a_template_error_fails_without_sending() {
        let http = ScriptedHttp::new(vec![]);
        let s = http_step(json!({"body": {"x": "{{ trigger.body.missing }}"}}));
        let run = run_step(&s, &ctx(), "e", &deps(http.clone(), Default::default())).await;
        assert_eq!((run.status, run.transient), (StepStatus::Failed, false));
        assert!(run.error.unwrap().starts_with("body.x: "));
        assert_eq!(http.calls(), 0);
    }

    #[tokio::test]
    async fn a_rendered_header_cannot_smuggle_a_line_break() {
        let http = ScriptedHttp::new(vec![]);
        let s = http_step(json!({"headers": {"X-Note": "{{ trigger.body.note }}"}}));
        let run = run_step(&s, &ctx(), "e", &deps(http.clone(), Default::default())).await;
        assert_eq!(run.status, StepStatus::Failed);
        assert!(run.error.unwrap().contains("line break"));
        assert_eq!(http.calls(), 0);
    }

    #[tokio::test]
    async fn sns_publish_renders_and_sets_fifo_ids() {
        let sns = Arc::new(RecordingSns::default());
        let d = deps(ScriptedHttp::new(vec![]), sns.clone());
        let s = step(json!({
            "id": "pub", "type": "sns_publish",
            "topic_arn": "arn:aws:sns:us-east-1:123456789012:orders.fifo",
            "subject": "Order {{ trigger.body.order }}",
            "message": {"order": "{{ trigger.body.order }}"},
            "message_attributes": {"count": "{{ trigger.body.order }}", "kind": "new", "tags": ["a", "b"]}
        }));
        let run = run_step(&s, &ctx(), "01EXEC", &d).await;
        assert_eq!(run.status, StepStatus::Succeeded);
        assert_eq!(run.output, Some(json!({"messageId": "msg-1"})));
        let sent = sns.seen.lock().unwrap()[0].clone();
        assert_eq!(sent.subject.as_deref(), Some("Order 7"));
        assert_eq!(sent.message, r#"{"order":7}"#);
        assert_eq!(sent.message_group_id.as_deref(), Some("wf1"));
        assert_eq!(sent.deduplication_id.as_deref(), Some("01EXEC:pub"));
        let kinds: Vec<(&str, &str)> = sent
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), a.data_type.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("count", "Number"),
                ("kind", "String"),
                ("tags", "String.Array")
            ]
        );
    }

    #[tokio::test]
    async fn sns_standard_topic_gets_no_fifo_ids_and_a_string_message_stays_text() {
        let sns = Arc::new(RecordingSns {
            fail_with: Some(PublishError::Unavailable("503".into())),
            ..Default::default()
        });
        let d = deps(ScriptedHttp::new(vec![]), sns.clone());
        let s = step(json!({"id": "p", "type": "sns_publish",
            "topic_arn": "arn:aws:sns:us-east-1:123456789012:orders", "message": "note: {{ trigger.body.note }}"}));
        let run = run_step(&s, &ctx(), "e", &d).await;
        assert_eq!((run.status, run.transient), (StepStatus::Failed, true));
        let sent = sns.seen.lock().unwrap()[0].clone();
        assert_eq!(sent.message, "note: a \"quoted\"\nline");
        assert_eq!(sent.message_group_id, None);
        assert_eq!(sent.deduplication_id, None);
    }

    #[tokio::test]
    async fn filter_transform_echo_and_fail() {
        let d = deps(ScriptedHttp::new(vec![]), Default::default());
        let c = ctx();
        let pass = step(json!({"id": "f", "type": "filter", "when": "trigger.body.order > 5"}));
        assert_eq!(
            run_step(&pass, &c, "e", &d).await.status,
            StepStatus::Succeeded
        );
        let stop = step(json!({"id": "f", "type": "filter", "when": "not trigger.body.ok"}));
        assert_eq!(
            run_step(&stop, &c, "e", &d).await.status,
            StepStatus::Filtered
        );
        // A condition treats a missing field as absent (the README's rule for conditions).
        let absent = step(json!({"id": "f", "type": "filter", "when": "trigger.body.okk"}));
        assert_eq!(
            run_step(&absent, &c, "e", &d).await.status,
            StepStatus::Filtered
        );

        let t = step(json!({"id": "t", "type": "transform",
            "output": {"id": "{{ trigger.body.order }}", "label": "#{{ trigger.body.order }}", "run": "{{ execution.attempt }}"}}));
        let run = run_step(&t, &c, "e", &d).await;
        assert_eq!(run.output, Some(json!({"id": 7, "label": "#7", "run": 1})));

        let echo = run_step(&Step::Echo.into(), &c, "e", &d).await;
        assert_eq!(echo.output.unwrap()["order"], 7);
        let fail = run_step(
            &Step::Fail {
                message: "no".into(),
            }
            .into(),
            &c,
            "e",
            &d,
        )
        .await;
        assert_eq!(
            (fail.status, fail.error.as_deref()),
            (StepStatus::Failed, Some("no"))
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff_ms: 100,
            max_backoff_ms: 1_000,
        };
        for _ in 0..50 {
            let first = backoff(&policy, 1);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let late = backoff(&policy, 10);
            assert!((Duration::from_millis(500)..=Duration::from_millis(1_000)).contains(&late));
        }
    }

    #[test]
    fn large_bodies_are_cut_and_flagged() {
        let response = OutboundResponse {
            status: 200,
            headers: vec![],
            body: vec![b'a'; MAX_RECORDED_BODY + 10],
            body_truncated: false,
        };
        let out = response_output(&response, Duration::ZERO);
        assert_eq!(out["bodyTruncated"], true);
        assert_eq!(out["body"].as_str().unwrap().len(), MAX_RECORDED_BODY);
    }
}
