//! The ingest load generator: N keep-alive HTTP/1.1 connections, each sending signed deliveries
//! back to back (closed loop: a connection sends its next request when the previous answer is
//! in). Every request's latency is kept. Bodies and signatures are prepared before the clock
//! starts; per request the client only formats a delivery id, because it shares the machine's
//! cores with the server it measures.

use crate::payloads::{self, Payload};
use crate::stats::micros;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{handshake, SendRequest};
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Numbers each `drive` of this process: a delivery id or body sent by an earlier load would
/// be a redelivery or a replay to bosun (answered 200, not stored), not new work.
static DRIVES: AtomicU64 = AtomicU64::new(0);
use tokio::net::TcpStream;

/// When the warm-up ends and when the measurement ends. A request belongs to the phase in
/// which it was sent.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub warm_end: Instant,
    pub end: Instant,
    /// Ends the load early once set (a load that goes on while something else is measured).
    pub stop: Option<&'static AtomicBool>,
}

impl Window {
    pub fn starting_now(warmup: Duration, measure: Duration) -> Window {
        let warm_end = Instant::now() + warmup;
        Window {
            warm_end,
            end: warm_end + measure,
            stop: None,
        }
    }

    fn over(&self, now: Instant) -> bool {
        now >= self.end || self.stop.is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

/// A signed delivery with its header values built once.
struct Prepared {
    event: HeaderValue,
    body: Bytes,
}

pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

/// Opens `n` connections before any clock starts, so connecting is not part of the numbers.
pub async fn connect(addr: SocketAddr, n: usize) -> anyhow::Result<Vec<Connection>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = TcpStream::connect(addr).await?;
        // Requests are single small writes; Nagle would only add delay.
        stream.set_nodelay(true)?;
        let (sender, driver) = handshake(TokioIo::new(stream)).await?;
        // The driver does the socket I/O; it ends when the sender is dropped.
        tokio::spawn(async move {
            let _ = driver.await;
        });
        conns.push(Connection { sender });
    }
    Ok(conns)
}

/// What all connections saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Latency of every request sent in the measured window, in microseconds.
    pub latencies_us: Vec<u64>,
    /// Body bytes sent in the measured window.
    pub measured_bytes: u64,
    pub warmup_requests: u64,
    /// Answers by status, warm-up included.
    pub statuses: BTreeMap<u16, u64>,
    /// Transport errors; each ends its connection.
    pub errors: Vec<String>,
    /// From the end of the warm-up to the last measured answer.
    pub measured_for: Duration,
}

impl Outcome {
    pub fn answers(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    pub fn non_2xx(&self) -> Vec<(u16, u64)> {
        self.statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(s, n)| (*s, *n))
            .collect()
    }
}

/// Drives every connection until `window.end`, then merges what they recorded.
pub async fn drive(
    conns: Vec<Connection>,
    addr: SocketAddr,
    mix: &[Payload],
    secret: &str,
    window: Window,
) -> anyhow::Result<Outcome> {
    let secret: Arc<str> = Arc::from(secret);
    let prepared: Arc<Vec<Prepared>> = Arc::new(
        mix.iter()
            .map(|s| {
                Ok(Prepared {
                    event: HeaderValue::from_str(&s.event)?,
                    body: s.body.clone(),
                })
            })
            .collect::<anyhow::Result<_>>()?,
    );
    let host = HeaderValue::from_str(&addr.to_string())?;
    let count = conns.len();
    let run = DRIVES.fetch_add(1, Ordering::Relaxed);
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(id, conn)| {
            // Spread the connections over the mix so concurrent requests are different events.
            let offset = id * prepared.len() / count.max(1);
            tokio::spawn(one_connection(
                conn,
                (run, id),
                offset,
                prepared.clone(),
                secret.clone(),
                host.clone(),
                window,
            ))
        })
        .collect();
    let mut all = Outcome::default();
    let mut last_answer = window.warm_end;
    for task in tasks {
        let one = task.await?;
        all.latencies_us.extend(one.latencies_us);
        all.measured_bytes += one.measured_bytes;
        all.warmup_requests += one.warmup_requests;
        for (status, n) in one.statuses {
            *all.statuses.entry(status).or_default() += n;
        }
        all.errors.extend(one.error);
        last_answer = last_answer.max(one.last_answer);
    }
    all.measured_for = last_answer.saturating_duration_since(window.warm_end);
    Ok(all)
}

struct ConnOutcome {
    latencies_us: Vec<u64>,
    measured_bytes: u64,
    warmup_requests: u64,
    statuses: BTreeMap<u16, u64>,
    error: Option<String>,
    last_answer: Instant,
}

async fn one_connection(
    mut conn: Connection,
    (run, id): (u64, usize),
    offset: usize,
    mix: Arc<Vec<Prepared>>,
    secret: Arc<str>,
    host: HeaderValue,
    window: Window,
) -> ConnOutcome {
    let mut out = ConnOutcome {
        // Room for a few thousand answers a second without regrowing in the hot loop.
        latencies_us: Vec::with_capacity(1 << 14),
        measured_bytes: 0,
        warmup_requests: 0,
        statuses: BTreeMap::new(),
        error: None,
        last_answer: window.warm_end,
    };
    for n in 0u64.. {
        let p = &mix[(offset + n as usize) % mix.len()];
        // Made one of a kind before the clock starts.
        let (body, signature) =
            payloads::one_of_a_kind(&p.body, &format!("{run}-{id}-{n}"), &secret);
        let sent = Instant::now();
        if window.over(sent) {
            break;
        }
        let delivery = format!("bench-{run}-{id}-{n}");
        let status = match send(
            &mut conn.sender,
            &p.event,
            body,
            &signature,
            &host,
            &delivery,
        )
        .await
        {
            Ok(status) => status,
            Err(e) => {
                out.error = Some(format!("connection {id}, request {n}: {e:#}"));
                break;
            }
        };
        let answered = Instant::now();
        *out.statuses.entry(status).or_default() += 1;
        if sent >= window.warm_end {
            out.latencies_us.push(micros(answered - sent));
            out.measured_bytes += p.body.len() as u64 + 24;
            out.last_answer = answered;
        } else {
            out.warmup_requests += 1;
        }
    }
    out
}

/// One request; the answer body is read to the end so the connection can carry the next.
async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    event: &HeaderValue,
    body: Bytes,
    signature: &str,
    host: &HeaderValue,
    delivery: &str,
) -> anyhow::Result<u16> {
    // Unique per request: the same id twice would be a redelivery, answered 200 and not stored.
    let delivery = HeaderValue::from_str(delivery)?;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/webhook")
        .header(HOST, host.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("x-github-event", event.clone())
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", HeaderValue::from_str(signature)?)
        .body(Full::new(body))?;
    sender.ready().await?;
    let answer = sender.send_request(request).await?;
    let status = answer.status().as_u16();
    answer.into_body().collect().await?;
    Ok(status)
}
