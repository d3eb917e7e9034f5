//! A webhook relay for a bosun GitHub cannot reach (a laptop, a private network), as Probot
//! does with smee.io: GitHub sends the App's webhooks to a public relay channel, and bosun
//! follows that channel as a Server-Sent Events client (`BOSUN_WEBHOOK_PROXY_URL`). Each
//! relayed delivery goes through bosun's own `/webhook` handler in-process, so its signature
//! is verified, it is stored durably and deduplicated exactly as a direct delivery is.
//!
//! The relay's message format is smee.io's: a JSON object with the delivery's headers in
//! lower case (`x-github-event`, `x-github-delivery`, `x-hub-signature-256`) and `body`, the
//! payload as JSON. The body's bytes are taken exactly as the relay wrote them (its signature
//! was computed over GitHub's bytes; a relay that re-encodes them differently makes the
//! signature fail, and the delivery is refused, never trusted). Messages with another `event:`
//! (`ready`, `ping`) are skipped. The connection is kept up, reconnecting with backoff.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::watch;
use tower::ServiceExt;

/// An SSE event larger than this (GitHub caps payloads at 25 MB) ends the connection.
const MAX_EVENT: usize = super::webhook::MAX_BODY + 64 * 1024;
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The headers `/webhook` reads, as the relay passes them on.
const PASSED_ON: [&str; 4] = [
    "x-github-event",
    "x-github-delivery",
    "x-hub-signature-256",
    "x-hub-signature",
];

/// Follows the relay channel until shutdown, handing each delivery to `router`'s `/webhook`.
pub async fn follow(url: String, router: axum::Router, mut shutdown: watch::Receiver<bool>) {
    let http = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook relay: no HTTP client");
            return;
        }
    };
    // The channel's URL is as good as a password to its deliveries: only its host is logged.
    let host = reqwest::Url::parse(&url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let mut failures = 0u32;
    loop {
        let outcome = tokio::select! {
            outcome = follow_once(&http, &url, &router) => outcome,
            _ = shutdown.changed() => return,
        };
        match outcome {
            Ok(relayed) => {
                if relayed > 0 {
                    failures = 0;
                }
                tracing::info!(%host, relayed, "webhook relay: the channel closed; reconnecting");
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(%host, error = %e, "webhook relay: cannot follow the channel");
            }
        }
        let wait = Duration::from_secs(1 << failures.min(6)).min(MAX_BACKOFF);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One connection: how many deliveries it relayed before it ended.
async fn follow_once(
    http: &reqwest::Client,
    url: &str,
    router: &axum::Router,
) -> Result<usize, String> {
    let resp = http
        .get(url)
        .header("accept", "text/event-stream")
        .send()
        .await
        .map_err(|e| format!("connecting: {}", e.without_url()))?;
    if !resp.status().is_success() {
        return Err(format!("the relay answered {}", resp.status()));
    }
    tracing::info!("webhook relay: following the channel");
    let mut body = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut relayed = 0;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("reading: {}", e.without_url()))?;
        buf.extend_from_slice(&chunk);
        while let Some((event, rest)) = next_event(&buf) {
            buf = rest;
            if let Some(delivery) = event {
                relayed += 1;
                hand_over(router, delivery).await;
            }
        }
        if buf.len() > MAX_EVENT {
            return Err("an event over the size limit".into());
        }
    }
    Ok(relayed)
}

/// A delivery as the relay passes it on.
#[derive(Debug, PartialEq, Eq)]
struct Relayed {
    headers: Vec<(&'static str, String)>,
    body: String,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow)]
    body: Option<&'a RawValue>,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, serde_json::Value>,
}

/// The first whole event in `buf` (`None` inside when it carries no delivery), and what
/// follows it; `None` until an event is whole.
fn next_event(buf: &[u8]) -> Option<(Option<Relayed>, Vec<u8>)> {
    // Events end with a blank line; either line ending.
    let (end, gap) = [&b"\r\n\r\n"[..], b"\n\n"]
        .iter()
        .filter_map(|sep| {
            buf.windows(sep.len())
                .position(|w| w == *sep)
                .map(|at| (at, sep.len()))
        })
        .min()?;
    let rest = buf[end + gap..].to_vec();
    let event = std::str::from_utf8(&buf[..end]).ok().and_then(parse_event);
    Some((event, rest))
}

/// One SSE event's text: a delivery when it is a plain message with a `body`.
fn parse_event(event: &str) -> Option<Relayed> {
    let mut kind = "message";
    let mut data = String::new();
    for line in event.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            kind = v.trim();
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    if kind != "message" || data.is_empty() {
        return None;
    }
    let message: Message = serde_json::from_str(&data).ok()?;
    let body = message.body?.get().to_string();
    let headers = PASSED_ON
        .iter()
        .filter_map(|name| {
            let value = message.rest.get(*name)?.as_str()?;
            Some((*name, value.to_string()))
        })
        .collect();
    Some(Relayed { headers, body })
}

/// Hands one delivery to `/webhook`, as GitHub would have sent it.
async fn hand_over(router: &axum::Router, delivery: Relayed) {
    let mut request = Request::post("/webhook").header("content-type", "application/json");
    for (name, value) in &delivery.headers {
        request = request.header(*name, value);
    }
    let id = delivery
        .headers
        .iter()
        .find(|(n, _)| *n == "x-github-delivery")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let request = match request.body(Body::from(delivery.body)) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(delivery = %id, error = %e, "webhook relay: an unusable delivery");
            return;
        }
    };
    match router.clone().oneshot(request).await {
        Ok(resp) if resp.status().is_success() => {
            tracing::info!(delivery = %id, status = resp.status().as_u16(), "webhook relay: delivery handed over")
        }
        Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => {
            tracing::warn!(delivery = %id, "webhook relay: delivery refused, its signature does not match")
        }
        Ok(resp) => {
            tracing::warn!(delivery = %id, status = resp.status().as_u16(), "webhook relay: delivery not taken")
        }
        Err(e) => tracing::warn!(delivery = %id, error = %e, "webhook relay: delivery not taken"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Vec<Option<Relayed>> {
        let mut buf = text.as_bytes().to_vec();
        let mut out = Vec::new();
        while let Some((event, rest)) = next_event(&buf) {
            out.push(event);
            buf = rest;
        }
        out
    }

    #[test]
    fn smee_messages_become_deliveries_with_their_bytes_and_headers() {
        let stream = "event: ready\ndata: {}\n\n\
            event: ping\ndata: {}\n\n\
            data: {\"x-github-event\":\"issues\",\"x-github-delivery\":\"d-1\",\
            \"x-hub-signature-256\":\"sha256=ab\",\"host\":\"smee.io\",\
            \"body\":{\"action\":\"opened\",\"n\":1.50,\"s\":\"\\u00e9\"},\"query\":{}}\r\n\r\n\
            data: {\"body\":\n";
        let got = events(stream);
        assert_eq!(got.len(), 3, "the unfinished event waits");
        assert_eq!(got[0], None);
        assert_eq!(got[1], None);
        let d = got[2].as_ref().unwrap();
        // The body exactly as written, not re-encoded.
        assert_eq!(d.body, r#"{"action":"opened","n":1.50,"s":"\u00e9"}"#);
        assert_eq!(
            d.headers,
            [
                ("x-github-event", "issues".to_string()),
                ("x-github-delivery", "d-1".to_string()),
                ("x-hub-signature-256", "sha256=ab".to_string()),
            ]
        );
    }

    #[test]
    fn messages_without_a_body_or_json_are_skipped() {
        assert_eq!(parse_event("data: not json"), None);
        assert_eq!(parse_event("data: {\"x-github-event\":\"issues\"}"), None);
        assert_eq!(parse_event(": a comment"), None);
    }
}
