//! The HTTP API: one axum `Router`, served by `axum::serve` locally and by `lambda_http::run`
//! on AWS.

mod admin;
mod admin_workflows;
mod callbacks;
mod console;
mod error;
mod executions;
pub mod openapi;
mod operator_executions;
mod refusals;
mod request;
pub mod server;
mod settings;
mod webhooks;
mod workflow_tools;

use axum::Router;
use axum::routing::{delete, get, post, put};

use admin_workflows as workflows;
use tower_http::catch_panic::CatchPanicLayer;

pub use admin::ADMIN_KEY;
pub use console::CONTENT_SECURITY_POLICY;
pub use error::ApiError;

use crate::app::App;

/// `GET /metrics`: the process's counters in Prometheus text format (served by `serve`; on
/// Lambda there is no scrape target).
pub fn metrics_route(handle: metrics_exporter_prometheus::PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let text = handle.render();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    text,
                )
            }
        }),
    )
}

pub fn router(app: App) -> Router {
    let routes = Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi::document))
        .route(workflow_tools::SCHEMA_ROUTE, get(workflow_tools::schema))
        .route(refusals::WEBHOOK_ROUTE, post(webhooks::receive))
        .route("/workflows/{workflow_id}/executions", get(executions::list))
        .route(
            "/workflows/{workflow_id}/executions/{execution_id}",
            get(executions::show),
        )
        .route(
            "/workflows/{workflow_id}/executions/{execution_id}/steps/{step_id}/items",
            get(executions::items),
        )
        .route(
            "/callbacks/{token}",
            get(callbacks::page).post(callbacks::answer),
        )
        .route("/console", get(console::index))
        .route("/console/", get(console::index_in_folder))
        .route("/console/app.js", get(console::script))
        .route("/console/editor.js", get(console::editor_script))
        .route("/console/app.css", get(console::stylesheet))
        .route("/console/diagram.js", get(console::diagram_script))
        .route(
            "/admin/workflows",
            get(admin::workflows).post(workflows::create),
        )
        .route("/admin/workflows/check", post(workflow_tools::check))
        .route(
            "/admin/workflows/{workflow_id}/dry-run",
            post(workflow_tools::dry_run),
        )
        .route(
            "/admin/workflows/{workflow_id}",
            get(workflows::show)
                .put(workflows::replace)
                .patch(workflows::patch)
                .delete(workflows::delete),
        )
        .route(
            "/admin/workflows/{workflow_id}/versions",
            get(workflows::versions),
        )
        .route(
            "/admin/workflows/{workflow_id}/versions/{version}",
            get(workflows::version),
        )
        .route(
            "/admin/workflows/{workflow_id}/versions/{version}/restore",
            post(workflows::restore),
        )
        .route(
            "/admin/workflows/{workflow_id}/activity",
            get(admin::activity),
        )
        .route(
            "/admin/workflows/{workflow_id}/refusals",
            get(admin::refusals),
        )
        .route(
            "/admin/workflows/{workflow_id}/subscriptions",
            get(admin::subscriptions),
        )
        .route(
            "/admin/workflows/{workflow_id}/executions",
            get(admin::executions),
        )
        .route("/admin/executions", get(operator_executions::search))
        .route("/admin/executions/counts", get(operator_executions::counts))
        .route(
            "/admin/workflows/{workflow_id}/replay",
            post(operator_executions::bulk_replay),
        )
        .route(
            "/admin/workflows/{workflow_id}/test-run",
            post(operator_executions::test_run),
        )
        .route(
            "/admin/workflows/{workflow_id}/executions/{execution_id}",
            get(admin::execution),
        )
        .route(
            "/admin/workflows/{workflow_id}/executions/{execution_id}/steps/{step_id}/items",
            get(admin::items),
        )
        .route(
            "/admin/workflows/{workflow_id}/executions/{execution_id}/replay",
            post(admin::replay),
        )
        .route(
            "/admin/workflows/{workflow_id}/executions/{execution_id}/approve",
            post(admin::approve),
        )
        .route(
            "/admin/workflows/{workflow_id}/executions/{execution_id}/deny",
            post(admin::deny),
        )
        .route(
            "/admin/workflows/{workflow_id}/executions/{execution_id}/cancel",
            post(admin::cancel),
        )
        .route(
            "/admin/api-keys",
            get(settings::list_keys).post(settings::create_key),
        )
        .route("/admin/api-keys/{name}", delete(settings::revoke_key))
        .route("/admin/api-keys/{name}/rotate", post(settings::rotate_key))
        .route("/admin/api-keys/{name}/retire", post(settings::retire_key))
        .route(
            "/admin/workflows/{workflow_id}/secret",
            put(settings::set_secret),
        )
        .route(
            "/admin/workflows/{workflow_id}/secret/rotate",
            post(settings::rotate_secret),
        )
        .route(
            "/admin/workflows/{workflow_id}/secret/retire",
            post(settings::retire_secret),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(app.clone());
    // Outside the guards, so a refusal a guard answers is counted too.
    with_guards(routes).layer(axum::middleware::from_fn_with_state(app, refusals::count))
}

/// What every route wears, outermost first: the access log (so refusals and panics are
/// logged with their status), panic-to-500 (so a bug answers JSON instead of dropping the
/// connection, or in Lambda failing the invocation into a bare 502), and the refusal of
/// ambiguous credentials and of undecodable paths before any handler reads them. Public so a test can put a
/// deliberately panicking route under exactly these layers.
pub fn with_guards(routes: Router) -> Router {
    routes
        .layer(axum::middleware::from_fn(request::refuse_ambiguous_api_key))
        .layer(axum::middleware::from_fn(request::refuse_undecodable_path))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(axum::middleware::from_fn(request::log))
}

#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "service",
    responses((status = 200, description = "The process answers", body = crate::wire::HealthView))
)]
async fn health() -> axum::Json<crate::wire::HealthView> {
    axum::Json(crate::wire::HealthView { status: "ok" })
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
