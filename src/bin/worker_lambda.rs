//! The worker function (SQS batches → `Worker::process`). The client is built once per
//! execution environment; `TABLE_NAME` comes from template.yaml.

use std::sync::Arc;

use webhook_trigger::adapters::dynamodb::DynamoStore;
use webhook_trigger::{config::Config, lambda, worker::Worker};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    webhook_trigger::telemetry::init(true);
    let config = Config::from_env()?;
    let sdk = webhook_trigger::adapters::aws::function_sdk_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        lambda::env("TABLE_NAME")?,
    );
    lambda::worker::run(Worker::new(Arc::new(store), config.worker_lease)).await
}
