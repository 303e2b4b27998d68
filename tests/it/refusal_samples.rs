//! Samples of refused webhook requests, on both backends: a refusal is sampled with every
//! secret redacted and its body cut at 4 KiB; a flood of 10,000 refusals makes a bounded
//! number of sample writes (counted by a decorator over the real store) while the counts stay
//! exact; samples older than 48 h are not listed; an unknown workflow's route is a 404.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::admin::admin_key;
use crate::support::store_delegate::delegate_store;
use crate::support::{self, Response, StoreWrap, TestApp, assert_error};
use webhook_trigger::config::Config;
use webhook_trigger::domain::{RefusalSample, RejectionReason, Step, WorkflowId, minute_of};
use webhook_trigger::ports::{RefusalSampleStore, Store, StoreError};

macro_rules! refusal_flows_for {
    ($backend:ident, $make:path, $wrapped:path) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn a_refused_request_is_sampled_with_its_secrets_redacted_and_its_body_cut() {
                super::a_refused_request_is_sampled_with_its_secrets_redacted_and_its_body_cut(
                    $make(support::test_config()).await,
                )
                .await;
            }

            #[tokio::test]
            async fn samples_older_than_48_hours_are_not_listed() {
                super::samples_older_than_48_hours_are_not_listed(
                    $make(support::test_config()).await,
                )
                .await;
            }

            #[tokio::test]
            async fn a_flood_of_refusals_makes_a_bounded_number_of_sample_writes() {
                let writes = Arc::new(AtomicUsize::new(0));
                let counted = writes.clone();
                let wrap: StoreWrap = Box::new(move |inner| {
                    Arc::new(CountingStore {
                        inner,
                        writes: counted,
                    })
                });
                super::a_flood_of_refusals_makes_a_bounded_number_of_sample_writes(
                    $wrapped(flood_config(), wrap).await,
                    writes,
                )
                .await;
            }
        }
    };
}

refusal_flows_for!(sqlite, support::sqlite_app, support::sqlite_app_wrapped);
refusal_flows_for!(
    dynamodb,
    support::dynamodb_app,
    support::dynamodb::dynamodb_app_wrapped
);

/// Caches as deployed, so the flood costs no store read per request.
fn flood_config() -> Config {
    Config::default()
}

async fn refusals(t: &TestApp, workflow_id: &str, admin: &str) -> (Response, String) {
    let request = Request::get(format!("/admin/workflows/{workflow_id}/refusals"))
        .header("x-admin-key", admin)
        .body(Body::empty())
        .expect("request");
    let r = t.send(request).await;
    let text = r.body.to_string();
    (r, text)
}

fn samples(r: &Response) -> Vec<Value> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["samples"].as_array().cloned().unwrap_or_default()
}

const BEARER: &str = "Bearer s3cr3t-bearer-value";
const SIGNATURE: &str = "sha256=5ec7e75d9a1e0f0e1f1e2d3c4b5a69788796a5b4c3d2e1f0ffeeddccbbaa9988";
const COOKIE: &str = "session=c00kie-value";
const OWN_TOKEN: &str = "acme-t0ken-value";

async fn a_refused_request_is_sampled_with_its_secrets_redacted_and_its_body_cut(t: TestApp) {
    let (workflow, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let wf = workflow.id.to_string();
    let secrets = [
        ("authorization", BEARER),
        ("x-hub-signature-256", SIGNATURE),
        ("cookie", COOKIE),
        ("x-acme-token", OWN_TOKEN),
        ("user-agent", "sender/1.0"),
    ];
    // The right key and a body that is not JSON: refused after the body was read.
    let body = format!("{{not json {}", "x".repeat(10_000));
    let r = t.post_webhook_with(&wf, &key, "", &secrets, &body).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    // A wrong key: refused before the body is read.
    let wrong = format!("{key}x");
    let r = t.post_webhook_with(&wf, &wrong, "", &secrets, "{}").await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_api_key");
    t.app.flush_rejections().await;

    let admin = admin_key(&t).await;
    let (r, text) = refusals(&t, &wf, &admin).await;
    let listed = samples(&r);
    assert_eq!(listed.len(), 2, "one per reason: {text}");
    for secret in [
        key.as_str(),
        wrong.as_str(),
        BEARER,
        SIGNATURE,
        COOKIE,
        OWN_TOKEN,
    ] {
        assert!(!text.contains(secret), "{secret} is in the answer: {text}");
    }
    assert!(
        !text.contains("s3cr3t") && !text.contains("5ec7e75d"),
        "{text}"
    );
    let read = listed
        .iter()
        .find(|s| s["code"] == "invalid_json")
        .unwrap_or_else(|| panic!("no invalid_json sample: {text}"));
    assert_eq!(read["status"], 400);
    assert_eq!(read["reason"], "other");
    assert_eq!(read["headers"]["user-agent"], "sender/1.0");
    assert_eq!(read["headers"]["content-type"], "application/json");
    for name in [
        "x-api-key",
        "authorization",
        "x-hub-signature-256",
        "cookie",
        "x-acme-token",
    ] {
        assert_eq!(read["headers"][name], "[redacted]", "{name}: {text}");
    }
    let shown = read["body"].as_str().unwrap_or_default();
    assert_eq!(shown.len(), 4096, "the first 4 KiB");
    assert!(body.starts_with(shown));
    assert_eq!(read["bodyTruncated"], true);
    assert!(DateTime::parse_from_rfc3339(read["at"].as_str().unwrap_or_default()).is_ok());

    let unread = listed
        .iter()
        .find(|s| s["reason"] == "auth")
        .unwrap_or_else(|| panic!("no auth sample: {text}"));
    assert_eq!(unread["body"], "", "an unauthenticated body is never read");
    assert_eq!(unread["bodyTruncated"], true);

    let r = refusals(&t, "wf_nosuchworkflow", &admin).await.0;
    assert_error(&r, StatusCode::NOT_FOUND, "workflow_not_found");
}

async fn samples_older_than_48_hours_are_not_listed(t: TestApp) {
    let (workflow, _) = t.workflow_with_key(vec![Step::Echo]).await;
    let sample = |hours_ago: i64, code: &str| RefusalSample {
        workflow_id: workflow.id.clone(),
        at: Utc::now() - Duration::hours(hours_ago),
        status: 401,
        code: code.into(),
        reason: RejectionReason::Auth,
        source_ip: Some("192.0.2.1".into()),
        headers: Default::default(),
        headers_dropped: 0,
        body: String::new(),
        body_truncated: false,
    };
    let store = t.app.store();
    assert!(
        store
            .put_refusal_sample(&sample(49, "old"))
            .await
            .expect("put")
    );
    assert!(
        store
            .put_refusal_sample(&sample(47, "recent"))
            .await
            .expect("put")
    );
    assert!(
        !store
            .put_refusal_sample(&sample(47, "same minute"))
            .await
            .expect("put"),
        "one per workflow, reason and minute: the first wins"
    );
    let admin = admin_key(&t).await;
    let (r, text) = refusals(&t, workflow.id.as_str(), &admin).await;
    let codes: Vec<Value> = samples(&r).iter().map(|s| s["code"].clone()).collect();
    assert_eq!(codes, [Value::from("recent")], "{text}");
    assert_eq!(r.body["samples"][0]["sourceIp"], "192.0.2.1");
}

async fn a_flood_of_refusals_makes_a_bounded_number_of_sample_writes(
    t: TestApp,
    writes: Arc<AtomicUsize>,
) {
    let (workflow, _) = t.workflow_with_key(vec![Step::Echo]).await;
    let wf = workflow.id.to_string();
    let started = Utc::now();
    for n in 0..10_000 {
        let r = t.post_webhook(&wf, None, &format!(r#"{{"n":{n}}}"#)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    }
    t.app.flush_rejections().await;
    // Every minute the flood touched may have its sample (one reason here).
    let minutes = (minute_of(Utc::now()) - minute_of(started)).num_minutes() as usize + 1;
    let written = writes.load(Ordering::SeqCst);
    assert!(
        (1..=minutes).contains(&written),
        "{written} sample writes for 10,000 refusals over {minutes} minute(s)"
    );

    let admin = admin_key(&t).await;
    let request = Request::get(format!("/admin/workflows/{wf}/activity"))
        .header("x-admin-key", &admin)
        .body(Body::empty())
        .expect("request");
    let activity = t.send(request).await;
    assert_eq!(activity.status, StatusCode::OK, "{}", activity.body);
    assert_eq!(
        activity.body["rejections"]["counts"]["auth"], 10_000,
        "the counts stay exact: {}",
        activity.body["rejections"]
    );
    let (r, text) = refusals(&t, &wf, &admin).await;
    let listed = samples(&r);
    assert!((1..=minutes).contains(&listed.len()), "{text}");
    assert_eq!(listed[0]["code"], "missing_api_key");
}

/// The real store, counting the writes of samples.
struct CountingStore {
    inner: Arc<dyn Store>,
    writes: Arc<AtomicUsize>,
}

#[async_trait]
impl RefusalSampleStore for CountingStore {
    async fn put_refusal_sample(&self, sample: &RefusalSample) -> Result<bool, StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.put_refusal_sample(sample).await
    }
    async fn refusal_samples_since(
        &self,
        workflow_id: &WorkflowId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<RefusalSample>, StoreError> {
        self.inner
            .refusal_samples_since(workflow_id, since, limit)
            .await
    }
}

delegate_store!(CountingStore => inner:
    ApiKeyStore,
    WorkflowStore,
    WorkflowVersionStore,
    ExecutionStore,
    SubscriptionStore,
    SecretStore,
    KeyUsageStore,
    AdminKeyStore,
    RejectionStore,
    ItemStore,
    CallbackStore,
);
