//! Hostile input, one row per case, against the router on each backend: every row is a clear
//! 4xx in the API's error shape, and the store and the queue are left as they were (no
//! execution listed, nothing for the worker). Rows that fail are all reported together.

use crate::support;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

use support::TestApp;
use webhook_trigger::domain::Step;

macro_rules! table_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            #[tokio::test]
            async fn hostile_requests_are_refused_and_change_nothing() {
                super::hostile_requests_are_refused_and_change_nothing(
                    $make(support::test_config()).await,
                )
                .await;
            }
        }
    };
}

table_for!(sqlite, support::sqlite_app);
table_for!(dynamodb, support::dynamodb_app);

/// How a row's request is sent: to the real workflow with its real key unless it says
/// otherwise.
struct Row {
    name: &'static str,
    method: Method,
    /// Relative to the workflow's webhook path unless it starts with `/`.
    path: String,
    /// `None`: the real key in the `x-api-key` header.
    key: Option<Vec<u8>>,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    status: StatusCode,
    code: &'static str,
}

fn row(name: &'static str, body: impl Into<Vec<u8>>, status: u16, code: &'static str) -> Row {
    Row {
        name,
        method: Method::POST,
        path: String::new(),
        key: None,
        headers: vec![("content-type", b"application/json".to_vec())],
        body: body.into(),
        status: StatusCode::from_u16(status).expect("status"),
        code,
    }
}

impl Row {
    fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }
    fn key(mut self, key: impl Into<Vec<u8>>) -> Self {
        self.key = Some(key.into());
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn method(mut self, method: &str) -> Self {
        self.method = Method::from_bytes(method.as_bytes()).expect("method");
        self
    }
}

fn rows(real_key: &str, workflow_id: &str) -> Vec<Row> {
    const MIB: usize = 1024 * 1024;
    let nested = "[".repeat(100_000);
    let mut prefix = real_key.to_owned();
    prefix.pop();
    vec![
        // Bodies.
        row("empty body", "", 400, "invalid_json"),
        row("whitespace body", " \r\n\t ", 400, "invalid_json"),
        row(
            "10 MiB body",
            vec![b' '; 10 * MIB],
            413,
            "payload_too_large",
        ),
        row("10 MiB declared", "{}", 413, "payload_too_large")
            .header("content-length", (10 * MIB).to_string()),
        row("100k nested [", nested, 400, "invalid_json"),
        row(
            "invalid UTF-8",
            b"{\"a\":\"\xff\xfe\"}".to_vec(),
            400,
            "invalid_json",
        ),
        row(
            "overlong UTF-8 '/'",
            b"\"\xc0\xaf\"".to_vec(),
            400,
            "invalid_json",
        ),
        row(
            "raw NUL in a string",
            b"{\"a\":\"\0\"}".to_vec(),
            400,
            "invalid_json",
        ),
        row("NUL alone", b"\0".to_vec(), 400, "invalid_json"),
        row("trailing garbage", r#"{"a":1} x"#, 400, "invalid_json"),
        row("two documents", r#"{"a":1}{"b":2}"#, 400, "invalid_json"),
        row("lone high surrogate", r#""\ud800""#, 400, "invalid_json"),
        row(
            "lone low surrogate in an object",
            r#"{"a":"\udc00"}"#,
            400,
            "invalid_json",
        ),
        row("NaN", r#"{"a":NaN}"#, 400, "invalid_json"),
        row("Infinity", r#"{"a":-Infinity}"#, 400, "invalid_json"),
        row("1e999999", r#"{"a":1e999999}"#, 400, "invalid_json"),
        row("-1e999999 alone", "-1e999999", 400, "invalid_json"),
        row(
            "UTF-16 JSON",
            b"\xff\xfe{\0}\0".to_vec(),
            400,
            "invalid_json",
        )
        .header("content-type", "application/json; charset=utf-16"),
        row("a form", "a=1", 415, "unsupported_media_type")
            .header("content-type", "application/x-www-form-urlencoded"),
        // Keys.
        row("no key", "{}", 401, "missing_api_key").key(""),
        row("1 MiB key", "{}", 401, "invalid_api_key").key(vec![b'k'; MIB]),
        // The http crate refuses URIs over 64 KiB, as hyper does on the wire.
        row("60 KiB key in the query", "{}", 401, "invalid_api_key")
            .path(format!("?x-api-key={}", "k".repeat(60_000)))
            .key(""),
        row("prefix of the key", "{}", 401, "invalid_api_key").key(prefix),
        row("extension of the key", "{}", 401, "invalid_api_key").key(format!("{real_key}x")),
        row("key with a NUL appended", "{}", 401, "invalid_api_key")
            .path(format!("?x-api-key={real_key}%00"))
            .key(""),
        row("key upper-cased", "{}", 401, "invalid_api_key").key(real_key.to_uppercase()),
        row("key as obs-text bytes", "{}", 401, "invalid_api_key").key(b"\xff\xfe".to_vec()),
        row(
            "bad percent-encoding in the query key",
            "{}",
            401,
            "invalid_api_key",
        )
        .path("?x-api-key=%ZZ%")
        .key(""),
        row("real key and a second one", "{}", 400, "ambiguous_api_key").path("?x-api-key=other"),
        // Paths.
        row("..", "{}", 404, "workflow_not_found").path("/webhooks/.."),
        row("%2e%2e", "{}", 404, "workflow_not_found").path("/webhooks/%2e%2e"),
        row("%2e%2e%2f escape", "{}", 404, "workflow_not_found").path("/webhooks/%2e%2e%2fhealth"),
        row("id then %00", "{}", 404, "workflow_not_found")
            .path(format!("/webhooks/{workflow_id}%00")),
        row("%00 alone", "{}", 404, "workflow_not_found").path("/webhooks/%00"),
        row("invalid UTF-8 in the id", "{}", 404, "not_found").path("/webhooks/%ff%fe"),
        row("60k-character id", "{}", 404, "workflow_not_found")
            .path(format!("/webhooks/wf_{}", "a".repeat(60_000))),
        row("id/../id", "{}", 404, "not_found")
            .path(format!("/webhooks/{workflow_id}/../{workflow_id}")),
        row("double slash", "{}", 404, "not_found").path(format!("/webhooks//{workflow_id}")),
        // Methods.
        row("GET on a webhook", "", 405, "method_not_allowed").method("GET"),
        row("PURGE", "{}", 405, "method_not_allowed").method("PURGE"),
        row("TRACE", "", 405, "method_not_allowed").method("TRACE"),
        row("lower-case post", "{}", 405, "method_not_allowed").method("post"),
        // Headers that try to smuggle something.
        row("Idempotency-Key with a tab", "{}", 400, "invalid_request")
            .header("idempotency-key", "a\tb"),
        row(
            "Idempotency-Key with obs-text",
            "{}",
            400,
            "invalid_request",
        )
        .header("idempotency-key", b"a\xffb".to_vec()),
        row("Idempotency-Key of 10k", "{}", 400, "invalid_request")
            .header("idempotency-key", "k".repeat(10_000)),
        row(
            "content type in bytes that are not text",
            "{}",
            415,
            "unsupported_media_type",
        )
        .header("content-type", b"application/json\xff".to_vec()),
        row(
            "SNS type header on a generic workflow",
            "{}",
            400,
            "wrong_trigger",
        )
        .header("x-amz-sns-message-type", "Notification"),
        row(
            "content type with a NUL-less injected type",
            "{}",
            415,
            "unsupported_media_type",
        )
        .header("content-type", "text/html; x=application/json"),
        row(
            "content-length that is not a number, body too big",
            vec![b' '; 300_000],
            413,
            "payload_too_large",
        )
        .header("content-length", "-1"),
    ]
}

async fn send_row(
    t: &TestApp,
    real_key: &str,
    workflow_path: &str,
    row: &Row,
) -> support::Response {
    let uri = if row.path.starts_with('/') {
        row.path.clone()
    } else {
        format!("{workflow_path}{}", row.path)
    };
    let mut request = Request::builder().method(row.method.clone()).uri(uri);
    // Later values replace earlier ones of the same name (the row's content type wins).
    let mut headers = axum::http::HeaderMap::new();
    for (name, value) in &row.headers {
        headers.insert(
            *name,
            axum::http::HeaderValue::from_bytes(value).expect("a header value the wire allows"),
        );
    }
    match &row.key {
        None => {
            headers.insert("x-api-key", real_key.parse().expect("key"));
        }
        Some(key) if key.is_empty() => {}
        Some(key) => {
            headers.insert(
                "x-api-key",
                axum::http::HeaderValue::from_bytes(key).expect("key bytes"),
            );
        }
    }
    if let Some(h) = request.headers_mut() {
        *h = headers;
    }
    t.send(request.body(Body::from(row.body.clone())).expect("request"))
        .await
}

async fn hostile_requests_are_refused_and_change_nothing(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let workflow_path = format!("/webhooks/{}", wf.id.as_str());
    let listing = format!("/workflows/{}/executions", wf.id.as_str());
    let mut failures = Vec::new();
    for row in rows(&key, wf.id.as_str()) {
        let r = send_row(&t, &key, &workflow_path, &row).await;
        let shaped = r.body["error"]["message"].is_string()
            && r.body.as_object().map(|o| o.len()) == Some(1);
        if (r.status, r.error_code()) != (row.status, row.code) || !shaped {
            failures.push(format!(
                "{}: expected {} {}, got {} {}",
                row.name, row.status, row.code, r.status, r.body
            ));
        }
        let listed = t.get(&listing, Some(&key)).await;
        let queued = t.worker.drain().await;
        if listed.body["items"] != serde_json::json!([]) || queued != 0 {
            failures.push(format!(
                "{}: the store changed: {} listed, {queued} queued",
                row.name, listed.body
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
