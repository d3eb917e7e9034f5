//! Picks a few small values (`usage`, `model`) out of a JSON document that arrives in pieces,
//! without ever holding the document.
//!
//! Model responses can be large (a long completion, a `response.completed` event that repeats
//! the whole output, encrypted reasoning), and the proxy must not buffer them to find a usage
//! object of a hundred bytes. So this is a small byte-level scanner: it tracks only the nesting
//! of containers and the current key of each open object, and copies bytes only while inside a
//! value whose key path is one of the targets. Memory is bounded by the nesting depth and
//! [`MAX_CAPTURE`], whatever the size of the document or of its strings.
//!
//! It is not a validator: malformed input yields nothing useful but never panics or grows.

/// A captured value larger than this is dropped (a usage object is about 300 bytes).
const MAX_CAPTURE: usize = 64 * 1024;
/// Deeper nesting than this stops the scan; real API bodies nest a handful of levels.
const MAX_DEPTH: usize = 512;
/// Keys longer than this can never match a target (targets are short field names).
const MAX_KEY: usize = 64;

/// A key path from the document root, e.g. `&["message", "usage"]`.
pub(crate) type Path = &'static [&'static str];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lex {
    /// Between tokens: structural characters, whitespace, or the start of a value.
    Between,
    /// Inside a string; `key` when the string is an object key.
    Str { key: bool, escaped: bool },
    /// Inside a number or `true` / `false` / `null`.
    Literal,
}

#[derive(Debug)]
struct Frame {
    object: bool,
    /// In an object: the next string is a key (after `{` or `,`), not a value.
    expect_key: bool,
    /// The raw bytes of the current key, if it was short enough to be kept.
    key: Vec<u8>,
    key_kept: bool,
}

#[derive(Debug)]
struct Capture {
    target: usize,
    /// The nesting depth at which the captured value started.
    depth: usize,
    bytes: Vec<u8>,
    overflow: bool,
}

#[derive(Debug)]
pub(crate) struct JsonPicker {
    targets: &'static [Path],
    max_target_depth: usize,
    stack: Vec<Frame>,
    lex: Lex,
    key: Vec<u8>,
    key_overflow: bool,
    capture: Option<Capture>,
    picked: Vec<Option<Vec<u8>>>,
    broken: bool,
}

impl JsonPicker {
    pub(crate) fn new(targets: &'static [Path]) -> Self {
        JsonPicker {
            targets,
            max_target_depth: targets.iter().map(|t| t.len()).max().unwrap_or(0),
            stack: Vec::new(),
            lex: Lex::Between,
            key: Vec::new(),
            key_overflow: false,
            capture: None,
            picked: vec![None; targets.len()],
            broken: false,
        }
    }

    /// Forgets everything, for the next document (the next SSE event); keeps allocations.
    pub(crate) fn reset(&mut self) {
        self.stack.clear();
        self.lex = Lex::Between;
        self.key.clear();
        self.key_overflow = false;
        self.capture = None;
        self.picked.iter_mut().for_each(|p| *p = None);
        self.broken = false;
    }

    /// The raw JSON text of the last complete value found at `targets[index]`.
    pub(crate) fn picked(&self, index: usize) -> Option<&[u8]> {
        self.picked.get(index)?.as_deref()
    }

    pub(crate) fn feed(&mut self, input: &[u8]) {
        let mut i = 0;
        while i < input.len() && !self.broken {
            match self.lex {
                Lex::Str { key, escaped } => i += self.string_bytes(&input[i..], key, escaped),
                Lex::Literal => {
                    let b = input[i];
                    if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-') {
                        self.keep(&[b]);
                        i += 1;
                    } else {
                        // The byte after a literal ends it and is read again as structure.
                        self.lex = Lex::Between;
                        self.value_done();
                    }
                }
                Lex::Between => {
                    self.structural(input[i]);
                    i += 1;
                }
            }
        }
    }

    /// Consumes string content up to and including the closing quote; returns how many bytes.
    fn string_bytes(&mut self, input: &[u8], key: bool, mut escaped: bool) -> usize {
        let mut end = input.len();
        let mut closed = false;
        for (j, &b) in input.iter().enumerate() {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                end = j + 1;
                closed = true;
                break;
            }
        }
        let piece = &input[..end];
        self.keep(piece);
        if key {
            let content = if closed { &piece[..end - 1] } else { piece };
            if self.key.len() + content.len() <= MAX_KEY {
                self.key.extend_from_slice(content);
            } else {
                self.key_overflow = true;
            }
        }
        if closed {
            self.lex = Lex::Between;
            if key {
                self.key_done();
            } else {
                self.value_done();
            }
        } else {
            self.lex = Lex::Str { key, escaped };
        }
        end
    }

    fn structural(&mut self, b: u8) {
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => self.keep(&[b]),
            b'{' | b'[' => {
                self.value_start();
                self.keep(&[b]);
                if self.stack.len() >= MAX_DEPTH {
                    self.broken = true;
                    return;
                }
                self.stack.push(Frame {
                    object: b == b'{',
                    expect_key: b == b'{',
                    key: Vec::new(),
                    key_kept: false,
                });
            }
            b'}' | b']' => {
                self.keep(&[b]);
                self.stack.pop();
                self.value_done();
            }
            b'"' => {
                let key = matches!(self.stack.last(), Some(f) if f.object && f.expect_key);
                if key {
                    self.key.clear();
                    self.key_overflow = false;
                } else {
                    self.value_start();
                }
                self.keep(&[b]);
                self.lex = Lex::Str {
                    key,
                    escaped: false,
                };
            }
            b':' => {
                self.keep(&[b]);
                if let Some(top) = self.stack.last_mut() {
                    top.expect_key = false;
                }
            }
            b',' => {
                self.keep(&[b]);
                if let Some(top) = self.stack.last_mut() {
                    top.expect_key = top.object;
                }
            }
            _ => {
                self.value_start();
                self.keep(&[b]);
                self.lex = Lex::Literal;
            }
        }
    }

    fn key_done(&mut self) {
        if let Some(top) = self.stack.last_mut() {
            top.key.clear();
            top.key_kept = !self.key_overflow;
            if top.key_kept {
                top.key.extend_from_slice(&self.key);
            }
        }
    }

    /// A value begins here: start capturing it if its key path is a target.
    fn value_start(&mut self) {
        let depth = self.stack.len();
        if self.capture.is_some() || depth == 0 || depth > self.max_target_depth {
            return;
        }
        let stack = &self.stack;
        let found = self.targets.iter().position(|target| {
            target.len() == depth
                && stack
                    .iter()
                    .zip(target.iter())
                    .all(|(f, k)| f.object && f.key_kept && f.key == k.as_bytes())
        });
        if let Some(target) = found {
            self.capture = Some(Capture {
                target,
                depth,
                bytes: Vec::new(),
                overflow: false,
            });
        }
    }

    /// A value (scalar or container) ended: finish the capture if it was the captured one.
    fn value_done(&mut self) {
        if self
            .capture
            .as_ref()
            .is_some_and(|c| c.depth == self.stack.len())
        {
            let c = self.capture.take().expect("checked above");
            if !c.overflow {
                self.picked[c.target] = Some(c.bytes);
            }
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        if let Some(c) = self.capture.as_mut() {
            if c.bytes.len() + bytes.len() <= MAX_CAPTURE {
                c.bytes.extend_from_slice(bytes);
            } else {
                c.overflow = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGETS: &[Path] = &[&["usage"], &["model"], &["message", "usage"]];

    fn pick(doc: &str) -> [Option<String>; 3] {
        let mut p = JsonPicker::new(TARGETS);
        p.feed(doc.as_bytes());
        [0, 1, 2].map(|i| p.picked(i).map(|b| String::from_utf8(b.to_vec()).unwrap()))
    }

    #[test]
    fn finds_values_at_their_paths_only() {
        let doc = r#"{"id":"x","model":"m-1","content":[{"usage":1,"model":"inner"}],
            "message":{"model":"deep","usage":{"a":1,"b":[1,2,{"c":null}]}},
            "usage":{"input_tokens":12,"output_tokens":3}}"#;
        let [usage, model, message_usage] = pick(doc);
        assert_eq!(
            usage.as_deref(),
            Some(r#"{"input_tokens":12,"output_tokens":3}"#)
        );
        assert_eq!(model.as_deref(), Some(r#""m-1""#));
        assert_eq!(
            message_usage.as_deref(),
            Some(r#"{"a":1,"b":[1,2,{"c":null}]}"#)
        );
    }

    #[test]
    fn strings_with_escapes_and_lookalike_content_do_not_confuse_it() {
        let doc = r#"{"text":"a \"usage\": {\"x\": 1} \\","usage" : null , "model":"q\"m"}"#;
        let [usage, model, _] = pick(doc);
        assert_eq!(usage.as_deref(), Some("null"));
        assert_eq!(model.as_deref(), Some(r#""q\"m""#));
    }

    #[test]
    fn scalars_at_the_end_of_input_and_numbers() {
        let [usage, _, _] = pick(r#"{"usage":-12.5e+3}"#);
        assert_eq!(usage.as_deref(), Some("-12.5e+3"));
        // A literal still open when input stops is not complete, so not picked.
        let [usage, _, _] = pick(r#"{"usage":123"#);
        assert_eq!(usage, None);
    }

    #[test]
    fn every_split_gives_the_same_answer() {
        let doc = r#"{"model":"claude-x","message":{"usage":{"input_tokens":5}},"usage":{"output_tokens":7,"s":"\\\""}}"#;
        let whole = pick(doc);
        for cut in 0..=doc.len() {
            let mut p = JsonPicker::new(TARGETS);
            p.feed(&doc.as_bytes()[..cut]);
            p.feed(&doc.as_bytes()[cut..]);
            let got =
                [0, 1, 2].map(|i| p.picked(i).map(|b| String::from_utf8(b.to_vec()).unwrap()));
            assert_eq!(got, whole, "cut at {cut}");
        }
        let mut p = JsonPicker::new(TARGETS);
        for b in doc.as_bytes() {
            p.feed(std::slice::from_ref(b));
        }
        assert_eq!(
            [0, 1, 2].map(|i| p.picked(i).map(|b| String::from_utf8(b.to_vec()).unwrap())),
            whole
        );
    }

    #[test]
    fn huge_values_are_skipped_without_being_held() {
        let big = "x".repeat(3 * 1024 * 1024);
        let doc = format!(r#"{{"content":"{big}","usage":{{"n":1}},"model":"{big}"}}"#);
        let [usage, model, _] = pick(&doc);
        assert_eq!(usage.as_deref(), Some(r#"{"n":1}"#));
        assert_eq!(model, None, "a value over the capture limit is dropped");
    }

    #[test]
    fn malformed_and_deep_input_is_harmless() {
        for doc in ["}}]]", "[DONE]", "{\"usage\"", "\"", "{:::,,,}", ""] {
            let _ = pick(doc);
        }
        let deep = "[".repeat(10_000);
        let [usage, _, _] = pick(&deep);
        assert_eq!(usage, None);
    }

    #[test]
    fn reset_forgets_the_previous_document() {
        let mut p = JsonPicker::new(TARGETS);
        p.feed(br#"{"usage":{"a":1}}"#);
        assert!(p.picked(0).is_some());
        p.reset();
        assert!(p.picked(0).is_none());
        p.feed(br#"{"model":"n"}"#);
        assert_eq!(p.picked(1), Some(&br#""n""#[..]));
    }
}
