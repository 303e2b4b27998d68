//! API keys and workflows through one generic set of operations, each record kind described
//! by its key scheme; and SNS subscriptions, which are plain records in their workflow's
//! partition.

use async_trait::async_trait;

use super::DynamoStore;
use super::item::{
    SUBSCRIPTION_PREFIX, WORKFLOW_PREFIX, key, record, record_item, records, workflow_pk,
};
use super::request::Written;
use crate::adapters::record::{Record, RecordKind, RecordStore, to_json};
use crate::domain::{SnsSubscription, WorkflowId};
use crate::ports::{StoreError, SubscriptionStore};

/// Where a keyed record lives: the item the request path reads (`{prefix}{key}` / `sort_key`)
/// and its listing copy (`listing` / `{prefix}{key}`).
struct RecordLayout {
    prefix: &'static str,
    sort_key: &'static str,
    listing: &'static str,
}

fn layout(kind: RecordKind) -> RecordLayout {
    match kind {
        RecordKind::ApiKey => RecordLayout {
            prefix: "APIKEY#",
            sort_key: "APIKEY",
            listing: "APIKEYS",
        },
        RecordKind::Workflow => RecordLayout {
            prefix: WORKFLOW_PREFIX,
            sort_key: "WORKFLOW",
            listing: "WORKFLOWS",
        },
    }
}

impl DynamoStore {
    /// Writes a record and its listing copy in one transaction; `condition` applies to the
    /// main item (exists / does not exist). False when the condition failed.
    async fn put_with_listing<R: Record>(
        &self,
        value: &R,
        condition: &str,
        operation: &str,
    ) -> Result<bool, StoreError> {
        let layout = layout(R::KIND);
        let pk = format!("{}{}", layout.prefix, value.key());
        let json = to_json(value)?;
        let main = record_item(pk.clone(), layout.sort_key, json.clone());
        let listing = record_item(layout.listing, pk, json);
        let written = self
            .put_both(
                self.put(main, Some(condition))?,
                self.put(listing, None)?,
                &format!("{operation} {}", R::KIND.label()),
            )
            .await?;
        Ok(matches!(written, Written::Yes))
    }
}

#[async_trait]
impl RecordStore for DynamoStore {
    async fn insert_record<R: Record>(&self, value: &R) -> Result<(), StoreError> {
        if self
            .put_with_listing(value, "attribute_not_exists(#pk)", "insert")
            .await?
        {
            Ok(())
        } else {
            Err(R::KIND.already_exists(value.key()))
        }
    }

    async fn get_record<R: Record>(&self, id: &R::Key) -> Result<Option<R>, StoreError> {
        let layout = layout(R::KIND);
        let operation = format!("GetItem ({})", R::KIND.label());
        self.get(
            key(format!("{}{id}", layout.prefix), layout.sort_key),
            &operation,
        )
        .await?
        .as_ref()
        .map(record)
        .transpose()
    }

    async fn list_records<R: Record>(&self) -> Result<Vec<R>, StoreError> {
        let layout = layout(R::KIND);
        let operation = format!("Query ({}s)", R::KIND.label());
        let items = self
            .query_prefix(layout.listing, layout.prefix, &operation)
            .await?;
        records(&items)
    }

    async fn update_record<R: Record>(&self, value: &R) -> Result<(), StoreError> {
        if self
            .put_with_listing(value, "attribute_exists(#pk)", "update")
            .await?
        {
            Ok(())
        } else {
            Err(R::KIND.not_found(value.key()))
        }
    }
}

#[async_trait]
impl SubscriptionStore for DynamoStore {
    async fn put_subscription(&self, subscription: &SnsSubscription) -> Result<(), StoreError> {
        let item = record_item(
            workflow_pk(&subscription.workflow_id),
            format!("{SUBSCRIPTION_PREFIX}{}", subscription.topic_arn),
            to_json(subscription)?,
        );
        self.put_item(item)
            .send()
            .await
            .map_err(|e| super::unavailable("PutItem (SNS subscription)", e))?;
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

    #[test]
    fn record_layouts_keep_the_table_layout() {
        let keys = layout(RecordKind::ApiKey);
        assert_eq!(
            (keys.prefix, keys.sort_key, keys.listing),
            ("APIKEY#", "APIKEY", "APIKEYS")
        );
        let workflows = layout(RecordKind::Workflow);
        assert_eq!(
            (workflows.prefix, workflows.sort_key, workflows.listing),
            ("WORKFLOW#", "WORKFLOW", "WORKFLOWS")
        );
    }
}
