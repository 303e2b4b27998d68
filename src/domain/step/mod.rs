//! The steps of a workflow: what each one is, its defaults, and the checks a definition must
//! pass before it is stored.
//!
//! The serde form is both the storage format and the workflow-file format: one flat object per
//! step, `{"id": "notify", "type": "http_request", "url": ..., "continue_on_error": true}`,
//! unknown fields refused.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::template::{TemplateEngine, TemplateError, join_path};

pub mod branch;
pub mod for_each;
pub mod target;

pub use branch::{BranchCase, BranchStep};
pub use for_each::ForEachStep;
pub use target::{END, Target};

/// The most steps a workflow holds, counting those inside a `for_each`.
pub const MAX_STEPS: usize = 100;

/// The longest the worker may spend on one execution's steps. It must match the worker
/// Lambda's `Timeout` (minus room for store writes) and stay below `WORKER_LEASE_SECONDS`, or a
/// slow execution is cut off or claimed twice.
pub const WORKER_STEP_BUDGET: Duration = Duration::from_secs(240);

pub const DEFAULT_HTTP_TIMEOUT_MS: u64 = 10_000;
pub const MAX_HTTP_TIMEOUT_MS: u64 = 30_000;
pub const MAX_ATTEMPTS: u32 = 10;
pub const MAX_BACKOFF_MS: u64 = 60_000;
/// What a budget check counts for one SNS publish (the SDK's own attempts and timeouts).
pub const SNS_PUBLISH_WORST_CASE: Duration = Duration::from_secs(30);

/// One step as written in a workflow: its id, whether a failure stops the run, and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowStep {
    /// Unique in the workflow, `[A-Za-z0-9_-]{1,64}`; templates reach its output as
    /// `steps.<id>.output`. Empty until [`number_steps`] gives it `stepN`.
    pub id: String,
    /// Record a failure and go on with the next step instead of failing the execution.
    pub continue_on_error: bool,
    /// What runs after this step; `None` is the step below (the end after the last one).
    pub next: Option<Target>,
    /// Where a failure goes (with the error in scope as `steps.<id>.error`) instead of
    /// failing the execution.
    pub on_error: Option<Target>,
    pub action: Step,
}

/// Callers that build `vec![Step::Echo]` get steps numbered when the workflow is made.
impl From<Step> for WorkflowStep {
    fn from(action: Step) -> Self {
        Self {
            id: String::new(),
            continue_on_error: false,
            next: None,
            on_error: None,
            action,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Outputs the trigger's payload.
    Echo,
    /// Fails with this message.
    Fail {
        message: String,
    },
    /// A bare expression (no `{{ }}`); false ends the execution `succeeded`, outcome `filtered`.
    Filter {
        when: String,
    },
    /// A JSON template; its rendered value is the step's output.
    Transform {
        output: Value,
    },
    HttpRequest(HttpRequestStep),
    SnsPublish(SnsPublishStep),
    /// The first case whose `when` holds names the next step; `default` when none does.
    Branch(BranchStep),
    /// Ends the execution `succeeded`, outcome `stopped`, with a rendered `reason`.
    Stop {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Runs its own steps once per item of a list.
    ForEach(ForEachStep),
}

impl Step {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Echo => "echo",
            Self::Fail { .. } => "fail",
            Self::Filter { .. } => "filter",
            Self::Transform { .. } => "transform",
            Self::HttpRequest(_) => "http_request",
            Self::SnsPublish(_) => "sns_publish",
            Self::Branch(_) => "branch",
            Self::Stop { .. } => "stop",
            Self::ForEach(_) => "for_each",
        }
    }

    /// Every type's name, for messages and the metrics' label values.
    pub const KINDS: [&'static str; 9] = [
        "echo",
        "fail",
        "filter",
        "transform",
        "http_request",
        "sns_publish",
        "branch",
        "stop",
        "for_each",
    ];

    /// The longest one run of the step can take (every attempt timing out, the longest
    /// waits); for a `for_each`, one item.
    pub fn worst_case(&self) -> Duration {
        match self {
            Self::HttpRequest(http) => http.worst_case(),
            Self::SnsPublish(_) => SNS_PUBLISH_WORST_CASE,
            Self::ForEach(each) => each.steps.iter().map(|s| s.action.worst_case()).sum(),
            Self::Echo
            | Self::Fail { .. }
            | Self::Filter { .. }
            | Self::Transform { .. }
            | Self::Branch(_)
            | Self::Stop { .. } => Duration::ZERO,
        }
    }

    /// Whether running the step can be seen outside the execution (a request sent, a message
    /// published). Running any other step again changes nothing outside (its output may
    /// differ only where a template reads `execution.attempt`), so its record need not be
    /// stored before the next step starts.
    pub fn reaches_outside(&self) -> bool {
        match self {
            Self::HttpRequest(_) | Self::SnsPublish(_) => true,
            // A loop stores its items' records itself, as each item's sends finish.
            Self::ForEach(_) => false,
            Self::Echo
            | Self::Fail { .. }
            | Self::Filter { .. }
            | Self::Transform { .. }
            | Self::Branch(_)
            | Self::Stop { .. } => false,
        }
    }
}

/// `http_request`: every string except header and query *names* is a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRequestStep {
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS`; default `POST`.
    #[serde(default = "default_method")]
    pub method: String,
    /// Absolute http(s) URL; query parameters go in `query`, which encodes them.
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
    /// A JSON template sent as JSON. Absent: the trigger's body, except for `GET` and `HEAD`,
    /// which send none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Per attempt, 1..=30 000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    #[serde(default, skip_serializing_if = "ExpectStatus::is_default")]
    pub expect_status: ExpectStatus,
    #[serde(default)]
    pub retry: RetryPolicy,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, 1..=10; 1 never retries.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff_ms")]
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

/// `sns_publish`: the topic, subject, message and attribute values are templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnsPublishStep {
    pub topic_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A string is sent as it renders; any other JSON is rendered and sent serialised.
    /// Absent: the trigger's body, serialised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
    /// Name → value. A string renders to a `String` attribute, a number to `Number`, a list
    /// of strings to `String.Array`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub message_attributes: BTreeMap<String, Value>,
}

impl SnsPublishStep {
    pub fn is_fifo(topic_arn: &str) -> bool {
        topic_arn.ends_with(".fifo")
    }
}

impl Serialize for WorkflowStep {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let action = serde_json::to_value(&self.action).map_err(serde::ser::Error::custom)?;
        let Value::Object(fields) = action else {
            return Err(serde::ser::Error::custom("a step serialises to an object"));
        };
        let mut map = serializer.serialize_map(None)?;
        if !self.id.is_empty() {
            map.serialize_entry("id", &self.id)?;
        }
        if let Some(kind) = fields.get("type") {
            map.serialize_entry("type", kind)?;
        }
        for (k, v) in fields.iter().filter(|(k, _)| *k != "type") {
            map.serialize_entry(k, v)?;
        }
        if self.continue_on_error {
            map.serialize_entry("continue_on_error", &true)?;
        }
        if let Some(next) = &self.next {
            map.serialize_entry("next", next)?;
        }
        if let Some(on_error) = &self.on_error {
            map.serialize_entry("on_error", on_error)?;
        }
        map.end()
    }
}

/// By hand over a JSON map so that `id` and `continue_on_error` sit beside the step's own
/// fields while those stay `deny_unknown_fields`, and errors still say which field.
impl<'de> Deserialize<'de> for WorkflowStep {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = Map::<String, Value>::deserialize(deserializer)?;
        let id = match fields.remove("id") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(id)) => id,
            Some(other) => {
                return Err(de::Error::custom(format!(
                    "id: expected a string, found {other}"
                )));
            }
        };
        let continue_on_error = match fields.remove("continue_on_error") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(other) => {
                return Err(de::Error::custom(format!(
                    "continue_on_error: expected true or false, found {other}"
                )));
            }
        };
        let next = take_target(&mut fields, "next")?;
        let on_error = take_target(&mut fields, "on_error")?;
        if !fields.contains_key("type") {
            return Err(de::Error::custom(format!(
                "type: missing (one of {})",
                Step::KINDS.join(", ")
            )));
        }
        // serde ignores extra fields beside the tag of a unit variant, deny_unknown_fields or not.
        if fields.get("type").and_then(Value::as_str) == Some("echo")
            && let Some(extra) = fields.keys().find(|k| *k != "type")
        {
            return Err(de::Error::custom(format!(
                "unknown field `{extra}`: an echo step takes no fields"
            )));
        }
        let action =
            serde_path_to_error::deserialize::<_, Step>(Value::Object(fields)).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if path == "." || path.is_empty() {
                    de::Error::custom(inner)
                } else {
                    de::Error::custom(format!("{path}: {inner}"))
                }
            })?;
        Ok(Self {
            id,
            continue_on_error,
            next,
            on_error,
            action,
        })
    }
}

fn take_target<E: de::Error>(
    fields: &mut Map<String, Value>,
    name: &str,
) -> Result<Option<Target>, E> {
    match fields.remove(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Target::from_name(s))),
        Some(other) => Err(E::custom(format!(
            "{name}: expected a step id or \"end\", found {other}"
        ))),
    }
}

/// Gives each step without an id `stepN`, N its position from 1 (or the next free number when
/// that name is taken), so that steps stored before ids existed keep loading. Steps inside a
/// `for_each` without an id get `<loop id>-stepN`.
pub fn number_steps(steps: &mut [WorkflowStep]) {
    number_list(steps, "");
    for step in steps.iter_mut() {
        if let Step::ForEach(each) = &mut step.action {
            number_list(&mut each.steps, &format!("{}-", step.id));
        }
    }
}

fn number_list(steps: &mut [WorkflowStep], prefix: &str) {
    let mut next = 1usize;
    for index in 0..steps.len() {
        if !steps[index].id.is_empty() {
            continue;
        }
        next = next.max(index + 1);
        let id = loop {
            let candidate = format!("{prefix}step{next}");
            next += 1;
            if !steps.iter().any(|s| s.id == candidate) {
                break candidate;
            }
        };
        steps[index].id = id;
    }
}

/// Reads a stored or written step list and numbers steps without an id.
pub fn deserialize_numbered<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<WorkflowStep>, D::Error> {
    let mut steps = Vec::<WorkflowStep>::deserialize(deserializer)?;
    number_steps(&mut steps);
    Ok(steps)
}

/// A definition refused at load, with the field at fault: `steps[1].url: not an http(s) URL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct InvalidDefinition {
    pub path: String,
    pub message: String,
}

impl InvalidDefinition {
    fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    fn template(path: &str, err: TemplateError) -> Self {
        Self::at(join_path(path, &err.path), err.message)
    }
}

/// Compiles templates without rendering; one per process is enough for every check.
static CHECKER: LazyLock<TemplateEngine> = LazyLock::new(TemplateEngine::new);

/// Everything a step list must satisfy to be stored. Ids must be numbered already.
pub fn validate_steps(steps: &[WorkflowStep], budget: Duration) -> Result<(), InvalidDefinition> {
    let total = steps
        .iter()
        .map(|s| match &s.action {
            Step::ForEach(each) => 1 + each.steps.len(),
            _ => 1,
        })
        .sum::<usize>();
    if total > MAX_STEPS {
        return Err(InvalidDefinition::at(
            "steps",
            format!("{total} steps (counting those inside for_each); at most {MAX_STEPS}"),
        ));
    }
    let mut ids = std::collections::HashSet::new();
    validate_list(steps, "steps", &mut ids, budget, false).map(drop)
}

/// Checks one list (the workflow's, or a loop's) and returns the longest one pass through
/// it can take.
fn validate_list<'a>(
    steps: &'a [WorkflowStep],
    prefix: &str,
    ids: &mut std::collections::HashSet<&'a str>,
    budget: Duration,
    in_loop: bool,
) -> Result<Duration, InvalidDefinition> {
    let engine = &*CHECKER;
    let mut total = Duration::ZERO;
    for (index, step) in steps.iter().enumerate() {
        let path = format!("{prefix}[{index}]");
        validate_id(step, &path)?;
        if !ids.insert(&step.id) {
            return Err(InvalidDefinition::at(
                format!("{path}.id"),
                format!("{:?} is used by more than one step", step.id),
            ));
        }
        validate_flow(step, index, steps, &path)?;
        let worst = match &step.action {
            Step::ForEach(_) if in_loop => {
                return Err(InvalidDefinition::at(
                    format!("{path}.type"),
                    "a for_each cannot sit inside another for_each",
                ));
            }
            Step::ForEach(each) => {
                validate_for_each(each, engine, &path)?;
                let per_item =
                    validate_list(&each.steps, &format!("{path}.steps"), ids, budget, true)?;
                if per_item > budget {
                    return Err(over_budget(&format!("{path}.steps"), per_item, budget));
                }
                per_item
            }
            action => validate_action(action, engine, &path)?,
        };
        if worst > budget {
            return Err(over_budget(&path, worst, budget));
        }
        total += worst;
    }
    validate_reachable(steps, prefix)?;
    Ok(total)
}

fn over_budget(path: &str, worst: Duration, budget: Duration) -> InvalidDefinition {
    InvalidDefinition::at(
        path,
        format!(
            "in the worst case (every attempt timing out, longest waits) this takes {} s, \
             more than the worker's {} s; lower timeout_ms or retry.max_attempts",
            worst.as_secs_f64().ceil(),
            budget.as_secs()
        ),
    )
}

/// `next`, `on_error` and a branch's targets: known, forward, and only where they mean
/// something.
fn validate_flow(
    step: &WorkflowStep,
    index: usize,
    steps: &[WorkflowStep],
    path: &str,
) -> Result<(), InvalidDefinition> {
    let forward = |target: &Target, at: String| -> Result<(), InvalidDefinition> {
        let Target::Step(id) = target else {
            return Ok(());
        };
        match steps.iter().position(|s| s.id == *id) {
            Some(to) if to > index => Ok(()),
            Some(_) => Err(InvalidDefinition::at(
                at,
                format!(
                    "{id:?} is not below this step; targets only point forward (or to \"end\")"
                ),
            )),
            None => Err(InvalidDefinition::at(
                at,
                format!("no step {id:?} in this list (a step id below this one, or \"end\")"),
            )),
        }
    };
    if let Some(next) = &step.next {
        if matches!(
            step.action,
            Step::Branch(_) | Step::Stop { .. } | Step::Fail { .. }
        ) {
            return Err(InvalidDefinition::at(
                format!("{path}.next"),
                format!("a {} step never goes on to a next step", step.action.kind()),
            ));
        }
        forward(next, format!("{path}.next"))?;
    }
    if let Some(on_error) = &step.on_error {
        if step.continue_on_error {
            return Err(InvalidDefinition::at(
                format!("{path}.on_error"),
                "on_error and continue_on_error both say where a failure goes; keep one",
            ));
        }
        forward(on_error, format!("{path}.on_error"))?;
    }
    if let Step::Branch(branch) = &step.action {
        for (i, case) in branch.cases.iter().enumerate() {
            forward(&case.next, format!("{path}.cases[{i}].next"))?;
        }
        forward(&branch.default, format!("{path}.default"))?;
    }
    Ok(())
}

/// The indices a step can hand over to (`None` stands for the end).
pub fn successors(steps: &[WorkflowStep], index: usize) -> Vec<Option<usize>> {
    let step = &steps[index];
    let below = || (index + 1 < steps.len()).then_some(index + 1);
    let then = || match &step.next {
        Some(target) => target::resolve(steps, target),
        None => below(),
    };
    let mut out = Vec::new();
    match &step.action {
        Step::Branch(branch) => {
            out.extend(branch.cases.iter().map(|c| target::resolve(steps, &c.next)));
            out.push(target::resolve(steps, &branch.default));
        }
        Step::Stop { .. } | Step::Fail { .. } => {}
        _ => out.push(then()),
    }
    if let Some(on_error) = &step.on_error {
        out.push(target::resolve(steps, on_error));
    } else if step.continue_on_error
        && matches!(
            step.action,
            Step::Fail { .. } | Step::Branch(_) | Step::Stop { .. }
        )
    {
        out.push(then());
    }
    out
}

fn validate_reachable(steps: &[WorkflowStep], prefix: &str) -> Result<(), InvalidDefinition> {
    let mut reached = vec![false; steps.len()];
    if let Some(first) = reached.first_mut() {
        *first = true;
    }
    // Targets only point forward, so one pass in order sees every way into a step first.
    for index in 0..steps.len() {
        if !reached[index] {
            return Err(InvalidDefinition::at(
                format!("{prefix}[{index}]"),
                format!(
                    "no path reaches step {:?}: every step before it goes elsewhere",
                    steps[index].id
                ),
            ));
        }
        for to in successors(steps, index).into_iter().flatten() {
            reached[to] = true;
        }
    }
    Ok(())
}

fn validate_id(step: &WorkflowStep, path: &str) -> Result<(), InvalidDefinition> {
    let id = &step.id;
    let well_formed = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !well_formed {
        return Err(InvalidDefinition::at(
            format!("{path}.id"),
            format!("{id:?} is not 1 to 64 letters, digits, '_' or '-'"),
        ));
    }
    if id == END {
        return Err(InvalidDefinition::at(
            format!("{path}.id"),
            "\"end\" is where targets point to finish; a step cannot take it",
        ));
    }
    Ok(())
}

fn validate_for_each(
    each: &ForEachStep,
    engine: &TemplateEngine,
    path: &str,
) -> Result<(), InvalidDefinition> {
    let field = |name: &str| format!("{path}.{name}");
    engine
        .check_expression(&each.items)
        .map_err(|e| InvalidDefinition::template(&field("items"), e))?;
    let name_ok = !each.as_name.is_empty()
        && each.as_name.len() <= 64
        && each
            .as_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !each.as_name.as_bytes()[0].is_ascii_digit();
    if !name_ok {
        return Err(InvalidDefinition::at(
            field("as"),
            format!("{:?} is not a name (letters, digits, '_')", each.as_name),
        ));
    }
    if for_each::RESERVED_NAMES.contains(&each.as_name.as_str()) {
        return Err(InvalidDefinition::at(
            field("as"),
            format!("{:?} is a name templates already use", each.as_name),
        ));
    }
    if !(1..=for_each::MAX_ITEMS).contains(&each.max_items) {
        return Err(InvalidDefinition::at(
            field("max_items"),
            format!("{} is outside 1 to {}", each.max_items, for_each::MAX_ITEMS),
        ));
    }
    if !(1..=for_each::MAX_CONCURRENCY).contains(&each.concurrency) {
        return Err(InvalidDefinition::at(
            field("concurrency"),
            format!(
                "{} is outside 1 to {}",
                each.concurrency,
                for_each::MAX_CONCURRENCY
            ),
        ));
    }
    if each.steps.is_empty() {
        return Err(InvalidDefinition::at(
            field("steps"),
            "a for_each needs at least one step to run per item",
        ));
    }
    Ok(())
}

/// Checks one step and returns the longest it can take.
fn validate_action(
    action: &Step,
    engine: &TemplateEngine,
    path: &str,
) -> Result<Duration, InvalidDefinition> {
    match action {
        Step::Echo | Step::Fail { .. } => Ok(Duration::ZERO),
        Step::Filter { when } => engine
            .check_expression(when)
            .map(|()| Duration::ZERO)
            .map_err(|e| InvalidDefinition::template(&format!("{path}.when"), e)),
        Step::Transform { output } => engine
            .check_value(output)
            .map(|()| Duration::ZERO)
            .map_err(|e| InvalidDefinition::template(&format!("{path}.output"), e)),
        Step::HttpRequest(http) => validate_http(http, engine, path).map(|()| http.worst_case()),
        Step::SnsPublish(sns) => validate_sns(sns, engine, path).map(|()| SNS_PUBLISH_WORST_CASE),
        Step::Branch(branch) => validate_branch(branch, engine, path).map(|()| Duration::ZERO),
        Step::Stop { reason } => reason
            .as_deref()
            .map_or(Ok(()), |r| engine.check_str(r))
            .map(|()| Duration::ZERO)
            .map_err(|e| InvalidDefinition::template(&format!("{path}.reason"), e)),
        // Checked by `validate_list`, which knows whether it sits in a loop.
        Step::ForEach(_) => Ok(Duration::ZERO),
    }
}

fn validate_branch(
    branch: &BranchStep,
    engine: &TemplateEngine,
    path: &str,
) -> Result<(), InvalidDefinition> {
    if branch.cases.is_empty() {
        return Err(InvalidDefinition::at(
            format!("{path}.cases"),
            "a branch needs at least one case (a `when` and a `next`)",
        ));
    }
    if branch.cases.len() > branch::MAX_CASES {
        return Err(InvalidDefinition::at(
            format!("{path}.cases"),
            format!(
                "{} cases; at most {}",
                branch.cases.len(),
                branch::MAX_CASES
            ),
        ));
    }
    for (i, case) in branch.cases.iter().enumerate() {
        engine
            .check_expression(&case.when)
            .map_err(|e| InvalidDefinition::template(&format!("{path}.cases[{i}].when"), e))?;
    }
    Ok(())
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

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

fn validate_sns(
    sns: &SnsPublishStep,
    engine: &TemplateEngine,
    path: &str,
) -> Result<(), InvalidDefinition> {
    let field = |name: &str| format!("{path}.{name}");
    engine
        .check_str(&sns.topic_arn)
        .map_err(|e| InvalidDefinition::template(&field("topic_arn"), e))?;
    if !sns.topic_arn.contains("{{") && !sns.topic_arn.starts_with("arn:") {
        return Err(InvalidDefinition::at(
            field("topic_arn"),
            format!("{:?} is not a topic ARN", sns.topic_arn),
        ));
    }
    if let Some(subject) = &sns.subject {
        engine
            .check_str(subject)
            .map_err(|e| InvalidDefinition::template(&field("subject"), e))?;
    }
    if let Some(message) = &sns.message {
        engine
            .check_value(message)
            .map_err(|e| InvalidDefinition::template(&field("message"), e))?;
    }
    for (name, value) in &sns.message_attributes {
        let at = format!("{path}.message_attributes[{}]", Value::String(name.clone()));
        if name.is_empty() || name.len() > 256 || name.starts_with("AWS.") {
            return Err(InvalidDefinition::at(at, "not a valid attribute name"));
        }
        if !matches!(value, Value::String(_) | Value::Number(_) | Value::Array(_)) {
            return Err(InvalidDefinition::at(
                at,
                "an attribute is a string, a number or a list of strings",
            ));
        }
        engine
            .check_value(value)
            .map_err(|e| InvalidDefinition::template(&at, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Vec<WorkflowStep>, String> {
        let mut steps: Vec<WorkflowStep> = serde_json::from_value(v).map_err(|e| e.to_string())?;
        number_steps(&mut steps);
        Ok(steps)
    }

    fn check(v: Value) -> Result<Vec<WorkflowStep>, String> {
        let steps = parse(v)?;
        validate_steps(&steps, WORKER_STEP_BUDGET).map_err(|e| e.to_string())?;
        Ok(steps)
    }

    fn http(url: &str) -> Value {
        json!({"id": "call", "type": "http_request", "url": url})
    }

    #[test]
    fn stored_steps_without_ids_still_load_and_get_numbered() {
        let steps = parse(json!([{"type": "echo"}, {"type": "fail", "message": "x"}])).unwrap();
        assert_eq!(steps[0].id, "step1");
        assert_eq!(steps[0].action, Step::Echo);
        assert_eq!(steps[1].id, "step2");
        assert_eq!(
            steps[1].action,
            Step::Fail {
                message: "x".into()
            }
        );
    }

    #[test]
    fn numbering_skips_ids_already_taken() {
        let steps = parse(json!([{"id": "step2", "type": "echo"}, {"type": "echo"}])).unwrap();
        assert_eq!(steps[1].id, "step3");
    }

    #[test]
    fn flat_form_round_trips() {
        let raw = json!({
            "id": "notify", "type": "http_request", "url": "https://example.com/h",
            "continue_on_error": true, "timeout_ms": 2000, "expect_status": [200, "3xx"],
            "retry": {"max_attempts": 2}
        });
        let step: WorkflowStep = serde_json::from_value(raw).unwrap();
        assert!(step.continue_on_error);
        let Step::HttpRequest(h) = &step.action else {
            panic!("not http")
        };
        assert_eq!(h.method, "POST");
        assert_eq!(h.retry.max_attempts, 2);
        assert_eq!(h.retry.max_backoff_ms, 10_000);
        assert!(h.expect_status.matches(302) && !h.expect_status.matches(201));
        let back: WorkflowStep =
            serde_json::from_value(serde_json::to_value(&step).unwrap()).unwrap();
        assert_eq!(back, step);
        let text = serde_json::to_value(WorkflowStep::from(Step::Echo)).unwrap();
        assert_eq!(text, json!({"type": "echo"}));
    }

    #[test]
    fn unknown_types_and_fields_are_refused_naming_them() {
        assert!(parse(json!([{"type": "rm -rf"}])).is_err());
        let err = parse(json!([{"type": "echo", "extra": 1}])).unwrap_err();
        assert!(err.contains("extra"), "{err}");
        let err =
            parse(json!([{"type": "http_request", "url": "https://x", "urll": 1}])).unwrap_err();
        assert!(err.contains("urll"), "{err}");
        let err =
            parse(json!([{"type": "http_request", "url": "https://x", "retry": {"tries": 1}}]))
                .unwrap_err();
        assert!(err.contains("tries"), "{err}");
        assert!(
            parse(json!([{"message": "no type"}]))
                .unwrap_err()
                .contains("type")
        );
        assert!(
            parse(json!([{"type": "echo", "id": 3}]))
                .unwrap_err()
                .contains("id")
        );
    }

    #[test]
    fn expect_status_forms() {
        let one: ExpectStatus = serde_json::from_value(json!(201)).unwrap();
        assert!(one.matches(201) && !one.matches(200));
        let class: ExpectStatus = serde_json::from_value(json!("4xx")).unwrap();
        assert!(class.matches(404));
        assert!(ExpectStatus::default().matches(204));
        assert!(!ExpectStatus::default().matches(301));
        assert!(serde_json::from_value::<ExpectStatus>(json!("2yy")).is_err());
        assert!(serde_json::from_value::<ExpectStatus>(json!(700)).is_err());
        assert!(serde_json::from_value::<ExpectStatus>(json!([])).is_err());
    }

    #[test]
    fn duplicate_and_malformed_ids_are_refused() {
        let err =
            check(json!([{"id": "a", "type": "echo"}, {"id": "a", "type": "echo"}])).unwrap_err();
        assert!(err.starts_with("steps[1].id: "), "{err}");
        let err = check(json!([{"id": "has space", "type": "echo"}])).unwrap_err();
        assert!(err.starts_with("steps[0].id: "), "{err}");
    }

    #[test]
    fn bad_urls_and_limits_name_their_field() {
        assert!(check(json!([http("https://example.com/x?y=1")])).is_ok());
        assert!(check(json!([http("https://{{ trigger.body.host }}/x")])).is_ok());
        for (url, _) in [
            ("ftp://example.com", ()),
            ("not a url", ()),
            ("/relative", ()),
        ] {
            let err = check(json!([{"type": "echo"}, http(url)])).unwrap_err();
            assert!(err.starts_with("steps[1].url: "), "{err}");
        }
        let err = check(
            json!([{"id": "c", "type": "http_request", "url": "https://x", "timeout_ms": 30001}]),
        )
        .unwrap_err();
        assert!(err.starts_with("steps[0].timeout_ms: "), "{err}");
        let err = check(json!([{"id": "c", "type": "http_request", "url": "https://x", "retry": {"max_attempts": 11}}])).unwrap_err();
        assert!(err.starts_with("steps[0].retry.max_attempts: "), "{err}");
        let err = check(
            json!([{"id": "c", "type": "http_request", "url": "https://x", "method": "BREW"}]),
        )
        .unwrap_err();
        assert!(err.starts_with("steps[0].method: "), "{err}");
        let err = check(json!([{"id": "c", "type": "http_request", "url": "https://x", "headers": {"bad name": "v"}}])).unwrap_err();
        assert!(err.starts_with("steps[0].headers[\"bad name\"]: "), "{err}");
    }

    #[test]
    fn templates_must_compile_and_when_must_be_an_expression() {
        let err = check(json!([{"id": "t", "type": "transform", "output": {"a": ["{{ x. }}"]}}]))
            .unwrap_err();
        assert!(err.starts_with("steps[0].output.a[0]: "), "{err}");
        let err = check(json!([{"id": "f", "type": "filter", "when": "{{ trigger.body.ok }}"}]))
            .unwrap_err();
        assert!(err.starts_with("steps[0].when: "), "{err}");
        assert!(check(json!([{"id": "f", "type": "filter", "when": "trigger.body.ok"}])).is_ok());
        let err = check(json!([{"id": "c", "type": "http_request", "url": "https://x", "body": {"n": "{% for %}"}}])).unwrap_err();
        assert!(err.starts_with("steps[0].body.n: "), "{err}");
        let err = check(json!([{"id": "s", "type": "sns_publish", "topic_arn": "arn:aws:sns:us-east-1:123456789012:t", "message_attributes": {"k": {"a": 1}}}])).unwrap_err();
        assert!(
            err.starts_with("steps[0].message_attributes[\"k\"]: "),
            "{err}"
        );
    }

    #[test]
    fn a_step_over_the_worker_budget_is_refused_but_a_long_path_is_not() {
        let slow = json!({"type": "http_request", "url": "https://x", "timeout_ms": 30000,
                          "retry": {"max_attempts": 4, "max_backoff_ms": 10000}});
        // 4 × 30 s + 3 × 10 s = 150 s each; the runner hands a path that does not fit in
        // one delivery on to the next, so only one step must fit.
        let steps = parse(json!([slow.clone(), slow.clone()])).unwrap();
        assert!(validate_steps(&steps, Duration::from_secs(150)).is_ok());
        let err = validate_steps(&steps, Duration::from_secs(149)).unwrap_err();
        assert_eq!(err.path, "steps[0]");
        let looped = parse(
            json!([{"id": "l", "type": "for_each", "items": "trigger.body.x",
                                    "steps": [slow.clone(), slow]}]),
        )
        .unwrap();
        let err = validate_steps(&looped, Duration::from_secs(299)).unwrap_err();
        assert_eq!(err.path, "steps[0].steps", "one item must fit: {err}");
        assert!(validate_steps(&looped, Duration::from_secs(300)).is_ok());
    }

    fn refused(v: Value) -> String {
        check(v).expect_err("refused")
    }

    #[test]
    fn the_issue_example_loads_and_round_trips() {
        let steps = check(json!([
            {"id": "route", "type": "branch", "cases": [
                {"when": "trigger.body.severity == \"critical\"", "next": "page"},
                {"when": "trigger.body.severity in [\"warning\", \"minor\"]", "next": "chat"}],
             "default": "ignore"},
            {"id": "page", "type": "http_request", "url": "https://events.example.com/v2/enqueue",
             "on_error": "alert", "next": "end"},
            {"id": "chat", "type": "for_each", "items": "trigger.body.alerts", "as": "alert",
             "max_items": 100, "concurrency": 4, "next": "end", "steps": [
                {"id": "post", "type": "http_request", "url": "https://hooks.example.com/x",
                 "body": {"text": "{{ alert.name }}: {{ alert.summary }}"}}]},
            {"id": "alert", "type": "sns_publish", "topic_arn": "arn:aws:sns:eu-west-1:123456789012:ops",
             "message": "{{ steps.page.error }}"},
            {"id": "ignore", "type": "stop", "reason": "severity {{ trigger.body.severity }} is not routed"}
        ]))
        .unwrap();
        let Step::ForEach(each) = &steps[2].action else {
            panic!("for_each")
        };
        assert_eq!((each.as_name.as_str(), each.concurrency), ("alert", 4));
        assert_eq!(steps[1].on_error, Some(Target::Step("alert".into())));
        assert_eq!(steps[1].next, Some(Target::End));
        let text = serde_json::to_value(&steps).unwrap();
        let back: Vec<WorkflowStep> = serde_json::from_value(text.clone()).unwrap();
        assert_eq!(back, steps);
        assert_eq!(text[1]["next"], "end");
        assert_eq!(text[2]["as"], "alert");
    }

    #[test]
    fn defaults_of_a_loop() {
        let steps = check(
            json!([{"id": "l", "type": "for_each", "items": "trigger.body.x",
                                   "steps": [{"type": "echo"}]}]),
        )
        .unwrap();
        let Step::ForEach(each) = &steps[0].action else {
            panic!("for_each")
        };
        assert_eq!(
            (each.as_name.as_str(), each.max_items, each.concurrency),
            ("item", 100, 1)
        );
        assert_eq!(
            each.steps[0].id, "l-step1",
            "inner steps are numbered under the loop"
        );
    }

    #[test]
    fn targets_must_point_forward_to_a_known_step() {
        let err = refused(json!([
            {"id": "a", "type": "echo"},
            {"id": "b", "type": "echo", "next": "a"}]));
        assert!(err.starts_with("steps[1].next: "), "{err}");
        let err = refused(json!([
            {"id": "r", "type": "branch", "cases": [{"when": "true", "next": "b"}, {"when": "false", "next": "nope"}], "default": "end"},
            {"id": "b", "type": "echo"}]));
        assert!(err.starts_with("steps[0].cases[1].next: "), "{err}");
        let err = refused(json!([
            {"id": "r", "type": "branch", "cases": [{"when": "true", "next": "end"}], "default": "r"}]));
        assert!(err.starts_with("steps[0].default: "), "{err}");
        let err = refused(json!([{"id": "a", "type": "echo", "on_error": "a"}]));
        assert!(err.starts_with("steps[0].on_error: "), "{err}");
        let err = refused(json!([
            {"id": "r", "type": "branch", "cases": [{"when": "true", "next": "end"}]}]));
        assert!(err.contains("default"), "default is required: {err}");
    }

    #[test]
    fn a_step_no_path_reaches_is_refused() {
        let err = refused(json!([
            {"id": "a", "type": "echo", "next": "c"},
            {"id": "b", "type": "echo"},
            {"id": "c", "type": "echo"}]));
        assert!(err.starts_with("steps[1]: "), "{err}");
        let err = refused(json!([
            {"id": "s", "type": "stop"},
            {"id": "b", "type": "echo"}]));
        assert!(err.starts_with("steps[1]: "), "{err}");
        // Reached only through on_error: fine.
        assert!(
            check(json!([
            {"id": "a", "type": "echo", "on_error": "c", "next": "end"},
            {"id": "c", "type": "echo"}]))
            .is_ok()
        );
        let err = refused(
            json!([{"id": "l", "type": "for_each", "items": "x", "steps": [
            {"id": "p", "type": "echo", "next": "end"},
            {"id": "q", "type": "echo"}]}]),
        );
        assert!(err.starts_with("steps[0].steps[1]: "), "{err}");
    }

    #[test]
    fn loops_nesting_limits_and_names_are_checked() {
        let inner =
            json!({"id": "in", "type": "for_each", "items": "x", "steps": [{"type": "echo"}]});
        let err = refused(json!([{"id": "l", "type": "for_each", "items": "x", "steps": [inner]}]));
        assert!(err.starts_with("steps[0].steps[0].type: "), "{err}");
        for (field, value) in [
            ("max_items", json!(1001)),
            ("max_items", json!(0)),
            ("concurrency", json!(17)),
            ("concurrency", json!(0)),
            ("as", json!("loop")),
            ("as", json!("9x")),
            ("items", json!("{{ x }}")),
        ] {
            let mut step =
                json!({"id": "l", "type": "for_each", "items": "x", "steps": [{"type": "echo"}]});
            step[field] = value;
            let err = refused(json!([step]));
            assert!(
                err.starts_with(&format!("steps[0].{field}: ")),
                "{field}: {err}"
            );
        }
        let err = refused(json!([{"id": "l", "type": "for_each", "items": "x", "steps": []}]));
        assert!(err.starts_with("steps[0].steps: "), "{err}");
        let many: Vec<Value> = (0..101)
            .map(|i| json!({"id": format!("s{i}"), "type": "echo"}))
            .collect();
        assert!(refused(Value::Array(many)).starts_with("steps: "));
        let err = refused(json!([{"id": "end", "type": "echo"}]));
        assert!(err.starts_with("steps[0].id: "), "{err}");
        let err = refused(
            json!([{"id": "a", "type": "echo"}, {"id": "l", "type": "for_each", "items": "x", "steps": [{"id": "a", "type": "echo"}]}]),
        );
        assert!(
            err.starts_with("steps[1].steps[0].id: "),
            "ids are unique across loops: {err}"
        );
    }

    #[test]
    fn next_where_it_means_nothing_and_two_error_routes_are_refused() {
        let err = refused(json!([{"id": "s", "type": "stop", "next": "end"}]));
        assert!(err.starts_with("steps[0].next: "), "{err}");
        let err = refused(
            json!([{"id": "a", "type": "echo", "on_error": "end", "continue_on_error": true}]),
        );
        assert!(err.starts_with("steps[0].on_error: "), "{err}");
        let err = refused(json!([{"id": "a", "type": "echo", "next": 3}]));
        assert!(err.contains("next"), "{err}");
    }

    #[test]
    fn default_http_step_fits_the_budget() {
        let steps = parse(json!([http("https://x")])).unwrap();
        let Step::HttpRequest(h) = &steps[0].action else {
            panic!()
        };
        assert_eq!(h.worst_case(), Duration::from_secs(50));
        assert!(validate_steps(&steps, WORKER_STEP_BUDGET).is_ok());
    }
}
