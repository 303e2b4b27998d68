//! The sweeper function: on a schedule (EventBridge, every minute in template.yaml), re-sends
//! executions written to the table whose queue message was lost. The event itself carries
//! nothing the sweep needs, so any JSON is accepted (a hand-made `{}` invokes it too).

use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::app::{SweepError, SweepReport, Sweeper};

/// `SWEEP_AFTER_SECONDS`: an execution waiting this long for its first worker is re-sent.
pub const DEFAULT_SWEEP_AFTER_SECONDS: i64 = 60;
/// `SWEEP_BATCH`: most re-sends per run.
pub const DEFAULT_SWEEP_BATCH: usize = 500;

/// A setting of the sweeper that is set but not a whole number.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?} is not a positive whole number")]
pub struct BadSetting {
    pub name: &'static str,
    pub value: String,
}

/// `(after, batch)` from `SWEEP_AFTER_SECONDS` and `SWEEP_BATCH`, else the defaults.
pub fn settings(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(chrono::Duration, usize), BadSetting> {
    let read = |name: &'static str, default: u64| match lookup(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|v| (1..=86_400).contains(v))
            .ok_or(BadSetting { name, value }),
    };
    let after = read("SWEEP_AFTER_SECONDS", DEFAULT_SWEEP_AFTER_SECONDS as u64)?;
    let batch = read("SWEEP_BATCH", DEFAULT_SWEEP_BATCH as u64)?;
    Ok((
        chrono::Duration::seconds(after as i64),
        usize::try_from(batch).unwrap_or(DEFAULT_SWEEP_BATCH),
    ))
}

/// A failed run is reported to Lambda (and retried on the next schedule) by its class, never
/// with item contents: store and queue errors name operations, not payloads.
impl From<SweepError> for Diagnostic {
    fn from(err: SweepError) -> Self {
        Diagnostic {
            error_type: "SweepError".into(),
            error_message: err.to_string(),
        }
    }
}

/// One scheduled run.
pub async fn handle(sweeper: &Sweeper, _event: Value) -> Result<SweepReport, SweepError> {
    let report = sweeper.sweep(chrono::Utc::now()).await?;
    tracing::info!(
        resent = report.resent,
        woken = report.woken,
        oldest_overdue_seconds = report.oldest_overdue_seconds,
        "sweep done"
    );
    Ok(report)
}

/// Serves scheduled events until the Lambda runtime stops the process.
/// Every run, failed or not, ends with one EMF line of `metrics` (the wake-up figures and the
/// waiting gauge); runs that stop happening leave none, which the stalled-wake-up alarm treats
/// as breaching.
pub async fn run(
    sweeper: Arc<Sweeper>,
    metrics: Option<&'static super::MetricsCollector>,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let sweeper = sweeper.clone();
        async move {
            let answer = handle(&sweeper, event.payload).await;
            super::flush_metrics(metrics);
            answer
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_refuse_nonsense() {
        let (after, batch) = settings(|_| None).expect("defaults");
        assert_eq!(
            after,
            chrono::Duration::seconds(DEFAULT_SWEEP_AFTER_SECONDS)
        );
        assert_eq!(batch, DEFAULT_SWEEP_BATCH);
        let (after, _) =
            settings(|n| (n == "SWEEP_AFTER_SECONDS").then(|| "90".into())).expect("set");
        assert_eq!(after, chrono::Duration::seconds(90));
        for bad in ["0", "-1", "soon"] {
            assert!(settings(|n| (n == "SWEEP_BATCH").then(|| bad.into())).is_err());
        }
    }
}
