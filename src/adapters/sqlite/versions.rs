//! Versioned saves of workflows: the workflow row and its version row in one job of the
//! writer, which commits both or neither. The workflow's current version is read from its
//! JSON record (absent in records from before versions: 1), so no column had to be added to
//! files that already exist.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::store::{is_constraint, select_one, select_records};
use super::{SqliteStore, unavailable};
use crate::adapters::record::to_json;
use crate::domain::{Workflow, WorkflowId, WorkflowVersion};
use crate::ports::{StoreError, WorkflowVersionStore};

fn label(id: &str) -> String {
    format!("workflow {id}")
}

/// Inserts version 1 with the workflow, or replaces the workflow at `number - 1`.
fn write_workflow(c: &Connection, id: &str, number: u32, record: &str) -> Result<(), StoreError> {
    if number == 1 {
        return c
            .prepare_cached("INSERT INTO workflows (id, record) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![id, record]))
            .map(|_| ())
            .map_err(|e| {
                if is_constraint(&e) {
                    StoreError::AlreadyExists(label(id))
                } else {
                    unavailable(e)
                }
            });
    }
    update_at(c, id, number - 1, record)
}

/// Overwrites the workflow if it is still at version `expected`.
fn update_at(c: &Connection, id: &str, expected: u32, record: &str) -> Result<(), StoreError> {
    let updated = c
        .prepare_cached(
            "UPDATE workflows SET record = ?2
             WHERE id = ?1 AND COALESCE(json_extract(record, '$.version'), 1) = ?3",
        )
        .and_then(|mut s| s.execute(params![id, record, expected]))
        .map_err(unavailable)?;
    if updated == 1 {
        return Ok(());
    }
    let exists: Option<i64> = c
        .prepare_cached("SELECT 1 FROM workflows WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], |r| r.get(0)).optional())
        .map_err(unavailable)?;
    Err(match exists {
        Some(_) => StoreError::VersionConflict(label(id)),
        None => StoreError::NotFound(label(id)),
    })
}

#[async_trait]
impl WorkflowVersionStore for SqliteStore {
    async fn save_workflow(
        &self,
        workflow: &Workflow,
        version: &WorkflowVersion,
    ) -> Result<(), StoreError> {
        let id = workflow.id.to_string();
        let number = workflow.version;
        let (record, version_record) = (to_json(workflow)?, to_json(version)?);
        self.write(move |c| {
            write_workflow(c, &id, number, &record)?;
            c.prepare_cached(
                "INSERT INTO workflow_versions (workflow_id, number, record) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![id, number, version_record]))
            .map(|_| ())
            .map_err(|e| {
                // A version row left by a workflow of the same id: the save lost a race.
                if is_constraint(&e) {
                    StoreError::VersionConflict(label(&id))
                } else {
                    unavailable(e)
                }
            })
        })
        .await
    }

    async fn update_workflow_at_version(&self, workflow: &Workflow) -> Result<(), StoreError> {
        let id = workflow.id.to_string();
        let version = workflow.version;
        let record = to_json(workflow)?;
        self.write(move |c| update_at(c, &id, version, &record))
            .await
    }

    async fn list_workflow_versions(
        &self,
        id: &WorkflowId,
    ) -> Result<Vec<WorkflowVersion>, StoreError> {
        let id = id.to_string();
        self.with_conn(move |c| {
            select_records(
                c,
                "SELECT record FROM workflow_versions WHERE workflow_id = ?1 ORDER BY number DESC",
                [id],
            )
        })
        .await
    }

    async fn get_workflow_version(
        &self,
        id: &WorkflowId,
        number: u32,
    ) -> Result<Option<WorkflowVersion>, StoreError> {
        let id = id.to_string();
        self.with_conn(move |c| {
            select_one(
                c,
                "SELECT record FROM workflow_versions WHERE workflow_id = ?1 AND number = ?2",
                params![id, number],
            )
        })
        .await
    }

    async fn delete_workflow(&self, id: &WorkflowId) -> Result<(), StoreError> {
        let id = id.to_string();
        self.write(move |c| {
            let n = c
                .execute("DELETE FROM workflows WHERE id = ?1", [&id])
                .map_err(unavailable)?;
            match n {
                0 => Err(StoreError::NotFound(label(&id))),
                _ => Ok(()),
            }
        })
        .await
    }
}
