//! Latency of accepting a generic webhook through the real router on the embedded store
//! (fsync'd SQLite write + queue insert), and of the per-request work that is cached; and the
//! cost of a `payload_schema` on that path, alternated with the same path without one.
//! Run: `cargo bench --bench accept` (everything) or `cargo bench --bench accept --
//! payload_schema` (the comparison only); figures go in BENCHMARKS.md.

#[allow(dead_code)]
#[path = "support/memory_ports.rs"]
mod memory_ports;
#[path = "support/sqlite_app.rs"]
mod sqlite_app;
#[path = "support/workflows.rs"]
mod workflows;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;
use webhook_trigger::domain::{ApiKey, ApiKeyName, Trigger};

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
    // `cargo bench --bench accept -- payload_schema` runs only that comparison.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    if filter
        .as_deref()
        .is_none_or(|f| "payload_schema".contains(f))
    {
        payload_schema::compare(full);
    }
    if filter.is_some() {
        return;
    }
    let n = if full { 2000 } else { 20 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let (_store, app) = sqlite_app::sqlite_app(dir.path());
        let key = app.create_api_key("bench").await.expect("key");
        let workflow = workflows::echo_workflow(&app, Trigger::GenericWebhook, None).await;
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

/// The accept path with a typical `payload_schema` (an alerting system's payload: an object
/// with required fields, an array of objects, enums, string formats) against the same path
/// and the same body without one. Criterion measures one case after the other; on a shared
/// host the drift between the two would be larger than the effect, so the cases alternate
/// here, in rounds (A B, then B A), and the spread of the per-round ratios is the noise.
mod payload_schema {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use axum::body::Body;
    use axum::http::Request;
    use serde_json::{Value, json};
    use tower::ServiceExt;
    use webhook_trigger::app::{App, AppDeps};
    use webhook_trigger::config::Config;
    use webhook_trigger::domain::Trigger;
    use webhook_trigger::ports::{Store, WorkQueue};

    use super::memory_ports::{MemoryQueue, MemoryStore};
    use super::{percentile, report};

    /// An Alertmanager-style notification, 2 alerts (~900 bytes).
    pub(super) fn body() -> String {
        let alert = |name: &str, severity: &str| {
            json!({
                "status": "firing",
                "labels": {"alertname": name, "severity": severity, "instance": "host-7:9100", "job": "node"},
                "annotations": {"summary": format!("{name} on host-7"), "runbook": "https://runbooks.example.com/disk"},
                "startsAt": "2026-12-07T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "https://prometheus.example.com/graph?g0.expr=node_filesystem_avail_bytes",
                "fingerprint": "5ef8b2c1a4d3e6f7"
            })
        };
        json!({
            "version": "4",
            "receiver": "ops-pager",
            "status": "firing",
            "groupKey": "{}:{alertname=\"DiskFull\"}",
            "externalURL": "https://alertmanager.example.com",
            "commonLabels": {"job": "node"},
            "alerts": [alert("DiskFull", "critical"), alert("DiskSlow", "warning")]
        })
        .to_string()
    }

    pub(super) fn schema() -> serde_json::Map<String, Value> {
        let schema = json!({
            "type": "object",
            "required": ["version", "receiver", "status", "alerts"],
            "properties": {
                "version": {"const": "4"},
                "receiver": {"type": "string", "minLength": 1},
                "status": {"enum": ["firing", "resolved"]},
                "externalURL": {"type": "string", "format": "uri"},
                "commonLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                "alerts": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 100,
                    "items": {
                        "type": "object",
                        "required": ["status", "labels", "startsAt"],
                        "properties": {
                            "status": {"enum": ["firing", "resolved"]},
                            "labels": {
                                "type": "object",
                                "required": ["alertname", "severity"],
                                "properties": {
                                    "alertname": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
                                    "severity": {"enum": ["info", "warning", "critical"]}
                                },
                                "additionalProperties": {"type": "string"}
                            },
                            "annotations": {"type": "object"},
                            "startsAt": {"type": "string", "format": "date-time"},
                            "endsAt": {"type": "string", "format": "date-time"},
                            "generatorURL": {"type": "string", "format": "uri"}
                        }
                    }
                }
            }
        });
        match schema {
            Value::Object(map) => map,
            _ => unreachable!("an object literal"),
        }
    }

    /// One app, one key, two workflows on it: the same steps, one with the schema.
    struct Pair {
        router: axum::Router,
        key: String,
        ids: [String; 2],
    }

    async fn pair(app: App) -> Pair {
        let key = app.create_api_key("bench").await.expect("key");
        let mut ids = Vec::new();
        for schema in [None, Some(schema())] {
            let workflow =
                super::workflows::echo_workflow(&app, Trigger::GenericWebhook, schema).await;
            ids.push(workflow.id.to_string());
        }
        Pair {
            router: webhook_trigger::http::router(app),
            key: key.secret.expose().to_owned(),
            ids: [ids[0].clone(), ids[1].clone()],
        }
    }

    impl Pair {
        async fn post(&self, which: usize, body: &str) -> Duration {
            let request = Request::post(format!("/webhooks/{}", self.ids[which]))
                .header("x-api-key", &self.key)
                .header("content-type", "application/json")
                .header("content-length", body.len())
                .body(Body::from(body.to_owned()))
                .expect("request");
            let started = Instant::now();
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("response");
            let took = started.elapsed();
            assert_eq!(response.status(), 202, "not accepted");
            took
        }
    }

    fn median(samples: &mut [Duration]) -> Duration {
        samples.sort();
        percentile(samples, 0.5)
    }

    /// `rounds` rounds of `batch` requests per case, alternating which case goes first.
    async fn alternate(
        name: &str,
        pair: &Pair,
        rounds: usize,
        batch: usize,
        mut between: impl FnMut(),
    ) {
        let body = body();
        let mut all: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            let mut this: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
            for which in order {
                for _ in 0..batch {
                    this[which].push(pair.post(which, &body).await);
                    between();
                }
            }
            let ratio = median(&mut this[1]).as_secs_f64() / median(&mut this[0]).as_secs_f64();
            ratios.push(ratio);
            for (all, this) in all.iter_mut().zip(&this) {
                all.extend(this.iter().copied());
            }
        }
        let [without, with] = all;
        let (p50_without, p50_with) = (median(&mut without.clone()), median(&mut with.clone()));
        report(&format!("{name}: without payload_schema"), without);
        report(&format!("{name}: with payload_schema"), with);
        ratios.sort_by(f64::total_cmp);
        let pct = |r: f64| (r - 1.0) * 100.0;
        println!(
            "{name}: with/without p50 {:+.1}% overall; per round ({} rounds of {batch}): min {:+.1}% median {:+.1}% max {:+.1}%",
            pct(p50_with.as_secs_f64() / p50_without.as_secs_f64()),
            ratios.len(),
            pct(ratios[0]),
            pct(ratios[ratios.len() / 2]),
            pct(ratios[ratios.len() - 1]),
        );
    }

    pub(super) fn compare(full: bool) {
        let (rounds, batch) = if full { (40, 250) } else { (2, 5) };
        // Without I/O: the real router over in-memory ports (as benches/hot_paths.rs), where
        // the schema's cost is the largest share it can be.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let queue = Arc::new(MemoryQueue::default());
            let store = Arc::new(MemoryStore::with_outbox(queue.clone()));
            let app = App::new(
                AppDeps {
                    store: store.clone() as Arc<dyn Store>,
                    queue: queue.clone() as Arc<dyn WorkQueue>,
                    sns_fetcher: Arc::new(NoFetch),
                },
                Config::default(),
            );
            let pair = pair(app).await;
            let clear = || {
                store.clear_executions();
                queue.clear();
            };
            for which in [0, 1, 0, 1] {
                pair.post(which, &body()).await;
            }
            alternate("router, in-memory ports", &pair, rounds, batch, clear).await;
        });

        // The whole path of `serve`: SQLite, fsync'd, one request at a time.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let dir = tempfile::tempdir().expect("dir");
            let (_store, app) = super::sqlite_app::sqlite_app(dir.path());
            let pair = pair(app).await;
            for which in [0, 1].repeat(25) {
                pair.post(which, &body()).await;
            }
            let (rounds, batch) = if full { (20, 100) } else { (2, 5) };
            alternate(
                "POST /webhooks (sqlite, fsync)",
                &pair,
                rounds,
                batch,
                || {},
            )
            .await;
        });
    }

    struct NoFetch;

    #[async_trait::async_trait]
    impl webhook_trigger::sns::HttpFetcher for NoFetch {
        async fn get(
            &self,
            _url: &url::Url,
            _max: usize,
        ) -> Result<webhook_trigger::sns::FetchedBody, webhook_trigger::sns::FetchError> {
            Err(webhook_trigger::sns::FetchError::Transport(
                "benchmarks fetch nothing".into(),
            ))
        }
    }
}
