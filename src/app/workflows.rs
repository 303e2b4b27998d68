//! Saving workflows, for the CLI and the admin API alike: every create and replace writes an
//! immutable version with the workflow, in one store write, and a replace only lands on the
//! version it was based on (the store's condition, so two operators cannot overwrite each
//! other unseen).

use chrono::Utc;

use super::admin::invalid;
use super::{App, AppError, NewWorkflow};
use crate::domain::{
    ApiKeyName, CLI_AUTHOR, DefinitionError, Execution, MAX_NOTE_CHARS, PayloadSchema, Workflow,
    WorkflowId, WorkflowStep, WorkflowVersion,
};

/// Who saves, and on what: the context of a create, replace or restore.
#[derive(Debug, Clone, Default)]
pub struct Save {
    /// The admin key's name; `None` is the CLI.
    pub by: Option<String>,
    /// The version the change was based on. `None` (the CLI) bases it on the version read
    /// just before writing; a save in between still fails the store's condition.
    pub base_version: Option<u32>,
    pub note: Option<String>,
}

impl Save {
    fn author(&self) -> &str {
        self.by.as_deref().unwrap_or(CLI_AUTHOR)
    }

    fn checked_note(&self) -> Result<Option<String>, AppError> {
        let note = self
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
            return Err(AppError::InvalidRequest(format!(
                "note: longer than {MAX_NOTE_CHARS} characters"
            )));
        }
        Ok(note.map(str::to_owned))
    }
}

/// Refused with the field's path, like every other field of a definition.
fn compile_payload_schema(
    schema: Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<Option<PayloadSchema>, AppError> {
    let compiled = schema.map(PayloadSchema::new).transpose();
    compiled.map_err(|e| AppError::InvalidDefinition(DefinitionError::from(e)))
}

fn parse_id(raw_id: &str) -> Result<WorkflowId, AppError> {
    WorkflowId::parse(raw_id).map_err(|_| AppError::WorkflowNotFound)
}

impl App {
    /// Creates a workflow as the CLI.
    pub async fn create_workflow(&self, new: NewWorkflow) -> Result<Workflow, AppError> {
        self.create_workflow_as(new, Save::default()).await
    }

    /// Creates a workflow at version 1.
    pub async fn create_workflow_as(
        &self,
        new: NewWorkflow,
        save: Save,
    ) -> Result<Workflow, AppError> {
        let note = save.checked_note()?;
        let key_name = self.existing_key_name(&new.api_key_name).await?;
        let now = Utc::now();
        let workflow = Workflow::new(&new.name, new.trigger, key_name, new.steps, new.sns, now)
            .map_err(invalid)?;
        new.auth.check(workflow.trigger).map_err(invalid)?;
        let workflow = Workflow {
            auth: new.auth.mode,
            verify: new.auth.verify,
            payload_schema: compile_payload_schema(new.payload_schema)?,
            ..workflow
        };
        let version = WorkflowVersion::of(&workflow, save.author(), note, now);
        self.store().save_workflow(&workflow, &version).await?;
        self.forget_workflow(&workflow.id);
        Ok(workflow)
    }

    /// Replaces a workflow's definition as the CLI (`workflows update`).
    pub async fn update_workflow(
        &self,
        raw_id: &str,
        new: NewWorkflow,
    ) -> Result<Workflow, AppError> {
        self.replace_workflow(raw_id, new, Save::default()).await
    }

    /// Replaces a workflow's definition (name, trigger, key, SNS options, auth, steps) as a
    /// new version, keeping its id, so its webhook URL stays the same, and its enabled flag.
    /// Executions already queued run the new steps; each names the version it was accepted
    /// under.
    pub async fn replace_workflow(
        &self,
        raw_id: &str,
        new: NewWorkflow,
        save: Save,
    ) -> Result<Workflow, AppError> {
        let note = save.checked_note()?;
        let current = self.workflow(raw_id).await?;
        if let Some(base) = save.base_version
            && base != current.version
        {
            return Err(AppError::VersionConflict(format!(
                "workflow {} is at version {}, not {base}: another save came first; read it again",
                current.id, current.version
            )));
        }
        let key_name = self.existing_key_name(&new.api_key_name).await?;
        let checked = Workflow::new(
            &new.name,
            new.trigger,
            key_name,
            new.steps,
            new.sns,
            current.created_at,
        )
        .map_err(invalid)?;
        new.auth.check(checked.trigger).map_err(invalid)?;
        let updated = Workflow {
            auth: new.auth.mode,
            verify: new.auth.verify,
            payload_schema: compile_payload_schema(new.payload_schema)?,
            id: current.id.clone(),
            enabled: current.enabled,
            created_at: current.created_at,
            version: current.version + 1,
            ..checked
        };
        let version = WorkflowVersion::of(&updated, save.author(), note, Utc::now());
        let saved = self.store().save_workflow(&updated, &version).await;
        // Whatever the outcome, the cached copy may be older than the store's.
        self.forget_workflow(&updated.id);
        saved?;
        Ok(updated)
    }

    /// A new version with the definition of version `number`.
    pub async fn restore_workflow_version(
        &self,
        raw_id: &str,
        number: u32,
        save: Save,
    ) -> Result<Workflow, AppError> {
        let old = self.workflow_version(raw_id, number).await?;
        let save = Save {
            note: save
                .note
                .or_else(|| Some(format!("restored from version {number}"))),
            ..save
        };
        self.replace_workflow(raw_id, NewWorkflow::from(old.definition), save)
            .await
    }

    /// Removes the workflow: its webhook URL answers 404 at once in this process (others
    /// within the cache TTL). Executions stay readable until their retention ends.
    pub async fn delete_workflow(&self, raw_id: &str) -> Result<(), AppError> {
        let id = parse_id(raw_id)?;
        let deleted = self.store().delete_workflow(&id).await;
        self.forget_workflow(&id);
        deleted.map_err(|e| match AppError::from(e) {
            AppError::NotFound(_) => AppError::WorkflowNotFound,
            other => other,
        })
    }

    /// Newest first.
    pub async fn workflow_versions(&self, raw_id: &str) -> Result<Vec<WorkflowVersion>, AppError> {
        let workflow = self.workflow(raw_id).await?;
        Ok(self.store().list_workflow_versions(&workflow.id).await?)
    }

    pub async fn workflow_version(
        &self,
        raw_id: &str,
        number: u32,
    ) -> Result<WorkflowVersion, AppError> {
        let workflow = self.workflow(raw_id).await?;
        self.store()
            .get_workflow_version(&workflow.id, number)
            .await?
            .ok_or_else(|| {
                AppError::NotFound(format!("version {number} of workflow {}", workflow.id))
            })
    }

    /// An execution with the steps its plan is drawn against: its workflow's, or none once
    /// the workflow is deleted (its executions stay readable until their retention ends).
    pub async fn execution_with_steps(
        &self,
        raw_workflow_id: &str,
        raw_execution_id: &str,
    ) -> Result<(Execution, Vec<WorkflowStep>), AppError> {
        let id = parse_id(raw_workflow_id)?;
        let execution = self.get_execution(&id, raw_execution_id).await;
        let steps = match self.store().get_workflow(&id).await? {
            Some(workflow) => workflow.steps,
            None if execution.is_ok() => Vec::new(),
            None => return Err(AppError::WorkflowNotFound),
        };
        Ok((execution?, steps))
    }

    async fn existing_key_name(&self, raw: &str) -> Result<ApiKeyName, AppError> {
        let key_name = ApiKeyName::parse(raw).map_err(invalid)?;
        if self.store().get_api_key(&key_name).await?.is_none() {
            return Err(AppError::InvalidRequest(format!(
                "API key {key_name} does not exist; create it first with `api-keys create {key_name}`"
            )));
        }
        Ok(key_name)
    }
}
