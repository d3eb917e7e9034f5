//! Learnings in the pipeline: the notes an attempt gathers as it goes (`bosun_core::learnings`), stored
//! when it ends, and the repository's most relevant earlier ones read for its prompt. Both are
//! best effort: a database error costs the notes, never the task.

use super::*;
use crate::db::LearnedFrom;
use bosun_core::estimate::similarity_query;
use bosun_core::peer_verdict::{Severity, Verdict};

/// How many learnings a prompt gets: a few lines the agent will read, not a manual.
const IN_PROMPT: usize = 5;

impl Pipeline<'_> {
    /// A round's gate results.
    pub(super) fn learn_gates(&self, results: &[GateResult], redactor: &Redactor) {
        crate::locks::lock(&self.learned).gates(results, redactor);
    }

    /// A reviewer's verdict (already redacted): its blockers and concerns.
    pub(super) fn learn_verdict(&self, verdict: &Verdict) {
        let mut learned = crate::locks::lock(&self.learned);
        for f in &verdict.findings {
            if f.severity != Severity::Nit {
                learned.peer_finding(f.severity.as_str(), f.file.as_deref(), &f.text);
            }
        }
    }

    /// The requests of a review the agent changed code for: the threads it changed (`(path,
    /// first comment)`), else the attempt's instructions (the review's own text or the
    /// mention's). Beside threads, a review's text is mostly a summary of them ("two small
    /// things"), not a request of its own.
    pub(super) async fn learn_review(
        &self,
        threads: &[(String, String)],
        redactor: &Redactor,
    ) -> Result<(), Step> {
        let instructions = match threads {
            [] => self.state().await?.instructions,
            _ => Vec::new(),
        };
        let mut learned = crate::locks::lock(&self.learned);
        for (path, text) in threads {
            learned.review_request(Some(path), text, redactor);
        }
        for (_, text) in &instructions {
            learned.review_request(None, text, redactor);
        }
        Ok(())
    }

    /// Stores what the attempt learned.
    pub(super) async fn write_learnings(&self) {
        let notes = crate::locks::lock(&self.learned).notes();
        if notes.is_empty() {
            return;
        }
        let issue = match self.state().await {
            Ok(state) => state.issue.unwrap_or_default(),
            Err(_) => return,
        };
        let from = LearnedFrom {
            repo_id: self.task.repo_id,
            repo: self.task.repo.clone(),
            installation: self.task.installation,
            task: self.task.id,
            issue: self.task.issue,
            title: issue.title,
            body: issue.body,
        };
        match self
            .ctx
            .db
            .record_learnings(&from, &notes, crate::db::now_ms())
            .await
        {
            Ok(()) => tracing::info!(notes = notes.len(), "learnings recorded"),
            Err(e) => tracing::warn!(error = %e, "could not record the run's learnings"),
        }
    }

    /// The repository's learnings most like this issue, for its prompt.
    pub(super) async fn learnings_for(&self, issue: &IssueSnapshot) -> Vec<String> {
        let query = similarity_query(&issue.title, &issue.body);
        match self
            .ctx
            .db
            .relevant_learnings(self.task.repo_id, query.as_deref(), IN_PROMPT)
            .await
        {
            Ok(found) => {
                tracing::info!(learnings = found.len(), "learnings added to the prompt");
                found.into_iter().map(|l| l.note).collect()
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the repository's learnings");
                Vec::new()
            }
        }
    }
}
