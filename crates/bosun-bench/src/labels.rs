//! `labels`: a label flood, as a busy repository sends it: signed `issues.labeled` deliveries
//! (label `bug`, by a writer) on one issue and then on 500 in rotation, closed loop over keep-alive
//! connections. The same load goes to bosun and, right after, to the peer (`peer.rs`), so both
//! numbers come from one run on one machine. bosun has read the repository's configuration
//! once before the load (one labelled delivery), as it has on any repository in use; its
//! intake then drops `bug` without a job.

use crate::load::{self, Outcome, Window};
use crate::metrics::Scrape;
use crate::payloads::{self, Payload, Target};
use crate::peer::Peer;
use crate::server::Server;
use crate::stats::Percentiles;
use bytes::Bytes;
use fake_github::FakeGitHub;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const WARMUP: Duration = Duration::from_secs(1);
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The bar issue 21 sets: bosun acks at least this many times the peer's throughput...
const RATIO: f64 = 1.6;
/// ...with its 99th percentile under this.
const P99_US: u64 = 5_000;

pub struct Side {
    per_second: f64,
    latency: Option<Percentiles>,
    /// Answers other than 202: bosun answers a delivery it did not store (a duplicate) 200.
    not_202: u64,
    errors: usize,
}

impl Side {
    fn of(outcome: &Outcome) -> Side {
        Side {
            per_second: outcome.latencies_us.len() as f64
                / outcome.measured_for.as_secs_f64().max(1e-9),
            latency: Percentiles::of(outcome.latencies_us.clone()),
            not_202: outcome.statuses.values().sum::<u64>() - outcome.answers(202),
            errors: outcome.errors.len(),
        }
    }

    fn p99(&self) -> u64 {
        self.latency.map_or(u64::MAX, |p| p.p99)
    }

    fn line(&self) -> String {
        format!(
            "{:>6.0}/s, ack {}, {} not 202, {} transport errors",
            self.per_second,
            self.latency
                .map(|p| p.slashed())
                .unwrap_or_else(|| "n/a".into()),
            self.not_202,
            self.errors
        )
    }
}

pub struct Load {
    name: String,
    bosun: Side,
    peer: Side,
    /// Jobs bosun queued for the load (from its `bosun_jobs` gauges).
    jobs: f64,
    /// From the end of the load until intake had handled every delivery and the queue was idle.
    settled_in: Option<Duration>,
}

pub struct Report {
    loads: Vec<Load>,
    connections: usize,
    seconds: u64,
    peer: String,
}

/// Every stored delivery handled and no job queued or running.
fn idle(scrape: &Scrape) -> bool {
    let received = crate::ingest::received(scrape);
    let busy = scrape.total_of("bosun_jobs", &["queued", "running"]);
    received == 0.0 && busy == 0.0
}

/// Every job bosun has, whatever its state (the `bosun_jobs` gauges).
pub(crate) fn jobs_total(scrape: &Scrape) -> f64 {
    scrape.total("bosun_jobs")
}

async fn settle(server: &Server) -> anyhow::Result<Option<Duration>> {
    let started = Instant::now();
    while started.elapsed() < SETTLE_TIMEOUT {
        if idle(&server.metrics().await?) {
            return Ok(Some(started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(None)
}

fn flood(target: &Target, issues: &[u64]) -> anyhow::Result<Vec<Payload>> {
    let template = payloads::labeled_template()?;
    Ok(issues
        .iter()
        .map(|n| Payload {
            event: "issues".into(),
            body: Bytes::from(payloads::labeled(&template, target, *n, "bug")),
        })
        .collect())
}

async fn drive(
    addr: SocketAddr,
    mix: &[Payload],
    secret: &str,
    seconds: u64,
    connections: usize,
) -> anyhow::Result<Outcome> {
    let conns = load::connect(addr, connections).await?;
    let window = Window::starting_now(WARMUP, Duration::from_secs(seconds));
    load::drive(conns, addr, mix, secret, window).await
}

#[allow(clippy::too_many_arguments)]
pub async fn run(
    fake: &FakeGitHub,
    server: &Server,
    peer: &Peer,
    target: &Target,
    secret: &str,
    seconds: u64,
    connections: usize,
) -> anyhow::Result<Report> {
    let issues: Vec<u64> = (1..=500)
        .map(|i| {
            fake.add_issue(
                &target.full_name,
                &format!("bench issue {i}"),
                "Labelled by bosun-bench.",
                &target.sender_login,
            )
        })
        .collect();
    // One labelled delivery first: bosun reads the repository's configuration, as it has on
    // any repository it works in.
    let primer = payloads::labeled(&payloads::labeled_template()?, target, issues[0], "bug");
    server
        .send_issues_event(
            &reqwest::Client::new(),
            secret,
            "bench-labels-primer",
            primer,
        )
        .await?;
    anyhow::ensure!(
        settle(server).await?.is_some(),
        "bosun did not settle after the first label; its log:\n{}",
        server.log_tail(20)
    );
    let mut loads = Vec::new();
    for (name, on) in [("one issue", &issues[..1]), ("500 issues", &issues[..])] {
        let mix = flood(target, on)?;
        let before = jobs_total(&server.metrics().await?);
        let bosun = drive(server.addr(), &mix, secret, seconds, connections).await?;
        let settled_in = settle(server).await?;
        let jobs = jobs_total(&server.metrics().await?) - before;
        let peer_outcome = drive(peer.addr(), &mix, secret, seconds, connections).await?;
        loads.push(Load {
            name: name.into(),
            bosun: Side::of(&bosun),
            peer: Side::of(&peer_outcome),
            jobs,
            settled_in,
        });
    }
    Ok(Report {
        loads,
        connections,
        seconds,
        peer: peer.describe.clone(),
    })
}

impl Report {
    pub fn print(&self) {
        println!("peer      {}", self.peer);
        for load in &self.loads {
            println!(
                "\n-- {}: `bug` labelled, {} connections, {} s after a 1 s warm-up",
                load.name, self.connections, self.seconds
            );
            println!("bosun     {}", load.bosun.line());
            println!("peer      {}", load.peer.line());
            println!(
                "ratio     {:.2}x the peer's throughput",
                load.bosun.per_second / load.peer.per_second.max(1e-9)
            );
            println!("jobs      {} queued by bosun for the load", load.jobs);
            match load.settled_in {
                Some(d) => println!(
                    "settled   {:.2} s after the load: every delivery handled, no job waiting",
                    d.as_secs_f64()
                ),
                None => println!("settled   NOT within {} s", SETTLE_TIMEOUT.as_secs()),
            }
        }
    }

    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for load in &self.loads {
            lines.push(format!(
                "labels  {}: bosun {}",
                load.name,
                load.bosun.line()
            ));
            lines.push(format!(
                "        peer  {} ({:.2}x); {} jobs queued, settled {}",
                load.peer.line(),
                load.bosun.per_second / load.peer.per_second.max(1e-9),
                load.jobs,
                load.settled_in
                    .map(|d| format!("{:.2} s after", d.as_secs_f64()))
                    .unwrap_or_else(|| "never".into())
            ));
        }
        lines
    }

    pub fn passed(&self) -> bool {
        let mut passed = true;
        for load in &self.loads {
            let ratio = load.bosun.per_second / load.peer.per_second.max(1e-9);
            if ratio < RATIO {
                println!(
                    "CHECK FAILED  {}: bosun {ratio:.2}x the peer's throughput, under {RATIO}x",
                    load.name
                );
                passed = false;
            }
            if load.bosun.p99() >= P99_US {
                println!(
                    "CHECK FAILED  {}: bosun's p99 is {} µs, not under {P99_US} µs",
                    load.name,
                    load.bosun.p99()
                );
                passed = false;
            }
            if load.bosun.not_202 > 0 || load.bosun.errors > 0 || load.settled_in.is_none() {
                println!(
                    "CHECK FAILED  {}: answers other than 202, errors, or never settled",
                    load.name
                );
                passed = false;
            }
        }
        passed
    }
}
