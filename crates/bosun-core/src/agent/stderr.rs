//! Reading the tail of an agent's stderr.
//!
//! When a CLI dies before its stream says anything useful (a rejected flag, a refused root
//! run, Gemini's `-o json` failures), stderr holds the only explanation. These helpers pick
//! the line or JSON object worth quoting in the run's error.

use serde_json::Value;

/// Longest stderr excerpt quoted in an error.
const HINT_MAX: usize = 500;

/// The most telling stderr line: the last one mentioning an error, else the last one with
/// any letters or digits. Stack frames (`at …`) are skipped: they name code, not causes.
pub(super) fn hint(tail: &str) -> Option<String> {
    let lines: Vec<&str> = tail
        .lines()
        .map(str::trim)
        .filter(|l| l.chars().any(char::is_alphanumeric) && !l.starts_with("at "))
        .collect();
    let pick = lines
        .iter()
        .rev()
        .find(|l| l.to_ascii_lowercase().contains("error"))
        .or_else(|| lines.last())?;
    Some(super::cap::cap(pick.to_string(), HINT_MAX))
}

/// The last top-level JSON object in the tail, whether printed on one line or
/// pretty-printed over many, ignoring whatever text surrounds it.
pub(super) fn last_json_object(tail: &str) -> Option<Value> {
    let mut found = None;
    let mut resume_at = 0;
    let mut offset = 0;
    for line in tail.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        if start < resume_at || !line.trim_start().starts_with('{') {
            continue;
        }
        let brace = start + (line.len() - line.trim_start().len());
        let mut objects = serde_json::Deserializer::from_str(&tail[brace..]).into_iter::<Value>();
        if let Some(Ok(v @ Value::Object(_))) = objects.next() {
            // Skip lines inside this object, so a nested `{` line is not taken for a new one.
            resume_at = brace + objects.byte_offset();
            found = Some(v);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_prefers_error_lines_and_skips_stack_frames() {
        let tail = "Error when talking to API: boom\n    at foo (file.js:1:2)\n    at bar (file.js:3:4)\n{\n  status: 400\n}\n";
        assert_eq!(
            hint(tail).as_deref(),
            Some("Error when talking to API: boom")
        );
    }

    #[test]
    fn hint_falls_back_to_the_last_wordy_line() {
        assert_eq!(hint("first\nsecond\n}\n").as_deref(), Some("second"));
        assert_eq!(hint(" \n}\n"), None);
        assert_eq!(hint(""), None);
    }

    #[test]
    fn hint_is_capped() {
        let long = format!("error {}", "x".repeat(2000));
        assert!(hint(&long).unwrap().len() <= HINT_MAX);
    }

    #[test]
    fn finds_a_pretty_printed_object_after_noise() {
        let tail = "trace line\n    at x\n{\n  \"session_id\": \"s\",\n  \"error\": {\n    \"message\": \"bad\",\n    \"details\": [\n      {\n        \"n\": 1\n      }\n    ]\n  }\n}\n";
        let v = last_json_object(tail).unwrap();
        assert_eq!(v["error"]["message"], "bad");
    }

    #[test]
    fn finds_the_last_of_several_one_line_objects() {
        let tail = "{\"n\":1}\nnoise\n{\"n\":2}\ntrailing words\n";
        assert_eq!(last_json_object(tail).unwrap()["n"], 2);
    }

    #[test]
    fn no_object_no_answer() {
        assert_eq!(last_json_object("plain text\n{ not json\n"), None);
        assert_eq!(last_json_object(""), None);
    }
}
