use crate::wire::{AcceptedView, ErrorBody, SlackChallengeView, SnsAnswer, WebhookAnswerView};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::refusals::{ForWorkflow, RefusedParts, Repeated};
use super::request::{api_key, body, header, request_meta};
use crate::app::{Accepted, App, GenericRequest, SnsOutcome, SnsRequest};
use crate::domain::signature::slack_url_challenge;
use crate::domain::{Trigger, Workflow, WorkflowId};

/// Starts an execution of the workflow with the request's body.
#[utoipa::path(
    post,
    path = "/webhooks/{workflow_id}",
    operation_id = "receiveWebhook",
    tag = "webhooks",
    params(("workflow_id" = String, Path, description = "The workflow's id")),
    request_body(
        description = "The event, as the sender sends it: JSON for a generic webhook; for `amazon_sns`, \
                       the SNS message (SNS sends it as `text/plain`)",
        content((Value = "application/json"), (String = "text/plain"))
    ),
    responses(
        (status = 202, description = "A new execution, queued", body = AcceptedView),
        (status = 200, description = "A repeat of an earlier delivery (`duplicate: true`, same `Idempotency-Key` \
                                      or SNS message id), an SNS subscription confirmation or unsubscribe, or \
                                      Slack's URL check", body = WebhookAnswerView),
        (status = 400, description = "Unreadable body or SNS message, two different keys, or the wrong \
                                      trigger type", body = ErrorBody),
        (status = 401, description = "No or a wrong API key, or a missing, wrong or stale signature \
                                      (`missing_api_key`, `invalid_api_key`, `missing_signature`, \
                                      `invalid_signature`, `stale_timestamp`)", body = ErrorBody),
        (status = 404, description = "No such workflow, or it is disabled (`workflow_not_found`)", body = ErrorBody),
        (status = 408, description = "The body did not arrive in time (`request_timeout`)", body = ErrorBody),
        (status = 413, description = "The body is over the limit (`payload_too_large`)", body = ErrorBody),
        (status = 415, description = "A content type that cannot carry JSON (`unsupported_media_type`)", body = ErrorBody),
        (status = 422, description = "The body (an SNS message: its parsed `Message`) does not match the workflow's \
                                      `payload_schema`, or is not JSON (`payload_invalid`); `error.details` lists \
                                      up to 10 `{pointer, message}`", body = ErrorBody),
        (status = 502, description = "Amazon SNS could not be reached to confirm or verify (`upstream_failed`)", body = ErrorBody),
        (status = 503, description = "The store or the queue is unavailable; retry after `Retry-After`", body = ErrorBody),
    ),
    security((), ("api_key" = []), ("api_key_query" = []))
)]
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
    let mut body_read = None;
    let had_body = !http_body::Body::is_end_stream(&request_body);
    let answered = answer(
        &app,
        &workflow,
        &headers,
        raw_query,
        request_body,
        &mut body_read,
    )
    .await;
    let mut response = match answered {
        Ok(response) => {
            crate::measure::accept_latency(started.elapsed().as_secs_f64());
            response
        }
        Err(err) => {
            let mut response = err.into_response();
            // For the refusal's sample (`refusals::count`): moved, the request is done.
            response.extensions_mut().insert(RefusedParts {
                headers,
                body: body_read,
                had_body,
            });
            response
        }
    };
    // From here on, whatever the answer, it concerns a known workflow (`refusals::count`).
    response
        .extensions_mut()
        .insert(ForWorkflow(workflow.id.clone()));
    response
}

/// `body_read` receives the body once read, so a refusal after that can show it.
async fn answer(
    app: &App,
    workflow: &Workflow,
    headers: &HeaderMap,
    raw_query: Option<String>,
    request_body: Body,
    body_read: &mut Option<Bytes>,
) -> Result<Response, ApiError> {
    let key = api_key(headers, raw_query.as_deref());
    app.check_webhook_key(workflow, key.as_deref()).await?;
    let bytes: &Bytes =
        body_read.insert(body(headers, request_body, app.config().body_limit_bytes).await?);
    // Over the bytes as received, before any parsing: a re-encoded body would not verify.
    let verified = app
        .verify_sender(workflow, |name| header(headers, name), bytes)
        .await?;
    if let Some(challenge) = workflow
        .verify
        .as_ref()
        .and_then(|options| slack_url_challenge(options, bytes))
    {
        return Ok((StatusCode::OK, Json(SlackChallengeView { challenge })).into_response());
    }
    let meta = request_meta(headers, raw_query.as_deref());
    let response = match workflow.trigger {
        Trigger::GenericWebhook => {
            let request = GenericRequest {
                body: bytes,
                content_type: header(headers, "content-type"),
                // A signed delivery id wins over an unsigned Idempotency-Key, so a captured
                // request replayed with a new key is still the same execution.
                idempotency_key: verified
                    .delivery_id
                    .as_deref()
                    .or_else(|| header(headers, "idempotency-key")),
                sns_message_type: header(headers, "x-amz-sns-message-type"),
                meta,
            };
            accepted_response(&workflow.id, &app.accept_generic(workflow, request).await?)
        }
        Trigger::AmazonSns => {
            let request = SnsRequest {
                body: bytes,
                message_type: header(headers, "x-amz-sns-message-type"),
                raw_delivery: header(headers, "x-amz-sns-rawdelivery"),
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
