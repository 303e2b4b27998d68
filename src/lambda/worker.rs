//! The worker function: an SQS batch of `WorkItem` messages, each run by `Worker::process`.
//! Partial batch failures (`ReportBatchItemFailures` in the template): a record whose body is
//! not a work item, or whose processing asked to be retried, is reported so SQS delivers it
//! again (and after `maxReceiveCount` moves it to the dead-letter queue); every other record
//! of the batch is deleted by Lambda.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use tracing::Instrument;

use crate::ports::WorkItem;
use crate::worker::Worker;

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
    worker: &Worker,
    event: SqsEvent,
) -> Result<SqsBatchResponse, BatchError> {
    let mut tasks = Vec::with_capacity(event.records.len());
    for (index, record) in event.records.into_iter().enumerate() {
        let Some(message_id) = record.message_id.clone() else {
            return Err(BatchError::MissingMessageId(index));
        };
        let span = tracing::info_span!("sqs_record", message_id = %message_id);
        let worker = worker.clone();
        let task =
            tokio::spawn(async move { process_record(&worker, &record).await }.instrument(span));
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
async fn process_record(worker: &Worker, record: &SqsMessage) -> bool {
    let item = match WorkItem::from_json(record.body.as_deref().unwrap_or_default()) {
        Ok(item) => item,
        Err(err) => {
            // Retried and then dead-lettered, where someone can look at it.
            tracing::error!(error = %err, "message is not a work item");
            return false;
        }
    };
    match worker.process(&item).await {
        Ok(outcome) => {
            tracing::info!(execution_id = %item.execution_id, ?outcome, "record processed");
            true
        }
        Err(err) => {
            tracing::warn!(execution_id = %item.execution_id, error = %err, "record will be delivered again");
            false
        }
    }
}

/// Serves SQS batches until the Lambda runtime stops the process.
pub async fn run(worker: Worker) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move { handle_batch(&worker, event.payload).await }
    }))
    .await
}
