//! The kinds of work in the queue, typed. The queue stores them as (kind, JSON payload); this
//! file is the only place that maps between the two.

use crate::command::Command;
use crate::events::Actor;
use crate::ids::{
    CommentId, DeliveryId, InstallationId, IssueNumber, RepoId, RepoRef, ReviewCommentId, ReviewId,
};
use crate::model::TaskId;
use serde::{Deserialize, Serialize};

/// A job as the queue stores it: its kind, its JSON payload, and how the queue holds it.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: &'static str,
    pub payload: String,
    pub serial_key: Option<String>,
    pub coalesce_key: Option<String>,
    pub max_attempts: u32,
    pub run_after: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Job {
    /// A possible trigger from a webhook: check who asked and what the repo allows, then act.
    Trigger(Box<TriggerRequest>),
    /// Do the work of one attempt of a task.
    Run { task: TaskId, attempt: u32 },
    /// Follow a change to a task's issue or pull request (closed, merged).
    Lifecycle(Box<LifecycleRequest>),
    /// Review feedback or an @mention on a pull request: follow up on bosun's own.
    Feedback(Box<FeedbackRequest>),
    /// Make the task's face on GitHub (tracking comment, status label) match the database.
    SyncFace { task: TaskId },
    /// Look at a planned issue's sub-issues: mark parts done, start the ones whose
    /// dependencies are done, close the planned issue when all are.
    PlanCheck { task: TaskId },
    /// A server job's tick: open its issue and start a task on it.
    Scheduled { name: String, tick: i64 },
    /// Read the repository's `.github/bosun.yml` again (a push may have changed it).
    RefreshConfig(Box<ConfigRefresh>),
    /// The App installed, repositories added to or removed from it, the App suspended or
    /// uninstalled.
    Installation(Box<InstallationRequest>),
    /// bosun gave up on someone's trigger or feedback after GitHub kept failing: say so on
    /// the issue or pull request, trying until GitHub answers again.
    GaveUp(Box<GaveUpNotice>),
    /// Someone edited an issue's body: remember who, and the body before, so a trigger can
    /// give an agent only text written by people who may start work (`BodyEdit`).
    BodyEdited(Box<BodyEdit>),
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Trigger(_) => "trigger",
            Job::Run { .. } => "run",
            Job::SyncFace { .. } => "sync_face",
            Job::Lifecycle(_) => "lifecycle",
            Job::Feedback(_) => "feedback",
            Job::PlanCheck { .. } => "plan_check",
            Job::Scheduled { .. } => "scheduled",
            Job::RefreshConfig(_) => "refresh_config",
            Job::Installation(_) => "installation",
            Job::GaveUp(_) => "gave_up",
            Job::BodyEdited(_) => "body_edited",
        }
    }

    /// How the queue should hold this job.
    pub fn to_new(&self, run_after: i64) -> NewJob {
        let (serial_key, coalesce_key, max_attempts) = match self {
            // Triggers on one issue are handled in arrival order, so "stop" after "do" means stop.
            Job::Trigger(t) => (Some(format!("issue:{}#{}", t.repo_id, t.issue)), None, 8),
            Job::Run { task, .. } => (Some(format!("run:{task}")), None, 5),
            // In line with the issue's triggers: a close after a "do" is handled after it.
            Job::Lifecycle(l) => (Some(format!("issue:{}#{}", l.repo_id, l.issue)), None, 8),
            // In line with the task's issue when the branch names it, else with the pull request.
            Job::Feedback(f) => (
                Some(match f.issue {
                    Some(issue) => format!("issue:{}#{issue}", f.repo_id),
                    None => format!("pull:{}#{}", f.repo_id, f.pr),
                }),
                None,
                8,
            ),
            // A queued check reads everything afresh when it runs: twins coalesce.
            Job::PlanCheck { task } => (
                Some(format!("plan:{task}")),
                Some(format!("plan:{task}")),
                8,
            ),
            // A queued read takes whatever the file holds when it runs: twins coalesce.
            Job::RefreshConfig(r) => (
                Some(format!("config:{}", r.repo_id)),
                Some(format!("config:{}", r.repo_id)),
                8,
            ),
            // One installation's changes in the order GitHub sent them.
            Job::Installation(i) => (Some(format!("installation:{}", i.installation)), None, 8),
            // One job's ticks one after the other, each once (its issue has a marker).
            Job::Scheduled { name, .. } => (Some(format!("schedule:{name}")), None, 8),
            // One notice per issue in the queue at a time; tried for hours (the backoff is
            // capped at minutes), since GitHub failing is why it exists.
            Job::GaveUp(n) => (None, Some(format!("gave_up:{}#{}", n.repo_id, n.issue)), 40),
            // In line with the issue's triggers, so a trigger after an edit sees it.
            Job::BodyEdited(e) => (Some(format!("issue:{}#{}", e.repo_id, e.issue)), None, 8),
            // A queued refresh already covers any later change: twins coalesce.
            Job::SyncFace { task } => (
                Some(format!("face:{task}")),
                Some(format!("face:{task}")),
                10,
            ),
        };
        NewJob {
            kind: self.kind(),
            payload: serde_json::to_string(self).expect("jobs serialize"),
            serial_key,
            coalesce_key,
            max_attempts,
            run_after,
        }
    }

    pub fn from_stored(payload: &str) -> Result<Job, serde_json::Error> {
        serde_json::from_str(payload)
    }
}

/// An edit of an issue's body, as GitHub's `issues.edited` reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BodyEdit {
    pub delivery: DeliveryId,
    pub repo_id: RepoId,
    pub issue: IssueNumber,
    pub editor: Actor,
    /// The body before the edit.
    pub old_body: String,
}

/// What the notice of a given-up job says, and where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GaveUpNotice {
    pub installation: Option<InstallationId>,
    pub repo: RepoRef,
    pub repo_id: RepoId,
    /// The issue or pull request the given-up job was about.
    pub issue: IssueNumber,
    /// The dead job, which `bosun task replay` runs again.
    pub job: i64,
    /// Who asked, and what: "the label `bosun`", "the mention", "the review".
    pub sender: String,
    pub what: String,
    /// The last error, short and free of secrets.
    pub error: String,
}

impl Job {
    /// The notice to leave when this job is given up on, for jobs that answer a person about
    /// an issue or pull request; `None` for the others (their own failure is shown elsewhere:
    /// a task's run ends as needing review).
    pub fn gave_up_notice(&self, job: i64, error: &str) -> Option<GaveUpNotice> {
        let short: String = error.chars().take(300).collect();
        let (installation, repo, repo_id, issue, sender, what) = match self {
            Job::Trigger(t) => (
                t.installation,
                &t.repo,
                t.repo_id,
                t.issue,
                t.sender.login.clone(),
                match &t.what {
                    TriggerWhat::Label { name } => format!("the label `{name}`"),
                    TriggerWhat::Commands { .. } => "the mention".to_string(),
                },
            ),
            Job::Feedback(f) => (
                f.installation,
                &f.repo,
                f.repo_id,
                IssueNumber(f.pr),
                f.sender.login.clone(),
                match &f.what {
                    FeedbackWhat::Review { .. } => "the review".to_string(),
                    FeedbackWhat::ReviewComment { .. } => "the review comment".to_string(),
                    FeedbackWhat::Commands { .. } => "the mention".to_string(),
                },
            ),
            Job::Lifecycle(l) => (
                l.installation,
                &l.repo,
                l.repo_id,
                l.issue,
                l.by.clone(),
                "the change of this issue or pull request".to_string(),
            ),
            _ => return None,
        };
        Some(GaveUpNotice {
            installation,
            repo: repo.clone(),
            repo_id,
            issue,
            job,
            sender,
            what,
            error: short,
        })
    }
}

/// A possible trigger, queued for the trigger job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerRequest {
    pub delivery: DeliveryId,
    pub installation: Option<InstallationId>,
    pub repo: RepoRef,
    pub repo_id: RepoId,
    pub issue: IssueNumber,
    pub issue_title: String,
    /// The body and author as they were when the trigger came: the prompt is built from
    /// this, so an edit after a maintainer's trigger cannot change what the agent is told.
    #[serde(default)]
    pub issue_body: String,
    #[serde(default)]
    pub issue_author: String,
    pub sender: Actor,
    pub what: TriggerWhat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TriggerWhat {
    /// A label was put on the issue; the job compares it with the repo's trigger label.
    Label { name: String },
    /// Commands from an @mention, in the issue body (`comment: None`) or in a comment.
    Commands {
        comment: Option<CommentId>,
        commands: Vec<Command>,
    },
}

/// A change to a task's issue or pull request that the task must follow. No permission check:
/// GitHub only lets people who may do so close issues and merge pull requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleRequest {
    pub delivery: DeliveryId,
    pub installation: Option<InstallationId>,
    pub repo: RepoRef,
    pub repo_id: RepoId,
    pub issue: IssueNumber,
    pub by: String,
    /// `by`'s account id and whether it is a bot, for the trust check of a closed issue.
    /// Missing in jobs queued before they were kept: a person, judged by login.
    #[serde(default)]
    pub by_id: u64,
    #[serde(default)]
    pub by_bot: bool,
    pub what: LifecycleWhat,
}

/// A push that may have changed the repository's `.github/bosun.yml` on its default branch:
/// read it again (its settings and its jobs) now rather than at its next event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigRefresh {
    pub delivery: DeliveryId,
    pub installation: InstallationId,
    pub repo: RepoRef,
    pub repo_id: RepoId,
}

/// A change to the App's installation, queued for the installation job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallationRequest {
    pub delivery: DeliveryId,
    pub installation: InstallationId,
    /// Who did it (the delivery's sender).
    pub by: String,
    pub change: InstallationChange,
}

/// A repository the App was installed on or removed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledRepo {
    pub repo: RepoRef,
    pub id: RepoId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InstallationChange {
    /// bosun may now work in these repositories: their labels are made.
    ReposAdded { repos: Vec<InstalledRepo> },
    /// bosun can no longer act in these repositories (`None`: any of the installation's).
    Removed {
        repos: Option<Vec<RepoId>>,
        why: crate::model::AppRemoval,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LifecycleWhat {
    IssueClosed,
    /// Matters only to a part of a plan: its plan looks again.
    IssueReopened,
    PullClosed {
        number: u64,
        merged: bool,
        branch: String,
    },
}

/// Feedback on a pull request: a review, an inline comment, or an @mention in its
/// conversation. The feedback job finds the task whose pull request it is and checks the
/// sender's permission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackRequest {
    pub delivery: DeliveryId,
    pub installation: Option<InstallationId>,
    pub repo: RepoRef,
    pub repo_id: RepoId,
    pub pr: u64,
    /// The task's issue, when the head branch is known from the payload (reviews carry it,
    /// issue comments do not: the job asks for the pull request then).
    pub issue: Option<IssueNumber>,
    pub sender: Actor,
    pub what: FeedbackWhat,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FeedbackWhat {
    Review {
        id: ReviewId,
        body: String,
    },
    ReviewComment {
        id: ReviewCommentId,
    },
    Commands {
        comment: CommentId,
        commands: Vec<Command>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_and_faces_coalesce() {
        let job = Job::SyncFace { task: TaskId(4) };
        let new = job.to_new(0);
        assert_eq!(new.coalesce_key.as_deref(), Some("face:4"));
        assert_eq!(Job::from_stored(&new.payload).unwrap(), job);
    }
}
