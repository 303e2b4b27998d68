//! `http_request`: one HTTP request, rendered from templates, sent through the guarded client
//! with the step's retry policy.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use schemars::JsonSchema;
use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use super::{
    REDACTED, StepContext, StepDeps, StepRun, StepStatus, StepType, is_sensitive_name, prefixed,
};
use crate::domain::{InvalidDefinition, TemplateEngine};
use crate::ports::{HttpSender, OutboundError, OutboundRequest, OutboundResponse};

pub const DEFAULT_HTTP_TIMEOUT_MS: u64 = 10_000;
pub const MAX_HTTP_TIMEOUT_MS: u64 = 30_000;
pub const MAX_ATTEMPTS: u32 = 10;
pub const MAX_BACKOFF_MS: u64 = 60_000;

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

/// `http_request`: every string except header and query *names* is a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestStep {
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS`; default `POST`.
    #[serde(default = "default_method")]
    #[schemars(schema_with = "method_schema")]
    pub method: String,
    /// Absolute http(s) URL; query parameters go in `query`, which encodes them.
    pub url: String,
    /// Name → value (a template). Sensitive values are redacted in records.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Query parameters added to the URL, name → value (a template), encoded.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// A JSON template sent as JSON. Absent: the trigger's body, except for `GET` and `HEAD`,
    /// which send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Per attempt, 1..=30 000.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 1, max = MAX_HTTP_TIMEOUT_MS))]
    pub timeout_ms: u64,
    /// Which answers count as success: a status (`201`), a class (`"2xx"`), or a list of
    /// those; default `"2xx"`.
    #[serde(default, skip_serializing_if = "ExpectStatus::is_default")]
    pub expect_status: ExpectStatus,
    /// Attempts within one run, on connect errors, timeouts, 408, 429 and 5xx.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Follow 3xx answers (at most 5); default false: a redirect is the answer.
    #[serde(default)]
    pub follow_redirects: bool,
}

fn default_method() -> String {
    "POST".to_owned()
}

fn default_timeout_ms() -> u64 {
    DEFAULT_HTTP_TIMEOUT_MS
}

impl HttpRequestStep {
    /// Whether a request without a `body` sends the trigger's body.
    pub fn sends_default_body(&self) -> bool {
        !matches!(self.method.to_ascii_uppercase().as_str(), "GET" | "HEAD")
    }

    /// The longest this step can take: every attempt timing out, with the longest wait
    /// between attempts.
    pub fn worst_case(&self) -> Duration {
        let attempts = u64::from(self.retry.max_attempts.max(1));
        Duration::from_millis(
            self.timeout_ms.saturating_mul(attempts)
                + self.retry.max_backoff_ms.saturating_mul(attempts - 1),
        )
    }
}

/// Which answers count as success. Written as a status (`201`), a class (`"2xx"`), or a list
/// of those (`[200, 204, "3xx"]`). Default: `"2xx"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectStatus(pub Vec<StatusMatch>);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusMatch {
    Code(u16),
    /// The hundreds digit: `2` for `2xx`.
    Class(u8),
}

impl Default for ExpectStatus {
    fn default() -> Self {
        Self(vec![StatusMatch::Class(2)])
    }
}

impl ExpectStatus {
    pub fn matches(&self, status: u16) -> bool {
        self.0.iter().any(|m| match *m {
            StatusMatch::Code(code) => code == status,
            StatusMatch::Class(class) => status / 100 == u16::from(class),
        })
    }

    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "{code}"),
            Self::Class(class) => write!(f, "{class}xx"),
        }
    }
}

impl fmt::Display for ExpectStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(", "))
    }
}

fn parse_status_match(value: &Value) -> Result<StatusMatch, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .filter(|c| (100..=599).contains(c))
            .and_then(|c| u16::try_from(c).ok())
            .map(StatusMatch::Code)
            .ok_or_else(|| format!("{n} is not an HTTP status (100 to 599)")),
        Value::String(s) => {
            let bytes = s.as_bytes();
            match bytes {
                [d @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => Ok(StatusMatch::Class(d - b'0')),
                _ => s
                    .parse::<u16>()
                    .ok()
                    .filter(|c| (100..=599).contains(c))
                    .map(StatusMatch::Code)
                    .ok_or_else(|| format!("{s:?} is neither a status nor a class like \"2xx\"")),
            }
        }
        other => Err(format!(
            "expected a status, a class like \"2xx\" or a list of those, found {other}"
        )),
    }
}

impl<'de> Deserialize<'de> for ExpectStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let items = match &value {
            Value::Array(items) if items.is_empty() => {
                return Err(de::Error::custom("expect_status lists no status"));
            }
            Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        items
            .into_iter()
            .map(parse_status_match)
            .collect::<Result<Vec<_>, _>>()
            .map(ExpectStatus)
            .map_err(de::Error::custom)
    }
}

/// The three spellings `Deserialize` takes: a status, a class, or a non-empty list of those.
impl JsonSchema for ExpectStatus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ExpectStatus".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one = schemars::json_schema!({
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "pattern": "^([1-5][xX][xX]|[1-5][0-9][0-9])$"},
            ]
        });
        schemars::json_schema!({
            "description": "A status (`201`), a class (`\"2xx\"`), or a list of those.",
            "anyOf": [
                one,
                {"type": "array", "items": one, "minItems": 1},
            ],
            "default": "2xx",
        })
    }
}

impl Serialize for ExpectStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let items: Vec<Value> = self
            .0
            .iter()
            .map(|m| match m {
                StatusMatch::Code(code) => Value::from(*code),
                StatusMatch::Class(_) => Value::from(m.to_string()),
            })
            .collect();
        match items.as_slice() {
            [one] => one.serialize(serializer),
            _ => items.serialize(serializer),
        }
    }
}

/// Retries within one run, on connect errors, timeouts, 408, 429 and 5xx. The wait before
/// attempt n+1 is a random time up to `initial_backoff_ms × 2^(n-1)` (full jitter), capped at
/// `max_backoff_ms`; a `Retry-After` answer replaces it when it fits under that cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, 1..=10; 1 never retries.
    #[serde(default = "default_attempts")]
    #[schemars(range(min = 1, max = MAX_ATTEMPTS))]
    pub max_attempts: u32,
    /// The longest wait before the first retry, at least 1 and at most `max_backoff_ms`.
    #[serde(default = "default_initial_backoff_ms")]
    #[schemars(range(min = 1, max = MAX_BACKOFF_MS))]
    pub initial_backoff_ms: u64,
    /// The longest wait between two attempts.
    #[serde(default = "default_max_backoff_ms")]
    #[schemars(range(min = 1, max = MAX_BACKOFF_MS))]
    pub max_backoff_ms: u64,
}

fn default_attempts() -> u32 {
    3
}
fn default_initial_backoff_ms() -> u64 {
    500
}
fn default_max_backoff_ms() -> u64 {
    10_000
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: default_attempts(),
            initial_backoff_ms: default_initial_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
        }
    }
}

#[async_trait]
impl StepType for HttpRequestStep {
    const KIND: &'static str = "http_request";

    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        validate_http(self, engine, path)
    }

    fn worst_case(&self) -> Duration {
        HttpRequestStep::worst_case(self)
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
        render_http(self, ctx, templates, key)
            .map(|request| json!({ "request": redacted_request(&request) }))
    }

    async fn run(&self, ctx: &StepContext, key: &str, deps: &StepDeps) -> StepRun {
        match render_http(self, ctx, &deps.templates, key) {
            Ok(request) => send_http(self, request, deps.http.as_ref()).await,
            Err(error) => StepRun::failed(error),
        }
    }
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The methods as an editor offers them (upper case), and any case as the loader takes them.
fn method_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let any_case: Vec<String> = METHODS
        .iter()
        .map(|m| {
            m.chars()
                .map(|c| format!("[{c}{}]", c.to_ascii_lowercase()))
                .collect()
        })
        .collect();
    schemars::json_schema!({
        "type": "string",
        "description": "`GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS`; default `POST`.",
        "anyOf": [
            {"enum": METHODS},
            {"pattern": format!("^({})$", any_case.join("|"))},
        ],
        "default": default_method(),
    })
}

fn validate_http(
    http: &HttpRequestStep,
    engine: &TemplateEngine,
    path: &str,
) -> Result<(), InvalidDefinition> {
    let field = |name: &str| format!("{path}.{name}");
    if !METHODS.contains(&http.method.to_ascii_uppercase().as_str()) {
        return Err(InvalidDefinition::at(
            field("method"),
            format!("{:?} is not one of {}", http.method, METHODS.join(", ")),
        ));
    }
    engine
        .check_str(&http.url)
        .map_err(|e| InvalidDefinition::template(&field("url"), e))?;
    if !http.url.contains("{{") && !http.url.contains("{%") {
        check_literal_url(&http.url).map_err(|m| InvalidDefinition::at(field("url"), m))?;
    }
    for (name, value) in &http.headers {
        let at = format!("{path}.headers[{}]", Value::String(name.clone()));
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(InvalidDefinition::at(at, "not a valid header name"));
        }
        engine
            .check_str(value)
            .map_err(|e| InvalidDefinition::template(&at, e))?;
    }
    for (name, value) in &http.query {
        let at = format!("{path}.query[{}]", Value::String(name.clone()));
        engine
            .check_str(value)
            .map_err(|e| InvalidDefinition::template(&at, e))?;
    }
    if let Some(body) = &http.body {
        engine
            .check_value(body)
            .map_err(|e| InvalidDefinition::template(&field("body"), e))?;
    }
    if !(1..=MAX_HTTP_TIMEOUT_MS).contains(&http.timeout_ms) {
        return Err(InvalidDefinition::at(
            field("timeout_ms"),
            format!("{} is outside 1 to {MAX_HTTP_TIMEOUT_MS}", http.timeout_ms),
        ));
    }
    let retry = &http.retry;
    if !(1..=MAX_ATTEMPTS).contains(&retry.max_attempts) {
        return Err(InvalidDefinition::at(
            field("retry.max_attempts"),
            format!("{} is outside 1 to {MAX_ATTEMPTS}", retry.max_attempts),
        ));
    }
    if !(1..=MAX_BACKOFF_MS).contains(&retry.max_backoff_ms) {
        return Err(InvalidDefinition::at(
            field("retry.max_backoff_ms"),
            format!("{} is outside 1 to {MAX_BACKOFF_MS}", retry.max_backoff_ms),
        ));
    }
    if retry.initial_backoff_ms == 0 || retry.initial_backoff_ms > retry.max_backoff_ms {
        return Err(InvalidDefinition::at(
            field("retry.initial_backoff_ms"),
            "must be at least 1 and at most max_backoff_ms",
        ));
    }
    Ok(())
}

/// A URL the step may send to: absolute http or https with a host.
pub fn check_literal_url(raw: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{raw:?} is not an http or https URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(format!("{raw:?} has no host"));
    }
    Ok(parsed)
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

pub(crate) fn render_http(
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
pub(crate) fn backoff(policy: &RetryPolicy, failed_attempts: u32) -> Duration {
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
pub(crate) async fn send_http(
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
                    suspend: None,
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

pub(crate) fn response_output(response: &OutboundResponse, elapsed: Duration) -> Value {
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
