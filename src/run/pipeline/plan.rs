//! Attempts that plan: the planner's breakdown is checked (a refused plan goes back to the
//! planner with the reason, within the rounds), then each part becomes a native sub-issue with
//! its own task. Parts that depend on others wait (`blocked`); the planned issue waits for all
//! of them (see `engine::handlers::plan`).

use crate::db::{NewAttempt, StartOutcome};
use crate::github::issues::NewIssue;
use crate::github::types::IssueInfo;
use bosun_core::ids::IssueNumber;
use bosun_core::model::{ProgressEvent, TaskKind, TriggerSource};
use bosun_core::plan_report::{self, Plan, PlanPart, PlanRules};
use bosun_core::prompt::PlanInput;

use super::*;

/// At most this many sub-issues per plan: more is a sign the issue should be split by hand.
const MAX_PLAN_PARTS: usize = 10;

/// The planner's output across rounds: the plan once one passed the checks, or why the last
/// one did not.
pub(super) struct PlanSession {
    rules: PlanRules,
    plan: Option<Plan>,
    problem: Option<String>,
}

impl PlanSession {
    pub fn new(agents: Vec<String>) -> Self {
        PlanSession {
            rules: PlanRules {
                max_parts: MAX_PLAN_PARTS,
                agents,
            },
            plan: None,
            problem: None,
        }
    }

    pub fn input(&self) -> PlanInput {
        PlanInput {
            max_parts: self.rules.max_parts,
            agents: self.rules.agents.clone(),
            problem: self.problem.clone(),
        }
    }

    /// Reads the plan from the planner's final message.
    pub fn take(&mut self, final_message: &str) {
        match plan_report::parse(final_message, &self.rules) {
            Ok(plan) => {
                self.plan = Some(plan);
                self.problem = None;
            }
            Err(why) => {
                self.plan = None;
                self.problem = Some(why);
            }
        }
    }

    /// Why the latest plan was refused, if it was.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }
}

impl Pipeline<'_> {
    /// Opens one sub-issue per part (or finds the ones an earlier try opened), starts a task
    /// on each, and leaves the planned issue waiting for them.
    pub(super) async fn publish_plan(
        &self,
        session: &PlanSession,
        rounds: u32,
        redactor: &Redactor,
        prefix: &str,
    ) -> Result<(), Step> {
        let Some(plan) = &session.plan else {
            let why = session.problem().unwrap_or("the planner returned no plan");
            return Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::plan_refused(&redactor.redact(why), rounds),
            ));
        };
        let opened = self.open_parts(plan, redactor, prefix).await?;
        self.start_parts(plan, &opened, prefix).await?;
        self.record(
            TaskEvent::PlanPublished {
                attempt: self.attempt,
                overview: redactor.redact(&plan.summary),
            },
            true,
        )
        .await?;
        Ok(())
    }

    /// The sub-issues of the plan's parts, in order: those an earlier try opened are found in
    /// the task's events, the others opened now (and returned).
    async fn open_parts(
        &self,
        plan: &Plan,
        redactor: &Redactor,
        prefix: &str,
    ) -> Result<Vec<IssueInfo>, Step> {
        let state = self.state().await?;
        let mut issues: Vec<(String, u64)> = Vec::new();
        let mut opened: Vec<IssueInfo> = Vec::new();
        for part in &plan.parts {
            let depends_on: Vec<u64> = part
                .depends_on
                .iter()
                .filter_map(|d| issues.iter().find(|(k, _)| k == d).map(|(_, n)| *n))
                .collect();
            let known = state
                .plan
                .as_ref()
                .and_then(|p| p.parts.iter().find(|i| i.key == part.key));
            let number = match known {
                Some(item) => item.issue,
                None => {
                    let created = self.open_part(part, &depends_on, redactor, prefix).await?;
                    let number = created.number.0;
                    opened.push(created);
                    number
                }
            };
            issues.push((part.key.clone(), number));
        }
        Ok(opened)
    }

    /// Opens one part's sub-issue (with bosun's marker, so a lost answer is found again),
    /// links it to the planned issue, and records it.
    async fn open_part(
        &self,
        part: &PlanPart,
        depends_on: &[u64],
        redactor: &Redactor,
        prefix: &str,
    ) -> Result<IssueInfo, Step> {
        let repo = &self.task.repo;
        let marker = reply::part_marker(self.task.id, &part.key);
        let title = redactor.redact(&part.title);
        let body = reply::sub_issue_body(
            self.task.issue.0,
            &redactor.redact(&part.body),
            depends_on,
            &marker,
        );
        let labels = reply::part_labels(
            prefix,
            part.agent.as_deref(),
            part.complexity.map(|c| c.as_str()),
        );
        self.still_mine().await?;
        let new = NewIssue {
            title: &title,
            body: &body,
            labels: &labels,
        };
        let created = self
            .client
            .create_issue(repo, &new, &marker)
            .await
            .map_err(JobError::from)?;
        self.client
            .add_sub_issue(repo, self.task.issue, &created)
            .await
            .map_err(JobError::from)?;
        self.record(
            TaskEvent::Progress(ProgressEvent::PlanPartCreated {
                attempt: self.attempt,
                key: part.key.clone(),
                issue: created.number.0,
                title: created.title.clone(),
                depends_on: depends_on.to_vec(),
            }),
            true,
        )
        .await?;
        Ok(created)
    }

    /// Each part's task starts once every sub-issue exists (an earlier try may have opened
    /// some and started their tasks already).
    async fn start_parts(
        &self,
        plan: &Plan,
        opened: &[IssueInfo],
        prefix: &str,
    ) -> Result<(), Step> {
        let state = self.state().await?;
        for item in state.plan.iter().flat_map(|p| &p.parts) {
            if self
                .ctx
                .db
                .task_for_issue(self.task.repo_id, IssueNumber(item.issue))
                .await
                .map_err(JobError::from)?
                .is_some()
            {
                continue;
            }
            let issue = match opened.iter().find(|i| i.number.0 == item.issue) {
                Some(issue) => issue.clone(),
                None => self
                    .client
                    .get_issue(&self.task.repo, IssueNumber(item.issue))
                    .await
                    .map_err(JobError::from)?,
            };
            if let Some(part) = plan.parts.iter().find(|p| p.key == item.key) {
                self.start_part(&issue, &item.depends_on, part, prefix, &state.requested_by)
                    .await?;
            }
        }
        Ok(())
    }

    /// Starts the task of one sub-issue, on behalf of whoever asked for the plan. It waits
    /// (blocked) while the parts it depends on are not done.
    async fn start_part(
        &self,
        issue: &crate::github::types::IssueInfo,
        waits_for: &[u64],
        part: &plan_report::PlanPart,
        prefix: &str,
        requested_by: &str,
    ) -> Result<(), Step> {
        let new = NewAttempt {
            repo_id: self.task.repo_id,
            repo: self.task.repo.clone(),
            installation: self.task.installation,
            issue: issue.number,
            label_prefix: prefix.to_string(),
            event: TaskEvent::Triggered {
                attempt: 0,
                kind: TaskKind::Implement,
                by: requested_by.to_string(),
                source: TriggerSource::PlanPart {
                    parent: self.task.issue.0,
                    part: part.key.clone(),
                    waits_for: waits_for.to_vec(),
                    agent: part.agent.clone(),
                    complexity: part.complexity,
                },
                instructions: String::new(),
                issue: Some(IssueSnapshot {
                    title: issue.title.clone(),
                    body: issue.body.clone(),
                    author: self.ctx.identity.bot_login.clone(),
                }),
            },
        };
        let blocked = !waits_for.is_empty();
        let outcome = self
            .ctx
            .db
            .start_attempt(new, |task| {
                let mut jobs = vec![Job::SyncFace { task: task.id }.to_new(0)];
                if !blocked {
                    jobs.push(
                        Job::Run {
                            task: task.id,
                            attempt: task.attempt,
                        }
                        .to_new(0),
                    );
                }
                jobs
            })
            .await
            .map_err(JobError::from)?;
        if let StartOutcome::Started(task) = outcome {
            tracing::info!(child = %task.id, issue = %issue.number, blocked, "plan part started");
        }
        self.ctx.jobs_added.notify_one();
        Ok(())
    }
}
