//! The worker function (SQS batches → `Worker::process`). Clients are built once per
//! execution environment; `TABLE_NAME`, `QUEUE_URL` and `MAX_RECEIVES` come from template.yaml.

use std::sync::Arc;

use webhook_trigger::adapters::{dynamodb::DynamoStore, sqs::SqsQueue};
use webhook_trigger::lambda::worker::WorkerFunction;
use webhook_trigger::{config::Config, lambda, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    webhook_trigger::telemetry::init(true);
    let config = Config::from_env()?;
    let sdk = webhook_trigger::adapters::aws::function_sdk_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        lambda::env("TABLE_NAME")?,
    );
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), lambda::env("QUEUE_URL")?);
    let mut function = WorkerFunction::new(wiring::worker(Arc::new(store), &config, &sdk)?);
    function.redelivery = Some(Arc::new(queue));
    if let Ok(raw) = lambda::env("MAX_RECEIVES") {
        function.max_receives = raw
            .parse()
            .map_err(|_| format!("MAX_RECEIVES={raw:?} is not a whole number"))?;
    }
    lambda::worker::run(function).await
}
