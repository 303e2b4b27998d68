//! Versioned saves of workflows: `WORKFLOW#{id}` / `VERSION#{n:010}` items, written in one
//! TransactWriteItems with the workflow item (conditional on its `version` attribute) and its
//! listing copy, so a save that lost a race writes nothing and answers a conflict.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::item::{WORKFLOW_PREFIX, key, n, record, record_item, records, workflow_pk};
use super::request::{build_error, cancelled_by_condition};
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

/// Version 1 must not exist yet; any later one must find the version before it. Workflow
/// items written before versions have no `version` attribute, and are version 1.
fn save_condition(number: u32) -> &'static str {
    match number {
        1 => "attribute_not_exists(#pk)",
        2 => "attribute_exists(#pk) AND (#version = :previous OR attribute_not_exists(#version))",
        _ => "attribute_exists(#pk) AND #version = :previous",
    }
}

impl DynamoStore {
    fn workflow_put(&self, workflow: &Workflow, item: Item) -> Result<Put, StoreError> {
        let number = workflow.version;
        let mut put = Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(save_condition(number))
            .expression_attribute_names("#pk", PK);
        if number > 1 {
            put = put
                .expression_attribute_names("#version", VERSION)
                .expression_attribute_values(":previous", n(number - 1));
        }
        put.build().map_err(build_error)
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
        let mut main = record_item(pk.clone(), WORKFLOW_SK, json.clone());
        main.insert(VERSION.into(), n(workflow.version));
        let listing = record_item(WORKFLOW_LISTING, pk.clone(), json);
        let history = record_item(pk, version_sk(workflow.version), to_json(version)?);
        let result = self
            .client()
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.workflow_put(workflow, main)?)
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
            // Not at the version before: gone, or saved again since it was read.
            Some(0) => match self.workflow_exists(&workflow.id).await? {
                true => Err(StoreError::VersionConflict(label(&workflow.id))),
                false => Err(StoreError::NotFound(label(&workflow.id))),
            },
            Some(_) => Err(StoreError::VersionConflict(label(&workflow.id))),
            None => Err(unavailable("TransactWriteItems (save workflow)", err)),
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
