//! What a server job posts: the issue it opens at its tick.

/// The issue a server job opens at its tick: the job's prompt, and where it came from.
pub fn scheduled_issue_body(prompt: &str, job: &str, tick: i64, marker: &str) -> String {
    let when = crate::schedule::utc_minute(tick).unwrap_or_default();
    format!(
        "{}\n\n<sub>Opened by bosun for the scheduled job `{}` ({when}).</sub>\n\n{marker}",
        prompt.trim(),
        job.replace('`', "'")
    )
}
