//! What the console and the `/admin` routes need: operators' admin keys (created with the
//! CLI, hashed like API keys, never shown again) and a workflow's recent activity.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{App, AppError, CreatedApiKey};
use crate::domain::{
    AdminKey, ApiKeyName, Execution, ExecutionStatus, RejectionCounts, Workflow, hour_of,
};
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
    /// Requests refused (or answered as duplicates) over the same hours.
    pub rejections: RejectionActivity,
}

/// Refused requests per reason over the activity window, in total and per hour (the same
/// hours as the executions').
#[derive(Debug, Clone, Default)]
pub struct RejectionActivity {
    pub counts: RejectionCounts,
    /// Oldest hour first, [`ACTIVITY_WINDOW_HOURS`] + 1 buckets.
    pub hourly: Vec<(DateTime<Utc>, RejectionCounts)>,
}

impl RejectionActivity {
    /// Sums `rows` (hour, counts; several rows may name one hour, e.g. stored and not yet
    /// written) into the buckets from `first_hour` on; rows outside the window are ignored.
    pub fn count(
        rows: impl IntoIterator<Item = (DateTime<Utc>, RejectionCounts)>,
        first_hour: DateTime<Utc>,
    ) -> Self {
        let mut hourly: Vec<(DateTime<Utc>, RejectionCounts)> = (0..=ACTIVITY_WINDOW_HOURS)
            .map(|h| (first_hour + Duration::hours(h), RejectionCounts::default()))
            .collect();
        let mut counts = RejectionCounts::default();
        for (hour, row) in rows {
            if hour < first_hour {
                continue;
            }
            let index = (hour_of(hour) - first_hour).num_hours();
            if let Some((_, bucket)) = usize::try_from(index).ok().and_then(|h| hourly.get_mut(h)) {
                bucket.merge(&row);
                counts.merge(&row);
            }
        }
        Self { counts, hourly }
    }
}

/// The first hour of the window that ends at `now` (the window's start, truncated).
pub(crate) fn first_hour(now: DateTime<Utc>) -> DateTime<Utc> {
    hour_of(now - Duration::hours(ACTIVITY_WINDOW_HOURS))
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
        let first_hour = first_hour(now);
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
            rejections: RejectionActivity::count([], first_hour),
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
        let mut activity = Activity::count(&seen, now, truncated);
        activity.rejections = self.rejection_activity(workflow, now).await?;
        Ok(activity)
    }

    /// Refused requests per hour over the window: what the store holds, plus what this
    /// process has counted and not written yet.
    async fn rejection_activity(
        &self,
        workflow: &Workflow,
        now: DateTime<Utc>,
    ) -> Result<RejectionActivity, AppError> {
        let first = first_hour(now);
        let stored = self.store().rejections_since(&workflow.id, first).await?;
        let unwritten = self.unwritten_rejections(&workflow.id);
        Ok(RejectionActivity::count(
            stored.into_iter().chain(unwritten),
            first,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RejectionReason;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn counts(pairs: &[(RejectionReason, u64)]) -> RejectionCounts {
        pairs.iter().copied().collect()
    }

    #[test]
    fn rejections_fall_in_their_hour_and_rows_for_one_hour_add_up() {
        let now = at("2026-11-25T14:20:00Z");
        let first = first_hour(now);
        assert_eq!(first, at("2026-11-24T14:00:00Z"));
        let rows = vec![
            (
                at("2026-11-24T13:00:00Z"),
                counts(&[(RejectionReason::Auth, 9)]),
            ),
            (first, counts(&[(RejectionReason::Size, 1)])),
            (
                at("2026-11-25T14:00:00Z"),
                counts(&[(RejectionReason::Auth, 2)]),
            ),
            // Not yet written by this process, same hour as a stored row.
            (
                at("2026-11-25T14:00:00Z"),
                counts(&[(RejectionReason::Auth, 1), (RejectionReason::Duplicate, 1)]),
            ),
        ];
        let activity = RejectionActivity::count(rows, first);
        assert_eq!(activity.hourly.len(), 25);
        assert_eq!(activity.hourly[0].1.get(RejectionReason::Size), 1);
        let last = activity.hourly[24];
        assert_eq!(last.0, at("2026-11-25T14:00:00Z"));
        assert_eq!(last.1.get(RejectionReason::Auth), 3);
        assert_eq!(last.1.get(RejectionReason::Duplicate), 1);
        assert_eq!(
            activity.counts.get(RejectionReason::Auth),
            3,
            "the hour before the window is left out"
        );
        assert_eq!(activity.counts.total(), 5);
    }
}
