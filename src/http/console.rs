//! The web console at `/console`: one HTML page, its script and its stylesheet, compiled into
//! the binary (no Node toolchain, no files to deploy). The page reads the `/admin` JSON routes
//! with the operator's admin key, which it keeps in the tab's session storage and sends as a
//! header; every response here forbids inline script and any origin but this one.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("console/index.html");
const APP_JS: &str = include_str!("console/app.js");
const EDITOR_JS: &str = include_str!("console/editor.js");
const APP_CSS: &str = include_str!("console/app.css");
const DIAGRAM_JS: &str = include_str!("console/diagram.js");

/// No inline script or style, nothing from elsewhere, no framing, no forms posting away.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// The page at `/console/`: its asset links are relative to `/console`, so here they drop
/// the folder they are already in (a `<base>` element would do it, but the CSP forbids one).
pub async fn index_in_folder() -> Response {
    static PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        INDEX_HTML
            .replace("src=\"console/", "src=\"")
            .replace("href=\"console/", "href=\"")
    });
    asset("text/html; charset=utf-8", PAGE.as_str())
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// The flow diagram (`window.WebhookDiagram`), which app.js draws on the workflow and
/// execution pages.
pub async fn diagram_script() -> Response {
    asset("text/javascript; charset=utf-8", DIAGRAM_JS)
}

/// The Steps tab's editor and test bench (`window.WebhookEditor`), loaded before app.js.
pub async fn editor_script() -> Response {
    asset("text/javascript; charset=utf-8", EDITOR_JS)
}

pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let lower = INDEX_HTML.to_ascii_lowercase();
        // Every <script> element has a src of this folder; no event handler attributes, no
        // style attributes.
        assert_eq!(
            lower.matches("<script").count(),
            lower.matches("<script src=\"console/").count()
        );
        // The editor and the diagram define their globals before app.js (all deferred, run
        // in order) uses them.
        let app = lower.find("<script src=\"console/app.js\" defer>");
        for script in ["editor.js", "diagram.js"] {
            let found = lower.find(&format!("<script src=\"console/{script}\" defer>"));
            assert!(found.is_some() && app.is_some() && found < app, "{lower}");
        }
        assert!(!lower.contains(" onclick") && !lower.contains(" onload"));
        assert!(!lower.contains("style="));
        assert!(!lower.contains("<style"));
    }

    #[test]
    fn the_page_in_its_folder_loads_the_same_assets() {
        let page = index_in_folder_text();
        assert!(page.contains("<script src=\"app.js\""), "{page}");
        assert!(page.contains("href=\"app.css\""), "{page}");
        assert!(!page.contains("console/app."));
    }

    fn index_in_folder_text() -> String {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let response = runtime.block_on(index_in_folder());
        let bytes = runtime
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[test]
    fn the_scripts_never_write_markup() {
        for (name, script) in [
            ("app.js", APP_JS),
            ("editor.js", EDITOR_JS),
            ("diagram.js", DIAGRAM_JS),
        ] {
            for forbidden in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
            ] {
                assert!(!script.contains(forbidden), "{name} uses {forbidden}");
            }
        }
        // A draft is kept per tab, like the key: never in local storage.
        assert!(!EDITOR_JS.contains("localStorage"));
        // The key lives in session storage, never in local storage or a URL.
        assert!(APP_JS.contains("sessionStorage"));
        assert!(!APP_JS.contains("localStorage"));
    }
}
