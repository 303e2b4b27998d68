//! The HTTP API: one axum `Router`, served by `axum::serve` locally and by `lambda_http::run`
//! on AWS.

mod error;
mod executions;
mod request;
mod webhooks;

use axum::Router;
use axum::routing::{get, post};

pub use error::ApiError;

use crate::app::App;

pub fn router(app: App) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/webhooks/{workflow_id}", post(webhooks::receive))
        .route("/workflows/{workflow_id}/executions", get(executions::list))
        .route(
            "/workflows/{workflow_id}/executions/{execution_id}",
            get(executions::show),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(request::log))
        .with_state(app)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such route",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this route",
    )
}
