//! What the agent says it did with each review thread: the fenced `json` block the review
//! prompt asks for at the end of its final message. Pure; a missing or broken report is not an
//! error, the threads it does not cover are just reported as not addressed.

use serde::Deserialize;

/// What happened to one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Code was changed for it: bosun replies with the commit and resolves the thread.
    Changed,
    /// A question, answered in the reply; the asker resolves the thread.
    Answered,
    /// Left as it was; the reply says why.
    Declined,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadReport {
    /// The thread's key as given in the prompt (`T1`…).
    pub key: String,
    pub outcome: Outcome,
    pub reply: String,
}

#[derive(Deserialize)]
struct WireReport {
    #[serde(default)]
    threads: Vec<WireThread>,
}

#[derive(Deserialize)]
struct WireThread {
    id: String,
    outcome: Outcome,
    #[serde(default)]
    reply: String,
}

/// A reply longer than this is cut: it is posted on GitHub as is.
const MAX_REPLY_CHARS: usize = 2_000;

/// The agent's final message split into its summary (the text before the report) and the
/// thread reports. Without a readable report the whole message is the summary.
pub fn parse(message: &str) -> (String, Vec<ThreadReport>) {
    for (start, end, body) in json_blocks(message).into_iter().rev() {
        let Ok(report) = serde_json::from_str::<WireReport>(body) else {
            continue;
        };
        let mut summary = message[..start].trim_end().to_string();
        let rest = message[end..].trim();
        if !rest.is_empty() {
            summary.push_str("\n\n");
            summary.push_str(rest);
        }
        let threads = report
            .threads
            .into_iter()
            .map(|t| ThreadReport {
                key: t.id.trim().to_string(),
                outcome: t.outcome,
                reply: t.reply.trim().chars().take(MAX_REPLY_CHARS).collect(),
            })
            .collect();
        return (summary, threads);
    }
    (message.trim().to_string(), Vec::new())
}

/// Fenced blocks tagged `json` (or untagged, when they look like an object): (start of the
/// opening fence, end of the closing fence, the text between).
pub fn json_blocks(message: &str) -> Vec<(usize, usize, &str)> {
    let mut blocks = Vec::new();
    let mut offset = 0;
    // (fence start, content start, backticks, whether it may hold the report)
    let mut open: Option<(usize, usize, usize, bool)> = None;
    for line in message.split_inclusive('\n') {
        let trimmed = line.trim();
        let ticks = trimmed.chars().take_while(|c| *c == '`').count();
        match open {
            None if ticks >= 3 => {
                let tag = trimmed[ticks..].trim();
                let json = tag.eq_ignore_ascii_case("json") || tag.is_empty();
                open = Some((offset, offset + line.len(), ticks, json));
            }
            Some((start, content, width, json)) if ticks >= width && trimmed.len() == ticks => {
                let body = &message[content..offset];
                if json && body.trim_start().starts_with('{') {
                    blocks.push((start, offset + line.len(), body));
                }
                open = None;
            }
            _ => {}
        }
        offset += line.len();
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_json_block_is_the_report_and_the_rest_the_summary() {
        let message = "Renamed the helper.\n\n```json\n{\"threads\": [\
            {\"id\": \"T1\", \"outcome\": \"changed\", \"reply\": \"Renamed.\"},\
            {\"id\": \"T2\", \"outcome\": \"answered\", \"reply\": \"Because of X.\"}]}\n```\n";
        let (summary, threads) = parse(message);
        assert_eq!(summary, "Renamed the helper.");
        assert_eq!(threads.len(), 2);
        assert_eq!(threads[0].outcome, Outcome::Changed);
        assert_eq!(threads[1].key, "T2");
        assert_eq!(threads[1].reply, "Because of X.");
    }

    #[test]
    fn code_blocks_in_the_summary_are_not_mistaken_for_the_report() {
        let message = "I changed:\n\n```json\n{\"name\": \"x\"}\n```\n\nand\n\n```rust\nfn a() {}\n```\n\n```json\n{\"threads\": [{\"id\": \"T1\", \"outcome\": \"declined\", \"reply\": \"No.\"}]}\n```";
        let (summary, threads) = parse(message);
        assert!(summary.contains("fn a()"), "{summary}");
        assert_eq!(threads.len(), 1);
        assert_eq!(threads[0].outcome, Outcome::Declined);
    }

    #[test]
    fn a_missing_or_broken_report_leaves_the_whole_message_as_summary() {
        assert_eq!(parse("Done.\n").0, "Done.");
        assert!(parse("Done.").1.is_empty());
        let broken =
            "Done.\n```json\n{\"threads\": [{\"id\": \"T1\", \"outcome\": \"maybe\"}]}\n```";
        let (summary, threads) = parse(broken);
        assert!(threads.is_empty());
        assert!(summary.contains("maybe"));
    }

    #[test]
    fn unterminated_fences_and_long_replies_are_handled() {
        assert!(parse("```json\n{\"threads\": []}").1.is_empty());
        let long = "x".repeat(5000);
        let message = format!(
            "```\n{{\"threads\": [{{\"id\": \" T1 \", \"outcome\": \"changed\", \"reply\": \"{long}\"}}]}}\n```"
        );
        let (summary, threads) = parse(&message);
        assert_eq!(summary, "");
        assert_eq!(threads[0].key, "T1");
        assert_eq!(threads[0].reply.chars().count(), MAX_REPLY_CHARS);
    }
}
