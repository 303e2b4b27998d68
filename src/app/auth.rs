//! Who may call a workflow's URLs: the workflow must exist and be enabled, and the caller must
//! present the value of the key the workflow names. Lookups are cached for a few seconds.

use super::{App, AppError};
use crate::domain::{ApiKey, ApiKeyName, Workflow, WorkflowId};

impl App {
    pub(crate) async fn load_workflow(
        &self,
        id: &WorkflowId,
    ) -> Result<Option<Workflow>, AppError> {
        if let Some(cached) = self.inner.workflows.get(id) {
            return Ok(cached);
        }
        let loaded = self.inner.store.get_workflow(id).await?;
        self.inner.workflows.insert(id.clone(), loaded.clone());
        Ok(loaded)
    }

    async fn load_key(&self, name: &ApiKeyName) -> Result<Option<ApiKey>, AppError> {
        if let Some(cached) = self.inner.keys.get(name) {
            return Ok(cached);
        }
        let loaded = self.inner.store.get_api_key(name).await?;
        self.inner.keys.insert(name.clone(), loaded.clone());
        Ok(loaded)
    }

    /// The enabled workflow behind `raw_id`, if `presented_key` opens it.
    pub async fn authorize(
        &self,
        raw_id: &str,
        presented_key: Option<&str>,
    ) -> Result<Workflow, AppError> {
        let id = WorkflowId::parse(raw_id).map_err(|_| AppError::WorkflowNotFound)?;
        let workflow = self
            .load_workflow(&id)
            .await?
            .filter(|w| w.enabled)
            .ok_or(AppError::WorkflowNotFound)?;
        let presented = presented_key
            .filter(|k| !k.is_empty())
            .ok_or(AppError::MissingApiKey)?;
        let key = self.load_key(&workflow.api_key_name).await?;
        match key {
            Some(key) if key.accepts(presented) => Ok(workflow),
            _ => Err(AppError::InvalidApiKey),
        }
    }

    pub(crate) fn forget_workflow(&self, id: &WorkflowId) {
        self.inner.workflows.invalidate(id);
    }

    pub(crate) fn forget_key(&self, name: &ApiKeyName) {
        self.inner.keys.invalidate(name);
    }
}
