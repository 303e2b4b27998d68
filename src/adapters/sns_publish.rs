//! The `sns_publish` step's transport: SNS `Publish` through the AWS SDK.

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::config::http::HttpResponse;
use aws_sdk_sns::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sns::operation::publish::PublishError as SdkPublishError;
use aws_sdk_sns::types::MessageAttributeValue;

use crate::ports::{PublishError, SnsPublishRequest, SnsPublisher};

/// Error codes SNS (and the AWS query protocol in general) uses for "slow down" and "try
/// later"; `Publish` models none of them, so they arrive unmodelled.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "RequestTimeout",
];

#[derive(Debug, Clone)]
pub struct SnsTopicPublisher {
    client: Client,
}

impl SnsTopicPublisher {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl SnsPublisher for SnsTopicPublisher {
    async fn publish(&self, request: SnsPublishRequest) -> Result<String, PublishError> {
        let mut publish = self
            .client
            .publish()
            .topic_arn(request.topic_arn)
            .message(request.message)
            .set_subject(request.subject)
            .set_message_group_id(request.message_group_id)
            .set_message_deduplication_id(request.deduplication_id);
        for attribute in request.attributes {
            let value = MessageAttributeValue::builder()
                .data_type(attribute.data_type)
                .string_value(attribute.value)
                .build()
                .map_err(|e| {
                    PublishError::Refused(format!("attribute `{}`: {e}", attribute.name))
                })?;
            publish = publish.message_attributes(attribute.name, value);
        }
        let output = publish.send().await.map_err(classify)?;
        // SNS always returns the id; without it the message may still have gone out, so this
        // is not a refusal, and a retry may publish twice (SNS delivery is at-least-once anyway).
        output
            .message_id
            .ok_or_else(|| PublishError::Unavailable("SNS returned no MessageId".to_owned()))
    }
}

fn classify(error: SdkError<SdkPublishError, HttpResponse>) -> PublishError {
    let (transient, detail) = super::aws::sdk_failure(&error, |e, status| {
        service_error_is_transient(e, Some(status))
    });
    let text = format!("SNS Publish failed: {detail}");
    if transient {
        PublishError::Unavailable(text)
    } else {
        PublishError::Refused(text)
    }
}

/// Throttling and server-side failures are worth retrying; every other answer (no such topic,
/// not authorised, bad parameter, KMS key unusable) will be the same next time.
fn service_error_is_transient(error: &SdkPublishError, status: Option<u16>) -> bool {
    error.is_internal_error_exception()
        || error.is_kms_throttling_exception()
        || error
            .code()
            .is_some_and(|code| TRANSIENT_CODES.contains(&code))
        || status.is_some_and(|s| s == 429 || s >= 500)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sns::error::ErrorMetadata;
    use aws_sdk_sns::types::error::{
        AuthorizationErrorException, InternalErrorException, InvalidParameterException,
        KmsThrottlingException, NotFoundException,
    };

    fn unmodelled(code: &str) -> SdkPublishError {
        SdkPublishError::generic(ErrorMetadata::builder().code(code).build())
    }

    #[test]
    fn refusals_are_not_transient() {
        let refused = [
            SdkPublishError::NotFoundException(NotFoundException::builder().build()),
            SdkPublishError::InvalidParameterException(
                InvalidParameterException::builder().build(),
            ),
            SdkPublishError::AuthorizationErrorException(
                AuthorizationErrorException::builder().build(),
            ),
            unmodelled("AccessDenied"),
        ];
        for error in &refused {
            assert!(!service_error_is_transient(error, Some(400)), "{error:?}");
        }
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        let transient = [
            SdkPublishError::InternalErrorException(InternalErrorException::builder().build()),
            SdkPublishError::KmsThrottlingException(KmsThrottlingException::builder().build()),
            unmodelled("Throttling"),
            unmodelled("ServiceUnavailable"),
        ];
        for error in &transient {
            assert!(service_error_is_transient(error, Some(400)), "{error:?}");
        }
        assert!(service_error_is_transient(
            &unmodelled("Whatever"),
            Some(503)
        ));
        assert!(service_error_is_transient(
            &unmodelled("Whatever"),
            Some(429)
        ));
        assert!(!service_error_is_transient(&unmodelled("Whatever"), None));
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_unavailable() {
        // A loopback port nobody listens on: the connection is refused at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let config = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .endpoint_url(format!("http://{addr}"))
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
            .build();
        let publisher = SnsTopicPublisher::new(Client::from_conf(config));
        let result = publisher
            .publish(SnsPublishRequest {
                topic_arn: "arn:aws:sns:us-east-1:123456789012:t".to_owned(),
                subject: None,
                message: "m".to_owned(),
                attributes: Vec::new(),
                message_group_id: None,
                deduplication_id: None,
            })
            .await;
        assert!(
            matches!(result, Err(PublishError::Unavailable(_))),
            "{result:?}"
        );
    }
}
