//! The Amazon SNS trigger end to end: a test SNS peer on loopback signs messages and serves
//! its certificate and the ConfirmSubscription endpoint; the real verifier fetches from it
//! through the endpoint override. Every flow runs on every backend.

use crate::support;
use crate::support::sns_peer;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use sns_peer::{SigV, SnsPeer, TOPIC_ARN};
use support::{TestApp, assert_error};
use webhook_trigger::config::Config;
use webhook_trigger::domain::{SnsOptions, Step, SubscriptionState, Trigger, Workflow};

macro_rules! sns_flows_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            sns_flows_for!(@each $make;
                subscription_confirmation_is_verified_confirmed_and_recorded,
                a_repeated_confirmation_is_harmless,
                notification_starts_one_execution_and_a_redelivery_does_not_start_another,
                a_message_that_is_not_json_is_kept_as_text,
                sns_notification_with_tampered_subject_is_rejected_and_writes_nothing,
                sns_notification_signed_by_another_key_is_rejected,
                unsubscribe_confirmation_is_recorded_without_fetching,
                a_topic_the_workflow_does_not_allow_is_403,
                signature_v1_is_403_when_the_workflow_requires_v2,
                raw_message_delivery_is_refused_with_advice,
                a_plain_post_to_an_sns_workflow_is_400,
                a_failed_confirmation_fetch_is_502_and_records_nothing,
                a_wrong_key_is_401_before_anything_is_fetched,
                a_message_is_checked_against_the_payload_schema_as_trigger_body_sees_it,
            );
        }
    };
    (@each $make:path; $($flow:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $flow() {
                let peer = SnsPeer::start().await;
                let config = Config { sns_endpoint: Some(peer.endpoint()), ..support::test_config() };
                super::$flow($make(config).await, peer).await;
            }
        )*
    };
}

sns_flows_for!(sqlite, support::sqlite_app);
sns_flows_for!(dynamodb, support::dynamodb_app);

async fn sns_workflow(t: &TestApp, sns: SnsOptions) -> (Workflow, String) {
    t.workflow_with(Trigger::AmazonSns, vec![Step::Echo], sns)
        .await
}

/// What SNS sends: the key in the query string, `text/plain`, the message type header.
async fn deliver(t: &TestApp, workflow: &Workflow, key: &str, body: &str) -> support::Response {
    let message_type = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["Type"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let request = Request::post(format!("/webhooks/{}?x-api-key={key}", workflow.id))
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", message_type)
        .header("x-amz-sns-topic-arn", TOPIC_ARN)
        .body(Body::from(body.to_owned()))
        .expect("request");
    t.send(request).await
}

async fn execution_count(t: &TestApp, workflow: &Workflow, key: &str) -> usize {
    let r = t
        .get(&format!("/workflows/{}/executions", workflow.id), Some(key))
        .await;
    r.body["items"].as_array().map_or(0, Vec::len)
}

async fn subscription_confirmation_is_verified_confirmed_and_recorded(t: TestApp, peer: SnsPeer) {
    let (wf, key) = sns_workflow(&t, SnsOptions::default()).await;
    let r = deliver(
        &t,
        &wf,
        &key,
        &peer.subscription_confirmation(SigV::V1).body(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "subscription_confirmed");
    assert_eq!(r.body["subscriptionArn"], peer.subscription_arn());
    assert_eq!(peer.confirmations(), 1);
    let subs = t
        .app
        .list_subscriptions(wf.id.as_str())
        .await
        .expect("subscriptions");
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].topic_arn, TOPIC_ARN);
    assert_eq!(subs[0].state, SubscriptionState::Confirmed);
    assert_eq!(
        subs[0].subscription_arn.as_deref(),
        Some(peer.subscription_arn().as_str())
    );
    // The console's trigger panel reads the same record through the admin API.
    let admin = crate::admin::admin_key(&t).await;
    let listed = t
        .send(
            axum::http::Request::get(format!("/admin/workflows/{}/subscriptions", wf.id))
                .header("x-admin-key", admin)
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    assert_eq!(listed.body[0]["topicArn"], TOPIC_ARN);
    assert_eq!(listed.body[0]["state"], "confirmed");
    let anonymous = t
        .get(&format!("/admin/workflows/{}/subscriptions", wf.id), None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        execution_count(&t, &wf, &key).await,
        0,
        "a confirmation is not an execution"
    );
}

async fn a_repeated_confirmation_is_harmless(t: TestApp, peer: SnsPeer) {
    let (wf, key) = sns_workflow(&t, SnsOptions::default()).await;
    let body = peer.subscription_confirmation(SigV::V2).body();
    assert_eq!(deliver(&t, &wf, &key, &body).await.status, StatusCode::OK);
    assert_eq!(deliver(&t, &wf, &key, &body).await.status, StatusCode::OK);
    assert_eq!(
        t.app
            .list_subscriptions(wf.id.as_str())
            .await
            .expect("subs")
            .len(),
        1
    );
}

async fn notification_starts_one_execution_and_a_redelivery_does_not_start_another(
    t: TestApp,
    peer: SnsPeer,
) {
    let (wf, key) = sns_workflow(&t, SnsOptions::default()).await;
    let attributes = json!({"priority": {"Type": "String", "Value": "high"}});
    let body = peer
        .notification(SigV::V2)
        .set("Message", r#"{"alarm":"cpu","value":97}"#)
        .set_json("MessageAttributes", attributes.clone())
        .body();
    let first = deliver(&t, &wf, &key, &body).await;
    assert_eq!(first.status, StatusCode::ACCEPTED, "{:?}", first.body);
    // SNS retries with the same MessageId.
    let again = deliver(&t, &wf, &key, &body).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["executionId"], first.body["executionId"]);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(execution_count(&t, &wf, &key).await, 1);

    // The redelivery re-queued the still-queued execution (its first send may have been the
    // one that failed); the worker runs it once and skips the second message.
    t.worker.drain().await;
    let id = first.execution_id();
    let e = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(e["status"], "succeeded");
    assert_eq!(e["attempts"], 1);
    assert_eq!(e["payload"], json!({"alarm": "cpu", "value": 97}));
    let trigger = &e["trigger"];
    assert_eq!(trigger["type"], "amazon_sns");
    assert_eq!(trigger["topicArn"], TOPIC_ARN);
    assert_eq!(trigger["subject"], "Peer subject");
    assert_eq!(trigger["messageAttributes"], attributes);
    let sent: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(trigger["messageId"], sent["MessageId"]);
    assert_eq!(trigger["timestamp"], sent["Timestamp"]);
    assert!(!e.to_string().contains(&key), "the key is never stored");
}

async fn a_message_that_is_not_json_is_kept_as_text(t: TestApp, peer: SnsPeer) {
    let (wf, key) = sns_workflow(&t, SnsOptions::default()).await;
    let body = peer
        .notification(SigV::V1)
        .remove("Subject")
        .set("Message", "disk full on\nhost-7 ✓")
        .body();
    let r = deliver(&t, &wf, &key, &body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let e = t.execution(wf.id.as_str(), &r.execution_id(), &key).await;
    assert_eq!(e["payload"], "disk full on\nhost-7 ✓");
    assert!(e["trigger"].get("subject").is_none());
}

async fn sns_notification_with_tampered_subject_is_rejected_and_writes_nothing(
    t: TestApp,
    peer: SnsPeer,
) {
    let (wf, key) = sns_workflow(&t, SnsOptions::default()).await;
    let body = peer
        .notification(SigV::V2)
        .sign()
        .tamper("Subject", "Pay attacker")
        .body();
    let r = deliver(&t, &wf, &key, &body).await;
    assert_error(&r, StatusCode::FORBIDDEN, "sns_message_rejected");
    assert_eq!(execution_count(&t, &wf, &key).await, 0);
    assert_eq!(t.worker.drain().await, 0);
}

async fn sns_notification_signed_by_another_key_is_rejected(t: TestApp, peer: SnsPeer) {
    let (wf, key) = sns_workflow(&t, SnsOptions::default()).await;
    let forger = std::sync::Arc::new(sns_peer::TestSigner::fresh());
    let body = peer.notification(SigV::V2).signed_by(&forger).body();
    let r = deliver(&t, &wf, &key, &body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(execution_count(&t, &wf, &key).await, 0);
}

async fn unsubscribe_confirmation_is_recorded_without_fetching(t: TestApp, peer: SnsPeer) {
    let (wf, key) = sns_workflow(&t, SnsOptions::default()).await;
    let r = deliver(
        &t,
        &wf,
        &key,
        &peer.unsubscribe_confirmation(SigV::V1).body(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "unsubscribed");
    assert_eq!(
        peer.confirmations(),
        0,
        "nothing is fetched for an unsubscribe"
    );
    let subs = t
        .app
        .list_subscriptions(wf.id.as_str())
        .await
        .expect("subs");
    assert_eq!(subs[0].state, SubscriptionState::Unsubscribed);
}

async fn a_topic_the_workflow_does_not_allow_is_403(t: TestApp, peer: SnsPeer) {
    let only = SnsOptions {
        allowed_topic_arns: vec!["arn:aws:sns:us-east-1:123456789012:other".into()],
        require_signature_v2: false,
    };
    let (wf, key) = sns_workflow(&t, only).await;
    let r = deliver(&t, &wf, &key, &peer.notification(SigV::V2).body()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = deliver(
        &t,
        &wf,
        &key,
        &peer.subscription_confirmation(SigV::V2).body(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        peer.confirmations(),
        0,
        "a disallowed topic is never confirmed"
    );
}

async fn signature_v1_is_403_when_the_workflow_requires_v2(t: TestApp, peer: SnsPeer) {
    let v2_only = SnsOptions {
        allowed_topic_arns: vec![],
        require_signature_v2: true,
    };
    let (wf, key) = sns_workflow(&t, v2_only).await;
    assert_eq!(
        deliver(&t, &wf, &key, &peer.notification(SigV::V1).body())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        deliver(&t, &wf, &key, &peer.notification(SigV::V2).body())
            .await
            .status,
        StatusCode::ACCEPTED
    );
}

async fn raw_message_delivery_is_refused_with_advice(t: TestApp, _peer: SnsPeer) {
    let (wf, key) = sns_workflow(&t, SnsOptions::default()).await;
    let request = Request::post(format!("/webhooks/{}?x-api-key={key}", wf.id))
        .header("x-amz-sns-message-type", "Notification")
        .header("x-amz-sns-rawdelivery", "true")
        .body(Body::from(r#"{"alarm":"cpu"}"#))
        .expect("request");
    let r = t.send(request).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "sns_raw_delivery");
    assert!(r.error_message().contains("turn raw message delivery off"));
}

async fn a_plain_post_to_an_sns_workflow_is_400(t: TestApp, _peer: SnsPeer) {
    let (wf, key) = sns_workflow(&t, SnsOptions::default()).await;
    let r = t
        .post_webhook(wf.id.as_str(), Some(&key), r#"{"order":1}"#)
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "wrong_trigger");
    assert!(r.error_message().contains("amazon_sns"));
}

async fn a_failed_confirmation_fetch_is_502_and_records_nothing(t: TestApp, peer: SnsPeer) {
    let (wf, key) = sns_workflow(&t, SnsOptions::default()).await;
    peer.fail_confirmations_with(Some(500));
    let body = peer.subscription_confirmation(SigV::V2).body();
    let r = deliver(&t, &wf, &key, &body).await;
    assert_error(&r, StatusCode::BAD_GATEWAY, "sns_upstream_failed");
    assert!(
        t.app
            .list_subscriptions(wf.id.as_str())
            .await
            .expect("subs")
            .is_empty()
    );
    // SNS retries; this time AWS answers.
    peer.fail_confirmations_with(None);
    assert_eq!(deliver(&t, &wf, &key, &body).await.status, StatusCode::OK);
}

async fn a_wrong_key_is_401_before_anything_is_fetched(t: TestApp, peer: SnsPeer) {
    let (wf, _) = sns_workflow(&t, SnsOptions::default()).await;
    let r = deliver(
        &t,
        &wf,
        "whk_wrong",
        &peer.subscription_confirmation(SigV::V2).body(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(peer.requests().is_empty());
}

/// The schema sees what `trigger.body` will: the parsed Message, or its text when it is not
/// JSON. A refused message is 422 (SNS does not retry a 4xx), after its signature was checked.
async fn a_message_is_checked_against_the_payload_schema_as_trigger_body_sees_it(
    t: TestApp,
    peer: SnsPeer,
) {
    let name = format!("k{}", ulid::Ulid::new().to_string().to_lowercase());
    let key = t.app.create_api_key(&name).await.expect("key");
    let key = key.secret.expose().to_owned();
    let schema = json!({"type": "object", "required": ["alarm"], "properties": {"value": {"type": "number"}}});
    let wf = t
        .app
        .create_workflow(webhook_trigger::app::NewWorkflow {
            name: "sns with schema".into(),
            trigger: Trigger::AmazonSns,
            api_key_name: name,
            steps: vec![Step::Echo.into()],
            sns: SnsOptions::default(),
            auth: Default::default(),
            payload_schema: schema.as_object().cloned(),
        })
        .await
        .expect("workflow");

    let body = peer
        .notification(SigV::V2)
        .set("Message", r#"{"alarm":"cpu","value":"high"}"#)
        .body();
    let r = deliver(&t, &wf, &key, &body).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "payload_invalid");
    assert_eq!(
        r.body["error"]["details"][0]["pointer"], "/value",
        "{}",
        r.body
    );
    let text = peer
        .notification(SigV::V2)
        .set("Message", "disk full on host-7")
        .body();
    let r = deliver(&t, &wf, &key, &text).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "payload_invalid");
    assert_eq!(r.body["error"]["details"][0]["pointer"], "", "{}", r.body);
    assert_eq!(execution_count(&t, &wf, &key).await, 0, "nothing stored");

    let good = peer
        .notification(SigV::V2)
        .set("Message", r#"{"alarm":"cpu","value":97}"#)
        .body();
    let r = deliver(&t, &wf, &key, &good).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    assert_eq!(execution_count(&t, &wf, &key).await, 1);
}
