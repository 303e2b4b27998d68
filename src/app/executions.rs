//! Reading executions: the executions page, newest first, a page at a time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{App, AppError};
use crate::domain::{Execution, ExecutionId, ExecutionStatus, WorkflowId};
use crate::ports::ExecutionQuery;

pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// Listing parameters as they arrive from a query string or the CLI, still unchecked.
#[derive(Debug, Default, Clone)]
pub struct ListExecutions {
    pub status: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ExecutionPage {
    pub items: Vec<Execution>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl ListExecutions {
    fn parse(&self) -> Result<ExecutionQuery, AppError> {
        let status = self
            .status
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<ExecutionStatus>())
            .transpose()
            .map_err(AppError::InvalidRequest)?;
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
        Ok(ExecutionQuery {
            status,
            limit,
            before,
        })
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

impl App {
    /// One page of a workflow's executions. The caller has already been authorised.
    pub async fn list_executions(
        &self,
        workflow_id: &WorkflowId,
        params: &ListExecutions,
    ) -> Result<ExecutionPage, AppError> {
        let query = params.parse()?;
        let limit = query.limit;
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
        assert_eq!(with_limit("5").unwrap().limit, 5);
        assert!(with_limit("0").is_err());
        assert!(with_limit("101").is_err());
        assert!(with_limit("ten").is_err());
        assert_eq!(
            ListExecutions::default().parse().unwrap().limit,
            DEFAULT_PAGE
        );
    }

    #[test]
    fn status_filter_is_checked() {
        let q = ListExecutions {
            status: Some("failed".into()),
            ..Default::default()
        }
        .parse()
        .unwrap();
        assert_eq!(q.status, Some(ExecutionStatus::Failed));
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
