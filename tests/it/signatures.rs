//! Verified senders over HTTP, on every backend: signatures open a webhook URL in place of
//! (or beside) the API key, each failed check answers 401 with its own code, two secrets
//! overlap during a rotation, a signed delivery id deduplicates, and neither signing secrets
//! nor API keys reach an answer, a CLI document or a log line.

use crate::support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use aws_lc_rs::hmac;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use support::{Response, TestApp, assert_error};
use webhook_trigger::app::NewWorkflow;
use webhook_trigger::domain::{Workflow, WorkflowFile};

macro_rules! signature_flows_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            signature_flows_for!(@each $make;
                a_github_signature_opens_the_url_without_a_key,
                a_signed_slack_url_check_is_answered_with_its_challenge_and_starts_nothing,
                each_failed_check_has_its_own_code,
                stale_and_moved_timestamps_are_refused,
                both_mode_needs_the_key_and_the_signature,
                rotation_accepts_both_secrets_until_the_older_is_retired,
                a_signed_webhook_id_deduplicates_even_with_a_new_idempotency_key,
                reading_executions_still_needs_the_key,
                a_rotated_api_key_overlaps_then_retires_and_use_is_recorded,
                secrets_appear_in_no_answer,
            );
        }
    };
    (@each $make:path; $($flow:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $flow() {
                super::$flow($make(support::test_config()).await).await;
            }
        )*
    };
}

signature_flows_for!(sqlite, support::sqlite_app);
signature_flows_for!(dynamodb, support::dynamodb_app);

fn hmac_bytes(algorithm: hmac::Algorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(algorithm, key), data)
        .as_ref()
        .to_vec()
}

fn github_sig(secret: &str, body: &str) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_bytes(
            hmac::HMAC_SHA256,
            secret.as_bytes(),
            body.as_bytes()
        ))
    )
}

fn stripe_sig(secret: &str, t: i64, body: &str) -> String {
    let mac = hmac_bytes(
        hmac::HMAC_SHA256,
        secret.as_bytes(),
        format!("{t}.{body}").as_bytes(),
    );
    format!("t={t},v1={}", hex::encode(mac))
}

fn standard_sig(secret: &str, id: &str, t: i64, body: &str) -> String {
    let key = B64
        .decode(secret.trim_start_matches("whsec_"))
        .expect("whsec_ base64");
    let mac = hmac_bytes(
        hmac::HMAC_SHA256,
        &key,
        format!("{id}.{t}.{body}").as_bytes(),
    );
    format!("v1,{}", B64.encode(mac))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A key and a workflow from a workflow file with the given `auth` and `verify` lines;
/// returns (workflow, key value).
async fn signed_workflow(t: &TestApp, auth_and_verify: &str) -> (Workflow, String) {
    let name = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
    let created = t.app.create_api_key(&name).await.expect("create key");
    let text =
        format!("name: signed\napi_key: {name}\n{auth_and_verify}\nsteps:\n  - type: echo\n");
    let file = WorkflowFile::parse(&text).unwrap_or_else(|e| panic!("refused: {e}"));
    let workflow = t
        .app
        .create_workflow(NewWorkflow::from(file))
        .await
        .expect("create workflow");
    (workflow, created.secret.expose().to_owned())
}

async fn post(t: &TestApp, wf: &Workflow, headers: &[(&str, &str)], body: &str) -> Response {
    let mut request =
        Request::post(format!("/webhooks/{}", wf.id)).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    t.send(request.body(Body::from(body.to_owned())).expect("request"))
        .await
}

const GITHUB_SECRET: &str = "gh-secret-never-shown";

async fn a_github_signature_opens_the_url_without_a_key(t: TestApp) {
    let (wf, key) = signed_workflow(&t, "auth: signature\nverify: { scheme: github }").await;
    t.app
        .set_signing_secret(wf.id.as_str(), Some(GITHUB_SECRET.into()))
        .await
        .expect("set secret");
    // Whitespace and key order as sent: the signature covers these bytes, not a re-encoding.
    let body = "{ \"ref\":\"refs/heads/main\",  \"n\": 1.50 }";
    let sig = github_sig(GITHUB_SECRET, body);
    let r = post(&t, &wf, &[("x-hub-signature-256", &sig)], body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let done = t.execution(wf.id.as_str(), &r.execution_id(), &key).await;
    assert_eq!(done["payload"]["ref"], "refs/heads/main");
}

async fn a_signed_slack_url_check_is_answered_with_its_challenge_and_starts_nothing(t: TestApp) {
    let (wf, key) = signed_workflow(&t, "auth: signature\nverify: { scheme: slack }").await;
    let secret = "slack-signing-secret";
    t.app
        .set_signing_secret(wf.id.as_str(), Some(secret.into()))
        .await
        .expect("set secret");
    let body = r#"{"token":"t","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let ts = now().to_string();
    let slack_sig = |secret: &str, body: &str| {
        let mac = hmac_bytes(
            hmac::HMAC_SHA256,
            secret.as_bytes(),
            format!("v0:{ts}:{body}").as_bytes(),
        );
        format!("v0={}", hex::encode(mac))
    };
    let good = slack_sig(secret, body);
    let headers = [
        ("x-slack-request-timestamp", ts.as_str()),
        ("x-slack-signature", good.as_str()),
    ];
    let r = post(&t, &wf, &headers, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        serde_json::json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );
    // A forged check is refused like any unsigned request.
    let forged = slack_sig("not the secret", body);
    let r = post(
        &t,
        &wf,
        &[
            ("x-slack-request-timestamp", ts.as_str()),
            ("x-slack-signature", forged.as_str()),
        ],
        body,
    )
    .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_signature");
    let listed = t
        .get(&format!("/workflows/{}/executions", wf.id), Some(&key))
        .await;
    assert_eq!(listed.body["items"], serde_json::json!([]), "no execution");
}

async fn each_failed_check_has_its_own_code(t: TestApp) {
    let (wf, key) = signed_workflow(&t, "auth: signature\nverify: { scheme: github }").await;
    let body = r#"{"a":1}"#;
    let sig = github_sig(GITHUB_SECRET, body);
    // No secret set yet: nothing verifies.
    let r = post(&t, &wf, &[("x-hub-signature-256", &sig)], body).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_signature");

    t.app
        .set_signing_secret(wf.id.as_str(), Some(GITHUB_SECRET.into()))
        .await
        .expect("set secret");
    let r = post(&t, &wf, &[("x-api-key", &key)], body).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "missing_signature");
    assert!(
        r.error_message().contains("x-hub-signature-256"),
        "{}",
        r.body
    );
    let r = post(&t, &wf, &[("x-hub-signature-256", &sig)], r#"{"a":2}"#).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_signature");
    let other = github_sig("another secret", body);
    let r = post(&t, &wf, &[("x-hub-signature-256", &other)], body).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_signature");
    // The refusal never carries the signature that would have been right.
    assert!(!r.body.to_string().contains(&sig[7..]), "{}", r.body);
    let r = post(&t, &wf, &[("x-hub-signature-256", "sha256=zz")], body).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_signature");
    // Nothing refused was stored.
    let listed = t
        .get(&format!("/workflows/{}/executions", wf.id), Some(&key))
        .await;
    assert_eq!(listed.body["items"], json!([]), "{}", listed.body);
}

async fn stale_and_moved_timestamps_are_refused(t: TestApp) {
    let (wf, _) = signed_workflow(&t, "auth: signature\nverify: { scheme: stripe }").await;
    let secret = "whsec_stripe_test";
    t.app
        .set_signing_secret(wf.id.as_str(), Some(secret.into()))
        .await
        .expect("set secret");
    let body = r#"{"id":"evt_1"}"#;
    let fresh = stripe_sig(secret, now(), body);
    let r = post(&t, &wf, &[("stripe-signature", &fresh)], body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);

    let old = stripe_sig(secret, now() - 3600, body);
    let r = post(&t, &wf, &[("stripe-signature", &old)], body).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "stale_timestamp");

    // A timestamp changed after signing no longer matches the signature.
    let moved = fresh.replacen("t=", "t=1", 1);
    let r = post(&t, &wf, &[("stripe-signature", &moved)], body).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_signature");
}

async fn both_mode_needs_the_key_and_the_signature(t: TestApp) {
    let (wf, key) = signed_workflow(&t, "auth: both\nverify: { scheme: github }").await;
    t.app
        .set_signing_secret(wf.id.as_str(), Some(GITHUB_SECRET.into()))
        .await
        .expect("set secret");
    let body = r#"{"both":true}"#;
    let sig = github_sig(GITHUB_SECRET, body);
    let r = post(&t, &wf, &[("x-hub-signature-256", &sig)], body).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "missing_api_key");
    let r = post(&t, &wf, &[("x-api-key", &key)], body).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "missing_signature");
    let r = post(
        &t,
        &wf,
        &[("x-api-key", &key), ("x-hub-signature-256", &sig)],
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

async fn rotation_accepts_both_secrets_until_the_older_is_retired(t: TestApp) {
    let (wf, _) = signed_workflow(&t, "auth: signature\nverify: { scheme: github }").await;
    let id = wf.id.as_str();
    t.app
        .set_signing_secret(id, Some("old-secret".into()))
        .await
        .expect("set");
    let rotated = t.app.rotate_signing_secret(id, None).await.expect("rotate");
    let new = rotated.generated.expect("generated").expose().to_owned();
    assert_eq!(rotated.secrets.secrets.len(), 2);
    let body = r#"{"r":1}"#;
    for secret in ["old-secret", new.as_str()] {
        let sig = github_sig(secret, body);
        let r = post(&t, &wf, &[("x-hub-signature-256", &sig)], body).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{secret}: {}", r.body);
    }
    // A third would leave no secret to retire safely.
    let err = t
        .app
        .rotate_signing_secret(id, Some("third".into()))
        .await
        .err()
        .expect("refused");
    assert_eq!(err.code(), "conflict");

    t.app.retire_signing_secret(id).await.expect("retire");
    let r = post(
        &t,
        &wf,
        &[("x-hub-signature-256", &github_sig("old-secret", body))],
        body,
    )
    .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_signature");
    let r = post(
        &t,
        &wf,
        &[("x-hub-signature-256", &github_sig(&new, body))],
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

async fn a_signed_webhook_id_deduplicates_even_with_a_new_idempotency_key(t: TestApp) {
    let (wf, key) =
        signed_workflow(&t, "auth: signature\nverify: { scheme: standard_webhooks }").await;
    let set = t
        .app
        .set_signing_secret(wf.id.as_str(), None)
        .await
        .expect("set");
    let secret = set.generated.expect("generated").expose().to_owned();
    assert!(secret.starts_with("whsec_"));
    let body = r#"{"type":"invoice.paid"}"#;
    let ts = now();
    let sig = standard_sig(&secret, "msg_1", ts, body);
    let ts = ts.to_string();
    let headers = |idem: &'static str| {
        vec![
            ("webhook-id", "msg_1"),
            ("webhook-timestamp", ts.as_str()),
            ("webhook-signature", sig.as_str()),
            ("idempotency-key", idem),
        ]
    };
    let first = post(&t, &wf, &headers("a"), body).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{}", first.body);
    let again = post(&t, &wf, &headers("b"), body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(again.execution_id(), first.execution_id());
    let stored = t
        .execution(wf.id.as_str(), &first.execution_id(), &key)
        .await;
    assert_eq!(stored["trigger"]["idempotencyKey"], "msg_1", "{stored}");
}

async fn reading_executions_still_needs_the_key(t: TestApp) {
    let (wf, key) = signed_workflow(&t, "auth: signature\nverify: { scheme: github }").await;
    let r = t
        .get(&format!("/workflows/{}/executions", wf.id), None)
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "missing_api_key");
    let r = t
        .get(&format!("/workflows/{}/executions", wf.id), Some(&key))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn a_rotated_api_key_overlaps_then_retires_and_use_is_recorded(t: TestApp) {
    let (wf, old) = t.workflow_with_key(vec![]).await;
    let name = wf.api_key_name.to_string();
    let listed = t.app.list_api_keys_with_usage().await.expect("list");
    let before = listed
        .iter()
        .find(|k| k.key.name.as_str() == name)
        .expect("key");
    assert_eq!(before.last_used_at, None);

    let rotated = t.app.rotate_api_key(&name, None).await.expect("rotate");
    let new = rotated.secret.expose().to_owned();
    for value in [&old, &new] {
        let r = t.post_webhook(wf.id.as_str(), Some(value), "{}").await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    }
    let listed = t.app.list_api_keys_with_usage().await.expect("list");
    let used = listed
        .iter()
        .find(|k| k.key.name.as_str() == name)
        .expect("key");
    assert!(used.last_used_at.is_some());

    t.app.retire_api_key(&name).await.expect("retire");
    let r = t.post_webhook(wf.id.as_str(), Some(&old), "{}").await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_api_key");
    let r = t.post_webhook(wf.id.as_str(), Some(&new), "{}").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

async fn secrets_appear_in_no_answer(t: TestApp) {
    let (wf, key) = signed_workflow(&t, "auth: signature\nverify: { scheme: github }").await;
    t.app
        .set_signing_secret(wf.id.as_str(), Some(GITHUB_SECRET.into()))
        .await
        .expect("set");
    let body = r#"{"x":1}"#;
    let sig = github_sig(GITHUB_SECRET, body);
    let accepted = post(&t, &wf, &[("x-hub-signature-256", &sig)], body).await;
    let refused = post(&t, &wf, &[("x-hub-signature-256", "sha256=00")], body).await;
    let execution = t
        .execution(wf.id.as_str(), &accepted.execution_id(), &key)
        .await;
    let listed = t
        .get(&format!("/workflows/{}/executions", wf.id), Some(&key))
        .await;
    for doc in [&accepted.body, &refused.body, &execution, &listed.body] {
        assert!(!doc.to_string().contains(GITHUB_SECRET), "{doc}");
    }
}

// --- The CLI ---

const BIN: &str = env!("CARGO_BIN_EXE_webhook-trigger");

fn run(db: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(["--store", db.to_str().expect("utf-8 path")])
        .args(args)
        .env_remove("WEBHOOK_STORE")
        .env_remove("WEBHOOK_BASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cli");
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(stdin.unwrap_or_default().as_bytes())
            .expect("stdin");
    }
    child.wait_with_output().expect("cli output")
}

/// Runs with `--json`, expects success, checks field names are camelCase, and returns the
/// document with its raw text.
fn json(db: &Path, args: &[&str], stdin: Option<&str>) -> (Value, String) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = run(db, &all, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(
        webhook_trigger::wire::non_camel_case_keys(&doc, &["/steps", "/*/steps"]),
        Vec::<String>::new(),
        "{args:?}: {doc}"
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (doc, text)
}

#[test]
fn the_cli_sets_rotates_and_retires_secrets_and_shows_only_fingerprints() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    json(&db, &["api-keys", "create", "ops"], None);
    let file = dir.path().join("wf.yaml");
    std::fs::write(
        &file,
        "name: Stripe\napi_key: ops\nauth: signature\nverify:\n  scheme: stripe\n  tolerance_seconds: 120\n",
    )
    .expect("write");
    let (wf, _) = json(
        &db,
        &[
            "workflows",
            "create",
            "--file",
            file.to_str().expect("path"),
        ],
        None,
    );
    let id = wf["id"].as_str().expect("id").to_owned();
    assert_eq!(wf["auth"], "signature");
    assert_eq!(wf["verify"]["toleranceSeconds"], 120);

    let first = "whsec_first_value_from_stripe";
    let (set, text) = json(
        &db,
        &["workflows", "secret", "set", &id],
        Some(&format!("{first}\n")),
    );
    assert!(!text.contains(first), "the value was printed: {text}");
    assert_eq!(set["value"], Value::Null);
    let fingerprint = set["secrets"][0]["fingerprint"]
        .as_str()
        .expect("fp")
        .to_owned();
    assert_eq!(fingerprint.len(), 8);

    let (rotated, text) = json(
        &db,
        &["workflows", "secret", "rotate", &id, "--generate"],
        None,
    );
    let generated = rotated["value"].as_str().expect("shown once").to_owned();
    assert!(!text.contains(first));
    assert_eq!(rotated["secrets"].as_array().expect("list").len(), 2);

    let (shown, text) = json(&db, &["workflows", "show", &id], None);
    assert!(
        !text.contains(first) && !text.contains(&generated),
        "{text}"
    );
    let fps: Vec<&str> = shown["verify"]["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .map(|s| s["fingerprint"].as_str().expect("fp"))
        .collect();
    assert_eq!(fps[0], fingerprint);
    assert_eq!(fps.len(), 2);
    for args in [
        &["workflows", "list"][..],
        &["--json", "workflows", "show", &id][..],
    ] {
        let out = run(&db, args, None);
        let all = String::from_utf8_lossy(&out.stdout);
        assert!(!all.contains(first) && !all.contains(&generated), "{all}");
    }
    let plain = run(&db, &["workflows", "show", &id], None);
    assert!(String::from_utf8_lossy(&plain.stdout).contains(&fingerprint));

    let (retired, _) = json(&db, &["workflows", "secret", "retire", &id], None);
    assert_eq!(retired["secrets"].as_array().expect("list").len(), 1);
    assert_ne!(retired["secrets"][0]["fingerprint"], fingerprint.as_str());

    // No value on stdin and no --generate: refused, nothing changed.
    let out = run(
        &db,
        &["--json", "workflows", "secret", "set", &id],
        Some(""),
    );
    assert!(!out.status.success());
    let err: Value = serde_json::from_slice(&out.stderr).expect("json error");
    assert_eq!(err["error"]["code"], "invalid_request");
    // A retire with one secret left is a conflict.
    let out = run(&db, &["--json", "workflows", "secret", "retire", &id], None);
    let err: Value = serde_json::from_slice(&out.stderr).expect("json error");
    assert_eq!(err["error"]["code"], "conflict");
}

#[test]
fn the_cli_rotates_and_retires_api_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let (created, _) = json(&db, &["api-keys", "create", "ops"], None);
    let old = created["value"].as_str().expect("value").to_owned();
    let (rotated, _) = json(
        &db,
        &["api-keys", "rotate", "ops", "--retire-after", "24h"],
        None,
    );
    let new = rotated["value"].as_str().expect("value").to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated["previous"]["prefix"], &old[..8]);
    assert!(rotated["previous"]["retireAt"].is_string());

    let (listed, text) = json(&db, &["api-keys", "list"], None);
    assert!(!text.contains(&old) && !text.contains(&new), "{text}");
    assert_eq!(listed[0]["previous"]["prefix"], &old[..8]);

    let out = run(&db, &["--json", "api-keys", "rotate", "ops"], None);
    let err: Value = serde_json::from_slice(&out.stderr).expect("json error");
    assert_eq!(err["error"]["code"], "conflict", "{err}");

    let (retired, _) = json(&db, &["api-keys", "retire", "ops"], None);
    assert_eq!(retired.get("previous"), None);
    assert!(!retired.to_string().contains(&new));
}

// --- The logs ---

/// Alone in its own process, so that every log line reaches this test's subscriber.
#[test]
fn signing_secrets_and_rotated_keys_never_reach_the_logs() {
    support::child_process::run_in_own_process(
        "signatures::signing_secrets_and_rotated_keys_never_reach_the_logs",
        &[],
        || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(signed_requests_are_logged_without_secrets())
        },
    );
}

async fn signed_requests_are_logged_without_secrets() {
    let (logs, _guard) = support::logs::capture_trace();

    let t = support::sqlite_app(support::test_config()).await;
    let (wf, key) = signed_workflow(&t, "auth: both\nverify: { scheme: github }").await;
    t.app
        .set_signing_secret(wf.id.as_str(), Some(GITHUB_SECRET.into()))
        .await
        .expect("set");
    let unset = signed_workflow(&t, "auth: signature\nverify: { scheme: slack }").await;
    let rotated = t
        .app
        .rotate_api_key(wf.api_key_name.as_str(), None)
        .await
        .expect("rotate");
    let new_key = rotated.secret.expose().to_owned();
    let body = r#"{"x":1}"#;
    let sig = github_sig(GITHUB_SECRET, body);
    let cases: [(&[(&str, &str)], StatusCode); 4] = [
        (
            &[("x-api-key", &key), ("x-hub-signature-256", &sig)],
            StatusCode::ACCEPTED,
        ),
        (
            &[
                ("x-api-key", &new_key),
                ("x-hub-signature-256", "sha256=00"),
            ],
            StatusCode::UNAUTHORIZED,
        ),
        (&[("x-api-key", &new_key)], StatusCode::UNAUTHORIZED),
        (
            &[("x-api-key", "whk_wrong"), ("x-hub-signature-256", &sig)],
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (headers, expected) in cases {
        assert_eq!(post(&t, &wf, headers, body).await.status, expected);
    }
    // A workflow with no secret yet: the operator is told in the log, the caller gets 401.
    let r = post(
        &t,
        &unset.0,
        &[
            ("x-slack-signature", "v0=00"),
            ("x-slack-request-timestamp", "1"),
        ],
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    t.worker.drain().await;

    let text = logs.text();
    assert!(
        text.contains("invalid_signature"),
        "no refusal logged:\n{text}"
    );
    assert!(
        text.contains("no signing secret"),
        "no operator warning:\n{text}"
    );
    for secret in [GITHUB_SECRET, key.as_str(), new_key.as_str()] {
        assert!(!text.contains(secret), "{secret:?} appears in the logs");
    }
}

/// `scripts/sign-webhook.sh` (what the README tells users to test with) signs the way the
/// verifier checks, for every scheme it knows.
#[test]
fn the_signing_script_signs_what_the_verifier_accepts() {
    use webhook_trigger::domain::signature::{
        Scheme, SecretValue, SigningSecret, VerifyOptions, verify,
    };
    let dir = tempfile::tempdir().expect("dir");
    let body_file = dir.path().join("body.json");
    let body = "{\"event\": \"order\", \"n\": 1.50}\n";
    std::fs::write(&body_file, body).expect("write");
    let whsec = format!("whsec_{}", B64.encode(b"standard-webhooks-key-bytes"));
    for (scheme, name, secret) in [
        (Scheme::Github, "github", "gh-secret"),
        (Scheme::Stripe, "stripe", "whsec_stripe_style_secret"),
        (Scheme::Slack, "slack", "slack-secret"),
        (Scheme::Shopify, "shopify", "shopify-secret"),
        (
            Scheme::StandardWebhooks,
            "standard_webhooks",
            whsec.as_str(),
        ),
    ] {
        let out = std::process::Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/sign-webhook.sh"
            ))
            .args([name, "http://127.0.0.1:9/unused"])
            .arg(&body_file)
            .env("SECRET", secret)
            .env("PRINT", "1")
            .output()
            .expect("run sign-webhook.sh (needs bash, openssl, xxd, base64)");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8_lossy(&out.stdout).into_owned();
        let headers: Vec<(String, String)> = printed
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let lookup = |wanted: &str| {
            headers
                .iter()
                .find(|(n, _)| n == wanted)
                .map(|(_, v)| v.as_str())
        };
        let secrets = [SigningSecret::new(
            SecretValue::new(secret.to_owned()),
            chrono::Utc::now(),
        )];
        let result = verify(
            &VerifyOptions::preset(scheme),
            &secrets,
            lookup,
            body.as_bytes(),
            now(),
        );
        assert!(result.is_ok(), "{name}: {result:?} for {printed}");
    }
}
