//! The file behind `workflows create --file` and `workflows update ID --file`: YAML or JSON,
//! checked by the same rules as [`Workflow::new`](super::Workflow::new) so a bad definition is
//! refused before anything is stored.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::api_key::ApiKeyName;
use super::payload_schema::{InvalidPayloadSchema, PayloadSchema};
use super::signature::{AuthMode, VerifyOptions};
use super::step::{MAX_STEPS, WorkflowStep, deserialize_numbered};
use super::workflow::{
    InvalidWorkflow, SenderAuth, SnsOptions, Trigger, Workflow, check_definition,
};

/// A workflow definition as written by its author.
///
/// ```yaml
/// name: orders
/// trigger: generic_webhook     # or amazon_sns; default generic_webhook
/// api_key: partner-a
/// sns: { allowed_topic_arns: [...], require_signature_v2: true }   # amazon_sns only
/// auth: signature              # api_key (default), signature or both
/// verify: { scheme: github }   # github, stripe, slack, shopify, standard_webhooks or hmac
/// steps:
///   - { id: only-paid, type: filter, when: "trigger.body.status == 'paid'" }
///   - { id: notify, type: http_request, url: "https://example.com/hook" }
/// ```
///
/// It serializes back to the same form (defaults left out), which is how the admin API shows
/// a workflow's `definition` and how versions store it: one spelling to read and to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "webhook-trigger workflow")]
pub struct WorkflowFile {
    /// What the console and the CLI call it; at most 200 characters.
    #[schemars(pattern(r"\S"))]
    pub name: String,
    /// What calls the webhook URL.
    #[serde(default = "default_trigger")]
    pub trigger: Trigger,
    /// Name of the API key that guards the webhook URL (it must exist when the workflow is
    /// saved).
    #[schemars(regex(pattern = API_KEY_NAME_PATTERN))]
    pub api_key: String,
    /// `amazon_sns` only: which topics may deliver, and whether SignatureVersion 1 is refused.
    #[serde(default, skip_serializing_if = "is_default")]
    pub sns: SnsOptions,
    /// What a sender proves: `api_key` (default), `signature` (needs `verify`) or `both`.
    #[serde(default, skip_serializing_if = "is_default")]
    pub auth: AuthMode,
    /// How the sender's signature is checked (`generic_webhook` only); the secret is set
    /// apart, never in this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyOptions>,
    /// Run in order, from the first; `next`, `on_error` and a branch's cases jump forward.
    /// A step without an `id` is `stepN`, N its position from 1.
    #[serde(default, deserialize_with = "deserialize_numbered")]
    #[schemars(length(max = MAX_STEPS))]
    pub steps: Vec<WorkflowStep>,
    /// A JSON Schema (2020-12) object the trigger body must match; a body that does not is
    /// refused with `422 payload_invalid` before anything is stored.
    // A plain JSON object here (not the compiled `PayloadSchema`), so that a schema generator
    // describes it as one; `validate` compiles it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_schema: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What `ApiKeyName::parse` takes, for the schema.
const API_KEY_NAME_PATTERN: &str = r"^[A-Za-z0-9_.-]{1,64}$";

fn default_trigger() -> Trigger {
    Trigger::GenericWebhook
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A stored workflow as the file that would define it.
impl From<&Workflow> for WorkflowFile {
    fn from(workflow: &Workflow) -> Self {
        Self {
            name: workflow.name.clone(),
            trigger: workflow.trigger,
            api_key: workflow.api_key_name.to_string(),
            sns: workflow.sns.clone(),
            auth: workflow.auth,
            verify: workflow.verify.clone(),
            steps: workflow.steps.clone(),
            payload_schema: workflow.payload_schema.as_ref().map(|s| s.as_map().clone()),
        }
    }
}

/// Why a workflow file was refused: the field (`steps[2].url`), and the line when the parser
/// knows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct DefinitionError {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

impl DefinitionError {
    fn describe(&self) -> String {
        let mut out = String::new();
        if !self.path.is_empty() {
            out.push_str(&self.path);
        }
        if let Some(line) = self.line {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&format!("(line {line})"));
        }
        if out.is_empty() {
            self.message.clone()
        } else {
            format!("{out}: {}", self.message)
        }
    }

    fn at(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            line: None,
            message: message.into(),
        }
    }
}

impl From<InvalidWorkflow> for DefinitionError {
    fn from(err: InvalidWorkflow) -> Self {
        match err {
            InvalidWorkflow::Name => Self::at("name", err.to_string()),
            InvalidWorkflow::TopicArn(_) => Self::at("sns.allowed_topic_arns", err.to_string()),
            InvalidWorkflow::SnsOptionsOnGeneric => Self::at("sns", err.to_string()),
            InvalidWorkflow::Definition(d) => Self::at(&d.path, d.message),
            InvalidWorkflow::AuthWithoutVerify(_) => Self::at("verify", err.to_string()),
            InvalidWorkflow::VerifyOnSns => Self::at("verify", err.to_string()),
            InvalidWorkflow::Verify(v) => Self::at(v.field, v.message),
        }
    }
}

impl From<InvalidPayloadSchema> for DefinitionError {
    fn from(err: InvalidPayloadSchema) -> Self {
        Self::at("payload_schema", err.to_string())
    }
}

impl WorkflowFile {
    /// Reads YAML, or JSON when the text starts with `{`, then checks the definition.
    pub fn parse(text: &str) -> Result<Self, DefinitionError> {
        let file = if text.trim_start().starts_with('{') {
            parse_json(text)?
        } else {
            parse_yaml(text)?
        };
        file.validate()?;
        Ok(file)
    }

    /// The same document already decoded as JSON (a field of a larger request body): the same
    /// rules, with field paths and without lines.
    pub fn from_value(value: serde_json::Value) -> Result<Self, DefinitionError> {
        let file: WorkflowFile = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = path_of(e.path());
            DefinitionError::at(&path, e.into_inner().to_string())
        })?;
        file.validate()?;
        Ok(file)
    }

    fn validate(&self) -> Result<(), DefinitionError> {
        ApiKeyName::parse(&self.api_key)
            .map_err(|e| DefinitionError::at("api_key", e.to_string()))?;
        check_definition(&self.name, self.trigger, &self.sns, &self.steps)?;
        self.sender_auth().check(self.trigger)?;
        self.compiled_payload_schema()?;
        Ok(())
    }

    /// The `payload_schema`, compiled: refused here when it cannot be used.
    pub fn compiled_payload_schema(&self) -> Result<Option<PayloadSchema>, DefinitionError> {
        let schema = self.payload_schema.clone().map(PayloadSchema::new);
        Ok(schema.transpose()?)
    }

    pub fn sender_auth(&self) -> SenderAuth {
        SenderAuth {
            mode: self.auth,
            verify: self.verify.clone(),
        }
    }

    /// The API key name, already checked by [`parse`](Self::parse).
    pub fn api_key_name(&self) -> Result<ApiKeyName, DefinitionError> {
        ApiKeyName::parse(&self.api_key).map_err(|e| DefinitionError::at("api_key", e.to_string()))
    }
}

fn path_of(path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path == "." { String::new() } else { path }
}

fn parse_json(text: &str) -> Result<WorkflowFile, DefinitionError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let file: WorkflowFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = path_of(e.path());
        let inner = e.into_inner();
        DefinitionError {
            path,
            line: Some(inner.line()).filter(|l| *l > 0),
            message: strip_position(&inner.to_string()),
        }
    })?;
    de.end().map_err(|e| DefinitionError {
        path: String::new(),
        line: Some(e.line()),
        message: strip_position(&e.to_string()),
    })?;
    Ok(file)
}

fn parse_yaml(text: &str) -> Result<WorkflowFile, DefinitionError> {
    let de = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = path_of(e.path());
        let inner = e.into_inner();
        DefinitionError {
            path,
            line: inner.location().map(|l| l.line()),
            message: strip_position(&inner.to_string()),
        }
    })
}

/// The parsers append their own "at line 3 column 5"; the line is reported once, by us.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::step::Step;

    const YAML: &str = r#"
name: orders
api_key: partner-a
steps:
  - id: only-paid
    type: filter
    when: "trigger.body.status == 'paid'"
  - type: transform
    output:
      order: "{{ trigger.body.id }}"
  - id: notify
    type: http_request
    url: https://example.com/hook
    headers:
      X-Source: webhook-trigger
    retry:
      max_attempts: 2
    continue_on_error: true
"#;

    #[test]
    fn yaml_parses_with_defaults_and_numbered_ids() {
        let file = WorkflowFile::parse(YAML).unwrap();
        assert_eq!(file.name, "orders");
        assert_eq!(file.trigger, Trigger::GenericWebhook);
        let ids: Vec<&str> = file.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["only-paid", "step2", "notify"]);
        assert!(file.steps[2].continue_on_error);
        assert!(matches!(file.steps[2].action, Step::HttpRequest(_)));
        assert_eq!(file.api_key_name().unwrap().as_str(), "partner-a");
    }

    #[test]
    fn json_parses_too() {
        let text = r#"{"name": "n", "trigger": "amazon_sns", "api_key": "k",
            "sns": {"allowed_topic_arns": ["arn:aws:sns:us-east-1:123456789012:t"], "require_signature_v2": true},
            "steps": [{"type": "echo"}]}"#;
        let file = WorkflowFile::parse(text).unwrap();
        assert_eq!(file.trigger, Trigger::AmazonSns);
        assert!(file.sns.require_signature_v2);
        assert_eq!(file.steps[0].id, "step1");
    }

    #[test]
    fn unknown_fields_are_refused_with_path_and_line() {
        let err = WorkflowFile::parse("name: x\napi_key: k\ncolour: red\n").unwrap_err();
        assert!(err.message.contains("colour"), "{err}");
        assert_eq!(err.line, Some(3));

        let err = WorkflowFile::parse("name: x\napi_key: k\nsns:\n  topics: []\n").unwrap_err();
        assert!(err.path.starts_with("sns"), "{err}");

        let text = "name: x\napi_key: k\nsteps:\n  - type: echo\n  - type: http_request\n    url: https://x\n    urll: y\n";
        let err = WorkflowFile::parse(text).unwrap_err();
        assert_eq!(err.path, "steps[1]", "{err}");
        assert!(err.message.contains("urll"), "{err}");

        let err = WorkflowFile::parse(r#"{"name": "x", "api_key": "k", "extra": 1}"#).unwrap_err();
        assert!(err.message.contains("extra"), "{err}");
        assert_eq!(err.line, Some(1));
    }

    #[test]
    fn validation_errors_name_the_field() {
        let text = "name: x\napi_key: k\nsteps:\n  - type: echo\n  - type: echo\n  - id: c\n    type: http_request\n    url: ftp://x\n";
        let err = WorkflowFile::parse(text).unwrap_err();
        assert_eq!(err.path, "steps[2].url");
        assert!(err.to_string().starts_with("steps[2].url: "), "{err}");

        let err = WorkflowFile::parse("name: ''\napi_key: k\n").unwrap_err();
        assert_eq!(err.path, "name");
        let err = WorkflowFile::parse("name: x\napi_key: 'bad key!'\n").unwrap_err();
        assert_eq!(err.path, "api_key");
        let err = WorkflowFile::parse("name: x\napi_key: k\nsns:\n  require_signature_v2: true\n")
            .unwrap_err();
        assert_eq!(err.path, "sns");
    }

    #[test]
    fn auth_and_verify_are_read_and_checked_together() {
        let file = WorkflowFile::parse(
            "name: x\napi_key: k\nauth: signature\nverify:\n  scheme: standard_webhooks\n  tolerance_seconds: 60\n",
        )
        .unwrap();
        assert_eq!(file.auth, AuthMode::Signature);
        assert_eq!(file.verify.as_ref().unwrap().tolerance(), 60);

        let err = WorkflowFile::parse("name: x\napi_key: k\nauth: both\n").unwrap_err();
        assert_eq!(err.path, "verify", "{err}");
        let err = WorkflowFile::parse(
            "name: x\napi_key: k\nverify:\n  scheme: github\n  header: X-Sig\n",
        )
        .unwrap_err();
        assert_eq!(err.path, "verify.header", "{err}");
        let err = WorkflowFile::parse(
            "name: x\ntrigger: amazon_sns\napi_key: k\nverify:\n  scheme: github\n",
        )
        .unwrap_err();
        assert_eq!(err.path, "verify", "{err}");
        let err = WorkflowFile::parse("name: x\napi_key: k\nverify:\n  scheme: hmac\n  headr: X\n")
            .unwrap_err();
        assert!(err.message.contains("headr"), "{err}");
        let err =
            WorkflowFile::parse("name: x\napi_key: k\nverify:\n  scheme: paypal\n").unwrap_err();
        assert!(err.path.starts_with("verify"), "{err}");
    }

    #[test]
    fn a_file_written_back_reads_the_same() {
        let file = WorkflowFile::parse(YAML).unwrap();
        let value = serde_json::to_value(&file).unwrap();
        assert_eq!(WorkflowFile::from_value(value.clone()).unwrap(), file);
        assert_eq!(
            WorkflowFile::parse(&value.to_string()).unwrap(),
            file,
            "{value}"
        );
        assert!(value.get("sns").is_none(), "defaults are left out: {value}");
    }

    #[test]
    fn a_decoded_document_is_refused_with_the_field_path() {
        let value = serde_json::json!({"name": "x", "api_key": "k", "steps": [{"type": "echo"}, {"type": "http_request", "url": "ftp://x"}]});
        let err = WorkflowFile::from_value(value).unwrap_err();
        assert_eq!(err.path, "steps[1].url", "{err}");
        let value = serde_json::json!({"name": "x", "api_key": "k", "steps": [{"type": "echo", "colour": 1}]});
        let err = WorkflowFile::from_value(value).unwrap_err();
        assert_eq!(err.path, "steps[0]", "{err}");
    }

    #[test]
    fn the_editor_schema_header_is_a_comment_the_loader_skips() {
        for url in [
            "http://127.0.0.1:3000/schemas/workflow.json",
            "https://abc123.execute-api.eu-west-1.amazonaws.com/Prod/schemas/workflow.json",
        ] {
            let text = format!("# yaml-language-server: $schema={url}\n{YAML}");
            assert_eq!(
                WorkflowFile::parse(&text).unwrap(),
                WorkflowFile::parse(YAML).unwrap()
            );
        }
    }

    #[test]
    fn a_payload_schema_is_read_written_back_and_refused_when_unusable() {
        let text = "name: x\napi_key: k\npayload_schema:\n  type: object\n  required: [id]\n";
        let file = WorkflowFile::parse(text).unwrap();
        let value = serde_json::to_value(&file).unwrap();
        assert_eq!(value["payload_schema"]["required"][0], "id", "{value}");
        assert_eq!(WorkflowFile::from_value(value).unwrap(), file);
        assert!(file.compiled_payload_schema().unwrap().is_some());

        let err = WorkflowFile::parse("name: x\napi_key: k\npayload_schema:\n  type: strng\n")
            .unwrap_err();
        assert_eq!(err.path, "payload_schema", "{err}");
        let err = WorkflowFile::parse("name: x\napi_key: k\npayload_schema: true\n").unwrap_err();
        assert_eq!(err.path, "payload_schema", "a schema is an object: {err}");
    }

    #[test]
    fn broken_syntax_reports_a_line() {
        let err = WorkflowFile::parse("name: x\napi_key: k\nsteps: [\n").unwrap_err();
        assert!(err.line.is_some(), "{err}");
        let err = WorkflowFile::parse("{\"name\": \"x\",\n \"api_key\": }").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
    }
}
