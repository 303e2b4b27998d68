//! The `payload_schema` check of the accept paths: a trigger body that does not match is
//! refused before anything is stored, with where it failed and what was expected.

use serde_json::Value;

use super::AppError;
use crate::domain::{PayloadProblem, Workflow};
use crate::ports::StoreError;

/// Reads a generic webhook's body as JSON and checks it. Without a schema a body that is not
/// JSON is `invalid_json`, as it always was; with one it fails the schema like any other
/// mismatch, so a sender sees one kind of refusal for "not what this workflow takes".
pub(super) fn read_payload(workflow: &Workflow, body: &[u8]) -> Result<Value, AppError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(payload) => {
            check_payload(workflow, &payload)?;
            Ok(payload)
        }
        Err(e) if workflow.payload_schema.is_some() => Err(refusal(vec![PayloadProblem {
            pointer: String::new(),
            message: format!("the body is not valid JSON ({e})"),
        }])),
        Err(e) => Err(AppError::InvalidJson(e.to_string())),
    }
}

/// Checks a payload as `trigger.body` will see it against the workflow's schema, if any.
pub(super) fn check_payload(workflow: &Workflow, payload: &Value) -> Result<(), AppError> {
    let Some(schema) = &workflow.payload_schema else {
        return Ok(());
    };
    // Every saved schema compiled when it was saved; one that no longer does is a stored
    // record this version cannot use, which the sender cannot fix.
    let problems = schema.check(payload).map_err(|e| {
        AppError::Store(StoreError::Corrupt(format!(
            "workflow {} payload_schema: {e}",
            workflow.id
        )))
    })?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(refusal(problems))
    }
}

fn refusal(details: Vec<PayloadProblem>) -> AppError {
    AppError::PayloadInvalid {
        message: "the body does not match this workflow's payload_schema; nothing was accepted"
            .into(),
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApiKeyName, PayloadSchema, SnsOptions, Trigger};
    use serde_json::json;

    fn workflow(schema: Option<Value>) -> Workflow {
        let mut wf = Workflow::new(
            "x",
            Trigger::GenericWebhook,
            ApiKeyName::parse("k").unwrap(),
            Vec::<crate::domain::Step>::new(),
            SnsOptions::default(),
            chrono::Utc::now(),
        )
        .unwrap();
        wf.payload_schema = schema.map(|s| match s {
            Value::Object(map) => PayloadSchema::new(map).unwrap(),
            other => panic!("{other}"),
        });
        wf
    }

    #[test]
    fn without_a_schema_any_json_passes_and_other_bodies_are_invalid_json() {
        let wf = workflow(None);
        assert_eq!(read_payload(&wf, b"[1]").unwrap(), json!([1]));
        assert!(matches!(
            read_payload(&wf, b"nope"),
            Err(AppError::InvalidJson(_))
        ));
    }

    #[test]
    fn with_a_schema_a_mismatch_or_a_body_that_is_not_json_is_payload_invalid() {
        let wf = workflow(Some(json!({"type": "object", "required": ["id"]})));
        assert_eq!(read_payload(&wf, br#"{"id":1}"#).unwrap(), json!({"id": 1}));
        for body in [&b"{}"[..], b"nope"] {
            let err = read_payload(&wf, body).unwrap_err();
            assert_eq!(err.code(), "payload_invalid");
            assert_eq!(err.details().len(), 1, "{err}");
            assert_eq!(err.details()[0].pointer, "");
        }
    }

    #[test]
    fn a_stored_schema_that_no_longer_compiles_is_not_the_senders_fault() {
        let mut wf = workflow(None);
        wf.payload_schema = serde_json::from_value(json!({"type": "strng"})).unwrap();
        let err = check_payload(&wf, &json!({})).unwrap_err();
        assert_eq!(err.code(), "store_unavailable");
    }
}
