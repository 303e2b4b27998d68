//! The items of a `for_each` step: one record per item, kept apart from the execution's own
//! record. A loop of 1,000 items whose inner steps each keep a request and a response would
//! not fit DynamoDB's 400 KB item, and rewriting a growing execution record after every item
//! would cost O(n²) bytes; a small record per item costs one small write per item that
//! reaches outside, and the console pages through them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::execution::StepRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// Some inner steps finished (their records are kept), the rest have not run yet.
    Running,
    Succeeded,
    Failed,
}

impl ItemStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn is_final(self) -> bool {
        self != Self::Running
    }
}

/// What one item of a `for_each` did. Keyed by (execution, `step_id`, `index`); a later write
/// for the same key replaces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemRecord {
    /// The `for_each` step's id.
    pub step_id: String,
    /// From 0, the item's place in the list.
    pub index: u32,
    pub status: ItemStatus,
    /// The inner steps that ran, in order; each record's `path` is `<step>[<index>].<inner>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRecord>,
    /// The last inner step's output once the item finished (`{"error": ...}` for an item that
    /// failed under `continue_on_error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub updated_at: DateTime<Utc>,
}
