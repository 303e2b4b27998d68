//! `for_each`: its own steps, once per item of a list, with at most `concurrency` items in
//! flight.

use serde::{Deserialize, Serialize};

use super::WorkflowStep;

pub const DEFAULT_MAX_ITEMS: u32 = 100;
pub const MAX_ITEMS: u32 = 1000;
pub const DEFAULT_CONCURRENCY: u32 = 1;
pub const MAX_CONCURRENCY: u32 = 16;
/// Names an item may not take: they are the template's own top-level names.
pub const RESERVED_NAMES: [&str; 5] = ["trigger", "steps", "execution", "loop", "approval"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForEachStep {
    /// A bare expression that yields a list.
    pub items: String,
    /// The name each item has in templates; default `item`.
    #[serde(rename = "as", default = "default_as")]
    pub as_name: String,
    /// A longer list fails the step, naming its length. Default 100, at most 1000.
    #[serde(default = "default_max_items")]
    pub max_items: u32,
    /// Items in flight at once. Default 1, at most 16.
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// Run for each item, in order; any step type but `for_each`.
    pub steps: Vec<WorkflowStep>,
}

fn default_as() -> String {
    "item".to_owned()
}
fn default_max_items() -> u32 {
    DEFAULT_MAX_ITEMS
}
fn default_concurrency() -> u32 {
    DEFAULT_CONCURRENCY
}
