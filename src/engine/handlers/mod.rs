//! One handler per job kind; the pool calls the one the job names.

pub mod approve;
pub mod face;
pub mod feedback;
pub mod gave_up;
pub mod installation;
pub mod lifecycle;
pub mod plan;
pub mod refresh_config;
pub mod run;
pub mod schedule;
pub mod trigger;

/// Fills the `repo` and `issue` fields of the current job span once the task is loaded, so
/// every log line of a task's job names where it belongs.
pub(crate) fn record_span_ids(task: &crate::db::TaskRow) {
    let span = tracing::Span::current();
    span.record("repo", tracing::field::display(&task.repo));
    span.record("issue", task.issue.0);
}
