//! What a server job posts: the issue it opens at its tick.

/// The issue a scheduled job opens at its tick: the job's prompt (or the command it runs), and
/// where it came from.
pub fn scheduled_issue_body(
    prompt: &str,
    command: Option<&str>,
    job: &str,
    tick: i64,
    marker: &str,
) -> String {
    let when = bosun_core::schedule::utc_minute(tick).unwrap_or_default();
    let what = match command {
        Some(command) => {
            // A fence longer than any run of tildes in the command, so it cannot close early.
            let longest = command.split(|c| c != '~').map(str::len).max().unwrap_or(0);
            let fence = "~".repeat(longest.max(2) + 1);
            format!(
                "bosun runs this command on the default branch in its sandbox; what it changes \
                 goes through the gates into a draft pull request.\n\n{fence}sh\n{}\n{fence}",
                command.trim()
            )
        }
        None => prompt.trim().to_string(),
    };
    format!(
        "{what}\n\n<sub>Opened by bosun for the scheduled job `{}` ({when}).</sub>\n\n{marker}",
        job.replace('`', "'")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_fenced_so_that_it_cannot_end_its_block() {
        let body = scheduled_issue_body(
            "",
            Some("echo '~~~' && cargo update"),
            "o/r:deps",
            0,
            "<!-- m -->",
        );
        assert!(
            body.contains("~~~~sh\necho '~~~' && cargo update\n~~~~\n"),
            "{body}"
        );
        assert!(body.contains("scheduled job `o/r:deps`"));
        let body = scheduled_issue_body("Update the deps.", None, "deps", 0, "<!-- m -->");
        assert!(body.starts_with("Update the deps.\n"));
    }
}
