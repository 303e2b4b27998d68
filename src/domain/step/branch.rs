//! `branch`: cases tried in order, the first whose `when` holds names the next step; a
//! required `default` when none does.

use serde::{Deserialize, Serialize};

use super::Target;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchStep {
    pub cases: Vec<BranchCase>,
    /// Required: a step id, or `end`.
    pub default: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BranchCase {
    /// A bare condition, as a filter's `when`: a missing field is absent, not an error.
    pub when: String,
    pub next: Target,
}

/// The longest case list a branch takes.
pub const MAX_CASES: usize = 50;
