//! The operator's `/admin` routes, on every backend: the admin key opens them and nothing
//! else does (no key, a wrong key, a revoked key, a workflow key); they list workflows with
//! their last 24 h, page and filter executions, show one, and replay it.

use crate::support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use support::{Response, TestApp, assert_error};
use webhook_trigger::app::NewWorkflow;
use webhook_trigger::config::Config;
use webhook_trigger::domain::{Step, Workflow, WorkflowFile};

macro_rules! admin_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            admin_for!(@each $make;
                admin_routes_refuse_a_missing_wrong_revoked_or_workflow_key,
                workflows_are_listed_with_their_last_24_hours,
                executions_are_paged_filtered_shown_and_replayed,
                admin_documents_are_camel_case_and_hold_no_key_value,
                an_admin_key_in_a_webhook_is_never_kept,
                api_keys_are_created_listed_rotated_retired_and_revoked,
                settings_routes_refuse_without_an_admin_key_and_a_taken_name,
                signing_secrets_show_a_generated_value_once_and_fingerprints_only,
                workflows_are_created_from_json_or_yaml_and_refused_with_the_field,
                a_replace_is_a_new_version_and_a_stale_one_conflicts,
                versions_are_listed_read_and_restored,
                disabling_and_deleting_close_the_webhook_and_keep_executions,
                workflow_routes_need_the_admin_key,
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

admin_for!(sqlite, support::sqlite_app);
admin_for!(dynamodb, support::dynamodb_app);

macro_rules! rejections_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            #[tokio::test]
            async fn refused_requests_are_counted_per_reason_and_written_in_one_flush() {
                super::refused_requests_are_counted_per_reason_and_written_in_one_flush(
                    $make(rarely_flushed()).await,
                )
                .await;
            }
        }
    };
}

mod rejections {
    use super::*;
    rejections_for!(sqlite, support::sqlite_app);
    rejections_for!(dynamodb, support::dynamodb_app);
}

/// Counts wait in the process (after the first, written at once) until flushed by hand.
fn rarely_flushed() -> Config {
    Config {
        rejection_flush: std::time::Duration::from_secs(3600),
        ..support::test_config()
    }
}

pub async fn admin_key(t: &TestApp) -> String {
    let name = format!("ops{}", ulid::Ulid::new().to_string().to_lowercase());
    let created = t.app.create_admin_key(&name).await.expect("admin key");
    created.secret.expose().to_owned()
}

async fn admin(t: &TestApp, method: &str, uri: &str, key: Option<&str>) -> Response {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        request = request.header("x-admin-key", key);
    }
    t.send(request.body(Body::empty()).expect("request")).await
}

/// An admin request with a JSON body.
async fn admin_json(
    t: &TestApp,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Value,
) -> Response {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("x-admin-key", key);
    }
    t.send(request.body(Body::from(body.to_string())).expect("request"))
        .await
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A workflow whose `api_key` names `key_name`, from a workflow file as `workflows create
/// --file` reads one.
async fn workflow_naming(t: &TestApp, key_name: &str, extra: Value) -> Workflow {
    let mut file = json!({"name": "keyed", "api_key": key_name, "steps": [{"type": "echo"}]});
    if let (Some(file), Some(extra)) = (file.as_object_mut(), extra.as_object()) {
        file.extend(extra.clone());
    }
    let file = WorkflowFile::parse(&file.to_string()).expect("workflow file");
    t.app
        .create_workflow(NewWorkflow::from(file))
        .await
        .expect("workflow")
}

/// The key `name` in `GET /admin/api-keys`, which must not hold `values` anywhere.
async fn listed_key(t: &TestApp, admin_key: &str, name: &str, values: &[&str]) -> Value {
    let r = admin(t, "GET", "/admin/api-keys", Some(admin_key)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let text = r.body.to_string();
    for value in values {
        assert!(!text.contains(value), "a key value is listed: {text}");
    }
    assert!(
        webhook_trigger::wire::non_camel_case_keys(&r.body, &[]).is_empty(),
        "{text}"
    );
    r.body
        .as_array()
        .expect("a list")
        .iter()
        .find(|k| k["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not listed: {text}"))
}

#[track_caller]
fn assert_keys_of(doc: &Value, expected: &[&str]) {
    let mut keys: Vec<&str> = doc
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = expected.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected, "{doc}");
}

async fn api_keys_are_created_listed_rotated_retired_and_revoked(t: TestApp) {
    let admin_key = admin_key(&t).await;
    let name = unique_name("partner");
    let created = admin_json(
        &t,
        "POST",
        "/admin/api-keys",
        Some(&admin_key),
        json!({ "name": name }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    assert_keys_of(&created.body, &["name", "prefix", "createdAt", "value"]);
    assert_eq!(created.body["name"], name.as_str());
    let first = created.body["value"].as_str().expect("value").to_owned();
    let prefix = created.body["prefix"].as_str().expect("prefix").to_owned();
    assert!(first.starts_with(&prefix) && first.len() > prefix.len());

    // The value is a webhook key for a workflow that names the key.
    let wf = workflow_naming(&t, &name, json!({})).await;
    let r = t.post_webhook(wf.id.as_str(), Some(&first), "{}").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);

    let listed = listed_key(&t, &admin_key, &name, &[&first]).await;
    assert_eq!(listed["prefix"], prefix.as_str());
    assert_eq!(listed["createdAt"], created.body["createdAt"]);
    assert_eq!(listed["usedBy"], json!([wf.id.as_str()]));
    assert_eq!(listed["revoked"], false);
    assert!(listed["lastUsedAt"].is_string(), "{listed}");
    assert!(listed.get("previous").is_none() && listed.get("value").is_none());

    // A bad duration is refused before anything changes.
    let uri = format!("/admin/api-keys/{name}/rotate");
    let bad = admin_json(
        &t,
        "POST",
        &uri,
        Some(&admin_key),
        json!({"retireAfter": "5w"}),
    )
    .await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(
        bad.error_message().contains("retireAfter"),
        "{:?}",
        bad.body
    );

    let rotated = admin_json(
        &t,
        "POST",
        &uri,
        Some(&admin_key),
        json!({"retireAfter": "24h"}),
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    let second = rotated.body["value"]
        .as_str()
        .expect("new value")
        .to_owned();
    assert_ne!(second, first);
    assert_eq!(rotated.body["previous"]["prefix"], prefix.as_str());
    let retire_at: chrono::DateTime<chrono::Utc> = rotated.body["previous"]["retireAt"]
        .as_str()
        .expect("retireAt")
        .parse()
        .expect("a time");
    let in_a_day = chrono::Utc::now() + chrono::Duration::hours(24);
    assert!(
        (in_a_day - retire_at).num_seconds().abs() < 60,
        "{retire_at}"
    );
    for value in [&first, &second] {
        let r = t.post_webhook(wf.id.as_str(), Some(value), "{}").await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "both work until retired");
    }
    let listed = listed_key(&t, &admin_key, &name, &[&first, &second]).await;
    assert_eq!(
        listed["previous"]["retireAt"],
        rotated.body["previous"]["retireAt"]
    );

    let retire = format!("/admin/api-keys/{name}/retire");
    let retired = admin(&t, "POST", &retire, Some(&admin_key)).await;
    assert_eq!(retired.status, StatusCode::OK, "{:?}", retired.body);
    assert!(retired.body.get("previous").is_none(), "{:?}", retired.body);
    assert!(!retired.body.to_string().contains(&second));
    let old = t.post_webhook(wf.id.as_str(), Some(&first), "{}").await;
    assert_error(&old, StatusCode::UNAUTHORIZED, "invalid_api_key");
    let again = admin(&t, "POST", &retire, Some(&admin_key)).await;
    assert_error(&again, StatusCode::CONFLICT, "conflict");

    let revoked = admin(
        &t,
        "DELETE",
        &format!("/admin/api-keys/{name}"),
        Some(&admin_key),
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK, "{:?}", revoked.body);
    assert!(revoked.body["revokedAt"].is_string(), "{:?}", revoked.body);
    let r = t.post_webhook(wf.id.as_str(), Some(&second), "{}").await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_api_key");
    let listed = listed_key(&t, &admin_key, &name, &[&first, &second]).await;
    assert_eq!(listed["revoked"], true);
    assert!(listed["revokedAt"].is_string());

    for (method, uri) in [
        ("POST", "/admin/api-keys/nobody/rotate"),
        ("POST", "/admin/api-keys/nobody/retire"),
        ("DELETE", "/admin/api-keys/nobody"),
    ] {
        let r = admin(&t, method, uri, Some(&admin_key)).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    let r = admin_json(
        &t,
        "POST",
        "/admin/api-keys",
        Some(&admin_key),
        json!({"name": "no spaces"}),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(r.error_message().contains("API key name"), "{:?}", r.body);
    let r = admin_json(&t, "POST", "/admin/api-keys", Some(&admin_key), json!({})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    assert!(r.error_message().contains("name"), "{:?}", r.body);
}

async fn settings_routes_refuse_without_an_admin_key_and_a_taken_name(t: TestApp) {
    let admin_key = admin_key(&t).await;
    let (wf, workflow_key) = t.workflow_with_key(vec![Step::Echo]).await;
    let name = wf.api_key_name.to_string();
    let routes = [
        ("GET", "/admin/api-keys".to_owned()),
        ("POST", "/admin/api-keys".to_owned()),
        ("POST", format!("/admin/api-keys/{name}/rotate")),
        ("POST", format!("/admin/api-keys/{name}/retire")),
        ("DELETE", format!("/admin/api-keys/{name}")),
        ("PUT", format!("/admin/workflows/{}/secret", wf.id)),
        ("POST", format!("/admin/workflows/{}/secret/rotate", wf.id)),
        ("POST", format!("/admin/workflows/{}/secret/retire", wf.id)),
    ];
    for (method, uri) in &routes {
        let body = json!({"name": "intruder", "generate": true});
        let r = admin_json(&t, method, uri, None, body.clone()).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "missing_admin_key");
        let r = admin_json(&t, method, uri, Some(&workflow_key), body).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_admin_key");
    }
    // Nothing changed: the key still works and has not been rotated or revoked.
    let r = t
        .post_webhook(wf.id.as_str(), Some(&workflow_key), "{}")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let listed = listed_key(&t, &admin_key, &name, &[&workflow_key]).await;
    assert!(
        listed.get("previous").is_none() && listed["revoked"] == false,
        "{listed}"
    );

    let taken = admin_json(
        &t,
        "POST",
        "/admin/api-keys",
        Some(&admin_key),
        json!({ "name": name }),
    )
    .await;
    assert_error(&taken, StatusCode::CONFLICT, "already_exists");
    let r = t
        .post_webhook(wf.id.as_str(), Some(&workflow_key), "{}")
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "the taken key is untouched");
}

async fn signing_secrets_show_a_generated_value_once_and_fingerprints_only(t: TestApp) {
    let admin_key = admin_key(&t).await;
    let key_name = unique_name("k");
    t.app.create_api_key(&key_name).await.expect("key");
    let wf = workflow_naming(&t, &key_name, json!({"verify": {"scheme": "github"}})).await;
    let base = format!("/admin/workflows/{}/secret", wf.id);

    let neither = admin_json(&t, "PUT", &base, Some(&admin_key), json!({})).await;
    assert_error(&neither, StatusCode::BAD_REQUEST, "invalid_request");
    let both = admin_json(
        &t,
        "PUT",
        &base,
        Some(&admin_key),
        json!({"value": "s3cret-one", "generate": true}),
    )
    .await;
    assert_error(&both, StatusCode::BAD_REQUEST, "invalid_request");

    let set = admin_json(
        &t,
        "PUT",
        &base,
        Some(&admin_key),
        json!({"generate": true}),
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{:?}", set.body);
    assert_keys_of(&set.body, &["workflowId", "secrets", "value"]);
    let generated = set.body["value"]
        .as_str()
        .expect("generated value")
        .to_owned();
    let secrets = set.body["secrets"].as_array().expect("secrets");
    assert_eq!(secrets.len(), 1);
    assert_keys_of(&secrets[0], &["fingerprint", "addedAt"]);

    let rotated = admin_json(
        &t,
        "POST",
        &format!("{base}/rotate"),
        Some(&admin_key),
        json!({"value": "provider-secret-two"}),
    )
    .await;
    assert_eq!(rotated.status, StatusCode::OK, "{:?}", rotated.body);
    assert!(
        rotated.body.get("value").is_none(),
        "a given value is not shown back"
    );
    let text = rotated.body.to_string();
    assert!(
        !text.contains(&generated) && !text.contains("provider-secret-two"),
        "{text}"
    );
    assert_eq!(
        rotated.body["secrets"].as_array().expect("secrets").len(),
        2
    );
    let third = admin_json(
        &t,
        "POST",
        &format!("{base}/rotate"),
        Some(&admin_key),
        json!({"generate": true}),
    )
    .await;
    assert_error(&third, StatusCode::CONFLICT, "conflict");

    let retired = admin(&t, "POST", &format!("{base}/retire"), Some(&admin_key)).await;
    assert_eq!(retired.status, StatusCode::OK, "{:?}", retired.body);
    let left = retired.body["secrets"].as_array().expect("secrets");
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0]["fingerprint"],
        rotated.body["secrets"][1]["fingerprint"]
    );
    // The workflow's own view shows the fingerprints left (the trigger panel's), no value.
    let view = admin(
        &t,
        "GET",
        &format!("/admin/workflows/{}", wf.id),
        Some(&admin_key),
    )
    .await;
    assert_eq!(view.status, StatusCode::OK, "{:?}", view.body);
    assert_eq!(view.body["signingSecrets"], retired.body["secrets"]);
    assert!(!view.body.to_string().contains(&generated));

    // The workflow's own page shows fingerprints, never a value.
    let shown = admin(
        &t,
        "GET",
        &format!("/admin/workflows/{}", wf.id),
        Some(&admin_key),
    )
    .await;
    let text = shown.body.to_string();
    assert!(
        !text.contains(&generated) && !text.contains("provider-secret-two"),
        "{text}"
    );

    // Without a verify block there is nothing to sign with; an unknown workflow is 404.
    let (plain, _) = t.workflow_with_key(vec![Step::Echo]).await;
    let r = admin_json(
        &t,
        "PUT",
        &format!("/admin/workflows/{}/secret", plain.id),
        Some(&admin_key),
        json!({"generate": true}),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(r.error_message().contains("verify"), "{:?}", r.body);
    let r = admin_json(
        &t,
        "PUT",
        "/admin/workflows/wf_nope/secret",
        Some(&admin_key),
        json!({"generate": true}),
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "workflow_not_found");
}

async fn admin_routes_refuse_a_missing_wrong_revoked_or_workflow_key(t: TestApp) {
    let (wf, workflow_key) = t.workflow_with_key(vec![Step::Echo]).await;
    let name = format!("ops{}", ulid::Ulid::new().to_string().to_lowercase());
    let key = t.app.create_admin_key(&name).await.unwrap();
    let key = key.secret.expose().to_owned();
    let routes = [
        ("GET", "/admin/workflows".to_owned()),
        ("GET", format!("/admin/workflows/{}", wf.id)),
        ("GET", format!("/admin/workflows/{}/executions", wf.id)),
        ("GET", format!("/admin/workflows/{}/activity", wf.id)),
    ];
    for (method, uri) in &routes {
        assert_error(
            &admin(&t, method, uri, None).await,
            StatusCode::UNAUTHORIZED,
            "missing_admin_key",
        );
        assert_error(
            &admin(&t, method, uri, Some("wha_wrong")).await,
            StatusCode::UNAUTHORIZED,
            "invalid_admin_key",
        );
        // A workflow's key is not an operator's.
        assert_error(
            &admin(&t, method, uri, Some(&workflow_key)).await,
            StatusCode::UNAUTHORIZED,
            "invalid_admin_key",
        );
        let ok = admin(&t, method, uri, Some(&key)).await;
        assert_eq!(ok.status, StatusCode::OK, "{uri}: {:?}", ok.body);
    }
    // Not in the query string: only the header counts.
    let r = admin(
        &t,
        "GET",
        &format!("/admin/workflows?x-admin-key={key}"),
        None,
    )
    .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "missing_admin_key");
    // The admin key opens no workflow's own routes either.
    let r = t
        .get(&format!("/workflows/{}/executions", wf.id), Some(&key))
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_api_key");
    // Replay refuses too, before reading anything.
    let r = admin(
        &t,
        "POST",
        &format!(
            "/admin/workflows/{}/executions/01ARZ3NDEKTSV4RRFFQ69G5FAV/replay",
            wf.id
        ),
        Some("wha_wrong"),
    )
    .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_admin_key");
    // Revoked: refused once the cache has been told (same process).
    t.app.revoke_admin_key(&name).await.unwrap();
    let r = admin(&t, "GET", "/admin/workflows", Some(&key)).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_admin_key");
}

async fn workflows_are_listed_with_their_last_24_hours(t: TestApp) {
    let key = admin_key(&t).await;
    let (wf, wkey) = t.workflow_with_key(vec![Step::Echo]).await;
    for n in 0..3 {
        let r = t
            .post_webhook(wf.id.as_str(), Some(&wkey), &format!(r#"{{"n":{n}}}"#))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    t.worker.drain().await;
    let r = t
        .post_webhook(wf.id.as_str(), Some(&wkey), r#"{"n":"last"}"#)
        .await;
    let last_id = r.execution_id();

    let r = admin(&t, "GET", "/admin/workflows", Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let listed = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == wf.id.as_str())
        .cloned()
        .expect("workflow listed");
    assert_eq!(listed["name"], "test workflow");
    assert_eq!(listed["trigger"], "generic_webhook");
    assert_eq!(listed["enabled"], true);
    assert_eq!(listed["webhookPath"], format!("/webhooks/{}", wf.id));
    let activity = &listed["activity"];
    assert_eq!(
        activity["counts"],
        json!({"queued": 1, "running": 0, "waiting": 0, "succeeded": 3, "failed": 0})
    );
    assert_eq!(activity["lastExecution"]["id"], last_id.as_str());
    assert_eq!(activity["lastExecution"]["status"], "queued");
    assert_eq!(activity["truncated"], false);
    let hourly = activity["hourly"].as_array().unwrap();
    assert_eq!(hourly.len(), 25);
    let per_hour: u64 = hourly
        .iter()
        .map(|h| h["counts"]["succeeded"].as_u64().unwrap())
        .sum();
    assert_eq!(per_hour, 3);
    assert_eq!(
        hourly.last().unwrap()["counts"]["queued"],
        1,
        "the newest is in the current hour"
    );

    // A disabled workflow is still listed to the operator.
    t.app
        .set_workflow_enabled(wf.id.as_str(), false)
        .await
        .unwrap();
    let r = admin(
        &t,
        "GET",
        &format!("/admin/workflows/{}", wf.id),
        Some(&key),
    )
    .await;
    assert_eq!(r.body["enabled"], false);
    let r = admin(&t, "GET", "/admin/workflows/wf_nope", Some(&key)).await;
    assert_error(&r, StatusCode::NOT_FOUND, "workflow_not_found");
}

async fn executions_are_paged_filtered_shown_and_replayed(t: TestApp) {
    let key = admin_key(&t).await;
    let (wf, wkey) = t.workflow_with_key(vec![Step::Echo]).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            t.post_webhook(wf.id.as_str(), Some(&wkey), &format!(r#"{{"n":{n}}}"#))
                .await
                .execution_id(),
        );
    }
    t.worker.drain().await;
    let base = format!("/admin/workflows/{}/executions", wf.id);
    let page = admin(&t, "GET", &format!("{base}?limit=2"), Some(&key)).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let first: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        first,
        vec![ids[2].as_str(), ids[1].as_str()],
        "newest first"
    );
    let cursor = page.body["nextCursor"].as_str().expect("more pages");
    let rest = admin(
        &t,
        "GET",
        &format!("{base}?limit=2&cursor={cursor}"),
        Some(&key),
    )
    .await;
    assert_eq!(rest.body["items"][0]["id"], ids[0].as_str());
    assert!(rest.body.get("nextCursor").is_none());
    let failed = admin(&t, "GET", &format!("{base}?status=failed"), Some(&key)).await;
    assert_eq!(failed.body["items"], json!([]));
    let bad = admin(&t, "GET", &format!("{base}?status=done"), Some(&key)).await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_request");

    let one = admin(&t, "GET", &format!("{base}/{}", ids[0]), Some(&key)).await;
    assert_eq!(one.body["status"], "succeeded");
    assert_eq!(one.body["payload"], json!({"n": 0}));
    assert_eq!(one.body["steps"][0]["status"], "succeeded");

    let replayed = admin(&t, "POST", &format!("{base}/{}/replay", ids[0]), Some(&key)).await;
    assert_eq!(replayed.status, StatusCode::ACCEPTED, "{:?}", replayed.body);
    let new_id = replayed.body["executionId"].as_str().unwrap().to_owned();
    assert_ne!(new_id, ids[0]);
    t.worker.drain().await;
    let again = admin(&t, "GET", &format!("{base}/{new_id}"), Some(&key)).await;
    assert_eq!(again.body["status"], "succeeded");
    assert_eq!(
        again.body["trigger"],
        json!({"type": "replay", "replayOf": ids[0]})
    );
    assert_eq!(again.body["payload"], json!({"n": 0}));
    let missing = admin(
        &t,
        "GET",
        &format!("{base}/01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        Some(&key),
    )
    .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "execution_not_found");
}

async fn admin_documents_are_camel_case_and_hold_no_key_value(t: TestApp) {
    use webhook_trigger::wire::non_camel_case_keys;
    let key = admin_key(&t).await;
    let (wf, wkey) = t.workflow_with_key(vec![Step::Echo]).await;
    t.post_webhook(wf.id.as_str(), Some(&wkey), r#"{"snake_case":1}"#)
        .await;
    t.worker.drain().await;
    let docs: Vec<Value> = vec![
        admin(&t, "GET", "/admin/workflows", Some(&key)).await.body,
        admin(
            &t,
            "GET",
            &format!("/admin/workflows/{}", wf.id),
            Some(&key),
        )
        .await
        .body,
        admin(
            &t,
            "GET",
            &format!("/admin/workflows/{}/executions", wf.id),
            Some(&key),
        )
        .await
        .body,
    ];
    let user_data = [
        "/items/*/payload",
        "/items/*/trigger/headers",
        "/items/*/result/output",
        "/items/*/steps/*/output",
        // The workflow document in the one spelling a workflow file has (snake_case), so
        // it can be sent back to PUT unchanged.
        "/definition",
        "/*/definition",
        // Counts keyed by refusal reason, values of this API like the status names
        // (`payload_invalid` is one).
        "/activity/rejections/counts",
        "/activity/rejections/hourly/*/counts",
        "/*/activity/rejections/counts",
        "/*/activity/rejections/hourly/*/counts",
    ];
    for doc in &docs {
        assert!(non_camel_case_keys(doc, &user_data).is_empty(), "{doc}");
        let text = doc.to_string();
        assert!(
            !text.contains(&key) && !text.contains(&wkey),
            "a key value was rendered: {text}"
        );
    }
}

async fn an_admin_key_in_a_webhook_is_never_kept(t: TestApp) {
    let key = admin_key(&t).await;
    let (wf, wkey) = t.workflow_with_key(vec![Step::Echo]).await;
    let r = t
        .post_webhook_with(wf.id.as_str(), &wkey, "", &[("x-admin-key", &key)], "{}")
        .await;
    let id = r.execution_id();
    let shown = admin(
        &t,
        "GET",
        &format!("/admin/workflows/{}/executions/{id}", wf.id),
        Some(&key),
    )
    .await;
    assert!(!shown.body.to_string().contains(&key));
}

/// The reasons a request for a known workflow started nothing, as `GET .../activity` reports
/// them: `rejections.counts` by reason (zeros included), `total`, and per hour.
async fn rejections_of(t: &TestApp, key: &str, workflow: &str) -> Value {
    let r = admin(
        t,
        "GET",
        &format!("/admin/workflows/{workflow}/activity"),
        Some(key),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["rejections"].clone()
}

async fn refused_requests_are_counted_per_reason_and_written_in_one_flush(t: TestApp) {
    let key = admin_key(&t).await;
    let (wf, wkey) = t.workflow_with_key(vec![Step::Echo]).await;
    let id = wf.id.as_str();
    // Another process on the same store: it sees only what was written.
    let elsewhere = support::build(
        t.app.store().clone(),
        t.app.queue().clone(),
        Box::new(support::NoWorker),
        rarely_flushed(),
        None,
    );

    // The first refusal of a quiet process is written at once (in the background).
    let r = t.post_webhook(id, Some("whk_wrong"), "{}").await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_api_key");
    t.app.flush_rejections().await;
    assert_eq!(
        rejections_of(&elsewhere, &key, id).await["counts"]["auth"],
        1
    );

    // Then, within the interval, nothing is written: each is counted in memory.
    assert_error(
        &t.post_webhook(id, None, "{}").await,
        StatusCode::UNAUTHORIZED,
        "missing_api_key",
    );
    let two_keys = Request::post(format!("/webhooks/{id}?x-api-key=whk_other"))
        .header("content-type", "application/json")
        .header("x-api-key", &wkey)
        .body(Body::from("{}"))
        .unwrap();
    assert_error(
        &t.send(two_keys).await,
        StatusCode::BAD_REQUEST,
        "ambiguous_api_key",
    );
    let too_large = format!(r#"{{"pad":"{}"}}"#, "x".repeat(256 * 1024));
    assert_error(
        &t.post_webhook(id, Some(&wkey), &too_large).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    assert_error(
        &t.post_webhook(id, Some(&wkey), "{not json").await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    for expected in [StatusCode::ACCEPTED, StatusCode::OK] {
        let r = t
            .post_webhook_with(id, &wkey, "", &[("idempotency-key", "order-1")], "{}")
            .await;
        assert_eq!(r.status, expected, "{}", r.body);
    }
    // Not attributable: an unknown workflow, and an accepted webhook is no rejection.
    let unknown = t.post_webhook("wf_nope", Some(&wkey), "{}").await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "workflow_not_found");
    assert_eq!(
        t.post_webhook(id, Some(&wkey), "{}").await.status,
        StatusCode::ACCEPTED
    );

    let expected = json!({"auth": 3, "size": 1, "signature": 0, "duplicate": 1, "payload_invalid": 0, "other": 1});
    let here = rejections_of(&t, &key, id).await;
    assert_eq!(
        here["counts"], expected,
        "this process shows what it has not written yet: {here}"
    );
    assert_eq!(here["total"], 6);
    let there = rejections_of(&elsewhere, &key, id).await;
    assert_eq!(
        there["counts"],
        json!({"auth": 1, "size": 0, "signature": 0, "duplicate": 0, "payload_invalid": 0, "other": 0}),
        "nothing more was written: {there}"
    );

    t.app.flush_rejections().await;
    let there = rejections_of(&elsewhere, &key, id).await;
    assert_eq!(there["counts"], expected, "{there}");
    assert_eq!(there["total"], 6);
    let hourly = there["hourly"].as_array().expect("hourly");
    assert_eq!(hourly.len(), 25);
    let per_hour: u64 = hourly
        .iter()
        .map(|h| h["counts"]["auth"].as_u64().unwrap())
        .sum();
    assert_eq!(per_hour, 3);
    assert_eq!(
        hourly.last().unwrap()["counts"]["duplicate"],
        1,
        "in the current hour"
    );
    // The workflow listing carries the same counts.
    let listed = admin(&t, "GET", "/admin/workflows", Some(&key)).await;
    let listed = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == id)
        .cloned()
        .expect("listed");
    assert_eq!(listed["activity"]["rejections"]["total"], 6);
}

/// An admin key as (name, value): the name is who a version says saved it.
async fn named_admin_key(t: &TestApp) -> (String, String) {
    let name = format!("ops{}", ulid::Ulid::new().to_string().to_lowercase());
    let created = t.app.create_admin_key(&name).await.expect("admin key");
    (name, created.secret.expose().to_owned())
}

/// A request to an /admin route with the admin key `key`, the given headers and body.
pub async fn admin_send(
    t: &TestApp,
    method: &str,
    uri: &str,
    key: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-admin-key", key);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    t.send(request.body(Body::from(body.to_owned())).expect("request"))
        .await
}

async fn api_key_name(t: &TestApp) -> String {
    let name = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
    t.app.create_api_key(&name).await.expect("api key");
    name
}

/// Creates a workflow through the API from a JSON document: (id, API key value).
async fn created(t: &TestApp, key: &str) -> (String, String) {
    let name = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
    let api_key = t.app.create_api_key(&name).await.expect("api key");
    let doc = json!({"name": "managed", "api_key": name, "steps": [{"id": "say", "type": "echo"}]});
    let r = admin_send(t, "POST", "/admin/workflows", key, &[], &doc.to_string()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (
        r.body["id"].as_str().expect("id").to_owned(),
        api_key.secret.expose().to_owned(),
    )
}

async fn workflows_are_created_from_json_or_yaml_and_refused_with_the_field(t: TestApp) {
    let (_, key) = named_admin_key(&t).await;
    let api_key = api_key_name(&t).await;
    let doc = json!({
        "name": "orders",
        "api_key": api_key,
        "steps": [
            {"id": "only-paid", "type": "filter", "when": "trigger.body.status == 'paid'"},
            {"type": "http_request", "url": "https://example.com/hook", "continue_on_error": true}
        ]
    });
    let r = admin_send(&t, "POST", "/admin/workflows", &key, &[], &doc.to_string()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["version"], 1);
    assert_eq!(r.body["name"], "orders");
    assert_eq!(r.headers["etag"], "\"1\"");
    // The definition is the file's spelling: snake_case, with the ids the loader gave.
    let definition = &r.body["definition"];
    assert_eq!(definition["api_key"], api_key.as_str());
    assert_eq!(definition["steps"][1]["id"], "step2");
    assert_eq!(definition["steps"][1]["continue_on_error"], true);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(t.app.workflow(&id).await.is_ok());

    let yaml = format!("name: from yaml\napi_key: {api_key}\nsteps:\n  - type: echo\n");
    let yaml_type = [("content-type", "application/yaml")];
    let r = admin_send(&t, "POST", "/admin/workflows", &key, &yaml_type, &yaml).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["name"], "from yaml");
    assert_eq!(r.body["version"], 1);

    // Refusals name the field, as `workflows create --file` does, in either syntax.
    let bad = json!({"name": "x", "api_key": api_key, "steps": [{"type": "echo"}, {"type": "http_request", "url": "ftp://x"}]});
    let r = admin_send(&t, "POST", "/admin/workflows", &key, &[], &bad.to_string()).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_definition");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("steps[1].url"), "{message}");
    let bad = format!("name: x\napi_key: {api_key}\nsteps:\n  - type: echo\n    colour: red\n");
    let r = admin_send(&t, "POST", "/admin/workflows", &key, &yaml_type, &bad).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_definition");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.starts_with("steps[0]"), "{message}");
    assert!(message.contains("colour"), "{message}");
    // A key that does not exist is refused before anything is stored.
    let r = admin_send(
        &t,
        "POST",
        "/admin/workflows",
        &key,
        &[],
        &json!({"name": "x", "api_key": "nobody"}).to_string(),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
    let r = admin_send(
        &t,
        "POST",
        "/admin/workflows",
        &key,
        &[("content-type", "text/xml")],
        "<x/>",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.body);
}

async fn a_replace_is_a_new_version_and_a_stale_one_conflicts(t: TestApp) {
    let (_, key) = named_admin_key(&t).await;
    let (id, wkey) = created(&t, &key).await;
    let uri = format!("/admin/workflows/{id}");
    let r = admin(&t, "GET", &uri, Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["etag"], "\"1\"");
    let definition = r.body["definition"].clone();

    // Without the version it was based on, a replace is refused.
    let body = json!({"definition": definition}).to_string();
    let r = admin_send(&t, "PUT", &uri, &key, &[], &body).await;
    assert_error(
        &r,
        StatusCode::PRECONDITION_REQUIRED,
        "precondition_required",
    );

    // GET's definition, sent back unchanged, saves the same workflow as version 2.
    let body = json!({"definition": definition, "baseVersion": 1, "note": "same again"});
    let r = admin_send(&t, "PUT", &uri, &key, &[], &body.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 2);
    assert_eq!(r.body["definition"], definition);
    assert_eq!(r.headers["etag"], "\"2\"");

    // Based on version 1, which is no longer current: another save came first.
    let r = admin_send(
        &t,
        "PUT",
        &uri,
        &key,
        &[("if-match", "\"1\"")],
        &definition.to_string(),
    )
    .await;
    assert_error(&r, StatusCode::CONFLICT, "version_conflict");
    // The bare document with If-Match, and in YAML too.
    let yaml = format!(
        "name: renamed\napi_key: {}\nsteps:\n  - id: say\n    type: echo\n",
        definition["api_key"].as_str().unwrap()
    );
    let r = admin_send(
        &t,
        "PUT",
        &uri,
        &key,
        &[("if-match", "\"2\""), ("content-type", "application/yaml")],
        &yaml,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 3);
    assert_eq!(r.body["name"], "renamed");
    // A refused replace saves nothing.
    let bad = json!({"definition": {"name": "", "api_key": "x"}, "baseVersion": 3});
    let r = admin_send(&t, "PUT", &uri, &key, &[], &bad.to_string()).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_definition");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("name")
    );
    assert_eq!(t.app.workflow(&id).await.unwrap().version, 3);

    // The store's own condition: a save based on a version read before another save.
    let stale = t.app.workflow(&id).await.unwrap();
    t.app
        .set_workflow_enabled(&id, true)
        .await
        .expect("a flag change is not a version");
    let mut next = stale.clone();
    next.version = 3;
    let version =
        webhook_trigger::domain::WorkflowVersion::of(&next, "test", None, chrono::Utc::now());
    let err = t
        .app
        .store()
        .save_workflow(&next, &version)
        .await
        .unwrap_err();
    assert!(
        matches!(err, webhook_trigger::ports::StoreError::VersionConflict(_)),
        "{err}"
    );

    // Executions name the version they were accepted under.
    let r = t.post_webhook(&id, Some(&wkey), r#"{"n":1}"#).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let execution = r.execution_id();
    let r = admin(
        &t,
        "GET",
        &format!("/admin/workflows/{id}/executions/{execution}"),
        Some(&key),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["workflowVersion"], 3);
}

async fn versions_are_listed_read_and_restored(t: TestApp) {
    let (name, key) = named_admin_key(&t).await;
    let (id, wkey) = created(&t, &key).await;
    let uri = format!("/admin/workflows/{id}");
    let first = admin(&t, "GET", &uri, Some(&key)).await.body["definition"].clone();
    let mut second = first.clone();
    second["name"] = json!("second");
    let body = json!({"definition": second, "baseVersion": 1, "note": "rename"});
    let r = admin_send(&t, "PUT", &uri, &key, &[], &body.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let r = admin(&t, "GET", &format!("{uri}/versions"), Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let listed = r.body.as_array().unwrap();
    assert_eq!(listed.len(), 2, "{}", r.body);
    assert_eq!(listed[0]["number"], 2, "newest first");
    assert_eq!(listed[0]["createdBy"], name.as_str());
    assert_eq!(listed[0]["note"], "rename");
    assert!(listed[0]["createdAt"].is_string());
    assert_eq!(listed[1]["number"], 1);
    assert!(listed[1].get("note").is_none());
    assert!(listed[1].get("definition").is_none(), "the list is brief");

    let r = admin(&t, "GET", &format!("{uri}/versions/1"), Some(&key)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["number"], 1);
    assert_eq!(r.body["definition"], first);
    for missing in ["9", "nine"] {
        let r = admin(&t, "GET", &format!("{uri}/versions/{missing}"), Some(&key)).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }

    // A restore is a new version equal to the old one.
    let r = admin_send(
        &t,
        "POST",
        &format!("{uri}/versions/1/restore"),
        &key,
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["version"], 3);
    assert_eq!(r.body["definition"], first);
    assert_eq!(r.body["name"], "managed");
    let r = admin(&t, "GET", &format!("{uri}/versions/3"), Some(&key)).await;
    assert_eq!(r.body["note"], "restored from version 1");
    // Based on a stale version, a restore conflicts too.
    let r = admin_send(
        &t,
        "POST",
        &format!("{uri}/versions/2/restore"),
        &key,
        &[("if-match", "\"2\"")],
        r#"{"note": "back"}"#,
    )
    .await;
    assert_error(&r, StatusCode::CONFLICT, "version_conflict");
    // The CLI's saves say so.
    let file = webhook_trigger::domain::WorkflowFile::from_value(second).unwrap();
    t.app
        .update_workflow(&id, webhook_trigger::app::NewWorkflow::from(file))
        .await
        .unwrap();
    let r = admin(&t, "GET", &format!("{uri}/versions"), Some(&key)).await;
    assert_eq!(r.body[0]["number"], 4);
    assert_eq!(r.body[0]["createdBy"], "cli");
    let r = t.post_webhook(&id, Some(&wkey), "{}").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
}

async fn disabling_and_deleting_close_the_webhook_and_keep_executions(t: TestApp) {
    let (_, key) = named_admin_key(&t).await;
    let (id, wkey) = created(&t, &key).await;
    let uri = format!("/admin/workflows/{id}");
    let r = admin_send(&t, "PATCH", &uri, &key, &[], r#"{"enabled": false}"#).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["version"], 1, "a flag is not a new version");
    let r = t.post_webhook(&id, Some(&wkey), "{}").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = admin_send(&t, "PATCH", &uri, &key, &[], r#"{"enabled": true}"#).await;
    assert_eq!(r.body["enabled"], true);
    let r = t.post_webhook(&id, Some(&wkey), "{}").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let execution = r.execution_id();
    let r = admin_send(&t, "PATCH", &uri, &key, &[], r#"{"enabled": "yes"}"#).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");

    let r = admin_send(&t, "DELETE", &uri, &key, &[], "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // At once: the cache of this process is told.
    let r = t.post_webhook(&id, Some(&wkey), "{}").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_error(
        &admin(&t, "GET", &uri, Some(&key)).await,
        StatusCode::NOT_FOUND,
        "workflow_not_found",
    );
    let listed = admin(&t, "GET", "/admin/workflows", Some(&key)).await;
    assert!(
        !listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["id"] == id.as_str()),
        "{}",
        listed.body
    );
    // Its execution stays readable until its retention ends.
    let r = admin(
        &t,
        "GET",
        &format!("{uri}/executions/{execution}"),
        Some(&key),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["id"], execution.as_str());
    assert_eq!(r.body["workflowVersion"], 1);
    let r = admin_send(&t, "DELETE", &uri, &key, &[], "").await;
    assert_error(&r, StatusCode::NOT_FOUND, "workflow_not_found");
}

async fn workflow_routes_need_the_admin_key(t: TestApp) {
    let (_, key) = named_admin_key(&t).await;
    let (id, wkey) = created(&t, &key).await;
    let routes = [
        ("POST", "/admin/workflows".to_owned()),
        ("PUT", format!("/admin/workflows/{id}")),
        ("PATCH", format!("/admin/workflows/{id}")),
        ("DELETE", format!("/admin/workflows/{id}")),
        ("GET", format!("/admin/workflows/{id}/versions")),
        ("GET", format!("/admin/workflows/{id}/versions/1")),
        ("POST", format!("/admin/workflows/{id}/versions/1/restore")),
    ];
    for (method, uri) in &routes {
        for presented in [None, Some("wha_wrong"), Some(wkey.as_str())] {
            let r = admin(&t, method, uri, presented).await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri}: {}",
                r.body
            );
        }
    }
    // Nothing was changed by the refused requests.
    let workflow = t.app.workflow(&id).await.unwrap();
    assert_eq!((workflow.version, workflow.enabled), (1, true));
}

/// No admin route is forgotten: every route under `/admin` in the one route list answers 401
/// without an admin key, and with a workflow's API key in its place.
#[tokio::test]
async fn every_admin_route_of_the_router_needs_the_admin_key() {
    let t = support::sqlite_app(support::test_config()).await;
    let key_name = unique_name("k");
    let api_key = t.app.create_api_key(&key_name).await.expect("key");
    let mut checked = 0;
    for route in crate::support::routes::ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/admin"))
    {
        let path = route
            .path
            .replace("{workflow_id}", "wf_1")
            .replace("{execution_id}", "01JD0000000000000000000000")
            .replace("{step_id}", "chat")
            .replace("{name}", "partner")
            .replace("{version}", "1");
        for key in [None, Some(api_key.secret.expose())] {
            let mut request = Request::builder()
                .method(route.method)
                .uri(&path)
                .header("content-type", "application/json");
            if let Some(key) = key {
                request = request.header("x-admin-key", key);
            }
            let r = t
                .send(request.body(Body::from("{}")).expect("request"))
                .await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{} {path} with {:?}: {:?}",
                route.method,
                key.map(|_| "an API key"),
                r.body
            );
        }
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} admin routes listed");
}
