//! What happens to a task, as stored: an append-only log of events, never changed once written.
//!
//! Two kinds. Lifecycle events ([`TaskEvent`]'s own variants) change where the task stands:
//! its status, its attempt, its instructions, its plan. Progress events ([`ProgressEvent`],
//! carried in [`TaskEvent::Progress`]) report how the running attempt goes: the fetch, the
//! agent's rounds, the gates, the reviews, the push; each names its attempt and is valid only
//! while that attempt is in progress. Both are stored the same way, as one JSON object with a
//! `type`, so logs written before the split read as they were.

use serde::{Deserialize, Serialize};

use super::progress::{FindingCounts, GateSummary};
use super::{IssueSnapshot, RunUsage, TaskKind, TaskStatus, TriggerSource};
use crate::repo_config::Complexity;

/// One fact in a task's life. Stored as JSON, never changed once written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskEvent {
    /// A trusted person asked for work; opens attempt `attempt`.
    Triggered {
        attempt: u32,
        kind: TaskKind,
        by: String,
        source: TriggerSource,
        instructions: String,
        /// The issue as it was when the trigger came (absent in events from before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        issue: Option<IssueSnapshot>,
    },
    /// More instructions for the running attempt, from a trusted person.
    Steered { by: String, text: String },
    /// Review feedback on the task's pull request arrived while an attempt was active; the
    /// run reads the threads again before its next round. `text` is a review's body or an
    /// @mention's request (empty for an inline comment: the thread itself says it).
    FeedbackQueued { by: String, pr: u64, text: String },
    /// A worker began (or, after a crash, began again) the attempt.
    Started { attempt: u32 },
    /// Every part of the plan is a sub-issue with its task: the parent waits for them.
    /// `overview` is the planner's text before its plan (redacted).
    PlanPublished { attempt: u32, overview: String },
    /// Sub-issue `issue` of the plan is done (its pull request merged, or the issue closed as
    /// completed).
    PlanPartDone { issue: u64 },
    /// Sub-issue `issue` of the plan was closed without being done; `reason` is GitHub's
    /// `state_reason` ("not_planned", "duplicate", ...). Parts that wait for it do not start.
    PlanPartDropped { issue: u64, reason: String },
    /// A dropped sub-issue was opened again: the plan waits for it again.
    PlanPartReopened { issue: u64 },
    /// Everything this sub-issue waited for is done: its run can start.
    Unblocked,
    /// The attempt ended.
    Finished {
        attempt: u32,
        status: TaskStatus,
        summary: String,
    },
    /// A trusted person stopped the attempt.
    Stopped { by: String },
    /// `by` uninstalled or suspended the App, or removed the repository from it: bosun can no
    /// longer act there, so the attempt was cancelled (recorded here only; GitHub no longer
    /// takes the App's writes).
    AppRemoved { by: String, why: AppRemoval },
    /// The issue was closed while a run was going: the run ends, as with a stop.
    IssueClosed { by: String },
    /// The attempt's pull request was closed: merged (the task is done) or not (cancelled).
    PullClosed {
        number: u64,
        merged: bool,
        by: String,
    },
    /// `bosun resync` rebuilt the task from its labels and tracking-comment marker; a planned
    /// issue's parts from its sub-issues, and a part's place in its plan from its body.
    Resynced {
        status: TaskStatus,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        plan: Vec<ResyncedPart>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        part_of: Option<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        waits_for: Vec<u64>,
    },
    /// What the running attempt reports (stored under its own `type`, as every event is).
    #[serde(untagged)]
    Progress(ProgressEvent),
}

/// How the running attempt goes: each names the attempt it belongs to and is refused once
/// that attempt is no longer the one in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// The run answered the review feedback: replies in threads, resolved threads, and what
    /// it left as it was (with why).
    FeedbackAnswered {
        attempt: u32,
        pr: u64,
        /// The commit pushed onto the pull request's branch, if the run changed code.
        commit: Option<String>,
        replied: u32,
        resolved: u32,
        not_addressed: Vec<String>,
    },
    /// The placeholder work step ran (only when no runner is configured: engine tests).
    PlaceholderRan { attempt: u32 },
    /// The repository's mirror is being fetched (every few seconds while a long fetch goes
    /// on), or was cloned for the first time (`done`, once, with the totals).
    Fetching {
        attempt: u32,
        received_objects: u64,
        total_objects: u64,
        received_bytes: u64,
        done: bool,
    },
    /// The checkout is ready on the task branch.
    WorkspaceReady {
        attempt: u32,
        branch: String,
        base_sha: String,
    },
    /// An agent round began.
    AgentStarted {
        attempt: u32,
        round: u32,
        rounds: u32,
        agent: String,
        sandbox: String,
        /// The model the agent was started with; none: the CLI's default (and events recorded
        /// before bosun kept it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// Usage and time so far, recorded every few seconds while the agent runs.
    AgentProgress {
        attempt: u32,
        usage: RunUsage,
        elapsed_secs: u64,
    },
    /// The agent failed in a way that looks transient (its API unreachable or overloaded);
    /// the run is retried by the queue with backoff.
    AgentRetrying { attempt: u32, reason: String },
    /// The run went back to the queue to wait for room (its agent vendor's runs are at the
    /// server's limit); it starts again by itself.
    Waiting { attempt: u32, reason: String },
    /// The agent CLI refused its command line in a known way; it was started again with
    /// the fix described in `fix`.
    AgentRelaunched {
        attempt: u32,
        round: u32,
        fix: String,
    },
    /// The egress proxy refused these hosts (`host:port`) to the run so far: every host the
    /// attempt was refused, each once.
    EgressRefused { attempt: u32, hosts: Vec<String> },
    /// The metering proxy took these provider-side tools out of the run's model calls (the
    /// repository's `model_tools:` does not list them).
    ToolsStripped { attempt: u32, tools: Vec<String> },
    /// The agent printed nothing for `idle_secs` and was stopped (it is restarted once).
    AgentStalled {
        attempt: u32,
        round: u32,
        idle_secs: u64,
    },
    /// The agent round ended (successfully: a failed agent finishes the attempt).
    AgentFinished {
        attempt: u32,
        usage: RunUsage,
        elapsed_secs: u64,
    },
    /// The run's image is not on the Docker host, and is being pulled (the server's
    /// `docker.pull` policy allows it).
    ImagePulling { attempt: u32, image: String },
    /// The run's image was pulled, in `secs`.
    ImagePulled {
        attempt: u32,
        image: String,
        secs: u64,
    },
    /// The repository's set-up commands ran before the agent (up to the first that failed).
    SetupRan {
        attempt: u32,
        results: Vec<GateSummary>,
    },
    /// The set-up was skipped: the run starts from the environment snapshot `key`, made by an
    /// earlier set-up that took `setup_secs`.
    SetupReused {
        attempt: u32,
        key: String,
        setup_secs: u64,
    },
    /// The repository's gates ran after a round.
    GatesRan {
        attempt: u32,
        round: u32,
        results: Vec<GateSummary>,
    },
    /// bosun committed and pushed the task branch.
    Pushed {
        attempt: u32,
        branch: String,
        sha: String,
    },
    /// Changes to protected paths were kept out of the push; a writer's `@bosun approve`
    /// pushes `sha`, the commit that adds them on top.
    HeldBack {
        attempt: u32,
        paths: Vec<String>,
        /// The branch the approval pushes to.
        branch: String,
        sha: String,
    },
    /// A writer approved the held-back change and bosun pushed it.
    HeldPushed {
        attempt: u32,
        by: String,
        sha: String,
    },
    /// The pull request is open (a draft unless `ready`).
    PullOpened {
        attempt: u32,
        number: u64,
        url: String,
        /// Opened ready for review, not as a draft: the repository takes no drafts (GitHub
        /// offers them in private repositories on paid plans only).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ready: bool,
    },
    /// Who works on the task and how hard it is, decided before the run `by` the issue's
    /// labels, the router, or (when the router could not answer) taking turns. `None` leaves
    /// that part as it was. `usage` is the router's.
    Routed {
        attempt: u32,
        agent: Option<String>,
        complexity: Option<Complexity>,
        by: String,
        rationale: String,
        #[serde(default)]
        usage: RunUsage,
    },
    /// How long and how much the attempt will likely take, from similar finished tasks.
    Estimated {
        attempt: u32,
        estimate: crate::estimate::Estimate,
        /// The complexity the history was read for.
        complexity: Complexity,
    },
    /// A reviewer agent began reviewing the change; `pass` is 1, or 2 after the fix round.
    PeerReviewStarted {
        attempt: u32,
        pass: u32,
        reviewer: String,
    },
    /// A reviewer ended: its findings by severity, or why its review cannot be used.
    PeerReviewed {
        attempt: u32,
        pass: u32,
        reviewer: String,
        findings: FindingCounts,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failed: Option<String>,
        usage: RunUsage,
        elapsed_secs: u64,
    },
    /// The reviewers found blockers: the implementer gets one round to fix them.
    PeerFixRound { attempt: u32, blockers: u32 },
    /// The reviewers' findings are on the pull request as a review, `inline` of them on lines.
    PeerReviewPosted {
        attempt: u32,
        pr: u64,
        review_id: u64,
        inline: u32,
    },
    /// The planner's part `key` is sub-issue `issue`, created (or found again) and linked.
    PlanPartCreated {
        attempt: u32,
        key: String,
        issue: u64,
        title: String,
        /// The sub-issues this one waits for.
        depends_on: Vec<u64>,
    },
}

impl From<ProgressEvent> for TaskEvent {
    fn from(event: ProgressEvent) -> Self {
        TaskEvent::Progress(event)
    }
}

/// A part of a plan as `resync` found it: a sub-issue bosun opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResyncedPart {
    pub key: String,
    pub issue: u64,
    pub title: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<u64>,
}

impl TaskEvent {
    /// The same event for attempt `attempt`: a trigger names the attempt it opens, which only
    /// the database's transaction knows for sure.
    pub fn for_attempt(self, attempt: u32) -> TaskEvent {
        match self {
            TaskEvent::Triggered {
                kind,
                by,
                source,
                instructions,
                issue,
                ..
            } => TaskEvent::Triggered {
                attempt,
                kind,
                by,
                source,
                instructions,
                issue,
            },
            other => other,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            TaskEvent::Triggered { .. } => "triggered",
            TaskEvent::Steered { .. } => "steered",
            TaskEvent::FeedbackQueued { .. } => "feedback_queued",
            TaskEvent::Started { .. } => "started",
            TaskEvent::PlanPublished { .. } => "plan_published",
            TaskEvent::PlanPartDone { .. } => "plan_part_done",
            TaskEvent::PlanPartDropped { .. } => "plan_part_dropped",
            TaskEvent::PlanPartReopened { .. } => "plan_part_reopened",
            TaskEvent::Unblocked => "unblocked",
            TaskEvent::Finished { .. } => "finished",
            TaskEvent::Stopped { .. } => "stopped",
            TaskEvent::AppRemoved { .. } => "app_removed",
            TaskEvent::IssueClosed { .. } => "issue_closed",
            TaskEvent::PullClosed { .. } => "pull_closed",
            TaskEvent::Resynced { .. } => "resynced",
            TaskEvent::Progress(event) => event.name(),
        }
    }
}

impl ProgressEvent {
    /// The attempt this event reports on.
    pub fn attempt(&self) -> u32 {
        match self {
            ProgressEvent::FeedbackAnswered { attempt, .. }
            | ProgressEvent::PlaceholderRan { attempt, .. }
            | ProgressEvent::Fetching { attempt, .. }
            | ProgressEvent::WorkspaceReady { attempt, .. }
            | ProgressEvent::AgentStarted { attempt, .. }
            | ProgressEvent::AgentProgress { attempt, .. }
            | ProgressEvent::AgentRetrying { attempt, .. }
            | ProgressEvent::Waiting { attempt, .. }
            | ProgressEvent::AgentRelaunched { attempt, .. }
            | ProgressEvent::EgressRefused { attempt, .. }
            | ProgressEvent::ToolsStripped { attempt, .. }
            | ProgressEvent::ImagePulling { attempt, .. }
            | ProgressEvent::ImagePulled { attempt, .. }
            | ProgressEvent::SetupRan { attempt, .. }
            | ProgressEvent::SetupReused { attempt, .. }
            | ProgressEvent::AgentStalled { attempt, .. }
            | ProgressEvent::AgentFinished { attempt, .. }
            | ProgressEvent::GatesRan { attempt, .. }
            | ProgressEvent::Pushed { attempt, .. }
            | ProgressEvent::HeldBack { attempt, .. }
            | ProgressEvent::HeldPushed { attempt, .. }
            | ProgressEvent::PullOpened { attempt, .. }
            | ProgressEvent::Routed { attempt, .. }
            | ProgressEvent::Estimated { attempt, .. }
            | ProgressEvent::PeerReviewStarted { attempt, .. }
            | ProgressEvent::PeerReviewed { attempt, .. }
            | ProgressEvent::PeerFixRound { attempt, .. }
            | ProgressEvent::PeerReviewPosted { attempt, .. }
            | ProgressEvent::PlanPartCreated { attempt, .. } => *attempt,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            ProgressEvent::FeedbackAnswered { .. } => "feedback_answered",
            ProgressEvent::PlaceholderRan { .. } => "placeholder_ran",
            ProgressEvent::Fetching { .. } => "fetching",
            ProgressEvent::WorkspaceReady { .. } => "workspace_ready",
            ProgressEvent::AgentStarted { .. } => "agent_started",
            ProgressEvent::AgentProgress { .. } => "agent_progress",
            ProgressEvent::AgentRetrying { .. } => "agent_retrying",
            ProgressEvent::Waiting { .. } => "waiting",
            ProgressEvent::AgentRelaunched { .. } => "agent_relaunched",
            ProgressEvent::EgressRefused { .. } => "egress_refused",
            ProgressEvent::ToolsStripped { .. } => "tools_stripped",
            ProgressEvent::ImagePulling { .. } => "image_pulling",
            ProgressEvent::ImagePulled { .. } => "image_pulled",
            ProgressEvent::SetupRan { .. } => "setup_ran",
            ProgressEvent::SetupReused { .. } => "setup_reused",
            ProgressEvent::AgentStalled { .. } => "agent_stalled",
            ProgressEvent::AgentFinished { .. } => "agent_finished",
            ProgressEvent::GatesRan { .. } => "gates_ran",
            ProgressEvent::Pushed { .. } => "pushed",
            ProgressEvent::HeldBack { .. } => "held_back",
            ProgressEvent::HeldPushed { .. } => "held_pushed",
            ProgressEvent::PullOpened { .. } => "pull_opened",
            ProgressEvent::Routed { .. } => "routed",
            ProgressEvent::Estimated { .. } => "estimated",
            ProgressEvent::PeerReviewStarted { .. } => "peer_review_started",
            ProgressEvent::PeerReviewed { .. } => "peer_reviewed",
            ProgressEvent::PeerFixRound { .. } => "peer_fix_round",
            ProgressEvent::PeerReviewPosted { .. } => "peer_review_posted",
            ProgressEvent::PlanPartCreated { .. } => "plan_part_created",
        }
    }
}

/// How the App stopped covering a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppRemoval {
    Uninstalled,
    Suspended,
    RepositoryRemoved,
}

impl AppRemoval {
    pub fn as_str(self) -> &'static str {
        match self {
            AppRemoval::Uninstalled => "uninstalled",
            AppRemoval::Suspended => "suspended",
            AppRemoval::RepositoryRemoved => "repository_removed",
        }
    }

    /// What `by` did, as a sentence's middle: "@octocat uninstalled the App".
    pub fn deed(self) -> &'static str {
        match self {
            AppRemoval::Uninstalled => "uninstalled the App",
            AppRemoval::Suspended => "suspended the App",
            AppRemoval::RepositoryRemoved => "removed this repository from the App",
        }
    }
}
