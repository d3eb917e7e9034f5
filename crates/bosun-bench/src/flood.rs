//! The flood benchmark (issue "unauthenticated memory exhaustion"): what bosun's memory and
//! its signed deliveries do while strangers hold its connections and push bodies at it. Three
//! loads run at once against one `bosun serve`, on loopback, for `--seconds`:
//!
//! - **slow-loris**: `--slow` connections, each sending a request head one byte a second and
//!   never finishing it. One the server closes is counted and replaced, so the pressure stays.
//! - **big unsigned bodies**: `--big` connections, each a `POST /webhook` of `--big-mib` MiB
//!   with no signature, the body streamed as fast as the server takes it from one static
//!   buffer (the client holds no body). Each answer's status is counted, and the connection
//!   replaced by a new one.
//! - **signed deliveries**: `--rate` a second through a normal HTTP client; each must get a 2xx.
//!
//! The server's RSS is sampled every 100 ms. Nothing asserts a time: the checks are the memory
//! peak and the signed deliveries' answers. The client runs on the bench's single tokio thread,
//! so every load is a plain socket loop with no per-request buffers.

use crate::metrics::Scrape;
use crate::payloads::{self, Payload};
use crate::procfs::{self, mib, CpuUse, MachineUse, Memory};
use crate::server::Server;
use crate::stats::{micros, Percentiles};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

/// The server's resident memory must stay below this, whatever strangers send.
pub const RSS_LIMIT_MIB: u64 = 200;
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How often a slow-loris connection sends its next header byte.
const TRICKLE_EVERY: Duration = Duration::from_secs(1);
/// A signed delivery without an answer by then counts as failed.
const SIGNED_TIMEOUT: Duration = Duration::from_secs(10);
/// Payload deliveries in flight at most; the next waits for one to be answered, so a stalled
/// server lowers the rate sent instead of piling up client connections.
const SIGNED_IN_FLIGHT: usize = 16;
/// A connection the server refused (or closed within this time) is replaced after this pause,
/// so a server at its connection cap does not turn the client into a busy loop.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);
/// What the slow-loris connections send first; then one `a` a second, forever.
const SLOW_HEAD: &[u8] = b"POST /webhook HTTP/1.1\r\nHost: x\r\nX-Slow: ";
/// Every big body is this buffer, written again and again: JSON whitespace, never parsed.
static FILLER: [u8; 64 * 1024] = [b' '; 64 * 1024];

/// What the command line asked for.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub seconds: u64,
    pub slow: usize,
    pub big: usize,
    pub big_mib: u64,
    pub rate: u64,
}

/// How a big unsigned body was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Answer {
    Status(u16),
    /// The server closed the connection without a status line.
    Closed,
    /// Reading the answer failed (reset by the server).
    Reset,
    /// Bytes came back that are not an HTTP status line.
    Garbled,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Status(s) => write!(f, "{s}"),
            Answer::Closed => f.write_str("closed"),
            Answer::Reset => f.write_str("reset"),
            Answer::Garbled => f.write_str("garbled"),
        }
    }
}

/// `401: 812, 503: 3, closed: 2`, or `none`.
pub fn histogram<K: fmt::Display>(counts: &BTreeMap<K, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The status code of `HTTP/1.x NNN ...`, from the first bytes of an answer.
pub fn parse_status(head: &[u8]) -> Option<u16> {
    let rest = head.strip_prefix(b"HTTP/1.")?;
    let code = rest.get(2..5)?;
    if rest.get(1) != Some(&b' ') || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// What the attacking tasks count as they go. Shared, not returned: at the end of the run the
/// tasks are aborted wherever they are.
#[derive(Default)]
struct Tally {
    slow_opened: AtomicU64,
    slow_closed: AtomicU64,
    slow_connect_failed: AtomicU64,
    /// How long each slow-loris connection lived until the server closed it, in µs.
    slow_lifetimes: Mutex<Vec<u64>>,
    big_started: AtomicU64,
    /// Body bytes the kernel took (into the socket buffers; not necessarily read by bosun).
    big_body_bytes: AtomicU64,
    /// Bodies written to their last byte: the server read (or buffered) nearly all of it.
    big_whole: AtomicU64,
    big_connect_failed: AtomicU64,
    big_answers: Mutex<BTreeMap<Answer, u64>>,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// This process's open-files limit before and after raising it; `bosun serve` inherits it.
#[derive(Debug, Clone, Copy)]
pub struct OpenFiles {
    pub before: u64,
    pub now: u64,
    pub hard: u64,
}

/// Raises this process's soft limit on open files to its hard limit, before the server is
/// started (a child inherits it): both sides hold one descriptor per connection.
pub fn raise_open_files() -> anyhow::Result<OpenFiles> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one `struct rlimit` to the pointer it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let before = lim.rlim_cur;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit only reads the `struct rlimit` behind the pointer.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        lim.rlim_cur = lim.rlim_max;
    }
    Ok(OpenFiles {
        before,
        now: lim.rlim_cur,
        hard: lim.rlim_max,
    })
}

impl fmt::Display for OpenFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.before == self.now {
            write!(f, "soft limit {} (hard {})", self.now, self.hard)
        } else {
            write!(
                f,
                "soft limit raised from {} to {} (the hard limit)",
                self.before, self.now
            )
        }
    }
}

/// Descriptors the bench itself needs at most: every attacking connection, the signed
/// deliveries, and a margin for the fake GitHub and the metrics scrape.
pub fn descriptors_needed(settings: &Settings) -> u64 {
    (settings.slow + settings.big + SIGNED_IN_FLIGHT) as u64 + 64
}

/// The signed deliveries' side of the run.
#[derive(Debug, Default)]
struct SignedOutcome {
    sent: u64,
    /// Answers by status, 2xx included.
    statuses: BTreeMap<u16, u64>,
    /// Latency of every answer, whatever its status, in µs.
    latencies_us: Vec<u64>,
    /// Requests that got no answer (timeout, transport error).
    failed: u64,
    first_errors: Vec<String>,
}

impl SignedOutcome {
    fn answered_2xx(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(s, _)| (200..300).contains(*s))
            .map(|(_, n)| n)
            .sum()
    }

    fn non_2xx(&self) -> BTreeMap<u16, u64> {
        self.statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(s, n)| (*s, *n))
            .collect()
    }
}

/// The RSS samples of the run.
#[derive(Debug, Default)]
struct Sampled {
    max_rss_kib: u64,
    samples: u64,
    /// One sample a second, for the trace in the report.
    each_second_kib: Vec<u64>,
    /// Why /proc stopped answering, if the server went away mid-run.
    gone: Option<String>,
}

pub struct FloodReport {
    settings: Settings,
    idle: Memory,
    /// `None` when the server was gone at the end.
    end: Option<Memory>,
    sampled: Sampled,
    slow_opened: u64,
    slow_closed: u64,
    slow_connect_failed: u64,
    slow_lived: Option<Percentiles>,
    big_started: u64,
    big_body_bytes: u64,
    big_whole: u64,
    big_connect_failed: u64,
    big_answers: BTreeMap<Answer, u64>,
    signed: SignedOutcome,
    signed_latency: Option<Percentiles>,
    server_cpu: Option<CpuUse>,
    bench_cpu: Option<CpuUse>,
    machine_cpu: Option<MachineUse>,
    counters: Result<Vec<(String, f64)>, String>,
    server_log_lines: usize,
    server_log_bytes: u64,
    loaded_for: Duration,
}

pub async fn run(server: &Server, secret: &str, settings: Settings) -> anyhow::Result<FloodReport> {
    let pid = server.pid();
    let addr = server.addr();
    // Payload `ping` and `issues` examples: intake records them without queueing a job.
    let mix: Vec<Payload> = payloads::ingest_mix()?
        .into_iter()
        .filter(|s| s.event == "ping" || s.event == "issues")
        .collect();
    anyhow::ensure!(!mix.is_empty(), "no ping or issues fixture to sign");
    let idle = procfs::memory(pid)?;

    let (stop_sampling, stop_rx) = oneshot::channel();
    let sampler = tokio::spawn(sample_rss(pid, stop_rx));
    let cpu_before = (
        procfs::cpu(Some(pid)),
        procfs::cpu(None),
        procfs::machine_cpu(),
    );
    let started = Instant::now();
    let deadline = started + Duration::from_secs(settings.seconds);

    let tally = Arc::new(Tally::default());
    let mut attack = JoinSet::new();
    for i in 0..settings.slow {
        // The connections start spread over one trickle period, so their bytes do too.
        let first = TRICKLE_EVERY.mul_f64(i as f64 / settings.slow as f64);
        attack.spawn(slow_loris(addr, tally.clone(), first));
    }
    let body_len = settings.big_mib * 1024 * 1024;
    for i in 0..settings.big {
        attack.spawn(big_bodies(addr, i, body_len, tally.clone()));
    }
    let in_flight = send_signed(server, secret, &mix, settings.rate, deadline).await?;

    // The end of the run: every attacking connection goes, then the last signed answers come.
    attack.shutdown().await;
    let loaded_for = started.elapsed();
    let cpu_after = (
        procfs::cpu(Some(pid)),
        procfs::cpu(None),
        procfs::machine_cpu(),
    );
    let (mut signed, mut in_flight) = in_flight;
    while let Some(joined) = in_flight.join_next().await {
        record(&mut signed, joined?);
    }
    let _ = stop_sampling.send(());
    let sampled = sampler.await?;
    let end = procfs::memory(pid).ok();
    let counters = match tokio::time::timeout(SIGNED_TIMEOUT, server.metrics()).await {
        Ok(Ok(scrape)) => Ok(webhook_counters(&scrape)),
        Ok(Err(e)) => Err(format!("{e:#}")),
        Err(_) => Err(format!("no answer within {SIGNED_TIMEOUT:?}")),
    };

    let wall = loaded_for;
    let cpu = |before: &anyhow::Result<procfs::CpuSample>,
               after: &anyhow::Result<procfs::CpuSample>| {
        match (before, after) {
            (Ok(b), Ok(a)) => Some(procfs::cpu_use(b, a, wall)),
            _ => None,
        }
    };
    let server_cpu = cpu(&cpu_before.0, &cpu_after.0);
    let bench_cpu = cpu(&cpu_before.1, &cpu_after.1);
    let machine_cpu = match (&cpu_before.2, &cpu_after.2) {
        (Ok(b), Ok(a)) => Some(procfs::machine_use(b, a, wall)),
        _ => None,
    };
    let slow_lived = Percentiles::of(std::mem::take(
        &mut *tally
            .slow_lifetimes
            .lock()
            .expect("no task panics holding it"),
    ));
    let big_answers = tally
        .big_answers
        .lock()
        .expect("no task panics holding it")
        .clone();
    Ok(FloodReport {
        settings,
        idle,
        end,
        sampled,
        slow_opened: load(&tally.slow_opened),
        slow_closed: load(&tally.slow_closed),
        slow_connect_failed: load(&tally.slow_connect_failed),
        slow_lived,
        big_started: load(&tally.big_started),
        big_body_bytes: load(&tally.big_body_bytes),
        big_whole: load(&tally.big_whole),
        big_connect_failed: load(&tally.big_connect_failed),
        big_answers,
        signed_latency: Percentiles::of(signed.latencies_us.clone()),
        signed,
        server_cpu,
        bench_cpu,
        machine_cpu,
        counters,
        server_log_lines: server.log_lines(),
        server_log_bytes: server.log_bytes(),
        loaded_for,
    })
}

/// Every series of the webhook and connection families, as the server printed them.
fn webhook_counters(scrape: &Scrape) -> Vec<(String, f64)> {
    ["bosun_webhook", "bosun_connections"]
        .iter()
        .flat_map(|prefix| scrape.starting_with(prefix))
        .collect()
}

/// Samples the server's VmRSS every 100 ms until told to stop, or until /proc has no more
/// memory to show for it (it exited).
async fn sample_rss(pid: u32, mut stop: oneshot::Receiver<()>) -> Sampled {
    let mut sampled = Sampled::default();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let per_second = (Duration::from_secs(1).as_millis() / SAMPLE_EVERY.as_millis()) as u64;
    loop {
        tokio::select! {
            _ = &mut stop => return sampled,
            _ = tick.tick() => {}
        }
        match procfs::memory(pid) {
            Ok(m) => {
                if sampled.samples % per_second == 0 {
                    sampled.each_second_kib.push(m.rss_kib);
                }
                sampled.samples += 1;
                sampled.max_rss_kib = sampled.max_rss_kib.max(m.rss_kib);
            }
            Err(e) => {
                sampled.gone = Some(format!("{e:#}"));
                return sampled;
            }
        }
    }
}

/// One slow-loris connection at a time, replaced whenever the server closes it.
async fn slow_loris(addr: SocketAddr, tally: Arc<Tally>, first: Duration) {
    tokio::time::sleep(first).await;
    loop {
        let Ok(stream) = TcpStream::connect(addr).await else {
            bump(&tally.slow_connect_failed);
            tokio::time::sleep(RECONNECT_PAUSE).await;
            continue;
        };
        bump(&tally.slow_opened);
        let opened = Instant::now();
        trickle(stream).await;
        bump(&tally.slow_closed);
        let lived = opened.elapsed();
        tally
            .slow_lifetimes
            .lock()
            .expect("no task panics holding it")
            .push(micros(lived));
        if lived < RECONNECT_PAUSE {
            tokio::time::sleep(RECONNECT_PAUSE).await;
        }
    }
}

/// Sends the head, then a header byte a second; returns when the server has closed the
/// connection (end of stream, or an error on either side).
async fn trickle(mut stream: TcpStream) {
    // One byte a second must leave at once, not wait for the previous one's ACK.
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.split();
    if wr.write_all(SLOW_HEAD).await.is_err() {
        return;
    }
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + TRICKLE_EVERY, TRICKLE_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut buf = [0u8; 256];
    loop {
        tokio::select! {
            read = rd.read(&mut buf) => match read {
                // An answer (a 408, say) may come before the close: keep reading to the end.
                Ok(n) if n > 0 => {}
                _ => return,
            },
            _ = tick.tick() => {
                if wr.write_all(b"a").await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One big unsigned body at a time, on a new connection each.
async fn big_bodies(addr: SocketAddr, id: usize, len: u64, tally: Arc<Tally>) {
    for n in 0u64.. {
        let Ok(stream) = TcpStream::connect(addr).await else {
            bump(&tally.big_connect_failed);
            tokio::time::sleep(RECONNECT_PAUSE).await;
            continue;
        };
        let head = format!(
            "POST /webhook HTTP/1.1\r\nHost: {addr}\r\nX-GitHub-Event: issues\r\n\
             X-GitHub-Delivery: flood-{id}-{n}\r\nContent-Type: application/json\r\n\
             Content-Length: {len}\r\n\r\n"
        );
        let answer = one_big(stream, head.as_bytes(), len, &tally).await;
        *tally
            .big_answers
            .lock()
            .expect("no task panics holding it")
            .entry(answer)
            .or_default() += 1;
    }
}

/// Streams one body while waiting for the answer: the server may answer (and close) before
/// reading a byte of it. The connection is dropped as soon as the status line is in.
async fn one_big(mut stream: TcpStream, head: &[u8], len: u64, tally: &Tally) -> Answer {
    let (mut rd, mut wr) = stream.split();
    let send = async {
        wr.write_all(head).await?;
        bump(&tally.big_started);
        let mut left = len;
        while left > 0 {
            let n = left.min(FILLER.len() as u64) as usize;
            wr.write_all(&FILLER[..n]).await?;
            tally.big_body_bytes.fetch_add(n as u64, Ordering::Relaxed);
            left -= n as u64;
        }
        bump(&tally.big_whole);
        std::io::Result::Ok(())
    };
    let answer = read_status(&mut rd);
    tokio::pin!(send, answer);
    tokio::select! {
        status = &mut answer => status,
        // All sent, or the server stopped taking it: its answer, if any, is on the way.
        _ = &mut send => answer.await,
    }
}

/// Reads the first bytes of an answer and returns its status.
async fn read_status(rd: &mut (impl AsyncRead + Unpin)) -> Answer {
    let mut buf = [0u8; 32];
    let mut have = 0;
    loop {
        match rd.read(&mut buf[have..]).await {
            Ok(0) if have == 0 => return Answer::Closed,
            Ok(0) => return parse_status(&buf[..have]).map_or(Answer::Garbled, Answer::Status),
            Ok(n) => {
                have += n;
                // `HTTP/1.1 401` is 12 bytes.
                if have >= 12 || buf[..have].contains(&b'\n') {
                    return parse_status(&buf[..have]).map_or(Answer::Garbled, Answer::Status);
                }
            }
            Err(_) => return Answer::Reset,
        }
    }
}

type SignedResult = (Result<u16, String>, u64);

/// Sends signed deliveries at `rate` a second until `deadline`; returns what it counted so far
/// and the requests still in flight.
async fn send_signed(
    server: &Server,
    secret: &str,
    mix: &[Payload],
    rate: u64,
    deadline: Instant,
) -> anyhow::Result<(SignedOutcome, JoinSet<SignedResult>)> {
    let http = reqwest::Client::builder()
        .timeout(SIGNED_TIMEOUT)
        .pool_max_idle_per_host(SIGNED_IN_FLIGHT)
        .build()?;
    let url = server.url("/webhook");
    let slots = Arc::new(Semaphore::new(SIGNED_IN_FLIGHT));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    // A late tick is not made up for with a burst: the rate stays steady, and fewer are sent.
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut in_flight = JoinSet::new();
    let mut outcome = SignedOutcome::default();
    for n in 0u64.. {
        tick.tick().await;
        if Instant::now() >= deadline {
            break;
        }
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit?,
            _ = tokio::time::sleep_until(deadline.into()) => break,
        };
        // Answered requests are collected as the run goes, so the set stays small.
        while let Some(joined) = in_flight.try_join_next() {
            record(&mut outcome, joined?);
        }
        let s = &mix[n as usize % mix.len()];
        let (body, signature) = payloads::one_of_a_kind(&s.body, &format!("flood-{n}"), secret);
        let request = http
            .post(&url)
            .header("content-type", "application/json")
            .header("x-github-event", &s.event)
            .header("x-github-delivery", format!("bench-flood-{n}"))
            .header("x-hub-signature-256", signature)
            .body(body);
        outcome.sent += 1;
        in_flight.spawn(async move {
            let _permit = permit;
            let sent = Instant::now();
            let result = match request.send().await {
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    match answer.bytes().await {
                        Ok(_) => Ok(status),
                        Err(e) => Err(format!("reading the answer: {e}")),
                    }
                }
                Err(e) if e.is_timeout() => Err(format!("no answer in {SIGNED_TIMEOUT:?}")),
                Err(e) => Err(format!("{e}")),
            };
            (result, micros(sent.elapsed()))
        });
    }
    Ok((outcome, in_flight))
}

fn record(outcome: &mut SignedOutcome, (result, us): SignedResult) {
    match result {
        Ok(status) => {
            *outcome.statuses.entry(status).or_default() += 1;
            outcome.latencies_us.push(us);
        }
        Err(e) => {
            outcome.failed += 1;
            if outcome.first_errors.len() < 5 {
                outcome.first_errors.push(e);
            }
        }
    }
}

impl FloodReport {
    /// The higher of VmHWM at the end and the highest VmRSS sampled, in KiB.
    fn peak_kib(&self) -> u64 {
        let hwm = self.end.map_or(0, |m| m.peak_kib);
        hwm.max(self.sampled.max_rss_kib)
    }

    fn rss_ok(&self) -> bool {
        self.peak_kib() < RSS_LIMIT_MIB * 1024
    }

    fn signed_ok(&self) -> bool {
        self.signed.sent > 0 && self.signed.answered_2xx() == self.signed.sent
    }

    /// Memory under the limit, every signed delivery answered 2xx, and the server still there.
    pub fn passed(&self) -> bool {
        self.rss_ok() && self.signed_ok() && self.end.is_some() && self.sampled.gone.is_none()
    }

    fn rss_verdict(&self) -> String {
        format!(
            "RSS peak {} (limit {RSS_LIMIT_MIB} MiB): {}",
            mib(self.peak_kib()),
            if self.rss_ok() { "ok" } else { "OVER" }
        )
    }

    fn signed_verdict(&self) -> String {
        format!(
            "signed deliveries: {} of {} answered 2xx",
            self.signed.answered_2xx(),
            self.signed.sent
        )
    }

    pub fn print(&self) {
        let s = &self.settings;
        println!(
            "load             {:.1} s; everything below ran at once, from one client thread",
            self.loaded_for.as_secs_f64()
        );
        println!(
            "server RSS       idle {} before the load; max sampled {} ({} samples, every {} ms); VmHWM {}",
            mib(self.idle.rss_kib),
            mib(self.sampled.max_rss_kib),
            self.sampled.samples,
            SAMPLE_EVERY.as_millis(),
            self.end
                .map_or_else(|| "unreadable: the server is gone".into(), |m| mib(m.peak_kib))
        );
        let trace: Vec<_> = self
            .sampled
            .each_second_kib
            .iter()
            .map(|kib| format!("{:.0}", *kib as f64 / 1024.0))
            .collect();
        println!("RSS each second  {} MiB", trace.join(" "));
        if let Some(why) = &self.sampled.gone {
            println!("SERVER GONE      during the run: {why}");
        }
        println!(
            "slow-loris       {} connections held ({} opened in all), a header byte each {} s",
            s.slow,
            self.slow_opened,
            TRICKLE_EVERY.as_secs()
        );
        println!(
            "  closed by the server {}; connects failed {}",
            self.slow_closed, self.slow_connect_failed
        );
        if let Some(p) = &self.slow_lived {
            println!("  lived until closed  {p}");
        }
        println!(
            "big bodies       {} connections, each a {} MiB unsigned POST /webhook after another",
            s.big, s.big_mib
        );
        println!(
            "  requests {} (head sent); body written into sockets {} in all; bodies written whole {}; connects failed {}",
            self.big_started,
            mib(self.big_body_bytes / 1024),
            self.big_whole,
            self.big_connect_failed
        );
        println!("  answers  {}", histogram(&self.big_answers));
        let planned = s.rate * s.seconds;
        println!(
            "signed           {} sent ({} planned at {}/s, at most {SIGNED_IN_FLIGHT} in flight): {} answered 2xx",
            self.signed.sent,
            planned,
            s.rate,
            self.signed.answered_2xx()
        );
        println!("  answers  {}", histogram(&self.signed.statuses));
        println!(
            "  non-2xx  {}; no answer {}",
            histogram(&self.signed.non_2xx()),
            self.signed.failed
        );
        for e in &self.signed.first_errors {
            println!("    {e}");
        }
        match &self.signed_latency {
            Some(p) => println!("  latency  {p}"),
            None => println!("  latency  no answer at all"),
        }
        let shown = |c: &Option<CpuUse>| c.as_ref().map_or("n/a".into(), |c| c.to_string());
        println!("CPU (load)       server  {}", shown(&self.server_cpu));
        println!("                 bench   {}", shown(&self.bench_cpu));
        println!(
            "                 machine {}",
            self.machine_cpu
                .as_ref()
                .map_or("n/a".into(), |m| m.to_string())
        );
        println!("server counters  /metrics after the load:");
        match &self.counters {
            Ok(lines) if lines.is_empty() => println!("  none"),
            Ok(lines) => {
                for (series, value) in lines {
                    println!("  {series} {value}");
                }
            }
            Err(e) => println!("  unavailable: {e}"),
        }
        println!(
            "server log       {} warning/error lines, {}",
            self.server_log_lines,
            mib(self.server_log_bytes / 1024)
        );
        println!("{}", self.rss_verdict());
        println!("{}", self.signed_verdict());
    }

    /// Lines for the README.
    pub fn summary(&self) -> Vec<String> {
        let s = &self.settings;
        let latency = self
            .signed_latency
            .map(|p| p.slashed())
            .unwrap_or_else(|| "n/a".into());
        vec![
            format!(
                "flood   {} slow-loris connections + {} unsigned {} MiB bodies at a time, {} s: \
                 server RSS {} idle, peak {} (limit {RSS_LIMIT_MIB} MiB)",
                s.slow,
                s.big,
                s.big_mib,
                s.seconds,
                mib(self.idle.rss_kib),
                mib(self.peak_kib())
            ),
            format!(
                "        big bodies answered {}; slow-loris closed by the server {}",
                histogram(&self.big_answers),
                self.slow_closed
            ),
            format!(
                "        signed deliveries at {}/s meanwhile: {} of {} answered 2xx, {latency}",
                s.rate,
                self.signed.answered_2xx(),
                self.signed.sent
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status(b"HTTP/1.1 401 Unauthorized\r\n"), Some(401));
        assert_eq!(parse_status(b"HTTP/1.0 503"), Some(503));
        assert_eq!(parse_status(b"HTTP/1.1 20"), None);
        assert_eq!(parse_status(b"HTTP/1.1 abc"), None);
        assert_eq!(parse_status(b"SSH-2.0-x"), None);
        assert_eq!(parse_status(b""), None);
    }

    #[test]
    fn histograms_read_in_order() {
        let mut h = BTreeMap::new();
        assert_eq!(histogram(&h), "none");
        h.insert(Answer::Closed, 2);
        h.insert(Answer::Status(503), 3);
        h.insert(Answer::Status(401), 812);
        h.insert(Answer::Reset, 1);
        assert_eq!(histogram(&h), "401: 812, 503: 3, closed: 2, reset: 1");
    }
}
