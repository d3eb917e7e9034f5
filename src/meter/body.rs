//! The response body on its way to the agent: passed through chunk by chunk, untouched, while a
//! [`UsageReader`] reads along; when the body ends, or is dropped half-way (agent gone, upstream
//! cut off), the call is settled with whatever usage was seen.
//!
//! With a `content-length`, the call is settled before the last byte is handed on: HTTP/1 ends
//! such a response when its length is reached, so the agent could otherwise see the whole
//! response before the meter counted it. A chunked body is settled when the upstream's body
//! ends, which comes before the terminating chunk the agent waits for. Either way, once an
//! agent has read a whole response, [`MeterProxy::spent`](super::MeterProxy::spent) includes it.

use super::runs::CallTicket;
use super::usage::UsageReader;
use bytes::Bytes;
use futures_util::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

pub(crate) type Upstream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// Settles the ticket of one call once.
struct Meter {
    reader: Option<UsageReader>,
    ticket: CallTicket,
    /// Usage is expected (a metered endpoint answered 2xx); its absence is worth counting.
    expect_usage: bool,
    span: tracing::Span,
}

pub(crate) struct MeteredBody {
    upstream: Upstream,
    meter: Option<Meter>,
    /// Bytes still to come when the upstream sent a `content-length`.
    remaining: Option<u64>,
}

impl MeteredBody {
    pub(crate) fn new(
        upstream: Upstream,
        content_length: Option<u64>,
        reader: Option<UsageReader>,
        ticket: CallTicket,
        expect_usage: bool,
        span: tracing::Span,
    ) -> Self {
        let mut body = MeteredBody {
            upstream,
            meter: Some(Meter {
                reader,
                ticket,
                expect_usage,
                span,
            }),
            remaining: content_length,
        };
        if content_length == Some(0) {
            body.settle("complete");
        }
        body
    }

    fn settle(&mut self, how: &'static str) {
        let Some(meter) = self.meter.take() else {
            return;
        };
        let reading = meter.reader.map(UsageReader::finish).unwrap_or_default();
        let settled = meter.ticket.settle(reading, meter.expect_usage);
        let _entered = meter.span.enter();
        match settled.usage {
            Some(u) => tracing::debug!(
                body = how,
                model = settled.model.as_deref().unwrap_or("?"),
                input = u.input_tokens,
                output = u.output_tokens,
                cache_read = u.cache_read_tokens,
                cache_write = u.cache_write_tokens,
                micro_usd = settled.micro_usd,
                "call metered"
            ),
            None if meter.expect_usage => {
                tracing::warn!(
                    body = how,
                    "a metered call's response carried no readable usage"
                )
            }
            None => tracing::debug!(body = how, "call ended without usage"),
        }
    }
}

impl Stream for MeteredBody {
    type Item = reqwest::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match this.upstream.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(reader) = this.meter.as_mut().and_then(|m| m.reader.as_mut()) {
                    reader.feed(&chunk);
                }
                if let Some(left) = this.remaining.as_mut() {
                    *left = left.saturating_sub(chunk.len() as u64);
                    if *left == 0 {
                        this.settle("complete");
                    }
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.settle("cut off by the upstream");
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.settle("complete");
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for MeteredBody {
    fn drop(&mut self) {
        // Still unsettled: the agent went away, or the server dropped the body early.
        self.settle("dropped before its end");
    }
}
