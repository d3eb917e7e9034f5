//! The attempt's work and how it ends: the rounds, then what the attempt's mode publishes (a
//! change with its reviews, an answer to a review, or a plan).

use super::checkout::{Checkout, Sealed};
use super::choose::Chosen;
use super::rounds::{Rounds, Work};
use super::*;
use bosun_core::model::ProgressEvent;
use bosun_core::peer_verdict::{Finding, Severity};

/// What publishing a finished attempt needs: the checkout, the issue's title (the commit's and
/// the pull request's), the redactor, and the token that pushes.
pub(super) struct Outbox<'a> {
    pub ws: &'a Workspace,
    pub title: &'a str,
    pub redactor: &'a Redactor,
    pub token: Secret,
}

/// A change ready to publish: its files, the agent's summary (redacted), the last gates and,
/// when reviewers looked at it, their reviews.
pub(super) struct Change {
    pub snap: snapshot::Snapshot,
    pub summary: String,
    pub gates: Vec<GateResult>,
    pub review: Option<peer::PeerPass>,
}

impl Change {
    fn passed(&self) -> bool {
        self.gates.iter().all(|g| g.ok)
    }
}

impl Pipeline<'_> {
    /// The agent's rounds on the checkout, then what the attempt's mode publishes. A budget
    /// spent mid-round keeps the work so far on the branch.
    pub(super) async fn work(
        &self,
        chosen: &Chosen,
        gate_image: &str,
        checkout: Checkout,
        sealed: Sealed,
    ) -> Result<(), Step> {
        let Checkout {
            ws,
            mut mode,
            token,
        } = checkout;
        let mut input = self
            .prompt_input(&chosen.issue, &ws, &chosen.config, &chosen.resolved)
            .await?;
        let work = Work {
            resolved: &chosen.resolved,
            // A plan changes no code, so there is nothing for the gates to check.
            gates: match mode {
                Mode::Plan(_) => &[][..],
                _ => &chosen.config.gates[..],
            },
            gate_image,
            ws: &ws,
            agent_env: &sealed.agent_env,
            reviewers: &sealed.reviewers,
            redactor: &sealed.redactor,
        };
        let outbox = Outbox {
            ws: &ws,
            title: &chosen.issue.title,
            redactor: &sealed.redactor,
            token,
        };
        // A plan changes no code: it needs nothing installed.
        if !matches!(mode, Mode::Plan(_)) {
            self.set_up(&work, &chosen.config).await?;
        }
        let rounds = (1, chosen.resolved.rounds);
        let done = match self.rounds(&work, &mut input, &mut mode, rounds).await {
            Err(Step::BudgetSpent(why)) if matches!(mode, Mode::Implement) => {
                return Err(self.keep_partial(outbox, &why).await)
            }
            other => other?,
        };
        match &mode {
            Mode::Review(session) => {
                let (summary, _) = bosun_core::review_report::parse(&done.message);
                let summary = sealed.redactor.redact(&summary);
                return self
                    .publish_revision(outbox, session, &summary, &done.gates)
                    .await;
            }
            Mode::Plan(session) => {
                let prefix = &chosen.config.label_prefix;
                return self
                    .publish_plan(session, chosen.resolved.rounds, &sealed.redactor, prefix)
                    .await;
            }
            Mode::Implement => {}
        }
        let change = self
            .reviewed_change(&work, &mut input, &mut mode, done)
            .await?;
        self.publish(outbox, change, chosen.resolved.rounds).await
    }

    /// The implementer's change, reviewed by the peers when its gates passed; their blockers
    /// get the implementer one more round.
    async fn reviewed_change(
        &self,
        work: &Work<'_>,
        input: &mut PromptInput,
        mode: &mut Mode,
        done: Rounds,
    ) -> Result<Change, Step> {
        let mut change = Change {
            snap: self.snapshot(work.ws, work.redactor).await?,
            summary: work.redactor.redact(&done.message),
            gates: done.gates,
            review: None,
        };
        if work.reviewers.is_empty() || change.snap.is_empty() || !change.passed() {
            return Ok(change);
        }
        let first = self.peer_review(work, &change, input, 1).await?;
        let blockers = first.findings(Severity::Blocker);
        change.review = Some(first);
        if blockers.is_empty() {
            return Ok(change);
        }
        self.fix_round(change, &blockers, work, input, mode, done.last + 1)
            .await
    }

    /// One more implementer round with the reviewers' blockers, then the gates and the reviews
    /// again. A round that breaks down keeps the reviewed change as it was: its blockers then
    /// stop the task, but the work that passed the gates is not lost.
    async fn fix_round(
        &self,
        reviewed: Change,
        blockers: &[(String, Finding)],
        work: &Work<'_>,
        input: &mut PromptInput,
        mode: &mut Mode,
        round: u32,
    ) -> Result<Change, Step> {
        self.record(
            TaskEvent::Progress(ProgressEvent::PeerFixRound {
                attempt: self.attempt,
                blockers: blockers.len() as u32,
            }),
            true,
        )
        .await?;
        input.peer_findings = peer::for_the_fix(blockers);
        input.feedback.clear();
        input.new_instructions = false;
        let fixed = self.rounds(work, input, mode, (round, round)).await;
        input.peer_findings.clear();
        let done = match fixed {
            Ok(done) => done,
            Err(Step::Finish(_, why)) => {
                tracing::warn!(%why, "the fix round failed; publishing the reviewed change");
                return Ok(reviewed);
            }
            Err(other) => return Err(other),
        };
        let mut change = Change {
            snap: self.snapshot(work.ws, work.redactor).await?,
            summary: work.redactor.redact(&done.message),
            gates: done.gates,
            review: None,
        };
        if change.snap.is_empty() || !change.passed() {
            return Ok(change);
        }
        change.review = Some(self.peer_review(work, &change, input, 2).await?);
        Ok(change)
    }
}
