//! `workflows dry-run`: every step of a workflow rendered against a stored execution, with
//! nothing sent. Steps that send (HTTP, SNS) show the request they would make; the outputs
//! later steps see are the ones the execution recorded when it ran, if it did.

use serde::Serialize;
use serde_json::Value;

use super::steps::{ExecutionInfo, StepContext, preview_step};
use crate::domain::{Execution, Step, TemplateEngine, Workflow};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepPreview {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// What the step would do (`request`, `output`, `passes`, `fails`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview: Option<Value>,
    /// Why it could not be rendered (a missing field, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// An earlier filter would have ended the run before this step.
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
    let mut filtered = false;
    let mut previews = Vec::with_capacity(workflow.steps.len());
    for step in &workflow.steps {
        let result = preview_step(step, &ctx, &execution.id.to_string(), templates);
        let recorded = execution
            .steps
            .iter()
            .find(|r| r.id == step.id)
            .and_then(|r| r.output.clone());
        let output = match (&step.action, &result) {
            (Step::Transform { .. } | Step::Echo, Ok(preview)) => preview.get("output").cloned(),
            _ => recorded,
        };
        ctx.record_output(&step.id, output.unwrap_or(Value::Null));
        let passes = result
            .as_ref()
            .ok()
            .and_then(|p| p.get("passes"))
            .and_then(Value::as_bool);
        let (preview, error) = match result {
            Ok(preview) => (Some(preview), None),
            Err(error) => (None, Some(error)),
        };
        previews.push(StepPreview {
            id: step.id.clone(),
            kind: step.action.kind().to_owned(),
            preview,
            error,
            not_reached: filtered,
        });
        filtered |= passes == Some(false);
    }
    previews
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
        let previews = dry_run(
            &workflow(yaml),
            &execution(json!({"kind": "tag"})),
            &TemplateEngine::new(),
        );
        assert_eq!(previews[0].preview, Some(json!({"passes": false})));
        assert!(previews[1].not_reached);
        assert!(
            previews[1]
                .error
                .as_deref()
                .unwrap_or_default()
                .contains("missing")
        );
    }
}
