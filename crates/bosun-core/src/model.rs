//! The task: its status, its append-only events, and the projection from events to state.
//! Pure code: the database stores events and a cached projection, GitHub shows the projection.

use crate::ids::CommentId;
use crate::repo_config::Complexity;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Task ids are ours (SQLite rowids), not GitHub's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(pub i64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a task stands. Each status but `Stopped` (a run cancelled because its issue or pull
/// request was closed) has a label `<prefix>:<status>` on the issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskStatus {
    New,
    InProgress,
    Blocked,
    NeedsReview,
    Done,
    Failed,
    Stopped,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 7] = [
        TaskStatus::New,
        TaskStatus::InProgress,
        TaskStatus::Blocked,
        TaskStatus::NeedsReview,
        TaskStatus::Done,
        TaskStatus::Failed,
        TaskStatus::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::New => "new",
            TaskStatus::InProgress => "in-progress",
            TaskStatus::Blocked => "blocked",
            TaskStatus::NeedsReview => "needs-review",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
            TaskStatus::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Active tasks hold the issue: a new trigger steers them instead of starting another.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            TaskStatus::New | TaskStatus::InProgress | TaskStatus::Blocked
        )
    }

    /// The status label, e.g. `bosun:in-progress`. A cancelled task carries none: its issue or
    /// pull request was closed, so the work is not wanted any more.
    pub fn label(self, prefix: &str) -> Option<String> {
        match self {
            TaskStatus::Stopped => None,
            other => Some(format!("{prefix}:{}", other.as_str())),
        }
    }

    /// Every status label bosun may have put on an issue, to remove stale ones.
    pub fn all_labels(prefix: &str) -> Vec<String> {
        Self::ALL.iter().filter_map(|s| s.label(prefix)).collect()
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the task is asked to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Change the code and open a pull request.
    Implement,
    /// Break the issue down into sub-issues.
    Plan,
    /// Answer review feedback on the task's pull request with commits on its branch.
    Revise,
}

/// How a trigger reached bosun.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum TriggerSource {
    Label {
        name: String,
    },
    Comment {
        comment_id: CommentId,
    },
    IssueBody,
    /// A review, an inline comment or an @mention on the task's pull request.
    PullFeedback {
        pr: u64,
    },
    /// A part of a plan: bosun opened this sub-issue for the plan of issue `parent` and
    /// started its task, on behalf of the person who asked for the plan.
    PlanPart {
        parent: u64,
        part: String,
        /// Sub-issues that must be done first; the task waits (blocked) until they are.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        waits_for: Vec<u64>,
        /// The planner's suggestion of who does the part and how hard it is.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        complexity: Option<Complexity>,
    },
    /// A server job (`bosun job add`) opened this issue at its tick and started the task.
    Schedule {
        name: String,
        tick: i64,
    },
}

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
    /// A worker began (or, after a crash, began again) the attempt.
    Started { attempt: u32 },
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
    /// The draft pull request is open.
    PullOpened {
        attempt: u32,
        number: u64,
        url: String,
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

/// An issue's title, body and author, captured when a trusted person triggered the task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueSnapshot {
    pub title: String,
    pub body: String,
    pub author: String,
}

/// Tokens and cost (in millionths of a dollar, so events stay exact and comparable).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_micro_usd: Option<u64>,
}

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
    pub pr: Option<(u64, String)>,
    /// Fixes to the agent's command line it was relaunched with.
    pub relaunches: Vec<String>,
    /// Why the run is back in the queue, until its workspace is ready.
    pub waiting: Option<String>,
    /// How far a long fetch of the repository got, until its workspace is ready.
    pub fetch: Option<FetchShown>,
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

/// The task's pull request; it outlives the attempt that opened it, so follow-ups and the
/// merge find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPull {
    pub number: u64,
    pub url: String,
    /// Closed (merged or not); it can close only once.
    pub closed: bool,
}

/// Who should do a task and how hard it is, when something more specific than the
/// repository's config said so (a plan's suggestion for one part).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    pub agent: Option<String>,
    pub complexity: Option<Complexity>,
    /// What decided it last (`labels`, `router`, `turns`), and why, for the tracking comment.
    pub by: Option<String>,
    pub rationale: String,
    /// What the router's call cost.
    pub usage: RunUsage,
}

/// A planned issue's breakdown: one sub-issue per part, in dependency order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanState {
    pub parts: Vec<PlanItem>,
    /// All parts are sub-issues with tasks; the parent waits for them.
    pub published: bool,
    pub overview: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanItem {
    pub key: String,
    pub issue: u64,
    pub title: String,
    pub depends_on: Vec<u64>,
    pub done: bool,
    /// Closed without being done, with GitHub's reason.
    pub dropped: Option<String>,
}

impl PlanItem {
    /// Done, or closed without being done: nothing more will come of it.
    pub fn settled(&self) -> bool {
        self.done || self.dropped.is_some()
    }
}

impl PlanState {
    /// Published, and every part done or closed without being done.
    pub fn all_settled(&self) -> bool {
        self.published && self.parts.iter().all(PlanItem::settled)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackAnswer {
    pub pr: u64,
    pub commit: Option<String>,
    pub replied: u32,
    pub resolved: u32,
    pub not_addressed: Vec<String>,
}

impl RunUsage {
    pub fn plus(self, other: RunUsage) -> RunUsage {
        RunUsage {
            input_tokens: self.input_tokens + other.input_tokens,
            output_tokens: self.output_tokens + other.output_tokens,
            cost_micro_usd: match (self.cost_micro_usd, other.cost_micro_usd) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            },
        }
    }
}

/// The current state of a task: a pure function of its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskState {
    pub status: TaskStatus,
    pub attempt: u32,
    pub kind: TaskKind,
    pub requested_by: String,
    /// Instructions of the current attempt, in order: (who, text).
    pub instructions: Vec<(String, String)>,
    pub placeholder_ran: bool,
    /// Runs of this attempt retried after transient agent failures, and the last reason.
    pub retries: u32,
    pub retry_reason: Option<String>,
    /// The scheduled job whose tick started the current attempt.
    pub schedule: Option<String>,
    /// How the previous attempt ended when it failed or needed review (for a retry's prompt).
    pub previous_failure: Option<String>,
    /// The issue as captured by the attempt's trigger.
    pub issue: Option<IssueSnapshot>,
    /// The task's pull request, once one was opened (kept across attempts).
    pub pull: Option<TaskPull>,
    /// Review feedback events received during the current attempt.
    pub feedback_events: u32,
    /// For a part of a plan: the planned issue, the sub-issues it waits for, and the
    /// planner's suggestion.
    pub part_of: Option<u64>,
    pub waits_for: Vec<u64>,
    pub route: Route,
    /// For a planned issue: its sub-issues, once created.
    pub plan: Option<PlanState>,
    /// The current attempt's estimate, when there was history to make one.
    pub estimate: Option<(crate::estimate::Estimate, Complexity)>,
    pub run: RunProgress,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a task that is {status} cannot take {event}")]
pub struct InvalidTransition {
    pub status: &'static str,
    pub event: &'static str,
}

impl TaskEvent {
    fn name(&self) -> &'static str {
        match self {
            TaskEvent::Triggered { .. } => "triggered",
            TaskEvent::Steered { .. } => "steered",
            TaskEvent::FeedbackQueued { .. } => "feedback_queued",
            TaskEvent::FeedbackAnswered { .. } => "feedback_answered",
            TaskEvent::Started { .. } => "started",
            TaskEvent::PlaceholderRan { .. } => "placeholder_ran",
            TaskEvent::Fetching { .. } => "fetching",
            TaskEvent::WorkspaceReady { .. } => "workspace_ready",
            TaskEvent::AgentStarted { .. } => "agent_started",
            TaskEvent::AgentProgress { .. } => "agent_progress",
            TaskEvent::AgentFinished { .. } => "agent_finished",
            TaskEvent::AgentStalled { .. } => "agent_stalled",
            TaskEvent::AgentRelaunched { .. } => "agent_relaunched",
            TaskEvent::AgentRetrying { .. } => "agent_retrying",
            TaskEvent::Waiting { .. } => "waiting",
            TaskEvent::GatesRan { .. } => "gates_ran",
            TaskEvent::Pushed { .. } => "pushed",
            TaskEvent::PullOpened { .. } => "pull_opened",
            TaskEvent::Routed { .. } => "routed",
            TaskEvent::Estimated { .. } => "estimated",
            TaskEvent::PeerReviewStarted { .. } => "peer_review_started",
            TaskEvent::PeerReviewed { .. } => "peer_reviewed",
            TaskEvent::PeerFixRound { .. } => "peer_fix_round",
            TaskEvent::PeerReviewPosted { .. } => "peer_review_posted",
            TaskEvent::PlanPartCreated { .. } => "plan_part_created",
            TaskEvent::PlanPublished { .. } => "plan_published",
            TaskEvent::PlanPartDone { .. } => "plan_part_done",
            TaskEvent::PlanPartDropped { .. } => "plan_part_dropped",
            TaskEvent::PlanPartReopened { .. } => "plan_part_reopened",
            TaskEvent::Unblocked => "unblocked",
            TaskEvent::Finished { .. } => "finished",
            TaskEvent::Stopped { .. } => "stopped",
            TaskEvent::IssueClosed { .. } => "issue_closed",
            TaskEvent::PullClosed { .. } => "pull_closed",
            TaskEvent::Resynced { .. } => "resynced",
        }
    }
}

impl TaskState {
    /// The state after the first event, which must be `Triggered` or `Resynced`.
    pub fn initial(first: &TaskEvent) -> Result<Self, InvalidTransition> {
        let blank = TaskState {
            status: TaskStatus::Stopped,
            attempt: 0,
            kind: TaskKind::Implement,
            requested_by: String::new(),
            instructions: Vec::new(),
            placeholder_ran: false,
            retries: 0,
            retry_reason: None,
            schedule: None,
            previous_failure: None,
            issue: None,
            pull: None,
            feedback_events: 0,
            part_of: None,
            waits_for: Vec::new(),
            route: Route::default(),
            plan: None,
            estimate: None,
            run: RunProgress::default(),
            summary: None,
        };
        match first {
            TaskEvent::Triggered { .. } | TaskEvent::Resynced { .. } => blank.apply(first),
            other => Err(InvalidTransition {
                status: "not yet created",
                event: other.name(),
            }),
        }
    }

    /// Whether `event` may follow this state. Checked before an event is stored, so the log
    /// never holds an impossible history.
    pub fn check(&self, event: &TaskEvent) -> Result<(), InvalidTransition> {
        let active = self.status.is_active();
        let current_attempt = |a: &u32| *a == self.attempt;
        let ok = match event {
            TaskEvent::Triggered { attempt, .. } => !active && *attempt == self.attempt + 1,
            TaskEvent::Steered { .. }
            | TaskEvent::FeedbackQueued { .. }
            | TaskEvent::Stopped { .. }
            | TaskEvent::IssueClosed { .. } => active,
            // Only the task's own pull request, and only once.
            TaskEvent::PullClosed { number, .. } => self
                .pull
                .as_ref()
                .is_some_and(|p| p.number == *number && !p.closed),
            // A task waiting for other sub-issues does not run until they are done.
            TaskEvent::Started { attempt } => {
                active && self.status != TaskStatus::Blocked && current_attempt(attempt)
            }
            TaskEvent::Unblocked => {
                self.status == TaskStatus::Blocked && !self.waits_for.is_empty()
            }
            // A dropped part can still be done later (reopened, then merged or completed).
            TaskEvent::PlanPartDone { issue } => {
                self.status == TaskStatus::Blocked
                    && self.plan.as_ref().is_some_and(|p| {
                        p.published && p.parts.iter().any(|i| i.issue == *issue && !i.done)
                    })
            }
            TaskEvent::PlanPartDropped { issue, .. } => {
                self.status == TaskStatus::Blocked
                    && self.plan.as_ref().is_some_and(|p| {
                        p.published && p.parts.iter().any(|i| i.issue == *issue && !i.settled())
                    })
            }
            TaskEvent::PlanPartReopened { issue } => {
                self.status == TaskStatus::Blocked
                    && self.plan.as_ref().is_some_and(|p| {
                        p.published
                            && p.parts
                                .iter()
                                .any(|i| i.issue == *issue && i.dropped.is_some())
                    })
            }
            TaskEvent::PlaceholderRan { attempt }
            | TaskEvent::Fetching { attempt, .. }
            | TaskEvent::WorkspaceReady { attempt, .. }
            | TaskEvent::AgentStarted { attempt, .. }
            | TaskEvent::AgentProgress { attempt, .. }
            | TaskEvent::AgentFinished { attempt, .. }
            | TaskEvent::AgentStalled { attempt, .. }
            | TaskEvent::AgentRelaunched { attempt, .. }
            | TaskEvent::AgentRetrying { attempt, .. }
            | TaskEvent::Waiting { attempt, .. }
            | TaskEvent::GatesRan { attempt, .. }
            | TaskEvent::Pushed { attempt, .. }
            | TaskEvent::PullOpened { attempt, .. }
            | TaskEvent::Routed { attempt, .. }
            | TaskEvent::Estimated { attempt, .. }
            | TaskEvent::PeerReviewStarted { attempt, .. }
            | TaskEvent::PeerReviewed { attempt, .. }
            | TaskEvent::PeerFixRound { attempt, .. }
            | TaskEvent::PeerReviewPosted { attempt, .. }
            | TaskEvent::PlanPartCreated { attempt, .. }
            | TaskEvent::PlanPublished { attempt, .. }
            | TaskEvent::FeedbackAnswered { attempt, .. } => {
                self.status == TaskStatus::InProgress && current_attempt(attempt)
            }
            TaskEvent::Finished {
                attempt, status, ..
            } => active && current_attempt(attempt) && !status.is_active(),
            TaskEvent::Resynced { .. } => true,
        };
        if ok {
            Ok(())
        } else {
            Err(InvalidTransition {
                status: self.status.as_str(),
                event: event.name(),
            })
        }
    }

    fn plan_part_mut(&mut self, issue: u64) -> Option<&mut PlanItem> {
        self.plan
            .as_mut()
            .and_then(|p| p.parts.iter_mut().find(|p| p.issue == issue))
    }

    /// Applies one event after checking it.
    pub fn apply(mut self, event: &TaskEvent) -> Result<Self, InvalidTransition> {
        if self.attempt > 0 {
            self.check(event)?;
        }
        match event {
            TaskEvent::Triggered {
                attempt,
                kind,
                by,
                instructions,
                issue,
                source,
            } => {
                self.previous_failure = match self.status {
                    TaskStatus::Failed | TaskStatus::NeedsReview => self.summary.clone(),
                    _ => None,
                };
                // A part of a plan stays one across attempts (a `retry` by a person), with the
                // planner's suggestion; only its first attempt waits for other parts.
                self.waits_for = Vec::new();
                self.schedule = match source {
                    TriggerSource::Schedule { name, .. } => Some(name.clone()),
                    _ => None,
                };
                if let TriggerSource::PlanPart {
                    parent,
                    waits_for,
                    agent,
                    complexity,
                    ..
                } = source
                {
                    self.part_of = Some(*parent);
                    self.waits_for = waits_for.clone();
                    self.route = Route {
                        agent: agent.clone(),
                        complexity: *complexity,
                        by: Some("plan".into()),
                        rationale: String::new(),
                        usage: RunUsage::default(),
                    };
                }
                self.status = if self.waits_for.is_empty() {
                    TaskStatus::New
                } else {
                    TaskStatus::Blocked
                };
                self.plan = None;
                self.estimate = None;
                self.issue = issue.clone();
                self.attempt = *attempt;
                self.kind = *kind;
                self.requested_by = by.clone();
                self.instructions = vec![(by.clone(), instructions.clone())];
                self.placeholder_ran = false;
                self.retries = 0;
                self.retry_reason = None;
                self.feedback_events = 0;
                self.run = RunProgress::default();
                self.summary = None;
            }
            TaskEvent::Steered { by, text } => self.instructions.push((by.clone(), text.clone())),
            TaskEvent::FeedbackQueued { by, text, .. } => {
                self.feedback_events += 1;
                if !text.trim().is_empty() {
                    self.instructions.push((by.clone(), text.clone()));
                }
            }
            TaskEvent::FeedbackAnswered {
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
            TaskEvent::Started { .. } => self.status = TaskStatus::InProgress,
            TaskEvent::PlaceholderRan { .. } => self.placeholder_ran = true,
            TaskEvent::Fetching {
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
            TaskEvent::WorkspaceReady {
                branch, base_sha, ..
            } => {
                // A restart after a crash prepares the workspace again from scratch.
                self.run = RunProgress {
                    branch: Some(branch.clone()),
                    base_sha: Some(base_sha.clone()),
                    ..RunProgress::default()
                };
            }
            TaskEvent::AgentStarted {
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
            TaskEvent::AgentProgress {
                usage,
                elapsed_secs,
                ..
            } => {
                let run = &mut self.run;
                run.usage = run.done_usage.plus(*usage);
                run.agent_secs = run.done_secs + elapsed_secs;
            }
            TaskEvent::AgentFinished {
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
            TaskEvent::AgentRetrying { reason, .. } => {
                self.retries += 1;
                self.retry_reason = Some(reason.clone());
            }
            TaskEvent::Waiting { reason, .. } => self.run.waiting = Some(reason.clone()),
            TaskEvent::AgentRelaunched { fix, .. } => self.run.relaunches.push(fix.clone()),
            TaskEvent::AgentStalled { idle_secs, .. } => {
                self.run.stalls += 1;
                self.run.stall_secs = *idle_secs;
            }
            TaskEvent::GatesRan { round, results, .. } => {
                self.run.gates_round = *round;
                self.run.gates = results.clone();
            }
            TaskEvent::Pushed { sha, .. } => self.run.pushed_sha = Some(sha.clone()),
            TaskEvent::PullOpened { number, url, .. } => {
                self.run.pr = Some((*number, url.clone()));
                self.pull = Some(TaskPull {
                    number: *number,
                    url: url.clone(),
                    closed: false,
                });
            }
            TaskEvent::Routed {
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
            TaskEvent::Estimated {
                estimate,
                complexity,
                ..
            } => self.estimate = Some((*estimate, *complexity)),
            TaskEvent::PeerReviewStarted { pass, reviewer, .. } => {
                self.run.peer.push(PeerProgress {
                    pass: *pass,
                    reviewer: reviewer.clone(),
                    running: true,
                    findings: FindingCounts::default(),
                    failed: None,
                    secs: 0,
                });
            }
            TaskEvent::PeerReviewed {
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
            TaskEvent::PeerFixRound { blockers, .. } => self.run.peer_fix = Some(*blockers),
            TaskEvent::PeerReviewPosted {
                review_id, inline, ..
            } => self.run.peer_posted = Some((*review_id, *inline)),
            TaskEvent::PlanPartCreated {
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
            TaskEvent::PlanPublished { overview, .. } => {
                let plan = self.plan.get_or_insert_with(PlanState::default);
                plan.published = true;
                plan.overview = overview.clone();
                self.run.agent_running = false;
                self.status = TaskStatus::Blocked;
            }
            TaskEvent::PlanPartDone { issue } => {
                if let Some(part) = self.plan_part_mut(*issue) {
                    part.done = true;
                    part.dropped = None;
                }
            }
            TaskEvent::PlanPartDropped { issue, reason } => {
                if let Some(part) = self.plan_part_mut(*issue) {
                    part.dropped = Some(reason.clone());
                }
            }
            TaskEvent::PlanPartReopened { issue } => {
                if let Some(part) = self.plan_part_mut(*issue) {
                    part.dropped = None;
                }
            }
            TaskEvent::Unblocked => self.status = TaskStatus::New,
            TaskEvent::Finished {
                status, summary, ..
            } => {
                self.run.agent_running = false;
                self.status = *status;
                self.summary = Some(summary.clone());
            }
            TaskEvent::IssueClosed { by } => {
                self.status = TaskStatus::Stopped;
                self.summary = Some(format!(
                    "⏹️ The issue was closed by @{by}, so the run was stopped."
                ));
            }
            TaskEvent::PullClosed { number, merged, by } => {
                self.run.agent_running = false;
                if let Some(pull) = &mut self.pull {
                    pull.closed = true;
                }
                if *merged {
                    self.status = TaskStatus::Done;
                    self.summary = Some(format!(
                        "✅ Pull request #{number} was merged by @{by}. bosun deleted its branch."
                    ));
                } else {
                    self.status = TaskStatus::Stopped;
                    self.summary = Some(format!(
                        "⏹️ Pull request #{number} was closed without merging by @{by}, so this \
                         task is cancelled. Its branch stays; `retry` starts over."
                    ));
                }
            }
            // A person cancelled the run: it failed to finish, for a reason they gave.
            TaskEvent::Stopped { by } => {
                self.run.agent_running = false;
                self.status = TaskStatus::Failed;
                self.summary = Some(format!(
                    "⏹️ Stopped by @{by}: the run was cancelled and its container stopped. \
                     `retry` starts it again."
                ));
            }
            TaskEvent::Resynced {
                status,
                attempt,
                plan,
                part_of,
                waits_for,
            } => {
                self.status = *status;
                self.attempt = *attempt;
                if !plan.is_empty() {
                    // Whether a part is done is asked of GitHub again by the next plan check.
                    self.kind = TaskKind::Plan;
                    self.plan = Some(PlanState {
                        parts: plan
                            .iter()
                            .map(|p| PlanItem {
                                key: p.key.clone(),
                                issue: p.issue,
                                title: p.title.clone(),
                                depends_on: p.depends_on.clone(),
                                done: false,
                                dropped: None,
                            })
                            .collect(),
                        published: true,
                        overview: String::new(),
                    });
                }
                if part_of.is_some() {
                    self.part_of = *part_of;
                    self.waits_for = waits_for.clone();
                }
            }
        }
        Ok(self)
    }
}

/// Replays a whole event log.
pub fn project(events: &[TaskEvent]) -> Result<TaskState, InvalidTransition> {
    let (first, rest) = events.split_first().ok_or(InvalidTransition {
        status: "not yet created",
        event: "nothing",
    })?;
    rest.iter()
        .try_fold(TaskState::initial(first)?, |state, ev| state.apply(ev))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triggered(attempt: u32) -> TaskEvent {
        TaskEvent::Triggered {
            attempt,
            kind: TaskKind::Implement,
            by: "alice".into(),
            source: TriggerSource::Label {
                name: "bosun".into(),
            },
            instructions: String::new(),
            issue: None,
        }
    }

    #[test]
    fn a_retry_remembers_how_the_previous_attempt_failed() {
        let failed = TaskEvent::Finished {
            attempt: 1,
            status: TaskStatus::Failed,
            summary: "the agent failed: no result".into(),
        };
        let state = project(&[
            triggered(1),
            TaskEvent::Started { attempt: 1 },
            failed,
            triggered(2),
        ])
        .unwrap();
        assert_eq!(
            state.previous_failure.as_deref(),
            Some("the agent failed: no result")
        );
        let done = TaskEvent::Finished {
            attempt: 2,
            status: TaskStatus::Done,
            summary: "ok".into(),
        };
        let events = [
            triggered(1),
            TaskEvent::Started { attempt: 1 },
            TaskEvent::Finished {
                attempt: 1,
                status: TaskStatus::Failed,
                summary: "x".into(),
            },
            triggered(2),
            TaskEvent::Started { attempt: 2 },
            done,
            triggered(3),
        ];
        assert_eq!(project(&events).unwrap().previous_failure, None);
    }

    #[test]
    fn the_pull_request_outlives_its_attempt_and_feedback_is_counted() {
        let opened = TaskEvent::PullOpened {
            attempt: 1,
            number: 7,
            url: "u".into(),
        };
        let done = |attempt| TaskEvent::Finished {
            attempt,
            status: TaskStatus::Done,
            summary: "ok".into(),
        };
        let queued = TaskEvent::FeedbackQueued {
            by: "alice".into(),
            pr: 7,
            text: "also tabs".into(),
        };
        let mut events = vec![
            triggered(1),
            TaskEvent::Started { attempt: 1 },
            opened,
            done(1),
            triggered(2),
            queued.clone(),
            TaskEvent::Started { attempt: 2 },
        ];
        let state = project(&events).unwrap();
        assert_eq!(state.pull.as_ref().map(|p| p.number), Some(7));
        assert_eq!(state.feedback_events, 1);
        assert_eq!(state.instructions.last().unwrap().1, "also tabs");
        events.push(TaskEvent::FeedbackAnswered {
            attempt: 2,
            pr: 7,
            commit: Some("abc".into()),
            replied: 2,
            resolved: 1,
            not_addressed: vec!["x".into()],
        });
        events.push(done(2));
        // Merging after the follow-up is still the task's own pull request.
        events.push(TaskEvent::PullClosed {
            number: 7,
            merged: true,
            by: "alice".into(),
        });
        let state = project(&events).unwrap();
        assert_eq!(state.status, TaskStatus::Done);
        assert!(state.pull.as_ref().unwrap().closed);
        assert_eq!(state.run.answered.as_ref().unwrap().resolved, 1);
        // Feedback cannot be queued on a finished task, nor a pull request close twice.
        assert!(state.check(&queued).is_err());
        assert!(state
            .check(&TaskEvent::PullClosed {
                number: 7,
                merged: true,
                by: "a".into()
            })
            .is_err());
    }

    #[test]
    fn a_plan_waits_for_its_parts_and_a_part_for_its_dependencies() {
        let mut planned = triggered(1);
        if let TaskEvent::Triggered { kind, .. } = &mut planned {
            *kind = TaskKind::Plan;
        }
        let part = |key: &str, issue: u64, depends_on: Vec<u64>| TaskEvent::PlanPartCreated {
            attempt: 1,
            key: key.into(),
            issue,
            title: format!("part {key}"),
            depends_on,
        };
        let mut events = vec![
            planned,
            TaskEvent::Started { attempt: 1 },
            part("a", 11, vec![]),
            part("b", 12, vec![11]),
        ];
        let state = project(&events).unwrap();
        // Parts cannot be marked done before the plan is published.
        assert!(state.check(&TaskEvent::PlanPartDone { issue: 11 }).is_err());
        events.push(TaskEvent::PlanPublished {
            attempt: 1,
            overview: "two steps".into(),
        });
        events.push(TaskEvent::PlanPartDone { issue: 11 });
        let state = project(&events).unwrap();
        assert_eq!(state.status, TaskStatus::Blocked);
        let plan = state.plan.as_ref().unwrap();
        assert!(plan.parts[0].done && !plan.parts[1].done && !plan.all_settled());
        assert!(state.check(&TaskEvent::PlanPartDone { issue: 11 }).is_err());
        assert!(state.check(&TaskEvent::PlanPartDone { issue: 99 }).is_err());
        assert!(
            state.check(&TaskEvent::Unblocked).is_err(),
            "the planned issue is not a part"
        );
        // A part closed as not planned is settled, not done; closing it again changes nothing,
        // and done later (reopened, then merged) it counts as done.
        let dropped = TaskEvent::PlanPartDropped {
            issue: 12,
            reason: "not_planned".into(),
        };
        let after = state.clone().apply(&dropped).unwrap();
        let part = &after.plan.as_ref().unwrap().parts[1];
        assert!(part.settled() && !part.done && after.plan.as_ref().unwrap().all_settled());
        assert!(after.check(&dropped).is_err());
        assert!(state
            .check(&TaskEvent::PlanPartDropped {
                issue: 11,
                reason: "not_planned".into()
            })
            .is_err());
        // Opened again, it is waited for again; it could not be reopened twice.
        let reopened = TaskEvent::PlanPartReopened { issue: 12 };
        let back = after.clone().apply(&reopened).unwrap();
        assert!(!back.plan.as_ref().unwrap().parts[1].settled());
        assert!(back.check(&reopened).is_err());
        let after = after.apply(&TaskEvent::PlanPartDone { issue: 12 }).unwrap();
        let part = &after.plan.as_ref().unwrap().parts[1];
        assert_eq!((part.done, part.dropped.as_deref()), (true, None));
        events.push(TaskEvent::PlanPartDone { issue: 12 });
        events.push(TaskEvent::Finished {
            attempt: 1,
            status: TaskStatus::Done,
            summary: "all done".into(),
        });
        assert!(project(&events).unwrap().plan.unwrap().all_settled());

        // The dependent part: blocked, it cannot start until unblocked.
        let child = TaskEvent::Triggered {
            attempt: 1,
            kind: TaskKind::Implement,
            by: "alice".into(),
            source: TriggerSource::PlanPart {
                parent: 10,
                part: "b".into(),
                waits_for: vec![11],
                agent: Some("codex".into()),
                complexity: Some(Complexity::Simple),
            },
            instructions: String::new(),
            issue: None,
        };
        let state = project(std::slice::from_ref(&child)).unwrap();
        assert_eq!(state.status, TaskStatus::Blocked);
        assert_eq!(state.part_of, Some(10));
        assert_eq!(state.route.agent.as_deref(), Some("codex"));
        assert!(state.check(&TaskEvent::Started { attempt: 1 }).is_err());
        let state = state.apply(&TaskEvent::Unblocked).unwrap();
        assert_eq!(state.status, TaskStatus::New);
        assert!(state.check(&TaskEvent::Started { attempt: 1 }).is_ok());
        assert!(state.check(&TaskEvent::Unblocked).is_err());
        // A retry by a person keeps it a part of the plan, and does not wait.
        let state = state
            .apply(&TaskEvent::Finished {
                attempt: 1,
                status: TaskStatus::Failed,
                summary: "x".into(),
            })
            .unwrap()
            .apply(&triggered(2))
            .unwrap();
        assert_eq!((state.part_of, state.status), (Some(10), TaskStatus::New));
        assert_eq!(state.route.agent.as_deref(), Some("codex"));
        // The source survives a JSON round trip.
        let json = serde_json::to_string(&child).unwrap();
        assert_eq!(serde_json::from_str::<TaskEvent>(&json).unwrap(), child);
    }

    #[test]
    fn a_full_life_projects_to_done() {
        let events = vec![
            triggered(1),
            TaskEvent::Steered {
                by: "bob".into(),
                text: "use the new API".into(),
            },
            TaskEvent::Started { attempt: 1 },
            TaskEvent::PlaceholderRan { attempt: 1 },
            TaskEvent::Finished {
                attempt: 1,
                status: TaskStatus::Done,
                summary: "ok".into(),
            },
        ];
        let state = project(&events).unwrap();
        assert_eq!(state.status, TaskStatus::Done);
        assert_eq!(state.instructions.len(), 2);
        assert!(state.placeholder_ran);
    }

    #[test]
    fn a_restart_after_a_crash_may_start_twice_but_finish_once() {
        let mut state = project(&[triggered(1), TaskEvent::Started { attempt: 1 }]).unwrap();
        state = state.apply(&TaskEvent::Started { attempt: 1 }).unwrap();
        let finished = TaskEvent::Finished {
            attempt: 1,
            status: TaskStatus::Done,
            summary: String::new(),
        };
        state = state.apply(&finished).unwrap();
        assert!(state.apply(&finished).is_err());
    }

    #[test]
    fn impossible_histories_are_rejected() {
        let active = project(&[triggered(1)]).unwrap();
        assert!(
            active.check(&triggered(2)).is_err(),
            "second trigger while active"
        );
        let stopped = active
            .apply(&TaskEvent::Stopped { by: "a".into() })
            .unwrap();
        assert_eq!(stopped.status, TaskStatus::Failed);
        assert!(stopped
            .summary
            .as_deref()
            .unwrap()
            .contains("Stopped by @a"));
        assert!(stopped.check(&TaskEvent::Started { attempt: 1 }).is_err());
        assert!(stopped.check(&triggered(1)).is_err(), "attempt must grow");
        assert!(stopped.check(&triggered(2)).is_ok());
        assert!(project(&[TaskEvent::Started { attempt: 1 }]).is_err());
    }

    #[test]
    fn labels_use_the_prefix_and_stopped_has_none() {
        assert_eq!(
            TaskStatus::NeedsReview.label("bosun").as_deref(),
            Some("bosun:needs-review")
        );
        assert_eq!(TaskStatus::Stopped.label("bosun"), None);
        assert_eq!(TaskStatus::all_labels("x").len(), 6);
        for s in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn events_round_trip_as_json() {
        let ev = triggered(3);
        let json = serde_json::to_string(&ev).unwrap();
        assert!(json.starts_with(r#"{"type":"triggered""#), "{json}");
        assert_eq!(serde_json::from_str::<TaskEvent>(&json).unwrap(), ev);
    }

    #[test]
    fn the_running_rounds_model_is_known_and_older_events_without_it_still_read() {
        let started = |model: Option<&str>| TaskEvent::AgentStarted {
            attempt: 1,
            round: 1,
            rounds: 3,
            agent: "claude".into(),
            sandbox: "docker".into(),
            model: model.map(str::to_string),
        };
        let old = r#"{"type":"agent_started","attempt":1,"round":1,"rounds":3,"agent":"claude","sandbox":"docker"}"#;
        assert_eq!(
            serde_json::from_str::<TaskEvent>(old).unwrap(),
            started(None)
        );
        let workspace = TaskEvent::WorkspaceReady {
            attempt: 1,
            branch: "bosun/1-x".into(),
            base_sha: "0".repeat(40),
        };
        let events = [
            triggered(0),
            TaskEvent::Started { attempt: 1 },
            workspace,
            started(Some("claude-sonnet-4-5")),
        ];
        let state = project(&events).unwrap();
        assert_eq!(state.run.model.as_deref(), Some("claude-sonnet-4-5"));
    }
}
