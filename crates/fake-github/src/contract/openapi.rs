//! GitHub's REST description (the OpenAPI excerpt), parsed once, and the look-up of the operation
//! a concrete method and path belong to.

use std::sync::OnceLock;

use serde_json::Value;

/// The verbatim excerpt of GitHub's OpenAPI description (not dereferenced).
const DESCRIPTION: &str =
    include_str!("../../../../tests/fixtures/github-contract/api.github.com.excerpt.json");

/// One REST operation of GitHub's description.
#[derive(Debug)]
pub struct Operation {
    /// Upper-case HTTP method, e.g. `GET`.
    pub method: &'static str,
    /// The path template, e.g. `/repos/{owner}/{repo}/issues/{issue_number}`.
    pub path: &'static str,
    /// GitHub's operation id, e.g. `issues/get`.
    pub operation_id: &'static str,
    /// The operation object of the description.
    pub(crate) spec: &'static Value,
    /// Its parameters, `$ref`s resolved (path-item parameters first).
    pub(crate) params: Vec<&'static Value>,
}

impl Operation {
    /// The declared parameter `name` that lives `where_` (`path` or `query`).
    pub(crate) fn param(&self, name: &str, where_: &str) -> Option<&'static Value> {
        self.params.iter().copied().find(|p| {
            p.get("name").and_then(Value::as_str) == Some(name)
                && p.get("in").and_then(Value::as_str) == Some(where_)
        })
    }
}

#[derive(Debug)]
enum Segment {
    Literal(&'static str),
    /// `{name}`; `multi` when the description marks it `x-multi-segment` (it may hold `/`).
    Param {
        name: &'static str,
        multi: bool,
    },
}

#[derive(Debug)]
struct PathItem {
    segments: Vec<Segment>,
    operations: Vec<Operation>,
}

impl PathItem {
    fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }
}

/// The whole description as JSON, parsed on first use.
pub(crate) fn root() -> &'static Value {
    static ROOT: OnceLock<Value> = OnceLock::new();
    ROOT.get_or_init(|| {
        serde_json::from_str(DESCRIPTION).expect("the OpenAPI excerpt fixture is valid JSON")
    })
}

/// Follows `$ref`s (`#/components/...`) until a non-reference object; an unresolvable reference
/// yields `Value::Null`, which callers treat as "no constraint".
pub(crate) fn resolve(mut node: &'static Value) -> &'static Value {
    for _ in 0..32 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                node = reference
                    .strip_prefix('#')
                    .and_then(|pointer| root().pointer(pointer))
                    .unwrap_or(&Value::Null);
            }
            None => return node,
        }
    }
    &Value::Null
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// All path items, the most specific (most literal segments) first.
/// Every described operation.
#[cfg(test)]
pub(crate) fn operations() -> impl Iterator<Item = &'static Operation> {
    index().iter().flat_map(|item| item.operations.iter())
}

fn index() -> &'static [PathItem] {
    static INDEX: OnceLock<Vec<PathItem>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut items = Vec::new();
        let paths = root()
            .get("paths")
            .and_then(Value::as_object)
            .expect("the description has paths");
        for (template, item) in paths {
            let shared: Vec<&'static Value> = item
                .get("parameters")
                .and_then(Value::as_array)
                .map(|ps| ps.iter().map(resolve).collect())
                .unwrap_or_default();
            let mut operations = Vec::new();
            for method in METHODS {
                let Some(spec) = item.get(method) else {
                    continue;
                };
                let mut params = shared.clone();
                if let Some(own) = spec.get("parameters").and_then(Value::as_array) {
                    params.extend(own.iter().map(resolve));
                }
                operations.push(Operation {
                    method: upper(method),
                    path: template.as_str(),
                    operation_id: spec
                        .get("operationId")
                        .and_then(Value::as_str)
                        .unwrap_or(""),
                    spec,
                    params,
                });
            }
            let segments = template
                .trim_start_matches('/')
                .split('/')
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => Segment::Param {
                            name,
                            multi: operations.iter().any(|op| {
                                op.param(name, "path").is_some_and(|p| {
                                    p.get("x-multi-segment").and_then(Value::as_bool) == Some(true)
                                })
                            }),
                        },
                        None => Segment::Literal(s),
                    },
                )
                .collect();
            items.push(PathItem {
                segments,
                operations,
            });
        }
        items.sort_by_key(|item| std::cmp::Reverse(item.literal_count()));
        items
    })
}

fn upper(method: &str) -> &'static str {
    match method {
        "get" => "GET",
        "put" => "PUT",
        "post" => "POST",
        "delete" => "DELETE",
        "options" => "OPTIONS",
        "head" => "HEAD",
        "patch" => "PATCH",
        _ => "TRACE",
    }
}

/// What a method and concrete path resolve to.
pub(crate) enum Lookup {
    /// The operation, with the raw (still percent-encoded) text of each path parameter.
    Found(&'static Operation, Vec<(&'static str, String)>),
    /// The path is described, but not for this method; these methods are.
    WrongMethod(Vec<&'static str>),
    /// No path template matches.
    NoPath,
}

/// Finds the operation for `method` and the concrete `path` (anything from `?` on is ignored).
pub(crate) fn lookup(method: &str, path: &str) -> Lookup {
    let path = path.split('?').next().unwrap_or("");
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut allowed = Vec::new();
    for item in index() {
        let mut captures = Vec::new();
        if !match_segments(&item.segments, &segments, &mut captures) {
            continue;
        }
        match item
            .operations
            .iter()
            .find(|op| op.method.eq_ignore_ascii_case(method))
        {
            Some(op) => return Lookup::Found(op, captures),
            None => allowed.extend(item.operations.iter().map(|op| op.method)),
        }
    }
    if allowed.is_empty() {
        Lookup::NoPath
    } else {
        allowed.sort_unstable();
        allowed.dedup();
        Lookup::WrongMethod(allowed)
    }
}

/// Matches path segments against a template, capturing parameters. A multi-segment parameter
/// takes as many segments as lets the rest match (at least one, except `{path}`, which may be
/// empty: `/contents` and `/contents/` name the repository root).
fn match_segments(
    template: &[Segment],
    segments: &[&str],
    captures: &mut Vec<(&'static str, String)>,
) -> bool {
    let Some((first, rest)) = template.split_first() else {
        return segments.is_empty();
    };
    match first {
        Segment::Literal(literal) => {
            segments.first() == Some(literal) && match_segments(rest, &segments[1..], captures)
        }
        Segment::Param { name, multi: false } => match segments.first() {
            Some(segment) if !segment.is_empty() => {
                captures.push((name, (*segment).to_owned()));
                if match_segments(rest, &segments[1..], captures) {
                    return true;
                }
                captures.pop();
                false
            }
            _ => false,
        },
        Segment::Param { name, multi: true } => {
            let least = usize::from(*name != "path");
            for taken in (least..=segments.len()).rev() {
                captures.push((name, segments[..taken].join("/")));
                if match_segments(rest, &segments[taken..], captures) {
                    return true;
                }
                captures.pop();
            }
            false
        }
    }
}

/// Decodes `%XX` escapes (and `+` as a space when `plus` is set); invalid escapes stay as text.
pub(crate) fn percent_decode(text: &str, plus: bool) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
