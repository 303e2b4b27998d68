//! The editor's and test bench's routes on both backends: the public JSON Schema of the
//! workflow file, `POST /admin/workflows/check` (the loader's refusals with their field, the
//! normalized document in JSON and YAML, nothing stored), and `POST
//! /admin/workflows/{id}/dry-run` of the saved version or a draft against a stored execution
//! (this workflow's or another's) or a typed input, which sends nothing: the loopback
//! receiver its steps name never gets a request.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::admin::admin_key;
use crate::support::{self, Response, TestApp, assert_error};
use support::target::Target;

macro_rules! workflow_tools_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            workflow_tools_for!(@each $make;
                the_schema_is_public_and_the_checked_in_file,
                a_check_answers_the_loaders_refusals_and_stores_nothing,
                a_dry_run_renders_drafts_and_inputs_and_sends_nothing,
            );
        }
    };
    (@each $make:path; $($flow:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $flow() {
                super::$flow($make(support::test_config()).await).await;
            }
        )*
    };
}

workflow_tools_for!(sqlite, support::sqlite_app);
workflow_tools_for!(dynamodb, support::dynamodb_app);

async fn post(t: &TestApp, uri: &str, key: &str, content_type: &str, body: String) -> Response {
    let request = Request::post(uri)
        .header("x-admin-key", key)
        .header("content-type", content_type)
        .body(Body::from(body))
        .expect("request");
    t.send(request).await
}

async fn check_json(t: &TestApp, key: &str, doc: Value) -> Response {
    post(
        t,
        "/admin/workflows/check",
        key,
        "application/json",
        doc.to_string(),
    )
    .await
}

/// `Value::Null` sends no body at all.
async fn dry_run(t: &TestApp, key: &str, workflow_id: &str, body: Value) -> Response {
    let uri = format!("/admin/workflows/{workflow_id}/dry-run");
    let text = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    post(t, &uri, key, "application/json", text).await
}

async fn the_schema_is_public_and_the_checked_in_file(t: TestApp) {
    let response = t
        .send(
            Request::get("/schemas/workflow.json")
                .body(Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        response.headers["content-type"], "application/schema+json",
        "editors fetch it as a schema"
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/workflow.schema.json");
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("checked-in schema"))
            .expect("JSON");
    assert_eq!(response.body, file);
    assert_eq!(
        response.body["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}

async fn a_check_answers_the_loaders_refusals_and_stores_nothing(t: TestApp) {
    let key = admin_key(&t).await;
    let before = t.app.list_workflows().await.expect("list").len();

    let doc = json!({"name": "orders", "api_key": "partner-a", "steps": [
        {"type": "filter", "when": "trigger.body.ok"},
        {"id": "notify", "type": "http_request", "url": "https://example.com/h", "timeout_ms": 10000}]});
    let response = check_json(&t, &key, doc).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(response.body["errors"], json!([]));
    let definition = &response.body["definition"];
    assert_eq!(
        definition["steps"][0]["id"], "step1",
        "ids numbered: {definition}"
    );
    let yaml = response.body["yaml"].as_str().expect("yaml").to_owned();
    // The YAML view reads back to the same definition, as the console's code view relies on.
    let again = post(
        &t,
        "/admin/workflows/check",
        &key,
        "application/yaml",
        yaml.clone(),
    )
    .await;
    assert_eq!(again.body["errors"], json!([]), "{}", again.body);
    assert_eq!(&again.body["definition"], definition);
    assert_eq!(again.body["yaml"], yaml.as_str());

    let response = check_json(
        &t,
        &key,
        json!({"name": "x", "api_key": "k", "steps": [
        {"type": "echo"}, {"type": "http_request", "url": "ftp://x"}]}),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.body["errors"][0]["path"], "steps[1].url");
    assert_eq!(
        (&response.body["definition"], &response.body["yaml"]),
        (&Value::Null, &Value::Null)
    );

    let typo = "name: x\napi_key: k\nsteps:\n  - type: filter\n    when: trigger.body.ok ==\n";
    let response = post(
        &t,
        "/admin/workflows/check",
        &key,
        "application/yaml",
        typo.into(),
    )
    .await;
    let error = &response.body["errors"][0];
    assert_eq!(error["path"], "steps[0].when", "{}", response.body);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("(at column ")),
        "{error}"
    );
    let response = post(
        &t,
        "/admin/workflows/check",
        &key,
        "application/yaml",
        "name: x\napi_key: k\ncolour: red\n".into(),
    )
    .await;
    assert_eq!(response.body["errors"][0]["line"], 3, "{}", response.body);

    let response = post(
        &t,
        "/admin/workflows/check",
        &key,
        "text/xml",
        "<x/>".into(),
    )
    .await;
    assert_error(
        &response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert_eq!(t.app.list_workflows().await.expect("list").len(), before);
}

async fn a_dry_run_renders_drafts_and_inputs_and_sends_nothing(t: TestApp) {
    let key = admin_key(&t).await;
    let receiver = Target::ok().await;
    let (workflow, _) = t
        .workflow_from_steps(json!([
            {"id": "notify", "type": "http_request", "url": receiver.url("/hook"),
             "body": {"name": "{{ trigger.body.name }}", "env": "{{ trigger.headers['x-env'] | default('none') }}"}}
        ]))
        .await;
    let id = workflow.id.as_str();

    let response = dry_run(&t, &key, id, Value::Null).await;
    assert_error(&response, StatusCode::UNPROCESSABLE_ENTITY, "no_input");

    let typed = json!({"input": {"body": {"name": "typed"}, "headers": {"X-Env": "prod"},
                                  "query": {"q": "1"}}});
    let response = dry_run(&t, &key, id, typed).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(response.body["source"], "input");
    assert!(response.body.get("executionId").is_none());
    assert_eq!(response.body["input"]["headers"]["x-env"], "prod");
    assert_eq!(response.body["input"]["query"]["q"], "1");
    let step = &response.body["steps"][0];
    assert_eq!(
        (&step["id"], &step["type"]),
        (&json!("notify"), &json!("http_request"))
    );
    assert_eq!(
        step["preview"]["request"]["body"],
        json!({"name": "typed", "env": "prod"})
    );

    // Another workflow's execution as the input: the latest by default, or the one named.
    let (other, other_key) = t.workflow_from_steps(json!([{"type": "echo"}])).await;
    let first = t
        .post_webhook(other.id.as_str(), Some(&other_key), r#"{"name": "first"}"#)
        .await
        .execution_id();
    let latest = t
        .post_webhook(other.id.as_str(), Some(&other_key), r#"{"name": "latest"}"#)
        .await
        .execution_id();
    let response = dry_run(
        &t,
        &key,
        id,
        json!({"executionWorkflowId": other.id.as_str()}),
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(response.body["source"], "execution");
    assert_eq!(response.body["executionId"], latest.as_str());
    assert_eq!(
        response.body["steps"][0]["preview"]["request"]["body"]["name"],
        "latest"
    );
    let named = json!({"executionWorkflowId": other.id.as_str(), "executionId": first});
    let response = dry_run(&t, &key, id, named).await;
    assert_eq!(
        response.body["steps"][0]["preview"]["request"]["body"]["name"], "first",
        "{}",
        response.body
    );

    // A draft is rendered, not saved.
    let draft = json!({"definition": {"name": "draft", "api_key": workflow.api_key_name.as_str(),
        "steps": [{"id": "notify", "type": "http_request", "url": receiver.url("/hook"),
                   "body": {"draft": "{{ trigger.body.name }}"}},
                  {"id": "after", "type": "filter", "when": "trigger.body.name == 'typed'"}]},
        "input": {"body": {"name": "typed"}}});
    let response = dry_run(&t, &key, id, draft).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(
        response.body["steps"][0]["preview"]["request"]["body"],
        json!({"draft": "typed"})
    );
    assert_eq!(response.body["steps"][1]["preview"]["passes"], true);
    let saved = t.app.workflow(id).await.expect("workflow");
    assert_eq!(
        (saved.version, saved.steps.len()),
        (1, 1),
        "the draft is not saved"
    );

    let bad = json!({"definition": {"name": "draft", "api_key": "k",
        "steps": [{"type": "http_request", "url": "ftp://x"}]}});
    let response = dry_run(&t, &key, id, bad).await;
    assert_error(&response, StatusCode::BAD_REQUEST, "invalid_definition");
    assert_eq!(
        response.body["error"]["details"][0]["path"], "steps[0].url",
        "{}",
        response.body
    );

    let both = json!({"executionId": latest, "input": {"body": {}}});
    let response = dry_run(&t, &key, id, both).await;
    assert_error(&response, StatusCode::BAD_REQUEST, "invalid_request");
    let response = dry_run(&t, &key, id, json!({"executionId": latest})).await;
    assert_error(&response, StatusCode::NOT_FOUND, "execution_not_found");
    let response = dry_run(&t, &key, id, json!({"colour": 1})).await;
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "{}",
        response.body
    );
    let response = dry_run(&t, &key, "nope", Value::Null).await;
    assert_error(&response, StatusCode::NOT_FOUND, "workflow_not_found");

    assert_eq!(receiver.count(), 0, "a dry-run sends nothing");
}
