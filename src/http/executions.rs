use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use serde::Deserialize;

use super::ApiError;
use super::openapi::KeyErrors;
use super::request::api_key;
use crate::app::{App, AppError, ListExecutions, ListItems};
use crate::wire::{ErrorBody, ExecutionPageView, ExecutionView, ItemPageView};

/// Strings, not numbers: a bad value is this API's `invalid_request`, not axum's rejection.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only executions with this status (`queued`, `running`, `waiting`, `succeeded`, `failed`).
    status: Option<String>,
    /// How many, newest first (1 to 100; 20 when absent).
    limit: Option<String>,
    /// The previous page's `nextCursor`.
    cursor: Option<String>,
}

impl From<ListParams> for ListExecutions {
    fn from(params: ListParams) -> Self {
        Self {
            status: params.status,
            limit: params.limit,
            cursor: params.cursor,
            ..Self::default()
        }
    }
}

/// The workflow's executions, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/workflows/{workflow_id}/executions",
    operation_id = "listExecutions",
    tag = "executions",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ListParams),
    responses(
        (status = 200, description = "A page of executions", body = ExecutionPageView),
        KeyErrors,
        (status = 404, description = "No such workflow, or it is disabled (`workflow_not_found`)", body = ErrorBody),
    ),
    security(("api_key" = []), ("api_key_query" = []))
)]
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

/// One execution: its trigger, payload, steps and plan.
#[utoipa::path(
    get,
    path = "/workflows/{workflow_id}/executions/{execution_id}",
    operation_id = "getExecution",
    tag = "executions",
    params(
        ("workflow_id" = String, Path, description = "The workflow's id"),
        ("execution_id" = String, Path, description = "The execution's id"),
    ),
    responses(
        (status = 200, description = "The execution", body = ExecutionView),
        KeyErrors,
        (status = 404, description = "No such workflow or execution (`workflow_not_found`, `execution_not_found`)", body = ErrorBody),
    ),
    security(("api_key" = []), ("api_key_query" = []))
)]
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemParams {
    /// The previous page's `nextAfter`.
    after: Option<String>,
    /// How many items (1 to 200; 50 when absent).
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
#[utoipa::path(
    get,
    path = "/workflows/{workflow_id}/executions/{execution_id}/steps/{step_id}/items",
    operation_id = "listExecutionItems",
    tag = "executions",
    params(
        ("workflow_id" = String, Path, description = "The workflow's id"),
        ("execution_id" = String, Path, description = "The execution's id"),
        ("step_id" = String, Path, description = "A `for_each` step's id"),
        ItemParams,
    ),
    responses(
        (status = 200, description = "A page of items", body = ItemPageView),
        KeyErrors,
        (status = 404, description = "No such workflow, execution or `for_each` step", body = ErrorBody),
    ),
    security(("api_key" = []), ("api_key_query" = []))
)]
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
