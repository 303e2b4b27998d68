//! What the test bench works on, for a dry-run and a test run alike: a request typed by hand,
//! a stored execution (of this workflow or another), or else the workflow's latest execution.

use std::collections::BTreeMap;

use chrono::Utc;
use serde_json::Value;

use super::{App, AppError};
use crate::domain::{Execution, RequestMeta, TriggerMeta, WorkflowId};
use crate::ports::ExecutionQuery;

/// A request typed by hand, as a sender would have made it.
#[derive(Debug, Clone, PartialEq)]
pub struct TypedInput {
    /// JSON, or a string for a body that was not JSON.
    pub body: Value,
    pub headers: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
}

impl Default for TypedInput {
    /// An empty JSON object, as a webhook with `{}` would have sent.
    fn default() -> Self {
        Self {
            body: Value::Object(Default::default()),
            headers: BTreeMap::new(),
            query: BTreeMap::new(),
        }
    }
}

/// Where the input comes from, unchecked: `input`, or the stored execution `execution_id` (of
/// this workflow, or of `execution_workflow_id`'s), or with neither the workflow's latest.
#[derive(Debug, Clone, Default)]
pub struct InputChoice {
    pub input: Option<TypedInput>,
    pub execution_id: Option<String>,
    pub execution_workflow_id: Option<String>,
}

/// Where the input came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputSource {
    Execution,
    Input,
}

impl App {
    /// The chosen input as an execution of `workflow_id`: the stored one as it is, or one built
    /// from the typed request (never stored).
    pub(super) async fn chosen_input(
        &self,
        workflow_id: &WorkflowId,
        choice: InputChoice,
    ) -> Result<(Execution, InputSource), AppError> {
        match (choice.input, choice.execution_id) {
            (Some(_), Some(_)) => Err(AppError::InvalidRequest(
                "give executionId or input, not both".into(),
            )),
            (Some(input), None) => Ok((typed(workflow_id, input), InputSource::Input)),
            (None, execution_id) => {
                let owner = match choice.execution_workflow_id.as_deref() {
                    Some(raw) if !raw.is_empty() => {
                        WorkflowId::parse(raw).map_err(|_| AppError::WorkflowNotFound)?
                    }
                    _ => workflow_id.clone(),
                };
                let execution = match execution_id {
                    Some(id) => self.get_execution(&owner, &id).await?,
                    None => self.latest_execution(&owner).await?,
                };
                Ok((execution, InputSource::Execution))
            }
        }
    }

    async fn latest_execution(&self, workflow_id: &WorkflowId) -> Result<Execution, AppError> {
        let query = ExecutionQuery {
            status: None,
            limit: 1,
            before: None,
        };
        let mut newest = self.store().list_executions(workflow_id, &query).await?;
        if newest.is_empty() {
            return Err(AppError::NoInput(format!(
                "workflow {workflow_id} has no execution yet: send one, or give an input"
            )));
        }
        Ok(newest.swap_remove(0))
    }
}

/// An execution of the typed request, as the accept path would have recorded it (header
/// names in lower case, credentials left out); never stored, so it expires at once.
fn typed(workflow_id: &WorkflowId, input: TypedInput) -> Execution {
    let body_bytes = match &input.body {
        Value::String(text) => text.len(),
        other => other.to_string().len(),
    };
    let request = RequestMeta::capture(
        input.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        input.query,
    );
    Execution::new(
        workflow_id.clone(),
        TriggerMeta::GenericWebhook {
            content_type: None,
            idempotency_key: None,
            body_bytes,
        },
        input.body,
        Utc::now(),
        chrono::Duration::zero(),
    )
    .with_request(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_typed_input_is_what_templates_see_as_trigger() {
        let input = TypedInput {
            body: json!({"n": 1}),
            headers: BTreeMap::from([
                ("X-Event".to_owned(), "push".to_owned()),
                ("X-Api-Key".to_owned(), "secret".to_owned()),
            ]),
            query: BTreeMap::from([("tag".to_owned(), "a".to_owned())]),
        };
        let id = WorkflowId::generate();
        let execution = typed(&id, input);
        let trigger = execution.trigger_context();
        assert_eq!(trigger["body"], json!({"n": 1}));
        assert_eq!(
            trigger["headers"]["x-event"], "push",
            "names as the accept path keeps them"
        );
        assert_eq!(trigger["query"]["tag"], "a");
        assert!(trigger["headers"].get("x-api-key").is_none(), "{trigger}");
        assert_eq!(execution.workflow_id, id);
    }
}
