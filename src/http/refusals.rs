//! Counts the webhook requests a known workflow turned away (and the duplicates it answered
//! with an earlier execution) for the console's chart and the per-workflow metric. It wraps
//! every route, outside the guards, because some refusals (two different keys) are answered by
//! a guard before the webhook handler runs. It reads what the answer carries: `Refused` (put
//! there by `ApiError`), `Repeated` and `ForWorkflow` (put there by the webhook handler), so
//! no handler has to remember to count. Requests for an unknown or disabled workflow id are
//! not attributable to a workflow: they are in the aggregate metrics only, and never sampled.
//!
//! A refusal (not a duplicate) may also be sampled (`app::refusal_samples`): the refusing code
//! hands over what the request owned (`RefusedParts`, moved, never copied on the accept path)
//! and this keeps the first of each workflow, reason and minute.

use std::net::IpAddr;

use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use lambda_http::request::RequestContext;

use super::server::PeerAddr;
use crate::app::{App, AppError};
use crate::domain::{RefusedRequest, RejectionReason, WorkflowId};

/// The route whose refusals are counted per workflow.
pub(super) const WEBHOOK_ROUTE: &str = "/webhooks/{workflow_id}";

/// On a 4xx answer: its code and the console's group for it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Refused {
    pub code: &'static str,
    pub reason: RejectionReason,
}

/// On a webhook's answer once its workflow was found (enabled), whatever the outcome.
#[derive(Debug, Clone)]
pub(super) struct ForWorkflow(pub WorkflowId);

/// On a webhook's answer that repeated an earlier delivery.
#[derive(Debug, Clone, Copy)]
pub(super) struct Repeated;

/// On a refusal's answer: the request's headers, and its body when it was read, for the
/// sample. Put there only where a request is refused, moved from what the request owned.
#[derive(Debug, Clone, Default)]
pub(super) struct RefusedParts {
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// The request came with a body (read or not): tells "not read" from "empty".
    pub had_body: bool,
}

pub(super) async fn count(State(app): State<App>, request: Request, next: Next) -> Response {
    let target = webhook_target(&request);
    let source = target.as_ref().and_then(|_| source_ip(&request));
    let mut response = next.run(request).await;
    if let Some(raw_id) = target
        && let Some(outcome) = Outcome::of(&mut response)
    {
        attribute(&app, &raw_id, outcome, source).await;
    }
    // Every request gives waiting counts a chance to be written: on Lambda a request is the
    // only time the function runs.
    app.flush_rejections_if_due();
    response
}

/// The raw workflow id of a webhook request (`POST /webhooks/{workflow_id}`).
fn webhook_target(request: &Request) -> Option<String> {
    let matched = request.extensions().get::<MatchedPath>()?;
    if matched.as_str() != WEBHOOK_ROUTE || request.method() != Method::POST {
        return None;
    }
    let raw = request.uri().path().rsplit('/').next()?;
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|id| id.into_owned())
}

/// What a webhook's answer says about counting it, read before anything is awaited (an
/// answer's body cannot be held across an await).
struct Outcome {
    reason: RejectionReason,
    /// The refusal's code, when it was one.
    code: Option<&'static str>,
    workflow: Option<WorkflowId>,
    status: u16,
    parts: Option<RefusedParts>,
}

impl Outcome {
    /// `None` for an answer that is neither a refusal nor a duplicate.
    fn of(response: &mut Response) -> Option<Self> {
        let status = response.status().as_u16();
        let parts = response.extensions_mut().remove::<RefusedParts>();
        let extensions = response.extensions();
        let refused = extensions.get::<Refused>();
        let reason = match (extensions.get::<Repeated>(), refused) {
            (Some(_), _) => RejectionReason::Duplicate,
            (None, Some(refused)) => refused.reason,
            (None, None) => return None,
        };
        Some(Self {
            reason,
            code: refused.map(|r| r.code),
            workflow: extensions.get::<ForWorkflow>().map(|w| w.0.clone()),
            status,
            parts,
        })
    }
}

/// Where the request came from: the connection's peer under `serve`, API Gateway's
/// `sourceIp` on Lambda. Never a forwarding header, which the sender writes itself.
fn source_ip(request: &Request) -> Option<IpAddr> {
    let extensions = request.extensions();
    if let Some(peer) = extensions.get::<PeerAddr>() {
        return Some(peer.0);
    }
    let raw = match extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.as_deref(),
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref(),
        _ => None,
    };
    raw?.parse().ok()
}

/// Keeps the refusal's sample when it is the first of its workflow, reason and minute here.
async fn sample(app: &App, workflow: &WorkflowId, outcome: Outcome, source: Option<IpAddr>) {
    let at = Utc::now();
    let Some(code) = outcome.code else {
        return;
    };
    if !app.wants_refusal_sample(workflow, outcome.reason, at) {
        return;
    }
    let parts = outcome.parts.unwrap_or_default();
    app.keep_refusal_sample(RefusedRequest {
        workflow_id: workflow,
        at,
        status: outcome.status,
        code,
        reason: outcome.reason,
        source_ip: source.map(|ip| ip.to_string()),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes())),
        body: parts.body.as_deref(),
        had_body: parts.had_body,
    })
    .await;
}

async fn attribute(app: &App, raw_id: &str, mut outcome: Outcome, source: Option<IpAddr>) {
    let workflow = match outcome.workflow.take() {
        Some(id) => id,
        // The handler did not find the workflow: nothing to attribute.
        None if outcome.code == Some(AppError::WorkflowNotFound.code()) => return,
        // A guard answered before the handler looked (two different keys): look now, through
        // the cache the handler would have used. The answer is already decided.
        None => match app.webhook_workflow(raw_id).await {
            Ok(workflow) => workflow.id,
            Err(_) => return,
        },
    };
    let reason = outcome.reason;
    if reason != RejectionReason::Duplicate {
        crate::measure::rejected_by_workflow(&workflow, reason);
        // Before the count, whose flush then carries the sample.
        sample(app, &workflow, outcome, source).await;
    }
    app.note_rejection(&workflow, reason);
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::apigw::{ApiGatewayProxyRequestContext, ApiGatewayV2httpRequestContext};
    use axum::body::Body;

    fn request_with<T: Clone + Send + Sync + 'static>(extension: Option<T>) -> Request {
        let mut request = Request::new(Body::empty());
        if let Some(extension) = extension {
            request.extensions_mut().insert(extension);
        }
        request
    }

    #[test]
    fn the_source_is_the_peer_or_api_gateways_source_ip_never_a_header() {
        let peer = PeerAddr("192.0.2.1".parse().unwrap());
        assert_eq!(
            source_ip(&request_with(Some(peer))),
            Some("192.0.2.1".parse().unwrap())
        );

        let mut v1 = ApiGatewayProxyRequestContext::default();
        v1.identity.source_ip = Some("198.51.100.2".into());
        let v1 = request_with(Some(RequestContext::ApiGatewayV1(v1)));
        assert_eq!(source_ip(&v1), Some("198.51.100.2".parse().unwrap()));

        let mut v2 = ApiGatewayV2httpRequestContext::default();
        v2.http.source_ip = Some("2001:db8::3".into());
        let v2 = request_with(Some(RequestContext::ApiGatewayV2(v2)));
        assert_eq!(source_ip(&v2), Some("2001:db8::3".parse().unwrap()));

        let mut forwarded = request_with::<PeerAddr>(None);
        forwarded
            .headers_mut()
            .insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
        assert_eq!(source_ip(&forwarded), None);
    }
}
