//! The proxy's own error responses, shaped like the provider's so that each CLI shows the
//! message to its user (and in its stream-json output) instead of a parse failure.
//!
//! Status codes are chosen for how the CLIs react:
//! - 401 for a missing, unknown or ended run token, as the real APIs answer a bad key. The CLIs
//!   retry it (Claude Code about 10 times over ~3 minutes, codex 5 times) and then stop: a
//!   token that is wrong stays wrong, so this only costs time in a misconfigured run.
//! - 400 `invalid_request_error` (Gemini: `INVALID_ARGUMENT`) for a spent budget. Claude Code
//!   retries 401, 429 and 5xx but not 400, codex's transport retries only 429 and 5xx, and the
//!   Gemini CLI ends at once on a 400 (its invalid-key capture: the error result comes without
//!   a retry), so the agent stops with the message instead of sleeping through retries that
//!   cannot succeed. 429 would read as a rate limit and be retried; 402 is unknown to the CLIs.
//! - 400 as well when the model API refuses the server's own key (it answered 401 or 403):
//!   passed through, Claude Code would retry it for as long as the run may last (seen with
//!   2.1.332 in `tests/real_cli.rs`), and no retry can help until the operator fixes the key.
//! - 400 too for a call the proxy will not forward: a body over 32 MiB or not JSON.
//!   Retrying cannot help.
//! - 404 for an endpoint the proxy does not forward.
//! - 502 (`api_error` / `server_error`) when the upstream cannot be reached or is not
//!   configured. This one is retried, which is right for a transient failure.

use super::Provider;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The start of every budget refusal message; tests and log readers can rely on it.
pub const BUDGET_SPENT: &str = "bosun: the budget of this run is spent";

/// The start of the message an agent gets when the model API refused the server's key.
pub const KEY_REFUSED: &str = "bosun: the model API refused this bosun server's key";

/// Kinds of error the proxy itself answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Unauthorized,
    BudgetSpent,
    /// The model API refused the server's key.
    KeyRefused,
    NotFound,
    BadGateway,
    /// A call the proxy will not forward (a body too large or not JSON).
    Refused,
}

impl Kind {
    fn status(self) -> StatusCode {
        match self {
            Kind::Unauthorized => StatusCode::UNAUTHORIZED,
            Kind::BudgetSpent | Kind::KeyRefused | Kind::Refused => StatusCode::BAD_REQUEST,
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::BadGateway => StatusCode::BAD_GATEWAY,
        }
    }
}

/// An error response in the provider's format: Anthropic's
/// `{"type":"error","error":{"type","message"}}`, OpenAI's
/// `{"error":{"message","type","param","code"}}` or Google's
/// `{"error":{"code","message","status"}}` (the HTTP status repeated as `code`, and the
/// canonical gRPC status name).
pub(crate) fn respond(provider: Provider, kind: Kind, message: &str) -> Response {
    let body = match provider {
        Provider::Anthropic => {
            let error_type = match kind {
                Kind::Unauthorized => "authentication_error",
                Kind::BudgetSpent | Kind::KeyRefused | Kind::Refused => "invalid_request_error",
                Kind::NotFound => "not_found_error",
                Kind::BadGateway => "api_error",
            };
            json!({"type": "error", "error": {"type": error_type, "message": message}})
        }
        Provider::OpenAi => {
            let (error_type, code) = match kind {
                Kind::Unauthorized => ("invalid_request_error", Some("invalid_api_key")),
                Kind::BudgetSpent => ("invalid_request_error", Some("bosun_budget_spent")),
                Kind::KeyRefused => ("invalid_request_error", Some("bosun_key_refused")),
                Kind::Refused => ("invalid_request_error", Some("bosun_refused")),
                Kind::NotFound => ("invalid_request_error", None),
                Kind::BadGateway => ("server_error", None),
            };
            json!({"error": {"message": message, "type": error_type, "param": null, "code": code}})
        }
        Provider::Gemini => {
            let status = match kind {
                Kind::Unauthorized => "UNAUTHENTICATED",
                Kind::BudgetSpent | Kind::KeyRefused | Kind::Refused => "INVALID_ARGUMENT",
                Kind::NotFound => "NOT_FOUND",
                Kind::BadGateway => "UNAVAILABLE",
            };
            json!({"error": {"code": kind.status().as_u16(), "message": message, "status": status}})
        }
    };
    let mut response = (kind.status(), body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn shapes_follow_the_provider() {
        let r = respond(Provider::Anthropic, Kind::BudgetSpent, "bosun: x");
        assert_eq!(r.status(), 400);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            body_json(r).await,
            json!({"type":"error","error":{"type":"invalid_request_error","message":"bosun: x"}})
        );
        let r = respond(Provider::OpenAi, Kind::Unauthorized, "no");
        assert_eq!(r.status(), 401);
        assert_eq!(
            body_json(r).await,
            json!({"error":{"message":"no","type":"invalid_request_error","param":null,"code":"invalid_api_key"}})
        );
        assert_eq!(
            respond(Provider::OpenAi, Kind::BadGateway, "x").status(),
            502
        );
        assert_eq!(
            respond(Provider::Anthropic, Kind::NotFound, "x").status(),
            404
        );
        let r = respond(Provider::Gemini, Kind::BudgetSpent, "bosun: y");
        assert_eq!(r.status(), 400);
        assert_eq!(
            body_json(r).await,
            json!({"error":{"code":400,"message":"bosun: y","status":"INVALID_ARGUMENT"}})
        );
        let r = respond(Provider::Gemini, Kind::Unauthorized, "no");
        assert_eq!(r.status(), 401);
        assert_eq!(body_json(r).await["error"]["status"], "UNAUTHENTICATED");
    }
}
