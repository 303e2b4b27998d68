//! The business rules of webhook-trigger: API keys, workflows, executions and their state
//! transitions. Nothing here knows about HTTP, SQLite or AWS.

pub mod admin_key;
pub mod api_key;
pub mod callback;
pub mod definition;
pub mod duration;
pub mod execution;
pub mod ids;
pub mod item;
pub mod payload_schema;
pub mod plan;
pub mod refusal_sample;
pub mod rejection;
pub mod request;
pub mod search;
pub mod signature;
pub mod step;
pub mod subscription;
pub mod template;
pub mod workflow;
pub mod workflow_file;
pub mod workflow_schema;
pub mod workflow_version;

pub use admin_key::AdminKey;
pub use api_key::{ApiKey, ApiKeyName, KeyRotationError, KeySecret, KeyUsage, PreviousKey};
pub use callback::{Callback, CallbackRefusal, CallbackToken, Decision, DecisionKind};
pub use definition::Definition;
pub use duration::{InvalidDuration, parse_duration};
pub use execution::{
    Execution, ExecutionStatus, StepRecord, StepStatus, TransitionError, TriggerMeta, WaitKind,
    Waiting,
};
pub use ids::{ExecutionId, InvalidId, WorkflowId};
pub use item::{ItemRecord, ItemStatus};
pub use payload_schema::{
    InvalidPayloadSchema, MAX_PAYLOAD_DETAILS, PayloadProblem, PayloadSchema,
};
pub use plan::{PlanState, PlannedStep};
pub use refusal_sample::{
    REFUSAL_SAMPLE_RETENTION_HOURS, RefusalSample, RefusedRequest, SAMPLE_BODY_BYTES, minute_of,
};
pub use rejection::{REJECTION_RETENTION_HOURS, RejectionCounts, RejectionReason, hour_of};
pub use request::RequestMeta;
pub use search::{ExecutionFilter, PayloadQuery};
pub use signature::{
    AuthMode, Scheme, SecretValue, SignatureError, SigningSecret, Verified, VerifyOptions,
    WorkflowSecrets,
};
pub use step::{
    ExpectStatus, HttpRequestStep, InvalidDefinition, RetryPolicy, SnsPublishStep, StatusMatch,
    Step, WORKER_STEP_BUDGET, WorkflowStep,
};
pub use subscription::{SnsSubscription, SubscriptionState};
pub use template::{TemplateContext, TemplateEngine, TemplateError, TemplateValue};
pub use workflow::{InvalidWorkflow, SenderAuth, SnsOptions, Trigger, Workflow};
pub use workflow_file::{DefinitionError, WorkflowFile};
pub use workflow_schema::{workflow_schema, workflow_schema_text};
pub use workflow_version::{CLI_AUTHOR, MAX_NOTE_CHARS, WorkflowVersion};
