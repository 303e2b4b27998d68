//! Issue 9, item 2: a panic is one failed request, never a lost process or a dropped
//! connection.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use tower::ServiceExt;

/// cargo-lambda (`sam build`) builds with `profile.release.panic="abort"` unless the profile
/// sets `panic` itself, so the setting must be written out, not left to cargo's default.
#[test]
fn release_profile_says_panic_unwind_explicitly() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("read Cargo.toml");
    let parsed: toml::Table = manifest.parse().expect("Cargo.toml is TOML");
    let panic = parsed
        .get("profile")
        .and_then(|p| p.get("release"))
        .and_then(|r| r.get("panic"))
        .and_then(|p| p.as_str());
    assert_eq!(
        panic,
        Some("unwind"),
        "[profile.release] must set panic = \"unwind\" explicitly"
    );
}

/// The same layers the service's router wears, over a route that panics.
#[tokio::test]
async fn a_handler_panic_is_a_500_json_error() {
    async fn boom() -> &'static str {
        panic!("a bug in a handler")
    }
    let router = webhook_trigger::http::with_guards(Router::new().route("/boom", get(boom)));
    let response = router
        .oneshot(Request::get("/boom").body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON body");
    assert_eq!(body["error"]["code"], "internal_error");
    assert!(
        !body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("a bug in a handler"),
        "the panic message stays in the log: {body}"
    );
}
