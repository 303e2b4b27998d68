//! AWS calls per accepted webhook, counted on the real SDK clients (an interceptor sees every
//! attempt as it goes on the wire) against moto's server. These pin the request path's cost:
//! a webhook after the first (workflow and key cached) is exactly one write and one queue
//! send; a plain conditional PutItem without an idempotency key (a transaction would cost
//! double), one TransactWriteItems (execution + dedup) with one; a duplicate reads at most once
//! and sends nothing; a refused request costs no call at all (its count is written later, one
//! UpdateItem per workflow and hour for all of them, with one PutItem per sampled reason and
//! minute). A new call on the path fails here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use axum::http::StatusCode;
use webhook_trigger::adapters::dynamodb::DynamoStore;
use webhook_trigger::adapters::sqs::SqsQueue;
use webhook_trigger::config::Config;
use webhook_trigger::domain::Step;
use webhook_trigger::worker::{Worker, WorkerDeps};

use crate::support::{self, dynamodb};

/// Operation names (`x-amz-target`, e.g. `DynamoDB_20120810.PutItem`, `AmazonSQS.SendMessage`)
/// of every request attempt sent.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "CountCalls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("<no x-amz-target>");
        let op = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.lock().expect("calls").push(op);
        Ok(())
    }
}

impl Calls {
    /// Operation -> count, and empties the log.
    fn take(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for op in self.0.lock().expect("calls").drain(..) {
            *out.entry(op).or_insert(0) += 1;
        }
        out
    }
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// A DynamoDB client whose every request attempt is counted in `calls`.
fn counted_dynamodb(sdk: &aws_config::SdkConfig, calls: &Calls) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(calls.clone())
            .build(),
    )
}

const READS: [&str; 4] = ["GetItem", "Query", "BatchGetItem", "Scan"];

#[tokio::test]
async fn each_accepted_webhook_is_one_write_and_one_send_a_duplicate_at_most_one_read_a_refusal_none()
 {
    let fixture = dynamodb::fixture().await;
    let sdk = dynamodb::sdk_config().await;
    let calls = Calls::default();
    let ddb = counted_dynamodb(&sdk, &calls);
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .interceptor(calls.clone())
            .build(),
    );
    let store = DynamoStore::new(ddb, fixture.table.clone());
    let queue = SqsQueue::new(sqs, fixture.queues.queue_url.clone());
    // Caches as deployed (the API function's defaults); rejection counts flushed by hand.
    let config = Config {
        rejection_flush: std::time::Duration::from_secs(3600),
        ..Config::default()
    };
    let t = support::build(
        Arc::new(store),
        Arc::new(queue),
        Box::new(dynamodb::SqsDriver::new(
            fixture.sqs.clone(),
            fixture.queues.queue_url.clone(),
            support::test_worker(
                Arc::new(fixture.store.clone()),
                chrono::Duration::seconds(300),
            ),
        )),
        config,
        None,
    );
    let (workflow, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let wf = workflow.id.to_string();

    // The first webhook reads the workflow and the key (then cached) and records the key's use.
    let first = t.post_webhook(&wf, Some(&key), "{}").await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    calls.take();

    for n in 0..5 {
        let r = t
            .post_webhook(&wf, Some(&key), &format!(r#"{{"n":{n}}}"#))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    assert_eq!(
        calls.take(),
        counts(&[("PutItem", 5), ("SendMessage", 5)]),
        "without an idempotency key: one conditional PutItem and one SendMessage each"
    );

    for n in 0..5 {
        let idem = format!("order-{n}");
        let r = t
            .post_webhook_with(&wf, &key, "", &[("idempotency-key", &idem)], "{}")
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    assert_eq!(
        calls.take(),
        counts(&[("SendMessage", 5), ("TransactWriteItems", 5)]),
        "with an idempotency key: execution + dedup in one transaction, one SendMessage each"
    );

    let dup = t
        .post_webhook_with(&wf, &key, "", &[("idempotency-key", "order-3")], "{}")
        .await;
    assert_eq!(dup.status, StatusCode::OK, "{}", dup.body);
    assert_eq!(dup.body["duplicate"], true);
    let spent = calls.take();
    eprintln!("a duplicate spent {spent:?}");
    let reads: usize = READS
        .iter()
        .map(|op| spent.get(*op).copied().unwrap_or(0))
        .sum();
    assert!(reads <= 1, "a duplicate reads at most once: {spent:?}");
    assert_eq!(
        spent.get("SendMessage"),
        None,
        "a fresh duplicate sends nothing: {spent:?}"
    );
    assert!(
        spent.get("TransactWriteItems").copied().unwrap_or(0) <= 1,
        "{spent:?}"
    );

    // The duplicate was the first count of a quiet process, written at once (in the
    // background); settle it, then refuse requests: none of them costs a call.
    t.app.flush_rejections().await;
    calls.take();
    for n in 0..20 {
        let r = t
            .post_webhook(&wf, Some("whk_wrong"), &format!(r#"{{"n":{n}}}"#))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    let too_large = format!(r#"{{"pad":"{}"}}"#, "x".repeat(256 * 1024));
    let r = t.post_webhook(&wf, Some(&key), &too_large).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    assert_eq!(
        calls.take(),
        counts(&[]),
        "refused requests are counted in memory, not written one by one"
    );
    t.app.flush_rejections().await;
    let flushed = calls.take();
    let writes = flushed.get("UpdateItem").copied().unwrap_or(0);
    let samples = flushed.get("PutItem").copied().unwrap_or(0);
    assert!(
        flushed
            .keys()
            .all(|op| op == "UpdateItem" || op == "PutItem")
            && (1..=2).contains(&writes)
            && (2..=4).contains(&samples),
        "one UpdateItem per workflow-hour (two if the hour turned meanwhile), one PutItem per \
         reason and minute for the samples (auth and size; twice if the minute turned): \
         {flushed:?}"
    );
}

/// The worker writes an execution when it claims it, as soon as a step that reaches outside
/// (`http_request`, `sns_publish`) has run, and when it ends; the records of the steps that
/// reach nothing outside ride along with the next of those writes. It reads the execution,
/// and the workflow only when its cache does not have it.
#[tokio::test]
async fn the_worker_reads_a_workflow_once_and_writes_at_claim_after_each_outside_step_and_at_the_end()
 {
    let fixture = dynamodb::fixture().await;
    let sdk = dynamodb::sdk_config().await;
    let calls = Calls::default();
    let ddb = counted_dynamodb(&sdk, &calls);
    let counted = Arc::new(DynamoStore::new(ddb, fixture.table.clone()));
    let t = support::build(
        Arc::new(fixture.store.clone()),
        Arc::new(SqsQueue::new(
            fixture.sqs.clone(),
            fixture.queues.queue_url.clone(),
        )),
        Box::new(dynamodb::SqsDriver::new(
            fixture.sqs.clone(),
            fixture.queues.queue_url.clone(),
            Worker::new(WorkerDeps {
                store: counted,
                steps: support::test_step_deps(),
                lease: chrono::Duration::seconds(300),
                workflow_ttl: std::time::Duration::from_secs(60),
                budget: webhook_trigger::domain::WORKER_STEP_BUDGET,
            }),
        )),
        support::test_config(),
        None,
    );
    let target = support::target::Target::ok().await;
    let step = |value: serde_json::Value| -> Step { serde_json::from_value(value).expect("step") };
    let (workflow, key) = t
        .workflow_with_key(vec![
            step(serde_json::json!({"type": "transform", "output": {"n": "{{ trigger.body.n }}"}})),
            Step::Echo,
            step(serde_json::json!({"type": "http_request", "url": target.url("/hook")})),
            step(serde_json::json!({"type": "filter", "when": "trigger.body.n == 1"})),
            Step::Echo,
        ])
        .await;
    let wf = workflow.id.to_string();
    let r = t.post_webhook(&wf, Some(&key), r#"{"n":1}"#).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let id = r.execution_id();
    calls.take();

    assert_eq!(t.worker.drain().await, 1);
    let e = t.execution(&wf, &id, &key).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(e["steps"].as_array().map(Vec::len), Some(5), "{e}");
    assert_eq!(target.count(), 1);
    assert_eq!(
        calls.take(),
        counts(&[("GetItem", 2), ("PutItem", 3)]),
        "read the execution and the workflow; conditional puts at the claim, after the \
         http_request and at the end"
    );

    let r = t.post_webhook(&wf, Some(&key), r#"{"n":1}"#).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    calls.take();
    assert_eq!(t.worker.drain().await, 1);
    assert_eq!(target.count(), 2);
    assert_eq!(
        calls.take(),
        counts(&[("GetItem", 1), ("PutItem", 3)]),
        "the next execution of the workflow reads only itself"
    );
}
