//! The API function (API Gateway → the axum router). Clients are built once per execution
//! environment; `TABLE_NAME` and `QUEUE_URL` come from template.yaml.

use std::sync::Arc;

use webhook_trigger::adapters::{dynamodb::DynamoStore, sqs::SqsQueue};
use webhook_trigger::{config::Config, lambda, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    webhook_trigger::telemetry::init(true);
    let config = Config::from_env()?;
    let sdk = webhook_trigger::adapters::aws::function_sdk_config().await;
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        lambda::env("TABLE_NAME")?,
    );
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), lambda::env("QUEUE_URL")?);
    lambda::api::run(wiring::app(Arc::new(store), Arc::new(queue), config)).await
}
