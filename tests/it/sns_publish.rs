//! The SNS publish adapter against moto's server with the real SDK: a topic fans out to an
//! SQS queue, and the test reads back what the adapter published.
//!
//! Nothing here can reach AWS or a metadata service: the endpoint must be a loopback URL, and
//! region and credentials must come from the environment (so the SDK never asks IMDS).

use std::collections::HashMap;

use aws_sdk_sns::Client as Sns;
use aws_sdk_sqs::Client as Sqs;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::Value;

use webhook_trigger::adapters::sns_publish::SnsTopicPublisher;
use webhook_trigger::ports::{PublishError, SnsAttribute, SnsPublishRequest, SnsPublisher};

const HOW_TO_RUN: &str = "this test needs moto's server: run `make test` (it starts moto), or \
     start `.venv/bin/moto_server -H 127.0.0.1 -p 5055 &` and \
     `export AWS_ENDPOINT_URL=http://127.0.0.1:5055 AWS_REGION=us-east-1 \
     AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing WEBHOOK_TEST_MOTO=1`";

/// Fails (never skips) when the emulator is not configured, and refuses anything that could
/// send a request off this machine.
fn check_environment() {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    assert!(
        var("WEBHOOK_TEST_MOTO").as_deref() == Some("1"),
        "WEBHOOK_TEST_MOTO is not set: {HOW_TO_RUN}"
    );
    for name in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(var(name).is_some(), "{name} is not set: {HOW_TO_RUN}");
    }
    let endpoint = var("AWS_ENDPOINT_URL")
        .unwrap_or_else(|| panic!("AWS_ENDPOINT_URL is not set: {HOW_TO_RUN}"));
    for name in [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SNS",
        "AWS_ENDPOINT_URL_SQS",
    ] {
        if let Some(value) = var(name) {
            assert!(
                is_loopback(&value),
                "{name}={value} is not a loopback URL; tests only talk to a local emulator"
            );
        }
    }
    assert!(is_loopback(&endpoint));
}

fn is_loopback(raw: &str) -> bool {
    match url::Url::parse(raw)
        .ok()
        .and_then(|u| u.host().map(|h| h.to_owned()))
    {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

struct Moto {
    sns: Sns,
    sqs: Sqs,
}

async fn moto() -> Moto {
    check_environment();
    let sdk = webhook_trigger::adapters::aws::sdk_config().await;
    Moto {
        sns: Sns::new(&sdk),
        sqs: Sqs::new(&sdk),
    }
}

fn unique(what: &str) -> String {
    format!("wt-{what}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

impl Moto {
    /// A topic (FIFO when `name` ends in `.fifo`) and a queue subscribed to it; returns the
    /// topic ARN and the queue URL.
    async fn topic_with_queue(
        &self,
        name: &str,
        topic_attributes: &[(&str, &str)],
        raw_delivery: bool,
    ) -> (String, String) {
        let fifo = name.ends_with(".fifo");
        let mut create = self.sns.create_topic().name(name);
        for (key, value) in topic_attributes {
            create = create.attributes(*key, *value);
        }
        let topic_arn = create
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateTopic failed: {e:?}. {HOW_TO_RUN}"))
            .topic_arn
            .expect("topic ARN");

        let mut queue = self.sqs.create_queue().queue_name(name);
        if fifo {
            queue = queue.attributes(QueueAttributeName::FifoQueue, "true");
        }
        // moto's fan-out hands SQS no deduplication id of its own: the queue needs the same
        // content-based deduplication as the topic.
        if topic_attributes.contains(&("ContentBasedDeduplication", "true")) {
            queue = queue.attributes(QueueAttributeName::ContentBasedDeduplication, "true");
        }
        let queue_url = queue
            .send()
            .await
            .expect("CreateQueue")
            .queue_url
            .expect("queue URL");
        let queue_arn = self
            .sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("GetQueueAttributes")
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .expect("queue ARN");

        let mut subscribe = self
            .sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn);
        if raw_delivery {
            subscribe = subscribe.attributes("RawMessageDelivery", "true");
        }
        subscribe.send().await.expect("Subscribe");
        (topic_arn, queue_url)
    }

    /// The one message on the queue (waits for it, briefly).
    async fn receive_one(&self, queue_url: &str) -> aws_sdk_sqs::types::Message {
        for _ in 0..5 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .wait_time_seconds(1)
                .max_number_of_messages(10)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .expect("ReceiveMessage");
            let mut messages = out.messages.unwrap_or_default();
            if !messages.is_empty() {
                assert_eq!(messages.len(), 1, "{messages:?}");
                return messages.remove(0);
            }
        }
        panic!("nothing arrived on {queue_url}");
    }
}

fn request(topic_arn: &str, message: &str) -> SnsPublishRequest {
    SnsPublishRequest {
        topic_arn: topic_arn.to_owned(),
        subject: None,
        message: message.to_owned(),
        attributes: Vec::new(),
        message_group_id: None,
        deduplication_id: None,
    }
}

fn envelope(message: &aws_sdk_sqs::types::Message) -> Value {
    serde_json::from_str(message.body().expect("body")).expect("SNS envelope JSON")
}

#[tokio::test]
async fn published_message_subject_and_attributes_reach_a_subscribed_queue() {
    let moto = moto().await;
    let (topic_arn, queue_url) = moto.topic_with_queue(&unique("topic"), &[], false).await;
    let publisher = SnsTopicPublisher::new(moto.sns.clone());

    let message_id = publisher
        .publish(SnsPublishRequest {
            subject: Some("Order shipped".to_owned()),
            attributes: vec![
                SnsAttribute {
                    name: "kind".to_owned(),
                    data_type: "String".to_owned(),
                    value: "order".to_owned(),
                },
                SnsAttribute {
                    name: "count".to_owned(),
                    data_type: "Number".to_owned(),
                    value: "3".to_owned(),
                },
            ],
            ..request(&topic_arn, r#"{"order":42}"#)
        })
        .await
        .expect("published");
    assert!(!message_id.is_empty());

    let received = envelope(&moto.receive_one(&queue_url).await);
    assert_eq!(received["MessageId"], message_id.as_str());
    assert_eq!(received["TopicArn"], topic_arn.as_str());
    assert_eq!(received["Message"], r#"{"order":42}"#);
    assert_eq!(received["Subject"], "Order shipped");
    assert_eq!(received["MessageAttributes"]["kind"]["Type"], "String");
    assert_eq!(received["MessageAttributes"]["kind"]["Value"], "order");
    assert_eq!(received["MessageAttributes"]["count"]["Type"], "Number");
    assert_eq!(received["MessageAttributes"]["count"]["Value"], "3");
}

#[tokio::test]
async fn attributes_arrive_as_queue_message_attributes_with_raw_delivery() {
    let moto = moto().await;
    let (topic_arn, queue_url) = moto.topic_with_queue(&unique("raw"), &[], true).await;
    SnsTopicPublisher::new(moto.sns.clone())
        .publish(SnsPublishRequest {
            attributes: vec![SnsAttribute {
                name: "tags".to_owned(),
                data_type: "String.Array".to_owned(),
                value: r#"["a","b"]"#.to_owned(),
            }],
            ..request(&topic_arn, "plain text")
        })
        .await
        .expect("published");

    let received = moto.receive_one(&queue_url).await;
    assert_eq!(received.body(), Some("plain text"));
    let attributes: HashMap<_, _> = received.message_attributes.unwrap_or_default();
    let tags = attributes.get("tags").expect("tags attribute");
    assert_eq!(tags.data_type(), "String.Array");
    assert_eq!(tags.string_value(), Some(r#"["a","b"]"#));
}

#[tokio::test]
async fn fifo_topic_takes_the_group_id() {
    let moto = moto().await;
    let name = format!("{}.fifo", unique("fifo"));
    let (topic_arn, queue_url) = moto
        .topic_with_queue(
            &name,
            &[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")],
            false,
        )
        .await;
    SnsTopicPublisher::new(moto.sns.clone())
        .publish(SnsPublishRequest {
            message_group_id: Some("customer-7".to_owned()),
            ..request(&topic_arn, "first")
        })
        .await
        .expect("published");

    let received = moto.receive_one(&queue_url).await;
    assert_eq!(envelope(&received)["Message"], "first");
    let system = received.attributes.unwrap_or_default();
    assert_eq!(
        system
            .get(&MessageSystemAttributeName::MessageGroupId)
            .map(String::as_str),
        Some("customer-7")
    );
}

#[tokio::test]
async fn fifo_topic_without_content_deduplication_takes_the_deduplication_id() {
    let moto = moto().await;
    let name = format!("{}.fifo", unique("dedup"));
    let (topic_arn, _queue_url) = moto
        .topic_with_queue(&name, &[("FifoTopic", "true")], false)
        .await;
    let publisher = SnsTopicPublisher::new(moto.sns.clone());
    let grouped = SnsPublishRequest {
        message_group_id: Some("g".to_owned()),
        ..request(&topic_arn, "m")
    };

    let without_id = publisher.publish(grouped.clone()).await;
    assert!(
        matches!(without_id, Err(PublishError::Refused(_))),
        "{without_id:?}"
    );
    publisher
        .publish(SnsPublishRequest {
            deduplication_id: Some("dedup-1".to_owned()),
            ..grouped
        })
        .await
        .expect("published with a deduplication id");
}

#[tokio::test]
async fn fifo_topic_without_group_id_is_refused() {
    let moto = moto().await;
    let name = format!("{}.fifo", unique("nogroup"));
    let (topic_arn, _) = moto
        .topic_with_queue(
            &name,
            &[("FifoTopic", "true"), ("ContentBasedDeduplication", "true")],
            false,
        )
        .await;
    let result = SnsTopicPublisher::new(moto.sns.clone())
        .publish(request(&topic_arn, "m"))
        .await;
    assert!(
        matches!(result, Err(PublishError::Refused(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn publishing_to_a_missing_topic_is_refused() {
    let moto = moto().await;
    let result = SnsTopicPublisher::new(moto.sns.clone())
        .publish(request(
            &format!("arn:aws:sns:us-east-1:123456789012:{}", unique("missing")),
            "m",
        ))
        .await;
    match result {
        Err(PublishError::Refused(reason)) => assert!(reason.contains("NotFound"), "{reason}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}
