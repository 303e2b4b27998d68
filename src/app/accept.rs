//! Accepting a generic webhook: check, record, queue, answer. The answer is 2xx only when
//! the execution is both stored and queued (the product's first guarantee).

use chrono::Utc;

use super::{App, AppError};
use crate::domain::{
    Execution, ExecutionId, ExecutionStatus, RequestMeta, Trigger, TriggerMeta, Workflow,
};
use crate::ports::{Recorded, WorkItem};

/// A generic webhook request as the HTTP layer hands it over.
pub struct GenericRequest<'a> {
    pub body: &'a [u8],
    pub content_type: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    /// The `x-amz-sns-message-type` header, present when SNS is the sender.
    pub sns_message_type: Option<&'a str>,
    /// Headers and query as the execution keeps them (credentials already removed).
    pub meta: RequestMeta,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub execution_id: ExecutionId,
    pub status: ExecutionStatus,
    /// True when this request repeated an earlier one (same idempotency key or SNS MessageId).
    pub duplicate: bool,
}

const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

impl App {
    pub async fn accept_generic(
        &self,
        workflow: &Workflow,
        request: GenericRequest<'_>,
    ) -> Result<Accepted, AppError> {
        if workflow.trigger != Trigger::GenericWebhook {
            return Err(AppError::WrongTrigger(format!(
                "workflow {} has trigger {}; it only accepts messages delivered by an Amazon SNS subscription",
                workflow.id, workflow.trigger
            )));
        }
        if request.sns_message_type.is_some() {
            return Err(AppError::WrongTrigger(format!(
                "workflow {} has trigger generic_webhook and does not accept Amazon SNS deliveries; \
                 create a workflow with trigger amazon_sns for SNS subscriptions",
                workflow.id
            )));
        }
        check_json_content_type(request.content_type)?;
        let idempotency_key = request
            .idempotency_key
            .map(parse_idempotency_key)
            .transpose()?;
        let payload = super::payload::read_payload(workflow, request.body)?;

        let execution = Execution::new(
            workflow.id.clone(),
            TriggerMeta::GenericWebhook {
                content_type: request.content_type.map(str::to_owned),
                idempotency_key: idempotency_key.map(str::to_owned),
                body_bytes: request.body.len(),
            },
            payload,
            Utc::now(),
            self.config().retention,
        )
        .with_request(request.meta)
        .of_version(workflow.version);
        let dedup_key = idempotency_key.map(|k| format!("idem#{k}"));
        self.record_and_dispatch(execution, dedup_key.as_deref())
            .await
    }

    /// Stores the execution (with its dedup record) and queues it, so a 2xx always means
    /// both happened. Where the queue lives in the store (SQLite) that is one atomic write.
    /// Otherwise (DynamoDB, then SQS) the write comes first and the send second; a send lost
    /// between them (a crash, a timeout) is re-sent by the sweeper (`app::sweep`), or by a
    /// duplicate of the request once the execution has waited `resend_after` for a worker.
    pub(crate) async fn record_and_dispatch(
        &self,
        execution: Execution,
        dedup_key: Option<&str>,
    ) -> Result<Accepted, AppError> {
        let recorded = match self.store().outbox() {
            Some(outbox) => outbox.insert_and_enqueue(&execution, dedup_key).await?,
            None => self.record_then_send(&execution, dedup_key).await?,
        };
        match recorded {
            Recorded::Created => {
                tracing::info!(execution_id = %execution.id, workflow_id = %execution.workflow_id, "execution queued");
                Ok(Accepted {
                    execution_id: execution.id,
                    status: ExecutionStatus::Queued,
                    duplicate: false,
                })
            }
            Recorded::Duplicate(existing) => {
                tracing::info!(execution_id = %existing.id, workflow_id = %existing.workflow_id, "duplicate delivery");
                Ok(Accepted {
                    execution_id: existing.id,
                    status: existing.status,
                    duplicate: true,
                })
            }
        }
    }

    /// The two-step path: write, then send. A duplicate re-sends only when the earlier send
    /// may have been lost, which keeps a burst of redeliveries from becoming a burst of
    /// queue messages.
    async fn record_then_send(
        &self,
        execution: &Execution,
        dedup_key: Option<&str>,
    ) -> Result<Recorded, AppError> {
        let recorded = self.store().insert_execution(execution, dedup_key).await?;
        match &recorded {
            Recorded::Created => {
                if let Err(err) = self.dispatch(execution).await {
                    if dedup_key.is_none() {
                        self.abandon(execution, &err).await;
                    }
                    return Err(err);
                }
            }
            Recorded::Duplicate(existing) => {
                if may_need_resend(existing, Utc::now(), self.config().resend_after) {
                    self.dispatch(existing).await?;
                }
            }
        }
        Ok(recorded)
    }

    pub(crate) async fn dispatch(&self, execution: &Execution) -> Result<(), AppError> {
        let item = WorkItem {
            workflow_id: execution.workflow_id.clone(),
            execution_id: execution.id,
        };
        self.queue().enqueue(&item).await.map_err(|err| {
            tracing::error!(execution_id = %execution.id, error = %err, "queue send failed");
            AppError::from(err)
        })
    }

    /// Without an idempotency key the caller's retry will be a new execution, so the one that
    /// could not be queued is marked failed rather than left queued forever. Best effort: if
    /// the store is down too, it stays queued and `executions replay` can still run it.
    async fn abandon(&self, execution: &Execution, cause: &AppError) {
        let message =
            format!("not accepted: the queue send failed ({cause}); the caller was answered 503");
        let failed = Execution {
            status: ExecutionStatus::Failed,
            finished_at: Some(Utc::now()),
            error: Some(message),
            ..execution.clone()
        };
        if let Err(err) = self.store().replace_execution(execution, &failed).await {
            tracing::error!(execution_id = %execution.id, error = %err, "could not mark unqueued execution failed");
        }
    }
}

/// Whether a duplicate should send `existing` to the queue again. Only an execution no worker
/// has taken yet can be missing its message (once taken, the message's own redelivery carries
/// it), and only one written `resend_after` ago or more: before that, its first send is most
/// likely just in flight.
fn may_need_resend(
    existing: &Execution,
    now: chrono::DateTime<Utc>,
    resend_after: std::time::Duration,
) -> bool {
    let waited = (now - existing.received_at).to_std().unwrap_or_default();
    existing.awaiting_first_delivery() && waited >= resend_after
}

/// JSON may arrive as `application/json`, any `+json` type, `text/plain` (what SNS and many
/// simple senders use) or with no content type at all. Forms, XML and binary types cannot
/// carry the JSON body the workflow expects.
fn check_json_content_type(content_type: Option<&str>) -> Result<(), AppError> {
    let Some(raw) = content_type else {
        return Ok(());
    };
    let essence = raw
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let ok = essence.is_empty()
        || essence == "application/json"
        || essence == "text/plain"
        || essence == "text/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"));
    if ok {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType(essence))
    }
}

fn parse_idempotency_key(raw: &str) -> Result<&str, AppError> {
    let ok = !raw.is_empty()
        && raw.len() <= MAX_IDEMPOTENCY_KEY_LEN
        && raw.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(raw)
    } else {
        Err(AppError::InvalidRequest(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn queued_at(received_at: chrono::DateTime<Utc>) -> Execution {
        Execution::new(
            crate::domain::WorkflowId::generate(),
            TriggerMeta::GenericWebhook {
                content_type: None,
                idempotency_key: Some("k".into()),
                body_bytes: 2,
            },
            Value::Null,
            received_at,
            chrono::Duration::days(1),
        )
    }

    #[test]
    fn a_fresh_duplicate_is_not_sent_again() {
        let now = Utc::now();
        let after = std::time::Duration::from_secs(5);
        let fresh = queued_at(now - chrono::Duration::seconds(1));
        assert!(!may_need_resend(&fresh, now, after));
        let old = queued_at(now - chrono::Duration::seconds(5));
        assert!(may_need_resend(&old, now, after));
    }

    #[test]
    fn a_duplicate_of_a_taken_execution_is_never_sent_again() {
        let now = Utc::now();
        let old = queued_at(now - chrono::Duration::hours(1));
        let running = old
            .claim(now, chrono::Duration::seconds(300))
            .expect("claim");
        assert!(!may_need_resend(&running, now, std::time::Duration::ZERO));
        // Back to queued after a step asked for a later retry: its message is still held.
        let requeued = Execution {
            status: ExecutionStatus::Queued,
            ..running
        };
        assert!(!may_need_resend(&requeued, now, std::time::Duration::ZERO));
    }

    #[test]
    fn json_content_types_are_accepted() {
        for ct in [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("text/plain; charset=UTF-8"),
            Some("application/vnd.github+json"),
            Some(""),
        ] {
            assert!(check_json_content_type(ct).is_ok(), "{ct:?}");
        }
    }

    #[test]
    fn non_json_content_types_are_refused() {
        for ct in [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "image/png",
        ] {
            assert!(
                matches!(
                    check_json_content_type(Some(ct)),
                    Err(AppError::UnsupportedMediaType(_))
                ),
                "{ct}"
            );
        }
    }

    #[test]
    fn idempotency_keys_are_bounded_and_visible() {
        assert!(parse_idempotency_key("order-42").is_ok());
        assert!(parse_idempotency_key("").is_err());
        assert!(parse_idempotency_key("has space").is_err());
        assert!(parse_idempotency_key(&"k".repeat(256)).is_err());
    }
}
