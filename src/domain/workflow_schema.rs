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
