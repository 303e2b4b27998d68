//! Builds the worker's parts from the environment, once per process. Only the entry points
//! (the Lambda binaries and the CLI's `serve`) call this: it is where adapters meet ports.

use std::sync::Arc;

use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::outbound_http::GuardedHttpClient;
use crate::adapters::sns_publish::SnsTopicPublisher;
use crate::adapters::sqs::SqsQueue;
use crate::app::{App, AppDeps};
use crate::config::Config;
use crate::domain::TemplateEngine;
use crate::ports::{Store, WorkQueue};
use crate::sns::{HttpFetcher, LazyHttpsFetcher};
use crate::worker::steps::StepDeps;
use crate::worker::{Worker, WorkerDeps};

#[derive(Debug, thiserror::Error)]
#[error("cannot set up the worker: {0}")]
pub struct WiringError(String);

/// The guarded HTTP client (honouring `HTTP_STEP_ALLOW_CIDRS`), the SNS publisher on the
/// given SDK configuration, the email sender `EMAIL_TRANSPORT` names (with `EMAIL_FROM`), and
/// the template engine.
pub fn step_deps(config: &Config, sdk: &aws_config::SdkConfig) -> Result<StepDeps, WiringError> {
    let http = GuardedHttpClient::from_env().map_err(|e| WiringError(e.to_string()))?;
    let sns = SnsTopicPublisher::new(aws_sdk_sns::Client::new(sdk));
    let email = crate::adapters::email::email_sender(config.email_transport.as_ref(), sdk)
        .map_err(WiringError)?;
    Ok(StepDeps {
        http: Arc::new(http),
        sns: Arc::new(sns),
        email,
        email_from: config.email_from.clone(),
        templates: Arc::new(TemplateEngine::new()),
        callbacks: None,
        base_url: config.base_url.clone(),
    })
}

/// The SNS certificate / SubscribeURL fetcher: built on the first SNS delivery, sent to
/// `AWS_ENDPOINT_URL_SNS` when that is set (tests, local play).
pub fn sns_fetcher(config: &Config) -> Arc<dyn HttpFetcher> {
    Arc::new(LazyHttpsFetcher::with_endpoint(config.sns_endpoint.clone()))
}

/// The use cases over `store` and `queue`, with the production SNS fetcher.
pub fn app(store: Arc<dyn Store>, queue: Arc<dyn WorkQueue>, config: Config) -> App {
    let sns_fetcher = sns_fetcher(&config);
    App::new(
        AppDeps {
            store,
            queue,
            sns_fetcher,
        },
        config,
    )
}

pub fn worker(
    store: Arc<dyn Store>,
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> Result<Worker, WiringError> {
    let mut steps = step_deps(config, sdk)?;
    steps.callbacks = Some(store.clone() as Arc<dyn crate::ports::CallbackStore>);
    Ok(Worker::new(WorkerDeps {
        store,
        steps,
        lease: config.worker_lease,
        workflow_ttl: config.cache_ttl,
        budget: crate::domain::WORKER_STEP_BUDGET,
    }))
}

/// What both Lambda functions start from, built once per execution environment: the
/// configuration, the SDK configuration, the table (`TABLE_NAME`) and the work queue
/// (`QUEUE_URL`), both set by template.yaml.
pub struct FunctionParts {
    pub config: Config,
    pub sdk: aws_config::SdkConfig,
    pub store: Arc<DynamoStore>,
    pub queue: Arc<SqsQueue>,
}

pub async fn function_parts() -> Result<FunctionParts, lambda_runtime::Error> {
    crate::telemetry::init(true);
    let config = Config::from_env()?;
    crate::measure::configure(&config);
    let sdk = crate::adapters::aws::function_sdk_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        crate::lambda::env("TABLE_NAME")?,
    );
    let queue = SqsQueue::new(
        aws_sdk_sqs::Client::new(&sdk),
        crate::lambda::env("QUEUE_URL")?,
    );
    Ok(FunctionParts {
        config,
        sdk,
        store: Arc::new(store),
        queue: Arc::new(queue),
    })
}
