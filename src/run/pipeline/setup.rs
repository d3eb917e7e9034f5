//! The repository's set-up: its `setup:` commands, one after the other in fresh containers on
//! the checkout before the agent's first round, with the `egress:` hosts reachable. A failing
//! command ends the attempt before the agent starts; its log is in the tracking comment. The
//! checkout may not grow past `limits.max_checkout_mb` meanwhile.

use super::rounds::{commands_could_not_run, gate_summary, Work};
use super::*;
use crate::run::disk_cap::DiskCap;
use crate::run::gates::run_setup;
use bosun_core::model::ProgressEvent;

impl Pipeline<'_> {
    pub(super) async fn set_up(&self, work: &Work<'_>, commands: &[String]) -> Result<(), Step> {
        if commands.is_empty() {
            return Ok(());
        }
        let run = GateRun {
            task_id: self.task.id.0 as u64,
            round: 0,
            image: &work.resolved.agent.image,
            workspace: &work.ws.dir,
            limits: self.runner.limits.clone(),
            deadline: work.resolved.setup_timeout,
            user: self.runner.user,
            network: self.egress_network(),
            env: self.egress_env(),
        };
        // Stopped by the task's stop, or by the cap on the checkout's size.
        let stop = self.cancel.child_token();
        let max_mb = self.limits().max_checkout_mb;
        let cap = DiskCap::watch(
            work.ws.dir.clone(),
            max_mb.saturating_mul(1 << 20),
            stop.clone(),
        );
        let results = run_setup(self.runner.sandbox.as_ref(), commands, &run, &stop)
            .await
            .map_err(commands_could_not_run)?;
        if self.cancel.is_cancelled() {
            return Err(Step::Stopped);
        }
        let summaries: Vec<GateSummary> = results
            .iter()
            .map(|g| gate_summary(g, work.redactor))
            .collect();
        self.record(
            TaskEvent::Progress(ProgressEvent::SetupRan {
                attempt: self.attempt,
                results: summaries.clone(),
            }),
            true,
        )
        .await?;
        self.note_refusals().await?;
        if cap.tripped() {
            return Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::setup_filled_disk(max_mb),
            ));
        }
        match summaries.iter().find(|g| !g.ok) {
            Some(failed) => Err(Step::Finish(
                TaskStatus::NeedsReview,
                reply::setup_failed(failed, work.resolved.setup_timeout),
            )),
            None => Ok(()),
        }
    }
}
