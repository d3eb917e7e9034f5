//! How far the running attempt got, as the tracking comment and the dashboard show it: what
//! the progress events build up.

use serde::{Deserialize, Serialize};

use super::events::ProgressEvent;
use super::state::{TaskPull, TaskState};
use super::{PlanItem, PlanState, RunUsage};

/// One gate's result, as shown in the tracking comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateSummary {
    pub name: String,
    pub ok: bool,
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    pub secs: u64,
    /// The end of a failing gate's output (redacted); empty for a passing one.
    pub tail: String,
}

/// A reviewer's findings by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingCounts {
    pub blockers: u32,
    pub concerns: u32,
    pub nits: u32,
}

/// One reviewer's review in the current attempt, as the tracking comment shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerProgress {
    pub pass: u32,
    pub reviewer: String,
    pub running: bool,
    pub findings: FindingCounts,
    pub failed: Option<String>,
    pub secs: u64,
}

/// A fetch of the repository under way, as the tracking comment shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchShown {
    pub received_objects: u64,
    pub total_objects: u64,
    pub received_bytes: u64,
}

/// How far the agent run of the current attempt got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunProgress {
    pub branch: Option<String>,
    pub base_sha: Option<String>,
    pub agent: Option<String>,
    /// The model of the running (or last) round, when one was named.
    pub model: Option<String>,
    pub sandbox: Option<String>,
    pub round: u32,
    pub rounds: u32,
    pub agent_running: bool,
    /// Totals over the finished rounds plus the running one.
    pub usage: RunUsage,
    pub agent_secs: u64,
    /// Totals of the finished rounds (the running round's progress adds to these).
    done_usage: RunUsage,
    done_secs: u64,
    pub gates_round: u32,
    pub gates: Vec<GateSummary>,
    pub pushed_sha: Option<String>,
    /// Changed protected paths kept out of the push, until a writer's `@bosun approve`.
    pub held: Vec<String>,
    /// The branch they would be pushed to.
    pub held_branch: String,
    /// Who approved them, once pushed.
    pub held_pushed_by: Option<String>,
    pub pr: Option<(u64, String)>,
    /// The pull request was opened ready for review: the repository takes no drafts.
    pub pr_ready: bool,
    /// Fixes to the agent's command line it was relaunched with.
    pub relaunches: Vec<String>,
    /// Why the run is back in the queue, until its workspace is ready.
    pub waiting: Option<String>,
    /// How far a long fetch of the repository got, until its workspace is ready.
    pub fetch: Option<FetchShown>,
    /// Images pulled for the run: each image, and how long its pull took (`None`: under way).
    pub images: Vec<(String, Option<u64>)>,
    /// The set-up commands that ran before the agent, in order.
    pub setup: Vec<GateSummary>,
    /// The environment snapshot the run started from instead, and what its set-up took.
    pub setup_reused: Option<(String, u64)>,
    /// Hosts the egress proxy refused to the run (`host:port`).
    pub egress_refused: Vec<String>,
    /// Provider-side tools the metering proxy took out of the run's model calls.
    pub tools_stripped: Vec<String>,
    /// How often the agent was stopped for silence, and after how long.
    pub stalls: u32,
    pub stall_secs: u64,
    /// What the run did with review feedback (attempts that answer a review).
    pub answered: Option<FeedbackAnswer>,
    /// The reviewers' reviews of the change, in order.
    pub peer: Vec<PeerProgress>,
    /// How many blockers went back to the implementer for its fix round, if it had one.
    pub peer_fix: Option<u32>,
    /// The review posted on the pull request: its id and how many findings are inline.
    pub peer_posted: Option<(u64, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackAnswer {
    pub pr: u64,
    pub commit: Option<String>,
    pub replied: u32,
    pub resolved: u32,
    pub not_addressed: Vec<String>,
}

impl TaskState {
    /// Applies a progress event the lifecycle already checked.
    pub(super) fn apply_progress(&mut self, event: &ProgressEvent) {
        match event {
            ProgressEvent::FeedbackAnswered {
                pr,
                commit,
                replied,
                resolved,
                not_addressed,
                ..
            } => {
                self.run.answered = Some(FeedbackAnswer {
                    pr: *pr,
                    commit: commit.clone(),
                    replied: *replied,
                    resolved: *resolved,
                    not_addressed: not_addressed.clone(),
                });
            }
            ProgressEvent::PlaceholderRan { .. } => self.placeholder_ran = true,
            ProgressEvent::Fetching {
                received_objects,
                total_objects,
                received_bytes,
                done,
                ..
            } => {
                self.run.fetch = (!done).then_some(FetchShown {
                    received_objects: *received_objects,
                    total_objects: *total_objects,
                    received_bytes: *received_bytes,
                });
            }
            ProgressEvent::WorkspaceReady {
                branch, base_sha, ..
            } => {
                // A restart after a crash prepares the workspace again from scratch; the images
                // were pulled before it, and stay shown.
                self.run = RunProgress {
                    branch: Some(branch.clone()),
                    base_sha: Some(base_sha.clone()),
                    images: std::mem::take(&mut self.run.images),
                    ..RunProgress::default()
                };
            }
            ProgressEvent::AgentStarted {
                round,
                rounds,
                agent,
                sandbox,
                model,
                ..
            } => {
                let run = &mut self.run;
                run.round = *round;
                run.rounds = *rounds;
                run.agent = Some(agent.clone());
                run.model = model.clone();
                run.sandbox = Some(sandbox.clone());
                run.agent_running = true;
            }
            ProgressEvent::AgentProgress {
                usage,
                elapsed_secs,
                ..
            } => {
                let run = &mut self.run;
                run.usage = run.done_usage.plus(*usage);
                run.agent_secs = run.done_secs + elapsed_secs;
            }
            ProgressEvent::AgentFinished {
                usage,
                elapsed_secs,
                ..
            } => {
                let run = &mut self.run;
                run.done_usage = run.done_usage.plus(*usage);
                run.done_secs += elapsed_secs;
                run.usage = run.done_usage;
                run.agent_secs = run.done_secs;
                run.agent_running = false;
            }
            ProgressEvent::AgentRetrying { reason, .. } => {
                self.retries += 1;
                self.retry_reason = Some(reason.clone());
            }
            ProgressEvent::Waiting { reason, .. } => self.run.waiting = Some(reason.clone()),
            ProgressEvent::AgentRelaunched { fix, .. } => self.run.relaunches.push(fix.clone()),
            ProgressEvent::EgressRefused { hosts, .. } => self.run.egress_refused = hosts.clone(),
            ProgressEvent::ToolsStripped { tools, .. } => self.run.tools_stripped = tools.clone(),
            ProgressEvent::ImagePulling { image, .. } => {
                self.run.images.retain(|(shown, _)| shown != image);
                self.run.images.push((image.clone(), None));
            }
            ProgressEvent::ImagePulled { image, secs, .. } => {
                self.run.images.retain(|(shown, _)| shown != image);
                self.run.images.push((image.clone(), Some(*secs)));
            }
            ProgressEvent::SetupRan { results, .. } => self.run.setup = results.clone(),
            ProgressEvent::SetupReused {
                key, setup_secs, ..
            } => self.run.setup_reused = Some((key.clone(), *setup_secs)),
            ProgressEvent::AgentStalled { idle_secs, .. } => {
                self.run.stalls += 1;
                self.run.stall_secs = *idle_secs;
            }
            ProgressEvent::GatesRan { round, results, .. } => {
                self.run.gates_round = *round;
                self.run.gates = results.clone();
            }
            ProgressEvent::Pushed { sha, .. } => self.run.pushed_sha = Some(sha.clone()),
            ProgressEvent::HeldBack { paths, branch, .. } => {
                self.run.held = paths.clone();
                self.run.held_branch = branch.clone();
                self.run.held_pushed_by = None;
            }
            ProgressEvent::HeldPushed { by, sha, .. } => {
                self.run.held_pushed_by = Some(by.clone());
                self.run.pushed_sha = Some(sha.clone());
            }
            ProgressEvent::PullOpened {
                number, url, ready, ..
            } => {
                self.run.pr = Some((*number, url.clone()));
                self.run.pr_ready = *ready;
                self.pull = Some(TaskPull {
                    number: *number,
                    url: url.clone(),
                    closed: false,
                });
            }
            ProgressEvent::Routed {
                agent,
                complexity,
                by,
                rationale,
                usage,
                ..
            } => {
                if agent.is_some() {
                    self.route.agent = agent.clone();
                }
                if complexity.is_some() {
                    self.route.complexity = *complexity;
                }
                self.route.by = Some(by.clone());
                self.route.rationale = rationale.clone();
                // Shown on the route's own line: the run's totals start at its workspace.
                self.route.usage = *usage;
            }
            ProgressEvent::Estimated {
                estimate,
                complexity,
                ..
            } => self.estimate = Some((*estimate, *complexity)),
            ProgressEvent::PeerReviewStarted { pass, reviewer, .. } => {
                self.run.peer.push(PeerProgress {
                    pass: *pass,
                    reviewer: reviewer.clone(),
                    running: true,
                    findings: FindingCounts::default(),
                    failed: None,
                    secs: 0,
                });
            }
            ProgressEvent::PeerReviewed {
                pass,
                reviewer,
                findings,
                failed,
                usage,
                elapsed_secs,
                ..
            } => {
                // The task's cost includes its reviews.
                let run = &mut self.run;
                run.done_usage = run.done_usage.plus(*usage);
                run.usage = run.done_usage;
                let done = PeerProgress {
                    pass: *pass,
                    reviewer: reviewer.clone(),
                    running: false,
                    findings: *findings,
                    failed: failed.clone(),
                    secs: *elapsed_secs,
                };
                match run
                    .peer
                    .iter_mut()
                    .find(|p| p.running && p.pass == *pass && p.reviewer == *reviewer)
                {
                    Some(slot) => *slot = done,
                    None => run.peer.push(done),
                }
            }
            ProgressEvent::PeerFixRound { blockers, .. } => self.run.peer_fix = Some(*blockers),
            ProgressEvent::PeerReviewPosted {
                review_id, inline, ..
            } => self.run.peer_posted = Some((*review_id, *inline)),
            ProgressEvent::PlanPartCreated {
                key,
                issue,
                title,
                depends_on,
                ..
            } => {
                let plan = self.plan.get_or_insert_with(PlanState::default);
                plan.parts.retain(|p| p.key != *key);
                plan.parts.push(PlanItem {
                    key: key.clone(),
                    issue: *issue,
                    title: title.clone(),
                    depends_on: depends_on.clone(),
                    done: false,
                    dropped: None,
                });
            }
        }
    }
}
