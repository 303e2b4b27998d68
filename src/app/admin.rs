//! Managing keys and workflows, and operating on executions: what the CLI does. These run
//! with the operator's access to the store, so they take no API key.

use chrono::Utc;

use super::{Accepted, App, AppError};
use crate::domain::{
    ApiKey, ApiKeyName, Execution, KeySecret, SnsOptions, SnsSubscription, Trigger, Workflow,
    WorkflowId, WorkflowStep,
};

pub struct CreatedApiKey {
    pub key: ApiKey,
    pub secret: KeySecret,
}

pub struct NewWorkflow {
    pub name: String,
    pub trigger: Trigger,
    pub api_key_name: String,
    pub steps: Vec<WorkflowStep>,
    pub sns: SnsOptions,
}

fn invalid(e: impl std::fmt::Display) -> AppError {
    AppError::InvalidRequest(e.to_string())
}

impl App {
    pub async fn create_api_key(&self, name: &str) -> Result<CreatedApiKey, AppError> {
        let name = ApiKeyName::parse(name).map_err(invalid)?;
        let (key, secret) = ApiKey::generate(name, Utc::now());
        self.store().insert_api_key(&key).await?;
        Ok(CreatedApiKey { key, secret })
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, AppError> {
        Ok(self.store().list_api_keys().await?)
    }

    pub async fn revoke_api_key(&self, name: &str) -> Result<ApiKey, AppError> {
        let name = ApiKeyName::parse(name).map_err(invalid)?;
        let mut key = self
            .store()
            .get_api_key(&name)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("API key {name}")))?;
        key.revoke(Utc::now());
        self.store().update_api_key(&key).await?;
        self.forget_key(&name);
        Ok(key)
    }

    pub async fn create_workflow(&self, new: NewWorkflow) -> Result<Workflow, AppError> {
        let key_name = ApiKeyName::parse(&new.api_key_name).map_err(invalid)?;
        if self.store().get_api_key(&key_name).await?.is_none() {
            return Err(AppError::InvalidRequest(format!(
                "API key {key_name} does not exist; create it first with `api-keys create {key_name}`"
            )));
        }
        let workflow = Workflow::new(
            &new.name,
            new.trigger,
            key_name,
            new.steps,
            new.sns,
            Utc::now(),
        )
        .map_err(invalid)?;
        self.store().insert_workflow(&workflow).await?;
        Ok(workflow)
    }

    /// Replaces a workflow's definition (name, trigger, key, SNS options, steps), keeping its
    /// id, so its webhook URL stays the same, and its enabled flag. Executions already queued
    /// run the new steps.
    pub async fn update_workflow(
        &self,
        raw_id: &str,
        new: NewWorkflow,
    ) -> Result<Workflow, AppError> {
        let current = self.workflow(raw_id).await?;
        let key_name = ApiKeyName::parse(&new.api_key_name).map_err(invalid)?;
        if self.store().get_api_key(&key_name).await?.is_none() {
            return Err(AppError::InvalidRequest(format!(
                "API key {key_name} does not exist; create it first with `api-keys create {key_name}`"
            )));
        }
        let checked = Workflow::new(
            &new.name,
            new.trigger,
            key_name,
            new.steps,
            new.sns,
            current.created_at,
        )
        .map_err(invalid)?;
        let updated = Workflow {
            id: current.id.clone(),
            enabled: current.enabled,
            created_at: current.created_at,
            ..checked
        };
        self.store().update_workflow(&updated).await?;
        self.forget_workflow(&updated.id);
        Ok(updated)
    }

    pub async fn list_workflows(&self) -> Result<Vec<Workflow>, AppError> {
        Ok(self.store().list_workflows().await?)
    }

    pub async fn workflow(&self, raw_id: &str) -> Result<Workflow, AppError> {
        let id = WorkflowId::parse(raw_id).map_err(|_| AppError::WorkflowNotFound)?;
        self.store()
            .get_workflow(&id)
            .await?
            .ok_or(AppError::WorkflowNotFound)
    }

    pub async fn set_workflow_enabled(
        &self,
        raw_id: &str,
        enabled: bool,
    ) -> Result<Workflow, AppError> {
        let mut workflow = self.workflow(raw_id).await?;
        workflow.enabled = enabled;
        self.store().update_workflow(&workflow).await?;
        self.forget_workflow(&workflow.id);
        Ok(workflow)
    }

    /// Runs an execution's payload again as a new execution, which is stored and queued.
    pub async fn replay_execution(
        &self,
        raw_workflow_id: &str,
        raw_execution_id: &str,
    ) -> Result<Accepted, AppError> {
        let workflow = self.workflow(raw_workflow_id).await?;
        let original: Execution = self.get_execution(&workflow.id, raw_execution_id).await?;
        let replay = original.replay(Utc::now(), self.config().retention);
        self.record_and_dispatch(replay, None).await
    }

    pub async fn list_subscriptions(
        &self,
        raw_workflow_id: &str,
    ) -> Result<Vec<SnsSubscription>, AppError> {
        let workflow = self.workflow(raw_workflow_id).await?;
        Ok(self.store().list_subscriptions(&workflow.id).await?)
    }
}
