//! Publishing: the host-built commit, the push, check runs and the draft pull request.

use super::finish::{Change, Outbox};
use super::*;
use bosun_core::model::ProgressEvent;

impl Pipeline<'_> {
    /// Pushes the task branch. A refused token is replaced and the push tried once more
    /// here, since retrying the whole job would run the agent again.
    pub(super) async fn push(
        &self,
        ws: &Workspace,
        token: Secret,
        mode: PushMode,
    ) -> Result<(), Step> {
        let ws2 = ws.clone();
        match blocking(move || push(&ws2, Some(&token), mode)).await? {
            Ok(()) => return Ok(()),
            Err(e) if e.auth_refused() => {
                tracing::warn!(error = %e, "push refused the installation token; minting a new one");
                self.client.invalidate_token().await;
            }
            Err(e) => return Err(Step::Job(JobError::Retry(anyhow::anyhow!("{e}")))),
        }
        let token = self.client.access_token().await.map_err(JobError::from)?;
        let ws2 = ws.clone();
        blocking(move || push(&ws2, Some(&token), mode))
            .await?
            .map_err(|e| Step::Job(JobError::Retry(anyhow::anyhow!("{e}"))))
    }

    /// The checkout's files as a tree, checked: a secret in a file fails the attempt.
    pub(super) async fn snapshot(
        &self,
        ws: &Workspace,
        redactor: &Redactor,
    ) -> Result<snapshot::Snapshot, Step> {
        let ws2 = ws.clone();
        let red = redactor.clone();
        // Before the repository's config is read, its defaults: nothing slips through.
        let protected = self
            .protected
            .get()
            .cloned()
            .unwrap_or_else(bosun_core::repo_config::protected::default_protected);
        let snap = blocking(move || {
            snapshot::take_holding(&ws2, &red, &|path| {
                bosun_core::repo_config::protected::is_protected(&protected, path)
            })
        })
        .await?
        .map_err(|e| Step::Finish(TaskStatus::Failed, reply::workspace_failed(&e.to_string())))?;
        if !snap.secrets.is_empty() {
            return Err(Step::Finish(
                TaskStatus::Failed,
                reply::secrets_blocked(&snap.secrets),
            ));
        }
        Ok(snap)
    }

    /// Commits `tree` on the checkout's base, pushes it and records the push.
    pub(super) async fn commit_and_push(
        &self,
        ws: &Workspace,
        tree: git2::Oid,
        message: &str,
        token: Secret,
        mode: PushMode,
    ) -> Result<String, Step> {
        let author = Author::bot(&self.ctx.identity.bot_login, self.ctx.identity.bot_user_id);
        self.still_mine().await?;
        let (ws2, message) = (ws.clone(), message.to_string());
        let sha = blocking(move || commit(&ws2, tree, &message, &author))
            .await?
            .map_err(|e| Step::Job(JobError::Fail(anyhow::anyhow!("{e}"))))?;
        self.push(ws, token, mode).await?;
        self.record(
            TaskEvent::Progress(ProgressEvent::Pushed {
                attempt: self.attempt,
                branch: ws.branch.clone(),
                sha: sha.clone(),
            }),
            true,
        )
        .await?;
        Ok(sha)
    }

    /// Keeps the held-back changes as a commit on top of the pushed one, in the mirror under
    /// `refs/bosun/held/task-<id>` (never pushed until a writer approves), and says so.
    async fn hold_back(
        &self,
        ws: &Workspace,
        snap: &snapshot::Snapshot,
        pushed: &str,
    ) -> Result<(), Step> {
        let Some(full) = snap.held_tree else {
            return Ok(());
        };
        let author = Author::bot(&self.ctx.identity.bot_login, self.ctx.identity.bot_user_id);
        let paths: Vec<String> = snap.held.iter().map(|c| c.path.clone()).collect();
        let message = reply::held_commit_message(self.task.issue.0, &paths);
        let (ws2, pushed2, task) = (ws.clone(), pushed.to_string(), self.task.id);
        let sha = blocking(move || {
            crate::run::workspace::publish::hold(&ws2, task, full, &pushed2, &message, &author)
        })
        .await?
        .map_err(|e| Step::Job(JobError::Fail(anyhow::anyhow!("{e}"))))?;
        self.record(
            TaskEvent::Progress(ProgressEvent::HeldBack {
                attempt: self.attempt,
                paths,
                branch: ws.branch.clone(),
                sha,
            }),
            true,
        )
        .await
        .map(|_| ())
    }

    /// One completed check run per gate on the pushed commit.
    pub(super) async fn report_gates(
        &self,
        sha: &str,
        gates: &[GateResult],
        redactor: &Redactor,
    ) -> Result<(), Step> {
        self.still_mine().await?;
        for gate in gates {
            let text = redactor.redact(&gate.output_tail);
            let external_id = format!(
                "bosun-task-{}-attempt-{}-{}",
                self.task.id.0, self.attempt, gate.name
            );
            let (title, summary_text) = reply::check_run_texts(gate);
            self.client
                .report_check_run(
                    &self.task.repo,
                    &NewCheckRun {
                        name: &format!("bosun / {}", gate.name),
                        head_sha: sha,
                        success: gate.ok,
                        title: &title,
                        summary: &summary_text,
                        text: &reply::fenced(&text),
                        external_id: &external_id,
                    },
                )
                .await
                .map_err(JobError::from)?;
        }
        Ok(())
    }

    /// Commits and pushes the change; opens the draft pull request when its gates passed, and
    /// answers with the reviews when there were any.
    pub(super) async fn publish(
        &self,
        outbox: Outbox<'_>,
        change: Change,
        rounds: u32,
    ) -> Result<(), Step> {
        let Outbox {
            ws,
            title,
            redactor,
            token,
        } = outbox;
        let Change {
            snap,
            summary,
            gates,
            review,
        } = change;
        if snap.is_empty() {
            return Err(Step::Finish(
                TaskStatus::Done,
                reply::no_change(&summary, &snap.rejected),
            ));
        }
        let (ws2, tree) = (ws.clone(), snap.tree);
        if let Ok(Ok(d)) = blocking(move || crate::run::workspace::diff::diff(&ws2, tree, 0)).await
        {
            self.note_change(snap.changes.len() as u64, d.added + d.removed);
        }
        let message = reply::commit_message(self.task.issue.0, title, &summary);
        let sha = self
            .commit_and_push(ws, snap.tree, &message, token, PushMode::Replace)
            .await?;
        self.hold_back(ws, &snap, &sha).await?;
        self.report_gates(&sha, &gates, redactor).await?;

        if gates.iter().any(|g| !g.ok) {
            return Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::gates_failed(&ws.branch, rounds),
            ));
        }
        let state = self.state().await?;
        let body = reply::pull_request_body(
            self.task.issue.0,
            &summary,
            &gates,
            &state.run,
            &snap.rejected,
        );
        self.still_mine().await?;
        let pr = self
            .client
            .open_draft_pull(
                &self.task.repo,
                &NewPull {
                    title,
                    head: &ws.branch,
                    base: &ws.base_branch,
                    body: &body,
                },
            )
            .await
            .map_err(JobError::from)?;
        self.record(
            TaskEvent::Progress(ProgressEvent::PullOpened {
                attempt: self.attempt,
                number: pr.number,
                url: pr.html_url.clone(),
                ready: !pr.draft,
            }),
            true,
        )
        .await?;
        match review {
            Some(pass) => self.publish_peer(&pr, &sha, &pass).await,
            None => Err(Step::Finish(
                TaskStatus::Done,
                reply::pull_opened(pr.number, &pr.html_url, pr.draft),
            )),
        }
    }
}
