//! What the operator's execution search, counts, bulk replay and test runs answer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ExecutionView;
use crate::app::{BulkReplayed, Counts, Found, StatusCounts, TestRun};

/// An execution found by a search across workflows, with its workflow's name.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FoundExecutionView {
    #[serde(flatten)]
    pub execution: ExecutionView,
    pub workflow_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionSearchView {
    /// Newest first, at most `limit`.
    pub executions: Vec<FoundExecutionView>,
    /// How many executions were read to find them.
    pub scanned: usize,
    /// The list may not hold every match: more matched than `limit`, or a workflow had more
    /// executions in the range than one search reads (1000): narrow the range.
    pub truncated: bool,
}

impl From<&Found> for ExecutionSearchView {
    fn from(found: &Found) -> Self {
        Self {
            executions: found
                .items
                .iter()
                .map(|(execution, workflow)| FoundExecutionView {
                    execution: ExecutionView::new(execution, &workflow.steps),
                    workflow_name: workflow.name.clone(),
                })
                .collect(),
            scanned: found.scanned,
            truncated: found.truncated,
        }
    }
}

/// Executions by status received in an interval.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionCountsView {
    pub since: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    pub total: usize,
    /// `queued`, `running`, `waiting`, `succeeded`, `failed` (zeros included).
    #[serde(flatten)]
    #[schema(value_type = std::collections::BTreeMap<String, usize>)]
    pub counts: StatusCounts,
    pub scanned: usize,
    /// A workflow had more executions in the interval than one count reads (1000): the
    /// counts are of its newest ones.
    pub truncated: bool,
}

impl From<&Counts> for ExecutionCountsView {
    fn from(c: &Counts) -> Self {
        Self {
            since: c.since,
            until: c.until,
            total: c.total,
            counts: c.counts.clone(),
            scanned: c.scanned,
            truncated: c.truncated,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BulkReplayView {
    /// How many of the executions read matched the filters.
    pub matched: usize,
    /// The new executions, queued (oldest original first); empty with `countOnly`.
    pub execution_ids: Vec<String>,
    pub scanned: usize,
    /// The workflow had more executions in the range than one replay reads (1000).
    pub truncated: bool,
}

impl From<&BulkReplayed> for BulkReplayView {
    fn from(r: &BulkReplayed) -> Self {
        Self {
            matched: r.matched,
            execution_ids: r.execution_ids.iter().map(ToString::to_string).collect(),
            scanned: r.scanned,
            truncated: r.truncated,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestRunView {
    pub execution_id: String,
    /// The saved version it runs.
    pub workflow_version: u32,
    /// Always true: the execution is a test run.
    pub test: bool,
}

impl From<&TestRun> for TestRunView {
    fn from(run: &TestRun) -> Self {
        Self {
            execution_id: run.execution.id.to_string(),
            workflow_version: run.workflow_version,
            test: run.execution.test,
        }
    }
}
