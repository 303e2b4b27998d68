//! `serve`: the whole service in one local process: the API on a socket, the worker in the
//! background, the embedded store underneath.

use std::net::SocketAddr;

use tokio::sync::watch;

use super::backend::Backend;
use crate::adapters::sqlite::worker_loop::{self, LocalWorkerConfig};
use crate::app::{App, NewWorkflow};
use crate::config::Config;
use crate::domain::{SnsOptions, Step, Trigger};

pub struct ServeOptions {
    pub addr: SocketAddr,
    pub base_url: Option<String>,
    pub demo: bool,
}

pub async fn serve(backend: Backend, config: Config, options: ServeOptions) -> Result<(), String> {
    let sdk = crate::adapters::aws::sdk_config().await;
    let worker =
        crate::wiring::worker(backend.store.clone(), &config, &sdk).map_err(|e| e.to_string())?;
    let app = crate::wiring::app(backend.store.clone(), backend.queue.clone(), config);
    let listener = tokio::net::TcpListener::bind(options.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", options.addr))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let base_url = options
        .base_url
        .unwrap_or_else(|| format!("http://{bound}"));

    let (stop, stopped) = watch::channel(false);
    let worker_task = backend.local.map(|(store, queue)| {
        tokio::spawn(worker_loop::run(
            worker,
            store,
            queue,
            LocalWorkerConfig::default(),
            stopped.clone(),
        ))
    });

    println!("webhook-trigger listening on {base_url}");
    if options.demo {
        print_next_steps(&app, &base_url).await?;
    }

    let server = axum::serve(listener, crate::http::router(app)).with_graceful_shutdown(async {
        shutdown_signal().await;
    });
    let result = server.await.map_err(|e| e.to_string());
    let _ = stop.send(true);
    if let Some(task) = worker_task {
        let _ = task.await;
    }
    result
}

/// On a fresh store, make a demo key and workflow so the first `curl` works; later, say how to
/// make more (a key's value cannot be shown twice).
async fn print_next_steps(app: &App, base_url: &str) -> Result<(), String> {
    let keys = app.list_api_keys().await.map_err(|e| e.to_string())?;
    if keys.is_empty() {
        let created = app
            .create_api_key("demo")
            .await
            .map_err(|e| e.to_string())?;
        let workflow = app
            .create_workflow(NewWorkflow {
                name: "Demo workflow".into(),
                trigger: Trigger::GenericWebhook,
                api_key_name: "demo".into(),
                steps: vec![Step::Echo.into()],
                sns: SnsOptions::default(),
            })
            .await
            .map_err(|e| e.to_string())?;
        let url = workflow.webhook_url(base_url);
        let key = created.secret.expose();
        println!();
        println!("Created a demo API key and workflow (the key is shown only this once):");
        println!("  API key name:  demo");
        println!("  API key value: {key}");
        println!("  Webhook URL:   {url}");
        println!();
        println!("Trigger it:");
        println!(
            "  curl -i -X POST '{url}' -H 'x-api-key: {key}' -H 'content-type: application/json' -d '{{\"hello\":\"world\"}}'"
        );
        println!("See its executions:");
        println!(
            "  curl -s '{base_url}/workflows/{}/executions' -H 'x-api-key: {key}'",
            workflow.id
        );
    } else {
        println!();
        println!(
            "The store already has API keys; their values cannot be shown again. Make a new pair:"
        );
        println!("  cargo run -q -- api-keys create my-key");
        println!("  cargo run -q -- workflows create --name 'My workflow' --api-key my-key");
        println!(
            "then: curl -i -X POST '{base_url}/webhooks/<workflow id>' -H 'x-api-key: <key value>' -H 'content-type: application/json' -d '{{\"hello\":\"world\"}}'"
        );
    }
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
