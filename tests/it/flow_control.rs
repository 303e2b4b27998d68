//! Workflows that decide, end to end on both backends: `branch`, `on_error`, `stop` and
//! `for_each` (items, concurrency, failures, limits, templates), a loop resumed after its
//! worker died, a loop carried over several deliveries by the run's deadline, and an
//! execution that keeps its own copy of the definition while the workflow is edited. As in
//! `step_flows`, a webhook is accepted through the API, the backend's real queue hands it to
//! the worker, and the assertions read what the loopback receivers got and the execution as
//! the API shows it. Nothing here contacts any address but 127.0.0.1.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::step_flows::{accept, pairs, quick_retry, step, step_statuses};
use crate::support;
use support::TestApp;
use support::target::{Answer, Target};
use webhook_trigger::app::NewWorkflow;
use webhook_trigger::config::Config;
use webhook_trigger::domain::{ExecutionId, ItemStatus, Workflow, WorkflowFile};
use webhook_trigger::ports::WorkItem;
use webhook_trigger::worker::DeliveryCount;

macro_rules! flow_control_for {
    ($backend:ident, $make:path, $make_with_budget:path) => {
        mod $backend {
            use super::*;
            flow_control_for!(@each $make, support::test_config();
                branch_takes_each_case_or_the_default_and_records_only_its_path,
                on_error_routes_a_404_to_a_handler_that_reads_the_error,
                a_failure_without_on_error_fails_the_execution_naming_the_step,
                stop_ends_the_execution_with_its_rendered_reason_and_later_steps_never_run,
                for_each_of_no_items_and_of_one_item,
                for_each_concurrency_bounds_the_requests_in_flight,
                a_failed_item_with_continue_on_error_leaves_an_error_at_its_index,
                a_failed_item_without_continue_on_error_fails_the_loop_naming_the_item,
                an_item_template_of_a_missing_field_fails_only_that_item,
                a_failed_loop_with_on_error_goes_to_its_handler,
                filter_stop_and_branch_inside_a_loop_end_or_route_only_that_item,
                items_over_max_items_or_not_a_list_fail_the_step_clearly,
                templates_read_the_item_the_loop_and_an_earlier_loops_output,
                an_execution_runs_its_own_copy_of_the_definition_after_an_edit,
            );
            flow_control_for!(@each $make, short_lease_config();
                a_loop_resumed_after_its_worker_died_never_resends_a_finished_item,
            );

            #[tokio::test]
            async fn for_each_of_many_items_at_concurrency_16_sends_each_exactly_once() {
                let t = $make(support::test_config()).await;
                super::for_each_of_many_items_at_concurrency_16_sends_each_exactly_once(
                    t,
                    super::MANY_ITEMS,
                )
                .await;
            }

            #[tokio::test]
            async fn a_loop_past_the_deadline_is_carried_on_by_fresh_messages() {
                let t = $make_with_budget(support::test_config(), super::SHORT_BUDGET).await;
                super::a_loop_past_the_deadline_is_carried_on_by_fresh_messages(t).await;
            }
        }
    };
    (@each $make:path, $config:expr; $($flow:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $flow() {
                super::$flow($make($config).await).await;
            }
        )*
    };
}

flow_control_for!(sqlite, support::sqlite_app, support::sqlite_app_with_budget);
flow_control_for!(
    dynamodb,
    support::dynamodb_app,
    support::dynamodb::dynamodb_app_with_budget
);

/// The largest loop a workflow may run (`max_items` at most 1,000), on both backends: about a
/// second on SQLite and five on DynamoDB + SQS under moto (one PutItem per item), so the
/// emulator needs no smaller count.
const MANY_ITEMS: usize = 1000;

/// How long a worker's claim lasts in the resume flow: short, so a dead worker's lease runs
/// out during the test.
const SHORT_LEASE_MS: i64 = 300;

fn short_lease_config() -> Config {
    Config {
        worker_lease: chrono::Duration::milliseconds(SHORT_LEASE_MS),
        ..support::test_config()
    }
}

/// The deadline flow's per-delivery budget: a little more than one item's worst case
/// (`DEADLINE_ITEM_TIMEOUT_MS`), so each delivery starts a few items and hands the rest on.
/// Both generous next to the receiver's 20 ms, so that a loaded machine does not time an item
/// out (which would postpone the execution and send the item twice).
const SHORT_BUDGET: Duration = Duration::from_millis(2100);
const DEADLINE_ITEM_TIMEOUT_MS: u64 = 2000;

/// `<execution>:<loop>[<index>].<inner>` for every index below `n`.
fn item_keys(execution_id: &str, loop_id: &str, inner: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{execution_id}:{loop_id}[{i}].{inner}"))
        .collect()
}

/// How often each `Idempotency-Key` reached the target.
fn key_counts(target: &Target) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for key in target.idempotency_keys() {
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// Asserts that the target saw exactly `expected` keys, each once.
#[track_caller]
fn assert_each_key_once(target: &Target, expected: &[String]) {
    let counts = key_counts(target);
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "keys received more than once: {repeated:?}"
    );
    let missing: Vec<_> = expected
        .iter()
        .filter(|k| !counts.contains_key(*k))
        .collect();
    assert!(missing.is_empty(), "keys never received: {missing:?}");
    assert_eq!(counts.len(), expected.len(), "unexpected keys: {counts:?}");
}

/// The loop step's output list; fails the test when it is not one.
#[track_caller]
fn loop_output<'a>(execution: &'a Value, loop_id: &str) -> &'a Vec<Value> {
    step(execution, loop_id)["output"]
        .as_array()
        .unwrap_or_else(|| panic!("the output of {loop_id} is not a list: {execution}"))
}

/// `error` of a finished execution, or of a step record.
fn error_of(value: &Value) -> &str {
    value["error"].as_str().unwrap_or_default()
}

/// Delivers until the execution is final (or `max` deliveries); returns it and how many
/// messages were handled.
async fn deliver_until_final(
    t: &TestApp,
    wf: &Workflow,
    id: &str,
    key: &str,
    max: usize,
) -> (Value, usize) {
    let mut deliveries = 0;
    for _ in 0..max {
        let now = t.execution(wf.id.as_str(), id, key).await;
        if matches!(now["status"].as_str(), Some("succeeded" | "failed")) {
            return (now, deliveries);
        }
        let n = t.worker.deliver_once().await;
        assert!(n > 0, "nothing was delivered, the execution is {now}");
        deliveries += n;
    }
    panic!("the execution was not final after {max} deliveries");
}

// 1. branch ----------------------------------------------------------------------------------

async fn branch_takes_each_case_or_the_default_and_records_only_its_path(t: TestApp) {
    let orders = Target::ok().await;
    let refunds = Target::ok().await;
    let other = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "route", "type": "branch", "cases": [
                {"when": "trigger.body.type == 'order'", "next": "orders"},
                {"when": "trigger.body.type == 'refund'", "next": "refunds"},
                {"when": "trigger.body.meta.priority == 'high'", "next": "refunds"},
            ], "default": "other"},
            {"id": "orders", "type": "http_request", "url": orders.url("/orders"),
             "next": "audit"},
            {"id": "refunds", "type": "http_request", "url": refunds.url("/refunds"),
             "next": "end"},
            {"id": "other", "type": "http_request", "url": other.url("/other")},
            {"id": "audit", "type": "transform", "output": {"audited": "{{ trigger.body.n }}"}},
        ]))
        .await;
    let wf_id = wf.id.as_str();
    let order = accept(&t, wf_id, &key, &json!({"type": "order", "n": 1})).await;
    let refund = accept(&t, wf_id, &key, &json!({"type": "refund", "n": 2})).await;
    let coupon = accept(&t, wf_id, &key, &json!({"type": "coupon", "n": 3})).await;
    // No `type` and no `meta` at all: the conditions treat a missing field (and a field of a
    // missing object) as absent, they do not fail the branch.
    let untyped = accept(&t, wf_id, &key, &json!({"n": 4})).await;
    let urgent = accept(
        &t,
        wf_id,
        &key,
        &json!({"meta": {"priority": "high"}, "n": 5}),
    )
    .await;

    assert_eq!(t.worker.drain().await, 5);

    let done = t.execution(wf_id, &order, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_statuses(&done),
        pairs(&[
            ("route", "succeeded"),
            ("orders", "succeeded"),
            ("audit", "succeeded")
        ])
    );
    assert_eq!(
        step(&done, "route")["output"],
        json!({"matched": 0, "next": "orders"})
    );
    assert_eq!(
        done["result"],
        json!({"outcome": "completed", "output": {"audited": 1}})
    );

    let done = t.execution(wf_id, &refund, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_statuses(&done),
        pairs(&[("route", "succeeded"), ("refunds", "succeeded")]),
        "`next: end` ends the run"
    );
    assert_eq!(
        step(&done, "route")["output"],
        json!({"matched": 1, "next": "refunds"})
    );
    assert_eq!(done["result"]["outcome"], "completed");
    assert_eq!(done["result"]["output"]["status"], 200);

    let done = t.execution(wf_id, &urgent, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_statuses(&done),
        pairs(&[("route", "succeeded"), ("refunds", "succeeded")])
    );
    assert_eq!(
        step(&done, "route")["output"],
        json!({"matched": 2, "next": "refunds"}),
        "the first case that holds is taken, after two that do not"
    );

    for (id, n) in [(&coupon, 3), (&untyped, 4)] {
        let done = t.execution(wf_id, id, &key).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(
            step_statuses(&done),
            pairs(&[
                ("route", "succeeded"),
                ("other", "succeeded"),
                ("audit", "succeeded")
            ]),
            "the default falls through to the step below `other`"
        );
        assert_eq!(
            step(&done, "route")["output"],
            json!({"matched": "default", "next": "other"})
        );
        assert_eq!(done["result"]["output"], json!({"audited": n}));
    }

    let order_request = orders.only_request();
    assert_eq!(
        order_request.header("idempotency-key"),
        Some(format!("{order}:orders").as_str())
    );
    assert_eq!(order_request.json(), json!({"type": "order", "n": 1}));
    assert_each_key_once(
        &refunds,
        &[format!("{refund}:refunds"), format!("{urgent}:refunds")],
    );
    assert_each_key_once(
        &other,
        &[format!("{coupon}:other"), format!("{untyped}:other")],
    );
}

// 2. on_error --------------------------------------------------------------------------------

async fn on_error_routes_a_404_to_a_handler_that_reads_the_error(t: TestApp) {
    let missing = Target::start(vec![Answer::status(404)]).await;
    let alerts = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "call", "type": "http_request", "url": missing.url("/gone"),
             "retry": quick_retry(3), "on_error": "report"},
            {"id": "use", "type": "transform", "output": {"got": "{{ steps.call.output.body }}"},
             "next": "end"},
            {"id": "report", "type": "http_request", "url": alerts.url("/alerts"),
             "body": {"failed": "{{ steps.call.error }}", "order": "{{ trigger.body.order }}"}},
            {"id": "explain", "type": "transform", "output": {
                "why": "{{ steps.call.error }}",
                "alerted": "{{ steps.report.output.status }}",
            }},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"order": 7})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_statuses(&done),
        pairs(&[
            ("call", "failed"),
            ("report", "succeeded"),
            ("explain", "succeeded")
        ]),
        "the failure went to `report`, past `use`"
    );
    let call = step(&done, "call");
    let error = error_of(call);
    assert!(error.contains("404"), "{call}");
    assert_eq!(call["attempts"], 1, "a 404 is not retried");
    assert_eq!(missing.count(), 1);

    assert_eq!(
        alerts.only_request().json(),
        json!({"failed": error, "order": 7})
    );
    assert_eq!(
        done["result"],
        json!({"outcome": "completed", "output": {"why": error, "alerted": 200}})
    );
    assert!(done["error"].is_null(), "{done}");
}

async fn a_failure_without_on_error_fails_the_execution_naming_the_step(t: TestApp) {
    let missing = Target::start(vec![Answer::status(404)]).await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "call", "type": "http_request", "url": missing.url("/gone")},
            {"id": "after", "type": "transform", "output": {"never": true}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"order": 7})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(step_statuses(&done), pairs(&[("call", "failed")]));
    let error = error_of(&done);
    assert!(error.contains("call") && error.contains("404"), "{error}");
    assert_eq!(missing.count(), 1);
}

// 3. stop ------------------------------------------------------------------------------------

async fn stop_ends_the_execution_with_its_rendered_reason_and_later_steps_never_run(t: TestApp) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "check", "type": "branch",
             "cases": [{"when": "trigger.body.amount > 1000", "next": "too_big"}],
             "default": "notify"},
            {"id": "too_big", "type": "stop",
             "reason": "amount {{ trigger.body.amount }} of order {{ trigger.body.order }} is over the limit"},
            {"id": "notify", "type": "http_request", "url": target.url("/notify")},
            {"id": "after", "type": "transform", "output": "{{ steps.notify.output.status }}"},
        ]))
        .await;
    let big = accept(
        &t,
        wf.id.as_str(),
        &key,
        &json!({"amount": 5000, "order": 9}),
    )
    .await;
    let small = accept(
        &t,
        wf.id.as_str(),
        &key,
        &json!({"amount": 10, "order": 10}),
    )
    .await;

    assert_eq!(t.worker.drain().await, 2);
    let stopped = t.execution(wf.id.as_str(), &big, &key).await;
    assert_eq!(stopped["status"], "succeeded", "{stopped}");
    assert_eq!(
        stopped["result"],
        json!({
            "outcome": "stopped",
            "stoppedBy": "too_big",
            "reason": "amount 5000 of order 9 is over the limit",
        })
    );
    assert_eq!(
        step_statuses(&stopped),
        pairs(&[("check", "succeeded"), ("too_big", "stopped")])
    );

    let done = t.execution(wf.id.as_str(), &small, &key).await;
    assert_eq!(
        step_statuses(&done),
        pairs(&[
            ("check", "succeeded"),
            ("notify", "succeeded"),
            ("after", "succeeded")
        ])
    );
    assert_eq!(
        done["result"],
        json!({"outcome": "completed", "output": 200})
    );
    assert_eq!(
        target.only_request().header("idempotency-key"),
        Some(format!("{small}:notify").as_str()),
        "the stopped execution sent nothing"
    );
}

// 4. for_each: no items, one item, many items ------------------------------------------------

async fn for_each_of_no_items_and_of_one_item(t: TestApp) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "chat", "type": "for_each", "items": "trigger.body.messages",
             "steps": [
                {"id": "post", "type": "http_request", "url": target.url("/post"),
                 "body": {"text": "{{ item }}"}},
             ]},
            {"id": "after", "type": "transform",
             "output": {"posted": "{{ steps.chat.output | length }}"}},
        ]))
        .await;
    let none = accept(&t, wf.id.as_str(), &key, &json!({"messages": []})).await;
    let one = accept(&t, wf.id.as_str(), &key, &json!({"messages": ["hello"]})).await;

    assert_eq!(t.worker.drain().await, 2);
    let empty = t.execution(wf.id.as_str(), &none, &key).await;
    assert_eq!(empty["status"], "succeeded", "{empty}");
    assert_eq!(
        step_statuses(&empty),
        pairs(&[("chat", "succeeded"), ("after", "succeeded")])
    );
    assert_eq!(step(&empty, "chat")["output"], json!([]));
    assert_eq!(empty["result"]["output"], json!({"posted": 0}));

    let single = t.execution(wf.id.as_str(), &one, &key).await;
    assert_eq!(single["status"], "succeeded", "{single}");
    let output = loop_output(&single, "chat");
    assert_eq!(output.len(), 1, "{single}");
    assert_eq!(output[0]["status"], 200);
    assert_eq!(output[0]["body"], json!({"ok": true}));
    assert_eq!(single["result"]["output"], json!({"posted": 1}));

    let request = target.only_request();
    assert_eq!(request.json(), json!({"text": "hello"}));
    assert_eq!(
        request.header("idempotency-key"),
        Some(format!("{one}:chat[0].post").as_str())
    );
    // The item's own record, with its inner step under its path.
    let items = t
        .app
        .store()
        .list_items(
            &wf.id,
            &ExecutionId::parse(&one).expect("id"),
            "chat",
            None,
            10,
        )
        .await
        .expect("list items");
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].status, ItemStatus::Succeeded);
    assert_eq!(items[0].steps.len(), 1);
    assert_eq!(items[0].steps[0].path.as_deref(), Some("chat[0].post"));
}

async fn for_each_of_many_items_at_concurrency_16_sends_each_exactly_once(t: TestApp, n: usize) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "fan", "type": "for_each", "items": "trigger.body.ids",
             "max_items": 1000, "concurrency": 16,
             "steps": [
                {"id": "send", "type": "http_request", "url": target.url("/send"),
                 "body": {"id": "{{ item }}"}},
             ]},
        ]))
        .await;
    let ids: Vec<usize> = (0..n).collect();
    let id = accept(&t, wf.id.as_str(), &key, &json!({ "ids": ids })).await;

    let started = Instant::now();
    let (done, deliveries) = deliver_until_final(&t, &wf, &id, &key, 5).await;
    eprintln!(
        "for_each of {n} items at concurrency 16: {:?} in {deliveries} deliveries",
        started.elapsed()
    );
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(deliveries, 1, "the production budget fits the whole loop");

    assert_each_key_once(&target, &item_keys(&id, "fan", "send", n));
    for request in target.received() {
        let key = request.header("idempotency-key").unwrap_or_default();
        let index = key
            .rsplit_once('[')
            .and_then(|(_, rest)| rest.split_once(']'))
            .and_then(|(i, _)| i.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no index in {key:?}"));
        assert_eq!(request.json(), json!({"id": index}), "{key}");
    }
    let output = loop_output(&done, "fan");
    assert_eq!(output.len(), n);
    for (i, entry) in output.iter().enumerate() {
        // Entries past the loop output's byte cap are replaced; the others are responses.
        assert!(
            entry["status"] == 200 || *entry == json!({"truncated": true}),
            "entry {i}: {entry}"
        );
    }
    assert_eq!(output[0]["status"], 200);
}

// 5. concurrency -----------------------------------------------------------------------------

async fn for_each_concurrency_bounds_the_requests_in_flight(t: TestApp) {
    let slow = || {
        Target::start(vec![
            Answer::json(200, json!({"ok": true})).after(Duration::from_millis(50)),
        ])
    };
    let wide = slow().await;
    let narrow = slow().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "wide", "type": "for_each", "items": "trigger.body.ids", "concurrency": 16,
             "steps": [{"id": "send", "type": "http_request", "url": wide.url("/wide")}]},
            {"id": "narrow", "type": "for_each", "items": "trigger.body.ids[:6]",
             "steps": [{"id": "send2", "type": "http_request", "url": narrow.url("/narrow")}]},
        ]))
        .await;
    let ids: Vec<usize> = (0..48).collect();
    let id = accept(&t, wf.id.as_str(), &key, &json!({ "ids": ids })).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_each_key_once(&wide, &item_keys(&id, "wide", "send", 48));
    assert_each_key_once(&narrow, &item_keys(&id, "narrow", "send2", 6));
    let most = wide.max_in_flight();
    eprintln!("concurrency 16: at most {most} requests in flight");
    assert!(
        (2..=16).contains(&most),
        "concurrency 16 had {most} requests in flight at once"
    );
    assert_eq!(
        narrow.max_in_flight(),
        1,
        "concurrency 1 overlapped requests"
    );
}

// 6. failed items ----------------------------------------------------------------------------

/// A target that answers 400 to `/items/3` and 200 to everything else.
async fn target_failing_item_3() -> Target {
    Target::start_routed(
        vec![Answer::json(200, json!({"ok": true}))],
        vec![("/items/3", Answer::json(400, json!({"bad": 3})))],
    )
    .await
}

fn loop_over_items(url: &str, continue_on_error: bool) -> Value {
    json!([
        {"id": "each", "type": "for_each", "items": "trigger.body.items",
         "continue_on_error": continue_on_error,
         "steps": [
            {"id": "post", "type": "http_request", "url": url,
             "body": {"n": "{{ item }}"}},
         ]},
    ])
}

async fn a_failed_item_with_continue_on_error_leaves_an_error_at_its_index(t: TestApp) {
    let target = target_failing_item_3().await;
    let (wf, key) = t
        .workflow_from_steps(loop_over_items(&target.url("/items/{{ item }}"), true))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"items": [1, 2, 3, 4]})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(step_statuses(&done), pairs(&[("each", "succeeded")]));
    let output = loop_output(&done, "each");
    assert_eq!(output.len(), 4, "{done}");
    for i in [0, 1, 3] {
        assert_eq!(output[i]["status"], 200, "item {i}: {}", output[i]);
    }
    let entry = output[2].as_object().expect("an object");
    assert_eq!(entry.len(), 1, "only the error: {entry:?}");
    let error = entry["error"].as_str().unwrap_or_default();
    assert!(error.contains("post") && error.contains("400"), "{error}");
    assert_each_key_once(&target, &item_keys(&id, "each", "post", 4));
}

async fn a_failed_item_without_continue_on_error_fails_the_loop_naming_the_item(t: TestApp) {
    let target = target_failing_item_3().await;
    let (wf, key) = t
        .workflow_from_steps(loop_over_items(&target.url("/items/{{ item }}"), false))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"items": [1, 2, 3, 4]})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(step_statuses(&done), pairs(&[("each", "failed")]));
    let error = error_of(step(&done, "each"));
    assert!(
        error.contains("item 2 failed") && error.contains("400"),
        "the loop's error does not name the item (index 2): {error}"
    );
    assert!(error_of(&done).contains("each"), "{done}");
    let paths: Vec<String> = target.received().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/items/1", "/items/2", "/items/3"],
        "at concurrency 1 no item starts after the failure"
    );
}

async fn an_item_template_of_a_missing_field_fails_only_that_item(t: TestApp) {
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "greet", "type": "for_each", "items": "trigger.body.people",
             "continue_on_error": true,
             "steps": [
                {"id": "hello", "type": "transform", "output": "hi {{ item.name }}"},
             ]},
        ]))
        .await;
    let people = json!([{"name": "ann"}, {"nick": "b"}, {"name": "cy"}]);
    let id = accept(&t, wf.id.as_str(), &key, &json!({ "people": people })).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let output = loop_output(&done, "greet");
    assert_eq!(output[0], "hi ann");
    assert_eq!(output[2], "hi cy");
    let error = output[1]["error"].as_str().unwrap_or_default();
    assert!(error.contains("item.name"), "{}", output[1]);
}

async fn a_failed_loop_with_on_error_goes_to_its_handler(t: TestApp) {
    let target = target_failing_item_3().await;
    let alerts = Target::ok().await;
    let mut steps = loop_over_items(&target.url("/items/{{ item }}"), false);
    steps[0]["on_error"] = json!("report");
    steps.as_array_mut().expect("list").extend([
        json!({"id": "fine", "type": "transform", "output": "all sent", "next": "end"}),
        json!({"id": "report", "type": "http_request", "url": alerts.url("/alerts"),
               "body": {"failed": "{{ steps.each.error }}"}}),
    ]);
    let (wf, key) = t.workflow_from_steps(steps).await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"items": [1, 2, 3, 4]})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_statuses(&done),
        pairs(&[("each", "failed"), ("report", "succeeded")])
    );
    let error = error_of(step(&done, "each"));
    assert!(error.contains("item 2 failed"), "{error}");
    assert_eq!(alerts.only_request().json(), json!({"failed": error}));
}

async fn filter_stop_and_branch_inside_a_loop_end_or_route_only_that_item(t: TestApp) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "each", "type": "for_each", "items": "trigger.body.orders", "as": "order",
             "steps": [
                {"id": "active", "type": "filter", "when": "order.active"},
                {"id": "size", "type": "branch",
                 "cases": [{"when": "order.amount > 100", "next": "halt"}],
                 "default": "send"},
                {"id": "halt", "type": "stop", "reason": "order {{ order.id }} is too big"},
                {"id": "send", "type": "http_request", "url": target.url("/send"),
                 "body": {"id": "{{ order.id }}"}},
             ]},
            {"id": "after", "type": "transform", "output": {"seen": "{{ steps.each.output | length }}"}},
        ]))
        .await;
    let orders = json!([
        {"id": 1, "active": true, "amount": 5},
        {"id": 2, "active": false, "amount": 5},
        {"id": 3, "active": true, "amount": 500},
        // No `active`: the filter treats the missing field as absent (false).
        {"id": 4, "amount": 5},
        {"id": 5, "active": true, "amount": 7},
    ]);
    let id = accept(&t, wf.id.as_str(), &key, &json!({ "orders": orders })).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["result"],
        json!({"outcome": "completed", "output": {"seen": 5}}),
        "a filter or stop inside the loop ends only its item"
    );
    let output = loop_output(&done, "each");
    assert_eq!(output[0]["status"], 200);
    assert_eq!(output[1], json!({"passed": false}));
    assert_eq!(output[2], json!({"reason": "order 3 is too big"}));
    assert_eq!(output[3], json!({"passed": false}));
    assert_eq!(output[4]["status"], 200);
    let mut sent: Vec<(String, Value)> = target
        .received()
        .iter()
        .map(|r| {
            (
                r.header("idempotency-key").unwrap_or_default().to_owned(),
                r.json(),
            )
        })
        .collect();
    sent.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        sent,
        vec![
            (format!("{id}:each[0].send"), json!({"id": 1})),
            (format!("{id}:each[4].send"), json!({"id": 5})),
        ]
    );
    let items = t
        .app
        .store()
        .list_items(
            &wf.id,
            &ExecutionId::parse(&id).expect("id"),
            "each",
            None,
            10,
        )
        .await
        .expect("list items");
    let paths: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            item.steps
                .iter()
                .map(|s| format!("{}={}", s.path.as_deref().unwrap_or("?"), s.status.as_str()))
                .collect()
        })
        .collect();
    assert_eq!(
        paths,
        [
            vec![
                "each[0].active=succeeded",
                "each[0].size=succeeded",
                "each[0].send=succeeded"
            ],
            vec!["each[1].active=filtered"],
            vec![
                "each[2].active=succeeded",
                "each[2].size=succeeded",
                "each[2].halt=stopped"
            ],
            vec!["each[3].active=filtered"],
            vec![
                "each[4].active=succeeded",
                "each[4].size=succeeded",
                "each[4].send=succeeded"
            ],
        ]
    );
}

// 7. items that cannot run -------------------------------------------------------------------

async fn items_over_max_items_or_not_a_list_fail_the_step_clearly(t: TestApp) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "each", "type": "for_each", "items": "trigger.body.list", "max_items": 3,
             "steps": [{"id": "send", "type": "http_request", "url": target.url("/send")}]},
        ]))
        .await;
    let cases = [
        (
            json!({"list": [1, 2, 3, 4]}),
            vec!["4 items", "max_items (3)"],
        ),
        (
            json!({"list": "abc"}),
            vec!["items", "a string, not a list"],
        ),
        (
            json!({"list": {"a": 1}}),
            vec!["items", "an object, not a list"],
        ),
        (json!({"other": 1}), vec!["items", "trigger.body.list"]),
    ];
    let mut ids = Vec::new();
    for (body, _) in &cases {
        ids.push(accept(&t, wf.id.as_str(), &key, body).await);
    }
    let exact = accept(&t, wf.id.as_str(), &key, &json!({"list": [1, 2, 3]})).await;

    assert_eq!(t.worker.drain().await, cases.len() + 1);
    for ((body, expected), id) in cases.iter().zip(&ids) {
        let done = t.execution(wf.id.as_str(), id, &key).await;
        assert_eq!(done["status"], "failed", "{body}: {done}");
        assert_eq!(step_statuses(&done), pairs(&[("each", "failed")]));
        let error = error_of(step(&done, "each"));
        for part in expected {
            assert!(error.contains(part), "{body}: {part:?} not in {error:?}");
        }
    }
    let done = t.execution(wf.id.as_str(), &exact, &key).await;
    assert_eq!(
        done["status"], "succeeded",
        "max_items itself is allowed: {done}"
    );
    assert_each_key_once(&target, &item_keys(&exact, "each", "send", 3));
}

// 8. templates inside and after a loop -------------------------------------------------------

async fn templates_read_the_item_the_loop_and_an_earlier_loops_output(t: TestApp) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "chat", "type": "for_each", "items": "trigger.body.messages", "as": "msg",
             "concurrency": 2,
             "steps": [
                {"id": "post", "type": "http_request",
                 "url": target.url("/rooms/{{ msg.room }}"),
                 "body": {
                    "text": "{{ msg.text }}",
                    "n": "{{ loop.index }}",
                    "n0": "{{ loop.index0 }}",
                    "first": "{{ loop.first }}",
                    "last": "{{ loop.last }}",
                    "of": "{{ loop.length }}",
                    "line": "{{ loop.index }}/{{ loop.length }}: {{ msg.text }}",
                    "order": "{{ trigger.body.order }}",
                 }},
                {"id": "shape", "type": "transform", "output": {
                    "room": "{{ msg.room }}",
                    "n": "{{ loop.index }}",
                    "status": "{{ steps.post.output.status }}",
                }},
             ]},
            {"id": "summary", "type": "http_request", "url": target.url("/summary"),
             "body": {
                "firstRoom": "{{ steps.chat.output[0].room }}",
                "lastN": "{{ steps.chat.output[2].n }}",
                "count": "{{ steps.chat.output | length }}",
             }},
        ]))
        .await;
    let messages = json!([
        {"room": "ops", "text": "deploy"},
        {"room": "dev", "text": "review \"this\""},
        {"room": "ops", "text": "done ✓"},
    ]);
    let id = accept(
        &t,
        wf.id.as_str(),
        &key,
        &json!({"order": 5, "messages": messages}),
    )
    .await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step(&done, "chat")["output"],
        json!([
            {"room": "ops", "n": 1, "status": 200},
            {"room": "dev", "n": 2, "status": 200},
            {"room": "ops", "n": 3, "status": 200},
        ])
    );

    let by_key: BTreeMap<String, support::target::Received> = target
        .received()
        .into_iter()
        .map(|r| {
            (
                r.header("idempotency-key").unwrap_or_default().to_owned(),
                r,
            )
        })
        .collect();
    assert_eq!(by_key.len(), 4, "{:?}", by_key.keys());
    for (i, m) in messages.as_array().expect("list").iter().enumerate() {
        let request = &by_key[&format!("{id}:chat[{i}].post")];
        assert_eq!(
            request.path,
            format!("/rooms/{}", m["room"].as_str().unwrap())
        );
        let text = m["text"].as_str().unwrap();
        assert_eq!(
            request.json(),
            json!({
                "text": text,
                "n": i + 1,
                "n0": i,
                "first": i == 0,
                "last": i == 2,
                "of": 3,
                "line": format!("{}/3: {text}", i + 1),
                "order": 5,
            })
        );
    }
    assert_eq!(
        by_key[&format!("{id}:summary")].json(),
        json!({"firstRoom": "ops", "lastN": 3, "count": 3})
    );
}

// 9. a loop resumed after its worker died ----------------------------------------------------

async fn a_loop_resumed_after_its_worker_died_never_resends_a_finished_item(t: TestApp) {
    const ITEMS: usize = 12;
    const FINISHED_BEFORE_KILL: usize = 5;
    // Items 0..5 are answered; item 5's request is never answered (the worker dies waiting);
    // everything after, including item 5 sent again, is answered.
    let mut script = vec![Answer::json(200, json!({"ok": true})); FINISHED_BEFORE_KILL];
    script.push(Answer::Hang);
    script.push(Answer::json(200, json!({"ok": true})));
    let target = Target::start(script).await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "fan", "type": "for_each", "items": "trigger.body.ids",
             "steps": [
                {"id": "send", "type": "http_request", "url": target.url("/send"),
                 "timeout_ms": 30000, "retry": {"max_attempts": 1}},
             ]},
        ]))
        .await;
    let ids: Vec<usize> = (0..ITEMS).collect();
    let id = accept(&t, wf.id.as_str(), &key, &json!({ "ids": ids })).await;
    let execution_id = ExecutionId::parse(&id).expect("id");

    // A worker takes the execution and dies while item 5's request waits for its answer.
    let item = WorkItem {
        workflow_id: wf.id.clone(),
        execution_id,
    };
    let doomed = support::test_worker(
        t.app.store().clone(),
        chrono::Duration::milliseconds(SHORT_LEASE_MS),
    );
    let run = tokio::spawn(async move {
        let delivery = DeliveryCount {
            receive_count: 1,
            max_receives: 5,
        };
        doomed.process(&item, delivery).await
    });
    target.wait_for(FINISHED_BEFORE_KILL + 1).await;
    run.abort();
    assert!(run.await.is_err(), "the worker was to die mid-loop");
    let before_kill = key_counts(&target);
    assert_eq!(
        before_kill.len(),
        FINISHED_BEFORE_KILL + 1,
        "{before_kill:?}"
    );

    let stranded = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(stranded["status"], "running", "{stranded}");
    let items = t
        .app
        .store()
        .list_items(&wf.id, &execution_id, "fan", None, ITEMS)
        .await
        .expect("list items");
    let finished: Vec<u32> = items
        .iter()
        .filter(|r| r.status.is_final())
        .map(|r| r.index)
        .collect();
    assert_eq!(
        finished,
        (0..FINISHED_BEFORE_KILL as u32).collect::<Vec<_>>(),
        "each item's record is stored as it finishes"
    );

    // The queue's message comes back once the dead worker's lease is over.
    tokio::time::sleep(Duration::from_millis(2 * SHORT_LEASE_MS as u64)).await;
    assert_eq!(t.worker.deliver_once().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 2, "taken over by a second attempt");
    assert_eq!(loop_output(&done, "fan").len(), ITEMS);

    let counts = key_counts(&target);
    let expected = item_keys(&id, "fan", "send", ITEMS);
    for (index, key) in expected.iter().enumerate() {
        let want = if index == FINISHED_BEFORE_KILL { 2 } else { 1 };
        assert_eq!(
            counts.get(key).copied().unwrap_or(0),
            want,
            "item {index} ({key}): {counts:?}"
        );
    }
    assert_eq!(counts.len(), ITEMS, "{counts:?}");
}

// 10. a loop carried over several deliveries by the run's deadline ---------------------------

async fn a_loop_past_the_deadline_is_carried_on_by_fresh_messages(t: TestApp) {
    const ITEMS: usize = 40;
    let target = Target::start(vec![
        Answer::json(200, json!({"ok": true})).after(Duration::from_millis(20)),
    ])
    .await;
    let finish = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "fan", "type": "for_each", "items": "trigger.body.ids",
             "steps": [
                {"id": "send", "type": "http_request", "url": target.url("/send"),
                 "timeout_ms": DEADLINE_ITEM_TIMEOUT_MS, "retry": {"max_attempts": 1}},
             ]},
            {"id": "done", "type": "http_request", "url": finish.url("/done"),
             "timeout_ms": DEADLINE_ITEM_TIMEOUT_MS, "retry": {"max_attempts": 1},
             "body": {"sent": "{{ steps.fan.output | length }}"}},
        ]))
        .await;
    let ids: Vec<usize> = (0..ITEMS).collect();
    let id = accept(&t, wf.id.as_str(), &key, &json!({ "ids": ids })).await;

    let started = Instant::now();
    let (done, deliveries) = deliver_until_final(&t, &wf, &id, &key, 100).await;
    eprintln!(
        "deadline flow: {ITEMS} items in {deliveries} deliveries, {:?}",
        started.elapsed()
    );
    assert_eq!(done["status"], "succeeded", "{done}");
    let max_receives = t.worker.max_receives() as usize;
    assert!(
        deliveries > max_receives,
        "the loop took {deliveries} deliveries, not more than the dead-letter limit \
         ({max_receives}): the test does not show that carrying on never counts a receive"
    );
    assert_eq!(
        done["attempts"].as_u64(),
        Some(deliveries as u64),
        "each delivery claimed once"
    );
    assert_each_key_once(&target, &item_keys(&id, "fan", "send", ITEMS));
    assert_eq!(finish.only_request().json(), json!({"sent": ITEMS}));
    assert_eq!(
        step_statuses(&done),
        pairs(&[("fan", "succeeded"), ("done", "succeeded")])
    );
}

// 11. an edit of the workflow does not change a running execution's path ---------------------

async fn an_execution_runs_its_own_copy_of_the_definition_after_an_edit(t: TestApp) {
    let first = Target::start(vec![
        Answer::status(503).with_header("retry-after", "1"),
        Answer::json(200, json!({"ok": true})),
    ])
    .await;
    let old_next = Target::ok().await;
    let new_next = Target::ok().await;
    let steps = |next_url: String, next_id: &str| {
        json!([
            {"id": "first", "type": "http_request", "url": first.url("/first"),
             "retry": {"max_attempts": 1}},
            {"id": next_id, "type": "http_request", "url": next_url},
        ])
    };
    let (wf, key) = t
        .workflow_from_steps(steps(old_next.url("/old"), "second"))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    assert_eq!(t.worker.deliver_once().await, 1);
    let waiting = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert_eq!(step_statuses(&waiting), pairs(&[("first", "retrying")]));

    // The workflow is edited while the execution waits: its second step is now another one.
    let file = WorkflowFile::parse(
        &json!({
            "name": "edited",
            "api_key": wf.api_key_name.to_string(),
            "steps": steps(new_next.url("/new"), "replacement"),
        })
        .to_string(),
    )
    .expect("the edited workflow parses");
    t.app
        .update_workflow(wf.id.as_str(), NewWorkflow::from(file))
        .await
        .expect("update workflow");

    let (done, _) = deliver_until_final(&t, &wf, &id, &key, 5).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_statuses(&done),
        pairs(&[("first", "succeeded"), ("second", "succeeded")]),
        "the execution followed the definition it started with"
    );
    assert_eq!(
        old_next.only_request().header("idempotency-key"),
        Some(format!("{id}:second").as_str())
    );
    assert_eq!(new_next.count(), 0, "the edit reached a running execution");

    // A webhook after the edit runs the new definition.
    let later = accept(&t, wf.id.as_str(), &key, &json!({"n": 2})).await;
    let (done, _) = deliver_until_final(&t, &wf, &later, &key, 5).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_statuses(&done),
        pairs(&[("first", "succeeded"), ("replacement", "succeeded")])
    );
    assert_eq!(old_next.count(), 1);
    assert_eq!(new_next.count(), 1);
}
