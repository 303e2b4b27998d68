//! The API function (API Gateway → the axum router). Clients are built once per execution
//! environment, before the first event.

use webhook_trigger::{lambda, wiring};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let parts = wiring::function_parts().await?;
    let metrics = lambda::emf_metrics()?;
    lambda::api::run(
        wiring::app(parts.store, parts.queue, parts.config),
        Some(metrics),
    )
    .await
}
