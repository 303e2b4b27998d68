//! Runs a `for_each` step: its steps once per item, at most `concurrency` items in flight.
//! Each item's progress is its own record in the store (see `ItemRecord` for why), written
//! when an inner step that reaches outside finishes and when the item ends, so a redelivered
//! or taken-over execution resumes inside the loop: finished items are not run again, and an
//! item stopped halfway goes on after its last finished step.

use std::collections::HashMap;

use chrono::Utc;
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::route::{self, Route};
use super::runner::{DeliveryCount, run_leaf};
use super::steps::{StepContext, StepDeps};
use crate::domain::step::ForEachStep;
use crate::domain::{Execution, ItemRecord, ItemStatus, StepRecord, StepStatus, WorkflowStep};
use crate::ports::{Store, StoreError};

/// The most bytes of item outputs a loop's own output keeps; past it, later items' entries
/// are `{"truncated": true}` (their records keep them whole). It keeps the execution's record
/// well under DynamoDB's 400 KB item.
pub const MAX_LOOP_OUTPUT: usize = 128 * 1024;

/// How a loop's run ended.
#[derive(Debug)]
pub enum LoopEnd {
    /// Every item ran (or one failed the loop): the loop's own record.
    Done(StepRecord),
    /// An item's step failed for a reason that may pass; a later delivery goes on.
    Retry {
        retry_after: Option<std::time::Duration>,
    },
    /// The deadline came before every item ran; a fresh delivery goes on.
    Continue,
}

enum ItemEnd {
    Done(ItemRecord),
    Retry(Option<std::time::Duration>),
}

pub struct Loop<'a> {
    pub store: &'a dyn Store,
    pub deps: &'a StepDeps,
    pub execution: &'a Execution,
    pub delivery: DeliveryCount,
    pub deadline: Instant,
    /// Nothing has run yet in this delivery: the first item starts whatever the deadline
    /// says, so that every delivery makes progress.
    pub fresh: bool,
}

impl Loop<'_> {
    pub async fn run(
        &self,
        step: &WorkflowStep,
        each: &ForEachStep,
        ctx: &StepContext,
    ) -> Result<LoopEnd, StoreError> {
        let started_at = Utc::now();
        let items = match self
            .deps
            .templates
            .eval_json(&each.items, &ctx.to_template_context())
        {
            Ok(Value::Array(items)) => items,
            Ok(other) => {
                let kind = json_kind(&other);
                return Ok(self.done(
                    step,
                    started_at,
                    Err(format!("items: is {kind}, not a list")),
                ));
            }
            Err(e) => return Ok(self.done(step, started_at, Err(format!("items: {e}")))),
        };
        let max = usize::try_from(each.max_items).unwrap_or(usize::MAX);
        if items.len() > max {
            let error = format!(
                "items: the list has {} items, more than max_items ({})",
                items.len(),
                each.max_items
            );
            return Ok(self.done(step, started_at, Err(error)));
        }
        let mut earlier: HashMap<u32, ItemRecord> = if items.is_empty() {
            HashMap::new()
        } else {
            self.store
                .list_items(
                    &self.execution.workflow_id,
                    &self.execution.id,
                    &step.id,
                    None,
                    items.len(),
                )
                .await?
                .into_iter()
                .map(|r| (r.index, r))
                .collect()
        };
        let mut outputs: Vec<Option<Value>> = vec![None; items.len()];
        let mut failure: Option<(usize, String)> = None;
        let mut halt: Option<LoopEnd> = None;
        let per_item = step.action.worst_case();
        let concurrency = usize::try_from(each.concurrency).unwrap_or(1).max(1);
        let mut started_any = !self.fresh;
        let mut pending = (0..items.len())
            .filter(|i| {
                let finished = earlier.get(&(*i as u32)).filter(|r| r.status.is_final());
                match finished {
                    Some(record) => {
                        outputs[*i] = Some(record.output.clone().unwrap_or(Value::Null));
                        if record.status == ItemStatus::Failed && !step.continue_on_error {
                            failure.get_or_insert((*i, record.error.clone().unwrap_or_default()));
                        }
                        false
                    }
                    None => true,
                }
            })
            .collect::<Vec<_>>()
            .into_iter();
        let mut in_flight = FuturesUnordered::new();
        loop {
            while failure.is_none() && halt.is_none() && in_flight.len() < concurrency {
                let Some(index) = pending.next() else { break };
                if started_any && Instant::now() + per_item > self.deadline {
                    halt = Some(LoopEnd::Continue);
                    break;
                }
                started_any = true;
                let item_ctx =
                    ctx.for_item(&step.id, &each.as_name, &items[index], index, items.len());
                let resume_from = earlier.remove(&(index as u32));
                in_flight.push(self.run_item(step, each, item_ctx, index, resume_from));
            }
            let Some(done) = in_flight.next().await else {
                break;
            };
            let (index, end) = done?;
            match end {
                ItemEnd::Done(record) => {
                    if record.status == ItemStatus::Failed && !step.continue_on_error {
                        failure.get_or_insert((index, record.error.clone().unwrap_or_default()));
                    }
                    outputs[index] = Some(record.output.unwrap_or(Value::Null));
                }
                ItemEnd::Retry(retry_after) => {
                    if !matches!(halt, Some(LoopEnd::Retry { .. })) {
                        halt = Some(LoopEnd::Retry { retry_after });
                    }
                }
            }
        }
        if let Some((index, error)) = failure {
            return Ok(self.done(
                step,
                started_at,
                Err(format!("item {index} failed: {error}")),
            ));
        }
        if let Some(halt) = halt {
            return Ok(halt);
        }
        let outputs = capped(outputs.into_iter().map(Option::unwrap_or_default).collect());
        Ok(self.done(step, started_at, Ok(outputs)))
    }

    fn done(
        &self,
        step: &WorkflowStep,
        started_at: chrono::DateTime<Utc>,
        outcome: Result<Value, String>,
    ) -> LoopEnd {
        let (status, output, error) = match outcome {
            Ok(output) => (StepStatus::Succeeded, Some(output), None),
            Err(error) => (StepStatus::Failed, None, Some(error)),
        };
        LoopEnd::Done(StepRecord {
            id: step.id.clone(),
            path: None,
            kind: step.action.kind().to_owned(),
            status,
            attempts: 1,
            started_at,
            finished_at: Utc::now(),
            request: None,
            output,
            error,
            continued: status == StepStatus::Failed && step.continue_on_error,
            next: None,
        })
    }

    /// Runs one item's steps from where its record (if any) says it stopped.
    async fn run_item(
        &self,
        step: &WorkflowStep,
        each: &ForEachStep,
        mut ctx: StepContext,
        index: usize,
        earlier: Option<ItemRecord>,
    ) -> Result<(usize, ItemEnd), StoreError> {
        let mut item = earlier.unwrap_or_else(|| ItemRecord {
            step_id: step.id.clone(),
            index: u32::try_from(index).unwrap_or(u32::MAX),
            status: ItemStatus::Running,
            steps: Vec::new(),
            output: None,
            error: None,
            updated_at: Utc::now(),
        });
        let resumed = route::resume(&each.steps, &item.steps, |r| ctx.record(r));
        item.steps.retain(StepRecord::is_final);
        let mut last_output = resumed.last_output;
        let mut at = resumed.route;
        while let Route::To(inner) = at {
            let inner_step = &each.steps[inner];
            let (record, run) = run_leaf(inner_step, &ctx, self.deps, self.delivery).await;
            item.steps.retain(|r| r.id != record.id);
            item.steps.push(record.clone());
            if record.status == StepStatus::Retrying {
                self.save(&mut item).await?;
                return Ok((index, ItemEnd::Retry(run.retry_after)));
            }
            if record.status == StepStatus::Failed && !self.execution.test {
                crate::measure::step_failed(&self.execution.workflow_id, inner_step.action.kind());
            }
            ctx.record(&record);
            if record.status == StepStatus::Succeeded {
                last_output = record.output.clone().unwrap_or(Value::Null);
            }
            at = route::after(&each.steps, inner, &record);
            let finished = !matches!(at, Route::To(_));
            if inner_step.action.reaches_outside() && !finished {
                self.save(&mut item).await?;
            }
        }
        let last = item.steps.last();
        match at {
            Route::Fail(error) => {
                item.status = ItemStatus::Failed;
                item.output = Some(json!({ "error": error }));
                item.error = Some(error);
            }
            Route::Filtered | Route::Stopped(_) => {
                item.status = ItemStatus::Succeeded;
                item.output = last.and_then(|r| r.output.clone());
            }
            Route::Complete | Route::To(_) => {
                item.status = ItemStatus::Succeeded;
                item.output = Some(last_output);
            }
        }
        self.save(&mut item).await?;
        Ok((index, ItemEnd::Done(item)))
    }

    async fn save(&self, item: &mut ItemRecord) -> Result<(), StoreError> {
        item.updated_at = Utc::now();
        self.store
            .put_items(self.execution, std::slice::from_ref(item))
            .await
    }
}

/// The item outputs as a list, entries past [`MAX_LOOP_OUTPUT`] bytes replaced.
fn capped(outputs: Vec<Value>) -> Value {
    let mut used = 0usize;
    let mut over = false;
    let list = outputs
        .into_iter()
        .map(|output| {
            let size = serde_json::to_vec(&output).map_or(0, |v| v.len());
            over |= used + size > MAX_LOOP_OUTPUT;
            if over {
                json!({ "truncated": true })
            } else {
                used += size;
                output
            }
        })
        .collect();
    Value::Array(list)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_output_keeps_items_up_to_the_cap() {
        let big = Value::from("x".repeat(MAX_LOOP_OUTPUT / 2));
        let out = capped(vec![json!(1), big.clone(), big.clone(), json!(2)]);
        assert_eq!(out[0], json!(1));
        assert_eq!(out[1], big);
        assert_eq!(out[2], json!({"truncated": true}));
        assert_eq!(
            out[3],
            json!({"truncated": true}),
            "later items stay cut, in order"
        );
    }
}
