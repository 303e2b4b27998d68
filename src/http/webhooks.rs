use crate::wire::{AcceptedView, SlackChallengeView, SnsAnswer};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::request::{api_key, body, header, request_meta};
use crate::app::{Accepted, App, GenericRequest, SnsOutcome, SnsRequest};
use crate::domain::Trigger;
use crate::domain::signature::slack_url_challenge;

pub async fn receive(
    state: State<App>,
    path: Path<String>,
    headers: HeaderMap,
    query: RawQuery,
    request_body: Body,
) -> Result<Response, ApiError> {
    let started = std::time::Instant::now();
    let answer = answer(state, path, headers, query, request_body).await;
    if answer.is_ok() {
        crate::measure::accept_latency(started.elapsed().as_secs_f64());
    }
    answer
}

async fn answer(
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    request_body: Body,
) -> Result<Response, ApiError> {
    let key = api_key(&headers, raw_query.as_deref());
    let workflow = app.authorize_webhook(&workflow_id, key.as_deref()).await?;
    let bytes = body(&headers, request_body, app.config().body_limit_bytes).await?;
    // Over the bytes as received, before any parsing: a re-encoded body would not verify.
    let verified = app
        .verify_sender(&workflow, |name| header(&headers, name), &bytes)
        .await?;
    if let Some(challenge) = workflow
        .verify
        .as_ref()
        .and_then(|options| slack_url_challenge(options, &bytes))
    {
        return Ok((StatusCode::OK, Json(SlackChallengeView { challenge })).into_response());
    }
    let meta = request_meta(&headers, raw_query.as_deref());
    let response = match workflow.trigger {
        Trigger::GenericWebhook => {
            let request = GenericRequest {
                body: &bytes,
                content_type: header(&headers, "content-type"),
                // A signed delivery id wins over an unsigned Idempotency-Key, so a captured
                // request replayed with a new key is still the same execution.
                idempotency_key: verified
                    .delivery_id
                    .as_deref()
                    .or_else(|| header(&headers, "idempotency-key")),
                sns_message_type: header(&headers, "x-amz-sns-message-type"),
                meta,
            };
            accepted_response(&app.accept_generic(&workflow, request).await?)
        }
        Trigger::AmazonSns => {
            let request = SnsRequest {
                body: &bytes,
                message_type: header(&headers, "x-amz-sns-message-type"),
                raw_delivery: header(&headers, "x-amz-sns-rawdelivery"),
                meta,
            };
            sns_response(app.accept_sns(&workflow, request).await?)
        }
    };
    Ok(response)
}

/// 202 for a new execution; 200 with the earlier one for a repeat.
fn accepted_response(accepted: &Accepted) -> Response {
    crate::measure::accepted(accepted.duplicate);
    let status = if accepted.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (status, Json(AcceptedView::from(accepted))).into_response()
}

fn sns_response(outcome: SnsOutcome) -> Response {
    match (&outcome, SnsAnswer::from(&outcome)) {
        (SnsOutcome::Notification(accepted), _) => accepted_response(accepted),
        (_, SnsAnswer::Accepted(view)) => (StatusCode::OK, Json(view)).into_response(),
        (_, SnsAnswer::Control(view)) => (StatusCode::OK, Json(view)).into_response(),
    }
}
