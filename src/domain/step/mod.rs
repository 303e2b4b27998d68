//! The steps of a workflow as a list: ids, where each goes next (`next`, `on_error`), and the
//! checks the list as a whole must pass before it is stored (unique ids, forward targets,
//! every step reachable, loops not nested, the budget). What each step type is and checks of
//! its own fields live with the type, in `crate::steps`.
//!
//! The serde form is both the storage format and the workflow-file format: one flat object per
//! step, `{"id": "notify", "type": "http_request", "url": ..., "continue_on_error": true}`,
//! unknown fields refused.

use std::sync::LazyLock;
use std::time::Duration;

use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::template::{TemplateEngine, TemplateError, join_path};

mod schema;
pub mod target;

pub use crate::steps::http_request::{
    DEFAULT_HTTP_TIMEOUT_MS, MAX_ATTEMPTS, MAX_BACKOFF_MS, MAX_HTTP_TIMEOUT_MS,
};
pub use crate::steps::sns_publish::SNS_PUBLISH_WORST_CASE;
pub use crate::steps::{
    ApprovalStep, BranchCase, BranchStep, CallbackStep, ExpectStatus, FailStep, FilterStep,
    ForEachStep, HttpRequestStep, Notify, RetryPolicy, SnsPublishStep, Span, StatusMatch, Step,
    StopStep, TransformStep, WaitStep, check_literal_url,
};
pub use target::{END, Target};

/// The most steps a workflow holds, counting those inside a `for_each`.
pub const MAX_STEPS: usize = 100;

/// The longest the worker may spend on one execution's steps. It must match the worker
/// Lambda's `Timeout` (minus room for store writes) and stay below `WORKER_LEASE_SECONDS`, or a
/// slow execution is cut off or claimed twice.
pub const WORKER_STEP_BUDGET: Duration = Duration::from_secs(240);

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
    pub(crate) fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    pub(crate) fn template(path: &str, err: TemplateError) -> Self {
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
        if in_loop && matches!(step.action, Step::ForEach(_)) {
            return Err(InvalidDefinition::at(
                format!("{path}.type"),
                "a for_each cannot sit inside another for_each",
            ));
        }
        if in_loop && step.action.waits() {
            return Err(InvalidDefinition::at(
                format!("{path}.type"),
                format!(
                    "a {} step cannot sit inside a for_each (a loop's items run within one delivery); put it before or after the loop",
                    step.action.kind()
                ),
            ));
        }
        step.action.check(engine, &path)?;
        let worst = match &step.action {
            Step::ForEach(each) => {
                let per_item =
                    validate_list(&each.steps, &format!("{path}.steps"), ids, budget, true)?;
                if per_item > budget {
                    return Err(over_budget(&format!("{path}.steps"), per_item, budget));
                }
                per_item
            }
            action => action.worst_case(),
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
        if matches!(step.action, Step::Branch(_) | Step::Stop(_) | Step::Fail(_)) {
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
    for (field, target) in step.action.decision_targets() {
        forward(target, format!("{path}.{field}"))?;
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
        Step::Stop(_) | Step::Fail(_) => {}
        action => {
            out.push(then());
            out.extend(
                action
                    .decision_targets()
                    .into_iter()
                    .map(|(_, target)| target::resolve(steps, target)),
            );
        }
    }
    if let Some(on_error) = &step.on_error {
        out.push(target::resolve(steps, on_error));
    } else if step.continue_on_error
        && matches!(step.action, Step::Fail(_) | Step::Branch(_) | Step::Stop(_))
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
            Step::Fail(FailStep {
                message: "x".into()
            })
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
    fn waiting_steps_load_round_trip_and_refuse_what_cannot_run() {
        let steps = check(json!([
            {"id": "cool_down", "type": "wait", "for": "10m"},
            {"id": "approve", "type": "approval", "timeout": "24h",
             "notify": {"type": "send_email", "to": ["ops@example.com"],
                        "subject": "Deploy {{ trigger.body.ref }}?",
                        "text": "Approve: {{ approval.approveUrl }}"},
             "on_deny": "stop_deploy", "on_timeout": "stop_deploy"},
            {"id": "job", "type": "callback", "timeout": "2h", "next": "end",
             "notify": {"type": "http_request", "url": "https://jobs.example.com/start",
                        "body": {"resume": "{{ callback.url }}"}}},
            {"id": "stop_deploy", "type": "stop"}
        ]))
        .unwrap();
        let text = serde_json::to_value(&steps).unwrap();
        assert_eq!(text[0]["for"], "10m", "kept as written");
        let back: Vec<WorkflowStep> = serde_json::from_value(text).unwrap();
        assert_eq!(back, steps);
        // The decision routes count for reachability: stop_deploy is reached from them only.
        assert!(successors(&steps, 1).contains(&Some(3)));

        let cases = [
            (json!([{"type": "wait"}]), "steps[0].for"),
            (
                json!([{"type": "wait", "for": "1m", "until": "x"}]),
                "steps[0].until",
            ),
            (
                json!([{"type": "wait", "for": "8d"}]),
                "\"8d\" is outside 1s .. 7d",
            ),
            (
                json!([{"type": "approval", "timeout": "0s"}]),
                "\"0s\" is outside",
            ),
            (
                json!([{"id": "a", "type": "approval", "on_deny": "a"}]),
                "steps[0].on_deny",
            ),
            (
                json!([{"id": "a", "type": "approval", "on_timeout": "nope"}]),
                "steps[0].on_timeout",
            ),
            (json!([{"type": "callback"}]), "missing field `notify`"),
            (
                json!([{"type": "approval", "notify": {"type": "sns_publish", "topic_arn": "x"}}]),
                "unknown variant `sns_publish`",
            ),
            (
                json!([{"type": "for_each", "items": "trigger.body.x",
                        "steps": [{"type": "wait", "for": "1m"}]}]),
                "steps[0].steps[0].type",
            ),
        ];
        // Load-time checks name the field's path; what serde refuses (the loader adds the
        // path to those) says what is wrong.
        for (steps, expected) in cases {
            let err = refused(steps.clone());
            assert!(
                err.starts_with(expected) || err.contains(expected),
                "{steps}: {err}"
            );
        }
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
