//! Known-answer vectors: fixed messages with fixed signatures, checked byte for byte.
//!
//! - `aws-notification-2015.json` is a real SNS delivery with its real certificate
//!   (provenance in tests/fixtures/sns/README.md).
//! - `kat-*.json` were signed by an independent implementation (pyca/cryptography, see
//!   `regenerate_kat.py`) with the key of `kat-signing-cert.pem`; their canonical strings
//!   are beside them as `*.string-to-sign.txt`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use url::Url;
use webhook_trigger::sns::{
    FetchError, FetchedBody, HttpFetcher, SnsError, SnsMessage, SnsPolicy, SnsVerifier,
    VerifierConfig,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sns");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

/// Serves fixed bodies by URL, so no network is involved.
#[derive(Default)]
struct FixtureFetcher {
    bodies: HashMap<String, Vec<u8>>,
    calls: AtomicUsize,
}

impl FixtureFetcher {
    fn serving(url: &str, pem: &str) -> Arc<FixtureFetcher> {
        let mut f = FixtureFetcher::default();
        f.bodies.insert(url.to_owned(), pem.as_bytes().to_vec());
        Arc::new(f)
    }
}

#[async_trait]
impl HttpFetcher for FixtureFetcher {
    async fn get(&self, url: &Url, _max: usize) -> Result<FetchedBody, FetchError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(match self.bodies.get(url.as_str()) {
            Some(body) => FetchedBody {
                status: 200,
                body: body.clone(),
            },
            None => FetchedBody {
                status: 404,
                body: Vec::new(),
            },
        })
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn set(body: &str, field: &str, value: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
    v[field] = value.into();
    v.to_string()
}

// --- the real AWS message --------------------------------------------------------------

const AWS_CERT_URL: &str = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-bb750dd426d95ee9390147a5624348ee.pem";

fn aws_verifier() -> (SnsVerifier, Arc<FixtureFetcher>) {
    let pem = fixture("SimpleNotificationService-bb750dd426d95ee9390147a5624348ee.pem");
    let fetcher = FixtureFetcher::serving(AWS_CERT_URL, &pem);
    (
        SnsVerifier::new(fetcher.clone(), VerifierConfig::default()),
        fetcher,
    )
}

async fn verify_aws(body: &str) -> Result<(), SnsError> {
    let (verifier, _) = aws_verifier();
    let msg = SnsMessage::parse(body, Some("Notification"))?;
    verifier
        .verify(&msg, &SnsPolicy::default(), at("2015-09-20T01:23:00Z"))
        .await
        .map(|_| ())
}

#[tokio::test]
async fn sns_real_aws_notification_verifies() {
    let body = fixture("aws-notification-2015.json");
    let msg = SnsMessage::parse(&body, Some("Notification")).unwrap();
    assert_eq!(
        msg.string_to_sign(),
        "Message\nboo\n\
         MessageId\nd39649d4-bf5b-5b80-af75-07acb3dd9b4a\n\
         Subject\nthis is raw\n\
         Timestamp\n2015-09-20T01:22:14.001Z\n\
         TopicArn\narn:aws:sns:us-east-1:810605503585:just_testing\n\
         Type\nNotification\n"
    );
    let (verifier, fetcher) = aws_verifier();
    verifier
        .verify(&msg, &SnsPolicy::default(), at("2015-09-20T01:23:00Z"))
        .await
        .unwrap();
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn sns_real_aws_notification_with_tampered_message_is_rejected() {
    let body = set(&fixture("aws-notification-2015.json"), "Message", "boo!");
    assert!(
        matches!(verify_aws(&body).await, Err(SnsError::Rejected(why)) if why.contains("signature"))
    );
}

#[tokio::test]
async fn sns_real_aws_notification_with_tampered_subject_is_rejected() {
    let body = set(
        &fixture("aws-notification-2015.json"),
        "Subject",
        "this is cooked",
    );
    assert!(
        matches!(verify_aws(&body).await, Err(SnsError::Rejected(why)) if why.contains("signature"))
    );
}

#[tokio::test]
async fn sns_real_aws_notification_with_tampered_topic_arn_is_rejected() {
    let body = set(
        &fixture("aws-notification-2015.json"),
        "TopicArn",
        "arn:aws:sns:us-east-1:810605503585:just_testing2",
    );
    assert!(
        matches!(verify_aws(&body).await, Err(SnsError::Rejected(why)) if why.contains("signature"))
    );
}

#[tokio::test]
async fn sns_real_aws_notification_with_dropped_subject_is_rejected() {
    let mut v: serde_json::Value =
        serde_json::from_str(&fixture("aws-notification-2015.json")).unwrap();
    v.as_object_mut().unwrap().remove("Subject");
    assert!(matches!(
        verify_aws(&v.to_string()).await,
        Err(SnsError::Rejected(_))
    ));
}

#[tokio::test]
async fn sns_real_aws_message_is_rejected_once_its_certificate_expired() {
    let pem = fixture("SimpleNotificationService-bb750dd426d95ee9390147a5624348ee.pem");
    let config = VerifierConfig {
        max_age: Duration::from_secs(20 * 365 * 86400),
        ..VerifierConfig::default()
    };
    let verifier = SnsVerifier::new(FixtureFetcher::serving(AWS_CERT_URL, &pem), config);
    let msg = SnsMessage::parse(&fixture("aws-notification-2015.json"), None)
        .unwrap()
        .into_owned();
    let err = verifier
        .verify(&msg, &SnsPolicy::default(), at("2016-08-22T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SnsError::Rejected(why) if why.contains("expired")),
        "{err}"
    );
}

#[tokio::test]
async fn sns_real_aws_message_is_stale_today() {
    let (verifier, fetcher) = aws_verifier();
    let msg = SnsMessage::parse(&fixture("aws-notification-2015.json"), None)
        .unwrap()
        .into_owned();
    let err = verifier
        .verify(&msg, &SnsPolicy::default(), Utc::now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SnsError::Rejected(why) if why.contains("older than")),
        "{err}"
    );
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), 0);
}

// --- independently signed vectors ------------------------------------------------------

struct Vector {
    body: String,
    string_to_sign: String,
    msg: SnsMessage<'static>,
}

fn vector(name: &str) -> Vector {
    let body = fixture(&format!("{name}.json"));
    let msg = SnsMessage::parse(&body, None).unwrap().into_owned();
    Vector {
        string_to_sign: fixture(&format!("{name}.string-to-sign.txt")),
        body,
        msg,
    }
}

async fn verify_kat(body: &str) -> Result<(), SnsError> {
    let msg = SnsMessage::parse(body, None)?;
    let fetcher = FixtureFetcher::serving(msg.signing_cert_url(), &fixture("kat-signing-cert.pem"));
    let verifier = SnsVerifier::new(fetcher, VerifierConfig::default());
    let now = msg.timestamp() + chrono::TimeDelta::seconds(30);
    verifier
        .verify(&msg, &SnsPolicy::default(), now)
        .await
        .map(|_| ())
}

const VECTORS: [&str; 4] = [
    "kat-notification-v1",
    "kat-notification-v2",
    "kat-subscription-confirmation-v2",
    "kat-unsubscribe-confirmation-v1",
];

#[tokio::test]
async fn sns_known_answer_vectors_have_the_expected_canonical_strings_and_verify() {
    for name in VECTORS {
        let v = vector(name);
        assert_eq!(v.msg.string_to_sign(), v.string_to_sign, "{name}");
        verify_kat(&v.body)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn sns_known_answer_canonical_string_with_escapes_unicode_and_whole_seconds() {
    let v = vector("kat-notification-v1");
    assert!(
        v.body
            .contains(r#"line one\nline two\t\"quoted\" caf\u00e9 😀\n"#),
        "the JSON carries escapes"
    );
    assert_eq!(
        v.msg.string_to_sign(),
        "Message\nline one\nline two\t\"quoted\" café 😀\n\n\
         MessageId\n5d7b8a1e-0000-4000-8000-000000000001\n\
         Subject\nGrüße ✓\n\
         Timestamp\n2026-11-23T10:00:00Z\n\
         TopicArn\narn:aws:sns:us-east-1:123456789012:kat-topic\n\
         Type\nNotification\n"
    );
}

#[tokio::test]
async fn sns_known_answer_vectors_reject_any_tampering() {
    for name in VECTORS {
        let v = vector(name);
        for field in ["Message", "MessageId", "Timestamp", "TopicArn"] {
            let original = v.msg.string_to_sign();
            let tampered = match field {
                "Timestamp" => v.msg.timestamp_raw().replace("10:00:00", "10:00:01"),
                "TopicArn" => v
                    .msg
                    .topic_arn()
                    .as_str()
                    .replace("kat-topic", "kat-topic2"),
                _ => {
                    let value: serde_json::Value = serde_json::from_str(&v.body).unwrap();
                    format!("{} ", value[field].as_str().unwrap())
                }
            };
            let body = set(&v.body, field, &tampered);
            let err = verify_kat(&body)
                .await
                .expect_err(&format!("{name}: tampered {field} accepted"));
            assert!(
                matches!(&err, SnsError::Rejected(why) if why.contains("signature")),
                "{name} {field}: {err}"
            );
            assert_ne!(
                SnsMessage::parse(&body, None).unwrap().string_to_sign(),
                original
            );
        }
    }
}

#[tokio::test]
async fn sns_known_answer_whole_second_timestamp_is_signed_as_sent() {
    // `2026-11-23T10:00:00Z` and `2026-11-23T10:00:00.000Z` are the same instant but not
    // the same signed bytes: re-rendering the field would break every such message.
    let v = vector("kat-notification-v1");
    verify_kat(&v.body).await.unwrap();
    let rerendered = set(&v.body, "Timestamp", "2026-11-23T10:00:00.000Z");
    assert!(matches!(
        verify_kat(&rerendered).await,
        Err(SnsError::Rejected(_))
    ));
    let v2 = vector("kat-notification-v2");
    verify_kat(&v2.body).await.unwrap();
    let shortened = set(&v2.body, "Timestamp", "2026-11-23T10:00:00Z");
    assert!(matches!(
        verify_kat(&shortened).await,
        Err(SnsError::Rejected(_))
    ));
}

#[tokio::test]
async fn sns_known_answer_signature_versions_are_not_interchangeable() {
    for (name, other) in [("kat-notification-v1", "2"), ("kat-notification-v2", "1")] {
        let body = set(&vector(name).body, "SignatureVersion", other);
        assert!(
            matches!(verify_kat(&body).await, Err(SnsError::Rejected(_))),
            "{name}"
        );
    }
}

#[tokio::test]
async fn sns_known_answer_v1_is_refused_when_the_policy_requires_v2() {
    let v = vector("kat-notification-v1");
    let fetcher =
        FixtureFetcher::serving(v.msg.signing_cert_url(), &fixture("kat-signing-cert.pem"));
    let verifier = SnsVerifier::new(fetcher.clone(), VerifierConfig::default());
    let policy = SnsPolicy {
        require_signature_v2: true,
        ..SnsPolicy::default()
    };
    let now = v.msg.timestamp() + chrono::TimeDelta::seconds(1);
    let err = verifier.verify(&v.msg, &policy, now).await.unwrap_err();
    assert!(
        matches!(&err, SnsError::Rejected(why) if why.contains("SignatureVersion 2")),
        "{err}"
    );
    assert_eq!(fetcher.calls.load(Ordering::SeqCst), 0);
    let v2 = vector("kat-notification-v2");
    verifier.verify(&v2.msg, &policy, now).await.unwrap();
}
