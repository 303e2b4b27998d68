//! Latency of accepting a generic webhook through the real router on the embedded store
//! (fsync'd SQLite write + queue insert), and of the per-request work that is cached.
//! Run: `cargo bench --bench accept` (figures go in BENCHMARKS.md).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;
use webhook_trigger::adapters::sqlite::SqliteStore;
use webhook_trigger::app::NewWorkflow;
use webhook_trigger::config::Config;
use webhook_trigger::domain::{ApiKey, ApiKeyName, SnsOptions, Step, Trigger};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let total: Duration = samples.iter().sum();
    println!(
        "{name:<44} n={:<6} p50={:>9.1?} p90={:>9.1?} p99={:>9.1?} mean={:>9.1?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        total / samples.len() as u32
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a quick smoke test.
    let full = std::env::args().any(|a| a == "--bench");
    let n = if full { 2000 } else { 20 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open(&dir.path().join("bench.db")).expect("open");
        let app = webhook_trigger::wiring::app(Arc::new(store.clone()), Arc::new(store.queue()), Config::default());
        let key = app.create_api_key("bench").await.expect("key");
        let workflow = app
            .create_workflow(NewWorkflow {
                name: "bench".into(),
                trigger: Trigger::GenericWebhook,
                api_key_name: "bench".into(),
                steps: vec![Step::Echo.into()],
                sns: SnsOptions::default(),
                auth: Default::default(),
            })
            .await
            .expect("workflow");
        let router = webhook_trigger::http::router(app);
        let body = r#"{"order":{"id":1042,"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"total":99.5}}"#;

        let post = |router: axum::Router| {
            let request = Request::post(format!("/webhooks/{}", workflow.id))
                .header("x-api-key", key.secret.expose())
                .header("content-type", "application/json")
                .body(Body::from(body))
                .expect("request");
            async move { router.oneshot(request).await.expect("response") }
        };
        for _ in 0..50 {
            post(router.clone()).await;
        }
        let mut samples = Vec::new();
        for _ in 0..n {
            let started = Instant::now();
            let response = post(router.clone()).await;
            samples.push(started.elapsed());
            assert_eq!(response.status(), 202);
        }
        report("POST /webhooks (sqlite, fsync, cached auth)", samples);

        let mut samples = Vec::new();
        for _ in 0..n {
            let request = Request::get("/health").body(Body::empty()).expect("request");
            let started = Instant::now();
            router.clone().oneshot(request).await.expect("response");
            samples.push(started.elapsed());
        }
        report("GET /health (router overhead)", samples);
    });

    let (key, secret) = ApiKey::generate(ApiKeyName::parse("k").expect("name"), chrono::Utc::now());
    let mut samples = Vec::new();
    for _ in 0..(n * 10) {
        let started = Instant::now();
        std::hint::black_box(key.accepts(std::hint::black_box(secret.expose())));
        samples.push(started.elapsed());
    }
    report("API key check (sha-256 + constant-time eq)", samples);
}
