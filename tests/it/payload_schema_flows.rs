//! A workflow's `payload_schema` end to end on both backends: saved and shown through the
//! admin API (a GET's `definition` PUT back as it is), an unusable schema refused at save with
//! its path, a body that does not match refused with `422 payload_invalid` and its JSON
//! pointers before anything is stored or queued (and counted as that refusal), a matching one
//! accepted, and a new version's schema in force for the next request.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{self, Response, TestApp, assert_error};
use webhook_trigger::config::Config;

macro_rules! payload_schema_flows_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            payload_schema_flows_for!(@each $make;
                a_schema_is_saved_shown_and_put_back_as_it_is,
                an_unusable_schema_is_refused_at_save_with_its_path,
                a_body_that_does_not_match_is_refused_with_pointers_and_nothing_is_stored,
                a_new_version_with_another_schema_is_in_force_at_once,
                a_dry_run_says_whether_its_input_would_be_refused,
            );
        }
    };
    (@each $make:path; $($flow:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $flow() {
                super::$flow($make(config()).await).await;
            }
        )*
    };
}

payload_schema_flows_for!(sqlite, support::sqlite_app);
payload_schema_flows_for!(dynamodb, support::dynamodb_app);

/// Caches on (as in production), so the flows see the compiled schema kept between requests;
/// refusals written at every flush the test asks for.
fn config() -> Config {
    Config {
        cache_ttl: std::time::Duration::from_secs(600),
        ..support::test_config()
    }
}

fn alert_schema() -> Value {
    json!({
        "type": "object",
        "required": ["source", "alerts"],
        "properties": {
            "source": {"type": "string"},
            "alerts": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["name", "severity"],
                    "properties": {
                        "name": {"type": "string"},
                        "severity": {"enum": ["info", "warning", "critical"]},
                        "at": {"type": "string", "format": "date-time"}
                    }
                }
            }
        }
    })
}

/// `admin::admin_send` with a JSON body.
async fn admin_send(
    t: &TestApp,
    method: &str,
    uri: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Response {
    let mut with_type = vec![("content-type", "application/json")];
    with_type.extend_from_slice(headers);
    crate::admin::admin_send(t, method, uri, key, &with_type, &body.to_string()).await
}

/// An admin key, an API key and a workflow created through `POST /admin/workflows` with
/// `schema`; returns (admin key, API key value, the answer's workflow view).
async fn workflow_with_schema(t: &TestApp, schema: Value) -> (String, String, Value) {
    let admin = crate::admin::admin_key(t).await;
    let name = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
    let api_key = t.app.create_api_key(&name).await.expect("key");
    let document = json!({
        "name": "alerts",
        "api_key": name,
        "payload_schema": schema,
        "steps": [{"type": "echo"}]
    });
    let r = admin_send(t, "POST", "/admin/workflows", &admin, &[], &document).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (admin, api_key.secret.expose().to_owned(), r.body)
}

/// `PUT /admin/workflows/{id}` of `definition` over version `version`, which must succeed;
/// the saved workflow's view.
async fn save_over(t: &TestApp, admin: &str, id: &str, version: u32, definition: &Value) -> Value {
    let uri = format!("/admin/workflows/{id}");
    let if_match = format!("\"{version}\"");
    let put = admin_send(
        t,
        "PUT",
        &uri,
        admin,
        &[("if-match", &if_match)],
        definition,
    )
    .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    put.body
}

async fn executions(t: &TestApp, workflow_id: &str, key: &str) -> Vec<Value> {
    let r = t
        .get(&format!("/workflows/{workflow_id}/executions"), Some(key))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().cloned().unwrap_or_default()
}

async fn a_schema_is_saved_shown_and_put_back_as_it_is(t: TestApp) {
    let (admin, _, created) = workflow_with_schema(&t, alert_schema()).await;
    let id = created["id"].as_str().expect("id");
    assert_eq!(created["definition"]["payload_schema"], alert_schema());

    let uri = format!("/admin/workflows/{id}");
    let shown = admin_send(&t, "GET", &uri, &admin, &[], &Value::Null).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let definition = shown.body["definition"].clone();
    assert_eq!(definition["payload_schema"], alert_schema());

    let put = save_over(&t, &admin, id, 1, &definition).await;
    assert_eq!(put["version"], 2);
    assert_eq!(
        put["definition"], definition,
        "the round trip changes nothing"
    );
    let v1 = admin_send(
        &t,
        "GET",
        &format!("{uri}/versions/1"),
        &admin,
        &[],
        &Value::Null,
    )
    .await;
    assert_eq!(
        v1.body["definition"]["payload_schema"],
        alert_schema(),
        "{}",
        v1.body
    );

    // Without the field, a replace drops the schema.
    let mut without = definition.clone();
    without
        .as_object_mut()
        .expect("object")
        .remove("payload_schema");
    let put = save_over(&t, &admin, id, 2, &without).await;
    assert!(put["definition"].get("payload_schema").is_none(), "{put}");
}

async fn an_unusable_schema_is_refused_at_save_with_its_path(t: TestApp) {
    let admin = crate::admin::admin_key(&t).await;
    let name = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
    t.app.create_api_key(&name).await.expect("key");
    // The $ref's host is a listener on loopback that must never see a connection.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let remote = format!(
        "http://{}/schema.json",
        listener.local_addr().expect("addr")
    );
    for schema in [
        json!({"type": "strng"}),
        json!({"$ref": remote}),
        json!("not an object"),
    ] {
        let document = json!({"name": "x", "api_key": name, "payload_schema": schema});
        let r = admin_send(&t, "POST", "/admin/workflows", &admin, &[], &document).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_definition");
        assert!(
            r.error_message().starts_with("payload_schema"),
            "{schema}: {}",
            r.body
        );
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the remote $ref was fetched: {other:?}"),
    }
    let listed = admin_send(&t, "GET", "/admin/workflows", &admin, &[], &Value::Null).await;
    assert_eq!(
        listed.body.as_array().map(Vec::len),
        Some(0),
        "{}",
        listed.body
    );
}

async fn a_body_that_does_not_match_is_refused_with_pointers_and_nothing_is_stored(t: TestApp) {
    let (admin, key, created) = workflow_with_schema(&t, alert_schema()).await;
    let id = created["id"].as_str().expect("id");

    let bad = json!({"alerts": [{"name": "disk", "severity": "loud", "at": "yesterday"}, {"severity": "info"}]});
    let r = t.post_webhook(id, Some(&key), &bad.to_string()).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "payload_invalid");
    let details = r.body["error"]["details"].as_array().expect("details");
    let pointers: Vec<&str> = details
        .iter()
        .map(|d| d["pointer"].as_str().expect("pointer"))
        .collect();
    for expected in ["", "/alerts/0/severity", "/alerts/0/at", "/alerts/1"] {
        assert!(pointers.contains(&expected), "{expected} in {pointers:?}");
    }
    for detail in details {
        assert!(
            !detail["message"].as_str().unwrap_or_default().is_empty(),
            "{detail}"
        );
    }
    let required = details.iter().find(|d| d["pointer"] == "").expect("root");
    assert!(
        required["message"]
            .as_str()
            .unwrap_or_default()
            .contains("source"),
        "{required}"
    );

    // At most ten, however many places fail.
    let many: Vec<Value> = (0..40).map(|_| json!({"severity": "x"})).collect();
    let r = t
        .post_webhook(
            id,
            Some(&key),
            &json!({"source": "s", "alerts": many}).to_string(),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "payload_invalid");
    assert_eq!(
        r.body["error"]["details"].as_array().map(Vec::len),
        Some(10)
    );

    // A body that is not JSON cannot match a schema either.
    let r = t.post_webhook(id, Some(&key), "{not json").await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "payload_invalid");
    assert_eq!(r.body["error"]["details"][0]["pointer"], "");

    assert!(executions(&t, id, &key).await.is_empty(), "nothing stored");
    assert_eq!(t.worker.drain().await, 0, "nothing queued");
    t.app.flush_rejections().await;
    let activity = admin_send(
        &t,
        "GET",
        &format!("/admin/workflows/{id}/activity"),
        &admin,
        &[],
        &Value::Null,
    )
    .await;
    let counts = &activity.body["rejections"]["counts"];
    assert_eq!(counts["payload_invalid"], 3, "{}", activity.body);
    assert_eq!(counts["other"], 0, "{}", activity.body);

    let good = json!({"source": "mon", "alerts": [{"name": "disk", "severity": "critical", "at": "2026-12-07T10:00:00Z"}]});
    let r = t.post_webhook(id, Some(&key), &good.to_string()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(t.worker.drain().await, 1);
    let e = t.execution(id, &r.execution_id(), &key).await;
    assert_eq!(e["status"], "succeeded");
    assert_eq!(e["payload"], good);
    assert_eq!(executions(&t, id, &key).await.len(), 1);
}

async fn a_new_version_with_another_schema_is_in_force_at_once(t: TestApp) {
    let (admin, key, created) = workflow_with_schema(&t, json!({"required": ["a"]})).await;
    let id = created["id"].as_str().expect("id");
    let (with_a, with_b) = (r#"{"a":1}"#, r#"{"b":1}"#);
    assert_eq!(
        t.post_webhook(id, Some(&key), with_a).await.status,
        StatusCode::ACCEPTED
    );
    let r = t.post_webhook(id, Some(&key), with_b).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "payload_invalid");

    // The workflow and its compiled schema are cached (10 minutes here); the save that makes
    // version 2 drops this process's copy, so the next request compiles the new schema.
    let mut definition = created["definition"].clone();
    definition["payload_schema"] = json!({"required": ["b"]});
    save_over(&t, &admin, id, 1, &definition).await;
    let r = t.post_webhook(id, Some(&key), with_a).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "payload_invalid");
    let r = t.post_webhook(id, Some(&key), with_b).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let e = t.execution(id, &r.execution_id(), &key).await;
    assert_eq!(e["workflowVersion"], 2, "{e}");
}

/// The test bench's dry-run answers what the accept path would: `payload.valid` with the same
/// pointers a sender's 422 carries, and no `payload` for a workflow without a schema.
async fn a_dry_run_says_whether_its_input_would_be_refused(t: TestApp) {
    let (admin, _, created) = workflow_with_schema(&t, alert_schema()).await;
    let id = created["id"].as_str().expect("id");
    let uri = format!("/admin/workflows/{id}/dry-run");
    let bad =
        json!({"input": {"body": {"source": "ci", "alerts": [{"name": 1, "severity": "info"}]}}});
    let r = admin_send(&t, "POST", &uri, &admin, &[], &bad).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["payload"]["valid"], false, "{}", r.body);
    assert_eq!(
        r.body["payload"]["details"][0]["pointer"], "/alerts/0/name",
        "{}",
        r.body
    );

    let good = json!({"input": {"body": {"source": "ci", "alerts": [{"name": "disk", "severity": "info"}]}}});
    let r = admin_send(&t, "POST", &uri, &admin, &[], &good).await;
    assert_eq!(r.body["payload"], json!({"valid": true}), "{}", r.body);

    // A draft without the schema is checked as the draft says: no schema, no verdict.
    let mut draft = created["definition"].clone();
    draft
        .as_object_mut()
        .expect("object")
        .remove("payload_schema");
    let with_draft = json!({"definition": draft, "input": bad["input"]});
    let r = admin_send(&t, "POST", &uri, &admin, &[], &with_draft).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("payload").is_none(), "{}", r.body);
}
