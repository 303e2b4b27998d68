//! Every route of `webhook_trigger::http::router()`, in one place, spelled as the router
//! spells it. `openapi.rs` checks `/openapi.json` against this list and `aws_template.rs` the
//! ApiFunction's events, both ways (nothing missing, nothing extra), and both check that the
//! router answers each route here and no other method on its path. axum cannot list a
//! router's routes, so a route added to the router alone goes unnoticed; one added with its
//! `#[utoipa::path]` (or its template event) and no line here fails.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// Why `/openapi.json` leaves it out, if it does.
    pub undocumented: Option<&'static str>,
    /// Why the ApiFunction has no event for it, if it has none.
    pub not_in_template: Option<&'static str>,
}

const fn route(method: &'static str, path: &'static str) -> Route {
    Route {
        method,
        path,
        undocumented: None,
        not_in_template: None,
    }
}

/// The console's page and assets: HTML, script and style for a browser, not an API.
const CONSOLE_ASSET: &str = "the console's page or asset, not an API";

const fn console(path: &'static str) -> Route {
    Route {
        undocumented: Some(CONSOLE_ASSET),
        ..route("GET", path)
    }
}

pub const ROUTES: &[Route] = &[
    route("POST", "/webhooks/{workflow_id}"),
    route("GET", "/workflows/{workflow_id}/executions"),
    route("GET", "/workflows/{workflow_id}/executions/{execution_id}"),
    route(
        "GET",
        "/workflows/{workflow_id}/executions/{execution_id}/steps/{step_id}/items",
    ),
    route("GET", "/callbacks/{token}"),
    route("POST", "/callbacks/{token}"),
    route("GET", "/health"),
    route("GET", "/openapi.json"),
    route("GET", "/schemas/workflow.json"),
    console("/console"),
    Route {
        // API Gateway's REST API resources have no trailing slash: the console is `/console`.
        not_in_template: Some("a REST API resource path has no trailing slash"),
        ..console("/console/")
    },
    console("/console/app.js"),
    console("/console/editor.js"),
    console("/console/app.css"),
    console("/console/diagram.js"),
    route("GET", "/admin/workflows"),
    route("POST", "/admin/workflows"),
    route("GET", "/admin/workflows/{workflow_id}"),
    route("PUT", "/admin/workflows/{workflow_id}"),
    route("PATCH", "/admin/workflows/{workflow_id}"),
    route("DELETE", "/admin/workflows/{workflow_id}"),
    route("GET", "/admin/workflows/{workflow_id}/versions"),
    route("GET", "/admin/workflows/{workflow_id}/versions/{version}"),
    route(
        "POST",
        "/admin/workflows/{workflow_id}/versions/{version}/restore",
    ),
    route("POST", "/admin/workflows/check"),
    route("POST", "/admin/workflows/{workflow_id}/dry-run"),
    route("GET", "/admin/workflows/{workflow_id}/activity"),
    route("GET", "/admin/workflows/{workflow_id}/refusals"),
    route("GET", "/admin/workflows/{workflow_id}/subscriptions"),
    route("GET", "/admin/workflows/{workflow_id}/executions"),
    route("GET", "/admin/executions"),
    route("GET", "/admin/executions/counts"),
    route("POST", "/admin/workflows/{workflow_id}/replay"),
    route("POST", "/admin/workflows/{workflow_id}/test-run"),
    route(
        "GET",
        "/admin/workflows/{workflow_id}/executions/{execution_id}",
    ),
    route(
        "GET",
        "/admin/workflows/{workflow_id}/executions/{execution_id}/steps/{step_id}/items",
    ),
    route(
        "POST",
        "/admin/workflows/{workflow_id}/executions/{execution_id}/replay",
    ),
    route(
        "POST",
        "/admin/workflows/{workflow_id}/executions/{execution_id}/approve",
    ),
    route(
        "POST",
        "/admin/workflows/{workflow_id}/executions/{execution_id}/deny",
    ),
    route(
        "POST",
        "/admin/workflows/{workflow_id}/executions/{execution_id}/cancel",
    ),
    route("GET", "/admin/api-keys"),
    route("POST", "/admin/api-keys"),
    route("DELETE", "/admin/api-keys/{name}"),
    route("POST", "/admin/api-keys/{name}/rotate"),
    route("POST", "/admin/api-keys/{name}/retire"),
    route("PUT", "/admin/workflows/{workflow_id}/secret"),
    route("POST", "/admin/workflows/{workflow_id}/secret/rotate"),
    route("POST", "/admin/workflows/{workflow_id}/secret/retire"),
];

/// `METHOD path` of each route `keep` keeps.
pub fn route_names(keep: impl Fn(&Route) -> bool) -> std::collections::BTreeSet<String> {
    ROUTES
        .iter()
        .filter(|r| keep(r))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// The path with a plausible value for each parameter.
fn concrete(path: &str) -> String {
    path.replace("{workflow_id}", "wf_1")
        .replace("{execution_id}", "01JD0000000000000000000000")
        .replace("{step_id}", "chat")
        .replace("{name}", "partner")
        .replace("{version}", "1")
        .replace("{token}", "tok_1")
}

/// Whether the router has a handler for `method` on `path` (a route pattern): anything but its
/// own "no such route" 404 and its 405.
async fn routed(router: &Router, method: &Method, path: &str) -> bool {
    let response = router
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(concrete(path))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("router never fails");
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    // The console's assets and the callback page are not JSON; a miss always is.
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    !(status == StatusCode::NOT_FOUND && body["error"]["code"] == "not_found")
        && status != StatusCode::METHOD_NOT_ALLOWED
}

/// Every route in [`ROUTES`] is answered by the router, and on those paths no other method is:
/// a method added to a listed path without a line here fails.
pub async fn assert_router_has_exactly_these_methods(router: &Router) {
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    for route in ROUTES {
        for method in &methods {
            let listed = ROUTES
                .iter()
                .any(|r| r.path == route.path && r.method == method.as_str());
            assert_eq!(
                routed(router, method, route.path).await,
                listed,
                "{method} {}: the router and support::routes::ROUTES disagree",
                route.path
            );
        }
    }
}
