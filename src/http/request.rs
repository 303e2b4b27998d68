//! Pieces of a request every handler needs: the API key, the body within its limit, and
//! access logging that never prints a key or a query string.

use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use super::refusals::RefusedParts;
use super::server::BodyDeadlineElapsed;

use crate::app::AppError;
use crate::domain::RequestMeta;

pub const API_KEY: &str = "x-api-key";

/// The key a request presents, from its `x-api-key` headers and `x-api-key` query parameters
/// (the query is how an SNS subscription URL carries it). Every place a key appears must say
/// the same thing: two different values are refused rather than letting one of them win
/// silently, as S3 refuses a request carrying two authentication mechanisms, because a proxy
/// or a client library that adds its own key would otherwise decide which workflow key is
/// checked. The same value twice (a client that sends both header and query) is one
/// credential and is accepted. A header value that is not text is kept (lossily decoded), so it
/// can never match a key and never silently falls back to the query.
pub fn presented_api_key(
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Option<String>, AppError> {
    let from_headers = headers
        .get_all(API_KEY)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let from_query = query.into_iter().flat_map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .filter(|(name, _)| name == API_KEY)
            .map(|(_, value)| value.into_owned())
    });
    let mut presented: Option<String> = None;
    for value in from_headers.chain(from_query) {
        match &presented {
            None => presented = Some(value),
            Some(first) if *first == value => {}
            Some(_) => return Err(AppError::AmbiguousApiKey),
        }
    }
    Ok(presented)
}

/// The presented key for handlers. `refuse_ambiguous_api_key` runs before every handler, so
/// an ambiguous request never gets here; if one did, it would count as no key (401).
pub fn api_key(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    presented_api_key(headers, query).ok().flatten()
}

/// Refuses a request whose credentials disagree (400 `ambiguous_api_key`) before any handler
/// looks up a workflow or a key.
pub async fn refuse_ambiguous_api_key(request: Request, next: Next) -> Response {
    match presented_api_key(request.headers(), request.uri().query()) {
        Err(err) => {
            let mut response = ApiError::from(err).into_response();
            // For the refusal's sample (`refusals::count`); the body is never read.
            let (parts, body) = request.into_parts();
            response.extensions_mut().insert(RefusedParts {
                headers: parts.headers,
                body: None,
                had_body: !http_body::Body::is_end_stream(&body),
            });
            response
        }
        Ok(_) => next.run(request).await,
    }
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

/// A header's value as text. A value that is present but not visible ASCII comes back as
/// U+FFFD rather than as absent: an `Idempotency-Key` in bytes we cannot read must be refused,
/// not silently dropped (the request would be accepted without the protection its sender
/// asked for), and a content type we cannot read must not count as "none given".
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|v| v.to_str().unwrap_or(NOT_TEXT))
}

const NOT_TEXT: &str = "\u{fffd}";

/// A path that does not percent-decode to UTF-8 names nothing this API has: 404 in the
/// API's JSON shape, before an extractor answers it with axum's plain-text 400.
pub async fn refuse_undecodable_path(request: Request, next: Next) -> Response {
    let decodes = percent_encoding::percent_decode_str(request.uri().path())
        .decode_utf8()
        .is_ok();
    if decodes {
        next.run(request).await
    } else {
        ApiError::from(AppError::NotFound("this path".into())).into_response()
    }
}

/// An admin route's JSON body: the object the route takes, or `400 invalid_json`.
pub fn json_body<T: serde::de::DeserializeOwned>(raw: &Bytes) -> Result<T, AppError> {
    serde_json::from_slice(raw).map_err(|e| AppError::InvalidJson(e.to_string()))
}

/// [`json_body`] for a route whose body is optional: an empty one is the default.
pub fn json_body_or_default<T: serde::de::DeserializeOwned + Default>(
    raw: &Bytes,
) -> Result<T, AppError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    json_body(raw)
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
        } else if let Some(elapsed) = find_in_chain::<BodyDeadlineElapsed>(&err) {
            AppError::BodyTimeout {
                seconds: elapsed.allowed.as_secs_f64().ceil() as u64,
            }
        } else {
            AppError::InvalidRequest(format!("could not read the body: {err}"))
        }
    })
}

fn is_length_limit(err: &axum::Error) -> bool {
    find_in_chain::<http_body_util::LengthLimitError>(err).is_some()
}

fn find_in_chain<E: std::error::Error + 'static>(err: &axum::Error) -> Option<&E> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        source = e.source();
    }
    None
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

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(API_KEY, v.parse().expect("header value"));
        }
        headers
    }

    #[test]
    fn differing_keys_in_any_two_places_are_ambiguous() {
        let cases: [(&[&str], Option<&str>); 4] = [
            (&["a", "b"], None),
            (&["a"], Some("x-api-key=b")),
            (&[], Some("x-api-key=a&x-api-key=b")),
            (&["a", "a"], Some("x-api-key=b")),
        ];
        for (values, query) in cases {
            assert!(
                matches!(
                    presented_api_key(&headers(values), query),
                    Err(AppError::AmbiguousApiKey)
                ),
                "{values:?} {query:?}"
            );
            assert_eq!(api_key(&headers(values), query), None);
        }
    }

    #[test]
    fn the_same_key_in_several_places_is_one_credential() {
        let got = presented_api_key(&headers(&["k+v", "k+v"]), Some("x-api-key=k%2Bv"));
        assert_eq!(got.ok().flatten().as_deref(), Some("k+v"));
    }

    #[test]
    fn a_non_text_header_key_never_falls_back_to_the_query() {
        let mut h = HeaderMap::new();
        h.insert(
            API_KEY,
            axum::http::HeaderValue::from_bytes(b"k\xff").expect("obs-text"),
        );
        assert!(presented_api_key(&h, Some("x-api-key=k")).is_err());
        assert!(presented_api_key(&h, None).ok().flatten().is_some());
    }

    #[test]
    fn a_header_that_is_not_text_is_present_not_absent() {
        let mut h = HeaderMap::new();
        h.insert(
            "idempotency-key",
            axum::http::HeaderValue::from_bytes(b"a\xffb").expect("obs-text"),
        );
        assert_eq!(header(&h, "idempotency-key"), Some(NOT_TEXT));
        assert_eq!(header(&h, "content-type"), None);
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
