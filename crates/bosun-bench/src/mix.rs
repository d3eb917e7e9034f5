//! `mix`: a busy organization's day at the webhook, rather than one event over and over. Ten
//! repositories, 50 issues each; the deliveries are GitHub's own examples moved onto them, in
//! these shares: labels added (35%) and taken off (15%) across the 500 issues, comments that
//! mention nobody (20%), pushes (8%: to the default branch, tags, and one in 1,000 that changes
//! `.github/bosun.yml`), pull-request events (10%), check-suite events (11%), and 1% real
//! triggers (`bosun` added to an issue labelled so on the fake). The load is closed loop over
//! keep-alive connections, twice: on its own, and while `--tasks` tasks run their agents (a
//! busybox script in Docker, as in `tasks`). Measured each time: the acks, the jobs the mix
//! queued, and how long after the load the queue took to empty (the tasks' own run jobs
//! aside, which last as long as their agents).

use crate::disk;
use crate::labels::jobs_total;
use crate::load::{self, Outcome, Window};
use crate::metrics::Scrape;
use crate::payloads::{self, Payload, Target};
use crate::procfs::{self, mib};
use crate::stats::Percentiles;
use crate::tasks::{self, Fleet, REPOS, WRITER};
use bytes::Bytes;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const ISSUES_PER_REPO: u64 = 50;
/// Deliveries in the mix before it repeats: every issue is labelled in it.
const MIX_LEN: usize = 1000;
const WARMUP: Duration = Duration::from_secs(1);
/// How long the queue may take to empty after a load before the bench gives up on it.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the tasks may take to open their PRs.
const TASKS_TIMEOUT: Duration = Duration::from_secs(300);

/// One kind of delivery in the mix, and how many of `MIX_LEN` it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    LabelAdded,
    LabelRemoved,
    Comment,
    PushDefaultBranch,
    PushTag,
    PushConfig,
    PullRequestOpened,
    PullRequestSynchronized,
    PullRequestClosed,
    CheckSuiteCompleted,
    CheckSuiteRequested,
    Trigger,
}

const SHARES: [(Kind, usize); 12] = [
    (Kind::LabelAdded, 350),
    (Kind::LabelRemoved, 150),
    (Kind::Comment, 200),
    (Kind::PushDefaultBranch, 44),
    (Kind::PushTag, 35),
    (Kind::PushConfig, 1),
    (Kind::PullRequestOpened, 35),
    (Kind::PullRequestSynchronized, 35),
    (Kind::PullRequestClosed, 30),
    (Kind::CheckSuiteCompleted, 60),
    (Kind::CheckSuiteRequested, 50),
    (Kind::Trigger, 10),
];

/// Labels people add and take off all day; none of them asks bosun for work.
const EVERYDAY_LABELS: [&str; 4] = ["bug", "enhancement", "documentation", "question"];

/// `MIX_LEN` kinds in a fixed order that spreads each kind over the whole mix (a seeded
/// shuffle, so every run sends the same sequence).
fn order() -> Vec<Kind> {
    let mut kinds: Vec<Kind> = SHARES
        .iter()
        .flat_map(|(kind, n)| std::iter::repeat_n(*kind, *n))
        .collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..kinds.len()).rev() {
        // xorshift64: enough to spread the kinds, and the same on every machine.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        kinds.swap(i, (state % (i as u64 + 1)) as usize);
    }
    kinds
}

/// GitHub's examples the mix is made from.
struct Examples {
    labeled: Value,
    unlabeled: Value,
    comment: Value,
    push_branch: Value,
    push_tag: Value,
    pr_opened: Value,
    pr_synchronized: Value,
    pr_closed: Value,
    suite_completed: Value,
    suite_requested: Value,
}

impl Examples {
    fn load() -> anyhow::Result<Examples> {
        use payloads::example;
        Ok(Examples {
            labeled: payloads::labeled_template()?,
            unlabeled: example("issues", "unlabeled.payload.json")?,
            comment: example("issue_comment", "created.payload.json")?,
            push_branch: example("push", "with-new-branch.payload.json")?,
            push_tag: example("push", "with-installation.payload.json")?,
            pr_opened: example("pull_request", "opened.payload.json")?,
            pr_synchronized: example("pull_request", "synchronize.payload.json")?,
            pr_closed: example("pull_request", "closed.payload.json")?,
            suite_completed: example("check_suite", "completed.payload.json")?,
            suite_requested: example("check_suite", "requested.payload.json")?,
        })
    }
}

/// The issues of the mix: `issues[repo]` are that repository's, and `triggers` the issues the
/// mix labels `bosun` (already labelled so on the fake), in turn.
pub struct Issues {
    issues: Vec<Vec<u64>>,
    triggers: Vec<(usize, u64)>,
}

fn json(p: &Value) -> Vec<u8> {
    serde_json::to_vec(p).expect("a JSON value serialises")
}

/// The delivery of `kind` in `slot` of the mix; a trigger is the mix's `nth_trigger`th, so
/// that each trigger issue gets its turn.
fn delivery(
    kind: Kind,
    slot: usize,
    nth_trigger: usize,
    ex: &Examples,
    targets: &[Target],
    on: &Issues,
) -> Payload {
    let repo = slot % REPOS;
    let target = &targets[repo];
    let issue = on.issues[repo][(slot / REPOS) % on.issues[repo].len()];
    let label = EVERYDAY_LABELS[slot % EVERYDAY_LABELS.len()];
    let (event, body) = match kind {
        Kind::LabelAdded => (
            "issues",
            payloads::labeled(&ex.labeled, target, issue, label),
        ),
        Kind::Trigger => {
            let (repo, issue) = on.triggers[nth_trigger % on.triggers.len()];
            let body = payloads::labeled(&ex.labeled, &targets[repo], issue, "bosun");
            ("issues", body)
        }
        Kind::LabelRemoved => {
            let mut p = payloads::retarget(&ex.unlabeled, target, Some(issue));
            p["label"]["name"] = label.into();
            ("issues", json(&p))
        }
        Kind::Comment => {
            let mut p = payloads::retarget(&ex.comment, target, Some(issue));
            p["comment"]["body"] = "Thanks, that works for me.".into();
            ("issue_comment", json(&p))
        }
        Kind::PushDefaultBranch | Kind::PushTag | Kind::PushConfig => {
            let example = if kind == Kind::PushTag {
                &ex.push_tag
            } else {
                &ex.push_branch
            };
            let mut p = payloads::retarget(example, target, None);
            if kind == Kind::PushConfig {
                // Changes the file bosun reads its settings from: bosun forgets its copy, and
                // the next label on this repository needs a job that reads it again.
                p["commits"][0]["modified"] = serde_json::json!([".github/bosun.yml"]);
            }
            ("push", json(&p))
        }
        Kind::PullRequestOpened | Kind::PullRequestSynchronized | Kind::PullRequestClosed => {
            let example = match kind {
                Kind::PullRequestOpened => &ex.pr_opened,
                Kind::PullRequestSynchronized => &ex.pr_synchronized,
                _ => &ex.pr_closed,
            };
            let number = 10_000 + slot as u64;
            (
                "pull_request",
                json(&payloads::retarget(example, target, Some(number))),
            )
        }
        Kind::CheckSuiteCompleted | Kind::CheckSuiteRequested => {
            let example = if kind == Kind::CheckSuiteCompleted {
                &ex.suite_completed
            } else {
                &ex.suite_requested
            };
            (
                "check_suite",
                json(&payloads::retarget(example, target, None)),
            )
        }
    };
    Payload {
        event: event.into(),
        body: Bytes::from(body),
    }
}

/// The mix, `MIX_LEN` deliveries long.
fn mix(targets: &[Target], on: &Issues) -> anyhow::Result<Vec<Payload>> {
    let ex = Examples::load()?;
    let mut triggers = 0;
    Ok(order()
        .into_iter()
        .enumerate()
        .map(|(slot, kind)| {
            let payload = delivery(kind, slot, triggers, &ex, targets, on);
            triggers += usize::from(kind == Kind::Trigger);
            payload
        })
        .collect())
}

/// One load of the mix and what followed it.
pub struct Phase {
    name: String,
    outcome: Outcome,
    /// Jobs queued while the load ran and the queue emptied (from the `bosun_jobs` gauges).
    jobs: f64,
    /// From the end of the load until no delivery waited and no job was queued.
    drained_in: Option<Duration>,
}

/// No delivery waits for intake and no job is queued. Running jobs are left out: a task's run
/// job lasts as long as its agent.
fn drained(scrape: &Scrape) -> bool {
    crate::ingest::received(scrape) == 0.0 && scrape.total_of("bosun_jobs", &["queued"]) == 0.0
}

async fn load_and_drain(
    fleet: &Fleet,
    name: &str,
    mix: &[Payload],
    seconds: u64,
    connections: usize,
) -> anyhow::Result<Phase> {
    let server = &fleet.server;
    let before = jobs_total(&server.metrics().await?);
    let conns = load::connect(server.addr(), connections).await?;
    let window = Window::starting_now(WARMUP, Duration::from_secs(seconds));
    let outcome = load::drive(conns, server.addr(), mix, &fleet.secret, window).await?;
    let ended = Instant::now();
    let mut drained_in = None;
    while ended.elapsed() < DRAIN_TIMEOUT {
        if drained(&server.metrics().await?) {
            drained_in = Some(ended.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let jobs = jobs_total(&server.metrics().await?) - before;
    let phase = Phase {
        name: name.into(),
        outcome,
        jobs,
        drained_in,
    };
    // As it happens: the rest of the run waits on tasks, which can take minutes.
    println!(
        "{name}: {}; {} GitHub requests so far",
        phase.line(),
        fleet.fake.requests().len()
    );
    Ok(phase)
}

/// Waits until `count` PRs are open on the fake; returns how long that took.
async fn prs_reach(fleet: &Fleet, count: u64) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < TASKS_TIMEOUT {
        if tasks::prs_open(&fleet.fake.requests()) >= count {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

pub struct Report {
    disk: String,
    connections: usize,
    seconds: u64,
    tasks: u64,
    agent_secs: u64,
    phases: Vec<Phase>,
    /// Tasks the mix's own triggers started (one per trigger issue at most).
    mix_tasks: u64,
    /// From the tasks' triggers until every agent ran.
    all_running: Option<Duration>,
    /// PRs open at the end, and how many were expected (one per task).
    prs: u64,
    prs_expected: u64,
    peak_kib: u64,
    requests: usize,
}

pub async fn run(
    bin: &Path,
    tasks: u64,
    agent_secs: u64,
    seconds: u64,
    connections: usize,
) -> anyhow::Result<Report> {
    // The mix's triggers start a task on each of its `REPOS` trigger issues, beside `tasks`.
    let fleet = tasks::fleet(bin, "mix", tasks + REPOS as u64, agent_secs).await?;
    let (fake, server) = (&fleet.fake, &fleet.server);
    let issues: Vec<Vec<u64>> = fleet
        .targets
        .iter()
        .map(|t| {
            (0..ISSUES_PER_REPO)
                .map(|i| fake.add_issue(&t.full_name, &format!("issue {i}"), "", WRITER))
                .collect()
        })
        .collect();
    // One label on each repository first: bosun reads each configuration once, as it has
    // on any repository in use.
    let http = reqwest::Client::new();
    let template = payloads::labeled_template()?;
    for (r, target) in fleet.targets.iter().enumerate() {
        let body = payloads::labeled(&template, target, issues[r][0], "bug");
        server
            .send_issues_event(&http, &fleet.secret, &format!("bench-mix-primer-{r}"), body)
            .await?;
    }
    // Every 202 waits for an fsync: the disk's speed belongs beside the numbers.
    let disk = disk::fsync_latency(server.data_dir()).map(|l| disk::describe(&l))?;
    let mut phases = Vec::new();

    // Alone: the mix's triggers go to one fresh issue per repository, labelled on the fake,
    // and start a task on each.
    let triggers: Vec<(usize, u64)> = fleet
        .targets
        .iter()
        .enumerate()
        .map(|(r, t)| {
            let n = fake.add_issue(&t.full_name, "mix trigger", "Edit bench.txt.", WRITER);
            fake.label_issue(&t.full_name, n, "bosun");
            (r, n)
        })
        .collect();
    let alone = mix(
        &fleet.targets,
        &Issues {
            issues: issues.clone(),
            triggers,
        },
    )?;
    phases.push(load_and_drain(&fleet, "mix alone", &alone, seconds, connections).await?);
    let mix_tasks = REPOS as u64;
    // Their PRs first, so the next load meets only the tasks it is meant to.
    if prs_reach(&fleet, mix_tasks).await.is_none() {
        println!("the mix's {mix_tasks} tasks did not all open a PR; going on");
    }

    // With `tasks` tasks running: triggered, then the load once every agent runs. The mix's
    // triggers now go to those tasks' issues, whose tasks are active: each needs a job that
    // reads the issue again, and starts nothing new.
    let started = Instant::now();
    let running = fleet.trigger(mix_tasks, tasks).await?;
    let ids = mix_tasks + 1..=mix_tasks + tasks;
    let mut all_running = None;
    while started.elapsed() < TASKS_TIMEOUT {
        if tasks::agents_running(server.data_dir(), ids.clone()) == tasks {
            all_running = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let name = format!("mix with {tasks} tasks running");
    let busy = mix(
        &fleet.targets,
        &Issues {
            issues,
            triggers: running,
        },
    )?;
    phases.push(load_and_drain(&fleet, &name, &busy, seconds, connections).await?);
    let prs_expected = mix_tasks + tasks;
    prs_reach(&fleet, prs_expected).await;
    let requests = fake.requests();
    Ok(Report {
        disk,
        connections,
        seconds,
        tasks,
        agent_secs,
        phases,
        mix_tasks,
        all_running,
        prs: tasks::prs_open(&requests),
        prs_expected,
        peak_kib: procfs::memory(server.pid())?.peak_kib,
        requests: requests.len(),
    })
}

/// "labeled 35.0%, ..." for the header.
fn describe_shares() -> String {
    SHARES
        .iter()
        .map(|(kind, n)| format!("{kind:?} {:.1}%", *n as f64 * 100.0 / MIX_LEN as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Phase {
    fn line(&self) -> String {
        let o = &self.outcome;
        format!(
            "{:.0} deliveries/s, ack {}; {} jobs queued, queue empty {}",
            o.latencies_us.len() as f64 / o.measured_for.as_secs_f64().max(1e-9),
            Percentiles::of(o.latencies_us.clone())
                .map(|p| p.slashed())
                .unwrap_or_else(|| "n/a".into()),
            self.jobs,
            self.drained_in
                .map(|d| format!("{:.2} s after the load", d.as_secs_f64()))
                .unwrap_or_else(|| format!("NOT within {} s", DRAIN_TIMEOUT.as_secs())),
        )
    }
}

impl Report {
    pub fn print(&self) {
        println!(
            "disk      {}, in the data directory, server idle",
            self.disk
        );
        println!(
            "mix       {MIX_LEN} deliveries over {REPOS} repositories and {} issues: {}",
            REPOS as u64 * ISSUES_PER_REPO,
            describe_shares()
        );
        println!(
            "load      {} connections, closed loop, {} s after a {} s warm-up",
            self.connections,
            self.seconds,
            WARMUP.as_secs()
        );
        for phase in &self.phases {
            println!("\n-- {}", phase.name);
            println!("bosun     {}", phase.line());
            let o = &phase.outcome;
            println!(
                "answers   {:?}, {} transport errors",
                o.statuses,
                o.errors.len()
            );
        }
        println!(
            "\ntasks     {} started by the mix's triggers, then {} more (agents work {} s): all \
             running {} after their triggers; {} of {} draft PRs open",
            self.mix_tasks,
            self.tasks,
            self.agent_secs,
            self.all_running
                .map(|d| format!("{:.1} s", d.as_secs_f64()))
                .unwrap_or_else(|| "never".into()),
            self.prs,
            self.prs_expected
        );
        println!(
            "server    RSS peak {}; GitHub requests {}",
            mib(self.peak_kib),
            self.requests
        );
    }

    pub fn summary(&self) -> Vec<String> {
        let mut lines = vec![format!("disk    {}", self.disk)];
        lines.extend(
            self.phases
                .iter()
                .map(|p| format!("mix     {}: {}", p.name, p.line())),
        );
        lines.push(format!(
            "        {} + {} tasks, {} of {} PRs, server RSS peak {}, {} GitHub requests",
            self.mix_tasks,
            self.tasks,
            self.prs,
            self.prs_expected,
            mib(self.peak_kib),
            self.requests
        ));
        lines
    }

    pub fn passed(&self) -> bool {
        let mut passed = true;
        for phase in &self.phases {
            let o = &phase.outcome;
            if !o.errors.is_empty() || !o.non_2xx().is_empty() {
                println!(
                    "CHECK FAILED  {}: transport errors or answers other than 2xx",
                    phase.name
                );
                passed = false;
            }
            if phase.drained_in.is_none() {
                println!("CHECK FAILED  {}: the queue did not empty", phase.name);
                passed = false;
            }
        }
        if self.prs != self.prs_expected {
            println!(
                "CHECK FAILED  {} of {} tasks opened a PR",
                self.prs, self.prs_expected
            );
            passed = false;
        }
        passed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_has_its_shares_and_spreads_them() {
        let kinds = order();
        assert_eq!(kinds.len(), MIX_LEN);
        for (kind, n) in SHARES {
            assert_eq!(kinds.iter().filter(|k| **k == kind).count(), n, "{kind:?}");
        }
        // Spread: each tenth of the mix holds some everyday labels and some comments.
        for tenth in kinds.chunks(MIX_LEN / 10) {
            assert!(tenth.contains(&Kind::LabelAdded) && tenth.contains(&Kind::Comment));
        }
        assert_eq!(order(), kinds, "the same sequence every run");
    }

    #[test]
    fn every_delivery_is_moved_onto_the_fleet() {
        let targets: Vec<Target> = (0..REPOS)
            .map(|r| Target {
                full_name: format!("o/r{r}"),
                repo_id: 100 + r as u64,
                installation_id: 9,
                sender_login: "w".into(),
                sender_id: 11,
            })
            .collect();
        let on = Issues {
            issues: (0..REPOS as u64)
                .map(|r| vec![r * 100 + 1, r * 100 + 2])
                .collect(),
            triggers: vec![(3, 7)],
        };
        let mix = mix(&targets, &on).unwrap();
        for p in &mix {
            let v: Value = serde_json::from_slice(&p.body).unwrap();
            assert!(v["repository"]["full_name"]
                .as_str()
                .unwrap()
                .starts_with("o/r"));
            assert_eq!(v["installation"]["id"], 9);
            if p.event == "issue_comment" {
                assert!(!v["comment"]["body"].as_str().unwrap().contains('@'));
            }
        }
        let triggers: Vec<Value> = mix
            .iter()
            .map(|p| serde_json::from_slice::<Value>(&p.body).unwrap())
            .filter(|v| v["label"]["name"] == "bosun")
            .collect();
        assert_eq!(triggers.len(), 10);
        let on_fleet = Issues {
            triggers: (0..REPOS).map(|r| (r, 7)).collect(),
            ..on
        };
        let repos: std::collections::BTreeSet<_> = super::mix(&targets, &on_fleet)
            .unwrap()
            .iter()
            .map(|p| serde_json::from_slice::<Value>(&p.body).unwrap())
            .filter(|v| v["label"]["name"] == "bosun")
            .map(|v| v["repository"]["id"].as_u64())
            .collect();
        assert_eq!(repos.len(), REPOS, "every trigger issue has its turn");
        let t = &triggers[0];
        assert_eq!(
            (
                t["repository"]["id"].as_u64(),
                t["issue"]["number"].as_u64()
            ),
            (Some(103), Some(7))
        );
    }
}
