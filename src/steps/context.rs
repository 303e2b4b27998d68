//! What a step runs in: the process's outbound parts (`StepDeps`) and what templates see
//! (`StepContext`).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::domain::{StepRecord, TemplateContext, TemplateEngine, TemplateValue};
use crate::ports::{CallbackStore, EmailSender, HttpSender, SnsPublisher};

/// What running a step needs from the process; built once and shared.
#[derive(Clone)]
pub struct StepDeps {
    pub http: Arc<dyn HttpSender>,
    pub sns: Arc<dyn SnsPublisher>,
    pub email: Arc<dyn EmailSender>,
    /// The `from` of a `send_email` step that names none (`EMAIL_FROM`).
    pub email_from: Option<String>,
    pub templates: Arc<TemplateEngine>,
    /// Where `approval` and `callback` steps keep their resume URLs' records; `None` where
    /// no step may wait (the dry-run, unit tests of other steps).
    pub callbacks: Option<Arc<dyn CallbackStore>>,
    /// The service's URL as seen from outside (`WEBHOOK_BASE_URL`), no trailing slash: resume
    /// URLs start with it.
    pub base_url: Option<String>,
}

/// The execution a step runs in, as templates see it under `execution`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub id: String,
    pub workflow_id: String,
    pub attempt: u32,
}

/// Everything templates may read: `trigger` (the request: `body`, `headers`, `query`, `sns`),
/// `steps.<id>.output` (and `.error`) of the steps already run, and `execution`; inside a
/// `for_each`, the item under its name and `loop`.
#[derive(Debug, Clone)]
pub struct StepContext {
    /// Shared by the contexts of a loop's items rather than copied into each.
    trigger: Arc<Value>,
    /// `trigger` converted for templates once.
    trigger_value: TemplateValue,
    execution: ExecutionInfo,
    steps: Map<String, Value>,
    /// The item and `loop` inside a `for_each`.
    locals: Map<String, Value>,
    /// `chat[3].` inside item 3 of the loop `chat`; empty at the top level.
    path_prefix: String,
}

impl StepContext {
    /// `trigger` is the object `{"body": ..., "headers": ..., "query": ..., "sns": ...}`.
    pub fn new(trigger: Value, execution: ExecutionInfo) -> Self {
        Self {
            trigger_value: TemplateValue::from_json(&trigger),
            trigger: Arc::new(trigger),
            execution,
            steps: Map::new(),
            locals: Map::new(),
            path_prefix: String::new(),
        }
    }

    /// Makes a finished step visible to later steps: `steps.<id>.output`, and for a failed
    /// one `steps.<id>.error` (its `output` is `{"error": ...}`, so that a step after a
    /// `continue_on_error` failure can tell it by `output.error`). The live run, a resumed
    /// run and the dry-run all build their context through this one function, from records.
    pub fn record(&mut self, record: &StepRecord) {
        let scope = match (&record.error, record.status) {
            (Some(error), crate::domain::StepStatus::Failed) => {
                json!({ "output": { "error": error }, "error": error })
            }
            _ => json!({ "output": record.output.clone().unwrap_or(Value::Null) }),
        };
        self.steps.insert(record.id.clone(), scope);
    }

    /// Makes an output visible as `steps.<id>.output` (the dry-run's steps that did not run).
    pub fn record_output(&mut self, step_id: &str, output: Value) {
        self.steps
            .insert(step_id.to_owned(), json!({ "output": output }));
    }

    /// The context of one item of the loop `loop_id`: the item under `name`, and `loop`
    /// (`index` from 1, `index0` from 0, `first`, `last`, `length`) as in Jinja's own loops.
    pub fn for_item(
        &self,
        loop_id: &str,
        name: &str,
        item: &Value,
        index: usize,
        length: usize,
    ) -> Self {
        let mut child = self.clone();
        child.locals.insert(name.to_owned(), item.clone());
        child.locals.insert(
            "loop".to_owned(),
            json!({
                "index": index + 1,
                "index0": index,
                "first": index == 0,
                "last": index + 1 == length,
                "length": length,
            }),
        );
        child.path_prefix = format!("{loop_id}[{index}].");
        child
    }

    /// This context with `value` visible to templates as `name` (a waiting step's
    /// `approval` or `callback` variables while its notification renders).
    pub fn with_local(&self, name: &str, value: Value) -> Self {
        let mut child = self.clone();
        child.locals.insert(name.to_owned(), value);
        child
    }

    /// Where a step of this context sits: its id, or `chat[3].post` inside a loop.
    pub fn path_of(&self, step_id: &str) -> String {
        format!("{}{step_id}", self.path_prefix)
    }

    pub fn trigger_body(&self) -> &Value {
        self.trigger.get("body").unwrap_or(&Value::Null)
    }

    pub fn execution(&self) -> &ExecutionInfo {
        &self.execution
    }

    pub fn to_template_context(&self) -> TemplateContext {
        let execution = json!({
            "id": self.execution.id,
            "workflowId": self.execution.workflow_id,
            "attempt": self.execution.attempt,
        });
        let fixed = [
            ("trigger", self.trigger_value.clone()),
            ("steps", TemplateValue::from_serialize(&self.steps)),
            ("execution", TemplateValue::from_json(&execution)),
        ];
        let locals = self
            .locals
            .iter()
            .map(|(name, value)| (name.as_str(), TemplateValue::from_json(value)));
        TemplateContext::from_vars(fixed.into_iter().chain(locals))
    }
}
