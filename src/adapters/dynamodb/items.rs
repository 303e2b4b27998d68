//! The items of `for_each` steps: one item per (execution, step, index) in the workflow's
//! partition, `ITEM#{execution}#{step}#{index}`, removed by TTL with their execution. A
//! step's items are one Query in index order; they sort apart from every `EXEC#` item, so no
//! listing of executions ever reads them.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use super::item::{for_each_item, item_prefix, item_sk, record, workflow_pk};
use super::request::build_error;
use super::{DynamoStore, Item, unavailable};
use crate::domain::{Execution, ExecutionId, ItemRecord, WorkflowId};
use crate::ports::{ItemStore, StoreError};

/// The most puts one BatchWriteItem takes.
const BATCH_WRITE_MAX: usize = 25;
/// Rounds of re-sending what a BatchWriteItem left unprocessed (the table throttled part of
/// it), after the first send.
const UNPROCESSED_RETRIES: u32 = 4;
/// The wait before the first re-send, doubled each round (50 ms ... 400 ms, under a second
/// in all), so a throttled partition gets room before the next try.
const RETRY_BASE: Duration = Duration::from_millis(50);

/// The items to write, one per key: BatchWriteItem refuses a request that names one key
/// twice, and of two records for one key a put in order would leave the later.
fn items_of(execution: &Execution, records: &[ItemRecord]) -> Result<Vec<Item>, StoreError> {
    let mut latest: BTreeMap<(&str, u32), &ItemRecord> = BTreeMap::new();
    for r in records {
        latest.insert((r.step_id.as_str(), r.index), r);
    }
    latest
        .into_values()
        .map(|r| for_each_item(execution, r))
        .collect()
}

fn put_request(item: Item) -> Result<WriteRequest, StoreError> {
    let put = PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(build_error)?;
    Ok(WriteRequest::builder().put_request(put).build())
}

impl DynamoStore {
    /// One BatchWriteItem of at most [`BATCH_WRITE_MAX`] puts, re-sending what the table
    /// left unprocessed a few times before giving up as unavailable.
    async fn batch_put(&self, mut pending: Vec<WriteRequest>) -> Result<(), StoreError> {
        for round in 0..=UNPROCESSED_RETRIES {
            if round > 0 {
                tokio::time::sleep(RETRY_BASE * 2u32.pow(round - 1)).await;
            }
            let out = self
                .client()
                .batch_write_item()
                .request_items(self.table(), pending)
                .send()
                .await
                .map_err(|e| unavailable("BatchWriteItem (for_each items)", e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut left| left.remove(self.table()))
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(format!(
            "DynamoDB BatchWriteItem (for_each items) left {} items unprocessed after {} retries",
            pending.len(),
            UNPROCESSED_RETRIES
        )))
    }
}

#[async_trait]
impl ItemStore for DynamoStore {
    /// One PutItem for a lone record (the common case: a worker writes each item as it
    /// finishes), BatchWriteItem in chunks otherwise. Chunks are not one transaction: a
    /// failure may leave some records written, which a retry of the same put overwrites.
    async fn put_items(
        &self,
        execution: &Execution,
        records: &[ItemRecord],
    ) -> Result<(), StoreError> {
        let mut items = items_of(execution, records)?;
        if items.len() <= 1 {
            if let Some(item) = items.pop() {
                self.put_item(item)
                    .send()
                    .await
                    .map_err(|e| unavailable("PutItem (for_each item)", e))?;
            }
            return Ok(());
        }
        let mut requests = items
            .into_iter()
            .map(put_request)
            .collect::<Result<Vec<_>, _>>()?;
        while !requests.is_empty() {
            let chunk = requests
                .drain(..requests.len().min(BATCH_WRITE_MAX))
                .collect();
            self.batch_put(chunk).await?;
        }
        Ok(())
    }

    /// One Query over the step's keys from the first index wanted, following pages until
    /// `limit` records are found or the step's items end. Strongly consistent: a worker that
    /// picks up a redelivered execution reads which items are done, and must not miss one
    /// written a moment ago by the worker before it (that item's requests would be sent again).
    async fn list_items(
        &self,
        workflow_id: &WorkflowId,
        execution_id: &ExecutionId,
        step_id: &str,
        after: Option<u32>,
        limit: usize,
    ) -> Result<Vec<ItemRecord>, StoreError> {
        let first = match after {
            None => 0,
            Some(after) => match after.checked_add(1) {
                Some(first) => first,
                // Nothing has an index above the largest there is.
                None => return Ok(Vec::new()),
            },
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        // One sort key condition per Query: from the first index wanted to the end of this
        // step's items.
        let from = item_sk(execution_id, step_id, first);
        let prefix = item_prefix(execution_id, step_id);
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = i32::try_from(limit - found.len()).unwrap_or(i32::MAX);
            let out = self
                .query_from(workflow_pk(workflow_id), from.clone(), &prefix)
                .consistent_read(true)
                .limit(page)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("Query (for_each items)", e))?;
            for item in out.items() {
                let record = record::<ItemRecord>(item)?;
                // Only a step id with a `#` (which workflows refuse) could put another step's
                // items under this prefix; they are still not this step's.
                if record.step_id != step_id {
                    continue;
                }
                found.push(record);
                if found.len() >= limit {
                    return Ok(found);
                }
            }
            match out.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(found),
            }
        }
    }
}
