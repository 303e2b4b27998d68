use async_trait::async_trait;

use crate::domain::{
    ApiKey, ApiKeyName, Execution, ExecutionId, ExecutionStatus, SnsSubscription, Workflow,
    WorkflowId,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    /// The record is bigger than the backend can hold in one item (DynamoDB: 400 KB).
    #[error("record too large: {0}")]
    TooLarge(String),
}

#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Fails with `AlreadyExists` when the name is taken (revoked keys keep their name).
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn get_api_key(&self, name: &ApiKeyName) -> Result<Option<ApiKey>, StoreError>;
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError>;
    /// Overwrites an existing key; `NotFound` when there is none.
    async fn update_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
}

#[async_trait]
pub trait WorkflowStore: Send + Sync {
    async fn insert_workflow(&self, workflow: &Workflow) -> Result<(), StoreError>;
    async fn get_workflow(&self, id: &WorkflowId) -> Result<Option<Workflow>, StoreError>;
    async fn list_workflows(&self) -> Result<Vec<Workflow>, StoreError>;
    /// Overwrites an existing workflow; `NotFound` when there is none.
    async fn update_workflow(&self, workflow: &Workflow) -> Result<(), StoreError>;
}

/// What happened to an execution offered with a deduplication key.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    Created,
    /// The key was already used for this workflow: nothing was written, here is the earlier one.
    Duplicate(Box<Execution>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionQuery {
    pub status: Option<ExecutionStatus>,
    /// At most this many items come back.
    pub limit: usize,
    /// Only executions strictly older than this one (the previous page's last item).
    pub before: Option<ExecutionId>,
}

#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// Writes the execution and, when given, its deduplication record in one atomic step.
    /// The dedup record lives as long as the execution (`expires_at`).
    async fn insert_execution(
        &self,
        execution: &Execution,
        dedup_key: Option<&str>,
    ) -> Result<Recorded, StoreError>;
    async fn get_execution(
        &self,
        workflow_id: &WorkflowId,
        id: &ExecutionId,
    ) -> Result<Option<Execution>, StoreError>;
    /// Newest first.
    async fn list_executions(
        &self,
        workflow_id: &WorkflowId,
        query: &ExecutionQuery,
    ) -> Result<Vec<Execution>, StoreError>;
    /// Compare-and-swap: writes `next` only if the stored execution still has the status and
    /// attempt count of `current`. Returns false when another writer got there first.
    async fn replace_execution(
        &self,
        current: &Execution,
        next: &Execution,
    ) -> Result<bool, StoreError>;
}

#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Inserts or overwrites the record for (workflow, topic).
    async fn put_subscription(&self, subscription: &SnsSubscription) -> Result<(), StoreError>;
    async fn list_subscriptions(
        &self,
        workflow_id: &WorkflowId,
    ) -> Result<Vec<SnsSubscription>, StoreError>;
}

/// Everything the service keeps. Each backend implements the four parts.
pub trait Store: ApiKeyStore + WorkflowStore + ExecutionStore + SubscriptionStore {}

impl<T: ApiKeyStore + WorkflowStore + ExecutionStore + SubscriptionStore> Store for T {}
