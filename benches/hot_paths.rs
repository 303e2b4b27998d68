//! Hot paths without I/O (criterion): a webhook from the raw HTTP request through the real
//! router to "queued", generic and SNS, on in-memory implementations of our ports
//! (`support/memory_ports.rs`); SNS signature verification alone with the certificate already
//! cached, SignatureVersion 1 and 2, and aws-lc's RSA verification under it alone; and
//! rendering a typical step's templates. The accept path against the real SQLite store is in
//! `benches/accept.rs`; under load in `bench/serve/load.sh`. Figures and the command:
//! BENCHMARKS.md.

#[path = "support/memory_ports.rs"]
mod memory_ports;
#[path = "support/workflows.rs"]
mod workflows;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use memory_ports::{MemoryQueue, MemoryStore};
use serde_json::json;
use tower::ServiceExt;
use url::Url;
use webhook_trigger::app::{App, AppDeps};
use webhook_trigger::config::Config;
use webhook_trigger::domain::{TemplateContext, TemplateEngine, Trigger};
use webhook_trigger::ports::{Store, WorkQueue};
use webhook_trigger::sns::{
    FetchError, FetchedBody, HttpFetcher, SnsMessage, SnsPolicy, SnsVerifier, VerifierConfig,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sns");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

/// The signing certificate from memory: after the first call the verifier's cache answers.
struct Cert(Vec<u8>);

#[async_trait]
impl HttpFetcher for Cert {
    async fn get(&self, _url: &Url, _max: usize) -> Result<FetchedBody, FetchError> {
        Ok(FetchedBody {
            status: 200,
            body: self.0.clone(),
        })
    }
}

fn sns_verification(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let cert = Arc::new(Cert(fixture("kat-signing-cert.pem").into_bytes()));
    for version in ["v1", "v2"] {
        let body = fixture(&format!("kat-notification-{version}.json"));
        let verifier = SnsVerifier::new(cert.clone(), VerifierConfig::default());
        let parsed = SnsMessage::parse(&body, None).expect("parses");
        let now = parsed.timestamp() + chrono::TimeDelta::seconds(30);
        // Warm the certificate cache, as every delivery after a function's first one finds it.
        runtime
            .block_on(verifier.verify(&parsed, &SnsPolicy::default(), now))
            .expect("the known-answer message verifies");
        c.bench_function(
            &format!("sns parse + verify {version} (cached cert)"),
            |b| {
                b.to_async(&runtime).iter(|| async {
                    let msg = SnsMessage::parse(&body, None).expect("parses");
                    verifier
                        .verify(&msg, &SnsPolicy::default(), now)
                        .await
                        .is_ok()
                })
            },
        );
        // The floor under the row above: aws-lc's RSA-2048 verification alone, with the key
        // parsed once, of the same string to sign and signature.
        let algorithm = match version {
            "v1" => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            _ => &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        };
        let key = aws_lc_rs::signature::ParsedPublicKey::new(algorithm, rsa_public_key(&cert.0))
            .expect("the certificate's key parses");
        let signed = parsed.string_to_sign();
        let wire: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        let signature = base64::engine::general_purpose::STANDARD
            .decode(wire["Signature"].as_str().expect("Signature"))
            .expect("base64");
        key.verify_sig(signed.as_bytes(), &signature)
            .expect("the known-answer signature verifies");
        c.bench_function(
            &format!("aws-lc RSA verify alone {version} (parsed key)"),
            |b| b.iter(|| key.verify_sig(signed.as_bytes(), &signature).is_ok()),
        );
    }
}

/// The DER `RSAPublicKey` of a PEM certificate.
fn rsa_public_key(pem: &[u8]) -> Vec<u8> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem).expect("PEM");
    let certificate = block.parse_x509().expect("X.509");
    certificate.public_key().subject_public_key.data.to_vec()
}

fn template_rendering(c: &mut Criterion) {
    let engine = TemplateEngine::new();
    // What an http_request step to a chat webhook renders from a GitHub push.
    let body_template = json!({
        "text": "{{ trigger.body.pusher.name }} pushed {{ trigger.body.commits | length }} commit(s) to {{ trigger.body.repository.full_name }}",
        "commit": "{{ trigger.body.after }}",
        "branch": "{{ trigger.body.ref }}",
        "url": "{{ trigger.body.compare }}",
    });
    let context = TemplateContext::from_json(&json!({
        "trigger": {
            "body": {
                "ref": "refs/heads/main",
                "after": "9f2c1e7a",
                "compare": "https://github.com/acme/shop/compare/1...9f2c1e7a",
                "repository": {"full_name": "acme/shop"},
                "pusher": {"name": "ada"},
                "commits": [{"id": "1"}, {"id": "2"}],
            },
            "headers": {"x-github-event": "push"},
            "query": {},
        },
        "steps": {},
        "execution": {"id": "01JD0000000000000000000000", "workflowId": "wf_x", "attempt": 1},
    }));
    engine
        .render_value(&body_template, &context)
        .expect("the typical step renders");
    c.bench_function("template: render a typical http_request body", |b| {
        b.iter(|| {
            engine
                .render_value(&body_template, &context)
                .expect("renders")
        })
    });
    c.bench_function("template: evaluate a filter expression", |b| {
        b.iter(|| {
            engine
                .eval_condition(
                    "trigger.headers['x-github-event'] == 'push' and trigger.body.ref == 'refs/heads/main'",
                    &context,
                )
                .expect("evaluates")
        })
    });
}

/// The app over in-memory ports, with one API key and one workflow of `trigger`. With
/// `outbox`, the store queues as it records (the SQLite shape); without, the app writes and
/// then sends to the queue (the DynamoDB + SQS shape, as on Lambda).
struct MemoryApp {
    router: axum::Router,
    store: Arc<MemoryStore>,
    queue: Arc<MemoryQueue>,
    workflow_id: String,
    key: String,
}

impl MemoryApp {
    fn new(runtime: &tokio::runtime::Runtime, trigger: Trigger, outbox: bool) -> Self {
        let queue = Arc::new(MemoryQueue::default());
        let store = Arc::new(if outbox {
            MemoryStore::with_outbox(queue.clone())
        } else {
            MemoryStore::new()
        });
        let config = Config {
            // The SNS fixtures are signed, so their Timestamps are fixed (2026-11-23T10:00Z)
            // and the default SNS_MAX_AGE_SECONDS (1 h) would, correctly, refuse them as
            // stale; accept a century, as tests/it/events.rs does. The certificate's own
            // validity (2026-01-01 to 2036-01-01) is still checked against the real clock.
            sns_max_age: Duration::from_secs(100 * 365 * 24 * 3600),
            ..Config::default()
        };
        let app = App::new(
            AppDeps {
                store: store.clone() as Arc<dyn Store>,
                queue: queue.clone() as Arc<dyn WorkQueue>,
                sns_fetcher: Arc::new(Cert(fixture("kat-signing-cert.pem").into_bytes())),
            },
            config,
        );
        let (workflow_id, key) = runtime.block_on(async {
            let key = app.create_api_key("bench").await.expect("key");
            let workflow = workflows::echo_workflow(&app, trigger, None).await;
            (workflow.id.to_string(), key.secret.expose().to_owned())
        });
        Self {
            router: webhook_trigger::http::router(app),
            store,
            queue,
            workflow_id,
            key,
        }
    }

    /// Forgets the previous request's execution and work item, so the next identical request
    /// is a new execution again (its Idempotency-Key or SNS MessageId is not a duplicate).
    /// Runs between requests only: the previous one must have left exactly one of each.
    fn reset(&self) {
        let left = (self.store.execution_count(), self.queue.len());
        assert_eq!(
            left,
            (1, 1),
            "a request must record and queue one execution"
        );
        self.clear();
    }

    fn clear(&self) {
        self.store.clear_executions();
        self.queue.clear();
    }

    /// A generic webhook as a client sends it: API key header, JSON body, Idempotency-Key.
    fn generic_request(&self) -> Request<Body> {
        // 88 bytes.
        let body = r#"{"order":{"id":1042,"items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"total":99.5}}"#;
        Request::post(format!("/webhooks/{}", self.workflow_id))
            .header("x-api-key", &self.key)
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .header("idempotency-key", "order-1042-created")
            .header("user-agent", "bench-client/1.0")
            .body(Body::from(body))
            .expect("request")
    }

    /// An SNS delivery as SNS sends it: the key in the subscription URL's query, text/plain,
    /// the message type and topic headers.
    fn sns_request(&self, body: &str) -> Request<Body> {
        let message = SnsMessage::parse(body, None).expect("an SNS message");
        Request::post(format!(
            "/webhooks/{}?x-api-key={}",
            self.workflow_id, self.key
        ))
        .header("content-type", "text/plain; charset=UTF-8")
        .header("content-length", body.len())
        .header("x-amz-sns-message-type", message.message_type().as_str())
        .header("x-amz-sns-message-id", message.message_id())
        .header("x-amz-sns-topic-arn", message.topic_arn().as_str())
        .header("user-agent", "Amazon Simple Notification Service Agent")
        .body(Body::from(body.to_owned()))
        .expect("request")
    }

    /// One request through the router; anything but 202 Accepted aborts the benchmark.
    async fn accept(&self, request: Request<Body>) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("response");
        assert_eq!(response.status(), StatusCode::ACCEPTED, "not accepted");
    }
}

/// The whole request path up to "queued": routing and the guards, API key check (cached
/// lookups), body read, JSON parse, execution built, encoded and recorded with its dedup
/// record, work item queued, 202 answer built. Each iteration is a first delivery.
fn accept_through_router(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for (name, outbox) in [("store + queue", false), ("outbox", true)] {
        let app = MemoryApp::new(&runtime, Trigger::GenericWebhook, outbox);
        runtime.block_on(app.accept(app.generic_request()));
        c.bench_function(
            &format!("router: generic webhook to queued (in-memory {name})"),
            |b| {
                b.to_async(&runtime).iter_batched(
                    || {
                        app.reset();
                        app.generic_request()
                    },
                    |request| app.accept(request),
                    BatchSize::PerIteration,
                )
            },
        );
    }

    let app = MemoryApp::new(&runtime, Trigger::AmazonSns, false);
    for version in ["v1", "v2"] {
        let body = fixture(&format!("kat-notification-{version}.json"));
        // The first delivery fetches the certificate (from memory); later ones find it cached.
        app.clear();
        runtime.block_on(app.accept(app.sns_request(&body)));
        c.bench_function(
            &format!("router: SNS Notification {version} to queued (verified, cached cert)"),
            |b| {
                b.to_async(&runtime).iter_batched(
                    || {
                        app.reset();
                        app.sns_request(&body)
                    },
                    |request| app.accept(request),
                    BatchSize::PerIteration,
                )
            },
        );
    }
}

criterion_group!(
    benches,
    accept_through_router,
    sns_verification,
    template_rendering
);
criterion_main!(benches);
