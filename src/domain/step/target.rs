//! Where a workflow goes after a step: `next`, `on_error`, a branch's cases and `default`.
//! Targets only point forward (to a step below) or to `end`, so every run terminates and the
//! steps an execution took form a list.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A step id, or `end` (written as the word `end`; no step may take that id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Step(String),
    End,
}

pub const END: &str = "end";

impl Target {
    pub fn from_name(name: String) -> Self {
        if name == END {
            Self::End
        } else {
            Self::Step(name)
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Step(id) => id,
            Self::End => END,
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from_name)
    }
}

/// A string: the schema cannot know which step ids exist (the loader checks that).
impl schemars::JsonSchema for Target {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Target".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A step id below this step, or `end`.",
            "minLength": 1,
            "examples": [END],
        })
    }
}

/// Resolves a target within one step list: the index it names, `None` for `end`.
pub fn resolve(steps: &[super::WorkflowStep], target: &Target) -> Option<usize> {
    match target {
        Target::End => None,
        Target::Step(id) => steps.iter().position(|s| s.id == *id),
    }
}
