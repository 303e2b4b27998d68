//! The operator's JSON routes under `/admin`, which the console reads. Every handler takes an
//! [`Operator`], so none can be written that forgets to check the admin key.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::ApiError;
use super::executions::{ItemParams, ListParams, item_params};
use super::openapi::AdminErrors;
use super::operator_executions::{FilterQuery, query};
use crate::app::{App, AppError, ListExecutions, ReplayVersion};
use crate::domain::ApiKeyName;
use crate::wire::{
    AcceptedView, ActivityView, AdminWorkflowView, DecisionView, ErrorBody, ExecutionPageView,
    ExecutionView, ItemPageView, RefusalSamplesView, SubscriptionView,
};

pub const ADMIN_KEY: &str = "x-admin-key";

/// An operator who presented a valid admin key in the `x-admin-key` header (only there: never
/// in a URL, where it would reach logs and browser history). A key sent twice with different
/// values counts as none.
#[derive(Debug, Clone)]
pub struct Operator {
    /// Which admin key: the log names it for actions that change something (replay).
    pub key_name: ApiKeyName,
}

impl FromRequestParts<App> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(ADMIN_KEY).iter();
        let presented = match (values.next(), values.next()) {
            (Some(one), None) => Some(String::from_utf8_lossy(one.as_bytes()).into_owned()),
            (None, _) => None,
            (Some(_), Some(_)) => {
                return Err(AppError::InvalidRequest(
                    "the x-admin-key header was sent more than once; send it once".into(),
                )
                .into());
            }
        };
        let key_name = app.authorize_admin(presented.as_deref()).await?;
        Ok(Self { key_name })
    }
}

/// Every workflow, enabled or not, with its last 24 h.
#[utoipa::path(
    get,
    path = "/admin/workflows",
    operation_id = "adminListWorkflows",
    tag = "admin",
    responses(
        (status = 200, description = "Every workflow", body = Vec<AdminWorkflowView>),
        AdminErrors,
    ),
    security(("admin_key" = []))
)]
pub async fn workflows(
    _: Operator,
    State(app): State<App>,
) -> Result<Json<Vec<AdminWorkflowView>>, ApiError> {
    let workflows = app.list_workflows().await?;
    let mut views = Vec::with_capacity(workflows.len());
    for workflow in &workflows {
        let activity = app.activity(workflow).await?;
        views.push(AdminWorkflowView::new(workflow, &activity));
    }
    Ok(Json(views))
}

/// Counts by status over the last 24 h and per hour.
#[utoipa::path(
    get,
    path = "/admin/workflows/{workflow_id}/activity",
    operation_id = "adminGetActivity",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    responses(
        (status = 200, description = "The last 24 h", body = ActivityView),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn activity(
    _: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
) -> Result<Json<ActivityView>, ApiError> {
    let workflow = app.workflow(&workflow_id).await?;
    let activity = app.activity(&workflow).await?;
    Ok(Json(ActivityView::from(&activity)))
}

/// Samples of the webhook requests the workflow refused over the last 48 h, newest first: at
/// most one per reason and minute, header values redacted unless harmless, the first 4 KiB of
/// the body.
#[utoipa::path(
    get,
    path = "/admin/workflows/{workflow_id}/refusals",
    operation_id = "adminListRefusals",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    responses(
        (status = 200, description = "At most 100 samples, newest first", body = RefusalSamplesView),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn refusals(
    _: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
) -> Result<Json<RefusalSamplesView>, ApiError> {
    let samples = app.refusal_samples(&workflow_id).await?;
    Ok(Json(RefusalSamplesView::from(samples.as_slice())))
}

#[utoipa::path(
    get,
    path = "/admin/workflows/{workflow_id}/subscriptions",
    operation_id = "adminListSubscriptions",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    responses(
        (status = 200, description = "The SNS subscriptions recorded for the workflow: topic, state (pending or confirmed), when", body = [SubscriptionView]),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
/// The SNS subscriptions recorded for a workflow (which topic, confirmed or pending, when), as
/// `workflows subscriptions` prints them: the trigger panel shows them.
pub async fn subscriptions(
    _: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
) -> Result<Json<Vec<SubscriptionView>>, ApiError> {
    let subscriptions = app.list_subscriptions(&workflow_id).await?;
    Ok(Json(
        subscriptions.iter().map(SubscriptionView::from).collect(),
    ))
}

/// The workflow's executions, newest first, as the workflow's own route lists them.
#[utoipa::path(
    get,
    path = "/admin/workflows/{workflow_id}/executions",
    operation_id = "adminListExecutions",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ListParams, FilterQuery),
    responses(
        (status = 200, description = "A page of executions; with `since`, `until` or `q`, found among at most 1000 executions read from `cursor` on", body = ExecutionPageView),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn executions(
    _: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    params: Result<Query<ListParams>, QueryRejection>,
    filter: Result<Query<FilterQuery>, QueryRejection>,
) -> Result<Json<ExecutionPageView>, ApiError> {
    let workflow = app.workflow(&workflow_id).await?;
    let filter = query(filter)?;
    let params = ListExecutions {
        since: filter.since,
        until: filter.until,
        q: filter.q,
        ..ListExecutions::from(query(params)?)
    };
    let page = app.list_executions(&workflow.id, &params).await?;
    Ok(Json(ExecutionPageView::new(&page, &workflow.steps)))
}

/// One execution, also once its workflow is deleted (until its retention ends).
#[utoipa::path(
    get,
    path = "/admin/workflows/{workflow_id}/executions/{execution_id}",
    operation_id = "adminGetExecution",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ("execution_id" = String, Path, description = "The execution's id")),
    responses(
        (status = 200, description = "The execution", body = ExecutionView),
        AdminErrors,
        (status = 404, description = "No such workflow or execution", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn execution(
    _: Operator,
    State(app): State<App>,
    Path((workflow_id, execution_id)): Path<(String, String)>,
) -> Result<Json<ExecutionView>, ApiError> {
    // Still readable once its workflow is deleted, until its retention ends.
    let (execution, steps) = app
        .execution_with_steps(&workflow_id, &execution_id)
        .await?;
    Ok(Json(ExecutionView::new(&execution, &steps)))
}

/// A `for_each` step's items, a page at a time, as the workflow route answers them.
#[utoipa::path(
    get,
    path = "/admin/workflows/{workflow_id}/executions/{execution_id}/steps/{step_id}/items",
    operation_id = "adminListExecutionItems",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ("execution_id" = String, Path, description = "The execution's id"), ("step_id" = String, Path, description = "A `for_each` step's id"), ItemParams),
    responses(
        (status = 200, description = "A page of items", body = ItemPageView),
        AdminErrors,
        (status = 404, description = "No such workflow, execution or `for_each` step", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn items(
    _: Operator,
    State(app): State<App>,
    Path((workflow_id, execution_id, step_id)): Path<(String, String, String)>,
    params: Result<Query<ItemParams>, QueryRejection>,
) -> Result<Json<ItemPageView>, ApiError> {
    let workflow = app.workflow(&workflow_id).await?;
    let params = item_params(params)?;
    let page = app
        .list_items(&workflow, &execution_id, &step_id, &params)
        .await?;
    Ok(Json(ItemPageView::from(&page)))
}

/// Runs the execution's payload again as a new execution (`executions replay`).
#[utoipa::path(
    post,
    path = "/admin/workflows/{workflow_id}/executions/{execution_id}/replay",
    operation_id = "adminReplayExecution",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ("execution_id" = String, Path, description = "The execution's id")),
    request_body(content = Option<ReplayBody>, description = "Optional: which version the replay runs"),
    responses(
        (status = 202, description = "The new execution, queued", body = AcceptedView),
        AdminErrors,
        (status = 404, description = "No such workflow or execution", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn replay(
    operator: Operator,
    State(app): State<App>,
    Path((workflow_id, execution_id)): Path<(String, String)>,
    raw: axum::body::Bytes,
) -> Result<(StatusCode, Json<AcceptedView>), ApiError> {
    let body: ReplayBody = super::request::json_body_or_default(&raw)?;
    let version = ReplayVersion::parse(body.version.as_deref())?;
    let accepted = app
        .replay_execution(&workflow_id, &execution_id, version)
        .await?;
    tracing::info!(
        admin_key = %operator.key_name,
        workflow_id,
        replay_of = execution_id,
        execution_id = %accepted.execution_id,
        "execution replayed from the console"
    );
    Ok((StatusCode::ACCEPTED, Json(AcceptedView::from(&accepted))))
}

/// `{"version"}`, optional, for a replay.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    /// `current` (the default: the workflow as it is now) or `original` (the version the
    /// replayed execution ran).
    #[serde(default)]
    pub version: Option<String>,
}

/// `{"comment"}`, optional, for an operator's approve or deny.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    #[serde(default)]
    pub comment: Option<String>,
}

async fn decide(
    operator: Operator,
    app: App,
    workflow_id: String,
    execution_id: String,
    raw: axum::body::Bytes,
    approve: bool,
) -> Result<Json<DecisionView>, ApiError> {
    let body: DecisionBody = super::request::json_body_or_default(&raw)?;
    let workflow = app.workflow(&workflow_id).await?;
    let kind = app
        .decide_as_operator(
            &workflow.id,
            &execution_id,
            approve,
            body.comment,
            operator.key_name.as_str(),
        )
        .await?;
    Ok(Json(DecisionView {
        decision: kind.as_str(),
    }))
}

/// Approves a waiting approval, as its link would (the decision names the admin key).
#[utoipa::path(
    post,
    path = "/admin/workflows/{workflow_id}/executions/{execution_id}/approve",
    operation_id = "adminApproveExecution",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ("execution_id" = String, Path, description = "The execution's id")),
    request_body(content = Option<DecisionBody>, description = "Optional: an empty body is no comment"),
    responses(
        (status = 200, description = "Approved", body = DecisionView),
        AdminErrors,
        (status = 404, description = "No such workflow or execution", body = ErrorBody),
        (status = 409, description = "The execution is not waiting for this (`not_waiting`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn approve(
    operator: Operator,
    State(app): State<App>,
    Path((workflow_id, execution_id)): Path<(String, String)>,
    raw: axum::body::Bytes,
) -> Result<Json<DecisionView>, ApiError> {
    decide(operator, app, workflow_id, execution_id, raw, true).await
}

/// Denies a waiting approval.
#[utoipa::path(
    post,
    path = "/admin/workflows/{workflow_id}/executions/{execution_id}/deny",
    operation_id = "adminDenyExecution",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ("execution_id" = String, Path, description = "The execution's id")),
    request_body(content = Option<DecisionBody>, description = "Optional: an empty body is no comment"),
    responses(
        (status = 200, description = "Denied", body = DecisionView),
        AdminErrors,
        (status = 404, description = "No such workflow or execution", body = ErrorBody),
        (status = 409, description = "The execution is not waiting for this (`not_waiting`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn deny(
    operator: Operator,
    State(app): State<App>,
    Path((workflow_id, execution_id)): Path<(String, String)>,
    raw: axum::body::Bytes,
) -> Result<Json<DecisionView>, ApiError> {
    decide(operator, app, workflow_id, execution_id, raw, false).await
}

/// Ends a waiting execution (failed, naming the admin key).
#[utoipa::path(
    post,
    path = "/admin/workflows/{workflow_id}/executions/{execution_id}/cancel",
    operation_id = "adminCancelExecution",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ("execution_id" = String, Path, description = "The execution's id")),
    responses(
        (status = 200, description = "The execution, now failed", body = ExecutionView),
        AdminErrors,
        (status = 404, description = "No such workflow or execution", body = ErrorBody),
        (status = 409, description = "The execution is not waiting for this (`not_waiting`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn cancel(
    operator: Operator,
    State(app): State<App>,
    Path((workflow_id, execution_id)): Path<(String, String)>,
) -> Result<Json<ExecutionView>, ApiError> {
    let workflow = app.workflow(&workflow_id).await?;
    let cancelled = app
        .cancel_waiting(&workflow.id, &execution_id, operator.key_name.as_str())
        .await?;
    Ok(Json(ExecutionView::new(&cancelled, &workflow.steps)))
}
