//! What the service counts, under one set of names. Recording goes through the `metrics`
//! facade: it costs nothing until a process installs a recorder (`serve` installs the
//! Prometheus one and serves it at `/metrics`), so the domain and the handlers never know
//! where the numbers go.

/// Webhooks answered 2xx with a new execution.
pub const ACCEPTED: &str = "webhook_accepted_total";
/// Webhooks that repeated an earlier one (same idempotency key, SNS MessageId, webhook-id).
pub const DUPLICATE: &str = "webhook_duplicate_total";
/// Webhook and API requests refused, by `reason` (the error code callers see).
pub const REJECTED: &str = "webhook_rejected_total";
/// Every refused request, whatever the reason: what the rejection-spike alarm watches.
pub const REJECTIONS: &str = "webhook_rejections_total";
/// Seconds from a webhook's first byte to its answer, for answered webhooks.
pub const ACCEPT_SECONDS: &str = "webhook_accept_seconds";
/// Executions that ended, by `outcome`: succeeded, failed or filtered.
pub const EXECUTIONS: &str = "workflow_executions_total";
/// Seconds from a webhook's arrival to its execution's end (queue wait included).
pub const EXECUTION_SECONDS: &str = "workflow_execution_seconds";
/// Steps that failed, by step `type`.
pub const STEP_FAILURES: &str = "workflow_step_failures_total";

pub fn accepted(duplicate: bool) {
    let name = if duplicate { DUPLICATE } else { ACCEPTED };
    metrics::counter!(name).increment(1);
}

pub fn rejected(reason: &'static str) {
    metrics::counter!(REJECTED, "reason" => reason).increment(1);
    metrics::counter!(REJECTIONS).increment(1);
}

pub fn accept_latency(seconds: f64) {
    metrics::histogram!(ACCEPT_SECONDS).record(seconds);
}

pub fn execution_finished(outcome: &'static str) {
    metrics::counter!(EXECUTIONS, "outcome" => outcome).increment(1);
}

pub fn execution_latency(seconds: f64) {
    metrics::histogram!(EXECUTION_SECONDS).record(seconds);
}

pub fn step_failed(kind: &'static str) {
    metrics::counter!(STEP_FAILURES, "type" => kind).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[test]
    fn recorded_values_come_out_under_their_names_and_labels() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            accepted(false);
            accepted(true);
            rejected("invalid_api_key");
            execution_finished("filtered");
            step_failed("http_request");
        });
        let text = handle.render();
        for line in [
            "webhook_accepted_total 1",
            "webhook_duplicate_total 1",
            "webhook_rejected_total{reason=\"invalid_api_key\"} 1",
            "webhook_rejections_total 1",
            "workflow_executions_total{outcome=\"filtered\"} 1",
            "workflow_step_failures_total{type=\"http_request\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing in:\n{text}");
        }
    }
}
