//! The items of `for_each` steps: one row per (execution, step, index), the record whole as
//! JSON beside the columns the listing and the purge need.

use async_trait::async_trait;
use rusqlite::params;

use super::store::select_records;
use super::{SqliteStore, unavailable};
use crate::adapters::record::to_json;
use crate::domain::{Execution, ExecutionId, ItemRecord, WorkflowId};
use crate::ports::{ItemStore, StoreError};

/// One record as the row stores it, encoded before it reaches the writer so the writer's
/// thread only runs SQL.
struct ItemRow {
    step_id: String,
    index: u32,
    record: String,
}

fn rows_of(records: &[ItemRecord]) -> Result<Vec<ItemRow>, StoreError> {
    records
        .iter()
        .map(|r| {
            Ok(ItemRow {
                step_id: r.step_id.clone(),
                index: r.index,
                record: to_json(r)?,
            })
        })
        .collect()
}

#[async_trait]
impl ItemStore for SqliteStore {
    /// All records in one job of the writer: they commit together, with one fsync shared with
    /// whatever else the group holds.
    async fn put_items(
        &self,
        execution: &Execution,
        records: &[ItemRecord],
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let rows = rows_of(records)?;
        let (workflow_id, execution_id) =
            (execution.workflow_id.to_string(), execution.id.to_string());
        let expires_at = execution.expires_at.timestamp();
        self.write_background(move |c| {
            let mut insert = c
                .prepare_cached(
                    "INSERT OR REPLACE INTO items
                     (workflow_id, execution_id, step_id, item_index, expires_at, record)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(unavailable)?;
            for row in &rows {
                insert
                    .execute(params![
                        workflow_id,
                        execution_id,
                        row.step_id,
                        row.index,
                        expires_at,
                        row.record
                    ])
                    .map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_items(
        &self,
        workflow_id: &WorkflowId,
        execution_id: &ExecutionId,
        step_id: &str,
        after: Option<u32>,
        limit: usize,
    ) -> Result<Vec<ItemRecord>, StoreError> {
        let (workflow_id, execution_id) = (workflow_id.to_string(), execution_id.to_string());
        let step_id = step_id.to_owned();
        // Indexes start at 0, so "above -1" is every item.
        let after = after.map_or(-1, i64::from);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(move |c| {
            select_records(
                c,
                "SELECT record FROM items
                 WHERE workflow_id = ?1 AND execution_id = ?2 AND step_id = ?3 AND item_index > ?4
                 ORDER BY item_index LIMIT ?5",
                params![workflow_id, execution_id, step_id, after, limit],
            )
        })
        .await
    }
}
