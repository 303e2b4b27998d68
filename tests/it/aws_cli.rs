//! The CLI against DynamoDB + SQS on moto: `setup` creates the table and queues, keys and
//! workflows are managed on `dynamodb://TABLE`, and a replay needs the queue URL.
//! Needs `make test` (or moto + AWS_ENDPOINT_URL).

use crate::support;

use std::process::{Command, Output};

use serde_json::Value;

/// Runs the CLI with the emulator's endpoint, dummy credentials and nothing from ~/.aws.
fn cli(args: &[&str], queue_url: Option<&str>) -> Output {
    let endpoint = support::dynamodb::endpoint();
    let mut command = Command::new(env!("CARGO_BIN_EXE_webhook-trigger"));
    command
        .args(args)
        .env_remove("WEBHOOK_STORE")
        .env_remove("QUEUE_URL")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
    if let Some(url) = queue_url {
        command.env("QUEUE_URL", url);
    }
    command.output().expect("run webhook-trigger")
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON output")
}

#[test]
fn setup_then_manage_keys_workflows_and_executions_on_dynamodb() {
    let table = support::dynamodb::unique("cli");
    let store = format!("dynamodb://{table}");
    let setup = json(&cli(&["--json", "--store", &store, "setup"], None));
    assert_eq!(setup["tableName"], table.as_str());
    assert_eq!(setup["tableCreated"], true);
    let queue_url = setup["queueUrl"].as_str().expect("queueUrl").to_owned();
    assert!(
        setup["deadLetterQueueUrl"]
            .as_str()
            .unwrap()
            .ends_with("-work-dlq")
    );
    // Running it again finds everything in place.
    let again = json(&cli(&["--json", "--store", &store, "setup"], None));
    assert_eq!(again["tableCreated"], false);
    assert_eq!(again["queueUrl"], queue_url.as_str());

    let key = json(&cli(
        &["--json", "--store", &store, "api-keys", "create", "ops"],
        None,
    ));
    assert!(key["value"].as_str().unwrap().starts_with("whk_"));
    let workflow = json(&cli(
        &[
            "--json",
            "--store",
            &store,
            "workflows",
            "create",
            "--name",
            "Orders",
            "--api-key",
            "ops",
        ],
        None,
    ));
    let workflow_id = workflow["id"].as_str().unwrap().to_owned();
    let listed = json(&cli(
        &["--json", "--store", &store, "workflows", "list"],
        None,
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let keys = json(&cli(
        &["--json", "--store", &store, "api-keys", "list"],
        None,
    ));
    assert_eq!(keys[0]["name"], "ops");
    assert!(
        keys[0].get("value").is_none(),
        "a listing never shows a key's value"
    );

    // Sample data names wf_demo and its queued execution; replay needs the queue.
    json(&cli(
        &["--json", "--store", &store, "setup", "--sample-data"],
        None,
    ));
    let replay = [
        "--store",
        &store,
        "executions",
        "replay",
        "wf_demo",
        "01JD0000000000000000DEMQ00",
    ];
    let refused = cli(&replay, None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("QUEUE_URL"));
    let mut with_json = vec!["--json"];
    with_json.extend(replay);
    let replayed = json(&cli(&with_json, Some(&queue_url)));
    assert_eq!(replayed["status"], "queued");
    let page = json(&cli(
        &["--json", "--store", &store, "executions", "list", "wf_demo"],
        None,
    ));
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        2,
        "the sample execution and its replay, and no half-recorded one from the refusal"
    );
    let empty = json(&cli(
        &[
            "--json",
            "--store",
            &store,
            "executions",
            "list",
            &workflow_id,
        ],
        None,
    ));
    assert!(empty["items"].as_array().unwrap().is_empty());
}
