//! The Lambda handlers on DynamoDB + SQS (moto): the worker's partial batch failures, and the
//! API's "5xx when the queue send fails, and a retry re-dispatches the same execution".
//! Needs `make test` (or moto + AWS_ENDPOINT_URL).

use crate::support;

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Duration, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use support::dynamodb::{endpoint, fixture};
use webhook_trigger::adapters::sqs::SqsQueue;
use webhook_trigger::app::{App, NewWorkflow};
use webhook_trigger::config::Config;
use webhook_trigger::domain::{
    Execution, ExecutionId, ExecutionStatus, SnsOptions, Step, Trigger, TriggerMeta, WorkflowId,
};
use webhook_trigger::lambda::worker::{WorkerFunction, handle_batch};
use webhook_trigger::ports::{ExecutionQuery, Store, WorkItem};

fn record(message_id: &str, body: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = Some(message_id.into());
    record.receipt_handle = Some(format!("rh-{message_id}"));
    record.body = Some(body.into());
    record.event_source = Some("aws:sqs".into());
    record.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:work".into());
    record.aws_region = Some("us-east-1".into());
    record
}

fn queued(workflow: &WorkflowId) -> Execution {
    Execution::new(
        workflow.clone(),
        TriggerMeta::GenericWebhook {
            content_type: None,
            idempotency_key: None,
            body_bytes: 2,
        },
        json!({"n": 1}),
        Utc::now(),
        Duration::days(1),
    )
}

fn item(e: &Execution) -> String {
    WorkItem {
        workflow_id: e.workflow_id.clone(),
        execution_id: e.id,
    }
    .to_json()
}

#[tokio::test]
async fn a_batch_reports_exactly_its_failing_records() {
    let f = fixture().await;
    let store: Arc<dyn Store> = Arc::new(f.store.clone());
    let app =
        webhook_trigger::wiring::app(store.clone(), Arc::new(f.queue.clone()), Config::default());
    let key = app.create_api_key("k").await.unwrap();
    let workflow = app
        .create_workflow(NewWorkflow {
            name: "w".into(),
            trigger: Trigger::GenericWebhook,
            api_key_name: key.key.name.to_string(),
            steps: vec![Step::Echo.into()],
            sns: SnsOptions::default(),
            auth: Default::default(),
            payload_schema: None,
        })
        .await
        .unwrap();
    let worker = crate::support::test_worker(store.clone(), chrono::Duration::minutes(5));

    let good = queued(&workflow.id);
    store.insert_execution(&good, None).await.unwrap();
    // Already finished: the redelivered message has nothing to do and is not a failure.
    let finished = queued(&workflow.id);
    store.insert_execution(&finished, None).await.unwrap();
    let running = finished
        .claim(Utc::now(), chrono::Duration::minutes(5))
        .unwrap();
    store.replace_execution(&finished, &running).await.unwrap();
    let done = running.succeed(1, json!("earlier"), Utc::now()).unwrap();
    store.replace_execution(&running, &done).await.unwrap();
    // Running in another (live) worker: must be delivered again later.
    let busy = queued(&workflow.id);
    store.insert_execution(&busy, None).await.unwrap();
    let busy_running = busy
        .claim(Utc::now(), chrono::Duration::minutes(5))
        .unwrap();
    store.replace_execution(&busy, &busy_running).await.unwrap();
    // Execution that expired and was deleted: nothing to do.
    let gone = queued(&workflow.id);

    let mut event = SqsEvent::default();
    event.records = vec![
        record("m-good", &item(&good)),
        record("m-finished", &item(&finished)),
        record("m-poison", "{\"not\":\"a work item\"}"),
        record("m-busy", &item(&busy)),
        record("m-gone", &item(&gone)),
    ];
    let response = handle_batch(&WorkerFunction::new(worker.clone()), event)
        .await
        .unwrap();
    let mut failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    failed.sort();
    assert_eq!(failed, vec!["m-busy", "m-poison"]);

    let good_now = store
        .get_execution(&workflow.id, &good.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(good_now.status, ExecutionStatus::Succeeded);
    assert_eq!(good_now.attempts, 1);
    let finished_now = store
        .get_execution(&workflow.id, &finished.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(finished_now, done, "a finished execution is left alone");

    // The response is what Lambda expects on the wire.
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["batchItemFailures"].as_array().unwrap().len(), 2);
    assert!(wire["batchItemFailures"][0]["itemIdentifier"].is_string());
}

#[tokio::test]
async fn a_batch_without_failures_reports_none_and_a_record_without_id_fails_the_batch() {
    let f = fixture().await;
    let store: Arc<dyn Store> = Arc::new(f.store.clone());
    let worker = crate::support::test_worker(store, chrono::Duration::minutes(5));
    let empty = handle_batch(&WorkerFunction::new(worker.clone()), SqsEvent::default())
        .await
        .unwrap();
    assert!(empty.batch_item_failures.is_empty());
    assert_eq!(
        serde_json::to_value(&empty).unwrap(),
        json!({"batchItemFailures": []})
    );
    let mut event = SqsEvent::default();
    let mut anonymous = record("x", "{}");
    anonymous.message_id = None;
    event.records = vec![anonymous];
    assert!(
        handle_batch(&WorkerFunction::new(worker.clone()), event)
            .await
            .is_err()
    );
}

async fn post(app: &App, workflow: &str, key: &str, idempotency_key: &str) -> (StatusCode, Value) {
    let request = Request::post(format!("/webhooks/{workflow}"))
        .header("content-type", "application/json")
        .header("x-api-key", key)
        .header("idempotency-key", idempotency_key)
        .body(Body::from(r#"{"order":42}"#))
        .unwrap();
    let response = webhook_trigger::http::router(app.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_failed_send_is_503_and_the_retry_dispatches_the_same_execution() {
    let f = fixture().await;
    let store: Arc<dyn Store> = Arc::new(f.store.clone());
    let config = Config {
        cache_ttl: std::time::Duration::ZERO,
        ..Config::default()
    };
    // A queue URL on the emulator that names no queue: every SendMessage fails.
    let missing_queue = format!(
        "{}/123456789012/wt-missing-{}",
        endpoint().trim_end_matches('/'),
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let broken = webhook_trigger::wiring::app(
        store.clone(),
        Arc::new(SqsQueue::new(f.sqs.clone(), missing_queue)),
        config.clone(),
    );
    let created = broken.create_api_key("k").await.unwrap();
    let key = created.secret.expose().to_owned();
    let workflow = broken
        .create_workflow(NewWorkflow {
            name: "w".into(),
            trigger: Trigger::GenericWebhook,
            api_key_name: "k".into(),
            steps: vec![Step::Echo.into()],
            sns: SnsOptions::default(),
            auth: Default::default(),
            payload_schema: None,
        })
        .await
        .unwrap();

    let (status, body) = post(&broken, workflow.id.as_str(), &key, "order-42").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "queue_unavailable");
    let recorded = store
        .list_executions(
            &workflow.id,
            &ExecutionQuery {
                status: None,
                limit: 10,
                before: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        recorded.len(),
        1,
        "the execution was recorded before the send"
    );
    assert_eq!(recorded[0].status, ExecutionStatus::Queued);

    // The caller retries with the same key against a working queue, after the wait that
    // makes a re-send worth it (zero here; `faults.rs` covers the default and the sweeper).
    let config = Config {
        resend_after: std::time::Duration::ZERO,
        ..config
    };
    let working = webhook_trigger::wiring::app(store.clone(), Arc::new(f.queue.clone()), config);
    let (status, body) = post(&working, workflow.id.as_str(), &key, "order-42").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["duplicate"], true);
    assert_eq!(body["executionId"], recorded[0].id.to_string());

    let after = store
        .list_executions(
            &workflow.id,
            &ExecutionQuery {
                status: None,
                limit: 10,
                before: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(after.len(), 1, "no second execution");
    let messages = f
        .sqs
        .receive_message()
        .queue_url(&f.queues.queue_url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let bodies: Vec<WorkItem> = messages
        .messages()
        .iter()
        .map(|m| WorkItem::from_json(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(
        bodies,
        vec![WorkItem {
            workflow_id: workflow.id.clone(),
            execution_id: recorded[0].id
        }]
    );
}

/// The body limit (256 KiB) is about SNS's limit; a DynamoDB item holds at most 400 KB, and
/// an echo step copies the payload into the result. A webhook at the limit must still run to
/// completion on DynamoDB.
#[tokio::test]
async fn a_webhook_at_the_body_limit_runs_to_completion() {
    let t = support::dynamodb_app(Config {
        cache_ttl: std::time::Duration::ZERO,
        ..Config::default()
    })
    .await;
    let (workflow, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let limit = t.app.config().body_limit_bytes;
    // A realistic event body: many small records, just under the limit.
    let record = |i: usize| json!({"id": i, "sku": format!("SKU-{i:06}"), "qty": i % 7, "note": "hello webhook"});
    let per_record = record(0).to_string().len() + 4;
    let records: Vec<Value> = (0..(limit - 100) / per_record).map(record).collect();
    let body = json!({ "records": records }).to_string();
    assert!(
        body.len() <= limit && body.len() > limit * 9 / 10,
        "{}",
        body.len()
    );
    let r = t
        .post_webhook(workflow.id.as_str(), Some(&key), &body)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.execution_id();
    assert_eq!(t.worker.drain().await, 1);
    let e = t.execution(workflow.id.as_str(), &id, &key).await;
    assert_eq!(e["status"], "succeeded", "{}", e["error"]);
}

/// 150,000 random letters and digits: four copies are far past 400 KB even gzipped.
fn incompressible_body() -> String {
    use rand::Rng;
    let noise: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(150_000)
        .map(char::from)
        .collect();
    json!({ "blob": noise }).to_string()
}

#[tokio::test]
async fn a_result_too_large_to_store_fails_the_execution_instead_of_stranding_it() {
    let t = support::dynamodb_app(Config {
        cache_ttl: std::time::Duration::ZERO,
        ..Config::default()
    })
    .await;
    // Four echo steps copy an incompressible payload four times: far past 400 KB even gzipped.
    let (workflow, key) = t
        .workflow_with_key(vec![Step::Echo, Step::Echo, Step::Echo, Step::Echo])
        .await;
    let r = t
        .post_webhook(workflow.id.as_str(), Some(&key), &incompressible_body())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let id = r.execution_id();
    assert_eq!(t.worker.drain().await, 1);
    let e = t.execution(workflow.id.as_str(), &id, &key).await;
    assert_eq!(e["status"], "failed", "error: {}", e["error"]);
    assert!(
        e["error"]
            .as_str()
            .unwrap_or_default()
            .contains("too large"),
        "{}",
        e["error"]
    );
    assert_eq!(t.worker.drain().await, 0, "nothing left to retry");
}

/// The record grows too large while another worker holds the execution (this one's lease ran
/// out during a slow step and a redelivery claimed it): this worker must not fail it under the
/// other one, which still runs it.
#[tokio::test]
async fn a_record_too_large_after_another_worker_took_over_is_left_to_that_worker() {
    let t = support::dynamodb_app(Config {
        cache_ttl: std::time::Duration::ZERO,
        ..Config::default()
    })
    .await;
    // Once the test names an execution, the step's server takes it over (as a redelivery
    // after the lease would) before it answers.
    let store: Arc<dyn Store> = t.app.store().clone();
    let running: Arc<tokio::sync::Mutex<Option<(WorkflowId, ExecutionId)>>> = Arc::default();
    let takeover = {
        let (store, running) = (store.clone(), running.clone());
        axum::Router::new().route(
            "/slow",
            axum::routing::post(move || async move {
                let Some((workflow, id)) = running.lock().await.clone() else {
                    return "done";
                };
                let current = store
                    .get_execution(&workflow, &id)
                    .await
                    .expect("read")
                    .expect("exists");
                let later = Utc::now() + Duration::days(1);
                let taken = current
                    .claim(later, Duration::minutes(1))
                    .expect("a stale claim can be taken over");
                assert!(
                    store
                        .replace_execution(&current, &taken)
                        .await
                        .expect("write")
                );
                "done"
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, takeover).await });

    // Four echo steps hold copies of an incompressible payload (recorded with the next
    // write), so the write after the http_request step is far past 400 KB.
    let (workflow, key) = t
        .workflow_from_steps(json!([
            {"id": "a", "type": "echo"},
            {"id": "b", "type": "echo"},
            {"id": "c", "type": "echo"},
            {"id": "d", "type": "echo"},
            {"id": "slow", "type": "http_request", "method": "POST", "url": format!("http://{addr}/slow")},
        ]))
        .await;
    let accept = || async {
        let r = t
            .post_webhook(workflow.id.as_str(), Some(&key), &incompressible_body())
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        ExecutionId::parse(&r.execution_id()).expect("an execution id")
    };

    // Without a takeover, that write is refused as too large and the execution fails: the
    // path the run below takes.
    let alone = accept().await;
    assert_eq!(t.worker.drain().await, 1);
    let failed = store
        .get_execution(&workflow.id, &alone)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(failed.status, ExecutionStatus::Failed);
    let error = failed.error.unwrap_or_default();
    assert!(error.contains("too large"), "{error}");

    let id = accept().await;
    *running.lock().await = Some((workflow.id.clone(), id));
    assert_eq!(t.worker.drain().await, 1);
    let stored = store
        .get_execution(&workflow.id, &id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        stored.status,
        ExecutionStatus::Running,
        "the worker that took over still holds it: {:?}",
        stored.error
    );
    assert_eq!(stored.attempts, 2);
    assert_eq!(stored.error, None);
}
