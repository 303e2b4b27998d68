//! One error type for the whole SNS layer, shaped by what the HTTP answer must be.
//!
//! SNS retries on 429/5xx and gives up on other 4xx, so the variant decides whether SNS
//! tries again: a forged or broken message must not be retried, a failed certificate or
//! SubscribeURL fetch must be.

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

/// The class of HTTP answer an [`SnsError`] calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnsErrorKind {
    /// 400: the request itself is unusable.
    BadRequest,
    /// 403: the request is understood and refused.
    Forbidden,
    /// 502: an AWS dependency failed; retrying may succeed.
    BadGateway,
}

impl SnsErrorKind {
    /// The HTTP status code for this class.
    pub fn http_status(self) -> u16 {
        match self {
            SnsErrorKind::BadRequest => 400,
            SnsErrorKind::Forbidden => 403,
            SnsErrorKind::BadGateway => 502,
        }
    }
}

impl SnsError {
    /// Which HTTP answer this error maps to; the one place that decides it.
    pub fn kind(&self) -> SnsErrorKind {
        match self {
            SnsError::Malformed(_) | SnsError::RawDelivery => SnsErrorKind::BadRequest,
            SnsError::Rejected(_) => SnsErrorKind::Forbidden,
            SnsError::Upstream(_) => SnsErrorKind::BadGateway,
        }
    }

    /// Shorthand for `self.kind().http_status()`.
    pub fn http_status(&self) -> u16 {
        self.kind().http_status()
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
    fn each_variant_maps_to_its_http_class() {
        assert_eq!(SnsError::malformed("x").http_status(), 400);
        assert_eq!(SnsError::RawDelivery.http_status(), 400);
        assert_eq!(SnsError::rejected("x").http_status(), 403);
        assert_eq!(SnsError::upstream("x").http_status(), 502);
    }

    #[test]
    fn raw_delivery_message_tells_the_user_what_to_do() {
        let text = SnsError::RawDelivery.to_string();
        assert!(text.contains("turn raw message delivery off"), "{text}");
    }
}
