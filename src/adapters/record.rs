//! What both store adapters share about records: every record is kept whole as the same
//! serde JSON (so the two backends hold identical data), and API keys and workflows are both
//! "one record under a unique key", served by one generic set of operations per backend.

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::{
    AdminKey, ApiKey, ApiKeyName, KeyUsage, Workflow, WorkflowId, WorkflowSecrets,
};
use crate::ports::StoreError;

pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_json<T: DeserializeOwned>(raw: &str) -> Result<T, StoreError> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Which keyed record a generic operation is about; each backend maps it to its own layout
/// (a SQLite table, a DynamoDB key scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    ApiKey,
    Workflow,
    /// A workflow's signing secrets, apart from its readable fields.
    WorkflowSecrets,
    /// When an API key was last used, apart from the key so that writing it never races an
    /// admin change to the key.
    KeyUsage,
    /// An operator's key for the console and `/admin`: apart from API keys, so a workflow
    /// can never name one.
    AdminKey,
}

impl RecordKind {
    /// How an error names the record ("API key ci").
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::ApiKey => "API key",
            Self::Workflow => "workflow",
            Self::WorkflowSecrets => "signing secrets of workflow",
            Self::KeyUsage => "usage of API key",
            Self::AdminKey => "admin key",
        }
    }

    pub(crate) fn already_exists(self, key: &impl std::fmt::Display) -> StoreError {
        StoreError::AlreadyExists(format!("{} {key}", self.label()))
    }

    pub(crate) fn not_found(self, key: &impl std::fmt::Display) -> StoreError {
        StoreError::NotFound(format!("{} {key}", self.label()))
    }
}

/// One value per record kind: how a backend states its layout for each, in one place.
pub(crate) struct ByKind<T> {
    pub(crate) api_key: T,
    pub(crate) workflow: T,
    pub(crate) workflow_secrets: T,
    pub(crate) key_usage: T,
    pub(crate) admin_key: T,
}

impl<T> ByKind<T> {
    pub(crate) fn of(&self, kind: RecordKind) -> &T {
        match kind {
            RecordKind::ApiKey => &self.api_key,
            RecordKind::Workflow => &self.workflow,
            RecordKind::WorkflowSecrets => &self.workflow_secrets,
            RecordKind::KeyUsage => &self.key_usage,
            RecordKind::AdminKey => &self.admin_key,
        }
    }
}

/// A record stored one per unique key.
pub(crate) trait Record: Serialize + DeserializeOwned + Send + Sync + 'static {
    type Key: std::fmt::Display + Send + Sync + 'static;
    const KIND: RecordKind;
    fn key(&self) -> &Self::Key;
    /// The version a conditional save compares, for records that have one (workflows):
    /// every write of the record must keep it beside the record.
    fn version(&self) -> Option<u32> {
        None
    }
}

impl Record for ApiKey {
    type Key = ApiKeyName;
    const KIND: RecordKind = RecordKind::ApiKey;
    fn key(&self) -> &ApiKeyName {
        &self.name
    }
}

impl Record for Workflow {
    type Key = WorkflowId;
    const KIND: RecordKind = RecordKind::Workflow;
    fn key(&self) -> &WorkflowId {
        &self.id
    }
    fn version(&self) -> Option<u32> {
        Some(self.version)
    }
}

impl Record for WorkflowSecrets {
    type Key = WorkflowId;
    const KIND: RecordKind = RecordKind::WorkflowSecrets;
    fn key(&self) -> &WorkflowId {
        &self.workflow_id
    }
}

impl Record for KeyUsage {
    type Key = ApiKeyName;
    const KIND: RecordKind = RecordKind::KeyUsage;
    fn key(&self) -> &ApiKeyName {
        &self.name
    }
}

impl Record for AdminKey {
    type Key = ApiKeyName;
    const KIND: RecordKind = RecordKind::AdminKey;
    fn key(&self) -> &ApiKeyName {
        &self.0.name
    }
}

/// The four operations a backend implements once for every keyed record; the API key and
/// workflow ports below are written in terms of them.
#[async_trait]
pub(crate) trait RecordStore: Send + Sync {
    /// `AlreadyExists` when the key is taken.
    async fn insert_record<R: Record>(&self, record: &R) -> Result<(), StoreError>;
    async fn get_record<R: Record>(&self, key: &R::Key) -> Result<Option<R>, StoreError>;
    /// In key order.
    async fn list_records<R: Record>(&self) -> Result<Vec<R>, StoreError>;
    /// `NotFound` when there is no record under the key.
    async fn update_record<R: Record>(&self, record: &R) -> Result<(), StoreError>;
}

/// One port trait over `RecordStore`. A macro because the ports differ only in names, and two
/// hand-written copies would drift.
macro_rules! record_port {
    ($port:ident, $record:ty, $key:ty, $insert:ident, $get:ident, $list:ident, $update:ident $(,)?) => {
        #[async_trait]
        impl<S: RecordStore> crate::ports::$port for S {
            async fn $insert(&self, record: &$record) -> Result<(), StoreError> {
                self.insert_record(record).await
            }
            async fn $get(&self, key: &$key) -> Result<Option<$record>, StoreError> {
                self.get_record::<$record>(key).await
            }
            async fn $list(&self) -> Result<Vec<$record>, StoreError> {
                self.list_records().await
            }
            async fn $update(&self, record: &$record) -> Result<(), StoreError> {
                self.update_record(record).await
            }
        }
    };
}

record_port!(
    ApiKeyStore,
    ApiKey,
    ApiKeyName,
    insert_api_key,
    get_api_key,
    list_api_keys,
    update_api_key
);
record_port!(
    WorkflowStore,
    Workflow,
    WorkflowId,
    insert_workflow,
    get_workflow,
    list_workflows,
    update_workflow
);
record_port!(
    SecretStore,
    WorkflowSecrets,
    WorkflowId,
    insert_secrets,
    get_secrets,
    list_secrets,
    update_secrets,
);
record_port!(
    KeyUsageStore,
    KeyUsage,
    ApiKeyName,
    insert_key_usage,
    get_key_usage,
    list_key_usage,
    update_key_usage,
);
record_port!(
    AdminKeyStore,
    AdminKey,
    ApiKeyName,
    insert_admin_key,
    get_admin_key,
    list_admin_keys,
    update_admin_key,
);
