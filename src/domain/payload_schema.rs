//! A workflow's `payload_schema`: the JSON Schema (2020-12) a trigger body must match before
//! anything is stored. Compiled once per loaded workflow and shared by every request that
//! reads the same loaded copy (the per-process workflow cache), so a request pays for a
//! validation, never for a compilation.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// At most this many failures are reported for one body: enough to fix a sender, bounded so
/// a hostile body cannot make the answer (or the work) grow with its size.
pub const MAX_PAYLOAD_DETAILS: usize = 10;

/// Longest message of one failure; the validator's own wording can quote a whole subschema.
const MAX_DETAIL_CHARS: usize = 300;

/// Compiled patterns are bounded so that an operator's schema cannot make one compilation
/// (and the memory each cached copy holds) large.
const MAX_PATTERN_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a usable JSON Schema: {0}")]
pub struct InvalidPayloadSchema(String);

/// One way the body failed the schema: where (a JSON pointer into the body, `""` for the
/// body itself) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadProblem {
    pub pointer: String,
    pub message: String,
}

/// A schema, with its compiled validator built on first use.
#[derive(Clone)]
pub struct PayloadSchema {
    schema: Arc<Map<String, Value>>,
    compiled: Arc<OnceLock<Result<jsonschema::Validator, InvalidPayloadSchema>>>,
}

impl PayloadSchema {
    /// Compiles `schema` now, so a definition with a schema that cannot be used is refused
    /// before it is stored.
    pub fn new(schema: Map<String, Value>) -> Result<Self, InvalidPayloadSchema> {
        let loaded = Self::unchecked(schema);
        loaded.validator()?;
        Ok(loaded)
    }

    /// A stored schema, compiled when a body first needs it (a worker reading the workflow
    /// never does).
    fn unchecked(schema: Map<String, Value>) -> Self {
        Self {
            schema: Arc::new(schema),
            compiled: Arc::new(OnceLock::new()),
        }
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.schema
    }

    fn validator(&self) -> Result<&jsonschema::Validator, InvalidPayloadSchema> {
        self.compiled
            .get_or_init(|| compile(&self.schema))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The body's failures, at most [`MAX_PAYLOAD_DETAILS`], in the validator's order; empty
    /// when it matches. A stored schema that no longer compiles is the operator's problem and
    /// is returned as such.
    pub fn check(&self, payload: &Value) -> Result<Vec<PayloadProblem>, InvalidPayloadSchema> {
        let validator = self.validator()?;
        // The common case, a valid body, stops at the first answer without building errors.
        if validator.is_valid(payload) {
            return Ok(Vec::new());
        }
        Ok(validator
            .iter_errors(payload)
            .take(MAX_PAYLOAD_DETAILS)
            .map(|e| PayloadProblem {
                pointer: e.instance_path().as_str().to_owned(),
                // Masked: the failure says what was expected, without quoting the body back.
                message: bounded(e.masked().to_string()),
            })
            .collect())
    }
}

fn compile(schema: &Map<String, Value>) -> Result<jsonschema::Validator, InvalidPayloadSchema> {
    jsonschema::options()
        // The default when the schema names no `$schema`.
        .with_draft(jsonschema::Draft::Draft202012)
        // A `$ref` to anything outside the schema itself is refused, never fetched: the
        // service must not call a URL an operator's document names (the crate is built
        // without its HTTP and file retrievers as well).
        .offline()
        // `format` is checked, not only annotated: a sender's `"email": "x"` is refused.
        .should_validate_formats(true)
        // Linear-time patterns: a body chosen by a caller cannot make one backtrack for long.
        .with_pattern_options(jsonschema::PatternOptions::regex().size_limit(MAX_PATTERN_BYTES))
        .build(&Value::Object(schema.clone()))
        .map_err(|e| InvalidPayloadSchema(bounded(e.to_string())))
}

fn bounded(mut message: String) -> String {
    if let Some((cut, _)) = message.char_indices().nth(MAX_DETAIL_CHARS) {
        message.truncate(cut);
        message.push('…');
    }
    message
}

impl fmt::Debug for PayloadSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PayloadSchema").field(&self.schema).finish()
    }
}

/// Two schemas are the same when their documents are; the compiled copy follows from it.
impl PartialEq for PayloadSchema {
    fn eq(&self, other: &Self) -> bool {
        self.schema == other.schema
    }
}

impl Eq for PayloadSchema {}

impl Serialize for PayloadSchema {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.schema.serialize(serializer)
    }
}

/// A stored record: it was checked when saved, so it is read as it is and compiled lazily.
impl<'de> Deserialize<'de> for PayloadSchema {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Map::deserialize(deserializer).map(Self::unchecked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn alert_schema() -> PayloadSchema {
        PayloadSchema::new(schema(json!({
            "type": "object",
            "required": ["source", "alerts"],
            "properties": {
                "source": {"type": "string"},
                "alerts": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "severity"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "severity": {"enum": ["info", "warning", "critical"]},
                            "contact": {"type": "string", "format": "email"}
                        }
                    }
                }
            }
        })))
        .unwrap()
    }

    #[test]
    fn a_matching_body_has_no_problems() {
        let body = json!({"source": "mon", "alerts": [{"name": "disk", "severity": "critical"}]});
        assert_eq!(alert_schema().check(&body).unwrap(), []);
    }

    #[test]
    fn failures_name_their_pointer_and_what_was_expected() {
        let body = json!({"alerts": [{"name": "", "severity": "loud", "contact": "nobody"}]});
        let problems = alert_schema().check(&body).unwrap();
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert!(pointers.contains(&""), "{problems:?}");
        assert!(pointers.contains(&"/alerts/0/name"), "{problems:?}");
        assert!(pointers.contains(&"/alerts/0/severity"), "{problems:?}");
        assert!(
            pointers.contains(&"/alerts/0/contact"),
            "formats are checked: {problems:?}"
        );
        let required = problems.iter().find(|p| p.pointer.is_empty()).unwrap();
        assert!(required.message.contains("source"), "{required:?}");
    }

    #[test]
    fn failures_do_not_quote_the_body() {
        let body =
            json!({"source": "s", "alerts": [{"name": "x", "severity": "secret-token-123"}]});
        let problems = alert_schema().check(&body).unwrap();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            !problems[0].message.contains("secret-token-123"),
            "{problems:?}"
        );
    }

    #[test]
    fn at_most_ten_failures_are_reported() {
        let items: Vec<Value> = (0..50).map(|_| json!({})).collect();
        let body = json!({"source": "s", "alerts": items});
        let problems = alert_schema().check(&body).unwrap();
        assert_eq!(problems.len(), MAX_PAYLOAD_DETAILS);
    }

    #[test]
    fn an_unusable_schema_is_refused_when_loaded() {
        for bad in [
            json!({"type": "strng"}),
            json!({"minLength": -1}),
            json!({"pattern": "(unclosed"}),
            // Look-around needs backtracking, which a caller's body could make slow.
            json!({"pattern": "^(?=a)"}),
        ] {
            assert!(PayloadSchema::new(schema(bad.clone())).is_err(), "{bad}");
        }
    }

    /// The `$ref` points at a listener on loopback: if the validator fetched it, the listener
    /// would see a connection.
    #[test]
    fn a_remote_ref_is_refused_at_load_and_never_fetched() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/alert.json", listener.local_addr().unwrap());
        for doc in [
            json!({"$ref": url}),
            json!({"type": "object", "properties": {"a": {"$ref": url}}}),
        ] {
            let err = PayloadSchema::new(schema(doc.clone())).unwrap_err();
            assert!(err.to_string().contains(&url), "{err}");
        }
        // An unknown meta-schema is not fetched either: the document is read as 2020-12.
        let s = PayloadSchema::new(schema(json!({"$schema": url, "type": "object"}))).unwrap();
        assert!(!s.check(&json!([])).unwrap().is_empty());
        let err = PayloadSchema::new(schema(json!({"$ref": "file:///etc/passwd"}))).unwrap_err();
        assert!(!err.to_string().contains("root:"), "{err}");
        match listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            other => panic!("the validator connected to the $ref's host: {other:?}"),
        }
    }

    #[test]
    fn local_refs_work() {
        let s = PayloadSchema::new(schema(json!({
            "$defs": {"name": {"type": "string"}},
            "type": "object",
            "properties": {"name": {"$ref": "#/$defs/name"}}
        })))
        .unwrap();
        assert_eq!(s.check(&json!({"name": "x"})).unwrap(), []);
        assert_eq!(s.check(&json!({"name": 1})).unwrap()[0].pointer, "/name");
    }

    #[test]
    fn a_stored_schema_reads_back_and_compiles_once_per_loaded_copy() {
        let s = alert_schema();
        let text = serde_json::to_string(&s).unwrap();
        let read: PayloadSchema = serde_json::from_str(&text).unwrap();
        assert_eq!(read, s);
        assert!(read.compiled.get().is_none(), "compiled lazily");
        let copy = read.clone();
        copy.check(&json!({})).unwrap();
        assert!(
            read.compiled.get().is_some(),
            "clones share the compiled validator"
        );
    }

    #[test]
    fn a_stored_schema_that_no_longer_compiles_says_so() {
        let read: PayloadSchema = serde_json::from_value(json!({"type": "strng"})).unwrap();
        assert!(read.check(&json!({})).is_err());
    }
}
