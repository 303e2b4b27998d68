//! End to end against a loopback SNS peer, through the production `HttpsFetcher` with its
//! endpoint override: URL rules, certificate fetch and cache, signatures, confirmation.

use crate::support::sns_peer;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sns_peer::{SigV, SnsPeer, TOPIC_ARN, TestSigner};
use webhook_trigger::error_kind::ErrorKind;
use webhook_trigger::sns::{
    FetcherConfig, HttpFetcher, HttpsFetcher, MessageType, SnsError, SnsMessage, SnsPolicy,
    SnsVerifier, VerifierConfig, confirm_subscription,
};

struct Harness {
    peer: SnsPeer,
    fetcher: Arc<HttpsFetcher>,
    verifier: SnsVerifier,
}

async fn harness() -> Harness {
    harness_with(SnsPeer::start().await, Duration::from_secs(3))
}

fn harness_with(peer: SnsPeer, timeout: Duration) -> Harness {
    let fetcher = Arc::new(
        HttpsFetcher::new(FetcherConfig {
            endpoint: Some(peer.endpoint()),
            timeout,
        })
        .unwrap(),
    );
    let verifier = SnsVerifier::new(fetcher.clone(), VerifierConfig::default());
    Harness {
        peer,
        fetcher,
        verifier,
    }
}

impl Harness {
    async fn verify(
        &self,
        body: &str,
        header: Option<&str>,
    ) -> Result<SnsMessage<'static>, SnsError> {
        let msg = SnsMessage::parse(body, header)?.into_owned();
        self.verifier
            .verify(&msg, &SnsPolicy::default(), Utc::now())
            .await?;
        Ok(msg)
    }
}

fn rejected(result: Result<SnsMessage<'_>, SnsError>) -> String {
    match result {
        Err(SnsError::Rejected(why)) => why,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn sns_v1_notification_verifies() {
    let h = harness().await;
    let msg = h
        .verify(&h.peer.notification(SigV::V1).body(), Some("Notification"))
        .await
        .unwrap();
    assert_eq!(msg.message_type(), MessageType::Notification);
    assert_eq!(msg.subject(), Some("Peer subject"));
    assert_eq!(h.peer.requests_to(&h.peer.cert_path()), 1);
}

#[tokio::test]
async fn sns_v2_notification_verifies() {
    let h = harness().await;
    h.verify(&h.peer.notification(SigV::V2).body(), Some("Notification"))
        .await
        .unwrap();
}

#[tokio::test]
async fn sns_notification_without_subject_and_with_attributes_verifies() {
    let h = harness().await;
    let body = h
        .peer
        .notification(SigV::V2)
        .remove("Subject")
        .set_json(
            "MessageAttributes",
            serde_json::json!({"env": {"Type": "String", "Value": "prod"}}),
        )
        .body();
    let msg = h.verify(&body, None).await.unwrap();
    assert_eq!(msg.subject(), None);
    assert_eq!(msg.message_attributes().unwrap()["env"]["Value"], "prod");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_certificate_is_fetched_once_for_many_concurrent_verifications() {
    let h = Arc::new(harness().await);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let h = h.clone();
        let version = if i % 2 == 0 { SigV::V1 } else { SigV::V2 };
        let body = h
            .peer
            .notification(version)
            .set("Message", &format!("message {i}"))
            .body();
        tasks.spawn(async move { h.verify(&body, None).await.map(|_| ()) });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(
        h.peer.requests_to(&h.peer.cert_path()),
        1,
        "{:?}",
        h.peer.requests()
    );
    assert_eq!(h.verifier.certificates().len(), 1);
}

#[tokio::test]
async fn sns_certificate_redirect_is_refused_and_not_followed() {
    let h = harness().await;
    let body = h
        .peer
        .notification(SigV::V2)
        .set("SigningCertURL", &h.peer.redirecting_cert_url())
        .body();
    let err = h.verify(&body, None).await.unwrap_err();
    assert!(
        matches!(&err, SnsError::Upstream(why) if why.contains("redirect")),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::BadGateway);
    assert_eq!(
        h.peer.requests().len(),
        1,
        "only the redirecting URL was requested"
    );
    assert_eq!(h.peer.requests_to(&h.peer.cert_path()), 0);
}

#[tokio::test]
async fn sns_fetcher_returns_redirects_as_they_are() {
    let h = harness().await;
    let url = url::Url::parse(&h.peer.redirecting_cert_url()).unwrap();
    let answer = h.fetcher.get(&url, 1024).await.unwrap();
    assert_eq!(answer.status, 302);
}

#[tokio::test]
async fn sns_oversized_certificate_is_refused() {
    let h = harness().await;
    let body = h
        .peer
        .notification(SigV::V2)
        .set("SigningCertURL", &h.peer.oversized_cert_url())
        .body();
    let err = h.verify(&body, None).await.unwrap_err();
    assert!(
        matches!(&err, SnsError::Upstream(why) if why.contains("larger than 16384")),
        "{err}"
    );
}

#[tokio::test]
async fn sns_slow_certificate_times_out() {
    let h = harness_with(SnsPeer::start().await, Duration::from_millis(300));
    let body = h
        .peer
        .notification(SigV::V2)
        .set("SigningCertURL", &h.peer.slow_cert_url())
        .body();
    let started = std::time::Instant::now();
    let err = h.verify(&body, None).await.unwrap_err();
    assert!(
        matches!(&err, SnsError::Upstream(why) if why.contains("timed out")),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn sns_missing_certificate_is_rejected_and_not_cached() {
    let h = harness().await;
    for _ in 0..2 {
        let body = h
            .peer
            .notification(SigV::V2)
            .set("SigningCertURL", &h.peer.missing_cert_url())
            .body();
        let why = rejected(h.verify(&body, None).await);
        assert!(why.contains("HTTP 404"), "{why}");
    }
    assert_eq!(
        h.peer.requests().len(),
        2,
        "a failed fetch is retried next time"
    );
    assert!(h.verifier.certificates().is_empty());
}

#[tokio::test]
async fn sns_subscription_confirmation_is_fetched_once_and_arn_parsed() {
    let h = harness().await;
    let body = h.peer.subscription_confirmation(SigV::V2).body();
    let msg = SnsMessage::parse(&body, Some("SubscriptionConfirmation")).unwrap();
    let verified = h
        .verifier
        .verify(&msg, &SnsPolicy::default(), Utc::now())
        .await
        .unwrap();
    let arn = confirm_subscription(h.fetcher.as_ref(), &verified)
        .await
        .unwrap();
    assert_eq!(arn, h.peer.subscription_arn());
    assert_eq!(h.peer.confirmations(), 1);
    let request = h
        .peer
        .requests()
        .into_iter()
        .find(|r| r.path == "/")
        .unwrap();
    let query = request.query.unwrap();
    assert!(
        query.contains(&format!("Token={}", h.peer.token())),
        "path and query are kept: {query}"
    );
}

#[tokio::test]
async fn sns_v1_subscription_confirmation_is_confirmed() {
    let h = harness().await;
    let msg = SnsMessage::parse(&h.peer.subscription_confirmation(SigV::V1).body(), None)
        .unwrap()
        .into_owned();
    let verified = h
        .verifier
        .verify(&msg, &SnsPolicy::default(), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        confirm_subscription(h.fetcher.as_ref(), &verified)
            .await
            .unwrap(),
        h.peer.subscription_arn()
    );
}

#[tokio::test]
async fn sns_forged_subscription_confirmation_is_never_fetched() {
    let h = harness().await;
    let forger = Arc::new(TestSigner::fresh());
    let body = h
        .peer
        .subscription_confirmation(SigV::V2)
        .signed_by(&forger)
        .body();
    let why = rejected(h.verify(&body, None).await);
    assert!(why.contains("signature does not match"), "{why}");
    assert_eq!(h.peer.confirmations(), 0);
}

#[tokio::test]
async fn sns_failed_confirmation_is_an_upstream_error() {
    let h = harness().await;
    h.peer.fail_confirmations_with(Some(500));
    let msg = SnsMessage::parse(&h.peer.subscription_confirmation(SigV::V2).body(), None)
        .unwrap()
        .into_owned();
    let verified = h
        .verifier
        .verify(&msg, &SnsPolicy::default(), Utc::now())
        .await
        .unwrap();
    let err = confirm_subscription(h.fetcher.as_ref(), &verified)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SnsError::Upstream(why) if why.contains("HTTP 500")),
        "{err}"
    );
    assert!(
        !err.to_string().contains(h.peer.token()),
        "the token must not leak: {err}"
    );
    assert_eq!(h.peer.confirmations(), 1);
}

#[tokio::test]
async fn sns_unsubscribe_confirmation_verifies_and_fetches_nothing() {
    let h = harness().await;
    let msg = SnsMessage::parse(
        &h.peer.unsubscribe_confirmation(SigV::V1).body(),
        Some("UnsubscribeConfirmation"),
    )
    .unwrap()
    .into_owned();
    let verified = h
        .verifier
        .verify(&msg, &SnsPolicy::default(), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        verified.message_type(),
        MessageType::UnsubscribeConfirmation
    );
    let err = confirm_subscription(h.fetcher.as_ref(), &verified)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(h.peer.confirmations(), 0);
}

#[tokio::test]
async fn sns_notification_with_tampered_message_is_rejected() {
    let h = harness().await;
    let body = h
        .peer
        .notification(SigV::V2)
        .sign()
        .tamper("Message", "Goodbye")
        .body();
    assert!(rejected(h.verify(&body, None).await).contains("signature does not match"));
}

#[tokio::test]
async fn sns_notification_with_tampered_subject_is_rejected() {
    let h = harness().await;
    let body = h
        .peer
        .notification(SigV::V1)
        .sign()
        .tamper("Subject", "Other subject")
        .body();
    assert!(rejected(h.verify(&body, None).await).contains("signature does not match"));
}

#[tokio::test]
async fn sns_notification_with_added_subject_is_rejected() {
    let h = harness().await;
    let body = h
        .peer
        .notification(SigV::V2)
        .remove("Subject")
        .sign()
        .tamper("Subject", "injected")
        .body();
    assert!(rejected(h.verify(&body, None).await).contains("signature does not match"));
}

#[tokio::test]
async fn sns_notification_with_tampered_topic_arn_is_rejected() {
    let h = harness().await;
    let other = TOPIC_ARN.replace("peer-topic", "other-topic");
    let body = h
        .peer
        .notification(SigV::V2)
        .sign()
        .tamper("TopicArn", &other)
        .body();
    assert!(rejected(h.verify(&body, None).await).contains("signature does not match"));
}

#[tokio::test]
async fn sns_notification_with_tampered_timestamp_is_rejected() {
    let h = harness().await;
    let signed = h
        .peer
        .notification(SigV::V2)
        .set(
            "Timestamp",
            &Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
        .sign();
    let raw = signed.fields["Timestamp"].as_str().unwrap().to_owned();
    let rerendered = raw.replace('Z', ".000Z");
    let body = signed.tamper("Timestamp", &rerendered).body();
    assert!(rejected(h.verify(&body, None).await).contains("signature does not match"));
}

#[tokio::test]
async fn sns_v1_signature_labelled_v2_is_rejected() {
    let h = harness().await;
    let body = h
        .peer
        .notification(SigV::V1)
        .sign()
        .tamper("SignatureVersion", "2")
        .body();
    assert!(rejected(h.verify(&body, None).await).contains("signature does not match"));
}

#[tokio::test]
async fn sns_message_signed_by_another_key_is_rejected() {
    let h = harness().await;
    let forger = Arc::new(TestSigner::fresh());
    let body = h.peer.notification(SigV::V2).signed_by(&forger).body();
    assert!(rejected(h.verify(&body, None).await).contains("signature does not match"));
}

#[tokio::test]
async fn sns_expired_certificate_is_rejected() {
    let peer = SnsPeer::start_with(TestSigner::with_validity((2000, 1, 1), (2001, 1, 1))).await;
    let h = harness_with(peer, Duration::from_secs(3));
    let why = rejected(h.verify(&h.peer.notification(SigV::V2).body(), None).await);
    assert!(why.contains("expired"), "{why}");
}

#[tokio::test]
async fn sns_certificate_on_another_region_host_is_rejected_without_fetching() {
    let h = harness().await;
    let url = h.peer.cert_url().replace("us-east-1", "eu-west-1");
    let why = rejected(
        h.verify(
            &h.peer
                .notification(SigV::V2)
                .set("SigningCertURL", &url)
                .body(),
            None,
        )
        .await,
    );
    assert!(why.contains("SigningCertURL"), "{why}");
    assert!(h.peer.requests().is_empty());
}

#[tokio::test]
async fn sns_topic_policy_and_v2_requirement_apply_to_valid_messages() {
    let h = harness().await;
    let msg = SnsMessage::parse(&h.peer.notification(SigV::V1).body(), None)
        .unwrap()
        .into_owned();
    let v2_only = SnsPolicy {
        require_signature_v2: true,
        ..SnsPolicy::default()
    };
    assert_eq!(
        h.verifier
            .verify(&msg, &v2_only, Utc::now())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );
    let other_topic = SnsPolicy {
        allowed_topic_arns: vec!["arn:aws:sns:us-east-1:123456789012:x".into()],
        ..SnsPolicy::default()
    };
    assert_eq!(
        h.verifier
            .verify(&msg, &other_topic, Utc::now())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Forbidden
    );
    let this_topic = SnsPolicy {
        allowed_topic_arns: vec![TOPIC_ARN.into()],
        ..SnsPolicy::default()
    };
    h.verifier
        .verify(&msg, &this_topic, Utc::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn sns_peer_textbook_signatures_match_aws_lc() {
    // The SHA-1 signatures come from the peer's own RSA code; prove that code right by
    // making it produce a SHA-256 one, which must equal aws-lc-rs's (PKCS#1 v1.5 is
    // deterministic).
    let signer = TestSigner::new();
    let data = "Message\nhello\nType\nNotification\n".as_bytes();
    assert_eq!(
        signer.sign_sha256_textbook(data),
        signer.sign_sha256_aws_lc(data)
    );
}
