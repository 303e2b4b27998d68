//! The Executions pages as operators use them: across workflows, filtered by workflow name
//! and by `path=value` in the payload, with counts by status and what the search read; a
//! test run's badge; on a workflow's page, bulk replay of the filtered set, confirmed with its
//! count first.

use std::time::{Duration, Instant};

use fantoccini::Client;
use serde_json::{Value, json};

use super::{accept_body, click, screenshot, text_of, type_into, wait_text};

/// The `data-{key}` of every element `css` matches.
async fn data_of(c: &Client, css: &str, key: &str) -> Vec<String> {
    let values: Value = c
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map(r => r.dataset[arguments[1]])",
            vec![json!(css), json!(key)],
        )
        .await
        .expect("script");
    serde_json::from_value(values).expect("strings")
}

/// Waits until the rows `css` matches are exactly `want` (in any order).
async fn wait_rows(c: &Client, css: &str, want: &[&str]) {
    let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut got = data_of(c, css, "execution").await;
        got.sort();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{css}: {got:?}, not {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn admin(http: &reqwest::Client, method: reqwest::Method, url: &str, key: &str) -> Value {
    let response = http
        .request(method, url)
        .header("x-admin-key", key)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("admin call");
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    serde_json::from_slice(&response.bytes().await.expect("body")).expect("json")
}

/// Waits until the admin API shows `execution_id` of `workflow_id` as `status`.
async fn settled(
    http: &reqwest::Client,
    base: &str,
    (workflow_id, execution_id): (&str, &str),
    admin_key: &str,
) {
    let url = format!("{base}/admin/workflows/{workflow_id}/executions/{execution_id}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let e = admin(http, reqwest::Method::GET, &url, admin_key).await;
        if e["status"] == "succeeded" {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{execution_id} is {}",
            e["status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn critical(http: &reqwest::Client, base: &str, workflow_id: &str, api_key: &str) -> String {
    let body = json!({"severity": "critical", "host": "db-1"}).to_string();
    accept_body(http, base, (workflow_id, api_key), body).await
}

/// `router_id`'s name holds "router" and no other workflow's does; two critical alerts go to
/// it (its branch's case 0), then the pages find, count and replay them.
pub async fn operators_find_count_and_replay(
    c: &Client,
    http: &reqwest::Client,
    base: &str,
    (router_id, other_id): (&str, &str),
    (api_key, admin_key): (&str, &str),
) {
    let first = critical(http, base, router_id, api_key).await;
    let second = critical(http, base, router_id, api_key).await;
    for id in [&first, &second] {
        settled(http, base, (router_id, id), admin_key).await;
    }
    let tested = admin(
        http,
        reqwest::Method::POST,
        &format!("{base}/admin/workflows/{other_id}/test-run"),
        admin_key,
    )
    .await;
    let tested = tested["executionId"]
        .as_str()
        .expect("test run id")
        .to_owned();
    settled(http, base, (other_id, &tested), admin_key).await;

    // Across workflows: a test run wears its badge; the counts are the API's.
    c.goto(&format!("{base}/console#/executions"))
        .await
        .expect("open the executions");
    wait_text(
        c,
        &format!("#all-executions tr[data-execution='{tested}'][data-test='true'] .badge.test"),
        "test",
    )
    .await;
    let counts = admin(
        http,
        reqwest::Method::GET,
        &format!("{base}/admin/executions/counts"),
        admin_key,
    )
    .await;
    let total = counts["total"].as_u64().expect("total");
    assert!(total >= 4, "{counts}");
    wait_text(
        c,
        "#execution-counts [data-count='total']",
        &format!("total {total}"),
    )
    .await;
    wait_text(
        c,
        "#execution-counts [data-count='succeeded']",
        &format!("succeeded {}", counts["succeeded"]),
    )
    .await;

    // By workflow name, then by a field of the payload as well.
    type_into(c, "#filter-workflow", "ROUTER").await;
    click(c, "#apply-filters").await;
    let url = c.current_url().await.expect("url");
    assert!(
        url.fragment()
            .is_some_and(|f| f.contains("workflow=ROUTER")),
        "the filters are in the URL: {url}"
    );
    let listed = "#all-executions tr[data-execution]";
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let workflows = data_of(c, listed, "workflow").await;
        if workflows.len() >= 3 && workflows.iter().all(|w| w == router_id) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not only the router's: {workflows:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    type_into(c, "#filter-q", "body.severity=critical").await;
    click(c, "#apply-filters").await;
    wait_rows(c, listed, &[&first, &second]).await;
    let note = text_of(c, "#scan-note").await;
    assert!(
        note.starts_with("Searched the payload and headers of"),
        "{note}"
    );
    screenshot(c, "console-all-executions-filtered.png").await;

    // The workflow's own page with the same filters: bulk replay asks with the count first.
    c.goto(&format!(
        "{base}/console#/workflows/{router_id}?status=succeeded&q=body.severity%3Dcritical"
    ))
    .await
    .expect("open the router's executions");
    wait_rows(c, "#executions tr[data-execution]", &[&first, &second]).await;
    click(c, "#bulk-replay-button").await;
    wait_text(
        c,
        "#bulk-confirm[data-count='2']",
        "Replay 2 executions with the current version?",
    )
    .await;
    c.execute(
        "document.getElementById('bulk-replay').scrollIntoView()",
        vec![],
    )
    .await
    .expect("scroll to the bulk replay");
    screenshot(c, "console-bulk-replay.png").await;
    click(c, "#bulk-confirm-button").await;
    text_of(c, "#bulk-result[data-count='2']").await;
    let replayed: Value = c
        .execute(
            "return [...document.querySelectorAll('#bulk-result a.replayed-link')].map(a => a.textContent)",
            vec![],
        )
        .await
        .expect("script");
    let replayed: Vec<String> = serde_json::from_value(replayed).expect("ids");
    assert_eq!(replayed.len(), 2, "{replayed:?}");
    for id in &replayed {
        assert!(id != &first && id != &second, "a new execution: {id}");
        settled(http, base, (router_id, id), admin_key).await;
    }
    // The replays match the same filters: four now.
    c.refresh().await.expect("reload");
    let mut four: Vec<&str> = replayed.iter().map(String::as_str).collect();
    four.extend([first.as_str(), second.as_str()]);
    wait_rows(c, "#executions tr[data-execution]", &four).await;
}
