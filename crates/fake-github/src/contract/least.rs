//! The least answer GitHub's description allows for an operation: only the required
//! properties, `null` wherever a value may be null, empty arrays, the first enum value. A
//! client's response types can be held to it: a type that refuses it refuses something GitHub
//! may send (bosun's tests use it to choose between octocrab's models and its own).

use serde_json::{Map, Value};

use super::openapi::{self, Lookup};

/// What a string is filled with when its schema states no format or enum. Properties whose
/// name ends in `url`, and links' `href`, get a URL: GitHub sends one there even where the
/// description only says "string". Likewise a timestamp in every `…_at` property.
const TEXT: &str = "x";
const URL: &str = "https://github.com/x";
const DATE_TIME: &str = "2011-01-26T19:01:12Z";

/// The least `application/json` answer to `method path` with `status`, or `None` when the
/// operation is not described or that status carries no JSON body. `path` is a concrete path
/// (`/repos/o/r/issues/1`) or the template itself.
/// A body of `null` is never sent, so a nullable answer schema is filled as if it were not.
pub fn least_answer(method: &str, path: &str, status: u16) -> Option<Value> {
    Some(least(answer_schema(method, path, status)?, "", 0, true))
}

/// The least item of a list answer (`least_answer` gives an empty list).
pub fn least_item(method: &str, path: &str, status: u16) -> Option<Value> {
    let items = openapi::resolve(answer_schema(method, path, status)?).get("items")?;
    Some(least(items, "", 0, true))
}

fn answer_schema(method: &str, path: &str, status: u16) -> Option<&'static Value> {
    let Lookup::Found(op, _) = openapi::lookup(method, path) else {
        return None;
    };
    let response = openapi::resolve(op.spec.get("responses")?.get(status.to_string())?);
    response
        .get("content")?
        .get("application/json")?
        .get("schema")
}

/// `whole`: the schema is the answer (or list item) itself, which is never null.
fn least(schema: &'static Value, name: &str, depth: usize, whole: bool) -> Value {
    let schema = openapi::resolve(schema);
    let nullable = schema.get("nullable").and_then(Value::as_bool) == Some(true);
    // The description has no cycles among required properties, but a bound keeps a future
    // one from recursing forever.
    if depth > 32 || (nullable && !whole) {
        return Value::Null;
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(branches)) = schema.get(key) {
            // An object branch when there is one: it says the most about the shape.
            let pick = branches
                .iter()
                .find(|b| kind(openapi::resolve(b)) == Some("object"))
                .or_else(|| branches.first());
            return pick.map_or(Value::Null, |b| least(b, name, depth + 1, whole));
        }
    }
    if let Some(Value::Array(parts)) = schema.get("allOf") {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(fields) = least(part, name, depth + 1, whole) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    if let Some(Value::Array(values)) = schema.get("enum") {
        return values
            .iter()
            .find(|v| !v.is_null())
            .cloned()
            .unwrap_or(Value::Null);
    }
    match kind(schema) {
        Some("object") => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let mut out = Map::new();
            for required in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if let Some(property) = properties.and_then(|p| p.get(required)) {
                    out.insert(
                        required.to_owned(),
                        least(property, required, depth + 1, false),
                    );
                }
            }
            Value::Object(out)
        }
        Some("array") => {
            let items = usize::try_from(bound(schema, "minItems")).unwrap_or(0);
            let item = schema
                .get("items")
                .map(|i| least(i, name, depth + 1, false));
            Value::Array(item.map(|i| vec![i; items]).unwrap_or_default())
        }
        Some("integer") => Value::from(bound(schema, "minimum").max(1)),
        Some("number") => Value::from(bound(schema, "minimum") as f64 + 1.5),
        Some("boolean") => Value::Bool(false),
        Some("string") => {
            let text = match schema.get("format").and_then(Value::as_str) {
                Some("date-time") => DATE_TIME,
                _ if name.ends_with("_at") => DATE_TIME,
                Some("uri") => URL,
                _ if name.ends_with("url") || name == "href" => URL,
                _ => TEXT,
            };
            // A sha is described by its length (40): pad what is too short.
            let short = usize::try_from(bound(schema, "minLength")).unwrap_or(0);
            Value::from(format!(
                "{text}{}",
                "0".repeat(short.saturating_sub(text.len()))
            ))
        }
        _ => Value::Null,
    }
}

/// A numeric keyword (`minLength`, `minItems`, `minimum`), 0 when absent.
fn bound(schema: &Value, keyword: &str) -> u64 {
    schema
        .get(keyword)
        .and_then(Value::as_f64)
        .map_or(0, |n| n.max(0.0).ceil() as u64)
}

/// The schema's `type`, or `object` when it only lists properties.
fn kind(schema: &Value) -> Option<&str> {
    schema
        .get("type")
        .and_then(Value::as_str)
        .or_else(|| schema.get("properties").map(|_| "object"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every least answer must itself be one the contract checker accepts, or it proves nothing
    /// about the types held to it.
    #[test]
    fn every_least_answer_keeps_the_contract() {
        let mut checked = 0;
        for op in openapi::operations() {
            let concrete = op
                .path
                .split('/')
                .map(|s| if s.starts_with('{') { "1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            for status in op
                .spec
                .get("responses")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|r| r.keys())
                .filter_map(|s| s.parse::<u16>().ok())
                .filter(|s| (200..300).contains(s))
            {
                let Some(answer) = least_answer(op.method, &concrete, status) else {
                    continue;
                };
                let violations =
                    super::super::check_response(op.method, &concrete, status, &answer);
                assert!(
                    violations.is_empty(),
                    "{} {status}: {violations:?}\n{answer:#}",
                    op.operation_id
                );
                checked += 1;
            }
        }
        assert!(checked >= 40, "only {checked} answers checked");
    }

    #[test]
    fn nullable_becomes_null_and_optional_is_left_out() {
        let answer = least_answer("GET", "/repos/o/r/issues/1", 200).expect("described");
        let issue = answer.as_object().expect("an object");
        assert_eq!(issue["closed_at"], Value::Null);
        assert_eq!(issue["labels"], Value::Array(vec![]));
        assert!(!issue.contains_key("body_html"), "optional: {answer:#}");
        assert_eq!(issue["html_url"], URL);
    }
}
