//! The AWS backend for tests: real SDK clients pointed at moto's server, a fresh table and
//! queue pair per test (ULID-suffixed names, so tests run in parallel), and a worker driver
//! that receives from SQS and calls the worker Lambda's handler the way Lambda would.
//!
//! Nothing here can reach real AWS: the endpoint must be a loopback URL, and the credentials
//! and region are fixed dummies, whatever the environment or ~/.aws say.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_sqs::types::MessageSystemAttributeName;

use super::{TestApp, WorkerDriver, build};
use webhook_trigger::adapters::dynamodb::{DynamoStore, schema};
use webhook_trigger::adapters::sqs::{self, QueueUrls, SqsQueue};
use webhook_trigger::config::Config;
use webhook_trigger::lambda::worker::{WorkerFunction, handle_batch};
use webhook_trigger::ports::Store;
use webhook_trigger::worker::Worker;

const HOW_TO_RUN: &str = "AWS tests need moto's server: run `make test` (it starts moto), or start \
     `.venv/bin/moto_server -H 127.0.0.1 -p 5055 &` and \
     `export AWS_ENDPOINT_URL=http://127.0.0.1:5055 AWS_REGION=us-east-1 \
     AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing WEBHOOK_TEST_MOTO=1`";

/// The emulator's URL from `AWS_ENDPOINT_URL`. Fails the test (never skips it) when unset, and
/// refuses anything that is not on this machine.
pub fn endpoint() -> String {
    let url = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| panic!("AWS_ENDPOINT_URL is not set. {HOW_TO_RUN}"));
    for name in [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SQS",
    ] {
        if let Ok(value) = std::env::var(name) {
            assert!(
                is_loopback(&value),
                "{name}={value} is not a loopback URL; tests only talk to a local emulator. {HOW_TO_RUN}"
            );
        }
    }
    url
}

fn is_loopback(raw: &str) -> bool {
    url::Url::parse(raw)
        .ok()
        .and_then(|u| {
            u.host().map(|host| match host {
                url::Host::Domain(d) => d == "localhost",
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
            })
        })
        .unwrap_or(false)
}

/// SDK configuration bound to the emulator with dummy credentials.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let endpoint = endpoint();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// A name no other test uses: `wt-{what}-{ulid}`.
pub fn unique(what: &str) -> String {
    format!("wt-{what}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A fresh table and queue pair on the emulator, made by the same code as `webhook-trigger setup`.
pub struct Fixture {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table: String,
    pub queues: QueueUrls,
    pub store: DynamoStore,
    pub queue: SqsQueue,
}

pub async fn fixture() -> Fixture {
    let sdk = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let table = unique("table");
    schema::create_table(&dynamodb, &table)
        .await
        .unwrap_or_else(|e| panic!("cannot create table {table}: {e}. {HOW_TO_RUN}"));
    let queues = sqs::create_queues(&sqs, &unique("queue"))
        .await
        .unwrap_or_else(|e| panic!("cannot create queues: {e}. {HOW_TO_RUN}"));
    Fixture {
        store: DynamoStore::new(dynamodb.clone(), table.clone()),
        queue: SqsQueue::new(sqs.clone(), queues.queue_url.clone()),
        dynamodb,
        sqs,
        table,
        queues,
    }
}

/// Receives from SQS and hands each batch to the worker Lambda's handler as an `SqsEvent`;
/// deletes what the handler did not report as failed, as Lambda's SQS integration does.
/// Records carry `ApproximateReceiveCount`, as Lambda's do, so the worker knows the last
/// delivery; the function hides a postponed record with ChangeMessageVisibility and sends an
/// execution that reached its deadline on in a fresh message, as the worker Lambda is wired to
/// (`src/bin/worker_lambda.rs`: `redelivery` and `continuation` are both the work queue).
pub struct SqsDriver {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub function: WorkerFunction,
}

impl SqsDriver {
    pub fn new(sqs: aws_sdk_sqs::Client, queue_url: String, worker: Worker) -> Self {
        let mut function = WorkerFunction::new(worker);
        let queue = Arc::new(SqsQueue::new(sqs.clone(), queue_url.clone()));
        function.redelivery = Some(queue.clone());
        function.continuation = Some(queue.clone());
        function.wakeups = Some(queue);
        Self {
            sqs,
            queue_url,
            function,
        }
    }

    /// One receive, long-polling up to `wait_seconds`; `None` when nothing became visible.
    pub async fn receive_event(&self, wait_seconds: i32) -> Option<SqsEvent> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return None;
        }
        let mut event = SqsEvent::default();
        event.records = messages
            .into_iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.attributes = m
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, value)| (name.as_str().to_owned(), value))
                    .collect();
                record.message_id = m.message_id;
                record.receipt_handle = m.receipt_handle;
                record.body = m.body;
                record.md5_of_body = m.md5_of_body;
                record.event_source = Some("aws:sqs".into());
                record.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:test".into());
                record.aws_region = Some("us-east-1".into());
                record
            })
            .collect();
        Some(event)
    }
}

impl SqsDriver {
    /// Hands one batch to the handler, then deletes what it did not report as failed.
    async fn handle(&self, event: SqsEvent) -> usize {
        let handles: Vec<(String, String)> = event
            .records
            .iter()
            .map(|r| {
                (
                    r.message_id.clone().unwrap_or_default(),
                    r.receipt_handle.clone().unwrap_or_default(),
                )
            })
            .collect();
        let handled = handles.len();
        let response = handle_batch(&self.function, event)
            .await
            .expect("batch handler");
        for (message_id, receipt) in handles {
            let failed = response
                .batch_item_failures
                .iter()
                .any(|f| f.item_identifier == message_id);
            if !failed {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
        }
        handled
    }
}

#[async_trait]
impl WorkerDriver for SqsDriver {
    async fn drain(&self) -> usize {
        let mut total = 0;
        while let Some(event) = self.receive_event(0).await {
            total += self.handle(event).await;
        }
        total
    }

    async fn deliver_once(&self) -> usize {
        // A postponed record is hidden for at least a second (SQS counts visibility in
        // seconds); long polling returns as soon as it is visible again.
        match self.receive_event(5).await {
            Some(event) => self.handle(event).await,
            None => 0,
        }
    }

    fn max_receives(&self) -> u32 {
        self.function.max_receives
    }
}

/// The whole app on DynamoDB + SQS (moto), for the shared flow tests.
pub async fn dynamodb_app(config: Config) -> TestApp {
    dynamodb_app_with_budget(config, webhook_trigger::domain::WORKER_STEP_BUDGET).await
}

/// `dynamodb_app` whose app sees the store through `wrap` (see `support::StoreWrap`).
pub async fn dynamodb_app_wrapped(config: Config, wrap: crate::support::StoreWrap) -> TestApp {
    let f = fixture().await;
    let store: Arc<dyn Store> = Arc::new(f.store.clone());
    let driver = SqsDriver::new(
        f.sqs.clone(),
        f.queues.queue_url.clone(),
        crate::support::test_worker(store.clone(), chrono::Duration::seconds(300)),
    );
    build(
        wrap(store),
        Arc::new(f.queue),
        Box::new(driver),
        config,
        None,
    )
}

/// `dynamodb_app` whose worker's deliveries last `budget` (see `test_worker_with_budget`).
pub async fn dynamodb_app_with_budget(config: Config, budget: std::time::Duration) -> TestApp {
    let f = fixture().await;
    let store: Arc<dyn Store> = Arc::new(f.store.clone());
    let driver = SqsDriver::new(
        f.sqs.clone(),
        f.queues.queue_url.clone(),
        crate::support::test_worker_with_budget(store.clone(), &config, budget),
    );
    build(store, Arc::new(f.queue), Box::new(driver), config, None)
}
