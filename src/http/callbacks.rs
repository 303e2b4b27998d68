//! `/callbacks/{token}`: the resume URLs of `approval` and `callback` steps. No API key: the
//! token is the credential, and it never reaches a log (the access log names the route
//! pattern) nor an error message.
//!
//! `GET` shows a small page (no script; the console's stylesheet and CSP, forms allowed to
//! post back here only) naming the workflow and step, with Approve / Deny and a comment for
//! an approval. Looking changes nothing: mail and chat scanners open links. Only `POST`
//! decides: the page's form, or JSON (`{"decision": "approve" | "deny", "comment"}` for an
//! approval; any JSON for a callback, which becomes the step's output, answered `202`).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::ApiError;
use super::request::{body, header};
use crate::app::{Answer, App, AppError, CallbackPage};
use crate::domain::{CallbackToken, DecisionKind, WaitKind};
use crate::wire::{CallbackReceivedView, DecisionView, ErrorBody};

/// The console's policy, except that the page's form may post (back here only).
const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// A page naming the workflow and step, with Approve / Deny for an approval. Looking
/// decides nothing.
#[utoipa::path(
    get,
    path = "/callbacks/{token}",
    operation_id = "showCallbackPage",
    tag = "callbacks",
    params(("token" = String, Path, description = "The token of the resume URL (a credential: keep it out of logs)")),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
        (status = 404, description = "No such callback URL", body = String, content_type = "text/html"),
        (status = 410, description = "Already used or expired: the page says which", body = String, content_type = "text/html"),
    )
)]
pub async fn page(
    State(app): State<App>,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let token = CallbackToken::from_url(&token);
    match app.callback_page(&token).await {
        Ok(page) => {
            let suggested = query_decision(query.as_deref());
            // A closed link still shows what it was for, under the status a POST would get.
            let status = page
                .closed
                .as_ref()
                .map_or(StatusCode::OK, |_| StatusCode::GONE);
            html(status, &render_page(&page, suggested.as_deref()))
        }
        Err(err) => error_page(err),
    }
}

/// Decides an approval (`{"decision": "approve" | "deny", "comment"}`, or the page's form), or
/// hands a callback step its output (any other JSON). Each URL decides once.
#[utoipa::path(
    post,
    path = "/callbacks/{token}",
    operation_id = "answerCallback",
    tag = "callbacks",
    params(("token" = String, Path, description = "The token of the resume URL (a credential: keep it out of logs)")),
    request_body(
        description = "An approval's decision (JSON or the page's form; `?decision=` on the link \
                       works too), or for a callback step any JSON, which becomes its output",
        content(
            (Value = "application/json"),
            (DecisionForm = "application/x-www-form-urlencoded"),
        )
    ),
    responses(
        (status = 200, description = "The approval is decided (an HTML page for a form)", body = DecisionView),
        (status = 202, description = "The callback's body is taken", body = CallbackReceivedView),
        (status = 400, description = "Unreadable JSON or no decision (`invalid_json`, `invalid_request`)", body = ErrorBody),
        (status = 404, description = "No such callback URL (`callback_not_found`)", body = ErrorBody),
        (status = 410, description = "Already used or expired (`callback_used`, `callback_expired`)", body = ErrorBody),
        (status = 413, description = "The body is over the limit (`payload_too_large`)", body = ErrorBody),
        (status = 503, description = "The store is unavailable; retry after `Retry-After`", body = ErrorBody),
    )
)]
pub async fn answer(
    State(app): State<App>,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    request_body: Body,
) -> Response {
    let token = CallbackToken::from_url(&token);
    let form = header(&headers, "content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let result = read_answer(&app, &headers, request_body, query.as_deref(), form).await;
    let result = match result {
        Ok(answer) => app.answer_callback(&token, answer).await,
        Err(err) => Err(err),
    };
    match (result, form) {
        (Ok(kind), true) => html(StatusCode::OK, &render_done(kind)),
        (Ok(DecisionKind::Received), false) => (
            StatusCode::ACCEPTED,
            Json(CallbackReceivedView { status: "accepted" }),
        )
            .into_response(),
        (Ok(kind), false) => (
            StatusCode::OK,
            Json(DecisionView {
                decision: kind.as_str(),
            }),
        )
            .into_response(),
        (Err(err), true) => error_page(err),
        (Err(err), false) => ApiError::from(err).into_response(),
    }
}

/// The approval page's form. Only the API description reads this type: the handler parses the
/// form by hand, so that a form and JSON meet in one [`Answer`].
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct DecisionForm {
    /// `approve` or `deny`.
    decision: String,
    comment: Option<String>,
}

async fn read_answer(
    app: &App,
    headers: &HeaderMap,
    request_body: Body,
    query: Option<&str>,
    form: bool,
) -> Result<Answer, AppError> {
    let bytes = body(headers, request_body, app.config().body_limit_bytes).await?;
    if form {
        let mut decision = None;
        let mut comment = None;
        for (name, value) in url::form_urlencoded::parse(&bytes) {
            match name.as_ref() {
                "decision" => decision = Some(value.into_owned()),
                "comment" => comment = Some(value.into_owned()),
                _ => {}
            }
        }
        return decision_answer(decision.or_else(|| query_decision(query)), comment);
    }
    let value: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|e| AppError::InvalidJson(e.to_string()))?
    };
    // An approval's JSON names its decision (or the link's `?decision=` does); anything
    // else is a callback's body.
    let decision = value
        .get("decision")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| query_decision(query));
    match decision {
        Some(decision) => {
            let comment = value
                .get("comment")
                .and_then(Value::as_str)
                .map(str::to_owned);
            match decision_answer(Some(decision), comment) {
                Ok(answer) => Ok(answer),
                // `{"decision": "shipped"}` may well be a callback's own data.
                Err(_) if value.is_object() => Ok(Answer::Body(value)),
                Err(err) => Err(err),
            }
        }
        None if value.is_null() => {
            Err(AppError::InvalidJson("the body is empty; send JSON".into()))
        }
        None => Ok(Answer::Body(value)),
    }
}

fn decision_answer(decision: Option<String>, comment: Option<String>) -> Result<Answer, AppError> {
    match decision.as_deref() {
        Some("approve" | "approved") => Ok(Answer::Approve { comment }),
        Some("deny" | "denied") => Ok(Answer::Deny { comment }),
        _ => Err(AppError::InvalidRequest(
            "say decision=approve or decision=deny".into(),
        )),
    }
}

fn query_decision(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "decision")
        .map(|(_, value)| value.into_owned())
}

fn html(status: StatusCode, body: &str) -> Response {
    let mut response = (status, body.to_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The URL is a credential: no Referer carries it to a page linked from here.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn error_page(err: AppError) -> Response {
    let api = ApiError::from(err);
    let status = api.status();
    let text = api.message().to_owned();
    html(
        status,
        &document("Not available", &format!("<p>{}</p>", escape(&text))),
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn document(title: &str, main: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/console/app.css\"></head>\
         <body><main class=\"callback\"><h1>{title}</h1>{main}</main></body></html>",
        title = escape(title)
    )
}

fn render_page(page: &CallbackPage, suggested: Option<&str>) -> String {
    let facts = format!(
        "<dl><dt>Workflow</dt><dd>{}</dd><dt>Step</dt><dd>{}</dd><dt>Valid until</dt><dd>{}</dd></dl>",
        escape(page.workflow_id.as_str()),
        escape(&page.step),
        page.expires_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    if let Some(closed) = &page.closed {
        return document(
            "No longer open",
            &format!("{facts}<p>{}</p>", escape(&closed.to_string())),
        );
    }
    match page.kind {
        WaitKind::Approval => {
            // The link says which button was meant; both are there, and only a click decides.
            let (first, second) = match suggested {
                Some("deny" | "denied") => (("deny", "Deny"), ("approve", "Approve")),
                _ => (("approve", "Approve"), ("deny", "Deny")),
            };
            let form = format!(
                "<form method=\"post\"><label>Comment (optional)<br>\
                 <textarea name=\"comment\" rows=\"3\" maxlength=\"1000\"></textarea></label><p>\
                 <button type=\"submit\" name=\"decision\" value=\"{}\">{}</button> \
                 <button type=\"submit\" name=\"decision\" value=\"{}\">{}</button></p></form>",
                first.0, first.1, second.0, second.1
            );
            document("Approval requested", &format!("{facts}{form}"))
        }
        _ => document(
            "Callback URL",
            &format!("{facts}<p>This URL takes one POST with a JSON body.</p>"),
        ),
    }
}

fn render_done(kind: DecisionKind) -> String {
    let said = match kind {
        DecisionKind::Approved => "Approved. The workflow goes on.",
        DecisionKind::Denied => "Denied.",
        _ => "Received.",
    };
    document("Thank you", &format!("<p>{said}</p>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_on_the_page_is_escaped() {
        assert_eq!(
            escape("<script>\"x\"&'y'</script>"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn decisions_come_from_the_form_or_the_link() {
        assert!(matches!(
            decision_answer(Some("approve".into()), None),
            Ok(Answer::Approve { comment: None })
        ));
        assert!(decision_answer(Some("maybe".into()), None).is_err());
        assert_eq!(
            query_decision(Some("decision=deny")).as_deref(),
            Some("deny")
        );
    }
}
