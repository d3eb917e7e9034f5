//! Just enough reading of GraphQL query text for the fake's few operations: whole-word look-up
//! of field names (with their 1-based line/column, as error `locations` give them), argument
//! values (`$variable`, string, integer or `null` literals), opaque page cursors and the error
//! objects GitHub answers with HTTP 200. There is no parser: operations are told apart by the
//! field names their text contains.

use base64::Engine as _;
use serde_json::{json, Map, Value};

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Byte offset of the first whole-word occurrence of `word` (so `resolveReviewThread` is not
/// found inside `unresolveReviewThread`).
pub(crate) fn find_word(query: &str, word: &str) -> Option<usize> {
    let bytes = query.as_bytes();
    let mut from = 0;
    while let Some(i) = query[from..].find(word) {
        let at = from + i;
        let end = at + word.len();
        let before_ok = at == 0 || !is_word_byte(bytes[at - 1]);
        let after_ok = end >= bytes.len() || !is_word_byte(bytes[end]);
        if before_ok && after_ok {
            return Some(at);
        }
        from = end;
    }
    None
}

/// Whether `query` names `word` as a whole word.
pub(crate) fn mentions(query: &str, word: &str) -> bool {
    find_word(query, word).is_some()
}

/// 1-based (line, column) of a byte offset.
fn line_column(query: &str, at: usize) -> (usize, usize) {
    let before = &query[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(at, |nl| at - nl - 1) + 1;
    (line, column)
}

/// The `locations` entry for field `word` (line 1, column 1 if it is not in the text).
pub(crate) fn location(query: &str, word: &str) -> Value {
    let (line, column) = find_word(query, word).map_or((1, 1), |at| line_column(query, at));
    json!([{ "line": line, "column": column }])
}

/// The text between the parentheses right after field `field`, if it has arguments.
fn arguments<'q>(query: &'q str, field: &str) -> Option<&'q str> {
    let at = find_word(query, field)? + field.len();
    let rest = query[at..].trim_start();
    let start = query.len() - rest.len();
    if !rest.starts_with('(') {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in query[start..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(&query[start + 1..start + i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The value of argument `arg` of field `field` (at any depth inside its parentheses, so
/// `input: {threadId: $id}` works): a `$variable` is looked up in `variables` (`None` if it is
/// not there), a literal is read. `None` when the argument is not written.
pub(crate) fn argument(
    query: &str,
    field: &str,
    arg: &str,
    variables: &Map<String, Value>,
) -> Option<Value> {
    let args = arguments(query, field)?;
    let mut from = 0;
    let value = loop {
        let at = from + find_word(&args[from..], arg)?;
        let after = args[at + arg.len()..].trim_start();
        if let Some(v) = after.strip_prefix(':') {
            break v.trim_start();
        }
        from = at + arg.len();
    };
    if let Some(var) = value.strip_prefix('$') {
        let end = var
            .find(|c: char| !is_word_byte(c as u8))
            .unwrap_or(var.len());
        return variables.get(&var[..end]).cloned();
    }
    if let Some(s) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(Value::String(out)),
                '\\' => out.extend(chars.next()),
                c => out.push(c),
            }
        }
        return None;
    }
    if value.starts_with("null") {
        return Some(Value::Null);
    }
    let digits: String = value
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse::<i64>().ok().map(Value::from)
}

/// An opaque cursor naming the `n`-th node (1-based) of a connection.
pub(crate) fn cursor(n: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("cursor:v2:{n}"))
}

/// The node index a cursor names; `None` for anything the fake did not hand out.
pub(crate) fn cursor_index(cursor: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("cursor:v2:")?
        .parse()
        .ok()
}

/// One entry of the `errors` array.
pub(crate) fn error(kind: &str, path: &[&str], locations: Value, message: &str) -> Value {
    json!({ "type": kind, "path": path, "locations": locations, "message": message })
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = r#"query($owner: String!, $n: Int!) {
  repository(owner: $owner, name: "w\"x") {
    pullRequest(number: $n) { reviewThreads(first: 50, after: null) { nodes { id } } }
  }
}"#;

    #[test]
    fn words_and_locations() {
        assert!(mentions(Q, "reviewThreads"));
        assert!(!mentions(
            "mutation { unresolveReviewThread(input: {}) }",
            "resolveReviewThread"
        ));
        assert!(mentions(
            "mutation { unresolveReviewThread }",
            "unresolveReviewThread"
        ));
        assert_eq!(
            location(Q, "repository"),
            json!([{ "line": 2, "column": 3 }])
        );
        assert_eq!(
            location(Q, "pullRequest"),
            json!([{ "line": 3, "column": 5 }])
        );
    }

    #[test]
    fn reads_arguments() {
        let vars: Map<String, Value> =
            serde_json::from_value(json!({ "owner": "octo", "n": 7 })).unwrap();
        assert_eq!(
            argument(Q, "repository", "owner", &vars),
            Some(json!("octo"))
        );
        assert_eq!(
            argument(Q, "repository", "name", &vars),
            Some(json!("w\"x"))
        );
        assert_eq!(argument(Q, "pullRequest", "number", &vars), Some(json!(7)));
        assert_eq!(
            argument(Q, "reviewThreads", "first", &vars),
            Some(json!(50))
        );
        assert_eq!(
            argument(Q, "reviewThreads", "after", &vars),
            Some(Value::Null)
        );
        assert_eq!(argument(Q, "reviewThreads", "last", &vars), None);
        let m =
            "mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { thread { id } } }";
        let vars: Map<String, Value> = serde_json::from_value(json!({ "id": "PRRT_x" })).unwrap();
        assert_eq!(
            argument(m, "resolveReviewThread", "threadId", &vars),
            Some(json!("PRRT_x"))
        );
    }

    #[test]
    fn cursors_round_trip() {
        assert_eq!(cursor_index(&cursor(42)), Some(42));
        assert_eq!(cursor_index("nonsense"), None);
    }
}
