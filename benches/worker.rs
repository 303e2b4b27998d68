//! Executions per second through the local worker (the one `serve` runs) on the real SQLite
//! store, and what an `http_request` step costs over the bare request it sends.
//!
//! Three runs over the same number of executions, each on a fresh store:
//! - `transform`: `serve --demo`'s workflow (`filter` + `transform`), no I/O but the store;
//! - `http_request`: one step POSTing a rendered body to a loopback server;
//! - `raw`: the same POSTs sent straight with a plain `reqwest` client at the worker's
//!   concurrency, the floor the step is compared with.
//!
//! Then a loop: `BENCH_LOOPS` executions (10) of a `for_each` over 1,000 items, each item
//! POSTing to the loopback server 16 at a time, against the same number of raw POSTs sent 16
//! at a time: the per-item overhead of the loop (rendering, the item's record written to the
//! store) over the bare request.
//!
//! The backlog is queued first (through the router, so each execution is a real accepted
//! webhook) and the clock runs from starting the worker to the last execution `succeeded`.
//! Run: `cargo bench --bench worker` (figures in BENCHMARKS.md); `cargo test --all-targets`
//! runs it small as a smoke test.

#[path = "support/sqlite_app.rs"]
mod sqlite_app;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use tokio::sync::watch;
use tower::ServiceExt;
use webhook_trigger::adapters::sqlite::SqliteStore;
use webhook_trigger::adapters::sqlite::worker_loop::{self, LocalWorkerConfig};
use webhook_trigger::app::NewWorkflow;
use webhook_trigger::cli::{DEMO_BODY, DEMO_WORKFLOW};
use webhook_trigger::config::Config;
use webhook_trigger::domain::{ExecutionStatus, WorkflowFile};
use webhook_trigger::ports::ExecutionQuery;

fn http_workflow(target: &str) -> String {
    format!(
        r#"name: http
api_key: demo
steps:
  - id: notify
    type: http_request
    method: POST
    url: "{target}"
    headers:
      content-type: application/json
    body:
      orderId: "{{{{ trigger.body.id }}}}"
      customer: "{{{{ trigger.body.customer }}}}"
"#
    )
}

/// A receiver on loopback that answers every POST with a small JSON document.
async fn receiver() -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::Json(serde_json::json!({"ok": true})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

/// Queues `n` accepted webhooks for a new workflow from `yaml`, then runs the local worker
/// until every one has succeeded. Returns the seconds the worker took.
async fn drain(yaml: &str, n: usize, config: &LocalWorkerConfig) -> f64 {
    drain_with(yaml, DEMO_BODY, n, config).await
}

/// A `for_each` of every item of the body's `items`, one POST each, 16 in flight.
fn loop_workflow(target: &str) -> String {
    format!(
        r#"name: loop
api_key: demo
steps:
  - id: each
    type: for_each
    items: trigger.body.items
    as: order
    max_items: 1000
    concurrency: 16
    steps:
      - id: notify
        type: http_request
        url: "{target}"
        body:
          orderId: "{{{{ order.id }}}}"
          customer: "{{{{ order.customer }}}}"
"#
    )
}

fn loop_body(items: usize) -> String {
    let items: Vec<serde_json::Value> = (0..items)
        .map(|i| serde_json::json!({"id": i, "customer": "Ada"}))
        .collect();
    serde_json::json!({ "items": items }).to_string()
}

async fn drain_with(yaml: &str, body: &str, n: usize, config: &LocalWorkerConfig) -> f64 {
    let dir = tempfile::tempdir().expect("dir");
    let (store, app) = sqlite_app::sqlite_app(dir.path());
    let key = app.create_api_key("demo").await.expect("key");
    let file = WorkflowFile::parse(yaml).expect("workflow file");
    let workflow = app
        .create_workflow(NewWorkflow::from(file))
        .await
        .expect("workflow");
    let router = webhook_trigger::http::router(app);
    let uri = format!("/webhooks/{}", workflow.id);
    let secret = key.secret.expose().to_owned();
    let mut queued = tokio::task::JoinSet::new();
    for chunk in 0..n.div_ceil(64) {
        for _ in (chunk * 64)..((chunk + 1) * 64).min(n) {
            let (router, uri, secret) = (router.clone(), uri.clone(), secret.clone());
            let body = body.to_owned();
            queued.spawn(async move {
                let request = Request::post(uri)
                    .header("x-api-key", secret)
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .expect("request");
                router.oneshot(request).await.expect("response").status()
            });
        }
        while let Some(status) = queued.join_next().await {
            assert_eq!(status.expect("task"), 202);
        }
    }

    let sdk = aws_config::SdkConfig::builder().build();
    let worker = webhook_trigger::wiring::worker(Arc::new(store.clone()), &Config::default(), &sdk)
        .expect("worker");
    let queue = store.queue();
    let (stop, stopped) = watch::channel(false);
    let started = Instant::now();
    let task = tokio::spawn(worker_loop::run(
        worker,
        store.clone(),
        queue.clone(),
        config.clone(),
        stopped,
    ));
    while queue.depth().await.expect("depth") > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = task.await;
    let succeeded = count(&store, &workflow.id, ExecutionStatus::Succeeded).await;
    assert_eq!(succeeded, n, "every execution succeeded");
    seconds
}

async fn count(
    store: &SqliteStore,
    workflow: &webhook_trigger::domain::WorkflowId,
    status: ExecutionStatus,
) -> usize {
    use webhook_trigger::ports::ExecutionStore;
    let mut total = 0;
    let mut before = None;
    loop {
        let page = store
            .list_executions(
                workflow,
                &ExecutionQuery {
                    status: Some(status),
                    before,
                    limit: 500,
                },
            )
            .await
            .expect("list");
        total += page.len();
        match page.last() {
            Some(last) if page.len() == 500 => before = Some(last.id),
            _ => return total,
        }
    }
}

/// The same POSTs as the step sends, straight from a plain client, `concurrency` at a time.
async fn raw(target: &str, n: usize, concurrency: usize) -> f64 {
    let client = reqwest::Client::new();
    let body = serde_json::json!({"orderId": "42", "customer": "Ada"}).to_string();
    let started = Instant::now();
    let mut sent = 0;
    while sent < n {
        let mut batch = tokio::task::JoinSet::new();
        for _ in 0..concurrency.min(n - sent) {
            let (client, target, body) = (client.clone(), target.to_owned(), body.clone());
            batch.spawn(async move {
                let response = client
                    .post(target)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("send");
                assert!(response.status().is_success());
                response.bytes().await.expect("body").len()
            });
            sent += 1;
        }
        while let Some(done) = batch.join_next().await {
            done.expect("task");
        }
    }
    started.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a quick smoke test.
    let full = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("BENCH_EXECUTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 5000 } else { 40 });
    // The step's target is on loopback, which the guarded client refuses unless allowed.
    // SAFETY: set before the runtime (and any other thread) starts.
    unsafe { std::env::set_var("HTTP_STEP_ALLOW_CIDRS", "127.0.0.1/32") };
    let mut config = LocalWorkerConfig::default();
    if let Some(batch) = std::env::var("BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        config.batch = batch;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let target = receiver().await;
        let transform = drain(DEMO_WORKFLOW, n, &config).await;
        let http = drain(&http_workflow(&target), n, &config).await;
        let bare = raw(&target, n, config.batch).await;
        let rate = |s: f64| n as f64 / s;
        println!("worker batch={} executions={n}", config.batch);
        println!(
            "transform     {:>9.0} executions/s  {:>8.1} µs each",
            rate(transform),
            transform * 1e6 / n as f64
        );
        println!(
            "http_request  {:>9.0} executions/s  {:>8.1} µs each",
            rate(http),
            http * 1e6 / n as f64
        );
        println!(
            "raw POST      {:>9.0} requests/s    {:>8.1} µs each",
            rate(bare),
            bare * 1e6 / n as f64
        );
        println!(
            "step overhead over the raw request: {:.1} µs per execution",
            (http - bare) * 1e6 / n as f64
        );

        let loops: usize = std::env::var("BENCH_LOOPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(if full { 10 } else { 1 });
        let items = if full { 1000 } else { 50 };
        let looped = drain_with(&loop_workflow(&target), &loop_body(items), loops, &config).await;
        let bare = raw(&target, loops * items, 16).await;
        let requests = (loops * items) as f64;
        println!("for_each executions={loops} items={items} concurrency=16");
        println!(
            "for_each      {:>9.2} executions/s  {:>8.1} µs per item",
            loops as f64 / looped,
            looped * 1e6 / requests
        );
        println!(
            "raw POST x16  {:>9.0} requests/s    {:>8.1} µs each",
            requests / bare,
            bare * 1e6 / requests
        );
        println!(
            "loop overhead over the raw request: {:.1} µs per item",
            (looped - bare) * 1e6 / requests
        );
    });
}
