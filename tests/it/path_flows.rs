//! The path an execution took, as readers see it, on every backend: the execution's `plan`
//! (each step of its definition, `skipped` when off the path), a branch's matched case in its
//! record, and a `for_each` step's items paged by index through the workflow route (its key)
//! and the admin route (the console's), with 404 for an unknown execution or step and 400
//! for bad paging.

use crate::support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use support::{Response, TestApp, assert_error};
use webhook_trigger::wire::non_camel_case_keys;

macro_rules! path_flows_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            path_flows_for!(@each $make;
                a_branch_shows_its_case_and_the_plan_marks_the_steps_off_its_path_skipped,
                a_loops_items_are_paged_by_index_with_their_inner_steps,
                items_of_an_unknown_execution_or_step_are_404_and_bad_paging_is_400,
                the_admin_route_pages_the_same_items_with_the_admin_key_only,
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

path_flows_for!(sqlite, support::sqlite_app);
path_flows_for!(dynamodb, support::dynamodb_app);

/// What users sent or wrote, below which keys are theirs.
const USER_DATA: &[&str] = &[
    "/payload",
    "/trigger/headers",
    "/result/output",
    "/steps/*/output",
    "/items/*/output",
    "/items/*/steps/*/output",
];

/// Routes an alert: critical ones to `page`, lists of alerts to `chat` (a loop whose items
/// fail when marked `bad`; the loop goes on), anything else to `ignore` (a stop).
fn alert_router() -> Value {
    json!([
        {"id": "route", "type": "branch",
         "cases": [{"when": "trigger.body.severity == 'critical'", "next": "page"},
                   {"when": "trigger.body.alerts is defined", "next": "chat"}],
         "default": "ignore"},
        {"id": "page", "type": "transform", "output": {"paged": true}, "next": "end"},
        {"id": "chat", "type": "for_each", "items": "trigger.body.alerts", "as": "alert",
         "continue_on_error": true, "next": "end",
         "steps": [
            {"id": "check", "type": "branch",
             "cases": [{"when": "alert.bad", "next": "boom"}], "default": "post"},
            {"id": "boom", "type": "fail", "message": "a bad alert"},
            {"id": "post", "type": "transform", "output": {"text": "{{ alert.name }}"}},
         ]},
        {"id": "ignore", "type": "stop", "reason": "not routed"},
    ])
}

/// `n` alerts named a0, a1, ...; those whose index is in `bad` are marked bad.
fn alerts(n: usize, bad: &[usize]) -> Value {
    let list: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("a{i}"), "bad": bad.contains(&i)}))
        .collect();
    json!({ "alerts": list })
}

/// Accepts `body`, runs the worker, and returns the finished execution.
async fn run(t: &TestApp, workflow_id: &str, key: &str, body: &Value) -> Value {
    let r = t
        .post_webhook(workflow_id, Some(key), &body.to_string())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.execution_id();
    t.worker.drain().await;
    let done = t.execution(workflow_id, &id, key).await;
    assert!(
        done["status"] == "succeeded" || done["status"] == "failed",
        "{done}"
    );
    done
}

/// (id, status) of each entry of the plan.
fn plan(execution: &Value) -> Vec<(String, String)> {
    execution["plan"]
        .as_array()
        .unwrap_or_else(|| panic!("no plan in {execution}"))
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or_default().to_owned(),
                p["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn step_ids(execution: &Value) -> Vec<&str> {
    execution["steps"]
        .as_array()
        .map(|s| s.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default()
}

fn items_uri(workflow_id: &str, execution_id: &str, step: &str, query: &str) -> String {
    format!("/workflows/{workflow_id}/executions/{execution_id}/steps/{step}/items{query}")
}

/// The indexes of a page's items.
fn indexes(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
        .iter()
        .filter_map(|i| i["index"].as_u64())
        .collect()
}

async fn a_branch_shows_its_case_and_the_plan_marks_the_steps_off_its_path_skipped(t: TestApp) {
    let (wf, key) = t.workflow_from_steps(alert_router()).await;
    let wid = wf.id.as_str();

    let looped = run(&t, wid, &key, &alerts(2, &[])).await;
    assert_eq!(looped["status"], "succeeded", "{looped}");
    assert_eq!(step_ids(&looped), ["route", "chat"], "the path, in order");
    assert_eq!(
        looped["steps"][0]["output"],
        json!({"matched": 1, "next": "chat"})
    );
    assert_eq!(
        plan(&looped),
        pairs(&[
            ("route", "succeeded"),
            ("page", "skipped"),
            ("chat", "succeeded"),
            ("ignore", "skipped"),
        ])
    );
    assert_eq!(looped["plan"][2]["type"], "for_each");
    assert!(
        looped["steps"][0].get("path").is_none(),
        "a top-level record has no path: {looped}"
    );
    assert_eq!(
        non_camel_case_keys(&looped, USER_DATA),
        Vec::<String>::new()
    );

    let ignored = run(&t, wid, &key, &json!({"severity": "info"})).await;
    assert_eq!(
        ignored["steps"][0]["output"],
        json!({"matched": "default", "next": "ignore"})
    );
    assert_eq!(
        plan(&ignored),
        pairs(&[
            ("route", "succeeded"),
            ("page", "skipped"),
            ("chat", "skipped"),
            ("ignore", "stopped"),
        ])
    );
    assert_eq!(
        ignored["result"],
        json!({"outcome": "stopped", "stoppedBy": "ignore", "reason": "not routed"})
    );

    let paged = run(&t, wid, &key, &json!({"severity": "critical"})).await;
    assert_eq!(
        plan(&paged),
        pairs(&[
            ("route", "succeeded"),
            ("page", "succeeded"),
            ("chat", "skipped"),
            ("ignore", "skipped"),
        ])
    );

    // The list answers each execution in the same shape, plan included.
    let list = t
        .get(&format!("/workflows/{wid}/executions"), Some(&key))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let listed = list.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", list.body))
        .iter()
        .find(|e| e["id"] == ignored["id"])
        .unwrap_or_else(|| panic!("the stopped execution is not listed: {}", list.body));
    assert_eq!(listed["plan"], ignored["plan"]);
}

async fn a_loops_items_are_paged_by_index_with_their_inner_steps(t: TestApp) {
    let (wf, key) = t.workflow_from_steps(alert_router()).await;
    let wid = wf.id.as_str();
    let done = run(&t, wid, &key, &alerts(5, &[1, 4])).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let eid = done["id"].as_str().unwrap_or_default().to_owned();
    let chat = done["steps"][1].clone();
    assert_eq!(chat["id"], "chat");
    assert_eq!(chat["output"].as_array().map(Vec::len), Some(5), "{chat}");

    // Everything on one page by default (50), by index, no nextAfter.
    let all = t.get(&items_uri(wid, &eid, "chat", ""), Some(&key)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(indexes(&all.body), [0, 1, 2, 3, 4]);
    assert!(all.body.get("nextAfter").is_none(), "{}", all.body);
    assert_eq!(
        non_camel_case_keys(&all.body, USER_DATA),
        Vec::<String>::new()
    );
    let statuses: Vec<&str> = all.body["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["status"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        statuses,
        ["succeeded", "failed", "succeeded", "succeeded", "failed"]
    );

    let good = &all.body["items"][0];
    let mut fields: Vec<&str> = good
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    assert_eq!(fields, ["index", "output", "status", "steps", "updatedAt"]);
    assert_eq!(good["output"], json!({"text": "a0"}));
    let inner: Vec<(&str, &str, &str)> = good["steps"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|r| {
                    (
                        r["id"].as_str().unwrap_or_default(),
                        r["path"].as_str().unwrap_or_default(),
                        r["status"].as_str().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        inner,
        [
            ("check", "chat[0].check", "succeeded"),
            ("post", "chat[0].post", "succeeded"),
        ]
    );
    assert_eq!(
        good["steps"][0]["output"],
        json!({"matched": "default", "next": "post"})
    );

    let bad = &all.body["items"][1];
    assert_eq!(bad["error"], "step \"boom\" (fail) failed: a bad alert");
    assert_eq!(bad["steps"][1]["path"], "chat[1].boom");
    assert_eq!(bad["steps"][1]["status"], "failed");

    // Pages of two: nextAfter is the last index of the page, absent on the last one.
    let first = t
        .get(&items_uri(wid, &eid, "chat", "?limit=2"), Some(&key))
        .await;
    assert_eq!(indexes(&first.body), [0, 1]);
    assert_eq!(first.body["nextAfter"], 1);
    let second = t
        .get(
            &items_uri(wid, &eid, "chat", "?after=1&limit=2"),
            Some(&key),
        )
        .await;
    assert_eq!(indexes(&second.body), [2, 3]);
    assert_eq!(second.body["nextAfter"], 3);
    let last = t
        .get(
            &items_uri(wid, &eid, "chat", "?after=3&limit=2"),
            Some(&key),
        )
        .await;
    assert_eq!(indexes(&last.body), [4]);
    assert!(last.body.get("nextAfter").is_none(), "{}", last.body);
    // Exactly a page's worth left: no empty page to follow.
    let exact = t
        .get(
            &items_uri(wid, &eid, "chat", "?after=2&limit=2"),
            Some(&key),
        )
        .await;
    assert_eq!(indexes(&exact.body), [3, 4]);
    assert!(exact.body.get("nextAfter").is_none(), "{}", exact.body);
    let past = t
        .get(&items_uri(wid, &eid, "chat", "?after=4"), Some(&key))
        .await;
    assert_eq!(past.body, json!({"items": []}));
}

async fn items_of_an_unknown_execution_or_step_are_404_and_bad_paging_is_400(t: TestApp) {
    let (wf, key) = t.workflow_from_steps(alert_router()).await;
    let wid = wf.id.as_str();
    let done = run(&t, wid, &key, &alerts(1, &[])).await;
    let eid = done["id"].as_str().unwrap_or_default().to_owned();
    let get = |uri: String| {
        let key = key.clone();
        let t = &t;
        async move { t.get(&uri, Some(&key)).await }
    };

    let unknown = webhook_trigger::domain::ExecutionId::generate().to_string();
    for execution in [unknown.as_str(), "not-an-id"] {
        let r = get(items_uri(wid, execution, "chat", "")).await;
        assert_error(&r, StatusCode::NOT_FOUND, "execution_not_found");
    }
    // Not a step, a step that is not a loop, an inner step of the loop.
    for step in ["nope", "route", "post"] {
        let r = get(items_uri(wid, &eid, step, "")).await;
        assert_error(&r, StatusCode::NOT_FOUND, "step_not_found");
        assert!(r.error_message().contains(step), "{}", r.body);
    }
    for query in [
        "?after=-1",
        "?after=one",
        "?after=1.5",
        "?limit=0",
        "?limit=201",
        "?limit=x",
        "?after=0&limit=1000",
    ] {
        let r = get(items_uri(wid, &eid, "chat", query)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "invalid_request");
    }
    let max = get(items_uri(wid, &eid, "chat", "?limit=200")).await;
    assert_eq!(max.status, StatusCode::OK, "{}", max.body);

    // Guarded like the execution: the workflow's key, and only for its own executions.
    let r = t.get(&items_uri(wid, &eid, "chat", ""), None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "missing_api_key");
    let (other, other_key) = t.workflow_from_steps(alert_router()).await;
    let r = t
        .get(&items_uri(wid, &eid, "chat", ""), Some(&other_key))
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_api_key");
    let r = t
        .get(
            &items_uri(other.id.as_str(), &eid, "chat", ""),
            Some(&other_key),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "execution_not_found");
}

async fn admin_get(t: &TestApp, uri: &str, key: Option<&str>) -> Response {
    let mut request = Request::get(uri);
    if let Some(key) = key {
        request = request.header("x-admin-key", key);
    }
    t.send(request.body(Body::empty()).expect("request")).await
}

async fn the_admin_route_pages_the_same_items_with_the_admin_key_only(t: TestApp) {
    let (wf, key) = t.workflow_from_steps(alert_router()).await;
    let wid = wf.id.as_str();
    let done = run(&t, wid, &key, &alerts(3, &[2])).await;
    let eid = done["id"].as_str().unwrap_or_default().to_owned();
    let admin = crate::admin::admin_key(&t).await;
    let uri = format!("/admin{}", items_uri(wid, &eid, "chat", "?limit=2"));

    let page = admin_get(&t, &uri, Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let same = t
        .get(&items_uri(wid, &eid, "chat", "?limit=2"), Some(&key))
        .await;
    assert_eq!(page.body, same.body, "one document, whichever route");
    assert_eq!(indexes(&page.body), [0, 1]);
    assert_eq!(page.body["nextAfter"], 1);

    let execution = admin_get(
        &t,
        &format!("/admin/workflows/{wid}/executions/{eid}"),
        Some(&admin),
    )
    .await;
    assert_eq!(execution.body["plan"], done["plan"]);

    assert_error(
        &admin_get(&t, &uri, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_admin_key",
    );
    assert_error(
        &admin_get(&t, &uri, Some(&key)).await,
        StatusCode::UNAUTHORIZED,
        "invalid_admin_key",
    );
    let bad = format!("/admin{}", items_uri(wid, &eid, "chat", "?after=x"));
    assert_error(
        &admin_get(&t, &bad, Some(&admin)).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    let unknown = format!("/admin{}", items_uri(wid, &eid, "page", ""));
    assert_error(
        &admin_get(&t, &unknown, Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "step_not_found",
    );
    let no_workflow = format!("/admin{}", items_uri("wf_nope", &eid, "chat", ""));
    assert_error(
        &admin_get(&t, &no_workflow, Some(&admin)).await,
        StatusCode::NOT_FOUND,
        "workflow_not_found",
    );
}

/// A loop that fails counts as a `for_each` step failure, and its item's failing step under
/// its own type; a branch that cannot decide, under `branch`. The counts are the process's
/// (metrics are the same on every backend), read from a recorder local to this test's thread.
#[tokio::test]
async fn failed_control_flow_steps_are_counted_by_their_type() {
    use metrics_exporter_prometheus::PrometheusBuilder;
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);

    let t = support::sqlite_app(support::test_config()).await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "route", "type": "branch",
             "cases": [{"when": "trigger.body.n + 1 > 1", "next": "each"}], "default": "each"},
            {"id": "each", "type": "for_each", "items": "trigger.body.list",
             "steps": [{"id": "boom", "type": "fail", "message": "no"}]},
        ]))
        .await;
    let wid = wf.id.as_str();
    let looped = run(&t, wid, &key, &json!({"n": 0, "list": [1]})).await;
    assert_eq!(looped["status"], "failed", "{looped}");
    assert_eq!(
        looped["error"],
        "step \"each\" (for_each) failed: item 0 failed: step \"boom\" (fail) failed: no"
    );
    let undecided = run(&t, wid, &key, &json!({"n": "text", "list": []})).await;
    assert_eq!(undecided["status"], "failed", "{undecided}");
    assert_eq!(
        plan(&undecided),
        pairs(&[("route", "failed"), ("each", "skipped")])
    );

    let text = handle.render();
    for kind in ["for_each", "fail", "branch"] {
        let line = format!("workflow_step_failures_total{{type=\"{kind}\"}} 1");
        assert!(text.contains(&line), "{line} missing in:\n{text}");
    }
}
