//! The console's Settings routes under `/admin`: API keys (create, list, rotate, retire,
//! revoke) and a workflow's signing secrets (set, rotate, retire), through the same use cases
//! as the CLI. A key's or a generated secret's value is in the one answer that creates it and
//! nowhere else: not in a listing, not in a log line (only the route and the name are logged).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::ApiError;
use super::admin::Operator;
use crate::app::{App, AppError};
use crate::domain::parse_duration;
use crate::wire::{AdminApiKeyView, ApiKeyView, CreatedApiKeyView, RotatedApiKeyView, SecretsView};

/// `POST /admin/api-keys`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    pub name: String,
}

/// `POST /admin/api-keys/{name}/rotate`; without `retireAfter` the old value works until
/// retired.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RotateKeyBody {
    #[serde(default)]
    pub retire_after: Option<String>,
}

/// `PUT /admin/workflows/{id}/secret` and `.../secret/rotate`: the provider's secret, or
/// `generate` for one made here, as the CLI's stdin or `--generate`. Exactly one.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretBody {
    #[serde(default)]
    pub value: Option<String>,
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

/// An empty body is the default; anything else must be the JSON object the route takes.
fn json_body<T: DeserializeOwned + Default>(raw: &Bytes) -> Result<T, AppError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    required_json(raw)
}

fn required_json<T: DeserializeOwned>(raw: &Bytes) -> Result<T, AppError> {
    serde_json::from_slice(raw).map_err(|e| AppError::InvalidJson(e.to_string()))
}

pub async fn list_keys(
    _: Operator,
    State(app): State<App>,
) -> Result<Json<Vec<AdminApiKeyView>>, ApiError> {
    let keys = app.api_key_overview().await?;
    Ok(Json(keys.iter().map(AdminApiKeyView::from).collect()))
}

pub async fn create_key(
    operator: Operator,
    State(app): State<App>,
    raw: Bytes,
) -> Result<(StatusCode, Json<CreatedApiKeyView>), ApiError> {
    let body: NewKeyBody = required_json(&raw)?;
    let created = app.create_api_key(&body.name).await?;
    tracing::info!(admin_key = %operator.key_name, api_key = %created.key.name, "API key created");
    Ok((StatusCode::CREATED, Json(CreatedApiKeyView::from(&created))))
}

pub async fn rotate_key(
    operator: Operator,
    State(app): State<App>,
    Path(name): Path<String>,
    raw: Bytes,
) -> Result<Json<RotatedApiKeyView>, ApiError> {
    let body: RotateKeyBody = json_body(&raw)?;
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

pub async fn retire_key(
    operator: Operator,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let key = app.retire_api_key(&name).await?;
    tracing::info!(admin_key = %operator.key_name, api_key = %key.name, "API key's previous value retired");
    Ok(Json(ApiKeyView::from(&key)))
}

pub async fn revoke_key(
    operator: Operator,
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let key = app.revoke_api_key(&name).await?;
    tracing::info!(admin_key = %operator.key_name, api_key = %key.name, "API key revoked");
    Ok(Json(ApiKeyView::from(&key)))
}

pub async fn set_secret(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    raw: Bytes,
) -> Result<Json<SecretsView>, ApiError> {
    let value = required_json::<SecretBody>(&raw)?.into_value()?;
    let change = app.set_signing_secret(&workflow_id, value).await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id, "signing secret set");
    Ok(Json(SecretsView::from(&change)))
}

pub async fn rotate_secret(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    raw: Bytes,
) -> Result<Json<SecretsView>, ApiError> {
    let value = required_json::<SecretBody>(&raw)?.into_value()?;
    let change = app.rotate_signing_secret(&workflow_id, value).await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id, "signing secret rotated");
    Ok(Json(SecretsView::from(&change)))
}

pub async fn retire_secret(
    operator: Operator,
    State(app): State<App>,
    Path(workflow_id): Path<String>,
) -> Result<Json<SecretsView>, ApiError> {
    let change = app.retire_signing_secret(&workflow_id).await?;
    tracing::info!(admin_key = %operator.key_name, workflow_id, "older signing secret retired");
    Ok(Json(SecretsView::from(&change)))
}
