//! The JSON Schema of one step. [`WorkflowStep`] is read by hand (its common fields sit beside
//! the type's own), so its schema is assembled here: the derived schema of [`Step`] (one
//! `oneOf` branch per `type`, each closed to unknown fields) with the common fields spelled
//! into every branch, as the loader reads them.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

use super::{Step, Target, WorkflowStep};

/// What `validate_id` takes; `end` is refused by the loader alone.
pub const STEP_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

impl JsonSchema for WorkflowStep {
    fn schema_name() -> Cow<'static, str> {
        "WorkflowStep".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let common = common_fields(generator);
        let mut schema = Step::json_schema(generator);
        if let Some(Value::Array(branches)) = schema.get_mut("oneOf") {
            for branch in branches.iter_mut().filter_map(Value::as_object_mut) {
                with_common_fields(branch, &common);
            }
        }
        schema
    }
}

fn common_fields(generator: &mut SchemaGenerator) -> Map<String, Value> {
    let target = |generator: &mut SchemaGenerator, description: &str| {
        let mut schema = generator.subschema_for::<Target>();
        schema.insert("description".into(), description.into());
        schema.to_value()
    };
    let mut fields = Map::new();
    fields.insert(
        "id".into(),
        json_schema!({
            "type": "string",
            "description": "Unique in the workflow, 1 to 64 letters, digits, `_` or `-` (not `end`); \
                            templates reach its output as `steps.<id>.output`. Default `stepN`, N \
                            its position from 1.",
            "pattern": STEP_ID_PATTERN,
        })
        .to_value(),
    );
    fields.insert(
        "continue_on_error".into(),
        json_schema!({
            "type": "boolean",
            "description": "Record a failure and go on with the next step instead of failing \
                            the execution.",
            "default": false,
        })
        .to_value(),
    );
    fields.insert(
        "next".into(),
        target(
            generator,
            "What runs after this step: a step id below it, or `end`. Default: the step below.",
        ),
    );
    fields.insert(
        "on_error".into(),
        target(
            generator,
            "Where a failure goes (a step id below, or `end`), with the error in scope as \
             `steps.<id>.error`, instead of failing the execution.",
        ),
    );
    fields
}

/// Adds the common fields to one branch and names it by its `type`.
fn with_common_fields(branch: &mut Map<String, Value>, common: &Map<String, Value>) {
    let kind = branch
        .get("properties")
        .and_then(|p| p.get("type"))
        .and_then(|t| t.get("const"))
        .cloned();
    if let Some(Value::Object(properties)) = branch.get_mut("properties") {
        for (name, schema) in common {
            properties
                .entry(name.clone())
                .or_insert_with(|| schema.clone());
        }
    }
    if let Some(kind) = kind {
        branch.insert("title".into(), kind);
    }
}
