//! GitHub-shaped error responses: `{"message", "documentation_url", "status"}`.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// The generic documentation link GitHub puts on authentication errors and unknown routes.
pub(crate) const DOCS_REST: &str = "https://docs.github.com/rest";

pub(crate) const BAD_CREDENTIALS: &str = "Bad credentials";

/// Secondary rate limit message, as quoted from the API in `github-error-bodies.json`.
pub(crate) const SECONDARY_LIMIT_MESSAGE: &str = "You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.";
pub(crate) const DOCS_SECONDARY_LIMIT: &str =
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";
pub(crate) const DOCS_PRIMARY_LIMIT: &str =
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";

/// An error answer. Converted into a JSON response with the right status.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub body: Value,
    pub headers: Vec<(HeaderName, String)>,
}

pub(crate) type ApiResult = Result<Response, ApiError>;

impl ApiError {
    pub fn new(status: u16, message: &str, docs: &str) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: json!({
                "message": message,
                "documentation_url": docs,
                "status": status.to_string(),
            }),
            headers: Vec::new(),
        }
    }

    pub fn bad_credentials() -> Self {
        Self::new(401, BAD_CREDENTIALS, DOCS_REST)
    }

    pub fn not_found(docs: &str) -> Self {
        Self::new(404, "Not Found", docs)
    }

    pub fn not_accessible(docs: &str) -> Self {
        Self::new(403, "Resource not accessible by integration", docs)
    }

    pub fn parse_json(docs: &str) -> Self {
        Self::new(400, "Problems parsing JSON", docs)
    }

    /// 422 for a required field that is missing or of the wrong type.
    pub fn missing_field(field: &str, docs: &str) -> Self {
        Self::new(
            422,
            &format!("Invalid request.\n\n\"{field}\" wasn't supplied."),
            docs,
        )
    }

    /// 422 `Validation Failed` with an `errors` array.
    pub fn validation(errors: Value, docs: &str) -> Self {
        let mut e = Self::new(422, "Validation Failed", docs);
        e.body["errors"] = errors;
        e
    }

    /// 422 `Unprocessable Entity` with reasons as plain strings, the form GitHub uses for
    /// reviews (e.g. `["Review Can not approve your own pull request"]`).
    pub fn unprocessable(reasons: &[&str], docs: &str) -> Self {
        let mut e = Self::new(422, "Unprocessable Entity", docs);
        e.body["errors"] = json!(reasons);
        e
    }

    /// The body GitHub answers for an injected `Status(code)` fault.
    pub fn for_status(status: u16) -> Self {
        let message = match status {
            400 => "Problems parsing JSON",
            401 => BAD_CREDENTIALS,
            403 => "Forbidden",
            404 => "Not Found",
            409 => "Conflict",
            410 => "Gone",
            422 => "Validation Failed",
            429 => SECONDARY_LIMIT_MESSAGE,
            500 => "Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error"),
        };
        Self::new(status, message, DOCS_REST)
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((HeaderName::from_static(name), value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body)).into_response();
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                resp.headers_mut().insert(name, v);
            }
        }
        resp
    }
}
