//! Follows the demo's task as it happens and prints one line per step, with the seconds since
//! the issue was labelled: the task's events from bosun's database (what `bosun task get`
//! shows) and what GitHub's side shows on the simulator (the 👀 reaction, the tracking
//! comment, the status labels). It ends when the simulator holds a draft pull request, when
//! the task ends without one, or at the deadline.

use std::time::{Duration, Instant};

use fake_github::PullRecord;

use super::events::{describe, first_line};
use super::sample::REPO;
use super::simulator::Simulator;
use crate::db::Db;
use bosun_core::ids::{IssueNumber, RepoId};
use bosun_core::model::{TaskEvent, TaskStatus};

/// How often the database and the simulator are looked at.
const POLL: Duration = Duration::from_millis(150);
/// A labelled issue becomes a task within milliseconds; this long without one means the
/// trigger was refused or failed.
const NO_TASK_AFTER: Duration = Duration::from_secs(20);
/// Once the pull request is there, how long to wait for the task's last event (it follows
/// within moments) so the timeline ends with the outcome.
const OUTCOME_WAIT: Duration = Duration::from_secs(5);

pub enum End {
    /// The simulator holds the draft pull request.
    Pull(PullRecord),
    /// Why no pull request will come.
    Failed(String),
}

/// What was printed already.
struct Seen {
    events: usize,
    reacted: bool,
    commented: bool,
    labels: Vec<String>,
}

/// Prints the timeline from `t0` (when the label was put on) until the end or `deadline`.
pub async fn follow(db: &Db, sim: &Simulator, t0: Instant, t0_ms: i64, deadline: Instant) -> End {
    let mut seen = Seen {
        events: 0,
        reacted: false,
        commented: false,
        labels: sim.github.issue_labels(REPO, sim.issue),
    };
    let mut pull_since: Option<(PullRecord, Instant)> = None;
    loop {
        let (lines, finished) = match poll(db, sim, t0, t0_ms, &mut seen).await {
            Ok(found) => found,
            Err(e) => return End::Failed(format!("could not read bosun's database: {e}")),
        };
        for (at, line) in lines {
            println!("{at:>6.1}s  {line}");
        }
        let pull = sim.github.pulls(REPO).into_iter().find(|p| p.draft);
        match (pull, &pull_since, &finished) {
            (Some(pull), _, Some(_)) => return End::Pull(pull),
            (Some(pull), None, None) => pull_since = Some((pull, Instant::now())),
            (Some(_), Some((pull, since)), None) if since.elapsed() > OUTCOME_WAIT => {
                return End::Pull(pull.clone())
            }
            (None, _, Some((status, summary))) => {
                return End::Failed(format!(
                    "the task ended `{status}` without a pull request: {}",
                    first_line(summary)
                ))
            }
            _ => {}
        }
        if seen.events == 0 && t0.elapsed() > NO_TASK_AFTER {
            return End::Failed(format!(
                "bosun started no task for the labelled issue in {} s (run with \
                 RUST_LOG=bosun=info to see why)",
                NO_TASK_AFTER.as_secs()
            ));
        }
        if let Some(why) = dead_job(db, sim).await {
            return End::Failed(why);
        }
        if Instant::now() >= deadline {
            return End::Failed(
                "no draft pull request before the demo's deadline; the last line above is \
                 the last step bosun reached"
                    .into(),
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

type Lines = Vec<(f64, String)>;

/// New lines since the last poll, in time order, and the outcome once the task finished.
async fn poll(
    db: &Db,
    sim: &Simulator,
    t0: Instant,
    t0_ms: i64,
    seen: &mut Seen,
) -> anyhow::Result<(Lines, Option<(TaskStatus, String)>)> {
    let now = t0.elapsed().as_secs_f64();
    let mut lines: Lines = Vec::new();
    let mut finished = None;
    let task = db
        .task_for_issue(RepoId(sim.repo_id), IssueNumber(sim.issue))
        .await?;
    if let Some(task) = task {
        let log = db.task_event_log(task.id).await?;
        for e in log.iter().skip(seen.events) {
            let at = (e.at - t0_ms).max(0) as f64 / 1000.0;
            lines.push((at, describe(&e.event)));
            if let TaskEvent::Finished {
                status, summary, ..
            } = &e.event
            {
                finished = Some((*status, summary.clone()));
            }
        }
        seen.events = log.len();
    }
    let gh = &sim.github;
    if !seen.reacted {
        if let Some(eyes) = gh
            .issue_reactions(REPO, sim.issue)
            .into_iter()
            .find(|r| r.content == "eyes")
        {
            seen.reacted = true;
            let at = eyes.at.saturating_duration_since(t0).as_secs_f64();
            lines.push((at, format!("👀 from @{} on the issue", eyes.user_login)));
        }
    }
    if !seen.commented
        && gh
            .comments(REPO, sim.issue)
            .iter()
            .any(|c| c.user_type == "Bot" && c.body.contains("bosun:task"))
    {
        seen.commented = true;
        lines.push((now, "tracking comment posted on the issue".into()));
    }
    let labels = gh.issue_labels(REPO, sim.issue);
    for added in labels.iter().filter(|l| !seen.labels.contains(l)) {
        lines.push((now, format!("label {added} on the issue")));
    }
    seen.labels = labels;
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok((lines, finished))
}

/// A job of the task that gave up (its retries spent), with its last error.
async fn dead_job(db: &Db, sim: &Simulator) -> Option<String> {
    let task = db
        .task_for_issue(RepoId(sim.repo_id), IssueNumber(sim.issue))
        .await
        .ok()??;
    let jobs = db.task_pending_jobs(task.id).await.ok()?;
    let dead = jobs.into_iter().find(|j| j.state == "dead")?;
    Some(format!(
        "bosun's {} job gave up: {}",
        dead.kind,
        dead.last_error
            .unwrap_or_else(|| "no error recorded".into())
    ))
}
