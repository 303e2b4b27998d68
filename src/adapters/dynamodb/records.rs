//! API keys and workflows through one generic set of operations, each record kind described
//! by its key scheme; and SNS subscriptions, which are plain records in their workflow's
//! partition.

use async_trait::async_trait;

use super::DynamoStore;
use super::item::{
    SUBSCRIPTION_PREFIX, WORKFLOW_PREFIX, key, record, record_item, records, workflow_pk,
};
use super::request::Written;
use crate::adapters::record::{ByKind, Record, RecordStore, to_json};
use crate::domain::{SnsSubscription, WorkflowId};
use crate::ports::{StoreError, SubscriptionStore};

/// Where a keyed record lives: the item the request path reads (`{prefix}{key}` / `sort_key`)
/// and its listing copy (`listing` / `{prefix}{key}`).
struct RecordLayout {
    prefix: &'static str,
    sort_key: &'static str,
    listing: &'static str,
}

static LAYOUTS: ByKind<RecordLayout> = ByKind {
    api_key: RecordLayout {
        prefix: "APIKEY#",
        sort_key: "APIKEY",
        listing: "APIKEYS",
    },
    workflow: RecordLayout {
        prefix: WORKFLOW_PREFIX,
        sort_key: "WORKFLOW",
        listing: "WORKFLOWS",
    },
    // Beside the workflow in its partition, under its own sort key: a GetItem of the workflow
    // never returns it.
    workflow_secrets: RecordLayout {
        prefix: WORKFLOW_PREFIX,
        sort_key: "SECRETS",
        listing: "WORKFLOWSECRETS",
    },
    key_usage: RecordLayout {
        prefix: "APIKEY#",
        sort_key: "USAGE",
        listing: "APIKEYUSAGE",
    },
    admin_key: RecordLayout {
        prefix: "ADMINKEY#",
        sort_key: "ADMINKEY",
        listing: "ADMINKEYS",
    },
};

/// What a write needs of the main item: an insert that it is absent, an update that it exists.
#[derive(Clone, Copy)]
enum Expect {
    Absent,
    Present,
}

impl DynamoStore {
    /// Writes a record and its listing copy in one transaction, the main item conditional on
    /// what `expect` says of it.
    async fn put_with_listing<R: Record>(
        &self,
        value: &R,
        expect: Expect,
    ) -> Result<(), StoreError> {
        let (condition, operation) = match expect {
            Expect::Absent => ("attribute_not_exists(#pk)", "insert"),
            Expect::Present => ("attribute_exists(#pk)", "update"),
        };
        let layout = LAYOUTS.of(R::KIND);
        let pk = format!("{}{}", layout.prefix, value.key());
        let json = to_json(value)?;
        let mut main = record_item(pk.clone(), layout.sort_key, json.clone());
        if let Some(version) = value.version() {
            main.insert(super::versions::VERSION.into(), super::item::n(version));
        }
        let listing = record_item(layout.listing, pk, json);
        let written = self
            .put_both(
                self.put(main, Some(condition))?,
                self.put(listing, None)?,
                &format!("{operation} {}", R::KIND.label()),
            )
            .await?;
        match (written, expect) {
            (Written::Yes, _) => Ok(()),
            (Written::ConditionFailed { .. }, Expect::Absent) => {
                Err(R::KIND.already_exists(value.key()))
            }
            (Written::ConditionFailed { .. }, Expect::Present) => {
                Err(R::KIND.not_found(value.key()))
            }
        }
    }
}

#[async_trait]
impl RecordStore for DynamoStore {
    async fn insert_record<R: Record>(&self, value: &R) -> Result<(), StoreError> {
        self.put_with_listing(value, Expect::Absent).await
    }

    async fn get_record<R: Record>(&self, id: &R::Key) -> Result<Option<R>, StoreError> {
        let layout = LAYOUTS.of(R::KIND);
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
        let layout = LAYOUTS.of(R::KIND);
        let operation = format!("Query ({}s)", R::KIND.label());
        let items = self
            .query_prefix(layout.listing, layout.prefix, &operation)
            .await?;
        records(&items)
    }

    async fn update_record<R: Record>(&self, value: &R) -> Result<(), StoreError> {
        self.put_with_listing(value, Expect::Present).await
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
    use crate::adapters::record::RecordKind;

    #[test]
    fn record_layouts_keep_the_table_layout() {
        let keys = LAYOUTS.of(RecordKind::ApiKey);
        assert_eq!(
            (keys.prefix, keys.sort_key, keys.listing),
            ("APIKEY#", "APIKEY", "APIKEYS")
        );
        let workflows = LAYOUTS.of(RecordKind::Workflow);
        assert_eq!(
            (workflows.prefix, workflows.sort_key, workflows.listing),
            ("WORKFLOW#", "WORKFLOW", "WORKFLOWS")
        );
    }
}
