//! Verified senders: HMAC signature schemes over the raw request body, as the providers
//! document them, and the signing secrets they use. Pure: headers come in through a lookup
//! closure and the clock as a number, so nothing here knows about HTTP.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use rand::RngCore;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::WorkflowId;

/// Replay window when a workflow file does not set `tolerance_seconds`; what Stripe, Slack
/// and Standard Webhooks recommend.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;
/// A week: a wider window no longer protects against replays in any useful sense.
const MAX_TOLERANCE_SECONDS: u64 = 7 * 24 * 3600;
/// Two secrets at once is what a rotation needs (the new one and the one being retired).
pub const MAX_ACTIVE_SECRETS: usize = 2;
const STANDARD_WEBHOOKS_PREFIX: &str = "whsec_";

/// Who must prove what to open a workflow's webhook URL.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// The workflow's API key, in the header or the query (the default).
    #[default]
    ApiKey,
    /// The provider's signature alone; the URL carries no key.
    Signature,
    /// Both the API key and the signature.
    Both,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::Signature => "signature",
            Self::Both => "both",
        }
    }

    pub fn needs_key(self) -> bool {
        matches!(self, Self::ApiKey | Self::Both)
    }

    pub fn needs_signature(self) -> bool {
        matches!(self, Self::Signature | Self::Both)
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a sender signs: a provider's documented scheme, or `hmac` described field by field.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    Github,
    Stripe,
    Slack,
    Shopify,
    StandardWebhooks,
    /// A custom HMAC: header, algorithm, encoding and signed content as configured.
    Hmac,
}

/// The hash of a custom `hmac` scheme.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// Only for senders that offer nothing better.
    Sha1,
    #[default]
    Sha256,
    Sha512,
}

impl Algorithm {
    fn hmac(self) -> hmac::Algorithm {
        match self {
            Self::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// How a custom `hmac` scheme writes the signature in its header.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    #[default]
    Hex,
    Base64,
}

/// The `verify` block of a workflow file. Only `scheme` is needed for the presets; the other
/// fields describe a custom `hmac` scheme and are refused for the presets, so a file cannot
/// look configured while being ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyOptions {
    /// A provider's preset, or `hmac` for a custom scheme described by the fields below.
    pub scheme: Scheme,
    /// Accepted clock difference for schemes that sign a timestamp (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = MAX_TOLERANCE_SECONDS))]
    pub tolerance_seconds: Option<u64>,
    /// `hmac`: the header carrying the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// `hmac`: the hash of the HMAC; default `sha256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    /// `hmac`: how the signature is written in the header; default `hex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    /// `hmac`: text before the encoded signature in the header, e.g. `sha256=`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// `hmac`: a header with the signing time (Unix seconds), checked against the tolerance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    /// `hmac`: what is signed, with `{body}` and `{timestamp}` placeholders. Default `{body}`,
    /// or `{timestamp}.{body}` with a timestamp header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_content: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidVerify {
    /// The field under `verify` (`verify.header`).
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidVerify {
    InvalidVerify {
        field,
        message: message.into(),
    }
}

impl VerifyOptions {
    pub fn preset(scheme: Scheme) -> Self {
        Self {
            scheme,
            tolerance_seconds: None,
            header: None,
            algorithm: None,
            encoding: None,
            prefix: None,
            timestamp_header: None,
            signed_content: None,
        }
    }

    pub fn tolerance(&self) -> u64 {
        self.tolerance_seconds.unwrap_or(DEFAULT_TOLERANCE_SECONDS)
    }

    pub fn validate(&self) -> Result<(), InvalidVerify> {
        if let Some(t) = self.tolerance_seconds
            && !(1..=MAX_TOLERANCE_SECONDS).contains(&t)
        {
            return Err(invalid(
                "verify.tolerance_seconds",
                format!("must be 1 to {MAX_TOLERANCE_SECONDS}"),
            ));
        }
        if self.scheme != Scheme::Hmac {
            let custom = [
                ("verify.header", self.header.is_some()),
                ("verify.algorithm", self.algorithm.is_some()),
                ("verify.encoding", self.encoding.is_some()),
                ("verify.prefix", self.prefix.is_some()),
                ("verify.timestamp_header", self.timestamp_header.is_some()),
                ("verify.signed_content", self.signed_content.is_some()),
            ];
            if let Some((field, _)) = custom.iter().find(|(_, set)| *set) {
                return Err(invalid(field, "only a custom `hmac` scheme takes this"));
            }
            if matches!(self.scheme, Scheme::Github | Scheme::Shopify)
                && self.tolerance_seconds.is_some()
            {
                return Err(invalid(
                    "verify.tolerance_seconds",
                    "this scheme signs no timestamp",
                ));
            }
            return Ok(());
        }
        let header = self
            .header
            .as_deref()
            .ok_or_else(|| invalid("verify.header", "a custom hmac scheme needs a header"))?;
        check_header_name("verify.header", header)?;
        if let Some(ts) = &self.timestamp_header {
            check_header_name("verify.timestamp_header", ts)?;
        } else if self.tolerance_seconds.is_some() {
            return Err(invalid(
                "verify.tolerance_seconds",
                "needs a timestamp_header to check",
            ));
        }
        let template = self.template();
        if template.matches("{body}").count() != 1 {
            return Err(invalid(
                "verify.signed_content",
                "must contain {body} exactly once",
            ));
        }
        if template.contains("{timestamp}") != self.timestamp_header.is_some() {
            return Err(invalid(
                "verify.signed_content",
                "uses {timestamp} exactly when a timestamp_header is set",
            ));
        }
        Ok(())
    }

    fn template(&self) -> &str {
        match (&self.signed_content, &self.timestamp_header) {
            (Some(t), _) => t,
            (None, Some(_)) => "{timestamp}.{body}",
            (None, None) => "{body}",
        }
    }

    /// Whether a secret value suits this scheme (Standard Webhooks secrets are `whsec_` and
    /// base64); the reason when it does not. The reason never quotes the value.
    pub fn check_secret(&self, value: &str) -> Result<(), String> {
        if value.is_empty() || value.len() > 1024 {
            return Err("a signing secret must be 1 to 1024 bytes".into());
        }
        if value.trim() != value || value.contains(['\n', '\r']) {
            return Err(
                "a signing secret must not start or end with spaces or hold line breaks".into(),
            );
        }
        if self.scheme == Scheme::StandardWebhooks
            && key_bytes(Scheme::StandardWebhooks, value).is_none()
        {
            return Err("a Standard Webhooks secret is `whsec_` followed by base64".into());
        }
        Ok(())
    }

    /// A fresh random secret in the form this scheme expects.
    pub fn generate_secret(&self) -> SecretValue {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let value = match self.scheme {
            Scheme::StandardWebhooks => format!("{STANDARD_WEBHOOKS_PREFIX}{}", B64.encode(bytes)),
            _ => hex::encode(bytes),
        };
        SecretValue(value)
    }
}

fn check_header_name(field: &'static str, name: &str) -> Result<(), InvalidVerify> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            "must be a header name (letters, digits, '-', '_')",
        ))
    }
}

/// Which check refused a request. None of these carries the expected signature or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing signature header {0}")]
    Missing(String),
    #[error("the signature does not match the body")]
    Invalid,
    #[error("the signed timestamp is outside the accepted window of {tolerance} seconds")]
    Stale { tolerance: u64 },
}

/// Slack checks a new Request URL with a signed `{"type": "url_verification", "challenge": …}`
/// and expects the challenge back; it is not an event, so it starts no execution. Only for a
/// workflow whose senders are Slack, and only after its signature passed.
pub fn slack_url_challenge(options: &VerifyOptions, body: &[u8]) -> Option<String> {
    if options.scheme != Scheme::Slack {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    if value.get("type")?.as_str()? != "url_verification" {
        return None;
    }
    value.get("challenge")?.as_str().map(str::to_owned)
}

/// What a verified request proves beyond its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// A signed delivery id (Standard Webhooks' `webhook-id`): a retry of the same message
    /// carries it again, so it is the execution's deduplication key.
    pub delivery_id: Option<String>,
}

/// The key bytes of a secret: Standard Webhooks secrets are base64 after `whsec_`; every
/// other scheme uses the secret's text as the key.
fn key_bytes(scheme: Scheme, secret: &str) -> Option<Vec<u8>> {
    match scheme {
        Scheme::StandardWebhooks => B64
            .decode(secret.strip_prefix(STANDARD_WEBHOOKS_PREFIX)?)
            .ok()
            .filter(|k| !k.is_empty()),
        _ => Some(secret.as_bytes().to_vec()),
    }
}

/// One signature as presented, decoded to bytes. Malformed encodings decode to nothing and
/// simply match no secret.
fn decode(encoding: Encoding, text: &str) -> Option<Vec<u8>> {
    match encoding {
        Encoding::Hex => hex::decode(text.trim()).ok(),
        Encoding::Base64 => B64.decode(text.trim()).ok(),
    }
}

/// What one scheme extracted from the headers: the bytes that were signed, the candidate
/// signatures, and the signed timestamp to check.
struct Presented {
    signed: Vec<u8>,
    signatures: Vec<Vec<u8>>,
    timestamp: Option<String>,
    delivery_id: Option<String>,
}

/// Checks a request's signature against each active secret. `header` looks a header up by
/// its lowercase name; `body` is the raw body as received; `now` is Unix seconds.
pub fn verify<'h>(
    options: &VerifyOptions,
    secrets: &[SigningSecret],
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    now: i64,
) -> Result<Verified, SignatureError> {
    let required = |name: &str| -> Result<&'h str, SignatureError> {
        let lower = name.to_ascii_lowercase();
        header(&lower)
            .filter(|v| !v.is_empty())
            .ok_or(SignatureError::Missing(lower))
    };
    let with = |prefix: &[u8], suffix: &[u8]| {
        let mut out = Vec::with_capacity(prefix.len() + body.len() + suffix.len());
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
        out.extend_from_slice(suffix);
        out
    };
    let (algorithm, presented) = match options.scheme {
        Scheme::Github => {
            let value = required("x-hub-signature-256")?;
            let sig = value
                .strip_prefix("sha256=")
                .and_then(|h| decode(Encoding::Hex, h));
            (
                Algorithm::Sha256,
                Presented {
                    signed: body.to_vec(),
                    signatures: sig.into_iter().collect(),
                    timestamp: None,
                    delivery_id: None,
                },
            )
        }
        Scheme::Stripe => {
            let value = required("stripe-signature")?;
            let mut timestamp = None;
            let mut signatures = Vec::new();
            for part in value.split(',') {
                match part.trim().split_once('=') {
                    Some(("t", t)) => timestamp = Some(t.to_owned()),
                    Some(("v1", s)) => signatures.extend(decode(Encoding::Hex, s)),
                    _ => {}
                }
            }
            let timestamp = timestamp.ok_or(SignatureError::Invalid)?;
            (
                Algorithm::Sha256,
                Presented {
                    signed: with(format!("{timestamp}.").as_bytes(), b""),
                    signatures,
                    timestamp: Some(timestamp),
                    delivery_id: None,
                },
            )
        }
        Scheme::Slack => {
            let value = required("x-slack-signature")?;
            let timestamp = required("x-slack-request-timestamp")?;
            let sig = value
                .strip_prefix("v0=")
                .and_then(|h| decode(Encoding::Hex, h));
            (
                Algorithm::Sha256,
                Presented {
                    signed: with(format!("v0:{timestamp}:").as_bytes(), b""),
                    signatures: sig.into_iter().collect(),
                    timestamp: Some(timestamp.to_owned()),
                    delivery_id: None,
                },
            )
        }
        Scheme::Shopify => {
            let value = required("x-shopify-hmac-sha256")?;
            (
                Algorithm::Sha256,
                Presented {
                    signed: body.to_vec(),
                    signatures: decode(Encoding::Base64, value).into_iter().collect(),
                    timestamp: None,
                    delivery_id: None,
                },
            )
        }
        Scheme::StandardWebhooks => {
            let id = required("webhook-id")?;
            let timestamp = required("webhook-timestamp")?;
            let value = required("webhook-signature")?;
            // Space-separated `version,base64` entries; only v1 (HMAC-SHA256) is defined for
            // symmetric keys, so other versions are skipped rather than refused.
            let signatures = value
                .split(' ')
                .filter_map(|entry| entry.strip_prefix("v1,"))
                .filter_map(|s| decode(Encoding::Base64, s))
                .collect();
            (
                Algorithm::Sha256,
                Presented {
                    signed: with(format!("{id}.{timestamp}.").as_bytes(), b""),
                    signatures,
                    timestamp: Some(timestamp.to_owned()),
                    delivery_id: Some(id.to_owned()),
                },
            )
        }
        Scheme::Hmac => {
            let header_name = options.header.as_deref().unwrap_or_default();
            let value = required(header_name)?;
            let timestamp = options
                .timestamp_header
                .as_deref()
                .map(required)
                .transpose()?;
            let prefix = options.prefix.as_deref().unwrap_or_default();
            let sig = value
                .strip_prefix(prefix)
                .and_then(|s| decode(options.encoding.unwrap_or_default(), s));
            // Validation guarantees exactly one {body}; the timestamp is substituted in the
            // text around it, never inside the body.
            let template = options.template();
            let (before, after) = template.split_once("{body}").unwrap_or((template, ""));
            let ts = timestamp.unwrap_or_default();
            let signed = with(
                before.replace("{timestamp}", ts).as_bytes(),
                after.replace("{timestamp}", ts).as_bytes(),
            );
            (
                options.algorithm.unwrap_or_default(),
                Presented {
                    signed,
                    signatures: sig.into_iter().collect(),
                    timestamp: timestamp.map(str::to_owned),
                    delivery_id: None,
                },
            )
        }
    };

    // The signature is checked before the time, so a tampered timestamp reads as an invalid
    // signature and only an authentic but old request reads as stale.
    let matched = secrets.iter().any(|secret| {
        let Some(key) = key_bytes(options.scheme, secret.value.expose()) else {
            return false;
        };
        let key = hmac::Key::new(algorithm.hmac(), &key);
        // Constant-time comparison, over every candidate signature.
        presented
            .signatures
            .iter()
            .any(|sig| hmac::verify(&key, &presented.signed, sig).is_ok())
    });
    if !matched {
        return Err(SignatureError::Invalid);
    }
    if let Some(ts) = &presented.timestamp {
        let tolerance = options.tolerance();
        let signed_at: i64 = ts.trim().parse().map_err(|_| SignatureError::Invalid)?;
        if now.abs_diff(signed_at) > tolerance {
            return Err(SignatureError::Stale { tolerance });
        }
    }
    Ok(Verified {
        delivery_id: presented.delivery_id,
    })
}

/// A signing secret's value. It is stored (HMAC needs it) but never shown after it is set:
/// `Debug` is redacted so a stray `{:?}` in a log line cannot print it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// Only for signing checks and for showing a generated value once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// First 8 hex digits of the value's SHA-256: enough to tell secrets apart and to match
    /// one against the provider's dashboard, useless for recovering it.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

pub fn fingerprint(value: &str) -> String {
    hex::encode(&Sha256::digest(value.as_bytes())[..4])
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    pub value: SecretValue,
    pub fingerprint: String,
    pub added_at: DateTime<Utc>,
}

impl SigningSecret {
    pub fn new(value: SecretValue, now: DateTime<Utc>) -> Self {
        Self {
            fingerprint: value.fingerprint(),
            value,
            added_at: now,
        }
    }
}

/// A workflow's active signing secrets, oldest first: a record of its own, apart from the
/// workflow's readable fields, so listing or showing a workflow never loads a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowSecrets {
    pub workflow_id: WorkflowId,
    pub secrets: Vec<SigningSecret>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    #[error(
        "two secrets are active already; retire the older one first (`workflows secret retire`)"
    )]
    Full,
    #[error("only one secret is active; set or rotate before retiring")]
    NothingToRetire,
    #[error("that secret is active already")]
    Duplicate,
}

impl WorkflowSecrets {
    pub fn empty(workflow_id: WorkflowId) -> Self {
        Self {
            workflow_id,
            secrets: Vec::new(),
        }
    }

    /// Replaces every secret with this one.
    pub fn set(&mut self, value: SecretValue, now: DateTime<Utc>) {
        self.secrets = vec![SigningSecret::new(value, now)];
    }

    /// Adds a new current secret; the older one stays valid until retired.
    pub fn rotate(&mut self, value: SecretValue, now: DateTime<Utc>) -> Result<(), RotationError> {
        if self.secrets.len() >= MAX_ACTIVE_SECRETS {
            return Err(RotationError::Full);
        }
        if self.secrets.iter().any(|s| s.value == value) {
            return Err(RotationError::Duplicate);
        }
        self.secrets.push(SigningSecret::new(value, now));
        Ok(())
    }

    /// Drops the oldest secret, ending a rotation's overlap.
    pub fn retire(&mut self) -> Result<SigningSecret, RotationError> {
        if self.secrets.len() < 2 {
            return Err(RotationError::NothingToRetire);
        }
        Ok(self.secrets.remove(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn secrets(values: &[&str]) -> Vec<SigningSecret> {
        values
            .iter()
            .map(|v| SigningSecret::new(SecretValue::new((*v).into()), Utc::now()))
            .collect()
    }

    fn check(
        options: &VerifyOptions,
        secret: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        now: i64,
    ) -> Result<Verified, SignatureError> {
        let map: HashMap<String, &str> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect();
        verify(
            options,
            &secrets(&[secret]),
            |n| map.get(n).copied(),
            body,
            now,
        )
    }

    const T: i64 = 1_700_000_000;

    // GitHub's documented example ("Validating webhook deliveries").
    #[test]
    fn github_known_answer_and_tampering() {
        let o = VerifyOptions::preset(Scheme::Github);
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let secret = "It's a Secret to Everybody";
        let h = [("X-Hub-Signature-256", sig)];
        assert!(check(&o, secret, &h, b"Hello, World!", T).is_ok());
        assert_eq!(
            check(&o, secret, &h, b"Hello, World?", T),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            check(&o, "other", &h, b"Hello, World!", T),
            Err(SignatureError::Invalid)
        );
        let unprefixed = [("X-Hub-Signature-256", &sig[7..])];
        assert_eq!(
            check(&o, secret, &unprefixed, b"Hello, World!", T),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            check(&o, secret, &[], b"Hello, World!", T),
            Err(SignatureError::Missing("x-hub-signature-256".into()))
        );
    }

    // Stripe publishes the scheme, not a vector with its secret; generated independently:
    // python3 -c 'import hmac,hashlib;print(hmac.new(b"whsec_test_secret",b"1700000000."+b"{\"id\":\"evt_1\",\"object\":\"event\"}",hashlib.sha256).hexdigest())'
    const STRIPE_SIG: &str = "0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd";
    const STRIPE_BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;

    #[test]
    fn stripe_known_answer_tampering_and_tolerance() {
        let o = VerifyOptions::preset(Scheme::Stripe);
        let s = "whsec_test_secret";
        let good = format!("t={T},v1=00ff,v1={STRIPE_SIG},v0=abcd");
        let h = [("Stripe-Signature", good.as_str())];
        assert!(check(&o, s, &h, STRIPE_BODY, T + 10).is_ok());
        assert_eq!(
            check(&o, s, &h, br#"{"id":"evt_2","object":"event"}"#, T),
            Err(SignatureError::Invalid)
        );
        let moved = format!("t={},v1={STRIPE_SIG}", T + 1);
        assert_eq!(
            check(&o, s, &[("Stripe-Signature", &moved)], STRIPE_BODY, T),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            check(&o, s, &h, STRIPE_BODY, T + 301),
            Err(SignatureError::Stale { tolerance: 300 })
        );
        assert_eq!(
            check(&o, s, &h, STRIPE_BODY, T - 301),
            Err(SignatureError::Stale { tolerance: 300 })
        );
        let wide = VerifyOptions {
            tolerance_seconds: Some(600),
            ..o.clone()
        };
        assert!(check(&wide, s, &h, STRIPE_BODY, T + 599).is_ok());
        let no_t = format!("v1={STRIPE_SIG}");
        assert_eq!(
            check(&o, s, &[("Stripe-Signature", &no_t)], STRIPE_BODY, T),
            Err(SignatureError::Invalid)
        );
    }

    // Generated independently:
    // python3 -c 'import hmac,hashlib;print(hmac.new(b"8f742231b10e8888abcd99yyyzzz85a5",b"v0:1700000000:token=abc&text=hello",hashlib.sha256).hexdigest())'
    #[test]
    fn only_a_slack_url_verification_is_a_challenge() {
        let slack = VerifyOptions::preset(Scheme::Slack);
        let body = br#"{"token":"t","challenge":"3eZbrw1aB","type":"url_verification"}"#;
        assert_eq!(
            slack_url_challenge(&slack, body).as_deref(),
            Some("3eZbrw1aB")
        );
        let event = br#"{"type":"event_callback","challenge":"x"}"#;
        assert_eq!(slack_url_challenge(&slack, event), None);
        let github = VerifyOptions::preset(Scheme::Github);
        assert_eq!(slack_url_challenge(&github, body), None);
        assert_eq!(slack_url_challenge(&slack, b"not json"), None);
    }

    #[test]
    fn slack_known_answer_tampering_and_tolerance() {
        let o = VerifyOptions::preset(Scheme::Slack);
        let s = "8f742231b10e8888abcd99yyyzzz85a5";
        let sig = "v0=d3169c69e16457e2fea2f51f9e142e5909a365e015d35351b452b4581e63fe39";
        let ts = T.to_string();
        let h = [
            ("X-Slack-Signature", sig),
            ("X-Slack-Request-Timestamp", ts.as_str()),
        ];
        let body = b"token=abc&text=hello";
        assert!(check(&o, s, &h, body, T).is_ok());
        assert_eq!(
            check(&o, s, &h, b"token=abc&text=hellO", T),
            Err(SignatureError::Invalid)
        );
        let later = (T + 1).to_string();
        let moved = [
            ("X-Slack-Signature", sig),
            ("X-Slack-Request-Timestamp", later.as_str()),
        ];
        assert_eq!(check(&o, s, &moved, body, T), Err(SignatureError::Invalid));
        assert_eq!(
            check(&o, s, &h, body, T + 3600),
            Err(SignatureError::Stale { tolerance: 300 })
        );
        assert_eq!(
            check(&o, s, &h[..1], body, T),
            Err(SignatureError::Missing("x-slack-request-timestamp".into()))
        );
    }

    // Generated independently:
    // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b"shpss_test_secret",b"{\"id\":820982911946154508}",hashlib.sha256).digest()).decode())'
    #[test]
    fn shopify_known_answer_and_tampering() {
        let o = VerifyOptions::preset(Scheme::Shopify);
        let s = "shpss_test_secret";
        let h = [(
            "X-Shopify-Hmac-Sha256",
            "AU5n5C4JV1EbE8g4yEzV+ZHbqkXpM29HXkzNAa5zicA=",
        )];
        assert!(check(&o, s, &h, br#"{"id":820982911946154508}"#, T).is_ok());
        assert_eq!(
            check(&o, s, &h, br#"{"id":820982911946154509}"#, T),
            Err(SignatureError::Invalid)
        );
        let garbage = [("X-Shopify-Hmac-Sha256", "not base64!")];
        assert_eq!(
            check(&o, s, &garbage, br#"{"id":820982911946154508}"#, T),
            Err(SignatureError::Invalid)
        );
    }

    // The test vector of the Standard Webhooks spec repository (its libraries' tests).
    #[test]
    fn standard_webhooks_published_vector_tampering_and_delivery_id() {
        let o = VerifyOptions::preset(Scheme::StandardWebhooks);
        let s = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ts = "1614265330";
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let h = [
            ("webhook-id", id),
            ("webhook-timestamp", ts),
            ("webhook-signature", sig),
        ];
        let now = 1_614_265_330;
        assert_eq!(
            check(&o, s, &h, body, now).unwrap().delivery_id.as_deref(),
            Some(id)
        );
        // Several signatures, space separated, any one matching.
        let many = format!("v1,Zm9v v2,abc {sig}");
        let h2 = [
            ("webhook-id", id),
            ("webhook-timestamp", ts),
            ("webhook-signature", many.as_str()),
        ];
        assert!(check(&o, s, &h2, body, now).is_ok());
        assert_eq!(
            check(&o, s, &h, br#"{"test": 2432232315}"#, now),
            Err(SignatureError::Invalid)
        );
        let other_id = [
            ("webhook-id", "msg_x"),
            ("webhook-timestamp", ts),
            ("webhook-signature", sig),
        ];
        assert_eq!(
            check(&o, s, &other_id, body, now),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            check(&o, s, &h, body, now + 301),
            Err(SignatureError::Stale { tolerance: 300 })
        );
        // A secret that is not `whsec_` base64 verifies nothing and is refused when set.
        assert_eq!(
            check(&o, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &h, body, now),
            Err(SignatureError::Invalid)
        );
        assert!(o.check_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(o.check_secret(s).is_ok());
        assert!(o.check_secret(o.generate_secret().expose()).is_ok());
    }

    // Generated independently:
    // python3 -c 'import hmac,hashlib;print(hmac.new(b"custom-secret",b"hello",hashlib.sha1).hexdigest())'
    // python3 -c 'import hmac,hashlib,base64;print(base64.b64encode(hmac.new(b"custom-secret",b"1700000000.hello",hashlib.sha512).digest()).decode())'
    #[test]
    fn custom_hmac_known_answers() {
        let sha1 = VerifyOptions {
            header: Some("X-Signature".into()),
            algorithm: Some(Algorithm::Sha1),
            prefix: Some("sha1=".into()),
            ..VerifyOptions::preset(Scheme::Hmac)
        };
        sha1.validate().unwrap();
        let h = [(
            "x-signature",
            "sha1=29407063e7db49d7cce380c0a37e07872e177b61",
        )];
        assert!(check(&sha1, "custom-secret", &h, b"hello", T).is_ok());
        assert_eq!(
            check(&sha1, "custom-secret", &h, b"hellO", T),
            Err(SignatureError::Invalid)
        );

        let sha512 = VerifyOptions {
            header: Some("X-Sig".into()),
            algorithm: Some(Algorithm::Sha512),
            encoding: Some(Encoding::Base64),
            timestamp_header: Some("X-Sig-Time".into()),
            ..VerifyOptions::preset(Scheme::Hmac)
        };
        sha512.validate().unwrap();
        let sig = "7pcsGoi+XMUgaIdaz8aQnVxP/nkUTc/cKEpsfD/xwBYdXc6AIfjtXzUZY+XBq6Yq/um/C26LEtoc0HdsP175Nw==";
        let ts = T.to_string();
        let h = [("x-sig", sig), ("x-sig-time", ts.as_str())];
        assert!(check(&sha512, "custom-secret", &h, b"hello", T).is_ok());
        assert_eq!(
            check(&sha512, "custom-secret", &h, b"hello", T + 301),
            Err(SignatureError::Stale { tolerance: 300 })
        );
        assert_eq!(
            check(&sha512, "custom-secret", &h[..1], b"hello", T),
            Err(SignatureError::Missing("x-sig-time".into()))
        );
        // The same signature as an explicit template.
        let explicit = VerifyOptions {
            signed_content: Some("{timestamp}.{body}".into()),
            ..sha512.clone()
        };
        assert!(check(&explicit, "custom-secret", &h, b"hello", T).is_ok());
    }

    #[test]
    fn either_active_secret_verifies_and_a_retired_one_does_not() {
        let o = VerifyOptions::preset(Scheme::Github);
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let lookup = |n: &str| (n == "x-hub-signature-256").then_some(sig);
        let mut stored = WorkflowSecrets::empty(WorkflowId::parse("wf").unwrap());
        stored.set(
            SecretValue::new("It's a Secret to Everybody".into()),
            Utc::now(),
        );
        stored
            .rotate(SecretValue::new("the new one".into()), Utc::now())
            .unwrap();
        assert!(verify(&o, &stored.secrets, lookup, b"Hello, World!", T).is_ok());
        assert_eq!(
            stored.rotate(SecretValue::new("third".into()), Utc::now()),
            Err(RotationError::Full)
        );
        stored.retire().unwrap();
        assert_eq!(
            verify(&o, &stored.secrets, lookup, b"Hello, World!", T),
            Err(SignatureError::Invalid)
        );
        assert_eq!(stored.retire().unwrap_err(), RotationError::NothingToRetire);
        assert_eq!(
            verify(&o, &[], lookup, b"Hello, World!", T),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn options_are_validated() {
        let preset_with_header = VerifyOptions {
            header: Some("X".into()),
            ..VerifyOptions::preset(Scheme::Github)
        };
        assert_eq!(
            preset_with_header.validate().unwrap_err().field,
            "verify.header"
        );
        assert!(VerifyOptions::preset(Scheme::Hmac).validate().is_err());
        let two_bodies = VerifyOptions {
            header: Some("X".into()),
            signed_content: Some("{body}{body}".into()),
            ..VerifyOptions::preset(Scheme::Hmac)
        };
        assert_eq!(
            two_bodies.validate().unwrap_err().field,
            "verify.signed_content"
        );
        let bad_header = VerifyOptions {
            header: Some("X Sig".into()),
            ..VerifyOptions::preset(Scheme::Hmac)
        };
        assert!(bad_header.validate().is_err());
        let zero = VerifyOptions {
            tolerance_seconds: Some(0),
            ..VerifyOptions::preset(Scheme::Stripe)
        };
        assert!(zero.validate().is_err());
    }

    #[test]
    fn secrets_never_show_in_debug_or_fingerprint() {
        let value = SecretValue::new("s3cr3t-value".into());
        let secret = SigningSecret::new(value.clone(), Utc::now());
        assert!(!format!("{secret:?}").contains("s3cr3t"));
        assert_eq!(secret.fingerprint.len(), 8);
        assert_eq!(secret.fingerprint, value.fingerprint());
        assert!(!"s3cr3t-value".contains(&secret.fingerprint));
    }
}
