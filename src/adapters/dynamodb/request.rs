//! The requests every kind of item is written and read with, and how their failures map to
//! `StoreError`: conditional puts (alone or two in one transaction), consistent gets and paged
//! prefix queries.

use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{CancellationReason, Put, TransactWriteItem};

use super::item::s;
use super::schema::{PARTITION_KEY as PK, SORT_KEY as SK};
use super::{DynamoStore, Item, unavailable};
use crate::ports::StoreError;

const CONDITIONAL_CHECK_FAILED: &str = "ConditionalCheckFailed";

/// A request the SDK refused to build (a required field missing): a bug of ours, reported as
/// the store being unavailable rather than a panic.
pub(super) fn build_error(e: impl std::fmt::Display) -> StoreError {
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

/// Which item's condition cancelled a transaction of `items` items, if that is why it failed.
pub(super) fn cancelled_by_condition<R>(
    err: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>,
    items: usize,
) -> Option<usize> {
    let reasons = cancellation_reasons(err.as_service_error()?)?;
    (0..items).find(|&i| condition_failed(reasons, i))
}

/// How a conditional transaction of two puts ended.
pub(super) enum Written {
    Yes,
    /// The condition of the put at `index` failed; `old` is the item that made it fail when
    /// the table sent it back (`ReturnValuesOnConditionCheckFailure`).
    ConditionFailed {
        index: usize,
        old: Option<Item>,
    },
}

impl DynamoStore {
    /// A Put for a transaction; `condition` may name the partition key as `#pk`.
    pub(super) fn put(&self, item: Item, condition: Option<&str>) -> Result<Put, StoreError> {
        let mut put = Put::builder().table_name(self.table()).set_item(Some(item));
        if let Some(condition) = condition {
            put = put
                .condition_expression(condition)
                .expression_attribute_names("#pk", PK);
        }
        put.build().map_err(build_error)
    }

    /// Writes both puts in one transaction. Any failure but a failed condition is an error.
    pub(super) async fn put_both(
        &self,
        first: Put,
        second: Put,
        operation: &str,
    ) -> Result<Written, StoreError> {
        let result = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(first).build())
            .transact_items(TransactWriteItem::builder().put(second).build())
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Written::Yes),
            Err(err) => err,
        };
        let failed = err.as_service_error().and_then(|e| {
            let reasons = cancellation_reasons(e)?;
            let index = (0..2).find(|&i| condition_failed(reasons, i))?;
            Some(Written::ConditionFailed {
                index,
                old: reasons[index].item().cloned(),
            })
        });
        failed.ok_or_else(|| unavailable(operation, err))
    }

    /// A PutItem of `item` into the table, for the caller to add conditions to.
    pub(super) fn put_item(&self, item: Item) -> PutItemFluentBuilder {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
    }

    /// Sends a conditional PutItem: false when the condition failed.
    pub(super) async fn put_if(
        &self,
        request: PutItemFluentBuilder,
        operation: &str,
    ) -> Result<bool, StoreError> {
        match request.send().await {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(unavailable(operation, err)),
        }
    }

    /// Puts `item` only if no item has its key: false, writing nothing, when one has.
    pub(super) async fn put_if_absent(
        &self,
        item: Item,
        operation: &str,
    ) -> Result<bool, StoreError> {
        let request = self
            .put_item(item)
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK);
        self.put_if(request, operation).await
    }

    /// A strongly consistent read: the worker reads an execution the API has just written, and
    /// an eventually consistent read could miss it and drop the message.
    pub(super) async fn get(&self, key: Item, operation: &str) -> Result<Option<Item>, StoreError> {
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

    /// A Query of the partition `pk` from the sort key `from` to the last one starting with
    /// `prefix` (time-stamped keys: from a time on), for the caller to order, bound and page.
    pub(super) fn query_from(&self, pk: String, from: String, prefix: &str) -> QueryFluentBuilder {
        self.client()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":from", s(from))
            // "~" sorts after every character of a timestamp, index or reason.
            .expression_attribute_values(":to", s(format!("{prefix}~")))
    }

    /// Every item of a partition whose sort key starts with `prefix`, in sort-key order,
    /// following pages to the end. For the small partitions only (listings, subscriptions).
    pub(super) async fn query_prefix(
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
