//! The use cases: accept a webhook, read executions, manage keys and workflows. Each takes
//! its parts through the ports, so the same code runs on SQLite and on DynamoDB + SQS.

mod accept;
mod admin;
mod auth;
mod error;
mod executions;
mod sns;

use std::sync::Arc;

pub use accept::{Accepted, GenericRequest};
pub use admin::{CreatedApiKey, NewWorkflow};
pub use error::AppError;
pub use executions::{ExecutionPage, ListExecutions};
pub use sns::{SnsOutcome, SnsRequest};

use crate::cache::TtlCache;
use crate::config::Config;
use crate::domain::{ApiKey, ApiKeyName, Workflow, WorkflowId};
use crate::ports::{Store, WorkQueue};

/// Cheap to clone: one per process, shared by every request.
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    queue: Arc<dyn WorkQueue>,
    config: Config,
    workflows: TtlCache<WorkflowId, Option<Workflow>>,
    keys: TtlCache<ApiKeyName, Option<ApiKey>>,
    /// Built on the first SNS delivery and kept for the life of the process: its HTTPS client
    /// would add to every cold start, and most workflows never receive SNS. An error (a TLS
    /// stack that cannot start) only fails SNS deliveries, with 502.
    sns: std::sync::OnceLock<Result<sns::SnsGateway, String>>,
}

impl App {
    pub fn new(store: Arc<dyn Store>, queue: Arc<dyn WorkQueue>, config: Config) -> Self {
        let ttl = config.cache_ttl;
        Self {
            inner: Arc::new(Inner {
                store,
                queue,
                config,
                workflows: TtlCache::new(ttl),
                keys: TtlCache::new(ttl),
                sns: std::sync::OnceLock::new(),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn queue(&self) -> &Arc<dyn WorkQueue> {
        &self.inner.queue
    }
}
