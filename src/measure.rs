//! What the service counts, under one set of names. Recording goes through the `metrics`
//! facade: it costs nothing until a process installs a recorder (`serve` installs the
//! Prometheus one and serves it at `/metrics`), so the domain and the handlers never know
//! where the numbers go.
//!
//! Each count the operator wants per workflow is recorded twice: once without a workflow, as
//! it always was (the alarms and the dashboard watch those, and on CloudWatch a metric with
//! one more dimension is another metric), and once under its own `*_by_workflow_total` name
//! with a `workflow` label. Own names, not one more label on the same name, so that a
//! Prometheus `sum()` over a name never counts a request twice.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use metrics::SharedString;

use crate::config::Config;
use crate::domain::{RejectionReason, WorkflowId};

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

/// Executions waiting now (a `wait`, `approval` or `callback` step): a gauge.
pub const WAITING: &str = "workflow_executions_waiting";
/// Waiting executions the sweeper woke (on AWS; locally the queue wakes them).
pub const WAKEUPS: &str = "workflow_wakeups_total";
/// How long past its wake-up time the oldest due execution was at the last sweep: the alarm
/// on a stalled wake-up engine watches it.
pub const WAKEUP_OVERDUE_SECONDS: &str = "workflow_wakeup_overdue_seconds";

/// [`ACCEPTED`] by `workflow`.
pub const ACCEPTED_BY_WORKFLOW: &str = "webhook_accepted_by_workflow_total";
/// [`DUPLICATE`] by `workflow`.
pub const DUPLICATE_BY_WORKFLOW: &str = "webhook_duplicate_by_workflow_total";
/// Refused requests for a known workflow, by `workflow` and `reason`: the console's groups
/// (auth, size, signature, other), fewer than the error codes, to keep the series few.
/// Requests for an unknown workflow id are only in [`REJECTED`].
pub const REJECTED_BY_WORKFLOW: &str = "webhook_rejected_by_workflow_total";
/// [`EXECUTIONS`] by `workflow` and `outcome`.
pub const EXECUTIONS_BY_WORKFLOW: &str = "workflow_executions_by_workflow_total";
/// [`STEP_FAILURES`] by `workflow` and `type`.
pub const STEP_FAILURES_BY_WORKFLOW: &str = "workflow_step_failures_by_workflow_total";

/// The `workflow` label of every workflow past the process's limit.
pub const OTHER_WORKFLOWS: &str = "other";

/// Which workflow ids label metrics. Ids are created by operators, not by callers (a
/// refusal is counted per workflow only once the workflow is known), but a large deployment
/// may still have many: each label value is a series here and a billed custom metric on
/// CloudWatch, so a process labels at most `limit` distinct ids and the rest as `other`.
#[derive(Debug)]
pub struct WorkflowLabels {
    enabled: bool,
    limit: usize,
    seen: Mutex<HashSet<WorkflowId>>,
}

impl WorkflowLabels {
    pub fn new(enabled: bool, limit: usize) -> Self {
        Self {
            enabled,
            limit,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// The label for `id`: the id itself for the first `limit` ids this process met, `other`
    /// after them; `None` when the per-workflow series are off.
    pub fn label(&self, id: &WorkflowId) -> Option<SharedString> {
        if !self.enabled {
            return None;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(id) {
            return Some(SharedString::from(id.as_str().to_owned()));
        }
        if seen.len() < self.limit {
            seen.insert(id.clone());
            return Some(SharedString::from(id.as_str().to_owned()));
        }
        Some(SharedString::const_str(OTHER_WORKFLOWS))
    }
}

static WORKFLOW_LABELS: OnceLock<WorkflowLabels> = OnceLock::new();

/// Applies `METRICS_WORKFLOW_DIMENSION` and `METRICS_WORKFLOW_LIMIT` to this process. Called
/// once by each entry point before it serves; the first call wins.
pub fn configure(config: &Config) {
    let _ = WORKFLOW_LABELS.set(WorkflowLabels::new(
        config.metrics_workflow_dimension,
        config.metrics_workflow_limit,
    ));
}

fn workflow_label(id: &WorkflowId) -> Option<SharedString> {
    WORKFLOW_LABELS
        .get_or_init(|| {
            let d = Config::default();
            WorkflowLabels::new(d.metrics_workflow_dimension, d.metrics_workflow_limit)
        })
        .label(id)
}

pub fn accepted(workflow: &WorkflowId, duplicate: bool) {
    let (name, by_workflow) = if duplicate {
        (DUPLICATE, DUPLICATE_BY_WORKFLOW)
    } else {
        (ACCEPTED, ACCEPTED_BY_WORKFLOW)
    };
    metrics::counter!(name).increment(1);
    if let Some(label) = workflow_label(workflow) {
        metrics::counter!(by_workflow, "workflow" => label).increment(1);
    }
}

pub fn rejected(reason: &'static str) {
    metrics::counter!(REJECTED, "reason" => reason).increment(1);
    metrics::counter!(REJECTIONS).increment(1);
}

/// A refusal of a request for a known workflow (already counted by [`rejected`]).
pub fn rejected_by_workflow(workflow: &WorkflowId, reason: RejectionReason) {
    if let Some(label) = workflow_label(workflow) {
        metrics::counter!(REJECTED_BY_WORKFLOW, "workflow" => label, "reason" => reason.as_str())
            .increment(1);
    }
}

pub fn accept_latency(seconds: f64) {
    metrics::histogram!(ACCEPT_SECONDS).record(seconds);
}

pub fn execution_finished(workflow: &WorkflowId, outcome: &'static str) {
    metrics::counter!(EXECUTIONS, "outcome" => outcome).increment(1);
    if let Some(label) = workflow_label(workflow) {
        metrics::counter!(EXECUTIONS_BY_WORKFLOW, "workflow" => label, "outcome" => outcome)
            .increment(1);
    }
}

pub fn execution_latency(seconds: f64) {
    metrics::histogram!(EXECUTION_SECONDS).record(seconds);
}

pub fn step_failed(workflow: &WorkflowId, kind: &'static str) {
    metrics::counter!(STEP_FAILURES, "type" => kind).increment(1);
    if let Some(label) = workflow_label(workflow) {
        metrics::counter!(STEP_FAILURES_BY_WORKFLOW, "workflow" => label, "type" => kind)
            .increment(1);
    }
}

pub fn waiting(count: u64) {
    metrics::gauge!(WAITING).set(count as f64);
}

/// What a sweep did to waiting executions.
pub fn wakeups(woken: usize, overdue_seconds: u64) {
    metrics::counter!(WAKEUPS).increment(woken as u64);
    metrics::gauge!(WAKEUP_OVERDUE_SECONDS).set(overdue_seconds as f64);
}

/// The outcome label values of [`EXECUTIONS`].
pub const OUTCOMES: [&str; 3] = ["succeeded", "failed", "filtered"];

/// Makes every family exist from the first scrape, its counters at zero, as Prometheus's
/// instrumentation guide advises: an alert on `rate(...)` or `increase(...)` works from the
/// start instead of after the first event, and a dashboard shows 0, not "no data". Label
/// values known in advance (the outcomes, the step types) get their series too; the
/// per-workflow and per-reason series still appear with their first count (their values are
/// open-ended). Call once, after the recorder is installed and before serving.
pub fn register() {
    for name in [ACCEPTED, DUPLICATE, REJECTIONS] {
        metrics::counter!(name).increment(0);
    }
    metrics::gauge!(WAITING).set(0.0);
    for outcome in OUTCOMES {
        metrics::counter!(EXECUTIONS, "outcome" => outcome).increment(0);
    }
    for kind in crate::domain::Step::KINDS {
        metrics::counter!(STEP_FAILURES, "type" => kind).increment(0);
    }
    for name in [ACCEPT_SECONDS, EXECUTION_SECONDS] {
        // Registered, not recorded: no observation is made up.
        let _ = metrics::histogram!(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    #[test]
    fn every_family_is_there_from_the_first_scrape_at_zero() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, register);
        let text = handle.render();
        let mut lines = vec![
            "webhook_accepted_total 0".to_owned(),
            "webhook_duplicate_total 0".to_owned(),
            "webhook_rejections_total 0".to_owned(),
            "workflow_executions_waiting 0".to_owned(),
        ];
        lines.extend(
            OUTCOMES
                .iter()
                .map(|o| format!("workflow_executions_total{{outcome=\"{o}\"}} 0")),
        );
        lines.extend(
            crate::domain::Step::KINDS
                .iter()
                .map(|k| format!("workflow_step_failures_total{{type=\"{k}\"}} 0")),
        );
        for line in lines {
            assert!(text.contains(&line), "{line} missing in:\n{text}");
        }
        for family in [ACCEPT_SECONDS, EXECUTION_SECONDS] {
            assert!(
                text.contains(&format!("{family}_count 0")),
                "{family} in:\n{text}"
            );
        }
    }

    #[test]
    fn recorded_values_come_out_under_their_names_and_labels() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let wf = WorkflowId::parse("wf_metrics_test").unwrap();
        metrics::with_local_recorder(&recorder, || {
            accepted(&wf, false);
            accepted(&wf, true);
            rejected("invalid_api_key");
            rejected_by_workflow(&wf, RejectionReason::Auth);
            execution_finished(&wf, "filtered");
            step_failed(&wf, "http_request");
        });
        let text = handle.render();
        for line in [
            "webhook_accepted_total 1",
            "webhook_duplicate_total 1",
            "webhook_rejected_total{reason=\"invalid_api_key\"} 1",
            "webhook_rejections_total 1",
            "workflow_executions_total{outcome=\"filtered\"} 1",
            "workflow_step_failures_total{type=\"http_request\"} 1",
            "webhook_accepted_by_workflow_total{workflow=\"wf_metrics_test\"} 1",
            "webhook_duplicate_by_workflow_total{workflow=\"wf_metrics_test\"} 1",
            "webhook_rejected_by_workflow_total{workflow=\"wf_metrics_test\",reason=\"auth\"} 1",
            "workflow_executions_by_workflow_total{workflow=\"wf_metrics_test\",outcome=\"filtered\"} 1",
            "workflow_step_failures_by_workflow_total{workflow=\"wf_metrics_test\",type=\"http_request\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing in:\n{text}");
        }
        // The aggregates keep exactly the labels the alarms and dashboards name.
        assert!(!text.contains("webhook_accepted_total{"), "{text}");
        assert!(
            !text.contains("workflow_executions_total{workflow"),
            "{text}"
        );
    }

    /// Nothing lists the step types but `Step::KINDS` (which `register` also reads): each of
    /// them, the control-flow ones included, comes out as its own `type` value.
    #[test]
    fn every_step_type_is_a_label_of_the_step_failures() {
        use crate::domain::Step;
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let wf = WorkflowId::parse("wf_kinds_test").unwrap();
        metrics::with_local_recorder(&recorder, || {
            for kind in Step::KINDS {
                step_failed(&wf, kind);
            }
        });
        let text = handle.render();
        for kind in ["branch", "stop", "for_each"] {
            assert!(Step::KINDS.contains(&kind), "{kind}");
        }
        for kind in Step::KINDS {
            for line in [
                format!("workflow_step_failures_total{{type=\"{kind}\"}} 1"),
                format!(
                    "workflow_step_failures_by_workflow_total{{workflow=\"wf_kinds_test\",type=\"{kind}\"}} 1"
                ),
            ] {
                assert!(text.contains(&line), "{line} missing in:\n{text}");
            }
        }
    }

    #[test]
    fn past_the_limit_workflows_are_labelled_other_and_off_means_no_label() {
        let labels = WorkflowLabels::new(true, 2);
        let id = |n: u32| WorkflowId::parse(&format!("wf_{n}")).unwrap();
        assert_eq!(labels.label(&id(1)).as_deref(), Some("wf_1"));
        assert_eq!(labels.label(&id(2)).as_deref(), Some("wf_2"));
        assert_eq!(labels.label(&id(3)).as_deref(), Some(OTHER_WORKFLOWS));
        assert_eq!(
            labels.label(&id(1)).as_deref(),
            Some("wf_1"),
            "one seen before the limit keeps its own label"
        );
        assert_eq!(labels.label(&id(4)).as_deref(), Some(OTHER_WORKFLOWS));

        let off = WorkflowLabels::new(false, 100);
        assert_eq!(off.label(&id(1)), None);
    }
}
