//! Executions: one accepted webhook, its payload and its way through
//! `queued → running → succeeded | failed`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::{ExecutionId, WorkflowId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl ExecutionStatus {
    pub const ALL: [Self; 4] = [Self::Queued, Self::Running, Self::Succeeded, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!("unknown status {s:?} (expected queued, running, succeeded or failed)")
            })
    }
}

/// Where an execution came from. Stored with it and shown on the executions page; it never
/// holds the API key or the raw query string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TriggerMeta {
    GenericWebhook {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idempotency_key: Option<String>,
        body_bytes: usize,
    },
    AmazonSns {
        message_id: String,
        topic_arn: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        timestamp: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_attributes: Option<Value>,
    },
    Replay {
        of: ExecutionId,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub id: ExecutionId,
    pub workflow_id: WorkflowId,
    pub status: ExecutionStatus,
    pub received_at: DateTime<Utc>,
    pub trigger: TriggerMeta,
    pub payload: Value,
    /// How many times a worker has claimed it; each claim is one attempt.
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TransitionError {
    #[error("execution already finished as {0}")]
    AlreadyFinished(ExecutionStatus),
    #[error("execution is running in another worker")]
    AlreadyRunning,
    #[error("execution is {0}, not running")]
    NotRunning(ExecutionStatus),
    #[error("execution was claimed again by a later attempt")]
    Superseded,
}

impl Execution {
    pub fn new(
        workflow_id: WorkflowId,
        trigger: TriggerMeta,
        payload: Value,
        now: DateTime<Utc>,
        retention: Duration,
    ) -> Self {
        Self {
            id: ExecutionId::generate(),
            workflow_id,
            status: ExecutionStatus::Queued,
            received_at: now,
            trigger,
            payload,
            attempts: 0,
            started_at: None,
            finished_at: None,
            result: None,
            error: None,
            expires_at: now + retention,
        }
    }

    /// A fresh execution that runs the same payload again.
    pub fn replay(&self, now: DateTime<Utc>, retention: Duration) -> Self {
        Self::new(
            self.workflow_id.clone(),
            TriggerMeta::Replay { of: self.id },
            self.payload.clone(),
            now,
            retention,
        )
    }

    /// A worker takes the execution. A queued one can be taken; so can a running one whose
    /// worker has been silent for longer than `lease` (it died: SQS or the local queue will
    /// have delivered the message again), otherwise a crash mid-run would strand it.
    pub fn claim(&self, now: DateTime<Utc>, lease: Duration) -> Result<Self, TransitionError> {
        match self.status {
            ExecutionStatus::Queued => {}
            ExecutionStatus::Running => {
                let stale = self.started_at.is_none_or(|started| started + lease <= now);
                if !stale {
                    return Err(TransitionError::AlreadyRunning);
                }
            }
            done => return Err(TransitionError::AlreadyFinished(done)),
        }
        Ok(Self {
            status: ExecutionStatus::Running,
            attempts: self.attempts + 1,
            started_at: Some(now),
            ..self.clone()
        })
    }

    pub fn succeed(
        &self,
        attempt: u32,
        result: Value,
        now: DateTime<Utc>,
    ) -> Result<Self, TransitionError> {
        self.check_finishable(attempt)?;
        Ok(Self {
            status: ExecutionStatus::Succeeded,
            finished_at: Some(now),
            result: Some(result),
            error: None,
            ..self.clone()
        })
    }

    pub fn fail(
        &self,
        attempt: u32,
        error: String,
        now: DateTime<Utc>,
    ) -> Result<Self, TransitionError> {
        self.check_finishable(attempt)?;
        Ok(Self {
            status: ExecutionStatus::Failed,
            finished_at: Some(now),
            result: None,
            error: Some(error),
            ..self.clone()
        })
    }

    /// Only the attempt that holds the claim may finish it, so a worker that outlived its
    /// lease cannot overwrite the outcome of the one that took over.
    fn check_finishable(&self, attempt: u32) -> Result<(), TransitionError> {
        match self.status {
            ExecutionStatus::Running if self.attempts == attempt => Ok(()),
            ExecutionStatus::Running => Err(TransitionError::Superseded),
            done if done.is_final() => Err(TransitionError::AlreadyFinished(done)),
            other => Err(TransitionError::NotRunning(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn queued() -> Execution {
        Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::GenericWebhook {
                content_type: None,
                idempotency_key: None,
                body_bytes: 2,
            },
            json!({"a": 1}),
            Utc::now(),
            Duration::days(30),
        )
    }

    fn lease() -> Duration {
        Duration::minutes(5)
    }

    #[test]
    fn new_execution_is_queued_with_retention() {
        let e = queued();
        assert_eq!(e.status, ExecutionStatus::Queued);
        assert_eq!(e.attempts, 0);
        assert_eq!(e.expires_at - e.received_at, Duration::days(30));
    }

    #[test]
    fn claim_moves_queued_to_running_and_counts_the_attempt() {
        let now = Utc::now();
        let running = queued().claim(now, lease()).unwrap();
        assert_eq!(running.status, ExecutionStatus::Running);
        assert_eq!(running.attempts, 1);
        assert_eq!(running.started_at, Some(now));
    }

    #[test]
    fn a_live_running_execution_cannot_be_claimed_twice() {
        let now = Utc::now();
        let running = queued().claim(now, lease()).unwrap();
        assert_eq!(
            running.claim(now + Duration::seconds(1), lease()),
            Err(TransitionError::AlreadyRunning)
        );
    }

    #[test]
    fn a_stale_running_execution_can_be_reclaimed() {
        let now = Utc::now();
        let running = queued().claim(now, lease()).unwrap();
        let again = running.claim(now + lease(), lease()).unwrap();
        assert_eq!(again.attempts, 2);
    }

    #[test]
    fn finishing_records_outcome_and_cannot_happen_twice() {
        let now = Utc::now();
        let running = queued().claim(now, lease()).unwrap();
        let done = running.succeed(1, json!("ok"), now).unwrap();
        assert_eq!(done.status, ExecutionStatus::Succeeded);
        assert_eq!(done.finished_at, Some(now));
        assert_eq!(
            done.fail(1, "late".into(), now),
            Err(TransitionError::AlreadyFinished(ExecutionStatus::Succeeded))
        );
        assert_eq!(
            done.claim(now, lease()),
            Err(TransitionError::AlreadyFinished(ExecutionStatus::Succeeded))
        );
    }

    #[test]
    fn a_queued_execution_cannot_finish() {
        assert_eq!(
            queued().succeed(0, json!(null), Utc::now()),
            Err(TransitionError::NotRunning(ExecutionStatus::Queued))
        );
    }

    #[test]
    fn a_superseded_attempt_cannot_finish() {
        let now = Utc::now();
        let first = queued().claim(now, lease()).unwrap();
        let second = first.claim(now + lease(), lease()).unwrap();
        assert_eq!(
            second.fail(1, "old".into(), now),
            Err(TransitionError::Superseded)
        );
        let failed = second.fail(2, "boom".into(), now).unwrap();
        assert_eq!(failed.error.as_deref(), Some("boom"));
    }

    #[test]
    fn replay_is_a_new_queued_execution_with_the_same_payload() {
        let original = queued();
        let replay = original.replay(Utc::now(), Duration::days(1));
        assert_ne!(replay.id, original.id);
        assert_eq!(replay.payload, original.payload);
        assert_eq!(replay.trigger, TriggerMeta::Replay { of: original.id });
        assert_eq!(replay.status, ExecutionStatus::Queued);
    }

    #[test]
    fn status_parses_from_its_name() {
        for s in ExecutionStatus::ALL {
            assert_eq!(s.as_str().parse::<ExecutionStatus>().unwrap(), s);
        }
        assert!("done".parse::<ExecutionStatus>().is_err());
    }
}
