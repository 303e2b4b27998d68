//! The `send_email` step end to end with its real transports: SES v2 through the SDK against
//! moto's server (the sender verified first, the sent message read back from moto's own
//! state), and SMTP through lettre against a loopback sink the test starts
//! (`support/smtp_sink.py`, aiosmtpd from the venv). Only loopback is contacted.

use std::sync::Arc;

use serde_json::{Value, json};

use webhook_trigger::adapters::email::SesEmailSender;
use webhook_trigger::domain::TemplateEngine;
use webhook_trigger::ports::{EmailMessage, EmailSender};
use webhook_trigger::steps::{
    ExecutionInfo, SendEmailStep, StepContext, StepDeps, StepRun, StepType,
};

use crate::support;
use crate::support::email::{SmtpSink, header, headers};

fn ctx(body: Value) -> StepContext {
    StepContext::new(
        json!({ "body": body, "headers": {} }),
        ExecutionInfo {
            id: "01EXEC".into(),
            workflow_id: "wf-mail".into(),
            attempt: 1,
        },
    )
}

fn deps(email: Arc<dyn EmailSender>, from: Option<&str>) -> StepDeps {
    StepDeps {
        email,
        email_from: from.map(str::to_owned),
        ..support::test_step_deps()
    }
}

fn order_step(subject: &str) -> SendEmailStep {
    serde_json::from_value(json!({
        "to": ["{{ trigger.body.owner }}"],
        "cc": ["{{ trigger.body.team | join(', ') }}"],
        "bcc": ["audit@example.com"],
        "subject": subject,
        "text": "Order {{ trigger.body.id }} is in.",
        "html": "<p>Order <b>{{ trigger.body.id }}</b></p>",
    }))
    .expect("a send_email step")
}

async fn run(step: &SendEmailStep, body: Value, deps: &StepDeps) -> StepRun {
    step.check(&TemplateEngine::new(), "steps[0]")
        .expect("the step passes its checks");
    step.run(&ctx(body), "01EXEC:mail", deps).await
}

// SES v2 against moto --------------------------------------------------------------------

const MOTO_HOW_TO_RUN: &str = "this test needs moto's server: run `make test` (it starts \
     moto), or `source /work/envmoto`-style settings: AWS_ENDPOINT_URL=http://127.0.0.1:5055 \
     AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY WEBHOOK_TEST_MOTO=1";

/// moto's endpoint, failing (never skipping) without it and refusing anything not loopback.
fn moto_endpoint() -> url::Url {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    assert_eq!(
        var("WEBHOOK_TEST_MOTO").as_deref(),
        Some("1"),
        "{MOTO_HOW_TO_RUN}"
    );
    for name in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        assert!(var(name).is_some(), "{name} is not set: {MOTO_HOW_TO_RUN}");
    }
    let mut endpoint = None;
    for name in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2"] {
        if let Some(value) = var(name) {
            let url = url::Url::parse(&value).expect("an endpoint URL");
            let loopback = match url.host() {
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                Some(url::Host::Domain(d)) => d == "localhost",
                None => false,
            };
            assert!(loopback, "{name}={value} is not loopback");
            endpoint = Some(url);
        }
    }
    endpoint.unwrap_or_else(|| panic!("AWS_ENDPOINT_URL is not set: {MOTO_HOW_TO_RUN}"))
}

/// Every message moto's SES has sent, from its own state.
async fn moto_sent_messages(endpoint: &url::Url) -> Vec<Value> {
    let url = endpoint.join("/moto-api/data.json").expect("url");
    let text = reqwest::get(url)
        .await
        .expect("moto answers")
        .text()
        .await
        .expect("a body");
    let data: Value = serde_json::from_str(&text).expect("json");
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn ses_sends_the_rendered_message_and_moto_records_it() {
    let endpoint = moto_endpoint();
    let sdk = webhook_trigger::adapters::aws::sdk_config().await;
    let client = aws_sdk_sesv2::Client::new(&sdk);
    let sender_address = format!(
        "alerts-{}@example.com",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    client
        .create_email_identity()
        .email_identity(&sender_address)
        .send()
        .await
        .expect("moto verifies the sender");
    let deps = deps(
        Arc::new(SesEmailSender::new(client.clone())),
        Some(&sender_address),
    );
    let id = ulid::Ulid::new().to_string();
    let done = run(
        &order_step("Order {{ trigger.body.id }}"),
        json!({"id": id, "owner": "owner@example.com", "team": ["a@example.com", "b@example.com"]}),
        &deps,
    )
    .await;
    assert!(done.error.is_none(), "{done:?}");
    let message_id = done.output.as_ref().expect("output")["messageId"]
        .as_str()
        .expect("a message id")
        .to_owned();
    let request = done.request.as_ref().expect("recorded");
    assert_eq!(request["from"], sender_address.as_str());
    assert_eq!(request["bcc"], json!(["audit@example.com"]));

    let sent = moto_sent_messages(&endpoint).await;
    let message = sent
        .iter()
        .find(|m| m["id"] == message_id.as_str())
        .unwrap_or_else(|| panic!("moto has no message {message_id}: {sent:?}"));
    assert_eq!(message["source"], sender_address.as_str());
    assert_eq!(message["subject"], format!("Order {id}"));
    let destinations = &message["destinations"];
    assert_eq!(destinations["ToAddresses"], json!(["owner@example.com"]));
    assert_eq!(
        destinations["CcAddresses"],
        json!(["a@example.com", "b@example.com"])
    );
    assert_eq!(destinations["BccAddresses"], json!(["audit@example.com"]));
    // moto keeps one body, the html when there is one.
    assert_eq!(message["body"], format!("<p>Order <b>{id}</b></p>"));
}

#[tokio::test]
async fn ses_refuses_an_unverified_sender_and_the_step_is_not_retried() {
    moto_endpoint();
    let sdk = webhook_trigger::adapters::aws::sdk_config().await;
    let client = aws_sdk_sesv2::Client::new(&sdk);
    let deps = deps(
        Arc::new(SesEmailSender::new(client)),
        Some("never-verified@unverified.example"),
    );
    let done = run(
        &order_step("Order {{ trigger.body.id }}"),
        json!({"id": 1, "owner": "owner@example.com", "team": []}),
        &deps,
    )
    .await;
    let error = done.error.as_deref().expect("refused");
    assert!(!done.transient, "{error}");
    assert!(error.contains("SES"), "{error}");
    assert!(done.request.is_some());
}

// SMTP against a loopback sink -------------------------------------------------------------

#[tokio::test]
async fn smtp_delivers_the_rendered_message_with_bcc_only_in_the_envelope() {
    let sink = SmtpSink::start();
    let deps = deps(Arc::new(sink.sender()), Some("Alerts <alerts@example.com>"));
    let done = run(
        &order_step("Order {{ trigger.body.id }}"),
        json!({"id": 42, "owner": "owner@example.com", "team": ["a@example.com"]}),
        &deps,
    )
    .await;
    assert!(done.error.is_none(), "{done:?}");
    let message_id = done.output.as_ref().expect("output")["messageId"]
        .as_str()
        .expect("an id")
        .to_owned();

    let received = sink.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let message = &received[0];
    assert_eq!(message["mail_from"], "alerts@example.com");
    assert_eq!(
        message["rcpt_tos"],
        json!(["owner@example.com", "a@example.com", "audit@example.com"])
    );
    let data = message["data"].as_str().expect("data");
    let headers = headers(data);
    assert_eq!(header(&headers, "from"), ["Alerts <alerts@example.com>"]);
    assert_eq!(header(&headers, "to"), ["owner@example.com"]);
    assert_eq!(header(&headers, "cc"), ["a@example.com"]);
    assert_eq!(header(&headers, "subject"), ["Order 42"]);
    assert_eq!(header(&headers, "message-id"), [message_id.as_str()]);
    assert!(header(&headers, "bcc").is_empty(), "{data}");
    assert!(data.contains("Order 42 is in."), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
}

#[tokio::test]
async fn a_line_break_in_a_rendered_header_never_adds_a_header() {
    let sink = SmtpSink::start();
    let sender: Arc<dyn EmailSender> = Arc::new(sink.sender());
    let deps = deps(sender.clone(), Some("alerts@example.com"));
    // A message that goes through, so the sink is known to work.
    let ok = run(
        &order_step("Order {{ trigger.body.id }}"),
        json!({"id": 1, "owner": "owner@example.com", "team": []}),
        &deps,
    )
    .await;
    assert!(ok.error.is_none(), "{ok:?}");

    for body in [
        json!({"id": "2\r\nBcc: evil@example.com", "owner": "owner@example.com", "team": []}),
        json!({"id": "3\nBcc: evil@example.com", "owner": "owner@example.com", "team": []}),
        json!({"id": 4, "owner": "owner@example.com\r\nBcc: evil@example.com", "team": []}),
        json!({"id": 5, "owner": "owner@example.com", "team": ["a@example.com\r\nX-Evil: 1"]}),
    ] {
        let done = run(
            &order_step("Order {{ trigger.body.id }}"),
            body.clone(),
            &deps,
        )
        .await;
        let error = done
            .error
            .as_deref()
            .unwrap_or_else(|| panic!("sent {body}"));
        assert!(error.contains("line break"), "{error}");
        assert!(!done.transient, "{error}");
    }
    // The adapter refuses too, whoever calls it.
    let direct = sender
        .send(EmailMessage {
            from: "alerts@example.com".into(),
            to: vec!["owner@example.com".into()],
            cc: Vec::new(),
            bcc: Vec::new(),
            subject: "6\r\nBcc: evil@example.com".into(),
            text: Some("t".into()),
            html: None,
        })
        .await;
    assert!(direct.is_err(), "{direct:?}");

    let received = sink.received();
    assert_eq!(
        received.len(),
        1,
        "only the good message arrives: {received:?}"
    );
    for message in &received {
        let data = message["data"].as_str().expect("data");
        let headers = headers(data);
        assert!(header(&headers, "bcc").is_empty(), "{data}");
        assert!(header(&headers, "x-evil").is_empty(), "{data}");
        assert!(!data.contains("evil@example.com"), "{data}");
        assert_eq!(header(&headers, "subject"), ["Order 1"]);
        assert_eq!(
            message["rcpt_tos"],
            json!(["owner@example.com", "audit@example.com"])
        );
    }
}

#[tokio::test]
async fn without_a_transport_the_step_fails_with_a_setup_error() {
    let deps = support::test_step_deps();
    let done = run(
        &order_step("Order {{ trigger.body.id }}"),
        json!({"id": 1, "owner": "owner@example.com", "team": []}),
        &StepDeps {
            email_from: Some("alerts@example.com".into()),
            ..deps
        },
    )
    .await;
    let error = done.error.as_deref().expect("fails");
    assert!(
        error.contains("send_email needs EMAIL_TRANSPORT"),
        "{error}"
    );
    assert!(!done.transient);
}
