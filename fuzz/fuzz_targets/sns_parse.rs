//! Fuzzes the SNS envelope parser, the canonical string and the URL rules.
//!
//! Run from the repository root (libFuzzer needs a nightly compiler):
//!
//! ```sh
//! cargo install cargo-fuzz
//! mkdir -p fuzz/corpus/sns_parse
//! cargo +nightly fuzz run sns_parse fuzz/corpus/sns_parse fuzz/seeds/sns_parse -- -max_total_time=60
//! # or, on stable: RUSTC_BOOTSTRAP=1 cargo fuzz run sns_parse ... (same arguments)
//! ```
//!
//! `fuzz/seeds/sns_parse` holds real and known-answer SNS bodies plus `arn\nurl\ntoken`
//! inputs, so the fuzzer starts from messages that parse instead of rediscovering JSON.
//! Findings land in `fuzz/artifacts/sns_parse/`; replay one with
//! `cargo +nightly fuzz run sns_parse fuzz/artifacts/sns_parse/<file>`.
//!
//! Any input is first read as an SNS body; then its first three lines are read as a topic
//! ARN, a URL and a token and put through the host rules directly, so the rules are fuzzed
//! without needing a well-formed body. Beyond "never panic", it asserts the properties the
//! rules exist for: an accepted URL always points at the topic region's SNS host over https.
#![no_main]

use libfuzzer_sys::fuzz_target;
use webhook_trigger::sns::{
    MessageType, SnsMessage, TopicArn, is_raw_delivery, validate_signing_cert_url,
    validate_subscribe_url,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = is_raw_delivery(Some(&text));

    for header in [None, Some("Notification"), Some("SubscriptionConfirmation")] {
        if let Ok(msg) = SnsMessage::parse(&text, header) {
            check_message(&msg);
        }
    }

    let mut lines = text.splitn(4, '\n');
    let (Some(arn), Some(url), token) = (lines.next(), lines.next(), lines.next()) else {
        return;
    };
    if let Ok(topic) = TopicArn::parse(arn) {
        assert_eq!(topic.as_str(), arn);
        check_urls(&topic, url, token.unwrap_or_default());
    }
});

fn check_message(msg: &SnsMessage) {
    let sts = msg.string_to_sign();
    assert!(sts.starts_with("Message\n"));
    assert!(sts.ends_with(&format!(
        "\nTopicArn\n{}\nType\n{}\n",
        msg.topic_arn(),
        msg.message_type()
    )));
    match msg.message_type() {
        MessageType::Notification => {
            let subject = msg
                .subject()
                .map(|s| format!("Subject\n{s}\n"))
                .unwrap_or_default();
            let expected = format!(
                "Message\n{}\nMessageId\n{}\n{subject}Timestamp\n{}\nTopicArn\n{}\nType\nNotification\n",
                msg.message(),
                msg.message_id(),
                msg.timestamp_raw(),
                msg.topic_arn()
            );
            assert_eq!(sts, expected);
            assert!(msg.subscribe_url().is_none());
        }
        MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => {
            assert!(msg.subscribe_url().is_some());
            assert!(msg.subject().is_none());
        }
    }
    if let Ok(url) = validate_signing_cert_url(msg.signing_cert_url(), msg.topic_arn()) {
        assert_pinned(&url, msg.topic_arn());
        assert!(
            url.path().starts_with("/SimpleNotificationService-") && url.path().ends_with(".pem")
        );
    }
}

fn check_urls(topic: &TopicArn, url: &str, token: &str) {
    if let Ok(parsed) = validate_signing_cert_url(url, topic) {
        assert_pinned(&parsed, topic);
        assert!(parsed.query().is_none());
    }
    if let Ok(parsed) = validate_subscribe_url(url, topic, token) {
        assert_pinned(&parsed, topic);
        assert_eq!(parsed.path(), "/");
        assert!(
            parsed
                .query_pairs()
                .any(|(k, v)| k == "Action" && v == "ConfirmSubscription")
        );
    }
}

fn assert_pinned(url: &url::Url, topic: &TopicArn) {
    assert_eq!(url.scheme(), "https");
    assert_eq!(url.host_str(), Some(topic.sns_host().as_str()));
    assert!(url.port().is_none());
    assert!(url.username().is_empty() && url.password().is_none());
    assert!(url.fragment().is_none());
}
