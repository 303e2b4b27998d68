//! `GET /openapi.json` describes the router: every route of `support::routes::ROUTES` but the
//! console's assets, with its method, and nothing else; and it is a valid OpenAPI 3.1
//! document by an independent validator (PyPI's openapi-spec-validator, from `make venv`).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use axum::http::StatusCode;
use serde_json::Value;

use crate::support::routes::{assert_router_has_exactly_these_methods, route_names};
use crate::support::{TestApp, sqlite_app, test_config};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn document(app: &TestApp) -> Value {
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.body
}

/// `METHOD path` of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<String> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect()
}

#[tokio::test]
async fn the_document_has_every_route_of_the_router_and_nothing_else() {
    let app = sqlite_app(test_config()).await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "webhook-trigger");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        operations(&doc),
        route_names(|r| r.undocumented.is_none()),
        "left: the document, right: support::routes::ROUTES"
    );
    assert_router_has_exactly_these_methods(&app.router).await;
}

#[tokio::test]
async fn every_operation_names_its_credential_and_its_error_shape() {
    let app = sqlite_app(test_config()).await;
    let doc = document(&app).await;
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    assert_eq!(schemes["api_key"]["name"], "x-api-key");
    assert_eq!(schemes["api_key"]["in"], "header");
    assert_eq!(schemes["api_key_query"]["in"], "query");
    assert_eq!(schemes["admin_key"]["name"], "x-admin-key");
    assert_eq!(schemes["admin_key"]["in"], "header");
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let named: BTreeSet<&str> = op["security"]
                .as_array()
                .map(|alternatives| {
                    alternatives
                        .iter()
                        .filter_map(Value::as_object)
                        .flat_map(|a| a.keys().map(String::as_str))
                        .collect()
                })
                .unwrap_or_default();
            let expected: BTreeSet<&str> = if path.starts_with("/admin/") {
                ["admin_key"].into()
            } else if path.starts_with("/webhooks/") || path.starts_with("/workflows/") {
                ["api_key", "api_key_query"].into()
            } else {
                BTreeSet::new()
            };
            assert_eq!(named, expected, "{method} {path}");
            let responses = op["responses"].as_object().expect("responses");
            for (status, response) in responses {
                // The callback page is HTML for people, its errors too.
                if status.starts_with(['4', '5'])
                    && !(path == "/callbacks/{token}" && method == "get")
                {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
            assert!(responses.contains_key("500"), "{method} {path}");
        }
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi() {
    let tool = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/.venv/bin/openapi-spec-validator"
    );
    assert!(
        Path::new(tool).exists(),
        "{tool} is missing: run make venv (it installs openapi-spec-validator)"
    );
    let app = sqlite_app(test_config()).await;
    let doc = document(&app).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&doc).expect("JSON")).expect("write");
    let output = Command::new(tool)
        .arg(&file)
        .output()
        .expect("run openapi-spec-validator");
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
