//! `tasks`: many tasks at once while a label flood goes on. `--tasks` issues spread over 10
//! repositories are labelled `bosun` one after another; each task's agent (a busybox script in
//! a container, as in `run`) works `--agent-secs` and writes a file, and each task ends in a
//! draft PR. The server has enough workers and run slots for all of them at once. Meanwhile
//! `--connections` keep-alive connections send `issues.labeled` (`bug`) over 500 issues of the
//! first repository, closed loop, until the last PR is open. Measured: when the agents were
//! all running, when the PRs were all open, the server's memory peak, and the flood's acks.

use crate::load::{self, Outcome, Window};
use crate::payloads::{self, Payload, Target};
use crate::procfs::{self, mib};
use crate::run::{rand_bytes, start_agent_server, AgentBench};
use crate::server::Server;
use crate::stats::Percentiles;
use bytes::Bytes;
use fake_github::{FakeGitHub, RequestRecord};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub(crate) const REPOS: usize = 10;
pub(crate) const WRITER: &str = "bench-writer";
/// A small repository: this measures many tasks, not checkouts of a big one (`run` does).
const FILES: usize = 200;
const COMMITS: usize = 5;
const FLOOD_ISSUES: u64 = 500;
/// How long the whole batch may take before the bench gives up on the missing PRs.
const BATCH_TIMEOUT: Duration = Duration::from_secs(900);
/// GitHub's hourly REST quota of an App installation at its smallest, which the fake GitHub
/// enforces (for all callers together). Once the batch has used it, bosun waits for the
/// reset, an hour away: the bench stops there and says so.
const HOURLY_QUOTA: usize = 5000;

pub struct Report {
    tasks: u64,
    agent_secs: u64,
    connections: usize,
    /// From the first trigger until every agent had started / every PR was open.
    all_running: Option<Duration>,
    all_prs: Option<Duration>,
    first_pr: Option<Duration>,
    prs: u64,
    peak_kib: u64,
    flood: Option<Outcome>,
    flood_stored: u64,
    /// Requests the fake GitHub answered, from the server start to the end of the batch.
    requests: usize,
    /// The batch used GitHub's hourly quota before it finished.
    quota_spent: bool,
}

/// How many of the tasks `ids` have an agent that started (its first line in the run log).
pub(crate) fn agents_running(data: &Path, ids: std::ops::RangeInclusive<u64>) -> u64 {
    ids.filter(|t| {
        std::fs::read_to_string(
            data.join(format!("data/runs/task-{t}/attempt-1/round-1/agent.log")),
        )
        .is_ok_and(|log| log.contains("\"subtype\":\"init\""))
    })
    .count() as u64
}

pub(crate) fn prs_open(requests: &[RequestRecord]) -> u64 {
    requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/pulls") && r.status == 201)
        .count() as u64
}

/// Ten repositories on the fake GitHub, each cloned from the bench's small bare repository,
/// and a server in agent mode with a worker and a run slot for each of `tasks` tasks.
pub(crate) struct Fleet {
    /// Holds the bare repository and the run configuration for as long as the server runs.
    _bench: AgentBench,
    pub fake: FakeGitHub,
    pub targets: Vec<Target>,
    pub server: Server,
    pub secret: String,
}

pub(crate) async fn fleet(
    bin: &Path,
    name: &str,
    tasks: u64,
    agent_secs: u64,
) -> anyhow::Result<Fleet> {
    let bench = AgentBench::new(
        name,
        agent_secs,
        FILES,
        COMMITS,
        &format!("limits:\n  max_runs: {tasks}\n"),
    )?;
    let fake = FakeGitHub::start().await;
    let mut targets = Vec::new();
    for r in 0..REPOS {
        let name = format!("bench-org/repo-{r}");
        let (repo_id, installation_id) = fake.add_repo(&name);
        fake.set_permission(&name, WRITER, "write");
        fake.set_clone_url(&name, &format!("file://{}", bench.bare.display()));
        targets.push(Target {
            full_name: name,
            repo_id,
            installation_id,
            sender_login: WRITER.into(),
            sender_id: fake.user_id(WRITER),
        });
    }
    let secret = hex::encode(rand_bytes()?);
    // A worker per task, and some for the quick jobs beside them.
    let workers = ("BOSUN_WORKERS".into(), (tasks + 4).to_string());
    let server = start_agent_server(bin, &fake, &secret, &bench.config, vec![workers]).await?;
    Ok(Fleet {
        _bench: bench,
        fake,
        targets,
        server,
        secret,
    })
}

impl Fleet {
    /// Opens `count` issues spread over the repositories (the `n`th of them titled `task
    /// {first + n}`), labels each `bosun` on the fake and sends its trigger. Returns where
    /// each one is: the repository's index and the issue's number.
    pub(crate) async fn trigger(
        &self,
        first: u64,
        count: u64,
    ) -> anyhow::Result<Vec<(usize, u64)>> {
        let (http, template) = (reqwest::Client::new(), payloads::labeled_template()?);
        let mut issues = Vec::new();
        for t in first..first + count {
            let repo = t as usize % REPOS;
            let target = &self.targets[repo];
            let n = self.fake.add_issue(
                &target.full_name,
                &format!("task {t}"),
                "Edit bench.txt.",
                WRITER,
            );
            self.fake.label_issue(&target.full_name, n, "bosun");
            let body = payloads::labeled(&template, target, n, "bosun");
            self.server
                .send_issues_event(&http, &self.secret, &format!("bench-task-{t}"), body)
                .await?;
            issues.push((repo, n));
        }
        Ok(issues)
    }
}

pub async fn run(
    bin: &Path,
    tasks: u64,
    agent_secs: u64,
    connections: usize,
) -> anyhow::Result<Report> {
    let fleet = fleet(bin, "tasks", tasks, agent_secs).await?;
    let (fake, server, secret, targets) =
        (&fleet.fake, &fleet.server, &fleet.secret, &fleet.targets);
    let http = reqwest::Client::new();
    let template = payloads::labeled_template()?;

    // The flood's issues, and one label first so bosun knows the repository's configuration.
    let flooded = &targets[0];
    let flood_mix: Vec<Payload> = (0..FLOOD_ISSUES)
        .map(|i| {
            let n = fake.add_issue(&flooded.full_name, &format!("flood {i}"), "", WRITER);
            Payload {
                event: "issues".into(),
                body: Bytes::from(payloads::labeled(&template, flooded, n, "bug")),
            }
        })
        .collect();
    server
        .send_issues_event(
            &http,
            secret,
            "bench-tasks-primer",
            flood_mix[0].body.to_vec(),
        )
        .await?;
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let flood = if connections > 0 {
        let conns = load::connect(server.addr(), connections).await?;
        let window = Window {
            stop: Some(stop),
            ..Window::starting_now(Duration::from_secs(1), BATCH_TIMEOUT)
        };
        let (addr, secret) = (server.addr(), secret.to_string());
        Some(tokio::spawn(async move {
            load::drive(conns, addr, &flood_mix, &secret, window).await
        }))
    } else {
        None
    };
    if flood.is_some() {
        // Triggers go in once the flood is under way.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    let started = Instant::now();
    fleet.trigger(0, tasks).await?;
    let (mut all_running, mut all_prs, mut first_pr) = (None, None, None);
    let mut peak_kib = 0;
    let mut quota_spent = false;
    while started.elapsed() < BATCH_TIMEOUT {
        peak_kib = peak_kib.max(procfs::memory(server.pid())?.peak_kib);
        if all_running.is_none() && agents_running(server.data_dir(), 1..=tasks) == tasks {
            all_running = Some(started.elapsed());
        }
        let requests = fake.requests();
        let prs = prs_open(&requests);
        if first_pr.is_none() && prs > 0 {
            first_pr = Some(started.elapsed());
        }
        if prs >= tasks {
            all_prs = Some(started.elapsed());
            break;
        }
        if requests.len() >= HOURLY_QUOTA {
            quota_spent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let flood = match flood {
        Some(handle) => Some(handle.await??),
        None => None,
    };
    let flood_stored = flood.as_ref().map_or(0, |o| o.answers(202));
    let (prs, requests) = {
        let requests = fake.requests();
        (prs_open(&requests), requests.len())
    };
    peak_kib = peak_kib.max(procfs::memory(server.pid())?.peak_kib);
    if all_prs.is_none() && !quota_spent {
        eprintln!(
            "not every task opened a PR; server log:\n{}",
            server.log_tail(30)
        );
    }
    Ok(Report {
        tasks,
        agent_secs,
        connections,
        all_running,
        all_prs,
        first_pr,
        prs,
        peak_kib,
        flood,
        flood_stored,
        requests,
        quota_spent,
    })
}

fn secs(d: Option<Duration>) -> String {
    d.map(|d| format!("{:.1} s", d.as_secs_f64()))
        .unwrap_or_else(|| "never".into())
}

impl Report {
    fn flood_line(&self) -> String {
        match &self.flood {
            None => "no label flood".into(),
            Some(o) => {
                let rate = o.latencies_us.len() as f64 / o.measured_for.as_secs_f64().max(1e-9);
                format!(
                    "label flood ({} connections, 500 issues) {:.0} deliveries/s stored, ack {}",
                    self.connections,
                    rate,
                    Percentiles::of(o.latencies_us.clone())
                        .map(|p| p.slashed())
                        .unwrap_or_else(|| "n/a".into())
                )
            }
        }
    }

    pub fn print(&self) {
        println!(
            "tasks            {} over {REPOS} repositories ({FILES} files each), agents work {} s \
             and write a file; {} workers, max_runs {}",
            self.tasks,
            self.agent_secs,
            self.tasks + 4,
            self.tasks
        );
        println!(
            "all agents running   {} after the first trigger",
            secs(self.all_running)
        );
        println!("first draft PR       {}", secs(self.first_pr));
        println!(
            "all draft PRs        {} ({} of {})",
            secs(self.all_prs),
            self.prs,
            self.tasks
        );
        println!("server RSS peak      {} (VmHWM)", mib(self.peak_kib));
        println!("{}", self.requests_line());
        println!("meanwhile            {}", self.flood_line());
        if let Some(o) = &self.flood {
            println!(
                "                     {} stored (202), {} other answers, {} transport errors",
                self.flood_stored,
                o.statuses.values().sum::<u64>() - self.flood_stored,
                o.errors.len()
            );
        }
    }

    fn requests_line(&self) -> String {
        let per_task = self.requests as f64 / self.prs.max(1) as f64;
        if self.quota_spent {
            format!(
                "GitHub requests      {}: the hourly quota ({HOURLY_QUOTA}) was spent with {} of {} PRs \
                 open (about {per_task:.0} requests a task); bosun waits for its reset, an hour away",
                self.requests, self.prs, self.tasks
            )
        } else {
            format!(
                "GitHub requests      {} in all, about {per_task:.0} a task (an installation's \
                 hourly quota is {HOURLY_QUOTA} at least)",
                self.requests
            )
        }
    }

    pub fn summary(&self) -> Vec<String> {
        vec![
            format!(
                "tasks   {} at once over {REPOS} repositories, agents working {} s: all running \
                 after {}, all {} draft PRs after {}; server RSS peak {}",
                self.tasks,
                self.agent_secs,
                secs(self.all_running),
                self.prs,
                secs(self.all_prs),
                mib(self.peak_kib)
            ),
            format!("        meanwhile {}", self.flood_line()),
            format!(
                "        {}",
                self.requests_line()
                    .trim_start_matches("GitHub requests")
                    .trim()
            ),
        ]
    }

    pub fn passed(&self) -> bool {
        let flood_ok = self
            .flood
            .as_ref()
            .is_none_or(|o| o.errors.is_empty() && o.non_2xx().is_empty());
        if self.quota_spent {
            println!("CHECK FAILED  GitHub's hourly quota was spent before every task opened a PR");
        } else if self.prs != self.tasks {
            println!(
                "CHECK FAILED  {} of {} tasks opened a PR",
                self.prs, self.tasks
            );
        }
        if !flood_ok {
            println!("CHECK FAILED  the label flood saw errors or non-2xx answers");
        }
        self.prs == self.tasks && flood_ok
    }
}
