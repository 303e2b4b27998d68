//! The business rules of webhook-trigger: API keys, workflows, executions and their state
//! transitions. Nothing here knows about HTTP, SQLite or AWS.

pub mod api_key;
pub mod execution;
pub mod ids;
pub mod request;
pub mod subscription;
pub mod workflow;

pub use api_key::{ApiKey, ApiKeyName, KeySecret};
pub use execution::{
    Execution, ExecutionStatus, StepRecord, StepStatus, TransitionError, TriggerMeta,
};
pub use ids::{ExecutionId, InvalidId, WorkflowId};
pub use request::RequestMeta;
pub use subscription::{SnsSubscription, SubscriptionState};
pub use workflow::{SnsOptions, Step, Trigger, Workflow};
