//! The AWS work queue: SQS. A message is the `WorkItem` (workflow and execution id), never
//! the payload, so the queue holds no customer data and its 256 KiB limit never matters.

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;

use crate::ports::{DelayedQueue, MAX_QUEUE_DELAY, QueueError, Redelivery, WorkItem, WorkQueue};

/// After this many receives without success a message moves to the dead-letter queue. The
/// same number is in `template.yaml` (a test checks it).
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// How long a received message stays hidden. AWS asks for at least six times the worker
/// function's timeout (270 s in `template.yaml`, the steps' time budget plus margin), so a
/// slow batch is not delivered twice.
pub const VISIBILITY_TIMEOUT_SECONDS: u32 = 1620;
/// The longest SQS lets a message stay hidden (12 h).
const MAX_VISIBILITY_SECONDS: u64 = 12 * 3600;
/// Dead letters are kept as long as SQS allows, to leave time to look at them.
pub const DLQ_RETENTION_SECONDS: u32 = 14 * 24 * 3600;

#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

#[async_trait]
impl WorkQueue for SqsQueue {
    async fn enqueue(&self, item: &WorkItem) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(item.to_json())
            .send()
            .await
            .map_err(|e| {
                QueueError::Unavailable(format!(
                    "SQS SendMessage failed: {}",
                    DisplayErrorContext(e)
                ))
            })?;
        Ok(())
    }
}

#[async_trait]
impl DelayedQueue for SqsQueue {
    async fn enqueue_after(
        &self,
        item: &WorkItem,
        delay: std::time::Duration,
    ) -> Result<(), QueueError> {
        // Whole seconds, rounded up: a wake-up a little late is fine, one early is wasted.
        let seconds = delay
            .as_secs_f64()
            .ceil()
            .clamp(0.0, MAX_QUEUE_DELAY.as_secs_f64()) as i32;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(item.to_json())
            .delay_seconds(seconds)
            .send()
            .await
            .map_err(|e| {
                QueueError::Unavailable(format!(
                    "SQS SendMessage (delayed) failed: {}",
                    DisplayErrorContext(e)
                ))
            })?;
        Ok(())
    }
}

#[async_trait]
impl Redelivery for SqsQueue {
    async fn postpone(&self, receipt: &str, delay: std::time::Duration) -> Result<(), QueueError> {
        // Rounded up: coming back before the step's target said it is ready only wastes a
        // delivery.
        let seconds = delay
            .as_secs_f64()
            .ceil()
            .clamp(1.0, MAX_VISIBILITY_SECONDS as f64) as i32;
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| {
                QueueError::Unavailable(format!(
                    "SQS ChangeMessageVisibility failed: {}",
                    DisplayErrorContext(e)
                ))
            })?;
        Ok(())
    }
}

/// The URLs `create_queues` made or found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    pub queue_url: String,
    pub dead_letter_queue_url: String,
}

/// Creates the work queue `name` and its dead-letter queue `{name}-dlq` with the same redrive
/// policy as `template.yaml`. CreateQueue is idempotent for identical attributes, so running
/// it twice is harmless. For local development against an emulator, and for tests.
pub async fn create_queues(client: &Client, name: &str) -> Result<QueueUrls, QueueError> {
    let fail = |op: &str, e: String| QueueError::Unavailable(format!("SQS {op} failed: {e}"));
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECONDS.to_string(),
        )
        .send()
        .await
        .map_err(|e| {
            fail(
                "CreateQueue (dead letters)",
                DisplayErrorContext(e).to_string(),
            )
        })?;
    let dead_letter_queue_url = dlq.queue_url.ok_or_else(|| {
        fail(
            "CreateQueue (dead letters)",
            "no queue URL in the answer".into(),
        )
    })?;
    let attributes = client
        .get_queue_attributes()
        .queue_url(&dead_letter_queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| fail("GetQueueAttributes", DisplayErrorContext(e).to_string()))?;
    let dlq_arn = attributes
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| fail("GetQueueAttributes", "no QueueArn in the answer".into()))?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    });
    let queue = client
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            VISIBILITY_TIMEOUT_SECONDS.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| fail("CreateQueue", DisplayErrorContext(e).to_string()))?;
    let queue_url = queue
        .queue_url
        .ok_or_else(|| fail("CreateQueue", "no queue URL in the answer".into()))?;
    Ok(QueueUrls {
        queue_url,
        dead_letter_queue_url,
    })
}
