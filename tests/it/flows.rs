//! The service's behaviour over HTTP, written once and run on every backend.

use crate::support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use std::sync::atomic::Ordering;

use support::{TestApp, assert_error};
use webhook_trigger::domain::step::FailStep;
use webhook_trigger::domain::{ExecutionId, SnsOptions, Step, Trigger};
use webhook_trigger::ports::WorkItem;

macro_rules! flows_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            flows_for!(@each $make;
                health_answers_ok,
                webhook_with_header_key_is_queued_then_run,
                api_documents_are_camel_case_outside_user_data,
                webhook_with_query_key_is_accepted,
                missing_key_is_401,
                wrong_key_is_401,
                revoked_key_is_401,
                unknown_workflow_is_404,
                disabled_workflow_is_404_and_enabling_restores_it,
                malformed_json_is_400_with_a_reason_and_writes_nothing,
                oversized_body_is_413_and_writes_nothing,
                form_content_type_is_415,
                text_plain_json_is_accepted,
                same_idempotency_key_returns_the_same_execution,
                executions_are_listed_newest_first_in_pages,
                executions_can_be_filtered_by_status,
                bad_listing_parameters_are_400,
                execution_of_another_workflow_is_not_readable,
                unknown_execution_is_404,
                failing_step_records_failure,
                redelivered_message_does_not_run_twice,
                replay_runs_the_payload_again,
                sns_delivery_to_a_generic_workflow_is_400,
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

flows_for!(sqlite, support::sqlite_app);
flows_for!(dynamodb, support::dynamodb_app);

/// A queue send that fails on its own exists only where the queue is a separate service: on
/// SQLite the queue row is written in the execution's own transaction (see `faults.rs`).
mod dynamodb_two_step {
    use super::*;

    #[tokio::test]
    async fn queue_failure_is_503_and_a_retry_dispatches_the_same_execution() {
        // A retry re-sends at once here; `faults.rs` covers the default wait and the sweeper.
        let config = webhook_trigger::config::Config {
            resend_after: std::time::Duration::ZERO,
            ..support::test_config()
        };
        super::queue_failure_is_503_and_a_retry_dispatches_the_same_execution(
            support::dynamodb_app(config).await,
        )
        .await;
    }

    #[tokio::test]
    async fn queue_failure_without_idempotency_key_leaves_no_queued_execution() {
        super::queue_failure_without_idempotency_key_leaves_no_queued_execution(
            support::dynamodb_app(support::test_config()).await,
        )
        .await;
    }
}

async fn listed_ids(t: &TestApp, workflow_id: &str, key: &str, query: &str) -> Vec<String> {
    let r = t
        .get(
            &format!("/workflows/{workflow_id}/executions{query}"),
            Some(key),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn health_answers_ok(t: TestApp) {
    let r = t.get("/health", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"status": "ok"}));
}

async fn webhook_with_header_key_is_queued_then_run(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let r = t
        .post_webhook(wf.id.as_str(), Some(&key), r#"{"order": 42}"#)
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(r.body["status"], "queued");
    let id = r.execution_id();

    let queued = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["payload"], json!({"order": 42}));
    assert_eq!(queued["trigger"]["type"], "generic_webhook");

    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["steps"][0]["output"], json!({"order": 42}));
    assert_eq!(done["steps"][0]["status"], "succeeded");
    assert_eq!(
        done["result"],
        json!({"outcome": "completed", "output": {"order": 42}})
    );
    assert!(done["finishedAt"].is_string());
}

async fn api_documents_are_camel_case_outside_user_data(t: TestApp) {
    use webhook_trigger::wire::non_camel_case_keys;
    let user_data = [
        "/payload",
        "/items/*/payload",
        "/trigger/headers",
        "/trigger/query",
        "/items/*/trigger/headers",
        "/items/*/trigger/query",
        "/result/output",
        "/items/*/result/output",
        "/steps/*/output",
        "/items/*/steps/*/output",
    ];
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let request = Request::post(format!("/webhooks/{}?snake_param=1", wf.id))
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .header("X-Snake_Header", "kept as sent")
        .body(Body::from(r#"{"user_field": {"Nested_Key": 1}}"#))
        .expect("request");
    let accepted = t.send(request).await;
    let id = accepted.execution_id();
    t.worker.drain().await;
    let documents = [
        accepted.body,
        t.execution(wf.id.as_str(), &id, &key).await,
        t.get(&format!("/workflows/{}/executions", wf.id), Some(&key))
            .await
            .body,
        t.get(
            &format!("/workflows/{}/executions?limit=nope", wf.id),
            Some(&key),
        )
        .await
        .body,
    ];
    for doc in &documents {
        assert_eq!(
            non_camel_case_keys(doc, &user_data),
            Vec::<String>::new(),
            "{doc}"
        );
    }
    let shown = &documents[1];
    assert_eq!(
        shown["trigger"]["headers"]["x-snake_header"],
        "kept as sent"
    );
    assert_eq!(shown["trigger"]["query"]["snake_param"], "1");
    assert!(shown["trigger"]["query"].get("x-api-key").is_none());
    assert!(!shown.to_string().contains(&key), "the key is never stored");
}

async fn webhook_with_query_key_is_accepted(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    let request = Request::post(format!("/webhooks/{}?x-api-key={key}", wf.id))
        .header("content-type", "application/json")
        .body(Body::from("{}"))
        .expect("request");
    let r = t.send(request).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
}

async fn missing_key_is_401(t: TestApp) {
    let (wf, _) = t.workflow_with_key(vec![]).await;
    let r = t.post_webhook(wf.id.as_str(), None, "{}").await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "missing_api_key");
}

async fn wrong_key_is_401(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    let (_, other_key) = t.workflow_with_key(vec![]).await;
    for bad in [format!("{key}x"), other_key] {
        let r = t.post_webhook(wf.id.as_str(), Some(&bad), "{}").await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "invalid_api_key");
        assert!(
            !r.body.to_string().contains(&bad),
            "the key must not be echoed back"
        );
    }
}

async fn revoked_key_is_401(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    assert_eq!(
        t.post_webhook(wf.id.as_str(), Some(&key), "{}")
            .await
            .status,
        StatusCode::ACCEPTED
    );
    t.app
        .revoke_api_key(wf.api_key_name.as_str())
        .await
        .expect("revoke");
    let r = t.post_webhook(wf.id.as_str(), Some(&key), "{}").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn unknown_workflow_is_404(t: TestApp) {
    let (_, key) = t.workflow_with_key(vec![]).await;
    for id in ["wf_doesnotexist", "bad%20id"] {
        let r = t.post_webhook(id, Some(&key), "{}").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}");
        assert_eq!(r.error_code(), "workflow_not_found");
    }
}

async fn disabled_workflow_is_404_and_enabling_restores_it(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    t.app
        .set_workflow_enabled(wf.id.as_str(), false)
        .await
        .expect("disable");
    assert_eq!(
        t.post_webhook(wf.id.as_str(), Some(&key), "{}")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    t.app
        .set_workflow_enabled(wf.id.as_str(), true)
        .await
        .expect("enable");
    assert_eq!(
        t.post_webhook(wf.id.as_str(), Some(&key), "{}")
            .await
            .status,
        StatusCode::ACCEPTED
    );
}

async fn malformed_json_is_400_with_a_reason_and_writes_nothing(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    let r = t
        .post_webhook(wf.id.as_str(), Some(&key), r#"{"order": 42"#)
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_json");
    assert!(r.error_message().contains("line 1"), "{:?}", r.body);
    assert!(listed_ids(&t, wf.id.as_str(), &key, "").await.is_empty());
    assert_eq!(t.worker.drain().await, 0, "nothing reaches the queue");
}

async fn oversized_body_is_413_and_writes_nothing(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    let big = format!(
        r#"{{"blob":"{}"}}"#,
        "x".repeat(t.app.config().body_limit_bytes)
    );
    let r = t.post_webhook(wf.id.as_str(), Some(&key), &big).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(listed_ids(&t, wf.id.as_str(), &key, "").await.is_empty());
}

async fn form_content_type_is_415(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    let request = Request::post(format!("/webhooks/{}", wf.id))
        .header("x-api-key", &key)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("a=1"))
        .expect("request");
    let r = t.send(request).await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

async fn text_plain_json_is_accepted(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    let request = Request::post(format!("/webhooks/{}", wf.id))
        .header("x-api-key", &key)
        .header("content-type", "text/plain; charset=UTF-8")
        .body(Body::from("[1,2]"))
        .expect("request");
    assert_eq!(t.send(request).await.status, StatusCode::ACCEPTED);
}

async fn post_with_idempotency_key(
    t: &TestApp,
    wf: &str,
    key: &str,
    idem: &str,
    body: &str,
) -> support::Response {
    let request = Request::post(format!("/webhooks/{wf}"))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .header("idempotency-key", idem)
        .body(Body::from(body.to_owned()))
        .expect("request");
    t.send(request).await
}

async fn same_idempotency_key_returns_the_same_execution(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    let first = post_with_idempotency_key(&t, wf.id.as_str(), &key, "order-1", r#"{"n":1}"#).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let second = post_with_idempotency_key(&t, wf.id.as_str(), &key, "order-1", r#"{"n":1}"#).await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body["executionId"], first.body["executionId"]);
    assert_eq!(second.body["duplicate"], true);
    let other = post_with_idempotency_key(&t, wf.id.as_str(), &key, "order-2", r#"{"n":2}"#).await;
    assert_ne!(other.body["executionId"], first.body["executionId"]);
    assert_eq!(listed_ids(&t, wf.id.as_str(), &key, "").await.len(), 2);
}

async fn queue_failure_is_503_and_a_retry_dispatches_the_same_execution(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    t.queue_down.store(true, Ordering::SeqCst);
    let failed =
        post_with_idempotency_key(&t, wf.id.as_str(), &key, "retry-me", r#"{"n":1}"#).await;
    assert_error(
        &failed,
        StatusCode::SERVICE_UNAVAILABLE,
        "queue_unavailable",
    );
    assert!(failed.headers.get("retry-after").is_some());
    assert_eq!(t.worker.drain().await, 0);

    t.queue_down.store(false, Ordering::SeqCst);
    let retried =
        post_with_idempotency_key(&t, wf.id.as_str(), &key, "retry-me", r#"{"n":1}"#).await;
    assert_eq!(retried.status, StatusCode::OK);
    assert_eq!(retried.body["status"], "queued");
    let ids = listed_ids(&t, wf.id.as_str(), &key, "").await;
    assert_eq!(ids.len(), 1, "the retry must not create a second execution");
    assert_eq!(t.worker.drain().await, 1);
    assert_eq!(
        t.execution(wf.id.as_str(), &ids[0], &key).await["status"],
        "succeeded"
    );
}

async fn queue_failure_without_idempotency_key_leaves_no_queued_execution(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    t.queue_down.store(true, Ordering::SeqCst);
    let r = t.post_webhook(wf.id.as_str(), Some(&key), "{}").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        listed_ids(&t, wf.id.as_str(), &key, "?status=queued")
            .await
            .is_empty()
    );
    assert_eq!(
        listed_ids(&t, wf.id.as_str(), &key, "?status=failed")
            .await
            .len(),
        1
    );
}

async fn executions_are_listed_newest_first_in_pages(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    let mut created = Vec::new();
    for n in 0..5 {
        let r = t
            .post_webhook(wf.id.as_str(), Some(&key), &format!(r#"{{"n":{n}}}"#))
            .await;
        created.push(r.execution_id());
        // ULIDs made in one millisecond are not ordered; real webhooks are further apart.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    created.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=2&cursor={c}"),
            None => "?limit=2".into(),
        };
        let r = t
            .get(
                &format!("/workflows/{}/executions{query}", wf.id),
                Some(&key),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        pages += 1;
        for item in r.body["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_owned());
        }
        match r.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, created);
}

async fn executions_can_be_filtered_by_status(t: TestApp) {
    let (ok_wf, key) = t.workflow_with_key(vec![]).await;
    t.post_webhook(ok_wf.id.as_str(), Some(&key), "{}").await;
    t.worker.drain().await;
    t.post_webhook(ok_wf.id.as_str(), Some(&key), "{}").await;
    assert_eq!(
        listed_ids(&t, ok_wf.id.as_str(), &key, "?status=queued")
            .await
            .len(),
        1
    );
    assert_eq!(
        listed_ids(&t, ok_wf.id.as_str(), &key, "?status=succeeded")
            .await
            .len(),
        1
    );
    assert!(
        listed_ids(&t, ok_wf.id.as_str(), &key, "?status=failed")
            .await
            .is_empty()
    );
}

async fn bad_listing_parameters_are_400(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    for query in [
        "?status=done",
        "?limit=0",
        "?limit=1000",
        "?cursor=%21%21",
        "?limit=1&limit=2",
    ] {
        let r = t
            .get(
                &format!("/workflows/{}/executions{query}", wf.id),
                Some(&key),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(r.error_code(), "invalid_request");
    }
}

async fn execution_of_another_workflow_is_not_readable(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    let (other, other_key) = t.workflow_with_key(vec![]).await;
    let id = t
        .post_webhook(wf.id.as_str(), Some(&key), "{}")
        .await
        .execution_id();
    let r = t
        .get(
            &format!("/workflows/{}/executions/{id}", wf.id),
            Some(&other_key),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = t
        .get(
            &format!("/workflows/{}/executions/{id}", other.id),
            Some(&other_key),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn unknown_execution_is_404(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![]).await;
    for id in ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "nope"] {
        let r = t
            .get(&format!("/workflows/{}/executions/{id}", wf.id), Some(&key))
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "execution_not_found");
    }
}

async fn failing_step_records_failure(t: TestApp) {
    let (wf, key) = t
        .workflow_with_key(vec![
            Step::Echo,
            Step::Fail(FailStep {
                message: "card declined".into(),
            }),
        ])
        .await;
    let id = t
        .post_webhook(wf.id.as_str(), Some(&key), "{}")
        .await
        .execution_id();
    t.worker.drain().await;
    let e = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(e["status"], "failed");
    assert_eq!(e["error"], "step \"step2\" (fail) failed: card declined");
    assert_eq!(e["steps"][0]["status"], "succeeded");
    assert_eq!(e["steps"][1]["status"], "failed");
    assert_eq!(e["steps"][1]["error"], "card declined");
}

async fn redelivered_message_does_not_run_twice(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let id = t
        .post_webhook(wf.id.as_str(), Some(&key), "{}")
        .await
        .execution_id();
    t.worker.drain().await;
    let first = t.execution(wf.id.as_str(), &id, &key).await;
    // The queue delivers the same message again, as SQS may.
    let item = WorkItem {
        workflow_id: wf.id.clone(),
        execution_id: ExecutionId::parse(&id).expect("id"),
    };
    t.app.queue().enqueue(&item).await.expect("enqueue");
    assert_eq!(t.worker.drain().await, 1);
    let second = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(second["attempts"], 1);
    assert_eq!(second["finishedAt"], first["finishedAt"]);
}

async fn replay_runs_the_payload_again(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let id = t
        .post_webhook(wf.id.as_str(), Some(&key), r#"{"again":true}"#)
        .await
        .execution_id();
    t.worker.drain().await;
    let replay = t
        .app
        .replay_execution(wf.id.as_str(), &id, Default::default())
        .await
        .expect("replay");
    t.worker.drain().await;
    let e = t
        .execution(wf.id.as_str(), &replay.execution_id.to_string(), &key)
        .await;
    assert_eq!(e["status"], "succeeded");
    assert_eq!(e["payload"], json!({"again": true}));
    assert_eq!(e["trigger"], json!({"type": "replay", "replayOf": id}));
}

async fn sns_delivery_to_a_generic_workflow_is_400(t: TestApp) {
    let (wf, key) = t
        .workflow_with(Trigger::GenericWebhook, vec![], SnsOptions::default())
        .await;
    let request = Request::post(format!("/webhooks/{}?x-api-key={key}", wf.id))
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", "Notification")
        .body(Body::from(r#"{"Type":"Notification"}"#))
        .expect("request");
    let r = t.send(request).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "wrong_trigger");
    assert!(r.error_message().contains("amazon_sns"));
}
