//! `setup`: creates what the service needs on a local AWS emulator (moto, LocalStack) or in an
//! account without SAM: the table with TTL, from the one schema in
//! `adapters::dynamodb::schema`, and the work queue with its dead-letter queue. On AWS the
//! SAM template creates the same things; a test keeps the two in agreement.
//!
//! `--sample-data` also writes the key, workflows and execution that the files in `events/`
//! name, so `make invoke EVENT=events/...` gets real answers. That key's value is public, so
//! sample data is refused unless an emulator endpoint is configured.

use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::backend::StoreLocation;
use crate::adapters::dynamodb::{DynamoStore, schema};
use crate::adapters::sqlite::SqliteStore;
use crate::adapters::sqs;
use crate::domain::{
    ApiKey, ApiKeyName, Execution, ExecutionId, SnsOptions, Step, Trigger, TriggerMeta, Workflow,
    WorkflowId,
};
use crate::ports::{Store, StoreError};

/// The placeholders used by the files in `events/` (see `events/README.md`).
pub mod sample {
    /// The workflow the sample API events call.
    pub const WORKFLOW_ID: &str = "wf_demo";
    /// The key guarding it.
    pub const KEY_NAME: &str = "demo";
    /// Its value: public, for emulators only.
    pub const KEY_VALUE: &str =
        "whk_demo000000000000000000000000000000000000000000000000000000000000";
    /// The queued execution the sample SQS event names.
    pub const EXECUTION_ID: &str = "01JD0000000000000000DEMQ00";
    /// The `amazon_sns` workflow the sample SNS events call, guarded by the same key.
    pub const SNS_WORKFLOW_ID: &str = "wf_sns_demo";
    /// The only topic it accepts: the one of the signed messages in
    /// `tests/fixtures/sns/kat-*.json`, which the sample SNS events carry.
    pub const SNS_TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:kat-topic";
}

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// Work queue name; its dead-letter queue is NAME-dlq. Default: TABLE-work.
    #[arg(long)]
    pub queue_name: Option<String>,
    /// Also write the sample key, workflows and execution used by events/ (emulators only).
    #[arg(long)]
    pub sample_data: bool,
}

/// True when the SDK is pointed at an emulator rather than at AWS.
fn emulator_endpoint() -> Option<String> {
    ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

pub async fn run(
    location: &StoreLocation,
    args: SetupArgs,
    json_output: bool,
) -> Result<(), String> {
    let retention = crate::config::Config::from_env()
        .map_err(|e| e.to_string())?
        .retention;
    match location {
        StoreLocation::Sqlite(path) => {
            let store = SqliteStore::open(path).map_err(|e| e.to_string())?;
            if args.sample_data {
                seed_sample_data(&store, retention)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            println!("SQLite store ready at {}", path.display());
            Ok(())
        }
        StoreLocation::DynamoDb(table) => {
            if args.sample_data && emulator_endpoint().is_none() {
                return Err(
                    "--sample-data writes an API key whose value is public (events/); it is \
                     only for an emulator: set AWS_ENDPOINT_URL"
                        .into(),
                );
            }
            let sdk = crate::adapters::aws::sdk_config().await;
            let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
            let created = schema::create_table(&dynamodb, table)
                .await
                .map_err(|e| e.to_string())?;
            let queue_name = args
                .queue_name
                .clone()
                .unwrap_or_else(|| format!("{table}-work"));
            let queues = sqs::create_queues(&aws_sdk_sqs::Client::new(&sdk), &queue_name)
                .await
                .map_err(|e| e.to_string())?;
            if args.sample_data {
                seed_sample_data(&DynamoStore::new(dynamodb, table.clone()), retention)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if json_output {
                let out = json!({
                    "tableName": table,
                    "tableCreated": created,
                    "queueUrl": queues.queue_url,
                    "deadLetterQueueUrl": queues.dead_letter_queue_url,
                });
                println!("{out:#}");
            } else {
                let state = if created { "created" } else { "already there" };
                println!(
                    "Table:             {table} ({state}, TTL on {})",
                    schema::TTL_ATTRIBUTE
                );
                println!("Queue:             {}", queues.queue_url);
                println!("Dead-letter queue: {}", queues.dead_letter_queue_url);
                println!();
                println!("Use them with:");
                println!(
                    "  export WEBHOOK_STORE=dynamodb://{table} TABLE_NAME={table} QUEUE_URL={}",
                    queues.queue_url
                );
            }
            Ok(())
        }
    }
}

/// Writes the sample key, the two workflows (generic and SNS) and the queued execution; what
/// exists already is kept.
pub async fn seed_sample_data(
    store: &dyn Store,
    retention: chrono::Duration,
) -> Result<(), StoreError> {
    let invalid = |e: crate::domain::InvalidId| StoreError::Corrupt(e.to_string());
    let now = Utc::now();
    let key_name = ApiKeyName::parse(sample::KEY_NAME).map_err(invalid)?;
    let key = ApiKey {
        name: key_name.clone(),
        hash: hex::encode(Sha256::digest(sample::KEY_VALUE.as_bytes())),
        prefix: sample::KEY_VALUE.chars().take(8).collect(),
        created_at: now,
        revoked_at: None,
        previous: None,
    };
    let workflow = Workflow {
        id: WorkflowId::parse(sample::WORKFLOW_ID).map_err(invalid)?,
        name: "Demo workflow (events/)".into(),
        trigger: Trigger::GenericWebhook,
        api_key_name: key_name,
        enabled: true,
        steps: vec![Step::Echo.into()],
        sns: SnsOptions::default(),
        auth: Default::default(),
        verify: None,
        created_at: now,
        version: 1,
        payload_schema: None,
    };
    let sns_workflow = Workflow {
        id: WorkflowId::parse(sample::SNS_WORKFLOW_ID).map_err(invalid)?,
        name: "Demo SNS workflow (events/)".into(),
        trigger: Trigger::AmazonSns,
        api_key_name: workflow.api_key_name.clone(),
        enabled: true,
        steps: vec![Step::Echo.into()],
        sns: SnsOptions {
            allowed_topic_arns: vec![sample::SNS_TOPIC_ARN.into()],
            require_signature_v2: false,
        },
        auth: Default::default(),
        verify: None,
        created_at: now,
        version: 1,
        payload_schema: None,
    };
    let payload = json!({ "sample": true });
    let execution = Execution {
        id: ExecutionId::parse(sample::EXECUTION_ID).map_err(invalid)?,
        ..Execution::new(
            workflow.id.clone(),
            TriggerMeta::GenericWebhook {
                content_type: Some("application/json".into()),
                idempotency_key: None,
                body_bytes: payload.to_string().len(),
            },
            payload,
            now,
            retention,
        )
    };
    let keep_existing = |result: Result<(), StoreError>| match result {
        Err(StoreError::AlreadyExists(_)) => Ok(()),
        other => other,
    };
    keep_existing(store.insert_api_key(&key).await)?;
    keep_existing(store.insert_workflow(&workflow).await)?;
    keep_existing(store.insert_workflow(&sns_workflow).await)?;
    keep_existing(store.insert_execution(&execution, None).await.map(|_| ()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{ApiKeyStore, WorkflowStore};

    #[test]
    fn sample_ids_are_valid() {
        assert!(ExecutionId::parse(sample::EXECUTION_ID).is_ok());
        assert!(WorkflowId::parse(sample::WORKFLOW_ID).is_ok());
        assert!(WorkflowId::parse(sample::SNS_WORKFLOW_ID).is_ok());
        assert_eq!(sample::KEY_VALUE.len(), "whk_".len() + 64);
    }

    #[tokio::test]
    async fn sample_key_opens_the_sample_workflow_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        seed_sample_data(&store, chrono::Duration::days(1))
            .await
            .unwrap();
        // Seeding twice keeps what is there.
        seed_sample_data(&store, chrono::Duration::days(1))
            .await
            .unwrap();
        let key = store
            .get_api_key(&ApiKeyName::parse(sample::KEY_NAME).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(key.accepts(sample::KEY_VALUE));
        let workflow = WorkflowId::parse(sample::WORKFLOW_ID).unwrap();
        assert!(store.get_workflow(&workflow).await.unwrap().is_some());
        let sns = WorkflowId::parse(sample::SNS_WORKFLOW_ID).unwrap();
        let sns = store.get_workflow(&sns).await.unwrap().unwrap();
        assert_eq!(sns.trigger, Trigger::AmazonSns);
        assert_eq!(sns.api_key_name.as_str(), sample::KEY_NAME);
    }
}
