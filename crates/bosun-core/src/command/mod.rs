//! Commands written to the App in issue comments, such as `@bosun retry`.
//!
//! The parser is pure and total: it takes a comment body and returns the
//! commands in it, in order, and never fails. Only mentions in ordinary prose
//! count; code, quoted replies, links, HTML and struck-out text never trigger
//! anything, so quoting or documenting a command is always safe.

mod classify;
mod markdown;
mod mention;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use markdown::Line;

/// One command addressed to the App.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Command {
    /// Work on the issue with this free-text instruction (trimmed). Empty for
    /// a bare mention, which means "work on this issue as written".
    Do(String),
    /// Stop the running task (`stop` or `cancel`).
    Stop,
    /// Run the task again, with an optional note.
    Retry(Option<String>),
    /// Report what the App is doing.
    Status,
    /// Propose a plan before changing code, with optional guidance.
    Plan(Option<String>),
    /// Push the change to protected paths the last attempt held back.
    Approve,
    /// List the commands.
    Help,
    /// A single word that is not a command, e.g. `restart`.
    Unknown(String),
}

/// The commands in a comment body, in the order they appear.
///
/// `handle` is the App's login without `@` (a leading `@` or a `[bot]`
/// suffix is tolerated). Each mention of it in ordinary prose starts a
/// command that runs to the end of its line or to the next mention.
pub fn parse_commands(markdown: &str, handle: &str) -> Vec<Command> {
    let handle = mention::normalize_handle(handle);
    if handle.is_empty() {
        // An empty handle would match every `@`.
        return Vec::new();
    }
    markdown::text_lines(markdown)
        .iter()
        .flat_map(|line| commands_in_line(line, handle))
        .collect()
}

/// The commands an edit added: those in `new_markdown` that are not in
/// `old_markdown`, counting duplicates (one `@bosun retry` before and two
/// after yields one `Retry`). Order follows `new_markdown`.
pub fn new_commands(old_markdown: &str, new_markdown: &str, handle: &str) -> Vec<Command> {
    // How many of each command the old body already had; counted in a map
    // so that a body with thousands of commands stays linear.
    let mut already_seen: HashMap<Command, usize> = HashMap::new();
    for command in parse_commands(old_markdown, handle) {
        *already_seen.entry(command).or_default() += 1;
    }
    parse_commands(new_markdown, handle)
        .into_iter()
        .filter(|command| match already_seen.get_mut(command) {
            Some(count) if *count > 0 => {
                *count -= 1;
                false
            }
            _ => true,
        })
        .collect()
}

/// A short Markdown list of the commands, for replying to an unknown one.
pub fn help_text(handle: &str) -> String {
    let at = format!("@{}", mention::normalize_handle(handle));
    format!(
        "Commands (write them in a comment, one per line):\n\
         \n\
         - `{at}` — work on this issue as written\n\
         - `{at} <instructions>` — work on this issue with extra instructions\n\
         - `{at} plan [guidance]` — propose a plan before changing any code\n\
         - `{at} retry [note]` — run the task again\n\
         - `{at} status` — report what is happening\n\
         - `{at} stop` — stop the running task (`cancel` works too)\n\
         - `{at} approve` — push the changes to protected paths the task held back\n\
         - `{at} help` — show this list\n"
    )
}

/// Each mention on the line takes the text up to the next mention, or to
/// the end of the line.
fn commands_in_line(line: &Line, handle: &str) -> Vec<Command> {
    let mentions = mention::find_mentions(line, handle);
    mentions
        .iter()
        .enumerate()
        .map(|(i, mention)| {
            let end = mentions
                .get(i + 1)
                .map_or(line.text.len(), |next| next.start);
            let text = line.text.get(mention.end..end).unwrap_or_default();
            classify::classify(text)
        })
        .collect()
}
