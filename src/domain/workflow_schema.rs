//! The workflow file's JSON Schema (2020-12), generated from the types the loader reads
//! ([`WorkflowFile`] and the step types), so editors check files by the same fields, defaults
//! and bounds as the loader. It is a first line only: what needs the whole document (step
//! ids that exist, reachability, templates) is the loader's alone.

use std::sync::LazyLock;

use serde_json::Value;

use super::WorkflowFile;

static SCHEMA: LazyLock<String> = LazyLock::new(|| {
    let schema = schemars::schema_for!(WorkflowFile);
    // The checked-in copy ends with a newline, as written by `workflows schema`.
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
});

/// The schema as pretty JSON text, built once per process.
pub fn workflow_schema_text() -> &'static str {
    &SCHEMA
}

/// The same, as a value.
pub fn workflow_schema() -> Value {
    schemars::schema_for!(WorkflowFile).to_value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Step;

    /// The command that writes the checked-in copy.
    const REGENERATE: &str = "cargo run --quiet -- workflows schema > schemas/workflow.schema.json";

    #[test]
    fn the_checked_in_schema_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/workflow.schema.json");
        let checked_in = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{path}: {e}; write it with `{REGENERATE}`"));
        assert!(
            checked_in == workflow_schema_text(),
            "schemas/workflow.schema.json is stale: the workflow file's types changed. \
             Regenerate it with `{REGENERATE}` and commit it."
        );
    }

    #[test]
    fn each_step_type_is_one_branch_named_by_its_type() {
        let schema = workflow_schema();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        let branches = schema["$defs"]["WorkflowStep"]["oneOf"]
            .as_array()
            .expect("oneOf");
        let kinds: Vec<&str> = branches
            .iter()
            .filter_map(|b| b["properties"]["type"]["const"].as_str())
            .collect();
        assert_eq!(kinds, Step::KINDS);
        for branch in branches {
            assert_eq!(branch["title"], branch["properties"]["type"]["const"]);
            assert_eq!(branch["additionalProperties"], false, "{branch}");
            assert!(branch["description"].is_string(), "{branch}");
            for common in ["id", "continue_on_error", "next", "on_error"] {
                assert!(
                    branch["properties"].get(common).is_some(),
                    "{common} in {branch}"
                );
            }
        }
        let http = &branches[4]["properties"];
        assert_eq!(http["timeout_ms"]["default"], 10_000);
        assert_eq!(http["timeout_ms"]["maximum"], 30_000);
        assert_eq!(http["method"]["default"], "POST");
        assert!(
            http["url"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("Absolute")),
            "doc comments are the descriptions"
        );
        assert_eq!(schema["additionalProperties"], false);
    }
}
