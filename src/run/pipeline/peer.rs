//! Peer review: once the gates pass, other agents review the change (each in its own throw-away
//! copy of it, with the diff in its prompt) and return a verdict; bosun's policy decides what
//! happens (`bosun_core::peer_verdict`). Blockers get the implementer one more round; after the pull
//! request is open, the findings are posted on it as one review (inline where GitHub allows),
//! and the attempt ends by the decision.

use super::finish::Change;
use super::rounds::{Launch, Work};
use super::*;
use crate::github::reviews::InlineComment;
use crate::run::agent_round::RoundResult;
use crate::run::relaunch::Fix;
use crate::run::workspace::diff::{self, ChangeDiff};
use crate::run::workspace::snapshot::Snapshot;
use bosun_core::model::{FindingCounts, ProgressEvent};
use bosun_core::peer_verdict::{self, decide, Decision, Finding, Severity, Verdict};
use bosun_core::prompt::{PeerFinding, PeerReviewInput, MAX_DIFF_CHARS};

/// A reviewer whose verdict cannot be read is asked once more, with the reason.
const VERDICT_TRIES: u32 = 2;

/// What a reviewer looks at: the checkout, the change in it and its diff, and what the
/// implementer was asked.
struct UnderReview<'a> {
    ws: &'a Workspace,
    change: &'a Change,
    diff: &'a ChangeDiff,
    input: &'a PromptInput,
}

/// What one reviewer's runs in a pass have added up: how many were started, the corrections
/// to its command line found so far, and what they cost.
#[derive(Default)]
struct ReviewerTries {
    launches: u32,
    fixes: Vec<Fix>,
    usage: RunUsage,
}

/// A reviewer and what it runs with.
pub(super) struct Reviewer {
    pub resolved: Resolved,
    /// Its own model keys (and the run's canary), from the server's environment.
    pub env: Vec<(String, String)>,
}

/// The reviews of one version of the change.
pub(super) struct PeerPass {
    /// Redacted, in the reviewers' order.
    pub verdicts: Vec<(String, Verdict)>,
    /// Reviewers whose review cannot be used, and why (redacted).
    pub failures: Vec<(String, String)>,
    pub diff: ChangeDiff,
}

impl PeerPass {
    /// `None` when no reviewer returned a verdict.
    pub fn decision(&self) -> Option<Decision> {
        if self.verdicts.is_empty() {
            return None;
        }
        let verdicts: Vec<Verdict> = self.verdicts.iter().map(|(_, v)| v.clone()).collect();
        Some(decide(&verdicts))
    }

    /// Every finding of `severity`, with its reviewer.
    pub fn findings(&self, severity: Severity) -> Vec<(String, Finding)> {
        self.verdicts
            .iter()
            .flat_map(|(r, v)| v.findings.iter().map(move |f| (r.clone(), f.clone())))
            .filter(|(_, f)| f.severity == severity)
            .collect()
    }
}

/// Splits the findings into inline comments (on a line of the diff) and the rest.
pub(super) fn place(pass: &PeerPass) -> (Vec<InlineComment>, Vec<(String, Finding)>) {
    let mut inline = Vec::new();
    let mut elsewhere = Vec::new();
    for (reviewer, verdict) in &pass.verdicts {
        for f in &verdict.findings {
            match (&f.file, f.line) {
                (Some(path), Some(line)) if pass.diff.can_comment(path, line) => {
                    inline.push(InlineComment {
                        path: path.clone(),
                        line,
                        body: reply::finding_comment(f, reviewer),
                    })
                }
                _ => elsewhere.push((reviewer.clone(), f.clone())),
            }
        }
    }
    (inline, elsewhere)
}

/// The blockers as the implementer's next prompt lists them.
pub(super) fn for_the_fix(blockers: &[(String, Finding)]) -> Vec<PeerFinding> {
    blockers
        .iter()
        .map(|(_, f)| PeerFinding {
            severity: f.severity.as_str().to_string(),
            file: f.file.clone(),
            line: f.line,
            text: f.text.clone(),
        })
        .collect()
}

impl Pipeline<'_> {
    /// Every reviewer reviews the change, one after the other.
    pub(super) async fn peer_review(
        &self,
        work: &Work<'_>,
        change: &Change,
        input: &PromptInput,
        pass: u32,
    ) -> Result<PeerPass, Step> {
        let (ws2, tree) = (work.ws.clone(), change.snap.tree);
        // A little over the prompt's cap, so the prompt cuts it and says so.
        let diff = blocking(move || diff::diff(&ws2, tree, MAX_DIFF_CHARS + 1))
            .await?
            .map_err(|e| Step::Job(JobError::Fail(anyhow::anyhow!("{e}"))))?;
        let mut out = PeerPass {
            verdicts: Vec::new(),
            failures: Vec::new(),
            diff,
        };
        for (index, reviewer) in work.reviewers.iter().enumerate() {
            let name = reviewer.resolved.agent_name.clone();
            self.record(
                TaskEvent::Progress(ProgressEvent::PeerReviewStarted {
                    attempt: self.attempt,
                    pass,
                    reviewer: name.clone(),
                }),
                true,
            )
            .await?;
            let started = Instant::now();
            let under = UnderReview {
                ws: work.ws,
                change,
                diff: &out.diff,
                input,
            };
            let (result, usage) = self.one_review(reviewer, &under, (pass, index)).await?;
            let (findings, failed) = match result {
                Ok(verdict) => {
                    let verdict = redacted(verdict, work.redactor);
                    self.learn_verdict(&verdict);
                    let counts = reply::counts_of(&verdict);
                    out.verdicts.push((name.clone(), verdict));
                    (counts, None)
                }
                Err(why) => {
                    let why = work.redactor.redact(&why);
                    tracing::warn!(reviewer = %name, %why, "a reviewer's review cannot be used");
                    out.failures.push((name.clone(), why.clone()));
                    (FindingCounts::default(), Some(why))
                }
            };
            self.record(
                TaskEvent::Progress(ProgressEvent::PeerReviewed {
                    attempt: self.attempt,
                    pass,
                    reviewer: name,
                    findings,
                    failed,
                    usage,
                    elapsed_secs: started.elapsed().as_secs(),
                }),
                true,
            )
            .await?;
        }
        Ok(out)
    }

    /// One reviewer's review: its verdict, or why there is none, and what it cost. A verdict
    /// that cannot be read is asked for once more, with the reason.
    async fn one_review(
        &self,
        reviewer: &Reviewer,
        under: &UnderReview<'_>,
        (pass, index): (u32, usize),
    ) -> Result<(Result<Verdict, String>, RunUsage), Step> {
        let mut tries = ReviewerTries::default();
        let mut problem = None;
        let mut verdict = Err("the reviewer did not run".to_string());
        for _ in 0..VERDICT_TRIES {
            let prompt = review_prompt(under, problem.clone())?;
            let result = self
                .reviewer_runs(reviewer, under, &prompt, (pass, index), &mut tries)
                .await?;
            // A run stopped for its silence was cancelled by its own round, not stopped by
            // anyone: only the task's token says the task was stopped.
            if self.cancel.is_cancelled() || (result.exit.cancelled && !result.stalled) {
                return Err(Step::Stopped);
            }
            verdict = verdict_of(&reviewer.resolved, &result);
            match &verdict {
                // Only an unreadable verdict is worth asking again: a CLI that failed or hung
                // would most likely do it again.
                Err(why) if result.outcome.ok && !result.stalled && !result.exit.timed_out => {
                    problem = Some(why.clone());
                }
                _ => break,
            }
        }
        Ok((verdict, tries.usage))
    }

    /// Runs the reviewer on a fresh copy of the change until it settles: a CLI that refused
    /// its command line in a known way is started again with the fix.
    async fn reviewer_runs(
        &self,
        reviewer: &Reviewer,
        under: &UnderReview<'_>,
        prompt: &str,
        (pass, index): (u32, usize),
        tries: &mut ReviewerTries,
    ) -> Result<RoundResult, Step> {
        let resolved = &reviewer.resolved;
        loop {
            tries.launches += 1;
            let copy_name = format!(
                "{}-review-{pass}-{index}-{}",
                self.checkout_name(),
                tries.launches
            );
            let (copy, dir) = self
                .review_copy(under.ws, &under.change.snap, copy_name)
                .await?;
            let run = (pass, index, tries.launches);
            let result = self
                .reviewer_once(reviewer, &dir, prompt, run, &tries.fixes)
                .await;
            copy.now().await;
            let result = result?;
            let spent = self
                .metered_usage()
                .unwrap_or_else(|| super::rounds::run_usage(result.outcome.usage));
            tries.usage = tries.usage.plus(spent);
            if let Some(error) = result
                .outcome
                .error
                .as_deref()
                .filter(|e| super::metering::budget_spent(e))
            {
                return Err(Step::BudgetSpent(error.to_string()));
            }
            if self.cancel.is_cancelled() {
                return Ok(result);
            }
            let Some(fix) = self.relaunch_fix(resolved, &result, &tries.fixes) else {
                return Ok(result);
            };
            self.record(
                TaskEvent::Progress(ProgressEvent::AgentRelaunched {
                    attempt: self.attempt,
                    round: pass,
                    fix: format!("reviewer `{}`: {}", resolved.agent_name, fix.describe()),
                }),
                true,
            )
            .await?;
            tries.fixes.push(fix);
        }
    }

    /// A fresh copy of the change for one run of a reviewer, handed to the sandbox user: what
    /// an earlier run wrote in its copy must not be what the next one reviews.
    async fn review_copy(
        &self,
        ws: &Workspace,
        snap: &Snapshot,
        name: String,
    ) -> Result<(RemoveOnDrop, std::path::PathBuf), Step> {
        let copy = RemoveOnDrop(self.runner.workspaces.clone(), Some(name.clone()));
        let (workspaces, ws2, tree) = (self.runner.workspaces.clone(), ws.clone(), snap.tree);
        let dir = blocking(move || workspaces.copy_of(&ws2, tree, &name))
            .await?
            .map_err(|e| Step::Job(JobError::Fail(anyhow::anyhow!("{e}"))))?;
        let (user, dir2) = (self.runner.user, dir.clone());
        blocking(move || give_to(&dir2, user)).await?.map_err(|e| {
            Step::Job(JobError::Fail(anyhow::anyhow!(
                "handing the review copy to the sandbox user: {e}"
            )))
        })?;
        Ok((copy, dir))
    }

    /// One run of a reviewer; `launch` counts its runs in this pass (each has its own log).
    async fn reviewer_once(
        &self,
        reviewer: &Reviewer,
        dir: &std::path::Path,
        prompt: &str,
        (pass, index, launch): (u32, usize, u32),
        fixes: &[Fix],
    ) -> Result<RoundResult, Step> {
        let resolved = &reviewer.resolved;
        let launch = Launch {
            resolved,
            workspace: dir,
            round: pass,
            run_dir: self.run_dir(&format!("review-{pass}-{index}-run-{launch}")),
            prompt,
            command: self.agent_command(resolved, fixes),
            env: &reviewer.env,
            mounts: Vec::new(),
        };
        self.sandboxed_round(launch, |_, _| {}).await
    }

    /// After the pull request opened: the review on it, the question on the issue when most
    /// reviewers share concerns, and how the attempt ends.
    pub(super) async fn publish_peer(
        &self,
        pr: &crate::github::pulls::PullRequest,
        sha: &str,
        pass: &PeerPass,
    ) -> Result<(), Step> {
        let Some(decision) = pass.decision() else {
            return Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::peer_unreviewed(pr.number, &pr.html_url, &pass.failures),
            ));
        };
        let findings = pass.verdicts.iter().any(|(_, v)| !v.findings.is_empty());
        if findings || !pass.failures.is_empty() {
            let (inline, elsewhere) = place(pass);
            let marker = format!(
                "<!-- bosun:peer-review {}:{} -->",
                self.task.id.0, self.attempt
            );
            let body = reply::peer_review_body(
                &pass.verdicts,
                &elsewhere,
                &pass.failures,
                &decision,
                &marker,
            );
            self.still_mine().await?;
            let review = self
                .client
                .create_review(&self.task.repo, pr.number, sha, &body, &inline, &marker)
                .await
                .map_err(JobError::from)?;
            self.record(
                TaskEvent::Progress(ProgressEvent::PeerReviewPosted {
                    attempt: self.attempt,
                    pr: pr.number,
                    review_id: review.0,
                    inline: inline.len() as u32,
                }),
                true,
            )
            .await?;
        }
        match decision {
            Decision::Continue => Err(Step::Finish(
                TaskStatus::Done,
                reply::pull_opened(pr.number, &pr.html_url, pr.draft),
            )),
            Decision::Note => Err(Step::Finish(
                TaskStatus::Done,
                reply::peer_noted(pr.number, &pr.html_url, pr.draft),
            )),
            Decision::Escalate => Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::peer_escalated(pr.number, &pr.html_url, &pass.findings(Severity::Blocker)),
            )),
            Decision::Ask => {
                let state = self.state().await?;
                let concerns = pass.findings(Severity::Concern);
                let key = format!("peer-question {}:{}", self.task.id.0, self.attempt);
                let marker = reply::reply_marker(&key);
                let body = format!(
                    "{}\n\n{marker}",
                    reply::peer_question(&state.requested_by, pr.number, &concerns)
                );
                self.still_mine().await?;
                self.client
                    .create_comment(&self.task.repo, self.task.issue, &body, &marker)
                    .await
                    .map_err(JobError::from)?;
                Err(Step::Finish(
                    TaskStatus::NeedsReview,
                    reply::peer_asked(pr.number, &pr.html_url, &concerns),
                ))
            }
        }
    }
}

/// The reviewer's prompt: the implementer's, with the diff and the implementer's summary to
/// review, and why the last verdict could not be read, if it could not.
fn review_prompt(under: &UnderReview<'_>, problem: Option<String>) -> Result<String, Step> {
    let mut prompt_input = under.input.clone();
    prompt_input.round = 1;
    prompt_input.max_rounds = 1;
    prompt_input.feedback.clear();
    prompt_input.new_instructions = false;
    prompt_input.review = None;
    prompt_input.plan = None;
    prompt_input.peer_findings.clear();
    prompt_input.peer_review = Some(PeerReviewInput {
        diff: under.diff.patch.clone(),
        summary: under.change.summary.clone(),
        problem,
    });
    render_prompt(&prompt_input).map_err(|e| Step::Job(JobError::Fail(anyhow::anyhow!("{e}"))))
}

/// The reviewer's verdict, or why its run gave none.
fn verdict_of(resolved: &Resolved, result: &RoundResult) -> Result<Verdict, String> {
    if result.stalled {
        Err(format!(
            "it printed nothing for {} and was stopped",
            reply::human_duration(resolved.idle.as_secs())
        ))
    } else if result.exit.timed_out {
        Err(format!(
            "it did not finish within {}",
            reply::human_duration(resolved.agent_timeout.as_secs())
        ))
    } else if !result.outcome.ok {
        Err(result
            .outcome
            .error
            .clone()
            .unwrap_or_else(|| "the reviewer failed".into()))
    } else {
        peer_verdict::parse(&result.outcome.final_message)
    }
}

fn redacted(verdict: Verdict, redactor: &Redactor) -> Verdict {
    Verdict {
        summary: redactor.redact(&verdict.summary),
        findings: verdict
            .findings
            .into_iter()
            .map(|f| Finding {
                text: redactor.redact(&f.text),
                ..f
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(file: Option<&str>, line: Option<u64>) -> Finding {
        Finding {
            severity: Severity::Concern,
            file: file.map(str::to_string),
            line,
            text: "x".into(),
        }
    }

    #[test]
    fn only_findings_on_a_line_of_the_diff_go_inline() {
        let mut change = ChangeDiff::default();
        change
            .commentable
            .insert("a.txt".into(), [1, 2, 3].into_iter().collect());
        let pass = PeerPass {
            verdicts: vec![(
                "codex".into(),
                Verdict {
                    summary: String::new(),
                    findings: vec![
                        finding(Some("a.txt"), Some(2)),
                        finding(Some("a.txt"), Some(9)),
                        finding(Some("b.txt"), Some(1)),
                        finding(Some("a.txt"), None),
                        finding(None, None),
                    ],
                },
            )],
            failures: Vec::new(),
            diff: change,
        };
        let (inline, elsewhere) = place(&pass);
        assert_eq!(inline.len(), 1);
        assert_eq!((inline[0].path.as_str(), inline[0].line), ("a.txt", 2));
        assert!(inline[0].body.contains("review by `codex`"));
        assert_eq!(elsewhere.len(), 4);
        assert_eq!(pass.decision(), Some(Decision::Ask));
        assert_eq!(pass.findings(Severity::Concern).len(), 5);
        assert!(pass.findings(Severity::Blocker).is_empty());
    }

    #[test]
    fn no_verdict_is_no_decision() {
        let pass = PeerPass {
            verdicts: Vec::new(),
            failures: vec![("codex".into(), "it hung".into())],
            diff: ChangeDiff::default(),
        };
        assert_eq!(pass.decision(), None);
    }
}
