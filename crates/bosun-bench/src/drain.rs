//! `drain`: the job queue on its own. Trivial jobs (a handler that does nothing) are claimed
//! and finished through bosun's own `Db`, on a real SQLite file on this machine's disk, by
//! workers that follow the pool's protocol (claim; pass a wake-up on; finish; when nothing can
//! be claimed, sleep until a job is added or `next_job_due`). It measures what a claim costs
//! with 0 to 10,000 jobs queued, and how fast a backlog drains, all on one serial key (one
//! issue's label flood) or spread over 1,000.

use crate::stats::nearest_rank;
use bosun::db::{now_ms, Db, RunLimits};
use bosun_core::job::NewJob;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const LEASE_MS: i64 = 60_000;
/// Claims timed at each backlog size.
const TIMED_CLAIMS: usize = 500;
/// Jobs enqueued per transaction while the backlog is built.
const ENQUEUE_BATCH: usize = 500;

/// Durations in nanoseconds: a claim takes microseconds, too short for `stats::micros`.
#[derive(Default)]
struct Sample(Vec<u64>);

impl Sample {
    fn push(&mut self, d: Duration) {
        self.0.push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// The `q` quantile (0.5 for the median), in milliseconds.
    fn ms(&self, q: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        nearest_rank(&sorted, q * 100.0) as f64 / 1e6
    }
}

pub struct Report {
    /// (backlog, keys, claim latencies, a blocked claim's latencies)
    claims: Vec<(usize, usize, Sample, Option<Sample>)>,
    /// (backlog, keys, seconds to drain)
    drains: Vec<(usize, usize, f64)>,
    workers: usize,
}

fn job(key: usize) -> NewJob {
    NewJob {
        kind: "bench",
        payload: "{}".into(),
        serial_key: Some(format!("bench:{key}")),
        coalesce_key: None,
        max_attempts: 3,
        run_after: 0,
    }
}

async fn fill(db: &Db, backlog: usize, keys: usize) -> anyhow::Result<()> {
    let jobs: Vec<NewJob> = (0..backlog).map(|i| job(i % keys)).collect();
    for batch in jobs.chunks(ENQUEUE_BATCH) {
        db.enqueue(batch).await?;
    }
    Ok(())
}

/// A fresh database in its own folder under the system's temporary directory.
async fn fresh() -> anyhow::Result<(Db, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let db = Db::open(dir.path()).await?;
    Ok((db, dir))
}

/// Claims `TIMED_CLAIMS` jobs one after another with `backlog` queued (topped up before each
/// claim when the backlog is 0, so there is always one to take), finishing each. With
/// `blocked`, also times a claim that finds nothing because the one key's job is running.
async fn time_claims(backlog: usize, keys: usize) -> anyhow::Result<(Sample, Option<Sample>)> {
    let (db, _dir) = fresh().await?;
    if backlog == 0 {
        // Measured against a queue holding only the job about to be taken.
        let mut taken = Sample::default();
        for _ in 0..TIMED_CLAIMS {
            db.enqueue(&[job(0)]).await?;
            let t = Instant::now();
            let claimed = db
                .claim_job("bench", LEASE_MS, RunLimits::default())
                .await?;
            taken.push(t.elapsed());
            db.complete_job(claimed.expect("one queued").fence).await?;
        }
        return Ok((taken, None));
    }
    fill(&db, backlog + TIMED_CLAIMS, keys).await?;
    let mut taken = Sample::default();
    let mut blocked = (keys == 1).then(Sample::default);
    for _ in 0..TIMED_CLAIMS {
        let t = Instant::now();
        let claimed = db
            .claim_job("bench", LEASE_MS, RunLimits::default())
            .await?;
        taken.push(t.elapsed());
        let claimed = claimed.expect("the backlog has a free key");
        if let Some(blocked) = blocked.as_mut() {
            // What an idle worker pays while the key's one job runs.
            let t = Instant::now();
            let none = db.claim_job("idle", LEASE_MS, RunLimits::default()).await?;
            blocked.push(t.elapsed());
            anyhow::ensure!(none.is_none(), "a second job of a busy key was claimed");
        }
        db.complete_job(claimed.fence).await?;
    }
    Ok((taken, blocked))
}

/// Drains `backlog` jobs over `keys` keys with `workers` workers; returns the seconds taken.
async fn drain(backlog: usize, keys: usize, workers: usize) -> anyhow::Result<f64> {
    let (db, _dir) = fresh().await?;
    fill(&db, backlog, keys).await?;
    let added = Arc::new(Notify::new());
    let started = Instant::now();
    let mut handles = Vec::new();
    for n in 0..workers {
        let (db, added) = (db.clone(), added.clone());
        handles.push(tokio::spawn(async move {
            worker(db, added, format!("bench-w{n}")).await
        }));
    }
    let mut done = 0;
    for h in handles {
        done += h.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(done == backlog, "drained {done} of {backlog} jobs");
    Ok(seconds)
}

/// The pool's protocol with a handler that does nothing; stops when the queue is empty.
async fn worker(db: Db, added: Arc<Notify>, owner: String) -> anyhow::Result<usize> {
    let mut done = 0;
    loop {
        match db.claim_job(&owner, LEASE_MS, RunLimits::default()).await? {
            Some(job) => {
                added.notify_one();
                anyhow::ensure!(db.complete_job(job.fence).await?, "lost a lease");
                done += 1;
            }
            None => {
                let counts = db.job_counts().await?;
                let left = counts
                    .iter()
                    .filter(|(state, _)| state == "queued" || state == "running")
                    .map(|(_, n)| n)
                    .sum::<i64>();
                if left == 0 {
                    // Wake the others so they see it too.
                    added.notify_waiters();
                    added.notify_one();
                    return Ok(done);
                }
                let wait = match db.next_job_due().await? {
                    Some(due) => Duration::from_millis((due - now_ms()).clamp(1, 1000) as u64),
                    None => Duration::from_secs(1),
                };
                tokio::select! {
                    _ = added.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

pub async fn run(workers: usize) -> anyhow::Result<Report> {
    let mut claims = Vec::new();
    for (backlog, keys) in [
        (0, 1),
        (1_000, 1),
        (10_000, 1),
        (1_000, 1_000),
        (10_000, 1_000),
    ] {
        let (taken, blocked) = time_claims(backlog, keys).await?;
        claims.push((backlog, keys, taken, blocked));
    }
    let mut drains = Vec::new();
    for (backlog, keys) in [(10_000, 1), (10_000, 1_000)] {
        drains.push((backlog, keys, drain(backlog, keys, workers).await?));
    }
    Ok(Report {
        claims,
        drains,
        workers,
    })
}

impl Report {
    pub fn print(&self) {
        println!("claim     backlog  keys   p50 ms   p99 ms   (a claim finding the key busy: p50 / p99 ms)");
        for (backlog, keys, taken, blocked) in &self.claims {
            let busy = blocked.as_ref().map_or(String::new(), |b| {
                format!("   ({:.3} / {:.3})", b.ms(0.5), b.ms(0.99))
            });
            println!(
                "          {backlog:>7}  {keys:>4}   {:>6.3}   {:>6.3}{busy}",
                taken.ms(0.5),
                taken.ms(0.99)
            );
        }
        for (backlog, keys, seconds) in &self.drains {
            println!(
                "drain     {backlog} jobs on {keys} key(s), {} workers: {seconds:.2} s, {:.0} jobs/s",
                self.workers,
                *backlog as f64 / seconds
            );
        }
    }

    pub fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let empty = self.claims.first().map_or(0.0, |c| c.2.ms(0.5));
        for (backlog, keys, taken, _) in &self.claims {
            lines.push(format!(
                "claim   {backlog} queued on {keys} key(s): p50 {:.3} ms ({:.1}x the empty queue's {empty:.3} ms)",
                taken.ms(0.5),
                taken.ms(0.5) / empty.max(1e-9)
            ));
        }
        for (backlog, keys, seconds) in &self.drains {
            lines.push(format!(
                "drain   {backlog} trivial jobs on {keys} key(s), {} workers: {:.0} jobs/s",
                self.workers,
                *backlog as f64 / seconds
            ));
        }
        lines
    }

    /// The bar: a backlog drains at 2,000 jobs/s or more, and a claim behind 10,000
    /// costs at most twice an empty queue's.
    pub fn passed(&self) -> bool {
        let empty = self.claims.first().map_or(0.0, |c| c.2.ms(0.5));
        let flat = self
            .claims
            .iter()
            .all(|(_, _, taken, _)| taken.ms(0.5) <= 2.0 * empty);
        let fast = self
            .drains
            .iter()
            .all(|(backlog, _, seconds)| *backlog as f64 / seconds >= 2_000.0);
        if !flat {
            println!(
                "CHECK FAILED  a claim behind a backlog costs more than twice an empty queue's"
            );
        }
        if !fast {
            println!("CHECK FAILED  a backlog drained slower than 2,000 jobs/s");
        }
        flat && fast
    }
}
