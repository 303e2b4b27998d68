//! Issue 9, item 4: a request must present one API key. Two different values (two headers,
//! header and query, two query parameters) are refused with 400 `ambiguous_api_key` before
//! anything is looked up or stored, on every backend; the same value twice is one credential.

use crate::support;

use axum::body::Body;
use axum::http::{Request, StatusCode};

use support::{TestApp, assert_error};
use webhook_trigger::domain::Step;

macro_rules! flows_for {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            #[tokio::test]
            async fn differing_keys_are_refused_as_ambiguous() {
                super::differing_keys_are_refused_as_ambiguous($make(support::test_config()).await)
                    .await;
            }
            #[tokio::test]
            async fn the_same_key_in_header_and_query_is_accepted() {
                super::the_same_key_in_header_and_query_is_accepted(
                    $make(support::test_config()).await,
                )
                .await;
            }
        }
    };
}

flows_for!(sqlite, support::sqlite_app);
flows_for!(dynamodb, support::dynamodb_app);

fn post(path_and_query: &str, header_keys: &[&str]) -> Request<Body> {
    let mut request = Request::post(path_and_query).header("content-type", "application/json");
    for key in header_keys {
        request = request.header("x-api-key", *key);
    }
    request.body(Body::from(r#"{"n":1}"#)).expect("request")
}

async fn differing_keys_are_refused_as_ambiguous(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let path = format!("/webhooks/{}", wf.id.as_str());
    let other = "whk_not_the_key";
    let cases: Vec<(String, Vec<&str>)> = vec![
        // The real key first or second: neither order may win.
        (path.clone(), vec![&key, other]),
        (path.clone(), vec![other, &key]),
        (format!("{path}?x-api-key={other}"), vec![&key]),
        (format!("{path}?x-api-key={key}"), vec![other]),
        (format!("{path}?x-api-key={key}&x-api-key={other}"), vec![]),
        (format!("{path}?x-api-key={key}&x-api-key="), vec![]),
    ];
    for (uri, headers) in &cases {
        let r = t.send(post(uri, headers)).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "ambiguous_api_key");
    }
    // Reads are guarded the same way.
    let listing = Request::get(format!("/workflows/{}/executions", wf.id.as_str()))
        .header("x-api-key", &key)
        .header("x-api-key", other)
        .body(Body::empty())
        .expect("request");
    assert_error(
        &t.send(listing).await,
        StatusCode::BAD_REQUEST,
        "ambiguous_api_key",
    );

    let listed = t
        .get(
            &format!("/workflows/{}/executions", wf.id.as_str()),
            Some(&key),
        )
        .await;
    assert_eq!(
        listed.body["items"],
        serde_json::json!([]),
        "{}",
        listed.body
    );
    assert_eq!(t.worker.drain().await, 0, "nothing was queued");
}

async fn the_same_key_in_header_and_query_is_accepted(t: TestApp) {
    let (wf, key) = t.workflow_with_key(vec![Step::Echo]).await;
    let uri = format!("/webhooks/{}?x-api-key={key}", wf.id.as_str());
    let r = t.send(post(&uri, &[&key, &key])).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(t.worker.drain().await, 1);
}
