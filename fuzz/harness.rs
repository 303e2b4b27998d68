//! What each fuzz target does with one input, shared by the cargo-fuzz targets
//! (`fuzz/fuzz_targets/*.rs`, nightly) and by `tests/it/fuzz_corpus.rs`, which replays the
//! checked-in corpus `fuzz/corpus/<target>/` through these same functions under `make test`
//! (stable). Each function panics only when a property below is broken.
//!
//! Included with `#[path]`, so it may use only crates that both the fuzz crate and the test
//! binary depend on. It never touches the network: SNS certificates come from a fixed
//! in-process fetcher.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;
use url::Url;

use webhook_trigger::adapters::sqlite::{SqliteQueue, SqliteStore};
use webhook_trigger::app::{App, AppDeps, NewWorkflow};
use webhook_trigger::config::Config;
use webhook_trigger::domain::{SnsOptions, TemplateContext, TemplateEngine, Trigger, WorkflowFile};
use webhook_trigger::sns::{
    FetchError, FetchedBody, HttpFetcher, MessageType, SnsMessage, SnsPolicy, SnsVerifier,
    TopicArn, VerifierConfig, is_raw_delivery, validate_signing_cert_url, validate_subscribe_url,
};

/// One input in, a panic out if a property breaks.
pub type Target = fn(&[u8]);

/// The targets, by the name of their corpus directory.
pub const TARGETS: [(&str, Target); 4] = [
    ("webhook_request", webhook_request),
    ("sns_parse", sns_parse),
    ("template_render", template_render),
    ("workflow_file", workflow_file),
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

// --- webhook_request -------------------------------------------------------------------

/// The router over a SQLite store in a temporary directory, with a generic and an SNS
/// workflow behind one key.
struct Webhook {
    router: axum::Router,
    queue: SqliteQueue,
    generic: String,
    sns: String,
    key: String,
    _dir: tempfile::TempDir,
}

fn webhook() -> &'static Webhook {
    static W: OnceLock<Webhook> = OnceLock::new();
    W.get_or_init(|| {
        runtime().block_on(async {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = SqliteStore::open(&dir.path().join("fuzz.db")).expect("sqlite");
            let queue = store.queue();
            let config = Config {
                cache_ttl: std::time::Duration::ZERO,
                body_limit_bytes: 64 * 1024,
                ..Config::default()
            };
            let app = App::new(
                AppDeps {
                    store: Arc::new(store),
                    queue: Arc::new(queue.clone()),
                    sns_fetcher: Arc::new(FixedFetcher),
                },
                config,
            );
            let key = app.create_api_key("fuzz").await.expect("key");
            let make = |trigger| NewWorkflow {
                name: "fuzz".into(),
                trigger,
                api_key_name: "fuzz".into(),
                steps: Vec::new(),
                sns: SnsOptions::default(),
                auth: Default::default(),
                payload_schema: None,
            };
            let generic = app.create_workflow(make(Trigger::GenericWebhook)).await;
            let sns = app.create_workflow(make(Trigger::AmazonSns)).await;
            Webhook {
                router: webhook_trigger::http::router(app),
                queue,
                generic: generic.expect("generic workflow").id.as_str().to_owned(),
                sns: sns.expect("sns workflow").id.as_str().to_owned(),
                key: key.secret.expose().to_owned(),
                _dir: dir,
            }
        })
    })
}

/// The first four bytes choose the request's shape, the rest is the body:
/// 0: the key (real header, none, wrong, real in the query, real header and another query),
/// 1: the workflow (generic, SNS, unknown, a path made of the body's first line),
/// 2: the content type, 3: an idempotency key and an SNS message-type header.
///
/// Properties: never a 500 or 503 (no panic; the store and queue are up; a 502 is an SNS
/// fetch, which the fixed fetcher may legitimately fail); every refusal is the JSON error shape; a 2xx
/// on the generic workflow means the body was JSON; a refusal queues nothing, and a 202
/// queues exactly one message.
pub fn webhook_request(data: &[u8]) {
    let w = webhook();
    let pick = |i: usize| data.get(i).copied().unwrap_or(0);
    let body = data.get(4..).unwrap_or_default();
    let (path, generic) = match pick(1) % 4 {
        0 => (format!("/webhooks/{}", w.generic), true),
        1 => (format!("/webhooks/{}", w.sns), false),
        2 => ("/webhooks/wf_01jd0000000000000000000000".to_owned(), false),
        _ => {
            let line = body.split(|b| *b == b'\n').next().unwrap_or_default();
            let raw: String = String::from_utf8_lossy(line)
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .collect();
            (format!("/webhooks/{raw}"), false)
        }
    };
    let (path, header_key) = match pick(0) % 5 {
        0 => (path, Some(w.key.clone())),
        1 => (path, None),
        2 => (path, Some(format!("{}x", w.key))),
        3 => (format!("{path}?x-api-key={}", w.key), None),
        _ => (format!("{path}?x-api-key=other"), Some(w.key.clone())),
    };
    let Ok(uri) = path.parse::<axum::http::Uri>() else {
        return;
    };
    let mut request = Request::post(uri);
    if let Some(key) = header_key {
        request = request.header("x-api-key", key);
    }
    let content_type = [
        "application/json",
        "text/plain; charset=UTF-8",
        "",
        "application/x-www-form-urlencoded",
    ];
    let ct = content_type[usize::from(pick(2)) % content_type.len()];
    if !ct.is_empty() {
        request = request.header("content-type", ct);
    }
    if pick(3) & 1 == 1 {
        request = request.header("idempotency-key", format!("fuzz-{}", pick(3)));
    }
    if pick(3) & 2 == 2 {
        request = request.header("x-amz-sns-message-type", "Notification");
    }
    let Ok(request) = request.body(Body::from(body.to_vec())) else {
        return;
    };
    runtime().block_on(async {
        let before = w.queue.depth().await.expect("queue depth");
        let response = w.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .expect("response body")
            .to_bytes();
        let after = w.queue.depth().await.expect("queue depth");
        assert!(
            status != axum::http::StatusCode::INTERNAL_SERVER_ERROR
                && status != axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "{status}: {bytes:?}"
        );
        let answer: serde_json::Value =
            serde_json::from_slice(&bytes).expect("every answer is JSON");
        if status.is_success() {
            if generic {
                assert!(serde_json::from_slice::<serde_json::Value>(body).is_ok());
            }
            if status == axum::http::StatusCode::ACCEPTED {
                assert_eq!(after, before + 1, "a 202 queues one message");
            }
        } else {
            assert!(answer["error"]["code"].is_string(), "{status}: {answer}");
            assert_eq!(after, before, "{status} {answer} queued something");
        }
    });
}

// --- sns_parse -------------------------------------------------------------------------

/// Serves the known-answer certificate for every URL; what matters is which URLs the
/// verifier asks for (only ones that passed the host rules) and what it decides.
struct FixedFetcher;

const KAT_CERT: &str = include_str!("../tests/fixtures/sns/kat-signing-cert.pem");

#[async_trait]
impl HttpFetcher for FixedFetcher {
    async fn get(&self, url: &Url, _max_bytes: usize) -> Result<FetchedBody, FetchError> {
        assert_eq!(url.scheme(), "https", "fetched a non-https URL: {url}");
        let host = url.host_str().unwrap_or_default();
        assert!(
            host.starts_with("sns.")
                && (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")),
            "fetched a URL that is not SNS: {url}"
        );
        Ok(FetchedBody {
            status: 200,
            body: KAT_CERT.as_bytes().to_vec(),
        })
    }
}

/// Any input is read as an SNS body, and verified (signature against the known-answer
/// certificate, at a clock just after its timestamp) when it parses; then its first three
/// lines are read as a topic ARN, a URL and a token and put through the host rules directly.
/// Beyond "never panic": an accepted URL always points at the topic region's SNS host over
/// https, and the verifier fetches nothing else (asserted by `FixedFetcher`).
pub fn sns_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = is_raw_delivery(Some(&text));

    for header in [None, Some("Notification"), Some("SubscriptionConfirmation")] {
        if let Ok(msg) = SnsMessage::parse(&text, header) {
            check_message(&msg);
            verify(&msg);
        }
    }

    let mut lines = text.splitn(4, '\n');
    let (Some(arn), Some(url), token) = (lines.next(), lines.next(), lines.next()) else {
        return;
    };
    if let Ok(topic) = TopicArn::parse(arn) {
        assert_eq!(topic.as_str(), arn);
        check_urls(&topic, url, token.unwrap_or_default());
    }
}

fn verify(msg: &SnsMessage) {
    static VERIFIER: OnceLock<SnsVerifier> = OnceLock::new();
    let verifier = VERIFIER
        .get_or_init(|| SnsVerifier::new(Arc::new(FixedFetcher), VerifierConfig::default()));
    let now = msg.timestamp() + chrono::TimeDelta::seconds(30);
    let verified = runtime().block_on(verifier.verify(msg, &SnsPolicy::default(), now));
    if verified.is_ok() {
        // Only a message signed by the known-answer key can pass, and its certificate URL
        // must have passed the host rules.
        assert!(validate_signing_cert_url(msg.signing_cert_url(), msg.topic_arn()).is_ok());
    }
}

fn check_message(msg: &SnsMessage) {
    // Unsigned, kept as text and parsed on demand: whatever it holds, reading it must not panic.
    let _ = msg.message_attributes();
    let sts = msg.string_to_sign();
    assert!(sts.starts_with("Message\n"));
    assert!(sts.ends_with(&format!(
        "\nTopicArn\n{}\nType\n{}\n",
        msg.topic_arn(),
        msg.message_type()
    )));
    match msg.message_type() {
        MessageType::Notification => {
            let subject = msg
                .subject()
                .map(|s| format!("Subject\n{s}\n"))
                .unwrap_or_default();
            let expected = format!(
                "Message\n{}\nMessageId\n{}\n{subject}Timestamp\n{}\nTopicArn\n{}\nType\nNotification\n",
                msg.message(),
                msg.message_id(),
                msg.timestamp_raw(),
                msg.topic_arn()
            );
            assert_eq!(sts, expected);
            assert!(msg.subscribe_url().is_none());
        }
        MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => {
            assert!(msg.subscribe_url().is_some());
            assert!(msg.subject().is_none());
        }
    }
    if let Ok(url) = validate_signing_cert_url(msg.signing_cert_url(), msg.topic_arn()) {
        assert_pinned(&url, msg.topic_arn());
        assert!(
            url.path().starts_with("/SimpleNotificationService-") && url.path().ends_with(".pem")
        );
    }
}

fn check_urls(topic: &TopicArn, url: &str, token: &str) {
    if let Ok(parsed) = validate_signing_cert_url(url, topic) {
        assert_pinned(&parsed, topic);
        assert!(parsed.query().is_none());
    }
    if let Ok(parsed) = validate_subscribe_url(url, topic, token) {
        assert_pinned(&parsed, topic);
        assert_eq!(parsed.path(), "/");
        assert!(
            parsed
                .query_pairs()
                .any(|(k, v)| k == "Action" && v == "ConfirmSubscription")
        );
    }
}

fn assert_pinned(url: &Url, topic: &TopicArn) {
    assert_eq!(url.scheme(), "https");
    assert_eq!(url.host_str(), Some(topic.sns_host().as_str()));
    assert!(url.port().is_none());
    assert!(url.username().is_empty() && url.password().is_none());
    assert!(url.fragment().is_none());
}

// --- template_render -------------------------------------------------------------------

/// The first line is a template (MiniJinja, as workflow steps write them), the rest a JSON
/// context (a fixed one when it is not JSON). Properties: checking, rendering and evaluating
/// never panic and always end (fuel); a template that passes `check_str` either renders or
/// fails with an error, and a rendered text stays within the engine's output cap.
pub fn template_render(data: &[u8]) {
    static ENGINE: OnceLock<TemplateEngine> = OnceLock::new();
    // Small limits: a fuzzer finds loops fast; the point is that the limits hold.
    const MAX_OUTPUT: usize = 16 * 1024;
    let engine = ENGINE.get_or_init(|| TemplateEngine::with_limits(5_000, MAX_OUTPUT));
    let text = String::from_utf8_lossy(data);
    let (source, context) = text.split_once('\n').unwrap_or((&text, ""));
    let vars = serde_json::from_str(context).unwrap_or_else(|_| {
        serde_json::json!({
            "trigger": {"body": {"a": [1, 2, {"b": "c"}], "s": "text"}, "headers": {}, "query": {}},
            "steps": {"x": {"output": {"n": 1}}},
        })
    });
    let ctx = TemplateContext::from_json(&vars);
    let _ = engine.check_str(source);
    let _ = engine.check_expression(source);
    if let Ok(rendered) = engine.render_str(source, &ctx) {
        assert!(
            rendered.len() <= MAX_OUTPUT.max(source.len()),
            "output cap broken"
        );
    }
    let _ = engine.eval_condition(source, &ctx);
    let value = serde_json::Value::String(source.to_owned());
    let _ = engine.render_value(&value, &ctx);
    if let Ok(templated) = serde_json::from_str::<serde_json::Value>(context)
        && engine.check_value(&templated).is_ok()
    {
        let _ = engine.render_value(&templated, &ctx);
    }
}

// --- workflow_file ---------------------------------------------------------------------

/// Any text as a workflow file (YAML or JSON). Properties: never panics; parsing is a pure
/// function of the text (same answer twice).
pub fn workflow_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let first = WorkflowFile::parse(&text);
    let second = WorkflowFile::parse(&text);
    assert_eq!(format!("{first:?}"), format!("{second:?}"));
}
