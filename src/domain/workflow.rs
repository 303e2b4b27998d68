//! Workflows: what a webhook URL starts, who may call it, and the steps the worker runs.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::api_key::ApiKeyName;
use super::ids::WorkflowId;
use super::payload_schema::PayloadSchema;
use super::signature::{AuthMode, InvalidVerify, VerifyOptions};
use super::step::{
    InvalidDefinition, WORKER_STEP_BUDGET, WorkflowStep, deserialize_numbered, number_steps,
    validate_steps,
};

/// What calls the webhook URL.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Any sender's HTTP POST (the default).
    GenericWebhook,
    /// Amazon SNS notifications, their signatures checked.
    AmazonSns,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GenericWebhook => "generic_webhook",
            Self::AmazonSns => "amazon_sns",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Trigger {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "generic_webhook" => Ok(Self::GenericWebhook),
            "amazon_sns" => Ok(Self::AmazonSns),
            other => Err(format!(
                "unknown trigger {other:?} (expected generic_webhook or amazon_sns)"
            )),
        }
    }
}

/// Settings that only matter for an `amazon_sns` trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnsOptions {
    /// Topic ARNs this workflow accepts messages from; empty accepts any topic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_topic_arns: Vec<String>,
    /// Refuse SignatureVersion 1 (SHA1withRSA) messages.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signature_v2: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workflow {
    pub id: WorkflowId,
    pub name: String,
    pub trigger: Trigger,
    pub api_key_name: ApiKeyName,
    pub enabled: bool,
    /// Steps stored before ids existed have none; they are numbered as they load.
    #[serde(default, deserialize_with = "deserialize_numbered")]
    pub steps: Vec<WorkflowStep>,
    #[serde(default)]
    pub sns: SnsOptions,
    /// What a caller proves: the API key (the default, and what records stored before
    /// signatures existed mean), the provider's signature, or both.
    #[serde(default)]
    pub auth: AuthMode,
    /// How the signature is checked; the secrets live in their own record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyOptions>,
    pub created_at: DateTime<Utc>,
    /// Which saved definition this is (1 on create, +1 per replace). Records stored before
    /// versions existed were never replaced through one, so they are version 1.
    #[serde(default = "first_version")]
    pub version: u32,
    /// What a trigger body must match; records stored before schemas existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_schema: Option<PayloadSchema>,
}

fn first_version() -> u32 {
    1
}

/// The sender-authentication part of a workflow definition, checked together because each
/// half only makes sense with the other.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderAuth {
    pub mode: AuthMode,
    pub verify: Option<VerifyOptions>,
}

impl SenderAuth {
    /// `signature` and `both` need a `verify` block; a `verify` block is only for generic
    /// webhooks (SNS messages carry AWS's own signature, checked always).
    pub fn check(&self, trigger: Trigger) -> Result<(), InvalidWorkflow> {
        if let Some(verify) = &self.verify {
            if trigger != Trigger::GenericWebhook {
                return Err(InvalidWorkflow::VerifyOnSns);
            }
            verify.validate()?;
        } else if self.mode.needs_signature() {
            return Err(InvalidWorkflow::AuthWithoutVerify(self.mode));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidWorkflow {
    #[error("workflow name must be 1 to 200 characters")]
    Name,
    #[error("allowed topic {0:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:TOPIC)")]
    TopicArn(String),
    #[error("SNS options only apply to an amazon_sns trigger")]
    SnsOptionsOnGeneric,
    #[error(transparent)]
    Definition(#[from] InvalidDefinition),
    #[error("auth {0} needs a verify block (the signature scheme)")]
    AuthWithoutVerify(AuthMode),
    #[error(
        "verify applies to generic_webhook workflows; SNS messages are verified by AWS's own signature"
    )]
    VerifyOnSns,
    #[error(transparent)]
    Verify(#[from] InvalidVerify),
}

impl Workflow {
    /// Numbers steps without an id, then refuses anything [`check_definition`] refuses.
    pub fn new(
        name: &str,
        trigger: Trigger,
        api_key_name: ApiKeyName,
        steps: impl IntoIterator<Item = impl Into<WorkflowStep>>,
        sns: SnsOptions,
        now: DateTime<Utc>,
    ) -> Result<Self, InvalidWorkflow> {
        let mut steps: Vec<WorkflowStep> = steps.into_iter().map(Into::into).collect();
        number_steps(&mut steps);
        let name = check_definition(name, trigger, &sns, &steps)?;
        Ok(Self {
            id: WorkflowId::generate(),
            name,
            trigger,
            api_key_name,
            enabled: true,
            steps,
            sns,
            auth: AuthMode::ApiKey,
            verify: None,
            created_at: now,
            version: 1,
            payload_schema: None,
        })
    }

    pub fn webhook_url(&self, base_url: &str) -> String {
        format!("{}/webhooks/{}", base_url.trim_end_matches('/'), self.id)
    }
}

/// The checks every workflow definition passes before it is stored, whether it comes from
/// [`Workflow::new`] or a workflow file. Steps must be numbered already. Returns the trimmed name.
pub fn check_definition(
    name: &str,
    trigger: Trigger,
    sns: &SnsOptions,
    steps: &[WorkflowStep],
) -> Result<String, InvalidWorkflow> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(InvalidWorkflow::Name);
    }
    if trigger == Trigger::GenericWebhook && *sns != SnsOptions::default() {
        return Err(InvalidWorkflow::SnsOptionsOnGeneric);
    }
    if let Some(bad) = sns
        .allowed_topic_arns
        .iter()
        .find(|arn| !looks_like_topic_arn(arn))
    {
        return Err(InvalidWorkflow::TopicArn(bad.clone()));
    }
    validate_steps(steps, WORKER_STEP_BUDGET)?;
    Ok(name.to_owned())
}

fn looks_like_topic_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::step::{FailStep, FilterStep, Step};

    fn key() -> ApiKeyName {
        ApiKeyName::parse("k").unwrap()
    }

    fn no_steps() -> Vec<Step> {
        Vec::new()
    }

    /// A generic-webhook workflow that must be valid.
    fn generic(name: &str, steps: Vec<impl Into<WorkflowStep>>) -> Workflow {
        Workflow::new(
            name,
            Trigger::GenericWebhook,
            key(),
            steps,
            SnsOptions::default(),
            Utc::now(),
        )
        .unwrap()
    }

    #[test]
    fn new_workflow_is_enabled_with_a_fresh_id() {
        let a = generic(" orders ", no_steps());
        let b = generic("orders", no_steps());
        assert!(a.enabled);
        assert_eq!(a.name, "orders");
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn webhook_url_joins_base_and_id() {
        let wf = generic("x", no_steps());
        assert_eq!(
            wf.webhook_url("http://127.0.0.1:3000/"),
            format!("http://127.0.0.1:3000/webhooks/{}", wf.id)
        );
    }

    #[test]
    fn empty_name_is_refused() {
        let err = Workflow::new(
            "  ",
            Trigger::GenericWebhook,
            key(),
            no_steps(),
            SnsOptions::default(),
            Utc::now(),
        );
        assert_eq!(err, Err(InvalidWorkflow::Name));
    }

    #[test]
    fn allowed_topics_must_be_topic_arns() {
        let sns = SnsOptions {
            allowed_topic_arns: vec!["arn:aws:s3:::bucket".into()],
            require_signature_v2: false,
        };
        assert!(matches!(
            Workflow::new("x", Trigger::AmazonSns, key(), no_steps(), sns, Utc::now()),
            Err(InvalidWorkflow::TopicArn(_))
        ));
        let ok = SnsOptions {
            allowed_topic_arns: vec!["arn:aws:sns:us-east-1:123456789012:orders".into()],
            require_signature_v2: true,
        };
        assert!(
            Workflow::new(
                "x",
                Trigger::AmazonSns,
                key(),
                no_steps(),
                ok.clone(),
                Utc::now()
            )
            .is_ok()
        );
        assert_eq!(
            Workflow::new(
                "x",
                Trigger::GenericWebhook,
                key(),
                no_steps(),
                ok,
                Utc::now()
            ),
            Err(InvalidWorkflow::SnsOptionsOnGeneric)
        );
    }

    #[test]
    fn a_workflow_stored_before_step_ids_still_loads() {
        let stored = serde_json::json!({
            "id": "wf1", "name": "x", "trigger": "generic_webhook", "api_key_name": "k",
            "enabled": true, "created_at": "2026-01-01T00:00:00Z",
            "steps": [{"type": "echo"}, {"type": "fail", "message": "no"}]
        });
        let wf: Workflow = serde_json::from_value(stored).unwrap();
        let ids: Vec<&str> = wf.steps.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["step1", "step2"]);
        assert_eq!(
            wf.steps[1].action,
            Step::Fail(FailStep {
                message: "no".into()
            })
        );
    }

    #[test]
    fn a_workflow_with_new_steps_round_trips_through_storage() {
        let steps: Vec<WorkflowStep> = serde_json::from_value(serde_json::json!([
            {"id": "only-paid", "type": "filter", "when": "trigger.body.paid"},
            {"id": "notify", "type": "http_request", "url": "https://example.com/h",
             "headers": {"X-Id": "{{ execution.id }}"}, "continue_on_error": true},
            {"id": "pub", "type": "sns_publish", "topic_arn": "arn:aws:sns:us-east-1:123456789012:t"}
        ]))
        .unwrap();
        let wf = generic("x", steps);
        let stored = serde_json::to_string(&wf).unwrap();
        assert_eq!(serde_json::from_str::<Workflow>(&stored).unwrap(), wf);
    }

    #[test]
    fn new_numbers_plain_steps_and_refuses_bad_ones_with_their_path() {
        let wf = generic("x", vec![Step::Echo, Step::Echo]);
        assert_eq!(wf.steps[1].id, "step2");
        let bad = Step::Filter(FilterStep {
            when: "{{ x }}".into(),
        });
        let err = Workflow::new(
            "x",
            Trigger::GenericWebhook,
            key(),
            vec![Step::Echo, bad],
            SnsOptions::default(),
            Utc::now(),
        )
        .unwrap_err();
        assert!(matches!(err, InvalidWorkflow::Definition(_)));
        assert!(err.to_string().starts_with("steps[1].when: "), "{err}");
    }

    #[test]
    fn a_payload_schema_round_trips_through_storage_and_older_records_have_none() {
        let mut wf = generic("x", no_steps());
        let stored = serde_json::to_value(&wf).unwrap();
        assert!(stored.get("payload_schema").is_none(), "{stored}");
        assert_eq!(
            serde_json::from_value::<Workflow>(stored)
                .unwrap()
                .payload_schema,
            None
        );

        let schema = serde_json::json!({"type": "object", "required": ["id"]});
        let serde_json::Value::Object(map) = schema.clone() else {
            unreachable!()
        };
        wf.payload_schema = Some(PayloadSchema::new(map).unwrap());
        let stored = serde_json::to_string(&wf).unwrap();
        let read: Workflow = serde_json::from_str(&stored).unwrap();
        assert_eq!(read, wf);
        assert_eq!(
            serde_json::to_value(read.payload_schema.unwrap()).unwrap(),
            schema
        );
    }

    #[test]
    fn trigger_round_trips_through_its_name() {
        for t in [Trigger::GenericWebhook, Trigger::AmazonSns] {
            assert_eq!(t.as_str().parse::<Trigger>().unwrap(), t);
        }
        assert!("sqs".parse::<Trigger>().is_err());
    }
}
