//! `send_email`: one email message, rendered from templates, sent through the process's
//! [`EmailSender`] (SES v2 on AWS; SES or SMTP when serving locally).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, Mailboxes};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{StepContext, StepDeps, StepRun, StepType};
use crate::domain::{InvalidDefinition, TemplateEngine};
use crate::ports::{EmailMessage, EmailSender};

/// What a budget check counts for one send (the SDK's or SMTP client's attempts and timeouts).
pub const SEND_EMAIL_WORST_CASE: Duration = Duration::from_secs(30);

/// Recipients of one message, to, cc and bcc together (SES's own limit).
pub const MAX_RECIPIENTS: usize = 50;

/// How much of each body a step record keeps.
pub const MAX_RECORDED_EMAIL_BODY: usize = 4 * 1024;

/// `send_email`: every field is a template. Each entry of `to`, `cc` and `bcc` renders to one
/// address, or to several separated by commas; an entry that renders empty adds none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEmailStep {
    /// Absent: the `EMAIL_FROM` setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Recipients; `to`, `cc` and `bcc` together hold 1 to 50 addresses once rendered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    /// Copied recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    /// Hidden recipients.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<String>,
    /// The subject line.
    pub subject: String,
    /// The plain-text body; give `text`, `html` or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The HTML body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

#[async_trait]
impl StepType for SendEmailStep {
    const KIND: &'static str = "send_email";

    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        validate_email(self, engine, path)
    }

    fn worst_case(&self) -> Duration {
        SEND_EMAIL_WORST_CASE
    }

    fn reaches_outside(&self) -> bool {
        true
    }

    fn preview(
        &self,
        ctx: &StepContext,
        _key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String> {
        // The dry-run has no process settings: a step without `from` shows the setting's name.
        let message = render_email(
            self,
            ctx,
            templates,
            Some("EMAIL_FROM <email-from@setting>"),
        )?;
        let mut request = recorded_email(&message);
        if self.from.is_none() {
            request["from"] = json!("(the EMAIL_FROM setting)");
        }
        Ok(json!({ "request": request }))
    }

    async fn run(&self, ctx: &StepContext, _key: &str, deps: &StepDeps) -> StepRun {
        match render_email(self, ctx, &deps.templates, deps.email_from.as_deref()) {
            Ok(message) => send(message, deps.email.as_ref()).await,
            Err(error) => StepRun::failed(error),
        }
    }
}

fn validate_email(
    step: &SendEmailStep,
    engine: &TemplateEngine,
    path: &str,
) -> Result<(), InvalidDefinition> {
    let field = |name: &str| format!("{path}.{name}");
    if let Some(from) = &step.from {
        engine
            .check_str(from)
            .map_err(|e| InvalidDefinition::template(&field("from"), e))?;
        if !from.contains("{{") && !from.contains("{%") {
            parse_one(from).map_err(|e| InvalidDefinition::at(field("from"), e))?;
        }
    }
    let mut total = 0;
    for (name, list) in [("to", &step.to), ("cc", &step.cc), ("bcc", &step.bcc)] {
        for (i, entry) in list.iter().enumerate() {
            let at = format!("{path}.{name}[{i}]");
            engine
                .check_str(entry)
                .map_err(|e| InvalidDefinition::template(&at, e))?;
            if !entry.contains("{{") && !entry.contains("{%") {
                parse_list(entry).map_err(|e| InvalidDefinition::at(at, e))?;
            }
        }
        total += list.len();
    }
    if total == 0 {
        return Err(InvalidDefinition::at(
            field("to"),
            "a message needs at least one recipient in to, cc or bcc",
        ));
    }
    if total > MAX_RECIPIENTS {
        return Err(InvalidDefinition::at(
            field("to"),
            format!("{total} recipients in to, cc and bcc; at most {MAX_RECIPIENTS}"),
        ));
    }
    engine
        .check_str(&step.subject)
        .map_err(|e| InvalidDefinition::template(&field("subject"), e))?;
    if step.text.is_none() && step.html.is_none() {
        return Err(InvalidDefinition::at(
            field("text"),
            "a message needs a text or an html body (or both)",
        ));
    }
    for (name, body) in [("text", &step.text), ("html", &step.html)] {
        if let Some(body) = body {
            engine
                .check_str(body)
                .map_err(|e| InvalidDefinition::template(&field(name), e))?;
        }
    }
    Ok(())
}

/// A line break in a header value would start a header of its own.
fn refuse_line_breaks(value: &str) -> Result<(), String> {
    if value.contains(['\r', '\n']) {
        Err(format!(
            "{value:?} contains a line break, which a mail header cannot hold"
        ))
    } else {
        Ok(())
    }
}

/// One mailbox: `a@example.com` or `Name <a@example.com>`.
fn parse_one(value: &str) -> Result<String, String> {
    refuse_line_breaks(value)?;
    Mailbox::from_str(value.trim())
        .map(|m| m.to_string())
        .map_err(|_| format!("{value:?} is not a valid email address"))
}

/// Zero or more mailboxes separated by commas.
fn parse_list(value: &str) -> Result<Vec<String>, String> {
    refuse_line_breaks(value)?;
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    Mailboxes::from_str(value.trim())
        .map(|list| list.into_iter().map(|m| m.to_string()).collect())
        .map_err(|_| format!("{value:?} is not a valid email address (or list of addresses)"))
}

fn render_email(
    step: &SendEmailStep,
    ctx: &StepContext,
    templates: &TemplateEngine,
    default_from: Option<&str>,
) -> Result<EmailMessage, String> {
    let tctx = ctx.to_template_context();
    let from = match &step.from {
        Some(template) => {
            let rendered = templates
                .render_str(template, &tctx)
                .map_err(|e| format!("from: {e}"))?;
            parse_one(&rendered).map_err(|e| format!("from: {e}"))?
        }
        None => {
            let setting = default_from.ok_or_else(|| {
                "from: the step names no sender and EMAIL_FROM is not set on this process"
                    .to_owned()
            })?;
            parse_one(setting).map_err(|e| format!("from (EMAIL_FROM): {e}"))?
        }
    };
    let mut lists: [Vec<String>; 3] = Default::default();
    for (out, (name, list)) in
        lists
            .iter_mut()
            .zip([("to", &step.to), ("cc", &step.cc), ("bcc", &step.bcc)])
    {
        for (i, entry) in list.iter().enumerate() {
            let rendered = templates
                .render_str(entry, &tctx)
                .map_err(|e| format!("{name}[{i}]: {e}"))?;
            out.extend(parse_list(&rendered).map_err(|e| format!("{name}[{i}]: {e}"))?);
        }
    }
    let [to, cc, bcc] = lists;
    let total = to.len() + cc.len() + bcc.len();
    if total == 0 {
        return Err("to: no recipient: to, cc and bcc all rendered empty".to_owned());
    }
    if total > MAX_RECIPIENTS {
        return Err(format!(
            "to: {total} recipients in to, cc and bcc after rendering; at most {MAX_RECIPIENTS}"
        ));
    }
    let subject = templates
        .render_str(&step.subject, &tctx)
        .map_err(|e| format!("subject: {e}"))?;
    refuse_line_breaks(&subject).map_err(|e| format!("subject: {e}"))?;
    let body = |name: &str, template: &Option<String>| {
        template
            .as_ref()
            .map(|t| {
                templates
                    .render_str(t, &tctx)
                    .map_err(|e| format!("{name}: {e}"))
            })
            .transpose()
    };
    let text = body("text", &step.text)?;
    let html = body("html", &step.html)?;
    Ok(EmailMessage {
        from,
        to,
        cc,
        bcc,
        subject,
        text,
        html,
    })
}

async fn send(message: EmailMessage, sender: &dyn EmailSender) -> StepRun {
    let recorded = recorded_email(&message);
    let result = sender
        .send(message)
        .await
        .map_err(|e| (e.to_string(), e.is_transient()));
    StepRun::of_send(result, recorded)
}

/// At most `MAX_RECORDED_EMAIL_BODY` bytes of `body`, cut at a character boundary.
fn bounded(body: &Option<String>) -> (Value, bool) {
    match body {
        None => (Value::Null, false),
        Some(text) if text.len() <= MAX_RECORDED_EMAIL_BODY => (json!(text), false),
        Some(text) => {
            let mut end = MAX_RECORDED_EMAIL_BODY;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            (json!(&text[..end]), true)
        }
    }
}

fn recorded_email(message: &EmailMessage) -> Value {
    let (text, text_cut) = bounded(&message.text);
    let (html, html_cut) = bounded(&message.html);
    json!({
        "from": message.from,
        "to": message.to,
        "cc": message.cc,
        "bcc": message.bcc,
        "subject": message.subject,
        "text": text,
        "html": html,
        "bodyTruncated": text_cut || html_cut,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::ports::{EmailError, NoEmailTransport};
    use crate::steps::ExecutionInfo;

    fn step(raw: Value) -> SendEmailStep {
        serde_json::from_value(raw).expect("a send_email step")
    }

    fn check(raw: Value) -> Result<(), InvalidDefinition> {
        step(raw).check(&TemplateEngine::new(), "steps[0]")
    }

    fn refusal(raw: Value) -> String {
        check(raw).expect_err("refused").to_string()
    }

    fn ctx(body: Value) -> StepContext {
        StepContext::new(
            json!({ "body": body, "headers": {} }),
            ExecutionInfo {
                id: "01EXEC".into(),
                workflow_id: "wf1".into(),
                attempt: 1,
            },
        )
    }

    #[derive(Default)]
    struct Recording {
        seen: Mutex<Vec<EmailMessage>>,
        fail_with: Option<EmailError>,
    }

    #[async_trait]
    impl EmailSender for Recording {
        async fn send(&self, message: EmailMessage) -> Result<String, EmailError> {
            self.seen.lock().expect("lock").push(message);
            match &self.fail_with {
                Some(e) => Err(e.clone()),
                None => Ok("m-1".into()),
            }
        }
    }

    struct Unused;

    #[async_trait]
    impl crate::ports::HttpSender for Unused {
        async fn send(
            &self,
            _: crate::ports::OutboundRequest,
        ) -> Result<crate::ports::OutboundResponse, crate::ports::OutboundError> {
            Err(crate::ports::OutboundError::Setup("unused".into()))
        }
    }

    #[async_trait]
    impl crate::ports::SnsPublisher for Unused {
        async fn publish(
            &self,
            _: crate::ports::SnsPublishRequest,
        ) -> Result<String, crate::ports::PublishError> {
            Err(crate::ports::PublishError::Refused("unused".into()))
        }
    }

    fn deps(email: Arc<dyn EmailSender>, from: Option<&str>) -> StepDeps {
        StepDeps {
            http: Arc::new(Unused),
            sns: Arc::new(Unused),
            email,
            email_from: from.map(str::to_owned),
            templates: Arc::new(TemplateEngine::new()),
            callbacks: None,
            base_url: None,
        }
    }

    fn order() -> Value {
        json!({"id": 42, "owner": "owner@example.com", "team": ["a@example.com", "b@example.com"]})
    }

    fn order_step() -> SendEmailStep {
        step(json!({
            "to": ["{{ trigger.body.owner }}"],
            "cc": ["{{ trigger.body.team | join(', ') }}"],
            "subject": "Order {{ trigger.body.id }}",
            "text": "Order {{ trigger.body.id }} is in.",
        }))
    }

    #[test]
    fn a_complete_step_passes_its_checks() {
        check(json!({
            "from": "Alerts <alerts@example.com>",
            "to": ["{{ trigger.body.owner }}", "ops@example.com"],
            "bcc": ["audit@example.com"],
            "subject": "Order {{ trigger.body.id }}",
            "html": "<p>{{ trigger.body.id }}</p>",
        }))
        .expect("valid");
    }

    #[test]
    fn check_refusals_name_the_field() {
        let base = |extra: Value| {
            let mut raw = json!({"to": ["a@example.com"], "subject": "s", "text": "t"});
            for (k, v) in extra.as_object().expect("object") {
                raw[k] = v.clone();
            }
            raw
        };
        let err = refusal(base(json!({"to": ["a@example.com", "not an address"]})));
        assert!(err.contains("steps[0].to[1]"), "{err}");
        let err = refusal(base(json!({"cc": ["{{ oops"]})));
        assert!(err.contains("steps[0].cc[0]"), "{err}");
        let err = refusal(base(json!({"from": "nobody"})));
        assert!(err.contains("steps[0].from"), "{err}");
        let err = refusal(base(json!({"subject": "{% if %}"})));
        assert!(err.contains("steps[0].subject"), "{err}");
        let err = refusal(json!({"to": ["a@example.com"], "subject": "s"}));
        assert!(
            err.contains("steps[0].text") && err.contains("html"),
            "{err}"
        );
        let err = refusal(json!({"subject": "s", "text": "t"}));
        assert!(
            err.contains("steps[0].to") && err.contains("at least one"),
            "{err}"
        );
        let many: Vec<String> = (0..51).map(|i| format!("r{i}@example.com")).collect();
        let err =
            refusal(json!({"to": many[..30], "bcc": many[30..], "subject": "s", "text": "t"}));
        assert!(err.contains("51 recipients"), "{err}");
        // A template `from` is checked once rendered.
        check(base(json!({"from": "{{ trigger.body.sender }}"}))).expect("template from");
        assert!(
            serde_json::from_value::<SendEmailStep>(json!({"to": [], "subject": "s", "reply": 1}))
                .is_err()
        );
    }

    #[test]
    fn rendering_fills_every_field_and_expands_lists() {
        let message = render_email(
            &order_step(),
            &ctx(order()),
            &TemplateEngine::new(),
            Some("alerts@example.com"),
        )
        .expect("renders");
        assert_eq!(message.from, "alerts@example.com");
        assert_eq!(message.to, ["owner@example.com"]);
        assert_eq!(message.cc, ["a@example.com", "b@example.com"]);
        assert!(message.bcc.is_empty());
        assert_eq!(message.subject, "Order 42");
        assert_eq!(message.text.as_deref(), Some("Order 42 is in."));
        assert_eq!(message.html, None);
    }

    #[test]
    fn a_bad_rendered_address_fails_naming_field_and_address() {
        let err = render_email(
            &order_step(),
            &ctx(json!({"id": 1, "owner": "owner(at)example.com", "team": []})),
            &TemplateEngine::new(),
            Some("alerts@example.com"),
        )
        .expect_err("bad address");
        assert!(err.starts_with("to[0]:"), "{err}");
        assert!(err.contains("owner(at)example.com"), "{err}");
    }

    #[test]
    fn line_breaks_never_reach_a_header() {
        for body in [
            json!({"id": "1\r\nBcc: evil@example.com", "owner": "o@example.com", "team": []}),
            json!({"id": "1\nBcc: evil@example.com", "owner": "o@example.com", "team": []}),
            json!({"id": "1\rX: y", "owner": "o@example.com", "team": []}),
        ] {
            let err = render_email(
                &order_step(),
                &ctx(body),
                &TemplateEngine::new(),
                Some("a@example.com"),
            )
            .expect_err("subject with a line break");
            assert!(
                err.starts_with("subject:") && err.contains("line break"),
                "{err}"
            );
        }
        let err = render_email(
            &order_step(),
            &ctx(json!({"id": 1, "owner": "o@example.com\r\nBcc: evil@example.com", "team": []})),
            &TemplateEngine::new(),
            Some("a@example.com"),
        )
        .expect_err("address with a line break");
        assert!(
            err.starts_with("to[0]:") && err.contains("line break"),
            "{err}"
        );
        let err = render_email(
            &order_step(),
            &ctx(order()),
            &TemplateEngine::new(),
            Some("a@example.com\nBcc: evil@example.com"),
        )
        .expect_err("EMAIL_FROM with a line break");
        assert!(err.contains("EMAIL_FROM"), "{err}");
    }

    #[test]
    fn the_recipient_cap_applies_after_rendering() {
        let team: Vec<String> = (0..50).map(|i| format!("t{i}@example.com")).collect();
        let err = render_email(
            &order_step(),
            &ctx(json!({"id": 1, "owner": "o@example.com", "team": team})),
            &TemplateEngine::new(),
            Some("a@example.com"),
        )
        .expect_err("51 recipients");
        assert!(err.contains("51 recipients"), "{err}");
        let team: Vec<String> = (0..49).map(|i| format!("t{i}@example.com")).collect();
        render_email(
            &order_step(),
            &ctx(json!({"id": 1, "owner": "o@example.com", "team": team})),
            &TemplateEngine::new(),
            Some("a@example.com"),
        )
        .expect("50 recipients");
        let err = render_email(
            &order_step(),
            &ctx(json!({"id": 1, "owner": "", "team": []})),
            &TemplateEngine::new(),
            Some("a@example.com"),
        )
        .expect_err("no recipient");
        assert!(err.contains("no recipient"), "{err}");
    }

    #[tokio::test]
    async fn run_sends_once_and_records_the_request() {
        let email = Arc::new(Recording::default());
        let run = order_step()
            .run(
                &ctx(order()),
                "01EXEC:mail",
                &deps(email.clone(), Some("alerts@example.com")),
            )
            .await;
        assert_eq!(run.output, Some(json!({"messageId": "m-1"})));
        assert_eq!(email.seen.lock().expect("lock").len(), 1);
        let request = run.request.expect("recorded");
        assert_eq!(request["to"], json!(["owner@example.com"]));
        assert_eq!(request["subject"], "Order 42");
        assert_eq!(request["from"], "alerts@example.com");
    }

    #[tokio::test]
    async fn transient_errors_are_retried_and_setup_errors_are_not() {
        let throttled = Arc::new(Recording {
            fail_with: Some(EmailError::Unavailable("throttled".into())),
            ..Recording::default()
        });
        let run = order_step()
            .run(&ctx(order()), "k", &deps(throttled, Some("a@example.com")))
            .await;
        assert!(run.transient && run.error.is_some(), "{run:?}");
        let refused = Arc::new(Recording {
            fail_with: Some(EmailError::Refused("not verified".into())),
            ..Recording::default()
        });
        let run = order_step()
            .run(&ctx(order()), "k", &deps(refused, Some("a@example.com")))
            .await;
        assert!(!run.transient && run.error.is_some(), "{run:?}");
        let run = order_step()
            .run(
                &ctx(order()),
                "k",
                &deps(Arc::new(NoEmailTransport), Some("a@example.com")),
            )
            .await;
        assert!(!run.transient, "{run:?}");
        let error = run.error.expect("failed");
        assert!(
            error.contains("send_email needs EMAIL_TRANSPORT"),
            "{error}"
        );
        // No sender anywhere: a clear failure before anything is sent.
        let email = Arc::new(Recording::default());
        let run = order_step()
            .run(&ctx(order()), "k", &deps(email.clone(), None))
            .await;
        assert!(run.error.expect("failed").contains("EMAIL_FROM"));
        assert!(email.seen.lock().expect("lock").is_empty());
    }

    #[test]
    fn preview_shows_the_message_and_bounds_bodies() {
        let mut raw = serde_json::to_value(order_step()).expect("json");
        raw["html"] = json!("<b>{{ trigger.body.id }}</b>".repeat(1000));
        let preview = step(raw)
            .preview(&ctx(order()), "k", &TemplateEngine::new())
            .expect("preview");
        let request = &preview["request"];
        assert_eq!(request["from"], "(the EMAIL_FROM setting)");
        assert_eq!(request["cc"], json!(["a@example.com", "b@example.com"]));
        assert_eq!(request["subject"], "Order 42");
        assert_eq!(request["text"], "Order 42 is in.");
        assert_eq!(
            request["html"].as_str().expect("html").len(),
            MAX_RECORDED_EMAIL_BODY
        );
        assert_eq!(request["bodyTruncated"], true);
    }
}
