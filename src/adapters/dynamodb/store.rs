//! The store ports on DynamoDB. See the module above for the layout and why.

use std::io::{Read, Write};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::schema::{PARTITION_KEY as PK, SORT_KEY as SK, TTL_ATTRIBUTE};
use super::{DynamoStore, Item, unavailable};
use crate::domain::{
    ApiKey, ApiKeyName, Execution, ExecutionId, SnsSubscription, Workflow, WorkflowId,
};
use crate::ports::{
    ApiKeyStore, ExecutionQuery, ExecutionStore, Recorded, StoreError, SubscriptionStore,
    WorkflowStore,
};

const RECORD: &str = "record";
const RECORD_GZ: &str = "record_gz";
const STATUS: &str = "status";
const ATTEMPTS: &str = "attempts";
const EXECUTION_ID: &str = "execution_id";

const API_KEYS_PARTITION: &str = "APIKEYS";
const WORKFLOWS_PARTITION: &str = "WORKFLOWS";
const API_KEY_SK: &str = "APIKEY";
const WORKFLOW_SK: &str = "WORKFLOW";
const EXEC_PREFIX: &str = "EXEC#";
const DEDUP_PREFIX: &str = "DEDUP#";
const SUBSCRIPTION_PREFIX: &str = "SNSSUB#";
const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailed";

/// An execution record larger than this is stored gzip-compressed (`record_gz`, binary):
/// DynamoDB bills reads and writes by the KB and holds at most 400 KB per item, and a payload
/// near the 256 KiB body limit appears twice once an echo step copies it into the result.
/// Smaller records stay plain JSON, readable in the console.
const COMPRESS_ABOVE: usize = 64 * 1024;
/// What is left of DynamoDB's 400 KB item limit for the record, after keys and attributes.
const MAX_STORED_RECORD: usize = 390 * 1024;
/// Refuses to inflate more than this from one item (the data is ours; this is a fuse).
const MAX_INFLATED: u64 = 32 * 1024 * 1024;

/// Items read per Query page when a status filter is on: DynamoDB's `Limit` counts items
/// before the filter, so a larger page saves round trips when few items match.
const FILTERED_PAGE: i32 = 100;

fn api_key_pk(name: &ApiKeyName) -> String {
    format!("APIKEY#{name}")
}

fn workflow_pk(id: &WorkflowId) -> String {
    format!("WORKFLOW#{id}")
}

fn exec_sk(id: &ExecutionId) -> String {
    format!("{EXEC_PREFIX}{id}")
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn item_label(item: &Item) -> String {
    let part = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            .unwrap_or("?")
    };
    format!("{}/{}", part(PK), part(SK))
}

fn string_attr<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "item {} has no string attribute {name}",
                item_label(item)
            ))
        })
}

fn number_attr(item: &Item, name: &str) -> Result<i64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|raw| raw.parse::<i64>().ok())
        .ok_or_else(|| {
            StoreError::Corrupt(format!(
                "item {} has no whole-number attribute {name}",
                item_label(item)
            ))
        })
}

fn record<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let corrupt =
        |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("item {}: {e}", item_label(item)));
    match (item.get(RECORD), item.get(RECORD_GZ)) {
        (Some(AttributeValue::S(json)), _) => serde_json::from_str(json).map_err(|e| corrupt(&e)),
        (None, Some(AttributeValue::B(gz))) => {
            let mut json = Vec::new();
            GzDecoder::new(gz.as_ref())
                .take(MAX_INFLATED)
                .read_to_end(&mut json)
                .map_err(|e| corrupt(&e))?;
            serde_json::from_slice(&json).map_err(|e| corrupt(&e))
        }
        _ => Err(corrupt(&format!(
            "no {RECORD} (string) or {RECORD_GZ} (binary) attribute"
        ))),
    }
}

/// The execution's record attribute: plain JSON, or gzip when large (see `COMPRESS_ABOVE`).
/// A record that does not fit even compressed is refused here, with its size, rather than
/// by DynamoDB with a bare "Item size has exceeded the maximum allowed size".
fn execution_record(execution: &Execution) -> Result<(&'static str, AttributeValue), StoreError> {
    let json = to_json(execution)?;
    if json.len() <= COMPRESS_ABOVE {
        return Ok((RECORD, s(json)));
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(json.len() / 4), Compression::default());
    let gz = encoder
        .write_all(json.as_bytes())
        .and_then(|()| encoder.finish())
        .map_err(|e| StoreError::Unavailable(format!("cannot compress execution record: {e}")))?;
    if gz.len() > MAX_STORED_RECORD {
        return Err(StoreError::TooLarge(format!(
            "execution {} is {} bytes as JSON and {} bytes compressed, more than a DynamoDB \
             item holds (400 KB)",
            execution.id,
            json.len(),
            gz.len()
        )));
    }
    Ok((RECORD_GZ, AttributeValue::B(Blob::new(gz))))
}

fn records<T: DeserializeOwned>(items: &[Item]) -> Result<Vec<T>, StoreError> {
    items.iter().map(record).collect()
}

fn execution_item(execution: &Execution) -> Result<Item, StoreError> {
    let mut item = key(workflow_pk(&execution.workflow_id), exec_sk(&execution.id));
    item.insert(STATUS.into(), s(execution.status.as_str()));
    item.insert(ATTEMPTS.into(), n(execution.attempts));
    item.insert(TTL_ATTRIBUTE.into(), n(execution.expires_at.timestamp()));
    let (name, value) = execution_record(execution)?;
    item.insert(name.into(), value);
    Ok(item)
}

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("cannot build a DynamoDB request: {e}"))
}

/// Why a transaction was cancelled, one entry per item in request order.
fn cancellation_reasons(err: &TransactWriteItemsError) -> Option<&[CancellationReason]> {
    match err {
        TransactWriteItemsError::TransactionCanceledException(e) => Some(e.cancellation_reasons()),
        _ => None,
    }
}

fn condition_failed(reasons: &[CancellationReason], index: usize) -> bool {
    reasons
        .get(index)
        .and_then(CancellationReason::code)
        .is_some_and(|code| code == CONDITIONAL_CHECK_FAILED)
}

/// How one conditional transaction of "the item" plus "its listing copy" ended.
enum Written {
    Yes,
    ConditionFailed,
}

impl DynamoStore {
    fn put(&self, item: Item, condition: Option<&str>) -> Result<Put, StoreError> {
        let mut put = Put::builder().table_name(self.table()).set_item(Some(item));
        if let Some(condition) = condition {
            put = put
                .condition_expression(condition)
                .expression_attribute_names("#pk", PK);
        }
        put.build().map_err(build_error)
    }

    /// Writes a key or workflow and its listing copy in one transaction; `condition` applies to
    /// the main item (exists / does not exist).
    async fn put_with_listing(
        &self,
        main: Item,
        listing: Item,
        condition: &str,
        operation: &str,
    ) -> Result<Written, StoreError> {
        let result = self
            .client()
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.put(main, Some(condition))?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.put(listing, None)?)
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::Yes),
            Err(err) => {
                let failed = err
                    .as_service_error()
                    .and_then(cancellation_reasons)
                    .is_some_and(|reasons| condition_failed(reasons, 0));
                if failed {
                    Ok(Written::ConditionFailed)
                } else {
                    Err(unavailable(operation, err))
                }
            }
        }
    }

    /// A strongly consistent read: the worker reads an execution the API has just written, and
    /// an eventually consistent read could miss it and drop the message.
    async fn get(&self, key: Item, operation: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(operation, e))?;
        Ok(out.item)
    }

    /// Every item of a partition whose sort key starts with `prefix`, in sort-key order,
    /// following pages to the end. For the small partitions only (listings, subscriptions).
    async fn query_prefix(
        &self,
        pk: &str,
        prefix: &str,
        operation: &str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":prefix", s(prefix))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable(operation, e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// One attempt at the execution + dedup transaction. `orphan` names an execution the dedup
    /// record may point to although it no longer exists, so the key can be taken over.
    async fn insert_with_dedup(
        &self,
        execution: &Execution,
        dedup_key: &str,
        orphan: Option<&str>,
    ) -> Result<DedupAttempt, StoreError> {
        let pk = workflow_pk(&execution.workflow_id);
        let mut dedup = key(pk.clone(), format!("{DEDUP_PREFIX}{dedup_key}"));
        dedup.insert(EXECUTION_ID.into(), s(execution.id.to_string()));
        dedup.insert(TTL_ATTRIBUTE.into(), n(execution.expires_at.timestamp()));
        // TTL deletes lazily (within days), so an expired record must not block a new one.
        let mut condition = String::from("attribute_not_exists(#pk) OR #exp < :now");
        if orphan.is_some() {
            condition.push_str(" OR #eid = :orphan");
        }
        let mut dedup_put = Put::builder()
            .table_name(self.table())
            .set_item(Some(dedup))
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
        let result = self
            .client()
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(dedup_put.build().map_err(build_error)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.put(
                        execution_item(execution)?,
                        Some("attribute_not_exists(#pk)"),
                    )?)
                    .build(),
            )
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(DedupAttempt::Created),
            Err(err) => err,
        };
        let Some(reasons) = err.as_service_error().and_then(cancellation_reasons) else {
            return Err(unavailable("TransactWriteItems", err));
        };
        if condition_failed(reasons, 0) {
            // The old item comes back with the cancellation when the table returns it;
            // otherwise it is read.
            let old = reasons.first().and_then(|r| r.item()).cloned();
            return Ok(DedupAttempt::Taken(old));
        }
        if condition_failed(reasons, 1) {
            return Err(StoreError::AlreadyExists(format!(
                "execution {}",
                execution.id
            )));
        }
        Err(unavailable("TransactWriteItems", err))
    }
}

enum DedupAttempt {
    Created,
    /// The key is held by a live record (given when the cancellation carried it).
    Taken(Option<Item>),
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn insert_api_key(&self, api_key: &ApiKey) -> Result<(), StoreError> {
        let (main, listing) = api_key_items(api_key)?;
        match self
            .put_with_listing(main, listing, "attribute_not_exists(#pk)", "insert API key")
            .await?
        {
            Written::Yes => Ok(()),
            Written::ConditionFailed => Err(StoreError::AlreadyExists(format!(
                "API key {}",
                api_key.name
            ))),
        }
    }

    async fn get_api_key(&self, name: &ApiKeyName) -> Result<Option<ApiKey>, StoreError> {
        self.get(key(api_key_pk(name), API_KEY_SK), "GetItem (API key)")
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let items = self
            .query_prefix(API_KEYS_PARTITION, "APIKEY#", "Query (API keys)")
            .await?;
        records(&items)
    }

    async fn update_api_key(&self, api_key: &ApiKey) -> Result<(), StoreError> {
        let (main, listing) = api_key_items(api_key)?;
        match self
            .put_with_listing(main, listing, "attribute_exists(#pk)", "update API key")
            .await?
        {
            Written::Yes => Ok(()),
            Written::ConditionFailed => {
                Err(StoreError::NotFound(format!("API key {}", api_key.name)))
            }
        }
    }
}

fn api_key_items(api_key: &ApiKey) -> Result<(Item, Item), StoreError> {
    let json = to_json(api_key)?;
    let mut main = key(api_key_pk(&api_key.name), API_KEY_SK);
    main.insert(RECORD.into(), s(json.clone()));
    let mut listing = key(API_KEYS_PARTITION, api_key_pk(&api_key.name));
    listing.insert(RECORD.into(), s(json));
    Ok((main, listing))
}

fn workflow_items(workflow: &Workflow) -> Result<(Item, Item), StoreError> {
    let json = to_json(workflow)?;
    let mut main = key(workflow_pk(&workflow.id), WORKFLOW_SK);
    main.insert(RECORD.into(), s(json.clone()));
    let mut listing = key(WORKFLOWS_PARTITION, workflow_pk(&workflow.id));
    listing.insert(RECORD.into(), s(json));
    Ok((main, listing))
}

#[async_trait]
impl WorkflowStore for DynamoStore {
    async fn insert_workflow(&self, workflow: &Workflow) -> Result<(), StoreError> {
        let (main, listing) = workflow_items(workflow)?;
        match self
            .put_with_listing(
                main,
                listing,
                "attribute_not_exists(#pk)",
                "insert workflow",
            )
            .await?
        {
            Written::Yes => Ok(()),
            Written::ConditionFailed => Err(StoreError::AlreadyExists(format!(
                "workflow {}",
                workflow.id
            ))),
        }
    }

    async fn get_workflow(&self, id: &WorkflowId) -> Result<Option<Workflow>, StoreError> {
        self.get(key(workflow_pk(id), WORKFLOW_SK), "GetItem (workflow)")
            .await?
            .as_ref()
            .map(record)
            .transpose()
    }

    async fn list_workflows(&self) -> Result<Vec<Workflow>, StoreError> {
        let items = self
            .query_prefix(WORKFLOWS_PARTITION, "WORKFLOW#", "Query (workflows)")
            .await?;
        records(&items)
    }

    async fn update_workflow(&self, workflow: &Workflow) -> Result<(), StoreError> {
        let (main, listing) = workflow_items(workflow)?;
        match self
            .put_with_listing(main, listing, "attribute_exists(#pk)", "update workflow")
            .await?
        {
            Written::Yes => Ok(()),
            Written::ConditionFailed => {
                Err(StoreError::NotFound(format!("workflow {}", workflow.id)))
            }
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
            let result = self
                .client()
                .put_item()
                .table_name(self.table())
                .set_item(Some(execution_item(execution)?))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .send()
                .await;
            return match result {
                Ok(_) => Ok(Recorded::Created),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    Err(StoreError::AlreadyExists(format!(
                        "execution {}",
                        execution.id
                    )))
                }
                Err(err) => Err(unavailable("PutItem (execution)", err)),
            };
        };
        let dedup_sk = format!("{DEDUP_PREFIX}{dedup_key}");
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
                        key(workflow_pk(&execution.workflow_id), dedup_sk.clone()),
                        "GetItem (dedup)",
                    )
                    .await?
                }
            };
            let Some(held) = held else { continue };
            let earlier = ExecutionId::parse(string_attr(&held, EXECUTION_ID)?)
                .map_err(|e| StoreError::Corrupt(format!("item {}: {e}", item_label(&held))))?;
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
                let is_cursor = cursor.as_deref().is_some_and(|c| {
                    item.get(SK).and_then(|v| v.as_s().ok()).map(String::as_str) == Some(c)
                });
                if is_cursor {
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
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(
                "attribute_exists(#pk) AND #status = :old_status AND #attempts = :old_attempts",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#attempts", ATTEMPTS)
            .expression_attribute_values(":old_status", s(current.status.as_str()))
            .expression_attribute_values(":old_attempts", n(current.attempts))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(unavailable("PutItem (execution transition)", err)),
        }
    }
}

#[async_trait]
impl SubscriptionStore for DynamoStore {
    async fn put_subscription(&self, subscription: &SnsSubscription) -> Result<(), StoreError> {
        let mut item = key(
            workflow_pk(&subscription.workflow_id),
            format!("{SUBSCRIPTION_PREFIX}{}", subscription.topic_arn),
        );
        item.insert(RECORD.into(), s(to_json(subscription)?));
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("PutItem (SNS subscription)", e))?;
        Ok(())
    }

    async fn list_subscriptions(
        &self,
        workflow_id: &WorkflowId,
    ) -> Result<Vec<SnsSubscription>, StoreError> {
        let items = self
            .query_prefix(
                &workflow_pk(workflow_id),
                SUBSCRIPTION_PREFIX,
                "Query (SNS subscriptions)",
            )
            .await?;
        records(&items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TriggerMeta;

    #[test]
    fn execution_sort_keys_sort_by_time_and_after_dedup_records() {
        let older = ExecutionId::from_ulid(ulid::Ulid::from_parts(1, 9));
        let newer = ExecutionId::from_ulid(ulid::Ulid::from_parts(2, 0));
        assert!(exec_sk(&older) < exec_sk(&newer));
        // BETWEEN "EXEC#" AND cursor never reaches dedup records.
        assert!(format!("{DEDUP_PREFIX}zzz").as_str() < EXEC_PREFIX);
        assert!(EXEC_PREFIX < exec_sk(&older).as_str());
    }

    #[test]
    fn unreadable_items_are_reported_as_corrupt_with_their_key() {
        let mut item = key("WORKFLOW#wf", "EXEC#x");
        item.insert(RECORD.into(), s("{not json"));
        match record::<Execution>(&item) {
            Err(StoreError::Corrupt(msg)) => assert!(msg.contains("WORKFLOW#wf/EXEC#x"), "{msg}"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            number_attr(&item, TTL_ATTRIBUTE),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn large_execution_records_are_compressed_and_read_back() {
        let mut execution = Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::Replay {
                of: ExecutionId::generate(),
            },
            serde_json::json!({ "text": "webhook ".repeat(40_000) }),
            chrono::Utc::now(),
            chrono::Duration::days(1),
        );
        execution.result = Some(execution.payload.clone());
        let item = execution_item(&execution).unwrap();
        assert!(!item.contains_key(RECORD));
        let stored = item[RECORD_GZ].as_b().unwrap().as_ref().len();
        assert!(stored < 100 * 1024, "{stored} bytes");
        assert_eq!(record::<Execution>(&item).unwrap(), execution);

        execution.payload = serde_json::json!({"small": true});
        execution.result = None;
        let item = execution_item(&execution).unwrap();
        assert!(item[RECORD].as_s().unwrap().contains("small"));
        assert_eq!(record::<Execution>(&item).unwrap(), execution);
    }

    #[test]
    fn a_record_too_large_even_compressed_is_refused_with_its_size() {
        // Random bytes as hex: compresses to about half, still far over 400 KB.
        let mut bytes = vec![0u8; 1_000_000];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
        let noise = hex::encode(bytes);
        let execution = Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::Replay {
                of: ExecutionId::generate(),
            },
            serde_json::json!({ "noise": noise }),
            chrono::Utc::now(),
            chrono::Duration::days(1),
        );
        match execution_item(&execution) {
            Err(StoreError::TooLarge(msg)) => assert!(msg.contains("400 KB"), "{msg}"),
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn only_conditional_check_failures_count_as_conflicts() {
        let reasons = [
            CancellationReason::builder().code("None").build(),
            CancellationReason::builder()
                .code(CONDITIONAL_CHECK_FAILED)
                .build(),
        ];
        assert!(!condition_failed(&reasons, 0));
        assert!(condition_failed(&reasons, 1));
        assert!(!condition_failed(&reasons, 2));
    }
}
