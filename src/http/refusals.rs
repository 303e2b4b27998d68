//! Counts the webhook requests a known workflow turned away (and the duplicates it answered
//! with an earlier execution) for the console's chart and the per-workflow metric. It wraps
//! every route, outside the guards, because some refusals (two different keys) are answered by
//! a guard before the webhook handler runs. It reads what the answer carries: `Refused` (put
//! there by `ApiError`), `Repeated` and `ForWorkflow` (put there by the webhook handler), so
//! no handler has to remember to count. Requests for an unknown or disabled workflow id are
//! not attributable to a workflow: they are in the aggregate metrics only.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use crate::app::{App, AppError};
use crate::domain::{RejectionReason, WorkflowId};

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

pub(super) async fn count(State(app): State<App>, request: Request, next: Next) -> Response {
    let target = webhook_target(&request);
    let response = next.run(request).await;
    if let Some(raw_id) = target
        && let Some(outcome) = Outcome::of(&response)
    {
        attribute(&app, &raw_id, outcome).await;
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
}

impl Outcome {
    /// `None` for an answer that is neither a refusal nor a duplicate.
    fn of(response: &Response) -> Option<Self> {
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
        })
    }
}

async fn attribute(app: &App, raw_id: &str, outcome: Outcome) {
    let workflow = match outcome.workflow {
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
    if outcome.reason != RejectionReason::Duplicate {
        crate::measure::rejected_by_workflow(&workflow, outcome.reason);
    }
    app.note_rejection(&workflow, outcome.reason);
}
