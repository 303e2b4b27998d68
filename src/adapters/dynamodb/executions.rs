//! Executions: written with their dedup record in one conditional transaction, read
//! consistently, listed newest first with one Query, and moved on by compare-and-swap.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure};

use super::item::{
    ATTEMPTS, EXEC_PREFIX, EXECUTION_ID, STATUS, corrupt, dedup_item, dedup_sk, exec_sk,
    execution_item, key, n, number_attr, record, s, sort_key, string_attr, workflow_pk,
};
use super::request::{Written, build_error};
use super::schema::{PARTITION_KEY as PK, SORT_KEY as SK, TTL_ATTRIBUTE};
use super::{DynamoStore, Item, unavailable};
use crate::domain::{Execution, ExecutionId, WorkflowId};
use crate::ports::{ExecutionQuery, ExecutionStore, Recorded, StoreError};

/// Items read per Query page when a status filter is on: DynamoDB's `Limit` counts items
/// before the filter, so a larger page saves round trips when few items match.
const FILTERED_PAGE: i32 = 100;

enum DedupAttempt {
    Created,
    /// The key is held by a live record (given when the cancellation carried it).
    Taken(Option<Item>),
}

fn already_exists(execution: &Execution) -> StoreError {
    StoreError::AlreadyExists(format!("execution {}", execution.id))
}

impl DynamoStore {
    /// One attempt at the execution + dedup transaction. `orphan` names an execution the dedup
    /// record may point to although it no longer exists, so the key can be taken over.
    async fn insert_with_dedup(
        &self,
        execution: &Execution,
        dedup_key: &str,
        orphan: Option<&str>,
    ) -> Result<DedupAttempt, StoreError> {
        // TTL deletes lazily (within days), so an expired record must not block a new one.
        let mut condition = String::from("attribute_not_exists(#pk) OR #exp < :now");
        if orphan.is_some() {
            condition.push_str(" OR #eid = :orphan");
        }
        let mut dedup_put = Put::builder()
            .table_name(self.table())
            .set_item(Some(dedup_item(execution, dedup_key)))
            .condition_expression(condition)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", n(chrono::Utc::now().timestamp()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(orphan) = orphan {
            dedup_put = dedup_put
                .expression_attribute_names("#eid", EXECUTION_ID)
                .expression_attribute_values(":orphan", s(orphan));
        }
        let written = self
            .put_both(
                dedup_put.build().map_err(build_error)?,
                self.put(
                    execution_item(execution)?,
                    Some("attribute_not_exists(#pk)"),
                )?,
                "TransactWriteItems",
            )
            .await?;
        match written {
            Written::Yes => Ok(DedupAttempt::Created),
            // The old item comes back with the cancellation when the table returns it;
            // otherwise it is read.
            Written::ConditionFailed { index: 0, old } => Ok(DedupAttempt::Taken(old)),
            Written::ConditionFailed { .. } => Err(already_exists(execution)),
        }
    }
}

#[async_trait]
impl ExecutionStore for DynamoStore {
    async fn insert_execution(
        &self,
        execution: &Execution,
        dedup_key: Option<&str>,
    ) -> Result<Recorded, StoreError> {
        let Some(dedup_key) = dedup_key else {
            let item = execution_item(execution)?;
            return match self.put_if_absent(item, "PutItem (execution)").await? {
                true => Ok(Recorded::Created),
                false => Err(already_exists(execution)),
            };
        };
        let mut orphan: Option<String> = None;
        // Two rounds at most: the second only when the record that held the key expired or
        // pointed at an execution that is gone between our write and our read.
        for _ in 0..2 {
            let held = match self
                .insert_with_dedup(execution, dedup_key, orphan.as_deref())
                .await?
            {
                DedupAttempt::Created => return Ok(Recorded::Created),
                DedupAttempt::Taken(Some(item)) => Some(item),
                DedupAttempt::Taken(None) => {
                    self.get(
                        key(workflow_pk(&execution.workflow_id), dedup_sk(dedup_key)),
                        "GetItem (dedup)",
                    )
                    .await?
                }
            };
            let Some(held) = held else { continue };
            let earlier = ExecutionId::parse(string_attr(&held, EXECUTION_ID)?)
                .map_err(|e| corrupt(&held, e))?;
            if number_attr(&held, TTL_ATTRIBUTE)? < chrono::Utc::now().timestamp() {
                continue;
            }
            match self.get_execution(&execution.workflow_id, &earlier).await? {
                Some(existing) => return Ok(Recorded::Duplicate(Box::new(existing))),
                None => orphan = Some(earlier.to_string()),
            }
        }
        Err(StoreError::Unavailable(format!(
            "deduplication key of workflow {} stayed in conflict; try again",
            execution.workflow_id
        )))
    }

    async fn get_execution(
        &self,
        workflow_id: &WorkflowId,
        id: &ExecutionId,
    ) -> Result<Option<Execution>, StoreError> {
        self.get(
            key(workflow_pk(workflow_id), exec_sk(id)),
            "GetItem (execution)",
        )
        .await?
        .as_ref()
        .map(record)
        .transpose()
    }

    /// One Query, newest first, bounded to the `EXEC#` items: `BETWEEN "EXEC#" AND
    /// "EXEC#{before}"` rather than `sk < "EXEC#{before}"`, because the latter would run on
    /// into the workflow's `DEDUP#` items (which sort just below) at the end of every listing.
    /// BETWEEN is inclusive, so the cursor item itself is skipped. With a status filter,
    /// pages are read until `limit` items match or the partition ends. Eventually consistent:
    /// a listing may trail a write by a moment, at half the read cost.
    async fn list_executions(
        &self,
        workflow_id: &WorkflowId,
        query: &ExecutionQuery,
    ) -> Result<Vec<Execution>, StoreError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let cursor = query.before.as_ref().map(exec_sk);
        let wanted = i32::try_from(query.limit).unwrap_or(i32::MAX);
        let page = match query.status {
            Some(_) => wanted.saturating_add(1).max(FILTERED_PAGE),
            None => wanted.saturating_add(i32::from(cursor.is_some())),
        };
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client()
                .query()
                .table_name(self.table())
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(workflow_pk(workflow_id)))
                .expression_attribute_values(":lo", s(EXEC_PREFIX))
                .scan_index_forward(false)
                .limit(page)
                .set_exclusive_start_key(start.take());
            request = match &cursor {
                Some(hi) => request
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                    .expression_attribute_values(":hi", s(hi)),
                None => request.key_condition_expression("#pk = :pk AND begins_with(#sk, :lo)"),
            };
            if let Some(status) = query.status {
                request = request
                    .filter_expression("#status = :status")
                    .expression_attribute_names("#status", STATUS)
                    .expression_attribute_values(":status", s(status.as_str()));
            }
            let out = request
                .send()
                .await
                .map_err(|e| unavailable("Query (executions)", e))?;
            for item in out.items() {
                if cursor.is_some() && sort_key(item) == cursor.as_deref() {
                    continue;
                }
                found.push(record::<Execution>(item)?);
                if found.len() >= query.limit {
                    return Ok(found);
                }
            }
            match out.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(found),
            }
        }
    }

    async fn replace_execution(
        &self,
        current: &Execution,
        next: &Execution,
    ) -> Result<bool, StoreError> {
        let mut item = execution_item(next)?;
        // The key is the current one: a replacement never moves an execution.
        item.extend(key(workflow_pk(&current.workflow_id), exec_sk(&current.id)));
        let request = self
            .put_item(item)
            .condition_expression(
                "attribute_exists(#pk) AND #status = :old_status AND #attempts = :old_attempts",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#attempts", ATTEMPTS)
            .expression_attribute_values(":old_status", s(current.status.as_str()))
            .expression_attribute_values(":old_attempts", n(current.attempts));
        self.put_if(request, "PutItem (execution transition)").await
    }
}
