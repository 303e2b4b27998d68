//! What an operator sees of a refused webhook request, to answer "why did my sender get a
//! 4xx?": when, the answer's status and code, where it came from, its headers and the start of
//! its body. Samples, not a log: at most one per workflow, reason and minute is kept (so a
//! flood of bad requests stays a handful of writes), for [`REFUSAL_SAMPLE_RETENTION_HOURS`].
//!
//! Header values are shown only for headers known to be harmless; every other value is
//! replaced by [`REDACTED`]. An allow-list rather than a list of secrets: a sender's own
//! credential header (`x-acme-token`) is unknown to us and must not be stored either.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use super::{RejectionReason, VerifyOptions, WorkflowId};

/// How long samples are kept: as long as the hourly counts they explain.
pub const REFUSAL_SAMPLE_RETENTION_HOURS: i64 = super::REJECTION_RETENTION_HOURS;
/// How much of a body a sample keeps.
pub const SAMPLE_BODY_BYTES: usize = 4096;
/// Headers a sample keeps (names sorted; the rest are counted in `headers_dropped`).
pub const SAMPLE_MAX_HEADERS: usize = 64;
/// Characters of one header value a sample keeps.
pub const SAMPLE_HEADER_VALUE_CHARS: usize = 512;
/// What a redacted header value reads as.
pub const REDACTED: &str = "[redacted]";

/// Headers whose values carry no credential, shown as sent. Anything else is redacted,
/// including every signature header (`x-hub-signature-256`, `stripe-signature`, ...).
const HARMLESS_HEADERS: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "connection",
    "content-encoding",
    "content-length",
    "content-type",
    "date",
    "expect",
    "host",
    "idempotency-key",
    "traceparent",
    "transfer-encoding",
    "user-agent",
    "via",
    "webhook-id",
    "webhook-timestamp",
    "x-amz-sns-message-id",
    "x-amz-sns-message-type",
    "x-amz-sns-rawdelivery",
    "x-amz-sns-subscription-arn",
    "x-amz-sns-topic-arn",
    "x-amzn-trace-id",
    "x-forwarded-for",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-github-delivery",
    "x-github-event",
    "x-github-hook-id",
    "x-github-hook-installation-target-id",
    "x-github-hook-installation-target-type",
    "x-request-id",
    "x-shopify-api-version",
    "x-shopify-shop-domain",
    "x-shopify-topic",
    "x-shopify-webhook-id",
    "x-slack-request-timestamp",
    "x-slack-retry-num",
    "x-slack-retry-reason",
];

/// One refused request, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalSample {
    pub workflow_id: WorkflowId,
    pub at: DateTime<Utc>,
    pub status: u16,
    pub code: String,
    pub reason: RejectionReason,
    /// The peer address (API Gateway's `sourceIp` on AWS), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// Lower-case names; values redacted unless harmless.
    pub headers: BTreeMap<String, String>,
    /// Headers past [`SAMPLE_MAX_HEADERS`], left out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub headers_dropped: usize,
    /// The first [`SAMPLE_BODY_BYTES`] of the body as text (invalid UTF-8 shown as U+FFFD).
    /// Empty when the request was refused before its body was read.
    pub body: String,
    /// The body had more than `body` shows, or was not read at all.
    pub body_truncated: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What the HTTP layer knows of a refused request.
pub struct RefusedRequest<'a, H> {
    pub workflow_id: &'a WorkflowId,
    pub at: DateTime<Utc>,
    pub status: u16,
    pub code: &'a str,
    pub reason: RejectionReason,
    pub source_ip: Option<String>,
    /// (name, value bytes) in the order received.
    pub headers: H,
    /// `None` when the body was never read (refused on its key or its declared size).
    pub body: Option<&'a [u8]>,
    /// The request declared or carried a body (tells "not read" from "empty").
    pub had_body: bool,
}

impl RefusalSample {
    /// The sample of `request`, with every header value redacted unless harmless and not
    /// named by the workflow's `verify` options.
    pub fn capture<'a, H>(request: RefusedRequest<'a, H>, verify: Option<&VerifyOptions>) -> Self
    where
        H: IntoIterator<Item = (&'a str, &'a [u8])>,
    {
        let named = verify.map(verify_headers).unwrap_or_default();
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in request.headers {
            let name = name.to_ascii_lowercase();
            let shown = if is_harmless(&name) && !named.contains(&name) {
                clip(&String::from_utf8_lossy(value))
            } else {
                REDACTED.to_owned()
            };
            headers
                .entry(name)
                .and_modify(|existing| {
                    if existing != REDACTED && shown != REDACTED {
                        existing.push_str(", ");
                        existing.push_str(&shown);
                        *existing = clip(existing);
                    }
                })
                .or_insert(shown);
        }
        let headers_dropped = headers.len().saturating_sub(SAMPLE_MAX_HEADERS);
        let headers = headers.into_iter().take(SAMPLE_MAX_HEADERS).collect();
        let (body, body_truncated) = match request.body {
            Some(bytes) => body_text(bytes),
            None => (String::new(), request.had_body),
        };
        Self {
            workflow_id: request.workflow_id.clone(),
            at: request.at,
            status: request.status,
            code: request.code.to_owned(),
            reason: request.reason,
            source_ip: request.source_ip,
            headers,
            headers_dropped,
            body,
            body_truncated,
        }
    }

    /// The minute this sample stands for: one sample per workflow, reason and minute.
    pub fn minute(&self) -> DateTime<Utc> {
        minute_of(self.at)
    }

    /// When the sample is no longer kept.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.at + Duration::hours(REFUSAL_SAMPLE_RETENTION_HOURS)
    }
}

/// The start of the minute `at` falls in.
pub fn minute_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::minutes(1)).unwrap_or(at)
}

fn is_harmless(lower_case_name: &str) -> bool {
    HARMLESS_HEADERS.contains(&lower_case_name)
}

/// The headers a workflow's verify options read (a custom scheme names its own).
fn verify_headers(options: &VerifyOptions) -> Vec<String> {
    [&options.header, &options.timestamp_header]
        .into_iter()
        .flatten()
        .map(|h| h.to_ascii_lowercase())
        .collect()
}

fn clip(value: &str) -> String {
    match value.char_indices().nth(SAMPLE_HEADER_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

/// The first [`SAMPLE_BODY_BYTES`] as text, never ending in half a character.
fn body_text(bytes: &[u8]) -> (String, bool) {
    let truncated = bytes.len() > SAMPLE_BODY_BYTES;
    let mut cut = &bytes[..bytes.len().min(SAMPLE_BODY_BYTES)];
    if truncated
        && let Err(e) = std::str::from_utf8(cut)
        && e.error_len().is_none()
    {
        cut = &cut[..e.valid_up_to()];
    }
    (String::from_utf8_lossy(cut).into_owned(), truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Scheme;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn capture(
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        verify: Option<&VerifyOptions>,
    ) -> RefusalSample {
        let id = WorkflowId::parse("wf_1").unwrap();
        RefusalSample::capture(
            RefusedRequest {
                workflow_id: &id,
                at: at("2026-11-25T10:05:42Z"),
                status: 401,
                code: "invalid_api_key",
                reason: RejectionReason::Auth,
                source_ip: Some("192.0.2.7".into()),
                headers: headers.iter().map(|(n, v)| (*n, v.as_bytes())),
                body,
                had_body: true,
            },
            verify,
        )
    }

    #[test]
    fn only_harmless_header_values_are_kept() {
        let sample = capture(
            &[
                ("Content-Type", "application/json"),
                ("x-api-key", "whk_secret"),
                ("Authorization", "Bearer abc"),
                ("cookie", "session=1"),
                ("x-hub-signature-256", "sha256=00ff"),
                ("x-acme-token", "tok"),
                ("user-agent", "GitHub-Hookshot/1"),
            ],
            Some(b"{}"),
            None,
        );
        let shown: Vec<(&str, &str)> = sample
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("authorization", REDACTED),
                ("content-type", "application/json"),
                ("cookie", REDACTED),
                ("user-agent", "GitHub-Hookshot/1"),
                ("x-acme-token", REDACTED),
                ("x-api-key", REDACTED),
                ("x-hub-signature-256", REDACTED),
            ]
        );
    }

    #[test]
    fn headers_the_verify_options_name_are_redacted_even_if_harmless_elsewhere() {
        let options = VerifyOptions {
            header: Some("X-Request-Id".into()),
            timestamp_header: Some("Date".into()),
            ..VerifyOptions::preset(Scheme::Hmac)
        };
        let sample = capture(
            &[("x-request-id", "sig"), ("date", "1700000000")],
            None,
            Some(&options),
        );
        assert_eq!(sample.headers["x-request-id"], REDACTED);
        assert_eq!(sample.headers["date"], REDACTED);
    }

    #[test]
    fn the_body_is_cut_at_4_kib_on_a_character_boundary() {
        let mut body = vec![b'a'; SAMPLE_BODY_BYTES - 1];
        body.extend("é and more".as_bytes());
        let sample = capture(&[], Some(&body), None);
        assert!(sample.body_truncated);
        assert_eq!(
            sample.body.len(),
            SAMPLE_BODY_BYTES - 1,
            "half an é is left out"
        );
        let short = capture(&[], Some(b"{\"a\":1}"), None);
        assert_eq!(
            (short.body.as_str(), short.body_truncated),
            ("{\"a\":1}", false)
        );
    }

    #[test]
    fn a_body_never_read_is_empty_and_marked_truncated() {
        let sample = capture(&[], None, None);
        assert_eq!((sample.body.as_str(), sample.body_truncated), ("", true));
    }

    #[test]
    fn long_values_and_many_headers_are_bounded() {
        let long = "x".repeat(2000);
        let names: Vec<String> = (0..100).map(|i| format!("x-h-{i:03}")).collect();
        let mut headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        headers.push(("user-agent", &long));
        let sample = capture(&headers, None, None);
        assert_eq!(sample.headers.len(), SAMPLE_MAX_HEADERS);
        assert_eq!(sample.headers_dropped, 101 - SAMPLE_MAX_HEADERS);
        let sample = capture(&[("user-agent", &long)], None, None);
        assert_eq!(
            sample.headers["user-agent"].chars().count(),
            SAMPLE_HEADER_VALUE_CHARS + 1
        );
    }

    #[test]
    fn a_sample_stands_for_its_minute_and_expires_after_48_hours() {
        let sample = capture(&[], None, None);
        assert_eq!(sample.minute(), at("2026-11-25T10:05:00Z"));
        assert_eq!(sample.expires_at(), at("2026-11-27T10:05:42Z"));
    }
}
