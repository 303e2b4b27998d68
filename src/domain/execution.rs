//! Executions: one accepted webhook, its payload and its way through
//! `queued → running → succeeded | failed`, with `running → waiting → running` while a
//! `wait`, `approval` or `callback` step holds it.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::definition::Definition;
use super::ids::{ExecutionId, WorkflowId};
use super::request::RequestMeta;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Queued,
    Running,
    /// A `wait`, `approval` or `callback` step holds it until `Execution::waiting` says.
    Waiting,
    Succeeded,
    Failed,
}

impl ExecutionStatus {
    pub const ALL: [Self; 5] = [
        Self::Queued,
        Self::Running,
        Self::Waiting,
        Self::Succeeded,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Waiting => "waiting",
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
                format!(
                    "unknown status {s:?} (expected queued, running, waiting, succeeded or failed)"
                )
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
    /// Started by `executions replay`: it runs the payload of `original` again. Stored as
    /// `{"type": "replay", "of": ...}` (the format records already have).
    #[serde(rename = "replay")]
    ReplayOf {
        #[serde(rename = "of")]
        original: ExecutionId,
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
    /// Headers and query of the request (credentials removed); empty for SNS and replays.
    #[serde(default, skip_serializing_if = "is_default")]
    pub request: RequestMeta,
    /// One record per step that has run, in the order they ran (the path taken). A
    /// redelivered execution resumes after the last finished one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRecord>,
    /// The steps this execution runs, copied from the workflow when a worker first claims
    /// it, so that an edit made while it runs (or waits for a redelivery) cannot make it run
    /// the wrong step. Records stored before the copy existed have none and run the
    /// workflow's current steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<Definition>,
    /// What a `waiting` execution waits for; kept through the claim that wakes it, so the
    /// step it waited in can read it, and cleared when that step's record is final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<Waiting>,
    /// The workflow's version when the execution was accepted; unknown for records stored
    /// before versions existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_version: Option<u32>,
    /// Started from the test bench (`test-run`): shown as such and left out of the metrics'
    /// execution counts. Records from before the flag load as false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
}

/// What kind of step an execution waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitKind {
    /// A `wait` step: a time.
    Wait,
    /// An `approval` step: a person's decision, or its timeout.
    Approval,
    /// A `callback` step: a POST to its resume URL, or its timeout.
    Callback,
}

impl WaitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wait => "wait",
            Self::Approval => "approval",
            Self::Callback => "callback",
        }
    }
}

/// Why a `waiting` execution waits, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Waiting {
    /// The id of the step it waits in (a top-level step: waits are not allowed in loops).
    pub step: String,
    pub kind: WaitKind,
    /// When it wakes: a `wait`'s end, an approval's or callback's timeout, or the moment a
    /// decision arrived (the resume URL brings the wake-up forward).
    pub wake_at: DateTime<Utc>,
    /// An approval's or callback's end of validity: a decision after it is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// SHA-256 (hex) of the resume URL's token; the token itself is never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<String>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Succeeded,
    Failed,
    /// A `filter` step said no: the execution ends here, successfully (in a loop, the item).
    Filtered,
    /// A `stop` step: the execution ends here, successfully (in a loop, the item).
    Stopped,
    /// Failed for a reason that may pass (a timeout, a 503); the step runs again when the
    /// message comes back.
    Retrying,
    /// A `wait`, `approval` or `callback` step that has started and not yet ended: the
    /// execution is `waiting`, and the step's final record replaces this one on wake-up.
    Waiting,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Filtered => "filtered",
            Self::Stopped => "stopped",
            Self::Retrying => "retrying",
            Self::Waiting => "waiting",
        }
    }
}

/// What one step did, as the executions page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub id: String,
    /// Where the step sits when it is not a top-level step: `<for_each>[<index>].<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: StepStatus,
    /// Tries within the last invocation (HTTP retries count here).
    pub attempts: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// The rendered request with secrets redacted, for steps that send one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The step failed but said `continue_on_error`, so the run went on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continued: bool,
    /// Where the step sent the run when its outcome chose (an approval's `on_deny` or
    /// `on_timeout`, a callback's `on_timeout`); a branch keeps its choice in its output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl StepRecord {
    /// Finished for good: a redelivery must not run it again.
    pub fn is_final(&self) -> bool {
        !matches!(self.status, StepStatus::Retrying | StepStatus::Waiting)
    }
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
    /// A wake-up came before the execution's time (a duplicate, or a timer that fired
    /// early): nothing changes.
    #[error("execution waits until {0}")]
    NotDue(DateTime<Utc>),
}

impl Execution {
    /// Queued and never taken by a worker: the only state in which its queue message may be
    /// missing (a send lost after the write). Once a worker has taken it, the message's own
    /// redelivery carries it, including back to `queued` when a step asked for a later retry.
    pub fn awaiting_first_delivery(&self) -> bool {
        self.status == ExecutionStatus::Queued && self.attempts == 0
    }

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
            request: RequestMeta::default(),
            steps: Vec::new(),
            definition: None,
            waiting: None,
            workflow_version: None,
            test: false,
        }
    }

    /// The same execution, marked as a test run.
    pub fn as_test(self) -> Self {
        Self { test: true, ..self }
    }

    /// The same execution, naming the workflow version it was accepted under.
    pub fn of_version(self, version: u32) -> Self {
        Self {
            workflow_version: Some(version),
            ..self
        }
    }

    /// The same execution, keeping the request's headers and query.
    pub fn with_request(self, request: RequestMeta) -> Self {
        Self { request, ..self }
    }

    /// What templates see as `trigger`: the body, the request's headers and query, when it
    /// arrived, and for SNS the message's envelope.
    pub fn trigger_context(&self) -> Value {
        let mut trigger = serde_json::json!({
            "body": self.payload,
            "headers": self.request.headers,
            "query": self.request.query,
            "receivedAt": self.received_at,
        });
        if let TriggerMeta::AmazonSns {
            message_id,
            topic_arn,
            subject,
            timestamp,
            message_attributes,
        } = &self.trigger
        {
            trigger["sns"] = serde_json::json!({
                "messageId": message_id,
                "topicArn": topic_arn,
                "subject": subject,
                "timestamp": timestamp,
                "messageAttributes": message_attributes.clone().unwrap_or(Value::Object(Default::default())),
            });
        }
        trigger
    }

    /// How many steps have finished for good: where a redelivered execution resumes.
    pub fn finished_steps(&self) -> usize {
        self.steps.iter().take_while(|r| r.is_final()).count()
    }

    /// Records a step's outcome while this attempt holds the claim. A record for a step that
    /// was retrying is replaced, so each step appears once.
    pub fn record_step(&self, attempt: u32, record: StepRecord) -> Result<Self, TransitionError> {
        self.check_finishable(attempt)?;
        let mut steps: Vec<StepRecord> = self
            .steps
            .iter()
            .filter(|r| r.id != record.id)
            .cloned()
            .collect();
        // The step an execution waited in has ended: what it waited for is history.
        let waiting = match &self.waiting {
            Some(w) if w.step == record.id && record.is_final() => None,
            other => other.clone(),
        };
        steps.push(record);
        Ok(Self {
            steps,
            waiting,
            ..self.clone()
        })
    }

    /// Gives a running execution back to the queue (a step failed for a reason that may pass),
    /// so the next delivery can claim it at once instead of waiting for the lease to run out.
    pub fn release(&self, attempt: u32) -> Result<Self, TransitionError> {
        self.check_finishable(attempt)?;
        Ok(Self {
            status: ExecutionStatus::Queued,
            ..self.clone()
        })
    }

    /// Parks a running execution in a step that waits: no worker holds it until `waiting`'s
    /// wake-up time (or a decision) comes. The step's `Waiting` record goes with it.
    pub fn wait(
        &self,
        attempt: u32,
        record: StepRecord,
        waiting: Waiting,
    ) -> Result<Self, TransitionError> {
        let recorded = self.record_step(attempt, record)?;
        Ok(Self {
            status: ExecutionStatus::Waiting,
            waiting: Some(waiting),
            ..recorded
        })
    }

    /// Brings a waiting execution's wake-up forward to `now` (a decision arrived at its resume
    /// URL), so whichever wake-up comes first, the sweeper's or a message's, takes it.
    pub fn wake_now(&self, now: DateTime<Utc>) -> Option<Self> {
        let waiting = self.waiting.as_ref()?;
        if self.status != ExecutionStatus::Waiting || waiting.wake_at <= now {
            return None;
        }
        Some(Self {
            waiting: Some(Waiting {
                wake_at: now,
                ..waiting.clone()
            }),
            ..self.clone()
        })
    }

    /// Ends a waiting execution from outside (an operator's cancel): failed with `error`.
    pub fn cancel(&self, error: String, now: DateTime<Utc>) -> Result<Self, TransitionError> {
        match self.status {
            ExecutionStatus::Waiting => Ok(Self {
                status: ExecutionStatus::Failed,
                finished_at: Some(now),
                result: None,
                error: Some(error),
                waiting: None,
                ..self.clone()
            }),
            done if done.is_final() => Err(TransitionError::AlreadyFinished(done)),
            other => Err(TransitionError::NotRunning(other)),
        }
    }

    /// A fresh execution that runs the same payload again.
    pub fn replay(&self, now: DateTime<Utc>, retention: Duration) -> Self {
        Self::new(
            self.workflow_id.clone(),
            TriggerMeta::ReplayOf { original: self.id },
            self.payload.clone(),
            now,
            retention,
        )
    }

    /// A worker takes the execution. A queued one can be taken; so can a running one whose
    /// worker has been silent for longer than `lease` (it died: SQS or the local queue will
    /// have delivered the message again), otherwise a crash mid-run would strand it.
    /// A `waiting` one can be taken once its wake-up time has come; before, the claim is
    /// refused with `NotDue` and nothing changes.
    pub fn claim(&self, now: DateTime<Utc>, lease: Duration) -> Result<Self, TransitionError> {
        match self.status {
            ExecutionStatus::Queued => {}
            ExecutionStatus::Waiting => match &self.waiting {
                Some(waiting) if waiting.wake_at > now => {
                    return Err(TransitionError::NotDue(waiting.wake_at));
                }
                _ => {}
            },
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
        assert_eq!(
            replay.trigger,
            TriggerMeta::ReplayOf {
                original: original.id
            }
        );
        assert_eq!(replay.status, ExecutionStatus::Queued);
    }

    fn record(id: &str, status: StepStatus) -> StepRecord {
        let now = Utc::now();
        StepRecord {
            id: id.into(),
            path: None,
            kind: "echo".into(),
            status,
            attempts: 1,
            started_at: now,
            finished_at: now,
            request: None,
            output: Some(json!(1)),
            error: None,
            continued: false,
            next: None,
        }
    }

    #[test]
    fn steps_are_recorded_once_each_and_resume_after_the_last_final_one() {
        let now = Utc::now();
        let running = queued().claim(now, lease()).unwrap();
        let one = running
            .record_step(1, record("a", StepStatus::Succeeded))
            .unwrap();
        let two = one
            .record_step(1, record("b", StepStatus::Retrying))
            .unwrap();
        assert_eq!(two.finished_steps(), 1);
        let released = two.release(1).unwrap();
        assert_eq!(released.status, ExecutionStatus::Queued);
        let again = released.claim(now, lease()).unwrap();
        assert_eq!(again.attempts, 2);
        let done = again
            .record_step(2, record("b", StepStatus::Succeeded))
            .unwrap();
        assert_eq!(done.steps.len(), 2);
        assert_eq!(done.finished_steps(), 2);
    }

    #[test]
    fn a_superseded_attempt_cannot_record_a_step() {
        let now = Utc::now();
        let first = queued().claim(now, lease()).unwrap();
        let second = first.claim(now + lease(), lease()).unwrap();
        assert_eq!(
            second.record_step(1, record("a", StepStatus::Succeeded)),
            Err(TransitionError::Superseded)
        );
    }

    #[test]
    fn the_trigger_context_has_body_headers_query_and_sns() {
        let mut headers = std::collections::BTreeMap::new();
        headers.insert("x-github-event".to_owned(), "push".to_owned());
        let e = queued().with_request(RequestMeta {
            headers,
            query: Default::default(),
        });
        let ctx = e.trigger_context();
        assert_eq!(ctx["body"], json!({"a": 1}));
        assert_eq!(ctx["headers"]["x-github-event"], "push");
        assert!(ctx.get("sns").is_none());
        let sns = Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::AmazonSns {
                message_id: "m".into(),
                topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
                subject: None,
                timestamp: "2026-11-25T00:00:00Z".into(),
                message_attributes: None,
            },
            json!("text"),
            Utc::now(),
            Duration::days(1),
        );
        assert_eq!(sns.trigger_context()["sns"]["messageId"], "m");
        assert_eq!(sns.trigger_context()["sns"]["messageAttributes"], json!({}));
    }

    #[test]
    fn a_replay_keeps_the_stored_format_of_earlier_records() {
        let id = ExecutionId::generate();
        let stored = json!({"type": "replay", "of": id.to_string()});
        let meta: TriggerMeta = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(meta, TriggerMeta::ReplayOf { original: id });
        assert_eq!(serde_json::to_value(&meta).unwrap(), stored);
    }

    fn waiting_for(step: &str, wake_at: DateTime<Utc>) -> Waiting {
        Waiting {
            step: step.into(),
            kind: WaitKind::Wait,
            wake_at,
            expires_at: None,
            token_hash: None,
        }
    }

    #[test]
    fn a_waiting_execution_is_claimed_only_once_due_and_then_forgets_the_wait() {
        let now = Utc::now();
        let running = queued().claim(now, lease()).unwrap();
        let wake = now + Duration::minutes(10);
        let waiting = running
            .wait(1, record("w", StepStatus::Waiting), waiting_for("w", wake))
            .unwrap();
        assert_eq!(waiting.status, ExecutionStatus::Waiting);
        assert_eq!(waiting.finished_steps(), 0);
        assert_eq!(
            waiting.claim(now + Duration::minutes(9), lease()),
            Err(TransitionError::NotDue(wake))
        );
        let woken = waiting.claim(wake, lease()).unwrap();
        assert_eq!(woken.status, ExecutionStatus::Running);
        assert_eq!(woken.attempts, 2);
        assert!(woken.waiting.is_some(), "the step reads what it waited for");
        let done = woken
            .record_step(2, record("w", StepStatus::Succeeded))
            .unwrap();
        assert_eq!(done.waiting, None);
        assert_eq!(done.steps.len(), 1);
    }

    #[test]
    fn a_decision_brings_the_wake_up_forward_and_a_cancel_fails_it() {
        let now = Utc::now();
        let running = queued().claim(now, lease()).unwrap();
        let waiting = running
            .wait(
                1,
                record("a", StepStatus::Waiting),
                waiting_for("a", now + Duration::hours(1)),
            )
            .unwrap();
        let woken = waiting.wake_now(now).unwrap();
        assert!(woken.claim(now, lease()).is_ok());
        assert_eq!(woken.wake_now(now), None, "already due");
        assert_eq!(running.wake_now(now), None, "not waiting");
        let cancelled = waiting.cancel("cancelled".into(), now).unwrap();
        assert_eq!(cancelled.status, ExecutionStatus::Failed);
        assert_eq!(
            running.cancel("x".into(), now),
            Err(TransitionError::NotRunning(ExecutionStatus::Running))
        );
    }

    #[test]
    fn status_parses_from_its_name() {
        for s in ExecutionStatus::ALL {
            assert_eq!(s.as_str().parse::<ExecutionStatus>().unwrap(), s);
        }
        assert!("done".parse::<ExecutionStatus>().is_err());
    }
}
