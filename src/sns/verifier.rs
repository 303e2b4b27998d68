//! The trust decision: policy, freshness, certificate host, certificate, signature.
//!
//! Checks that need no network run first, so a forged or stale message costs nothing and
//! cannot make us fetch. The only fields that drive the decision are signed ones (plus the
//! unsigned `SignatureVersion`, `Signature` and `SigningCertURL`, each held to a rule that a
//! forger cannot satisfy without SNS's key).

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use super::certificate::CertificateCache;
use super::error::SnsError;
use super::fetcher::HttpFetcher;
use super::message::SnsMessage;
use super::signing::{SignatureVersion, verify_signature};
use super::url_rules::validate_signing_cert_url;

/// What a workflow accepts from SNS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnsPolicy {
    /// Topic ARNs accepted verbatim; empty accepts any topic.
    pub allowed_topic_arns: Vec<String>,
    /// Refuse SHA-1 (`SignatureVersion` 1) signatures.
    pub require_signature_v2: bool,
}

/// How old a message may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifierConfig {
    /// Oldest `Timestamp` accepted (SNS retries a delivery for up to an hour by default;
    /// a replayed capture older than this is refused).
    pub max_age: Duration,
    /// Tolerated difference between SNS's clock and ours, both ways.
    pub clock_skew: Duration,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            max_age: Duration::from_secs(60 * 60),
            clock_skew: Duration::from_secs(5 * 60),
        }
    }
}

/// Proof that a message passed [`SnsVerifier::verify`]; only the verifier makes one, so
/// code that takes it (e.g. [`confirm_subscription`](super::confirm_subscription)) cannot
/// be handed an unchecked message.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedMessage<'m> {
    msg: &'m SnsMessage<'m>,
}

impl<'m> VerifiedMessage<'m> {
    /// The message that was verified.
    pub fn message(&self) -> &'m SnsMessage<'m> {
        self.msg
    }
}

impl<'m> Deref for VerifiedMessage<'m> {
    type Target = SnsMessage<'m>;

    fn deref(&self) -> &SnsMessage<'m> {
        self.msg
    }
}

/// Verifies SNS messages; build one per process and share it (it holds the certificate
/// cache).
pub struct SnsVerifier {
    certificates: CertificateCache,
    config: VerifierConfig,
}

impl SnsVerifier {
    /// A verifier fetching certificates through `fetcher`.
    pub fn new(fetcher: Arc<dyn HttpFetcher>, config: VerifierConfig) -> SnsVerifier {
        SnsVerifier {
            certificates: CertificateCache::new(fetcher),
            config,
        }
    }

    /// The certificate cache, for inspection.
    pub fn certificates(&self) -> &CertificateCache {
        &self.certificates
    }

    /// Decides whether `msg` comes from SNS and is acceptable under `policy` at `now`.
    ///
    /// Every refusal is logged with its reason.
    pub async fn verify<'m>(
        &self,
        msg: &'m SnsMessage<'_>,
        policy: &SnsPolicy,
        now: DateTime<Utc>,
    ) -> Result<VerifiedMessage<'m>, SnsError> {
        match self.check(msg, policy, now).await {
            Ok(()) => {
                tracing::debug!(message_id = %msg.message_id(), topic_arn = %msg.topic_arn(), "SNS message verified");
                Ok(VerifiedMessage { msg })
            }
            Err(error) => {
                tracing::warn!(
                    message_id = %msg.message_id(),
                    topic_arn = %msg.topic_arn(),
                    message_type = %msg.message_type(),
                    %error,
                    "SNS message not verified"
                );
                Err(error)
            }
        }
    }

    async fn check(
        &self,
        msg: &SnsMessage<'_>,
        policy: &SnsPolicy,
        now: DateTime<Utc>,
    ) -> Result<(), SnsError> {
        check_topic(msg, policy)?;
        let version = SignatureVersion::parse(msg.signature_version())?;
        if policy.require_signature_v2 && version != SignatureVersion::V2 {
            return Err(SnsError::rejected(
                "SignatureVersion 1 (SHA1withRSA) is not accepted: the policy requires SignatureVersion 2",
            ));
        }
        self.check_freshness(msg, now)?;
        let raw_url = msg.signing_cert_url();
        let cert = match self.certificates.known(raw_url, msg.topic_arn()) {
            Some(cert) => cert,
            None => {
                let cert_url = validate_signing_cert_url(raw_url, msg.topic_arn())?;
                self.certificates.get_validated(raw_url, &cert_url).await?
            }
        };
        cert.check_validity(now)?;
        verify_signature(msg, version, cert.rsa_public_key())
    }

    fn check_freshness(&self, msg: &SnsMessage<'_>, now: DateTime<Utc>) -> Result<(), SnsError> {
        let skew = delta(self.config.clock_skew);
        let window = delta(self.config.max_age)
            .checked_add(&skew)
            .unwrap_or(TimeDelta::MAX);
        let oldest = now
            .checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let newest = now
            .checked_add_signed(skew)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let ts = msg.timestamp();
        if ts < oldest {
            return Err(SnsError::rejected(format!(
                "Timestamp {} is older than the accepted {} s (plus {} s clock skew)",
                msg.timestamp_raw(),
                self.config.max_age.as_secs(),
                self.config.clock_skew.as_secs()
            )));
        }
        if ts > newest {
            return Err(SnsError::rejected(format!(
                "Timestamp {} is more than {} s in the future",
                msg.timestamp_raw(),
                self.config.clock_skew.as_secs()
            )));
        }
        Ok(())
    }
}

fn check_topic(msg: &SnsMessage<'_>, policy: &SnsPolicy) -> Result<(), SnsError> {
    let topic = msg.topic_arn().as_str();
    if policy.allowed_topic_arns.is_empty() || policy.allowed_topic_arns.iter().any(|t| t == topic)
    {
        Ok(())
    } else {
        Err(SnsError::rejected(format!(
            "topic {topic} is not allowed for this workflow"
        )))
    }
}

/// Config durations are small; saturate rather than panic on absurd ones.
fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use crate::error_kind::ErrorKind;
    use async_trait::async_trait;
    use url::Url;

    use super::super::fetcher::{FetchError, FetchedBody};
    use super::super::message::fixtures::*;
    use super::*;

    /// Counts calls and answers from a fixed script; policy checks must never reach it.
    struct Stub {
        calls: AtomicUsize,
        answer: Result<FetchedBody, FetchError>,
    }

    impl Stub {
        fn answering(status: u16, body: &[u8]) -> Arc<Stub> {
            Arc::new(Stub {
                calls: AtomicUsize::new(0),
                answer: Ok(FetchedBody {
                    status,
                    body: body.to_vec(),
                }),
            })
        }
        fn failing(error: FetchError) -> Arc<Stub> {
            Arc::new(Stub {
                calls: AtomicUsize::new(0),
                answer: Err(error),
            })
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl HttpFetcher for Stub {
        async fn get(&self, _url: &Url, _max: usize) -> Result<FetchedBody, FetchError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            self.answer.clone()
        }
    }

    /// A real SNS certificate (see tests/fixtures/sns/README.md), valid 2015-08-07..2016-08-21.
    const AWS_PEM: &[u8] = include_bytes!(
        "../../tests/fixtures/sns/SimpleNotificationService-bb750dd426d95ee9390147a5624348ee.pem"
    );

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn msg(body: &str) -> SnsMessage<'static> {
        SnsMessage::parse(body, None).unwrap().into_owned()
    }

    const SENT: &str = "2026-11-23T10:00:00.655Z";

    async fn refusal(body: &str, policy: &SnsPolicy, now: &str) -> (String, usize) {
        let stub = Stub::answering(200, AWS_PEM);
        let verifier = SnsVerifier::new(stub.clone(), VerifierConfig::default());
        match verifier.verify(&msg(body), policy, at(now)).await {
            Err(SnsError::Rejected(why)) => (why, stub.calls()),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn topic_not_allowed_is_rejected_without_fetching() {
        let policy = SnsPolicy {
            allowed_topic_arns: vec!["arn:aws:sns:us-west-2:123456789012:Other".into()],
            ..SnsPolicy::default()
        };
        let (why, calls) = refusal(&notification(None), &policy, SENT).await;
        assert!(why.contains("not allowed"), "{why}");
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn v1_is_rejected_when_v2_is_required() {
        let policy = SnsPolicy {
            require_signature_v2: true,
            ..SnsPolicy::default()
        };
        let (why, calls) = refusal(&notification(None), &policy, SENT).await;
        assert!(why.contains("requires SignatureVersion 2"), "{why}");
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn unknown_signature_version_is_rejected() {
        let body = with(&notification(None), "SignatureVersion", "3".into());
        let (why, calls) = refusal(&body, &SnsPolicy::default(), SENT).await;
        assert!(why.contains("unsupported SignatureVersion"), "{why}");
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn stale_message_is_rejected() {
        // 1 h max age + 5 min skew: 65 min and 1 ms old is too old.
        let (why, calls) = refusal(
            &notification(None),
            &SnsPolicy::default(),
            "2026-11-23T11:05:00.656Z",
        )
        .await;
        assert!(why.contains("older than"), "{why}");
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn future_message_is_rejected() {
        let (why, calls) = refusal(
            &notification(None),
            &SnsPolicy::default(),
            "2026-11-23T09:55:00.654Z",
        )
        .await;
        assert!(why.contains("in the future"), "{why}");
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn wrongly_hosted_certificate_is_rejected_without_fetching() {
        let body = with(
            &notification(None),
            "SigningCertURL",
            "https://sns.us-west-2.amazonaws.com.evil.com/SimpleNotificationService-abc.pem".into(),
        );
        let (why, calls) = refusal(&body, &SnsPolicy::default(), SENT).await;
        assert!(why.contains("SigningCertURL"), "{why}");
        assert_eq!(calls, 0);
    }

    #[tokio::test]
    async fn a_known_certificate_url_is_still_refused_for_a_topic_of_another_region() {
        let stub = Stub::answering(200, AWS_PEM);
        let verifier = SnsVerifier::new(stub.clone(), VerifierConfig::default());
        let policy = SnsPolicy::default();
        // The first message's URL passes the rules and its certificate is fetched (the
        // message then fails on the certificate's dates, which does not matter here).
        let first = notification(None);
        let first_msg = msg(&first);
        let first_refusal = verifier.verify(&first_msg, &policy, at(SENT)).await;
        assert!(
            matches!(&first_refusal, Err(SnsError::Rejected(why)) if why.contains("expired")),
            "{first_refusal:?}"
        );
        assert_eq!(stub.calls(), 1);
        // The same URL text from a us-east-1 topic: its host is not that region's.
        let other = with(
            &first,
            "TopicArn",
            "arn:aws:sns:us-east-1:123456789012:MyTopic".into(),
        );
        match verifier.verify(&msg(&other), &policy, at(SENT)).await {
            Err(SnsError::Rejected(why)) => assert!(why.contains("SigningCertURL"), "{why}"),
            other => panic!("expected a rejection, got {other:?}"),
        }
        // And from the first topic again, the remembered certificate serves it.
        let again = verifier.verify(&first_msg, &policy, at(SENT)).await;
        assert!(
            matches!(&again, Err(SnsError::Rejected(why)) if why.contains("expired")),
            "{again:?}"
        );
        assert_eq!(stub.calls(), 1);
        assert_eq!(verifier.certificates().known_count(), 1);

        // The same URL in other letter cases passes the rules (scheme and host are
        // case-insensitive) and uses the same certificate, but is not remembered apart.
        let url = first_msg.signing_cert_url().to_owned();
        for shouted in [
            url.replacen("https", "HTTPS", 1),
            url.replacen("sns.", "SNS.", 1),
        ] {
            let body = with(&first, "SigningCertURL", shouted.clone().into());
            let shouted_msg = msg(&body);
            let refusal = verifier.verify(&shouted_msg, &policy, at(SENT)).await;
            assert!(
                matches!(&refusal, Err(SnsError::Rejected(why)) if why.contains("expired")),
                "{shouted}: {refusal:?}"
            );
        }
        assert_eq!(stub.calls(), 1);
        assert_eq!(verifier.certificates().known_count(), 1);
    }

    #[tokio::test]
    async fn freshness_window_edges_are_accepted_up_to_the_signature() {
        // At exactly the limits the message gets as far as the certificate check.
        for now in ["2026-11-23T11:05:00.655Z", "2026-11-23T09:55:00.655Z"] {
            let (why, calls) = refusal(&notification(None), &SnsPolicy::default(), now).await;
            assert!(why.contains("expired"), "{now}: {why}");
            assert_eq!(calls, 1);
        }
    }

    #[tokio::test]
    async fn forged_signature_is_rejected_by_a_real_certificate() {
        let body = with(
            &notification(None),
            "Timestamp",
            "2016-01-01T00:00:00Z".into(),
        );
        let (why, calls) = refusal(&body, &SnsPolicy::default(), "2016-01-01T00:00:01Z").await;
        assert!(why.contains("signature does not match"), "{why}");
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn certificate_is_fetched_once_for_concurrent_messages() {
        let stub = Stub::answering(200, AWS_PEM);
        let verifier = Arc::new(SnsVerifier::new(stub.clone(), VerifierConfig::default()));
        let body = with(
            &notification(None),
            "Timestamp",
            "2016-01-01T00:00:00Z".into(),
        );
        let m = Arc::new(msg(&body));
        let now = at("2016-01-01T00:00:01Z");
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (verifier, m) = (verifier.clone(), m.clone());
            tasks.spawn(async move {
                verifier
                    .verify(&m, &SnsPolicy::default(), now)
                    .await
                    .map(|_| ())
            });
        }
        while let Some(result) = tasks.join_next().await {
            assert!(matches!(result.unwrap(), Err(SnsError::Rejected(_))));
        }
        assert_eq!(stub.calls(), 1);
        assert_eq!(verifier.certificates().len(), 1);
    }

    #[tokio::test]
    async fn failed_fetches_are_not_cached() {
        let stub = Stub::failing(FetchError::Timeout(Duration::from_secs(3)));
        let verifier = SnsVerifier::new(stub.clone(), VerifierConfig::default());
        let m = msg(&notification(None));
        for _ in 0..2 {
            let err = verifier
                .verify(&m, &SnsPolicy::default(), at(SENT))
                .await
                .unwrap_err();
            assert!(
                matches!(&err, SnsError::Upstream(why) if why.contains("timed out")),
                "{err}"
            );
        }
        assert_eq!(stub.calls(), 2);
        assert!(verifier.certificates().is_empty());
        assert_eq!(
            verifier.certificates().slot_count(),
            0,
            "no empty slot is left behind"
        );
    }

    #[tokio::test]
    async fn certificate_answers_map_to_error_classes() {
        for (status, body, kind) in [
            (302, &b""[..], ErrorKind::BadGateway),
            (404, &b"<Error/>"[..], ErrorKind::Forbidden),
            (500, &b""[..], ErrorKind::BadGateway),
            (200, &b"not a pem"[..], ErrorKind::BadGateway),
        ] {
            let verifier =
                SnsVerifier::new(Stub::answering(status, body), VerifierConfig::default());
            let err = verifier
                .verify(&msg(&notification(None)), &SnsPolicy::default(), at(SENT))
                .await
                .unwrap_err();
            assert_eq!(err.kind(), kind, "HTTP {status}: {err}");
        }
    }

    #[tokio::test]
    async fn absurd_config_durations_do_not_panic() {
        let config = VerifierConfig {
            max_age: Duration::MAX,
            clock_skew: Duration::MAX,
        };
        let verifier = SnsVerifier::new(Stub::answering(404, b""), config);
        let err = verifier
            .verify(&msg(&notification(None)), &SnsPolicy::default(), at(SENT))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, SnsError::Rejected(why) if why.contains("HTTP 404")),
            "{err}"
        );
    }

    #[test]
    fn futures_can_run_in_axum_handlers() {
        fn assert_send<T: Send>(_: &T) {}
        let verifier = SnsVerifier::new(Stub::answering(200, b""), VerifierConfig::default());
        let m = msg(&notification(None));
        let policy = SnsPolicy::default();
        let verify = verifier.verify(&m, &policy, at(SENT));
        assert_send(&verify);
        let verified = VerifiedMessage { msg: &m };
        let stub = Stub::answering(200, b"");
        assert_send(&super::super::confirm_subscription(
            stub.as_ref(),
            &verified,
        ));
        fn assert_shared<T: Send + Sync + 'static>() {}
        assert_shared::<SnsVerifier>();
        assert_shared::<super::super::HttpsFetcher>();
    }

    #[test]
    fn the_real_certificate_parses() {
        let cert = super::super::certificate::SigningCertificate::from_pem(AWS_PEM).unwrap();
        assert_eq!(cert.not_before(), at("2015-08-07T00:00:00Z"));
        assert_eq!(cert.not_after(), at("2016-08-21T23:59:59Z"));
    }
}
