//! Faults on both backends: the store refusing writes, the queue refusing sends, either one
//! timing out (a loopback port that accepts and never answers), the emulator gone, and the
//! process killed between the write and the send. Each time the caller gets 503 with
//! `Retry-After`, nothing is half-written, and after recovery a retry with the same
//! `Idempotency-Key` gives exactly one execution, which runs once. Also: a burst of
//! duplicates puts at most one message on the queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::dynamodb::{Fixture, SqsDriver, fixture, unique};
use crate::support::store_delegate::delegate_store;
use crate::support::{self, Response, TestApp, assert_error};
use webhook_trigger::adapters::dynamodb::DynamoStore;
use webhook_trigger::adapters::sqs::SqsQueue;
use webhook_trigger::app::Sweeper;
use webhook_trigger::config::Config;
use webhook_trigger::domain::{Execution, Step, Workflow};
use webhook_trigger::ports::{QueueError, Store, WorkItem, WorkQueue};

async fn post_keyed(t: &TestApp, workflow: &Workflow, key: &str, idem: &str) -> Response {
    let request = Request::post(format!("/webhooks/{}", workflow.id))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .header("idempotency-key", idem)
        .body(Body::from(r#"{"order":42}"#))
        .expect("request");
    t.send(request).await
}

#[track_caller]
fn assert_unavailable(r: &Response, code: &str) {
    assert_error(r, StatusCode::SERVICE_UNAVAILABLE, code);
    assert!(r.headers.get("retry-after").is_some(), "no Retry-After");
}

async fn listed(t: &TestApp, workflow: &Workflow, key: &str) -> Vec<Value> {
    let r = t
        .get(&format!("/workflows/{}/executions", workflow.id), Some(key))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["items"].as_array().cloned().unwrap_or_default()
}

/// After recovery: the retry answers with one execution, the worker runs it, and it ran once.
async fn retry_runs_once(t: &TestApp, workflow: &Workflow, key: &str, idem: &str) {
    let retried = post_keyed(t, workflow, key, idem).await;
    assert!(retried.status.is_success(), "{}", retried.body);
    assert_eq!(listed(t, workflow, key).await.len(), 1);
    assert_eq!(t.worker.drain().await, 1);
    assert_ran_once(t, workflow, key, &retried.execution_id()).await;
}

async fn assert_ran_once(t: &TestApp, workflow: &Workflow, key: &str, id: &str) {
    let execution = t.execution(workflow.id.as_str(), id, key).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    assert_eq!(execution["attempts"], 1, "{execution}");
    assert_eq!(t.worker.drain().await, 0, "no second message is left");
}

// ---------------------------------------------------------------- SQLite

fn sqlite_fault(path: &std::path::Path, sql: &str) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("second connection");
    conn.execute_batch(sql).expect("inject fault");
    conn
}

/// The exact point between the two steps: the execution row is written, then the queue row
/// is refused. Both are one transaction, so nothing of the execution remains; with two steps
/// the execution would stay `queued` with no message.
#[tokio::test]
async fn sqlite_a_refused_queue_row_leaves_no_execution() {
    let (t, store, path) = support::sqlite_app_parts(support::test_config()).await;
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let fault = sqlite_fault(
        &path,
        "CREATE TRIGGER refuse_queue BEFORE INSERT ON queue \
         BEGIN SELECT RAISE(ABORT, 'queue refused by the test'); END;",
    );
    let refused = post_keyed(&t, &wf, &key, "order-42").await;
    assert_unavailable(&refused, "store_unavailable");
    assert!(listed(&t, &wf, &key).await.is_empty(), "half-written");
    let unkeyed = t.post_webhook(wf.id.as_str(), Some(&key), "{}").await;
    assert_unavailable(&unkeyed, "store_unavailable");
    assert!(listed(&t, &wf, &key).await.is_empty(), "half-written");
    assert_eq!(store.queue().depth().await.expect("depth"), 0);

    fault
        .execute_batch("DROP TRIGGER refuse_queue;")
        .expect("recover");
    retry_runs_once(&t, &wf, &key, "order-42").await;
}

#[tokio::test]
async fn sqlite_a_store_refusing_writes_is_503_and_queues_nothing() {
    let (t, store, path) = support::sqlite_app_parts(support::test_config()).await;
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let fault = sqlite_fault(
        &path,
        "CREATE TRIGGER refuse_executions BEFORE INSERT ON executions \
         BEGIN SELECT RAISE(ABORT, 'disk full, says the test'); END;",
    );
    let refused = post_keyed(&t, &wf, &key, "order-42").await;
    assert_unavailable(&refused, "store_unavailable");
    assert!(listed(&t, &wf, &key).await.is_empty());
    assert_eq!(store.queue().depth().await.expect("depth"), 0);

    fault
        .execute_batch("DROP TRIGGER refuse_executions;")
        .expect("recover");
    retry_runs_once(&t, &wf, &key, "order-42").await;
}

/// Another process holds the write lock past the store's busy timeout.
#[tokio::test]
async fn sqlite_a_store_that_stays_locked_times_out_as_503() {
    let (t, store, path) = support::sqlite_app_parts(support::test_config()).await;
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let lock = sqlite_fault(&path, "BEGIN IMMEDIATE;");
    let refused = post_keyed(&t, &wf, &key, "order-42").await;
    assert_unavailable(&refused, "store_unavailable");
    lock.execute_batch("ROLLBACK;").expect("release");
    assert!(listed(&t, &wf, &key).await.is_empty());
    assert_eq!(store.queue().depth().await.expect("depth"), 0);
    retry_runs_once(&t, &wf, &key, "order-42").await;
}

/// SNS redelivering a burst: every duplicate is answered with the first execution, and the
/// queue holds that execution's one message (written with it), never one per duplicate.
#[tokio::test]
async fn sqlite_a_burst_of_duplicates_queues_one_message() {
    let config = Config {
        // Even a duplicate long after the first would not re-send: nothing can be lost here.
        resend_after: Duration::ZERO,
        ..support::test_config()
    };
    let (t, store, _path) = support::sqlite_app_parts(config).await;
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let first = post_keyed(&t, &wf, &key, "burst").await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let t = Arc::new(t);
    let answers = burst(&t, &wf, &key, 200).await;
    assert!(
        answers
            .iter()
            .all(|(s, id)| *s == 200 && *id == first.execution_id()),
        "{answers:?}"
    );
    assert_eq!(store.queue().depth().await.expect("depth"), 1);
    assert_eq!(t.worker.drain().await, 1);
    assert_ran_once(&t, &wf, &key, &first.execution_id()).await;
}

async fn burst(t: &Arc<TestApp>, wf: &Workflow, key: &str, n: usize) -> Vec<(u16, String)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (t, wf, key) = (t.clone(), wf.clone(), key.to_owned());
            tokio::spawn(async move {
                let r = post_keyed(&t, &wf, &key, "burst").await;
                let id = r.body["executionId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                (r.status.as_u16(), id)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("task"));
    }
    answers
}

// ---------------------------------------------------------------- DynamoDB + SQS

/// An SDK configuration for one endpoint on this machine, with timeouts short enough for a
/// test (the production ones are in `adapters::aws`; only the durations differ).
async fn sdk_at(endpoint: &str) -> aws_config::SdkConfig {
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_attempt_timeout(Duration::from_millis(700))
                .operation_timeout(Duration::from_secs(2))
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

/// A loopback port nothing listens on: connections are refused (the emulator is down).
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A loopback port that accepts connections and never answers: every request times out.
async fn black_hole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// A store that reads from one backend and writes executions to another: the table is
/// readable (keys and workflows are found) while execution writes fail. A decorator on our
/// own port; the failing side is a real SDK client.
struct WritesElsewhere {
    reads: Arc<dyn Store>,
    writes: Arc<dyn Store>,
}

delegate_store!(WritesElsewhere => reads:
    ApiKeyStore,
    WorkflowStore,
    WorkflowVersionStore,
    SecretStore,
    KeyUsageStore,
    AdminKeyStore,
);
delegate_store!(WritesElsewhere => reads reads, writes writes:
    ExecutionStore,
    SubscriptionStore,
    RejectionStore,
    RefusalSampleStore,
    ItemStore,
    CallbackStore,
);

/// Counts sends that reached the queue: what a burst of duplicates costs.
struct CountingQueue {
    inner: Arc<dyn WorkQueue>,
    sent: Arc<AtomicUsize>,
}

#[async_trait]
impl WorkQueue for CountingQueue {
    async fn enqueue(&self, item: &WorkItem) -> Result<(), QueueError> {
        self.inner.enqueue(item).await?;
        self.sent.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// The emulator's table and queue, and an app over them (or over the given store and queue).
struct Aws {
    f: Fixture,
    real: Arc<dyn Store>,
}

impl Aws {
    async fn new() -> Self {
        let f = fixture().await;
        let real: Arc<dyn Store> = Arc::new(f.store.clone());
        Self { f, real }
    }

    fn app(&self, store: Arc<dyn Store>, queue: Arc<dyn WorkQueue>, config: Config) -> TestApp {
        let driver = SqsDriver::new(
            self.f.sqs.clone(),
            self.f.queues.queue_url.clone(),
            support::test_worker(self.real.clone(), config.worker_lease),
        );
        support::build(store, queue, Box::new(driver), config, None)
    }

    fn working(&self) -> TestApp {
        self.app(
            self.real.clone(),
            Arc::new(self.f.queue.clone()),
            support::test_config(),
        )
    }

    fn sweeper(&self) -> Sweeper {
        Sweeper::new(
            Arc::new(self.f.store.clone()),
            Arc::new(self.f.queue.clone()),
            chrono::Duration::seconds(60),
            100,
        )
    }

    /// A store whose execution writes go to `endpoint` (table reads still work).
    async fn store_writing_to(&self, endpoint: &str, table: &str) -> Arc<dyn Store> {
        let broken = DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk_at(endpoint).await),
            table,
        );
        Arc::new(WritesElsewhere {
            reads: self.real.clone(),
            writes: Arc::new(broken),
        })
    }

    async fn queue_at(&self, endpoint: &str) -> Arc<dyn WorkQueue> {
        let url = self.f.queues.queue_url.clone();
        Arc::new(SqsQueue::new(
            aws_sdk_sqs::Client::new(&sdk_at(endpoint).await),
            url,
        ))
    }
}

/// Store faults: the write fails (refused, or never answered), so nothing exists and nothing
/// was sent; the retry after recovery creates the one execution.
async fn store_write_fault(aws: &Aws, broken: Arc<dyn Store>) {
    let working = aws.working();
    let (wf, key) = working.workflow_with_key(vec![Step::Echo]).await;
    let t = aws.app(
        broken,
        Arc::new(aws.f.queue.clone()),
        support::test_config(),
    );
    let refused = post_keyed(&t, &wf, &key, "order-42").await;
    assert_unavailable(&refused, "store_unavailable");
    assert!(listed(&working, &wf, &key).await.is_empty());
    assert_eq!(working.worker.drain().await, 0, "nothing may be queued");
    retry_runs_once(&working, &wf, &key, "order-42").await;
}

#[tokio::test]
async fn dynamodb_a_store_refusing_writes_is_503_and_writes_nothing() {
    let aws = Aws::new().await;
    let endpoint = crate::support::dynamodb::endpoint();
    // The table named does not exist: DynamoDB refuses every write (ResourceNotFound).
    let broken = aws.store_writing_to(&endpoint, &unique("missing")).await;
    store_write_fault(&aws, broken).await;
}

#[tokio::test]
async fn dynamodb_a_store_write_that_times_out_is_503_and_writes_nothing() {
    let aws = Aws::new().await;
    let broken = aws
        .store_writing_to(&black_hole().await, &aws.f.table)
        .await;
    store_write_fault(&aws, broken).await;
}

/// moto is down: the store cannot even be read, so the key check fails first; 503, nothing
/// anywhere.
#[tokio::test]
async fn dynamodb_the_emulator_unavailable_is_503_and_writes_nothing() {
    let aws = Aws::new().await;
    let working = aws.working();
    let (wf, key) = working.workflow_with_key(vec![Step::Echo]).await;
    let down = closed_port();
    let store: Arc<dyn Store> = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk_at(&down).await),
        aws.f.table.clone(),
    ));
    let t = aws.app(store, aws.queue_at(&down).await, support::test_config());
    let refused = post_keyed(&t, &wf, &key, "order-42").await;
    assert_unavailable(&refused, "store_unavailable");
    assert!(listed(&working, &wf, &key).await.is_empty());
    assert_eq!(working.worker.drain().await, 0);
    retry_runs_once(&working, &wf, &key, "order-42").await;
}

/// The write succeeded and the send was lost (refused here; a crash or a Lambda timeout at
/// this point loses it the same way). The caller got 503; its quick retry is answered with
/// the stored execution without a second send (it is too fresh to be presumed lost); the
/// sweeper finds it through the sparse index and sends it; the worker runs it once.
async fn lost_send_is_swept(aws: &Aws, t: &TestApp, wf: &Workflow, key: &str) {
    let working = aws.working();
    assert_eq!(working.worker.drain().await, 0, "the send was lost");
    let retried = post_keyed(&working, wf, key, "order-42").await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(retried.body["duplicate"], true);
    let listed_now = listed(t, wf, key).await;
    assert_eq!(listed_now.len(), 1, "one execution");
    assert_eq!(listed_now[0]["status"], "queued");
    assert_eq!(working.worker.drain().await, 0, "still stranded");

    let sweeper = aws.sweeper();
    let now = chrono::Utc::now();
    assert_eq!(
        sweeper.sweep(now).await.expect("sweep").resent,
        0,
        "too fresh"
    );
    let later = now + chrono::Duration::seconds(61);
    assert_eq!(sweeper.sweep(later).await.expect("sweep").resent, 1);
    // Re-sent and noted: the next sweep leaves it alone while its message is on the way.
    assert_eq!(sweeper.sweep(later).await.expect("sweep").resent, 0);
    assert_eq!(working.worker.drain().await, 1);
    assert_ran_once(&working, wf, key, &retried.execution_id()).await;
    // Taken by the worker: out of the index for good.
    let much_later = now + chrono::Duration::hours(1);
    assert_eq!(sweeper.sweep(much_later).await.expect("sweep").resent, 0);
}

#[tokio::test]
async fn dynamodb_a_refused_send_is_re_sent_by_the_sweeper_and_runs_once() {
    let aws = Aws::new().await;
    let t = aws.working();
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    t.queue_down.store(true, Ordering::SeqCst);
    let refused = post_keyed(&t, &wf, &key, "order-42").await;
    assert_unavailable(&refused, "queue_unavailable");
    lost_send_is_swept(&aws, &t, &wf, &key).await;
}

#[tokio::test]
async fn dynamodb_a_send_that_times_out_is_re_sent_by_the_sweeper_and_runs_once() {
    let aws = Aws::new().await;
    let t = aws.app(
        aws.real.clone(),
        aws.queue_at(&black_hole().await).await,
        support::test_config(),
    );
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let refused = post_keyed(&t, &wf, &key, "order-42").await;
    assert_unavailable(&refused, "queue_unavailable");
    lost_send_is_swept(&aws, &t, &wf, &key).await;
}

/// A retry that comes after `resend_after` re-sends by itself, without waiting for a sweep.
#[tokio::test]
async fn dynamodb_a_late_retry_re_sends_the_stranded_execution() {
    let aws = Aws::new().await;
    let config = Config {
        resend_after: Duration::ZERO,
        ..support::test_config()
    };
    let t = aws.app(
        aws.real.clone(),
        Arc::new(aws.f.queue.clone()),
        config.clone(),
    );
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    t.queue_down.store(true, Ordering::SeqCst);
    assert_unavailable(
        &post_keyed(&t, &wf, &key, "order-42").await,
        "queue_unavailable",
    );
    t.queue_down.store(false, Ordering::SeqCst);
    retry_runs_once(&t, &wf, &key, "order-42").await;
}

/// The sweeper function, invoked the way EventBridge invokes it.
#[tokio::test]
async fn dynamodb_the_sweeper_function_re_sends_from_a_scheduled_event() {
    let aws = Aws::new().await;
    let t = aws.working();
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    // Written, never sent: what a Lambda killed between the two steps leaves.
    let execution = Execution::new(
        wf.id.clone(),
        webhook_trigger::domain::TriggerMeta::GenericWebhook {
            content_type: None,
            idempotency_key: Some("k".into()),
            body_bytes: 2,
        },
        json!({}),
        chrono::Utc::now() - chrono::Duration::seconds(1),
        chrono::Duration::days(1),
    );
    aws.real
        .insert_execution(&execution, Some("idem#k"))
        .await
        .expect("write");
    let sweeper = Sweeper::new(
        Arc::new(aws.f.store.clone()),
        Arc::new(aws.f.queue.clone()),
        chrono::Duration::zero(),
        100,
    );
    let scheduled = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": "2026-11-25T00:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep"], "detail": {}
    });
    let report = webhook_trigger::lambda::sweeper::handle(&sweeper, scheduled)
        .await
        .expect("sweep");
    assert_eq!(report.resent, 1);
    assert_eq!(t.worker.drain().await, 1);
    assert_ran_once(&t, &wf, &key, &execution.id.to_string()).await;
}

/// SNS redelivering a burst while the first is still queued: one message, not one per
/// duplicate.
#[tokio::test]
async fn dynamodb_a_burst_of_duplicates_sends_at_most_one_message() {
    let aws = Aws::new().await;
    let sent = Arc::new(AtomicUsize::new(0));
    let queue = Arc::new(CountingQueue {
        inner: Arc::new(aws.f.queue.clone()),
        sent: sent.clone(),
    });
    let t = aws.app(aws.real.clone(), queue, support::test_config());
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let first = post_keyed(&t, &wf, &key, "burst").await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let t = Arc::new(t);
    let answers = burst(&t, &wf, &key, 100).await;
    // Concurrent transactions on one key may conflict (503, retried by the sender); every
    // answer that is 2xx names the first execution.
    assert!(
        answers
            .iter()
            .all(|(s, id)| *s == 503 || (*s == 200 && *id == first.execution_id())),
        "{answers:?}"
    );
    assert!(answers.iter().any(|(s, _)| *s == 200));
    assert_eq!(
        sent.load(Ordering::SeqCst),
        1,
        "one send for the first only"
    );
    assert_eq!(t.worker.drain().await, 1);
    assert_ran_once(&t, &wf, &key, &first.execution_id()).await;
}

// ---------------------------------------------------------------- kill -9 of `serve`

const BIN: &str = env!("CARGO_BIN_EXE_webhook-trigger");

fn cli_json(db: &std::path::Path, args: &[&str]) -> Value {
    let out = std::process::Command::new(BIN)
        .args(["--store", db.to_str().expect("utf-8 path"), "--json"])
        .args(args)
        .env_remove("WEBHOOK_STORE")
        .output()
        .expect("run cli");
    assert!(out.status.success(), "{args:?}");
    serde_json::from_slice(&out.stdout).expect("json output")
}

struct Serve(std::process::Child);

impl Serve {
    fn start(db: &std::path::Path, addr: &str) -> Self {
        let child = std::process::Command::new(BIN)
            .args(["serve", "--addr", addr, "--db", db.to_str().expect("utf-8")])
            // Echo runs in microseconds; a short lease lets a run cut by the kill be taken
            // over right after the restart instead of in five minutes.
            .env("WORKER_LEASE_SECONDS", "2")
            .env_remove("WEBHOOK_BASE_URL")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn serve");
        Self(child)
    }

    /// SIGKILL: no shutdown path runs.
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Executions `queued` and never taken whose queue row is missing: what a crash between a
/// two-step write and send leaves, and what the atomic outbox makes impossible.
fn stranded(db: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.query_row(
        "SELECT COUNT(*) FROM executions e WHERE e.status = 'queued' AND e.attempts = 0 \
         AND NOT EXISTS (SELECT 1 FROM queue q WHERE instr(q.body, e.id) > 0)",
        [],
        |r| r.get(0),
    )
    .expect("count")
}

/// The real binary, killed with SIGKILL three times while clients send keyed webhooks and
/// retry until answered: no execution is left without its queue row, every key has exactly
/// one execution, and all of them run to the end.
#[tokio::test]
async fn sqlite_serve_killed_mid_stream_strands_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let key = cli_json(&db, &["api-keys", "create", "crash"])["value"]
        .as_str()
        .expect("key")
        .to_owned();
    let steps = r#"[{"id":"e","type":"echo"}]"#;
    let workflow = cli_json(
        &db,
        &[
            "workflows",
            "create",
            "--name",
            "Crash",
            "--api-key",
            "crash",
            "--steps",
            steps,
        ],
    )["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let addr = format!("127.0.0.1:{port}");
    let url = format!("http://{addr}/webhooks/{workflow}");
    let mut server = Serve::start(&db, &addr);

    const CLIENTS: usize = 4;
    const EACH: usize = 100;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let senders: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            tokio::spawn(async move {
                for n in 0..EACH {
                    let idem = format!("c{c}-{n}");
                    // Until answered 2xx: a retry with the same key is how a caller survives
                    // a crash it cannot see.
                    for _ in 0..400 {
                        let sent = client
                            .post(&url)
                            .header("x-api-key", &key)
                            .header("idempotency-key", &idem)
                            .header("content-type", "application/json")
                            .body(format!(r#"{{"n":{n}}}"#))
                            .send()
                            .await;
                        if sent.is_ok_and(|r| r.status().is_success()) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        server.kill();
        server = Serve::start(&db, &addr);
    }
    for sender in senders {
        sender.await.expect("sender");
    }
    server.kill();
    assert_eq!(stranded(&db), 0, "queued executions without a queue row");

    // Restarted, the worker drains what was queued (messages taken by a killed process come
    // back after the visibility timeout, 30 s).
    let _server = Serve::start(&db, &addr);
    let conn = rusqlite::Connection::open(&db).expect("open");
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect("count") };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while count("SELECT COUNT(*) FROM executions WHERE status != 'succeeded'") > 0
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let total = (CLIENTS * EACH) as i64;
    assert_eq!(count("SELECT COUNT(*) FROM dedup"), total);
    assert_eq!(
        count("SELECT COUNT(*) FROM executions"),
        total,
        "one per key"
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM executions WHERE status = 'succeeded'"),
        total
    );
}

/// The store fails every time the worker writes a step's record: each delivery gives the
/// execution back (so the next one claims it at once instead of waiting out the lease), and
/// the queue's last delivery fails it with the reason instead of dead-lettering a message
/// whose execution would stay `running` for good.
#[tokio::test]
async fn sqlite_a_store_failing_mid_run_fails_the_execution_on_the_last_delivery() {
    use webhook_trigger::adapters::sqlite::worker_loop::{LocalWorkerConfig, drain_once};
    let (t, store, path) = support::sqlite_app_parts(support::test_config()).await;
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let _fault = sqlite_fault(
        &path,
        "CREATE TRIGGER refuse_step_records BEFORE UPDATE ON executions \
         WHEN NEW.record LIKE '%\"steps\":[%' \
         BEGIN SELECT RAISE(ABORT, 'disk on fire, says the test'); END;",
    );
    let id = post_keyed(&t, &wf, &key, "order-7").await.execution_id();
    let worker = support::test_worker(Arc::new(store.clone()), chrono::Duration::minutes(5));
    let config = LocalWorkerConfig {
        visibility: Duration::ZERO,
        max_receives: 3,
        ..LocalWorkerConfig::default()
    };
    let queue = store.queue();
    for delivery in 1..=2 {
        assert_eq!(drain_once(&worker, &queue, &config).await, 1);
        let e = t.execution(wf.id.as_str(), &id, &key).await;
        assert_eq!(
            e["status"], "queued",
            "given back after delivery {delivery}: {e}"
        );
        assert_eq!(e["attempts"], delivery);
    }
    assert_eq!(drain_once(&worker, &queue, &config).await, 1);
    let e = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(e["status"], "failed", "{e}");
    let error = e["error"].as_str().unwrap_or_default();
    assert!(error.contains("gave up after 3 deliveries"), "{error}");
    assert_eq!(
        queue.depth().await.expect("depth"),
        0,
        "the message is done with"
    );
    assert_eq!(queue.dead_letter_count().await.expect("dead letters"), 0);
}
