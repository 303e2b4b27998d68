//! What the console's editor and test bench use besides saving: the workflow file's JSON
//! Schema (public, for any editor), a check of a document by the loader, and a dry-run of a
//! draft against an input. None of them stores or sends anything.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;

use super::ApiError;
use super::admin::Operator;
use super::admin_workflows::{json_is_an_object, syntax, text};
use super::openapi::AdminErrors;
use crate::app::{App, CheckReport, DryRunRequest, InputChoice, TypedInput};
use crate::wire::{DryRunView, ErrorBody, WorkflowCheckView};

/// Where the schema is served; the README's editor header names it.
pub const SCHEMA_ROUTE: &str = "/schemas/workflow.json";

/// The workflow file's JSON Schema (2020-12), the same text as `workflows schema` prints
/// and `schemas/workflow.schema.json` holds.
#[utoipa::path(
    get,
    path = "/schemas/workflow.json",
    operation_id = "workflowSchema",
    tag = "service",
    responses((status = 200, description = "The JSON Schema of a workflow file", content_type = "application/schema+json", body = Object))
)]
pub async fn schema() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/schema+json")],
        crate::domain::workflow_schema_text(),
    )
}

/// A document checked by the loader that saves use; stores nothing.
#[utoipa::path(
    post,
    path = "/admin/workflows/check",
    operation_id = "adminCheckWorkflow",
    tag = "admin",
    request_body(
        content((Object = "application/json"), (String = "application/yaml")),
        description = "A workflow document, as `POST /admin/workflows` takes it"
    ),
    responses(
        (status = 200, description = "The refusals (empty when it would load), and the normalized document", body = WorkflowCheckView),
        AdminErrors,
        (status = 415, description = "Neither JSON nor YAML (`unsupported_media_type`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn check(
    _: Operator,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<WorkflowCheckView>, ApiError> {
    let text = json_is_an_object(syntax(&headers)?, text(&body)?)?;
    Ok(Json(WorkflowCheckView::from(&CheckReport::of_text(text))))
}

/// `POST /admin/workflows/{id}/dry-run`; every field is optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DryRunBody {
    /// A draft document (the workflow file's form) to render instead of the saved version.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    definition: Option<Value>,
    /// A stored execution to render against; without it and `input`, the latest.
    #[serde(default)]
    execution_id: Option<String>,
    /// The workflow `executionId` belongs to, when not this one.
    #[serde(default)]
    execution_workflow_id: Option<String>,
    /// A request typed by hand instead of a stored execution.
    #[serde(default)]
    input: Option<InputBody>,
}

/// A request typed by hand, for a dry-run or a test run.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputBody {
    /// JSON, or a string for a body that is not JSON; `{}` when absent.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    query: BTreeMap<String, String>,
}

impl From<InputBody> for TypedInput {
    fn from(input: InputBody) -> Self {
        Self {
            body: input.body.unwrap_or_else(|| TypedInput::default().body),
            headers: input.headers,
            query: input.query,
        }
    }
}

/// Each step rendered against an input, in order, with nothing sent.
#[utoipa::path(
    post,
    path = "/admin/workflows/{workflow_id}/dry-run",
    operation_id = "adminDryRunWorkflow",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    request_body(content = Option<DryRunBody>, description = "Optional: an empty body renders the saved version against the latest execution"),
    responses(
        (status = 200, description = "Each step's rendering", body = DryRunView),
        AdminErrors,
        (status = 404, description = "No such workflow or execution", body = ErrorBody),
        (status = 422, description = "No input given and no execution stored (`no_input`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn dry_run(
    _: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    body: Bytes,
) -> Result<Json<DryRunView>, ApiError> {
    let body: DryRunBody = super::request::json_body_or_default(&body)?;
    let request = DryRunRequest {
        definition: body.definition,
        input: InputChoice {
            input: body.input.map(TypedInput::from),
            execution_id: body.execution_id,
            execution_workflow_id: body.execution_workflow_id,
        },
    };
    let run = app.dry_run_with(&workflow_id, request).await?;
    Ok(Json(DryRunView::from(&run)))
}
