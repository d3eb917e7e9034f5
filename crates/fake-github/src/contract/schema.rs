//! Validation of a JSON value against an OpenAPI 3.0 schema of GitHub's description.
//!
//! The subset GitHub's description uses: `$ref`, `type`, `nullable`, `enum` (a nullable enum may
//! list `null`), `properties`, `required`, `additionalProperties`, `items`, `allOf`, `anyOf` and
//! `oneOf` (read as `anyOf`, since GitHub's alternatives overlap), `minimum`/`maximum` (with the
//! 3.0 boolean `exclusiveMinimum`/`exclusiveMaximum`), `minLength`/`maxLength`,
//! `minItems`/`maxItems`. `format` and `pattern` are not checked.

use serde_json::{Map, Value};

use super::openapi::resolve;
use super::violation::{show, MAX_VIOLATIONS};

/// One finding: the JSON pointer of the offending value (empty for the whole value) and the rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub(crate) pointer: String,
    pub(crate) message: String,
}

/// Whether the value is something a client sends (then deprecated properties count) or receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Request,
    Response,
}

/// Checks `value` against `schema`, appending findings to `out`; it stops once `out` holds more
/// than [`MAX_VIOLATIONS`].
pub(crate) fn validate(
    schema: &'static Value,
    value: &Value,
    direction: Direction,
    out: &mut Vec<Finding>,
) {
    let mut pointer = String::new();
    check(schema, value, direction, &mut pointer, out, 0);
}

fn push(out: &mut Vec<Finding>, pointer: &str, message: String) {
    // One past the cap, so the caller knows that more were left out.
    if out.len() <= MAX_VIOLATIONS {
        out.push(Finding {
            pointer: pointer.to_owned(),
            message,
        });
    }
}

/// The JSON kind name a schema `type` stands for, with its article.
fn article(kind: &str) -> &'static str {
    match kind {
        "integer" | "object" | "array" => "an",
        _ => "a",
    }
}

/// Whether `value` is of OpenAPI `type` `kind`. Integers are whole JSON numbers written without
/// a fraction or exponent (any size serde_json keeps exactly: ids above 2^31 are fine).
pub(crate) fn is_kind(kind: &str, value: &Value) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn check(
    schema: &'static Value,
    value: &Value,
    direction: Direction,
    pointer: &mut String,
    out: &mut Vec<Finding>,
    depth: usize,
) {
    let schema = resolve(schema);
    let Some(s) = schema.as_object() else { return };
    if depth > 64 || out.len() > MAX_VIOLATIONS {
        return;
    }
    let kind = s.get("type").and_then(Value::as_str);
    let enumeration = s.get("enum").and_then(Value::as_array);
    if value.is_null() {
        let nullable = s.get("nullable").and_then(Value::as_bool) == Some(true);
        if nullable || enumeration.is_some_and(|e| e.contains(&Value::Null)) {
            return;
        }
        if let Some(kind) = kind {
            push(
                out,
                pointer,
                format!(
                    "`null` is not allowed: {} {kind} is expected",
                    article(kind)
                ),
            );
            return;
        }
    } else if let Some(kind) = kind {
        if !is_kind(kind, value) {
            push(
                out,
                pointer,
                format!("`{}` is not {} {kind}", show(value), article(kind)),
            );
            return;
        }
    }
    if let Some(options) = enumeration {
        if !options.contains(value) {
            let listed: Vec<String> = options
                .iter()
                .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
                .collect();
            push(
                out,
                pointer,
                format!("`{}` is not one of {}", show(value), listed.join(", ")),
            );
        }
    }
    match value {
        Value::Number(n) => bounds(s, n.as_f64().unwrap_or(0.0), pointer, out),
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if let Some(least) = s.get("minLength").and_then(Value::as_u64) {
                if length < least {
                    push(
                        out,
                        pointer,
                        format!("is {length} characters long, shorter than minLength {least}"),
                    );
                }
            }
            if let Some(most) = s.get("maxLength").and_then(Value::as_u64) {
                if length > most {
                    push(
                        out,
                        pointer,
                        format!("is {length} characters long, longer than maxLength {most}"),
                    );
                }
            }
        }
        Value::Array(items) => {
            let count = items.len() as u64;
            if let Some(least) = s.get("minItems").and_then(Value::as_u64) {
                if count < least {
                    push(
                        out,
                        pointer,
                        format!("has {count} items, fewer than minItems {least}"),
                    );
                }
            }
            if let Some(most) = s.get("maxItems").and_then(Value::as_u64) {
                if count > most {
                    push(
                        out,
                        pointer,
                        format!("has {count} items, more than maxItems {most}"),
                    );
                }
            }
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&i.to_string());
                    check(item_schema, item, direction, pointer, out, depth + 1);
                    pointer.truncate(len);
                }
            }
        }
        Value::Object(fields) => object(s, fields, direction, pointer, out, depth),
        _ => {}
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for part in all {
            check(part, value, direction, pointer, out, depth + 1);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alternatives) = s.get(key).and_then(Value::as_array) {
            any_of(alternatives, value, direction, pointer, out, depth);
        }
    }
}

fn bounds(s: &Map<String, Value>, number: f64, pointer: &str, out: &mut Vec<Finding>) {
    let flag = |key: &str| s.get(key).and_then(Value::as_bool) == Some(true);
    if let Some(least) = s.get("minimum").and_then(Value::as_f64) {
        if number < least || (flag("exclusiveMinimum") && number <= least) {
            push(
                out,
                pointer,
                format!("`{number}` is below the minimum {least}"),
            );
        }
    }
    if let Some(most) = s.get("maximum").and_then(Value::as_f64) {
        if number > most || (flag("exclusiveMaximum") && number >= most) {
            push(
                out,
                pointer,
                format!("`{number}` is above the maximum {most}"),
            );
        }
    }
}

fn object(
    s: &'static Map<String, Value>,
    fields: &Map<String, Value>,
    direction: Direction,
    pointer: &mut String,
    out: &mut Vec<Finding>,
    depth: usize,
) {
    let properties = s.get("properties").and_then(Value::as_object);
    if let Some(required) = s.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            if !fields.contains_key(name) {
                let at = format!("{pointer}/{}", escape(name));
                push(out, &at, format!("required property `{name}` is missing"));
            }
        }
    }
    let extra = s.get("additionalProperties");
    for (name, field) in fields {
        let len = pointer.len();
        pointer.push('/');
        pointer.push_str(&escape(name));
        match properties.and_then(|p| p.get(name)) {
            Some(property) => {
                if direction == Direction::Request
                    && resolve(property).get("deprecated").and_then(Value::as_bool) == Some(true)
                {
                    push(
                        out,
                        pointer,
                        format!("property `{name}` is deprecated in GitHub's description"),
                    );
                }
                check(property, field, direction, pointer, out, depth + 1);
            }
            None => {
                match extra {
                    Some(Value::Bool(false)) => {
                        push(out, pointer, format!("property `{name}` is not allowed here (additionalProperties: false)"));
                    }
                    Some(extra @ Value::Object(_)) => {
                        check(extra, field, direction, pointer, out, depth + 1);
                    }
                    _ => {}
                }
            }
        }
        pointer.truncate(len);
    }
}

/// Whether an alternative is meant for this kind of value at all (its `type` fits, or it has none).
fn admits_kind(schema: &'static Value, value: &Value) -> bool {
    let s = resolve(schema);
    match s.get("type").and_then(Value::as_str) {
        None => true,
        Some(_) if value.is_null() => s.get("nullable").and_then(Value::as_bool) == Some(true),
        Some(kind) => is_kind(kind, value),
    }
}

/// A short name for an alternative: its component name or its type.
fn label(schema: &'static Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("schema")
        .to_owned()
}

/// `anyOf`/`oneOf`: passes if one alternative accepts the value. Otherwise reports the findings of
/// the closest alternative (one meant for this kind of value, with the fewest findings), or one
/// line naming the alternatives when none is meant for this kind of value.
fn any_of(
    alternatives: &'static [Value],
    value: &Value,
    direction: Direction,
    pointer: &mut String,
    out: &mut Vec<Finding>,
    depth: usize,
) {
    let mut best: Option<(usize, Vec<Finding>)> = None;
    let mut meant = 0;
    for (i, alternative) in alternatives.iter().enumerate() {
        let mut trial = Vec::new();
        check(
            alternative,
            value,
            direction,
            pointer,
            &mut trial,
            depth + 1,
        );
        if trial.is_empty() {
            return;
        }
        if !admits_kind(alternative, value) {
            continue;
        }
        meant += 1;
        if best
            .as_ref()
            .is_none_or(|(_, findings)| trial.len() < findings.len())
        {
            best = Some((i, trial));
        }
    }
    match best {
        Some((i, findings)) => {
            let note = if meant > 1 {
                format!(
                    " (in `{}`, the closest of {} alternatives)",
                    label(&alternatives[i]),
                    alternatives.len()
                )
            } else {
                String::new()
            };
            for finding in findings {
                push(out, &finding.pointer, format!("{}{note}", finding.message));
            }
        }
        None => {
            let names: Vec<String> = alternatives.iter().map(label).collect();
            push(
                out,
                pointer,
                format!(
                    "`{}` matches none of the alternatives: {}",
                    show(value),
                    names.join(", ")
                ),
            );
        }
    }
}
