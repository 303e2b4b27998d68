//! Implementations of the ports: SQLite for local use; DynamoDB and SQS on AWS; outbound HTTP
//! and SNS publishing for workflow steps.

pub mod aws;
pub mod dynamodb;
pub mod outbound_http;
mod record;
pub mod sns_publish;
pub mod sqlite;
pub mod sqs;
