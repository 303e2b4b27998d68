//! The JSON users read: what the API answers and what the CLI prints with `--json`. One type
//! per document, every field camelCase, built *from* the stored records so the wire shape and
//! the storage format cannot drift into each other. User data (payloads, headers, message
//! attributes, step outputs) passes through untouched.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

mod search;

pub use search::{
    BulkReplayView, ExecutionCountsView, ExecutionSearchView, FoundExecutionView, TestRunView,
};

use crate::app::{
    Accepted, Activity, ApiKeyListing, ApiKeyOverview, CheckReport, CreatedApiKey, DryRun,
    ExecutionPage, InputSource, ItemPage, RejectionActivity, RotatedApiKey, SecretChange,
    SnsOutcome, StatusCounts,
};
use crate::domain::signature::{Algorithm, Encoding};
use crate::domain::{
    ApiKey, AuthMode, Execution, ExecutionStatus, ItemRecord, ItemStatus, PayloadProblem,
    PlannedStep, RefusalSample, RejectionCounts, Scheme, SigningSecret, SnsSubscription,
    StepRecord, StepStatus, SubscriptionState, Trigger, TriggerMeta, Workflow, WorkflowFile,
    WorkflowSecrets, WorkflowStep, WorkflowVersion,
};
use crate::worker::dry_run::StepPreview;

/// `POST /admin/workflows/check`: what the loader refuses, or the document as it reads it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowCheckView {
    /// Empty when the document would load.
    pub errors: Vec<DefinitionErrorView>,
    /// The normalized document (as the loader reads it: step ids numbered); null with errors.
    #[schema(value_type = Option<Object>)]
    pub definition: Option<Value>,
    /// The same document as YAML, reading back to `definition`; null with errors.
    pub yaml: Option<String>,
}

/// One refusal of a workflow document.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefinitionErrorView {
    /// The field at fault, as `steps[1].url`; empty for the document as a whole.
    pub path: String,
    /// What is wrong; a template error says where in the string (`(at column 7)`).
    pub message: String,
    /// The line in the text sent, when the parser knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

impl From<&CheckReport> for WorkflowCheckView {
    fn from(report: &CheckReport) -> Self {
        Self {
            errors: report
                .errors
                .iter()
                .map(|e| DefinitionErrorView {
                    path: e.path.clone(),
                    message: e.message.clone(),
                    line: e.line,
                })
                .collect(),
            definition: report.json(),
            yaml: report.yaml(),
        }
    }
}

/// `POST /admin/workflows/{id}/dry-run`: each step's rendering, in order; nothing was sent.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DryRunView {
    /// What the steps were rendered against, as templates see it under `trigger`.
    pub input: DryRunInputView,
    /// `execution` (a stored one) or `input` (typed in the request).
    pub source: &'static str,
    /// The stored execution, when `source` is `execution`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// Each step as `workflows dry-run --json` prints it: `id`, `path` (inside a loop),
    /// `type`, `preview` (the request it would send, the case it would take...), `error`,
    /// `notReached`.
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<StepPreview>,
    /// The input against the workflow's `payload_schema`, when it has one: `valid: false`
    /// is a webhook this body would get `422 payload_invalid` for, with the same `details`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<PayloadCheckView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayloadCheckView {
    pub valid: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ProblemView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunInputView {
    #[schema(value_type = Object)]
    pub body: Value,
    pub headers: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
}

impl From<&DryRun> for DryRunView {
    fn from(run: &DryRun) -> Self {
        let execution = &run.execution;
        Self {
            input: DryRunInputView {
                body: execution.payload.clone(),
                headers: execution.request.headers.clone(),
                query: execution.request.query.clone(),
            },
            source: match run.source {
                InputSource::Execution => "execution",
                InputSource::Input => "input",
            },
            execution_id: (run.source == InputSource::Execution).then(|| execution.id.to_string()),
            steps: run.previews.clone(),
            payload: run
                .payload_problems
                .as_ref()
                .map(|problems| PayloadCheckView {
                    valid: problems.is_empty(),
                    details: problems.iter().map(ProblemView::from).collect(),
                }),
        }
    }
}

/// One saved version of a workflow, as `GET /admin/workflows/{id}/versions` lists it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowVersionView {
    pub number: u32,
    pub created_at: DateTime<Utc>,
    /// The admin key's name, or `cli`.
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl From<&WorkflowVersion> for WorkflowVersionView {
    fn from(v: &WorkflowVersion) -> Self {
        Self {
            number: v.number,
            created_at: v.created_at,
            created_by: v.created_by.clone(),
            note: v.note.clone(),
        }
    }
}

/// One version with its document (`GET …/versions/{n}`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowVersionDocumentView {
    #[serde(flatten)]
    pub version: WorkflowVersionView,
    #[schema(value_type = Object)]
    pub definition: WorkflowFile,
}

impl From<&WorkflowVersion> for WorkflowVersionDocumentView {
    fn from(v: &WorkflowVersion) -> Self {
        Self {
            version: WorkflowVersionView::from(v),
            definition: v.definition.clone(),
        }
    }
}

/// A workflow as the console lists it (`GET /admin/workflows`): what it is, where it is
/// called, and what it did over the last 24 h. The webhook URL is given as a path, joined by
/// the page to wherever it was served from (`serve`, or API Gateway with its stage).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminWorkflowView {
    pub id: String,
    pub name: String,
    pub trigger: Trigger,
    pub enabled: bool,
    pub auth: AuthMode,
    /// The key's name, never its value.
    pub api_key_name: String,
    pub step_count: usize,
    pub created_at: DateTime<Utc>,
    pub webhook_path: String,
    pub activity: ActivityView,
    /// The current version: what a replace names in `If-Match` or `baseVersion`.
    pub version: u32,
    /// The workflow as a workflow file has it (snake_case fields, as `workflows create
    /// --file` reads): sent back unchanged to `PUT`, it saves the same workflow.
    #[schema(value_type = Object)]
    pub definition: WorkflowFile,
    /// For one workflow with a `verify` block: its signing secrets' fingerprints (never a
    /// value), as the trigger panel shows them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secrets: Option<Vec<SigningSecretView>>,
}

impl AdminWorkflowView {
    pub fn with_secrets(mut self, secrets: &WorkflowSecrets) -> Self {
        self.signing_secrets = Some(
            secrets
                .secrets
                .iter()
                .map(SigningSecretView::from)
                .collect(),
        );
        self
    }

    pub fn new(workflow: &Workflow, activity: &Activity) -> Self {
        Self {
            id: workflow.id.to_string(),
            name: workflow.name.clone(),
            trigger: workflow.trigger,
            enabled: workflow.enabled,
            auth: workflow.auth,
            api_key_name: workflow.api_key_name.to_string(),
            step_count: workflow.steps.len(),
            created_at: workflow.created_at,
            webhook_path: workflow.webhook_url(""),
            activity: ActivityView::from(activity),
            version: workflow.version,
            definition: WorkflowFile::from(workflow),
            signing_secrets: None,
        }
    }
}

/// The newest execution, in brief.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionBriefView {
    pub id: String,
    pub status: ExecutionStatus,
    pub received_at: DateTime<Utc>,
}

/// Counts by status (`queued`, `running`, `waiting`, `succeeded`, `failed`: the status names, which are
/// values of this API, not field names) over the last 24 h, and per hour for the chart.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityView {
    pub since: DateTime<Utc>,
    #[schema(value_type = BTreeMap<String, u64>)]
    pub counts: StatusCounts,
    pub hourly: Vec<HourView>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_execution: Option<ExecutionBriefView>,
    pub rejections: RejectionsView,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HourView {
    pub hour: DateTime<Utc>,
    #[schema(value_type = BTreeMap<String, u64>)]
    pub counts: StatusCounts,
}

/// Counts by reason (`auth`, `size`, `signature`, `duplicate`, `payload_invalid`, `other`: values of this API,
/// like the status names), zeros included.
pub type ReasonCounts = BTreeMap<&'static str, u64>;

fn reason_counts(counts: &RejectionCounts) -> ReasonCounts {
    counts.iter().map(|(r, n)| (r.as_str(), n)).collect()
}

/// Requests for the workflow that started nothing over the last 24 h, by reason, in total and
/// per hour (the same hours as `hourly` of the executions).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectionsView {
    pub total: u64,
    #[schema(value_type = BTreeMap<String, u64>)]
    pub counts: ReasonCounts,
    pub hourly: Vec<RejectionHourView>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RejectionHourView {
    pub hour: DateTime<Utc>,
    #[schema(value_type = BTreeMap<String, u64>)]
    pub counts: ReasonCounts,
}

impl From<&RejectionActivity> for RejectionsView {
    fn from(r: &RejectionActivity) -> Self {
        Self {
            total: r.counts.total(),
            counts: reason_counts(&r.counts),
            hourly: r
                .hourly
                .iter()
                .map(|(hour, counts)| RejectionHourView {
                    hour: *hour,
                    counts: reason_counts(counts),
                })
                .collect(),
        }
    }
}

impl From<&Activity> for ActivityView {
    fn from(a: &Activity) -> Self {
        Self {
            since: a.since,
            counts: a.counts.clone(),
            hourly: a
                .hourly
                .iter()
                .map(|(hour, counts)| HourView {
                    hour: *hour,
                    counts: counts.clone(),
                })
                .collect(),
            truncated: a.truncated,
            last_execution: a.last.as_ref().map(|e| ExecutionBriefView {
                id: e.id.to_string(),
                status: e.status,
                received_at: e.received_at,
            }),
            rejections: RejectionsView::from(&a.rejections),
        }
    }
}

/// A workflow's refused-request samples, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefusalSamplesView {
    pub samples: Vec<RefusalSampleView>,
}

/// One refused request: the answer it got, where it came from, its headers (every value
/// `[redacted]` unless the header is known to be harmless) and the first 4 KiB of its body
/// (empty when it was refused before its body was read).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefusalSampleView {
    pub at: DateTime<Utc>,
    pub status: u16,
    pub code: String,
    /// The chart's group: `auth`, `size`, `signature` or `other`.
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    pub headers: BTreeMap<String, String>,
    /// Headers left out past the first 64 (by name).
    #[serde(skip_serializing_if = "is_zero")]
    pub headers_dropped: usize,
    pub body: String,
    /// The body had more than `body` shows, or was not read.
    pub body_truncated: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl From<&RefusalSample> for RefusalSampleView {
    fn from(s: &RefusalSample) -> Self {
        Self {
            at: s.at,
            status: s.status,
            code: s.code.clone(),
            reason: s.reason.as_str(),
            source_ip: s.source_ip.clone(),
            headers: s.headers.clone(),
            headers_dropped: s.headers_dropped,
            body: s.body.clone(),
            body_truncated: s.body_truncated,
        }
    }
}

impl From<&[RefusalSample]> for RefusalSamplesView {
    fn from(samples: &[RefusalSample]) -> Self {
        Self {
            samples: samples.iter().map(RefusalSampleView::from).collect(),
        }
    }
}

/// `{"error": {"code", "message"}}`, from the API and from the CLI with `--json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable (`workflow_not_found`): what a client branches on.
    pub code: &'static str,
    /// For people; its wording may change.
    pub message: String,
    /// Where the request failed, one entry per place: for `invalid_definition` the field
    /// (`{"path": "steps[1].url", "message", "line"?}`), for `payload_invalid` a JSON pointer
    /// into the body (`{"pointer": "/alerts/0/name", "message"}`, at most 10).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ProblemView>,
}

/// One place a request failed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemView {
    /// The workflow file's field (`steps[1].url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A JSON pointer into the body (`/alerts/0/name`; `""` is the body itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The line of the document, when the parser knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// What was wrong, or expected, there.
    pub message: String,
}

impl From<&PayloadProblem> for ProblemView {
    fn from(p: &PayloadProblem) -> Self {
        Self {
            path: None,
            pointer: Some(p.pointer.clone()),
            line: None,
            message: p.message.clone(),
        }
    }
}

impl From<&crate::domain::DefinitionError> for ProblemView {
    fn from(e: &crate::domain::DefinitionError) -> Self {
        Self {
            path: Some(e.path.clone()),
            pointer: None,
            line: e.line,
            message: e.message.clone(),
        }
    }
}

impl ErrorBody {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message: message.into(),
                details: Vec::new(),
            },
        }
    }

    pub fn with_details(mut self, details: Vec<ProblemView>) -> Self {
        self.error.details = details;
        self
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub name: String,
    /// The first characters of the value, to tell keys apart; never the value.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The value from before the last rotation, while it is still accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousKeyView>,
    /// Only in `api-keys list`; at most a minute behind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviousKeyView {
    pub prefix: String,
    pub rotated_at: DateTime<Utc>,
    /// When it stops working by itself; absent until `api-keys retire`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retire_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(key: &ApiKey) -> Self {
        Self {
            name: key.name.to_string(),
            prefix: key.prefix.clone(),
            created_at: key.created_at,
            revoked_at: key.revoked_at,
            previous: key.previous.as_ref().map(|p| PreviousKeyView {
                prefix: p.prefix.clone(),
                rotated_at: p.rotated_at,
                retire_at: p.retire_at,
            }),
            last_used_at: None,
        }
    }
}

impl From<&ApiKeyListing> for ApiKeyView {
    fn from(listing: &ApiKeyListing) -> Self {
        Self {
            last_used_at: listing.last_used_at,
            ..Self::from(&listing.key)
        }
    }
}

/// A key as the console's Settings page lists it (`GET /admin/api-keys`): never its value,
/// with whether it is revoked and which workflows name it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminApiKeyView {
    #[serde(flatten)]
    pub key: ApiKeyView,
    pub revoked: bool,
    pub used_by: Vec<String>,
}

impl From<&ApiKeyOverview> for AdminApiKeyView {
    fn from(overview: &ApiKeyOverview) -> Self {
        Self {
            key: ApiKeyView::from(&overview.listing),
            revoked: overview.listing.key.revoked_at.is_some(),
            used_by: overview.used_by.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The answer to `api-keys rotate`: the new value, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedApiKeyView {
    #[serde(flatten)]
    pub key: ApiKeyView,
    pub value: String,
}

impl From<&RotatedApiKey> for RotatedApiKeyView {
    fn from(rotated: &RotatedApiKey) -> Self {
        Self {
            key: ApiKeyView::from(&rotated.key),
            value: rotated.secret.expose().to_owned(),
        }
    }
}

/// A signing secret as anyone may see it: its fingerprint, never its value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SigningSecretView {
    pub fingerprint: String,
    pub added_at: DateTime<Utc>,
}

impl From<&SigningSecret> for SigningSecretView {
    fn from(secret: &SigningSecret) -> Self {
        Self {
            fingerprint: secret.fingerprint.clone(),
            added_at: secret.added_at,
        }
    }
}

/// The answer to `workflows secret set|rotate|retire`: the active secrets, oldest first, and
/// a generated value this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretsView {
    pub workflow_id: String,
    pub secrets: Vec<SigningSecretView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl From<&SecretChange> for SecretsView {
    fn from(change: &SecretChange) -> Self {
        Self {
            workflow_id: change.secrets.workflow_id.to_string(),
            secrets: change.secrets.secrets.iter().map(Into::into).collect(),
            value: change.generated.as_ref().map(|v| v.expose().to_owned()),
        }
    }
}

/// A workflow's `verify` block, and the fingerprints of its secrets when they were loaded.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyView {
    pub scheme: Scheme,
    /// Absent for schemes that sign no timestamp.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<Algorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<Encoding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp_header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_content: Option<String>,
    /// Only where the secrets were read (`workflows show`); never their values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<SigningSecretView>>,
}

/// The one document that carries a key's value: the answer to creating it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedApiKeyView {
    #[serde(flatten)]
    pub key: ApiKeyView,
    pub value: String,
}

impl From<&CreatedApiKey> for CreatedApiKeyView {
    fn from(created: &CreatedApiKey) -> Self {
        Self {
            key: ApiKeyView::from(&created.key),
            value: created.secret.expose().to_owned(),
        }
    }
}

/// What stands in the subscription URL where the key value goes, when it is not known (it is
/// shown once, at creation, and only a hash is kept).
pub const API_KEY_PLACEHOLDER: &str = "YOUR_API_KEY";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowView {
    pub id: String,
    pub name: String,
    pub trigger: Trigger,
    pub api_key_name: String,
    pub enabled: bool,
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sns: Option<SnsOptionsView>,
    pub auth: AuthMode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyView>,
    pub created_at: DateTime<Utc>,
    /// The saved definition's number (see `GET /admin/workflows/{id}/versions`).
    pub version: u32,
    pub webhook_url: String,
    /// For `amazon_sns`: the endpoint to give SNS, with the key in the query string (SNS
    /// cannot send headers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnsOptionsView {
    pub allowed_topic_arns: Vec<String>,
    pub require_signature_v2: bool,
}

impl WorkflowView {
    /// `key_value` fills the subscription URL when the caller has it (the demo, right after
    /// creating the key); otherwise [`API_KEY_PLACEHOLDER`] stands in.
    pub fn new(workflow: &Workflow, base_url: &str, key_value: Option<&str>) -> Self {
        let webhook_url = workflow.webhook_url(base_url);
        let is_sns = workflow.trigger == Trigger::AmazonSns;
        let subscription_url = is_sns.then(|| {
            let key = key_value.unwrap_or(API_KEY_PLACEHOLDER);
            let mut url = webhook_url.clone();
            url.push_str("?x-api-key=");
            url.push_str(&url::form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>());
            url
        });
        Self {
            id: workflow.id.to_string(),
            name: workflow.name.clone(),
            trigger: workflow.trigger,
            api_key_name: workflow.api_key_name.to_string(),
            enabled: workflow.enabled,
            steps: workflow.steps.iter().map(step_view).collect(),
            sns: is_sns.then(|| SnsOptionsView {
                allowed_topic_arns: workflow.sns.allowed_topic_arns.clone(),
                require_signature_v2: workflow.sns.require_signature_v2,
            }),
            auth: workflow.auth,
            verify: workflow.verify.as_ref().map(|v| {
                let signs_time = match v.scheme {
                    Scheme::Github | Scheme::Shopify => false,
                    Scheme::Hmac => v.timestamp_header.is_some(),
                    _ => true,
                };
                VerifyView {
                    scheme: v.scheme,
                    tolerance_seconds: signs_time.then(|| v.tolerance()),
                    header: v.header.clone(),
                    algorithm: v.algorithm,
                    encoding: v.encoding,
                    prefix: v.prefix.clone(),
                    timestamp_header: v.timestamp_header.clone(),
                    signed_content: v.signed_content.clone(),
                    secrets: None,
                }
            }),
            created_at: workflow.created_at,
            version: workflow.version,
            webhook_url,
            subscription_url,
        }
    }

    /// Adds the fingerprints of the workflow's secrets to its `verify` block.
    pub fn with_secrets(mut self, secrets: &WorkflowSecrets) -> Self {
        if let Some(verify) = &mut self.verify {
            verify.secrets = Some(secrets.secrets.iter().map(Into::into).collect());
        }
        self
    }
}

/// A step as users read it: the field names of the workflow file (`timeout_ms`,
/// `continue_on_error`) in camelCase. Values are the author's (templates, header and attribute
/// names) and stay exactly as written.
pub fn step_view(step: &WorkflowStep) -> Value {
    let Ok(Value::Object(fields)) = serde_json::to_value(step) else {
        return Value::Null;
    };
    let camel_fields = fields
        .into_iter()
        .map(|(name, value)| {
            // `retry` is ours (max_attempts, ...); every other value is the author's.
            let value = match (name.as_str(), value) {
                ("retry", Value::Object(inner)) => Value::Object(
                    inner
                        .into_iter()
                        .map(|(k, v)| (camel_case(&k), v))
                        .collect(),
                ),
                (_, value) => value,
            };
            (camel_case(&name), value)
        })
        .collect();
    Value::Object(camel_fields)
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionView {
    pub id: String,
    pub workflow_id: String,
    /// The workflow's version it was accepted under (absent for executions from before
    /// versions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_version: Option<u32>,
    /// A test run (the test bench's "Run for real"): left out of the metrics' counts.
    pub test: bool,
    pub status: ExecutionStatus,
    pub received_at: DateTime<Utc>,
    pub trigger: TriggerOut,
    /// The request body as received (user data).
    #[schema(value_type = Value)]
    pub payload: Value,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// What each step on the path did, in the order they ran.
    pub steps: Vec<StepRecordView>,
    /// Every top-level step of the definition the execution runs, in the definition's order,
    /// with what became of it: the status of its record when it is on the path, `skipped`
    /// when the run went past it or ended before it, `pending` while it may still run.
    pub plan: Vec<PlanStepView>,
    /// While `waiting`: the step, what it waits for and until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<WaitingView>,
}

/// What a waiting execution waits for. Never the resume URL or its token.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitingView {
    pub step: String,
    /// `wait`, `approval` or `callback`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// When it wakes: the wait's end, the timeout, or (once decided) the decision's time.
    pub wake_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// One step of the definition and what became of it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanStepView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A step status (`succeeded`, `failed`, `filtered`, `stopped`, `retrying`), `skipped`
    /// or `pending`.
    pub status: &'static str,
}

impl From<&PlannedStep<'_>> for PlanStepView {
    fn from(p: &PlannedStep<'_>) -> Self {
        Self {
            id: p.step.id.clone(),
            kind: p.step.action.kind(),
            status: p.state.as_str(),
        }
    }
}

/// Where an execution came from, and the request's headers and query (credentials removed;
/// user data, names as sent).
#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerOut {
    #[serde(flatten)]
    pub source: TriggerView,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub query: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepRecordView {
    pub id: String,
    /// Where the step sits when it is not a top-level step: `<for_each>[<index>].<id>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: StepStatus,
    pub attempts: u32,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// What was sent (HTTP request or SNS message), secrets redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub request: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// It failed, and the workflow went on because the step says `continue_on_error`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub continued: bool,
    /// Where its outcome sent the run (an approval's `on_deny`, a timeout's `on_timeout`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl From<&StepRecord> for StepRecordView {
    fn from(r: &StepRecord) -> Self {
        Self {
            id: r.id.clone(),
            path: r.path.clone(),
            kind: r.kind.clone(),
            status: r.status,
            attempts: r.attempts,
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: (r.finished_at - r.started_at).num_milliseconds(),
            request: r.request.clone(),
            output: r.output.clone(),
            error: r.error.clone(),
            continued: r.continued,
            next: r.next.clone(),
        }
    }
}

/// Where an execution came from, by trigger type.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TriggerView {
    #[serde(rename_all = "camelCase")]
    GenericWebhook {
        #[serde(skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        idempotency_key: Option<String>,
        body_bytes: usize,
    },
    #[serde(rename_all = "camelCase")]
    AmazonSns {
        message_id: String,
        topic_arn: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        subject: Option<String>,
        timestamp: String,
        /// As SNS sent them (user data).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        message_attributes: Option<Value>,
    },
    /// Started by `executions replay`: the execution whose payload it runs again.
    #[serde(rename_all = "camelCase")]
    Replay { replay_of: String },
}

impl From<&TriggerMeta> for TriggerView {
    fn from(meta: &TriggerMeta) -> Self {
        match meta {
            TriggerMeta::GenericWebhook {
                content_type,
                idempotency_key,
                body_bytes,
            } => Self::GenericWebhook {
                content_type: content_type.clone(),
                idempotency_key: idempotency_key.clone(),
                body_bytes: *body_bytes,
            },
            TriggerMeta::AmazonSns {
                message_id,
                topic_arn,
                subject,
                timestamp,
                message_attributes,
            } => Self::AmazonSns {
                message_id: message_id.clone(),
                topic_arn: topic_arn.clone(),
                subject: subject.clone(),
                timestamp: timestamp.clone(),
                message_attributes: message_attributes.clone(),
            },
            TriggerMeta::ReplayOf { original } => Self::Replay {
                replay_of: original.to_string(),
            },
        }
    }
}

/// What a `branch` record says it chose, for people: `case 1 → chat`, `default → ignore`
/// (cases count from 0, as in the output's `matched`). `None` for any other record.
pub fn branch_choice(record: &StepRecord) -> Option<String> {
    if record.kind != "branch" {
        return None;
    }
    let output = record.output.as_ref()?;
    let next = output.get("next")?.as_str()?;
    match output.get("matched")? {
        Value::Number(n) => Some(format!("case {n} → {next}")),
        Value::String(s) => Some(format!("{s} → {next}")),
        _ => None,
    }
}

impl ExecutionView {
    /// `current` is the workflow's steps: the plan of a record stored before executions kept
    /// their own copy of the definition.
    pub fn new(e: &Execution, current: &[WorkflowStep]) -> Self {
        Self {
            id: e.id.to_string(),
            workflow_id: e.workflow_id.to_string(),
            workflow_version: e.workflow_version,
            test: e.test,
            status: e.status,
            received_at: e.received_at,
            trigger: TriggerOut {
                source: TriggerView::from(&e.trigger),
                headers: e.request.headers.clone(),
                query: e.request.query.clone(),
            },
            payload: e.payload.clone(),
            attempts: e.attempts,
            started_at: e.started_at,
            finished_at: e.finished_at,
            result: e.result.clone(),
            error: e.error.clone(),
            expires_at: e.expires_at,
            steps: e.steps.iter().map(StepRecordView::from).collect(),
            plan: e.plan(current).iter().map(PlanStepView::from).collect(),
            waiting: e
                .waiting
                .as_ref()
                .filter(|_| e.status == ExecutionStatus::Waiting)
                .map(|w| WaitingView {
                    step: w.step.clone(),
                    kind: w.kind.as_str(),
                    wake_at: w.wake_at,
                    expires_at: w.expires_at,
                }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionPageView {
    pub items: Vec<ExecutionView>,
    /// Pass as `cursor` to get the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl ExecutionPageView {
    /// `current`: the workflow's steps, as for [`ExecutionView::new`].
    pub fn new(page: &ExecutionPage, current: &[WorkflowStep]) -> Self {
        Self {
            items: page
                .items
                .iter()
                .map(|e| ExecutionView::new(e, current))
                .collect(),
            next_cursor: page.next_cursor.clone(),
        }
    }
}

/// What one item of a `for_each` did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemRecordView {
    /// From 0, the item's place in the list.
    pub index: u32,
    pub status: ItemStatus,
    /// The item's last inner step's output, once it finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The inner steps that ran, in order, each with its `path` (`chat[3].post`).
    pub steps: Vec<StepRecordView>,
    pub updated_at: DateTime<Utc>,
}

impl From<&ItemRecord> for ItemRecordView {
    fn from(item: &ItemRecord) -> Self {
        Self {
            index: item.index,
            status: item.status,
            output: item.output.clone(),
            error: item.error.clone(),
            steps: item.steps.iter().map(StepRecordView::from).collect(),
            updated_at: item.updated_at,
        }
    }
}

/// A page of a `for_each` step's items, by index.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemPageView {
    pub items: Vec<ItemRecordView>,
    /// Pass as `after` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u32>,
}

impl From<&ItemPage> for ItemPageView {
    fn from(page: &ItemPage) -> Self {
        Self {
            items: page.items.iter().map(ItemRecordView::from).collect(),
            next_after: page.next_after,
        }
    }
}

/// The answer to a webhook (and to a replay): which execution, and whether it repeated one.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedView {
    pub execution_id: String,
    pub status: ExecutionStatus,
    pub duplicate: bool,
}

impl From<&Accepted> for AcceptedView {
    fn from(a: &Accepted) -> Self {
        Self {
            execution_id: a.execution_id.to_string(),
            status: a.status,
            duplicate: a.duplicate,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub workflow_id: String,
    pub topic_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_arn: Option<String>,
    pub state: SubscriptionState,
    pub updated_at: DateTime<Utc>,
}

impl From<&SnsSubscription> for SubscriptionView {
    fn from(s: &SnsSubscription) -> Self {
        Self {
            workflow_id: s.workflow_id.to_string(),
            topic_arn: s.topic_arn.clone(),
            subscription_arn: s.subscription_arn.clone(),
            state: s.state,
            updated_at: s.updated_at,
        }
    }
}

/// The answer to an SNS control message (a notification answers with [`AcceptedView`]).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnsControlView {
    /// `subscription_confirmed` or `unsubscribed`.
    pub status: &'static str,
    pub topic_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_arn: Option<String>,
}

/// What an SNS delivery is answered with: an execution for a notification, else a control view.
pub enum SnsAnswer {
    Accepted(AcceptedView),
    Control(SnsControlView),
}

impl From<&SnsOutcome> for SnsAnswer {
    fn from(outcome: &SnsOutcome) -> Self {
        match outcome {
            SnsOutcome::Notification(accepted) => Self::Accepted(AcceptedView::from(accepted)),
            SnsOutcome::SubscriptionConfirmed(s) => Self::Control(SnsControlView {
                status: "subscription_confirmed",
                topic_arn: s.topic_arn.clone(),
                subscription_arn: s.subscription_arn.clone(),
            }),
            SnsOutcome::Unsubscribed(s) => Self::Control(SnsControlView {
                status: "unsubscribed",
                topic_arn: s.topic_arn.clone(),
                subscription_arn: None,
            }),
        }
    }
}

/// The answer to Slack's Request URL check: the challenge it sent, echoed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlackChallengeView {
    pub challenge: String,
}

/// A webhook's `200` answers, one of them per request. Only the API's description names this
/// type: the handler sends each case's own view, and the description must say all of them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum WebhookAnswerView {
    Accepted(AcceptedView),
    SnsControl(SnsControlView),
    SlackChallenge(SlackChallengeView),
}

/// The answer to an approval's decision, by its link or by an operator.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// `approved` or `denied`.
    pub decision: &'static str,
}

/// The answer to a callback URL's JSON: taken, and the execution goes on.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackReceivedView {
    /// Always `accepted`.
    pub status: &'static str,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthView {
    /// Always `ok`: the process answers; the store is not asked.
    pub status: &'static str,
}

/// Checks that every object key in `value` is camelCase, except below the paths in
/// `user_data` (JSON pointers, `*` matching any one segment), which hold what users sent.
/// Returns the offending paths.
pub fn non_camel_case_keys(value: &Value, user_data: &[&str]) -> Vec<String> {
    fn is_camel(key: &str) -> bool {
        let mut chars = key.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && key.chars().all(|c| c.is_ascii_alphanumeric())
    }
    fn matches(pattern: &str, path: &[String]) -> bool {
        let segments: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
        segments.len() == path.len() && segments.iter().zip(path).all(|(p, s)| *p == "*" || p == s)
    }
    fn walk(value: &Value, path: &mut Vec<String>, user_data: &[&str], bad: &mut Vec<String>) {
        if user_data.iter().any(|p| matches(p, path)) {
            return;
        }
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    path.push(key.clone());
                    if !is_camel(key) {
                        bad.push(format!("/{}", path.join("/")));
                    }
                    walk(child, path, user_data, bad);
                    path.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    path.push(i.to_string());
                    walk(child, path, user_data, bad);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut bad = Vec::new();
    walk(value, &mut Vec::new(), user_data, &mut bad);
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApiKeyName, ExecutionId, SnsOptions, WorkflowId, WorkflowStep};
    use chrono::Duration;
    use serde_json::json;

    /// The object's keys, sorted (serde_json keeps objects sorted).
    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        keys.sort_unstable();
        keys
    }

    fn sorted(mut names: Vec<&str>) -> Vec<&str> {
        names.sort_unstable();
        names
    }

    fn sns_workflow() -> Workflow {
        Workflow::new(
            "alarms",
            Trigger::AmazonSns,
            ApiKeyName::parse("ops").unwrap(),
            Vec::<WorkflowStep>::new(),
            SnsOptions {
                allowed_topic_arns: vec!["arn:aws:sns:us-east-1:123456789012:alarms".into()],
                require_signature_v2: true,
            },
            Utc::now(),
        )
        .unwrap()
    }

    #[test]
    fn a_workflow_carries_its_urls_and_camel_case_fields() {
        let wf = sns_workflow();
        let view =
            serde_json::to_value(WorkflowView::new(&wf, "https://h.example/", None)).unwrap();
        assert_eq!(
            keys(&view),
            sorted(vec![
                "id",
                "name",
                "trigger",
                "apiKeyName",
                "enabled",
                "steps",
                "sns",
                "auth",
                "createdAt",
                "version",
                "webhookUrl",
                "subscriptionUrl"
            ])
        );
        assert_eq!(view["trigger"], "amazon_sns");
        assert_eq!(
            view["webhookUrl"],
            format!("https://h.example/webhooks/{}", wf.id)
        );
        assert_eq!(
            view["subscriptionUrl"],
            format!(
                "https://h.example/webhooks/{}?x-api-key={API_KEY_PLACEHOLDER}",
                wf.id
            )
        );
        assert_eq!(
            keys(&view["sns"]),
            sorted(vec!["allowedTopicArns", "requireSignatureV2"])
        );
        assert!(non_camel_case_keys(&view, &[]).is_empty());
    }

    #[test]
    fn a_known_key_value_is_encoded_into_the_subscription_url() {
        let wf = sns_workflow();
        let view = WorkflowView::new(&wf, "http://127.0.0.1:3000", Some("wt_a+b/c"));
        assert!(
            view.subscription_url
                .unwrap()
                .ends_with("?x-api-key=wt_a%2Bb%2Fc")
        );
    }

    #[test]
    fn a_generic_workflow_has_no_subscription_url_or_sns_options() {
        let wf = Workflow::new(
            "orders",
            Trigger::GenericWebhook,
            ApiKeyName::parse("k").unwrap(),
            Vec::<WorkflowStep>::new(),
            SnsOptions::default(),
            Utc::now(),
        )
        .unwrap();
        let view = serde_json::to_value(WorkflowView::new(&wf, "http://x", None)).unwrap();
        assert!(view.get("subscriptionUrl").is_none());
        assert!(view.get("sns").is_none());
    }

    #[test]
    fn an_execution_is_camel_case_at_every_depth_outside_user_data() {
        let execution = Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::AmazonSns {
                message_id: "m-1".into(),
                topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
                subject: Some("s".into()),
                timestamp: "2026-11-25T00:00:00Z".into(),
                message_attributes: Some(json!({"snake_attr": {"Type": "String"}})),
            },
            json!({"user_field": {"Nested_Key": 1}}),
            Utc::now(),
            Duration::days(1),
        );
        let view = serde_json::to_value(ExecutionView::new(&execution, &[])).unwrap();
        assert_eq!(
            keys(&view["trigger"]),
            sorted(vec![
                "type",
                "messageId",
                "topicArn",
                "subject",
                "timestamp",
                "messageAttributes"
            ])
        );
        assert_eq!(
            non_camel_case_keys(&view, &["/payload", "/trigger/messageAttributes"]),
            Vec::<String>::new()
        );
        // The checker does look inside: without the exemptions the user's keys are reported.
        assert_eq!(non_camel_case_keys(&view, &[]).len(), 4);
    }

    #[test]
    fn a_generic_trigger_and_a_replay_have_camel_case_fields() {
        let generic = TriggerView::from(&TriggerMeta::GenericWebhook {
            content_type: Some("application/json".into()),
            idempotency_key: Some("k".into()),
            body_bytes: 2,
        });
        let generic = serde_json::to_value(generic).unwrap();
        assert_eq!(
            keys(&generic),
            sorted(vec!["type", "contentType", "idempotencyKey", "bodyBytes"])
        );
        let id = ExecutionId::generate();
        let replay =
            serde_json::to_value(TriggerView::from(&TriggerMeta::ReplayOf { original: id }))
                .unwrap();
        assert_eq!(
            replay,
            json!({"type": "replay", "replayOf": id.to_string()})
        );
    }

    #[test]
    fn a_verified_workflow_shows_its_scheme_and_secret_fingerprints_only() {
        use crate::domain::{SecretValue, VerifyOptions};
        let mut wf = sns_workflow();
        wf.trigger = Trigger::GenericWebhook;
        wf.auth = AuthMode::Signature;
        wf.verify = Some(VerifyOptions::preset(Scheme::Stripe));
        let mut secrets = WorkflowSecrets::empty(wf.id.clone());
        secrets.set(SecretValue::new("whsec_do_not_show".into()), Utc::now());
        let view = WorkflowView::new(&wf, "https://h.example", None).with_secrets(&secrets);
        let view = serde_json::to_value(view).unwrap();
        assert_eq!(view["auth"], "signature");
        assert_eq!(
            keys(&view["verify"]),
            sorted(vec!["scheme", "toleranceSeconds", "secrets"])
        );
        assert_eq!(view["verify"]["scheme"], "stripe");
        assert_eq!(view["verify"]["toleranceSeconds"], 300);
        let shown = &view["verify"]["secrets"][0];
        assert_eq!(keys(shown), sorted(vec!["fingerprint", "addedAt"]));
        assert_eq!(shown["fingerprint"], secrets.secrets[0].fingerprint);
        assert!(!view.to_string().contains("whsec_do_not_show"));
        assert_eq!(
            non_camel_case_keys(&view, &["/steps"]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn api_keys_never_show_the_hash() {
        let (key, secret) = ApiKey::generate(ApiKeyName::parse("ops").unwrap(), Utc::now());
        let view = serde_json::to_value(ApiKeyView::from(&key)).unwrap();
        assert_eq!(keys(&view), sorted(vec!["name", "prefix", "createdAt"]));
        let text = view.to_string();
        assert!(!text.contains(&key.hash));
        assert!(!text.contains(secret.expose()));
    }

    #[test]
    fn the_consoles_key_listing_names_its_workflows_and_never_the_value() {
        let (mut key, secret) = ApiKey::generate(ApiKeyName::parse("ops").unwrap(), Utc::now());
        key.revoke(Utc::now());
        let overview = ApiKeyOverview {
            listing: ApiKeyListing {
                key,
                last_used_at: Some(Utc::now()),
            },
            used_by: vec![WorkflowId::parse("wf_a").unwrap()],
        };
        let view = serde_json::to_value(AdminApiKeyView::from(&overview)).unwrap();
        assert_eq!(
            keys(&view),
            sorted(vec![
                "name",
                "prefix",
                "createdAt",
                "revokedAt",
                "lastUsedAt",
                "revoked",
                "usedBy"
            ])
        );
        assert_eq!(view["usedBy"], json!(["wf_a"]));
        assert_eq!(view["revoked"], true);
        assert!(!view.to_string().contains(secret.expose()));
    }

    #[test]
    fn steps_show_camel_case_fields_and_the_authors_values_as_written() {
        let file = crate::domain::WorkflowFile::parse(
            r#"
name: x
api_key: k
steps:
  - id: notify
    type: http_request
    url: https://hooks.example.com/a
    headers: { X_Custom_Header: "{{ trigger.body.a_b }}" }
    timeout_ms: 5000
    retry: { max_attempts: 2 }
    continue_on_error: true
"#,
        )
        .unwrap();
        let view = step_view(&file.steps[0]);
        assert_eq!(view["timeoutMs"], 5000);
        assert_eq!(view["continueOnError"], true);
        assert_eq!(view["retry"]["maxAttempts"], 2);
        assert_eq!(view["headers"]["X_Custom_Header"], "{{ trigger.body.a_b }}");
        assert_eq!(
            non_camel_case_keys(&view, &["/headers"]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_smaller_documents_have_their_pinned_camel_case_fields() {
        let id = ExecutionId::generate();
        let accepted = serde_json::to_value(AcceptedView::from(&Accepted {
            execution_id: id,
            status: ExecutionStatus::Queued,
            duplicate: false,
        }))
        .unwrap();
        assert_eq!(
            accepted,
            json!({"executionId": id.to_string(), "status": "queued", "duplicate": false})
        );
        let subscription = SnsSubscription {
            workflow_id: WorkflowId::parse("wf").unwrap(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
            subscription_arn: Some("arn:aws:sns:us-east-1:123456789012:t:1".into()),
            state: SubscriptionState::Confirmed,
            updated_at: Utc::now(),
        };
        let view = serde_json::to_value(SubscriptionView::from(&subscription)).unwrap();
        assert_eq!(
            keys(&view),
            sorted(vec![
                "workflowId",
                "topicArn",
                "subscriptionArn",
                "state",
                "updatedAt"
            ])
        );
        assert_eq!(view["state"], "confirmed");
        let SnsAnswer::Control(control) =
            SnsAnswer::from(&SnsOutcome::SubscriptionConfirmed(subscription))
        else {
            panic!("a confirmation answers with a control view");
        };
        assert_eq!(
            keys(&serde_json::to_value(control).unwrap()),
            sorted(vec!["status", "topicArn", "subscriptionArn"])
        );
        let (key, secret) = ApiKey::generate(ApiKeyName::parse("ops").unwrap(), Utc::now());
        let created =
            serde_json::to_value(CreatedApiKeyView::from(&CreatedApiKey { key, secret })).unwrap();
        assert_eq!(
            keys(&created),
            sorted(vec!["name", "prefix", "createdAt", "value"])
        );
        let page = serde_json::to_value(ExecutionPageView::new(
            &ExecutionPage {
                items: vec![],
                next_cursor: Some("c".into()),
            },
            &[],
        ))
        .unwrap();
        assert_eq!(page, json!({"items": [], "nextCursor": "c"}));
    }

    #[test]
    fn a_step_record_shows_its_duration_and_camel_case_fields() {
        let started = Utc::now();
        let record = StepRecord {
            path: None,
            id: "notify".into(),
            kind: "http_request".into(),
            status: StepStatus::Retrying,
            attempts: 3,
            started_at: started,
            finished_at: started + Duration::milliseconds(250),
            request: Some(json!({"headers": {"X_Custom": "v"}})),
            output: None,
            error: Some("no answer within 10s".into()),
            continued: false,
            next: None,
        };
        let view = serde_json::to_value(StepRecordView::from(&record)).unwrap();
        assert_eq!(view["durationMs"], 250);
        assert_eq!(view["status"], "retrying");
        assert_eq!(view["type"], "http_request");
        assert_eq!(
            non_camel_case_keys(&view, &["/request"]),
            Vec::<String>::new()
        );
    }

    fn record(id: &str, kind: &str, status: StepStatus, output: Value) -> StepRecord {
        let now = Utc::now();
        StepRecord {
            path: None,
            id: id.into(),
            kind: kind.into(),
            status,
            attempts: 1,
            started_at: now,
            finished_at: now,
            request: None,
            output: Some(output),
            error: None,
            next: None,
            continued: false,
        }
    }

    fn routed_steps() -> Vec<WorkflowStep> {
        let mut steps: Vec<WorkflowStep> = serde_json::from_value(json!([
            {"id": "route", "type": "branch",
             "cases": [{"when": "trigger.body.critical", "next": "page"},
                       {"when": "trigger.body.alerts is defined", "next": "chat"}],
             "default": "ignore"},
            {"id": "page", "type": "echo", "next": "end"},
            {"id": "chat", "type": "for_each", "items": "trigger.body.alerts",
             "steps": [{"id": "post", "type": "echo"}], "next": "end"},
            {"id": "ignore", "type": "stop"},
        ]))
        .unwrap();
        crate::domain::step::number_steps(&mut steps);
        steps
    }

    #[test]
    fn an_execution_lists_its_definition_with_the_steps_off_its_path_skipped() {
        let mut execution = Execution::new(
            WorkflowId::parse("wf").unwrap(),
            TriggerMeta::GenericWebhook {
                content_type: None,
                idempotency_key: None,
                body_bytes: 2,
            },
            json!({"alerts": [1, 2]}),
            Utc::now(),
            Duration::days(1),
        );
        execution.status = ExecutionStatus::Succeeded;
        execution.definition = Some(routed_steps().into());
        execution.steps = vec![
            record(
                "route",
                "branch",
                StepStatus::Succeeded,
                json!({"matched": 1, "next": "chat"}),
            ),
            record("chat", "for_each", StepStatus::Succeeded, json!([1, 2])),
        ];
        let view = serde_json::to_value(ExecutionView::new(&execution, &[])).unwrap();
        assert_eq!(
            view["plan"],
            json!([
                {"id": "route", "type": "branch", "status": "succeeded"},
                {"id": "page", "type": "echo", "status": "skipped"},
                {"id": "chat", "type": "for_each", "status": "succeeded"},
                {"id": "ignore", "type": "stop", "status": "skipped"},
            ])
        );
        // The records stay as they were: the path taken, in order, no `path` at the top level.
        assert_eq!(view["steps"][0]["id"], "route");
        assert_eq!(view["steps"][1]["id"], "chat");
        assert!(view["steps"][0].get("path").is_none());
        assert_eq!(
            non_camel_case_keys(&view, &["/payload", "/steps/*/output"]),
            Vec::<String>::new()
        );

        // Without its own copy, the plan is the workflow's current steps.
        execution.definition = None;
        let view = serde_json::to_value(ExecutionView::new(&execution, &routed_steps())).unwrap();
        assert_eq!(view["plan"].as_array().map(Vec::len), Some(4));
        assert_eq!(view["plan"][3]["status"], "skipped");
    }

    #[test]
    fn a_branch_record_says_which_case_it_matched() {
        let case = record(
            "route",
            "branch",
            StepStatus::Succeeded,
            json!({"matched": 1, "next": "chat"}),
        );
        assert_eq!(branch_choice(&case).as_deref(), Some("case 1 → chat"));
        let default = record(
            "route",
            "branch",
            StepStatus::Succeeded,
            json!({"matched": "default", "next": "ignore"}),
        );
        assert_eq!(branch_choice(&default).as_deref(), Some("default → ignore"));
        let other = record(
            "e",
            "echo",
            StepStatus::Succeeded,
            json!({"matched": 1, "next": "x"}),
        );
        assert_eq!(branch_choice(&other), None);
        let failed = StepRecord {
            output: None,
            ..record("route", "branch", StepStatus::Failed, Value::Null)
        };
        assert_eq!(branch_choice(&failed), None);
    }

    #[test]
    fn an_item_page_is_camel_case_with_each_inner_steps_path() {
        let mut inner = record(
            "post",
            "http_request",
            StepStatus::Succeeded,
            json!({"status": 200}),
        );
        inner.path = Some("chat[3].post".into());
        inner.request = Some(json!({"headers": {"X_Custom": "v"}}));
        let page = ItemPage {
            items: vec![ItemRecord {
                step_id: "chat".into(),
                index: 3,
                status: ItemStatus::Failed,
                steps: vec![inner],
                output: Some(json!({"error": "boom"})),
                error: Some("boom".into()),
                updated_at: Utc::now(),
            }],
            next_after: Some(3),
        };
        let view = serde_json::to_value(ItemPageView::from(&page)).unwrap();
        assert_eq!(keys(&view), sorted(vec!["items", "nextAfter"]));
        assert_eq!(view["nextAfter"], 3);
        let item = &view["items"][0];
        assert_eq!(
            keys(item),
            sorted(vec![
                "index",
                "status",
                "output",
                "error",
                "steps",
                "updatedAt"
            ])
        );
        assert_eq!(item["status"], "failed");
        assert_eq!(item["steps"][0]["path"], "chat[3].post");
        assert_eq!(
            non_camel_case_keys(
                &view,
                &[
                    "/items/*/output",
                    "/items/*/steps/*/request",
                    "/items/*/steps/*/output"
                ]
            ),
            Vec::<String>::new()
        );
        let last = serde_json::to_value(ItemPageView::from(&ItemPage {
            items: vec![],
            next_after: None,
        }))
        .unwrap();
        assert_eq!(last, json!({"items": []}), "the last page has no nextAfter");
    }

    #[test]
    fn errors_have_code_and_message() {
        let body = serde_json::to_value(ErrorBody::new("not_found", "workflow not found")).unwrap();
        assert_eq!(
            body,
            json!({"error": {"code": "not_found", "message": "workflow not found"}})
        );
    }
}
