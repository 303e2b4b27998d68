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
    ///
    /// On CloudWatch a metric is its name *and* its dimension set, so the aggregates the
    /// alarms and the dashboard watch (template.yaml) must keep exactly their dimensions, and
    /// the per-workflow counts come as their own metrics with a `workflow` dimension.
    #[test]
    fn recorded_metrics_are_written_as_embedded_metric_format() {
        use crate::domain::{RejectionReason, WorkflowId};
        use crate::measure;

        let collector = emf_metrics().expect("the only global recorder in this test process");
        let wf = WorkflowId::parse("wf_emf_test").unwrap();
        measure::accepted(&wf, false);
        measure::rejected("invalid_api_key");
        measure::rejected_by_workflow(&wf, RejectionReason::Auth);
        measure::execution_finished(&wf, "failed");
        measure::step_failed(&wf, "http_request");
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
        let dimensions = |doc: &serde_json::Value| -> Vec<String> {
            let sets = doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
                .as_array()
                .expect("Dimensions");
            assert_eq!(sets.len(), 1, "one dimension set per document: {doc}");
            let mut set: Vec<String> = sets[0]
                .as_array()
                .expect("a dimension set")
                .iter()
                .filter_map(|d| d.as_str().map(str::to_owned))
                .collect();
            set.sort();
            set
        };
        // The document holding `metric` whose dimension values are `values`.
        let find = |metric: &str, values: &[(&str, &str)]| -> &serde_json::Value {
            docs.iter()
                .find(|d| {
                    names(d).iter().any(|n| n == metric)
                        && values.iter().all(|(k, v)| d[*k] == *v)
                        && dimensions(d).len() == values.len()
                })
                .unwrap_or_else(|| panic!("no {metric} with {values:?} in {text}"))
        };

        let accepted = find(measure::ACCEPTED, &[]);
        assert_eq!(
            accepted["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            METRICS_NAMESPACE
        );
        assert!(accepted[measure::ACCEPTED].as_f64().unwrap_or(0.0) >= 1.0);
        assert!(dimensions(accepted).is_empty(), "the dashboard's webhooks");
        let rejections = find(measure::REJECTIONS, &[]);
        assert!(
            dimensions(rejections).is_empty(),
            "the rejection-spike alarm"
        );
        let failed = find(measure::EXECUTIONS, &[("outcome", "failed")]);
        assert_eq!(
            dimensions(failed),
            ["outcome"],
            "the failed-executions alarm"
        );
        find(measure::REJECTED, &[("reason", "invalid_api_key")]);

        for (metric, values) in [
            (
                measure::ACCEPTED_BY_WORKFLOW,
                vec![("workflow", "wf_emf_test")],
            ),
            (
                measure::REJECTED_BY_WORKFLOW,
                vec![("workflow", "wf_emf_test"), ("reason", "auth")],
            ),
            (
                measure::EXECUTIONS_BY_WORKFLOW,
                vec![("workflow", "wf_emf_test"), ("outcome", "failed")],
            ),
            (
                measure::STEP_FAILURES_BY_WORKFLOW,
                vec![("workflow", "wf_emf_test"), ("type", "http_request")],
            ),
        ] {
            let doc = find(metric, &values);
            assert!(dimensions(doc).contains(&"workflow".to_owned()), "{doc}");
            assert_eq!(doc[metric], 1, "{doc}");
        }
    }
}
