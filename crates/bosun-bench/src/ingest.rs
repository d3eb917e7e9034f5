//! The ingest benchmark: how many signed deliveries bosun acknowledges per second, and how fast,
//! when each 2xx means "on disk" (SQLite WAL, group commit, WAL fsynced before the 2xx). Afterwards the
//! server's own counters must account for every 202 the bench received.

use crate::load::{self, Outcome, Window};
use crate::metrics::Scrape;
use crate::payloads;
use crate::procfs::{self, mib, CpuUse, MachineUse, Memory};
use crate::server::Server;
use crate::stats::Percentiles;
use std::time::{Duration, Instant};

pub const WARMUP: Duration = Duration::from_secs(1);
/// Intake keeps handling the stored backlog after the load; give it this long to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

const ACCEPTED: &str = "bosun_webhook_deliveries_total{outcome=\"accepted\"}";

pub struct IngestReport {
    connections: usize,
    mix_len: usize,
    mix: String,
    outcome: Outcome,
    latency: Option<Percentiles>,
    idle: Memory,
    peak: Memory,
    server_cpu: CpuUse,
    bench_cpu: CpuUse,
    machine_cpu: MachineUse,
    accepted_counter: f64,
    stored_rows: f64,
    backlog: f64,
    drained_in: Option<Duration>,
    after_drain: Scrape,
    server_log_lines: usize,
}

pub async fn run(
    server: &Server,
    secret: &str,
    seconds: u64,
    connections: usize,
) -> anyhow::Result<IngestReport> {
    let mix = payloads::ingest_mix()?;
    let mix_text = payloads::describe_mix(&mix);
    let pid = server.pid();
    let idle = procfs::memory(pid)?;

    let conns = load::connect(server.addr(), connections).await?;
    let window = Window::starting_now(WARMUP, Duration::from_secs(seconds));
    // CPU is sampled at the window's edges by a task of its own, while the load runs.
    let sampler = tokio::spawn(async move {
        tokio::time::sleep_until(window.warm_end.into()).await;
        let sample = || {
            let server = procfs::cpu(Some(pid));
            let bench = procfs::cpu(None);
            let machine = procfs::machine_cpu();
            (server, bench, machine, Instant::now())
        };
        let before = sample();
        tokio::time::sleep_until(window.end.into()).await;
        (before, sample())
    });
    let outcome = load::drive(conns, server.addr(), &mix, secret, window).await?;
    let ((sb, bb, mb, t0), (sa, ba, ma, t1)) = sampler.await?;
    let wall = t1 - t0;
    let server_cpu = procfs::cpu_use(&sb?, &sa?, wall);
    let bench_cpu = procfs::cpu_use(&bb?, &ba?, wall);
    let machine_cpu = procfs::machine_use(&mb?, &ma?, wall);
    let peak = procfs::memory(pid)?;

    let scrape = server.metrics().await?;
    let accepted_counter = scrape.get(ACCEPTED).unwrap_or(0.0);
    let stored_rows = scrape.total("bosun_deliveries");
    let backlog = received(&scrape);
    let drained_in = drain(server).await?;
    let after_drain = server.metrics().await?;

    Ok(IngestReport {
        connections,
        mix_len: mix.len(),
        mix: mix_text,
        latency: Percentiles::of(outcome.latencies_us.clone()),
        outcome,
        idle,
        peak,
        server_cpu,
        bench_cpu,
        machine_cpu,
        accepted_counter,
        stored_rows,
        backlog,
        drained_in,
        after_drain,
        server_log_lines: server.log_lines(),
    })
}

/// Deliveries stored and not yet handled by intake.
pub fn received(scrape: &Scrape) -> f64 {
    scrape
        .get("bosun_deliveries{state=\"received\"}")
        .unwrap_or(0.0)
}

/// Waits until intake has handled every stored delivery; `None` if it did not in time.
async fn drain(server: &Server) -> anyhow::Result<Option<Duration>> {
    let started = Instant::now();
    while started.elapsed() < DRAIN_TIMEOUT {
        if received(&server.metrics().await?) == 0.0 {
            return Ok(Some(started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(None)
}

impl IngestReport {
    fn measured(&self) -> u64 {
        self.outcome.latencies_us.len() as u64
    }

    pub fn per_second(&self) -> f64 {
        self.measured() as f64 / self.outcome.measured_for.as_secs_f64().max(1e-9)
    }

    /// Mean body size of the measured requests, in bytes.
    fn mean_body(&self) -> f64 {
        self.outcome.measured_bytes as f64 / self.measured().max(1) as f64
    }

    fn accepted_answers(&self) -> u64 {
        self.outcome.answers(202)
    }

    fn non_2xx(&self) -> u64 {
        self.outcome.non_2xx().iter().map(|(_, n)| n).sum()
    }

    /// Every answer a 2xx, no broken connection, the server accounts for every 202, and intake
    /// caught up afterwards.
    pub fn passed(&self) -> bool {
        let accepted = self.accepted_answers() as f64;
        self.non_2xx() == 0
            && self.outcome.errors.is_empty()
            && self.accepted_counter == accepted
            && self.stored_rows == accepted
            && self.drained_in.is_some()
    }

    pub fn print(&self) {
        let o = &self.outcome;
        println!(
            "payload mix      {} fixtures, minified as GitHub sends them: {}",
            self.mix_len, self.mix
        );
        println!("                 (issues.labeled left out: it queues jobs that would compete for the CPU)");
        println!(
            "mean payload     {:.1} KiB as sent",
            self.mean_body() / 1024.0
        );
        println!(
            "requests         {} measured over {:.2} s (+{} in the 1 s warm-up)",
            self.measured(),
            o.measured_for.as_secs_f64(),
            o.warmup_requests
        );
        let statuses: Vec<_> = o
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        println!("answers          {}", statuses.join(", "));
        println!("non-2xx          {}", self.non_2xx());
        for (status, n) in o.non_2xx() {
            println!("  status {status}: {n}");
        }
        for e in &o.errors {
            println!("  transport error: {e}");
        }
        println!(
            "deliveries/s     {:.0} ({:.1} MiB/s of payload)",
            self.per_second(),
            self.per_second() * self.mean_body() / (1024.0 * 1024.0)
        );
        match &self.latency {
            Some(p) => println!("ack latency      {p}"),
            None => println!("ack latency      no measured request"),
        }
        let verdict = |ok: bool| if ok { "ok" } else { "MISMATCH" };
        let accepted = self.accepted_answers() as f64;
        println!(
            "server counter   accepted {} vs 202 answers {} (warm-up included): {}",
            self.accepted_counter,
            accepted,
            verdict(self.accepted_counter == accepted)
        );
        println!(
            "stored in SQLite {} deliveries: {}",
            self.stored_rows,
            verdict(self.stored_rows == accepted)
        );
        println!(
            "server RSS       idle {} before the load, peak {} (VmHWM)",
            mib(self.idle.rss_kib),
            mib(self.peak.peak_kib)
        );
        println!("CPU (measured)   server  {}", self.server_cpu);
        println!("                 bench   {}", self.bench_cpu);
        println!("                 machine {}", self.machine_cpu);
        match self.drained_in {
            Some(d) => println!(
                "intake           {} deliveries still waiting after the load, all handled {:.1} s later",
                self.backlog,
                d.as_secs_f64()
            ),
            None => println!(
                "intake           NOT drained {} s after the load ({} were waiting)",
                DRAIN_TIMEOUT.as_secs(),
                self.backlog
            ),
        }
        println!(
            "after intake     deliveries: {}; jobs: {}",
            self.after_drain.describe("bosun_deliveries"),
            self.after_drain.describe("bosun_jobs")
        );
        println!(
            "server log       {} warning/error lines",
            self.server_log_lines
        );
    }

    /// Lines for the README.
    pub fn summary(&self) -> Vec<String> {
        let latency = self
            .latency
            .map(|p| p.slashed())
            .unwrap_or_else(|| "n/a".into());
        vec![
            format!(
                "ingest  {:.0} deliveries/s, each 202 sent after its commit reached the disk \
                 ({} keep-alive connections, mean payload {:.1} KiB, {} non-2xx)",
                self.per_second(),
                self.connections,
                self.mean_body() / 1024.0,
                self.non_2xx(),
            ),
            format!("        ack latency {latency}"),
            format!(
                "        server RSS {} idle, {} peak; server CPU {:.2} cores, bench client {:.2}",
                mib(self.idle.rss_kib),
                mib(self.peak.peak_kib),
                self.server_cpu.cores,
                self.bench_cpu.cores,
            ),
        ]
    }
}
