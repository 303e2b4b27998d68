//! `branch`: cases tried in order, the first whose `when` holds names the next step; a
//! required `default` when none does.

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StepContext, StepDeps, StepRun, StepType};
use crate::domain::step::Target;
use crate::domain::{InvalidDefinition, TemplateEngine};

/// `branch`: picks the next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchStep {
    /// Tried in order; the first whose `when` holds names the next step.
    #[schemars(length(min = 1, max = MAX_CASES))]
    pub cases: Vec<BranchCase>,
    /// Required: a step id, or `end`.
    pub default: Target,
}

/// One case of a `branch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchCase {
    /// A bare condition, as a filter's `when`: a missing field is absent, not an error.
    pub when: String,
    /// A step id below the branch, or `end`.
    pub next: Target,
}

/// The longest case list a branch takes.
pub const MAX_CASES: usize = 50;

#[async_trait]
impl StepType for BranchStep {
    const KIND: &'static str = "branch";

    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        validate_branch(self, engine, path)
    }

    fn preview(
        &self,
        ctx: &StepContext,
        _key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String> {
        choose(self, ctx, templates)
            .map(|(matched, next)| json!({ "matched": matched, "next": next.as_str() }))
    }

    async fn run(&self, ctx: &StepContext, _key: &str, deps: &StepDeps) -> StepRun {
        match choose(self, ctx, &deps.templates) {
            Ok((matched, next)) => StepRun {
                next: Some(next.clone()),
                ..StepRun::succeeded(json!({ "matched": matched, "next": next.as_str() }))
            },
            Err(error) => StepRun::failed(error),
        }
    }
}

fn validate_branch(
    branch: &BranchStep,
    engine: &TemplateEngine,
    path: &str,
) -> Result<(), InvalidDefinition> {
    if branch.cases.is_empty() {
        return Err(InvalidDefinition::at(
            format!("{path}.cases"),
            "a branch needs at least one case (a `when` and a `next`)",
        ));
    }
    if branch.cases.len() > MAX_CASES {
        return Err(InvalidDefinition::at(
            format!("{path}.cases"),
            format!("{} cases; at most {}", branch.cases.len(), MAX_CASES),
        ));
    }
    for (i, case) in branch.cases.iter().enumerate() {
        engine
            .check_expression(&case.when)
            .map_err(|e| InvalidDefinition::template(&format!("{path}.cases[{i}].when"), e))?;
    }
    Ok(())
}

/// The first case whose `when` holds, as its index and target; `"default"` when none does.
fn choose<'a>(
    branch: &'a BranchStep,
    ctx: &StepContext,
    templates: &TemplateEngine,
) -> Result<(Value, &'a Target), String> {
    let tctx = ctx.to_template_context();
    for (index, case) in branch.cases.iter().enumerate() {
        let holds = templates
            .eval_condition(&case.when, &tctx)
            .map_err(|e| format!("cases[{index}].when: {e}"))?;
        if holds {
            return Ok((Value::from(index), &case.next));
        }
    }
    Ok((Value::from("default"), &branch.default))
}
