//! What the console and the `/admin` routes need: operators' admin keys (created with the
//! CLI, hashed like API keys, never shown again) and a workflow's recent activity.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::{App, AppError, CreatedApiKey};
use crate::domain::{AdminKey, ApiKeyName, Execution, ExecutionStatus, Workflow};
use crate::ports::ExecutionQuery;

/// How far back the activity counts look.
pub const ACTIVITY_WINDOW_HOURS: i64 = 24;
/// At most this many executions are read to count one workflow's last 24 h; past it the
/// counts say `truncated` rather than cost an unbounded read.
pub const ACTIVITY_SCAN_LIMIT: usize = 2000;
const ACTIVITY_PAGE: usize = 100;

/// Counts by status, one entry per status (zeros included), in `ExecutionStatus::ALL` order.
pub type StatusCounts = BTreeMap<&'static str, usize>;

/// One workflow's last [`ACTIVITY_WINDOW_HOURS`] hours.
#[derive(Debug, Clone)]
pub struct Activity {
    pub since: DateTime<Utc>,
    pub counts: StatusCounts,
    /// Oldest hour first, [`ACTIVITY_WINDOW_HOURS`] + 1 buckets (the current hour is partial).
    pub hourly: Vec<(DateTime<Utc>, StatusCounts)>,
    /// More executions than [`ACTIVITY_SCAN_LIMIT`] fell in the window; the counts are of the
    /// newest ones.
    pub truncated: bool,
    pub last: Option<Execution>,
}

fn zero_counts() -> StatusCounts {
    ExecutionStatus::ALL
        .iter()
        .map(|s| (s.as_str(), 0))
        .collect()
}

impl Activity {
    /// Counts `executions` (newest first) received from `now - 24 h` on.
    pub fn count(executions: &[Execution], now: DateTime<Utc>, truncated: bool) -> Self {
        let since = now - Duration::hours(ACTIVITY_WINDOW_HOURS);
        let first_hour = since.duration_trunc(Duration::hours(1)).unwrap_or(since);
        let mut hourly: Vec<(DateTime<Utc>, StatusCounts)> = (0..=ACTIVITY_WINDOW_HOURS)
            .map(|h| (first_hour + Duration::hours(h), zero_counts()))
            .collect();
        let mut counts = zero_counts();
        for e in executions.iter().filter(|e| e.received_at >= since) {
            *counts.entry(e.status.as_str()).or_default() += 1;
            let hour = (e.received_at - first_hour).num_hours();
            if let Some((_, bucket)) = usize::try_from(hour).ok().and_then(|h| hourly.get_mut(h)) {
                *bucket.entry(e.status.as_str()).or_default() += 1;
            }
        }
        Self {
            since,
            counts,
            hourly,
            truncated,
            last: executions.first().cloned(),
        }
    }
}

impl App {
    pub async fn create_admin_key(&self, name: &str) -> Result<CreatedApiKey, AppError> {
        let name = ApiKeyName::parse(name).map_err(|e| AppError::InvalidRequest(e.to_string()))?;
        let (key, secret) = AdminKey::generate(name, Utc::now());
        self.store().insert_admin_key(&key).await?;
        self.inner.admin_keys.invalidate(&());
        Ok(CreatedApiKey { key: key.0, secret })
    }

    pub async fn list_admin_keys(&self) -> Result<Vec<AdminKey>, AppError> {
        Ok(self.store().list_admin_keys().await?)
    }

    pub async fn revoke_admin_key(&self, name: &str) -> Result<AdminKey, AppError> {
        let name = ApiKeyName::parse(name).map_err(|e| AppError::InvalidRequest(e.to_string()))?;
        let mut key = self
            .store()
            .get_admin_key(&name)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("admin key {name}")))?;
        key.revoke(Utc::now());
        self.store().update_admin_key(&key).await?;
        self.inner.admin_keys.invalidate(&());
        Ok(key)
    }

    /// The admin key whose value was presented. The header carries only the value, so every
    /// live admin key (operators have a handful) is compared, each in constant time; the list
    /// is cached like API keys, so a revocation reaches other processes within the cache TTL.
    pub async fn authorize_admin(&self, presented: Option<&str>) -> Result<ApiKeyName, AppError> {
        let presented = presented
            .filter(|k| !k.is_empty())
            .ok_or(AppError::MissingAdminKey)?;
        let keys = match self.inner.admin_keys.get(&()) {
            Some(keys) => keys,
            None => {
                let keys = self.store().list_admin_keys().await?;
                self.inner.admin_keys.insert((), keys.clone());
                keys
            }
        };
        // No early exit: every key is compared whatever the outcome.
        let mut found = None;
        for key in &keys {
            if key.accepts(presented) {
                found = Some(key.name().clone());
            }
        }
        found.ok_or(AppError::InvalidAdminKey)
    }

    /// Counts by status over the last 24 h, per hour, and the newest execution.
    pub async fn activity(&self, workflow: &Workflow) -> Result<Activity, AppError> {
        let now = Utc::now();
        let since = now - Duration::hours(ACTIVITY_WINDOW_HOURS);
        let mut seen: Vec<Execution> = Vec::new();
        let mut before = None;
        let mut truncated = false;
        loop {
            let page = self
                .store()
                .list_executions(
                    &workflow.id,
                    &ExecutionQuery {
                        status: None,
                        limit: ACTIVITY_PAGE,
                        before,
                    },
                )
                .await?;
            let full = page.len() == ACTIVITY_PAGE;
            let reached_start = page.last().is_some_and(|e| e.received_at < since);
            before = page.last().map(|e| e.id);
            seen.extend(page);
            if !full || reached_start {
                break;
            }
            if seen.len() >= ACTIVITY_SCAN_LIMIT {
                truncated = true;
                break;
            }
        }
        Ok(Activity::count(&seen, now, truncated))
    }
}
