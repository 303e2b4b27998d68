//! `for_each`: its own steps, once per item of a list, with at most `concurrency` items in
//! flight. The loop itself runs in the worker (`crate::worker::for_each`): it needs the store for
//! the items' records, which no other step touches.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StepContext, StepDeps, StepRun, StepType};
use crate::domain::{InvalidDefinition, TemplateEngine, WorkflowStep};

pub const DEFAULT_MAX_ITEMS: u32 = 100;
pub const MAX_ITEMS: u32 = 1000;
pub const DEFAULT_CONCURRENCY: u32 = 1;
pub const MAX_CONCURRENCY: u32 = 16;
/// Names an item may not take: they are the template's own top-level names.
pub const RESERVED_NAMES: [&str; 6] = [
    "trigger",
    "steps",
    "execution",
    "loop",
    "approval",
    "callback",
];

/// `for_each`: runs its steps once per item of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForEachStep {
    /// A bare expression that yields a list.
    pub items: String,
    /// The name each item has in templates; default `item`.
    #[serde(rename = "as", default = "default_as")]
    pub as_name: String,
    /// A longer list fails the step, naming its length. Default 100, at most 1000.
    #[serde(default = "default_max_items")]
    #[schemars(range(min = 1, max = MAX_ITEMS))]
    pub max_items: u32,
    /// Items in flight at once. Default 1, at most 16.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1, max = MAX_CONCURRENCY))]
    pub concurrency: u32,
    /// Run for each item, in order; any step type but `for_each`.
    #[schemars(length(min = 1))]
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

#[async_trait]
impl StepType for ForEachStep {
    const KIND: &'static str = "for_each";

    /// The loop's own fields; its steps are checked as a list of their own by the caller,
    /// which knows they sit in a loop.
    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        validate_for_each(self, engine, path)
    }

    /// One item: the loop spans deliveries, so no more has to fit in one.
    fn worst_case(&self) -> std::time::Duration {
        self.steps.iter().map(|s| s.action.worst_case()).sum()
    }

    fn preview(
        &self,
        ctx: &StepContext,
        _key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String> {
        templates
            .eval_json(&self.items, &ctx.to_template_context())
            .map(|items| json!({ "items": items }))
            .map_err(|e| format!("items: {e}"))
    }

    async fn run(&self, _ctx: &StepContext, _key: &str, _deps: &StepDeps) -> StepRun {
        StepRun::failed("a for_each runs in the worker's loop runner, not as a single step")
    }
}

fn validate_for_each(
    each: &ForEachStep,
    engine: &TemplateEngine,
    path: &str,
) -> Result<(), InvalidDefinition> {
    let field = |name: &str| format!("{path}.{name}");
    engine
        .check_expression(&each.items)
        .map_err(|e| InvalidDefinition::template(&field("items"), e))?;
    let name_ok = !each.as_name.is_empty()
        && each.as_name.len() <= 64
        && each
            .as_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !each.as_name.as_bytes()[0].is_ascii_digit();
    if !name_ok {
        return Err(InvalidDefinition::at(
            field("as"),
            format!("{:?} is not a name (letters, digits, '_')", each.as_name),
        ));
    }
    if RESERVED_NAMES.contains(&each.as_name.as_str()) {
        return Err(InvalidDefinition::at(
            field("as"),
            format!("{:?} is a name templates already use", each.as_name),
        ));
    }
    if !(1..=MAX_ITEMS).contains(&each.max_items) {
        return Err(InvalidDefinition::at(
            field("max_items"),
            format!("{} is outside 1 to {}", each.max_items, MAX_ITEMS),
        ));
    }
    if !(1..=MAX_CONCURRENCY).contains(&each.concurrency) {
        return Err(InvalidDefinition::at(
            field("concurrency"),
            format!("{} is outside 1 to {}", each.concurrency, MAX_CONCURRENCY),
        ));
    }
    if each.steps.is_empty() {
        return Err(InvalidDefinition::at(
            field("steps"),
            "a for_each needs at least one step to run per item",
        ));
    }
    Ok(())
}
