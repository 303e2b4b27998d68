use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::queue::WorkItem;
use crate::domain::{
    AdminKey, ApiKey, ApiKeyName, Callback, Decision, Execution, ExecutionId, ExecutionStatus,
    ItemRecord, KeyUsage, RefusalSample, RejectionCounts, SnsSubscription, Workflow, WorkflowId,
    WorkflowSecrets, WorkflowVersion,
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
    /// A versioned save lost to another save of the same record made after it read.
    #[error("{0} was changed by another save")]
    VersionConflict(String),
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

/// Saves of a workflow's definition, each with its immutable version record.
#[async_trait]
pub trait WorkflowVersionStore: Send + Sync {
    /// Writes `workflow` and `version` (whose number is `workflow.version`) as one atomic
    /// write. Version 1 creates the workflow (`AlreadyExists` when the id is taken); any
    /// later one replaces it only if the stored workflow is still at the version before,
    /// else `VersionConflict` (`NotFound` when there is no workflow).
    async fn save_workflow(
        &self,
        workflow: &Workflow,
        version: &WorkflowVersion,
    ) -> Result<(), StoreError>;
    /// Overwrites the workflow without a new version (the enabled flag), only if the stored
    /// one is still at `workflow.version`: else `VersionConflict` (`NotFound` when there is
    /// none), so a flag change never writes back a definition another save replaced.
    async fn update_workflow_at_version(&self, workflow: &Workflow) -> Result<(), StoreError>;
    /// Newest first.
    async fn list_workflow_versions(
        &self,
        id: &WorkflowId,
    ) -> Result<Vec<WorkflowVersion>, StoreError>;
    async fn get_workflow_version(
        &self,
        id: &WorkflowId,
        number: u32,
    ) -> Result<Option<WorkflowVersion>, StoreError>;
    /// Removes the workflow (and its listing); `NotFound` when there is none. Its executions
    /// stay until their retention ends, and its versions stay as history.
    async fn delete_workflow(&self, id: &WorkflowId) -> Result<(), StoreError>;
}

/// A workflow's signing secrets: one record per workflow, never part of the workflow's own
/// record, so every listing and view of workflows is free of them.
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn insert_secrets(&self, secrets: &WorkflowSecrets) -> Result<(), StoreError>;
    async fn get_secrets(&self, id: &WorkflowId) -> Result<Option<WorkflowSecrets>, StoreError>;
    async fn list_secrets(&self) -> Result<Vec<WorkflowSecrets>, StoreError>;
    async fn update_secrets(&self, secrets: &WorkflowSecrets) -> Result<(), StoreError>;
}

/// When each API key was last used.
#[async_trait]
pub trait KeyUsageStore: Send + Sync {
    async fn insert_key_usage(&self, usage: &KeyUsage) -> Result<(), StoreError>;
    async fn get_key_usage(&self, name: &ApiKeyName) -> Result<Option<KeyUsage>, StoreError>;
    async fn list_key_usage(&self) -> Result<Vec<KeyUsage>, StoreError>;
    async fn update_key_usage(&self, usage: &KeyUsage) -> Result<(), StoreError>;
}

/// Operators' admin keys (the console and `/admin`), apart from API keys.
#[async_trait]
pub trait AdminKeyStore: Send + Sync {
    async fn insert_admin_key(&self, key: &AdminKey) -> Result<(), StoreError>;
    async fn get_admin_key(&self, name: &ApiKeyName) -> Result<Option<AdminKey>, StoreError>;
    async fn list_admin_keys(&self) -> Result<Vec<AdminKey>, StoreError>;
    async fn update_admin_key(&self, key: &AdminKey) -> Result<(), StoreError>;
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

    /// The backend's outbox, when its work queue lives inside the store (the embedded
    /// backend): then recording an execution and queueing it are one atomic write, and the
    /// caller never sends to a `WorkQueue` for it. `None` (the default): store and queue are
    /// separate services, so the caller writes, then sends, and a sweeper covers a send lost
    /// in between.
    fn outbox(&self) -> Option<&dyn Outbox> {
        None
    }
}

/// Records an execution and queues its work item in one atomic write: either both are
/// durable or neither is, so no crash between them can strand an execution.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// As `ExecutionStore::insert_execution`, and on `Created` the work item is queued in the
    /// same transaction. A `Duplicate` queues nothing: the earlier execution's message was
    /// written with it.
    async fn insert_and_enqueue(
        &self,
        execution: &Execution,
        dedup_key: Option<&str>,
    ) -> Result<Recorded, StoreError>;
}

/// Executions that were written but may never have been sent to the queue (the send was lost
/// to a crash, a timeout or an outage between the write and the send). A backend whose store
/// and queue are separate keeps a sparse index of them, so the sweeper finds them without a
/// Scan.
#[async_trait]
pub trait PendingDispatch: Send + Sync {
    /// Up to `limit` executions still `queued`, never yet taken by a worker, whose last send
    /// was before `cutoff`; oldest first.
    async fn undelivered_before(
        &self,
        cutoff: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<WorkItem>, StoreError>;
    /// Notes that `item` was sent again at `at`, so the next sweeps leave it alone for a
    /// threshold (a long queue backlog must not be answered with more copies every sweep).
    /// Does nothing when a worker has taken it meanwhile.
    async fn mark_resent(&self, item: &WorkItem, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Up to `limit` waiting executions whose wake-up time is before `now`, oldest first,
    /// each with that time. Their wake-up may be a delayed message still on its way, or
    /// nothing at all (a wait longer than a queue can delay): the sweeper sends one, and a
    /// second one for the same wake-up does nothing.
    async fn due_wakeups(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(WorkItem, DateTime<Utc>)>, StoreError>;
    /// How many executions wait (due or not): the waiting gauge.
    async fn count_waiting(&self) -> Result<u64, StoreError>;
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

/// Refused requests (and duplicates) per workflow and hour, for the console's chart. Rows are
/// written by the process's in-memory tally (`app::rejections`), one write per workflow-hour
/// and flush, never one per request, and are kept [`REJECTION_RETENTION_HOURS`] hours.
///
/// [`REJECTION_RETENTION_HOURS`]: crate::domain::REJECTION_RETENTION_HOURS
#[async_trait]
pub trait RejectionStore: Send + Sync {
    /// Adds `counts` to the workflow's row for `hour` (the start of an hour), creating the row
    /// when there is none. Concurrent adds from several processes all count.
    async fn add_rejections(
        &self,
        workflow_id: &WorkflowId,
        hour: DateTime<Utc>,
        counts: &RejectionCounts,
    ) -> Result<(), StoreError>;
    /// The workflow's rows from the hour `since` on, oldest first; hours with nothing refused
    /// have no row.
    async fn rejections_since(
        &self,
        workflow_id: &WorkflowId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, RejectionCounts)>, StoreError>;
}

/// Samples of refused webhook requests (`domain::refusal_sample`), at most one per workflow,
/// reason and minute, kept [`REFUSAL_SAMPLE_RETENTION_HOURS`] hours. Written by the process's
/// rejection flush, never on the request.
///
/// [`REFUSAL_SAMPLE_RETENTION_HOURS`]: crate::domain::REFUSAL_SAMPLE_RETENTION_HOURS
#[async_trait]
pub trait RefusalSampleStore: Send + Sync {
    /// Stores `sample` unless one is already kept for its workflow, reason and minute (from
    /// any process): returns whether it was stored. Never overwrites.
    async fn put_refusal_sample(&self, sample: &RefusalSample) -> Result<bool, StoreError>;
    /// The workflow's samples taken at or after `since`, newest first, at most `limit`.
    async fn refusal_samples_since(
        &self,
        workflow_id: &WorkflowId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<RefusalSample>, StoreError>;
}

/// The per-item records of `for_each` steps (see [`ItemRecord`] for why they live apart from
/// the execution). Records live as long as their execution (`expires_at`).
#[async_trait]
pub trait ItemStore: Send + Sync {
    /// Inserts or overwrites each record, keyed by (execution, `step_id`, `index`). Unconditional:
    /// a record only ever states what a worker did, so a late write from a worker that lost
    /// its claim is still true.
    async fn put_items(
        &self,
        execution: &Execution,
        records: &[ItemRecord],
    ) -> Result<(), StoreError>;
    /// The records of `step_id` in `execution`, by index, only those with an index above
    /// `after` (all when `None`), at most `limit`.
    async fn list_items(
        &self,
        workflow_id: &WorkflowId,
        execution_id: &ExecutionId,
        step_id: &str,
        after: Option<u32>,
        limit: usize,
    ) -> Result<Vec<ItemRecord>, StoreError>;
}

/// The records of resume URLs (`approval` and `callback` steps), by the hash of their token.
/// Kept until `retain_until` (their execution's own retention).
#[async_trait]
pub trait CallbackStore: Send + Sync {
    /// `AlreadyExists` when the hash is taken (a 256-bit token: never, in practice).
    async fn insert_callback(&self, callback: &Callback) -> Result<(), StoreError>;
    async fn get_callback(&self, token_hash: &str) -> Result<Option<Callback>, StoreError>;
    /// Records `decision` only if none was made yet: the one decision a link gets. Returns
    /// false, writing nothing, when another came first (or there is no such record).
    async fn decide_callback(
        &self,
        token_hash: &str,
        decision: &Decision,
    ) -> Result<bool, StoreError>;
}

/// Everything the service keeps. Each backend implements the parts.
pub trait Store:
    ApiKeyStore
    + WorkflowStore
    + WorkflowVersionStore
    + ExecutionStore
    + SubscriptionStore
    + SecretStore
    + KeyUsageStore
    + AdminKeyStore
    + RejectionStore
    + RefusalSampleStore
    + ItemStore
    + CallbackStore
{
}

impl<
    T: ApiKeyStore
        + WorkflowStore
        + WorkflowVersionStore
        + ExecutionStore
        + SubscriptionStore
        + SecretStore
        + KeyUsageStore
        + AdminKeyStore
        + RejectionStore
        + RefusalSampleStore
        + ItemStore
        + CallbackStore,
> Store for T
{
}
