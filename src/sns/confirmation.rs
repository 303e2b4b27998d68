//! Confirming a subscription: one GET of a verified, host-pinned `SubscribeURL`.
//!
//! This is the fetch that CVE-2019-6715 and CVE-2026-32096 were about: a validator that
//! GETs whatever URL a message names is an SSRF. Here the URL must be signed (only a
//! [`VerifiedMessage`] gets this far) and must pass the same host rule as the certificate.

use super::error::SnsError;
use super::fetcher::HttpFetcher;
use super::message::MessageType;
use super::url_rules::{host_and_path, validate_subscribe_url};
use super::verifier::VerifiedMessage;

/// Largest ConfirmSubscription answer we read; the real one is under 1 KiB.
pub const MAX_CONFIRMATION_BYTES: usize = 64 * 1024;

/// Confirms the subscription of a verified `SubscriptionConfirmation` and returns the
/// `SubscriptionArn` SNS answered with.
///
/// Any failure is [`SnsError::Upstream`] (so the caller answers 5xx and SNS redelivers the
/// confirmation), except a message that is not a confirmation or whose SubscribeURL breaks
/// the host rules, which is [`SnsError::Rejected`].
pub async fn confirm_subscription(
    fetcher: &dyn HttpFetcher,
    msg: &VerifiedMessage<'_>,
) -> Result<String, SnsError> {
    let result = confirm(fetcher, msg).await;
    match &result {
        Ok(arn) => {
            tracing::info!(topic_arn = %msg.topic_arn(), subscription_arn = %arn, "confirmed SNS subscription")
        }
        Err(error) => tracing::warn!(
            topic_arn = %msg.topic_arn(),
            subscribe_url = %msg.subscribe_url().map(host_and_path).unwrap_or_default(),
            %error,
            "SNS subscription not confirmed"
        ),
    }
    result
}

async fn confirm(fetcher: &dyn HttpFetcher, msg: &VerifiedMessage<'_>) -> Result<String, SnsError> {
    if msg.message_type() != MessageType::SubscriptionConfirmation {
        return Err(SnsError::rejected(format!(
            "only a SubscriptionConfirmation can be confirmed, not a {}",
            msg.message_type()
        )));
    }
    let (Some(raw_url), Some(token)) = (msg.subscribe_url(), msg.token.as_deref()) else {
        return Err(SnsError::malformed(
            "SubscriptionConfirmation without SubscribeURL or Token",
        ));
    };
    let url = validate_subscribe_url(raw_url, msg.topic_arn(), token)?;
    let shown = host_and_path(raw_url);
    let answer = fetcher
        .get(&url, MAX_CONFIRMATION_BYTES)
        .await
        .map_err(|e| SnsError::upstream(format!("ConfirmSubscription at {shown} failed: {e}")))?;
    if !(200..=299).contains(&answer.status) {
        return Err(SnsError::upstream(format!(
            "ConfirmSubscription at {shown} answered HTTP {}",
            answer.status
        )));
    }
    let body = String::from_utf8_lossy(&answer.body);
    let arn = subscription_arn(&body).ok_or_else(|| {
        SnsError::upstream(format!(
            "ConfirmSubscription at {shown} answered without a SubscriptionArn"
        ))
    })?;
    let belongs_to_topic = arn
        .strip_prefix(msg.topic_arn().as_str())
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some_and(|id| {
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !belongs_to_topic {
        return Err(SnsError::upstream(format!(
            "ConfirmSubscription at {shown} answered a SubscriptionArn that is not of topic {}",
            msg.topic_arn()
        )));
    }
    Ok(arn.to_owned())
}

/// The text of the one `<SubscriptionArn>` element of a ConfirmSubscription answer.
///
/// A string scan is enough for this fixed, flat shape, and it has no XML-parser attack
/// surface; the caller still checks that the value is an ARN of the right topic.
pub fn subscription_arn(xml: &str) -> Option<&str> {
    const OPEN: &str = "<SubscriptionArn>";
    const CLOSE: &str = "</SubscriptionArn>";
    let start = xml.find(OPEN)? + OPEN.len();
    let len = xml[start..].find(CLOSE)?;
    let value = xml[start..start + len].trim();
    let again = xml[start + len + CLOSE.len()..].contains(OPEN);
    (!value.is_empty() && !value.contains('<') && !again).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANSWER: &str = r#"<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <ConfirmSubscriptionResult>
    <SubscriptionArn>arn:aws:sns:us-west-2:123456789012:MyTopic:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55</SubscriptionArn>
  </ConfirmSubscriptionResult>
  <ResponseMetadata>
    <RequestId>075ecce8-8dac-11e1-bf80-f781d96e5820</RequestId>
  </ResponseMetadata>
</ConfirmSubscriptionResponse>"#;

    #[test]
    fn subscription_arn_is_read_from_the_real_shape() {
        assert_eq!(
            subscription_arn(ANSWER),
            Some("arn:aws:sns:us-west-2:123456789012:MyTopic:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55")
        );
    }

    #[test]
    fn answers_without_one_clear_arn_are_refused() {
        for xml in [
            "",
            "<ErrorResponse><Error><Code>InvalidParameter</Code></Error></ErrorResponse>",
            "<SubscriptionArn></SubscriptionArn>",
            "<SubscriptionArn>arn:a",
            "<SubscriptionArn><x/></SubscriptionArn>",
            "<SubscriptionArn>a</SubscriptionArn><SubscriptionArn>b</SubscriptionArn>",
        ] {
            assert_eq!(subscription_arn(xml), None, "{xml}");
        }
    }
}
