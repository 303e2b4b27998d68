//! One way for a test's store decorator to pass the `Store` sub-traits it does not change
//! through to the stores it wraps, so each decorator writes out only the methods it alters
//! and a method added to a port is added here once.

/// Implements the listed `Store` sub-traits for `$ty` by delegating to its fields.
///
/// `delegate_store!(Counting => inner: ApiKeyStore, WorkflowStore)` sends every method to
/// `self.inner`. `delegate_store!(Split => reads r, writes w: ExecutionStore)` sends the
/// methods that only read to `self.r` and those that write (and `outbox`, whose inserts
/// are writes) to `self.w`.
macro_rules! delegate_store {
    ($ty:ty => $field:ident: $($store:ident),+ $(,)?) => {
        $crate::support::store_delegate::delegate_store!(
            $ty => reads $field, writes $field: $($store),+
        );
    };
    ($ty:ty => reads $r:ident, writes $w:ident: $($store:ident),+ $(,)?) => {
        $(
            $crate::support::store_delegate::delegate_store!(@impl $store, $ty, $r, $w);
        )+
    };

    (@impl ApiKeyStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::ApiKeyStore for $ty {
            async fn insert_api_key(
                &self,
                key: &::webhook_trigger::domain::ApiKey,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.insert_api_key(key).await
            }
            async fn get_api_key(
                &self,
                name: &::webhook_trigger::domain::ApiKeyName,
            ) -> Result<Option<::webhook_trigger::domain::ApiKey>, ::webhook_trigger::ports::StoreError>
            {
                self.$r.get_api_key(name).await
            }
            async fn list_api_keys(
                &self,
            ) -> Result<Vec<::webhook_trigger::domain::ApiKey>, ::webhook_trigger::ports::StoreError>
            {
                self.$r.list_api_keys().await
            }
            async fn update_api_key(
                &self,
                key: &::webhook_trigger::domain::ApiKey,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.update_api_key(key).await
            }
        }
    };

    (@impl WorkflowStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::WorkflowStore for $ty {
            async fn insert_workflow(
                &self,
                workflow: &::webhook_trigger::domain::Workflow,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.insert_workflow(workflow).await
            }
            async fn get_workflow(
                &self,
                id: &::webhook_trigger::domain::WorkflowId,
            ) -> Result<Option<::webhook_trigger::domain::Workflow>, ::webhook_trigger::ports::StoreError>
            {
                self.$r.get_workflow(id).await
            }
            async fn list_workflows(
                &self,
            ) -> Result<Vec<::webhook_trigger::domain::Workflow>, ::webhook_trigger::ports::StoreError>
            {
                self.$r.list_workflows().await
            }
            async fn update_workflow(
                &self,
                workflow: &::webhook_trigger::domain::Workflow,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.update_workflow(workflow).await
            }
        }
    };

    (@impl WorkflowVersionStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::WorkflowVersionStore for $ty {
            async fn save_workflow(
                &self,
                workflow: &::webhook_trigger::domain::Workflow,
                version: &::webhook_trigger::domain::WorkflowVersion,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.save_workflow(workflow, version).await
            }
            async fn update_workflow_at_version(
                &self,
                workflow: &::webhook_trigger::domain::Workflow,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.update_workflow_at_version(workflow).await
            }
            async fn list_workflow_versions(
                &self,
                id: &::webhook_trigger::domain::WorkflowId,
            ) -> Result<
                Vec<::webhook_trigger::domain::WorkflowVersion>,
                ::webhook_trigger::ports::StoreError,
            > {
                self.$r.list_workflow_versions(id).await
            }
            async fn get_workflow_version(
                &self,
                id: &::webhook_trigger::domain::WorkflowId,
                number: u32,
            ) -> Result<
                Option<::webhook_trigger::domain::WorkflowVersion>,
                ::webhook_trigger::ports::StoreError,
            > {
                self.$r.get_workflow_version(id, number).await
            }
            async fn delete_workflow(
                &self,
                id: &::webhook_trigger::domain::WorkflowId,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.delete_workflow(id).await
            }
        }
    };

    (@impl ExecutionStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::ExecutionStore for $ty {
            async fn insert_execution(
                &self,
                execution: &::webhook_trigger::domain::Execution,
                dedup_key: Option<&str>,
            ) -> Result<::webhook_trigger::ports::Recorded, ::webhook_trigger::ports::StoreError>
            {
                self.$w.insert_execution(execution, dedup_key).await
            }
            async fn get_execution(
                &self,
                workflow_id: &::webhook_trigger::domain::WorkflowId,
                id: &::webhook_trigger::domain::ExecutionId,
            ) -> Result<
                Option<::webhook_trigger::domain::Execution>,
                ::webhook_trigger::ports::StoreError,
            > {
                self.$r.get_execution(workflow_id, id).await
            }
            async fn list_executions(
                &self,
                workflow_id: &::webhook_trigger::domain::WorkflowId,
                query: &::webhook_trigger::ports::ExecutionQuery,
            ) -> Result<Vec<::webhook_trigger::domain::Execution>, ::webhook_trigger::ports::StoreError>
            {
                self.$r.list_executions(workflow_id, query).await
            }
            async fn replace_execution(
                &self,
                current: &::webhook_trigger::domain::Execution,
                next: &::webhook_trigger::domain::Execution,
            ) -> Result<bool, ::webhook_trigger::ports::StoreError> {
                self.$w.replace_execution(current, next).await
            }
            fn outbox(&self) -> Option<&dyn ::webhook_trigger::ports::Outbox> {
                self.$w.outbox()
            }
        }
    };

    (@impl SubscriptionStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::SubscriptionStore for $ty {
            async fn put_subscription(
                &self,
                subscription: &::webhook_trigger::domain::SnsSubscription,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.put_subscription(subscription).await
            }
            async fn list_subscriptions(
                &self,
                workflow_id: &::webhook_trigger::domain::WorkflowId,
            ) -> Result<
                Vec<::webhook_trigger::domain::SnsSubscription>,
                ::webhook_trigger::ports::StoreError,
            > {
                self.$r.list_subscriptions(workflow_id).await
            }
        }
    };

    (@impl SecretStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::SecretStore for $ty {
            async fn insert_secrets(
                &self,
                secrets: &::webhook_trigger::domain::WorkflowSecrets,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.insert_secrets(secrets).await
            }
            async fn get_secrets(
                &self,
                id: &::webhook_trigger::domain::WorkflowId,
            ) -> Result<
                Option<::webhook_trigger::domain::WorkflowSecrets>,
                ::webhook_trigger::ports::StoreError,
            > {
                self.$r.get_secrets(id).await
            }
            async fn list_secrets(
                &self,
            ) -> Result<
                Vec<::webhook_trigger::domain::WorkflowSecrets>,
                ::webhook_trigger::ports::StoreError,
            > {
                self.$r.list_secrets().await
            }
            async fn update_secrets(
                &self,
                secrets: &::webhook_trigger::domain::WorkflowSecrets,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.update_secrets(secrets).await
            }
        }
    };

    (@impl KeyUsageStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::KeyUsageStore for $ty {
            async fn insert_key_usage(
                &self,
                usage: &::webhook_trigger::domain::KeyUsage,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.insert_key_usage(usage).await
            }
            async fn get_key_usage(
                &self,
                name: &::webhook_trigger::domain::ApiKeyName,
            ) -> Result<Option<::webhook_trigger::domain::KeyUsage>, ::webhook_trigger::ports::StoreError>
            {
                self.$r.get_key_usage(name).await
            }
            async fn list_key_usage(
                &self,
            ) -> Result<Vec<::webhook_trigger::domain::KeyUsage>, ::webhook_trigger::ports::StoreError>
            {
                self.$r.list_key_usage().await
            }
            async fn update_key_usage(
                &self,
                usage: &::webhook_trigger::domain::KeyUsage,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.update_key_usage(usage).await
            }
        }
    };

    (@impl AdminKeyStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::AdminKeyStore for $ty {
            async fn insert_admin_key(
                &self,
                key: &::webhook_trigger::domain::AdminKey,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.insert_admin_key(key).await
            }
            async fn get_admin_key(
                &self,
                name: &::webhook_trigger::domain::ApiKeyName,
            ) -> Result<Option<::webhook_trigger::domain::AdminKey>, ::webhook_trigger::ports::StoreError>
            {
                self.$r.get_admin_key(name).await
            }
            async fn list_admin_keys(
                &self,
            ) -> Result<Vec<::webhook_trigger::domain::AdminKey>, ::webhook_trigger::ports::StoreError>
            {
                self.$r.list_admin_keys().await
            }
            async fn update_admin_key(
                &self,
                key: &::webhook_trigger::domain::AdminKey,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.update_admin_key(key).await
            }
        }
    };

    (@impl RejectionStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::RejectionStore for $ty {
            async fn add_rejections(
                &self,
                workflow_id: &::webhook_trigger::domain::WorkflowId,
                hour: ::chrono::DateTime<::chrono::Utc>,
                counts: &::webhook_trigger::domain::RejectionCounts,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.add_rejections(workflow_id, hour, counts).await
            }
            async fn rejections_since(
                &self,
                workflow_id: &::webhook_trigger::domain::WorkflowId,
                since: ::chrono::DateTime<::chrono::Utc>,
            ) -> Result<
                Vec<(
                    ::chrono::DateTime<::chrono::Utc>,
                    ::webhook_trigger::domain::RejectionCounts,
                )>,
                ::webhook_trigger::ports::StoreError,
            > {
                self.$r.rejections_since(workflow_id, since).await
            }
        }
    };

    (@impl RefusalSampleStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::RefusalSampleStore for $ty {
            async fn put_refusal_sample(
                &self,
                sample: &::webhook_trigger::domain::RefusalSample,
            ) -> Result<bool, ::webhook_trigger::ports::StoreError> {
                self.$w.put_refusal_sample(sample).await
            }
            async fn refusal_samples_since(
                &self,
                workflow_id: &::webhook_trigger::domain::WorkflowId,
                since: ::chrono::DateTime<::chrono::Utc>,
                limit: usize,
            ) -> Result<
                Vec<::webhook_trigger::domain::RefusalSample>,
                ::webhook_trigger::ports::StoreError,
            > {
                self.$r.refusal_samples_since(workflow_id, since, limit).await
            }
        }
    };

    (@impl ItemStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::ItemStore for $ty {
            async fn put_items(
                &self,
                execution: &::webhook_trigger::domain::Execution,
                records: &[::webhook_trigger::domain::ItemRecord],
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.put_items(execution, records).await
            }
            async fn list_items(
                &self,
                workflow_id: &::webhook_trigger::domain::WorkflowId,
                execution_id: &::webhook_trigger::domain::ExecutionId,
                step_id: &str,
                after: Option<u32>,
                limit: usize,
            ) -> Result<
                Vec<::webhook_trigger::domain::ItemRecord>,
                ::webhook_trigger::ports::StoreError,
            > {
                self.$r
                    .list_items(workflow_id, execution_id, step_id, after, limit)
                    .await
            }
        }
    };

    (@impl CallbackStore, $ty:ty, $r:ident, $w:ident) => {
        #[::async_trait::async_trait]
        impl ::webhook_trigger::ports::CallbackStore for $ty {
            async fn insert_callback(
                &self,
                callback: &::webhook_trigger::domain::Callback,
            ) -> Result<(), ::webhook_trigger::ports::StoreError> {
                self.$w.insert_callback(callback).await
            }
            async fn get_callback(
                &self,
                token_hash: &str,
            ) -> Result<Option<::webhook_trigger::domain::Callback>, ::webhook_trigger::ports::StoreError>
            {
                self.$r.get_callback(token_hash).await
            }
            async fn decide_callback(
                &self,
                token_hash: &str,
                decision: &::webhook_trigger::domain::Decision,
            ) -> Result<bool, ::webhook_trigger::ports::StoreError> {
                self.$w.decide_callback(token_hash, decision).await
            }
        }
    };
}

pub(crate) use delegate_store;
