//! The copy of its steps an execution keeps (see `Execution::definition`). Every write of the
//! execution stores it, so it is shared rather than cloned (`Arc`), and its JSON is made once
//! and reused by every later write: the worker builds one per workflow it has cached, and a
//! fresh execution's claim, step records and finish all write the same text.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::de::Deserializer;
use serde::ser::{Error as _, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::step::WorkflowStep;

#[derive(Debug, Clone)]
pub struct Definition(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    steps: Vec<WorkflowStep>,
    json: OnceLock<Box<RawValue>>,
}

impl Definition {
    pub fn new(steps: Vec<WorkflowStep>) -> Self {
        Self(Arc::new(Inner {
            steps,
            json: OnceLock::new(),
        }))
    }

    fn json(&self) -> Result<&RawValue, serde_json::Error> {
        if let Some(json) = self.0.json.get() {
            return Ok(json);
        }
        let made = serde_json::value::to_raw_value(&self.0.steps)?;
        Ok(self.0.json.get_or_init(|| made))
    }
}

impl Deref for Definition {
    type Target = [WorkflowStep];
    fn deref(&self) -> &[WorkflowStep] {
        &self.0.steps
    }
}

impl PartialEq for Definition {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.steps == other.0.steps
    }
}

impl Serialize for Definition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json().map_err(S::Error::custom)?.serialize(serializer)
    }
}

/// Read as plain steps (the JSON is made again on the next write), so that any serde format
/// can read it, not only JSON text.
impl<'de> Deserialize<'de> for Definition {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::step::deserialize_numbered(deserializer).map(Self::new)
    }
}

impl From<Vec<WorkflowStep>> for Definition {
    fn from(steps: Vec<WorkflowStep>) -> Self {
        Self::new(steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn it_writes_the_steps_as_the_workflow_does_and_reads_them_back() {
        let steps: Vec<WorkflowStep> = serde_json::from_value(json!([
            {"id": "a", "type": "echo", "next": "end"},
            {"id": "b", "type": "fail", "message": "x"}
        ]))
        .unwrap();
        let definition = Definition::new(steps.clone());
        let written = serde_json::to_value(&definition).unwrap();
        assert_eq!(written, serde_json::to_value(&steps).unwrap());
        assert_eq!(
            serde_json::to_string(&definition).unwrap(),
            serde_json::to_string(&steps).unwrap(),
            "a second write reuses the text"
        );
        let read: Definition = serde_json::from_value(written).unwrap();
        assert_eq!(read, definition);
        assert_eq!(read.len(), 2);
        assert!(
            Arc::ptr_eq(&definition.clone().0, &definition.0),
            "a clone shares the steps"
        );
    }
}
