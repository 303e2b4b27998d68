//! The operator's execution routes beyond one workflow's page: a search across workflows,
//! counts by status over an interval, bulk replay and test runs. Admin key only.

use super::workflow_tools::InputBody;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::ApiError;
use super::admin::Operator;
use super::openapi::AdminErrors;
use super::request::json_body_or_default;
use crate::app::{
    App, AppError, BulkReplay, CountParams, FilterParams, InputChoice, SearchParams, TypedInput,
};
use crate::wire::{
    BulkReplayView, ErrorBody, ExecutionCountsView, ExecutionSearchView, TestRunView,
};

/// Reads a query string into `T`; axum's own rejection is plain text, every error of this API
/// is JSON.
pub fn query<T>(params: Result<Query<T>, QueryRejection>) -> Result<T, AppError> {
    params
        .map(|Query(p)| p)
        .map_err(|e| AppError::InvalidRequest(format!("bad query string: {}", e.body_text())))
}

/// The filters every operator listing takes. Strings, so a bad value is this API's
/// `invalid_request`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterQuery {
    /// Received at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Received at or before this time (RFC 3339).
    pub until: Option<String>,
    /// Text found (ignoring case) in the body's values or keys or in a header or query value,
    /// or `path=value`: `body.alerts[0].name=disk`, `headers.x-source=ci`, `query.x=1`.
    pub q: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Only workflows whose name holds this (ignoring case).
    workflow: Option<String>,
    /// `queued`, `running`, `waiting`, `succeeded` or `failed`.
    status: Option<String>,
    /// How many, newest first (1 to 200; 50 when absent).
    limit: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct CountQuery {
    /// From this time (RFC 3339; 24 h ago when absent).
    since: Option<String>,
    /// Up to this time (RFC 3339; now when absent).
    until: Option<String>,
    /// Only this workflow.
    workflow_id: Option<String>,
}

/// Executions of every workflow matching the filters, newest first. Each workflow's newest
/// 1000 executions in the time range are read, no more.
#[utoipa::path(
    get,
    path = "/admin/executions",
    operation_id = "adminSearchExecutions",
    tag = "admin",
    params(SearchQuery, FilterQuery),
    responses(
        (status = 200, description = "The executions found, with what was read", body = ExecutionSearchView),
        AdminErrors,
    ),
    security(("admin_key" = []))
)]
pub async fn search(
    _: Operator,
    State(app): State<App>,
    search: Result<Query<SearchQuery>, QueryRejection>,
    filter: Result<Query<FilterQuery>, QueryRejection>,
) -> Result<Json<ExecutionSearchView>, ApiError> {
    let search = query(search)?;
    let filter = query(filter)?;
    let params = SearchParams {
        workflow: search.workflow,
        filter: FilterParams {
            status: search.status,
            since: filter.since,
            until: filter.until,
            q: filter.q,
        },
        limit: search.limit,
    };
    let found = app.search_executions(&params).await?;
    Ok(Json(ExecutionSearchView::from(&found)))
}

/// Executions by status received in an interval (the last 24 h by default), of every
/// workflow or one.
#[utoipa::path(
    get,
    path = "/admin/executions/counts",
    operation_id = "adminCountExecutions",
    tag = "admin",
    params(CountQuery),
    responses(
        (status = 200, description = "Counts by status", body = ExecutionCountsView),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn counts(
    _: Operator,
    State(app): State<App>,
    params: Result<Query<CountQuery>, QueryRejection>,
) -> Result<Json<ExecutionCountsView>, ApiError> {
    let params = query(params)?;
    let counts = app
        .count_executions(&CountParams {
            since: params.since,
            until: params.until,
            workflow_id: params.workflow_id,
        })
        .await?;
    Ok(Json(ExecutionCountsView::from(&counts)))
}

/// A bulk replay: filters as the listings take them, how many at most, which version.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkReplayBody {
    status: Option<String>,
    /// RFC 3339.
    since: Option<String>,
    /// RFC 3339.
    until: Option<String>,
    /// As the listings' `q`.
    q: Option<String>,
    /// How many to replay, 1 to 100 (the newest that match); required unless `countOnly`.
    max: Option<u32>,
    /// `current` (the default) or `original`.
    version: Option<String>,
    /// Only count the matches; nothing is replayed.
    #[serde(default)]
    count_only: bool,
}

/// Replays the newest `max` executions of the workflow that match the filters.
#[utoipa::path(
    post,
    path = "/admin/workflows/{workflow_id}/replay",
    operation_id = "adminBulkReplay",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    request_body(content = BulkReplayBody, description = "Filters, `max` (1 to 100), `version`, `countOnly`"),
    responses(
        (status = 200, description = "How many matched, and the new executions (none with `countOnly`)", body = BulkReplayView),
        AdminErrors,
        (status = 404, description = "No such workflow", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn bulk_replay(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    raw: Bytes,
) -> Result<Json<BulkReplayView>, ApiError> {
    let body: BulkReplayBody = json_body_or_default(&raw)?;
    let request = BulkReplay {
        filter: FilterParams {
            status: body.status,
            since: body.since,
            until: body.until,
            q: body.q,
        },
        max: body.max,
        version: body.version,
        count_only: body.count_only,
    };
    let replayed = app.replay_matching(&workflow_id, &request).await?;
    if !request.count_only {
        tracing::info!(
            admin_key = %operator.key_name,
            workflow_id,
            replayed = replayed.execution_ids.len(),
            "executions replayed in bulk from the console"
        );
    }
    Ok(Json(BulkReplayView::from(&replayed)))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestRunBody {
    input: Option<InputBody>,
    /// A stored execution whose input to use.
    execution_id: Option<String>,
    /// The workflow of `executionId` (this one when absent).
    execution_workflow_id: Option<String>,
}

/// Runs the saved workflow for real on an input, as a test execution (shown with
/// `"test": true`, left out of the metrics' counts).
#[utoipa::path(
    post,
    path = "/admin/workflows/{workflow_id}/test-run",
    operation_id = "adminTestRun",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    request_body(content = Option<TestRunBody>, description = "The input: typed, a stored execution's, or (empty body) the workflow's latest execution's"),
    responses(
        (status = 202, description = "The test execution, queued", body = TestRunView),
        AdminErrors,
        (status = 404, description = "No such workflow or execution", body = ErrorBody),
        (status = 422, description = "No input given and no execution to take one from (`no_input`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn test_run(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    raw: Bytes,
) -> Result<(StatusCode, Json<TestRunView>), ApiError> {
    let body: TestRunBody = json_body_or_default(&raw)?;
    let request = InputChoice {
        input: body.input.map(TypedInput::from),
        execution_id: body.execution_id,
        execution_workflow_id: body.execution_workflow_id,
    };
    let run = app.test_run(&workflow_id, request).await?;
    tracing::info!(
        admin_key = %operator.key_name,
        workflow_id,
        execution_id = %run.execution.id,
        "test run started from the console"
    );
    Ok((StatusCode::ACCEPTED, Json(TestRunView::from(&run))))
}
