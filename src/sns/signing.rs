//! What SNS signs and how: the canonical string and the two signature versions.

use aws_lc_rs::signature::{self, ParsedPublicKey};

use super::error::SnsError;
use super::message::{MessageType, SnsMessage, truncate};

/// The algorithms behind `SignatureVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureVersion {
    /// `"1"`: PKCS#1 v1.5 with SHA-1, the SNS default for topics that never opted in to 2.
    V1,
    /// `"2"`: PKCS#1 v1.5 with SHA-256.
    V2,
}

impl SignatureVersion {
    /// Reads the unsigned `SignatureVersion` field; anything but "1" or "2" is refused
    /// because we would not know which algorithm to hold the signature to.
    pub fn parse(raw: &str) -> Result<SignatureVersion, SnsError> {
        match raw {
            "1" => Ok(SignatureVersion::V1),
            "2" => Ok(SignatureVersion::V2),
            other => Err(SnsError::rejected(format!(
                "unsupported SignatureVersion {:?} (only 1 and 2 exist)",
                truncate(other, 16)
            ))),
        }
    }

    fn algorithm(self) -> &'static signature::RsaParameters {
        match self {
            SignatureVersion::V1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            SignatureVersion::V2 => &signature::RSA_PKCS1_2048_8192_SHA256,
        }
    }
}

impl SnsMessage<'_> {
    /// The canonical string SNS signs: `Name\nValue\n` for each signed field of the type,
    /// in byte order of the names, `Subject` only when the notification has one.
    pub fn string_to_sign(&self) -> String {
        let mut out = String::new();
        self.write_string_to_sign(&mut out);
        out
    }

    /// [`Self::string_to_sign`] into `out` (cleared first), so a verifier can reuse one buffer.
    fn write_string_to_sign(&self, out: &mut String) {
        // At most seven fields, in a fixed array: no allocation but `out`'s own.
        let mut fields: [(&str, &str); 7] = [("", ""); 7];
        let mut n = 0;
        let mut push = |name, value| {
            fields[n] = (name, value);
            n += 1;
        };
        push("Message", &self.message);
        push("MessageId", &self.message_id);
        match self.message_type {
            MessageType::Notification => {
                if let Some(subject) = &self.subject {
                    push("Subject", subject);
                }
                push("Timestamp", &self.timestamp_raw);
            }
            MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => {
                push(
                    "SubscribeURL",
                    self.subscribe_url.as_deref().unwrap_or_default(),
                );
                push("Timestamp", &self.timestamp_raw);
                push("Token", self.token.as_deref().unwrap_or_default());
            }
        }
        push("TopicArn", self.topic_arn.as_str());
        push("Type", self.message_type.as_str());

        let fields = &fields[..n];
        out.clear();
        out.reserve(fields.iter().map(|(n, v)| n.len() + v.len() + 2).sum());
        for (name, value) in fields {
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
            out.push('\n');
        }
    }
}

/// The longest signature decoded: an RSA-8192 one (the largest key the algorithms accept).
const MAX_SIGNATURE_BYTES: usize = 8192 / 8;

/// The largest string-to-sign buffer a thread keeps between messages.
const KEPT_STRING_TO_SIGN_BYTES: usize = 16 * 1024;

thread_local! {
    /// The string to sign of the message being verified on this thread, kept between
    /// messages so verifying one allocates nothing for it.
    static STRING_TO_SIGN: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// A signing certificate's RSA key, parsed once for each signature version when the
/// certificate is cached: parsing it again for every message (and redoing the key's
/// Montgomery setup on the fresh copy) was ~9% of the instructions of a verification with
/// the certificate cached. aws-lc binds a parsed key to one algorithm, hence two.
#[derive(Debug, Clone)]
pub(super) struct RsaVerifyingKey {
    sha1: ParsedPublicKey,
    sha256: ParsedPublicKey,
}

impl RsaVerifyingKey {
    /// From DER `RSAPublicKey` (the subject public key of an RSA certificate).
    pub(super) fn from_der(rsa_public_key_der: &[u8]) -> Result<RsaVerifyingKey, String> {
        let parse = |version: SignatureVersion| {
            ParsedPublicKey::new(version.algorithm(), rsa_public_key_der)
                .map_err(|e| format!("its RSA key does not parse ({e})"))
        };
        Ok(RsaVerifyingKey {
            sha1: parse(SignatureVersion::V1)?,
            sha256: parse(SignatureVersion::V2)?,
        })
    }

    fn for_version(&self, version: SignatureVersion) -> &ParsedPublicKey {
        match version {
            SignatureVersion::V1 => &self.sha1,
            SignatureVersion::V2 => &self.sha256,
        }
    }
}

/// Decodes the base64 `Signature` into `out`. base64-simd (already in the build through the
/// AWS SDK's smithy types) decodes a 344-character RSA-2048 signature in ~55 ns here where the
/// `base64` crate takes ~230: ~0.7% of a verification's instructions, which counts while
/// our ratio to npm sns-validator sits at the 10x target (BENCHMARKS.md).
fn decode_signature<'o>(text: &str, out: &'o mut [u8]) -> Result<&'o [u8], SnsError> {
    let invalid = |_| SnsError::rejected("Signature is not valid base64");
    let len = base64_simd::STANDARD
        .decoded_length(text.as_bytes())
        .map_err(invalid)?;
    if len > out.len() {
        return Err(SnsError::rejected(format!(
            "Signature is longer than an RSA signature can be ({MAX_SIGNATURE_BYTES} bytes)"
        )));
    }
    let decoded = base64_simd::STANDARD
        .decode(
            text.as_bytes(),
            base64_simd::Out::from_slice(&mut out[..len]),
        )
        .map_err(invalid)?;
    Ok(decoded)
}

/// Checks `Signature` over the canonical string with the certificate's RSA key.
pub(super) fn verify_signature(
    msg: &SnsMessage<'_>,
    version: SignatureVersion,
    key: &RsaVerifyingKey,
) -> Result<(), SnsError> {
    let mut sig = [0u8; MAX_SIGNATURE_BYTES];
    let signature = decode_signature(msg.signature.trim(), &mut sig)?;
    let verified = STRING_TO_SIGN.with_borrow_mut(|text| {
        msg.write_string_to_sign(text);
        let verified = key
            .for_version(version)
            .verify_sig(text.as_bytes(), signature);
        // A large message's text is not kept after it: the buffer is for the common size.
        if text.capacity() > KEPT_STRING_TO_SIGN_BYTES {
            *text = String::new();
        }
        verified
    });
    verified.map_err(|_| SnsError::rejected("signature does not match the message"))
}

#[cfg(test)]
mod tests {
    use super::super::message::fixtures::*;
    use super::*;

    fn parse(body: &str) -> SnsMessage<'static> {
        SnsMessage::parse(body, None).unwrap().into_owned()
    }

    #[test]
    fn notification_with_subject() {
        let msg = parse(&notification(Some("My First Message")));
        assert_eq!(
            msg.string_to_sign(),
            "Message\nHello world!\n\
             MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             Subject\nMy First Message\n\
             Timestamp\n2026-11-23T10:00:00.655Z\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n\
             Type\nNotification\n"
        );
    }

    #[test]
    fn notification_without_subject_omits_the_field() {
        let msg = parse(&notification(None));
        assert_eq!(
            msg.string_to_sign(),
            "Message\nHello world!\n\
             MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             Timestamp\n2026-11-23T10:00:00.655Z\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n\
             Type\nNotification\n"
        );
    }

    #[test]
    fn empty_subject_is_still_signed() {
        let msg = parse(&notification(Some("")));
        assert!(msg.string_to_sign().contains("\nSubject\n\nTimestamp\n"));
    }

    #[test]
    fn subscription_confirmation() {
        let msg = parse(&confirmation("SubscriptionConfirmation"));
        let token = msg.token.clone().unwrap();
        let expected = format!(
            "Message\nYou have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:MyTopic.\n\
             To confirm the subscription, visit the SubscribeURL included in this message.\n\
             MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n\
             SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token={token}\n\
             Timestamp\n2026-11-23T10:00:00Z\n\
             Token\n{token}\n\
             TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\n\
             Type\nSubscriptionConfirmation\n"
        );
        assert_eq!(msg.string_to_sign(), expected);
    }

    #[test]
    fn unsubscribe_confirmation_signs_the_same_fields() {
        let sub = parse(&confirmation("SubscriptionConfirmation")).string_to_sign();
        let unsub = parse(&confirmation("UnsubscribeConfirmation")).string_to_sign();
        assert_eq!(
            unsub,
            sub.replace(
                "Type\nSubscriptionConfirmation\n",
                "Type\nUnsubscribeConfirmation\n"
            )
        );
        assert!(unsub.ends_with("Type\nUnsubscribeConfirmation\n"));
    }

    #[test]
    fn unsigned_fields_do_not_enter_the_string() {
        let body = with(
            &notification(None),
            "MessageAttributes",
            serde_json::json!({"k": {"Type": "String", "Value": "v"}}),
        );
        let body = with(&body, "SignatureVersion", "2".into());
        assert_eq!(
            parse(&body).string_to_sign(),
            parse(&notification(None)).string_to_sign()
        );
    }

    #[test]
    fn escaped_newlines_and_unicode_are_signed_decoded() {
        let body = with(
            &notification(None),
            "Message",
            "line 1\nline 2 \u{e9}\u{1F600}".into(),
        );
        assert!(body.contains("\\n"), "the JSON carries the escape");
        assert!(
            parse(&body)
                .string_to_sign()
                .starts_with("Message\nline 1\nline 2 é😀\nMessageId\n")
        );
        let escaped = notification(None).replace("Hello world!", "caf\\u00e9");
        assert!(
            parse(&escaped)
                .string_to_sign()
                .starts_with("Message\ncafé\n")
        );
    }

    #[test]
    fn whole_second_timestamp_is_not_re_rendered() {
        let body = with(
            &notification(None),
            "Timestamp",
            "2026-11-23T10:00:00Z".into(),
        );
        assert!(
            parse(&body)
                .string_to_sign()
                .contains("\nTimestamp\n2026-11-23T10:00:00Z\n")
        );
    }

    #[test]
    fn signature_versions() {
        assert_eq!(SignatureVersion::parse("1").unwrap(), SignatureVersion::V1);
        assert_eq!(SignatureVersion::parse("2").unwrap(), SignatureVersion::V2);
        for bad in ["", "3", "0", " 1", "1.0", "02"] {
            assert!(
                matches!(SignatureVersion::parse(bad), Err(SnsError::Rejected(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn signatures_decode_as_standard_padded_base64_and_nothing_else() {
        use base64::Engine as _;
        let mut out = [0u8; MAX_SIGNATURE_BYTES];
        for len in [0, 1, 2, 3, 255, 256, MAX_SIGNATURE_BYTES] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
            assert_eq!(
                decode_signature(&text, &mut out).unwrap(),
                &bytes[..],
                "{len}"
            );
        }
        // A line break inside, no padding, the URL-safe alphabet, too much padding.
        for text in ["QUJD\nREVG", "QUJDRA", "QUJD-_==", "QUJDRA==="] {
            assert_eq!(
                decode_signature(text, &mut out).unwrap_err(),
                SnsError::rejected("Signature is not valid base64"),
                "{text:?}"
            );
        }
    }

    #[test]
    fn bad_base64_signature_is_rejected() {
        let body = with(&notification(None), "Signature", "***".into());
        let pem = include_bytes!("../../tests/fixtures/sns/kat-signing-cert.pem");
        let cert = super::super::SigningCertificate::from_pem(pem).unwrap();
        let err = verify_signature(&parse(&body), SignatureVersion::V1, cert.rsa_public_key())
            .unwrap_err();
        assert_eq!(err, SnsError::rejected("Signature is not valid base64"));
    }

    #[test]
    fn a_signature_longer_than_any_rsa_signature_is_rejected_and_the_longest_decodes() {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD;
        let pem = include_bytes!("../../tests/fixtures/sns/kat-signing-cert.pem");
        let cert = super::super::SigningCertificate::from_pem(pem).unwrap();
        let signed = |bytes: usize| {
            let sig = STANDARD.encode(vec![7u8; bytes]);
            verify_signature(
                &parse(&with(&notification(None), "Signature", sig.into())),
                SignatureVersion::V1,
                cert.rsa_public_key(),
            )
            .unwrap_err()
        };
        assert!(
            matches!(signed(MAX_SIGNATURE_BYTES + 1), SnsError::Rejected(why) if why.contains("longer than")),
        );
        // As long as it may be, it is held to the key (and fails there).
        assert_eq!(
            signed(MAX_SIGNATURE_BYTES),
            SnsError::rejected("signature does not match the message")
        );
    }
}
