//! The one template language of workflow steps: MiniJinja, applied structurally to JSON.
//!
//! A step's JSON value is walked; object keys stay literal. A string that is exactly
//! `{{ expr }}` yields the expression's typed value (number, bool, object, ...); any other
//! string holding template syntax is rendered as text; a plain string is kept as it is.
//! Because JSON is never assembled by concatenating text, a quote or newline coming from a
//! payload cannot change the shape of a rendered body.
//!
//! The environment has no loader (so `include`/`import`/`extends` find nothing), no custom
//! functions, strict undefined (a missing field is an error, not an empty string), a fuel
//! limit per evaluation and a cap on the total size of what one render produces.

use std::fmt;
use std::io;

use minijinja::{Environment, Error as JinjaError, ErrorKind, UndefinedBehavior};
use serde_json::{Map, Value};

/// Instructions one evaluation may run before it is stopped.
pub const DEFAULT_FUEL: u64 = 50_000;
/// Bytes one `render_value` / `render_str` may produce in total.
pub const DEFAULT_MAX_OUTPUT: usize = 1024 * 1024;

/// Why a template could not be compiled or rendered. `path` is the place inside the templated
/// JSON value (`headers.Authorization`, `items[2]`), empty for the value itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", display_with_path(path, message))]
pub struct TemplateError {
    pub path: String,
    pub message: String,
}

fn display_with_path(path: &str, message: &str) -> String {
    if path.is_empty() {
        message.to_owned()
    } else {
        format!("{path}: {message}")
    }
}

impl TemplateError {
    fn new(path: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

/// Joins a field path and a path relative to it: `steps[1]` + `headers.x` → `steps[1].headers.x`.
pub fn join_path(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (_, true) => prefix.to_owned(),
        _ if rest.starts_with('[') => format!("{prefix}{rest}"),
        _ => format!("{prefix}.{rest}"),
    }
}

fn key_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        join_path(parent, key)
    } else {
        // A key with dots or spaces would make the path ambiguous; quote it instead.
        format!("{parent}[{}]", Value::String(key.to_owned()))
    }
}

/// The variables a template sees (`trigger`, `steps`, `execution`), converted once so that
/// rendering many strings does not convert the payload again each time.
#[derive(Debug, Clone)]
pub struct TemplateContext(minijinja::Value);

impl TemplateContext {
    /// `vars` should be a JSON object; its keys become the template's top-level names.
    pub fn from_json(vars: &Value) -> Self {
        Self(minijinja::Value::from(minijinja::value::Serde(vars)))
    }

    /// Top-level names bound to values converted beforehand.
    pub fn from_vars<'a>(vars: impl IntoIterator<Item = (&'a str, TemplateValue)>) -> Self {
        let map: std::collections::BTreeMap<String, minijinja::Value> = vars
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.0))
            .collect();
        Self(minijinja::Value::from(map))
    }
}

/// A JSON value converted for templates once and shared by many contexts: converting is a
/// walk of the whole value, and a loop's items would otherwise each convert the trigger
/// (which holds the whole list) again. Cloning it is cheap.
#[derive(Debug, Clone)]
pub struct TemplateValue(minijinja::Value);

impl TemplateValue {
    pub fn from_json(value: &Value) -> Self {
        Self::from_serialize(value)
    }

    pub fn from_serialize<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        Self(minijinja::Value::from(minijinja::value::Serde(value)))
    }
}

/// Built once per process and shared (`Arc<TemplateEngine>`): compiling and rendering only
/// read it.
pub struct TemplateEngine {
    env: Environment<'static>,
    /// For conditions (`filter`, a branch's `when`): a missing field is undefined, and
    /// undefined compares unequal and is falsy, so events of one source that differ in shape
    /// (GitHub's ping has no `ref`) are routed instead of failing the execution.
    conditions: Environment<'static>,
    max_output: usize,
}

impl fmt::Debug for TemplateEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemplateEngine")
            .field("fuel", &self.env.fuel())
            .field("max_output", &self.max_output)
            .finish()
    }
}

impl Default for TemplateEngine {
    fn default() -> Self {
        Self::new()
    }
}

/// How a string of a templated value is treated.
enum Piece<'a> {
    Literal,
    /// The whole string is one `{{ expr }}`: the expression inside.
    Expression(&'a str),
    Text,
}

fn classify(s: &str) -> Piece<'_> {
    if !has_template_syntax(s) {
        return Piece::Literal;
    }
    if let Some(inner) = sole_expression(s) {
        return Piece::Expression(inner);
    }
    Piece::Text
}

fn has_template_syntax(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

/// The expression of a string that is exactly `{{ expr }}` (surrounding whitespace and `-`
/// whitespace control allowed).
fn sole_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    if has_template_syntax(inner) || inner.contains("}}") {
        return None;
    }
    Some(inner.trim())
}

/// An `io::Write` that refuses to grow past a budget, so a runaway template fails early
/// instead of filling memory.
struct CappedWriter<'a> {
    out: Vec<u8>,
    remaining: &'a mut usize,
    overflowed: bool,
}

impl io::Write for CappedWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > *self.remaining {
            self.overflowed = true;
            return Err(io::Error::other("template output too large"));
        }
        *self.remaining -= buf.len();
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl TemplateEngine {
    pub fn new() -> Self {
        Self::with_limits(DEFAULT_FUEL, DEFAULT_MAX_OUTPUT)
    }

    pub fn with_limits(fuel: u64, max_output: usize) -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(fuel));
        let mut conditions = Environment::new();
        conditions.set_undefined_behavior(UndefinedBehavior::Chainable);
        conditions.set_fuel(Some(fuel));
        Self {
            env,
            conditions,
            max_output,
        }
    }

    /// Compiles every string of a templated value; the error names where the bad one sits.
    pub fn check_value(&self, value: &Value) -> Result<(), TemplateError> {
        self.check_at(value, "")
    }

    fn check_at(&self, value: &Value, path: &str) -> Result<(), TemplateError> {
        match value {
            Value::String(s) => self.check_str_at(s, path),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| self.check_at(item, &format!("{path}[{i}]"))),
            Value::Object(map) => map
                .iter()
                .try_for_each(|(k, v)| self.check_at(v, &key_path(path, k))),
            _ => Ok(()),
        }
    }

    /// Compiles one templated string (text or a sole `{{ expr }}`).
    pub fn check_str(&self, source: &str) -> Result<(), TemplateError> {
        self.check_str_at(source, "")
    }

    fn check_str_at(&self, source: &str, path: &str) -> Result<(), TemplateError> {
        match classify(source) {
            Piece::Literal => Ok(()),
            Piece::Expression(expr) => self.env.compile_expression(expr).map(drop).map_err(|e| {
                TemplateError::new(path, compile_message(source, offset_in(source, expr), &e))
            }),
            Piece::Text => self
                .env
                .template_from_str(source)
                .map(drop)
                .map_err(|e| TemplateError::new(path, compile_message(source, 0, &e))),
        }
    }

    /// Checks a bare expression such as a filter's `when` (no `{{ }}` around it).
    pub fn check_expression(&self, expr: &str) -> Result<(), TemplateError> {
        if sole_expression(expr).is_some() {
            return Err(TemplateError::new(
                "",
                "write the expression without {{ }} around it",
            ));
        }
        if expr.trim().is_empty() {
            return Err(TemplateError::new("", "the expression is empty"));
        }
        self.env
            .compile_expression(expr)
            .map(drop)
            .map_err(|e| TemplateError::new("", compile_message(expr, 0, &e)))
    }

    /// Renders a templated value into plain JSON.
    pub fn render_value(
        &self,
        value: &Value,
        ctx: &TemplateContext,
    ) -> Result<Value, TemplateError> {
        let mut remaining = self.max_output;
        self.render_at(value, ctx, "", &mut remaining)
    }

    fn render_at(
        &self,
        value: &Value,
        ctx: &TemplateContext,
        path: &str,
        remaining: &mut usize,
    ) -> Result<Value, TemplateError> {
        match value {
            Value::String(s) => match classify(s) {
                Piece::Literal => Ok(value.clone()),
                Piece::Expression(expr) => self.eval_typed(expr, ctx, path, remaining),
                Piece::Text => self.render_text(s, ctx, path, remaining).map(Value::String),
            },
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| self.render_at(item, ctx, &format!("{path}[{i}]"), remaining))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    let rendered = self.render_at(v, ctx, &key_path(path, k), remaining)?;
                    out.insert(k.clone(), rendered);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// Renders one string as text: a sole `{{ expr }}` is printed like any other template.
    pub fn render_str(&self, source: &str, ctx: &TemplateContext) -> Result<String, TemplateError> {
        if !has_template_syntax(source) {
            return Ok(source.to_owned());
        }
        let mut remaining = self.max_output;
        self.render_text(source, ctx, "", &mut remaining)
    }

    fn render_text(
        &self,
        source: &str,
        ctx: &TemplateContext,
        path: &str,
        remaining: &mut usize,
    ) -> Result<String, TemplateError> {
        let template = self
            .env
            .template_from_str(source)
            .map_err(|e| TemplateError::new(path, compile_message(source, 0, &e)))?;
        let mut writer = CappedWriter {
            out: Vec::new(),
            remaining,
            overflowed: false,
        };
        let result = template.render_captured_to(ctx.0.clone(), &mut writer);
        if writer.overflowed {
            return Err(TemplateError::new(path, self.too_large()));
        }
        result.map_err(|e| TemplateError::new(path, render_message(source, &e)))?;
        String::from_utf8(writer.out)
            .map_err(|_| TemplateError::new(path, "the template produced invalid UTF-8"))
    }

    fn eval_typed(
        &self,
        expr: &str,
        ctx: &TemplateContext,
        path: &str,
        remaining: &mut usize,
    ) -> Result<Value, TemplateError> {
        let value = self
            .eval(expr, ctx)
            .map_err(|m| TemplateError::new(path, m))?;
        let json = serde_json::to_value(&value).map_err(|e| {
            TemplateError::new(path, format!("{{{{ {expr} }}}} has no JSON form: {e}"))
        })?;
        let size = serde_json::to_vec(&json).map(|v| v.len()).unwrap_or(0);
        if size > *remaining {
            return Err(TemplateError::new(path, self.too_large()));
        }
        *remaining -= size;
        Ok(json)
    }

    /// Evaluates a condition (a filter's or a branch case's `when`). Unlike a template that
    /// renders a value, a condition treats a missing field as absent: `trigger.body.type ==
    /// "order"` is false when the body has no `type`, `trigger.body.a.b` is undefined when
    /// `a` is missing, and `trigger.body.type is defined` tells the two apart. Errors that are
    /// not about missing fields (a type mismatch, running out of fuel) still fail.
    pub fn eval_condition(&self, expr: &str, ctx: &TemplateContext) -> Result<bool, TemplateError> {
        let compiled = self
            .conditions
            .compile_expression(expr)
            .map_err(|e| TemplateError::new("", compile_message(expr, 0, &e)))?;
        compiled
            .eval(ctx.0.clone())
            .map(|v| v.is_true())
            .map_err(|e| TemplateError::new("", render_message(expr, &e)))
    }

    /// Evaluates a bare expression for its value (a `for_each`'s `items`); strict, like
    /// every rendered template.
    pub fn eval_json(&self, expr: &str, ctx: &TemplateContext) -> Result<Value, TemplateError> {
        let mut remaining = self.max_output;
        self.eval_typed(expr, ctx, "", &mut remaining)
    }

    fn eval(&self, expr: &str, ctx: &TemplateContext) -> Result<minijinja::Value, String> {
        let compiled = self
            .env
            .compile_expression(expr)
            .map_err(|e| compile_message(expr, 0, &e))?;
        let value = compiled
            .eval(ctx.0.clone())
            .map_err(|e| render_message(expr, &e))?;
        if value.is_undefined() {
            return Err(format!("{} is undefined", quoted(expr)));
        }
        Ok(value)
    }

    fn too_large(&self) -> String {
        format!(
            "the rendered output is larger than {} bytes",
            self.max_output
        )
    }
}

fn quoted(source: &str) -> String {
    const MAX: usize = 120;
    let mut s: String = source.chars().take(MAX).collect();
    if s.len() < source.len() {
        s.push_str("...");
    }
    format!("{s:?}")
}

/// Where `part` (a slice of `source`, as `sole_expression` returns) starts in it.
fn offset_in(source: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(source.as_ptr() as usize)
}

/// A parse error says where in the string it is (an editor shows it beside the field):
/// `compiled_at` is where the text the parser saw starts within `source`.
fn compile_message(source: &str, compiled_at: usize, err: &JinjaError) -> String {
    match err.range() {
        Some(range) => format!(
            "{} does not parse: {} {}",
            quoted(source),
            words(err),
            position(source, compiled_at + range.start)
        ),
        None => format!("{} does not parse: {}", quoted(source), detail(err)),
    }
}

/// `(at column 7)`, or `(at line 2, column 3)` in a string of several lines; columns count
/// characters from 1.
fn position(source: &str, offset: usize) -> String {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or(before).chars().count() + 1;
    if line == 1 {
        format!("(at column {column})")
    } else {
        format!("(at line {line}, column {column})")
    }
}

fn render_message(source: &str, err: &JinjaError) -> String {
    match err.kind() {
        ErrorKind::OutOfFuel => format!(
            "{} does too much work (the evaluation ran out of fuel)",
            quoted(source)
        ),
        ErrorKind::UndefinedError => {
            format!("{}: a value it uses is undefined", quoted(source))
        }
        _ => format!("{} failed: {}", quoted(source), detail(err)),
    }
}

fn words(err: &JinjaError) -> String {
    err.detail().map_or_else(
        || err.kind().to_string(),
        |d| format!("{}: {d}", err.kind()),
    )
}

/// The error's own words, without the `(in <string>:1)` suffix that says nothing here.
fn detail(err: &JinjaError) -> String {
    let base = words(err);
    match err.line() {
        Some(line) if line > 1 => format!("{base} (line {line})"),
        _ => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_errors_say_where_in_the_string() {
        let engine = TemplateEngine::new();
        let err = engine.check_str("Hi {{ name. }}").unwrap_err();
        assert!(err.message.contains("(at column "), "{err}");
        let err = engine.check_str("{{ a +* b }}").unwrap_err();
        assert!(err.message.contains("(at column "), "{err}");
        let err = engine.check_str("line one\n{% if %}").unwrap_err();
        assert!(err.message.contains("(at line 2, column "), "{err}");
        let err = engine.check_expression("trigger.body.x ==").unwrap_err();
        assert!(err.message.contains("(at column "), "{err}");
        assert_eq!(position("ab\ncd", 4), "(at line 2, column 2)");
        assert_eq!(
            position("é x", 3),
            "(at column 3)",
            "columns count characters"
        );
    }

    fn ctx() -> TemplateContext {
        TemplateContext::from_json(&json!({
            "trigger": {
                "body": {
                    "name": "O'Brien \"the\" great\nsecond line",
                    "city": "Zürich ✓",
                    "count": 3,
                    "ok": true,
                    "items": [{"sku": "a"}, {"sku": "b"}],
                    "empty": []
                }
            },
            "steps": {"lookup": {"output": {"id": 42}}},
            "execution": {"id": "01J", "workflowId": "wf1", "attempt": 1}
        }))
    }

    fn engine() -> TemplateEngine {
        TemplateEngine::new()
    }

    #[test]
    fn a_sole_expression_keeps_its_type() {
        let out = engine()
            .render_value(
                &json!({
                    "n": "{{ trigger.body.count }}",
                    "b": " {{ trigger.body.ok }} ",
                    "o": "{{ trigger.body.items[1] }}",
                    "s": "{{ steps.lookup.output.id + 1 }}",
                    "l": "{{- trigger.body.items | length -}}"
                }),
                &ctx(),
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"n": 3, "b": true, "o": {"sku": "b"}, "s": 43, "l": 2})
        );
    }

    #[test]
    fn other_strings_interpolate_as_text() {
        let out = engine()
            .render_value(
                &json!([
                    "order {{ trigger.body.count }} for {{ execution.workflowId }}",
                    "plain"
                ]),
                &ctx(),
            )
            .unwrap();
        assert_eq!(out, json!(["order 3 for wf1", "plain"]));
    }

    #[test]
    fn quotes_newlines_and_unicode_cannot_break_the_json() {
        let e = engine();
        let out = e
            .render_value(
                &json!({"raw": "{{ trigger.body.name }}", "text": "Hi {{ trigger.body.name }} from {{ trigger.body.city }}"}),
                &ctx(),
            )
            .unwrap();
        assert_eq!(out["raw"], json!("O'Brien \"the\" great\nsecond line"));
        assert_eq!(
            out["text"],
            json!("Hi O'Brien \"the\" great\nsecond line from Zürich ✓")
        );
        // Round-trips through JSON text unchanged.
        let text = serde_json::to_string(&out).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), out);
    }

    #[test]
    fn nested_values_are_walked_and_keys_stay_literal() {
        let out = engine()
            .render_value(
                &json!({"{{ trigger.body.count }}": [{"deep": ["{{ trigger.body.items[0].sku }}", 1, null]}]}),
                &ctx(),
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"{{ trigger.body.count }}": [{"deep": ["a", 1, null]}]})
        );
    }

    #[test]
    fn a_missing_field_is_an_error_naming_it_and_where() {
        let e = engine();
        let err = e
            .render_value(&json!({"a": {"b": ["{{ trigger.body.nope }}"]}}), &ctx())
            .unwrap_err();
        assert_eq!(err.path, "a.b[0]");
        assert!(err.message.contains("trigger.body.nope"), "{err}");
        assert!(err.to_string().starts_with("a.b[0]: "), "{err}");

        let err = e
            .render_str("x {{ trigger.body.missing.deeper }}", &ctx())
            .unwrap_err();
        assert!(err.message.contains("trigger.body.missing"), "{err}");
        assert!(e.render_str("{{ nothing }}", &ctx()).is_err());
    }

    #[test]
    fn fuel_stops_a_huge_loop() {
        let err = engine()
            .render_str(
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
                &ctx(),
            )
            .unwrap_err();
        assert!(err.message.contains("fuel"), "{err}");
    }

    #[test]
    fn output_is_capped_across_the_whole_value() {
        let e = TemplateEngine::with_limits(DEFAULT_FUEL, 64);
        let err = e
            .render_value(&json!(["{{ 'x' * 40 }}", "{{ 'y' * 40 }} text"]), &ctx())
            .unwrap_err();
        assert_eq!(err.path, "[1]");
        assert!(err.message.contains("larger than 64 bytes"), "{err}");
    }

    #[test]
    fn check_value_reports_the_path_of_a_bad_template() {
        let e = engine();
        assert!(
            e.check_value(&json!({"ok": "{{ a.b }} and {% if x %}y{% endif %}"}))
                .is_ok()
        );
        let err = e
            .check_value(&json!({"h": {"x-id": "{{ a. }}"}, "list": [1, "{% if %}"]}))
            .unwrap_err();
        assert_eq!(err.path, "h.x-id");
        let err = e
            .check_value(&json!({"list": [1, "{% if %}"]}))
            .unwrap_err();
        assert_eq!(err.path, "list[1]");
        assert!(err.message.contains("does not parse"), "{err}");
    }

    #[test]
    fn when_must_be_a_bare_expression() {
        let e = engine();
        assert!(
            e.check_expression("trigger.body.count > 2 and trigger.body.ok")
                .is_ok()
        );
        assert!(e.check_expression("{{ trigger.body.ok }}").is_err());
        assert!(e.check_expression("{% if x %}").is_err());
        assert!(e.check_expression("x ==").is_err());
        assert!(e.check_expression("  ").is_err());
    }

    #[test]
    fn conditions_use_jinja_truthiness() {
        let e = engine();
        let c = ctx();
        assert!(e.eval_condition("trigger.body.count > 2", &c).unwrap());
        assert!(!e.eval_condition("trigger.body.empty", &c).unwrap());
        assert!(e.eval_condition("trigger.body.items", &c).unwrap());
        assert!(!e.eval_condition("trigger.body.city == 'Bern'", &c).unwrap());
    }

    #[test]
    fn a_condition_treats_a_missing_field_as_absent_while_a_render_names_it() {
        let e = engine();
        let c = ctx();
        assert!(
            !e.eval_condition("trigger.body.type == 'order'", &c)
                .unwrap()
        );
        assert!(
            e.eval_condition("trigger.body.type != 'order'", &c)
                .unwrap()
        );
        assert!(!e.eval_condition("trigger.body.type", &c).unwrap());
        assert!(
            !e.eval_condition("trigger.body.type is defined", &c)
                .unwrap()
        );
        assert!(
            e.eval_condition("trigger.body.type is undefined", &c)
                .unwrap()
        );
        assert!(
            e.eval_condition("trigger.body.count is defined", &c)
                .unwrap()
        );
        assert!(!e.eval_condition("trigger.body.a.b.c == 1", &c).unwrap());
        assert!(
            !e.eval_condition("trigger.body.type in ['a', 'b']", &c)
                .unwrap()
        );
        // Not about a missing field: still an error.
        let err = e
            .eval_condition("range(100000) | map('string') | join | length > 1", &c)
            .unwrap_err();
        assert!(err.message.contains("fuel"), "{err}");
        let err = e
            .render_value(&serde_json::json!("{{ trigger.body.type }}"), &c)
            .unwrap_err();
        assert!(err.message.contains("trigger.body.type"), "{err}");
    }

    #[test]
    fn there_is_no_loader_to_include_from() {
        let e = engine();
        assert!(e.render_str("{% include 'x' %}", &ctx()).is_err());
        assert!(e.render_str("{% import 'x' as y %}", &ctx()).is_err());
    }

    #[test]
    fn paths_join_fields_and_indexes() {
        assert_eq!(join_path("steps[1]", "url"), "steps[1].url");
        assert_eq!(join_path("steps[1].body", "[0]"), "steps[1].body[0]");
        assert_eq!(join_path("", "x"), "x");
        assert_eq!(join_path("x", ""), "x");
        assert_eq!(key_path("h", "a.b"), "h[\"a.b\"]");
    }
}
