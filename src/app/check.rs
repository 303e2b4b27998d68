//! `POST /admin/workflows/check` and `workflows check --file`: a workflow document read by the
//! loader that saves use (one validation, the same field paths everywhere), storing nothing.
//! A document that loads comes back normalized (as the loader reads it: step ids numbered),
//! as JSON and as YAML, which is what the console's form and its code view switch between.

use serde_json::Value;

use crate::domain::{DefinitionError, WorkflowFile};

/// What a check found: the refusals, or the document as the loader reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// Empty when the document would load. The loader stops at the first refusal, so there is
    /// at most one today; a list so that a client need not change when there are more.
    pub errors: Vec<DefinitionError>,
    pub definition: Option<WorkflowFile>,
}

impl CheckReport {
    fn of(result: Result<WorkflowFile, DefinitionError>) -> Self {
        match result {
            Ok(file) => Self {
                errors: Vec::new(),
                definition: Some(file),
            },
            Err(err) => Self {
                errors: vec![err],
                definition: None,
            },
        }
    }

    /// A document as text: YAML, or JSON when it starts with `{` (as a workflow file).
    pub fn of_text(text: &str) -> Self {
        Self::of(WorkflowFile::parse(text))
    }

    /// A document already decoded from JSON.
    pub fn of_value(value: Value) -> Self {
        Self::of(WorkflowFile::from_value(value))
    }

    /// The normalized document as YAML; it reads back to the same definition.
    pub fn yaml(&self) -> Option<String> {
        self.definition
            .as_ref()
            .and_then(|file| serde_norway::to_string(file).ok())
    }

    /// The normalized document as JSON.
    pub fn json(&self) -> Option<Value> {
        self.definition
            .as_ref()
            .and_then(|file| serde_json::to_value(file).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "name: orders\napi_key: partner-a\nsteps:\n  - type: filter\n    when: trigger.body.ok\n  - id: notify\n    type: http_request\n    url: https://example.com/h\n    method: put\n    timeout_ms: 10000\n";

    #[test]
    fn a_document_that_loads_comes_back_normalized_in_both_syntaxes() {
        let report = CheckReport::of_text(DOC);
        assert!(report.errors.is_empty(), "{:?}", report.errors);
        let yaml = report.yaml().expect("yaml");
        let json = report.json().expect("json");
        assert_eq!(json["steps"][0]["id"], "step1", "ids numbered: {json}");
        assert!(json["steps"][1].get("timeout_ms").is_some(), "{json}");
        let again = WorkflowFile::parse(&yaml).expect("the YAML reads back");
        assert_eq!(Some(&again), report.definition.as_ref());
        assert_eq!(
            CheckReport::of_text(&yaml).yaml(),
            Some(yaml.clone()),
            "stable"
        );
        assert_eq!(CheckReport::of_value(json).definition, report.definition);
    }

    #[test]
    fn the_yaml_keeps_strings_that_look_like_other_values_strings() {
        let report = CheckReport::of_value(serde_json::json!({
            "name": "x", "api_key": "k",
            "steps": [{"type": "transform", "output": {
                "a": "123", "b": "true", "c": "null", "d": "yes", "e": "1e3", "f": "~",
                "g": "", "h": "- item", "i": "key: value", "j": "#not a comment", "k": 1.5,
                "l": [null, false, {"m": "0x1F"}]}}]
        }));
        let yaml = report.yaml().expect("yaml");
        let again = CheckReport::of_text(&yaml);
        assert_eq!(again.definition, report.definition, "{yaml}");
    }

    #[test]
    fn refusals_name_the_field_and_nothing_comes_back() {
        let report = CheckReport::of_text(
            "name: x\napi_key: k\nsteps:\n  - type: echo\n  - type: http_request\n    url: ftp://x\n",
        );
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].path, "steps[1].url");
        assert_eq!((report.yaml(), report.json()), (None, None));

        let report = CheckReport::of_text("name: x\napi_key: k\ncolour: red\n");
        assert_eq!(report.errors[0].line, Some(3));
    }

    #[test]
    fn template_errors_carry_the_field_path_and_a_position() {
        let report = CheckReport::of_value(serde_json::json!({
            "name": "x", "api_key": "k",
            "steps": [{"type": "transform", "output": {"a": "{{ trigger.body. }}"}}]
        }));
        let err = &report.errors[0];
        assert_eq!(err.path, "steps[0].output.a", "{err}");
        assert!(err.message.contains("(at column "), "{err}");
        let report = CheckReport::of_value(serde_json::json!({
            "name": "x", "api_key": "k",
            "steps": [{"type": "filter", "when": "trigger.body.ok =="}]
        }));
        assert_eq!(report.errors[0].path, "steps[0].when");
        assert!(report.errors[0].message.contains("(at column "));
    }
}
