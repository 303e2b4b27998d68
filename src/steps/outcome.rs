//! What one step did: how it ended (which decides where the run goes) and what it leaves on
//! the execution's record.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use chrono::{DateTime, Utc};

use crate::domain::WaitKind;
use crate::domain::step::Target;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    /// A filter said no: the execution ends `succeeded` with outcome `filtered` (inside a
    /// `for_each`, the item ends).
    Filtered,
    /// A `stop` step: the execution ends `succeeded` with outcome `stopped` (inside a
    /// `for_each`, the item ends).
    Stopped,
    /// A `wait`, `approval` or `callback` step has started: the execution waits as
    /// `StepRun::suspend` says, and the step ends when it wakes.
    Waiting,
}

/// What a step that waits waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct Suspend {
    pub kind: WaitKind,
    pub wake_at: DateTime<Utc>,
    /// An approval's or callback's timeout.
    pub expires_at: Option<DateTime<Utc>>,
    /// The hash of the resume URL's token.
    pub token_hash: Option<String>,
}

/// What one step did, ready to be recorded on the execution.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRun {
    pub status: StepStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// The request as sent (HTTP or SNS), secrets redacted; for the executions page.
    pub request: Option<Value>,
    /// Sends made (HTTP attempts, SNS publishes); 0 for steps that send nothing.
    pub attempts: u32,
    /// The failure may go away by itself (network, 408, 429, 5xx): worth redelivering later.
    pub transient: bool,
    /// When a redelivery should come, if the server said or retries ran out waiting.
    pub retry_after: Option<Duration>,
    /// Where the run goes next when the step chose (a `branch`'s case, an approval's
    /// `on_deny` or `on_timeout`).
    pub next: Option<Target>,
    /// Set with status `Waiting`.
    pub suspend: Option<Suspend>,
}

impl StepRun {
    pub fn succeeded(output: Value) -> Self {
        Self {
            status: StepStatus::Succeeded,
            output: Some(output),
            error: None,
            request: None,
            attempts: 0,
            transient: false,
            retry_after: None,
            next: None,
            suspend: None,
        }
    }

    /// The step has started waiting: `output` is what its record shows meanwhile.
    pub fn waiting(output: Value, suspend: Suspend) -> Self {
        Self {
            status: StepStatus::Waiting,
            suspend: Some(suspend),
            ..Self::succeeded(output)
        }
    }

    /// A woken step whose wait is not over (a wake-up that came early): it waits on as
    /// before.
    pub fn waiting_again(waiting: &crate::domain::Waiting) -> Self {
        Self::waiting(
            serde_json::json!({ "expiresAt": waiting.expires_at, "waitingUntil": waiting.wake_at }),
            Suspend {
                kind: waiting.kind,
                wake_at: waiting.expires_at.unwrap_or(waiting.wake_at),
                expires_at: waiting.expires_at,
                token_hash: waiting.token_hash.clone(),
            },
        )
    }

    pub fn failed(error: impl Into<String>) -> Self {
        Self {
            status: StepStatus::Failed,
            output: None,
            error: Some(error.into()),
            request: None,
            attempts: 0,
            transient: false,
            retry_after: None,
            next: None,
            suspend: None,
        }
    }

    /// One send answered with a message id (an SNS publish, an email): `{"messageId"}`, or
    /// the error and whether it may pass (`transient`); `request` is what was sent, as
    /// recorded.
    pub(crate) fn of_send(result: Result<String, (String, bool)>, request: Value) -> Self {
        let mut run = match result {
            Ok(message_id) => Self::succeeded(serde_json::json!({ "messageId": message_id })),
            Err((error, transient)) => Self {
                transient,
                ..Self::failed(error)
            },
        };
        run.attempts = 1;
        run.request = Some(request);
        run
    }
}
