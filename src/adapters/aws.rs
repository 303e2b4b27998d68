//! The AWS SDK configuration shared by the Lambda functions and the CLI: region, credentials
//! and the endpoint overrides `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>` (how tests and
//! the emulator reach moto). Timeouts are bounded so that a stuck call fails the request with
//! a 5xx well inside API Gateway's 29 s instead of hanging until the function times out; the
//! SDK's standard retries (3 attempts) still apply within them.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;

/// For the CLI: the default credential chain (profiles, SSO, environment, ...).
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_loader().load().await
}

/// For `serve`, which needs AWS only if a workflow publishes to SNS: the region comes from
/// `AWS_REGION` / `AWS_DEFAULT_REGION` or defaults to us-east-1, so starting a local server
/// never asks the instance metadata service; credentials are looked up on the first publish.
pub async fn local_sdk_config() -> aws_config::SdkConfig {
    let region = aws_config::meta::region::RegionProviderChain::first_try(
        aws_config::environment::EnvironmentVariableRegionProvider::new(),
    )
    .or_else(aws_config::Region::new("us-east-1"));
    sdk_config_loader().region(region).load().await
}

/// For the functions. Lambda always hands a function its role's credentials in
/// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, so the default chain
/// (profiles, SSO, web identity via STS, ECS, IMDS) would only be built to be skipped; building
/// it costs milliseconds of every cold start (see BENCHMARKS.md).
pub async fn function_sdk_config() -> aws_config::SdkConfig {
    sdk_config_loader()
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .load()
        .await
}

fn sdk_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(5))
            .operation_timeout(Duration::from_secs(12))
            .build(),
    )
}

/// What a failed AWS call means to a step that made it: whether trying again may help, and
/// what to say. A service's answer is transient when `service_error_is_transient` says so
/// (given the error and the HTTP status); a request that could not be built never is;
/// timeouts, connection failures and unreadable answers always are. The text is the service's
/// error alone: the SDK's full context would add the raw response.
pub fn sdk_failure<E: std::error::Error + 'static>(
    error: &aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>,
    service_error_is_transient: impl FnOnce(&E, u16) -> bool,
) -> (bool, String) {
    use aws_sdk_sqs::error::{DisplayErrorContext, SdkError};
    match error {
        SdkError::ServiceError(context) => {
            let status = context.raw().status().as_u16();
            (
                service_error_is_transient(context.err(), status),
                format!("HTTP {status}: {}", DisplayErrorContext(context.err())),
            )
        }
        SdkError::ConstructionFailure(_) => (false, DisplayErrorContext(error).to_string()),
        _ => (true, DisplayErrorContext(error).to_string()),
    }
}
