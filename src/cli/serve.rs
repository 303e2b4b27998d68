//! `serve`: the whole service in one local process: the API on a socket, the worker in the
//! background, the embedded store underneath.

use std::net::SocketAddr;

use tokio::sync::watch;

use super::backend::Backend;
use crate::adapters::sqlite::worker_loop::{self, LocalWorkerConfig};
use crate::app::{App, NewWorkflow};
use crate::config::Config;
use crate::domain::WorkflowFile;
use crate::http::server::ServerLimits;

pub struct ServeOptions {
    pub addr: SocketAddr,
    pub base_url: Option<String>,
    pub demo: bool,
}

pub async fn serve(backend: Backend, config: Config, options: ServeOptions) -> Result<(), String> {
    let limits = ServerLimits::from_env().map_err(|e| e.to_string())?;
    let worker_config = LocalWorkerConfig::from_env().map_err(|e| e.to_string())?;
    // Process-wide, so installed here (the one process that serves it), not in the library.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot start metrics: {e}"))?;
    crate::measure::configure(&config);
    crate::measure::register();
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let base_url = options
        .base_url
        .unwrap_or_else(|| format!("http://{bound}"));
    // Resume URLs of approval and callback steps point here unless told otherwise.
    let mut config = config;
    config
        .base_url
        .get_or_insert_with(|| base_url.trim_end_matches('/').to_owned());
    let sdk = crate::adapters::aws::local_sdk_config().await;
    let worker =
        crate::wiring::worker(backend.store.clone(), &config, &sdk).map_err(|e| e.to_string())?;
    let app = crate::wiring::app(backend.store.clone(), backend.queue.clone(), config);

    let (stop, stopped) = watch::channel(false);
    let worker_thread = match backend.local {
        Some((store, queue)) => Some(
            worker_loop::spawn_background(worker, store, queue, worker_config, stopped.clone())
                .map_err(|e| format!("cannot start the local worker: {e}"))?,
        ),
        None => None,
    };

    let flusher = tokio::spawn(flush_rejections_every(
        app.clone(),
        app.config().rejection_flush,
        stopped.clone(),
    ));

    println!("webhook-trigger listening on {base_url}");
    if options.demo {
        print_next_steps(&app, &base_url).await?;
    }

    crate::http::server::run(
        listener,
        crate::http::router(app.clone()).merge(crate::http::metrics_route(metrics)),
        limits,
        shutdown_signal(),
    )
    .await;
    let _ = stop.send(true);
    if let Some(thread) = worker_thread {
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    let _ = flusher.await;
    // What was counted since the last flush; the requests have all been answered by now.
    app.flush_rejections().await;
    Ok(())
}

/// Writes the refused-request counts every `interval` while the server runs, so a quiet
/// spell after a burst still reaches the console (requests also start a flush when due).
async fn flush_rejections_every(
    app: App,
    interval: std::time::Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                app.flush_rejections_if_due();
            }
            _ = stopped.changed() => return,
        }
    }
}

/// The demo workflow: drop events that are not orders, reshape the rest. Its file form is
/// printed too, as the starting point for a workflow of one's own.
pub const DEMO_WORKFLOW: &str = r#"name: Demo workflow
api_key: demo
steps:
  - id: only_orders
    type: filter
    when: trigger.body.type == "order"
  - id: summary
    type: transform
    output:
      text: "Order {{ trigger.body.id }} from {{ trigger.body.customer }}: {{ trigger.body.total }} EUR"
      orderId: "{{ trigger.body.id }}"
      large: "{{ trigger.body.total > 100 }}"
"#;

/// What the demo's curl sends: an order, so it passes the filter.
pub const DEMO_BODY: &str = r#"{"type":"order","id":42,"customer":"Ada","total":129.5}"#;

/// On a fresh store, make a demo key and workflow so the first `curl` works; later, say how to
/// make more (a key's value cannot be shown twice).
async fn print_next_steps(app: &App, base_url: &str) -> Result<(), String> {
    let keys = app.list_api_keys().await.map_err(|e| e.to_string())?;
    if !keys.is_empty() {
        println!();
        println!(
            "The store already has API keys; their values cannot be shown again. Make a new pair:"
        );
        println!("  cargo run -q -- api-keys create my-key");
        println!("  cargo run -q -- workflows create --name 'My workflow' --api-key my-key");
        println!(
            "then: curl -i -X POST '{base_url}/webhooks/<workflow id>' -H 'x-api-key: <key value>' -H 'content-type: application/json' -d '{{\"hello\":\"world\"}}'"
        );
        println!();
        return Ok(());
    }
    let created = app
        .create_api_key("demo")
        .await
        .map_err(|e| e.to_string())?;
    let file = WorkflowFile::parse(DEMO_WORKFLOW).map_err(|e| e.to_string())?;
    let workflow = app
        .create_workflow(NewWorkflow::from(file))
        .await
        .map_err(|e| e.to_string())?;
    let url = workflow.webhook_url(base_url);
    let key = created.secret.expose();
    let id = &workflow.id;
    println!();
    println!("Created a demo API key and workflow (the key is shown only this once):");
    println!("  API key name:  demo");
    println!("  API key value: {key}");
    println!("  Webhook URL:   {url}");
    println!("  Steps:         only_orders (filter) -> summary (transform)");
    println!();
    println!("Trigger it:");
    println!(
        "  curl -i -X POST '{url}' -H 'x-api-key: {key}' -H 'content-type: application/json' -d '{DEMO_BODY}'"
    );
    println!("A body that is not an order is accepted and then filtered out:");
    println!(
        "  curl -i -X POST '{url}' -H 'x-api-key: {key}' -H 'content-type: application/json' -d '{{\"type\":\"ping\"}}'"
    );
    println!("See its executions (each step's output is in \"steps\"):");
    println!("  curl -s '{base_url}/workflows/{id}/executions' -H 'x-api-key: {key}'");
    println!();
    println!(
        "To call an HTTP endpoint of yours, add a step to a copy of examples/github-push-to-http.yaml"
    );
    println!("(http_request: method, url, headers, body), then:");
    println!("  cargo run -q -- workflows update {id} --file my-workflow.yaml");
    println!(
        "  cargo run -q -- workflows dry-run {id} --execution <execution id>   # renders, sends nothing"
    );
    println!("Private and loopback addresses are refused unless HTTP_STEP_ALLOW_CIDRS opens them,");
    println!("e.g. HTTP_STEP_ALLOW_CIDRS=127.0.0.1/32 for a receiver on this machine.");
    println!();
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
