//! Who may call a workflow's URLs: the workflow must exist and be enabled, and the caller must
//! present the value of the key the workflow names. Lookups are cached for a few seconds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;

use super::{App, AppError};
use crate::domain::{
    ApiKey, ApiKeyName, KeyUsage, Verified, Workflow, WorkflowId, WorkflowSecrets, signature,
};
use crate::ports::StoreError;

/// `lastUsedAt` is written at most this often per key and process, so that a busy key costs
/// one store write a minute instead of one per request.
pub(crate) const KEY_USE_INTERVAL: Duration = Duration::from_secs(60);

/// Remembers when this process last wrote each key's `lastUsedAt`.
#[derive(Default)]
pub(crate) struct KeyUseThrottle {
    written: Mutex<HashMap<ApiKeyName, Instant>>,
}

impl KeyUseThrottle {
    /// True when a write is due for `name` at `now`; the write is then counted as done, so
    /// concurrent requests do not all write.
    pub(crate) fn due(&self, name: &ApiKeyName, now: Instant) -> bool {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        match written.get(name) {
            Some(at) if now.saturating_duration_since(*at) < KEY_USE_INTERVAL => false,
            _ => {
                // Keys are few (admin-created), so the map stays small without sweeping.
                written.insert(name.clone(), now);
                true
            }
        }
    }
}

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

    async fn load_secrets(&self, id: &WorkflowId) -> Result<Option<WorkflowSecrets>, AppError> {
        if let Some(cached) = self.inner.secrets.get(id) {
            return Ok(cached);
        }
        let loaded = self.inner.store.get_secrets(id).await?;
        self.inner.secrets.insert(id.clone(), loaded.clone());
        Ok(loaded)
    }

    /// The enabled workflow behind `raw_id`, if `presented_key` opens it. Reading executions
    /// always goes through here: a signature opens a webhook URL, never the data behind it.
    pub async fn authorize(
        &self,
        raw_id: &str,
        presented_key: Option<&str>,
    ) -> Result<Workflow, AppError> {
        let workflow = self.enabled_workflow(raw_id).await?;
        self.check_key(&workflow, presented_key).await?;
        Ok(workflow)
    }

    /// The enabled workflow behind a webhook URL, before any credential is checked (the
    /// HTTP layer needs it to count a refusal against the workflow; the caller learns nothing
    /// it would not from the refusal). Follow with
    /// [`check_webhook_key`](Self::check_webhook_key).
    pub async fn webhook_workflow(&self, raw_id: &str) -> Result<Workflow, AppError> {
        self.enabled_workflow(raw_id).await
    }

    /// With auth `api_key` or `both` the key must open the workflow; with `signature` the key
    /// is not asked for (the signature is checked on the body, by
    /// [`verify_sender`](Self::verify_sender)).
    pub async fn check_webhook_key(
        &self,
        workflow: &Workflow,
        presented_key: Option<&str>,
    ) -> Result<(), AppError> {
        if workflow.auth.needs_key() {
            self.check_key(workflow, presented_key).await?;
        }
        Ok(())
    }

    /// Checks the provider's signature over the raw body as received, when the workflow's
    /// auth asks for one. `header` looks up a request header by lowercase name.
    pub async fn verify_sender<'h>(
        &self,
        workflow: &Workflow,
        header: impl Fn(&str) -> Option<&'h str>,
        body: &[u8],
    ) -> Result<Verified, AppError> {
        let Some(options) = workflow
            .verify
            .as_ref()
            .filter(|_| workflow.auth.needs_signature())
        else {
            return Ok(Verified::default());
        };
        let secrets = self.load_secrets(&workflow.id).await?;
        let secrets = secrets
            .as_ref()
            .map(|s| s.secrets.as_slice())
            .unwrap_or(&[]);
        if secrets.is_empty() {
            // The operator's mistake, not the caller's; the caller still only learns 401.
            tracing::warn!(workflow_id = %workflow.id, "workflow needs a signature but has no signing secret; set one with `workflows secret set`");
        }
        let verified = signature::verify(options, secrets, header, body, Utc::now().timestamp())?;
        Ok(verified)
    }

    async fn enabled_workflow(&self, raw_id: &str) -> Result<Workflow, AppError> {
        let id = WorkflowId::parse(raw_id).map_err(|_| AppError::WorkflowNotFound)?;
        self.load_workflow(&id)
            .await?
            .filter(|w| w.enabled)
            .ok_or(AppError::WorkflowNotFound)
    }

    async fn check_key(
        &self,
        workflow: &Workflow,
        presented_key: Option<&str>,
    ) -> Result<(), AppError> {
        let presented = presented_key
            .filter(|k| !k.is_empty())
            .ok_or(AppError::MissingApiKey)?;
        let key = self.load_key(&workflow.api_key_name).await?;
        match key {
            Some(key) if key.accepts(presented) => {
                self.note_key_use(&key.name).await;
                Ok(())
            }
            _ => Err(AppError::InvalidApiKey),
        }
    }

    /// Records `lastUsedAt`, throttled per process. Best effort: a failed write never turns
    /// an authorized request away.
    async fn note_key_use(&self, name: &ApiKeyName) {
        if !self.inner.key_uses.due(name, Instant::now()) {
            return;
        }
        let usage = KeyUsage {
            name: name.clone(),
            last_used_at: Utc::now(),
        };
        let store = self.store();
        let written = match store.update_key_usage(&usage).await {
            Err(StoreError::NotFound(_)) => match store.insert_key_usage(&usage).await {
                // Another process wrote the first one meanwhile; theirs is as good.
                Err(StoreError::AlreadyExists(_)) => Ok(()),
                other => other,
            },
            other => other,
        };
        if let Err(err) = written {
            tracing::warn!(key = %name, error = %err, "could not record when the API key was used");
        }
    }

    pub(crate) fn forget_workflow(&self, id: &WorkflowId) {
        self.inner.workflows.invalidate(id);
    }

    pub(crate) fn forget_key(&self, name: &ApiKeyName) {
        self.inner.keys.invalidate(name);
    }

    pub(crate) fn forget_secrets(&self, id: &WorkflowId) {
        self.inner.secrets.invalidate(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_use_is_written_at_most_once_a_minute_per_key() {
        let throttle = KeyUseThrottle::default();
        let a = ApiKeyName::parse("a").unwrap();
        let b = ApiKeyName::parse("b").unwrap();
        let start = Instant::now();
        assert!(throttle.due(&a, start));
        assert!(!throttle.due(&a, start + Duration::from_secs(59)));
        assert!(throttle.due(&b, start + Duration::from_secs(1)));
        assert!(throttle.due(&a, start + KEY_USE_INTERVAL));
    }
}
