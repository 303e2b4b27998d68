//! The sparse `undelivered` index: executions written but not yet taken by a worker, read by
//! the sweeper to re-send any whose queue message was lost between the write and the send;
//! and, under shards of their own, waiting executions by wake-up time, which the sweeper
//! wakes once due.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::item::{
    ATTEMPTS, EXEC_PREFIX, STATUS, WORKFLOW_PREFIX, corrupt, exec_sk, key, n, number_attr, s,
    string_attr, workflow_pk,
};
use super::schema::{
    PARTITION_KEY as PK, SORT_KEY as SK, UNDELIVERED_INDEX, UNDELIVERED_SHARD, UNDELIVERED_SHARDS,
    UNDELIVERED_SINCE,
};
use super::{DynamoStore, Item, unavailable};
use crate::domain::{ExecutionId, ExecutionStatus, WorkflowId};
use crate::ports::{PendingDispatch, StoreError, WorkItem};

/// The work item an index entry names (its table keys are projected into the index).
fn work_item(item: &Item) -> Result<WorkItem, StoreError> {
    let pk = string_attr(item, PK)?;
    let sk = string_attr(item, SK)?;
    let workflow = pk
        .strip_prefix(WORKFLOW_PREFIX)
        .ok_or_else(|| corrupt(item, "not a workflow partition"))?;
    let execution = sk
        .strip_prefix(EXEC_PREFIX)
        .ok_or_else(|| corrupt(item, "not an execution"))?;
    Ok(WorkItem {
        workflow_id: WorkflowId::parse(workflow).map_err(|e| corrupt(item, e))?,
        execution_id: ExecutionId::parse(execution).map_err(|e| corrupt(item, e))?,
    })
}

impl DynamoStore {
    /// The index entries of the shards `{prefix}#{n}` keyed before `cutoff`, oldest first, at
    /// most `limit`: one Query per shard, stopping at `limit` per shard, the shards' answers
    /// merged by key. The index is eventually consistent, which only delays a re-send.
    async fn index_before(
        &self,
        prefix: &str,
        cutoff: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(i64, WorkItem)>, StoreError> {
        let page = i32::try_from(limit).unwrap_or(i32::MAX).max(1);
        let mut found: Vec<(i64, WorkItem)> = Vec::new();
        for shard in 0..UNDELIVERED_SHARDS {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(UNDELIVERED_INDEX)
                .key_condition_expression("#shard = :shard AND #since < :cutoff")
                .expression_attribute_names("#shard", UNDELIVERED_SHARD)
                .expression_attribute_names("#since", UNDELIVERED_SINCE)
                .expression_attribute_values(":shard", s(format!("{prefix}#{shard}")))
                .expression_attribute_values(":cutoff", n(cutoff.timestamp_millis()))
                .scan_index_forward(true)
                .limit(page)
                .send()
                .await
                .map_err(|e| unavailable("Query (sweeper index)", e))?;
            for item in out.items() {
                found.push((number_attr(item, UNDELIVERED_SINCE)?, work_item(item)?));
            }
        }
        found.sort_by_key(|(since, _)| *since);
        found.truncate(limit);
        Ok(found)
    }
}

#[async_trait]
impl PendingDispatch for DynamoStore {
    async fn undelivered_before(
        &self,
        cutoff: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError> {
        let found = self.index_before("U", cutoff, limit).await?;
        Ok(found.into_iter().map(|(_, w)| w).collect())
    }

    async fn due_wakeups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(WorkItem, DateTime<Utc>)>, StoreError> {
        let found = self.index_before("W", now, limit).await?;
        Ok(found
            .into_iter()
            .map(|(millis, w)| (w, DateTime::from_timestamp_millis(millis).unwrap_or(now)))
            .collect())
    }

    /// A COUNT Query per waiting shard (pages of keys only, nothing returned).
    async fn count_waiting(&self) -> Result<u64, StoreError> {
        let mut total = 0u64;
        for shard in 0..UNDELIVERED_SHARDS {
            let mut start = None;
            loop {
                let out = self
                    .client()
                    .query()
                    .table_name(self.table())
                    .index_name(UNDELIVERED_INDEX)
                    .key_condition_expression("#shard = :shard")
                    .expression_attribute_names("#shard", UNDELIVERED_SHARD)
                    .expression_attribute_values(":shard", s(format!("W#{shard}")))
                    .select(aws_sdk_dynamodb::types::Select::Count)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| unavailable("Query (waiting count)", e))?;
                total += u64::try_from(out.count()).unwrap_or(0);
                start = out.last_evaluated_key().cloned();
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(total)
    }

    async fn mark_resent(&self, item: &WorkItem, at: DateTime<Utc>) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(
                workflow_pk(&item.workflow_id),
                exec_sk(&item.execution_id),
            )))
            .update_expression("SET #since = :at")
            // Only while it is still waiting: a worker's claim has removed it from the index,
            // and writing the attribute back would put it there again.
            .condition_expression(
                "attribute_exists(#shard) AND #status = :queued AND #attempts = :zero",
            )
            .expression_attribute_names("#since", UNDELIVERED_SINCE)
            .expression_attribute_names("#shard", UNDELIVERED_SHARD)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#attempts", ATTEMPTS)
            .expression_attribute_values(":at", n(at.timestamp_millis()))
            .expression_attribute_values(":queued", s(ExecutionStatus::Queued.as_str()))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(unavailable("UpdateItem (re-sent)", err)),
        }
    }
}
