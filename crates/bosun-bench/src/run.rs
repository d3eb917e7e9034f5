//! The run benchmark: how much time bosun adds around an agent. A trivial fake agent (a shell
//! script in a busybox image built here, printing Claude Code's stream-json) sleeps
//! `--agent-secs`, edits one file and exits; no gates, no peer review. For each task, one at a time:
//!
//! - start: webhook sent → the agent's first output line in bosun's run log (the agent is
//!   running in its container on a checkout from the warm mirror);
//! - publish: the agent's last line in the run log → the draft PR's `POST /pulls` answered by the
//!   fake GitHub (snapshot, commit, push, PR; no gates, no review);
//!
//! side by side with a fresh `git clone` of the same repository per task, the approach of
//! resolver-style bots, which pay it before their agent can start.

use crate::payloads::{self, Target};
use crate::server::{Server, ServerEnv};
use crate::stats::{micros, ms, Percentiles};
use anyhow::Context;
use fake_github::FakeGitHub;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../../../tests/support/images.rs"]
mod images;

const REPO: &str = "bench-org/bench-repo";
const WRITER: &str = "bench-writer";
/// The generated repository: files × commits, a mid-sized project.
const FILES: usize = 3000;
const COMMITS: usize = 20;
const TASK_TIMEOUT: Duration = Duration::from_secs(120);

pub struct RunReport {
    tasks: u64,
    agent_secs: u64,
    repo: String,
    cold_start_us: Option<u64>,
    start: Option<Percentiles>,
    publish: Option<Percentiles>,
    clone: Option<Percentiles>,
    prs: u64,
    /// Medians over the warm tasks, from bosun's own log.
    fetch_ms: Option<u64>,
    checkout_ms: Option<u64>,
    /// The set-up each task had, if any.
    pub setup: Option<SetUp>,
}

/// Median `fetch_ms` and `checkout_ms` of the warm tasks' "workspace prepared" log lines.
fn workspace_split(log: &str) -> (Option<u64>, Option<u64>) {
    let field = |line: &str, name: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|v| v.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok())
    };
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("workspace prepared"))
        .skip(1)
        .collect();
    let median = |name: &str| {
        let mut v: Vec<u64> = lines.iter().filter_map(|l| field(l, name)).collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    };
    (median("fetch_ms="), median("checkout_ms="))
}

/// A set-up step for each task: it sleeps `secs` and installs a file into `deps/`; with
/// `snapshot`, `deps` is a `cache:` path, so later tasks start from its snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetUp {
    pub secs: u64,
    pub snapshot: bool,
}

pub async fn run(
    bin: &Path,
    tasks: u64,
    agent_secs: u64,
    setup: Option<SetUp>,
) -> anyhow::Result<RunReport> {
    let bench = AgentBench::new("run", agent_secs, FILES, COMMITS, "")?;
    let (bare, repo, config) = (&bench.bare, bench.repo.clone(), &bench.config);

    let fake = FakeGitHub::start().await;
    let (repo_id, installation_id) = fake.add_repo(REPO);
    fake.set_permission(REPO, WRITER, "write");
    fake.set_clone_url(REPO, &format!("file://{}", bare.display()));
    if let Some(setup) = setup {
        fake.put_file(REPO, ".github/bosun.yml", &repo_config(setup));
    }
    let target = Target {
        full_name: REPO.into(),
        repo_id,
        installation_id,
        sender_login: WRITER.into(),
        sender_id: fake.user_id(WRITER),
    };
    let secret = hex::encode(rand_bytes()?);
    // The workspace's own timings (fetch, checkout), for the split printed below.
    let log = ("RUST_LOG".into(), "warn,bosun::run::workspace=info".into());
    let server = start_agent_server(bin, &fake, &secret, config, vec![log]).await?;

    let http = reqwest::Client::new();
    let template = payloads::labeled_template()?;
    let mut starts = Vec::new();
    let mut publishes = Vec::new();
    let mut cold_start_us = None;
    let mut prs = 0;
    for task in 1..=tasks {
        let n = fake.add_issue(
            REPO,
            &format!("bench task {task}"),
            "Edit bench.txt.",
            WRITER,
        );
        fake.label_issue(REPO, n, "bosun");
        let body = payloads::labeled(&template, &target, n, "bosun");
        let log = server
            .data_dir()
            .join(format!("data/runs/task-{task}/attempt-1/round-1/agent.log"));
        let sent = Instant::now();
        server
            .send_issues_event(&http, &secret, &format!("bench-run-{task}"), body)
            .await?;
        let Some(running) = poll(|| file_has(&log, "\"subtype\":\"init\""), sent).await else {
            eprintln!(
                "task {task}: the agent never started; server log:\n{}",
                server.log_tail(20)
            );
            continue;
        };
        let start = micros(running - sent);
        if task == 1 {
            cold_start_us = Some(start);
        } else {
            starts.push(start);
        }
        let Some(exited) = poll(|| file_has(&log, "\"type\":\"result\""), sent).await else {
            eprintln!("task {task}: the agent never finished");
            continue;
        };
        let pr_at = poll_value(
            || {
                fake.requests()
                    .into_iter()
                    .filter(|r| {
                        r.method == "POST"
                            && r.path == format!("/repos/{REPO}/pulls")
                            && r.status == 201
                    })
                    .nth(prs as usize)
                    .map(|r| r.at)
            },
            sent,
        )
        .await;
        match pr_at {
            Some(at) => {
                prs += 1;
                publishes.push(micros(at.saturating_duration_since(exited)));
            }
            None => eprintln!(
                "task {task}: no pull request; server log:\n{}",
                server.log_tail(20)
            ),
        }
        // The task's last steps (face, cleanup) before the next one starts.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut clones = Vec::new();
    for i in 0..tasks {
        let dest = bench.work.path().join(format!("clone-{i}"));
        let started = Instant::now();
        let status = Command::new("git")
            .args([
                "clone",
                "-q",
                "--no-local",
                &format!("file://{}", bare.display()),
            ])
            .arg(&dest)
            .status()?;
        anyhow::ensure!(status.success(), "git clone failed");
        clones.push(micros(started.elapsed()));
        std::fs::remove_dir_all(&dest)?;
    }
    let (fetch_ms, checkout_ms) = workspace_split(&server.log_tail(10_000));
    drop(server);
    Ok(RunReport {
        fetch_ms,
        checkout_ms,
        tasks,
        agent_secs,
        repo,
        cold_start_us,
        start: Percentiles::of(starts),
        publish: Percentiles::of(publishes),
        clone: Percentiles::of(clones),
        prs,
        setup,
    })
}

/// What a benchmark with agents in Docker works in: a generated repository (a bare one, served as
/// the `clone_url`) and the server's run configuration, whose one agent, `bench`, is the
/// sleeping script in a busybox image built here. No second agent's review: it would run the
/// same sleeping agent again between the agent's exit and the pull request, and the benches
/// measure bosun's own steps.
pub struct AgentBench {
    pub bare: PathBuf,
    pub repo: String,
    pub config: PathBuf,
    pub work: tempfile::TempDir,
}

impl AgentBench {
    /// `more_config` is added to the server's run configuration.
    pub fn new(
        name: &str,
        agent_secs: u64,
        files: usize,
        commits: usize,
        more_config: &str,
    ) -> anyhow::Result<AgentBench> {
        anyhow::ensure!(
            images::docker_available(),
            "the {name} benchmark needs a Docker engine (and Debian's busybox-static)"
        );
        let work = tempfile::Builder::new()
            .prefix(&format!("bosun-bench-{name}-"))
            .tempdir()?;
        let (bare, repo) = generate_repository(work.path(), files, commits)?;
        let image = images::image_with_files(
            "bosun-bench-agent",
            &[("/usr/local/bin/claude", &agent_script(agent_secs), 0o755)],
        );
        let config = work.path().join("bosun-server.yml");
        std::fs::write(
            &config,
            format!(
                "default_agent: bench\nagents:\n  bench:\n    adapter: claude\n    image: {image}\n\
                 peer_review:\n  enabled: false\n{more_config}"
            ),
        )?;
        Ok(AgentBench {
            bare,
            repo,
            config,
            work,
        })
    }
}

/// `bosun serve` running agents (`config`: the server's run configuration) against `fake`, its
/// engine up; `more` is added to its environment.
pub async fn start_agent_server(
    bin: &Path,
    fake: &FakeGitHub,
    secret: &str,
    config: &Path,
    more: Vec<(String, String)>,
) -> anyhow::Result<Server> {
    let mut extra = vec![
        ("BOSUN_RUN_MODE".into(), "agent".into()),
        ("BOSUN_CONFIG".into(), config.display().to_string()),
        ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
    ];
    extra.extend(more);
    let server = Server::start(bin, &ServerEnv::for_fake(fake, secret, extra)).await?;
    crate::server::wait_engine_up(fake, &server).await?;
    Ok(server)
}

/// The repository's configuration for a set-up of `setup.secs`.
fn repo_config(setup: SetUp) -> String {
    let cache = if setup.snapshot {
        "cache: [deps]\nsnapshot_key: [deps.lock]\n"
    } else {
        ""
    };
    format!(
        "setup:\n  - sleep {} && mkdir -p deps && echo dependency > deps/dep.txt\n{cache}",
        setup.secs
    )
}

fn agent_script(secs: u64) -> String {
    format!(
        "#!/bin/sh\ncat > /dev/null\n\
         echo '{{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"bench\",\"model\":\"bench\"}}'\n\
         sleep {secs}\n\
         echo \"edited by the bench agent\" >> bench.txt\n\
         echo '{{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"Edited bench.txt.\",\"session_id\":\"bench\",\"usage\":{{\"input_tokens\":1,\"output_tokens\":1}}}}'\n"
    )
}

/// A bare repository of `files` text files over `commits` commits; returns its path and a
/// one-line description.
fn generate_repository(
    root: &Path,
    files: usize,
    commits: usize,
) -> anyhow::Result<(PathBuf, String)> {
    let seed = root.join("seed");
    let bare = root.join("bench.git");
    git(root, &["init", "-q", "-b", "main", "seed"])?;
    for commit in 0..commits {
        let touched = if commit == 0 {
            files
        } else {
            (files / 50).max(1)
        };
        for i in 0..touched {
            let file = if commit == 0 {
                i
            } else {
                (i * 50 + commit) % files
            };
            let dir = seed.join(format!("src/m{:02}", file % 60));
            std::fs::create_dir_all(&dir)?;
            let text: String = (0..60)
                .map(|line| format!("// file {file} line {line} version {commit}: some code that is not really code\n"))
                .collect();
            std::fs::write(dir.join(format!("f{file}.rs")), text)?;
        }
        git(&seed, &["add", "-A"])?;
        git(
            &seed,
            &[
                "-c",
                "user.name=bench",
                "-c",
                "user.email=bench@bench",
                "commit",
                "-qm",
                &format!("commit {commit}"),
            ],
        )?;
    }
    git(root, &["clone", "-q", "--bare", "seed", "bench.git"])?;
    git(&bare, &["gc", "-q"])?;
    let packed: u64 = walk_size(&bare.join("objects"));
    Ok((
        bare,
        format!(
            "{files} files, {commits} commits, {:.1} MB packed",
            packed as f64 / 1e6
        ),
    ))
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .with_context(|| format!("git {args:?}"))?;
    anyhow::ensure!(status.success(), "git {args:?} failed");
    Ok(())
}

fn walk_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => walk_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn file_has(path: &Path, needle: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
}

/// When `ready` first held, polled every 2 ms from `since`; None after the task timeout.
async fn poll(mut ready: impl FnMut() -> bool, since: Instant) -> Option<Instant> {
    poll_value(|| ready().then(Instant::now), since).await
}

async fn poll_value<T>(mut value: impl FnMut() -> Option<T>, since: Instant) -> Option<T> {
    loop {
        if let Some(v) = value() {
            return Some(v);
        }
        if since.elapsed() > TASK_TIMEOUT {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub fn rand_bytes() -> anyhow::Result<[u8; 24]> {
    use std::io::Read;
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

impl RunReport {
    /// Webhook -> agent running over the tasks after the first, as printed.
    pub fn start_shown(&self) -> String {
        self.start
            .map(|p| p.slashed())
            .unwrap_or_else(|| "n/a".into())
    }

    pub fn passed(&self) -> bool {
        self.prs == self.tasks
    }

    pub fn print(&self) {
        let show = |p: &Option<Percentiles>| p.map(|p| p.slashed()).unwrap_or_else(|| "n/a".into());
        println!("repository       {}", self.repo);
        println!(
            "tasks            {}, one at a time; the agent sleeps {} s, edits one file; no gates, no review",
            self.tasks, self.agent_secs
        );
        if let Some(setup) = self.setup {
            println!(
                "set-up           sleeps {} s and installs deps/, {}",
                setup.secs,
                if setup.snapshot {
                    "kept as an environment snapshot (cache: [deps])"
                } else {
                    "every time"
                }
            );
        }
        if let Some(cold) = self.cold_start_us {
            println!("first task       webhook -> agent running {} ms (cold: mirror cloned from scratch)", ms(cold));
        }
        println!(
            "webhook -> agent running (warm mirror)   {}",
            show(&self.start)
        );
        println!(
            "agent exit -> draft PR opened            {}",
            show(&self.publish)
        );
        if let (Some(f), Some(c)) = (self.fetch_ms, self.checkout_ms) {
            println!("  of which, in bosun's log (median): fetch {f} ms, checkout {c} ms");
        }
        println!(
            "baseline: fresh git clone per task       {}",
            show(&self.clone)
        );
        println!("pull requests    {} of {}", self.prs, self.tasks);
    }

    pub fn summary(&self) -> Vec<String> {
        let show = |p: &Option<Percentiles>| p.map(|p| p.slashed()).unwrap_or_else(|| "n/a".into());
        vec![
            format!(
                "run     webhook -> agent running in its container (warm mirror): {}",
                show(&self.start)
            ),
            format!(
                "run     agent exit -> draft PR opened (no gates, no review): {}",
                show(&self.publish)
            ),
            format!(
                "run     baseline, a fresh `git clone` per task ({}): {}",
                self.repo,
                show(&self.clone)
            ),
        ]
    }
}
