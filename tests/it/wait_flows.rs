//! Workflows that wait, end to end on both backends: `wait` (parked, woken on time, a
//! duplicate or early wake-up changing nothing), `approval` (approve, deny, comment, timeout
//! with and without `on_timeout`, single use, expired links, a page that looks without
//! deciding, the token kept out of every record, an operator's decision and cancel) and
//! `callback` (the posted JSON as output, bad JSON refused). Notifications go to a loopback
//! receiver, which is how the tests learn the resume URLs, as a person or a system would.
//! The sweeper's wake-up of a wait longer than SQS can delay is at the end, on DynamoDB.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::step_flows::{accept, pairs, step, step_statuses};
use crate::support::{self, Response, TEST_BASE_URL, TestApp, assert_error};
use support::target::{Answer, Target};
use webhook_trigger::domain::Workflow;

macro_rules! wait_flows_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            wait_flows_for!(@each $make;
                a_wait_parks_the_execution_and_wakes_after_its_time,
                an_early_or_duplicate_wake_up_changes_nothing,
                an_approval_approved_by_its_link_goes_on_and_the_link_is_single_use,
                an_approval_denied_goes_to_on_deny_or_fails_naming_the_decision,
                an_approval_timeout_goes_to_on_timeout_or_fails_and_late_links_are_gone,
                a_callback_takes_the_posted_json_as_its_output,
                an_operator_approves_or_cancels_from_the_admin_api,
                a_callback_that_beats_the_waiting_write_is_not_lost,
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

wait_flows_for!(sqlite, support::sqlite_app);
wait_flows_for!(dynamodb, support::dynamodb_app);

/// Delivers until the execution has `status` (or `max` deliveries); returns it.
async fn deliver_until(
    t: &TestApp,
    wf: &Workflow,
    id: &str,
    key: &str,
    status: &str,
    max: usize,
) -> Value {
    for _ in 0..max {
        let now = t.execution(wf.id.as_str(), id, key).await;
        if now["status"] == status {
            return now;
        }
        t.worker.deliver_once().await;
    }
    let now = t.execution(wf.id.as_str(), id, key).await;
    assert_eq!(now["status"], status, "after {max} deliveries: {now}");
    now
}

/// The path (and query) of a resume URL as the notification carried it.
#[track_caller]
fn path_of(url: &Value) -> String {
    let url = url.as_str().unwrap_or_else(|| panic!("not a URL: {url}"));
    url.strip_prefix(TEST_BASE_URL)
        .unwrap_or_else(|| panic!("{url} does not start with {TEST_BASE_URL}"))
        .to_owned()
}

async fn post_json(t: &TestApp, path: &str, body: &str) -> Response {
    t.send(
        Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_owned()))
            .expect("request"),
    )
    .await
}

async fn post_form(t: &TestApp, path: &str, body: &str) -> Response {
    t.send(
        Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body.to_owned()))
            .expect("request"),
    )
    .await
}

async fn admin_post(t: &TestApp, path: &str, body: &str) -> Response {
    let admin = crate::admin::admin_key(t).await;
    t.send(
        Request::post(path)
            .header("content-type", "application/json")
            .header("x-admin-key", admin)
            .body(Body::from(body.to_owned()))
            .expect("request"),
    )
    .await
}

/// An approval whose notification posts both links to `notify`.
fn approval_steps(notify: &Target, timeout: &str, extra: Value) -> Value {
    let mut approve = json!({
        "id": "approve", "type": "approval", "timeout": timeout,
        "notify": {"type": "http_request", "url": notify.url("/notify"),
                   "body": {"approve": "{{ approval.approveUrl }}",
                            "deny": "{{ approval.denyUrl }}",
                            "until": "{{ approval.expiresAt }}",
                            "ref": "{{ trigger.body.ref }}"}},
    });
    if let (Some(target), Some(fields)) = (approve.as_object_mut(), extra.as_object()) {
        target.extend(fields.clone());
    }
    let mut steps = vec![
        approve,
        json!({"id": "deploy", "type": "transform",
               "output": {"deployed": "{{ trigger.body.ref }}"}, "next": "end"}),
    ];
    // Only where a route leads to it: an unreachable step is refused.
    if extra.to_string().contains("rejected") {
        steps.push(json!({"id": "rejected", "type": "stop", "reason": "not approved"}));
    }
    Value::Array(steps)
}

/// Waits until the notification came, returns its JSON.
async fn notification(notify: &Target) -> Value {
    notify.wait_for(1).await;
    notify.received()[0].json()
}

// wait ----------------------------------------------------------------------------------------

async fn a_wait_parks_the_execution_and_wakes_after_its_time(t: TestApp) {
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "pause", "type": "wait", "for": "2s"},
            {"id": "after", "type": "transform", "output": {"n": "{{ trigger.body.n }}"}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 7})).await;
    t.worker.drain().await;
    // Its wake-up is hidden until its time (a deferred row; a message with DelaySeconds), not
    // a message handed out again and again while it waits.
    assert_eq!(
        t.worker.drain().await,
        0,
        "nothing to deliver while it waits"
    );
    let waiting = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(waiting["status"], "waiting", "{waiting}");
    assert_eq!(waiting["waiting"]["step"], "pause");
    assert_eq!(waiting["waiting"]["type"], "wait");
    assert_eq!(step_statuses(&waiting), pairs(&[("pause", "waiting")]));
    let wake_at: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(waiting["waiting"]["wakeAt"].clone()).expect("wakeAt");

    let done = deliver_until(&t, &wf, &id, &key, "succeeded", 20).await;
    assert!(
        chrono::Utc::now() >= wake_at,
        "woken before its time: {done}"
    );
    assert_eq!(
        step_statuses(&done),
        pairs(&[("pause", "succeeded"), ("after", "succeeded")])
    );
    assert_eq!(
        step(&done, "pause")["output"]["waitedUntil"],
        waiting["waiting"]["wakeAt"]
    );
    assert_eq!(done["result"]["output"], json!({"n": 7}));
    assert!(done.get("waiting").is_none(), "{done}");
}

async fn an_early_or_duplicate_wake_up_changes_nothing(t: TestApp) {
    let (wf, key) = t
        .workflow_from_steps(json!([{"id": "pause", "type": "wait", "for": "1h"}]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({})).await;
    t.worker.drain().await;
    let before = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(before["status"], "waiting", "{before}");
    // Six wake-ups an hour early: more than the queue's receive limit, none counts.
    let item = webhook_trigger::ports::WorkItem {
        workflow_id: wf.id.clone(),
        execution_id: webhook_trigger::domain::ExecutionId::parse(&id).expect("id"),
    };
    for _ in 0..6 {
        t.app.queue().enqueue(&item).await.expect("enqueue");
        t.worker.drain().await;
    }
    let after = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(after["status"], "waiting", "{after}");
    assert_eq!(after["attempts"], before["attempts"], "no claim was made");
    assert_eq!(after["waiting"], before["waiting"]);
    assert_eq!(after["steps"], before["steps"]);
}

// approval ------------------------------------------------------------------------------------

async fn an_approval_approved_by_its_link_goes_on_and_the_link_is_single_use(t: TestApp) {
    let notify = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(approval_steps(
            &notify,
            "1h",
            json!({"on_deny": "rejected"}),
        ))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"ref": "v1.2"})).await;
    t.worker.drain().await;
    let sent = notification(&notify).await;
    assert_eq!(sent["ref"], "v1.2");
    let approve = path_of(&sent["approve"]);
    let deny = path_of(&sent["deny"]);
    assert!(approve.starts_with("/callbacks/") && approve.ends_with("?decision=approve"));
    let token = approve
        .trim_start_matches("/callbacks/")
        .trim_end_matches("?decision=approve")
        .to_owned();
    assert!(token.len() >= 43, "256 bits: {token}");

    let waiting = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(waiting["status"], "waiting", "{waiting}");
    assert_eq!(waiting["waiting"]["type"], "approval");
    // The token is nowhere in what is stored or shown: not in the notification's recorded
    // request, not in the step's output.
    assert!(!waiting.to_string().contains(&token), "{waiting}");
    let stored = t
        .app
        .store()
        .get_execution(
            &wf.id,
            &webhook_trigger::domain::ExecutionId::parse(&id).expect("id"),
        )
        .await
        .expect("read")
        .expect("stored");
    assert!(
        !serde_json::to_string(&stored)
            .expect("json")
            .contains(&token)
    );

    // Opening the link (a person, or a mail scanner) shows the page and decides nothing.
    let page = t.get(&approve, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().unwrap_or_default().to_owned();
    assert!(html.contains("approve") && html.contains("Deny"), "{html}");
    assert!(html.contains(wf.id.as_str()));
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap_or_default()
            .contains("form-action 'self'")
    );
    t.worker.drain().await;
    assert_eq!(
        t.execution(wf.id.as_str(), &id, &key).await["status"],
        "waiting"
    );

    let decided = post_json(&t, &approve, r#"{"comment": "ship it"}"#).await;
    assert_eq!(decided.status, StatusCode::OK, "{}", decided.body);
    assert_eq!(decided.body["decision"], "approved");
    let again = post_json(&t, &approve, "{}").await;
    assert_error(&again, StatusCode::GONE, "callback_used");
    let other = post_form(&t, &deny, "decision=deny").await;
    assert_eq!(
        other.status,
        StatusCode::GONE,
        "the deny link is the same token"
    );
    let unknown = post_json(&t, "/callbacks/nope", "{}").await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "callback_not_found");

    let done = deliver_until(&t, &wf, &id, &key, "succeeded", 10).await;
    assert_eq!(
        step_statuses(&done),
        pairs(&[("approve", "succeeded"), ("deploy", "succeeded")])
    );
    let output = &step(&done, "approve")["output"];
    assert_eq!(output["decision"], "approved");
    assert_eq!(output["comment"], "ship it");
    assert!(output["decidedAt"].is_string());
    assert_eq!(done["result"]["output"], json!({"deployed": "v1.2"}));
    assert_eq!(notify.received().len(), 1, "one notification");
}

async fn an_approval_denied_goes_to_on_deny_or_fails_naming_the_decision(t: TestApp) {
    for (extra, expected) in [
        (json!({"on_deny": "rejected"}), "succeeded"),
        (json!({}), "failed"),
    ] {
        let notify = Target::ok().await;
        let (wf, key) = t
            .workflow_from_steps(approval_steps(&notify, "1h", extra))
            .await;
        let id = accept(&t, wf.id.as_str(), &key, &json!({"ref": "v2"})).await;
        t.worker.drain().await;
        let sent = notification(&notify).await;
        // The page's form: what a person's click sends.
        let r = post_form(
            &t,
            &path_of(&sent["deny"]),
            "decision=deny&comment=not+today",
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert!(r.body.as_str().unwrap_or_default().contains("Denied"));
        let done = deliver_until(&t, &wf, &id, &key, expected, 10).await;
        let output = &step(&done, "approve")["output"];
        assert_eq!(output["decision"], "denied", "{done}");
        assert_eq!(output["comment"], "not today");
        if expected == "succeeded" {
            assert_eq!(
                step_statuses(&done),
                pairs(&[("approve", "succeeded"), ("rejected", "stopped")])
            );
            assert_eq!(step(&done, "approve")["next"], "rejected");
            assert_eq!(done["result"]["outcome"], "stopped");
        } else {
            let error = done["error"].as_str().unwrap_or_default();
            assert!(error.contains("denied"), "{error}");
        }
    }
}

async fn an_approval_timeout_goes_to_on_timeout_or_fails_and_late_links_are_gone(t: TestApp) {
    for (extra, expected) in [
        (json!({"on_timeout": "rejected"}), "succeeded"),
        (json!({}), "failed"),
    ] {
        let notify = Target::ok().await;
        let (wf, key) = t
            .workflow_from_steps(approval_steps(&notify, "2s", extra))
            .await;
        let id = accept(&t, wf.id.as_str(), &key, &json!({"ref": "v3"})).await;
        t.worker.drain().await;
        let sent = notification(&notify).await;
        // Past the timeout and before any worker has noticed: the link is expired already.
        tokio::time::sleep(Duration::from_millis(2200)).await;
        let late = post_json(&t, &path_of(&sent["approve"]), "{}").await;
        assert_error(&late, StatusCode::GONE, "callback_expired");
        let done = deliver_until(&t, &wf, &id, &key, expected, 20).await;
        let output = &step(&done, "approve")["output"];
        if expected == "succeeded" {
            assert_eq!(output["decision"], "timed_out", "{done}");
            assert_eq!(done["result"]["outcome"], "stopped");
        } else {
            let error = done["error"].as_str().unwrap_or_default();
            assert!(error.contains("timeout"), "{error}");
        }
        let late = post_form(&t, &path_of(&sent["deny"]), "decision=deny").await;
        assert_eq!(late.status, StatusCode::GONE, "{}", late.body);
        let page = t.get(&path_of(&sent["approve"]), None).await;
        assert_eq!(page.status, StatusCode::GONE, "the page says so too");
    }
}

// callback ------------------------------------------------------------------------------------

async fn a_callback_takes_the_posted_json_as_its_output(t: TestApp) {
    let jobs = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "job", "type": "callback", "timeout": "1h",
             "notify": {"type": "http_request", "url": jobs.url("/start"),
                        "body": {"resume": "{{ callback.url }}", "job": "{{ trigger.body.job }}"}}},
            {"id": "report", "type": "transform",
             "output": {"result": "{{ steps.job.output.result }}"}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"job": "render"})).await;
    t.worker.drain().await;
    let sent = notification(&jobs).await;
    assert_eq!(sent["job"], "render");
    let url = path_of(&sent["resume"]);

    let bad = post_json(&t, &url, "{not json").await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_json");
    assert_eq!(
        t.execution(wf.id.as_str(), &id, &key).await["status"],
        "waiting",
        "a refused call decides nothing"
    );
    let r = post_json(&t, &url, r#"{"result": "done", "frames": 240}"#).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let again = post_json(&t, &url, r#"{"result": "again"}"#).await;
    assert_error(&again, StatusCode::GONE, "callback_used");

    let done = deliver_until(&t, &wf, &id, &key, "succeeded", 10).await;
    assert_eq!(
        step(&done, "job")["output"],
        json!({"result": "done", "frames": 240})
    );
    assert_eq!(done["result"]["output"], json!({"result": "done"}));
}

/// A receiver that calls back before the worker has written "waiting" (here: while the
/// worker still waits for the notification's answer): the decision is kept, the worker finds
/// it right after its write, and the execution goes on at once instead of at the timeout.
async fn a_callback_that_beats_the_waiting_write_is_not_lost(t: TestApp) {
    let jobs = Target::start(vec![Answer::status(200).after(Duration::from_millis(1500))]).await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "job", "type": "callback", "timeout": "1h",
             "notify": {"type": "http_request", "url": jobs.url("/start"),
                        "body": {"resume": "{{ callback.url }}"}}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({})).await;
    let call_back = async {
        jobs.wait_for(1).await;
        let url = path_of(&jobs.received()[0].json()["resume"]);
        let status = t.execution(wf.id.as_str(), &id, &key).await["status"].clone();
        let r = post_json(&t, &url, r#"{"fast": true}"#).await;
        (status, r)
    };
    let (_, (status_then, r)) = tokio::join!(t.worker.drain(), call_back);
    assert_eq!(
        status_then, "running",
        "the call came before the waiting write"
    );
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let done = deliver_until(&t, &wf, &id, &key, "succeeded", 10).await;
    assert_eq!(step(&done, "job")["output"], json!({"fast": true}));
}

// operator ------------------------------------------------------------------------------------

async fn an_operator_approves_or_cancels_from_the_admin_api(t: TestApp) {
    let notify = Target::ok().await;
    let (wf, key) = t
        .workflow_from_steps(approval_steps(&notify, "1h", json!({})))
        .await;
    let first = accept(&t, wf.id.as_str(), &key, &json!({"ref": "a"})).await;
    let second = accept(&t, wf.id.as_str(), &key, &json!({"ref": "b"})).await;
    t.worker.drain().await;
    notify.wait_for(2).await;
    let base = format!("/admin/workflows/{}/executions", wf.id);

    let r = admin_post(
        &t,
        &format!("{base}/{first}/approve"),
        r#"{"comment": "ok"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let done = deliver_until(&t, &wf, &first, &key, "succeeded", 10).await;
    let output = &step(&done, "approve")["output"];
    assert_eq!(output["decision"], "approved");
    assert!(
        output["decidedBy"]
            .as_str()
            .unwrap_or_default()
            .starts_with("admin:"),
        "{output}"
    );

    let r = admin_post(&t, &format!("{base}/{second}/cancel"), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "failed");
    assert!(
        r.body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("cancelled")
    );
    // The link the notification carried is closed too.
    let links: Vec<Value> = notify.received().iter().map(|r| r.json()).collect();
    let second_link = links
        .iter()
        .find(|l| l["ref"] == "b")
        .map(|l| path_of(&l["approve"]))
        .expect("the second notification");
    let late = post_json(&t, &second_link, "{}").await;
    assert_eq!(late.status, StatusCode::GONE, "{}", late.body);
    // Nothing is waiting any more: approving a finished execution is a conflict.
    let r = admin_post(&t, &format!("{base}/{second}/approve"), "").await;
    assert_error(&r, StatusCode::CONFLICT, "not_waiting");
}

// wake-ups that outlive a process or a queue's delay ----------------------------------------

/// A wait longer than SQS can delay a message (15 minutes) gets no message: the sweeper finds
/// it in the table's index once due, and its wake-up runs it. Time is moved by rewriting the
/// stored wake-up into the past (the index is keyed by it), as 20 minutes passing would.
#[tokio::test]
async fn dynamodb_a_wait_past_the_queue_delay_is_woken_by_the_sweeper() {
    use std::sync::Arc;
    use webhook_trigger::app::Sweeper;
    use webhook_trigger::ports::{PendingDispatch, Store};

    let f = support::dynamodb::fixture().await;
    let store: Arc<dyn Store> = Arc::new(f.store.clone());
    let config = support::test_config();
    let driver = support::dynamodb::SqsDriver::new(
        f.sqs.clone(),
        f.queues.queue_url.clone(),
        support::test_worker(store.clone(), config.worker_lease),
    );
    let t = support::build(
        store.clone(),
        Arc::new(f.queue.clone()),
        Box::new(driver),
        config,
        None,
    );
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "later", "type": "wait", "for": "20m"},
            {"id": "after", "type": "transform", "output": {"woken": true}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({})).await;
    t.worker.drain().await;
    assert_eq!(t.worker.drain().await, 0, "no message waits on the queue");
    let execution_id = webhook_trigger::domain::ExecutionId::parse(&id).expect("id");
    let parked = store
        .get_execution(&wf.id, &execution_id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(parked.status.as_str(), "waiting");

    let pending: Arc<dyn PendingDispatch> = Arc::new(f.store.clone());
    let sweeper = Sweeper::new(
        pending.clone(),
        Arc::new(f.queue.clone()),
        chrono::Duration::seconds(60),
        100,
    );
    let early = sweeper.sweep(chrono::Utc::now()).await.expect("sweep");
    assert_eq!(early.woken, 0, "not due yet");
    assert!(early.waiting >= 1, "the waiting gauge counts it: {early:?}");

    let mut due = parked.clone();
    if let Some(waiting) = due.waiting.as_mut() {
        waiting.wake_at = chrono::Utc::now() - chrono::Duration::seconds(90);
    }
    assert!(store.replace_execution(&parked, &due).await.expect("cas"));
    // The index is eventually consistent; moto's is immediate, a real table's within a sweep.
    let swept = sweeper.sweep(chrono::Utc::now()).await.expect("sweep");
    assert_eq!(swept.woken, 1, "{swept:?}");
    assert!(swept.oldest_overdue_seconds >= 89, "{swept:?}");

    let done = deliver_until(&t, &wf, &id, &key, "succeeded", 5).await;
    assert_eq!(done["result"]["output"], json!({"woken": true}));
    let after = sweeper.sweep(chrono::Utc::now()).await.expect("sweep");
    assert_eq!(after.woken, 0, "a woken execution leaves the index");
}

/// `serve` stopped while an execution waits and started again on the same file: the wait
/// goes on and ends on time, from the queue row the file kept.
#[tokio::test]
async fn sqlite_a_wait_survives_a_restart() {
    use std::sync::Arc;
    use webhook_trigger::adapters::sqlite::{SqliteStore, worker_loop};
    use webhook_trigger::ports::Store;

    let (t, store, path) = support::sqlite_app_parts(support::test_config()).await;
    let (wf, key) = t
        .workflow_from_steps(json!([
            {"id": "pause", "type": "wait", "for": "2s"},
            {"id": "after", "type": "transform", "output": {"n": "{{ trigger.body.n }}"}},
        ]))
        .await;
    let id = accept(&t, wf.id.as_str(), &key, &json!({"n": 3})).await;
    t.worker.drain().await;
    assert_eq!(
        t.execution(wf.id.as_str(), &id, &key).await["status"],
        "waiting"
    );
    assert_eq!(
        store.waiting_count().await.expect("count"),
        1,
        "the waiting gauge"
    );
    let guard = t._guard;
    drop(t.app);
    drop(t.worker);
    drop(store);

    let reopened = SqliteStore::open(&path).expect("reopen");
    let queue = reopened.queue();
    let shared: Arc<dyn Store> = Arc::new(reopened.clone());
    let worker = support::test_worker(shared.clone(), chrono::Duration::seconds(30));
    let config = worker_loop::LocalWorkerConfig::default();
    let execution_id = webhook_trigger::domain::ExecutionId::parse(&id).expect("id");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        worker_loop::drain_once(&worker, &queue, &config).await;
        let now = shared
            .get_execution(&wf.id, &execution_id)
            .await
            .expect("read")
            .expect("stored");
        if now.status.as_str() == "succeeded" {
            assert_eq!(
                now.result,
                Some(json!({"outcome": "completed", "output": {"n": 3}}))
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not woken after the restart: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(guard);
}
