//! The checked-in JSON Schema of the workflow file (schemas/workflow.schema.json) against an
//! independent validator, PyPI's `jsonschema` (pinned in the Makefile's venv): it is a valid
//! 2020-12 schema, it accepts every file in examples/, and it refuses the structural
//! load-time refusals the loader makes, each of which the loader refuses too. What only the
//! loader can refuse (it needs the whole document) is listed, and shown to pass the schema:
//! `POST /admin/workflows/check` reports those.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use webhook_trigger::domain::WorkflowFile;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What the validator says of each document: the messages of its errors, empty when valid.
fn validate(docs: &[(String, Value)]) -> Vec<(String, Vec<String>)> {
    let python = Path::new(ROOT).join(".venv/bin/python");
    let script = r#"
import json, sys
import jsonschema
from jsonschema import Draft202012Validator
request = json.load(sys.stdin)
Draft202012Validator.check_schema(request["schema"])
validator = Draft202012Validator(request["schema"])
out = [[name, [e.message for e in validator.iter_errors(doc)]] for name, doc in request["docs"]]
json.dump(out, sys.stdout)
"#;
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(ROOT).join("schemas/workflow.schema.json"))
            .expect("schemas/workflow.schema.json"),
    )
    .expect("the schema is JSON");
    let request = json!({"schema": schema, "docs": docs});
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{} cannot run ({e}): run `make venv` (it installs the pinned jsonschema)",
                python.display()
            )
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write the request");
    let output = child.wait_with_output().expect("validator output");
    assert!(
        output.status.success(),
        "the validator failed (is jsonschema installed? run `make venv`): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the validator's answer")
}

fn examples() -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("examples")).expect("examples/") {
        let path = entry.expect("entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name.filter(|n| n.ends_with(".yaml") || n.ends_with(".json")) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).expect("example");
        WorkflowFile::parse(&text).unwrap_or_else(|e| panic!("{name} does not load: {e}"));
        // The validator gets the document as data; the YAML is read here, as editors do.
        let doc: Value = serde_norway::from_str(&text).expect("YAML");
        docs.push((name, doc));
    }
    assert!(docs.len() >= 7, "examples/ has the README's examples");
    docs
}

fn file(steps: Value) -> Value {
    json!({"name": "n", "api_key": "k", "steps": steps})
}

fn with(extra: Value) -> Value {
    let mut doc = json!({"name": "n", "api_key": "k"});
    if let (Some(doc), Some(extra)) = (doc.as_object_mut(), extra.as_object()) {
        doc.extend(extra.clone());
    }
    doc
}

fn http(extra: Value) -> Value {
    let mut step = json!({"type": "http_request", "url": "https://example.com/h"});
    if let (Some(step), Some(extra)) = (step.as_object_mut(), extra.as_object()) {
        step.extend(extra.clone());
    }
    file(json!([step]))
}

/// The structural refusals of the loader: each is refused by the schema too.
fn structural_refusals() -> Vec<(&'static str, Value)> {
    vec![
        ("unknown top-level field", with(json!({"colour": "red"}))),
        (
            "unknown field in a step",
            http(json!({"urll": "https://x"})),
        ),
        (
            "unknown field in an echo",
            file(json!([{"type": "echo", "x": 1}])),
        ),
        ("unknown field in sns", with(json!({"sns": {"topics": []}}))),
        (
            "unknown field in retry",
            http(json!({"retry": {"colour": 1}})),
        ),
        ("unknown step type", file(json!([{"type": "teleport"}]))),
        ("a step without a type", file(json!([{"id": "a"}]))),
        ("wrong type: name", json!({"name": 3, "api_key": "k"})),
        ("wrong type: steps", with(json!({"steps": "echo"}))),
        (
            "wrong type: timeout_ms",
            http(json!({"timeout_ms": "fast"})),
        ),
        (
            "wrong type: continue_on_error",
            file(json!([{"type": "echo", "continue_on_error": "yes"}])),
        ),
        (
            "wrong type: next",
            file(json!([{"type": "echo", "next": 3}])),
        ),
        ("missing required: api_key", json!({"name": "n"})),
        (
            "missing required: url",
            file(json!([{"type": "http_request"}])),
        ),
        (
            "missing required: a branch's default",
            file(json!([{"type": "branch", "cases": [{"when": "true", "next": "end"}]}])),
        ),
        (
            "missing required: a callback's notify",
            file(json!([{"type": "callback"}])),
        ),
        (
            "bad enum: trigger",
            with(json!({"trigger": "carrier_pigeon"})),
        ),
        ("bad enum: auth", with(json!({"auth": "password"}))),
        (
            "bad enum: verify.scheme",
            with(json!({"verify": {"scheme": "paypal"}})),
        ),
        ("bad enum: method", http(json!({"method": "BREW"}))),
        (
            "bad enum: a notify's type",
            file(
                json!([{"type": "approval", "notify": {"type": "sns_publish", "topic_arn": "x"}}]),
            ),
        ),
        (
            "out of range: timeout_ms",
            http(json!({"timeout_ms": 30001})),
        ),
        (
            "out of range: retry.max_attempts",
            http(json!({"retry": {"max_attempts": 11}})),
        ),
        (
            "out of range: retry.max_backoff_ms",
            http(json!({"retry": {"max_backoff_ms": 60001}})),
        ),
        (
            "out of range: expect_status",
            http(json!({"expect_status": 700})),
        ),
        (
            "bad form: expect_status",
            http(json!({"expect_status": "2yy"})),
        ),
        ("empty: expect_status", http(json!({"expect_status": []}))),
        (
            "out of range: max_items",
            file(
                json!([{"type": "for_each", "items": "x", "max_items": 1001, "steps": [{"type": "echo"}]}]),
            ),
        ),
        (
            "out of range: concurrency",
            file(
                json!([{"type": "for_each", "items": "x", "concurrency": 0, "steps": [{"type": "echo"}]}]),
            ),
        ),
        (
            "empty: a loop's steps",
            file(json!([{"type": "for_each", "items": "x", "steps": []}])),
        ),
        (
            "empty: a branch's cases",
            file(json!([{"type": "branch", "cases": [], "default": "end"}])),
        ),
        (
            "out of range: verify.tolerance_seconds",
            with(json!({"verify": {"scheme": "stripe", "tolerance_seconds": 0}})),
        ),
        (
            "bad form: a wait's duration",
            file(json!([{"type": "wait", "for": "10 minutes"}])),
        ),
        (
            "bad form: a step id",
            file(json!([{"id": "has space", "type": "echo"}])),
        ),
        (
            "bad form: api_key",
            json!({"name": "n", "api_key": "bad key!"}),
        ),
        ("empty: name", json!({"name": "", "api_key": "k"})),
    ]
}

/// What the loader alone refuses: it needs the whole document (which ids exist, which steps
/// a path reaches), the template language, or a range the schema does not spell. The check
/// route reports these with their field.
fn loader_only_refusals() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "a target that names no step",
            "steps[0].next",
            file(json!([{"id": "a", "type": "echo", "next": "nope"}])),
        ),
        (
            "a target that points back",
            "steps[1].next",
            file(json!([{"id": "a", "type": "echo"}, {"id": "b", "type": "echo", "next": "a"}])),
        ),
        (
            "a step no path reaches",
            "steps[1]",
            file(json!([{"id": "a", "type": "stop"}, {"id": "b", "type": "echo"}])),
        ),
        (
            "duplicate ids",
            "steps[1].id",
            file(json!([{"id": "a", "type": "echo"}, {"id": "a", "type": "echo"}])),
        ),
        (
            "the id `end`",
            "steps[0].id",
            file(json!([{"id": "end", "type": "echo"}])),
        ),
        (
            "a template that does not parse",
            "steps[0].output.a",
            file(json!([{"type": "transform", "output": {"a": "{{ x. }}"}}])),
        ),
        (
            "an expression in {{ }} where a bare one goes",
            "steps[0].when",
            file(json!([{"type": "filter", "when": "{{ x }}"}])),
        ),
        (
            "a literal URL that is not http(s)",
            "steps[0].url",
            http(json!({"url": "ftp://x"})),
        ),
        (
            "a wait over 7 days",
            "steps[0]",
            file(json!([{"type": "wait", "for": "8d"}])),
        ),
        (
            "a wait inside a loop",
            "steps[0].steps[0].type",
            file(
                json!([{"type": "for_each", "items": "x", "steps": [{"type": "wait", "for": "1m"}]}]),
            ),
        ),
        (
            "options of the other trigger",
            "sns",
            with(json!({"sns": {"require_signature_v2": true}})),
        ),
        (
            "auth: signature without verify",
            "verify",
            with(json!({"auth": "signature"})),
        ),
    ]
}

/// Spellings the loader takes beyond the examples' own: the schema must take them too.
fn other_accepted_spellings() -> Vec<(&'static str, Value)> {
    vec![
        ("a method in lower case", http(json!({"method": "put"}))),
        (
            "expect_status as a list",
            http(json!({"expect_status": [200, "3xx", "204"]})),
        ),
        (
            "expect_status as one code",
            http(json!({"expect_status": 201})),
        ),
        (
            "every field of a step",
            http(json!({"id": "call", "continue_on_error": true,
            "headers": {"X-A": "{{ trigger.body.a }}"}, "query": {"q": "1"}, "body": [1, "x"],
            "timeout_ms": 30000, "follow_redirects": true, "next": "end",
            "retry": {"max_attempts": 2, "initial_backoff_ms": 1, "max_backoff_ms": 60000}})),
        ),
        (
            "a wait until a time",
            file(json!([{"type": "wait", "until": "{{ trigger.body.at }}"}])),
        ),
        (
            "an approval by email with its routes",
            file(json!([
            {"id": "ask", "type": "approval", "timeout": "7d", "on_deny": "end", "on_timeout": "end",
             "notify": {"type": "send_email", "to": ["ops@example.com"], "subject": "ok?", "text": "{{ approval.approveUrl }}"}}])),
        ),
        (
            "a custom hmac verify",
            with(json!({"auth": "both", "verify": {"scheme": "hmac",
            "header": "X-Sig", "algorithm": "sha512", "encoding": "base64", "prefix": "v1=",
            "timestamp_header": "X-Ts", "signed_content": "{timestamp}.{body}", "tolerance_seconds": 60}})),
        ),
        (
            "an amazon_sns trigger with options",
            with(json!({"trigger": "amazon_sns",
            "sns": {"allowed_topic_arns": ["arn:aws:sns:us-east-1:123456789012:t"], "require_signature_v2": true}})),
        ),
    ]
}

#[test]
fn the_schema_accepts_every_example_by_an_independent_validator() {
    let mut docs = examples();
    for (name, doc) in other_accepted_spellings() {
        WorkflowFile::from_value(doc.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        docs.push((name.to_owned(), doc));
    }
    for (name, errors) in validate(&docs) {
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
}

#[test]
fn the_schema_refuses_every_structural_refusal_of_the_loader() {
    let cases = structural_refusals();
    for (name, doc) in &cases {
        assert!(
            WorkflowFile::from_value(doc.clone()).is_err(),
            "the loader takes {name}: {doc}"
        );
    }
    let docs: Vec<(String, Value)> = cases
        .into_iter()
        .map(|(name, doc)| (name.to_owned(), doc))
        .collect();
    for (name, errors) in validate(&docs) {
        assert!(!errors.is_empty(), "the schema takes {name}");
    }
}

#[test]
fn what_only_the_loader_refuses_passes_the_schema_and_is_refused_with_its_field() {
    let cases = loader_only_refusals();
    let mut docs = Vec::new();
    for (name, path, doc) in cases {
        let err =
            WorkflowFile::from_value(doc.clone()).expect_err(&format!("the loader takes {name}"));
        assert_eq!(err.path, path, "{name}: {err}");
        docs.push((name.to_owned(), doc));
    }
    for (name, errors) in validate(&docs) {
        assert!(
            errors.is_empty(),
            "{name} is refused by the schema too: move it to the structural list ({errors:?})"
        );
    }
}
