//! The attempt's statistics: its estimate from similar finished tasks before it runs, and its
//! own line in `run_stats` when it ends (what later estimates and `bosun stats` read).

use super::*;
use crate::db::RunStat;
use bosun_core::estimate::{estimate, similarity_query};
use bosun_core::model::ProgressEvent;
use bosun_core::repo_config::Complexity;

/// What the attempt ran with and changed.
#[derive(Debug, Clone)]
pub(super) struct RunFacts {
    pub agent: String,
    pub model: Option<String>,
    pub complexity: Complexity,
    pub files_changed: u64,
    pub lines_changed: u64,
}

impl Pipeline<'_> {
    pub(super) fn note_facts(&self, resolved: &Resolved, complexity: Complexity) {
        *crate::locks::lock(&self.facts) = Some(RunFacts {
            agent: resolved.agent_name.clone(),
            model: resolved.model.clone(),
            complexity,
            files_changed: 0,
            lines_changed: 0,
        });
    }

    pub(super) fn note_change(&self, files: u64, lines: u64) {
        if let Some(facts) = crate::locks::lock(&self.facts).as_mut() {
            facts.files_changed = files;
            facts.lines_changed = lines;
        }
    }

    /// Records the estimate for this attempt, when the repository has history for it. A
    /// database error only costs the estimate.
    pub(super) async fn estimate(
        &self,
        issue: &IssueSnapshot,
        complexity: Complexity,
    ) -> Result<(), Step> {
        let db = &self.ctx.db;
        let level = complexity.as_str();
        let similar = match similarity_query(&issue.title, &issue.body) {
            Some(query) => db.similar_runs(self.task.repo_id, level, &query).await,
            None => Ok(Vec::new()),
        };
        let all = db.complexity_runs(self.task.repo_id, level).await;
        let (similar, all) = match (similar, all) {
            (Ok(s), Ok(a)) => (s, a),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "could not read the history for an estimate");
                return Ok(());
            }
        };
        if let Some(estimate) = estimate(&similar, &all) {
            self.record(
                TaskEvent::Progress(ProgressEvent::Estimated {
                    attempt: self.attempt,
                    estimate,
                    complexity,
                }),
                true,
            )
            .await?;
        }
        Ok(())
    }

    /// Adds the finished attempt to the statistics. Best effort: losing a line costs a
    /// little estimate accuracy, not the task.
    pub(super) async fn record_stats(&self, status: TaskStatus, took: Duration) {
        let Some(facts) = crate::locks::lock(&self.facts).clone() else {
            return;
        };
        let state = match self.state().await {
            Ok(s) => s,
            Err(_) => return,
        };
        let issue = state.issue.clone().unwrap_or(IssueSnapshot {
            title: String::new(),
            body: String::new(),
            author: String::new(),
        });
        let stat = RunStat {
            task_id: self.task.id.0,
            attempt: self.attempt,
            repo_id: self.task.repo_id,
            kind: match state.kind {
                TaskKind::Implement => "implement",
                TaskKind::Plan => "plan",
                TaskKind::Revise => "revise",
            }
            .into(),
            agent: facts.agent,
            model: facts.model,
            complexity: facts.complexity.as_str().into(),
            outcome: status.as_str().into(),
            duration_secs: took.as_secs(),
            input_tokens: state.run.usage.input_tokens,
            output_tokens: state.run.usage.output_tokens,
            cost_micro_usd: state.run.usage.cost_micro_usd,
            files_changed: facts.files_changed,
            lines_changed: facts.lines_changed,
            finished_at: crate::db::now_ms(),
            title: issue.title,
            body: issue.body,
        };
        if let Err(e) = self.ctx.db.record_run_stat(&stat).await {
            tracing::warn!(error = %e, "could not record the run's statistics");
        }
    }
}
