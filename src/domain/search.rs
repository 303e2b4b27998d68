//! Which executions an operator is looking for: a status, a time range, and text or a
//! `path=value` inside the payload, headers or query. Pure matching over one record; how many
//! records are read to find them is the use case's business (`app::search`).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::execution::{Execution, ExecutionStatus};

/// Longest `q` accepted: a search term, not a document.
pub const MAX_QUERY_CHARS: usize = 500;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutionFilter {
    pub status: Option<ExecutionStatus>,
    /// Received at or after.
    pub since: Option<DateTime<Utc>>,
    /// Received at or before.
    pub until: Option<DateTime<Utc>>,
    pub query: Option<PayloadQuery>,
}

/// What `q` asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadQuery {
    /// Lower-cased; found in any string, number or key of the body, or in any header or
    /// query value, ignoring case.
    Text(String),
    /// The value at `path` under `root` equals `value` (a string as is; a number, boolean or
    /// null as its JSON text).
    Path {
        root: Root,
        path: Vec<Segment>,
        value: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Body,
    Headers,
    Query,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

impl PayloadQuery {
    /// `body.alerts[0].name=disk`, `headers.x-source=ci`, `query.x=1`; anything else (even
    /// with an `=`) is text. A path that names a root but cannot be read is an error, so a
    /// typo is not silently taken for text.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(format!("q is longer than {MAX_QUERY_CHARS} characters"));
        }
        let text = || Self::Text(raw.to_lowercase());
        let Some((left, value)) = raw.split_once('=') else {
            return Ok(text());
        };
        let left = left.trim();
        let (root, rest) = if let Some(rest) = left.strip_prefix("body") {
            (Root::Body, rest)
        } else if let Some(rest) = left.strip_prefix("headers") {
            (Root::Headers, rest)
        } else if let Some(rest) = left.strip_prefix("query") {
            (Root::Query, rest)
        } else {
            return Ok(text());
        };
        if !(rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')) {
            return Ok(text());
        }
        let path = parse_path(rest).map_err(|e| format!("q {left:?}: {e}"))?;
        match root {
            Root::Headers | Root::Query if path.len() != 1 => {
                return Err(format!(
                    "q {left:?}: headers and query take one name, e.g. headers.x-source=ci"
                ));
            }
            _ => {}
        }
        Ok(Self::Path {
            root,
            path,
            value: value.to_owned(),
        })
    }

    pub fn matches(&self, execution: &Execution) -> bool {
        match self {
            Self::Text(needle) => {
                contains_text(&execution.payload, needle)
                    || execution
                        .request
                        .headers
                        .values()
                        .chain(execution.request.query.values())
                        .any(|v| v.to_lowercase().contains(needle.as_str()))
            }
            Self::Path { root, path, value } => match root {
                Root::Body => lookup(&execution.payload, path).is_some_and(|v| equals(v, value)),
                Root::Headers => single_key(path).is_some_and(|name| {
                    execution
                        .request
                        .headers
                        .get(&name.to_ascii_lowercase())
                        .is_some_and(|v| v == value)
                }),
                Root::Query => single_key(path)
                    .is_some_and(|name| execution.request.query.get(name) == Some(value)),
            },
        }
    }
}

impl ExecutionFilter {
    pub fn matches(&self, execution: &Execution) -> bool {
        self.status.is_none_or(|s| execution.status == s)
            && self.since.is_none_or(|t| execution.received_at >= t)
            && self.until.is_none_or(|t| execution.received_at <= t)
            && self.query.as_ref().is_none_or(|q| q.matches(execution))
    }

    /// Whether anything beyond a status is asked for (a plain status listing needs no scan).
    pub fn needs_scan(&self) -> bool {
        self.since.is_some() || self.until.is_some() || self.query.is_some()
    }
}

fn single_key(path: &[Segment]) -> Option<&str> {
    match path {
        [Segment::Key(name)] => Some(name),
        _ => None,
    }
}

/// `.a.b[0]["c.d"]` (the part after the root).
fn parse_path(mut rest: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            if key.is_empty() {
                return Err("an empty name after '.'".into());
            }
            segments.push(Segment::Key(key.to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after
                .find(']')
                .ok_or_else(|| "a '[' without its ']'".to_owned())?;
            let inner = &after[..end];
            let segment =
                if let Some(quoted) = inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                    Segment::Key(quoted.to_owned())
                } else {
                    Segment::Index(
                        inner.parse().map_err(|_| {
                            format!("[{inner}] is neither an index nor a quoted name")
                        })?,
                    )
                };
            segments.push(segment);
            rest = &after[end + 1..];
        } else {
            return Err(format!("unexpected {rest:?}; write a.b[0] or [\"a b\"]"));
        }
    }
    if segments.is_empty() {
        return Err("name a field, e.g. body.alerts[0].name=disk".into());
    }
    Ok(segments)
}

fn lookup<'a>(value: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, segment| match segment {
        Segment::Key(key) => v.get(key.as_str()),
        Segment::Index(i) => v.get(*i),
    })
}

fn equals(found: &Value, wanted: &str) -> bool {
    match found {
        Value::String(s) => s == wanted,
        Value::Number(_) | Value::Bool(_) | Value::Null => {
            serde_json::from_str::<Value>(wanted).is_ok_and(|w| w == *found)
        }
        Value::Array(_) | Value::Object(_) => false,
    }
}

fn contains_text(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(s) => s.to_lowercase().contains(needle),
        Value::Number(_) | Value::Bool(_) => value.to_string().contains(needle),
        Value::Null => false,
        Value::Array(items) => items.iter().any(|v| contains_text(v, needle)),
        Value::Object(fields) => fields
            .iter()
            .any(|(k, v)| k.to_lowercase().contains(needle) || contains_text(v, needle)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{RequestMeta, TriggerMeta, WorkflowId};
    use serde_json::json;

    fn execution(body: Value, headers: &[(&str, &str)], query: &[(&str, &str)]) -> Execution {
        Execution::new(
            WorkflowId::generate(),
            TriggerMeta::ReplayOf {
                original: crate::domain::ExecutionId::generate(),
            },
            body,
            Utc::now(),
            chrono::Duration::days(1),
        )
        .with_request(RequestMeta::capture(
            headers.iter().copied(),
            query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        ))
    }

    fn q(raw: &str) -> PayloadQuery {
        PayloadQuery::parse(raw).unwrap()
    }

    #[test]
    fn a_path_finds_the_value_it_names() {
        let e = execution(
            json!({"alerts": [{"name": "disk", "level": 3, "ok": false}], "a b": {"c": "x"}}),
            &[("X-Source", "ci")],
            &[("x", "1")],
        );
        for hit in [
            "body.alerts[0].name=disk",
            "body.alerts[0].level=3",
            "body.alerts[0].ok=false",
            "body[\"a b\"].c=x",
            "headers.x-source=ci",
            "headers.X-Source=ci",
            "query.x=1",
        ] {
            assert!(q(hit).matches(&e), "{hit}");
        }
        for miss in [
            "body.alerts[0].name=Disk",
            "body.alerts[1].name=disk",
            "body.alerts=disk",
            "headers.x-source=cd",
            "query.x=2",
            "query.y=1",
        ] {
            assert!(!q(miss).matches(&e), "{miss}");
        }
    }

    #[test]
    fn text_is_a_substring_of_the_body_or_header_values_ignoring_case() {
        let e = execution(
            json!({"alerts": [{"name": "Disk Full", "count": 42}]}),
            &[("user-agent", "GitHub-Hookshot/1")],
            &[],
        );
        for hit in ["disk full", "DISK", "42", "alerts", "hookshot", "a=b"] {
            let matched = q(hit).matches(&e);
            assert_eq!(matched, hit != "a=b", "{hit}");
        }
        assert!(
            !q("user-agent").matches(&e),
            "header names are not searched"
        );
    }

    #[test]
    fn a_bad_path_is_refused_and_other_equals_signs_are_text() {
        for bad in [
            "body.=x",
            "body[x]=1",
            "body[0=1",
            "body=1",
            "headers.a.b=1",
        ] {
            assert!(PayloadQuery::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(q("bodyguard=1"), PayloadQuery::Text("bodyguard=1".into()));
        assert_eq!(q("x=1"), PayloadQuery::Text("x=1".into()));
        assert!(PayloadQuery::parse(&"a".repeat(MAX_QUERY_CHARS + 1)).is_err());
    }

    #[test]
    fn the_filter_checks_status_and_time_range() {
        let e = execution(json!({}), &[], &[]);
        let at = e.received_at;
        let filter = |status, since, until| ExecutionFilter {
            status,
            since,
            until,
            query: None,
        };
        assert!(filter(Some(ExecutionStatus::Queued), Some(at), Some(at)).matches(&e));
        assert!(!filter(Some(ExecutionStatus::Failed), None, None).matches(&e));
        let later = at + chrono::Duration::seconds(1);
        assert!(!filter(None, Some(later), None).matches(&e));
        let earlier = at - chrono::Duration::seconds(1);
        assert!(!filter(None, None, Some(earlier)).matches(&e));
    }
}
