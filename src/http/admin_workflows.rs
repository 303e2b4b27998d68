//! Managing workflows under `/admin/workflows`: create, replace (a new version), enable or
//! disable, delete, and their versions. The document is the workflow file's, read by the same
//! loader as `workflows create --file`, and the same use cases save it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::ApiError;
use super::admin::Operator;
use super::openapi::AdminErrors;
use crate::app::{App, AppError, NewWorkflow, Save};
use crate::domain::{Workflow, WorkflowFile};
use crate::wire::{AdminWorkflowView, ErrorBody, WorkflowVersionDocumentView, WorkflowVersionView};

/// How the body is written: YAML only when it says so, JSON otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Syntax {
    Json,
    Yaml,
}

pub(super) fn syntax(headers: &HeaderMap) -> Result<Syntax, AppError> {
    let Some(raw) = headers.get(header::CONTENT_TYPE) else {
        return Ok(Syntax::Json);
    };
    let essence = String::from_utf8_lossy(raw.as_bytes())
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "" | "application/json" | "text/json" => Ok(Syntax::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => Ok(Syntax::Yaml),
        _ => Err(AppError::UnsupportedMediaType(format!(
            "{essence} (send application/json or application/yaml)"
        ))),
    }
}

pub(super) fn text(body: &Bytes) -> Result<&str, AppError> {
    std::str::from_utf8(body)
        .map_err(|_| AppError::InvalidRequest("the body is not UTF-8 text".into()))
}

/// A workflow document in the syntax the content type names. `WorkflowFile::parse` reads
/// JSON when the text starts with `{`, so a JSON body that does not is refused here rather
/// than read as YAML.
fn document(syntax: Syntax, text: &str) -> Result<WorkflowFile, AppError> {
    Ok(WorkflowFile::parse(json_is_an_object(syntax, text)?)?)
}

/// The text of a document sent as JSON must be an object (see [`document`]).
pub(super) fn json_is_an_object(syntax: Syntax, text: &str) -> Result<&str, AppError> {
    if syntax == Syntax::Json && !text.trim_start().starts_with('{') {
        return Err(AppError::InvalidJson(
            "a workflow document is a JSON object".into(),
        ));
    }
    Ok(text)
}

/// `PUT`'s JSON envelope: the document under `definition`, with what the save was based on.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ReplaceBody {
    /// The workflow document.
    #[schema(value_type = Object)]
    definition: Value,
    /// The version this replaces, if `If-Match` does not say it.
    #[serde(default)]
    base_version: Option<u32>,
    /// Kept with the version.
    #[serde(default)]
    note: Option<String>,
}

/// A `PUT` body: the bare document (JSON or YAML), or the JSON envelope.
fn replacement(
    syntax: Syntax,
    body: &Bytes,
) -> Result<(WorkflowFile, Option<u32>, Option<String>), AppError> {
    let text = text(body)?;
    if syntax == Syntax::Json {
        let value: Value =
            serde_json::from_str(text).map_err(|e| AppError::InvalidJson(e.to_string()))?;
        if value.get("definition").is_some() {
            let envelope: ReplaceBody = serde_json::from_value(value)
                .map_err(|e| AppError::InvalidRequest(e.to_string()))?;
            let file = WorkflowFile::from_value(envelope.definition)?;
            return Ok((file, envelope.base_version, envelope.note));
        }
    }
    Ok((document(syntax, text)?, None, None))
}

/// `If-Match: "3"` (an entity tag as `ETag` gives it; `W/` and bare numbers are taken too).
fn if_match(headers: &HeaderMap) -> Result<Option<u32>, AppError> {
    let mut values = headers.get_all(header::IF_MATCH).iter();
    let (Some(raw), None) = (values.next(), values.next()) else {
        return match headers.get(header::IF_MATCH) {
            None => Ok(None),
            Some(_) => Err(AppError::InvalidRequest(
                "If-Match was sent more than once; send one version".into(),
            )),
        };
    };
    let raw = String::from_utf8_lossy(raw.as_bytes());
    let tag = raw.trim();
    let tag = tag.strip_prefix("W/").unwrap_or(tag).trim_matches('"');
    tag.parse().map(Some).map_err(|_| {
        AppError::InvalidRequest(format!(
            "If-Match {raw:?} is not a workflow version; send the version read, as \"3\""
        ))
    })
}

/// The version a change is based on, from the header or the body; they must agree.
fn base_version(header: Option<u32>, body: Option<u32>) -> Result<Option<u32>, AppError> {
    match (header, body) {
        (Some(h), Some(b)) if h != b => Err(AppError::InvalidRequest(format!(
            "If-Match says version {h} and baseVersion {b}; send one"
        ))),
        (h, b) => Ok(h.or(b)),
    }
}

fn etag(version: u32) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!("\"{version}\"")).ok()
}

/// The workflow view with its version as `ETag`, for the next change's `If-Match`.
async fn view(app: &App, workflow: &Workflow, status: StatusCode) -> Result<Response, ApiError> {
    let activity = app.activity(workflow).await?;
    let mut view = AdminWorkflowView::new(workflow, &activity);
    if workflow.verify.is_some() {
        view = view.with_secrets(&app.signing_secrets(workflow).await?);
    }
    let mut response = (status, Json(view)).into_response();
    if let Some(tag) = etag(workflow.version) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    Ok(response)
}

fn saved_by(operator: &Operator) -> Save {
    Save {
        by: Some(operator.key_name.to_string()),
        ..Save::default()
    }
}

/// `POST /admin/workflows`: a workflow from a document, at version 1.
#[utoipa::path(
    post,
    path = "/admin/workflows",
    operation_id = "adminCreateWorkflow",
    tag = "admin",
    request_body(
        content((Object = "application/json"), (String = "application/yaml")),
        description = "A workflow document, as a workflow file has it (snake_case fields), in \
                       JSON or YAML"
    ),
    responses(
        (status = 201, description = "Created, at version 1", body = AdminWorkflowView, headers(("ETag" = String, description = "The version, as `If-Match` takes it: `\"3\"`"))),
        AdminErrors,
        (status = 409, description = "A workflow with this id exists (`already_exists`)", body = ErrorBody),
        (status = 415, description = "Neither JSON nor YAML (`unsupported_media_type`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn create(
    operator: Operator,
    State(app): State<App>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let file = document(syntax(&headers)?, text(&body)?)?;
    let workflow = app
        .create_workflow_as(NewWorkflow::from(file), saved_by(&operator))
        .await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id = %workflow.id, "workflow created");
    view(&app, &workflow, StatusCode::CREATED).await
}

/// `GET /admin/workflows/{id}`, with `ETag`.
#[utoipa::path(
    get,
    path = "/admin/workflows/{workflow_id}",
    operation_id = "adminGetWorkflow",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    responses(
        (status = 200, description = "The workflow", body = AdminWorkflowView, headers(("ETag" = String, description = "The version, as `If-Match` takes it: `\"3\"`"))),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn show(
    _: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
) -> Result<Response, ApiError> {
    let workflow = app.workflow(&workflow_id).await?;
    view(&app, &workflow, StatusCode::OK).await
}

/// `PUT /admin/workflows/{id}`: the whole document again, saved as a new version if the
/// version it names is still current.
#[utoipa::path(
    put,
    path = "/admin/workflows/{workflow_id}",
    operation_id = "adminReplaceWorkflow",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ("If-Match" = Option<String>, Header, description = "The version the change is based on, as `ETag` gave it")),
    request_body(
        content((ReplaceBody = "application/json"), (String = "application/yaml")),
        description = "The whole document again: in JSON under `definition` with `baseVersion` \
                       and `note`, or bare (JSON or YAML) with `If-Match`"
    ),
    responses(
        (status = 200, description = "Saved as a new version", body = AdminWorkflowView, headers(("ETag" = String, description = "The version, as `If-Match` takes it: `\"3\"`"))),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
        (status = 409, description = "Another save came first (`version_conflict`): read it again", body = ErrorBody),
        (status = 415, description = "Neither JSON nor YAML (`unsupported_media_type`)", body = ErrorBody),
        (status = 428, description = "Neither `If-Match` nor `baseVersion` says which version this replaces (`precondition_required`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn replace(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (file, body_base, note) = replacement(syntax(&headers)?, &body)?;
    let base = base_version(if_match(&headers)?, body_base)?.ok_or_else(|| {
        AppError::PreconditionRequired(
            "say which version this replaces: If-Match: \"<version>\" or baseVersion in the body"
                .into(),
        )
    })?;
    let save = Save {
        base_version: Some(base),
        note,
        ..saved_by(&operator)
    };
    let workflow = app
        .replace_workflow(&workflow_id, NewWorkflow::from(file), save)
        .await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id, version = workflow.version, "workflow replaced");
    view(&app, &workflow, StatusCode::OK).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnabledBody {
    enabled: bool,
}

/// `PATCH /admin/workflows/{id}` `{"enabled": bool}`: not a new version (the document is
/// unchanged).
#[utoipa::path(
    patch,
    path = "/admin/workflows/{workflow_id}",
    operation_id = "adminSetWorkflowEnabled",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    request_body(content = EnabledBody),
    responses(
        (status = 200, description = "The workflow, enabled or disabled", body = AdminWorkflowView, headers(("ETag" = String, description = "The version, as `If-Match` takes it: `\"3\"`"))),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn patch(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let EnabledBody { enabled } =
        serde_json::from_slice(&body).map_err(|e| AppError::InvalidJson(e.to_string()))?;
    let workflow = app.set_workflow_enabled(&workflow_id, enabled).await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id, enabled, "workflow enabled flag set");
    view(&app, &workflow, StatusCode::OK).await
}

/// `DELETE /admin/workflows/{id}`: `204`; executions stay until their retention ends.
#[utoipa::path(
    delete,
    path = "/admin/workflows/{workflow_id}",
    operation_id = "adminDeleteWorkflow",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    responses(
        (status = 204, description = "Deleted"),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn delete(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.delete_workflow(&workflow_id).await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id, "workflow deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Newest first.
#[utoipa::path(
    get,
    path = "/admin/workflows/{workflow_id}/versions",
    operation_id = "adminListWorkflowVersions",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    responses(
        (status = 200, description = "Its versions", body = Vec<WorkflowVersionView>),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn versions(
    _: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
) -> Result<Json<Vec<WorkflowVersionView>>, ApiError> {
    let versions = app.workflow_versions(&workflow_id).await?;
    Ok(Json(
        versions.iter().map(WorkflowVersionView::from).collect(),
    ))
}

fn number(raw: &str, workflow_id: &str) -> Result<u32, AppError> {
    raw.parse()
        .map_err(|_| AppError::NotFound(format!("version {raw} of workflow {workflow_id}")))
}

/// One version with its document.
#[utoipa::path(
    get,
    path = "/admin/workflows/{workflow_id}/versions/{version}",
    operation_id = "adminGetWorkflowVersion",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ("version" = u32, Path, description = "A version number, from 1")),
    responses(
        (status = 200, description = "The version", body = WorkflowVersionDocumentView),
        AdminErrors,
        (status = 404, description = "No such workflow or version", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn version(
    _: Operator,
    State(app): State<App>,
    Path((workflow_id, raw)): Path<(String, String)>,
) -> Result<Json<WorkflowVersionDocumentView>, ApiError> {
    let n = number(&raw, &workflow_id)?;
    let version = app.workflow_version(&workflow_id, n).await?;
    Ok(Json(WorkflowVersionDocumentView::from(&version)))
}

/// `{"note"}`, optional, for a restore.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    #[serde(default)]
    note: Option<String>,
}

/// A new version with the document of version `n`; `If-Match` optional (without, it is
/// based on the version current when it is read).
#[utoipa::path(
    post,
    path = "/admin/workflows/{workflow_id}/versions/{version}/restore",
    operation_id = "adminRestoreWorkflowVersion",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id"), ("version" = u32, Path, description = "A version number, from 1"), ("If-Match" = Option<String>, Header, description = "The version the change is based on, as `ETag` gave it")),
    request_body(content = Option<RestoreBody>, description = "Optional: an empty body is no note"),
    responses(
        (status = 200, description = "Saved as a new version with that document", body = AdminWorkflowView, headers(("ETag" = String, description = "The version, as `If-Match` takes it: `\"3\"`"))),
        AdminErrors,
        (status = 404, description = "No such workflow or version", body = ErrorBody),
        (status = 409, description = "Another save came first (`version_conflict`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn restore(
    operator: Operator,
    State(app): State<App>,
    Path((workflow_id, raw)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let n = number(&raw, &workflow_id)?;
    let RestoreBody { note } = super::request::json_body_or_default(&body)?;
    let save = Save {
        base_version: if_match(&headers)?,
        note,
        ..saved_by(&operator)
    };
    let workflow = app.restore_workflow_version(&workflow_id, n, save).await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id, restored = n, version = workflow.version, "workflow version restored");
    view(&app, &workflow, StatusCode::OK).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_if_match(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn if_match_takes_the_tags_etag_gives() {
        assert_eq!(if_match(&with_if_match("\"3\"")).unwrap(), Some(3));
        assert_eq!(if_match(&with_if_match("W/\"4\"")).unwrap(), Some(4));
        assert_eq!(if_match(&with_if_match("5")).unwrap(), Some(5));
        assert!(if_match(&with_if_match("*")).is_err());
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
    }

    #[test]
    fn header_and_body_must_agree() {
        assert_eq!(base_version(Some(2), Some(2)).unwrap(), Some(2));
        assert_eq!(base_version(None, Some(2)).unwrap(), Some(2));
        assert!(base_version(Some(1), Some(2)).is_err());
    }
}
