//! Tasks: the model and state machine, trigger rules, and one handler per job kind.

pub mod control;
pub mod handle_face;
pub mod handle_feedback;
pub mod handle_lifecycle;
pub mod handle_plan;
pub mod handle_run;
pub mod handle_schedule;
pub mod handle_trigger;
pub mod learnings_cli;
pub mod resync;
pub mod run_pipeline;
pub mod spending;
pub mod stats_cli;

/// Fills the `repo` and `issue` fields of the current job span once the task is loaded, so
/// every log line of a task's job names where it belongs.
pub(crate) fn record_span_ids(task: &crate::db::TaskRow) {
    let span = tracing::Span::current();
    span.record("repo", tracing::field::display(&task.repo));
    span.record("issue", task.issue.0);
}
