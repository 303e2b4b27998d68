//! Replaying executions: one, or a filtered set of a workflow's (bulk replay, capped), each
//! as a new execution of the same payload under the workflow's current version or the
//! version the replayed execution ran.

use chrono::Utc;

use super::search::FilterParams;
use super::{Accepted, App, AppError};
use crate::domain::{Execution, ExecutionId, Workflow};

/// At most this many executions are replayed by one bulk replay.
pub const MAX_BULK_REPLAY: u32 = 100;

/// Which definition a replay runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplayVersion {
    /// The workflow as it is now (the default: a replay usually follows a fix).
    #[default]
    Current,
    /// The version the replayed execution recorded (the current one for records from
    /// before versions).
    Original,
}

impl ReplayVersion {
    pub fn parse(raw: Option<&str>) -> Result<Self, AppError> {
        match raw.map(str::trim) {
            None | Some("") | Some("current") => Ok(Self::Current),
            Some("original") => Ok(Self::Original),
            Some(other) => Err(AppError::InvalidRequest(format!(
                "version must be \"current\" or \"original\", not {other:?}"
            ))),
        }
    }

    fn of(self, workflow: &Workflow, original: &Execution) -> u32 {
        match self {
            Self::Current => workflow.version,
            Self::Original => original.workflow_version.unwrap_or(workflow.version),
        }
    }
}

/// A bulk replay as asked, unchecked.
#[derive(Debug, Default, Clone)]
pub struct BulkReplay {
    pub filter: FilterParams,
    pub max: Option<u32>,
    pub version: Option<String>,
    /// Only count what would be replayed.
    pub count_only: bool,
}

#[derive(Debug, Clone)]
pub struct BulkReplayed {
    /// How many of the executions read matched the filters.
    pub matched: usize,
    /// The new executions, in the order they were queued (oldest original first); empty for
    /// `count_only`.
    pub execution_ids: Vec<ExecutionId>,
    pub scanned: usize,
    pub truncated: bool,
}

fn check_max(max: Option<u32>, count_only: bool) -> Result<usize, AppError> {
    match max {
        None if count_only => Ok(0),
        Some(n) if (1..=MAX_BULK_REPLAY).contains(&n) => Ok(n as usize),
        None => Err(AppError::InvalidRequest(format!(
            "max is required: how many executions to replay, 1 to {MAX_BULK_REPLAY}"
        ))),
        Some(n) => Err(AppError::InvalidRequest(format!(
            "max is {n}; a bulk replay replays 1 to {MAX_BULK_REPLAY} executions (narrow the filters, or replay in several calls)"
        ))),
    }
}

impl App {
    /// Runs an execution's payload again as a new execution, which is stored and queued.
    pub async fn replay_execution(
        &self,
        raw_workflow_id: &str,
        raw_execution_id: &str,
        version: ReplayVersion,
    ) -> Result<Accepted, AppError> {
        let workflow = self.workflow(raw_workflow_id).await?;
        let original = self.get_execution(&workflow.id, raw_execution_id).await?;
        self.replay_one(&workflow, &original, version).await
    }

    async fn replay_one(
        &self,
        workflow: &Workflow,
        original: &Execution,
        version: ReplayVersion,
    ) -> Result<Accepted, AppError> {
        let replay = original
            .replay(Utc::now(), self.config().retention)
            .of_version(version.of(workflow, original));
        self.record_and_dispatch(replay, None).await
    }

    /// Replays the newest `max` of the workflow's executions that match the filters (read as
    /// a search reads them), oldest first; with `count_only`, only counts them.
    pub async fn replay_matching(
        &self,
        raw_workflow_id: &str,
        request: &BulkReplay,
    ) -> Result<BulkReplayed, AppError> {
        let max = check_max(request.max, request.count_only)?;
        let version = ReplayVersion::parse(request.version.as_deref())?;
        let filter = request.filter.parse()?;
        let workflow = self.workflow(raw_workflow_id).await?;
        let scan = self.scan(&workflow.id, &filter, None, usize::MAX).await?;
        let mut execution_ids = Vec::new();
        if !request.count_only {
            for original in scan.matched.iter().take(max).rev() {
                let accepted = self.replay_one(&workflow, original, version).await?;
                execution_ids.push(accepted.execution_id);
            }
        }
        Ok(BulkReplayed {
            matched: scan.matched.len(),
            execution_ids,
            scanned: scan.scanned,
            truncated: scan.truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_is_required_and_capped_unless_only_counting() {
        assert_eq!(check_max(Some(1), false).unwrap(), 1);
        assert_eq!(check_max(Some(100), false).unwrap(), 100);
        assert_eq!(check_max(None, true).unwrap(), 0);
        for (max, count_only) in [(Some(101), false), (Some(0), false), (None, false)] {
            let err = check_max(max, count_only).unwrap_err();
            assert_eq!(err.code(), "invalid_request");
            assert!(err.to_string().contains("1 to 100"), "{err}");
        }
        assert!(
            check_max(Some(101), true).is_err(),
            "a bad max is bad anyway"
        );
    }

    #[test]
    fn version_is_current_unless_original_is_asked() {
        assert_eq!(ReplayVersion::parse(None).unwrap(), ReplayVersion::Current);
        assert_eq!(
            ReplayVersion::parse(Some("original")).unwrap(),
            ReplayVersion::Original
        );
        assert_eq!(
            ReplayVersion::parse(Some("current")).unwrap(),
            ReplayVersion::Current
        );
        assert!(ReplayVersion::parse(Some("v1")).is_err());
    }
}
