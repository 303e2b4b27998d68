use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ApiError;
use super::request::{api_key, body, header};
use crate::app::{Accepted, App, GenericDelivery};
use crate::domain::Trigger;

pub async fn receive(
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    request_body: Body,
) -> Result<Response, ApiError> {
    let workflow = app
        .authorize(
            &workflow_id,
            api_key(&headers, raw_query.as_deref()).as_deref(),
        )
        .await?;
    let bytes = body(&headers, request_body, app.config().body_limit_bytes).await?;
    let accepted = match workflow.trigger {
        Trigger::GenericWebhook => {
            let delivery = GenericDelivery {
                body: &bytes,
                content_type: header(&headers, "content-type"),
                idempotency_key: header(&headers, "idempotency-key"),
                sns_message_type: header(&headers, "x-amz-sns-message-type"),
            };
            app.accept_generic(&workflow, delivery).await?
        }
        Trigger::AmazonSns => return sns_not_ready(),
    };
    Ok(accepted_response(&accepted))
}

fn sns_not_ready() -> Result<Response, ApiError> {
    Err(ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "not_implemented",
        "amazon_sns triggers are not available yet",
    ))
}

/// 202 for a new execution; 200 with the earlier one for a repeat.
fn accepted_response(accepted: &Accepted) -> Response {
    let status = if accepted.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let body = json!({ "executionId": accepted.execution_id, "status": accepted.status, "duplicate": accepted.duplicate });
    (status, Json(body)).into_response()
}
