//! Server-sent events as the real APIs frame them, and the streaming response body that
//! delivers them with optional pauses and re-chunking.

use axum::body::Body;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use std::convert::Infallible;
use std::time::Duration;

/// One event: `event: <name>` (when the API names its events) and one `data:` line, then the
/// blank line that ends it.
pub(crate) fn event(name: Option<&str>, data: &Value) -> Bytes {
    let mut out = String::new();
    if let Some(name) = name {
        out.push_str("event: ");
        out.push_str(name);
        out.push('\n');
    }
    out.push_str("data: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
    Bytes::from(out)
}

/// One `data:` line and its blank line, with CRLF line ends: how Google's API frames the events
/// of `streamGenerateContent?alt=sse`.
pub(crate) fn crlf_data(data: &Value) -> Bytes {
    Bytes::from(format!("data: {data}\r\n\r\n"))
}

/// A raw `data:` line (Chat Completions ends its stream with `data: [DONE]`).
pub(crate) fn raw_data(data: &str) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

/// The pieces to send: one per event, or the whole stream cut every `chunk_bytes` bytes.
pub(crate) fn pieces(events: &[Bytes], chunk_bytes: Option<usize>) -> Vec<Bytes> {
    match chunk_bytes {
        None => events.to_vec(),
        Some(size) => {
            let whole: Bytes = events.concat().into();
            (0..whole.len())
                .step_by(size)
                .map(|start| whole.slice(start..(start + size).min(whole.len())))
                .collect()
        }
    }
}

/// A body that sends `pieces` one after another, pausing `delay` between them.
pub(crate) fn body(pieces: Vec<Bytes>, delay: Duration) -> Body {
    let stream = futures_util::stream::iter(pieces.into_iter().enumerate()).then(
        move |(i, piece)| async move {
            if i > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            Ok::<Bytes, Infallible>(piece)
        },
    );
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_framed_and_rechunked_without_loss() {
        let a = event(Some("ping"), &serde_json::json!({"type": "ping"}));
        assert_eq!(&a[..], b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
        let b = raw_data("[DONE]");
        assert_eq!(&b[..], b"data: [DONE]\n\n");
        let c = crlf_data(&serde_json::json!({"a": 1}));
        assert_eq!(&c[..], b"data: {\"a\":1}\r\n\r\n");
        let events = vec![a.clone(), b.clone()];
        assert_eq!(pieces(&events, None), events);
        let cut = pieces(&events, Some(5));
        assert!(cut.iter().all(|p| p.len() <= 5));
        assert_eq!(cut.concat(), [a, b].concat());
    }
}
