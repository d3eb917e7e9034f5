//! Accepting connections: what `axum::serve` does, plus the two limits it lacks and that a
//! server on the Internet needs before it reads a byte of a request.
//!
//! - **A cap on open connections** (`--max-connections`). Past it a new connection is closed
//!   at once rather than queued: a client that is refused retries (GitHub redelivers, and
//!   bosun's redelivery sweep asks for failed deliveries), while a queue behind slow clients
//!   would make every delivery late.
//! - **A deadline for a request's headers** (`--header-timeout-secs`), idle keep-alive
//!   connections included: a client that trickles its headers (slow-loris) holds a slot for
//!   that long at most. Bodies have their own deadline in the webhook handler.
//!
//! Each connection also gets its peer address as `ConnectInfo<SocketAddr>`, as axum's
//! `into_make_service_with_connect_info` gives it.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

/// How many connections may be open at once, and how long a request's headers may take.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// What the listener saw, for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnCounters {
    /// Open now.
    pub open: AtomicU64,
    /// Closed at once because `max_connections` were open.
    pub refused: AtomicU64,
    /// Closed because a request's headers did not arrive in time.
    pub header_timeouts: AtomicU64,
}

/// Descriptors kept free for everything else bosun opens (SQLite, git, Docker, GitHub).
const RESERVED_FDS: u64 = 256;

/// Raises the soft limit on open files to the hard one (as Go's runtime does), and returns
/// `wanted` lowered, if need be, so the connections alone cannot use up the descriptors.
pub fn fit_to_open_files(wanted: usize) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return wanted;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    let room = lim.rlim_cur.saturating_sub(RESERVED_FDS).max(16);
    let fitted = (wanted as u64).min(room) as usize;
    if fitted < wanted {
        tracing::warn!(
            wanted,
            fitted,
            open_files = lim.rlim_cur,
            "fewer connections than --max-connections: the open-files limit is lower; raise it (ulimit -n)"
        );
    }
    fitted
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the open connections
/// finish what they serve and returns once they are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    counters: Arc<ConnCounters>,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Dropped to tell the connections to finish; each connection holds a receiver, and
    // `closed()` on `all_done` resolves when the last is gone.
    let (stop_tx, stop_rx) = watch::channel(());
    let (all_done, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Answers are single small writes; Nagle's algorithm would only delay them.
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, "connection refused: too many open");
            drop(stream);
            continue;
        };
        let router = router.clone();
        let counters = counters.clone();
        let mut stop_rx = stop_rx.clone();
        let done_rx = done_rx.clone();
        tokio::spawn(async move {
            counters.open.fetch_add(1, Ordering::Relaxed);
            let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let served = tokio::select! {
                served = conn.as_mut() => served,
                _ = stop_rx.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = served {
                if e.is_timeout() {
                    counters.header_timeouts.fetch_add(1, Ordering::Relaxed);
                }
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            counters.open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
            drop(done_rx);
        });
    }
    drop(listener);
    drop(stop_rx);
    drop(stop_tx);
    drop(done_rx);
    // A live log streamed to the dashboard never finishes by itself: do not wait forever.
    if tokio::time::timeout(DRAIN, all_done.closed())
        .await
        .is_err()
    {
        tracing::info!(
            open = counters.open.load(Ordering::Relaxed),
            "connections still open after {DRAIN:?} are closed"
        );
    }
}

/// How long, at shutdown, open connections get to finish what they serve.
const DRAIN: Duration = Duration::from_secs(10);
