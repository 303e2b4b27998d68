//! Every file in `events/` goes through the real function code, the way Lambda delivers it,
//! against DynamoDB + SQS on moto: API Gateway events through lambda_http's conversion (event
//! JSON → `http::Request` → our handler → API Gateway response JSON), SQS events through the
//! worker handler. Each file has an expected answer below; a file without one fails the test,
//! so a new sample event cannot go unchecked. Needs `make test` (or moto + AWS_ENDPOINT_URL).
//!
//! This binary holds one test on purpose: it sets `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`
//! (as template.yaml does) before any other thread exists, since changing the environment
//! while other threads read it is unsound.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::tower::ServiceExt;
use lambda_http::{Adapter, Context, LambdaEvent, Request, service_fn};
use serde_json::{Value, json};

use webhook_trigger::app::App;
use webhook_trigger::cli::setup::{sample, seed_sample_data};
use webhook_trigger::config::Config;
use webhook_trigger::domain::{ExecutionId, ExecutionStatus, WorkflowId};
use webhook_trigger::ports::Store;
use webhook_trigger::worker::Worker;

enum Expect {
    /// Status code, and a check of the JSON body.
    Api(u16, fn(&Value)),
    /// The message ids the worker must report in `batchItemFailures`.
    Sqs(&'static [&'static str]),
}

/// The expected answer for each file, with the sample data of `setup --sample-data` in place.
fn expected() -> BTreeMap<&'static str, Expect> {
    use Expect::*;
    BTreeMap::from([
        (
            "api-health.json",
            Api(200, |b| assert_eq!(b["status"], "ok")),
        ),
        (
            "api-health-stage-in-path.json",
            Api(200, |b| assert_eq!(b["status"], "ok")),
        ),
        ("api-webhook-header-key.json", Api(202, accepted)),
        ("api-webhook-query-key.json", Api(202, accepted)),
        ("api-webhook-base64-body.json", Api(202, accepted)),
        (
            "api-webhook-bad-key.json",
            Api(401, |b| assert_eq!(b["error"]["code"], "invalid_api_key")),
        ),
        (
            "api-webhook-malformed-json.json",
            Api(400, |b| {
                assert_eq!(b["error"]["code"], "invalid_json");
                assert!(b["error"]["message"].as_str().is_some_and(|m| m.len() > 20));
            }),
        ),
        (
            "api-list-executions.json",
            Api(200, |b| {
                let items = b["items"].as_array().expect("items");
                assert!(!items.is_empty() && items.len() <= 5, "{b}");
                assert!(items.iter().all(|e| e["workflowId"] == sample::WORKFLOW_ID));
            }),
        ),
        (
            "api-get-execution.json",
            Api(200, |b| {
                assert_eq!(b["id"], sample::EXECUTION_ID);
                assert_eq!(b["payload"], json!({"sample": true}));
            }),
        ),
        ("sqs-work-item.json", Sqs(&[])),
        (
            "sqs-batch-with-poison-message.json",
            Sqs(&["c80e8021-a70a-42c7-a470-796e1186f753"]),
        ),
    ])
}

fn accepted(body: &Value) {
    assert_eq!(body["status"], "queued", "{body}");
    assert_eq!(body["duplicate"], false);
    assert!(ExecutionId::parse(body["executionId"].as_str().unwrap_or_default()).is_ok());
}

#[test]
fn every_event_file_gets_its_expected_answer() {
    // SAFETY: the only test of this binary, before its runtime starts: no other thread exists
    // that could read the environment concurrently.
    unsafe { std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true") };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run_all());
}

async fn run_all() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("events/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != "README.md")
        .collect();
    files.sort();
    let mut expected = expected();
    let unexpected: Vec<&String> = files
        .iter()
        .filter(|f| !expected.contains_key(f.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "events without an expected answer in tests/events.rs: {unexpected:?}"
    );
    let missing: Vec<&&str> = expected
        .keys()
        .filter(|k| !files.iter().any(|f| f == *k))
        .collect();
    assert!(
        missing.is_empty(),
        "expected answers for missing events: {missing:?}"
    );

    let f = support::dynamodb::fixture().await;
    let store: Arc<dyn Store> = Arc::new(f.store.clone());
    let config = Config::default();
    seed_sample_data(store.as_ref(), config.retention)
        .await
        .expect("sample data");
    let app = App::new(store.clone(), Arc::new(f.queue.clone()), config.clone());
    let router = webhook_trigger::http::router(app);
    let worker = Worker::new(store.clone(), config.worker_lease);

    // API events first, then the worker: the SQS sample names the sample execution.
    files.sort_by_key(|name| name.starts_with("sqs-"));
    for name in &files {
        let text = std::fs::read_to_string(dir.join(name)).expect("read event");
        let event: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        match expected.remove(name.as_str()).expect("checked above") {
            Expect::Api(status, check) => {
                let response = invoke_api(router.clone(), &text).await;
                assert_eq!(
                    response["statusCode"], status,
                    "{name}: unexpected answer {response}"
                );
                let body: Value = serde_json::from_str(response["body"].as_str().unwrap_or("null"))
                    .unwrap_or_else(|e| panic!("{name}: body is not JSON ({e}): {response}"));
                check(&body);
                if name == "api-webhook-base64-body.json" {
                    let id = ExecutionId::parse(body["executionId"].as_str().unwrap()).unwrap();
                    let wf = WorkflowId::parse(sample::WORKFLOW_ID).unwrap();
                    let stored = store.get_execution(&wf, &id).await.unwrap().unwrap();
                    assert_eq!(stored.payload, json!({"order": 43, "encoded": true}));
                }
                assert_eq!(
                    event["requestContext"]["stage"], "Prod",
                    "{name}: REST API shape"
                );
            }
            Expect::Sqs(failures) => {
                let sqs: SqsEvent = serde_json::from_value(event)
                    .unwrap_or_else(|e| panic!("{name} is not an SQS event: {e}"));
                let response = webhook_trigger::lambda::worker::handle_batch(&worker, sqs)
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let wire = serde_json::to_value(&response).unwrap();
                let reported: Vec<&str> = wire["batchItemFailures"]
                    .as_array()
                    .expect("batchItemFailures")
                    .iter()
                    .map(|f| f["itemIdentifier"].as_str().unwrap_or_default())
                    .collect();
                assert_eq!(reported, failures, "{name}");
            }
        }
    }
    // The sample SQS event ran the sample execution.
    let wf = WorkflowId::parse(sample::WORKFLOW_ID).unwrap();
    let id = ExecutionId::parse(sample::EXECUTION_ID).unwrap();
    let ran = store.get_execution(&wf, &id).await.unwrap().unwrap();
    assert_eq!(ran.status, ExecutionStatus::Succeeded);
}

/// What Lambda does with an API Gateway event: lambda_http's adapter turns the event into an
/// `http::Request`, calls the function's handler and turns its answer into the API Gateway
/// response JSON.
async fn invoke_api(router: axum::Router, event: &str) -> Value {
    let request: lambda_http::request::LambdaRequest =
        serde_json::from_str(event).expect("an API Gateway event");
    let adapter = Adapter::from(service_fn(move |req: Request| {
        webhook_trigger::lambda::api::handle(router.clone(), req)
    }));
    let response = adapter
        .oneshot(LambdaEvent::new(request, Context::default()))
        .await
        .expect("handler never fails");
    serde_json::to_value(&response).expect("response JSON")
}
