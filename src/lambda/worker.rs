//! The worker function: an SQS batch of `WorkItem` messages, each run by `Worker::process`.
//! Partial batch failures (`ReportBatchItemFailures` in the template): a record whose body is
//! not a work item, or whose processing asked to be retried, is reported so SQS delivers it
//! again (and after `maxReceiveCount` moves it to the dead-letter queue); every other record
//! of the batch is deleted by Lambda.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use tracing::Instrument;

use std::sync::Arc;
use std::time::Duration;

use crate::ports::{DelayedQueue, MAX_QUEUE_DELAY, Redelivery, WorkItem, WorkQueue};
use crate::worker::{DeliveryCount, Outcome, Worker, WorkerError};

/// The worker and what it needs from its queue, built once per execution environment.
#[derive(Clone)]
pub struct WorkerFunction {
    pub worker: Worker,
    /// Hides a record whose step will be retried later, so it comes back after the step's
    /// `Retry-After` (or `retry_delay`) instead of the queue's full visibility timeout.
    /// Without it the record simply comes back when its visibility timeout ends.
    pub redelivery: Option<Arc<dyn Redelivery>>,
    /// Where an execution that reached the run's deadline gets its fresh message. Without it
    /// the record is reported failed and comes back after its visibility timeout, which
    /// counts a receive.
    pub continuation: Option<Arc<dyn WorkQueue>>,
    /// Where a short wait (up to 15 minutes) gets its delayed wake-up message. Longer waits,
    /// and any wait without it, are woken by the sweeper within about a minute of their time.
    pub wakeups: Option<Arc<dyn DelayedQueue>>,
    /// The queue's `maxReceiveCount`.
    pub max_receives: u32,
    pub retry_delay: Duration,
    /// Written as an EMF line after each batch (see `super::emf_metrics`).
    pub metrics: Option<&'static super::MetricsCollector>,
}

impl WorkerFunction {
    pub fn new(worker: Worker) -> Self {
        Self {
            worker,
            redelivery: None,
            continuation: None,
            wakeups: None,
            max_receives: crate::adapters::sqs::MAX_RECEIVE_COUNT,
            retry_delay: Duration::from_secs(30),
            metrics: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Without a message id a failure cannot be reported for one record, so the whole batch
    /// is failed and delivered again. SQS always sends one; this guards hand-made events.
    #[error("SQS record {0} has no messageId")]
    MissingMessageId(usize),
}

impl From<BatchError> for Diagnostic {
    fn from(err: BatchError) -> Self {
        Diagnostic {
            error_type: "BatchError".into(),
            error_message: err.to_string(),
        }
    }
}

/// Runs every record of the batch concurrently (a batch holds at most the template's
/// `BatchSize`) and returns the ids of those to deliver again.
pub async fn handle_batch(
    function: &WorkerFunction,
    event: SqsEvent,
) -> Result<SqsBatchResponse, BatchError> {
    let mut tasks = Vec::with_capacity(event.records.len());
    for (index, record) in event.records.into_iter().enumerate() {
        let Some(message_id) = record.message_id.clone() else {
            return Err(BatchError::MissingMessageId(index));
        };
        let span = tracing::info_span!("sqs_record", message_id = %message_id);
        let function = function.clone();
        let task =
            tokio::spawn(async move { process_record(&function, &record).await }.instrument(span));
        tasks.push((message_id, task));
    }
    let mut response = SqsBatchResponse::default();
    for (message_id, task) in tasks {
        // A panicking record (a bug) is delivered again rather than lost.
        let done = task.await.unwrap_or_else(|err| {
            tracing::error!(message_id = %message_id, error = %err, "record task failed");
            false
        });
        if !done {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

/// True when the message is finished with (processed, or nothing left to do).
async fn process_record(function: &WorkerFunction, record: &SqsMessage) -> bool {
    let item = match WorkItem::from_json(record.body.as_deref().unwrap_or_default()) {
        Ok(item) => item,
        Err(err) => {
            // Retried and then dead-lettered, where someone can look at it.
            tracing::error!(error = %err, "message is not a work item");
            return false;
        }
    };
    let delivery = DeliveryCount {
        receive_count: receive_count(record),
        max_receives: function.max_receives,
    };
    match function.worker.process(&item, delivery).await {
        Ok(Outcome::Continued) => {
            let Some(queue) = &function.continuation else {
                tracing::warn!(execution_id = %item.execution_id, "no queue to carry the execution on; it comes back after the visibility timeout");
                return false;
            };
            match queue.enqueue(&item).await {
                Ok(()) => true,
                Err(err) => {
                    tracing::warn!(execution_id = %item.execution_id, error = %err, "could not queue the execution's next delivery; this record comes back instead");
                    false
                }
            }
        }
        Ok(Outcome::Waiting { until }) => {
            let delay = (until - chrono::Utc::now()).to_std().unwrap_or_default();
            match &function.wakeups {
                Some(queue) if delay <= MAX_QUEUE_DELAY => {
                    match queue.enqueue_after(&item, delay).await {
                        Ok(()) => true,
                        Err(err) => {
                            // This record comes back after its visibility timeout and sends
                            // the wake-up then; the sweeper wakes it in any case.
                            tracing::warn!(execution_id = %item.execution_id, error = %err, "could not send the wake-up message");
                            false
                        }
                    }
                }
                // The sweeper reads waiting executions by wake-up time.
                _ => true,
            }
        }
        Ok(outcome) => {
            tracing::info!(execution_id = %item.execution_id, ?outcome, "record processed");
            true
        }
        Err(WorkerError::Postponed { retry_after, .. }) => {
            let delay = retry_after.unwrap_or(function.retry_delay);
            if let (Some(redelivery), Some(receipt)) =
                (&function.redelivery, record.receipt_handle.as_deref())
                && let Err(err) = redelivery.postpone(receipt, delay).await
            {
                // It still comes back, after the queue's visibility timeout.
                tracing::warn!(error = %err, "could not shorten the wait for a retried step");
            }
            false
        }
        Err(err) => {
            tracing::warn!(execution_id = %item.execution_id, error = %err, "record will be delivered again");
            false
        }
    }
}

/// SQS counts deliveries in `ApproximateReceiveCount`; a record without it (a hand-made
/// event) counts as the first.
fn receive_count(record: &SqsMessage) -> u32 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

/// Serves SQS batches until the Lambda runtime stops the process.
pub async fn run(function: WorkerFunction) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let function = function.clone();
        async move {
            let answer = handle_batch(&function, event.payload).await;
            super::flush_metrics(function.metrics);
            answer
        }
    }))
    .await
}
