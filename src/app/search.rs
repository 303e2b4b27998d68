//! Finding executions for operators: across workflows or in one, by status, time range and
//! text or `path=value` in the payload, and counted by status. Bounded: each workflow's
//! newest [`SCAN_PER_WORKFLOW`] executions in the time range are read (newest first, a page
//! of [`SCAN_PAGE`] per store query) and matched here, the same way on every backend; what
//! was read is reported as `scanned`, and `truncated` says the answer may miss matches.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;

use super::console::StatusCounts;
use super::{App, AppError};
use crate::domain::{
    Execution, ExecutionFilter, ExecutionId, ExecutionStatus, PayloadQuery, Workflow, WorkflowId,
};
use crate::ports::ExecutionQuery;

/// At most this many executions of one workflow are read for one search, count or bulk
/// replay.
pub const SCAN_PER_WORKFLOW: usize = 1000;
/// Executions per store query while scanning (a DynamoDB Query's `Limit`).
pub const SCAN_PAGE: usize = 100;
/// Workflows scanned at once by a cross-workflow search.
const PARALLEL_WORKFLOWS: usize = 8;
pub const DEFAULT_SEARCH_LIMIT: usize = 50;
pub const MAX_SEARCH_LIMIT: usize = 200;
/// Counts without `since` cover this many hours back.
pub const DEFAULT_COUNT_HOURS: i64 = 24;

/// Filters as they arrive from a query string, a body or the CLI, still unchecked.
#[derive(Debug, Default, Clone)]
pub struct FilterParams {
    pub status: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub q: Option<String>,
}

fn present(raw: &Option<String>) -> Option<&str> {
    raw.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn parse_time(name: &str, raw: &str) -> Result<DateTime<Utc>, AppError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            AppError::InvalidRequest(format!(
                "{name} must be an RFC 3339 time such as 2026-12-01T10:00:00Z ({e})"
            ))
        })
}

impl FilterParams {
    pub fn parse(&self) -> Result<ExecutionFilter, AppError> {
        let status = present(&self.status)
            .map(str::parse::<ExecutionStatus>)
            .transpose()
            .map_err(AppError::InvalidRequest)?;
        let since = present(&self.since)
            .map(|s| parse_time("since", s))
            .transpose()?;
        let until = present(&self.until)
            .map(|s| parse_time("until", s))
            .transpose()?;
        if let (Some(since), Some(until)) = (since, until)
            && since > until
        {
            return Err(AppError::InvalidRequest(
                "since must not be later than until".into(),
            ));
        }
        let query = present(&self.q)
            .map(PayloadQuery::parse)
            .transpose()
            .map_err(AppError::InvalidRequest)?;
        Ok(ExecutionFilter {
            status,
            since,
            until,
            query,
        })
    }
}

/// What one workflow's scan found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Newest first.
    pub matched: Vec<Execution>,
    pub scanned: usize,
    /// The scan stopped before the end of the time range (the budget, or `want` matches):
    /// the last execution it read, where a next page would go on from.
    pub stopped_at: Option<ExecutionId>,
    /// Stopped by the budget, not by `want`: matches may be missing.
    pub truncated: bool,
}

/// A cross-workflow search's answer.
#[derive(Debug, Clone)]
pub struct Found {
    /// Newest first, each with its workflow.
    pub items: Vec<(Execution, Arc<Workflow>)>,
    pub scanned: usize,
    /// More matched than `limit`, or a workflow had more executions in the range than were
    /// read: the list may not hold every match.
    pub truncated: bool,
}

/// Counts by status over an interval.
#[derive(Debug, Clone)]
pub struct Counts {
    pub since: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub total: usize,
    pub counts: StatusCounts,
    pub scanned: usize,
    pub truncated: bool,
}

/// A search across workflows, unchecked.
#[derive(Debug, Default, Clone)]
pub struct SearchParams {
    /// Part of the workflow's name, ignoring case.
    pub workflow: Option<String>,
    pub filter: FilterParams,
    pub limit: Option<String>,
}

/// Counts, unchecked.
#[derive(Debug, Default, Clone)]
pub struct CountParams {
    pub since: Option<String>,
    pub until: Option<String>,
    pub workflow_id: Option<String>,
}

fn parse_limit(raw: &Option<String>) -> Result<usize, AppError> {
    match present(raw) {
        None => Ok(DEFAULT_SEARCH_LIMIT),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_SEARCH_LIMIT).contains(n))
            .ok_or_else(|| {
                AppError::InvalidRequest(format!(
                    "limit must be a whole number from 1 to {MAX_SEARCH_LIMIT}"
                ))
            }),
    }
}

impl App {
    /// Reads one workflow's executions newest first from `before` (or from `filter.until`),
    /// at most [`SCAN_PER_WORKFLOW`], until the start of the range or `want` matches. The
    /// status is matched here rather than by the store, so that every record read counts
    /// toward the budget (a store-side filter could read a whole partition for a rare status).
    pub(crate) async fn scan(
        &self,
        workflow_id: &WorkflowId,
        filter: &ExecutionFilter,
        before: Option<ExecutionId>,
        want: usize,
    ) -> Result<Scan, AppError> {
        let until_bound = filter.until.map(ExecutionId::after_time);
        let mut cursor = match (before, until_bound) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut scan = Scan::default();
        loop {
            let asked = SCAN_PAGE.min(SCAN_PER_WORKFLOW - scan.scanned);
            let page = self
                .store()
                .list_executions(
                    workflow_id,
                    &ExecutionQuery {
                        status: None,
                        limit: asked,
                        before: cursor,
                    },
                )
                .await?;
            let last_page = page.len() < asked;
            for execution in page {
                scan.scanned += 1;
                if filter
                    .since
                    .is_some_and(|since| execution.received_at < since)
                {
                    return Ok(scan);
                }
                cursor = Some(execution.id);
                if filter.matches(&execution) {
                    scan.matched.push(execution);
                    if scan.matched.len() >= want {
                        scan.stopped_at = cursor;
                        return Ok(scan);
                    }
                }
            }
            if last_page {
                return Ok(scan);
            }
            if scan.scanned >= SCAN_PER_WORKFLOW {
                scan.stopped_at = cursor;
                scan.truncated = true;
                return Ok(scan);
            }
        }
    }

    /// Workflows whose name holds `part` (ignoring case); every one without it.
    async fn workflows_named(&self, part: Option<&str>) -> Result<Vec<Workflow>, AppError> {
        let part = part.map(str::to_lowercase);
        let mut workflows = self.list_workflows().await?;
        if let Some(part) = part {
            workflows.retain(|w| w.name.to_lowercase().contains(&part));
        }
        Ok(workflows)
    }

    /// Scans each workflow (a few at a time), in the order given.
    async fn scan_each(
        &self,
        workflows: Vec<Workflow>,
        filter: &ExecutionFilter,
        want: usize,
    ) -> Result<Vec<(Arc<Workflow>, Scan)>, AppError> {
        futures_util::stream::iter(workflows.into_iter().map(|workflow| async move {
            let scan = self.scan(&workflow.id, filter, None, want).await?;
            Ok::<_, AppError>((Arc::new(workflow), scan))
        }))
        .buffered(PARALLEL_WORKFLOWS)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
    }

    /// Executions of every workflow (or those whose name holds `params.workflow`) that match
    /// the filters, newest first.
    pub async fn search_executions(&self, params: &SearchParams) -> Result<Found, AppError> {
        let filter = params.filter.parse()?;
        let limit = parse_limit(&params.limit)?;
        let workflows = self.workflows_named(present(&params.workflow)).await?;
        // One more than shown tells whether the list is complete.
        let scans = self.scan_each(workflows, &filter, limit + 1).await?;
        let mut scanned = 0;
        let mut truncated = false;
        let mut items = Vec::new();
        for (workflow, scan) in scans {
            scanned += scan.scanned;
            truncated |= scan.truncated;
            items.extend(scan.matched.into_iter().map(|e| (e, workflow.clone())));
        }
        items.sort_by_key(|(e, _)| std::cmp::Reverse(e.id));
        if items.len() > limit {
            items.truncate(limit);
            truncated = true;
        }
        Ok(Found {
            items,
            scanned,
            truncated,
        })
    }

    /// Executions by status received in an interval (the last 24 h by default), of one
    /// workflow or all.
    pub async fn count_executions(&self, params: &CountParams) -> Result<Counts, AppError> {
        let now = Utc::now();
        let mut filter = FilterParams {
            since: params.since.clone(),
            until: params.until.clone(),
            ..FilterParams::default()
        }
        .parse()?;
        let since = *filter
            .since
            .get_or_insert(now - Duration::hours(DEFAULT_COUNT_HOURS));
        let workflows = match present(&params.workflow_id) {
            Some(id) => vec![self.workflow(id).await?],
            None => self.list_workflows().await?,
        };
        let scans = self.scan_each(workflows, &filter, usize::MAX).await?;
        let mut counts: StatusCounts = ExecutionStatus::ALL
            .iter()
            .map(|s| (s.as_str(), 0))
            .collect();
        let (mut total, mut scanned, mut truncated) = (0, 0, false);
        for (_, scan) in scans {
            scanned += scan.scanned;
            truncated |= scan.truncated;
            for execution in &scan.matched {
                total += 1;
                *counts.entry(execution.status.as_str()).or_default() += 1;
            }
        }
        Ok(Counts {
            since,
            until: filter.until,
            total,
            counts,
            scanned,
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(status: &str, since: &str, until: &str, q: &str) -> FilterParams {
        let some = |s: &str| Some(s.to_owned());
        FilterParams {
            status: some(status),
            since: some(since),
            until: some(until),
            q: some(q),
        }
    }

    #[test]
    fn empty_filters_are_no_filters() {
        let filter = params("", " ", "", "").parse().unwrap();
        assert_eq!(filter, ExecutionFilter::default());
        assert!(!filter.needs_scan());
    }

    #[test]
    fn bad_filters_are_refused_with_what_is_wrong() {
        for (p, says) in [
            (params("done", "", "", ""), "unknown status"),
            (params("", "yesterday", "", ""), "since must be an RFC 3339"),
            (params("", "", "2026-13-01T00:00:00Z", ""), "until must be"),
            (
                params("", "2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z", ""),
                "not be later",
            ),
            (params("", "", "", "body.a[x]=1"), "neither an index"),
        ] {
            let err = p.parse().unwrap_err();
            assert_eq!(err.code(), "invalid_request");
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn the_search_limit_is_checked() {
        assert_eq!(parse_limit(&None).unwrap(), DEFAULT_SEARCH_LIMIT);
        assert_eq!(parse_limit(&Some("200".into())).unwrap(), 200);
        assert!(parse_limit(&Some("201".into())).is_err());
        assert!(parse_limit(&Some("0".into())).is_err());
    }
}
