//! The real `webhook-trigger` binary: the CLI makes a key and a workflow, `serve` answers on a
//! loopback port, and the background worker runs what was accepted.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::binary::{BIN, Killed as Server, cli, free_port};

fn start(db: &Path, port: u16, demo: bool) -> (Server, BufReader<std::process::ChildStdout>) {
    start_with(db, port, demo, &[])
}

/// `start`, with settings in the server's environment.
fn start_with(
    db: &Path,
    port: u16,
    demo: bool,
    env: &[(&str, &str)],
) -> (Server, BufReader<std::process::ChildStdout>) {
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(BIN);
    cmd.envs(env.iter().copied());
    cmd.args([
        "serve",
        "--addr",
        &addr,
        "--db",
        db.to_str().expect("utf-8 path"),
    ])
    .env_remove("WEBHOOK_BASE_URL")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    if demo {
        cmd.arg("--demo");
    }
    let mut child = cmd.spawn().expect("spawn serve");
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    (Server(child), stdout)
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/health")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("serve did not become healthy at {base}");
}

async fn wait_for_status(client: &reqwest::Client, url: &str, key: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let body: Value = client
            .get(url)
            .header("x-api-key", key)
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .map(|b| serde_json::from_slice(&b).unwrap_or(Value::Null))
            .expect("body");
        if body["status"] == want || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of `/metrics`.
async fn scrape(client: &reqwest::Client, base: &str) -> String {
    client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text")
}

/// `{}` to a workflow's webhook URL.
async fn post_empty_webhook(
    client: &reqwest::Client,
    base: &str,
    workflow_id: &str,
    key: &str,
) -> reqwest::Response {
    client
        .post(format!("{base}/webhooks/{workflow_id}"))
        .header("x-api-key", key)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn cli_and_server_run_a_webhook_end_to_end() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let key = cli(&db, &["api-keys", "create", "partner"]);
    let key_value = key["value"].as_str().expect("key value").to_owned();
    let workflow = cli(
        &db,
        &[
            "workflows",
            "create",
            "--name",
            "Orders",
            "--api-key",
            "partner",
            "--steps",
            r#"[{"type":"echo"}]"#,
        ],
    );
    let workflow_id = workflow["id"].as_str().expect("id").to_owned();
    assert!(
        workflow["webhookUrl"]
            .as_str()
            .expect("url")
            .ends_with(&format!("/webhooks/{workflow_id}"))
    );

    let port = free_port();
    let (_server, _stdout) = start(&db, port, false);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;

    let r = client
        .post(format!("{base}/webhooks/{workflow_id}"))
        .header("x-api-key", &key_value)
        .header("content-type", "application/json")
        .body(r#"{"order":7}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    let accepted: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    let execution_id = accepted["executionId"].as_str().expect("id");

    let url = format!("{base}/workflows/{workflow_id}/executions/{execution_id}");
    let done = wait_for_status(&client, &url, &key_value, "succeeded").await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["steps"][0]["output"]["order"], 7);

    // The CLI sees what the server wrote.
    let listed = cli(&db, &["executions", "list", &workflow_id]);
    assert_eq!(listed["items"][0]["id"], execution_id);
    let revoked = cli(&db, &["api-keys", "revoke", "partner"]);
    assert!(revoked["revokedAt"].is_string());
}

#[tokio::test]
async fn demo_mode_prints_a_key_url_and_curl_that_work() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let port = free_port();
    let (_server, mut stdout) = start(&db, port, true);

    let mut printed = String::new();
    let mut line = String::new();
    while stdout.read_line(&mut line).expect("read") > 0 {
        printed.push_str(&line);
        if line.contains("See its executions") {
            break;
        }
        line.clear();
    }
    let field = |label: &str| {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {label} in:\n{printed}"))
    };
    let key = field("API key value:");
    let url = field("Webhook URL:");
    assert!(printed.contains("curl -i -X POST"), "{printed}");
    assert!(url.starts_with(&format!("http://127.0.0.1:{port}/webhooks/")));

    // The body the printed curl sends, taken from the printed line itself.
    let curl = printed
        .lines()
        .find(|l| l.contains("curl -i -X POST"))
        .expect("a curl line");
    let body = curl
        .split("-d '")
        .nth(1)
        .and_then(|rest| rest.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no -d body in {curl}"));
    assert!(curl.contains("content-type: application/json"), "{curl}");

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_healthy(&client, &base).await;
    let r = client
        .post(&url)
        .header("x-api-key", &key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    let accepted: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    let execution_id = accepted["executionId"].as_str().expect("id");
    let workflow_id = url.rsplit('/').next().expect("id");
    let done = wait_for_status(
        &client,
        &format!("{base}/workflows/{workflow_id}/executions/{execution_id}"),
        &key,
        "succeeded",
    )
    .await;
    assert_eq!(done["steps"][0]["output"]["passed"], true, "{done}");
    assert_eq!(
        done["steps"][1]["output"],
        serde_json::json!({"text": "Order 42 from Ada: 129.5 EUR", "orderId": 42, "large": true})
    );
    assert_eq!(done["result"]["outcome"], "completed");
}

/// An API key `partner` and a workflow `Orders` on it, made with the CLI: (key value, id).
fn orders_workflow(db: &std::path::Path) -> (String, String) {
    let key = cli(db, &["api-keys", "create", "partner"]);
    let key_value = key["value"].as_str().expect("key value").to_owned();
    let workflow = cli(
        db,
        &[
            "workflows",
            "create",
            "--name",
            "Orders",
            "--api-key",
            "partner",
        ],
    );
    let workflow_id = workflow["id"].as_str().expect("id").to_owned();
    (key_value, workflow_id)
}

#[tokio::test]
async fn a_fresh_serve_shows_every_family_at_zero_on_its_first_scrape() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let _ = orders_workflow(&db);
    let port = free_port();
    let (_server, _stdout) = start(&db, port, false);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;
    let text = scrape(&client, &base).await;
    for line in [
        "webhook_accepted_total 0",
        "webhook_rejections_total 0",
        "workflow_executions_total{outcome=\"failed\"} 0",
        "workflow_step_failures_total{type=\"for_each\"} 0",
        "webhook_accept_seconds_count 0",
    ] {
        assert!(text.contains(line), "{line} missing in:\n{text}");
    }
}

#[tokio::test]
async fn serve_counts_accepted_and_refused_webhooks_and_finished_executions_at_metrics() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let (key_value, workflow_id) = orders_workflow(&db);
    let port = free_port();
    let (_server, _stdout) = start(&db, port, false);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;

    let post = |key: &'static str| post_empty_webhook(&client, &base, &workflow_id, key);
    let accepted = post_empty_webhook(&client, &base, &workflow_id, &key_value).await;
    assert_eq!(accepted.status(), 202);
    let body: Value = serde_json::from_slice(&accepted.bytes().await.expect("body")).expect("json");
    let execution_id = body["executionId"].as_str().expect("id");
    assert_eq!(post("wrong").await.status(), 401);
    let unknown = client
        .post(format!("{base}/webhooks/wf_unknown"))
        .header("x-api-key", &key_value)
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(unknown.status(), 404);
    wait_for_status(
        &client,
        &format!("{base}/workflows/{workflow_id}/executions/{execution_id}"),
        &key_value,
        "succeeded",
    )
    .await;

    let scraped = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.expect("text");
    let wf = &workflow_id;
    for line in [
        "webhook_accepted_total 1".to_owned(),
        "webhook_rejected_total{reason=\"invalid_api_key\"} 1".to_owned(),
        "webhook_rejected_total{reason=\"workflow_not_found\"} 1".to_owned(),
        "workflow_executions_total{outcome=\"succeeded\"} 1".to_owned(),
        "webhook_accept_seconds_count 1".to_owned(),
        "workflow_execution_seconds_count 1".to_owned(),
        format!("webhook_accepted_by_workflow_total{{workflow=\"{wf}\"}} 1"),
        format!("webhook_rejected_by_workflow_total{{workflow=\"{wf}\",reason=\"auth\"}} 1"),
        format!(
            "workflow_executions_by_workflow_total{{workflow=\"{wf}\",outcome=\"succeeded\"}} 1"
        ),
    ] {
        assert!(text.contains(&line), "{line} missing in:\n{text}");
    }
    assert!(!text.contains(&key_value), "no key value in metrics");
    assert!(
        !text.contains("wf_unknown"),
        "an unknown workflow id is no label: {text}"
    );
}

/// Two workflows and a process that labels one: the second is `other`. With the dimension
/// off there are no per-workflow series at all, and the aggregates are unchanged.
#[tokio::test]
async fn the_workflow_label_is_capped_per_process_and_can_be_turned_off() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let key = cli(&db, &["api-keys", "create", "partner"]);
    let key_value = key["value"].as_str().expect("key value").to_owned();
    let mut workflows = Vec::new();
    for name in ["First", "Second"] {
        let created = cli(
            &db,
            &[
                "workflows",
                "create",
                "--name",
                name,
                "--api-key",
                "partner",
            ],
        );
        workflows.push(created["id"].as_str().expect("id").to_owned());
    }
    let client = reqwest::Client::new();
    let scrape = |env: &'static [(&'static str, &'static str)]| {
        let (db, client, key, workflows) = (
            db.clone(),
            client.clone(),
            key_value.clone(),
            workflows.clone(),
        );
        async move {
            let port = free_port();
            let (_server, _stdout) = start_with(&db, port, false, env);
            let base = format!("http://127.0.0.1:{port}");
            wait_healthy(&client, &base).await;
            for wf in &workflows {
                let r = post_empty_webhook(&client, &base, wf, &key).await;
                assert_eq!(r.status(), 202);
            }
            let scraped = client.get(format!("{base}/metrics")).send().await;
            scraped.expect("scrape").text().await.expect("text")
        }
    };

    let capped = scrape(&[("METRICS_WORKFLOW_LIMIT", "1")]).await;
    for line in [
        "webhook_accepted_total 2".to_owned(),
        format!(
            "webhook_accepted_by_workflow_total{{workflow=\"{}\"}} 1",
            workflows[0]
        ),
        "webhook_accepted_by_workflow_total{workflow=\"other\"} 1".to_owned(),
    ] {
        assert!(capped.contains(&line), "{line} missing in:\n{capped}");
    }
    assert!(!capped.contains(&workflows[1]), "{capped}");

    let off = scrape(&[("METRICS_WORKFLOW_DIMENSION", "off")]).await;
    assert!(off.contains("webhook_accepted_total 2"), "{off}");
    assert!(!off.contains("by_workflow"), "{off}");
}

/// `serve` writes the refused-request counts it holds when it is stopped: with a flush
/// interval far longer than the test, the first refusal is written at once and the second
/// only at shutdown.
#[tokio::test]
async fn serve_writes_pending_rejection_counts_when_it_stops() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let (_key_value, workflow_id) = orders_workflow(&db);
    let port = free_port();
    let (mut server, _stdout) =
        start_with(&db, port, false, &[("REJECTION_FLUSH_SECONDS", "3600")]);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;
    let stored = || -> i64 {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.query_row(
            "SELECT COALESCE(SUM(auth), 0) FROM rejection_counts WHERE workflow_id = ?1",
            [&workflow_id],
            |r| r.get(0),
        )
        .expect("count")
    };
    let refuse = || {
        client
            .post(format!("{base}/webhooks/{workflow_id}"))
            .header("x-api-key", "whk_wrong")
            .body("{}")
            .send()
    };

    assert_eq!(refuse().await.expect("post").status(), 401);
    let deadline = Instant::now() + Duration::from_secs(20);
    while stored() < 1 {
        assert!(
            Instant::now() < deadline,
            "the first refusal was not written"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(refuse().await.expect("post").status(), 401);

    let stopped = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(stopped.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.0.try_wait().expect("wait").is_none() {
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored(), 2, "the second refusal was written at shutdown");
}

/// The niceness of each of the process's threads, by thread name (`/proc/PID/task`).
#[cfg(target_os = "linux")]
fn thread_niceness(pid: u32) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let dir = task.expect("task").path();
        let (Ok(name), Ok(stat)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("stat")),
        ) else {
            continue; // the thread ended meanwhile
        };
        // Fields after the parenthesised name: state is field 3, nice is field 19.
        let after_name = &stat[stat.rfind(')').expect("stat") + 2..];
        let nice: i64 = after_name
            .split(' ')
            .nth(16)
            .expect("nice field")
            .parse()
            .expect("nice");
        out.push((name.trim().to_owned(), nice));
    }
    out
}

/// Under load the API answers first: the local worker's threads run at a lower priority,
/// the API's do not.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_local_worker_runs_below_the_api_s_priority() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let port = free_port();
    let (server, _stdout) = start(&db, port, false);
    let client = reqwest::Client::new();
    wait_healthy(&client, &format!("http://127.0.0.1:{port}")).await;
    let threads = thread_niceness(server.0.id());
    let worker: Vec<_> = threads
        .iter()
        .filter(|(name, _)| name == "local-worker")
        .collect();
    assert!(!worker.is_empty(), "no local-worker thread in {threads:?}");
    assert!(
        worker.iter().all(|(_, nice)| *nice
            == i64::from(webhook_trigger::adapters::sqlite::worker_loop::WORKER_NICENESS)),
        "{threads:?}"
    );
    assert!(
        threads
            .iter()
            .any(|(name, nice)| name != "local-worker" && *nice == 0),
        "the API's threads keep the normal priority: {threads:?}"
    );
}

#[tokio::test]
async fn a_test_run_is_left_out_of_the_metrics_execution_counts() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let (key_value, workflow_id) = orders_workflow(&db);
    // Queued by the CLI before the server starts; its worker runs it.
    let run = cli(
        &db,
        &[
            "workflows",
            "test-run",
            &workflow_id,
            "--body",
            "{\"n\": 1}",
        ],
    );
    assert_eq!(run["test"], true, "{run}");
    let test_id = run["executionId"].as_str().expect("id").to_owned();
    let listed = cli(&db, &["executions", "list", &workflow_id]);
    assert_eq!(listed["items"][0]["test"], true, "{listed}");
    let port = free_port();
    let (_server, _stdout) = start(&db, port, false);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;
    let url = |id: &str| format!("{base}/workflows/{workflow_id}/executions/{id}");
    let done = wait_for_status(&client, &url(&test_id), &key_value, "succeeded").await;
    assert_eq!(done["test"], true, "{done}");
    let text = scrape(&client, &base).await;
    for line in [
        "workflow_executions_total{outcome=\"succeeded\"} 0",
        "workflow_execution_seconds_count 0",
        "webhook_accepted_total 0",
    ] {
        assert!(text.contains(line), "{line} missing in:\n{text}");
    }

    // A real webhook does move them: the zero above is the test run's, not a dead counter.
    let accepted = post_empty_webhook(&client, &base, &workflow_id, &key_value).await;
    let body: Value = serde_json::from_slice(&accepted.bytes().await.expect("body")).expect("json");
    let real = body["executionId"].as_str().expect("id");
    wait_for_status(&client, &url(real), &key_value, "succeeded").await;
    let text = scrape(&client, &base).await;
    assert!(
        text.contains("workflow_executions_total{outcome=\"succeeded\"} 1"),
        "{text}"
    );
}
