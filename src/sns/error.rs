//! One error type for the whole SNS layer, shaped by what the HTTP answer must be.
//!
//! SNS retries on 429/5xx and gives up on other 4xx, so the variant decides whether SNS
//! tries again: a forged or broken message must not be retried, a failed certificate or
//! SubscribeURL fetch must be.

use crate::error_kind::ErrorKind;

/// Why an SNS delivery was not accepted.
///
/// Messages never carry the confirmation `Token`, the `SubscribeURL` query, nor anything
/// the caller authenticated with, so they can be logged and returned to the sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    /// The body is not an SNS message we can read (HTTP 400).
    #[error("malformed SNS message: {0}")]
    Malformed(String),
    /// The subscription has raw message delivery on, so there is no signature to check
    /// (HTTP 400).
    #[error(
        "raw message delivery is enabled on this SNS subscription; raw messages carry no \
         signature and cannot be verified: turn raw message delivery off for the subscription"
    )]
    RawDelivery,
    /// The message is not trusted: forged, stale, wrongly hosted certificate, topic not
    /// allowed, bad signature (HTTP 403, so SNS does not retry it).
    #[error("SNS message rejected: {0}")]
    Rejected(String),
    /// AWS could not be reached for the certificate or the subscription confirmation
    /// (HTTP 502, so SNS retries later).
    #[error("SNS upstream failure: {0}")]
    Upstream(String),
}

impl SnsError {
    /// The class of answer this failure needs: SNS retries 429/5xx and gives up on other 4xx,
    /// so this decides whether SNS tries again. `crate::http::error` maps it to a status.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SnsError::Malformed(_) | SnsError::RawDelivery => ErrorKind::BadRequest,
            SnsError::Rejected(_) => ErrorKind::Forbidden,
            SnsError::Upstream(_) => ErrorKind::BadGateway,
        }
    }

    /// The `error.code` the caller sees.
    pub fn code(&self) -> &'static str {
        match self {
            SnsError::Malformed(_) => "invalid_sns_message",
            SnsError::RawDelivery => "sns_raw_delivery",
            SnsError::Rejected(_) => "sns_message_rejected",
            SnsError::Upstream(_) => "sns_upstream_failed",
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Self {
        SnsError::Malformed(reason.into())
    }

    pub(crate) fn rejected(reason: impl Into<String>) -> Self {
        SnsError::Rejected(reason.into())
    }

    pub(crate) fn upstream(reason: impl Into<String>) -> Self {
        SnsError::Upstream(reason.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_variant_has_its_class() {
        assert_eq!(SnsError::malformed("x").kind(), ErrorKind::BadRequest);
        assert_eq!(SnsError::RawDelivery.kind(), ErrorKind::BadRequest);
        assert_eq!(SnsError::rejected("x").kind(), ErrorKind::Forbidden);
        assert_eq!(SnsError::upstream("x").kind(), ErrorKind::BadGateway);
    }

    #[test]
    fn raw_delivery_message_tells_the_user_what_to_do() {
        let text = SnsError::RawDelivery.to_string();
        assert!(text.contains("turn raw message delivery off"), "{text}");
    }
}
