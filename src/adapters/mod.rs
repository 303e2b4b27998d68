//! Implementations of the ports: SQLite for local use; DynamoDB and SQS on AWS.

pub mod aws;
pub mod dynamodb;
mod record;
pub mod sqlite;
pub mod sqs;
