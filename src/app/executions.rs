//! Reading executions: the executions page, newest first, a page at a time; and the items of
//! an execution's `for_each` steps, by index, a page at a time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::search::FilterParams;
use super::{App, AppError};
use crate::domain::{
    Execution, ExecutionFilter, ExecutionId, ItemRecord, ItemStatus, Step, Workflow, WorkflowId,
};
use crate::ports::ExecutionQuery;

pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;
/// Items of a `for_each` per page, unless the caller asks for fewer or more.
pub const DEFAULT_ITEM_PAGE: usize = 50;
pub const MAX_ITEM_PAGE: usize = 200;

/// Listing parameters as they arrive from a query string or the CLI, still unchecked.
#[derive(Debug, Default, Clone)]
pub struct ListExecutions {
    pub status: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
    /// A time range or a payload search (the admin listing's): the page is then found by a
    /// bounded scan (see `app::search`).
    pub since: Option<String>,
    pub until: Option<String>,
    pub q: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ExecutionPage {
    pub items: Vec<Execution>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl ListExecutions {
    fn parse(&self) -> Result<(ExecutionQuery, ExecutionFilter), AppError> {
        let filter = FilterParams {
            status: self.status.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
            q: self.q.clone(),
        }
        .parse()?;
        let limit = match self.limit.as_deref() {
            None | Some("") => DEFAULT_PAGE,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    AppError::InvalidRequest(format!(
                        "limit must be a whole number from 1 to {MAX_PAGE}"
                    ))
                })?,
        };
        let before = self
            .cursor
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(decode_cursor)
            .transpose()?;
        let query = ExecutionQuery {
            status: filter.status,
            limit,
            before,
        };
        Ok((query, filter))
    }
}

fn encode_cursor(id: &ExecutionId) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

fn decode_cursor(raw: &str) -> Result<ExecutionId, AppError> {
    let invalid = || AppError::InvalidRequest("cursor is not one this API returned".into());
    let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| invalid())?;
    ExecutionId::parse(text).map_err(|_| invalid())
}

/// Item paging parameters as they arrive from a query string or the CLI, still unchecked.
#[derive(Debug, Default, Clone)]
pub struct ListItems {
    /// Only items with a higher index (the `nextAfter` of the previous page).
    pub after: Option<String>,
    pub limit: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ItemPage {
    /// By index, lowest first.
    pub items: Vec<ItemRecord>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<u32>,
}

/// How many items of a `for_each` have each status, and how many in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemCounts {
    pub total: usize,
    pub running: usize,
    pub succeeded: usize,
    pub failed: usize,
}

impl ListItems {
    fn parse(&self) -> Result<(Option<u32>, usize), AppError> {
        let after = match self.after.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(raw.parse::<u32>().map_err(|_| {
                AppError::InvalidRequest(
                    "after must be an item index (a whole number from 0), the nextAfter of the previous page".into(),
                )
            })?),
        };
        let limit = match self.limit.as_deref() {
            None | Some("") => DEFAULT_ITEM_PAGE,
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_ITEM_PAGE).contains(n))
                .ok_or_else(|| {
                    AppError::InvalidRequest(format!(
                        "limit must be a whole number from 1 to {MAX_ITEM_PAGE}"
                    ))
                })?,
        };
        Ok((after, limit))
    }
}

/// Whether `step_id` names a `for_each` step of the execution: one of its definition (or of
/// the workflow's steps for a record without a copy), or one it has a loop's record of.
fn has_loop(execution: &Execution, workflow: &Workflow, step_id: &str) -> bool {
    let defined = execution
        .definition_or(&workflow.steps)
        .iter()
        .any(|s| s.id == step_id && matches!(s.action, Step::ForEach(_)));
    defined
        || execution
            .steps
            .iter()
            .any(|r| r.id == step_id && r.path.is_none() && r.kind == "for_each")
}

impl App {
    /// One page of the items of the `for_each` step `step_id` of an execution. The caller has
    /// already been authorised for `workflow`.
    pub async fn list_items(
        &self,
        workflow: &Workflow,
        raw_execution_id: &str,
        step_id: &str,
        params: &ListItems,
    ) -> Result<ItemPage, AppError> {
        let (after, limit) = params.parse()?;
        let execution = self.get_execution(&workflow.id, raw_execution_id).await?;
        self.items_of(workflow, &execution, step_id, after, limit)
            .await
    }

    async fn items_of(
        &self,
        workflow: &Workflow,
        execution: &Execution,
        step_id: &str,
        after: Option<u32>,
        limit: usize,
    ) -> Result<ItemPage, AppError> {
        if !has_loop(execution, workflow, step_id) {
            return Err(AppError::StepNotFound(step_id.to_owned()));
        }
        // One extra item tells whether another page exists without a second query.
        let mut items = self
            .store()
            .list_items(&workflow.id, &execution.id, step_id, after, limit + 1)
            .await?;
        let next_after = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|i| i.index)
        } else {
            None
        };
        Ok(ItemPage { items, next_after })
    }

    /// The items of the `for_each` step `step_id` counted by status, read a page at a time
    /// (a loop holds at most `MAX_ITEMS`, a few pages).
    pub async fn item_counts(
        &self,
        workflow: &Workflow,
        execution: &Execution,
        step_id: &str,
    ) -> Result<ItemCounts, AppError> {
        let mut counts = ItemCounts::default();
        let mut after = None;
        loop {
            let page = self
                .items_of(workflow, execution, step_id, after, MAX_ITEM_PAGE)
                .await?;
            for item in &page.items {
                counts.total += 1;
                match item.status {
                    ItemStatus::Running => counts.running += 1,
                    ItemStatus::Succeeded => counts.succeeded += 1,
                    ItemStatus::Failed => counts.failed += 1,
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(counts),
            }
        }
    }

    /// One page of a workflow's executions. The caller has already been authorised.
    pub async fn list_executions(
        &self,
        workflow_id: &WorkflowId,
        params: &ListExecutions,
    ) -> Result<ExecutionPage, AppError> {
        let (query, filter) = params.parse()?;
        let limit = query.limit;
        if filter.needs_scan() {
            let scan = self.scan(workflow_id, &filter, query.before, limit).await?;
            return Ok(ExecutionPage {
                items: scan.matched,
                next_cursor: scan.stopped_at.as_ref().map(encode_cursor),
            });
        }
        // One extra item tells whether another page exists without a second query.
        let probe = ExecutionQuery {
            limit: limit + 1,
            ..query
        };
        let mut items = self.store().list_executions(workflow_id, &probe).await?;
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|e| encode_cursor(&e.id))
        } else {
            None
        };
        Ok(ExecutionPage { items, next_cursor })
    }

    pub async fn get_execution(
        &self,
        workflow_id: &WorkflowId,
        raw_execution_id: &str,
    ) -> Result<Execution, AppError> {
        let id = ExecutionId::parse(raw_execution_id).map_err(|_| AppError::ExecutionNotFound)?;
        self.store()
            .get_execution(workflow_id, &id)
            .await?
            .ok_or(AppError::ExecutionNotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let id = ExecutionId::generate();
        assert_eq!(decode_cursor(&encode_cursor(&id)).unwrap(), id);
        assert!(decode_cursor("!!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("nope")).is_err());
    }

    #[test]
    fn limits_are_checked() {
        let with_limit = |l: &str| {
            ListExecutions {
                limit: Some(l.into()),
                ..Default::default()
            }
            .parse()
        };
        assert_eq!(with_limit("5").unwrap().0.limit, 5);
        assert!(with_limit("0").is_err());
        assert!(with_limit("101").is_err());
        assert!(with_limit("ten").is_err());
        assert_eq!(
            ListExecutions::default().parse().unwrap().0.limit,
            DEFAULT_PAGE
        );
    }

    #[test]
    fn item_paging_is_checked() {
        let items = |after: Option<&str>, limit: Option<&str>| {
            ListItems {
                after: after.map(Into::into),
                limit: limit.map(Into::into),
            }
            .parse()
        };
        assert_eq!(items(None, None).unwrap(), (None, DEFAULT_ITEM_PAGE));
        assert_eq!(
            items(Some(""), Some("")).unwrap(),
            (None, DEFAULT_ITEM_PAGE)
        );
        assert_eq!(items(Some("0"), Some("200")).unwrap(), (Some(0), 200));
        assert_eq!(items(Some("49"), Some("1")).unwrap(), (Some(49), 1));
        for (after, limit) in [
            (Some("-1"), None),
            (Some("1.5"), None),
            (Some("x"), None),
            (Some("4294967296"), None),
            (None, Some("0")),
            (None, Some("201")),
            (None, Some("-3")),
            (None, Some("fifty")),
        ] {
            let err = items(after, limit).unwrap_err();
            assert_eq!(err.code(), "invalid_request", "{after:?} {limit:?}");
        }
    }

    #[test]
    fn status_filter_is_checked() {
        let q = ListExecutions {
            status: Some("failed".into()),
            ..Default::default()
        }
        .parse()
        .unwrap()
        .0;
        assert_eq!(q.status, Some(crate::domain::ExecutionStatus::Failed));
        assert!(
            ListExecutions {
                status: Some("done".into()),
                ..Default::default()
            }
            .parse()
            .is_err()
        );
    }
}
