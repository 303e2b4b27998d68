//! The console's Settings routes under `/admin`: API keys (create, list, rotate, retire,
//! revoke) and a workflow's signing secrets (set, rotate, retire), through the same use cases
//! as the CLI. A key's or a generated secret's value is in the one answer that creates it and
//! nowhere else: not in a listing, not in a log line (only the route and the name are logged).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::ApiError;
use super::admin::Operator;
use super::openapi::AdminErrors;
use super::request::{json_body, json_body_or_default};
use crate::app::{App, AppError};
use crate::domain::parse_duration;
use crate::wire::{
    AdminApiKeyView, ApiKeyView, CreatedApiKeyView, ErrorBody, RotatedApiKeyView, SecretsView,
};

/// `POST /admin/api-keys`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    pub name: String,
}

/// `POST /admin/api-keys/{name}/rotate`; without `retireAfter` the old value works until
/// retired.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RotateKeyBody {
    /// How long the old value still works, as `24h` or `7d`.
    #[serde(default)]
    pub retire_after: Option<String>,
}

/// `PUT /admin/workflows/{id}/secret` and `.../secret/rotate`: the provider's secret, or
/// `generate` for one made here, as the CLI's stdin or `--generate`. Exactly one.
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    /// The provider's secret.
    #[serde(default)]
    pub value: Option<String>,
    /// `true` for a secret made here, answered once in `value`.
    #[serde(default)]
    pub generate: bool,
}

impl SecretBody {
    /// `None` asks the service to generate the secret.
    fn into_value(self) -> Result<Option<String>, AppError> {
        match (self.value, self.generate) {
            (Some(value), false) => Ok(Some(value)),
            (None, true) => Ok(None),
            (Some(_), true) => Err(AppError::InvalidRequest(
                "send either value or generate, not both".into(),
            )),
            (None, false) => Err(AppError::InvalidRequest(
                "send {\"value\": \"...\"} with the provider's secret, or {\"generate\": true}"
                    .into(),
            )),
        }
    }
}

/// Every key, never its value, with the workflows that name it.
#[utoipa::path(
    get,
    path = "/admin/api-keys",
    operation_id = "adminListApiKeys",
    tag = "admin",
    responses(
        (status = 200, description = "The keys", body = Vec<AdminApiKeyView>),
        AdminErrors,
    ),
    security(("admin_key" = []))
)]
pub async fn list_keys(
    _: Operator,
    State(app): State<App>,
) -> Result<Json<Vec<AdminApiKeyView>>, ApiError> {
    let keys = app.api_key_overview().await?;
    Ok(Json(keys.iter().map(AdminApiKeyView::from).collect()))
}

/// A new key; its value is in this answer only.
#[utoipa::path(
    post,
    path = "/admin/api-keys",
    operation_id = "adminCreateApiKey",
    tag = "admin",
    request_body(content = NewKeyBody),
    responses(
        (status = 201, description = "Created, with its value", body = CreatedApiKeyView),
        AdminErrors,
        (status = 409, description = "A key with this name exists (`already_exists`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn create_key(
    operator: Operator,
    State(app): State<App>,
    raw: Bytes,
) -> Result<(StatusCode, Json<CreatedApiKeyView>), ApiError> {
    let body: NewKeyBody = json_body(&raw)?;
    let created = app.create_api_key(&body.name).await?;
    tracing::info!(admin_key = %operator.key_name, api_key = %created.key.name, "API key created");
    Ok((StatusCode::CREATED, Json(CreatedApiKeyView::from(&created))))
}

/// A new value for the key; the old one works until retired (or `retireAfter`).
#[utoipa::path(
    post,
    path = "/admin/api-keys/{name}/rotate",
    operation_id = "adminRotateApiKey",
    tag = "admin",
    params(("name" = String, Path, description = "The key's name")),
    request_body(content = Option<RotateKeyBody>, description = "Optional: an empty body keeps the old value until retired"),
    responses(
        (status = 200, description = "Rotated, with the new value", body = RotatedApiKeyView),
        AdminErrors,
        (status = 404, description = "No such key (`not_found`)", body = ErrorBody),
        (status = 409, description = "The key cannot be rotated now; the message says why (`conflict`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn rotate_key(
    operator: Operator,
    State(app): State<App>,
    Path(name): Path<String>,
    raw: Bytes,
) -> Result<Json<RotatedApiKeyView>, ApiError> {
    let body: RotateKeyBody = json_body_or_default(&raw)?;
    let retire_after = body
        .retire_after
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| AppError::InvalidRequest(format!("retireAfter: {e}")))?;
    let rotated = app.rotate_api_key(&name, retire_after).await?;
    tracing::info!(admin_key = %operator.key_name, api_key = %rotated.key.name, "API key rotated");
    Ok(Json(RotatedApiKeyView::from(&rotated)))
}

/// Stops the value from before the last rotation.
#[utoipa::path(
    post,
    path = "/admin/api-keys/{name}/retire",
    operation_id = "adminRetireApiKey",
    tag = "admin",
    params(("name" = String, Path, description = "The key's name")),
    responses(
        (status = 200, description = "The key", body = ApiKeyView),
        AdminErrors,
        (status = 404, description = "No such key (`not_found`)", body = ErrorBody),
        (status = 409, description = "Nothing to retire (`conflict`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn retire_key(
    operator: Operator,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let key = app.retire_api_key(&name).await?;
    tracing::info!(admin_key = %operator.key_name, api_key = %key.name, "API key's previous value retired");
    Ok(Json(ApiKeyView::from(&key)))
}

/// Revokes the key: its workflows answer `401` until they name another.
#[utoipa::path(
    delete,
    path = "/admin/api-keys/{name}",
    operation_id = "adminRevokeApiKey",
    tag = "admin",
    params(("name" = String, Path, description = "The key's name")),
    responses(
        (status = 200, description = "The key, revoked", body = ApiKeyView),
        AdminErrors,
        (status = 404, description = "No such key (`not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn revoke_key(
    operator: Operator,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let key = app.revoke_api_key(&name).await?;
    tracing::info!(admin_key = %operator.key_name, api_key = %key.name, "API key revoked");
    Ok(Json(ApiKeyView::from(&key)))
}

/// Sets the workflow's signing secret, replacing any.
#[utoipa::path(
    put,
    path = "/admin/workflows/{workflow_id}/secret",
    operation_id = "adminSetSigningSecret",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    request_body(content = SecretBody),
    responses(
        (status = 200, description = "The secrets (a generated value this once)", body = SecretsView),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn set_secret(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    raw: Bytes,
) -> Result<Json<SecretsView>, ApiError> {
    let value = json_body::<SecretBody>(&raw)?.into_value()?;
    let change = app.set_signing_secret(&workflow_id, value).await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id, "signing secret set");
    Ok(Json(SecretsView::from(&change)))
}

/// Adds a secret; both verify until the older one is retired.
#[utoipa::path(
    post,
    path = "/admin/workflows/{workflow_id}/secret/rotate",
    operation_id = "adminRotateSigningSecret",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    request_body(content = SecretBody),
    responses(
        (status = 200, description = "The secrets (a generated value this once)", body = SecretsView),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
        (status = 409, description = "The secrets cannot be rotated now; the message says why (`conflict`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn rotate_secret(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    raw: Bytes,
) -> Result<Json<SecretsView>, ApiError> {
    let value = json_body::<SecretBody>(&raw)?.into_value()?;
    let change = app.rotate_signing_secret(&workflow_id, value).await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id, "signing secret rotated");
    Ok(Json(SecretsView::from(&change)))
}

/// Removes the older of two secrets.
#[utoipa::path(
    post,
    path = "/admin/workflows/{workflow_id}/secret/retire",
    operation_id = "adminRetireSigningSecret",
    tag = "admin",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    responses(
        (status = 200, description = "The secrets", body = SecretsView),
        AdminErrors,
        (status = 404, description = "No such workflow (`workflow_not_found`, `not_found`)", body = ErrorBody),
        (status = 409, description = "Only one secret (`conflict`)", body = ErrorBody),
    ),
    security(("admin_key" = []))
)]
pub async fn retire_secret(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
) -> Result<Json<SecretsView>, ApiError> {
    let change = app.retire_signing_secret(&workflow_id).await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id, "older signing secret retired");
    Ok(Json(SecretsView::from(&change)))
}
