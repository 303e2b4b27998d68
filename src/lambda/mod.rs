//! The two Lambda functions, as plain async functions so tests can call them with built
//! events: `api` (API Gateway → the same axum router as `serve`) and `worker` (an SQS batch →
//! `Worker::process` per record, with partial batch failures).
//!
//! The binaries in `src/bin/` only read the environment, build the SDK clients once per
//! execution environment (not per invocation) and call `api::run` / `worker::run`.

pub mod api;
pub mod worker;

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;

/// A setting the function cannot start without.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is not set (template.yaml sets it for the deployed functions)")]
pub struct MissingEnv(pub &'static str);

/// A required, non-empty environment variable.
pub fn env(name: &'static str) -> Result<String, MissingEnv> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(MissingEnv(name))
}

/// The SDK configuration from the usual places (region, credentials, and the endpoint overrides
/// `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_SQS`, which is how tests
/// and the emulator reach moto). Timeouts are bounded so that a stuck call fails the request
/// with a 5xx well inside API Gateway's 29 s instead of hanging until the function times out;
/// the SDK's standard retries (3 attempts) still apply within them.
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_loader().load().await
}

/// The functions' SDK configuration. Lambda always hands a function its role's credentials in
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
