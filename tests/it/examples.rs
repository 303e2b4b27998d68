//! The workflows in `examples/`, loaded from their files and run as the README describes, on
//! both backends. Only the endpoints change: the HTTP targets become a `Target` on 127.0.0.1
//! and the SNS topics become topics on moto.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::sns_peer::{SigV, SnsPeer, TOPIC_ARN};
use crate::support::target::Answer;
use crate::support::target::Target;
use crate::support::{self, TestApp};
use webhook_trigger::app::NewWorkflow;
use webhook_trigger::config::Config;
use webhook_trigger::domain::{Workflow, WorkflowFile};

macro_rules! examples_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn github_push_to_http() {
                super::github_push_to_http($make(support::test_config()).await).await;
            }

            #[tokio::test]
            async fn sns_alarm_to_chat() {
                let peer = SnsPeer::start().await;
                let config = Config {
                    sns_endpoint: Some(peer.endpoint()),
                    ..support::test_config()
                };
                super::sns_alarm_to_chat($make(config).await, peer).await;
            }

            #[tokio::test]
            async fn fan_out_to_sns() {
                super::fan_out_to_sns($make(support::test_config()).await).await;
            }

            #[tokio::test]
            async fn alarm_router() {
                super::alarm_router($make(support::test_config()).await).await;
            }

            #[tokio::test]
            async fn github_push_per_commit() {
                super::github_push_per_commit($make(support::test_config()).await).await;
            }

            #[tokio::test]
            async fn order_confirmation_email() {
                let config = support::email::shared_sink().config(support::test_config());
                super::order_confirmation_email($make(config).await).await;
            }

            #[tokio::test]
            async fn deploy_approval() {
                let config = support::email::shared_sink().config(support::test_config());
                super::deploy_approval($make(config).await).await;
            }

            #[tokio::test]
            async fn demo_workflow_filters_out_a_body_without_a_type() {
                super::demo_workflow_filters_out_a_body_without_a_type(
                    $make(support::test_config()).await,
                )
                .await;
            }
        }
    };
}

examples_for!(sqlite, support::sqlite_app);
examples_for!(dynamodb, support::dynamodb_app);

fn example(name: &str) -> String {
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Creates the file's key and workflow, with `replacements` applied to the file's text.
async fn create(t: &TestApp, file: &str, replacements: &[(&str, &str)]) -> (Workflow, String) {
    let mut text = example(file);
    for (from, to) in replacements {
        assert!(text.contains(from), "{file} no longer mentions {from}");
        text = text.replace(from, to);
    }
    let parsed = WorkflowFile::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let key = t
        .app
        .create_api_key(&parsed.api_key)
        .await
        .expect("create key");
    let workflow = t
        .app
        .create_workflow(NewWorkflow::from(parsed))
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    (workflow, key.secret.expose().to_owned())
}

async fn post(t: &TestApp, workflow: &Workflow, key: &str, event: &str, body: Value) -> String {
    let request = Request::post(format!("/webhooks/{}", workflow.id))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .header("X-GitHub-Event", event)
        .body(Body::from(body.to_string()))
        .expect("request");
    let r = t.send(request).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    r.execution_id()
}

async fn github_push_to_http(t: TestApp) {
    let deploy = Target::ok().await;
    let url = deploy.url("/hooks/github");
    let (wf, key) = create(
        &t,
        "github-push-to-http.yaml",
        &[("https://deploy.example.com/hooks/github", &url)],
    )
    .await;
    let push = json!({
        "ref": "refs/heads/main",
        "after": "9f2c1e7",
        "repository": {"full_name": "acme/shop"},
        "pusher": {"name": "ada"},
        "head_commit": {"message": "Fix \"checkout\"\nand totals ✓"},
        "commits": [{"id": "1"}, {"id": "2"}]
    });
    let pushed = post(&t, &wf, &key, "push", push).await;
    let ping = post(&t, &wf, &key, "ping", json!({"zen": "Keep it simple."})).await;
    let other_branch = post(
        &t,
        &wf,
        &key,
        "push",
        json!({"ref": "refs/heads/dev", "after": "1"}),
    )
    .await;
    t.worker.drain().await;

    let sent = deploy.received();
    assert_eq!(sent.len(), 1, "only the push to main is sent: {sent:?}");
    assert_eq!(sent[0].path, "/hooks/github");
    assert_eq!(
        sent[0].json(),
        json!({
            "repository": "acme/shop",
            "commit": "9f2c1e7",
            "pusher": "ada",
            "message": "Fix \"checkout\"\nand totals ✓",
            "commits": 2
        })
    );
    assert_eq!(
        sent[0].header("authorization"),
        Some("Bearer REPLACE_WITH_YOUR_TOKEN")
    );
    let idempotency_key = format!("{pushed}:deploy");
    assert_eq!(
        sent[0].header("idempotency-key"),
        Some(idempotency_key.as_str())
    );
    let done = t.execution(wf.id.as_str(), &pushed, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["steps"][1]["output"]["status"], 200);
    assert_eq!(
        done["steps"][1]["request"]["headers"]["Authorization"],
        "[redacted]"
    );
    for filtered in [ping, other_branch] {
        let e = t.execution(wf.id.as_str(), &filtered, &key).await;
        assert_eq!(e["result"]["outcome"], "filtered", "{e}");
    }
}

async fn sns_alarm_to_chat(t: TestApp, peer: SnsPeer) {
    let chat = Target::ok().await;
    let url = chat.url("/services/T0/B0/x");
    let (wf, key) = create(
        &t,
        "sns-alarm-to-chat.yaml",
        &[
            (
                "https://hooks.slack.com/services/T00000000/B00000000/REPLACE_ME",
                &url,
            ),
            (
                "arn:aws:sns:eu-west-1:123456789012:production-alarms",
                TOPIC_ARN,
            ),
        ],
    )
    .await;
    let alarm = json!({
        "AlarmName": "HighCPU",
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 datapoint [97.0] > 80"
    });
    let ok = json!({"AlarmName": "HighCPU", "NewStateValue": "OK", "NewStateReason": "back"});
    for message in [alarm, ok] {
        let body = peer
            .notification(SigV::V2)
            .set("Message", &message.to_string())
            .body();
        let request = Request::post(format!("/webhooks/{}?x-api-key={key}", wf.id))
            .header("content-type", "text/plain; charset=UTF-8")
            .header("x-amz-sns-message-type", "Notification")
            .body(Body::from(body))
            .expect("request");
        let r = t.send(request).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    }
    t.worker.drain().await;

    let sent = chat.received();
    assert_eq!(sent.len(), 1, "the OK state is filtered out: {sent:?}");
    assert_eq!(
        sent[0].json(),
        json!({"text": ":rotating_light: HighCPU is ALARM: Threshold Crossed: 1 datapoint [97.0] > 80"})
    );
}

async fn fan_out_to_sns(t: TestApp) {
    let sdk = support::dynamodb::sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let orders = topic_with_queue(&sns, &sqs, &support::dynamodb::unique("orders"), false).await;
    let audit = topic_with_queue(&sns, &sqs, &support::dynamodb::unique("audit"), true).await;
    let (wf, key) = create(
        &t,
        "fan-out-to-sns.yaml",
        &[
            (
                "arn:aws:sns:eu-west-1:123456789012:orders",
                &orders.topic_arn,
            ),
            (
                "arn:aws:sns:eu-west-1:123456789012:audit.fifo",
                &audit.topic_arn,
            ),
        ],
    )
    .await;
    let order = json!({"id": "A-1", "total": 1500, "customer": {"email": "ada@example.com"}});
    let large = post(&t, &wf, &key, "order", order).await;
    let small = json!({"id": "A-2", "total": 20, "customer": {"email": "bob@example.com"}});
    post(&t, &wf, &key, "order", small).await;
    t.worker.drain().await;

    let done = t.execution(wf.id.as_str(), &large, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(done["steps"][0]["output"]["messageId"].is_string());

    let mut to_orders = received_messages(&sqs, &orders.queue_url, 2).await;
    to_orders.sort_by_key(|m| m["Subject"].as_str().unwrap_or_default().to_owned());
    assert_eq!(to_orders.len(), 2);
    assert_eq!(to_orders[0]["Subject"], "Order A-1");
    let message: Value =
        serde_json::from_str(to_orders[0]["Message"].as_str().unwrap_or_default()).expect("json");
    assert_eq!(
        message,
        json!({"orderId": "A-1", "total": 1500, "customer": "ada@example.com"})
    );
    assert_eq!(to_orders[0]["MessageAttributes"]["kind"]["Value"], "order");
    let to_audit = received_messages(&sqs, &audit.queue_url, 1).await;
    assert_eq!(to_audit.len(), 1, "only the large order is audited");
    assert_eq!(
        to_audit[0]["Message"],
        "large order A-1 of 1500 by ada@example.com"
    );
}

/// Critical pages (and, when the pager fails, the error goes to SNS); warnings post one chat
/// message per alert; anything else, including a body without `severity`, is stopped.
async fn alarm_router(t: TestApp) {
    let pager = Target::start(vec![Answer::json(202, json!({"status": "success"}))]).await;
    let chat = Target::ok().await;
    let sdk = support::dynamodb::sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let ops = topic_with_queue(&sns, &sqs, &support::dynamodb::unique("ops"), false).await;
    let page_url = pager.url("/v2/enqueue");
    let chat_url = chat.url("/chat");
    let (wf, key) = create(
        &t,
        "alarm-router.yaml",
        &[
            ("https://events.example.com/v2/enqueue", &page_url),
            ("https://hooks.example.com/chat", &chat_url),
            ("arn:aws:sns:eu-west-1:123456789012:ops", &ops.topic_arn),
        ],
    )
    .await;
    let critical = post(
        &t,
        &wf,
        &key,
        "alert",
        json!({"severity": "critical", "summary": "db down"}),
    )
    .await;
    let alerts = json!([
        {"name": "disk", "summary": "80% full"},
        {"name": "cpu", "summary": "high"},
        {"name": "mem", "summary": "swapping"}
    ]);
    let warning = post(
        &t,
        &wf,
        &key,
        "alert",
        json!({"severity": "warning", "alerts": alerts}),
    )
    .await;
    let shapeless = post(&t, &wf, &key, "alert", json!({"order": 1})).await;
    t.worker.drain().await;

    assert_eq!(pager.count(), 1, "one page");
    assert_eq!(pager.received()[0].json()["summary"], "db down");
    let mut texts: Vec<String> = chat
        .received()
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    texts.sort();
    assert_eq!(
        texts,
        ["1. disk: 80% full", "2. cpu: high", "3. mem: swapping"]
    );
    let keys: std::collections::BTreeSet<String> = chat
        .received()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(
        keys.len(),
        3,
        "each item has its own idempotency key: {keys:?}"
    );
    assert!(
        keys.contains(&format!("{warning}:chat[1].post")),
        "{keys:?}"
    );

    let done = t.execution(wf.id.as_str(), &critical, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["steps"][0]["output"],
        json!({"matched": 0, "next": "page"})
    );
    let done = t.execution(wf.id.as_str(), &warning, &key).await;
    assert_eq!(
        done["steps"][0]["output"],
        json!({"matched": 1, "next": "chat"})
    );
    assert_eq!(
        done["steps"][1]["output"].as_array().map(Vec::len),
        Some(3),
        "{done}"
    );
    let done = t.execution(wf.id.as_str(), &shapeless, &key).await;
    assert_eq!(
        done["status"], "succeeded",
        "a missing severity is routed, not failed: {done}"
    );
    assert_eq!(
        done["result"],
        json!({"outcome": "stopped", "stoppedBy": "ignore", "reason": "severity (none) is not routed"})
    );

    // The pager down: its error reaches the ops topic instead of failing silently.
    let (wf2, key2) = create(
        &t,
        "alarm-router.yaml",
        &[
            (
                "https://events.example.com/v2/enqueue",
                &Target::start(vec![Answer::status(400)])
                    .await
                    .url("/v2/enqueue"),
            ),
            ("https://hooks.example.com/chat", &chat_url),
            ("arn:aws:sns:eu-west-1:123456789012:ops", &ops.topic_arn),
            ("name: Alarm router", "name: Alarm router 2"),
            ("api_key: alerts", "api_key: alerts2"),
        ],
    )
    .await;
    let failed_page = post(
        &t,
        &wf2,
        &key2,
        "alert",
        json!({"severity": "critical", "summary": "x"}),
    )
    .await;
    t.worker.drain().await;
    let done = t.execution(wf2.id.as_str(), &failed_page, &key2).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let ids: Vec<&str> = done["steps"]
        .as_array()
        .map(|s| s.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["route", "page", "alert"]);
    let published = received_messages(&sqs, &ops.queue_url, 1).await;
    assert_eq!(published.len(), 1);
    assert_eq!(published[0]["Subject"], "Paging failed");
    assert_eq!(published[0]["Message"], "expected status 2xx, got 400");
}

/// One request per commit, two at a time, summed up after the loop; a ping is filtered.
async fn github_push_per_commit(t: TestApp) {
    let chat = Target::ok().await;
    let url = chat.url("/hooks/commits");
    let (wf, key) = create(
        &t,
        "github-push-per-commit.yaml",
        &[("https://chat.example.com/hooks/commits", &url)],
    )
    .await;
    let commits: Vec<Value> = (0..5)
        .map(|i| json!({"id": format!("{i}abcdef0123"), "message": format!("change {i}"), "author": {"name": "ada"}}))
        .collect();
    let push = json!({"ref": "refs/heads/main", "repository": {"full_name": "acme/shop"}, "commits": commits});
    let pushed = post(&t, &wf, &key, "push", push).await;
    let ping = post(&t, &wf, &key, "ping", json!({"zen": "Keep it simple."})).await;
    t.worker.drain().await;

    let mut texts: Vec<Value> = chat.received().iter().map(|r| r.json()).collect();
    texts.sort_by_key(|b| b["position"].as_str().unwrap_or_default().to_owned());
    assert_eq!(texts.len(), 5);
    assert_eq!(
        texts[0],
        json!({"text": "acme/shop 0abcdef by ada: change 0", "position": "1 of 5"})
    );
    let done = t.execution(wf.id.as_str(), &pushed, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["result"]["output"],
        json!({"repository": "acme/shop", "posted": 5, "firstStatus": 200})
    );
    let e = t.execution(wf.id.as_str(), &ping, &key).await;
    assert_eq!(
        e["result"]["outcome"], "filtered",
        "a ping has no commits: {e}"
    );
}

/// The banner of `make run` promises that a body that is not an order is filtered out; with
/// `{"order": 1}` (no `type` at all) it must not fail.
async fn demo_workflow_filters_out_a_body_without_a_type(t: TestApp) {
    let parsed = WorkflowFile::parse(webhook_trigger::cli::DEMO_WORKFLOW).expect("demo");
    let name = format!("demo{}", ulid::Ulid::new().to_string().to_lowercase());
    let key = t.app.create_api_key(&name).await.expect("key");
    let mut new = NewWorkflow::from(parsed);
    new.api_key_name = name.clone();
    let wf = t.app.create_workflow(new).await.expect("workflow");
    let key = key.secret.expose().to_owned();
    let id = post(&t, &wf, &key, "x", json!({"order": 1})).await;
    t.worker.drain().await;
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["result"]["outcome"], "filtered", "{done}");
}

struct TopicWithQueue {
    topic_arn: String,
    queue_url: String,
}

async fn topic_with_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    fifo: bool,
) -> TopicWithQueue {
    use aws_sdk_sqs::types::QueueAttributeName;
    let name = if fifo {
        format!("{name}.fifo")
    } else {
        name.to_owned()
    };
    let mut topic = sns.create_topic().name(&name);
    if fifo {
        topic = topic.attributes("FifoTopic", "true");
    }
    let topic_arn = topic
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn
        .expect("topic arn");
    let mut queue = sqs.create_queue().queue_name(&name);
    if fifo {
        queue = queue
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::ContentBasedDeduplication, "true");
    }
    let queue_url = queue
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("queue url");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("queue arn");
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .expect("Subscribe");
    TopicWithQueue {
        topic_arn,
        queue_url,
    }
}

/// The SNS envelopes on the queue, waiting until `expected` have arrived or a few polls pass.
async fn received_messages(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    expected: usize,
) -> Vec<Value> {
    let mut messages = Vec::new();
    for _ in 0..10 {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        for m in out.messages() {
            let body = m.body().unwrap_or_default();
            messages.push(serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())));
        }
        if messages.len() >= expected {
            break;
        }
    }
    messages
}

async fn order_confirmation_email(t: TestApp) {
    let (wf, key) = create(&t, "order-confirmation-email.yaml", &[]).await;
    let order = ulid::Ulid::new().to_string();
    let id = post(
        &t,
        &wf,
        &key,
        "order",
        json!({"id": order, "total": 120, "customer": {"name": "Ada", "email": "ada@example.com"}}),
    )
    .await;
    assert_eq!(t.worker.drain().await, 1);
    let done = t.execution(wf.id.as_str(), &id, &key).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let received: Vec<Value> = support::email::shared_sink()
        .received()
        .into_iter()
        .filter(|m| m["data"].as_str().unwrap_or_default().contains(&order))
        .collect();
    assert_eq!(received.len(), 1, "{received:?}");
    let data = received[0]["data"].as_str().unwrap_or_default();
    let headers = support::email::headers(data);
    assert_eq!(
        support::email::header(&headers, "subject"),
        [format!("Your order {order}")]
    );
    assert_eq!(support::email::header(&headers, "to"), ["ada@example.com"]);
    assert_eq!(
        support::email::header(&headers, "cc"),
        ["sales@example.com"]
    );
    assert_eq!(
        support::email::header(&headers, "from"),
        ["Alerts <alerts@example.com>"]
    );
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("Thank you, Ada."), "{data}");
    assert!(data.contains("<b>"), "{data}");
}

/// The links of an email's plain-text body (quoted-printable soft breaks undone).
fn links_in(data: &str) -> Vec<String> {
    let text = data
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=");
    text.split_whitespace()
        .filter(|w| w.starts_with(support::TEST_BASE_URL))
        .map(|w| w.trim_end_matches(['.', ',']).to_owned())
        .collect()
}

async fn deploy_approval(t: TestApp) {
    let deployer = Target::ok().await;
    let (wf, key) = create(
        &t,
        "deploy-approval.yaml",
        &[("https://deploy.example.com", &deployer.url(""))],
    )
    .await;
    let mut runs = Vec::new();
    // Unique per run: the mail sink is shared by every test of the binary.
    let build = ulid::Ulid::new().to_string();
    let approved_ref = format!("v1.4.2-{build}");
    let denied_ref = format!("v1.4.3-{build}");
    for (reference, decide) in [
        (approved_ref.as_str(), "approve"),
        (denied_ref.as_str(), "deny"),
    ] {
        let id = post(
            &t,
            &wf,
            &key,
            "deploy",
            json!({"ref": reference, "service": "api", "requestedBy": "ci"}),
        )
        .await;
        runs.push((id, reference, decide));
    }
    t.worker.drain().await;
    for (id, reference, decide) in &runs {
        let waiting = t.execution(wf.id.as_str(), id, &key).await;
        assert_eq!(waiting["status"], "waiting", "{waiting}");
        let mail: Vec<Value> = support::email::shared_sink()
            .received()
            .into_iter()
            .filter(|m| m["data"].as_str().unwrap_or_default().contains(reference))
            .collect();
        assert_eq!(mail.len(), 1, "one approval email for {reference}");
        let data = mail[0]["data"].as_str().unwrap_or_default();
        let headers = support::email::headers(data);
        assert_eq!(
            support::email::header(&headers, "subject"),
            [format!("Deploy api {reference}?")]
        );
        assert_eq!(
            support::email::header(&headers, "to"),
            ["oncall@example.com"]
        );
        let links = links_in(data);
        let link = links
            .iter()
            .find(|l| l.ends_with(&format!("decision={decide}")))
            .unwrap_or_else(|| panic!("no {decide} link in {data}"));
        let path = link
            .strip_prefix(support::TEST_BASE_URL)
            .unwrap_or_default();
        let request = Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "decision={decide}&comment=from+the+example"
            )))
            .expect("request");
        assert_eq!(t.send(request).await.status, StatusCode::OK);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut finished = Vec::new();
    for (id, _, _) in &runs {
        loop {
            let now = t.execution(wf.id.as_str(), id, &key).await;
            if matches!(now["status"].as_str(), Some("succeeded" | "failed")) {
                finished.push(now);
                break;
            }
            assert!(std::time::Instant::now() < deadline, "not finished: {now}");
            t.worker.deliver_once().await;
        }
    }
    let approved = &finished[0];
    assert_eq!(approved["status"], "succeeded", "{approved}");
    let sent = deployer.only_request().json();
    assert_eq!(sent["ref"], approved_ref);
    assert_eq!(sent["approvedBy"], "link");
    assert_eq!(sent["comment"], "from the example");
    let denied = &finished[1];
    assert_eq!(denied["status"], "succeeded", "{denied}");
    assert_eq!(denied["result"]["outcome"], "stopped");
    assert_eq!(
        denied["result"]["reason"],
        format!("deploy of {denied_ref} was denied")
    );
}
