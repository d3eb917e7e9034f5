//! Attempts that answer review feedback on the task's pull request: which threads the agent is
//! shown (unresolved, opened by a trusted person, not already answered by bosun), feedback that
//! arrives while it works (read again before the next round, so it is handled once), and what is
//! published at the end: a commit added on the branch, a reply in each thread, the threads that
//! were changed resolved, and the tracking comment saying what was left and why.

use std::collections::{BTreeMap, HashSet};

use crate::github::reviews::ReviewThread;
use crate::run::workspace::publish::PushMode;
use bosun_core::ids::ReviewCommentId;
use bosun_core::model::{FeedbackAnswer, ProgressEvent, TaskPull};
use bosun_core::prompt::{PromptThread, ReviewInput};
use bosun_core::review_report::{self, Outcome, ThreadReport};

use super::*;

/// The review threads of one attempt, across its rounds.
pub(super) struct ReviewSession {
    pub pull: TaskPull,
    /// Threads shown to the agent, in order, with their keys (`T1`…).
    threads: Vec<(String, ReviewThread)>,
    /// Keys of the threads new (or with new comments) since the previous round.
    fresh: HashSet<String>,
    seen: HashSet<ReviewCommentId>,
    /// Feedback events of the attempt already read.
    heard: u32,
    /// The agent's latest report on each thread.
    reports: BTreeMap<String, ThreadReport>,
}

impl ReviewSession {
    /// What the next round's prompt shows.
    pub fn input(&mut self) -> ReviewInput {
        let threads = self
            .threads
            .iter()
            .map(|(key, t)| PromptThread {
                key: key.clone(),
                path: t.path.clone(),
                line: t.line,
                diff_hunk: t
                    .comments
                    .first()
                    .map(|c| c.diff_hunk.clone())
                    .unwrap_or_default(),
                comments: t
                    .comments
                    .iter()
                    .map(|c| PromptComment {
                        author: c.author.clone(),
                        body: c.body.clone(),
                    })
                    .collect(),
                new: self.fresh.contains(key),
            })
            .collect();
        ReviewInput {
            pr: self.pull.number,
            threads,
        }
    }

    /// Takes the report from the agent's final message; returns the summary before it.
    pub fn take_report(&mut self, final_message: &str) -> String {
        let (summary, reports) = review_report::parse(final_message);
        for report in reports {
            self.reports.insert(report.key.clone(), report);
        }
        summary
    }

    /// Adds threads not shown yet and updates those with new comments. True if any changed.
    fn merge(&mut self, threads: Vec<ReviewThread>) -> bool {
        self.fresh.clear();
        for thread in threads {
            let unseen = thread.comments.iter().any(|c| !self.seen.contains(&c.id));
            if !unseen {
                continue;
            }
            self.seen.extend(thread.comments.iter().map(|c| c.id));
            let key = match self.threads.iter_mut().find(|(_, t)| t.id == thread.id) {
                Some((key, shown)) => {
                    *shown = thread;
                    key.clone()
                }
                None => {
                    let key = format!("T{}", self.threads.len() + 1);
                    self.threads.push((key.clone(), thread));
                    key
                }
            };
            self.fresh.insert(key);
        }
        !self.fresh.is_empty()
    }
}

impl Pipeline<'_> {
    /// The task's open pull request and its branch, for an attempt that answers a review.
    pub(super) async fn review_session(&self) -> Result<ReviewSession, Step> {
        let state = self.state().await?;
        let Some(pull) = state.pull.clone().filter(|p| !p.closed) else {
            return Err(Step::Finish(TaskStatus::Failed, reply::no_pull_to_revise()));
        };
        let mut session = ReviewSession {
            pull,
            threads: Vec::new(),
            fresh: HashSet::new(),
            seen: HashSet::new(),
            heard: state.feedback_events,
            reports: BTreeMap::new(),
        };
        let threads = self.answerable_threads(session.pull.number).await?;
        session.merge(threads);
        session.fresh.clear();
        Ok(session)
    }

    /// Reads the threads again when feedback arrived since the last look. True when the agent
    /// has something new to answer.
    pub(super) async fn review_grew(&self, session: &mut ReviewSession) -> Result<bool, Step> {
        let events = self.state().await?.feedback_events;
        if events <= session.heard {
            return Ok(false);
        }
        session.heard = events;
        let threads = self.answerable_threads(session.pull.number).await?;
        Ok(session.merge(threads))
    }

    /// Unresolved threads opened by a trusted person whose last word is not bosun's, with
    /// only trusted people's comments in them (trust rule 2).
    async fn answerable_threads(&self, pr: u64) -> Result<Vec<ReviewThread>, Step> {
        let all = self
            .client
            .review_threads(&self.task.repo, pr)
            .await
            .map_err(JobError::from)?;
        self.answerable(all).await
    }

    /// The threads of `all` the agent should answer (see [`Self::answerable_threads`]).
    async fn answerable(&self, all: Vec<ReviewThread>) -> Result<Vec<ReviewThread>, Step> {
        let mut out = Vec::new();
        for mut thread in all.into_iter().filter(|t| !t.resolved) {
            if thread.comments.last().is_none_or(|c| self.is_me(&c.author)) {
                continue;
            }
            // The opening comment is the request; a thread an outsider opened is not one.
            let opener = thread.comments.first().map(|c| c.id);
            let mut kept = Vec::new();
            for c in std::mem::take(&mut thread.comments) {
                if !self.is_me(&c.author) && self.trusts(&c.author).await? {
                    kept.push(c);
                }
            }
            if kept.first().map(|c| c.id) != opener {
                continue;
            }
            thread.comments = kept;
            out.push(thread);
        }
        Ok(out)
    }

    /// GraphQL names the App's bot by its slug, REST as `<slug>[bot]`: both are bosun.
    fn is_me(&self, login: &str) -> bool {
        let bot = &self.ctx.identity.bot_login;
        login == bot || bot.strip_suffix("[bot]") == Some(login)
    }

    async fn trusts(&self, login: &str) -> Result<bool, Step> {
        if login.is_empty() {
            return Ok(false);
        }
        Ok(self
            .ctx
            .permissions
            .can_write(&self.client, &self.task.repo, self.task.repo_id, login)
            .await
            .map_err(JobError::from)?)
    }

    /// Commits and pushes the answer (if code changed), reports the gates on it, replies in
    /// every thread the agent reported on and resolves those it changed code for.
    pub(super) async fn publish_revision(
        &self,
        outbox: super::finish::Outbox<'_>,
        session: &ReviewSession,
        summary: &str,
        gates: &[GateResult],
    ) -> Result<(), Step> {
        let redactor = outbox.redactor;
        let commit = self.push_revision(outbox, summary, gates).await?;
        if gates.iter().any(|g| !g.ok) {
            return Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::review_gates_failed(session.pull.number, commit.is_some()),
            ));
        }
        let pr = session.pull.number;
        // Replies already posted by an earlier try of this attempt carry their marker.
        let now = self
            .client
            .review_threads(&self.task.repo, pr)
            .await
            .map_err(JobError::from)?;
        let mut answers = self
            .answer_threads(session, &now, commit.as_deref(), redactor)
            .await?;
        // Feedback that came after the last round is not lost: it is listed, and the next
        // mention (or review) answers it.
        let shown: HashSet<&str> = session.threads.iter().map(|(_, t)| t.id.as_str()).collect();
        for late in self.answerable(now.clone()).await? {
            if !shown.contains(late.id.as_str()) {
                answers.not_addressed.push(reply::not_addressed(
                    &late.path,
                    late.line,
                    "arrived after the last round; review again or mention bosun to answer it",
                ));
            }
        }
        if commit.is_some() {
            self.learn_review(&answers.learned, redactor).await?;
        }
        let answer = FeedbackAnswer {
            pr,
            commit: commit.clone(),
            replied: answers.replied,
            resolved: answers.resolved,
            not_addressed: answers.not_addressed.clone(),
        };
        self.record(
            TaskEvent::Progress(ProgressEvent::FeedbackAnswered {
                attempt: self.attempt,
                pr,
                commit,
                replied: answers.replied,
                resolved: answers.resolved,
                not_addressed: answers.not_addressed,
            }),
            true,
        )
        .await?;
        Err(Step::Finish(
            TaskStatus::Done,
            reply::feedback_answered(pr, &answer, summary),
        ))
    }

    /// The answer's commit on the pull request's branch (none when no file changed), pushed
    /// fast-forward only, with its gates reported on it.
    async fn push_revision(
        &self,
        outbox: super::finish::Outbox<'_>,
        summary: &str,
        gates: &[GateResult],
    ) -> Result<Option<String>, Step> {
        let (ws, redactor) = (outbox.ws, outbox.redactor);
        let snap = self.snapshot(ws, redactor).await?;
        if snap.is_empty() {
            return Ok(None);
        }
        let message = reply::commit_message(self.task.issue.0, outbox.title, summary);
        let sha = self
            .commit_and_push(ws, snap.tree, &message, outbox.token, PushMode::FastForward)
            .await?;
        self.report_gates(&sha, gates, redactor).await?;
        Ok(Some(sha))
    }

    /// Replies in every thread the agent reported on (once: a reply an earlier try posted is in
    /// `now` with its marker) and resolves those it changed code for.
    async fn answer_threads(
        &self,
        session: &ReviewSession,
        now: &[ReviewThread],
        commit: Option<&str>,
        redactor: &Redactor,
    ) -> Result<ThreadAnswers, Step> {
        let posted: HashSet<&str> = now
            .iter()
            .flat_map(|t| t.comments.iter())
            .filter(|c| self.is_me(&c.author))
            .map(|c| c.body.as_str())
            .collect();
        let link = commit.map(|sha| {
            let short = sha.get(..7).unwrap_or(sha).to_string();
            (short, format!("{}/commits/{sha}", session.pull.url))
        });
        let mut answers = ThreadAnswers::default();
        for (key, thread) in &session.threads {
            let Some(root) = thread.comments.first() else {
                continue;
            };
            let Some(report) = session.reports.get(key) else {
                answers.not_addressed.push(reply::not_addressed(
                    &thread.path,
                    thread.line,
                    "the agent did not report on this thread",
                ));
                continue;
            };
            if let Some(why) = left_as_it_was(report, commit.is_some(), redactor) {
                answers
                    .not_addressed
                    .push(reply::not_addressed(&thread.path, thread.line, &why));
            }
            let marker_key = format!("{}-{}-{}", self.task.id.0, self.attempt, root.id.0);
            let marker = reply::reply_marker(&marker_key);
            if !posted.iter().any(|b| b.contains(&marker)) {
                let body = reply::thread_reply(
                    report.outcome,
                    &redactor.redact(&report.reply),
                    link.as_ref().map(|(s, u)| (s.as_str(), u.as_str())),
                    &marker_key,
                );
                self.still_mine().await?;
                self.client
                    .reply_in_thread(
                        &self.task.repo,
                        session.pull.number,
                        root.id,
                        &body,
                        &marker,
                    )
                    .await
                    .map_err(JobError::from)?;
            }
            answers.replied += 1;
            if report.outcome == Outcome::Changed && commit.is_some() {
                self.client
                    .resolve_review_thread(&thread.id)
                    .await
                    .map_err(JobError::from)?;
                answers.resolved += 1;
                answers
                    .learned
                    .push((thread.path.clone(), root.body.clone()));
            }
        }
        Ok(answers)
    }
}

/// What the replies to a review's threads came to.
#[derive(Default)]
struct ThreadAnswers {
    replied: u32,
    resolved: u32,
    /// Threads left as they were, and why.
    not_addressed: Vec<String>,
    /// The threads' requests the agent changed code for: what the review taught.
    learned: Vec<(String, String)>,
}

/// Why a thread the agent reported on stays as it was: it declined (its reason), or it said
/// it changed something but no file changed.
fn left_as_it_was(report: &ThreadReport, committed: bool, redactor: &Redactor) -> Option<String> {
    match report.outcome {
        Outcome::Changed if !committed => {
            Some("the agent said it changed this, but no file changed".to_string())
        }
        Outcome::Declined => Some(redactor.redact(&report.reply)),
        _ => None,
    }
}
