//! The workflow every bench sends webhooks to, created one way.

use serde_json::{Map, Value};
use webhook_trigger::app::{App, NewWorkflow};
use webhook_trigger::domain::{SnsOptions, Step, Trigger, Workflow};

/// "bench": one echo step behind the API key `bench`, which must exist already.
pub async fn echo_workflow(
    app: &App,
    trigger: Trigger,
    payload_schema: Option<Map<String, Value>>,
) -> Workflow {
    app.create_workflow(NewWorkflow {
        name: "bench".into(),
        trigger,
        api_key_name: "bench".into(),
        steps: vec![Step::Echo.into()],
        sns: SnsOptions::default(),
        auth: Default::default(),
        payload_schema,
    })
    .await
    .expect("workflow")
}
