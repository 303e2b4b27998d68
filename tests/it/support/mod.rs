//! One helper that builds the whole app on a backend, so every flow test runs unchanged on
//! SQLite and on DynamoDB + SQS.

pub mod binary;
pub mod child_process;
pub mod dynamodb;
pub mod email;
pub mod logs;
pub mod routes;
pub mod sns_peer;
pub mod store_delegate;
pub mod target;

pub use dynamodb::dynamodb_app;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use webhook_trigger::adapters::outbound_http::{
    AddressPolicy, DEFAULT_BODY_CAP, GuardedHttpClient,
};
use webhook_trigger::adapters::sns_publish::SnsTopicPublisher;
use webhook_trigger::adapters::sqlite::worker_loop::{self, LocalWorkerConfig};
use webhook_trigger::adapters::sqlite::{SqliteQueue, SqliteStore};
use webhook_trigger::app::{App, NewWorkflow};
use webhook_trigger::config::Config;
use webhook_trigger::domain::TemplateEngine;
use webhook_trigger::domain::{SnsOptions, Step, Trigger, Workflow, WorkflowFile};
use webhook_trigger::ports::{QueueError, Store, WorkItem, WorkQueue};
use webhook_trigger::worker::steps::StepDeps;
use webhook_trigger::worker::{Worker, WorkerDeps};

/// SDK configuration for clients that tests build but may never call: bound to the emulator
/// when `AWS_ENDPOINT_URL` is set (under `make test`), else to a closed loopback port, and
/// never to AWS or to the instance metadata service.
pub fn offline_sdk_config() -> aws_config::SdkConfig {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|u| u.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| "http://127.0.0.1:9".to_owned());
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_sns::config::SharedCredentialsProvider::new(
            aws_sdk_sns::config::Credentials::new("testing", "testing", None, None, "tests"),
        ))
        .build()
}

/// The real step parts, with loopback opened on purpose (the test's HTTP targets listen on
/// 127.0.0.1; 127.0.0.2 stays refused, to show the guard).
pub fn test_step_deps() -> StepDeps {
    let policy = AddressPolicy::with_allowed(["127.0.0.1/32".parse().expect("cidr")]);
    let http = GuardedHttpClient::new(policy, DEFAULT_BODY_CAP);
    StepDeps {
        http: Arc::new(http),
        sns: Arc::new(SnsTopicPublisher::new(aws_sdk_sns::Client::new(
            &offline_sdk_config(),
        ))),
        email: Arc::new(webhook_trigger::ports::NoEmailTransport),
        email_from: None,
        templates: Arc::new(TemplateEngine::new()),
        callbacks: None,
        base_url: Some(TEST_BASE_URL.to_owned()),
    }
}

/// Where resume URLs point in tests: the test's router answers their paths.
pub const TEST_BASE_URL: &str = "http://webhook-trigger.test";

pub fn test_worker(store: Arc<dyn Store>, lease: chrono::Duration) -> Worker {
    let config = Config {
        worker_lease: lease,
        ..Config::default()
    };
    test_worker_with_budget(store, &config, webhook_trigger::domain::WORKER_STEP_BUDGET)
}

/// `test_step_deps` with the email sender `config` names (`email_transport`, `email_from`;
/// SES goes to the offline SDK configuration, i.e. moto when it is set up).
pub fn test_step_deps_for(config: &Config) -> StepDeps {
    let email = webhook_trigger::adapters::email::email_sender(
        config.email_transport.as_ref(),
        &offline_sdk_config(),
    )
    .expect("the email transport of the test's configuration");
    StepDeps {
        email,
        email_from: config.email_from.clone(),
        ..test_step_deps()
    }
}

/// A worker for `config` (its lease, its email settings) whose deliveries hand an execution on
/// after `budget` (production's is `WORKER_STEP_BUDGET`), to see a long run carried over
/// several deliveries.
pub fn test_worker_with_budget(
    store: Arc<dyn Store>,
    config: &Config,
    budget: std::time::Duration,
) -> Worker {
    let mut steps = test_step_deps_for(config);
    steps.callbacks = Some(store.clone() as Arc<dyn webhook_trigger::ports::CallbackStore>);
    Worker::new(WorkerDeps {
        store,
        steps,
        lease: config.worker_lease,
        workflow_ttl: std::time::Duration::ZERO,
        budget,
    })
}

/// Delivers what is queued to the worker the way the backend's deployment would.
#[async_trait]
pub trait WorkerDriver: Send + Sync {
    /// Processes everything queued now; returns how many messages were handled.
    async fn drain(&self) -> usize;

    /// One delivery: waits a few seconds at most for a message to be visible (a postponed one
    /// comes back after the delay the worker asked for), and processes what one receive
    /// returns. Returns how many messages it handled; 0 when nothing came.
    async fn deliver_once(&self) -> usize;

    /// The queue's maxReceiveCount: on that delivery a step still failing for a passing
    /// reason fails the execution.
    fn max_receives(&self) -> u32;
}

/// For a second app on the same store that only reads: runs nothing.
pub struct NoWorker;

#[async_trait]
impl WorkerDriver for NoWorker {
    async fn drain(&self) -> usize {
        0
    }

    async fn deliver_once(&self) -> usize {
        0
    }

    fn max_receives(&self) -> u32 {
        1
    }
}

pub struct TestApp {
    pub app: App,
    pub router: Router,
    pub worker: Box<dyn WorkerDriver>,
    /// While true, every queue send fails (the queue is "down").
    pub queue_down: Arc<AtomicBool>,
    /// Keeps temporary files alive as long as the app.
    pub _guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// Config for tests: caches off, so a revocation is seen by the next request.
pub fn test_config() -> Config {
    Config {
        cache_ttl: std::time::Duration::ZERO,
        ..Config::default()
    }
}

/// A queue decorator that can be switched off, to prove what happens when a send fails.
struct SwitchableQueue {
    inner: Arc<dyn WorkQueue>,
    down: Arc<AtomicBool>,
}

#[async_trait]
impl WorkQueue for SwitchableQueue {
    async fn enqueue(&self, item: &WorkItem) -> Result<(), QueueError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(QueueError::Unavailable("switched off by the test".into()));
        }
        self.inner.enqueue(item).await
    }
}

pub fn build(
    store: Arc<dyn Store>,
    queue: Arc<dyn WorkQueue>,
    worker: Box<dyn WorkerDriver>,
    config: Config,
    guard: Option<Box<dyn std::any::Any + Send + Sync>>,
) -> TestApp {
    let queue_down = Arc::new(AtomicBool::new(false));
    let queue: Arc<dyn WorkQueue> = Arc::new(SwitchableQueue {
        inner: queue,
        down: queue_down.clone(),
    });
    let app = webhook_trigger::wiring::app(store.clone(), queue, config);
    let router = webhook_trigger::http::router(app.clone());
    TestApp {
        app,
        router,
        worker,
        queue_down,
        _guard: guard,
    }
}

struct SqliteDriver {
    worker: Worker,
    queue: SqliteQueue,
}

#[async_trait]
impl WorkerDriver for SqliteDriver {
    async fn drain(&self) -> usize {
        let config = LocalWorkerConfig::default();
        let mut total = 0;
        loop {
            let n = worker_loop::drain_once(&self.worker, &self.queue, &config).await;
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    async fn deliver_once(&self) -> usize {
        let config = LocalWorkerConfig::default();
        for _ in 0..500 {
            let n = worker_loop::drain_once(&self.worker, &self.queue, &config).await;
            if n > 0 {
                return n;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        0
    }

    fn max_receives(&self) -> u32 {
        LocalWorkerConfig::default().max_receives
    }
}

pub async fn sqlite_app(config: Config) -> TestApp {
    sqlite_app_parts(config).await.0
}

/// `sqlite_app` whose worker's deliveries last `budget` (see `test_worker_with_budget`).
pub async fn sqlite_app_with_budget(config: Config, budget: std::time::Duration) -> TestApp {
    sqlite_app_parts_with_budget(config, budget).await.0
}

/// `sqlite_app`, with the store and the path of its file, for tests that reach under the
/// ports: a fault injected with an SQLite trigger from a second connection, the queue's depth.
pub async fn sqlite_app_parts(config: Config) -> (TestApp, SqliteStore, std::path::PathBuf) {
    sqlite_app_parts_with_budget(config, webhook_trigger::domain::WORKER_STEP_BUDGET).await
}

/// `sqlite_app` whose app sees the store through `wrap` (a test's decorator); its worker
/// sees the store itself.
pub async fn sqlite_app_wrapped(config: Config, wrap: StoreWrap) -> TestApp {
    sqlite_app_parts_over(config, webhook_trigger::domain::WORKER_STEP_BUDGET, wrap)
        .await
        .0
}

/// Puts a decorator between an app and its store.
pub type StoreWrap = Box<dyn FnOnce(Arc<dyn Store>) -> Arc<dyn Store> + Send>;

async fn sqlite_app_parts_with_budget(
    config: Config,
    budget: std::time::Duration,
) -> (TestApp, SqliteStore, std::path::PathBuf) {
    sqlite_app_parts_over(config, budget, Box::new(|store| store)).await
}

async fn sqlite_app_parts_over(
    config: Config,
    budget: std::time::Duration,
    wrap: StoreWrap,
) -> (TestApp, SqliteStore, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.db");
    let store = SqliteStore::open(&path).expect("open sqlite");
    let queue = store.queue();
    let shared: Arc<dyn Store> = Arc::new(store.clone());
    let driver = SqliteDriver {
        worker: test_worker_with_budget(shared.clone(), &config, budget),
        queue: queue.clone(),
    };
    let app = build(
        wrap(shared),
        Arc::new(queue),
        Box::new(driver),
        config,
        Some(Box::new(dir)),
    );
    (app, store, path)
}

pub struct Response {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Response {
    /// `error.code` of an error body, or a placeholder that no assertion expects.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    pub fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// `executionId` of a webhook's answer; fails the test, showing the answer, without one.
    #[track_caller]
    pub fn execution_id(&self) -> String {
        match self.body["executionId"].as_str() {
            Some(id) => id.to_owned(),
            None => panic!(
                "no executionId in the answer: {} {}",
                self.status, self.body
            ),
        }
    }
}

/// Asserts an error answer: its status and `error.code`, showing the body when they differ.
#[track_caller]
pub fn assert_error(response: &Response, status: StatusCode, code: &str) {
    assert_eq!(
        (response.status, response.error_code()),
        (status, code),
        "{}",
        response.body
    );
}

impl TestApp {
    pub async fn send(&self, request: Request<Body>) -> Response {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Response {
            status,
            headers,
            body,
        }
    }

    pub async fn post_webhook(&self, workflow_id: &str, key: Option<&str>, body: &str) -> Response {
        let mut request = Request::post(format!("/webhooks/{workflow_id}"))
            .header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        self.send(request.body(Body::from(body.to_owned())).expect("request"))
            .await
    }

    pub async fn get(&self, uri: &str, key: Option<&str>) -> Response {
        let mut request = Request::get(uri);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        self.send(request.body(Body::empty()).expect("request"))
            .await
    }

    /// A key and a generic workflow guarded by it; returns (workflow, key value).
    pub async fn workflow_with_key(&self, steps: Vec<Step>) -> (Workflow, String) {
        self.workflow_with(Trigger::GenericWebhook, steps, SnsOptions::default())
            .await
    }

    pub async fn workflow_with(
        &self,
        trigger: Trigger,
        steps: Vec<Step>,
        sns: SnsOptions,
    ) -> (Workflow, String) {
        let name = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
        let created = self.app.create_api_key(&name).await.expect("create key");
        let workflow = self
            .app
            .create_workflow(NewWorkflow {
                name: "test workflow".into(),
                trigger,
                api_key_name: name,
                steps: steps.into_iter().map(Into::into).collect(),
                sns,
                auth: Default::default(),
                payload_schema: None,
            })
            .await
            .expect("create workflow");
        (workflow, created.secret.expose().to_owned())
    }

    /// A key and a workflow whose steps are written as in a workflow file (JSON here), read
    /// by `WorkflowFile::parse` the way `workflows create --file` reads them; returns
    /// (workflow, key value).
    pub async fn workflow_from_steps(&self, steps: Value) -> (Workflow, String) {
        let name = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
        let created = self.app.create_api_key(&name).await.expect("create key");
        let text = serde_json::json!({
            "name": "step flow",
            "api_key": name,
            "steps": steps,
        })
        .to_string();
        let file = WorkflowFile::parse(&text)
            .unwrap_or_else(|e| panic!("the test's workflow is refused: {e}"));
        let workflow = self
            .app
            .create_workflow(NewWorkflow::from(file))
            .await
            .expect("create workflow");
        (workflow, created.secret.expose().to_owned())
    }

    /// A webhook with extra request headers, at `/webhooks/{id}{query}` (`query` empty or
    /// starting with `?`).
    pub async fn post_webhook_with(
        &self,
        workflow_id: &str,
        key: &str,
        query: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        let mut request = Request::post(format!("/webhooks/{workflow_id}{query}"))
            .header("content-type", "application/json")
            .header("x-api-key", key);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Body::from(body.to_owned())).expect("request"))
            .await
    }

    pub async fn execution(&self, workflow_id: &str, execution_id: &str, key: &str) -> Value {
        let response = self
            .get(
                &format!("/workflows/{workflow_id}/executions/{execution_id}"),
                Some(key),
            )
            .await;
        assert_eq!(response.status, StatusCode::OK, "{:?}", response.body);
        response.body
    }
}
