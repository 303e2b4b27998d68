//! The sweeper function (an EventBridge schedule → `Sweeper::sweep`): re-sends executions
//! whose queue message was lost between the API's write and its send. Clients are built once
//! per execution environment, before the first event. It also wakes waiting executions whose
//! time has come, and writes the wake-up figures the stalled-wake-up alarm watches.

use std::sync::Arc;

use webhook_trigger::app::Sweeper;
use webhook_trigger::lambda::sweeper;
use webhook_trigger::wiring;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let parts = wiring::function_parts().await?;
    let (after, batch) = sweeper::settings(|name| std::env::var(name).ok())?;
    let sweeper = Sweeper::new(parts.store, parts.queue, after, batch);
    sweeper::run(
        Arc::new(sweeper),
        Some(webhook_trigger::lambda::emf_metrics()?),
    )
    .await
}
