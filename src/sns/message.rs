//! The SNS HTTP(S) delivery envelope, read once and kept exactly as received.
//!
//! The signature covers the decoded JSON string values byte for byte, so every signed
//! field is kept as serde_json decoded it (the body's own text when it has no escapes) and
//! never re-rendered (a `Timestamp` of `...:00Z` must not come back as `...:00.000Z`).

use std::fmt;

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::SnsError;
use super::topic_arn::TopicArn;

/// The three envelopes SNS delivers to HTTP(S) endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// A published message.
    Notification,
    /// Sent once when the subscription is created; must be confirmed via `SubscribeURL`.
    SubscriptionConfirmation,
    /// Sent when the subscription is deleted.
    UnsubscribeConfirmation,
}

impl MessageType {
    /// The spelling SNS uses in `Type` and `x-amz-sns-message-type`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Notification => "Notification",
            MessageType::SubscriptionConfirmation => "SubscriptionConfirmation",
            MessageType::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }

    fn from_wire(raw: &str) -> Option<MessageType> {
        match raw {
            "Notification" => Some(MessageType::Notification),
            "SubscriptionConfirmation" => Some(MessageType::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Some(MessageType::UnsubscribeConfirmation),
            _ => None,
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the `x-amz-sns-rawdelivery` header says the body is the bare message.
///
/// Raw delivery strips the envelope and with it the signature, so such a request can never
/// be trusted; the caller answers [`SnsError::RawDelivery`].
pub fn is_raw_delivery(header_value: Option<&str>) -> bool {
    header_value.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// A parsed SNS envelope, borrowing from the body it was read from. Every field holds the
/// value as received.
///
/// A field is a copy only when its JSON text has escapes to undo (a JSON `Message` does):
/// the others point into the body, so reading a notification allocates little besides the
/// topic ARN. [`SnsMessage::into_owned`] detaches one from its body.
///
/// Fields that SNS does not sign for the message's type (`Subject` on confirmations,
/// `Token`/`SubscribeURL` on notifications) are dropped at parse time so no caller can
/// act on them. `Debug` redacts the confirmation token.
#[derive(Clone, PartialEq)]
pub struct SnsMessage<'a> {
    pub(super) message_type: MessageType,
    pub(super) message_id: Cow<'a, str>,
    pub(super) topic_arn: TopicArn,
    pub(super) subject: Option<Cow<'a, str>>,
    pub(super) message: Cow<'a, str>,
    pub(super) timestamp_raw: Cow<'a, str>,
    pub(super) timestamp: DateTime<Utc>,
    pub(super) signature_version: Cow<'a, str>,
    pub(super) signature: Cow<'a, str>,
    pub(super) signing_cert_url: Cow<'a, str>,
    pub(super) subscribe_url: Option<Cow<'a, str>>,
    pub(super) token: Option<Cow<'a, str>>,
    pub(super) unsubscribe_url: Option<Cow<'a, str>>,
    /// Unsigned and rarely read, so kept as its JSON text and parsed when asked for.
    pub(super) message_attributes: Option<Cow<'a, str>>,
}

/// The JSON as SNS sends it. A derived struct refuses duplicate keys, which closes the
/// door on "which of the two `Message`s was signed?" games.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "Type", borrow)]
    type_: Option<Text<'a>>,
    #[serde(rename = "MessageId", borrow)]
    message_id: Option<Text<'a>>,
    #[serde(rename = "TopicArn", borrow)]
    topic_arn: Option<Text<'a>>,
    #[serde(rename = "Subject", borrow)]
    subject: Option<Text<'a>>,
    #[serde(rename = "Message", borrow)]
    message: Option<Text<'a>>,
    #[serde(rename = "Timestamp", borrow)]
    timestamp: Option<Text<'a>>,
    #[serde(rename = "SignatureVersion", borrow)]
    signature_version: Option<Text<'a>>,
    #[serde(rename = "Signature", borrow)]
    signature: Option<Text<'a>>,
    #[serde(rename = "SigningCertURL", borrow)]
    signing_cert_url: Option<Text<'a>>,
    #[serde(rename = "SubscribeURL", borrow)]
    subscribe_url: Option<Text<'a>>,
    #[serde(rename = "Token", borrow)]
    token: Option<Text<'a>>,
    #[serde(rename = "UnsubscribeURL", borrow)]
    unsubscribe_url: Option<Text<'a>>,
    #[serde(rename = "MessageAttributes", borrow)]
    message_attributes: Option<&'a RawValue>,
}

/// A JSON string borrowed from the body when it has no escapes. serde borrows a `Cow` only
/// when it is a field of its own, not inside an `Option`, hence the wrapper.
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

fn text(value: Option<Text<'_>>) -> Option<Cow<'_, str>> {
    value.map(|Text(text)| text)
}

fn required<'a>(
    value: Option<Text<'a>>,
    field: &str,
    kind: &str,
) -> Result<Cow<'a, str>, SnsError> {
    text(value)
        .ok_or_else(|| SnsError::malformed(format!("{kind} is missing the required field {field}")))
}

impl<'a> SnsMessage<'a> {
    /// Reads an SNS delivery body, whatever its Content-Type (SNS sends `text/plain`).
    ///
    /// `header_type` is `x-amz-sns-message-type`; when present it must name the same type
    /// as the body, so a router that dispatches on the header cannot be fooled by the body.
    pub fn parse(body: &'a str, header_type: Option<&str>) -> Result<SnsMessage<'a>, SnsError> {
        let parsed = SnsMessage::parse_inner(body, header_type);
        if let Err(error) = &parsed {
            tracing::warn!(%error, body_len = body.len(), "SNS body refused");
        }
        parsed
    }

    fn parse_inner(body: &'a str, header_type: Option<&str>) -> Result<SnsMessage<'a>, SnsError> {
        let wire: Wire = serde_json::from_str(body)
            .map_err(|e| SnsError::malformed(format!("body is not an SNS JSON envelope: {e}")))?;
        let type_raw = text(wire.type_).ok_or_else(|| {
            SnsError::malformed("the SNS message is missing the required field Type")
        })?;
        let message_type = MessageType::from_wire(&type_raw).ok_or_else(|| {
            SnsError::malformed(format!(
                "Type must be Notification, SubscriptionConfirmation or UnsubscribeConfirmation, got {:?}",
                truncate(&type_raw, 40)
            ))
        })?;
        if let Some(header) = header_type
            && header != type_raw
        {
            return Err(SnsError::malformed(format!(
                "x-amz-sns-message-type header {:?} does not match the body's Type {type_raw}",
                truncate(header, 40)
            )));
        }
        let kind = message_type.as_str();
        let message_id = required(wire.message_id, "MessageId", kind)?;
        let topic_arn_raw = required(wire.topic_arn, "TopicArn", kind)?;
        let message = required(wire.message, "Message", kind)?;
        let timestamp_raw = required(wire.timestamp, "Timestamp", kind)?;
        let signature_version = required(wire.signature_version, "SignatureVersion", kind)?;
        let signature = required(wire.signature, "Signature", kind)?;
        let signing_cert_url = required(wire.signing_cert_url, "SigningCertURL", kind)?;
        let (subject, subscribe_url, token) = match message_type {
            MessageType::Notification => (text(wire.subject), None, None),
            MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => (
                None,
                Some(required(wire.subscribe_url, "SubscribeURL", kind)?),
                Some(required(wire.token, "Token", kind)?),
            ),
        };
        let topic_arn = TopicArn::parse(&topic_arn_raw)?;
        let timestamp = DateTime::parse_from_rfc3339(&timestamp_raw)
            .map_err(|_| {
                SnsError::malformed(format!(
                    "Timestamp {:?} is not an ISO 8601 / RFC 3339 time",
                    truncate(&timestamp_raw, 40)
                ))
            })?
            .with_timezone(&Utc);
        Ok(SnsMessage {
            message_type,
            message_id,
            topic_arn,
            subject,
            message,
            timestamp_raw,
            timestamp,
            signature_version,
            signature,
            signing_cert_url,
            subscribe_url,
            token,
            unsubscribe_url: text(wire.unsubscribe_url),
            message_attributes: wire.message_attributes.map(|raw| Cow::Borrowed(raw.get())),
        })
    }

    /// This message with every field its own, no longer tied to the body it was read from.
    pub fn into_owned(self) -> SnsMessage<'static> {
        fn own(text: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(text.into_owned())
        }
        SnsMessage {
            message_type: self.message_type,
            message_id: own(self.message_id),
            topic_arn: self.topic_arn,
            subject: self.subject.map(own),
            message: own(self.message),
            timestamp_raw: own(self.timestamp_raw),
            timestamp: self.timestamp,
            signature_version: own(self.signature_version),
            signature: own(self.signature),
            signing_cert_url: own(self.signing_cert_url),
            subscribe_url: self.subscribe_url.map(own),
            token: self.token.map(own),
            unsubscribe_url: self.unsubscribe_url.map(own),
            message_attributes: self.message_attributes.map(own),
        }
    }

    /// Which of the three envelopes this is.
    pub fn message_type(&self) -> MessageType {
        self.message_type
    }

    /// `MessageId`, the key SNS retries share (the caller deduplicates on it).
    pub fn message_id(&self) -> &str {
        &self.message_id
    }

    /// `TopicArn`, parsed.
    pub fn topic_arn(&self) -> &TopicArn {
        &self.topic_arn
    }

    /// The region of the topic, which pins every host we fetch from.
    pub fn region(&self) -> &str {
        self.topic_arn.region()
    }

    /// `Subject`, only on notifications (SNS signs it only there).
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// `Message`, as received (the caller decides whether it is JSON).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// `Timestamp`, parsed; the raw text stays what is signed.
    pub fn timestamp(&self) -> DateTime<Utc> {
        self.timestamp
    }

    /// `Timestamp` exactly as received.
    pub fn timestamp_raw(&self) -> &str {
        &self.timestamp_raw
    }

    /// `SignatureVersion` as received (unsigned: only used to pick the algorithm).
    pub fn signature_version(&self) -> &str {
        &self.signature_version
    }

    /// `SigningCertURL` as received (unsigned: trusted only after the host rules pass).
    pub fn signing_cert_url(&self) -> &str {
        &self.signing_cert_url
    }

    /// `SubscribeURL`, only on confirmations. Contains the token: do not log it.
    pub fn subscribe_url(&self) -> Option<&str> {
        self.subscribe_url.as_deref()
    }

    /// `UnsubscribeURL`, informational only: it is not signed.
    pub fn unsubscribe_url(&self) -> Option<&str> {
        self.unsubscribe_url.as_deref()
    }

    /// `MessageAttributes`, informational only: they are not signed. Parsed on each call from
    /// the JSON text checked when the message was read, which a `serde_json::Value` may still
    /// refuse: a number out of range (`1e400`), a lone UTF-16 surrogate escape, nesting deeper
    /// than 128 levels. Those give `None`: unsigned data is dropped, not refused.
    pub fn message_attributes(&self) -> Option<serde_json::Value> {
        self.message_attributes
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw).ok())
    }
}

impl fmt::Debug for SnsMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnsMessage")
            .field("type", &self.message_type)
            .field("message_id", &self.message_id)
            .field("topic_arn", &self.topic_arn.as_str())
            .field("subject", &self.subject)
            .field("message_len", &self.message.len())
            .field("timestamp", &self.timestamp_raw)
            .field("signature_version", &self.signature_version)
            .field("signing_cert_url", &self.signing_cert_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Keeps attacker-chosen text in error messages short.
pub(super) fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
pub(super) mod fixtures {
    /// A notification shaped like the examples in the SNS developer guide.
    pub fn notification(subject: Option<&str>) -> String {
        let mut v = serde_json::json!({
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
            "Message": "Hello world!",
            "Timestamp": "2026-11-23T10:00:00.655Z",
            "SignatureVersion": "1",
            "Signature": "AAAA",
            "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
            "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0"
        });
        if let Some(s) = subject {
            v["Subject"] = s.into();
        }
        v.to_string()
    }

    /// A confirmation (`SubscriptionConfirmation` or `UnsubscribeConfirmation`).
    pub fn confirmation(kind: &str) -> String {
        serde_json::json!({
            "Type": kind,
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
            "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
            "Message": "You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:MyTopic.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
            "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
            "Timestamp": "2026-11-23T10:00:00Z",
            "SignatureVersion": "2",
            "Signature": "AAAA",
            "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
        })
        .to_string()
    }

    /// `body` with one top-level field removed.
    pub fn without(body: &str, field: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
        v.as_object_mut().unwrap().remove(field);
        v.to_string()
    }

    /// `body` with one top-level field set.
    pub fn with(body: &str, field: &str, value: serde_json::Value) -> String {
        let mut v: serde_json::Value = serde_json::from_str(body).unwrap();
        v[field] = value;
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn notification_keeps_every_field_as_received() {
        let body = with(
            &notification(Some("Hi")),
            "Timestamp",
            "2026-11-23T10:00:00Z".into(),
        );
        let msg = SnsMessage::parse(&body, Some("Notification")).unwrap();
        assert_eq!(msg.message_type(), MessageType::Notification);
        assert_eq!(msg.message(), "Hello world!");
        assert_eq!(msg.subject(), Some("Hi"));
        assert_eq!(msg.timestamp_raw(), "2026-11-23T10:00:00Z");
        assert_eq!(msg.timestamp().to_rfc3339(), "2026-11-23T10:00:00+00:00");
        assert_eq!(msg.region(), "us-west-2");
        assert_eq!(msg.subscribe_url(), None);
    }

    #[test]
    fn fields_point_into_the_body_unless_their_text_has_escapes() {
        let body = with(&notification(None), "Message", "{\"a\":1}".into());
        let msg = SnsMessage::parse(&body, None).unwrap();
        assert!(matches!(msg.message_id, Cow::Borrowed(_)));
        assert!(matches!(msg.signature, Cow::Borrowed(_)));
        // `{"a":1}` is written `"{\"a\":1}"` in the body: the value is a copy.
        assert!(matches!(msg.message, Cow::Owned(_)));
        assert_eq!(msg.message(), "{\"a\":1}");
        let owned = msg.clone().into_owned();
        assert_eq!(owned, msg);
        assert_eq!(owned.string_to_sign(), msg.string_to_sign());
    }

    #[test]
    fn message_attributes_are_kept_as_text_and_parsed_when_asked_for() {
        let attributes = serde_json::json!({"env": {"Type": "String", "Value": "prod"}});
        let body = with(&notification(None), "MessageAttributes", attributes.clone());
        let msg = SnsMessage::parse(&body, None).unwrap();
        assert_eq!(msg.message_attributes(), Some(attributes));
        assert_eq!(
            SnsMessage::parse(&notification(None), None)
                .unwrap()
                .message_attributes(),
            None
        );
        let huge = notification(None).replacen('{', "{\"MessageAttributes\":{\"a\":1e400},", 1);
        assert_eq!(
            SnsMessage::parse(&huge, None).unwrap().message_attributes(),
            None
        );
        let broken = notification(None).replacen('{', "{\"MessageAttributes\":{\"a\":},", 1);
        assert!(matches!(
            SnsMessage::parse(&broken, None),
            Err(SnsError::Malformed(_))
        ));
    }

    #[test]
    fn parse_accepts_a_missing_header() {
        assert!(SnsMessage::parse(&notification(None), None).is_ok());
    }

    #[test]
    fn header_type_must_match_body_type() {
        let err =
            SnsMessage::parse(&notification(None), Some("SubscriptionConfirmation")).unwrap_err();
        assert!(
            matches!(&err, SnsError::Malformed(m) if m.contains("does not match")),
            "{err}"
        );
        let err = SnsMessage::parse(
            &confirmation("SubscriptionConfirmation"),
            Some("Notification"),
        )
        .unwrap_err();
        assert!(matches!(err, SnsError::Malformed(_)));
        // Case matters: SNS spells it one way.
        assert!(SnsMessage::parse(&notification(None), Some("notification")).is_err());
    }

    #[test]
    fn unknown_type_is_malformed() {
        let body = with(&notification(None), "Type", "Announcement".into());
        let err = SnsMessage::parse(&body, None).unwrap_err();
        assert!(
            matches!(&err, SnsError::Malformed(m) if m.contains("Type must be")),
            "{err}"
        );
    }

    #[test]
    fn missing_required_fields_are_named() {
        let note = notification(Some("s"));
        for field in [
            "Type",
            "MessageId",
            "TopicArn",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
        ] {
            let err = SnsMessage::parse(&without(&note, field), None).unwrap_err();
            assert!(
                matches!(&err, SnsError::Malformed(m) if m.contains(field)),
                "{field}: {err}"
            );
        }
        let conf = confirmation("SubscriptionConfirmation");
        for field in ["SubscribeURL", "Token", "MessageId", "TopicArn"] {
            let err = SnsMessage::parse(&without(&conf, field), None).unwrap_err();
            assert!(
                matches!(&err, SnsError::Malformed(m) if m.contains(field)),
                "{field}: {err}"
            );
        }
        let unsub = confirmation("UnsubscribeConfirmation");
        for field in ["SubscribeURL", "Token"] {
            assert!(
                SnsMessage::parse(&without(&unsub, field), None).is_err(),
                "{field}"
            );
        }
    }

    #[test]
    fn subject_and_unsubscribe_url_are_optional_on_notifications() {
        let body = without(&notification(None), "UnsubscribeURL");
        let msg = SnsMessage::parse(&body, None).unwrap();
        assert_eq!(msg.subject(), None);
        assert_eq!(msg.unsubscribe_url(), None);
    }

    #[test]
    fn unsigned_fields_of_other_types_are_dropped() {
        let body = with(&notification(None), "Token", "t".into());
        let body = with(
            &body,
            "SubscribeURL",
            "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription".into(),
        );
        let msg = SnsMessage::parse(&body, None).unwrap();
        assert_eq!(msg.subscribe_url(), None);
        assert!(msg.token.is_none());
        let body = with(
            &confirmation("SubscriptionConfirmation"),
            "Subject",
            "unsigned".into(),
        );
        assert_eq!(SnsMessage::parse(&body, None).unwrap().subject(), None);
    }

    #[test]
    fn non_string_fields_and_non_json_are_malformed() {
        for body in [
            String::new(),
            "null".to_owned(),
            "[]".to_owned(),
            "{\"Type\":".to_owned(),
            with(&notification(None), "Message", serde_json::json!({"a": 1})),
            with(&notification(None), "Type", 1.into()),
        ] {
            assert!(
                matches!(SnsMessage::parse(&body, None), Err(SnsError::Malformed(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let body = notification(None).replacen('{', "{\"Message\":\"other\",", 1);
        assert!(matches!(
            SnsMessage::parse(&body, None),
            Err(SnsError::Malformed(_))
        ));
    }

    #[test]
    fn bad_timestamp_and_topic_arn_are_malformed() {
        let body = with(&notification(None), "Timestamp", "yesterday".into());
        assert!(
            matches!(SnsMessage::parse(&body, None), Err(SnsError::Malformed(m)) if m.contains("Timestamp"))
        );
        let body = with(
            &notification(None),
            "TopicArn",
            "arn:aws:sns:evil:1:t".into(),
        );
        assert!(
            matches!(SnsMessage::parse(&body, None), Err(SnsError::Malformed(m)) if m.contains("TopicArn"))
        );
    }

    #[test]
    fn debug_output_redacts_the_token() {
        let body = confirmation("SubscriptionConfirmation");
        let msg = SnsMessage::parse(&body, None).unwrap();
        let text = format!("{msg:?}");
        assert!(!text.contains("2336412f37"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn raw_delivery_header() {
        assert!(is_raw_delivery(Some("true")));
        assert!(is_raw_delivery(Some("True ")));
        assert!(!is_raw_delivery(Some("false")));
        assert!(!is_raw_delivery(None));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("ab", 2), "ab");
    }
}
