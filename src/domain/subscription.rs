//! The record of an SNS topic subscribed to a workflow's webhook URL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::WorkflowId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionState {
    Confirmed,
    Unsubscribed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnsSubscription {
    pub workflow_id: WorkflowId,
    pub topic_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_arn: Option<String>,
    pub state: SubscriptionState,
    pub updated_at: DateTime<Utc>,
}
