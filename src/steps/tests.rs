//! The step types run against scripted ports: HTTP answers, SNS publishes.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::http_request::{MAX_RECORDED_BODY, backoff, response_output};
use super::*;
use crate::ports::PublishError;
use crate::ports::{
    HttpSender, OutboundError, OutboundRequest, OutboundResponse, SnsPublishRequest, SnsPublisher,
};
use async_trait::async_trait;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Answers from a script, one entry per call; `None` never answers.
struct ScriptedHttp {
    script: Mutex<VecDeque<Option<Result<OutboundResponse, OutboundError>>>>,
    seen: Mutex<Vec<OutboundRequest>>,
}

impl ScriptedHttp {
    fn new(script: Vec<Option<Result<OutboundResponse, OutboundError>>>) -> Arc<Self> {
        Arc::new(Self {
            script: Mutex::new(script.into()),
            seen: Mutex::new(Vec::new()),
        })
    }
    fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
    fn last(&self) -> OutboundRequest {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }
}

#[async_trait]
impl HttpSender for ScriptedHttp {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        self.seen.lock().unwrap().push(request);
        let next = self.script.lock().unwrap().pop_front();
        match next {
            Some(Some(answer)) => answer,
            Some(None) => std::future::pending().await,
            None => panic!("more calls than scripted"),
        }
    }
}

#[derive(Default)]
struct RecordingSns {
    seen: Mutex<Vec<SnsPublishRequest>>,
    fail_with: Option<PublishError>,
}

#[async_trait]
impl SnsPublisher for RecordingSns {
    async fn publish(&self, request: SnsPublishRequest) -> Result<String, PublishError> {
        self.seen.lock().unwrap().push(request);
        match &self.fail_with {
            Some(e) => Err(e.clone()),
            None => Ok("msg-1".into()),
        }
    }
}

fn answer(
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<Result<OutboundResponse, OutboundError>> {
    Some(Ok(OutboundResponse {
        status,
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
        body_truncated: false,
    }))
}

fn deps(http: Arc<ScriptedHttp>, sns: Arc<RecordingSns>) -> StepDeps {
    StepDeps {
        http,
        sns,
        email: Arc::new(crate::ports::NoEmailTransport),
        email_from: None,
        templates: Arc::new(TemplateEngine::new()),
        callbacks: None,
        base_url: None,
    }
}

fn ctx() -> StepContext {
    let mut ctx = StepContext::new(
        json!({"body": {"order": 7, "note": "a \"quoted\"\nline", "ok": true}, "headers": {}}),
        ExecutionInfo {
            id: "01EXEC".into(),
            workflow_id: "wf1".into(),
            attempt: 1,
        },
    );
    ctx.record_output("lookup", json!({"token": "abc"}));
    ctx
}

fn step(raw: Value) -> WorkflowStep {
    serde_json::from_value(raw).unwrap()
}

/// The default `http_request` step against `http`, with default dependencies.
async fn run_plain_http_step(http: &Arc<ScriptedHttp>) -> StepRun {
    run_step(
        &http_step(json!({})),
        &ctx(),
        "01EXEC",
        &deps(http.clone(), Default::default()),
    )
    .await
}

fn http_step(extra: Value) -> WorkflowStep {
    let mut raw = json!({"id": "call", "type": "http_request", "url": "https://example.com/hook"});
    if let (Value::Object(base), Value::Object(extra)) = (&mut raw, extra) {
        base.extend(extra);
    }
    step(raw)
}

#[tokio::test(start_paused = true)]
async fn retries_transient_failures_then_succeeds() {
    let http = ScriptedHttp::new(vec![
        Some(Err(OutboundError::Connect("refused".into()))),
        answer(503, &[], ""),
        answer(
            200,
            &[("content-type", "application/json"), ("x-other", "no")],
            r#"{"id": 9}"#,
        ),
    ]);
    let run = run_plain_http_step(&http).await;
    assert_eq!(run.status, StepStatus::Succeeded, "{run:?}");
    assert_eq!(http.calls(), 3);
    assert_eq!(run.attempts, 3);
    let out = run.output.unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["body"], json!({"id": 9}));
    assert_eq!(out["bodyTruncated"], false);
    assert_eq!(out["headers"], json!({"content-type": "application/json"}));
    assert!(out["elapsedMs"].is_u64());
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_cannot_send_http_fails_the_step_at_once() {
    let http = ScriptedHttp::new(vec![Some(Err(OutboundError::Setup(
        "no root certificate could be loaded".into(),
    )))]);
    let run = run_plain_http_step(&http).await;
    assert_eq!(run.status, StepStatus::Failed, "{run:?}");
    assert!(!run.transient, "retrying does not load certificates");
    assert_eq!(http.calls(), 1);
    let error = run.error.unwrap_or_default();
    assert!(error.contains("no root certificate"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_before_the_next_attempt() {
    let http = ScriptedHttp::new(vec![
        answer(429, &[("retry-after", "5")], "slow down"),
        answer(201, &[], ""),
    ]);
    let d = deps(http.clone(), Default::default());
    let task =
        tokio::spawn(async move { run_step(&http_step(json!({})), &ctx(), "01EXEC", &d).await });
    settle().await;
    assert_eq!(http.calls(), 1);
    tokio::time::advance(Duration::from_millis(4_900)).await;
    settle().await;
    assert_eq!(http.calls(), 1, "retried before Retry-After");
    tokio::time::advance(Duration::from_millis(200)).await;
    settle().await;
    assert_eq!(http.calls(), 2);
    let run = task.await.unwrap();
    assert_eq!(run.status, StepStatus::Succeeded);
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_cap_ends_the_run_for_redelivery() {
    let http = ScriptedHttp::new(vec![answer(503, &[("retry-after", "120")], "")]);
    let run = run_plain_http_step(&http).await;
    assert_eq!(http.calls(), 1);
    assert_eq!(run.status, StepStatus::Failed);
    assert!(run.transient);
    assert_eq!(run.retry_after, Some(Duration::from_secs(120)));
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_times_out_transiently() {
    let http = ScriptedHttp::new(vec![None, None]);
    let s = http_step(json!({"timeout_ms": 2000, "retry": {"max_attempts": 2}}));
    let run = run_step(
        &s,
        &ctx(),
        "01EXEC",
        &deps(http.clone(), Default::default()),
    )
    .await;
    assert_eq!(http.calls(), 2);
    assert_eq!(run.status, StepStatus::Failed);
    assert!(run.transient);
    assert!(run.retry_after.is_some());
    assert!(run.error.unwrap().contains("no answer"));
}

#[tokio::test(start_paused = true)]
async fn expect_status_decides_success_and_transience() {
    let http = ScriptedHttp::new(vec![answer(404, &[], "nope")]);
    let run = run_plain_http_step(&http).await;
    assert_eq!(
        (run.status, run.transient, run.attempts),
        (StepStatus::Failed, false, 1)
    );
    assert_eq!(run.error.as_deref(), Some("expected status 2xx, got 404"));
    assert_eq!(run.output.unwrap()["body"], "nope");

    let http = ScriptedHttp::new(vec![answer(404, &[], "")]);
    let s = http_step(json!({"expect_status": [200, 404]}));
    let run = run_step(&s, &ctx(), "01EXEC", &deps(http, Default::default())).await;
    assert_eq!(run.status, StepStatus::Succeeded);

    let http = ScriptedHttp::new(vec![answer(500, &[], ""), answer(500, &[], "")]);
    let s = http_step(json!({"retry": {"max_attempts": 2}}));
    let run = run_step(
        &s,
        &ctx(),
        "01EXEC",
        &deps(http.clone(), Default::default()),
    )
    .await;
    assert_eq!(http.calls(), 2);
    assert!(run.transient && run.status == StepStatus::Failed);
}

#[tokio::test]
async fn request_carries_idempotency_key_json_body_and_encoded_query() {
    let http = ScriptedHttp::new(vec![answer(200, &[], "")]);
    let s = http_step(json!({
        "query": {"q": "{{ trigger.body.note }}", "n": "{{ trigger.body.order }}"},
        "body": {"order": "{{ trigger.body.order }}", "note": "{{ trigger.body.note }}", "tok": "{{ steps.lookup.output.token }}"}
    }));
    let run = run_step(
        &s,
        &ctx(),
        "01EXEC",
        &deps(http.clone(), Default::default()),
    )
    .await;
    assert_eq!(run.status, StepStatus::Succeeded);
    let sent = http.last();
    assert_eq!(sent.method, "POST");
    assert!(
        sent.headers
            .contains(&("Idempotency-Key".into(), "01EXEC:call".into()))
    );
    assert!(
        sent.headers
            .contains(&("Content-Type".into(), "application/json".into()))
    );
    let body: Value = serde_json::from_slice(sent.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"order": 7, "note": "a \"quoted\"\nline", "tok": "abc"})
    );
    let url = url::Url::parse(&sent.url).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(
        pairs,
        [
            ("n".into(), "7".into()),
            ("q".into(), "a \"quoted\"\nline".into())
        ]
    );
    assert_eq!(sent.timeout, Duration::from_millis(10_000));
    assert!(!sent.follow_redirects);
}

#[tokio::test]
async fn default_body_is_the_trigger_body_and_get_sends_none() {
    let http = ScriptedHttp::new(vec![answer(200, &[], ""), answer(200, &[], "")]);
    let d = deps(http.clone(), Default::default());
    run_step(&http_step(json!({})), &ctx(), "e", &d).await;
    let body: Value = serde_json::from_slice(http.last().body.as_deref().unwrap()).unwrap();
    assert_eq!(body["order"], 7);
    run_step(&http_step(json!({"method": "get"})), &ctx(), "e", &d).await;
    assert_eq!(http.last().method, "GET");
    assert_eq!(http.last().body, None);
}

#[tokio::test]
async fn secrets_are_redacted_in_the_recorded_request() {
    let http = ScriptedHttp::new(vec![answer(200, &[], "")]);
    let s = http_step(json!({
        "url": "https://user:pw@example.com/h?api_key=k1&page=2",
        "headers": {"Authorization": "Bearer s3cret", "X-Client-Token": "t", "Cookie": "c", "X-Trace": "visible"},
        "query": {"access_token": "{{ steps.lookup.output.token }}"}
    }));
    let run = run_step(
        &s,
        &ctx(),
        "01EXEC",
        &deps(http.clone(), Default::default()),
    )
    .await;
    let rec = run.request.unwrap();
    let text = rec.to_string();
    for secret in ["s3cret", "k1", "abc", "pw@"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(rec["headers"]["Authorization"], REDACTED);
    assert_eq!(rec["headers"]["X-Client-Token"], REDACTED);
    assert_eq!(rec["headers"]["Cookie"], REDACTED);
    assert_eq!(rec["headers"]["X-Trace"], "visible");
    assert_eq!(rec["headers"]["Idempotency-Key"], "01EXEC:call");
    assert!(text.contains("page=2"));
    // The real request still carries them.
    assert!(http.last().url.contains("api_key=k1"));
}

#[tokio::test]
async fn a_template_error_fails_without_sending() {
    let http = ScriptedHttp::new(vec![]);
    let s = http_step(json!({"body": {"x": "{{ trigger.body.missing }}"}}));
    let run = run_step(&s, &ctx(), "e", &deps(http.clone(), Default::default())).await;
    assert_eq!((run.status, run.transient), (StepStatus::Failed, false));
    assert!(run.error.unwrap().starts_with("body.x: "));
    assert_eq!(http.calls(), 0);
}

#[tokio::test]
async fn a_rendered_header_cannot_smuggle_a_line_break() {
    let http = ScriptedHttp::new(vec![]);
    let s = http_step(json!({"headers": {"X-Note": "{{ trigger.body.note }}"}}));
    let run = run_step(&s, &ctx(), "e", &deps(http.clone(), Default::default())).await;
    assert_eq!(run.status, StepStatus::Failed);
    assert!(run.error.unwrap().contains("line break"));
    assert_eq!(http.calls(), 0);
}

#[tokio::test]
async fn sns_publish_renders_and_sets_fifo_ids() {
    let sns = Arc::new(RecordingSns::default());
    let d = deps(ScriptedHttp::new(vec![]), sns.clone());
    let s = step(json!({
        "id": "pub", "type": "sns_publish",
        "topic_arn": "arn:aws:sns:us-east-1:123456789012:orders.fifo",
        "subject": "Order {{ trigger.body.order }}",
        "message": {"order": "{{ trigger.body.order }}"},
        "message_attributes": {"count": "{{ trigger.body.order }}", "kind": "new", "tags": ["a", "b"]}
    }));
    let run = run_step(&s, &ctx(), "01EXEC", &d).await;
    assert_eq!(run.status, StepStatus::Succeeded);
    assert_eq!(run.output, Some(json!({"messageId": "msg-1"})));
    let sent = sns.seen.lock().unwrap()[0].clone();
    assert_eq!(sent.subject.as_deref(), Some("Order 7"));
    assert_eq!(sent.message, r#"{"order":7}"#);
    assert_eq!(sent.message_group_id.as_deref(), Some("wf1"));
    assert_eq!(sent.deduplication_id.as_deref(), Some("01EXEC:pub"));
    let kinds: Vec<(&str, &str)> = sent
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.data_type.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("count", "Number"),
            ("kind", "String"),
            ("tags", "String.Array")
        ]
    );
}

#[tokio::test]
async fn sns_standard_topic_gets_no_fifo_ids_and_a_string_message_stays_text() {
    let sns = Arc::new(RecordingSns {
        fail_with: Some(PublishError::Unavailable("503".into())),
        ..Default::default()
    });
    let d = deps(ScriptedHttp::new(vec![]), sns.clone());
    let s = step(json!({"id": "p", "type": "sns_publish",
        "topic_arn": "arn:aws:sns:us-east-1:123456789012:orders", "message": "note: {{ trigger.body.note }}"}));
    let run = run_step(&s, &ctx(), "e", &d).await;
    assert_eq!((run.status, run.transient), (StepStatus::Failed, true));
    let sent = sns.seen.lock().unwrap()[0].clone();
    assert_eq!(sent.message, "note: a \"quoted\"\nline");
    assert_eq!(sent.message_group_id, None);
    assert_eq!(sent.deduplication_id, None);
}

#[tokio::test]
async fn filter_transform_echo_and_fail() {
    let d = deps(ScriptedHttp::new(vec![]), Default::default());
    let c = ctx();
    let pass = step(json!({"id": "f", "type": "filter", "when": "trigger.body.order > 5"}));
    assert_eq!(
        run_step(&pass, &c, "e", &d).await.status,
        StepStatus::Succeeded
    );
    let stop = step(json!({"id": "f", "type": "filter", "when": "not trigger.body.ok"}));
    assert_eq!(
        run_step(&stop, &c, "e", &d).await.status,
        StepStatus::Filtered
    );
    // A condition treats a missing field as absent (the README's rule for conditions).
    let absent = step(json!({"id": "f", "type": "filter", "when": "trigger.body.okk"}));
    assert_eq!(
        run_step(&absent, &c, "e", &d).await.status,
        StepStatus::Filtered
    );

    let t = step(json!({"id": "t", "type": "transform",
        "output": {"id": "{{ trigger.body.order }}", "label": "#{{ trigger.body.order }}", "run": "{{ execution.attempt }}"}}));
    let run = run_step(&t, &c, "e", &d).await;
    assert_eq!(run.output, Some(json!({"id": 7, "label": "#7", "run": 1})));

    let echo = run_step(&Step::Echo.into(), &c, "e", &d).await;
    assert_eq!(echo.output.unwrap()["order"], 7);
    let fail = run_step(
        &Step::Fail(FailStep {
            message: "no".into(),
        })
        .into(),
        &c,
        "e",
        &d,
    )
    .await;
    assert_eq!(
        (fail.status, fail.error.as_deref()),
        (StepStatus::Failed, Some("no"))
    );
}

#[test]
fn retry_after_parses_seconds_and_dates() {
    let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
    assert_eq!(
        parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now),
        Some(Duration::from_secs(30))
    );
    assert_eq!(
        parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now), None);
}

#[test]
fn backoff_grows_and_stays_under_the_cap() {
    let policy = RetryPolicy {
        max_attempts: 5,
        initial_backoff_ms: 100,
        max_backoff_ms: 1_000,
    };
    for _ in 0..50 {
        let first = backoff(&policy, 1);
        assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
        let late = backoff(&policy, 10);
        assert!((Duration::from_millis(500)..=Duration::from_millis(1_000)).contains(&late));
    }
}

#[test]
fn large_bodies_are_cut_and_flagged() {
    let response = OutboundResponse {
        status: 200,
        headers: vec![],
        body: vec![b'a'; MAX_RECORDED_BODY + 10],
        body_truncated: false,
    };
    let out = response_output(&response, Duration::ZERO);
    assert_eq!(out["bodyTruncated"], true);
    assert_eq!(out["body"].as_str().unwrap().len(), MAX_RECORDED_BODY);
}
