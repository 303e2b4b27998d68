//! Versioned saves of workflows: `WORKFLOW#{id}` / `VERSION#{n:010}` items, written in one
//! TransactWriteItems with the workflow item (conditional on its `version` attribute) and its
//! listing copy, so a save that lost a race writes nothing and answers a conflict.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::item::{WORKFLOW_PREFIX, key, n, record, record_item, records, workflow_pk};
use super::request::{Written, build_error, cancelled_by_condition};
use super::schema::PARTITION_KEY as PK;
use super::{DynamoStore, Item, unavailable};
use crate::adapters::record::to_json;
use crate::domain::{Workflow, WorkflowId, WorkflowVersion};
use crate::ports::{StoreError, WorkflowVersionStore};

/// The attribute beside a workflow's record that a versioned save is conditional on.
pub(super) const VERSION: &str = "version";
const WORKFLOW_SK: &str = "WORKFLOW";
const WORKFLOW_LISTING: &str = "WORKFLOWS";
const VERSION_PREFIX: &str = "VERSION#";

/// Zero-padded to every `u32`'s width, so sort-key order is version order.
fn version_sk(number: u32) -> String {
    format!("{VERSION_PREFIX}{number:010}")
}

fn label(id: &WorkflowId) -> String {
    format!("workflow {id}")
}

/// What a workflow put requires of the stored item: absent (`None`, a create), or at version
/// `expected`. Workflow items written before versions have no `version` attribute, and are
/// version 1.
fn condition(expected: Option<u32>) -> &'static str {
    match expected {
        None => "attribute_not_exists(#pk)",
        Some(1) => {
            "attribute_exists(#pk) AND (#version = :expected OR attribute_not_exists(#version))"
        }
        Some(_) => "attribute_exists(#pk) AND #version = :expected",
    }
}

/// The workflow item, with the `version` attribute the conditions read.
fn workflow_item(workflow: &Workflow, json: String) -> Item {
    let mut item = record_item(workflow_pk(&workflow.id), WORKFLOW_SK, json);
    item.insert(VERSION.into(), n(workflow.version));
    item
}

impl DynamoStore {
    fn workflow_put(&self, item: Item, expected: Option<u32>) -> Result<Put, StoreError> {
        let mut put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(condition(expected))
            .expression_attribute_names("#pk", PK);
        if let Some(expected) = expected {
            put = put
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":expected", n(expected));
        }
        put.build().map_err(build_error)
    }

    /// After a failed condition on the workflow item: gone, or saved again since it was read.
    async fn conflict_or_missing(&self, id: &WorkflowId) -> Result<StoreError, StoreError> {
        Ok(match self.workflow_exists(id).await? {
            true => StoreError::VersionConflict(label(id)),
            false => StoreError::NotFound(label(id)),
        })
    }
}

#[async_trait]
impl WorkflowVersionStore for DynamoStore {
    async fn save_workflow(
        &self,
        workflow: &Workflow,
        version: &WorkflowVersion,
    ) -> Result<(), StoreError> {
        let pk = workflow_pk(&workflow.id);
        let json = to_json(workflow)?;
        let main = workflow_item(workflow, json.clone());
        let listing = record_item(WORKFLOW_LISTING, pk.clone(), json);
        let expected = (workflow.version > 1).then(|| workflow.version - 1);
        let history = record_item(pk, version_sk(workflow.version), to_json(version)?);
        let result = self
            .client()
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.workflow_put(main, expected)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.put(listing, None)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.put(history, Some("attribute_not_exists(#pk)"))?)
                    .build(),
            )
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        match cancelled_by_condition(&err, 3) {
            Some(0) if workflow.version == 1 => Err(StoreError::AlreadyExists(label(&workflow.id))),
            Some(0) => Err(self.conflict_or_missing(&workflow.id).await?),
            Some(_) => Err(StoreError::VersionConflict(label(&workflow.id))),
            None => Err(unavailable("TransactWriteItems (save workflow)", err)),
        }
    }

    async fn update_workflow_at_version(&self, workflow: &Workflow) -> Result<(), StoreError> {
        let json = to_json(workflow)?;
        let listing = record_item(WORKFLOW_LISTING, workflow_pk(&workflow.id), json.clone());
        let main = self.workflow_put(workflow_item(workflow, json), Some(workflow.version))?;
        match self
            .put_both(main, self.put(listing, None)?, "update workflow")
            .await?
        {
            Written::Yes => Ok(()),
            Written::ConditionFailed { .. } => Err(self.conflict_or_missing(&workflow.id).await?),
        }
    }

    async fn list_workflow_versions(
        &self,
        id: &WorkflowId,
    ) -> Result<Vec<WorkflowVersion>, StoreError> {
        let items = self
            .query_prefix(
                &workflow_pk(id),
                VERSION_PREFIX,
                "Query (workflow versions)",
            )
            .await?;
        let mut versions: Vec<WorkflowVersion> = records(&items)?;
        versions.reverse();
        Ok(versions)
    }

    async fn get_workflow_version(
        &self,
        id: &WorkflowId,
        number: u32,
    ) -> Result<Option<WorkflowVersion>, StoreError> {
        self.get(
            key(workflow_pk(id), version_sk(number)),
            "GetItem (workflow version)",
        )
        .await?
        .as_ref()
        .map(record)
        .transpose()
    }

    async fn delete_workflow(&self, id: &WorkflowId) -> Result<(), StoreError> {
        let pk = workflow_pk(id);
        let main = Delete::builder()
            .table_name(self.table())
            .set_key(Some(key(pk.clone(), WORKFLOW_SK)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .build()
            .map_err(build_error)?;
        let listing = Delete::builder()
            .table_name(self.table())
            .set_key(Some(key(WORKFLOW_LISTING, pk)))
            .build()
            .map_err(build_error)?;
        let result = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(main).build())
            .transact_items(TransactWriteItem::builder().delete(listing).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match cancelled_by_condition(&err, 2) {
                Some(_) => Err(StoreError::NotFound(label(id))),
                None => Err(unavailable("TransactWriteItems (delete workflow)", err)),
            },
        }
    }
}

impl DynamoStore {
    async fn workflow_exists(&self, id: &WorkflowId) -> Result<bool, StoreError> {
        let item = self
            .get(
                key(format!("{WORKFLOW_PREFIX}{id}"), WORKFLOW_SK),
                "GetItem (workflow)",
            )
            .await?;
        Ok(item.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_sort_keys_sort_by_number() {
        assert!(version_sk(9) < version_sk(10));
        assert_eq!(version_sk(1), "VERSION#0000000001");
    }
}
