//! REST checks: a request (path parameters, query, body) or a response (status, body) against
//! the operation GitHub's description gives for its method and path.

use serde_json::Value;

use super::openapi::{lookup, percent_decode, resolve, Lookup, Operation};
use super::schema::{is_kind, validate, Direction, Finding};
use super::violation::{Report, Violation};

/// Path parameters as matched: name and raw (percent-encoded) text.
type Captures = Vec<(&'static str, String)>;

/// The operation for `method` and `path`, or the violation saying there is none.
fn operation(method: &str, path: &str) -> Result<(&'static Operation, Captures), Violation> {
    let at = format!(
        "{} {}",
        method.to_ascii_uppercase(),
        path.split('?').next().unwrap_or("")
    );
    match lookup(method, path) {
        Lookup::Found(op, captures) => Ok((op, captures)),
        Lookup::WrongMethod(allowed) => Err(Violation {
            at,
            message: format!(
                "not an operation in GitHub's description (this path is described for {})",
                allowed.join(", ")
            ),
        }),
        Lookup::NoPath => Err(Violation {
            at,
            message: "not an operation in GitHub's description".to_owned(),
        }),
    }
}

fn report_findings(report: &mut Report, context: &str, findings: Vec<Finding>) {
    for finding in findings {
        let at = if finding.pointer.is_empty() {
            context.to_owned()
        } else {
            format!("{context} {}", finding.pointer)
        };
        report.push(at, finding.message);
    }
}

/// A limit stated only in a parameter's prose, as GitHub writes it for `per_page`: "(max 100)".
fn prose_maximum(param: &Value) -> Option<i64> {
    let description = param.get("description")?.as_str()?;
    let rest = &description[description.find("(max ")? + 5..];
    rest[..rest.find(')')?].trim().parse().ok()
}

/// Turns the text of a path or query parameter into the JSON value its schema describes.
fn typed(schema: &'static Value, text: &str) -> Result<Value, String> {
    let schema = resolve(schema);
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .map_err(|_| format!("`{text}` is not an integer")),
        Some("number") => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("`{text}` is not a number")),
        Some("boolean") => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("`{text}` is not a boolean (true or false)")),
        },
        Some("array") => {
            let items = schema.get("items").unwrap_or(&Value::Null);
            text.split(',')
                .map(|part| typed(items, part))
                .collect::<Result<_, _>>()
                .map(Value::Array)
        }
        _ => Ok(Value::String(text.to_owned())),
    }
}

/// Checks one path or query parameter's (decoded) text against its declaration.
fn parameter(report: &mut Report, context: String, param: &'static Value, text: &str) {
    let schema = param.get("schema").unwrap_or(&Value::Null);
    match typed(schema, text) {
        Err(message) => report.push(&context, message),
        Ok(value) => {
            let mut findings = Vec::new();
            validate(schema, &value, Direction::Request, &mut findings);
            if findings.is_empty() && is_kind("integer", &value) {
                if let (Some(most), Some(n)) = (prose_maximum(param), value.as_i64()) {
                    if n > most {
                        findings.push(Finding {
                            pointer: String::new(),
                            message: format!(
                                "`{n}` is above the maximum {most} stated in the parameter's description"
                            ),
                        });
                    }
                }
            }
            report_findings(report, &context, findings);
        }
    }
    if param.get("deprecated").and_then(Value::as_bool) == Some(true) {
        report.push(
            context,
            "this parameter is deprecated in GitHub's description",
        );
    }
}

/// See [`super::check_request`].
pub(crate) fn check_request(
    method: &str,
    path: &str,
    query: &str,
    body: Option<&Value>,
) -> Result<&'static Operation, Vec<Violation>> {
    let (op, captures) = operation(method, path).map_err(|v| vec![v])?;
    let context = format!("{} {}", op.method, op.path);
    let mut report = Report::default();

    for (name, raw) in &captures {
        if let Some(param) = op.param(name, "path") {
            let text = percent_decode(raw, false);
            parameter(
                &mut report,
                format!("{context} path parameter `{name}`"),
                param,
                &text,
            );
        }
    }

    let query = query.strip_prefix('?').unwrap_or(query);
    let mut seen = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, text) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(name, true);
        let text = percent_decode(text, true);
        match op.param(&name, "query") {
            Some(param) => parameter(
                &mut report,
                format!("{context} query parameter `{name}`"),
                param,
                &text,
            ),
            None => report.push(
                format!("{context} query"),
                format!("`{name}` is not a query parameter of {}", op.operation_id),
            ),
        }
        seen.push(name);
    }
    for param in &op.params {
        let required = param.get("required").and_then(Value::as_bool) == Some(true);
        let in_query = param.get("in").and_then(Value::as_str) == Some("query");
        let name = param.get("name").and_then(Value::as_str).unwrap_or("");
        if required && in_query && !seen.iter().any(|s| s == name) {
            report.push(
                format!("{context} query"),
                format!("required query parameter `{name}` is missing"),
            );
        }
    }

    let request_body = op.spec.get("requestBody").map(resolve);
    let body_context = format!("{context} request body");
    match (request_body, body) {
        (None, Some(_)) => report.push(
            body_context,
            format!("{} takes no request body", op.operation_id),
        ),
        (Some(declared), None) => {
            if declared.get("required").and_then(Value::as_bool) == Some(true) {
                report.push(body_context, "a request body is required");
            }
        }
        (Some(declared), Some(body)) => {
            if let Some(schema) = declared.pointer("/content/application~1json/schema") {
                let mut findings = Vec::new();
                validate(schema, body, Direction::Request, &mut findings);
                report_findings(&mut report, &body_context, findings);
            }
        }
        (None, None) => {}
    }

    if report.is_empty() {
        Ok(op)
    } else {
        Err(report.finish())
    }
}

/// See [`super::check_response`].
pub(crate) fn check_response(
    method: &str,
    path: &str,
    status: u16,
    body: &Value,
) -> Vec<Violation> {
    let op = match operation(method, path) {
        Ok((op, _)) => op,
        Err(violation) => return vec![violation],
    };
    let context = format!("{} {} response {status}", op.method, op.path);
    let Some(responses) = op.spec.get("responses").and_then(Value::as_object) else {
        return Vec::new();
    };
    let code = status.to_string();
    let range = format!("{}XX", status / 100);
    let Some(response) = responses
        .get(&code)
        .or_else(|| responses.get(&range))
        .or_else(|| responses.get("default"))
        .map(resolve)
    else {
        let listed: Vec<&str> = responses.keys().map(String::as_str).collect();
        return vec![Violation {
            at: context,
            message: format!(
                "status {status} is not a response of {} (listed: {})",
                op.operation_id,
                listed.join(", ")
            ),
        }];
    };
    let mut report = Report::default();
    match response
        .get("content")
        .and_then(Value::as_object)
        .filter(|c| !c.is_empty())
    {
        None => {
            if !body.is_null() {
                report.push(
                    context,
                    format!("status {status} is described without a body, but one was sent"),
                );
            }
        }
        Some(content) => {
            if let Some(schema) = content
                .get("application/json")
                .and_then(|c| c.get("schema"))
            {
                let mut findings = Vec::new();
                validate(schema, body, Direction::Response, &mut findings);
                report_findings(&mut report, &format!("{context} body"), findings);
            }
        }
    }
    report.finish()
}
