//! The API function: each API Gateway event becomes an `http::Request` (lambda_http's
//! conversion) and goes through `crate::http::router`, the same router `serve` runs locally.

use std::convert::Infallible;

use axum::Router;
use axum::response::Response;
use lambda_http::request::RequestContext;
use lambda_http::tower::ServiceExt;
use lambda_http::{Request, RequestExt};

use crate::app::App;

/// Answers one request. Infallible: every failure is already an HTTP answer from the router.
pub async fn handle(router: Router, request: Request) -> Result<Response, Infallible> {
    router.oneshot(without_stage(request)).await
}

/// Serves API Gateway events until the Lambda runtime stops the process, writing the
/// metrics each one recorded as an EMF line when `metrics` is given.
pub async fn run(
    app: App,
    metrics: Option<&'static super::MetricsCollector>,
) -> Result<(), lambda_http::Error> {
    let router = crate::http::router(app);
    lambda_http::run(lambda_http::service_fn(move |request: Request| {
        let router = router.clone();
        async move {
            let answer = handle(router, request).await;
            super::flush_metrics(metrics);
            answer
        }
    }))
    .await
}

/// A REST API (`Type: Api`) event carries its stage (`Prod`). lambda_http puts it in front of
/// the path unless `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set (the template sets it), and
/// some events (custom domains, hand-written samples) have it in `path` already. Either way
/// the router knows only `/webhooks/...`, so a leading `/{stage}` is removed here. A stage
/// must therefore not be named like a route's first segment (`webhooks`, `workflows`, `health`).
pub fn without_stage(mut request: Request) -> Request {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
        return request;
    };
    let path = request.uri().path();
    let prefix = format!("/{stage}");
    let rest = match path.strip_prefix(&prefix) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => return request,
    };
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{rest}?{query}"),
        None => rest.to_owned(),
    };
    let mut parts = request.uri().clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        Err(_) => return request,
    }
    if let Ok(uri) = axum::http::Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest_event(path: &str, stage: &str) -> Request {
        let event = serde_json::json!({
            "resource": "/{proxy+}",
            "path": path,
            "httpMethod": "GET",
            "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com"},
            "multiValueHeaders": {},
            "queryStringParameters": {"limit": "5"},
            "multiValueQueryStringParameters": {"limit": ["5"]},
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "resourceId": "abc",
                "stage": stage,
                "requestId": "r-1",
                "identity": {"sourceIp": "127.0.0.1"},
                "resourcePath": "/{proxy+}",
                "httpMethod": "GET",
                "apiId": "abc",
                "path": format!("/{stage}{path}")
            },
            "body": null,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).unwrap()
    }

    #[test]
    fn stage_prefix_is_removed_and_query_kept() {
        // This test runs without AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH (tests/events.rs runs
        // with it): lambda_http prefixes the stage, or keeps the one the event carries.
        let added = without_stage(rest_event("/workflows/wf/executions", "Prod"));
        assert_eq!(added.uri().path(), "/workflows/wf/executions");
        assert_eq!(added.uri().query(), Some("limit=5"));
        let carried = without_stage(rest_event("/Prod/workflows/wf/executions", "Prod"));
        assert_eq!(carried.uri().path(), "/workflows/wf/executions");
        assert_eq!(carried.uri().query(), Some("limit=5"));
    }

    #[test]
    fn paths_without_the_stage_are_left_alone() {
        let request = without_stage(rest_event("/Production/health", "Prod"));
        assert!(request.uri().path().ends_with("/Production/health"));
    }
}
