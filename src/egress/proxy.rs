//! The egress proxy: the only way out for a sandbox that may fetch dependencies. It runs on
//! the host, never in a container, and for each connection a run asks for it checks, in
//! order:
//!
//! 1. the run's token (`Proxy-Authorization`; 407 without a known one);
//! 2. the request: a `CONNECT host:port` tunnel or an absolute `http://` URL (400 otherwise);
//! 3. the port: 80 and 443 unless the server allows more;
//! 4. the host: a name (an IP literal is refused) on the run's allowlist;
//! 5. the name's addresses: every one public, or in a range the server trusts (a name that
//!    resolves anywhere near the host, a private network or the cloud's metadata service is
//!    refused before anything is sent to it);
//!
//! and only then connects, to the very address it checked (no second lookup a rebinding name
//! could change). Refusals answer 403 with `X-Bosun-Egress: refused` and a line saying what to
//! add to `egress:`. Redirects are the client's business: the proxy relays a 3xx as it is, and
//! the client's next request is checked like any other. Every connection, allowed or refused,
//! goes into the run's log with the bytes it moved.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::addresses::{forbidden, Range};
use super::head::{read_head, Head};
use super::runs::{Connection, EgressRuns, RunEgress};
use bosun_core::egress::normalize;

/// Names to addresses. The system resolver in production; tests give names of their own.
pub trait Resolve: Send + Sync + 'static {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The host's resolver (`getaddrinfo` through Tokio).
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((host, port)).await?.collect()) })
    }
}

/// What the server allows every run beyond its allowlist.
#[derive(Debug, Clone)]
pub struct EgressSettings {
    /// Ports a run may reach.
    pub ports: Vec<u16>,
    /// Addresses a run may reach though they are not public (an intranet registry).
    pub trusted_ranges: Vec<Range>,
    /// How long connecting to a host may take.
    pub connect_timeout: Duration,
}

impl Default for EgressSettings {
    fn default() -> Self {
        EgressSettings {
            ports: vec![80, 443],
            trusted_ranges: Vec::new(),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A running proxy; dropping it stops accepting (connections going on finish by themselves).
pub struct EgressProxy {
    addr: SocketAddr,
    runs: Arc<EgressRuns>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

struct Shared {
    runs: Arc<EgressRuns>,
    settings: EgressSettings,
    resolver: Box<dyn Resolve>,
}

impl EgressProxy {
    pub async fn start(
        listen: SocketAddr,
        settings: EgressSettings,
        resolver: Box<dyn Resolve>,
    ) -> io::Result<EgressProxy> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let runs = Arc::new(EgressRuns::default());
        let shared = Arc::new(Shared {
            runs: runs.clone(),
            settings,
            resolver,
        });
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = &mut stopped => return,
                };
                match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let shared = shared.clone();
                        let span = tracing::info_span!("egress", %peer);
                        tokio::spawn(serve(stream, shared).instrument(span));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "egress proxy: accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        });
        tracing::info!(%addr, "egress proxy listening");
        Ok(EgressProxy {
            addr,
            runs,
            stop: Some(stop),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn runs(&self) -> &Arc<EgressRuns> {
        &self.runs
    }
}

impl Drop for EgressProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// Why a connection was not made, and the status the client gets.
struct Refusal {
    status: &'static str,
    reason: String,
}

impl Refusal {
    fn forbidden(reason: impl Into<String>) -> Self {
        Refusal {
            status: "403 Forbidden",
            reason: reason.into(),
        }
    }
}

async fn serve(mut client: TcpStream, shared: Arc<Shared>) {
    let (head, early) = match read_head(&mut client).await {
        Ok(read) => read,
        Err(why) => return answer(&mut client, "400 Bad Request", &why).await,
    };
    let Some(run) = run_of(&head, &shared.runs) else {
        let _ = client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"bosun egress\"\r\nContent-Length: 0\r\n\
                  Connection: close\r\n\r\n",
            )
            .await;
        return;
    };
    let (host, port, path) = match head.destination() {
        Ok(destination) => destination,
        Err(why) => return answer(&mut client, "400 Bad Request", &why).await,
    };
    let mut record = Connection {
        host: host.clone(),
        port,
        allowed: false,
        refused: None,
        sent: 0,
        received: 0,
    };
    let upstream = match checked_connect(&shared, &run, &host, port).await {
        Ok(upstream) => upstream,
        Err(refusal) => {
            tracing::info!(run = %run.name, %host, port, reason = %refusal.reason, "egress refused");
            let text = format!(
                "bosun egress proxy: {host}:{port} refused: {}",
                refusal.reason
            );
            answer(&mut client, refusal.status, &text).await;
            record.refused = Some(refusal.reason);
            return run.note(record);
        }
    };
    record.allowed = true;
    let tunnel = head.method.eq_ignore_ascii_case("CONNECT");
    let opening = if tunnel {
        b"HTTP/1.1 200 Connection Established\r\n\r\n".to_vec()
    } else {
        head.for_origin(&path)
    };
    let (sent, received) = relay(client, upstream, tunnel, opening, early).await;
    (record.sent, record.received) = (sent, received);
    tracing::info!(run = %run.name, %host, port, sent, received, "egress connection ended");
    run.note(record);
}

/// The run whose token the request carries as its proxy password.
fn run_of(head: &Head, runs: &EgressRuns) -> Option<Arc<RunEgress>> {
    let value = head.header("proxy-authorization")?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_, token) = text.split_once(':')?;
    runs.find(token)
}

/// Checks the port, the host and every address it resolves to, then connects to one of those
/// addresses.
async fn checked_connect(
    shared: &Shared,
    run: &RunEgress,
    host: &str,
    port: u16,
) -> Result<TcpStream, Refusal> {
    let settings = &shared.settings;
    if !settings.ports.contains(&port) {
        return Err(Refusal::forbidden(format!(
            "port {port} is not allowed (ports {})",
            list(&settings.ports)
        )));
    }
    let name = normalize(host)
        .map_err(|why| Refusal::forbidden(format!("{why}: ask for the host by its name")))?;
    if !run.allowlist().allows(&name) {
        return Err(Refusal::forbidden(format!(
            "{name} is not in the repository's egress list; add it to `egress:` in \
             .github/bosun.yml if the run needs it"
        )));
    }
    let addresses = shared
        .resolver
        .resolve(&name, port)
        .await
        .map_err(|e| Refusal {
            status: "502 Bad Gateway",
            reason: format!("{name} does not resolve: {e}"),
        })?;
    if addresses.is_empty() {
        return Err(Refusal {
            status: "502 Bad Gateway",
            reason: format!("{name} resolves to no address"),
        });
    }
    for address in &addresses {
        if let Some(why) = unreachable(address.ip(), &settings.trusted_ranges) {
            return Err(Refusal::forbidden(format!(
                "{name} resolves to {}, {why}",
                address.ip()
            )));
        }
    }
    // Each checked address in the resolver's order, until one answers.
    let mut last = String::new();
    for address in &addresses {
        match tokio::time::timeout(settings.connect_timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = format!("connecting to {name} ({address}) failed: {e}"),
            Err(_) => last = format!("connecting to {name} ({address}) took too long"),
        }
    }
    Err(Refusal {
        status: "502 Bad Gateway",
        reason: last,
    })
}

/// Why a run may not reach `ip`: forbidden and in no range the server trusts.
fn unreachable(ip: IpAddr, trusted: &[Range]) -> Option<&'static str> {
    forbidden(ip).filter(|_| !trusted.iter().any(|r| r.contains(ip)))
}

fn list(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sends `opening` (the tunnel's answer to the client, or the request's head to the origin),
/// then what the client sent after its head, then copies both ways until either side closes.
/// Returns the bytes from the client and to it.
async fn relay(
    mut client: TcpStream,
    mut upstream: TcpStream,
    tunnel: bool,
    opening: Vec<u8>,
    early: Vec<u8>,
) -> (u64, u64) {
    let sent_first = if tunnel {
        if client.write_all(&opening).await.is_err() {
            return (0, 0);
        }
        0
    } else {
        if upstream.write_all(&opening).await.is_err() {
            return (0, 0);
        }
        opening.len() as u64
    };
    if !early.is_empty() && upstream.write_all(&early).await.is_err() {
        return (sent_first, 0);
    }
    match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        Ok((up, down)) => (sent_first + early.len() as u64 + up, down),
        Err(_) => (sent_first + early.len() as u64, 0),
    }
}

/// A short plain-text answer, and the connection closed.
async fn answer(client: &mut TcpStream, status: &str, text: &str) {
    let body = format!("{text}\n");
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         X-Bosun-Egress: refused\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = client.write_all(head.as_bytes()).await;
    let _ = client.write_all(body.as_bytes()).await;
    let _ = client.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trusted_range_lets_an_intranet_address_through_and_nothing_else() {
        let trusted: Vec<Range> = vec!["10.20.0.0/16".parse().unwrap()];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(unreachable(ip("10.20.3.4"), &trusted), None);
        assert!(unreachable(ip("10.21.0.1"), &trusted).is_some());
        assert!(unreachable(ip("169.254.169.254"), &trusted).is_some());
        assert_eq!(unreachable(ip("8.8.8.8"), &[]), None);
    }
}
