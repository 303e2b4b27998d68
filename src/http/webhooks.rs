use crate::wire::{AcceptedView, SlackChallengeView, SnsAnswer};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::refusals::{ForWorkflow, Repeated};
use super::request::{api_key, body, header, request_meta};
use crate::app::{Accepted, App, GenericRequest, SnsOutcome, SnsRequest};
use crate::domain::signature::slack_url_challenge;
use crate::domain::{Trigger, Workflow, WorkflowId};

pub async fn receive(
    State(app): State<App>,
    Path(workflow_id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    request_body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let workflow = match app.webhook_workflow(&workflow_id).await {
        Ok(workflow) => workflow,
        Err(err) => return ApiError::from(err).into_response(),
    };
    let mut response = match answer(&app, &workflow, headers, raw_query, request_body).await {
        Ok(response) => {
            crate::measure::accept_latency(started.elapsed().as_secs_f64());
            response
        }
        Err(err) => err.into_response(),
    };
    // From here on, whatever the answer, it concerns a known workflow (`refusals::count`).
    response
        .extensions_mut()
        .insert(ForWorkflow(workflow.id.clone()));
    response
}

async fn answer(
    app: &App,
    workflow: &Workflow,
    headers: HeaderMap,
    raw_query: Option<String>,
    request_body: Body,
) -> Result<Response, ApiError> {
    let key = api_key(&headers, raw_query.as_deref());
    app.check_webhook_key(workflow, key.as_deref()).await?;
    let bytes = body(&headers, request_body, app.config().body_limit_bytes).await?;
    // Over the bytes as received, before any parsing: a re-encoded body would not verify.
    let verified = app
        .verify_sender(workflow, |name| header(&headers, name), &bytes)
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
            accepted_response(&workflow.id, &app.accept_generic(workflow, request).await?)
        }
        Trigger::AmazonSns => {
            let request = SnsRequest {
                body: &bytes,
                message_type: header(&headers, "x-amz-sns-message-type"),
                raw_delivery: header(&headers, "x-amz-sns-rawdelivery"),
                meta,
            };
            sns_response(&workflow.id, app.accept_sns(workflow, request).await?)
        }
    };
    Ok(response)
}

/// 202 for a new execution; 200 with the earlier one for a repeat.
fn accepted_response(workflow: &WorkflowId, accepted: &Accepted) -> Response {
    crate::measure::accepted(workflow, accepted.duplicate);
    let status = if accepted.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    let mut response = (status, Json(AcceptedView::from(accepted))).into_response();
    if accepted.duplicate {
        response.extensions_mut().insert(Repeated);
    }
    response
}

fn sns_response(workflow: &WorkflowId, outcome: SnsOutcome) -> Response {
    match (&outcome, SnsAnswer::from(&outcome)) {
        (SnsOutcome::Notification(accepted), _) => accepted_response(workflow, accepted),
        (_, SnsAnswer::Accepted(view)) => (StatusCode::OK, Json(view)).into_response(),
        (_, SnsAnswer::Control(view)) => (StatusCode::OK, Json(view)).into_response(),
    }
}
