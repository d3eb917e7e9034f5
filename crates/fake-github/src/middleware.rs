//! Wraps every request: resolves the caller, applies injected faults, adds GitHub's common
//! headers and records the request with its final status.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{self, Caller};
use crate::contract_gate;
use crate::error::{
    ApiError, DOCS_PRIMARY_LIMIT, DOCS_REST, DOCS_SECONDARY_LIMIT, SECONDARY_LIMIT_MESSAGE,
};
use crate::shared::Shared;
use crate::state::RATE_LIMIT;
use crate::{util, Fault, RequestRecord};

pub(crate) async fn wrap(State(s): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let at = Instant::now();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let caller = auth::resolve(&s, req.headers());
    let auth_kind = caller.kind();
    let (slot, fault) = {
        let mut m = s.model();
        m.requests.push(None);
        (m.requests.len() - 1, m.faults.take(&method, &path))
    };
    let limited_message = primary_limit_message(&caller);
    req.extensions_mut().insert(caller);

    let mut rate_limited = None;
    let mut resp = match fault {
        None => checked(&s, req, next).await,
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            checked(&s, req, next).await
        }
        Some(Fault::Status(code)) => ApiError::for_status(code).into_response(),
        Some(Fault::StatusAfterEffect(code)) => {
            // The effect happens; only the answer is lost.
            drop(next.run(req).await);
            ApiError::for_status(code).into_response()
        }
        Some(Fault::SecondaryRateLimit { retry_after_secs }) => {
            ApiError::new(403, SECONDARY_LIMIT_MESSAGE, DOCS_SECONDARY_LIMIT)
                .with_header("retry-after", retry_after_secs.to_string())
                .into_response()
        }
        Some(Fault::SubmittedTooQuickly) => ApiError::validation(
            serde_json::json!([{
                "resource": resource_of(&path),
                "code": "unprocessable",
                "field": "data",
                "message": "was submitted too quickly",
            }]),
            DOCS_REST,
        )
        .into_response(),
        Some(Fault::PrimaryRateLimit { reset_in_secs }) => {
            let reset = util::epoch_secs(SystemTime::now()) + reset_in_secs;
            rate_limited = Some(reset);
            ApiError::new(403, &limited_message, DOCS_PRIMARY_LIMIT).into_response()
        }
    };

    decorate(&s, &mut resp, &path, rate_limited);

    let status = resp.status().as_u16();
    let mut m = s.model();
    if let Some(entry) = m.requests.get_mut(slot) {
        *entry = Some(RequestRecord {
            method,
            path,
            status,
            auth: auth_kind,
            at,
            query,
        });
    }
    resp
}

/// Runs the request past the contract gate: the request is checked, then the answer.
async fn checked(s: &Shared, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let authenticated = req
        .extensions()
        .get::<Caller>()
        .is_some_and(|c| c.require_installation().is_ok());
    let (parts, body) = req.into_parts();
    let (bytes, body) = contract_gate::buffered(body).await;
    let request = (method.as_str(), path.as_str(), query.as_str());
    if let Some(refused) = contract_gate::check_request(s, request, authenticated, &bytes) {
        return refused;
    }
    let resp = next.run(Request::from_parts(parts, body)).await;
    let (parts, body) = resp.into_parts();
    let (bytes, body) = contract_gate::buffered(body).await;
    contract_gate::check_response(s, &method, &path, parts.status.as_u16(), &bytes);
    Response::from_parts(parts, body)
}

/// The resource a content-creation path makes, as GitHub names it in `errors[]`.
fn resource_of(path: &str) -> &'static str {
    if path.ends_with("/comments") || path.ends_with("/replies") {
        "IssueComment"
    } else if path.ends_with("/pulls") {
        "PullRequest"
    } else {
        "Issue"
    }
}

fn primary_limit_message(caller: &Caller) -> String {
    match caller {
        Caller::Installation { id, .. } => {
            format!("API rate limit exceeded for installation ID {id}.")
        }
        _ => "API rate limit exceeded for 127.0.0.1.".to_owned(),
    }
}

/// Adds the headers GitHub puts on every answer.
fn decorate(s: &Shared, resp: &mut Response, path: &str, rate_limited: Option<u64>) {
    let now = util::epoch_secs(SystemTime::now());
    // GraphQL has its own quota, as on GitHub.
    let resource = if path == "/graphql" {
        "graphql"
    } else {
        "core"
    };
    let (limit, remaining, reset, used) = match rate_limited {
        Some(reset) => (RATE_LIMIT, 0, reset, RATE_LIMIT),
        None => {
            let mut m = s.model();
            let rate = if resource == "graphql" {
                &mut m.graphql_rate
            } else {
                &mut m.rate
            };
            rate.roll(now);
            // `GET /rate_limit` does not count against the limit.
            if path != "/rate_limit" {
                rate.used += 1;
            }
            (RATE_LIMIT, rate.remaining(), rate.reset, rate.used)
        }
    };
    let h = resp.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set("x-ratelimit-limit", limit.to_string());
    set("x-ratelimit-remaining", remaining.to_string());
    set("x-ratelimit-reset", reset.to_string());
    set("x-ratelimit-used", used.to_string());
    set("x-ratelimit-resource", resource.to_owned());
    set("x-github-request-id", request_id());
    set("x-github-media-type", "github.v3; format=json".to_owned());
    set("x-github-api-version-selected", "2022-11-28".to_owned());
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
}

/// `ABCD:12345:1234567:89ABCDE:12345678`, the shape of GitHub's request ids.
fn request_id() -> String {
    let hex = util::random_hex(31).to_ascii_uppercase();
    format!(
        "{}:{}:{}:{}:{}",
        &hex[0..4],
        &hex[4..9],
        &hex[9..16],
        &hex[16..23],
        &hex[23..31]
    )
}
