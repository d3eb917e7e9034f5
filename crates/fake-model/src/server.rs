//! Routes, request recording, and turning a [`Reply`] into an HTTP response.

use crate::script::{self, Dialect};
use crate::{anthropic, gemini, lock, openai, sse, RecordedCall, Shared};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use serde_json::Value;

/// What one API call answers, before it is framed.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: ReplyBody,
}

pub(crate) enum ReplyBody {
    Json(Value),
    /// The events of an SSE stream, each framed and ending with its blank line.
    Sse(Vec<Bytes>),
}

#[derive(Clone, Copy)]
enum Api {
    Messages,
    Responses,
    Chat,
    /// Any `/v1beta/models/...` (or `/v1/models/...`) call; the path names model and method.
    Gemini,
}

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/responses", post(responses))
        .route("/v1/chat/completions", post(chat))
        .route("/v1beta/models/{*call}", post(gemini_call))
        .route("/v1/models/{*call}", post(gemini_call))
        .fallback(unknown)
        .with_state(shared)
}

async fn messages(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&s, Some(Api::Messages), method, uri, headers, body)
}

async fn responses(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&s, Some(Api::Responses), method, uri, headers, body)
}

async fn chat(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&s, Some(Api::Chat), method, uri, headers, body)
}

async fn gemini_call(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&s, Some(Api::Gemini), method, uri, headers, body)
}

async fn unknown(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(&s, None, method, uri, headers, body)
}

/// The key a request carried, wherever its API puts it.
fn presented_key<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("x-api-key")
        .or_else(|| header("authorization").and_then(|v| v.strip_prefix("Bearer ")))
        .or_else(|| header("x-goog-api-key"))
        .or_else(|| query?.split('&').find_map(|pair| pair.strip_prefix("key=")))
}

/// Each API's answer to a key it does not know.
fn refuse_key(api: Api) -> Reply {
    match api {
        Api::Messages => anthropic::error(401, "authentication_error", "invalid x-api-key"),
        Api::Gemini => gemini::error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
        ),
        Api::Responses | Api::Chat => openai::error(
            401,
            "invalid_api_key",
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        ),
    }
}

fn answer(
    shared: &Shared,
    api: Option<Api>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = lock(shared);
    state.next_id += 1;
    let n = state.next_id;
    let behavior = state.behavior.clone();
    let request: Option<Value> = serde_json::from_slice(&body).ok();
    let wrong_key = state
        .key
        .as_deref()
        .is_some_and(|key| presented_key(&headers, uri.query()) != Some(key));
    let reply = match (api, &request) {
        (Some(api), _) if wrong_key => refuse_key(api),
        (None, _) => openai::error(
            404,
            "invalid_request_error",
            &format!("Invalid URL ({} {})", method, uri.path()),
        ),
        (Some(Api::Messages), None) => anthropic::error(
            400,
            "invalid_request_error",
            "the request body is not valid JSON",
        ),
        (Some(Api::Gemini), None) => {
            gemini::error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        }
        (Some(_), None) => openai::error(
            400,
            "invalid_request_error",
            "We could not parse the JSON body of your request.",
        ),
        (Some(Api::Messages), Some(r)) => {
            let turn = script::turn_for(&state.scripts, Dialect::Anthropic, &body, r);
            anthropic::answer(r, &behavior, n, turn.as_ref())
        }
        (Some(Api::Responses), Some(r)) => {
            let turn = script::turn_for(&state.scripts, Dialect::Responses, &body, r);
            openai::responses(r, &behavior, n, turn.as_ref())
        }
        (Some(Api::Chat), Some(r)) => openai::chat(r, &behavior, n),
        (Some(Api::Gemini), Some(_)) => {
            gemini::answer(uri.path(), uri.query().unwrap_or(""), &behavior, n)
        }
    };

    let (content_type, pieces, sent) = match reply.body {
        ReplyBody::Json(value) => {
            let bytes = Bytes::from(value.to_string());
            ("application/json", vec![bytes.clone()], bytes)
        }
        ReplyBody::Sse(events) => {
            let sent: Bytes = events.concat().into();
            (
                "text/event-stream; charset=utf-8",
                sse::pieces(&events, behavior.chunk_bytes),
                sent,
            )
        }
    };
    state.calls.push(RecordedCall {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        status: reply.status,
        response_body: sent.clone(),
    });
    drop(state);

    let is_json = content_type == "application/json";
    let mut response = if is_json {
        // A complete body: sent with a content-length, as the real APIs send JSON.
        Response::new(Body::from(sent))
    } else {
        Response::new(sse::body(pieces, behavior.event_delay))
    };
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if !is_json {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            h.insert(name, value);
        }
    }
    response
}
