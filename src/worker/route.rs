//! Where a run goes after a finished step, decided from the definition and the step's
//! record alone: the live run, a resumed run and a loop's items all walk their list with it,
//! so a redelivered execution follows the same path the first delivery took.

use serde_json::Value;

use crate::domain::step::{Target, target};
use crate::domain::{Step, StepRecord, StepStatus, WorkflowStep};

#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Run the step at this index of the list next.
    To(usize),
    /// The list ran to its end.
    Complete,
    /// A `filter` said no.
    Filtered,
    /// A `stop` step; its rendered reason.
    Stopped(Value),
    /// A step failed with nowhere to go: the run fails with this message.
    Fail(String),
}

/// The route after `record`, the finished record of `steps[index]`.
pub fn after(steps: &[WorkflowStep], index: usize, record: &StepRecord) -> Route {
    let step = &steps[index];
    let then = || match &step.next {
        Some(target) => to(steps, target),
        None if index + 1 < steps.len() => Route::To(index + 1),
        None => Route::Complete,
    };
    match record.status {
        // The step's outcome chose where to go (an approval denied, a timeout).
        StepStatus::Succeeded if record.next.is_some() => to(
            steps,
            &Target::from_name(record.next.clone().unwrap_or_default()),
        ),
        StepStatus::Succeeded => match &step.action {
            Step::Branch(_) => {
                let chosen = record
                    .output
                    .as_ref()
                    .and_then(|o| o.get("next"))
                    .and_then(Value::as_str)
                    .map(|name| Target::from_name(name.to_owned()));
                match chosen {
                    Some(target) => to(steps, &target),
                    None => Route::Fail(format!(
                        "step {:?} (branch) has no recorded target",
                        step.id
                    )),
                }
            }
            _ => then(),
        },
        StepStatus::Filtered => Route::Filtered,
        StepStatus::Stopped => Route::Stopped(
            record
                .output
                .as_ref()
                .and_then(|o| o.get("reason"))
                .cloned()
                .unwrap_or(Value::Null),
        ),
        StepStatus::Failed => match &step.on_error {
            Some(target) => to(steps, target),
            None if record.continued => then(),
            None => Route::Fail(format!(
                "step \"{}\" ({}) failed: {}",
                step.id,
                record.kind,
                record.error.as_deref().unwrap_or_default()
            )),
        },
        // The caller stops at a retrying or waiting record before asking where it leads.
        StepStatus::Retrying => Route::Fail(format!("step {:?} is still to be retried", step.id)),
        StepStatus::Waiting => Route::Fail(format!("step {:?} is still waiting", step.id)),
    }
}

fn to(steps: &[WorkflowStep], target: &Target) -> Route {
    match target {
        Target::End => Route::Complete,
        Target::Step(id) => match target::resolve(steps, target) {
            Some(index) => Route::To(index),
            None => Route::Fail(format!("no step {id:?} to go to")),
        },
    }
}

/// Where a list's run stands after its finished records: the route out of the last one (or
/// the first step when there is none), and the last successful output.
pub struct Resume {
    pub route: Route,
    pub last_output: Value,
}

/// Folds `records` (in the order they ran) into `record` calls on the context, and says where
/// the run goes on. A record that is not final (a step to retry) ends the fold: that step
/// runs again.
pub fn resume(
    steps: &[WorkflowStep],
    records: &[StepRecord],
    mut record: impl FnMut(&StepRecord),
) -> Resume {
    let mut route = if steps.is_empty() {
        Route::Complete
    } else {
        Route::To(0)
    };
    let mut last_output = Value::Null;
    for finished in records.iter().take_while(|r| r.is_final()) {
        let Some(index) = steps.iter().position(|s| s.id == finished.id) else {
            route = Route::Fail(format!(
                "the execution's record of step {:?} matches no step of its definition",
                finished.id
            ));
            break;
        };
        record(finished);
        if finished.status == StepStatus::Succeeded {
            last_output = finished.output.clone().unwrap_or(Value::Null);
        }
        route = after(steps, index, finished);
        if !matches!(route, Route::To(_)) {
            break;
        }
    }
    Resume { route, last_output }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn steps(v: Value) -> Vec<WorkflowStep> {
        let mut steps: Vec<WorkflowStep> = serde_json::from_value(v).unwrap();
        crate::domain::step::number_steps(&mut steps);
        steps
    }

    fn rec(id: &str, status: StepStatus, output: Value) -> StepRecord {
        let now = chrono::Utc::now();
        StepRecord {
            id: id.into(),
            path: None,
            kind: "x".into(),
            status,
            attempts: 1,
            started_at: now,
            finished_at: now,
            request: None,
            output: Some(output),
            error: (status == StepStatus::Failed).then(|| "boom".into()),
            continued: false,
            next: None,
        }
    }

    #[test]
    fn a_branch_goes_where_its_record_says_and_failures_follow_on_error() {
        let s = steps(json!([
            {"id": "route", "type": "branch", "cases": [{"when": "true", "next": "b"}], "default": "end"},
            {"id": "a", "type": "echo"},
            {"id": "b", "type": "echo", "on_error": "d", "next": "end"},
            {"id": "d", "type": "echo"},
        ]));
        let branch = rec(
            "route",
            StepStatus::Succeeded,
            json!({"matched": 0, "next": "b"}),
        );
        assert_eq!(after(&s, 0, &branch), Route::To(2));
        let default = rec("route", StepStatus::Succeeded, json!({"next": "end"}));
        assert_eq!(after(&s, 0, &default), Route::Complete);
        assert_eq!(
            after(&s, 2, &rec("b", StepStatus::Succeeded, json!(1))),
            Route::Complete
        );
        assert_eq!(
            after(&s, 2, &rec("b", StepStatus::Failed, json!(null))),
            Route::To(3)
        );
        let Route::Fail(message) = after(&s, 1, &rec("a", StepStatus::Failed, json!(null))) else {
            panic!("a failure without on_error fails the run")
        };
        assert!(message.contains("boom"), "{message}");
    }

    #[test]
    fn resume_follows_the_records_not_their_count() {
        let s = steps(json!([
            {"id": "route", "type": "branch", "cases": [{"when": "true", "next": "c"}], "default": "end"},
            {"id": "b", "type": "echo"},
            {"id": "c", "type": "echo"},
            {"id": "d", "type": "echo"},
        ]));
        let mut seen = Vec::new();
        let records = [
            rec("route", StepStatus::Succeeded, json!({"next": "c"})),
            rec("c", StepStatus::Succeeded, json!("C")),
        ];
        let r = resume(&s, &records, |r| seen.push(r.id.clone()));
        assert_eq!(r.route, Route::To(3), "after c comes d, not b");
        assert_eq!(r.last_output, json!("C"));
        assert_eq!(seen, ["route", "c"]);

        let retrying = [
            rec("route", StepStatus::Succeeded, json!({"next": "c"})),
            rec("c", StepStatus::Retrying, json!(null)),
        ];
        assert_eq!(resume(&s, &retrying, |_| {}).route, Route::To(2));
    }
}
