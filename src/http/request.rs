//! Pieces of a request every handler needs: the API key, the body within its limit, and
//! access logging that never prints a key or a query string.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::app::AppError;
use crate::domain::RequestMeta;

pub const API_KEY: &str = "x-api-key";

/// The key from the `x-api-key` header, else from the `x-api-key` query parameter (how an SNS
/// subscription URL carries it).
pub fn api_key(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    if let Some(value) = headers.get(API_KEY).and_then(|v| v.to_str().ok()) {
        return Some(value.to_owned());
    }
    query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(name, _)| name == API_KEY)
            .map(|(_, value)| value.into_owned())
    })
}

/// The headers and query an execution keeps; the domain drops the credentials. Values that
/// are not text (rare, and never JSON-relevant) are left out.
pub fn request_meta(headers: &HeaderMap, query: Option<&str>) -> RequestMeta {
    let headers = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    let query = query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    RequestMeta::capture(headers, query)
}

pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads the body, refusing more than `limit` bytes without buffering the excess.
pub async fn body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, AppError> {
    let declared = header(headers, "content-length").and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(AppError::PayloadTooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|err| {
        if is_length_limit(&err) {
            AppError::PayloadTooLarge { limit }
        } else {
            AppError::InvalidRequest(format!("could not read the body: {err}"))
        }
    })
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// One line per request with the route pattern (`/webhooks/{workflow_id}`), never the raw
/// URI, whose query string may hold an API key.
pub async fn log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    tracing::info!(
        %method,
        route,
        status = response.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_key_wins_over_query_key() {
        let mut headers = HeaderMap::new();
        headers.insert(API_KEY, "from-header".parse().unwrap());
        assert_eq!(
            api_key(&headers, Some("x-api-key=from-query")).as_deref(),
            Some("from-header")
        );
    }

    #[test]
    fn query_key_is_url_decoded() {
        let headers = HeaderMap::new();
        assert_eq!(
            api_key(&headers, Some("a=1&x-api-key=k%2Bv")).as_deref(),
            Some("k+v")
        );
        assert_eq!(api_key(&headers, Some("a=1")), None);
        assert_eq!(api_key(&headers, None), None);
    }
}
