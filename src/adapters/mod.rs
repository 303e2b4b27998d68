//! Implementations of the ports: SQLite for local use; DynamoDB and SQS on AWS; outbound HTTP
//! SNS publishing and email (SES v2, SMTP) for workflow steps.

pub mod aws;
pub mod dynamodb;
pub mod email;
pub mod outbound_http;
mod record;
pub mod sns_publish;
pub mod sqlite;
pub mod sqs;
