//! Executions as operators use them, on both backends: the search across workflows (name,
//! status, time range, text and `path=value` in the payload and headers), the same filters on
//! a workflow's listing, counts by status, bulk replay (max respected, `countOnly` replays
//! nothing, over the cap refused), replay with the original or the current version (the older
//! definition really runs), and test runs (real executions marked `test`).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{self, Response, TestApp, assert_error};
use webhook_trigger::app::NewWorkflow;
use webhook_trigger::domain::{Workflow, WorkflowFile};

macro_rules! operator_flows_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            operator_flows_for!(@each $make;
                the_search_filters_by_workflow_name_status_time_and_payload,
                a_workflow_listing_takes_the_same_filters_and_pages_through_them,
                counts_by_status_cover_the_interval_asked,
                bulk_replay_respects_max_and_count_only_and_refuses_over_the_cap,
                a_replay_runs_the_original_or_the_current_version,
                a_test_run_is_a_real_execution_marked_test_on_its_input,
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

operator_flows_for!(sqlite, support::sqlite_app);
operator_flows_for!(dynamodb, support::dynamodb_app);

/// An admin request; `body` `None` sends none.
async fn admin(t: &TestApp, key: &str, method: &str, uri: &str, body: Option<Value>) -> Response {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("x-admin-key", key)
        .header("content-type", "application/json");
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    t.send(request.body(body).expect("request")).await
}

async fn admin_post(t: &TestApp, key: &str, uri: &str, body: Value) -> Response {
    admin(t, key, "POST", uri, Some(body)).await
}

async fn get(t: &TestApp, key: &str, uri: &str) -> Value {
    let response = admin(t, key, "GET", uri, None).await;
    assert_eq!(response.status, StatusCode::OK, "{uri}: {}", response.body);
    response.body
}

/// A workflow named `name` with `steps`, guarded by a new key: (workflow, key value).
async fn named_workflow(t: &TestApp, name: &str, steps: Value) -> (Workflow, String) {
    let key_name = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
    let created = t.app.create_api_key(&key_name).await.expect("key");
    let file = json!({"name": name, "api_key": key_name, "steps": steps}).to_string();
    let file = WorkflowFile::parse(&file).expect("workflow file");
    let workflow = t
        .app
        .create_workflow(NewWorkflow::from(file))
        .await
        .expect("workflow");
    (workflow, created.secret.expose().to_owned())
}

/// A workflow whose every execution fails.
async fn failing_workflow(t: &TestApp, name: &str) -> (Workflow, String) {
    named_workflow(
        t,
        name,
        json!([{"id": "boom", "type": "fail", "message": "no"}]),
    )
    .await
}

async fn post(t: &TestApp, wf: &Workflow, key: &str, headers: &[(&str, &str)], body: Value) {
    let r = t
        .post_webhook_with(wf.id.as_str(), key, "", headers, &body.to_string())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// The ids of `answer[field]`'s executions.
fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect()
}

fn encode(q: &str) -> String {
    percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn the_search_filters_by_workflow_name_status_time_and_payload(t: TestApp) {
    let admin_key = crate::admin::admin_key(&t).await;
    let tag = unique("ops");
    let (alerts, alerts_key) = named_workflow(
        &t,
        &format!("Alerts {tag}"),
        json!([{"id": "ok", "type": "echo"}]),
    )
    .await;
    let (broken, broken_key) = failing_workflow(&t, &format!("Broken {tag}")).await;
    let start = chrono::Utc::now() - chrono::Duration::seconds(1);
    post(
        &t,
        &alerts,
        &alerts_key,
        &[("x-source", "ci")],
        json!({"alerts": [{"name": "disk"}]}),
    )
    .await;
    post(
        &t,
        &alerts,
        &alerts_key,
        &[],
        json!({"alerts": [{"name": "cpu"}]}),
    )
    .await;
    post(&t, &broken, &broken_key, &[], json!({"note": "Disk FULL"})).await;
    t.worker.drain().await;

    let search = |query: String| {
        let (t, admin_key) = (&t, &admin_key);
        async move { get(t, admin_key, &format!("/admin/executions?{query}")).await }
    };
    let all = search(format!("workflow={}", encode(&tag.to_uppercase()))).await;
    assert_eq!(all["executions"].as_array().map(Vec::len), Some(3), "{all}");
    assert_eq!(all["truncated"], false);
    assert!(all["scanned"].as_u64().unwrap_or(0) >= 3, "{all}");
    let first = &all["executions"][0];
    assert_eq!(first["workflowId"], broken.id.as_str(), "newest first");
    assert_eq!(first["workflowName"], format!("Broken {tag}"));
    assert_eq!(first["test"], false);
    assert_eq!(first["payload"]["note"], "Disk FULL");

    let by = |q: &str| format!("workflow={}&q={}", encode(&tag), encode(q));
    let disk = search(by("body.alerts[0].name=disk")).await;
    assert_eq!(
        disk["executions"].as_array().map(Vec::len),
        Some(1),
        "{disk}"
    );
    assert_eq!(
        disk["executions"][0]["payload"]["alerts"][0]["name"],
        "disk"
    );
    let ci = search(by("headers.x-source=ci")).await;
    assert_eq!(ids(&ci["executions"]), ids(&disk["executions"]));
    let text = search(by("DISK")).await;
    assert_eq!(
        text["executions"].as_array().map(Vec::len),
        Some(2),
        "text in a body value, ignoring case: {text}"
    );
    let failed = search(format!("workflow={}&status=failed", encode(&tag))).await;
    assert_eq!(failed["executions"].as_array().map(Vec::len), Some(1));
    assert_eq!(failed["executions"][0]["status"], "failed");

    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let none = search(format!(
        "workflow={}&since={}",
        encode(&tag),
        encode(&future)
    ))
    .await;
    assert_eq!(none["executions"], json!([]));
    let before = (start - chrono::Duration::hours(1)).to_rfc3339();
    let none = search(format!(
        "workflow={}&until={}",
        encode(&tag),
        encode(&before)
    ))
    .await;
    assert_eq!(none["executions"], json!([]));
    let window = search(format!(
        "workflow={}&since={}&until={}",
        encode(&tag),
        encode(&start.to_rfc3339()),
        encode(&future)
    ))
    .await;
    assert_eq!(window["executions"].as_array().map(Vec::len), Some(3));

    let one = search(format!("workflow={}&limit=1", encode(&tag))).await;
    assert_eq!(one["executions"].as_array().map(Vec::len), Some(1));
    assert_eq!(one["truncated"], true, "more matched than shown");

    for bad in [
        "q=body.alerts%5Bx%5D=1",
        "since=yesterday",
        "status=done",
        "limit=201",
    ] {
        let r = admin(
            &t,
            &admin_key,
            "GET",
            &format!("/admin/executions?{bad}"),
            None,
        )
        .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
    }
}

async fn a_workflow_listing_takes_the_same_filters_and_pages_through_them(t: TestApp) {
    let admin_key = crate::admin::admin_key(&t).await;
    let (wf, key) = named_workflow(&t, &unique("list"), json!([])).await;
    for n in 0..3 {
        post(&t, &wf, &key, &[], json!({"n": n, "kind": "match"})).await;
    }
    post(&t, &wf, &key, &[], json!({"n": 9, "kind": "other"})).await;
    let base = format!("/admin/workflows/{}/executions", wf.id);
    let page = get(
        &t,
        &admin_key,
        &format!("{base}?q=body.kind%3Dmatch&limit=2"),
    )
    .await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(2), "{page}");
    assert_eq!(page["items"][0]["payload"]["n"], 2, "newest first");
    let cursor = page["nextCursor"].as_str().expect("a next page");
    let rest = get(
        &t,
        &admin_key,
        &format!("{base}?q=body.kind%3Dmatch&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(rest["items"].as_array().map(Vec::len), Some(1), "{rest}");
    assert_eq!(rest["items"][0]["payload"]["n"], 0);
    assert!(rest["nextCursor"].is_null(), "the last page: {rest}");
    let future = encode(&(chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339());
    let none = get(&t, &admin_key, &format!("{base}?since={future}")).await;
    assert_eq!(none["items"], json!([]));
    let r = admin(&t, &admin_key, "GET", &format!("{base}?until=soon"), None).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
}

async fn counts_by_status_cover_the_interval_asked(t: TestApp) {
    let admin_key = crate::admin::admin_key(&t).await;
    let (wf, key) = failing_workflow(&t, &unique("counts")).await;
    post(&t, &wf, &key, &[], json!({"fail": true})).await;
    post(&t, &wf, &key, &[], json!({"fail": true})).await;
    t.worker.drain().await;
    post(&t, &wf, &key, &[], json!({"fail": true})).await;
    let counts = get(
        &t,
        &admin_key,
        &format!("/admin/executions/counts?workflowId={}", wf.id),
    )
    .await;
    assert_eq!(counts["total"], 3, "{counts}");
    assert_eq!(counts["failed"], 2, "{counts}");
    assert_eq!(counts["queued"], 1, "{counts}");
    assert_eq!(counts["succeeded"], 0);
    assert_eq!(counts["waiting"], 0);
    assert_eq!(counts["running"], 0);
    assert_eq!(counts["truncated"], false);
    assert!(counts["since"].is_string());
    let future = encode(&(chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339());
    let later = get(
        &t,
        &admin_key,
        &format!(
            "/admin/executions/counts?workflowId={}&since={future}",
            wf.id
        ),
    )
    .await;
    assert_eq!(later["total"], 0, "{later}");
    let r = admin(
        &t,
        &admin_key,
        "GET",
        "/admin/executions/counts?workflowId=wf_nope",
        None,
    )
    .await;
    assert_error(&r, StatusCode::NOT_FOUND, "workflow_not_found");
}

async fn bulk_replay_respects_max_and_count_only_and_refuses_over_the_cap(t: TestApp) {
    let admin_key = crate::admin::admin_key(&t).await;
    let (wf, key) = failing_workflow(&t, &unique("replay")).await;
    for n in 0..3 {
        post(&t, &wf, &key, &[], json!({"n": n})).await;
    }
    t.worker.drain().await;
    let uri = format!("/admin/workflows/{}/replay", wf.id);
    let count_all = || async {
        let list = get(
            &t,
            &admin_key,
            &format!("/admin/workflows/{}/executions?limit=100", wf.id),
        )
        .await;
        list["items"].as_array().map_or(0, Vec::len)
    };

    let counted = admin_post(
        &t,
        &admin_key,
        &uri,
        json!({"status": "failed", "countOnly": true}),
    )
    .await;
    assert_eq!(counted.status, StatusCode::OK, "{}", counted.body);
    assert_eq!(counted.body["matched"], 3);
    assert_eq!(counted.body["executionIds"], json!([]));
    assert_eq!(count_all().await, 3, "countOnly replays nothing");

    for body in [
        json!({"status": "failed", "max": 101}),
        json!({"status": "failed", "max": 0}),
        json!({"status": "failed"}),
    ] {
        let r = admin(&t, &admin_key, "POST", &uri, Some(body.clone())).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
        assert!(r.error_message().contains("1 to 100"), "{body}: {}", r.body);
    }
    assert_eq!(count_all().await, 3, "a refused replay replays nothing");
    let r = admin_post(&t, &admin_key, &uri, json!({"max": 1, "version": "v1"})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");

    let replayed = admin_post(
        &t,
        &admin_key,
        &uri,
        json!({"status": "failed", "q": "body.n=2", "max": 5}),
    )
    .await;
    assert_eq!(replayed.body["matched"], 1, "{}", replayed.body);
    let replayed = admin_post(&t, &admin_key, &uri, json!({"status": "failed", "max": 2})).await;
    assert_eq!(replayed.status, StatusCode::OK, "{}", replayed.body);
    assert_eq!(
        replayed.body["matched"], 3,
        "the replay just made is queued, not failed"
    );
    let new_ids = replayed.body["executionIds"]
        .as_array()
        .expect("ids")
        .clone();
    assert_eq!(new_ids.len(), 2, "max respected");
    assert_eq!(count_all().await, 6);
    for id in &new_ids {
        let e = get(
            &t,
            &admin_key,
            &format!(
                "/admin/workflows/{}/executions/{}",
                wf.id,
                id.as_str().expect("id")
            ),
        )
        .await;
        assert_eq!(e["trigger"]["type"], "replay", "{e}");
        assert_eq!(e["status"], "queued");
    }
}

async fn a_replay_runs_the_original_or_the_current_version(t: TestApp) {
    let admin_key = crate::admin::admin_key(&t).await;
    let steps = |v: u32| json!([{"id": "which", "type": "transform", "output": {"ran": v}}]);
    let (wf, key) = named_workflow(&t, &unique("versions"), steps(1)).await;
    post(&t, &wf, &key, &[], json!({})).await;
    t.worker.drain().await;
    let listed = get(
        &t,
        &admin_key,
        &format!("/admin/workflows/{}/executions", wf.id),
    )
    .await;
    let original = listed["items"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(listed["items"][0]["steps"][0]["output"]["ran"], 1);

    let file = json!({"name": wf.name, "api_key": wf.api_key_name.as_str(), "steps": steps(2)});
    let file = WorkflowFile::parse(&file.to_string()).expect("file");
    let v2 = t
        .app
        .update_workflow(wf.id.as_str(), NewWorkflow::from(file))
        .await
        .expect("update");
    assert_eq!(v2.version, 2);

    let replay = |body: Option<Value>| {
        let (t, admin_key) = (&t, &admin_key);
        let uri = format!("/admin/workflows/{}/executions/{original}/replay", wf.id);
        async move {
            let r = admin(t, admin_key, "POST", &uri, body).await;
            assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
            r.execution_id()
        }
    };
    let as_original = replay(Some(json!({"version": "original"}))).await;
    let as_current = replay(None).await;
    let bulk = admin(
        &t,
        &admin_key,
        "POST",
        &format!("/admin/workflows/{}/replay", wf.id),
        Some(json!({"q": "x", "max": 1, "version": "original", "countOnly": true})),
    )
    .await;
    assert_eq!(bulk.body["matched"], 0, "{}", bulk.body);
    t.worker.drain().await;
    for (id, version) in [(as_original, 1), (as_current, 2)] {
        let e = get(
            &t,
            &admin_key,
            &format!("/admin/workflows/{}/executions/{id}", wf.id),
        )
        .await;
        assert_eq!(e["status"], "succeeded", "{e}");
        assert_eq!(e["workflowVersion"], version, "{e}");
        assert_eq!(
            e["steps"][0]["output"]["ran"], version,
            "the definition of version {version} ran: {e}"
        );
    }
    let r = admin(
        &t,
        &admin_key,
        "POST",
        &format!("/admin/workflows/{}/executions/{original}/replay", wf.id),
        Some(json!({"version": "latest"})),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
}

async fn a_test_run_is_a_real_execution_marked_test_on_its_input(t: TestApp) {
    let admin_key = crate::admin::admin_key(&t).await;
    let (wf, key) = named_workflow(
        &t,
        &unique("bench"),
        json!([{"id": "see", "type": "transform", "output": {
            "body": "{{ trigger.body }}",
            "source": "{{ trigger.headers['x-source'] }}",
        }}]),
    )
    .await;
    let uri = format!("/admin/workflows/{}/test-run", wf.id);
    let r = admin(&t, &admin_key, "POST", &uri, None).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "no_input");

    let typed = admin_post(
        &t,
        &admin_key,
        &uri,
        json!({"input": {
            "body": {"n": 1},
            "headers": {"X-Source": "bench", "x-api-key": "not kept"},
            "query": {"a": "b"},
        }}),
    )
    .await;
    assert_eq!(typed.status, StatusCode::ACCEPTED, "{}", typed.body);
    assert_eq!(typed.body["test"], true);
    assert_eq!(typed.body["workflowVersion"], 1);
    let typed_id = typed.execution_id();
    t.worker.drain().await;
    let e = t.execution(wf.id.as_str(), &typed_id, &key).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(e["test"], true);
    assert_eq!(
        e["steps"][0]["output"],
        json!({"body": {"n": 1}, "source": "bench"})
    );
    assert!(
        !e.to_string().contains("not kept"),
        "a typed credential is dropped: {e}"
    );
    let listed = get(
        &t,
        &admin_key,
        &format!("/admin/workflows/{}/executions", wf.id),
    )
    .await;
    assert_eq!(listed["items"][0]["test"], true);

    // A real webhook, then a run on the latest execution's input (the default).
    post(&t, &wf, &key, &[("x-source", "hook")], json!({"n": 2})).await;
    let latest = admin_post(&t, &admin_key, &uri, json!({})).await;
    assert_eq!(latest.status, StatusCode::ACCEPTED, "{}", latest.body);
    // Another workflow's execution as input.
    let (other, other_key) = named_workflow(&t, &unique("source"), json!([])).await;
    post(
        &t,
        &other,
        &other_key,
        &[("x-source", "other")],
        json!({"n": 3}),
    )
    .await;
    let source = get(
        &t,
        &admin_key,
        &format!("/admin/workflows/{}/executions", other.id),
    )
    .await;
    let source_id = source["items"][0]["id"].as_str().expect("id").to_owned();
    let copied = admin_post(
        &t,
        &admin_key,
        &uri,
        json!({"executionId": source_id, "executionWorkflowId": other.id.as_str()}),
    )
    .await;
    assert_eq!(copied.status, StatusCode::ACCEPTED, "{}", copied.body);
    t.worker.drain().await;
    let e = t
        .execution(wf.id.as_str(), &latest.execution_id(), &key)
        .await;
    assert_eq!(e["steps"][0]["output"]["body"], json!({"n": 2}), "{e}");
    assert_eq!(e["steps"][0]["output"]["source"], "hook");
    let e = t
        .execution(wf.id.as_str(), &copied.execution_id(), &key)
        .await;
    assert_eq!(e["steps"][0]["output"]["body"], json!({"n": 3}), "{e}");
    assert_eq!(e["test"], true);

    let r = admin_post(&t, &admin_key, &uri, json!({"executionId": source_id})).await;
    assert_error(&r, StatusCode::NOT_FOUND, "execution_not_found");
    let r = admin_post(
        &t,
        &admin_key,
        &uri,
        json!({"executionId": source_id, "input": {"body": {}}}),
    )
    .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
}

/// The bound itself: a workflow with more executions than one search reads is read up to the
/// bound and said to be truncated (SQLite only: writing a thousand records on the emulator
/// would only cost time, and both backends go through the same scan).
#[tokio::test]
async fn a_search_reads_at_most_its_bound_per_workflow_and_says_so() {
    let t = support::sqlite_app(support::test_config()).await;
    let admin_key = crate::admin::admin_key(&t).await;
    let (wf, _) = named_workflow(&t, &unique("many"), json!([])).await;
    let bound = webhook_trigger::app::SCAN_PER_WORKFLOW;
    let writes = (0..bound + 5).map(|n| {
        let execution = webhook_trigger::domain::Execution::new(
            wf.id.clone(),
            webhook_trigger::domain::TriggerMeta::GenericWebhook {
                content_type: None,
                idempotency_key: None,
                body_bytes: 2,
            },
            json!({"n": n}),
            chrono::Utc::now(),
            chrono::Duration::days(1),
        );
        let store = t.app.store().clone();
        async move { store.insert_execution(&execution, None).await }
    });
    for written in futures_util::future::join_all(writes).await {
        written.expect("insert");
    }
    let found = get(
        &t,
        &admin_key,
        &format!(
            "/admin/executions?workflow={}&q=nothing-like-this",
            encode(&wf.name)
        ),
    )
    .await;
    assert_eq!(found["scanned"], bound, "{}", found["scanned"]);
    assert_eq!(found["truncated"], true);
    let counts = get(
        &t,
        &admin_key,
        &format!("/admin/executions/counts?workflowId={}", wf.id),
    )
    .await;
    assert_eq!(counts["total"], bound);
    assert_eq!(counts["truncated"], true);
    let replay = admin_post(
        &t,
        &admin_key,
        &format!("/admin/workflows/{}/replay", wf.id),
        json!({"countOnly": true}),
    )
    .await;
    assert_eq!(replay.body["matched"], bound, "{}", replay.body);
    assert_eq!(replay.body["truncated"], true);
}
