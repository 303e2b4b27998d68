//! Identifiers that can only be built valid, so the rest of the code never re-checks them.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {kind}: {reason}")]
pub struct InvalidId {
    pub kind: &'static str,
    pub reason: String,
}

/// Workflow ids appear in URLs and store keys, so they are limited to URL- and key-safe
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkflowId(String);

impl WorkflowId {
    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        parse_token(raw, "workflow id", 64).map(Self)
    }

    /// A new id: `wf_` and a ULID, lowercase so it reads well in a URL.
    pub fn generate() -> Self {
        Self(format!(
            "wf_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WorkflowId {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<WorkflowId> for String {
    fn from(id: WorkflowId) -> Self {
        id.0
    }
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Execution ids are ULIDs: their string order is their creation order, which gives
/// newest-first listings from a plain range query on every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutionId(ulid::Ulid);

/// ULIDs made in the same millisecond are random in their low bits, so two executions accepted
/// in one millisecond would list in either order; one process-wide monotonic generator keeps
/// "newest first" true for every execution this process creates.
static EXECUTION_IDS: std::sync::Mutex<ulid::Generator> =
    std::sync::Mutex::new(ulid::Generator::new());

impl ExecutionId {
    pub fn generate() -> Self {
        let mut generator = EXECUTION_IDS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Overflow needs 2^80 ids in one millisecond; a plain ULID is still unique then.
        Self(generator.generate().unwrap_or_else(|_| ulid::Ulid::new()))
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        ulid::Ulid::from_string(raw)
            .map(Self)
            .map_err(|e| InvalidId {
                kind: "execution id",
                reason: e.to_string(),
            })
    }

    pub fn from_ulid(ulid: ulid::Ulid) -> Self {
        Self(ulid)
    }

    /// The lowest id made after `at`'s millisecond: every execution created at or before
    /// `at` has a smaller id, so a newest-first listing "before" it starts at `at`.
    pub fn after_time(at: chrono::DateTime<chrono::Utc>) -> Self {
        let ms = u64::try_from(at.timestamp_millis())
            .unwrap_or(0)
            .saturating_add(1);
        Self(ulid::Ulid::from_parts(ms, 0))
    }
}

impl TryFrom<String> for ExecutionId {
    type Error = InvalidId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ExecutionId> for String {
    fn from(id: ExecutionId) -> Self {
        id.0.to_string()
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Shared rule for names that end up in URLs and store keys: 1..=max of `[A-Za-z0-9_.-]`.
pub(crate) fn parse_token(raw: &str, kind: &'static str, max: usize) -> Result<String, InvalidId> {
    let invalid = |reason: String| InvalidId { kind, reason };
    if raw.is_empty() {
        return Err(invalid("must not be empty".into()));
    }
    if raw.len() > max {
        return Err(invalid(format!("must be at most {max} characters")));
    }
    if let Some(c) = raw
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(invalid(format!(
            "character {c:?} is not allowed (use letters, digits, '_', '-', '.')"
        )));
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_up_to_a_time_sort_below_its_bound() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T10:00:00.123Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let ms = at.timestamp_millis() as u64;
        let bound = ExecutionId::after_time(at);
        let last_of_that_ms = ExecutionId::from_ulid(ulid::Ulid::from_parts(ms, u128::MAX));
        let first_after = ExecutionId::from_ulid(ulid::Ulid::from_parts(ms + 1, 1));
        assert!(last_of_that_ms < bound && bound < first_after);
    }

    #[test]
    fn workflow_id_rejects_path_characters() {
        assert!(WorkflowId::parse("a/b").is_err());
        assert!(WorkflowId::parse("").is_err());
        assert!(WorkflowId::parse(&"x".repeat(65)).is_err());
        assert_eq!(WorkflowId::parse("wf_1-a.b").unwrap().as_str(), "wf_1-a.b");
    }

    #[test]
    fn generated_workflow_ids_are_valid() {
        let id = WorkflowId::generate();
        assert_eq!(WorkflowId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn execution_ids_made_in_the_same_millisecond_still_sort_by_creation() {
        let ids: Vec<ExecutionId> = (0..2000).map(|_| ExecutionId::generate()).collect();
        assert!(ids.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn execution_ids_sort_by_creation() {
        let a = ExecutionId::from_ulid(ulid::Ulid::from_parts(1, 5));
        let b = ExecutionId::from_ulid(ulid::Ulid::from_parts(2, 0));
        assert!(a.to_string() < b.to_string());
        assert_eq!(ExecutionId::parse(&b.to_string()).unwrap(), b);
        assert!(ExecutionId::parse("not-a-ulid").is_err());
    }
}
