//! `sns_publish`: one message to an SNS topic, rendered from templates.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{REDACTED, StepContext, StepDeps, StepRun, StepType, is_sensitive_name, prefixed};
use crate::domain::{InvalidDefinition, TemplateEngine};
use crate::ports::{SnsAttribute, SnsPublishRequest, SnsPublisher};

/// What a budget check counts for one SNS publish (the SDK's own attempts and timeouts).
pub const SNS_PUBLISH_WORST_CASE: Duration = Duration::from_secs(30);

/// `sns_publish`: the topic, subject, message and attribute values are templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnsPublishStep {
    /// `arn:aws:sns:<region>:<account>:<topic>`.
    pub topic_arn: String,
    /// A template; Amazon SNS refuses one longer than 100 characters once rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A string is sent as it renders; any other JSON is rendered and sent serialised.
    /// Absent: the trigger's body, serialised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Value>,
    /// Name → value. A string renders to a `String` attribute, a number to `Number`, a list
    /// of strings to `String.Array`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub message_attributes: BTreeMap<String, Value>,
}

impl SnsPublishStep {
    pub fn is_fifo(topic_arn: &str) -> bool {
        topic_arn.ends_with(".fifo")
    }
}

#[async_trait]
impl StepType for SnsPublishStep {
    const KIND: &'static str = "sns_publish";

    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        validate_sns(self, engine, path)
    }

    fn worst_case(&self) -> Duration {
        SNS_PUBLISH_WORST_CASE
    }

    fn reaches_outside(&self) -> bool {
        true
    }

    fn preview(
        &self,
        ctx: &StepContext,
        key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String> {
        render_sns(self, ctx, templates, key)
            .map(|request| json!({ "request": recorded_sns(&request) }))
    }

    async fn run(&self, ctx: &StepContext, key: &str, deps: &StepDeps) -> StepRun {
        match render_sns(self, ctx, &deps.templates, key) {
            Ok(request) => publish(request, deps.sns.as_ref()).await,
            Err(error) => StepRun::failed(error),
        }
    }
}

fn validate_sns(
    sns: &SnsPublishStep,
    engine: &TemplateEngine,
    path: &str,
) -> Result<(), InvalidDefinition> {
    let field = |name: &str| format!("{path}.{name}");
    engine
        .check_str(&sns.topic_arn)
        .map_err(|e| InvalidDefinition::template(&field("topic_arn"), e))?;
    if !sns.topic_arn.contains("{{") && !sns.topic_arn.starts_with("arn:") {
        return Err(InvalidDefinition::at(
            field("topic_arn"),
            format!("{:?} is not a topic ARN", sns.topic_arn),
        ));
    }
    if let Some(subject) = &sns.subject {
        engine
            .check_str(subject)
            .map_err(|e| InvalidDefinition::template(&field("subject"), e))?;
    }
    if let Some(message) = &sns.message {
        engine
            .check_value(message)
            .map_err(|e| InvalidDefinition::template(&field("message"), e))?;
    }
    for (name, value) in &sns.message_attributes {
        let at = format!("{path}.message_attributes[{}]", Value::String(name.clone()));
        if name.is_empty() || name.len() > 256 || name.starts_with("AWS.") {
            return Err(InvalidDefinition::at(at, "not a valid attribute name"));
        }
        if !matches!(value, Value::String(_) | Value::Number(_) | Value::Array(_)) {
            return Err(InvalidDefinition::at(
                at,
                "an attribute is a string, a number or a list of strings",
            ));
        }
        engine
            .check_value(value)
            .map_err(|e| InvalidDefinition::template(&at, e))?;
    }
    Ok(())
}

fn render_sns(
    sns: &SnsPublishStep,
    ctx: &StepContext,
    templates: &TemplateEngine,
    dedup_id: &str,
) -> Result<SnsPublishRequest, String> {
    let tctx = ctx.to_template_context();
    let topic_arn = templates
        .render_str(&sns.topic_arn, &tctx)
        .map_err(|e| format!("topic_arn: {e}"))?
        .trim()
        .to_owned();
    if !topic_arn.starts_with("arn:") || topic_arn.split(':').count() != 6 {
        return Err(format!("topic_arn: {topic_arn:?} is not a topic ARN"));
    }
    let subject = sns
        .subject
        .as_ref()
        .map(|s| {
            templates
                .render_str(s, &tctx)
                .map_err(|e| format!("subject: {e}"))
        })
        .transpose()?;
    let message = match &sns.message {
        Some(template) => templates
            .render_value(template, &tctx)
            .map_err(|e| prefixed("message", &e))?,
        None => ctx.trigger_body().clone(),
    };
    let message = match message {
        Value::String(text) => text,
        other => serde_json::to_string(&other).map_err(|e| format!("message: {e}"))?,
    };
    let mut attributes = Vec::with_capacity(sns.message_attributes.len());
    for (name, template) in &sns.message_attributes {
        let at = format!("message_attributes[{name:?}]");
        let value = templates
            .render_value(template, &tctx)
            .map_err(|e| prefixed(&at, &e))?;
        let (data_type, value) = match value {
            Value::String(s) => ("String", s),
            Value::Number(n) => ("Number", n.to_string()),
            Value::Bool(b) => ("String", b.to_string()),
            Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                ("String.Array", Value::Array(items).to_string())
            }
            other => {
                return Err(format!(
                    "{at}: renders to {other}, not a string, number or list"
                ));
            }
        };
        attributes.push(SnsAttribute {
            name: name.clone(),
            data_type: data_type.into(),
            value,
        });
    }
    let fifo = SnsPublishStep::is_fifo(&topic_arn);
    Ok(SnsPublishRequest {
        message_group_id: fifo.then(|| ctx.execution().workflow_id.clone()),
        deduplication_id: fifo.then(|| dedup_id.to_owned()),
        topic_arn,
        subject,
        message,
        attributes,
    })
}

async fn publish(request: SnsPublishRequest, publisher: &dyn SnsPublisher) -> StepRun {
    let recorded = recorded_sns(&request);
    let result = publisher
        .publish(request)
        .await
        .map_err(|e| (e.to_string(), e.is_transient()));
    StepRun::of_send(result, recorded)
}

fn recorded_sns(request: &SnsPublishRequest) -> Value {
    json!({
        "topicArn": request.topic_arn,
        "subject": request.subject,
        "message": request.message,
        "messageAttributes": request.attributes.iter().map(|a| {
            let value = if is_sensitive_name(&a.name) { REDACTED } else { a.value.as_str() };
            (a.name.clone(), json!({"dataType": a.data_type, "value": value}))
        }).collect::<Map<String, Value>>(),
        "messageGroupId": request.message_group_id,
        "messageDeduplicationId": request.deduplication_id,
    })
}
