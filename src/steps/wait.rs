//! `wait`: holds the execution for a time (`for`) or until a moment (`until`, a template that
//! renders an RFC 3339 time at most seven days ahead). Waiting costs no worker: the execution
//! is stored `waiting` and a wake-up brings it back (see `crate::worker`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::span::{MAX_WAIT, Span};
use super::{StepContext, StepDeps, StepRun, StepType, Suspend};
use crate::domain::{InvalidDefinition, TemplateEngine, WaitKind, Waiting};

/// `wait`: holds the execution for a time (`for`) or until a moment (`until`): one of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    /// How long: `10m`, 1s .. 7d.
    #[serde(rename = "for", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Span>,
    /// Until when: a template rendering an RFC 3339 time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

impl WaitStep {
    /// When a wait that starts at `now` ends.
    fn wake_at(
        &self,
        ctx: &StepContext,
        templates: &TemplateEngine,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, String> {
        match (&self.duration, &self.until) {
            (Some(span), _) => Ok(now + span.chrono()),
            (None, Some(until)) => {
                let rendered = templates
                    .render_str(until, &ctx.to_template_context())
                    .map_err(|e| format!("until: {e}"))?;
                let at = DateTime::parse_from_rfc3339(rendered.trim())
                    .map_err(|_| {
                        format!(
                            "until: {rendered:?} is not an RFC 3339 time (2026-12-24T09:00:00Z)"
                        )
                    })?
                    .with_timezone(&Utc);
                let limit = now + chrono::Duration::from_std(MAX_WAIT).unwrap_or_default();
                if at > limit {
                    return Err(format!(
                        "until: {rendered} is more than 7 days ahead (the longest wait)"
                    ));
                }
                Ok(at.max(now))
            }
            (None, None) => Err("a wait needs `for` or `until`".into()),
        }
    }

    /// The wait is over: its record says until when it waited.
    pub fn resume(&self, waiting: &Waiting) -> StepRun {
        StepRun::succeeded(json!({ "waitedUntil": waiting.wake_at }))
    }
}

#[async_trait]
impl StepType for WaitStep {
    const KIND: &'static str = "wait";

    fn check(&self, engine: &TemplateEngine, path: &str) -> Result<(), InvalidDefinition> {
        match (&self.duration, &self.until) {
            (Some(_), Some(_)) => Err(InvalidDefinition::at(
                format!("{path}.until"),
                "give `for` or `until`, not both",
            )),
            (None, None) => Err(InvalidDefinition::at(
                format!("{path}.for"),
                "a wait needs `for` (10m, 1s .. 7d) or `until` (an RFC 3339 time)",
            )),
            (None, Some(until)) => engine
                .check_str(until)
                .map_err(|e| InvalidDefinition::template(&format!("{path}.until"), e)),
            (Some(_), None) => Ok(()),
        }
    }

    fn preview(
        &self,
        ctx: &StepContext,
        _key: &str,
        templates: &TemplateEngine,
    ) -> Result<Value, String> {
        let until = self.wake_at(ctx, templates, Utc::now())?;
        Ok(json!({ "wouldWaitUntil": until }))
    }

    async fn run(&self, ctx: &StepContext, _key: &str, deps: &StepDeps) -> StepRun {
        let now = Utc::now();
        match self.wake_at(ctx, &deps.templates, now) {
            // A moment already past: nothing to wait for.
            Ok(at) if at <= now => StepRun::succeeded(json!({ "waitedUntil": now })),
            Ok(at) => StepRun::waiting(
                json!({ "waitingUntil": at }),
                Suspend {
                    kind: WaitKind::Wait,
                    wake_at: at,
                    expires_at: None,
                    token_hash: None,
                },
            ),
            Err(error) => StepRun::failed(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::ExecutionInfo;

    fn ctx(body: Value) -> StepContext {
        StepContext::new(
            json!({ "body": body }),
            ExecutionInfo {
                id: "e".into(),
                workflow_id: "w".into(),
                attempt: 1,
            },
        )
    }

    fn until(template: &str) -> WaitStep {
        WaitStep {
            duration: None,
            until: Some(template.into()),
        }
    }

    #[test]
    fn until_renders_a_time_at_most_seven_days_ahead_and_a_past_one_does_not_wait() {
        let engine = TemplateEngine::new();
        let now = Utc::now();
        let at = (now + chrono::Duration::hours(3)).to_rfc3339();
        let step = until("{{ trigger.body.at }}");
        let woken = step
            .wake_at(&ctx(json!({ "at": at })), &engine, now)
            .unwrap();
        assert_eq!(woken.to_rfc3339(), at);
        let past = (now - chrono::Duration::hours(3)).to_rfc3339();
        assert_eq!(
            step.wake_at(&ctx(json!({ "at": past })), &engine, now),
            Ok(now),
            "a moment already past is now"
        );
        let far = (now + chrono::Duration::days(8)).to_rfc3339();
        let err = step
            .wake_at(&ctx(json!({ "at": far })), &engine, now)
            .unwrap_err();
        assert!(err.contains("more than 7 days ahead"), "{err}");
        let err = step
            .wake_at(&ctx(json!({ "at": "tomorrow" })), &engine, now)
            .unwrap_err();
        assert!(err.contains("not an RFC 3339 time"), "{err}");
        let err = step.wake_at(&ctx(json!({})), &engine, now).unwrap_err();
        assert!(err.starts_with("until: "), "names the field: {err}");
    }

    #[test]
    fn a_duration_counts_from_now() {
        let engine = TemplateEngine::new();
        let now = Utc::now();
        let step = WaitStep {
            duration: Some(Span::parse("10m").unwrap()),
            until: None,
        };
        assert_eq!(
            step.wake_at(&ctx(json!({})), &engine, now),
            Ok(now + chrono::Duration::minutes(10))
        );
    }
}
