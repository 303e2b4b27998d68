//! The Lambda functions, as plain async functions so tests can call them with built
//! events: `api` (API Gateway → the same axum router as `serve`), `worker` (an SQS batch →
//! `Worker::process` per record, with partial batch failures) and `sweeper` (a schedule →
//! re-send executions whose queue message was lost).
//!
//! The binaries in `src/bin/` only read the environment, build the SDK clients once per
//! execution environment (not per invocation, with `crate::adapters::aws`) and call
//! `api::run` / `worker::run` / `sweeper::run`.

pub mod api;
pub mod sweeper;
pub mod worker;

pub use metrics_cloudwatch_embedded::Collector as MetricsCollector;

/// The CloudWatch namespace of the functions' metrics (`crate::measure` names them).
pub const METRICS_NAMESPACE: &str = "WebhookTrigger";

/// Installs the process's metrics recorder: what `crate::measure` records is kept in memory
/// and written to stdout as one CloudWatch Embedded Metric Format line per invocation, which
/// CloudWatch turns into metrics with no API call (and no cost on the request path).
pub fn emf_metrics() -> Result<&'static MetricsCollector, lambda_runtime::Error> {
    metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(METRICS_NAMESPACE)
        .init()
}

fn flush_metrics(metrics: Option<&'static MetricsCollector>) {
    if let Some(collector) = metrics
        && let Err(err) = collector.flush(std::io::stdout().lock())
    {
        tracing::warn!(error = %err, "could not write the metrics line");
    }
}

/// A setting the function cannot start without.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is not set (template.yaml sets it for the deployed functions)")]
pub struct MissingEnv(pub &'static str);

/// A required, non-empty environment variable.
pub fn env(name: &'static str) -> Result<String, MissingEnv> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(MissingEnv(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line each invocation writes is CloudWatch EMF: the `_aws` metadata naming the
    /// namespace and the metrics, and each metric's value at the top level. The recorder is
    /// process-wide, so this is the one unit test that installs it; other tests may add to the
    /// counts, hence "at least".
    #[test]
    fn recorded_metrics_are_written_as_embedded_metric_format() {
        let collector = emf_metrics().expect("the only global recorder in this test process");
        crate::measure::accepted(false);
        crate::measure::rejected("invalid_api_key");
        let mut line = Vec::new();
        collector.flush(&mut line).expect("flush");
        let text = String::from_utf8(line).expect("utf-8");
        let docs: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is one JSON document"))
            .collect();
        let names = |doc: &serde_json::Value| -> Vec<String> {
            doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .map(|m| {
                    m.iter()
                        .filter_map(|d| d["Name"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let accepted = docs
            .iter()
            .find(|d| names(d).contains(&crate::measure::ACCEPTED.to_owned()))
            .unwrap_or_else(|| panic!("no accepted count in {text}"));
        assert_eq!(
            accepted["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            METRICS_NAMESPACE
        );
        assert!(accepted[crate::measure::ACCEPTED].as_f64().unwrap_or(0.0) >= 1.0);
        let rejected = docs
            .iter()
            .find(|d| d["reason"] == "invalid_api_key")
            .unwrap_or_else(|| panic!("no rejection by reason in {text}"));
        assert!(names(rejected).contains(&crate::measure::REJECTED.to_owned()));
    }
}
