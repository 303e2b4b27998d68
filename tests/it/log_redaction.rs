//! Secrets never reach the logs: API keys (header or query), the query string that carries
//! them, and SNS confirmation tokens. Everything is logged at TRACE while the requests run, so
//! nothing hides behind a log level.

use crate::support;
use crate::support::sns_peer;

use axum::body::Body;
use axum::http::{Request, StatusCode};

use sns_peer::{SigV, SnsPeer};
use webhook_trigger::config::Config;
use webhook_trigger::domain::{SnsOptions, Step, Trigger};

/// Runs `flow` alone in a process of its own (see `support::child_process`), so that every log
/// line reaches that flow's subscriber.
fn in_own_process(name: &str, flow: impl std::future::Future<Output = ()>) {
    support::child_process::run_in_own_process(name, &[], || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(flow)
    });
}

/// Alone in its own process, so that every log line reaches this test's subscriber (see
/// `support::child_process`).
#[test]
fn keys_query_strings_and_sns_tokens_never_reach_the_logs() {
    in_own_process(
        "log_redaction::keys_query_strings_and_sns_tokens_never_reach_the_logs",
        requests_with_secrets_are_logged_without_them(),
    );
}

async fn requests_with_secrets_are_logged_without_them() {
    let (logs, _guard) = support::logs::capture_trace();

    let peer = SnsPeer::start().await;
    let config = Config {
        sns_endpoint: Some(peer.endpoint()),
        ..support::test_config()
    };
    let t = support::sqlite_app(config).await;
    let (generic, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let (sns, sns_key) = t
        .workflow_with(Trigger::AmazonSns, vec![], SnsOptions::default())
        .await;

    let post = |uri: String, header_key: Option<String>, body: String| {
        let mut request = Request::post(uri).header("content-type", "application/json");
        if let Some(k) = header_key {
            request = request.header("x-api-key", k);
        }
        request.body(Body::from(body)).expect("request")
    };
    let wrong = format!("{key}-wrong");
    let cases = [
        (
            post(
                format!("/webhooks/{}?x-api-key={key}", generic.id),
                None,
                "{}".into(),
            ),
            StatusCode::ACCEPTED,
        ),
        (
            post(
                format!("/webhooks/{}", generic.id),
                Some(key.clone()),
                "{".into(),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            post(
                format!("/webhooks/{}?x-api-key={wrong}", generic.id),
                None,
                "{}".into(),
            ),
            StatusCode::UNAUTHORIZED,
        ),
        (
            post(
                format!("/webhooks/{}", generic.id),
                Some(wrong.clone()),
                "{}".into(),
            ),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(t.send(request).await.status, expected);
    }
    let confirmation = peer.subscription_confirmation(SigV::V2).body();
    let request = Request::post(format!("/webhooks/{}?x-api-key={sns_key}", sns.id))
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", "SubscriptionConfirmation")
        .body(Body::from(confirmation))
        .expect("request");
    assert_eq!(t.send(request).await.status, StatusCode::OK);
    assert_eq!(peer.confirmations(), 1);
    let forged = peer
        .subscription_confirmation(SigV::V2)
        .sign()
        .tamper("Message", "forged")
        .body();
    let request = Request::post(format!("/webhooks/{}?x-api-key={sns_key}", sns.id))
        .header("x-amz-sns-message-type", "SubscriptionConfirmation")
        .body(Body::from(forged))
        .expect("request");
    assert_eq!(t.send(request).await.status, StatusCode::FORBIDDEN);
    t.worker.drain().await;

    let text = logs.text();
    // The logs did record these requests, so their silence about secrets means something.
    assert!(
        text.contains("/webhooks/{workflow_id}"),
        "no request lines captured:\n{text}"
    );
    assert!(
        text.contains("SNS message not verified"),
        "no SNS rejection captured"
    );
    for secret in [
        key.as_str(),
        wrong.as_str(),
        sns_key.as_str(),
        peer.token(),
        "x-api-key=",
    ] {
        assert!(!text.contains(secret), "{secret:?} appears in the logs");
    }
}

/// Resume URLs' tokens never reach the logs: not when the notification carrying them is sent,
/// nor when the link is opened, used, used again, or refused.
#[test]
fn resume_url_tokens_never_reach_the_logs() {
    in_own_process(
        "log_redaction::resume_url_tokens_never_reach_the_logs",
        resume_urls_are_logged_without_their_tokens(),
    );
}

async fn resume_urls_are_logged_without_their_tokens() {
    let (logs, _guard) = support::logs::capture_trace();
    let notify = support::target::Target::ok().await;
    let t = support::sqlite_app(support::test_config()).await;
    let (wf, key) = t
        .workflow_from_steps(serde_json::json!([
            {"id": "approve", "type": "approval", "timeout": "1h",
             "notify": {"type": "http_request", "url": notify.url("/n"),
                        "body": {"approve": "{{ approval.approveUrl }}"}}},
        ]))
        .await;
    let r = t.post_webhook(wf.id.as_str(), Some(&key), "{}").await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    t.worker.drain().await;
    notify.wait_for(1).await;
    let url = notify.received()[0].json()["approve"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = url
        .strip_prefix(support::TEST_BASE_URL)
        .unwrap_or_default()
        .to_owned();
    let token = path
        .trim_start_matches("/callbacks/")
        .trim_end_matches("?decision=approve")
        .to_owned();
    assert!(token.len() >= 43, "{url}");
    let post = |path: &str| {
        Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"decision": "approve"}"#))
            .expect("request")
    };
    assert_eq!(t.get(&path, None).await.status, StatusCode::OK);
    assert_eq!(t.send(post(&path)).await.status, StatusCode::OK);
    assert_eq!(t.send(post(&path)).await.status, StatusCode::GONE);
    t.worker.drain().await;

    let text = logs.text();
    assert!(
        text.contains("/callbacks/{token}"),
        "no request lines captured:\n{text}"
    );
    assert!(
        text.contains("execution waiting"),
        "no worker lines captured"
    );
    assert!(!text.contains(&token), "the token appears in the logs");
}

/// The admin API's key and secret values (made, rotated, given, refused) never reach the logs.
#[test]
fn admin_key_and_secret_values_never_reach_the_logs() {
    in_own_process(
        "log_redaction::admin_key_and_secret_values_never_reach_the_logs",
        settings_changes_are_logged_without_values(),
    );
}

async fn admin_request(
    t: &support::TestApp,
    method: &str,
    uri: &str,
    admin_key: &str,
    body: serde_json::Value,
) -> support::Response {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("x-admin-key", admin_key)
        .body(Body::from(body.to_string()))
        .expect("request");
    t.send(request).await
}

async fn settings_changes_are_logged_without_values() {
    use serde_json::json;
    let (logs, _guard) = support::logs::capture_trace();
    let t = support::sqlite_app(support::test_config()).await;
    let admin_key = crate::admin::admin_key(&t).await;
    let created = admin_request(
        &t,
        "POST",
        "/admin/api-keys",
        &admin_key,
        json!({"name": "logged"}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let first = created.body["value"].as_str().expect("value").to_owned();
    let file = webhook_trigger::domain::WorkflowFile::parse(
        r#"{"name": "signed", "api_key": "logged", "verify": {"scheme": "github"}, "steps": [{"type": "echo"}]}"#,
    )
    .expect("workflow file");
    let wf = t
        .app
        .create_workflow(webhook_trigger::app::NewWorkflow::from(file))
        .await
        .expect("workflow");
    let rotated = admin_request(
        &t,
        "POST",
        "/admin/api-keys/logged/rotate",
        &admin_key,
        json!({}),
    )
    .await;
    let second = rotated.body["value"].as_str().expect("value").to_owned();
    let secret_uri = format!("/admin/workflows/{}/secret", wf.id);
    let set = admin_request(
        &t,
        "PUT",
        &secret_uri,
        &admin_key,
        json!({"generate": true}),
    )
    .await;
    let generated = set.body["value"].as_str().expect("generated").to_owned();
    let given = "provider-given-secret-value";
    let r = admin_request(
        &t,
        "POST",
        &format!("{secret_uri}/rotate"),
        &admin_key,
        json!({"value": given}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Refused: a third secret, a taken name; their messages must not quote a value either.
    let r = admin_request(
        &t,
        "POST",
        &format!("{secret_uri}/rotate"),
        &admin_key,
        json!({"value": "third-secret-value"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let r = admin_request(
        &t,
        "POST",
        "/admin/api-keys",
        &admin_key,
        json!({"name": "logged"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    t.post_webhook(wf.id.as_str(), Some(&first), "{}").await;

    let text = logs.text();
    assert!(
        text.contains("API key created") && text.contains("/admin/api-keys"),
        "no lines captured:\n{text}"
    );
    for secret in [
        admin_key.as_str(),
        &first,
        &second,
        &generated,
        given,
        "third-secret-value",
    ] {
        assert!(!text.contains(secret), "{secret:?} appears in the logs");
    }
}
