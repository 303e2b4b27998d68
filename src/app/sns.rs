//! Accepting a delivery from an Amazon SNS subscription: verify it came from SNS, then confirm
//! the subscription, record an unsubscribe, or start one execution per `MessageId`.

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;

use super::{Accepted, App, AppError};
use crate::config::Config;
use crate::domain::{
    Execution, RequestMeta, SnsSubscription, SubscriptionState, Trigger, TriggerMeta, Workflow,
};
use crate::sns::{
    HttpFetcher, MessageType, SnsError, SnsMessage, SnsPolicy, SnsVerifier, VerifierConfig,
    confirm_subscription, is_raw_delivery,
};

/// The per-process SNS machinery: one HTTPS client and one certificate cache, shared by
/// every request, so a warm function verifies with no network call.
pub(crate) struct SnsGateway {
    fetcher: Arc<dyn HttpFetcher>,
    verifier: SnsVerifier,
}

impl SnsGateway {
    pub(crate) fn new(fetcher: Arc<dyn HttpFetcher>, config: &Config) -> Self {
        let verifier = SnsVerifier::new(
            fetcher.clone(),
            VerifierConfig {
                max_age: config.sns_max_age,
                clock_skew: config.sns_clock_skew,
            },
        );
        Self { fetcher, verifier }
    }
}

/// An SNS request as the HTTP layer hands it over.
pub struct SnsRequest<'a> {
    pub body: &'a [u8],
    /// `x-amz-sns-message-type`
    pub message_type: Option<&'a str>,
    /// `x-amz-sns-rawdelivery`
    pub raw_delivery: Option<&'a str>,
    /// Headers and query as the execution keeps them (credentials already removed).
    pub meta: RequestMeta,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SnsOutcome {
    Notification(Accepted),
    SubscriptionConfirmed(SnsSubscription),
    Unsubscribed(SnsSubscription),
}

impl App {
    pub async fn accept_sns(
        &self,
        workflow: &Workflow,
        request: SnsRequest<'_>,
    ) -> Result<SnsOutcome, AppError> {
        if workflow.trigger != Trigger::AmazonSns {
            return Err(AppError::WrongTrigger(format!(
                "workflow {} has trigger {}; SNS deliveries need a workflow with trigger amazon_sns",
                workflow.id, workflow.trigger
            )));
        }
        if is_raw_delivery(request.raw_delivery) {
            return Err(SnsError::RawDelivery.into());
        }
        let gateway = &self.inner.sns;
        let message = parse_request(workflow, &request)?;
        let policy = SnsPolicy {
            allowed_topic_arns: workflow.sns.allowed_topic_arns.clone(),
            require_signature_v2: workflow.sns.require_signature_v2,
        };
        let verified = gateway
            .verifier
            .verify(&message, &policy, Utc::now())
            .await?;

        match message.message_type() {
            MessageType::Notification => self
                .start_from_notification(workflow, &message, request.meta)
                .await
                .map(SnsOutcome::Notification),
            MessageType::SubscriptionConfirmation => {
                let subscription_arn =
                    confirm_subscription(gateway.fetcher.as_ref(), &verified).await?;
                let subscription = self
                    .record_subscription(
                        workflow,
                        &message,
                        SubscriptionState::Confirmed,
                        Some(subscription_arn),
                    )
                    .await?;
                Ok(SnsOutcome::SubscriptionConfirmed(subscription))
            }
            MessageType::UnsubscribeConfirmation => {
                let subscription = self
                    .record_subscription(workflow, &message, SubscriptionState::Unsubscribed, None)
                    .await?;
                Ok(SnsOutcome::Unsubscribed(subscription))
            }
        }
    }

    /// One execution per `MessageId`: SNS redelivers with the same id, and the dedup record is
    /// written with the execution, so a retry finds the first one.
    async fn start_from_notification(
        &self,
        workflow: &Workflow,
        message: &SnsMessage<'_>,
        meta: RequestMeta,
    ) -> Result<Accepted, AppError> {
        let payload = serde_json::from_str::<Value>(message.message())
            .unwrap_or_else(|_| Value::String(message.message().to_owned()));
        // The schema sees what `trigger.body` will: the parsed Message, or its text.
        super::payload::check_payload(workflow, &payload)?;
        let trigger = TriggerMeta::AmazonSns {
            message_id: message.message_id().to_owned(),
            topic_arn: message.topic_arn().as_str().to_owned(),
            subject: message.subject().map(str::to_owned),
            timestamp: message.timestamp_raw().to_owned(),
            message_attributes: message.message_attributes(),
        };
        let execution = Execution::new(
            workflow.id.clone(),
            trigger,
            payload,
            Utc::now(),
            self.config().retention,
        )
        .with_request(meta)
        .of_version(workflow.version);
        let dedup_key = format!("sns#{}", message.message_id());
        self.record_and_dispatch(execution, Some(&dedup_key)).await
    }

    async fn record_subscription(
        &self,
        workflow: &Workflow,
        message: &SnsMessage<'_>,
        state: SubscriptionState,
        subscription_arn: Option<String>,
    ) -> Result<SnsSubscription, AppError> {
        let subscription = SnsSubscription {
            workflow_id: workflow.id.clone(),
            topic_arn: message.topic_arn().as_str().to_owned(),
            subscription_arn,
            state,
            updated_at: Utc::now(),
        };
        self.store().put_subscription(&subscription).await?;
        tracing::info!(workflow_id = %workflow.id, topic_arn = %subscription.topic_arn, state = ?state, "SNS subscription recorded");
        Ok(subscription)
    }
}

/// A body that is not an SNS envelope at all, sent without SNS's header, is a caller using the
/// wrong kind of workflow; say so rather than only "malformed".
fn parse_request<'r>(
    workflow: &Workflow,
    request: &SnsRequest<'r>,
) -> Result<SnsMessage<'r>, AppError> {
    let body = std::str::from_utf8(request.body)
        .map_err(|_| SnsError::Malformed("the body is not UTF-8 text".into()))?;
    SnsMessage::parse(body, request.message_type).map_err(|err| {
        if request.message_type.is_none() {
            AppError::WrongTrigger(format!(
                "workflow {} has trigger amazon_sns and accepts only deliveries from an Amazon SNS \
                 subscription (subscribe its URL with ?x-api-key=... to a topic); this request is not one: {err}",
                workflow.id
            ))
        } else {
            err.into()
        }
    })
}
