//! The CLI as scripts use it: every `--json` document is camelCase outside user data, errors
//! are the API's `{"error": {"code", "message"}}`, a closed pipe is not a crash, and workflow
//! files are checked before anything is stored.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use serde_json::Value;

use webhook_trigger::adapters::sqlite::SqliteStore;
use webhook_trigger::ports::Store;
use webhook_trigger::wire::non_camel_case_keys;

const BIN: &str = env!("CARGO_BIN_EXE_webhook-trigger");

/// Paths (JSON pointers, `*` for any segment) that hold what users sent or wrote.
const USER_DATA: &[&str] = &[
    "/payload",
    "/items/*/payload",
    "/trigger/headers",
    "/trigger/query",
    "/samples/*/headers",
    "/trigger/messageAttributes",
    "/items/*/trigger/headers",
    "/items/*/trigger/query",
    "/executions/*/payload",
    "/executions/*/trigger/headers",
    "/executions/*/trigger/query",
    "/result/output",
    "/steps/*/output",
    "/steps/*/request",
    "/steps/*/preview",
    "/steps/*/headers",
    "/steps/*/query",
    "/steps/*/body",
    "/*/steps/*/headers",
    "/*/steps/*/body",
    // A workflow document, spelled as its file is (`workflows check`).
    "/definition",
];

fn run(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(["--store", db.to_str().expect("utf-8 path")])
        .args(args)
        .env_remove("WEBHOOK_STORE")
        .env_remove("WEBHOOK_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cli");
    if let Some(text) = stdin
        && let Some(mut input) = child.stdin.take()
    {
        input.write_all(text.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("cli output")
}

/// Runs with `--json`, expects success, and checks the document's field names.
fn json(db: &Path, args: &[&str]) -> Value {
    json_with_stdin(db, args, None)
}

/// Runs with `--json`, expects a failure, and returns the error document it printed.
fn json_error(db: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = run(db, &all, None);
    assert!(!out.status.success(), "{args:?} succeeded");
    serde_json::from_slice(&out.stderr).expect("json error")
}

fn json_with_stdin(db: &Path, args: &[&str], stdin: Option<&str>) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = run(db, &all, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(
        non_camel_case_keys(&doc, USER_DATA),
        Vec::<String>::new(),
        "{args:?} printed snake_case fields: {doc}"
    );
    doc
}

const SNS_WORKFLOW: &str = r#"
name: Alarms
trigger: amazon_sns
api_key: ops
sns:
  allowed_topic_arns: ["arn:aws:sns:us-east-1:123456789012:alarms"]
steps:
  - id: shape
    type: transform
    output: { alarm: "{{ trigger.body.AlarmName }}" }
"#;

const GENERIC_WORKFLOW: &str = r#"
name: Orders
api_key: ops
steps:
  - id: only_orders
    type: filter
    when: trigger.body.type == "order"
  - id: notify
    type: http_request
    url: https://hooks.example.com/orders
    headers: { Authorization: "Bearer do-not-print", X_Custom: "{{ trigger.body.id }}" }
    timeout_ms: 2000
    retry: { max_attempts: 2 }
    body: { text: "order {{ trigger.body.id }}" }
"#;

/// The app on the same SQLite file the CLI uses.
fn app_on(db: &Path) -> webhook_trigger::app::App {
    let store = SqliteStore::open(db).expect("open");
    let queue = store.queue();
    let shared: Arc<dyn Store> = Arc::new(store);
    webhook_trigger::wiring::app(shared, Arc::new(queue), crate::support::test_config())
}

/// A workflow created with the CLI from `GENERIC_WORKFLOW`, and the value of its key.
fn generic_workflow(dir: &Path, db: &Path) -> (String, String) {
    let key = json(db, &["api-keys", "create", "ops"]);
    let key_value = key["value"].as_str().expect("value").to_owned();
    let file = dir.join("orders.yaml");
    std::fs::write(&file, GENERIC_WORKFLOW).expect("write");
    let created = json(
        db,
        &[
            "workflows",
            "create",
            "--file",
            file.to_str().expect("path"),
        ],
    );
    (created["id"].as_str().expect("id").to_owned(), key_value)
}

/// A workflow created with the CLI from `yaml` on stdin, and the value of its key `ops`.
fn workflow_from_stdin(db: &Path, yaml: &str) -> (String, String) {
    let key = json(db, &["api-keys", "create", "ops"]);
    let key_value = key["value"].as_str().expect("value").to_owned();
    let created = json_with_stdin(db, &["workflows", "create", "--file", "-"], Some(yaml));
    (created["id"].as_str().expect("id").to_owned(), key_value)
}

/// Accepts one webhook through the real router on the same SQLite file the CLI uses.
async fn accept_one(db: &Path, workflow_id: &str, key: &str, body: &str) -> String {
    let router = webhook_trigger::http::router(app_on(db));
    let request = axum::http::Request::post(format!("/webhooks/{workflow_id}"))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .body(axum::body::Body::from(body.to_owned()))
        .expect("request");
    let response = tower::ServiceExt::oneshot(router, request)
        .await
        .expect("router");
    assert_eq!(response.status(), 202);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let accepted: Value = serde_json::from_slice(&bytes).expect("json");
    accepted["executionId"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn every_json_document_is_camel_case_outside_user_data() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let key = json(&db, &["api-keys", "create", "ops"]);
    let key_value = key["value"].as_str().expect("value").to_owned();
    json(&db, &["api-keys", "list"]);

    let sns = json_with_stdin(
        &db,
        &["workflows", "create", "--file", "-"],
        Some(SNS_WORKFLOW),
    );
    let sns_id = sns["id"].as_str().expect("id").to_owned();
    assert_eq!(
        sns["subscriptionUrl"],
        format!("http://127.0.0.1:3000/webhooks/{sns_id}?x-api-key=YOUR_API_KEY")
    );
    assert_eq!(
        sns["sns"]["allowedTopicArns"][0],
        "arn:aws:sns:us-east-1:123456789012:alarms"
    );
    let file = dir.path().join("orders.yaml");
    std::fs::write(&file, GENERIC_WORKFLOW).expect("write");
    let generic = json(
        &db,
        &[
            "workflows",
            "create",
            "--file",
            file.to_str().expect("path"),
        ],
    );
    let id = generic["id"].as_str().expect("id").to_owned();
    assert_eq!(generic["steps"][1]["timeoutMs"], 2000);
    assert_eq!(generic["steps"][1]["retry"]["maxAttempts"], 2);
    assert!(generic.get("subscriptionUrl").is_none());

    let listed = json(&db, &["workflows", "list"]);
    assert!(
        listed
            .as_array()
            .expect("array")
            .iter()
            .all(|w| w["webhookUrl"].is_string()),
        "{listed}"
    );
    json(&db, &["workflows", "show", &id]);
    json(&db, &["workflows", "disable", &id]);
    json(&db, &["workflows", "enable", &id]);
    json(&db, &["workflows", "subscriptions", &sns_id]);

    let execution = accept_one(&db, &id, &key_value, r#"{"type":"order","id":7}"#).await;
    json(&db, &["executions", "list", &id]);
    let shown = json(&db, &["executions", "show", &id, &execution]);
    assert_eq!(shown["trigger"]["headers"]["x-github-event"], "push");
    assert!(!shown.to_string().contains(&key_value));
    let preview = json(
        &db,
        &["workflows", "dry-run", &id, "--execution", &execution],
    );
    assert_eq!(preview["steps"][0]["preview"]["passes"], true);
    let request = &preview["steps"][1]["preview"]["request"];
    assert_eq!(request["body"]["text"], "order 7");
    assert!(!preview.to_string().contains("do-not-print"));

    let updated = json(
        &db,
        &[
            "workflows",
            "update",
            &id,
            "--file",
            file.to_str().expect("path"),
        ],
    );
    assert_eq!(updated["id"], id.as_str(), "an update keeps the id and URL");
    json(&db, &["api-keys", "revoke", "ops"]);
}

#[test]
fn errors_with_json_are_the_apis_error_document_and_exit_non_zero() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let out = run(&db, &["--json", "workflows", "show", "wf_nope"], None);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "errors go to stderr");
    let err: Value = serde_json::from_slice(&out.stderr).expect("json error");
    assert_eq!(err["error"]["code"], "workflow_not_found");
    assert!(err["error"]["message"].is_string());

    let plain = run(&db, &["workflows", "show", "wf_nope"], None);
    assert!(!plain.status.success());
    assert!(String::from_utf8_lossy(&plain.stderr).starts_with("error: "));
}

#[test]
fn a_bad_workflow_file_is_refused_with_the_field_path_and_nothing_is_stored() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    json(&db, &["api-keys", "create", "ops"]);
    let bad = r#"
name: Broken
api_key: ops
steps:
  - id: a
    type: echo
  - id: b
    type: http_request
    url: "ftp://example.com/x"
"#;
    let out = run(
        &db,
        &["--json", "workflows", "create", "--file", "-"],
        Some(bad),
    );
    assert!(!out.status.success());
    let err: Value = serde_json::from_slice(&out.stderr).expect("json error");
    assert_eq!(err["error"]["code"], "invalid_definition");
    let message = err["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("steps[1].url"), "{message}");
    assert_eq!(json(&db, &["workflows", "list"]), Value::Array(vec![]));
}

#[test]
fn workflows_schema_prints_the_checked_in_schema_without_a_store() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("never-created.db");
    let out = run(&db, &["workflows", "schema"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/workflow.schema.json");
    let checked_in = std::fs::read_to_string(path).expect("checked-in schema");
    assert!(
        out.stdout == checked_in.as_bytes(),
        "`workflows schema` is what regenerates schemas/workflow.schema.json"
    );
    assert!(!db.exists(), "no store is opened");
}

#[test]
fn workflows_check_prints_the_check_routes_errors_and_exits_non_zero_on_any() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("never-created.db");
    let ok = run(
        &db,
        &["workflows", "check", "--file", "-"],
        Some(GENERIC_WORKFLOW),
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let doc = json_with_stdin(
        &db,
        &["workflows", "check", "--file", "-"],
        Some(GENERIC_WORKFLOW),
    );
    assert_eq!(doc["errors"], serde_json::json!([]));
    assert_eq!(doc["definition"]["steps"][1]["id"], "notify");
    assert!(
        doc["yaml"]
            .as_str()
            .is_some_and(|y| y.contains("only_orders"))
    );

    let bad = "name: Broken\napi_key: ops\nsteps:\n  - type: filter\n    when: \"{{ x }}\"\n  - type: http_request\n    url: ftp://x\n";
    let plain = run(&db, &["workflows", "check", "--file", "-"], Some(bad));
    assert_eq!(plain.status.code(), Some(1));
    let text = String::from_utf8_lossy(&plain.stdout);
    assert!(text.starts_with("steps[0].when: "), "{text}");
    let out = run(
        &db,
        &["--json", "workflows", "check", "--file", "-"],
        Some(bad),
    );
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("the check document");
    assert_eq!(doc["errors"][0]["path"], "steps[0].when");
    assert_eq!(
        (&doc["definition"], &doc["yaml"]),
        (&Value::Null, &Value::Null)
    );
    assert!(
        out.stderr.is_empty(),
        "the errors are the output, not a failure of the command"
    );
    assert!(!db.exists(), "no store is opened");
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    json(&db, &["api-keys", "create", "ops"]);
    for n in 0..40 {
        let name = format!("workflow {n}");
        json(
            &db,
            &["workflows", "create", "--name", &name, "--api-key", "ops"],
        );
    }
    let mut child = Command::new(BIN)
        .args([
            "--store",
            db.to_str().expect("path"),
            "--json",
            "workflows",
            "list",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // What `| head -c 0` does: the reader goes away before the writer is done.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

/// `admin-keys`: the value is printed once at creation, listings show the prefix only, and a
/// revoked key stays listed as revoked.
#[test]
fn admin_keys_are_created_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wt.db");
    let created = json(&db, &["admin-keys", "create", "ops"]);
    let value = created["value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("wha_"), "{value}");
    assert!(non_camel_case_keys(&created, &[]).is_empty());
    let listed = json(&db, &["admin-keys", "list"]);
    assert_eq!(listed[0]["name"], "ops");
    assert_eq!(listed[0]["prefix"], &value[..8]);
    assert!(!listed.to_string().contains(&value));
    // An admin key is not an API key: it is not in that listing.
    assert_eq!(json(&db, &["api-keys", "list"]), Value::Array(vec![]));
    let revoked = json(&db, &["admin-keys", "revoke", "ops"]);
    assert!(revoked["revokedAt"].is_string());
    let again = run(&db, &["--json", "admin-keys", "create", "ops"], None);
    assert!(!again.status.success(), "the name stays taken");
}

const ROUTER_WORKFLOW: &str = r#"
name: Alarm router
api_key: ops
steps:
  - id: route
    type: branch
    cases:
      - when: trigger.body.severity == "critical"
        next: page
      - when: trigger.body.alerts is defined
        next: chat
    default: ignore
  - id: page
    type: transform
    output: { paged: true }
    next: end
  - id: chat
    type: for_each
    items: trigger.body.alerts
    as: alert
    continue_on_error: true
    next: end
    steps:
      - id: check
        type: branch
        cases: [{ when: alert.bad, next: boom }]
        default: post
      - id: boom
        type: fail
        message: a bad alert
      - id: post
        type: transform
        output: { text: "{{ alert.name }}" }
  - id: ignore
    type: stop
"#;

/// Runs what is queued in the SQLite file `db` with the local worker, as `serve` would.
async fn run_queued(db: &Path) {
    use webhook_trigger::adapters::sqlite::worker_loop::{self, LocalWorkerConfig};
    let store = SqliteStore::open(db).expect("open");
    let queue = store.queue();
    let worker = crate::support::test_worker(Arc::new(store), chrono::Duration::minutes(5));
    let config = LocalWorkerConfig::default();
    while worker_loop::drain_once(&worker, &queue, &config).await > 0 {}
}

#[tokio::test]
async fn executions_show_prints_the_path_the_branchs_case_and_the_loops_items() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let (id, key_value) = workflow_from_stdin(&db, ROUTER_WORKFLOW);
    let body = r#"{"alerts": [{"name": "a0"}, {"name": "a1", "bad": true}, {"name": "a2"}]}"#;
    let execution = accept_one(&db, &id, &key_value, body).await;
    run_queued(&db).await;

    // --json: the API's document, plan included.
    let shown = json(&db, &["executions", "show", &id, &execution]);
    assert_eq!(shown["status"], "succeeded", "{shown}");
    let plan: Vec<(&str, &str)> = shown["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or(""),
                p["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        plan,
        [
            ("route", "succeeded"),
            ("page", "skipped"),
            ("chat", "succeeded"),
            ("ignore", "skipped")
        ]
    );

    // For people: the path, what it skipped, the case the branch matched, the items by status.
    let text = run(&db, &["executions", "show", &id, &execution], None);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    for line in [
        "  path:      route → chat\n",
        "  skipped:   page, ignore\n",
        "    matched: case 1 → chat\n",
        "    items:   3 items: 2 succeeded, 1 failed\n",
    ] {
        assert!(text.contains(line), "{line:?} missing in:\n{text}");
    }
    assert!(!text.contains("pending"), "{text}");

    // --items STEP: a page of items, the API's document with --json.
    let page = json(
        &db,
        &[
            "executions",
            "show",
            &id,
            &execution,
            "--items",
            "chat",
            "--limit",
            "2",
        ],
    );
    let indexes: Vec<u64> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["index"].as_u64())
        .collect();
    assert_eq!(indexes, [0, 1]);
    assert_eq!(page["nextAfter"], 1);
    assert_eq!(page["items"][1]["status"], "failed");
    assert_eq!(page["items"][1]["steps"][1]["path"], "chat[1].boom");
    let rest = run(
        &db,
        &[
            "executions",
            "show",
            &id,
            &execution,
            "--items",
            "chat",
            "--after",
            "1",
        ],
        None,
    );
    assert!(rest.status.success());
    let rest = String::from_utf8_lossy(&rest.stdout).into_owned();
    assert!(rest.contains("  item 2 (succeeded)\n"), "{rest}");
    assert!(
        rest.contains("    step chat[2].post (transform): succeeded"),
        "{rest}"
    );
    assert!(
        !rest.contains("item 1 ") && !rest.contains("More:"),
        "{rest}"
    );
    let first = run(
        &db,
        &[
            "executions",
            "show",
            &id,
            &execution,
            "--items",
            "chat",
            "--limit",
            "1",
        ],
        None,
    );
    let first = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(first.contains("More: --after 0\n"), "{first}");

    // Not a loop, or bad paging: the API's errors.
    let err = json_error(
        &db,
        &["executions", "show", &id, &execution, "--items", "route"],
    );
    assert_eq!(err["error"]["code"], "step_not_found");
    let err = json_error(
        &db,
        &[
            "executions",
            "show",
            &id,
            &execution,
            "--items",
            "chat",
            "--limit",
            "0",
        ],
    );
    assert_eq!(err["error"]["code"], "invalid_request");
    // --after and --limit only page items.
    let out = run(
        &db,
        &["executions", "show", &id, &execution, "--after", "1"],
        None,
    );
    assert!(!out.status.success());
}

const FAILING_WORKFLOW: &str = r#"
name: Alerts
api_key: ops
steps:
  - id: boom
    type: fail
    message: a bad alert
"#;

#[tokio::test]
async fn executions_are_searched_replayed_in_bulk_and_test_run_from_the_cli() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let (id, key) = workflow_from_stdin(&db, FAILING_WORKFLOW);
    accept_one(&db, &id, &key, r#"{"alert": "disk"}"#).await;
    accept_one(&db, &id, &key, r#"{"alert": "cpu"}"#).await;
    run_queued(&db).await;

    let found = json(
        &db,
        &[
            "executions",
            "list",
            "--workflow-name",
            "ALERTS",
            "--q",
            "disk",
        ],
    );
    assert_eq!(
        found["executions"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );
    assert_eq!(found["executions"][0]["workflowName"], "Alerts");
    let page = json(&db, &["executions", "list", &id, "--q", "body.alert=cpu"]);
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["items"][0]["payload"]["alert"], "cpu");

    let counted = json(
        &db,
        &[
            "executions",
            "replay",
            &id,
            "--status",
            "failed",
            "--count-only",
        ],
    );
    assert_eq!(counted["matched"], 2);
    assert_eq!(counted["executionIds"], serde_json::json!([]));
    let err = json_error(
        &db,
        &[
            "executions",
            "replay",
            &id,
            "--status",
            "failed",
            "--max",
            "101",
        ],
    );
    assert_eq!(err["error"]["code"], "invalid_request");
    let replayed = json(
        &db,
        &[
            "executions",
            "replay",
            &id,
            "--status",
            "failed",
            "--max",
            "1",
            "--version",
            "original",
        ],
    );
    assert_eq!(replayed["executionIds"].as_array().map(Vec::len), Some(1));

    let run_out = json(&db, &["workflows", "test-run", &id]);
    assert_eq!(run_out["test"], true);
    let text = run(&db, &["executions", "list", &id], None);
    let text = String::from_utf8_lossy(&text.stdout);
    let test_id = run_out["executionId"].as_str().expect("id");
    let line = text
        .lines()
        .find(|l| l.starts_with(test_id))
        .unwrap_or_else(|| panic!("{test_id} not listed: {text}"));
    assert!(line.ends_with("  test"), "{line}");
    let shown = run(&db, &["executions", "show", &id, test_id], None);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("test:      yes"),
        "{}",
        String::from_utf8_lossy(&shown.stdout)
    );
}

/// `workflows refusals ID`: the samples the router kept, secrets redacted, and a sender's
/// control characters printed escaped, never raw to the terminal.
#[tokio::test]
async fn workflows_refusals_prints_the_samples_escaped_and_redacted() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let (id, key_value) = generic_workflow(dir.path(), &db);
    let app = app_on(&db);
    let request = axum::http::Request::post(format!("/webhooks/{id}"))
        .header("x-api-key", &key_value)
        .header("content-type", "application/json")
        .body(axum::body::Body::from("\u{1b}[31mnot json"))
        .expect("request");
    let response = tower::ServiceExt::oneshot(webhook_trigger::http::router(app.clone()), request)
        .await
        .expect("router");
    assert_eq!(response.status(), 400);
    app.flush_rejections().await;

    let listed = json(&db, &["workflows", "refusals", &id]);
    assert_eq!(listed["samples"][0]["code"], "invalid_json", "{listed}");
    assert_eq!(listed["samples"][0]["headers"]["x-api-key"], "[redacted]");
    let out = run(&db, &["workflows", "refusals", &id], None);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("400 invalid_json"), "{text}");
    assert!(text.contains(r#"x-api-key: "[redacted]""#), "{text}");
    assert!(text.contains(r"\u{1b}[31mnot json"), "escaped: {text}");
    assert!(
        !text.contains('\u{1b}') && !text.contains(&key_value),
        "{text}"
    );
}
