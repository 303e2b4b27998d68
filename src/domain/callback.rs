//! Resume URLs: the token of an `approval` or `callback` step, and what was decided with it.
//!
//! A token is 256 random bits, handed out once in the step's notification and never stored:
//! the store keeps its SHA-256, which is also how a request finds its record. One record per
//! (execution, step, attempt); the first decision wins (a conditional write), so a link is
//! single use, and a timeout is a decision like any other, so a late click and a timeout
//! cannot both win.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::execution::WaitKind;
use super::ids::{ExecutionId, WorkflowId};

/// The secret part of a resume URL. Its `Debug` hides it, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct CallbackToken(String);

impl fmt::Debug for CallbackToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackToken(…)")
    }
}

impl CallbackToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token as it came in a URL. Anything is accepted here: an unknown token simply has
    /// no record.
    pub fn from_url(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps and looks the token up by.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

/// How a wait for a person or a system ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    Approved,
    Denied,
    /// Nobody answered before the timeout.
    TimedOut,
    /// A `callback` step's URL was called; the posted JSON is the decision's `body`.
    Received,
    /// An operator cancelled the waiting execution.
    Cancelled,
}

impl DecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::TimedOut => "timed_out",
            Self::Received => "received",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub kind: DecisionKind,
    pub decided_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Who decided when it was not the link: `admin:<admin key name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// What a `callback` step's URL was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl Decision {
    pub fn new(kind: DecisionKind, decided_at: DateTime<Utc>) -> Self {
        Self {
            kind,
            decided_at,
            comment: None,
            by: None,
            body: None,
        }
    }
}

/// The stored side of one resume URL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Callback {
    pub token_hash: String,
    pub workflow_id: WorkflowId,
    pub execution_id: ExecutionId,
    pub step: String,
    pub kind: WaitKind,
    /// The attempt that issued it: a later attempt issues a new one.
    pub attempt: u32,
    /// After this a decision is refused (`410 callback_expired`).
    pub expires_at: DateTime<Utc>,
    /// The record is kept as long as its execution.
    pub retain_until: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// Why a decision was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackRefusal {
    #[error("this link was already used")]
    Used,
    #[error("this link has expired")]
    Expired,
}

impl Callback {
    /// Whether a decision may still be made with it at `now`.
    /// The record with `decision` made, or `None` when it has one already (the one decision a
    /// link gets; the store's conditional write settles a race between two).
    pub fn decided(&self, decision: &Decision) -> Option<Self> {
        if self.decision.is_some() {
            return None;
        }
        Some(Self {
            decision: Some(decision.clone()),
            ..self.clone()
        })
    }

    /// A link closed by its timeout is expired, whether or not the timeout was recorded yet.
    pub fn check_open(&self, now: DateTime<Utc>) -> Result<(), CallbackRefusal> {
        match &self.decision {
            Some(d) if d.kind == DecisionKind::TimedOut => Err(CallbackRefusal::Expired),
            Some(_) => Err(CallbackRefusal::Used),
            None if now >= self.expires_at => Err(CallbackRefusal::Expired),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_random_bits_hidden_from_debug_and_stored_as_their_hash() {
        let a = CallbackToken::generate();
        let b = CallbackToken::generate();
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(a.expose()).unwrap().len(), 32);
        assert!(!format!("{a:?}").contains(a.expose()));
        assert_eq!(a.hash().len(), 64);
        assert_eq!(a.hash(), CallbackToken::from_url(a.expose()).hash());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn a_callback_is_open_until_decided_or_expired() {
        let now = Utc::now();
        let mut cb = Callback {
            token_hash: "h".into(),
            workflow_id: WorkflowId::parse("wf").unwrap(),
            execution_id: ExecutionId::generate(),
            step: "approve".into(),
            kind: WaitKind::Approval,
            attempt: 1,
            expires_at: now + chrono::Duration::hours(1),
            retain_until: now + chrono::Duration::days(30),
            decision: None,
        };
        assert_eq!(cb.check_open(now), Ok(()));
        assert_eq!(
            cb.check_open(now + chrono::Duration::hours(1)),
            Err(CallbackRefusal::Expired)
        );
        cb.decision = Some(Decision::new(DecisionKind::Approved, now));
        assert_eq!(cb.check_open(now), Err(CallbackRefusal::Used));
        cb.decision = Some(Decision::new(DecisionKind::TimedOut, now));
        assert_eq!(cb.check_open(now), Err(CallbackRefusal::Expired));
    }
}
