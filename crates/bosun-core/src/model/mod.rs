//! The task: its status, its append-only events, and the projection from events to state.
//! Pure code: the database stores events and a cached projection, GitHub shows the projection.
//!
//! - [`events`]: what is stored, lifecycle events apart from the running attempt's progress.
//! - [`state`]: the projection and the transition rules ([`TaskState::check`]).
//! - [`progress`]: what the progress events build up for the tracking comment.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::ids::CommentId;
use crate::repo_config::Complexity;

mod events;
mod progress;
mod state;

pub use events::{AppRemoval, ProgressEvent, ResyncedPart, TaskEvent};
pub use progress::{
    FeedbackAnswer, FetchShown, FindingCounts, GateSummary, PeerProgress, RunProgress,
};
pub use state::{
    opening, project, InvalidTransition, Opening, PlanItem, PlanState, Route, TaskPull, TaskState,
};

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

#[cfg(test)]
mod tests;
