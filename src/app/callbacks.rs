//! Decisions on waiting executions: a resume URL's page and its POST (the token is the
//! credential), and an operator's approve, deny or cancel from the console (the admin key is).
//!
//! A decision is written to the URL's record with a single-use conditional write, then the
//! execution's wake-up is brought forward to now (so the sweeper's index has it due even if
//! the message below is lost), then a message wakes it at once. The worker reads the decision
//! when the step wakes; a decision that beat the worker's own "now waiting" write is found by
//! the worker right after that write.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{App, AppError};
use crate::domain::{
    Callback, CallbackRefusal, CallbackToken, Decision, DecisionKind, Execution, ExecutionStatus,
    WaitKind, WorkflowId,
};
use crate::ports::WorkItem;

/// What a resume URL's page shows (no token, no payload).
#[derive(Debug)]
pub struct CallbackPage {
    pub workflow_id: WorkflowId,
    pub step: String,
    pub kind: WaitKind,
    pub expires_at: DateTime<Utc>,
    /// Why it can no longer decide, if it cannot.
    pub closed: Option<AppError>,
}

/// What a caller asks of a resume URL.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Approve {
        comment: Option<String>,
    },
    Deny {
        comment: Option<String>,
    },
    /// A callback step's JSON.
    Body(Value),
}

/// The most characters of a comment kept.
pub const MAX_COMMENT_CHARS: usize = 1000;

fn comment_of(comment: Option<String>) -> Option<String> {
    comment
        .map(|c| c.trim().chars().take(MAX_COMMENT_CHARS).collect::<String>())
        .filter(|c| !c.is_empty())
}

fn refusal(r: CallbackRefusal) -> AppError {
    match r {
        CallbackRefusal::Used => AppError::CallbackUsed,
        CallbackRefusal::Expired => AppError::CallbackExpired,
    }
}

impl App {
    async fn callback_of(&self, token: &CallbackToken) -> Result<Callback, AppError> {
        self.store()
            .get_callback(&token.hash())
            .await?
            .ok_or(AppError::CallbackNotFound)
    }

    /// The page a person sees on opening an approval link: looking changes nothing (mail and
    /// chat scanners open links too).
    pub async fn callback_page(&self, token: &CallbackToken) -> Result<CallbackPage, AppError> {
        let callback = self.callback_of(token).await?;
        let closed = match callback.check_open(Utc::now()) {
            Ok(()) => self
                .waiting_on(&callback)
                .await?
                .err()
                .map(|_| AppError::CallbackExpired),
            Err(r) => Some(refusal(r)),
        };
        Ok(CallbackPage {
            workflow_id: callback.workflow_id,
            step: callback.step,
            kind: callback.kind,
            expires_at: callback.expires_at,
            closed,
        })
    }

    /// Decides with a resume URL: `410` when it was used or expired, `404` when unknown.
    pub async fn answer_callback(
        &self,
        token: &CallbackToken,
        answer: Answer,
    ) -> Result<DecisionKind, AppError> {
        let callback = self.callback_of(token).await?;
        let now = Utc::now();
        callback.check_open(now).map_err(refusal)?;
        // A URL an earlier attempt issued (its notification may have gone out before that
        // attempt failed) no longer decides anything.
        if self.waiting_on(&callback).await?.is_err() {
            return Err(AppError::CallbackExpired);
        }
        let decision = match (callback.kind, answer) {
            (WaitKind::Approval, Answer::Approve { comment }) => Decision {
                comment: comment_of(comment),
                ..Decision::new(DecisionKind::Approved, now)
            },
            (WaitKind::Approval, Answer::Deny { comment }) => Decision {
                comment: comment_of(comment),
                ..Decision::new(DecisionKind::Denied, now)
            },
            (WaitKind::Approval, Answer::Body(_)) => {
                return Err(AppError::InvalidRequest(
                    "an approval takes a decision: approve or deny".into(),
                ));
            }
            (_, Answer::Body(body)) => Decision {
                body: Some(body),
                ..Decision::new(DecisionKind::Received, now)
            },
            (_, _) => {
                return Err(AppError::InvalidRequest(
                    "a callback URL takes a JSON body, not a decision".into(),
                ));
            }
        };
        self.decide(&callback, &decision).await?;
        Ok(decision.kind)
    }

    /// An operator approves or denies a waiting approval from the console.
    pub async fn decide_as_operator(
        &self,
        workflow_id: &WorkflowId,
        raw_execution_id: &str,
        approve: bool,
        comment: Option<String>,
        operator: &str,
    ) -> Result<DecisionKind, AppError> {
        let execution = self.get_execution(workflow_id, raw_execution_id).await?;
        let Some(waiting) = execution
            .waiting
            .as_ref()
            .filter(|_| execution.status == ExecutionStatus::Waiting)
        else {
            return Err(AppError::NotWaiting(format!(
                "execution {} is {}, not waiting",
                execution.id, execution.status
            )));
        };
        let (WaitKind::Approval, Some(hash)) = (waiting.kind, &waiting.token_hash) else {
            return Err(AppError::NotWaiting(format!(
                "execution {} waits in a {} step, which takes no decision",
                execution.id,
                waiting.kind.as_str()
            )));
        };
        let callback = self
            .store()
            .get_callback(hash)
            .await?
            .ok_or(AppError::CallbackNotFound)?;
        let now = Utc::now();
        callback.check_open(now).map_err(refusal)?;
        let kind = if approve {
            DecisionKind::Approved
        } else {
            DecisionKind::Denied
        };
        let decision = Decision {
            comment: comment_of(comment),
            by: Some(format!("admin:{operator}")),
            ..Decision::new(kind, now)
        };
        self.decide(&callback, &decision).await?;
        tracing::info!(execution_id = %execution.id, operator, decision = kind.as_str(), "decided by an operator");
        Ok(kind)
    }

    /// An operator ends a waiting execution: failed, naming who cancelled; its resume URL
    /// answers `410` from then on.
    pub async fn cancel_waiting(
        &self,
        workflow_id: &WorkflowId,
        raw_execution_id: &str,
        operator: &str,
    ) -> Result<Execution, AppError> {
        let execution = self.get_execution(workflow_id, raw_execution_id).await?;
        let now = Utc::now();
        let cancelled = execution
            .cancel(format!("cancelled by admin:{operator} while waiting"), now)
            .map_err(|e| AppError::NotWaiting(format!("execution {}: {e}", execution.id)))?;
        if let Some(hash) = execution
            .waiting
            .as_ref()
            .and_then(|w| w.token_hash.as_ref())
        {
            let closed = Decision {
                by: Some(format!("admin:{operator}")),
                ..Decision::new(DecisionKind::Cancelled, now)
            };
            // Whoever decided first, the execution ends here; only the link is closed.
            self.store().decide_callback(hash, &closed).await?;
        }
        if !self
            .store()
            .replace_execution(&execution, &cancelled)
            .await?
        {
            return Err(AppError::NotWaiting(format!(
                "execution {} changed meanwhile; look again",
                execution.id
            )));
        }
        crate::measure::execution_finished(&cancelled.workflow_id, "failed");
        tracing::info!(execution_id = %execution.id, operator, "waiting execution cancelled");
        Ok(cancelled)
    }

    /// The execution `callback` belongs to, when it is still waiting on it (or is being
    /// parked on it right now); `Err(())` when it has moved on.
    async fn waiting_on(&self, callback: &Callback) -> Result<Result<Execution, ()>, AppError> {
        let Some(execution) = self
            .store()
            .get_execution(&callback.workflow_id, &callback.execution_id)
            .await?
        else {
            return Ok(Err(()));
        };
        let current = match execution.status {
            ExecutionStatus::Waiting => execution
                .waiting
                .as_ref()
                .is_some_and(|w| w.token_hash.as_deref() == Some(&callback.token_hash)),
            // The worker that issued it may not have written "waiting" yet.
            ExecutionStatus::Running => execution.attempts == callback.attempt,
            _ => false,
        };
        Ok(if current { Ok(execution) } else { Err(()) })
    }

    /// Records `decision` (once: a second one is `410`), then wakes the execution.
    async fn decide(&self, callback: &Callback, decision: &Decision) -> Result<(), AppError> {
        if !self
            .store()
            .decide_callback(&callback.token_hash, decision)
            .await?
        {
            return Err(AppError::CallbackUsed);
        }
        let item = WorkItem {
            workflow_id: callback.workflow_id.clone(),
            execution_id: callback.execution_id,
        };
        // Due now in the sweeper's index too, so a lost message below delays the wake-up by
        // a sweep at most. A worker that has not parked it yet finds the decision itself.
        if let Some(execution) = self
            .store()
            .get_execution(&item.workflow_id, &item.execution_id)
            .await?
            && let Some(woken) = execution.wake_now(Utc::now())
        {
            self.store().replace_execution(&execution, &woken).await?;
        }
        if let Err(e) = self.queue().enqueue(&item).await {
            tracing::warn!(execution_id = %item.execution_id, error = %e, "could not send the wake-up; the sweeper will");
        }
        Ok(())
    }
}
