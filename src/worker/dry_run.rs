//! `workflows dry-run`: a workflow's path rendered against a stored execution, with nothing
//! sent. It follows the path the execution would take (which case a branch matches, each item
//! of a `for_each` up to [`MAX_PREVIEW_ITEMS`]); steps that send (HTTP, SNS) show the request
//! they would make, and the outputs later steps see are the ones the execution recorded when
//! it ran, if it did. Steps off the path are listed as not reached.

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use super::route::{self, Route};
use super::steps::{ExecutionInfo, StepContext, preview_step};
use crate::domain::{
    Execution, Step, StepRecord, StepStatus, TemplateEngine, Workflow, WorkflowStep,
};

/// The items of a `for_each` a dry-run shows; the rest are counted.
pub const MAX_PREVIEW_ITEMS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepPreview {
    pub id: String,
    /// `chat[3].post` for a step inside a loop's item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    /// What the step would do (`request`, `output`, `passes`, `fails`, `matched`/`next`,
    /// `stops`, `items`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<Value>,
    /// Why it could not be rendered (a missing field, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Off the path: a branch went elsewhere, or a filter, `stop` or failure ended the run
    /// before it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_reached: bool,
}

pub fn dry_run(
    workflow: &Workflow,
    execution: &Execution,
    templates: &TemplateEngine,
) -> Vec<StepPreview> {
    let mut ctx = StepContext::new(
        execution.trigger_context(),
        ExecutionInfo {
            id: execution.id.to_string(),
            workflow_id: workflow.id.to_string(),
            attempt: execution.attempts.max(1),
        },
    );
    let mut previews = Vec::with_capacity(workflow.steps.len());
    walk(
        &workflow.steps,
        &mut ctx,
        execution,
        templates,
        &mut previews,
    );
    previews
}

/// Previews one list along its path; returns the last preview's output.
fn walk(
    steps: &[WorkflowStep],
    ctx: &mut StepContext,
    execution: &Execution,
    templates: &TemplateEngine,
    previews: &mut Vec<StepPreview>,
) {
    let mut reached = vec![false; steps.len()];
    let mut slots: Vec<Option<StepPreview>> = vec![None; steps.len()];
    let mut inner: Vec<Vec<StepPreview>> = vec![Vec::new(); steps.len()];
    let mut at = if steps.is_empty() {
        Route::Complete
    } else {
        Route::To(0)
    };
    while let Route::To(index) = at {
        let step = &steps[index];
        reached[index] = true;
        let path = ctx.path_of(&step.id);
        let result = preview_step(step, ctx, &execution.id.to_string(), templates);
        if let (Step::ForEach(each), Ok(preview)) = (&step.action, &result)
            && let Some(items) = preview.get("items").and_then(Value::as_array)
        {
            for (i, item) in items.iter().take(MAX_PREVIEW_ITEMS).enumerate() {
                let mut item_ctx = ctx.for_item(&step.id, &each.as_name, item, i, items.len());
                walk(
                    &each.steps,
                    &mut item_ctx,
                    execution,
                    templates,
                    &mut inner[index],
                );
            }
        }
        let record = as_record(step, &result, execution);
        ctx.record(&record);
        let preview = match (&step.action, result) {
            (Step::ForEach(_), Ok(p)) => {
                let count = p.get("items").and_then(Value::as_array).map_or(0, Vec::len);
                (
                    Some(json!({ "items": count, "shown": count.min(MAX_PREVIEW_ITEMS) })),
                    None,
                )
            }
            (_, Ok(p)) => (Some(p), None),
            (_, Err(e)) => (None, Some(e)),
        };
        slots[index] = Some(StepPreview {
            id: step.id.clone(),
            path: (path != step.id).then_some(path),
            kind: step.action.kind().to_owned(),
            preview: preview.0,
            error: preview.1,
            not_reached: false,
        });
        at = route::after(steps, index, &record);
    }
    for (index, step) in steps.iter().enumerate() {
        let preview = slots[index].take().unwrap_or_else(|| StepPreview {
            id: step.id.clone(),
            path: Some(ctx.path_of(&step.id)).filter(|p| *p != step.id),
            kind: step.action.kind().to_owned(),
            preview: None,
            error: None,
            not_reached: !reached[index],
        });
        previews.push(preview);
        previews.append(&mut inner[index]);
    }
}

/// The record the step would leave, as far as a preview can tell: a send is taken to
/// succeed with the output the execution recorded for it (if it ran), a render error to fail.
fn as_record(
    step: &WorkflowStep,
    result: &Result<Value, String>,
    execution: &Execution,
) -> StepRecord {
    let recorded = || {
        execution
            .steps
            .iter()
            .find(|r| r.id == step.id)
            .and_then(|r| r.output.clone())
    };
    let (status, output, error) = match (&step.action, result) {
        (_, Err(e)) => (StepStatus::Failed, None, Some(e.clone())),
        (Step::Fail(fail), Ok(_)) => (StepStatus::Failed, None, Some(fail.message.clone())),
        (Step::Filter(_), Ok(p)) if p.get("passes") == Some(&Value::Bool(false)) => {
            (StepStatus::Filtered, Some(json!({"passed": false})), None)
        }
        (Step::Filter(_), Ok(_)) => (StepStatus::Succeeded, Some(json!({"passed": true})), None),
        (Step::Stop(_), Ok(p)) => {
            let reason = p.get("stops").cloned().unwrap_or(Value::Null);
            (StepStatus::Stopped, Some(json!({ "reason": reason })), None)
        }
        (Step::Transform(_) | Step::Echo, Ok(p)) => {
            (StepStatus::Succeeded, p.get("output").cloned(), None)
        }
        (Step::Branch(_), Ok(p)) => (StepStatus::Succeeded, Some(p.clone()), None),
        _ => (StepStatus::Succeeded, recorded(), None),
    };
    let now = Utc::now();
    StepRecord {
        id: step.id.clone(),
        path: None,
        kind: step.action.kind().to_owned(),
        status,
        attempts: 1,
        started_at: now,
        finished_at: now,
        request: None,
        output,
        error,
        continued: status == StepStatus::Failed && step.continue_on_error,
        next: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApiKeyName, SnsOptions, Trigger, TriggerMeta, WorkflowFile, WorkflowId};
    use chrono::Utc;
    use serde_json::json;

    fn workflow(yaml: &str) -> Workflow {
        let file = WorkflowFile::parse(yaml).expect("valid file");
        Workflow::new(
            &file.name,
            Trigger::GenericWebhook,
            ApiKeyName::parse("k").unwrap(),
            file.steps,
            SnsOptions::default(),
            Utc::now(),
        )
        .expect("valid workflow")
    }

    fn execution(body: Value) -> Execution {
        Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::GenericWebhook {
                content_type: None,
                idempotency_key: None,
                body_bytes: 2,
            },
            body,
            Utc::now(),
            chrono::Duration::days(1),
        )
    }

    const FILE: &str = r#"
name: preview
api_key: k
steps:
  - id: shape
    type: transform
    output: { text: "order {{ trigger.body.id }}", id: "{{ trigger.body.id }}" }
  - id: notify
    type: http_request
    url: https://hooks.example.com/x
    headers: { Authorization: "Bearer secret-token" }
    body: { text: "{{ steps.shape.output.text }}" }
"#;

    #[test]
    fn a_dry_run_renders_the_request_it_would_send_and_redacts_it() {
        let previews = dry_run(
            &workflow(FILE),
            &execution(json!({"id": 7})),
            &TemplateEngine::new(),
        );
        assert_eq!(previews.len(), 2);
        assert_eq!(
            previews[0].preview,
            Some(json!({"output": {"text": "order 7", "id": 7}}))
        );
        let request = &previews[1].preview.as_ref().unwrap()["request"];
        assert_eq!(request["body"], json!({"text": "order 7"}));
        assert_eq!(request["url"], "https://hooks.example.com/x");
        assert!(!request.to_string().contains("secret-token"));
    }

    #[test]
    fn a_dry_run_says_how_long_it_would_wait_and_shows_the_notice_with_placeholder_urls() {
        let yaml = r#"
name: preview
api_key: k
steps:
  - id: cool_down
    type: wait
    for: 10m
  - id: approve
    type: approval
    timeout: 2h
    notify:
      type: http_request
      url: https://chat.example.com/hook
      body: {text: "Deploy {{ trigger.body.id }}? {{ approval.approveUrl }}"}
  - id: after
    type: transform
    output: {ok: true}
"#;
        let before = Utc::now();
        let previews = dry_run(
            &workflow(yaml),
            &execution(json!({"id": 7})),
            &TemplateEngine::new(),
        );
        let wait = previews[0].preview.as_ref().expect("wait preview");
        let until: chrono::DateTime<Utc> =
            serde_json::from_value(wait["wouldWaitUntil"].clone()).expect("a time");
        assert!(until >= before + chrono::Duration::minutes(10));
        let approval = previews[1].preview.as_ref().expect("approval preview");
        assert_eq!(approval["timeout"], "2h");
        let text = approval["notify"]["request"]["body"]["text"]
            .as_str()
            .unwrap_or_default();
        assert!(
            text.starts_with("Deploy 7? ") && text.contains("/callbacks/{token}?decision=approve"),
            "{text}"
        );
        assert!(
            !previews[2].not_reached,
            "the dry-run takes the approved path"
        );
    }

    #[test]
    fn a_missing_field_is_reported_per_step_and_a_failed_filter_marks_the_rest() {
        let yaml = r#"
name: preview
api_key: k
steps:
  - id: only_pushes
    type: filter
    when: trigger.body.kind == "push"
  - id: shape
    type: transform
    output: "{{ trigger.body.missing }}"
"#;
        let wf = workflow(yaml);
        let templates = TemplateEngine::new();
        let previews = dry_run(&wf, &execution(json!({"kind": "tag"})), &templates);
        assert_eq!(previews[0].preview, Some(json!({"passes": false})));
        assert!(previews[1].not_reached);
        assert_eq!(
            previews[1].preview, None,
            "nothing is rendered off the path"
        );

        let previews = dry_run(&wf, &execution(json!({"kind": "push"})), &templates);
        assert!(!previews[1].not_reached);
        let error = previews[1].error.as_deref().unwrap_or_default();
        assert!(error.contains("missing"), "{error}");
    }

    #[test]
    fn a_dry_run_follows_the_branch_and_previews_each_item_up_to_the_cap() {
        let yaml = r#"
name: preview
api_key: k
steps:
  - id: route
    type: branch
    cases:
      - when: trigger.body.kind == "many"
        next: each
    default: other
  - id: each
    type: for_each
    items: trigger.body.list
    as: x
    steps:
      - id: post
        type: http_request
        url: https://hooks.example.com/x
        body: {n: "{{ x }}", at: "{{ loop.index }}"}
    next: end
  - id: other
    type: stop
    reason: "kind {{ trigger.body.kind }}"
"#;
        let wf = workflow(yaml);
        let templates = TemplateEngine::new();
        let list: Vec<u32> = (0..12).collect();
        let previews = dry_run(
            &wf,
            &execution(json!({"kind": "many", "list": list})),
            &templates,
        );
        assert_eq!(
            previews[0].preview,
            Some(json!({"matched": 0, "next": "each"}))
        );
        assert_eq!(
            previews[1].preview,
            Some(json!({"items": 12, "shown": MAX_PREVIEW_ITEMS}))
        );
        let items: Vec<&StepPreview> = previews.iter().filter(|p| p.id == "post").collect();
        assert_eq!(items.len(), MAX_PREVIEW_ITEMS);
        assert_eq!(items[3].path.as_deref(), Some("each[3].post"));
        let body = &items[3].preview.as_ref().unwrap()["request"]["body"];
        assert_eq!(body, &json!({"n": 3, "at": 4}));
        let other = previews.last().unwrap();
        assert_eq!((other.id.as_str(), other.not_reached), ("other", true));

        let previews = dry_run(&wf, &execution(json!({"kind": "few"})), &templates);
        assert!(previews[1].not_reached);
        let other = previews.last().unwrap();
        assert_eq!(other.preview, Some(json!({"stops": "kind few"})));
    }
}
