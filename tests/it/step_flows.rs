//! What a workflow's steps do, end to end: a webhook arrives, the worker runs the steps through
//! the backend's real queue (the SQLite queue, or SQS handed to the worker Lambda's handler),
//! and the execution record shows what each step did. HTTP steps call servers the tests start
//! on 127.0.0.1; nothing here contacts any other address.

use crate::support;

use axum::http::StatusCode;
use serde_json::{Value, json};

use support::TestApp;
use support::target::{Answer, Target};
use webhook_trigger::config::Config;
use webhook_trigger::domain::{ExecutionId, WorkflowFile};
use webhook_trigger::ports::WorkItem;
use webhook_trigger::worker::DeliveryCount;

macro_rules! step_flows_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            step_flows_for!(@each $make, support::test_config();
                filter_false_ends_the_execution_filtered_and_later_steps_never_run,
                filter_true_lets_the_next_step_run_and_headers_reach_templates_without_the_key,
                transform_renders_typed_values_and_text_with_quotes_newlines_and_unicode,
                transform_of_a_missing_field_fails_the_step_naming_the_field,
                http_step_sends_default_and_templated_requests_and_records_them_redacted,
                http_step_retries_a_503_twice_then_records_the_success,
                http_step_waits_out_a_short_retry_after_and_then_succeeds,
                http_step_postpones_to_a_later_delivery_when_retry_after_exceeds_its_backoff_cap,
                http_step_that_never_answers_is_retried_on_each_delivery_then_fails_on_the_last,
                redelivery_resumes_at_the_retrying_step_and_never_reruns_a_finished_one,
                a_resumed_run_sees_a_continued_failure_as_the_live_run_did,
                http_step_to_127_0_0_2_is_refused_and_not_retried,
                http_step_redirected_to_127_0_0_2_is_refused,
                failing_step_with_continue_on_error_lets_the_next_step_run,
                failing_step_without_continue_on_error_stops_the_run,
                bad_step_definitions_are_refused_by_the_app_naming_the_field,
            );
            step_flows_for!(@each $make, short_lease_config();
                takeover_after_a_stale_lease_resumes_after_the_finished_step,
            );
            step_flows_for!(@each $make, support::email::shared_sink().config(support::test_config());
                send_email_sends_the_rendered_message_once_and_records_it,
                send_email_with_a_line_break_in_its_subject_fails_and_sends_nothing,
                a_redelivery_after_send_email_resumes_after_it_and_never_sends_again,
            );
            step_flows_for!(@each $make, unreachable_smtp_config();
                send_email_to_an_unreachable_server_is_retried_on_a_later_delivery,
            );
            step_flows_for!(@each $make, support::test_config();
                send_email_without_a_transport_fails_with_a_setup_error_not_retried,
            );
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

step_flows_for!(sqlite, support::sqlite_app);
step_flows_for!(dynamodb, support::dynamodb_app);

/// How long a worker's claim lasts in the takeover flow: short, so a dead worker's lease runs
/// out during the test.
const SHORT_LEASE_MS: i64 = 300;

fn short_lease_config() -> Config {
    Config {
        worker_lease: chrono::Duration::milliseconds(SHORT_LEASE_MS),
        ..support::test_config()
    }
}

/// Retries that wait a millisecond, so a retrying step comes back at once.
pub(crate) fn quick_retry(max_attempts: u32) -> Value {
    json!({"max_attempts": max_attempts, "initial_backoff_ms": 1, "max_backoff_ms": 1})
}

/// Accepts one webhook; returns the execution id.
pub(crate) async fn accept(t: &TestApp, workflow_id: &str, key: &str, body: &Value) -> String {
    let r = t
        .post_webhook(workflow_id, Some(key), &body.to_string())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    r.execution_id()
}

/// (id, status) of each step record, in order.
pub(crate) fn step_statuses(execution: &Value) -> Vec<(String, String)> {
    execution["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {execution}"))
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or_default().to_owned(),
                s["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub(crate) fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// The record of step `id`; fails the test when there is none.
#[track_caller]
pub(crate) fn step<'a>(execution: &'a Value, id: &str) -> &'a Value {
    execution["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no record of step {id} in {execution}"))
}

// 1. filter ----------------------------------------------------------------------------------

async fn filter_false_ends_the_execution_filtered_and_later_steps_never_run(t: TestApp) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "only_push", "type": "filter",
             "when": "trigger.headers['x-github-event'] == 'push'"},
            {"id": "notify", "type": "http_request", "url": target.url("/hook")},
        ]))
        .await;
    let r = t
        .post_webhook_with(
            wf.id.as_str(),
            &key,
            "",
            &[("x-github-event", "issues")],
            r#"{"action": "opened"}"#,
        )
        .await;
    let id = r.execution_id();

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["result"],
        json!({"outcome": "filtered", "filteredBy": "only_push"})
    );
    assert_eq!(step_statuses(&done), pairs(&[("only_push", "filtered")]));
    assert_eq!(target.count(), 0, "a step after the filter ran");
}

async fn filter_true_lets_the_next_step_run_and_headers_reach_templates_without_the_key(
    t: TestApp,
) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "only_push", "type": "filter",
             "when": "trigger.headers['x-github-event'] == 'push'"},
            {"id": "notify", "type": "http_request", "url": target.url("/hook"),
             "body": {"event": "{{ trigger.headers['x-github-event'] }}"}},
        ]))
        .await;
    let r = t
        .post_webhook_with(
            wf.id.as_str(),
            &key,
            "",
            &[("x-github-event", "push")],
            r#"{"ref": "main"}"#,
        )
        .await;
    let id = r.execution_id();

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["result"]["outcome"], "completed");
    assert_eq!(
        step_statuses(&done),
        pairs(&[("only_push", "succeeded"), ("notify", "succeeded")])
    );
    assert_eq!(target.only_request().json(), json!({"event": "push"}));

    let headers = done["trigger"]["headers"]
        .as_object()
        .unwrap_or_else(|| panic!("no trigger.headers in {done}"));
    assert_eq!(headers["x-github-event"], "push");
    assert!(
        !headers.keys().any(|h| h.eq_ignore_ascii_case("x-api-key")),
        "the API key was stored with the execution: {headers:?}"
    );
    assert!(
        !done.to_string().contains(&key),
        "the API key's value is in the execution: {done}"
    );
}

// 2. transform -------------------------------------------------------------------------------

const AWKWARD_NOTE: &str = "she said \"ship it\"\nthen left: ça va? 🚀 {{ not a template }}";

async fn transform_renders_typed_values_and_text_with_quotes_newlines_and_unicode(t: TestApp) {
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "shape", "type": "transform", "output": {
                "id": "{{ trigger.body.order.id }}",
                "total": "{{ trigger.body.order.total }}",
                "paid": "{{ trigger.body.order.paid }}",
                "items": "{{ trigger.body.order.items }}",
                "nothing": "{{ trigger.body.order.coupon }}",
                "note": "{{ trigger.body.note }}",
                "line": "order {{ trigger.body.order.id }}: {{ trigger.body.note }}",
                "plain": "kept as written",
            }},
        ]))
        .await;
    let payload = json!({
        "order": {"id": 42, "total": 19.5, "paid": true, "items": ["a", "b"], "coupon": null},
        "note": AWKWARD_NOTE,
    });
    let id = accept(&t, wf.id.as_str(), &key, &payload).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let expected = json!({
        "id": 42,
        "total": 19.5,
        "paid": true,
        "items": ["a", "b"],
        "nothing": null,
        "note": AWKWARD_NOTE,
        "line": format!("order 42: {AWKWARD_NOTE}"),
        "plain": "kept as written",
    });
    assert_eq!(step(&done, "shape")["output"], expected);
    assert_eq!(
        done["result"],
        json!({"outcome": "completed", "output": expected})
    );
}

async fn transform_of_a_missing_field_fails_the_step_naming_the_field(t: TestApp) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "shape", "type": "transform",
             "output": {"customer": "{{ trigger.body.customer.email }}"}},
            {"id": "notify", "type": "http_request", "url": target.url("/hook")},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"order": 1})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(step_statuses(&done), pairs(&[("shape", "failed")]));
    let error = step(&done, "shape")["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("output.customer") && error.contains("trigger.body.customer"),
        "the error does not name the field: {error}"
    );
    let failure = done["error"].as_str().unwrap_or_default();
    assert!(failure.contains("shape"), "{failure}");
    assert_eq!(target.count(), 0);
}

// 3. http_request ----------------------------------------------------------------------------

async fn http_step_sends_default_and_templated_requests_and_records_them_redacted(t: TestApp) {
    let target = Target::start(vec![
        Answer::json(201, json!({"received": true})).with_header("x-request-id", "req-7"),
    ])
    .await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "forward", "type": "http_request", "url": target.url("/forward")},
            {"id": "update", "type": "http_request", "method": "PUT",
             "url": target.url("/orders/{{ trigger.body.order.id }}"),
             "headers": {
                 "Authorization": "Bearer {{ trigger.body.token }}",
                 "X-Event": "{{ trigger.headers['x-github-event'] }}",
             },
             "query": {"source": "{{ trigger.query.src }}", "q": "a b&c"},
             "body": {
                 "id": "{{ trigger.body.order.id }}",
                 "note": "{{ trigger.body.note }}",
                 "forwarded": "{{ steps.forward.output.status }}",
             }},
        ]))
        .await;
    let payload = json!({"order": {"id": 42}, "note": AWKWARD_NOTE, "token": "s3cret-token"});
    let r = t
        .post_webhook_with(
            wf.id.as_str(),
            &key,
            "?src=github",
            &[("x-github-event", "push")],
            &payload.to_string(),
        )
        .await;
    let id = r.execution_id();

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    let received = target.received();
    assert_eq!(received.len(), 2, "{received:?}");
    let forward = &received[0];
    assert_eq!(
        (forward.method.as_str(), forward.path.as_str()),
        ("POST", "/forward")
    );
    assert_eq!(forward.json(), payload, "the default body is the trigger's");
    assert_eq!(forward.header("content-type"), Some("application/json"));
    assert_eq!(
        forward.header("idempotency-key"),
        Some(format!("{id}:forward").as_str())
    );

    let update = &received[1];
    assert_eq!(
        (update.method.as_str(), update.path.as_str()),
        ("PUT", "/orders/42")
    );
    assert_eq!(
        update.query.get("source").map(String::as_str),
        Some("github")
    );
    assert_eq!(update.query.get("q").map(String::as_str), Some("a b&c"));
    assert_eq!(update.header("authorization"), Some("Bearer s3cret-token"));
    assert_eq!(update.header("x-event"), Some("push"));
    assert_eq!(
        update.header("idempotency-key"),
        Some(format!("{id}:update").as_str())
    );
    assert_eq!(
        update.json(),
        json!({"id": 42, "note": AWKWARD_NOTE, "forwarded": 201})
    );

    let output = &step(&done, "forward")["output"];
    assert_eq!(output["status"], 201);
    assert_eq!(output["body"], json!({"received": true}));
    assert_eq!(output["headers"]["x-request-id"], "req-7");
    assert!(output["elapsedMs"].is_u64(), "{output}");

    let recorded = &step(&done, "update")["request"];
    assert_eq!(recorded["method"], "PUT");
    assert_eq!(recorded["headers"]["Authorization"], "[redacted]");
    assert_eq!(recorded["headers"]["X-Event"], "push");
    assert!(
        recorded["url"]
            .as_str()
            .unwrap_or_default()
            .contains("source=github"),
        "{recorded}"
    );
    assert!(
        !recorded.to_string().contains("s3cret-token"),
        "the recorded request shows the secret: {recorded}"
    );
}

// 4, 5. retries within one delivery ----------------------------------------------------------

async fn http_step_retries_a_503_twice_then_records_the_success(t: TestApp) {
    let target = Target::start(vec![
        Answer::status(503),
        Answer::status(503),
        Answer::json(200, json!({"ok": true})),
    ])
    .await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "call", "type": "http_request", "url": target.url("/flaky"),
             "retry": quick_retry(3)},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 1, "retried within one delivery");
    let call = step(&done, "call");
    assert_eq!(call["status"], "succeeded");
    assert_eq!(call["attempts"], 3);
    assert_eq!(call["output"]["status"], 200);
    let keys: Vec<Option<String>> = target
        .received()
        .iter()
        .map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys, vec![Some(format!("{id}:call")); 3]);
}

async fn http_step_waits_out_a_short_retry_after_and_then_succeeds(t: TestApp) {
    let target = Target::start(vec![
        Answer::status(429).with_header("retry-after", "1"),
        Answer::json(200, json!({"ok": true})),
    ])
    .await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "call", "type": "http_request", "url": target.url("/limited"),
             "retry": {"max_attempts": 2, "initial_backoff_ms": 1, "max_backoff_ms": 5000}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(step(&done, "call")["attempts"], 2);
    assert_eq!(target.count(), 2);
}

/// A `Retry-After` longer than the step may wait is not cut short by the step's own (tiny)
/// backoff: the step stops at one request and the message comes back later.
async fn http_step_postpones_to_a_later_delivery_when_retry_after_exceeds_its_backoff_cap(
    t: TestApp,
) {
    let target = Target::start(vec![
        Answer::status(429).with_header("retry-after", "1"),
        Answer::json(200, json!({"ok": true})),
    ])
    .await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "call", "type": "http_request", "url": target.url("/limited"),
             "retry": {"max_attempts": 3, "initial_backoff_ms": 1, "max_backoff_ms": 500}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    assert_eq!(t.worker.deliver_once().await, 1);
    assert_eq!(target.count(), 1, "retried before the Retry-After was over");
    let waiting = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert_eq!(step(&waiting, "call")["status"], "retrying");
    assert_eq!(step(&waiting, "call")["output"]["status"], 429);

    assert_eq!(t.worker.deliver_once().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 2);
    assert_eq!(step(&done, "call")["status"], "succeeded");
    assert_eq!(target.count(), 2);
}

// 6. a target that never answers: redelivered, then failed on the last delivery --------------

async fn http_step_that_never_answers_is_retried_on_each_delivery_then_fails_on_the_last(
    t: TestApp,
) {
    let target = Target::start(vec![Answer::Hang]).await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "slow", "type": "http_request", "url": target.url("/never"),
             "timeout_ms": 200, "retry": quick_retry(1)},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;
    let last = t.worker.max_receives();
    assert!(last >= 2, "the queue must deliver at least twice");

    for delivery in 1..last {
        assert_eq!(t.worker.deliver_once().await, 1, "delivery {delivery}");
        let waiting = t.execution(wf.id.as_str(), &id, &key).await;
        assert_eq!(
            waiting["status"], "queued",
            "delivery {delivery}: {waiting}"
        );
        let slow = step(&waiting, "slow");
        assert_eq!(slow["status"], "retrying", "delivery {delivery}: {waiting}");
        assert_eq!(slow["attempts"], 1);
        assert!(
            slow["error"]
                .as_str()
                .unwrap_or_default()
                .contains("no answer"),
            "{slow}"
        );
        assert_eq!(target.count() as u32, delivery);
    }

    assert_eq!(t.worker.deliver_once().await, 1, "the last delivery");
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["attempts"], last);
    assert_eq!(step_statuses(&done), pairs(&[("slow", "failed")]));
    let error = done["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("slow") && error.contains(&format!("gave up after {last} deliveries")),
        "{error}"
    );
    assert_eq!(target.count() as u32, last);
}

// 7. redelivery and takeover never rerun a finished step -------------------------------------

async fn redelivery_resumes_at_the_retrying_step_and_never_reruns_a_finished_one(t: TestApp) {
    let a = Target::ok().await;
    let b = Target::start(vec![
        Answer::status(503),
        Answer::json(200, json!({"b": 2})),
    ])
    .await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "first", "type": "http_request", "url": a.url("/a")},
            {"id": "second", "type": "http_request", "url": b.url("/b"),
             "body": {"fromFirst": "{{ steps.first.output.body }}"},
             "retry": quick_retry(1)},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    assert_eq!(t.worker.deliver_once().await, 1);
    let waiting = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert_eq!(
        step_statuses(&waiting),
        pairs(&[("first", "succeeded"), ("second", "retrying")])
    );

    assert_eq!(t.worker.deliver_once().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 2);
    assert_eq!(
        step_statuses(&done),
        pairs(&[("first", "succeeded"), ("second", "succeeded")])
    );
    assert_eq!(a.count(), 1, "the finished step ran again");
    assert_eq!(b.count(), 2);
    // The resumed step still sees the finished step's output.
    assert_eq!(b.received()[1].json(), json!({"fromFirst": {"ok": true}}));
    assert_eq!(done["result"]["output"]["body"], json!({"b": 2}));
}

/// A step after a `continue_on_error` failure reads `steps.<id>.output.error`. Live, it did;
/// after a redelivery the context used to be rebuilt from the stored output (none), so the
/// same template failed. One fold over the records now builds both.
async fn a_resumed_run_sees_a_continued_failure_as_the_live_run_did(t: TestApp) {
    let flaky = Target::start(vec![Answer::status(503), Answer::status(200)]).await;
    let report = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "lookup", "type": "transform", "output": "{{ trigger.body.missing }}",
             "continue_on_error": true},
            {"id": "flaky", "type": "http_request", "url": flaky.url("/f"),
             "retry": quick_retry(1)},
            {"id": "report", "type": "http_request", "url": report.url("/r"),
             "body": {"lookupFailed": "{{ steps.lookup.output.error }}",
                      "error": "{{ steps.lookup.error }}"}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    assert_eq!(t.worker.deliver_once().await, 1);
    let waiting = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert_eq!(t.worker.deliver_once().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let sent = report.only_request().json();
    let error = sent["lookupFailed"].as_str().unwrap_or_default();
    assert!(error.contains("trigger.body.missing"), "{sent}");
    assert_eq!(sent["error"], sent["lookupFailed"]);
}

async fn takeover_after_a_stale_lease_resumes_after_the_finished_step(t: TestApp) {
    let a = Target::ok().await;
    let b = Target::start(vec![Answer::Hang, Answer::json(200, json!({"b": 2}))]).await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "first", "type": "http_request", "url": a.url("/a")},
            {"id": "second", "type": "http_request", "url": b.url("/b"),
             "timeout_ms": 30000, "retry": {"max_attempts": 1}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    // A worker takes the execution and dies while the second step waits for its answer.
    let item = WorkItem {
        workflow_id: wf.id.clone(),
        execution_id: ExecutionId::parse(&id).expect("id"),
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
    b.wait_for(1).await;
    run.abort();
    assert!(run.await.is_err(), "the worker was to die mid-step");
    let stranded = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(stranded["status"], "running", "{stranded}");
    assert_eq!(step_statuses(&stranded), pairs(&[("first", "succeeded")]));

    // The queue's message comes back once the dead worker's lease is over.
    tokio::time::sleep(std::time::Duration::from_millis(2 * SHORT_LEASE_MS as u64)).await;
    assert_eq!(t.worker.deliver_once().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["attempts"], 2, "taken over by a second attempt");
    assert_eq!(
        step_statuses(&done),
        pairs(&[("first", "succeeded"), ("second", "succeeded")])
    );
    assert_eq!(a.count(), 1, "the finished step ran again");
    assert_eq!(b.count(), 2);
}

// 8. the outbound guard ----------------------------------------------------------------------

async fn http_step_to_127_0_0_2_is_refused_and_not_retried(t: TestApp) {
    // The test client allows exactly 127.0.0.1/32; nothing listens on 127.0.0.2 anyway.
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "sneaky", "type": "http_request", "url": "http://127.0.0.2:9/internal",
             "retry": quick_retry(3)},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "failed", "{done}");
    let sneaky = step(&done, "sneaky");
    assert_eq!(sneaky["status"], "failed");
    assert_eq!(sneaky["attempts"], 1, "a refusal is never retried");
    let error = sneaky["error"].as_str().unwrap_or_default();
    assert!(error.contains("refused"), "{error}");
    assert!(sneaky["output"].is_null(), "{sneaky}");
}

async fn http_step_redirected_to_127_0_0_2_is_refused(t: TestApp) {
    let hop = Target::start(vec![
        Answer::status(302).with_header("location", "http://127.0.0.2:9/internal"),
    ])
    .await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "hop", "type": "http_request", "url": hop.url("/go"),
             "follow_redirects": true, "retry": quick_retry(3)},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "failed", "{done}");
    let record = step(&done, "hop");
    assert_eq!(record["status"], "failed");
    let error = record["error"].as_str().unwrap_or_default();
    assert!(error.contains("refused"), "{error}");
    assert_eq!(hop.count(), 1, "a refusal is never retried");
}

// 9. continue_on_error -----------------------------------------------------------------------

async fn failing_step_with_continue_on_error_lets_the_next_step_run(t: TestApp) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "optional", "type": "fail", "message": "not today", "continue_on_error": true},
            {"id": "notify", "type": "http_request", "url": target.url("/hook"),
             "body": {"previous": "{{ steps.optional.output.error }}"}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        step_statuses(&done),
        pairs(&[("optional", "failed"), ("notify", "succeeded")])
    );
    let optional = step(&done, "optional");
    assert_eq!(optional["continued"], true);
    assert_eq!(optional["error"], "not today");
    assert_eq!(
        target.only_request().json(),
        json!({"previous": "not today"})
    );
}

async fn failing_step_without_continue_on_error_stops_the_run(t: TestApp) {
    let target = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            // Fails when it runs (a `fail` step would leave `notify` unreachable, which the
            // loader refuses).
            {"id": "required", "type": "transform", "output": "{{ trigger.body.missing }}"},
            {"id": "notify", "type": "http_request", "url": target.url("/hook")},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 1})).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(step_statuses(&done), pairs(&[("required", "failed")]));
    assert!(step(&done, "required").get("continued").is_none(), "{done}");
    assert_eq!(target.count(), 0);
}

// 11. definitions are checked before they are stored -----------------------------------------

async fn bad_step_definitions_are_refused_by_the_app_naming_the_field(t: TestApp) {
    let name = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
    t.app.create_api_key(&name).await.expect("key");
    let steps: Vec<webhook_trigger::domain::WorkflowStep> = serde_json::from_value(json!([
        {"type": "echo"},
        {"type": "http_request", "url": "ftp://files.invalid/x"},
    ]))
    .expect("steps parse");
    let before = t.app.list_workflows().await.expect("list").len();
    let err = t
        .app
        .create_workflow(webhook_trigger::app::NewWorkflow {
            name: "bad".into(),
            trigger: webhook_trigger::domain::Trigger::GenericWebhook,
            api_key_name: name,
            steps,
            sns: Default::default(),
            auth: Default::default(),
            payload_schema: None,
        })
        .await
        .expect_err("a bad URL is refused");
    assert!(err.to_string().contains("steps[1].url"), "{err}");
    assert_eq!(
        t.app.list_workflows().await.expect("list").len(),
        before,
        "a refused workflow was stored"
    );
}

/// `WorkflowFile::parse` of a YAML file with these steps, expecting a refusal.
#[track_caller]
fn refusal(steps_yaml: &str) -> String {
    let text = format!("name: orders\napi_key: partner-a\nsteps:\n{steps_yaml}");
    match WorkflowFile::parse(&text) {
        Ok(file) => panic!("accepted: {file:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_workflow_files_are_refused_with_the_field_path() {
    let cases: [(&str, &str, &[&str]); 7] = [
        (
            "unknown step type",
            "  - { type: echo }\n  - { type: send_fax, to: x }\n",
            &["steps[1]", "send_fax"],
        ),
        (
            "unknown field",
            "  - { type: http_request, url: 'https://hooks.invalid/x', urll: 1 }\n",
            &["steps[0]", "urll"],
        ),
        (
            "duplicate id",
            "  - { id: a, type: echo }\n  - { id: a, type: echo }\n",
            &["steps[1].id", "more than one step"],
        ),
        (
            "bad template",
            "  - { type: transform, output: { a: '{{ x. }}' } }\n",
            &["steps[0].output.a"],
        ),
        (
            "when not an expression",
            "  - { type: filter, when: '{{ trigger.body.ok }}' }\n",
            &["steps[0].when"],
        ),
        (
            "bad URL",
            "  - { type: echo }\n  - { type: http_request, url: 'ftp://files.invalid/x' }\n",
            &["steps[1].url"],
        ),
        (
            "bad retry",
            "  - { type: http_request, url: 'https://hooks.invalid/x', retry: { max_attempts: 0 } }\n",
            &["steps[0].retry.max_attempts"],
        ),
    ];
    for (what, steps, expected) in cases {
        let error = refusal(steps);
        for part in expected {
            assert!(
                error.contains(part),
                "{what}: {part:?} is not in the error {error:?}"
            );
        }
    }
}

#[test]
fn a_good_workflow_file_is_accepted_with_its_steps_numbered() {
    let file = WorkflowFile::parse(
        "name: orders\napi_key: partner-a\nsteps:\n  - { type: echo }\n  - { id: notify, type: http_request, url: 'https://hooks.invalid/x' }\n",
    )
    .expect("a good file");
    let ids: Vec<&str> = file.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["step1", "notify"]);
}

// 10. sns_publish against moto (the worker's SNS client points at AWS_ENDPOINT_URL) -----------

#[tokio::test]
async fn sns_publish_step_delivers_a_templated_message_to_a_subscribed_queue() {
    let t = support::dynamodb_app(support::test_config()).await;
    let sdk = support::dynamodb::sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let name = support::dynamodb::unique("orders");
    let topic_arn = sns
        .create_topic()
        .name(&name)
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn
        .expect("topic ARN");
    let queue_url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("queue URL");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("queue ARN");
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .expect("Subscribe");

    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "announce", "type": "sns_publish", "topic_arn": topic_arn,
             "subject": "Order {{ trigger.body.order.id }}",
             "message": {"order": "{{ trigger.body.order.id }}", "note": "{{ trigger.body.note }}"}},
        ]))
        .await;
    let payload = json!({"order": {"id": 42}, "note": AWKWARD_NOTE});
    let id = accept(&t, wf.id.as_str(), &key, &payload).await;

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let announce = step(&done, "announce");
    let message_id = announce["output"]["messageId"]
        .as_str()
        .unwrap_or_else(|| panic!("no messageId in {announce}"))
        .to_owned();
    assert_eq!(announce["request"]["topicArn"], topic_arn.as_str());

    let mut envelope = None;
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        if let Some(message) = out.messages.unwrap_or_default().into_iter().next() {
            envelope = Some(message);
            break;
        }
    }
    let envelope: Value = serde_json::from_str(
        envelope
            .expect("the published message reached the queue")
            .body()
            .expect("body"),
    )
    .expect("SNS envelope JSON");
    assert_eq!(envelope["MessageId"], message_id.as_str());
    assert_eq!(envelope["TopicArn"], topic_arn.as_str());
    assert_eq!(envelope["Subject"], "Order 42");
    let message: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("Message")).expect("JSON");
    assert_eq!(message, json!({"order": 42, "note": AWKWARD_NOTE}));
}

// 12. send_email ------------------------------------------------------------------------------

/// The messages the shared sink received whose subject holds `marker`.
fn mail_with(marker: &str) -> Vec<Value> {
    support::email::shared_sink()
        .received()
        .into_iter()
        .filter(|m| m["data"].as_str().unwrap_or_default().contains(marker))
        .collect()
}

fn mail_steps(subject: &str) -> Value {
    json!([
        {"id": "mail", "type": "send_email",
         "to": ["{{ trigger.body.owner }}"],
         "bcc": ["audit@example.com"],
         "subject": subject,
         "text": "Order {{ trigger.body.id }} is in."},
        {"id": "after", "type": "transform", "output": "{{ steps.mail.output.messageId }}"},
    ])
}

async fn send_email_sends_the_rendered_message_once_and_records_it(t: TestApp) {
    let marker = ulid::Ulid::new().to_string();
    let (wf, key) = t
        .workflow_from_steps(mail_steps("Order {{ trigger.body.id }}"))
        .await;
    let id = accept(
        &t,
        wf.id.as_str(),
        &key,
        &json!({"id": marker, "owner": "owner@example.com"}),
    )
    .await;
    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let mail = step(&done, "mail");
    let message_id = mail["output"]["messageId"].as_str().expect("an id");
    assert_eq!(step(&done, "after")["output"], message_id, "{done}");
    assert_eq!(
        mail["request"]["to"],
        json!(["owner@example.com"]),
        "{done}"
    );
    assert_eq!(
        mail["request"]["bcc"],
        json!(["audit@example.com"]),
        "{done}"
    );
    assert_eq!(
        mail["request"]["from"], "Alerts <alerts@example.com>",
        "{done}"
    );
    assert_eq!(
        mail["request"]["subject"],
        format!("Order {marker}"),
        "{done}"
    );

    // Nothing more is queued: the message went out once.
    assert_eq!(t.worker.drain().await, 0);
    let received = mail_with(&marker);
    assert_eq!(received.len(), 1, "{received:?}");
    let data = received[0]["data"].as_str().expect("data");
    let headers = support::email::headers(data);
    assert_eq!(
        support::email::header(&headers, "subject"),
        [format!("Order {marker}")]
    );
    assert_eq!(
        support::email::header(&headers, "to"),
        ["owner@example.com"]
    );
    assert_eq!(support::email::header(&headers, "message-id"), [message_id]);
    assert!(support::email::header(&headers, "bcc").is_empty(), "{data}");
    assert_eq!(
        received[0]["rcpt_tos"],
        json!(["owner@example.com", "audit@example.com"])
    );
}

async fn send_email_with_a_line_break_in_its_subject_fails_and_sends_nothing(t: TestApp) {
    let marker = ulid::Ulid::new().to_string();
    let (wf, key) = t
        .workflow_from_steps(mail_steps("Order {{ trigger.body.id }}"))
        .await;
    let id = accept(
        &t,
        wf.id.as_str(),
        &key,
        &json!({"id": format!("{marker}\r\nBcc: evil@example.com"), "owner": "owner@example.com"}),
    )
    .await;
    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "failed", "{done}");
    let error = step(&done, "mail")["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("subject") && error.contains("line break"),
        "{done}"
    );
    assert_eq!(t.worker.drain().await, 0, "a refusal is not retried");
    assert!(mail_with(&marker).is_empty());
}

async fn send_email_without_a_transport_fails_with_a_setup_error_not_retried(t: TestApp) {
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "mail", "type": "send_email", "from": "alerts@example.com",
             "to": ["{{ trigger.body.owner }}"], "subject": "s", "text": "t"},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"owner": "o@example.com"})).await;
    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "failed", "{done}");
    let error = step(&done, "mail")["error"].as_str().unwrap_or_default();
    assert!(error.contains("send_email needs EMAIL_TRANSPORT"), "{done}");
    assert_eq!(t.worker.drain().await, 0, "a setup error is not retried");
}

async fn a_redelivery_after_send_email_resumes_after_it_and_never_sends_again(t: TestApp) {
    let marker = ulid::Ulid::new().to_string();
    let hook = Target::start(vec![Answer::status(503), Answer::json(200, json!({}))]).await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "mail", "type": "send_email", "to": ["owner@example.com"],
             "subject": "Order {{ trigger.body.id }}", "text": "t"},
            {"id": "notify", "type": "http_request", "url": hook.url("/sent"),
             "body": {"messageId": "{{ steps.mail.output.messageId }}"},
             "retry": quick_retry(1)},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"id": marker})).await;

    assert_eq!(t.worker.deliver_once().await, 1);
    let waiting = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(
        step_statuses(&waiting),
        pairs(&[("mail", "succeeded"), ("notify", "retrying")]),
        "{waiting}"
    );
    assert_eq!(t.worker.deliver_once().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(mail_with(&marker).len(), 1, "the message went out twice");
    let message_id = step(&done, "mail")["output"]["messageId"].clone();
    assert_eq!(hook.count(), 2);
    assert_eq!(hook.received()[1].json(), json!({"messageId": message_id}));
}

/// `EMAIL_TRANSPORT` on a loopback port nobody listens on.
fn unreachable_smtp_config() -> Config {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    Config {
        email_transport: Some(
            webhook_trigger::config::EmailTransport::parse(&format!("smtp://127.0.0.1:{port}"))
                .expect("a transport"),
        ),
        email_from: Some("alerts@example.com".into()),
        ..support::test_config()
    }
}

async fn send_email_to_an_unreachable_server_is_retried_on_a_later_delivery(t: TestApp) {
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "mail", "type": "send_email", "to": ["owner@example.com"],
             "subject": "s", "text": "t"},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({})).await;
    assert_eq!(t.worker.deliver_once().await, 1);
    let waiting = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(waiting["status"], "queued", "{waiting}");
    assert_eq!(step_statuses(&waiting), pairs(&[("mail", "retrying")]));
    let error = step(&waiting, "mail")["error"].as_str().unwrap_or_default();
    assert!(error.contains("SMTP server 127.0.0.1:"), "{waiting}");
}
