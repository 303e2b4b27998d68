//! In-memory implementations of our own ports (`webhook_trigger::ports`), for measuring the
//! request path without I/O. Benchmarks only: they keep nothing and share one lock per table.
//!
//! Executions are kept as the JSON record a real backend writes (the SQLite store writes the
//! same `serde_json` text), so encoding the execution stays part of the measured path; queued
//! work items are kept as the message body SQS would receive.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use webhook_trigger::domain::{
    AdminKey, ApiKey, ApiKeyName, Execution, ExecutionId, ItemRecord, KeyUsage, RefusalSample,
    RejectionCounts, RejectionReason, SnsSubscription, Workflow, WorkflowId, WorkflowSecrets,
    WorkflowVersion,
};
use webhook_trigger::ports::{
    AdminKeyStore, ApiKeyStore, ExecutionQuery, ExecutionStore, ItemStore, KeyUsageStore, Outbox,
    QueueError, Recorded, RefusalSampleStore, RejectionStore, SecretStore, StoreError,
    SubscriptionStore, WorkItem, WorkQueue, WorkflowStore, WorkflowVersionStore,
};

/// One refusal sample per workflow, minute and reason.
type SampleSlot = (WorkflowId, DateTime<Utc>, RejectionReason);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One kind of record by its key, with the insert / update rules every backend has.
struct Table<K, V>(Mutex<HashMap<K, V>>);

impl<K: Eq + Hash + Clone + std::fmt::Display, V: Clone> Table<K, V> {
    fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn insert(&self, key: &K, value: &V) -> Result<(), StoreError> {
        let mut map = lock(&self.0);
        if map.contains_key(key) {
            return Err(StoreError::AlreadyExists(key.to_string()));
        }
        map.insert(key.clone(), value.clone());
        Ok(())
    }

    fn get(&self, key: &K) -> Option<V> {
        lock(&self.0).get(key).cloned()
    }

    fn list(&self) -> Vec<V> {
        lock(&self.0).values().cloned().collect()
    }

    fn update(&self, key: &K, value: &V) -> Result<(), StoreError> {
        match lock(&self.0).get_mut(key) {
            Some(slot) => {
                *slot = value.clone();
                Ok(())
            }
            None => Err(StoreError::NotFound(key.to_string())),
        }
    }
}

/// The work queue: message bodies in arrival order.
#[derive(Default)]
pub struct MemoryQueue {
    messages: Mutex<VecDeque<String>>,
}

impl MemoryQueue {
    pub fn len(&self) -> usize {
        lock(&self.messages).len()
    }

    pub fn clear(&self) {
        lock(&self.messages).clear();
    }
}

#[async_trait]
impl WorkQueue for MemoryQueue {
    async fn enqueue(&self, item: &WorkItem) -> Result<(), QueueError> {
        lock(&self.messages).push_back(item.to_json());
        Ok(())
    }
}

type ItemKey = (WorkflowId, ExecutionId, String, u32);

#[derive(Default)]
struct Executions {
    /// The JSON record of each execution.
    records: HashMap<(WorkflowId, ExecutionId), String>,
    /// Deduplication keys, per workflow.
    dedup: HashMap<(WorkflowId, String), ExecutionId>,
}

/// Every store port in memory. With `with_outbox`, it is also the outbox: recording an
/// execution queues its work item in the same step (the SQLite shape); without, the caller
/// sends to a separate `WorkQueue` after the write (the DynamoDB + SQS shape).
pub struct MemoryStore {
    api_keys: Table<ApiKeyName, ApiKey>,
    workflows: Table<WorkflowId, Workflow>,
    versions: Mutex<BTreeMap<(WorkflowId, u32), WorkflowVersion>>,
    secrets: Table<WorkflowId, WorkflowSecrets>,
    key_usage: Table<ApiKeyName, KeyUsage>,
    admin_keys: Table<ApiKeyName, AdminKey>,
    subscriptions: Mutex<HashMap<(WorkflowId, String), SnsSubscription>>,
    rejections: Mutex<HashMap<(WorkflowId, DateTime<Utc>), RejectionCounts>>,
    refusal_samples: Mutex<HashMap<SampleSlot, RefusalSample>>,
    executions: Mutex<Executions>,
    /// `for_each` item records by (workflow, execution, step, index): ordered, so a step's
    /// items are one range.
    items: Mutex<BTreeMap<ItemKey, ItemRecord>>,
    callbacks: Mutex<HashMap<String, webhook_trigger::domain::Callback>>,
    outbox: Option<Arc<MemoryQueue>>,
}

impl MemoryStore {
    /// A store whose caller queues work items itself.
    pub fn new() -> Self {
        Self {
            api_keys: Table::new(),
            workflows: Table::new(),
            versions: Mutex::new(BTreeMap::new()),
            secrets: Table::new(),
            key_usage: Table::new(),
            admin_keys: Table::new(),
            subscriptions: Mutex::new(HashMap::new()),
            rejections: Mutex::new(HashMap::new()),
            refusal_samples: Mutex::new(HashMap::new()),
            executions: Mutex::new(Executions::default()),
            items: Mutex::new(BTreeMap::new()),
            callbacks: Mutex::new(HashMap::new()),
            outbox: None,
        }
    }

    /// A store that queues into `queue` in the same step as it records an execution.
    pub fn with_outbox(queue: Arc<MemoryQueue>) -> Self {
        Self {
            outbox: Some(queue),
            ..Self::new()
        }
    }

    pub fn execution_count(&self) -> usize {
        lock(&self.executions).records.len()
    }

    /// Forgets every execution and deduplication key (keys and workflows stay), so the same
    /// request can be accepted again as a new execution.
    pub fn clear_executions(&self) {
        let mut executions = lock(&self.executions);
        executions.records.clear();
        executions.dedup.clear();
    }

    fn record(
        &self,
        execution: &Execution,
        dedup_key: Option<&str>,
    ) -> Result<Recorded, StoreError> {
        let record = serde_json::to_string(execution)
            .map_err(|e| StoreError::Corrupt(format!("execution does not encode: {e}")))?;
        let mut executions = lock(&self.executions);
        if let Some(key) = dedup_key {
            let dedup = (execution.workflow_id.clone(), key.to_owned());
            if let Some(earlier) = executions.dedup.get(&dedup) {
                let earlier = (execution.workflow_id.clone(), *earlier);
                let existing = decode(&executions.records[&earlier])?;
                return Ok(Recorded::Duplicate(Box::new(existing)));
            }
            executions.dedup.insert(dedup, execution.id);
        }
        executions
            .records
            .insert((execution.workflow_id.clone(), execution.id), record);
        Ok(Recorded::Created)
    }
}

fn decode(record: &str) -> Result<Execution, StoreError> {
    serde_json::from_str(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.api_keys.insert(&key.name, key)
    }
    async fn get_api_key(&self, name: &ApiKeyName) -> Result<Option<ApiKey>, StoreError> {
        Ok(self.api_keys.get(name))
    }
    async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        Ok(self.api_keys.list())
    }
    async fn update_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.api_keys.update(&key.name, key)
    }
}

#[async_trait]
impl WorkflowStore for MemoryStore {
    async fn insert_workflow(&self, workflow: &Workflow) -> Result<(), StoreError> {
        self.workflows.insert(&workflow.id, workflow)
    }
    async fn get_workflow(&self, id: &WorkflowId) -> Result<Option<Workflow>, StoreError> {
        Ok(self.workflows.get(id))
    }
    async fn list_workflows(&self) -> Result<Vec<Workflow>, StoreError> {
        Ok(self.workflows.list())
    }
    async fn update_workflow(&self, workflow: &Workflow) -> Result<(), StoreError> {
        self.workflows.update(&workflow.id, workflow)
    }
}

#[async_trait]
impl WorkflowVersionStore for MemoryStore {
    async fn save_workflow(
        &self,
        workflow: &Workflow,
        version: &WorkflowVersion,
    ) -> Result<(), StoreError> {
        // One lock over both maps' writes, as the backends write both in one transaction.
        let mut versions = lock(&self.versions);
        let key = (workflow.id.clone(), workflow.version);
        if versions.contains_key(&key) {
            return Err(StoreError::VersionConflict(workflow.id.to_string()));
        }
        if workflow.version == 1 {
            self.workflows.insert(&workflow.id, workflow)?;
        } else {
            match self.workflows.get(&workflow.id) {
                None => return Err(StoreError::NotFound(workflow.id.to_string())),
                Some(current) if current.version + 1 != workflow.version => {
                    return Err(StoreError::VersionConflict(workflow.id.to_string()));
                }
                Some(_) => self.workflows.update(&workflow.id, workflow)?,
            }
        }
        versions.insert(key, version.clone());
        Ok(())
    }
    async fn update_workflow_at_version(&self, workflow: &Workflow) -> Result<(), StoreError> {
        let _versions = lock(&self.versions);
        match self.workflows.get(&workflow.id) {
            None => Err(StoreError::NotFound(workflow.id.to_string())),
            Some(current) if current.version != workflow.version => {
                Err(StoreError::VersionConflict(workflow.id.to_string()))
            }
            Some(_) => self.workflows.update(&workflow.id, workflow),
        }
    }
    async fn list_workflow_versions(
        &self,
        id: &WorkflowId,
    ) -> Result<Vec<WorkflowVersion>, StoreError> {
        let versions = lock(&self.versions);
        Ok(versions
            .values()
            .rev()
            .filter(|v| &v.workflow_id == id)
            .cloned()
            .collect())
    }
    async fn get_workflow_version(
        &self,
        id: &WorkflowId,
        number: u32,
    ) -> Result<Option<WorkflowVersion>, StoreError> {
        Ok(lock(&self.versions).get(&(id.clone(), number)).cloned())
    }
    async fn delete_workflow(&self, id: &WorkflowId) -> Result<(), StoreError> {
        match lock(&self.workflows.0).remove(id) {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(id.to_string())),
        }
    }
}

#[async_trait]
impl SecretStore for MemoryStore {
    async fn insert_secrets(&self, secrets: &WorkflowSecrets) -> Result<(), StoreError> {
        self.secrets.insert(&secrets.workflow_id, secrets)
    }
    async fn get_secrets(&self, id: &WorkflowId) -> Result<Option<WorkflowSecrets>, StoreError> {
        Ok(self.secrets.get(id))
    }
    async fn list_secrets(&self) -> Result<Vec<WorkflowSecrets>, StoreError> {
        Ok(self.secrets.list())
    }
    async fn update_secrets(&self, secrets: &WorkflowSecrets) -> Result<(), StoreError> {
        self.secrets.update(&secrets.workflow_id, secrets)
    }
}

#[async_trait]
impl KeyUsageStore for MemoryStore {
    async fn insert_key_usage(&self, usage: &KeyUsage) -> Result<(), StoreError> {
        self.key_usage.insert(&usage.name, usage)
    }
    async fn get_key_usage(&self, name: &ApiKeyName) -> Result<Option<KeyUsage>, StoreError> {
        Ok(self.key_usage.get(name))
    }
    async fn list_key_usage(&self) -> Result<Vec<KeyUsage>, StoreError> {
        Ok(self.key_usage.list())
    }
    async fn update_key_usage(&self, usage: &KeyUsage) -> Result<(), StoreError> {
        self.key_usage.update(&usage.name, usage)
    }
}

#[async_trait]
impl AdminKeyStore for MemoryStore {
    async fn insert_admin_key(&self, key: &AdminKey) -> Result<(), StoreError> {
        self.admin_keys.insert(key.name(), key)
    }
    async fn get_admin_key(&self, name: &ApiKeyName) -> Result<Option<AdminKey>, StoreError> {
        Ok(self.admin_keys.get(name))
    }
    async fn list_admin_keys(&self) -> Result<Vec<AdminKey>, StoreError> {
        Ok(self.admin_keys.list())
    }
    async fn update_admin_key(&self, key: &AdminKey) -> Result<(), StoreError> {
        self.admin_keys.update(key.name(), key)
    }
}

#[async_trait]
impl SubscriptionStore for MemoryStore {
    async fn put_subscription(&self, subscription: &SnsSubscription) -> Result<(), StoreError> {
        let key = (
            subscription.workflow_id.clone(),
            subscription.topic_arn.clone(),
        );
        lock(&self.subscriptions).insert(key, subscription.clone());
        Ok(())
    }
    async fn list_subscriptions(
        &self,
        workflow_id: &WorkflowId,
    ) -> Result<Vec<SnsSubscription>, StoreError> {
        Ok(lock(&self.subscriptions)
            .values()
            .filter(|s| &s.workflow_id == workflow_id)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl RefusalSampleStore for MemoryStore {
    async fn put_refusal_sample(&self, sample: &RefusalSample) -> Result<bool, StoreError> {
        let key = (sample.workflow_id.clone(), sample.minute(), sample.reason);
        let mut samples = lock(&self.refusal_samples);
        if samples.contains_key(&key) {
            return Ok(false);
        }
        samples.insert(key, sample.clone());
        Ok(true)
    }
    async fn refusal_samples_since(
        &self,
        workflow_id: &WorkflowId,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<RefusalSample>, StoreError> {
        let mut found: Vec<RefusalSample> = lock(&self.refusal_samples)
            .values()
            .filter(|s| &s.workflow_id == workflow_id && s.at >= since)
            .cloned()
            .collect();
        found.sort_by_key(|s| std::cmp::Reverse(s.at));
        found.truncate(limit);
        Ok(found)
    }
}

#[async_trait]
impl RejectionStore for MemoryStore {
    async fn add_rejections(
        &self,
        workflow_id: &WorkflowId,
        hour: DateTime<Utc>,
        counts: &RejectionCounts,
    ) -> Result<(), StoreError> {
        lock(&self.rejections)
            .entry((workflow_id.clone(), hour))
            .or_default()
            .merge(counts);
        Ok(())
    }
    async fn rejections_since(
        &self,
        workflow_id: &WorkflowId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, RejectionCounts)>, StoreError> {
        let mut rows: Vec<_> = lock(&self.rejections)
            .iter()
            .filter(|((wf, hour), _)| wf == workflow_id && *hour >= since)
            .map(|((_, hour), counts)| (*hour, *counts))
            .collect();
        rows.sort_by_key(|(hour, _)| *hour);
        Ok(rows)
    }
}

#[async_trait]
impl webhook_trigger::ports::CallbackStore for MemoryStore {
    async fn insert_callback(
        &self,
        callback: &webhook_trigger::domain::Callback,
    ) -> Result<(), StoreError> {
        let mut callbacks = lock(&self.callbacks);
        if callbacks.contains_key(&callback.token_hash) {
            return Err(StoreError::AlreadyExists("callback".into()));
        }
        callbacks.insert(callback.token_hash.clone(), callback.clone());
        Ok(())
    }
    async fn get_callback(
        &self,
        token_hash: &str,
    ) -> Result<Option<webhook_trigger::domain::Callback>, StoreError> {
        Ok(lock(&self.callbacks).get(token_hash).cloned())
    }
    async fn decide_callback(
        &self,
        token_hash: &str,
        decision: &webhook_trigger::domain::Decision,
    ) -> Result<bool, StoreError> {
        let mut callbacks = lock(&self.callbacks);
        match callbacks.get(token_hash).and_then(|c| c.decided(decision)) {
            Some(decided) => {
                callbacks.insert(token_hash.to_owned(), decided);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

#[async_trait]
impl ItemStore for MemoryStore {
    async fn put_items(
        &self,
        execution: &Execution,
        records: &[ItemRecord],
    ) -> Result<(), StoreError> {
        let mut items = lock(&self.items);
        for record in records {
            let key = (
                execution.workflow_id.clone(),
                execution.id,
                record.step_id.clone(),
                record.index,
            );
            items.insert(key, record.clone());
        }
        Ok(())
    }
    async fn list_items(
        &self,
        workflow_id: &WorkflowId,
        execution_id: &ExecutionId,
        step_id: &str,
        after: Option<u32>,
        limit: usize,
    ) -> Result<Vec<ItemRecord>, StoreError> {
        let Some(first) = after.map_or(Some(0), |a| a.checked_add(1)) else {
            return Ok(Vec::new());
        };
        let step = (workflow_id.clone(), *execution_id, step_id.to_owned());
        let from = (step.0.clone(), step.1, step.2.clone(), first);
        let to = (step.0, step.1, step.2, u32::MAX);
        Ok(lock(&self.items)
            .range(from..=to)
            .take(limit)
            .map(|(_, record)| record.clone())
            .collect())
    }
}

#[async_trait]
impl ExecutionStore for MemoryStore {
    async fn insert_execution(
        &self,
        execution: &Execution,
        dedup_key: Option<&str>,
    ) -> Result<Recorded, StoreError> {
        self.record(execution, dedup_key)
    }

    async fn get_execution(
        &self,
        workflow_id: &WorkflowId,
        id: &ExecutionId,
    ) -> Result<Option<Execution>, StoreError> {
        lock(&self.executions)
            .records
            .get(&(workflow_id.clone(), *id))
            .map(|r| decode(r))
            .transpose()
    }

    async fn list_executions(
        &self,
        workflow_id: &WorkflowId,
        query: &ExecutionQuery,
    ) -> Result<Vec<Execution>, StoreError> {
        let executions = lock(&self.executions);
        let mut found = executions
            .records
            .iter()
            .filter(|((wf, id), _)| wf == workflow_id && query.before.is_none_or(|b| *id < b))
            .map(|(_, record)| decode(record))
            .collect::<Result<Vec<_>, _>>()?;
        found.retain(|e| query.status.is_none_or(|s| e.status == s));
        found.sort_by_key(|e| std::cmp::Reverse(e.id));
        found.truncate(query.limit);
        Ok(found)
    }

    async fn replace_execution(
        &self,
        current: &Execution,
        next: &Execution,
    ) -> Result<bool, StoreError> {
        let record = serde_json::to_string(next)
            .map_err(|e| StoreError::Corrupt(format!("execution does not encode: {e}")))?;
        let mut executions = lock(&self.executions);
        let key = (current.workflow_id.clone(), current.id);
        let Some(stored) = executions.records.get(&key) else {
            return Ok(false);
        };
        let stored = decode(stored)?;
        if stored.status != current.status || stored.attempts != current.attempts {
            return Ok(false);
        }
        executions.records.insert(key, record);
        Ok(true)
    }

    fn outbox(&self) -> Option<&dyn Outbox> {
        self.outbox.as_ref().map(|_| self as &dyn Outbox)
    }
}

#[async_trait]
impl Outbox for MemoryStore {
    async fn insert_and_enqueue(
        &self,
        execution: &Execution,
        dedup_key: Option<&str>,
    ) -> Result<Recorded, StoreError> {
        let recorded = self.record(execution, dedup_key)?;
        if let (Recorded::Created, Some(queue)) = (&recorded, &self.outbox) {
            let item = WorkItem {
                workflow_id: execution.workflow_id.clone(),
                execution_id: execution.id,
            };
            queue
                .enqueue(&item)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        Ok(recorded)
    }
}
