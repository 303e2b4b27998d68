use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ApiError;
use super::request::{api_key, body, header};
use crate::app::{Accepted, App, GenericDelivery, SnsDelivery, SnsOutcome};
use crate::domain::Trigger;

pub async fn receive(
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    request_body: Body,
) -> Result<Response, ApiError> {
    let key = api_key(&headers, raw_query.as_deref());
    let workflow = app.authorize(&workflow_id, key.as_deref()).await?;
    let bytes = body(&headers, request_body, app.config().body_limit_bytes).await?;
    let response = match workflow.trigger {
        Trigger::GenericWebhook => {
            let delivery = GenericDelivery {
                body: &bytes,
                content_type: header(&headers, "content-type"),
                idempotency_key: header(&headers, "idempotency-key"),
                sns_message_type: header(&headers, "x-amz-sns-message-type"),
            };
            accepted_response(&app.accept_generic(&workflow, delivery).await?)
        }
        Trigger::AmazonSns => {
            let delivery = SnsDelivery {
                body: &bytes,
                message_type: header(&headers, "x-amz-sns-message-type"),
                raw_delivery: header(&headers, "x-amz-sns-rawdelivery"),
            };
            sns_response(app.accept_sns(&workflow, delivery).await?)
        }
    };
    Ok(response)
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

fn sns_response(outcome: SnsOutcome) -> Response {
    match outcome {
        SnsOutcome::Notification(accepted) => accepted_response(&accepted),
        SnsOutcome::SubscriptionConfirmed(s) => {
            let body = json!({ "status": "subscription_confirmed", "topicArn": s.topic_arn, "subscriptionArn": s.subscription_arn });
            (StatusCode::OK, Json(body)).into_response()
        }
        SnsOutcome::Unsubscribed(s) => (
            StatusCode::OK,
            Json(json!({ "status": "unsubscribed", "topicArn": s.topic_arn })),
        )
            .into_response(),
    }
}
