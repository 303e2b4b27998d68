//! The worker function (SQS batches → `Worker::process`). Clients are built once per
//! execution environment, before the first batch; `MAX_RECEIVES` comes from template.yaml.

use webhook_trigger::lambda::worker::WorkerFunction;
use webhook_trigger::{lambda, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let parts = wiring::function_parts().await?;
    let worker = wiring::worker(parts.store, &parts.config, &parts.sdk)?;
    let mut function = WorkerFunction::new(worker);
    function.redelivery = Some(parts.queue.clone());
    function.continuation = Some(parts.queue.clone());
    function.wakeups = Some(parts.queue);
    function.metrics = Some(lambda::emf_metrics()?);
    if let Ok(raw) = lambda::env("MAX_RECEIVES") {
        function.max_receives = raw
            .parse()
            .map_err(|_| format!("MAX_RECEIVES={raw:?} is not a whole number"))?;
    }
    lambda::worker::run(function).await
}
