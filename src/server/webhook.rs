//! `POST /webhook`: verify, dedup, store durably, answer. No GitHub call, no git, no Docker:
//! everything else happens after the answer, in intake and the workers.

use super::metrics::WebhookCounters;
use super::{AppState, Mode};
use crate::db::{now_ms, NewDelivery};
use crate::engine::ingest::Stored;
use crate::github::signature::{check_header, verify_digest, SignatureError};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONNECTION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bosun_core::ids::DeliveryId;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use std::time::Duration;
use tracing::Instrument;

/// GitHub caps payloads at 25 MB; anything larger is not from GitHub.
pub const MAX_BODY: usize = 25 * 1024 * 1024;

fn answer(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "message": message }))).into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A GUID in practice; we accept any short printable token and refuse the rest, since it
/// becomes a database key and appears in logs.
fn valid_delivery_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn valid_event_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

pub async fn webhook(State(state): State<AppState>, request: Request) -> Response {
    let counters = &state.counters;
    let secrets = match &*state.mode() {
        Mode::Configured(c) => c.secrets.clone(),
        Mode::Setup => {
            WebhookCounters::bump(&counters.not_configured);
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "bosun is not configured yet: finish the setup page first",
            );
        }
    };
    let (parts, body) = request.into_parts();
    // Everything that can be judged from the headers is judged before a byte of the body is
    // read: a request that cannot be a delivery costs no buffering.
    let signature = header(&parts.headers, "x-hub-signature-256");
    let has_sha1 = parts.headers.contains_key("x-hub-signature");
    let expected = match check_header(signature, has_sha1) {
        Ok(digest) => digest,
        Err(e) => return refuse_signature(counters, e),
    };
    let (Some(event), Some(delivery)) = (
        header(&parts.headers, "x-github-event").filter(|e| valid_event_name(e)),
        header(&parts.headers, "x-github-delivery").filter(|d| valid_delivery_id(d)),
    ) else {
        WebhookCounters::bump(&counters.bad_request);
        return answer(
            StatusCode::BAD_REQUEST,
            "X-GitHub-Event and X-GitHub-Delivery are required",
        );
    };
    let declared = header(&parts.headers, "content-length").and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        WebhookCounters::bump(&counters.too_large);
        return answer(StatusCode::PAYLOAD_TOO_LARGE, "payload over 25 MiB");
    }
    // At most `webhook_bodies_in_flight` bodies are read at once, each within its deadline:
    // slow or endless senders cannot pile up memory. One over the cap is not stored, so 503:
    // GitHub marks it failed and the redelivery sweep asks for it again.
    let Ok(permit) = state.webhook_bodies.clone().try_acquire_owned() else {
        WebhookCounters::bump(&counters.busy);
        if let Some(left_out) = counters.refusals_logged.allow() {
            tracing::warn!(left_out, "webhook refused: too many bodies being read");
        }
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many deliveries being received; please redeliver",
        );
    };
    let deadline = Duration::from_secs(state.config.webhook_body_timeout_secs.max(1));
    let body = match tokio::time::timeout(deadline, read_capped(body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(status)) => {
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                WebhookCounters::bump(&counters.too_large);
            } else {
                WebhookCounters::bump(&counters.bad_request);
            }
            return answer(status, "could not read the payload");
        }
        Err(_) => {
            WebhookCounters::bump(&counters.too_slow);
            if let Some(left_out) = counters.refusals_logged.allow() {
                tracing::warn!(
                    secs = deadline.as_secs(),
                    left_out,
                    "webhook refused: body too slow"
                );
            }
            let mut response = answer(StatusCode::REQUEST_TIMEOUT, "the payload came too slowly");
            response
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };

    // The cap is on bodies being read: a read one waits for its durable store without a
    // permit, so a busy disk does not turn signed deliveries away.
    drop(permit);
    if let Err(e) = verify_digest(&secrets, &expected, &body) {
        return refuse_signature(counters, e);
    }

    let delivery = DeliveryId(delivery.to_string());
    let span = tracing::info_span!("webhook", delivery = %delivery, event);
    let stored = state
        .ingest
        .store(NewDelivery::new(
            delivery.clone(),
            event.to_string(),
            body,
            // The HMAC just verified identifies the body: the replay check's fingerprint.
            expected,
            now_ms(),
        ))
        .instrument(span.clone())
        .await;
    let _enter = span.enter();
    match stored {
        Ok(Stored::New) => {
            WebhookCounters::bump(&counters.accepted);
            tracing::debug!("delivery stored");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "delivery": delivery, "status": "queued" })),
            )
                .into_response()
        }
        Ok(Stored::Duplicate) => {
            WebhookCounters::bump(&counters.duplicate);
            tracing::debug!("duplicate delivery ignored");
            (
                StatusCode::OK,
                Json(json!({ "delivery": delivery, "status": "duplicate" })),
            )
                .into_response()
        }
        Err(e) => {
            // The one 5xx: the delivery is NOT stored, and a 2xx would make GitHub drop it.
            // A 503 shows it as failed in the App's delivery log, where it can be redelivered.
            WebhookCounters::bump(&counters.store_failed);
            tracing::error!(error = %e, "delivery could not be stored");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "delivery not stored; please redeliver",
            )
        }
    }
}

fn refuse_signature(counters: &WebhookCounters, e: SignatureError) -> Response {
    WebhookCounters::bump(&counters.bad_signature);
    // Anyone can send these: one line now and then, the counter counts them all.
    if let Some(left_out) = counters.refusals_logged.allow() {
        tracing::warn!(reason = %e, left_out, "webhook rejected: signature");
    }
    let message = match e {
        SignatureError::Missing => "missing X-Hub-Signature-256",
        SignatureError::UnsupportedSha1Only => {
            "only X-Hub-Signature (sha1) given; sha256 is required"
        }
        SignatureError::Malformed => "malformed X-Hub-Signature-256",
        SignatureError::Mismatch => "signature does not match",
    };
    answer(StatusCode::UNAUTHORIZED, message)
}

/// Reads at most `MAX_BODY` bytes; stops reading (and buffering) as soon as the cap is passed.
async fn read_capped(body: Body) -> Result<bytes::Bytes, StatusCode> {
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(StatusCode::PAYLOAD_TOO_LARGE)
        }
        Err(_) => Err(StatusCode::BAD_REQUEST),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_ids_and_event_names_are_checked() {
        assert!(valid_delivery_id("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
        assert!(!valid_delivery_id(""));
        assert!(!valid_delivery_id("a b"));
        assert!(!valid_delivery_id(&"a".repeat(129)));
        assert!(valid_event_name("pull_request_review_comment"));
        assert!(!valid_event_name("Issues"));
        assert!(!valid_event_name("x\n"));
    }
}
