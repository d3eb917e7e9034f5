//! Tolerant access to JSON lines.
//!
//! The CLIs add, rename and drop fields between releases, and third-party samples leave out
//! fields real output has. So nothing here fails: a missing or mistyped field reads as
//! absent (or zero), and the caller decides what absence means.

use serde_json::Value;

use super::AgentEvent;

/// One stdout line, classified.
pub(super) enum Line {
    /// Nothing but whitespace.
    Blank,
    /// A JSON object: the only thing the CLIs emit as events.
    Object(Value),
    /// Anything else: not JSON, or JSON that is not an object.
    Other(String),
}

pub(super) fn parse_line(line: &str) -> Line {
    let line = line.trim();
    if line.is_empty() {
        return Line::Blank;
    }
    match serde_json::from_str::<Value>(line) {
        Ok(v @ Value::Object(_)) => Line::Object(v),
        _ => Line::Other(line.to_string()),
    }
}

/// The event for a line that is not an event: the CLI printed something for a human (a
/// warning, a progress note), which is worth showing but never decides anything.
pub(super) fn stray(text: String) -> Vec<AgentEvent> {
    vec![AgentEvent::Notice { message: text }]
}

/// `v[key]` as a string, if it is one.
pub(super) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `v[key]` as a token count: missing, negative or non-numeric reads as 0.
pub(super) fn count(v: &Value, key: &str) -> u64 {
    match v.get(key) {
        Some(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .unwrap_or(0),
        None => 0,
    }
}

/// `v[key]` as a finite float, if it is one.
pub(super) fn float(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64).filter(|f| f.is_finite())
}

/// `v[key]` as a bool, defaulting when absent or mistyped.
pub(super) fn flag(v: &Value, key: &str, default: bool) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(default)
}

/// Compact JSON text of a value (tool inputs are shown this way).
pub(super) fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Readable text of a content value: a string as is, an array of `{"type":"text","text"}`
/// blocks joined by newlines, anything else as compact JSON, null as nothing.
pub(super) fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let texts: Vec<&str> = items
                .iter()
                .filter_map(|item| item.as_str().or_else(|| str_of(item, "text")))
                .collect();
            if texts.is_empty() && !items.is_empty() {
                compact(v)
            } else {
                texts.join("\n")
            }
        }
        other => compact(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_are_classified() {
        assert!(matches!(parse_line("  \r"), Line::Blank));
        assert!(matches!(
            parse_line("{\"type\":\"x\"}\r\n"),
            Line::Object(_)
        ));
        assert!(matches!(parse_line("[1,2]"), Line::Other(s) if s == "[1,2]"));
        assert!(matches!(
            parse_line("YOLO mode is enabled."),
            Line::Other(_)
        ));
        assert!(matches!(parse_line("{\"truncated\":"), Line::Other(_)));
    }

    #[test]
    fn counts_are_forgiving() {
        let v = json!({"a": 5, "b": -1, "c": "7", "d": 2.9, "e": null});
        assert_eq!(count(&v, "a"), 5);
        assert_eq!(count(&v, "b"), 0);
        assert_eq!(count(&v, "c"), 0);
        assert_eq!(count(&v, "d"), 2);
        assert_eq!(count(&v, "e"), 0);
        assert_eq!(count(&v, "missing"), 0);
    }

    #[test]
    fn text_of_handles_every_shape() {
        assert_eq!(text_of(&json!("hi")), "hi");
        assert_eq!(
            text_of(&json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])),
            "a\nb"
        );
        assert_eq!(
            text_of(&json!([{"type": "image"}])),
            "[{\"type\":\"image\"}]"
        );
        assert_eq!(text_of(&json!({"k": 1})), "{\"k\":1}");
        assert_eq!(text_of(&Value::Null), "");
    }
}
