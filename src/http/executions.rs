use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use super::ApiError;
use super::request::api_key;
use crate::app::{App, AppError, ListExecutions, ListItems};
use crate::wire::{ExecutionPageView, ExecutionView, ItemPageView};

#[derive(Debug, Deserialize)]
pub struct ListParams {
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl From<ListParams> for ListExecutions {
    fn from(params: ListParams) -> Self {
        Self {
            status: params.status,
            limit: params.limit,
            cursor: params.cursor,
        }
    }
}

pub async fn list(
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ExecutionPageView>, ApiError> {
    let workflow = app
        .authorize(
            &workflow_id,
            api_key(&headers, raw_query.as_deref()).as_deref(),
        )
        .await?;
    // axum's own rejection is plain text; every error of this API is JSON.
    let Query(params) = params
        .map_err(|e| AppError::InvalidRequest(format!("bad query string: {}", e.body_text())))?;
    let params = ListExecutions::from(params);
    let page = app.list_executions(&workflow.id, &params).await?;
    Ok(Json(ExecutionPageView::new(&page, &workflow.steps)))
}

pub async fn show(
    State(app): State<App>,
    Path((workflow_id, execution_id)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Result<Json<ExecutionView>, ApiError> {
    let workflow = app
        .authorize(
            &workflow_id,
            api_key(&headers, raw_query.as_deref()).as_deref(),
        )
        .await?;
    let execution = app.get_execution(&workflow.id, &execution_id).await?;
    Ok(Json(ExecutionView::new(&execution, &workflow.steps)))
}

#[derive(Debug, Deserialize)]
pub struct ItemParams {
    after: Option<String>,
    limit: Option<String>,
}

impl From<ItemParams> for ListItems {
    fn from(params: ItemParams) -> Self {
        Self {
            after: params.after,
            limit: params.limit,
        }
    }
}

/// Reads the query string of an items page; axum's own rejection is plain text, every error
/// of this API is JSON.
pub fn item_params(
    params: Result<Query<ItemParams>, QueryRejection>,
) -> Result<ListItems, AppError> {
    let Query(params) = params
        .map_err(|e| AppError::InvalidRequest(format!("bad query string: {}", e.body_text())))?;
    Ok(ListItems::from(params))
}

/// `GET /workflows/{id}/executions/{eid}/steps/{step}/items`: a `for_each` step's items, by
/// index, a page at a time. Guarded by the workflow's key, as the execution itself.
pub async fn items(
    State(app): State<App>,
    Path((workflow_id, execution_id, step_id)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    params: Result<Query<ItemParams>, QueryRejection>,
) -> Result<Json<ItemPageView>, ApiError> {
    let workflow = app
        .authorize(
            &workflow_id,
            api_key(&headers, raw_query.as_deref()).as_deref(),
        )
        .await?;
    let params = item_params(params)?;
    let page = app
        .list_items(&workflow, &execution_id, &step_id, &params)
        .await?;
    Ok(Json(ItemPageView::from(&page)))
}
