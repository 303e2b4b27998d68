//! Managing keys and workflows, and operating on executions: what the CLI does. These run
//! with the operator's access to the store, so they take no API key.

use chrono::Utc;

use super::{App, AppError};
use crate::domain::{
    ApiKey, ApiKeyName, KeySecret, SecretValue, SenderAuth, SnsOptions, SnsSubscription, Trigger,
    Workflow, WorkflowFile, WorkflowId, WorkflowSecrets, WorkflowStep,
};
use crate::ports::StoreError;

pub struct CreatedApiKey {
    pub key: ApiKey,
    pub secret: KeySecret,
}

/// A key after `api-keys rotate`: the new value, shown once.
pub struct RotatedApiKey {
    pub key: ApiKey,
    pub secret: KeySecret,
}

/// A key as `api-keys list` shows it.
pub struct ApiKeyListing {
    pub key: ApiKey,
    pub last_used_at: Option<chrono::DateTime<Utc>>,
}

/// A key as the console lists it: its listing, and the workflows that name it (so an operator
/// sees what a revocation would break).
pub struct ApiKeyOverview {
    pub listing: ApiKeyListing,
    pub used_by: Vec<WorkflowId>,
}

/// A workflow's secrets after a change; `generated` holds a value made by the service, to be
/// shown this once.
pub struct SecretChange {
    pub secrets: WorkflowSecrets,
    pub generated: Option<SecretValue>,
}

/// How `workflows secret` changes the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SecretOp {
    Set,
    Rotate,
}

pub struct NewWorkflow {
    pub name: String,
    pub trigger: Trigger,
    pub api_key_name: String,
    pub steps: Vec<WorkflowStep>,
    pub sns: SnsOptions,
    /// `auth` and `verify` of the workflow file; the default is the API key alone.
    pub auth: SenderAuth,
    /// The file's `payload_schema`, compiled (and refused) when the workflow is saved.
    pub payload_schema: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A checked workflow file is a new workflow as it stands.
impl From<WorkflowFile> for NewWorkflow {
    fn from(file: WorkflowFile) -> Self {
        Self {
            auth: file.sender_auth(),
            name: file.name,
            trigger: file.trigger,
            api_key_name: file.api_key,
            steps: file.steps,
            sns: file.sns,
            payload_schema: file.payload_schema,
        }
    }
}

pub(super) fn invalid(e: impl std::fmt::Display) -> AppError {
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

    /// Keys with `lastUsedAt`, which is kept in its own records.
    pub async fn list_api_keys_with_usage(&self) -> Result<Vec<ApiKeyListing>, AppError> {
        let keys = self.store().list_api_keys().await?;
        let usage: std::collections::HashMap<ApiKeyName, chrono::DateTime<Utc>> = self
            .store()
            .list_key_usage()
            .await?
            .into_iter()
            .map(|u| (u.name, u.last_used_at))
            .collect();
        Ok(keys
            .into_iter()
            .map(|key| ApiKeyListing {
                last_used_at: usage.get(&key.name).copied(),
                key,
            })
            .collect())
    }

    /// Every key with its usage and the ids of the workflows whose `api_key` names it.
    pub async fn api_key_overview(&self) -> Result<Vec<ApiKeyOverview>, AppError> {
        let listings = self.list_api_keys_with_usage().await?;
        let mut by_key: std::collections::HashMap<ApiKeyName, Vec<WorkflowId>> =
            std::collections::HashMap::new();
        for workflow in self.list_workflows().await? {
            by_key
                .entry(workflow.api_key_name)
                .or_default()
                .push(workflow.id);
        }
        Ok(listings
            .into_iter()
            .map(|listing| {
                let mut used_by = by_key.remove(&listing.key.name).unwrap_or_default();
                used_by.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                ApiKeyOverview { listing, used_by }
            })
            .collect())
    }

    async fn existing_key(&self, name: &str) -> Result<ApiKey, AppError> {
        let name = ApiKeyName::parse(name).map_err(invalid)?;
        self.store()
            .get_api_key(&name)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("API key {name}")))
    }

    /// A new value for the key; the old one keeps working until `retire_after` (or until
    /// [`retire_api_key`](Self::retire_api_key)).
    pub async fn rotate_api_key(
        &self,
        name: &str,
        retire_after: Option<chrono::Duration>,
    ) -> Result<RotatedApiKey, AppError> {
        let mut key = self.existing_key(name).await?;
        let secret = key
            .rotate(Utc::now(), retire_after)
            .map_err(|e| AppError::Conflict(e.to_string()))?;
        self.store().update_api_key(&key).await?;
        self.forget_key(&key.name);
        Ok(RotatedApiKey { key, secret })
    }

    /// Stops accepting the value from before the last rotation.
    pub async fn retire_api_key(&self, name: &str) -> Result<ApiKey, AppError> {
        let mut key = self.existing_key(name).await?;
        key.retire_previous()
            .map_err(|e| AppError::Conflict(e.to_string()))?;
        self.store().update_api_key(&key).await?;
        self.forget_key(&key.name);
        Ok(key)
    }

    /// The workflow's signing secrets (empty when none is set); for showing fingerprints.
    pub async fn signing_secrets(&self, workflow: &Workflow) -> Result<WorkflowSecrets, AppError> {
        Ok(self
            .store()
            .get_secrets(&workflow.id)
            .await?
            .unwrap_or_else(|| WorkflowSecrets::empty(workflow.id.clone())))
    }

    /// Replaces the workflow's secrets with one: `value`, or a generated one (returned once).
    pub async fn set_signing_secret(
        &self,
        raw_id: &str,
        value: Option<String>,
    ) -> Result<SecretChange, AppError> {
        self.change_secrets(raw_id, value, SecretOp::Set).await
    }

    /// Adds a new current secret; the older one stays valid until retired.
    pub async fn rotate_signing_secret(
        &self,
        raw_id: &str,
        value: Option<String>,
    ) -> Result<SecretChange, AppError> {
        self.change_secrets(raw_id, value, SecretOp::Rotate).await
    }

    /// Drops the older of two secrets, ending the rotation's overlap.
    pub async fn retire_signing_secret(&self, raw_id: &str) -> Result<SecretChange, AppError> {
        let workflow = self.workflow(raw_id).await?;
        let mut secrets = self.signing_secrets(&workflow).await?;
        secrets
            .retire()
            .map_err(|e| AppError::Conflict(e.to_string()))?;
        self.store().update_secrets(&secrets).await?;
        self.forget_secrets(&workflow.id);
        Ok(SecretChange {
            secrets,
            generated: None,
        })
    }

    async fn change_secrets(
        &self,
        raw_id: &str,
        value: Option<String>,
        op: SecretOp,
    ) -> Result<SecretChange, AppError> {
        let workflow = self.workflow(raw_id).await?;
        let options = workflow.verify.as_ref().ok_or_else(|| {
            AppError::InvalidRequest(format!(
                "workflow {} has no verify block; add one (scheme: github, stripe, ...) with `workflows update` first",
                workflow.id
            ))
        })?;
        let (value, generated) = match value {
            Some(v) => {
                options.check_secret(&v).map_err(AppError::InvalidRequest)?;
                (SecretValue::new(v), None)
            }
            None => {
                let v = options.generate_secret();
                (v.clone(), Some(v))
            }
        };
        let stored = self.store().get_secrets(&workflow.id).await?;
        let exists = stored.is_some();
        let mut secrets = stored.unwrap_or_else(|| WorkflowSecrets::empty(workflow.id.clone()));
        let now = Utc::now();
        match op {
            SecretOp::Set => secrets.set(value, now),
            SecretOp::Rotate => secrets
                .rotate(value, now)
                .map_err(|e| AppError::Conflict(e.to_string()))?,
        }
        if exists {
            self.store().update_secrets(&secrets).await?;
        } else {
            self.store().insert_secrets(&secrets).await?;
        }
        self.forget_secrets(&workflow.id);
        Ok(SecretChange { secrets, generated })
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

    /// Not a new version; conditional on the version read, so it never writes back a
    /// definition a concurrent save replaced (read again and retry: the flag does not depend
    /// on the definition).
    pub async fn set_workflow_enabled(
        &self,
        raw_id: &str,
        enabled: bool,
    ) -> Result<Workflow, AppError> {
        let mut attempts = 0;
        loop {
            let mut workflow = self.workflow(raw_id).await?;
            workflow.enabled = enabled;
            let written = self.store().update_workflow_at_version(&workflow).await;
            self.forget_workflow(&workflow.id);
            match written {
                Ok(()) => return Ok(workflow),
                Err(StoreError::VersionConflict(_)) if attempts < 3 => attempts += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub async fn list_subscriptions(
        &self,
        raw_workflow_id: &str,
    ) -> Result<Vec<SnsSubscription>, AppError> {
        let workflow = self.workflow(raw_workflow_id).await?;
        Ok(self.store().list_subscriptions(&workflow.id).await?)
    }
}
