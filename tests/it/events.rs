//! Every file in `events/` goes through the real function code, the way Lambda delivers it,
//! against DynamoDB + SQS on moto: API Gateway events through lambda_http's conversion (event
//! JSON → `http::Request` → our handler → API Gateway response JSON), SQS events through the
//! worker handler. Each file has an expected answer below; a file without one fails the test,
//! so a new sample event cannot go unchecked. Needs `make test` (or moto + AWS_ENDPOINT_URL).
//!
//! The `api-sns-*` events carry the signed known-answer messages of `tests/fixtures/sns/`;
//! a stand-in for SNS on loopback serves their signing certificate and answers their
//! `SubscribeURL`, as SNS would.
//!
//! The test runs in a process of its own with `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` set (as
//! template.yaml sets it), since changing the environment of the shared test process while
//! other threads read it is unsound.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use axum::http::{StatusCode, Uri, header};
use axum::response::IntoResponse;
use lambda_http::tower::ServiceExt;
use lambda_http::{Adapter, Context, LambdaEvent, Request, service_fn};
use serde_json::{Value, json};

use webhook_trigger::cli::setup::{sample, seed_sample_data};
use webhook_trigger::config::Config;
use webhook_trigger::domain::{
    ExecutionId, ExecutionStatus, RejectionCounts, RejectionReason, SubscriptionState, WorkflowId,
    hour_of,
};
use webhook_trigger::ports::Store;

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
        ("api-sns-notification.json", Api(202, accepted)),
        (
            "api-sns-subscription-confirmation.json",
            Api(200, |b| {
                assert_eq!(b["status"], "subscription_confirmed", "{b}");
                assert_eq!(b["topicArn"], sample::SNS_TOPIC_ARN);
                assert_eq!(b["subscriptionArn"], SNS_SUBSCRIPTION_ARN);
            }),
        ),
        ("sqs-work-item.json", Sqs(&[])),
        (
            "sqs-batch-with-poison-message.json",
            Sqs(&["c80e8021-a70a-42c7-a470-796e1186f753"]),
        ),
    ])
}

/// The signed SNS message each `api-sns-*` event carries, byte for byte, as its body.
fn sns_fixture(event: &str) -> Option<&'static str> {
    match event {
        "api-sns-notification.json" => Some("kat-notification-v2.json"),
        "api-sns-subscription-confirmation.json" => Some("kat-subscription-confirmation-v2.json"),
        _ => None,
    }
}

const SNS_FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sns");

/// What the SNS stand-in answers to the confirmation's `SubscribeURL`.
const SNS_SUBSCRIPTION_ARN: &str =
    "arn:aws:sns:us-east-1:123456789012:kat-topic:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55";

fn read_sns_fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(SNS_FIXTURES).join(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// SNS on loopback for the fixture messages: serves `kat-signing-cert.pem` at the path of
/// their `SigningCertURL`, answers the path and query of the confirmation's `SubscribeURL`
/// with SNS's ConfirmSubscription XML, and records every request (path and query).
struct SnsStandIn {
    endpoint: url::Url,
    cert_target: String,
    subscribe_target: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl SnsStandIn {
    async fn start() -> SnsStandIn {
        let field = |fixture: &str, name: &str| -> url::Url {
            let message: Value = serde_json::from_str(&read_sns_fixture(fixture)).expect("JSON");
            url::Url::parse(message[name].as_str().expect(name)).expect("a URL")
        };
        let target = |url: &url::Url| match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let cert_url = field("kat-subscription-confirmation-v2.json", "SigningCertURL");
        assert_eq!(
            cert_url,
            field("kat-notification-v2.json", "SigningCertURL"),
            "both messages name one certificate"
        );
        let cert_target = target(&cert_url);
        let subscribe_target = target(&field(
            "kat-subscription-confirmation-v2.json",
            "SubscribeURL",
        ));
        let pem = read_sns_fixture("kat-signing-cert.pem");
        let xml = format!(
            r#"<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ConfirmSubscriptionResult><SubscriptionArn>{SNS_SUBSCRIPTION_ARN}</SubscriptionArn></ConfirmSubscriptionResult><ResponseMetadata><RequestId>2b2b7ea5-0000-4000-8000-00000000c0f1</RequestId></ResponseMetadata></ConfirmSubscriptionResponse>"#
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler = {
            let (cert_target, subscribe_target, requests) = (
                cert_target.clone(),
                subscribe_target.clone(),
                requests.clone(),
            );
            move |uri: Uri| async move {
                let asked = uri
                    .path_and_query()
                    .map(|pq| pq.as_str().to_owned())
                    .unwrap_or_default();
                requests.lock().expect("lock").push(asked.clone());
                if asked == cert_target {
                    ([(header::CONTENT_TYPE, "application/x-x509-ca-cert")], pem).into_response()
                } else if asked == subscribe_target {
                    ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
                } else {
                    (StatusCode::NOT_FOUND, "not found").into_response()
                }
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, axum::Router::new().fallback(handler)).await;
        });
        SnsStandIn {
            endpoint: url::Url::parse(&format!("http://{addr}")).expect("loopback URL"),
            cert_target,
            subscribe_target,
            requests,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("lock").clone()
    }
}

fn accepted(body: &Value) {
    assert_eq!(body["status"], "queued", "{body}");
    assert_eq!(body["duplicate"], false);
    assert!(ExecutionId::parse(body["executionId"].as_str().unwrap_or_default()).is_ok());
}

#[test]
fn every_event_file_gets_its_expected_answer() {
    support::child_process::run_in_own_process(
        "events::every_event_file_gets_its_expected_answer",
        &[("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "true")],
        || {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(run_all())
        },
    );
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
        "events without an expected answer in tests/it/events.rs: {unexpected:?}"
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
    let sns = SnsStandIn::start().await;
    let config = Config {
        // Certificate and SubscribeURL fetches go to the stand-in (the URL rules still apply).
        sns_endpoint: Some(sns.endpoint.clone()),
        // The fixture messages are signed, so their Timestamps are fixed (2026-11-23T10:00Z):
        // the default SNS_MAX_AGE_SECONDS (1 h) would, correctly, reject them as stale. Accept
        // a century instead; the certificate's own validity (2026-01-01 to 2036-01-01) is
        // still checked.
        sns_max_age: Duration::from_secs(100 * 365 * 24 * 3600),
        ..Config::default()
    };
    seed_sample_data(store.as_ref(), config.retention)
        .await
        .expect("sample data");
    let app =
        webhook_trigger::wiring::app(store.clone(), Arc::new(f.queue.clone()), config.clone());
    let router = webhook_trigger::http::router(app.clone());
    let worker = crate::support::test_worker(store.clone(), config.worker_lease);

    // API events first, then the worker: the SQS sample names the sample execution.
    files.sort_by_key(|name| name.starts_with("sqs-"));
    for name in &files {
        let text = std::fs::read_to_string(dir.join(name)).expect("read event");
        let event: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
        if let Some(fixture) = sns_fixture(name) {
            assert_eq!(
                event["body"].as_str(),
                Some(read_sns_fixture(fixture).as_str()),
                "{name}: the body must be {fixture} byte for byte (it is signed)"
            );
        }
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
                if name == "api-sns-notification.json" {
                    let id = ExecutionId::parse(body["executionId"].as_str().unwrap()).unwrap();
                    let wf = WorkflowId::parse(sample::SNS_WORKFLOW_ID).unwrap();
                    let stored = store.get_execution(&wf, &id).await.unwrap().unwrap();
                    assert_eq!(
                        stored.payload,
                        json!({"detail": {"state": "ALARM"}, "list": [1, 2, 3]})
                    );
                }
                assert_eq!(
                    event["requestContext"]["stage"], "Prod",
                    "{name}: REST API shape"
                );
            }
            Expect::Sqs(failures) => {
                let sqs: SqsEvent = serde_json::from_value(event)
                    .unwrap_or_else(|e| panic!("{name} is not an SQS event: {e}"));
                let response = webhook_trigger::lambda::worker::handle_batch(
                    &webhook_trigger::lambda::worker::WorkerFunction::new(worker.clone()),
                    sqs,
                )
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

    // The confirmation GOT its SubscribeURL once; the stand-in saw nothing else than that and
    // the certificate; and the subscription is recorded.
    let requests = sns.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| **r == sns.subscribe_target)
            .count(),
        1,
        "{requests:?}"
    );
    assert!(requests.contains(&sns.cert_target), "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| *r == sns.subscribe_target || *r == sns.cert_target),
        "{requests:?}"
    );
    let subscriptions = app
        .list_subscriptions(sample::SNS_WORKFLOW_ID)
        .await
        .expect("subscriptions");
    assert_eq!(subscriptions.len(), 1, "{subscriptions:?}");
    assert_eq!(subscriptions[0].state, SubscriptionState::Confirmed);
    assert_eq!(subscriptions[0].topic_arn, sample::SNS_TOPIC_ARN);
    assert_eq!(
        subscriptions[0].subscription_arn.as_deref(),
        Some(SNS_SUBSCRIPTION_ARN)
    );

    // The refused events (a bad key, a body that is not JSON) were counted against the sample
    // workflow: the first written by the function in the background, with no flush asked
    // for (as on Lambda, where nothing runs between invocations but what a request starts),
    // the rest by the next flush.
    let since = hour_of(chrono::Utc::now()) - chrono::Duration::hours(1);
    let stored = || async {
        let mut total = RejectionCounts::default();
        for (_, counts) in store.rejections_since(&wf, since).await.expect("read") {
            total.merge(&counts);
        }
        total
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stored().await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first refusal was not written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.flush_rejections().await;
    let total = stored().await;
    assert_eq!(
        (
            total.get(RejectionReason::Auth),
            total.get(RejectionReason::Other),
            total.total()
        ),
        (1, 1, 2)
    );
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
