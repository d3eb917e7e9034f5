//! Where a task stands: the projection of its event log, and the rules that say which event
//! may follow which. Lifecycle events are applied here; progress events in `progress`.

use super::events::{ProgressEvent, TaskEvent};
use super::progress::RunProgress;
use super::{IssueSnapshot, RunUsage, TaskKind, TaskStatus, TriggerSource};
use crate::repo_config::Complexity;

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
            | TaskEvent::AppRemoved { .. }
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
            // A writer's approval of what the finished attempt held back: only after it ended,
            // only once for what it held.
            TaskEvent::Progress(ProgressEvent::HeldPushed { attempt, .. }) => {
                !active
                    && current_attempt(attempt)
                    && !self.run.held.is_empty()
                    && self.run.held_pushed_by.is_none()
            }
            // What the running attempt reports, and its plan's publication, belong to it alone.
            TaskEvent::Progress(event) => {
                self.status == TaskStatus::InProgress && current_attempt(&event.attempt())
            }
            TaskEvent::PlanPublished { attempt, .. } => {
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
            TaskEvent::Started { .. } => self.status = TaskStatus::InProgress,
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
            TaskEvent::AppRemoved { by, why } => {
                self.run.agent_running = false;
                self.status = TaskStatus::Stopped;
                self.summary = Some(format!(
                    "⏹️ @{by} {}, so the run was stopped: bosun can no longer act in this \
                     repository.",
                    why.deed()
                ));
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
            TaskEvent::Progress(event) => self.apply_progress(event),
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

/// What a trigger does to its issue's task, whose status and attempt are `existing` (`None`:
/// the issue has no task yet). One task per issue, many attempts: an active task holds the
/// issue (the trigger steers it instead), a finished one opens its next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// The task is active: no new attempt.
    Active,
    /// Open this attempt.
    Attempt(u32),
}

pub fn opening(existing: Option<(TaskStatus, u32)>) -> Opening {
    match existing {
        Some((status, _)) if status.is_active() => Opening::Active,
        Some((_, attempt)) => Opening::Attempt(attempt + 1),
        None => Opening::Attempt(1),
    }
}
