//! A saved definition of a workflow: written once, with the save that made it current, and
//! never changed, so a workflow's history can be read and any point of it restored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::WorkflowId;
use super::workflow::Workflow;
use super::workflow_file::WorkflowFile;

/// Who saves through the CLI (which runs with the operator's access to the store, no key).
pub const CLI_AUTHOR: &str = "cli";

/// Longest `note` a version keeps.
pub const MAX_NOTE_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowVersion {
    pub workflow_id: WorkflowId,
    pub number: u32,
    pub created_at: DateTime<Utc>,
    /// The admin key's name, or [`CLI_AUTHOR`].
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The workflow as a file: what `GET …/versions/{n}` answers and a restore reads back.
    pub definition: WorkflowFile,
}

impl WorkflowVersion {
    /// The record of `workflow` as it is now saved (its `version` is the number).
    pub fn of(
        workflow: &Workflow,
        created_by: &str,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            workflow_id: workflow.id.clone(),
            number: workflow.version,
            created_at: now,
            created_by: created_by.to_owned(),
            note,
            definition: WorkflowFile::from(workflow),
        }
    }
}
