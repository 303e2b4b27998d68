//! The console in a real headless Chromium (Debian's `chromium` + `chromium-driver`, which
//! `make test` installs), driven over WebDriver against the real `serve` binary, on loopback
//! only: sign in with an admin key, see the workflow, trigger a webhook, watch it succeed,
//! see refused requests charted by reason, open it, see its steps, replay it; see the path a
//! branch took and a loop's items, paged; approve a waiting execution and cancel another; a
//! wrong key is refused; a hostile payload renders as text; add, rotate and revoke an API key
//! in Settings; and the docs' journey: a key, a new workflow with it, its URL from the
//! trigger panel called, switched off and on, replaced, a version viewed and restored; and the
//! Steps tab: the docs' example built from the palette, checked as typed, dry-run, saved and
//! run. With
//! `WEBHOOK_CONSOLE_SCREENSHOTS=DIR` it also saves a PNG of each page there
//! (`make screenshots` writes the ones in docs/).
//!
//! Never skipped: without the browser it fails, saying what to install.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::binary::{BIN, Killed, cli, free_port};
use crate::support::sns_peer::{SigV, SnsPeer, TOPIC_ARN};
use crate::support::target::Target;

mod executions;
mod flow;

const HOSTILE: &str = "<script>window.__pwned=1</script><img src=x onerror=\"window.__pwned=2\">";

/// The first of `names` found on PATH or in /usr/bin, or a failure that says what to install.
fn find_tool(names: &[&str]) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain([
        PathBuf::from("/usr/bin"),
        PathBuf::from("/usr/lib/chromium"),
    ]);
    for dir in dirs {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the console browser test needs {names:?}: install Debian's chromium and chromium-driver \
         (`apt-get install -y chromium chromium-driver`; `make test` does it)"
    );
}

async fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not listen on 127.0.0.1:{port}");
}

async fn browser(driver_port: u16, profile: &Path) -> Client {
    let chromium = find_tool(&["chromium", "chromium-browser"]);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session with headless chromium")
}

/// Waits for `css` to match, then its text. Read in one script call: the page re-renders
/// while it refreshes, so an element handle could go stale between finding and reading it.
async fn text_of(c: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text: Value = c
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;",
                vec![json!(css)],
            )
            .await
            .expect("script");
        if let Value::String(text) = text {
            return text;
        }
        assert!(Instant::now() < deadline, "no {css} on the page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `css` matches and reads `want` (the page refreshes itself every 2 s).
async fn wait_text(c: &Client, css: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = text_of(c, css).await;
        if text == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} reads {text:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks what `css` matches, as a user would, retrying while a refresh replaces it.
async fn click(c: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await
            && el.click().await.is_ok()
        {
            return;
        }
        assert!(Instant::now() < deadline, "could not click {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types `text` into what `css` matches, retrying while a refresh replaces it.
async fn type_into(c: &Client, css: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await
            && el.send_keys(text).await.is_ok()
        {
            return;
        }
        assert!(Instant::now() < deadline, "could not type into {css}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn screenshot(c: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("WEBHOOK_CONSOLE_SCREENSHOTS") {
        let png = c.screenshot().await.expect("screenshot");
        std::fs::write(Path::new(&dir).join(name), png).expect("write screenshot");
    }
}

async fn sign_in(c: &Client, key: &str) {
    let input = c
        .wait()
        .for_element(Locator::Id("admin-key"))
        .await
        .expect("key field");
    input.send_keys(key).await.expect("type key");
    c.find(Locator::Id("sign-in"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
}

/// A branch to a loop (item 1 fails, the loop goes on), with steps on either side that the
/// run passes over.
fn router_steps() -> Value {
    json!([
        {"id": "route", "type": "branch",
         "cases": [{"when": "trigger.body.severity == 'critical'", "next": "page"},
                   {"when": "trigger.body.alerts is defined", "next": "chat"}],
         "default": "ignore"},
        {"id": "page", "type": "transform", "output": {"paged": true}, "next": "end",
         "on_error": "ignore"},
        {"id": "chat", "type": "for_each", "items": "trigger.body.alerts", "as": "alert",
         "continue_on_error": true, "next": "end",
         "steps": [
            {"id": "check", "type": "branch",
             "cases": [{"when": "alert.bad", "next": "boom"}], "default": "post"},
            {"id": "boom", "type": "fail", "message": "a bad alert"},
            {"id": "post", "type": "transform", "output": {"text": "{{ alert.name }}"}},
         ]},
        {"id": "ignore", "type": "stop", "reason": "not routed"},
    ])
}

/// An approval before a last step, so an approved run has somewhere to go.
fn approval_steps() -> Value {
    json!([
        {"id": "approve", "type": "approval", "timeout": "1h"},
        {"id": "done", "type": "transform", "output": {"ok": true}},
    ])
}

/// Accepts a webhook for `workflow_id`; returns its execution's id.
async fn accept(http: &reqwest::Client, base: &str, workflow_id: &str, api_key: &str) -> String {
    accept_body(http, base, (workflow_id, api_key), "{}".into()).await
}

/// Accepts a webhook with `body` for `workflow_id`; returns its execution's id.
async fn accept_body(
    http: &reqwest::Client,
    base: &str,
    (workflow_id, api_key): (&str, &str),
    body: String,
) -> String {
    let accepted = http
        .post(format!("{base}/webhooks/{workflow_id}"))
        .header("x-api-key", api_key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("webhook")
        .bytes()
        .await
        .expect("body");
    let accepted: Value = serde_json::from_slice(&accepted).expect("json");
    accepted["executionId"]
        .as_str()
        .expect("execution id")
        .to_owned()
}

/// One waiting execution approved from its page runs on to succeed; another, found through
/// the list's `waiting` filter, is cancelled with a second click and fails; a third, decided
/// behind the page's back, refuses the page's decision. The serve binary's own worker runs
/// them, as it does the replay.
async fn waiting_executions_are_approved_and_cancelled(
    c: &Client,
    http: &reqwest::Client,
    base: &str,
    workflow_id: &str,
    keys: (&str, &str),
) {
    let (api_key, admin_key) = keys;
    let approved = accept(http, base, workflow_id, api_key).await;
    c.goto(&format!(
        "{base}/console#/workflows/{workflow_id}/executions/{approved}"
    ))
    .await
    .expect("open the execution");
    wait_text(c, "#execution-id", &approved).await;
    wait_text(c, "#execution-status", "waiting").await;
    let waiting = text_of(c, "#waiting[data-type='approval']").await;
    assert!(
        waiting.contains("approve") && waiting.contains("approval") && waiting.contains("wakes"),
        "{waiting}"
    );
    assert_eq!(
        text_of(c, ".step[data-step='approve']")
            .await
            .split_whitespace()
            .next(),
        Some("waiting"),
        "the approval's own record waits too"
    );
    type_into(c, "#decision-comment", "looks right").await;
    // Longer than the page's refresh, which must not throw the comment away.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let comment: Value = c
        .execute(
            "return document.getElementById('decision-comment').value",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        comment,
        json!("looks right"),
        "a refresh cleared the comment"
    );
    screenshot(c, "console-waiting.png").await;
    click(c, "#approve").await;
    wait_text(c, "#execution-status", "succeeded").await;
    assert!(
        c.find(Locator::Css("#waiting")).await.is_err(),
        "nothing waits any more"
    );
    wait_text(c, ".step[data-step='done'] .status", "succeeded").await;
    let decided = text_of(c, ".step[data-step='approve']").await;
    assert!(
        decided.contains("looks right"),
        "the comment is kept: {decided}"
    );

    let cancelled = accept(http, base, workflow_id, api_key).await;
    c.goto(&format!(
        "{base}/console#/workflows/{workflow_id}?status=waiting"
    ))
    .await
    .expect("open the waiting executions");
    let row = format!("tr[data-execution='{cancelled}'][data-status='waiting']");
    text_of(c, &row).await;
    let selected: Value = c
        .execute(
            "return document.getElementById('status-filter').value",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(selected, json!("waiting"), "the filter knows waiting");
    assert!(
        c.find(Locator::Css(&format!("tr[data-execution='{approved}']")))
            .await
            .is_err(),
        "the succeeded execution is filtered out"
    );
    click(c, &format!("{row} a.execution-link")).await;
    wait_text(c, "#execution-id", &cancelled).await;
    click(c, "#cancel").await;
    wait_text(c, "#cancel[data-armed]", "Confirm cancel").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    wait_text(c, "#cancel[data-armed]", "Confirm cancel").await;
    assert_eq!(
        text_of(c, "#execution-status").await,
        "waiting",
        "one click cancels nothing, and a refresh keeps the armed button"
    );
    click(c, "#cancel[data-armed]").await;
    wait_text(c, "#execution-status", "failed").await;
    let error = text_of(c, "#execution-error").await;
    assert!(error.contains("cancelled by admin:ops"), "{error}");

    // Decided elsewhere while the page shows it waiting (a comment being written holds the
    // page's refresh): a second decision is refused, and the page says why.
    let elsewhere = accept(http, base, workflow_id, api_key).await;
    c.goto(&format!(
        "{base}/console#/workflows/{workflow_id}/executions/{elsewhere}"
    ))
    .await
    .expect("open the execution");
    wait_text(c, "#execution-id", &elsewhere).await;
    wait_text(c, "#execution-status", "waiting").await;
    type_into(c, "#decision-comment", "too late").await;
    let decided = http
        .post(format!(
            "{base}/admin/workflows/{workflow_id}/executions/{elsewhere}/approve"
        ))
        .header("x-admin-key", admin_key)
        .send()
        .await
        .expect("approve");
    assert_eq!(decided.status(), 200);
    click(c, "#deny").await;
    let error = text_of(c, "#error:not([hidden])").await;
    assert!(
        error.contains("callback_used") || error.contains("not_waiting"),
        "{error}"
    );
    // The page shows the execution as it is now, and the refusal outlives its refreshes.
    wait_text(c, "#execution-status", "succeeded").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(text_of(c, "#error:not([hidden])").await, error);
    let decided = text_of(c, ".step[data-step='approve']").await;
    assert!(decided.contains("approved"), "{decided}");

    c.goto(&format!("{base}/console#/workflows/{workflow_id}"))
        .await
        .expect("open the executions");
    for (id, status) in [
        (&approved, "succeeded"),
        (&cancelled, "failed"),
        (&elsewhere, "succeeded"),
    ] {
        text_of(
            c,
            &format!("tr[data-execution='{id}'][data-status='{status}']"),
        )
        .await;
    }
}

/// Posts an empty JSON webhook with `api_key`; returns the status.
async fn webhook_status(
    http: &reqwest::Client,
    base: &str,
    workflow_id: &str,
    api_key: &str,
) -> u16 {
    http.post(format!("{base}/webhooks/{workflow_id}"))
        .header("x-api-key", api_key)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("webhook")
        .status()
        .as_u16()
}

/// Settings → API keys: a key added in the page shows its value once, which a workflow
/// naming the key accepts; a rotation shows the new value and when the old one retires; a
/// revocation takes a second click. The page has its own URL, so back and reload work, and
/// it is served at `/console/` too.
async fn api_keys_are_added_rotated_and_revoked(
    c: &Client,
    http: &reqwest::Client,
    base: &str,
    db: &Path,
) {
    c.goto(&format!("{base}/console#/"))
        .await
        .expect("open the console");
    text_of(c, "#workflows").await;
    click(c, "#nav-settings").await;
    click(c, "#nav-api-keys").await;
    text_of(c, "#api-keys tr[data-key='partner']").await;
    let url = c.current_url().await.expect("url");
    assert_eq!(url.fragment(), Some("/settings/api-keys"), "{url}");

    click(c, "#add-key").await;
    type_into(c, "#new-key-name", "console-made").await;
    click(c, "#save-key").await;
    let value = text_of(c, "#key-value-panel[data-key='console-made'] #key-value").await;
    assert!(value.starts_with("whk_"), "{value}");
    fits_the_window(c, "API keys").await;
    let warning = text_of(c, "#value-warning").await;
    assert!(warning.contains("will not be shown again"), "{warning}");
    assert!(
        c.find(Locator::Css("#copy-key-value")).await.is_ok(),
        "a copy button"
    );
    let row = "tr[data-key='console-made']";
    text_of(c, &format!("{row}[data-state='active']")).await;
    screenshot(c, "console-api-keys.png").await;

    // A workflow naming the key, made as the others are: the shown value opens it.
    let workflow = cli(
        db,
        &[
            "workflows",
            "create",
            "--name",
            "Console key",
            "--api-key",
            "console-made",
            "--steps",
            r#"[{"type":"echo"}]"#,
        ],
    );
    let workflow_id = workflow["id"].as_str().expect("id").to_owned();
    assert_eq!(webhook_status(http, base, &workflow_id, &value).await, 202);

    // Reloaded, the page lists who uses the key and when, and the value is gone for good.
    c.refresh().await.expect("reload");
    wait_text(c, &format!("{row} .used-by a"), &workflow_id).await;
    assert_ne!(text_of(c, &format!("{row} .last-used")).await, "never");
    let body = c
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!body.contains(&value), "the value was shown again");
    assert!(c.find(Locator::Css("#key-value-panel")).await.is_err());

    click(c, &format!("{row} button.rotate")).await;
    let rotated = text_of(c, "#key-value-panel[data-key='console-made'] #key-value").await;
    assert!(rotated.starts_with("whk_") && rotated != value, "{rotated}");
    let retires = text_of(c, "#old-retires").await;
    assert!(retires.contains("keeps working until"), "{retires}");
    let retire_at: Value = c
        .execute(
            "return document.getElementById('old-retires').dataset.retireAt",
            vec![],
        )
        .await
        .expect("script");
    assert!(
        retire_at.as_str().is_some_and(|t| !t.is_empty()),
        "{retire_at}: 24 h by default"
    );
    assert_eq!(
        webhook_status(http, base, &workflow_id, &rotated).await,
        202
    );
    assert_eq!(
        webhook_status(http, base, &workflow_id, &value).await,
        202,
        "until it retires"
    );

    click(c, &format!("{row} button.revoke")).await;
    wait_text(
        c,
        &format!("{row} button.revoke[data-armed]"),
        "Confirm revoke",
    )
    .await;
    assert!(
        c.find(Locator::Css(&format!("{row}[data-state='active']")))
            .await
            .is_ok(),
        "one click revokes nothing"
    );
    click(c, &format!("{row} button.revoke[data-armed]")).await;
    let revoked = text_of(c, &format!("{row}[data-state='revoked'] .key-state")).await;
    assert!(revoked.starts_with("revoked"), "{revoked}");
    assert!(
        c.find(Locator::Css(&format!("{row} button.rotate")))
            .await
            .is_err()
    );
    assert_eq!(
        webhook_status(http, base, &workflow_id, &rotated).await,
        401
    );

    // Back goes to the workflows, forward to the keys; /console/ serves the same page.
    c.back().await.expect("back");
    text_of(c, "#workflows").await;
    c.forward().await.expect("forward");
    text_of(c, &format!("{row}[data-state='revoked']")).await;
    c.goto(&format!("{base}/console/#/settings/api-keys"))
        .await
        .expect("open /console/");
    text_of(c, &format!("{row}[data-state='revoked']")).await;
}

/// Chooses `label` in the `<select>` that `css` matches, as a user would.
async fn choose(c: &Client, css: &str, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(el) = c.find(Locator::Css(css)).await
            && el.select_by_label(label).await.is_ok()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "could not choose {label} in {css}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of everything `css` matches, one after another.
async fn all_text(c: &Client, css: &str) -> String {
    let text: Value = c
        .execute(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent).join('')",
            vec![json!(css)],
        )
        .await
        .expect("script");
    text.as_str().unwrap_or_default().to_owned()
}

/// The page fits the 1280-px window: nothing to scroll sideways.
async fn fits_the_window(c: &Client, page: &str) {
    let widths: Value = c
        .execute(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
            vec![],
        )
        .await
        .expect("script");
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "{page} scrolls sideways: {widths}"
    );
}

/// What the current URL's fragment has between `prefix` and `suffix`, once it has them.
async fn fragment_between(c: &Client, prefix: &str, suffix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = c.current_url().await.expect("url");
        if let Some(middle) = url
            .fragment()
            .and_then(|f| f.strip_prefix(prefix))
            .and_then(|f| f.strip_suffix(suffix))
        {
            return middle.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the URL is {url}, not #{prefix}…{suffix}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Posts `{}` to `url` with `api_key`, as a sender would: the status and the answer.
async fn send(http: &reqwest::Client, url: &str, api_key: &str) -> (u16, Value) {
    let response = http
        .post(url)
        .header("x-api-key", api_key)
        .header("content-type", "application/json")
        .body(r#"{"hello":"world"}"#)
        .send()
        .await
        .expect("webhook");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The Executions page lists `execution_id` as succeeded, under workflow version `version`.
async fn listed_succeeded(c: &Client, execution_id: &str, version: u32) {
    click(c, "#nav-executions").await;
    let row =
        format!("#all-executions tr[data-execution='{execution_id}'][data-status='succeeded']");
    text_of(c, &row).await;
    assert_eq!(
        text_of(c, &format!("{row} td.workflow-version")).await,
        format!("v{version}")
    );
    fits_the_window(c, "Executions").await;
}

/// The docs' journey, literally: a key made in Settings, a workflow made with it in
/// Workflows → New workflow, its URL read off the trigger panel and called, the run seen
/// under Executions; switched off and on; its steps replaced (there is no step editor: by
/// the admin API), which a stale key change in the page refuses as a conflict; the versions
/// listed, one viewed with its diff, and restored.
async fn the_docs_journey(
    c: &Client,
    http: &reqwest::Client,
    base: &str,
    admin_key: &str,
    peer: &SnsPeer,
) {
    c.goto(&format!("{base}/console#/"))
        .await
        .expect("open the console");
    text_of(c, "#workflows").await;
    fits_the_window(c, "Workflows").await;
    click(c, "#nav-settings").await;
    click(c, "#nav-api-keys").await;
    click(c, "#add-key").await;
    type_into(c, "#new-key-name", "journey").await;
    click(c, "#save-key").await;
    let value = text_of(c, "#key-value-panel[data-key='journey'] #key-value").await;
    assert!(value.starts_with("whk_"), "{value}");

    click(c, "#nav-workflows").await;
    click(c, "#new-workflow").await;
    type_into(c, "#wf-name", "Journey").await;
    choose(c, "#wf-trigger", "Generic Webhook").await;
    choose(c, "#wf-key", "journey").await;
    fits_the_window(c, "New workflow").await;
    screenshot(c, "console-new-workflow.png").await;
    click(c, "#create-workflow").await;
    let workflow_id = fragment_between(c, "/workflows/", "/trigger").await;
    let url = text_of(c, "#trigger-url").await;
    assert_eq!(url, format!("{base}/webhooks/{workflow_id}"));
    assert_eq!(text_of(c, "#trigger-key-name").await, "journey");
    let curl = text_of(c, "#curl").await;
    assert!(
        curl.contains(&url) && curl.contains("$API_KEY") && !curl.contains(&value),
        "{curl}"
    );
    fits_the_window(c, "the trigger panel").await;
    screenshot(c, "console-trigger.png").await;

    let (status, accepted) = send(http, &url, &value).await;
    assert_eq!(status, 202, "{accepted}");
    let first = accepted["executionId"].as_str().expect("id").to_owned();
    listed_succeeded(c, &first, 1).await;
    screenshot(c, "console-all-executions.png").await;

    // Off: the URL is not found; on again: accepted.
    click(
        c,
        &format!("#all-executions tr[data-execution='{first}'] td:nth-child(2) a"),
    )
    .await;
    text_of(c, "#executions").await;
    fits_the_window(c, "a workflow's executions").await;
    click(
        c,
        &format!("#executions tr[data-execution='{first}'] a.execution-link"),
    )
    .await;
    wait_text(c, "#execution-id", &first).await;
    wait_text(c, "#execution-version", "v1").await;
    fits_the_window(c, "an execution").await;
    c.back().await.expect("back");
    click(c, "#tab-trigger").await;
    click(c, "#enabled").await;
    wait_text(c, "#workflow-state", "disabled").await;
    assert_eq!(send(http, &url, &value).await.0, 404);
    click(c, "#enabled").await;
    wait_text(c, "#workflow-state", "enabled").await;
    assert_eq!(send(http, &url, &value).await.0, 202);

    // The steps replaced behind the page's back: its key change, based on version 1, is
    // refused as a conflict, and the page shows version 2.
    let admin = |r: reqwest::RequestBuilder| r.header("x-admin-key", admin_key);
    let shown: Value = admin(http.get(format!("{base}/admin/workflows/{workflow_id}")))
        .send()
        .await
        .expect("GET")
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("json"))
        .expect("body");
    let mut definition = shown["definition"].clone();
    definition["steps"] = json!([{"id": "say", "type": "transform", "output": {"version": 2}}]);
    let replaced = admin(http.put(format!("{base}/admin/workflows/{workflow_id}")))
        .header("if-match", "\"1\"")
        .header("content-type", "application/json")
        .body(definition.to_string())
        .send()
        .await
        .expect("PUT");
    assert_eq!(replaced.status(), 200);
    choose(c, "#trigger-key", "partner").await;
    click(c, "#change-key").await;
    let error = text_of(c, "#error:not([hidden])").await;
    assert!(error.contains("version conflict"), "{error}");
    wait_text(c, "#workflow-version", "2").await;
    assert_eq!(text_of(c, "#trigger-key-name").await, "journey");

    let (status, accepted) = send(http, &url, &value).await;
    assert_eq!(status, 202, "{accepted}");
    let second = accepted["executionId"].as_str().expect("id").to_owned();
    listed_succeeded(c, &second, 2).await;

    // Versions: 2 and 1 listed; version 1 shows what 2 took away; restoring it saves 3.
    click(
        c,
        &format!("#all-executions tr[data-execution='{second}'] td:nth-child(2) a"),
    )
    .await;
    click(c, "#tab-versions").await;
    text_of(c, "#versions tr[data-version='2']").await;
    text_of(c, "#versions tr[data-version='1']").await;
    fits_the_window(c, "Versions").await;
    click(c, "#versions tr[data-version='1'] a.version-link").await;
    wait_text(c, "#version-title", "Version 1").await;
    let removed = all_text(c, "#version-diff .diff-del").await;
    let added = all_text(c, "#version-diff .diff-add").await;
    assert!(
        removed.contains("\"echo\"") && added.contains("\"transform\""),
        "{removed} / {added}"
    );
    assert!(
        text_of(c, "#version-definition")
            .await
            .contains("\"type\": \"echo\"")
    );
    fits_the_window(c, "a version").await;
    screenshot(c, "console-version.png").await;
    click(c, "#restore").await;
    let restored = text_of(c, "#versions tr[data-version='3'] td.note").await;
    assert!(restored.contains("version 1"), "{restored}");
    wait_text(c, "#workflow-version", "3").await;
    screenshot(c, "console-versions.png").await;
    let version = |n: u32| {
        admin(http.get(format!("{base}/admin/workflows/{workflow_id}/versions/{n}"))).send()
    };
    let one = version(1).await.expect("v1").bytes().await.expect("v1");
    let three = version(3).await.expect("v3").bytes().await.expect("v3");
    let (one, three): (Value, Value) = (
        serde_json::from_slice(&one).expect("json"),
        serde_json::from_slice(&three).expect("json"),
    );
    assert_eq!(one["definition"], three["definition"]);
    click(c, "#versions tr[data-version='1'] a.version-link").await;
    text_of(c, "#version-same").await;

    // Back retraces the pages; forward returns.
    c.back().await.expect("back");
    text_of(c, "#versions tr[data-version='3']").await;
    c.back().await.expect("back");
    wait_text(c, "#version-title", "Version 1").await;
    c.forward().await.expect("forward");
    text_of(c, "#versions tr[data-version='3']").await;

    // A key change based on the current version is saved as the next one.
    click(c, "#tab-trigger").await;
    choose(c, "#trigger-key", "partner").await;
    click(c, "#change-key").await;
    wait_text(c, "#trigger-key-name", "partner").await;
    wait_text(c, "#workflow-version", "4").await;
    assert_eq!(
        send(http, &url, &value).await.0,
        401,
        "the old key is refused"
    );

    a_key_made_with_an_sns_workflow(c, http, peer).await;
    signing_secrets_from_the_trigger_panel(c, http, base, admin_key).await;
}

/// Waits until `css` matches `n` elements.
async fn wait_count(c: &Client, css: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found: Value = c
            .execute(
                "return document.querySelectorAll(arguments[0]).length",
                vec![json!(css)],
            )
            .await
            .expect("script");
        if found == json!(n) {
            return;
        }
        assert!(Instant::now() < deadline, "{found} of {css}, not {n}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A signed workflow's trigger panel: its verify block read-only, a generated secret shown
/// once, a rotation's two fingerprints, a retirement's one.
async fn signing_secrets_from_the_trigger_panel(
    c: &Client,
    http: &reqwest::Client,
    base: &str,
    admin_key: &str,
) {
    let document = json!({"name": "Signed", "api_key": "partner", "auth": "signature",
        "verify": {"scheme": "github"}, "steps": [{"type": "echo"}]});
    let created = http
        .post(format!("{base}/admin/workflows"))
        .header("x-admin-key", admin_key)
        .header("content-type", "application/json")
        .body(document.to_string())
        .send()
        .await
        .expect("POST")
        .bytes()
        .await
        .expect("body");
    let created: Value = serde_json::from_slice(&created).expect("json");
    let id = created["id"].as_str().expect("id");
    c.goto(&format!("{base}/console#/workflows/{id}/trigger"))
        .await
        .expect("open the trigger panel");
    wait_text(c, "#view h1", "Signed").await;
    assert!(text_of(c, "#verify").await.contains("github"));
    assert!(text_of(c, "#secrets-on-file").await.contains("none yet"));
    click(c, "#secret-set").await;
    let secret = text_of(c, "#key-value-panel[data-key='secret'] #key-value").await;
    assert!(!secret.is_empty());
    wait_count(c, "#secret-fingerprints .fingerprint", 1).await;
    click(c, "#secret-rotate").await;
    wait_count(c, "#secret-fingerprints .fingerprint", 2).await;
    click(c, "#secret-retire").await;
    wait_count(c, "#secret-fingerprints .fingerprint", 1).await;
    assert!(
        c.find(Locator::Css("#key-value")).await.is_err(),
        "a retirement shows no value"
    );
    // A fresh visit lists the secret left by its fingerprint, the same one.
    let left = text_of(c, "#secret-fingerprints .fingerprint").await;
    c.refresh().await.expect("reload");
    wait_count(c, "#secrets-on-file .fingerprint", 1).await;
    let on_file = text_of(c, "#secrets-on-file .fingerprint").await;
    assert!(on_file.starts_with(left.trim()), "{on_file} / {left}");
}

/// Amazon SNS with a key made on the spot: its value in the subscription endpoint this once,
/// a placeholder after. The docs' SNS journey: the endpoint composed in the panel is what a subscription sends to;
/// the confirmation is answered by the service and recorded, the panel lists it, and a
/// published message runs the workflow.
async fn a_key_made_with_an_sns_workflow(c: &Client, http: &reqwest::Client, peer: &SnsPeer) {
    click(c, "#nav-workflows").await;
    click(c, "#new-workflow").await;
    type_into(c, "#wf-name", "From SNS").await;
    choose(c, "#wf-trigger", "Amazon SNS").await;
    choose(c, "#wf-key", "Create a new key…").await;
    type_into(c, "#wf-new-key-name", "sns-inline").await;
    click(c, "#create-workflow").await;
    let value = text_of(c, "#key-value-panel[data-key='sns-inline'] #key-value").await;
    let endpoint = text_of(c, "#subscription-url").await;
    let url = text_of(c, "#trigger-url").await;
    assert_eq!(endpoint, format!("{url}?x-api-key={value}"));
    assert!(text_of(c, "#curl").await.contains(&value));
    assert_eq!(text_of(c, "#topics").await, "any topic");
    let workflow_id = fragment_between(c, "/workflows/", "/trigger").await;

    let deliver = |body: String, kind: &'static str| {
        http.post(&endpoint)
            .header("content-type", "text/plain; charset=UTF-8")
            .header("x-amz-sns-message-type", kind)
            .header("x-amz-sns-topic-arn", TOPIC_ARN)
            .body(body)
            .send()
    };
    let confirmed = deliver(
        peer.subscription_confirmation(SigV::V2).body(),
        "SubscriptionConfirmation",
    )
    .await
    .expect("confirmation");
    assert_eq!(confirmed.status().as_u16(), 200);
    assert_eq!(
        peer.confirmations(),
        1,
        "the service confirmed it by itself"
    );
    c.refresh().await.expect("reload");
    let listed = text_of(c, "#subscriptions li.subscription").await;
    assert!(
        listed.contains(TOPIC_ARN) && listed.contains("confirmed"),
        "{listed}"
    );
    let published = deliver(peer.notification(SigV::V2).body(), "Notification")
        .await
        .expect("notification");
    assert_eq!(published.status().as_u16(), 202);
    let answer: Value =
        serde_json::from_slice(&published.bytes().await.expect("body")).expect("json");
    let execution = answer["executionId"].as_str().expect("id").to_owned();
    listed_succeeded(c, &execution, 1).await;
    // Back to the panel, as a person would, for the check that the value was shown once.
    let page = c.current_url().await.expect("url");
    let page = page
        .as_str()
        .split('#')
        .next()
        .unwrap_or_default()
        .to_owned();
    c.goto(&format!("{page}#/workflows/{workflow_id}/trigger"))
        .await
        .expect("back to the panel");
    wait_text(
        c,
        "#subscription-url",
        &format!("{url}?x-api-key=YOUR_API_KEY"),
    )
    .await;
    assert!(
        c.find(Locator::Css("#key-value")).await.is_err(),
        "the value is shown once"
    );
}

/// More items than one page of the console (50), so it offers the rest.
const ALERTS: usize = 53;

/// Returns the execution's id.
async fn the_path_and_a_loops_items(
    c: &Client,
    http: &reqwest::Client,
    base: &str,
    workflow_id: &str,
    api_key: &str,
) -> String {
    let alerts: Vec<Value> = (0..ALERTS)
        .map(|i| json!({"name": format!("a{i}"), "bad": i == 1}))
        .collect();
    let accepted = http
        .post(format!("{base}/webhooks/{workflow_id}"))
        .header("x-api-key", api_key)
        .header("content-type", "application/json")
        .body(json!({ "alerts": alerts }).to_string())
        .send()
        .await
        .expect("webhook")
        .bytes()
        .await
        .expect("body");
    let accepted: Value = serde_json::from_slice(&accepted).expect("json");
    let execution_id = accepted["executionId"]
        .as_str()
        .expect("execution id")
        .to_owned();
    c.goto(&format!(
        "{base}/console#/workflows/{workflow_id}/executions/{execution_id}"
    ))
    .await
    .expect("open the execution");
    wait_text(c, "#execution-id", &execution_id).await;
    wait_text(c, "#execution-status", "succeeded").await;

    let order: Value = c
        .execute(
            "return [...document.querySelectorAll('#steps > .step')].map(s => s.dataset.step + ':' + s.dataset.status)",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        order,
        json!([
            "route:succeeded",
            "page:skipped",
            "chat:succeeded",
            "ignore:skipped"
        ]),
        "the definition's steps in order, those off the path skipped"
    );
    assert_eq!(
        text_of(c, ".step[data-step='route'] .branch-choice").await,
        "case 1 → chat"
    );
    let skipped = text_of(c, ".step.off-path[data-step='page']").await;
    assert!(
        skipped.contains("skipped") && skipped.contains("not on the path"),
        "{skipped}"
    );

    let items = ".items[data-items-step='chat']";
    let rows = format!("{items} tr[data-item]");
    let count = |css: String| async move {
        let n: Value = c
            .execute(
                "return document.querySelectorAll(arguments[0]).length",
                vec![json!(css)],
            )
            .await
            .expect("script");
        n
    };
    assert_eq!(count(rows.clone()).await, json!(50), "one page of items");
    assert_eq!(
        text_of(
            c,
            &format!("{items} tr[data-item='1'][data-status='failed'] .item-error")
        )
        .await,
        "step \"boom\" (fail) failed: a bad alert"
    );
    assert_eq!(
        text_of(
            c,
            &format!("{items} tr[data-item='0'] [data-path='chat[0].check'] .branch-choice")
        )
        .await,
        "default → post"
    );
    assert!(
        text_of(
            c,
            &format!("{items} tr[data-item='0'][data-status='succeeded']")
        )
        .await
        .contains("chat[0].post"),
        "an item shows its inner steps by path"
    );
    c.execute("document.getElementById('steps').scrollIntoView()", vec![])
        .await
        .expect("scroll to the steps");
    screenshot(c, "console-path.png").await;

    click(c, &format!("{items} button.more-items:not([hidden])")).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(rows.clone()).await != json!(ALERTS) {
        assert!(
            Instant::now() < deadline,
            "the second page of items did not load"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        text_of(c, &format!("{items} tr[data-item]:last-child"))
            .await
            .split_whitespace()
            .next(),
        Some("52"),
    );
    assert_eq!(
        count(format!("{items} button.more-items:not([hidden])")).await,
        json!(0),
        "no more pages"
    );
    execution_id
}

/// The value of the form control that `css` matches (an input's, a textarea's).
async fn value_of(c: &Client, css: &str) -> String {
    text_of(c, css).await;
    let value: Value = c
        .execute(
            "return document.querySelector(arguments[0]).value",
            vec![json!(css)],
        )
        .await
        .expect("script");
    value.as_str().unwrap_or_default().to_owned()
}

/// Waits until the value of what `css` matches is `want`.
async fn wait_value(c: &Client, css: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value = value_of(c, css).await;
        if value == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{css} holds {value:?}, not {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clears what `css` matches and types `text` into it, as a user would.
async fn retype(c: &Client, css: &str, text: &str) {
    c.find(Locator::Css(css))
        .await
        .expect("field")
        .clear()
        .await
        .expect("clear");
    type_into(c, css, text).await;
}

/// The tab's draft of `workflow_id` as the editor keeps it (session storage).
async fn draft_of(c: &Client, workflow_id: &str) -> Value {
    let draft: Value = c
        .execute(
            "return sessionStorage.getItem('webhookTriggerDraft:' + arguments[0])",
            vec![json!(workflow_id)],
        )
        .await
        .expect("script");
    draft.as_str().map_or(Value::Null, |d| {
        serde_json::from_str(d).expect("draft json")
    })
}

/// The Steps tab, as the docs' example is built: a filter and an http_request to a loopback
/// receiver added from the palette and filled in the form, a field picked from the sample
/// execution (whose hostile payload shows as text), a typo'd expression refused beside its
/// field, the YAML view round-tripping the form, the draft kept over a reload, a dry-run
/// showing the rendered body with nothing sent, then saved as a new version, triggered, and
/// run for real from the bench.
async fn the_editor_builds_checks_dry_runs_and_saves(
    c: &Client,
    http: &reqwest::Client,
    base: &str,
    db: &Path,
    api_key: &str,
) {
    let receiver = Target::ok().await;
    let workflow = cli(
        db,
        &[
            "workflows",
            "create",
            "--name",
            "Alerts to chat",
            "--api-key",
            "partner",
            "--steps",
            r#"[{"type":"echo"}]"#,
        ],
    );
    let workflow_id = workflow["id"].as_str().expect("id").to_owned();
    let sample_body = json!({
        "severity": "critical",
        "alerts": [{"name": "disk full"}],
        "note": HOSTILE,
    });
    let accepted = http
        .post(format!("{base}/webhooks/{workflow_id}"))
        .header("x-api-key", api_key)
        .header("content-type", "application/json")
        .body(sample_body.to_string())
        .send()
        .await
        .expect("webhook")
        .bytes()
        .await
        .expect("body");
    let accepted: Value = serde_json::from_slice(&accepted).expect("json");
    let sample = accepted["executionId"].as_str().expect("id").to_owned();

    // "Use as sample" on the execution's page; then the workflow's Steps tab.
    c.goto(&format!(
        "{base}/console#/workflows/{workflow_id}/executions/{sample}"
    ))
    .await
    .expect("open the sample");
    wait_text(c, "#execution-status", "succeeded").await;
    click(c, "#use-as-sample").await;
    wait_text(c, "#use-as-sample", "Sample set").await;
    click(c, &format!("a[href='#/workflows/{workflow_id}']")).await;
    click(c, "#tab-steps").await;
    text_of(c, ".cards[data-list='steps'] > .card[data-type='echo']").await;
    assert!(
        c.find(Locator::Css("#draft-banner[hidden]")).await.is_ok(),
        "the saved document is no draft"
    );

    // The palette offers every step type of the schema; the echo goes, a filter and an
    // http_request come.
    let kinds: Value = c
        .execute(
            "return [...document.querySelectorAll('#palette option')].map(o => o.value)",
            vec![],
        )
        .await
        .expect("script");
    for kind in [
        "filter",
        "http_request",
        "branch",
        "for_each",
        "approval",
        "echo",
    ] {
        assert!(kinds.as_array().unwrap().contains(&json!(kind)), "{kinds}");
    }
    click(c, ".card[data-type='echo'] button.delete").await;
    wait_count(c, ".cards[data-list='steps'] > .card", 0).await;
    choose(c, "#palette", "filter").await;
    click(c, "#add-step").await;
    choose(c, "#palette", "http_request").await;
    click(c, "#add-step").await;
    wait_count(c, ".cards[data-list='steps'] > .card", 2).await;
    text_of(c, "#draft-banner:not([hidden])").await;
    // Required fields are marked.
    text_of(
        c,
        ".card[data-step='filter_1'] .field[data-field='steps[0].when'][data-required='true']",
    )
    .await;
    text_of(
        c,
        ".card[data-step='http_request_1'] .field[data-field='steps[1].url'][data-required='true']",
    )
    .await;

    // The picker: the sample's payload as a tree, the hostile value as text.
    click(c, "[data-path='steps[0].when']").await;
    click(c, "#load-input").await;
    let tree = text_of(c, "#picker-tree ul.tree").await;
    assert!(tree.contains(HOSTILE), "{tree}");
    let inert: Value = c
        .execute(
            "return window.__pwned === undefined && document.querySelectorAll('#view script, #view img').length === 0",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(inert, json!(true), "the hostile payload became markup");
    click(
        c,
        "#picker-tree button.pick[data-expr='trigger.body.severity']",
    )
    .await;
    wait_value(c, "[data-path='steps[0].when']", "trigger.body.severity").await;

    // The request's URL first: until it has one, the loader stops at that missing field.
    text_of(
        c,
        ".card[data-step='http_request_1'] .field-error:not(:empty)",
    )
    .await;
    type_into(c, "[data-path='steps[1].url']", &receiver.url("/chat")).await;

    // A typo'd expression is refused beside its field, by the server's own loader.
    type_into(c, "[data-path='steps[0].when']", " == 'critical").await;
    let refused = text_of(
        c,
        ".field[data-field='steps[0].when'] .field-error:not(:empty)",
    )
    .await;
    assert!(refused.contains("does not parse"), "{refused}");
    retype(
        c,
        "[data-path='steps[0].when']",
        "trigger.body.severity == 'critical'",
    )
    .await;

    // The body picks the first alert's name, inserted as a template into the JSON.
    type_into(c, "[data-path='steps[1].body']", r#"{"alert": ""#).await;
    click(
        c,
        "#picker-tree button.pick[data-expr='trigger.body.alerts[0].name']",
    )
    .await;
    type_into(c, "[data-path='steps[1].body']", r#""}"#).await;
    wait_value(
        c,
        "[data-path='steps[1].body']",
        r#"{"alert": "{{ trigger.body.alerts[0].name }}"}"#,
    )
    .await;
    wait_text(c, "#check-state", "checked: it would load").await;
    let built = draft_of(c, &workflow_id).await["doc"]["steps"].clone();
    assert_eq!(
        built,
        json!([
            {"id": "filter_1", "type": "filter", "when": "trigger.body.severity == 'critical'"},
            {"id": "http_request_1", "type": "http_request", "url": receiver.url("/chat"),
             "body": {"alert": "{{ trigger.body.alerts[0].name }}"}},
        ])
    );
    c.execute("window.scrollTo(0, 0)", vec![])
        .await
        .expect("script");
    screenshot(c, "console-steps.png").await;

    // Code and back: the loader's document (the form's fields, defaults written out), then
    // the same document and the same YAML on every turn.
    click(c, "#mode-code").await;
    text_of(c, "#code-view:not([hidden])").await;
    let yaml = value_of(c, "#code-yaml").await;
    assert!(
        yaml.contains("type: http_request") && yaml.contains("trigger.body.alerts[0].name"),
        "{yaml}"
    );
    screenshot(c, "console-code.png").await;
    click(c, "#mode-form").await;
    text_of(c, "#form-view:not([hidden])").await;
    wait_value(c, "[data-path='steps[1].url']", &receiver.url("/chat")).await;
    let normalized = draft_of(c, &workflow_id).await["doc"].clone();
    assert_eq!(normalized["steps"][0], built[0]);
    for field in ["id", "type", "url", "body"] {
        assert_eq!(normalized["steps"][1][field], built[1][field], "{field}");
    }
    click(c, "#mode-code").await;
    text_of(c, "#code-view:not([hidden])").await;
    assert_eq!(
        value_of(c, "#code-yaml").await,
        yaml,
        "the YAML round-trips"
    );
    click(c, "#mode-form").await;
    text_of(c, "#form-view:not([hidden])").await;
    assert_eq!(
        draft_of(c, &workflow_id).await["doc"],
        normalized,
        "the form round-trips"
    );
    click(c, "#mode-code").await;
    text_of(c, "#code-view:not([hidden])").await;
    // A YAML with an error stays in the Code view, the error shown.
    type_into(c, "#code-yaml", "\nsteps_typo: [").await;
    click(c, "#mode-form").await;
    let note = text_of(c, "#editor-note:not([hidden])").await;
    assert!(note.contains("Not switched"), "{note}");
    text_of(c, "#editor-errors:not([hidden]) li").await;
    assert!(
        c.find(Locator::Css("#code-view:not([hidden])"))
            .await
            .is_ok()
    );
    retype(c, "#code-yaml", &yaml).await;
    click(c, "#mode-form").await;
    text_of(c, "#form-view:not([hidden])").await;

    // The draft outlives a reload, and is not live: the saved version is still the echo.
    c.refresh().await.expect("reload");
    text_of(c, "#draft-banner:not([hidden])").await;
    wait_value(c, "[data-path='steps[1].url']", &receiver.url("/chat")).await;
    assert_eq!(text_of(c, "#workflow-version").await, "1");

    // Dry-run the draft on the sample: the rendered body, nothing sent.
    click(c, "#dry-run-button").await;
    let rendered = text_of(
        c,
        "#dry-run-steps .preview[data-step='http_request_1'] .preview-body",
    )
    .await;
    assert!(rendered.contains("disk full"), "{rendered}");
    assert_eq!(receiver.count(), 0, "a dry-run sent a request");
    c.execute(
        "document.querySelector('.card[data-step=http_request_1]').scrollIntoView(); \
         document.getElementById('dry-run').scrollIntoView()",
        vec![],
    )
    .await
    .expect("script");
    screenshot(c, "console-bench.png").await;

    // A payload typed in, with a header, instead of a stored execution.
    choose(c, "#input-source", "a payload typed here").await;
    type_into(
        c,
        "#input-body",
        r#"{"severity": "critical", "alerts": [{"name": "typed in"}]}"#,
    )
    .await;
    type_into(c, "#input-headers", r#"{"x-source": "bench"}"#).await;
    click(c, "#dry-run-button").await;
    wait_text(c, "#dry-run-source", "Input: the payload given").await;
    let rendered = text_of(
        c,
        "#dry-run-steps .preview[data-step='http_request_1'] .preview-body",
    )
    .await;
    assert!(rendered.contains("typed in"), "{rendered}");

    // Saved: version 2, no draft; a webhook runs it and the receiver gets the rendered body.
    click(c, "#save-draft").await;
    wait_text(c, "#workflow-version", "2").await;
    text_of(c, "#draft-banner[hidden]").await;
    assert_eq!(draft_of(c, &workflow_id).await, Value::Null);

    // Inside a loop over the alerts, a picked alert is written with the loop's item name.
    choose(c, "#palette", "for_each").await;
    click(c, "#add-step").await;
    type_into(c, "[data-path='steps[2].items']", "trigger.body.alerts").await;
    type_into(c, "[data-path='steps[2].as']", "alert").await;
    choose(
        c,
        ".card[data-step='for_each_1'] select.palette",
        "transform",
    )
    .await;
    click(c, ".card[data-step='for_each_1'] button.add-step").await;
    type_into(c, "[data-path='steps[2].steps[0].output']", "\"").await;
    click(c, "#load-input").await;
    click(
        c,
        "#picker-tree button.pick[data-expr='trigger.body.alerts[0].name']",
    )
    .await;
    type_into(c, "[data-path='steps[2].steps[0].output']", "\"").await;
    wait_value(
        c,
        "[data-path='steps[2].steps[0].output']",
        "\"{{ alert.name }}\"",
    )
    .await;
    click(c, "#discard-draft").await;
    text_of(c, "#draft-banner[hidden]").await;
    wait_count(c, ".cards[data-list='steps'] > .card", 2).await;
    let sent = http
        .post(format!("{base}/webhooks/{workflow_id}"))
        .header("x-api-key", api_key)
        .header("content-type", "application/json")
        .body(json!({"severity": "critical", "alerts": [{"name": "cpu hot"}]}).to_string())
        .send()
        .await
        .expect("webhook");
    assert_eq!(sent.status(), 202);
    receiver.wait_for(1).await;
    assert_eq!(receiver.received()[0].json(), json!({"alert": "cpu hot"}));

    // Run for real from the bench, on the sample: the new execution's page, live.
    click(c, "#test-run").await;
    fragment_between(c, &format!("/workflows/{workflow_id}/executions/"), "").await;
    wait_text(c, "#execution-status", "succeeded").await;
    receiver.wait_for(2).await;
    assert_eq!(receiver.received()[1].json(), json!({"alert": "disk full"}));

    // "Use as schema": a payload_schema inferred from this body, in a new draft.
    click(c, "#use-as-schema").await;
    text_of(c, "#draft-banner:not([hidden])").await;
    let schema = draft_of(c, &workflow_id).await["doc"]["payload_schema"].clone();
    assert_eq!(schema["type"], json!("object"), "{schema}");
    assert_eq!(
        schema["properties"]["alerts"]["items"]["properties"]["name"],
        json!({"type": "string"})
    );
    let required = schema["required"].as_array().expect("required").clone();
    assert!(required.contains(&json!("severity")), "{schema}");
    // The workflow file takes it: the draft loads, the schema editable in its box.
    wait_text(c, "#check-state", "checked: it would load").await;
    let field = value_of(c, "[data-path='payload_schema']").await;
    assert!(field.contains("\"severity\""), "{field}");
    click(c, "#discard-draft").await;
    text_of(c, "#draft-banner[hidden]").await;
}

#[tokio::test]
async fn the_console_shows_runs_and_replays_an_execution_in_a_real_browser() {
    let chromedriver = find_tool(&["chromedriver"]);
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("wt.db");
    let admin = cli(&db, &["admin-keys", "create", "ops"]);
    let admin_key = admin["value"].as_str().expect("admin key value").to_owned();
    let api = cli(&db, &["api-keys", "create", "partner"]);
    let api_key = api["value"].as_str().expect("key value").to_owned();
    let workflow = cli(
        &db,
        &[
            "workflows",
            "create",
            "--name",
            "Orders <b>not bold</b>",
            "--api-key",
            "partner",
            "--steps",
            r#"[{"type":"echo"}]"#,
        ],
    );
    let workflow_id = workflow["id"].as_str().expect("id").to_owned();
    let router = cli(
        &db,
        &[
            "workflows",
            "create",
            "--name",
            "Alert router",
            "--api-key",
            "partner",
            "--steps",
            &router_steps().to_string(),
        ],
    );
    let router_id = router["id"].as_str().expect("id").to_owned();
    let approval = cli(
        &db,
        &[
            "workflows",
            "create",
            "--name",
            "Needs a yes",
            "--api-key",
            "partner",
            "--steps",
            &approval_steps().to_string(),
        ],
    );
    let approval_id = approval["id"].as_str().expect("id").to_owned();

    // The SNS peer serves the signing certificate and the SubscribeURL the service fetches.
    let peer = SnsPeer::start().await;
    let port = free_port();
    let _server = Killed(
        Command::new(BIN)
            .args([
                "serve",
                "--addr",
                &format!("127.0.0.1:{port}"),
                "--store",
                db.to_str().unwrap(),
            ])
            .env_remove("WEBHOOK_BASE_URL")
            .env("AWS_ENDPOINT_URL_SNS", peer.endpoint().as_str())
            // Small, so the refused body is small too (it fits the socket before the answer).
            .env("BODY_LIMIT_BYTES", "4096")
            // The editor's example sends to a receiver on this machine.
            .env("HTTP_STEP_ALLOW_CIDRS", "127.0.0.1/32")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve"),
    );
    let driver_port = free_port();
    let _driver = Killed(
        Command::new(&chromedriver)
            .args([
                format!("--port={driver_port}"),
                "--allowed-ips=127.0.0.1".into(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver"),
    );
    wait_port(port, "serve").await;
    wait_port(driver_port, "chromedriver").await;
    let base = format!("http://127.0.0.1:{port}");

    // The page itself: its CSP forbids inline script and other origins.
    let http = reqwest::Client::new();
    let page = http
        .get(format!("{base}/console"))
        .send()
        .await
        .expect("GET /console");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );

    let profile = tempfile::tempdir().expect("profile dir");
    let c = browser(driver_port, profile.path()).await;
    let result = async {
        c.goto(&format!("{base}/console")).await.expect("open console");
        screenshot(&c, "console-login.png").await;

        // A wrong key is refused, and the sign-in form stays.
        sign_in(&c, "wha_not_a_key").await;
        let error = text_of(&c, "#error:not([hidden])").await;
        assert!(error.contains("refused"), "{error}");
        assert!(c.find(Locator::Css("#login:not([hidden])")).await.is_ok());
        let stored: Value = c.execute("return sessionStorage.getItem('webhookTriggerAdminKey')", vec![]).await.unwrap();
        assert_eq!(stored, Value::Null, "a refused key is forgotten");

        // The right key: the workflow is listed, its name as text, its URL with a copy button.
        sign_in(&c, &admin_key).await;
        let row = format!("tr[data-workflow='{workflow_id}']");
        let name = text_of(&c, &format!("{row} a.workflow-link")).await;
        assert_eq!(name, "Orders <b>not bold</b>", "the name renders as text");
        let url = text_of(&c, &format!("{row} .webhook-url")).await;
        assert_eq!(url, format!("{base}/webhooks/{workflow_id}"));
        assert!(c.find(Locator::Css(&format!("{row} button.copy"))).await.is_ok());
        screenshot(&c, "console-workflows.png").await;

        // A webhook with a hostile payload; the executions page picks it up and refreshes
        // until it has succeeded.
        let accepted = http
            .post(format!("{base}/webhooks/{workflow_id}"))
            .header("x-api-key", &api_key)
            .header("content-type", "application/json")
            .body(json!({ "note": HOSTILE }).to_string())
            .send()
            .await
            .expect("webhook")
            .bytes()
            .await
            .expect("body");
        let accepted: Value = serde_json::from_slice(&accepted).expect("json");
        let execution_id = accepted["executionId"].as_str().expect("execution id").to_owned();

        // Requests the workflow turns away, and a duplicate: each is counted by reason.
        let post = |key: &str, headers: &[(&str, &str)], body: String| {
            let mut request = http
                .post(format!("{base}/webhooks/{workflow_id}"))
                .header("content-type", "application/json")
                .body(body);
            if !key.is_empty() {
                request = request.header("x-api-key", key);
            }
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            request.send()
        };
        let status = |r: reqwest::Result<reqwest::Response>| r.expect("webhook").status().as_u16();
        assert_eq!(status(post("whk_wrong", &[], "{}".into()).await), 401);
        assert_eq!(status(post("", &[], "{}".into()).await), 401);
        let too_large = format!(r#"{{"pad":"{}"}}"#, "x".repeat(8 * 1024));
        assert_eq!(status(post(&api_key, &[], too_large).await), 413);
        let hostile = "{not json <img src=x onerror=window.__pwned2=1>";
        let secret = [("authorization", "Bearer browser-s3cret")];
        assert_eq!(status(post(&api_key, &secret, hostile.into()).await), 400);
        for expected in [202, 200] {
            let r = post(&api_key, &[("idempotency-key", "order-7")], r#"{"order":7}"#.into()).await;
            assert_eq!(status(r), expected);
        }

        click(&c, &format!("{row} a.workflow-link")).await;
        let done = format!("tr[data-execution='{execution_id}'][data-status='succeeded']");
        text_of(&c, &done).await;
        assert!(c.find(Locator::Id("chart")).await.is_ok(), "the hourly chart is drawn");
        for (reason, n) in [("auth", 2), ("size", 1), ("signature", 0), ("duplicate", 1), ("payload_invalid", 0), ("other", 1)] {
            wait_text(&c, &format!("#rejections [data-reason='{reason}']"), &format!("{reason} {n}")).await;
        }
        wait_text(&c, "#rejections-total", "total 5").await;
        let drawn: Value = c
            .execute(
                "const counts = {}; for (const r of document.querySelectorAll('#rejections-chart rect')) \
                 counts[r.dataset.key] = (counts[r.dataset.key] || 0) + Number(r.dataset.n); return counts;",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(drawn, json!({"auth": 2, "size": 1, "duplicate": 1, "other": 1}), "the bars add up to the totals");
        // Beside the chart, the refused requests' samples: the hostile body as text, secrets
        // redacted.
        let body = text_of(&c, "#refusal-samples tr.refusal-sample[data-code='invalid_json'] pre.refusal-body").await;
        assert_eq!(body, hostile, "the body is shown as sent");
        let samples = text_of(&c, "#refusal-samples").await;
        assert!(samples.contains("[redacted]"), "{samples}");
        assert!(samples.contains("127.0.0.1"), "the peer's address: {samples}");
        assert!(!samples.contains("browser-s3cret") && !samples.contains(&api_key), "{samples}");
        let inert: Value = c
            .execute(
                "return window.__pwned2 === undefined && document.querySelectorAll('#refusal-samples img').length === 0",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(inert, json!(true), "a hostile body renders as text");
        screenshot(&c, "console-executions.png").await;

        // One execution: status, steps, the payload as inert text.
        click(&c, &format!("{done} a.execution-link")).await;
        assert_eq!(text_of(&c, "#execution-status").await, "succeeded");
        let step = text_of(&c, "#steps .step[data-status='succeeded']").await;
        assert!(step.contains("echo"), "{step}");
        let payload = text_of(&c, "#payload").await;
        assert!(payload.contains("<script>window.__pwned=1</script><img src=x onerror="), "the payload is shown as written: {payload}");
        let inert: Value = c
            .execute(
                "return window.__pwned === undefined && document.querySelectorAll('#view script, #view img').length === 0",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(inert, Value::Bool(true), "the hostile payload ran or became markup");
        screenshot(&c, "console-execution.png").await;

        // Replay: a new execution of the same payload, which runs too.
        click(&c, "#replay").await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let id = text_of(&c, "#execution-id").await;
            if id != execution_id && text_of(&c, "#execution-status").await == "succeeded" {
                break;
            }
            assert!(Instant::now() < deadline, "the replay did not show as succeeded");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let body = c.find(Locator::Css("body")).await.unwrap().text().await.unwrap();
        assert!(body.contains("replay"), "the trigger says replay");
        assert!(!body.contains(&admin_key) && !body.contains(&api_key), "a key value was rendered");
        let current = c.current_url().await.unwrap();
        assert!(!current.as_str().contains(&admin_key), "the key went into the URL");

        // A branch and a loop: the path in order with the case the branch matched, the steps
        // off it greyed, the loop's items a page at a time.
        let routed = the_path_and_a_loops_items(&c, &http, &base, &router_id, &api_key).await;

        // The flow as a picture: the router's diagram, and its run's path on it.
        flow::the_workflow_diagram(&c, &base, &router_id).await;
        flow::the_execution_diagram(&c, &base, &router_id, &routed).await;
        flow::a_hostile_step_renders_as_text(&c).await;
        flow::a_draft_without_ids_is_numbered_as_the_loader_does(&c).await;

        // Executions as operators use them: filters, counts, a test run, bulk replay.
        executions::operators_find_count_and_replay(&c, &http, &base, (&router_id, &workflow_id), (&api_key, &admin_key)).await;

        // Waiting executions: one approved from the console, one cancelled.
        waiting_executions_are_approved_and_cancelled(&c, &http, &base, &approval_id, (&api_key, &admin_key)).await;

        // Settings → API keys: add, use, rotate and revoke a key.
        api_keys_are_added_rotated_and_revoked(&c, &http, &base, &db).await;

        // The docs' journey: a key, a workflow with it, its URL called, switched off and on,
        // replaced, and a version restored.
        the_docs_journey(&c, &http, &base, &admin_key, &peer).await;

        // The Steps tab: the docs' example built in the form, checked, dry-run, saved, run.
        the_editor_builds_checks_dry_runs_and_saves(&c, &http, &base, &db, &api_key).await;

        // Signing out forgets the key.
        click(&c, "#sign-out").await;
        text_of(&c, "#login:not([hidden])").await;
        let stored: Value = c.execute("return sessionStorage.getItem('webhookTriggerAdminKey')", vec![]).await.unwrap();
        assert_eq!(stored, Value::Null);
    }
    .await;
    c.close().await.expect("close browser");
    result
}
