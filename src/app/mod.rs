//! The use cases: accept a webhook, read executions, manage keys and workflows. Each takes
//! its parts through the ports, so the same code runs on SQLite and on DynamoDB + SQS.

mod accept;
mod admin;
mod auth;
mod callbacks;
mod check;
mod console;
mod dry_run;
mod error;
mod executions;
mod input;
mod payload;
mod refusal_samples;
mod rejections;
mod replay;
mod search;
mod sns;
mod sweep;
mod test_run;
mod workflows;

use std::sync::Arc;

pub use accept::{Accepted, GenericRequest};
pub use admin::{
    ApiKeyListing, ApiKeyOverview, CreatedApiKey, NewWorkflow, RotatedApiKey, SecretChange,
};
pub use callbacks::{Answer, CallbackPage, MAX_COMMENT_CHARS};
pub use check::CheckReport;
pub use console::{
    ACTIVITY_SCAN_LIMIT, ACTIVITY_WINDOW_HOURS, Activity, RejectionActivity, StatusCounts,
};
pub use dry_run::{DryRun, DryRunRequest};
pub use error::AppError;
pub use executions::{
    DEFAULT_ITEM_PAGE, ExecutionPage, ItemCounts, ItemPage, ListExecutions, ListItems,
    MAX_ITEM_PAGE,
};
pub use input::{InputChoice, InputSource, TypedInput};
pub use refusal_samples::REFUSAL_SAMPLE_LIMIT;
pub use replay::{BulkReplay, BulkReplayed, MAX_BULK_REPLAY, ReplayVersion};
pub use search::{
    CountParams, Counts, DEFAULT_COUNT_HOURS, FilterParams, Found, MAX_SEARCH_LIMIT,
    SCAN_PER_WORKFLOW, SearchParams,
};
pub use sns::{SnsOutcome, SnsRequest};
pub use sweep::{SweepError, SweepReport, Sweeper};
pub use test_run::TestRun;
pub use workflows::Save;

use crate::cache::TtlCache;
use crate::config::Config;
use crate::domain::{AdminKey, ApiKey, ApiKeyName, Workflow, WorkflowId, WorkflowSecrets};
use crate::ports::{Store, WorkQueue};
use crate::sns::HttpFetcher;

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
    /// Signing secrets, cached like workflows and keys so a signed webhook costs no extra
    /// store read within the TTL.
    secrets: TtlCache<WorkflowId, Option<WorkflowSecrets>>,
    key_uses: auth::KeyUseThrottle,
    /// Every admin key, for checking the console's `x-admin-key` (the value is all it sends).
    admin_keys: TtlCache<(), Vec<AdminKey>>,
    /// The SNS verifier and its certificate cache, over the fetcher the wiring chose.
    sns: sns::SnsGateway,
    /// Refused requests per workflow, counted here and written now and then.
    rejections: rejections::RejectionTally,
    /// Refused requests sampled, at most one per workflow, reason and minute, written with
    /// the counts.
    samples: refusal_samples::RefusalSampler,
}

/// What the use cases need from the world, chosen by the entry point (a Lambda binary, the
/// CLI, a test).
pub struct AppDeps {
    pub store: Arc<dyn Store>,
    pub queue: Arc<dyn WorkQueue>,
    /// Fetches SNS signing certificates and SubscribeURLs. In production a
    /// `crate::sns::LazyHttpsFetcher`, so cold starts do not pay for an HTTPS client.
    pub sns_fetcher: Arc<dyn HttpFetcher>,
}

impl App {
    pub fn new(deps: AppDeps, config: Config) -> Self {
        let ttl = config.cache_ttl;
        let rejections = rejections::RejectionTally::new(config.rejection_flush);
        let sns = sns::SnsGateway::new(deps.sns_fetcher, &config);
        Self {
            inner: Arc::new(Inner {
                store: deps.store,
                queue: deps.queue,
                config,
                workflows: TtlCache::new(ttl),
                keys: TtlCache::new(ttl),
                secrets: TtlCache::new(ttl),
                key_uses: auth::KeyUseThrottle::default(),
                admin_keys: TtlCache::new(ttl),
                sns,
                rejections,
                samples: refusal_samples::RefusalSampler::default(),
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
