//! Hot paths without I/O (criterion): SNS signature verification with the certificate already
//! cached, SignatureVersion 1 and 2, and rendering a typical step's templates. The accept
//! path against the real SQLite store is in `benches/accept.rs`; under load in
//! `bench/serve/load.sh`. Figures and the command: BENCHMARKS.md.

use std::sync::Arc;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use url::Url;
use webhook_trigger::domain::{TemplateContext, TemplateEngine};
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
    }
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
                .eval_bool(
                    "trigger.headers['x-github-event'] == 'push' and trigger.body.ref == 'refs/heads/main'",
                    &context,
                )
                .expect("evaluates")
        })
    });
}

criterion_group!(benches, sns_verification, template_rendering);
criterion_main!(benches);
