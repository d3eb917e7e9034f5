//! What bosun posts when it answers review feedback: the reply in each thread, the summary that
//! ends the attempt, and the tracking comment's lines. Texts from the agent are redacted by the
//! caller before they get here.

use bosun_core::model::FeedbackAnswer;
use bosun_core::review_report::Outcome;

use super::reply_marker;
use super::run::{one_paragraph, quote};

/// A reply in a review thread. `commit` is `(short sha, link)` when code changed.
pub fn thread_reply(
    outcome: Outcome,
    text: &str,
    commit: Option<(&str, &str)>,
    key: &str,
) -> String {
    let text = one_paragraph(text);
    let body = match (outcome, commit) {
        (Outcome::Changed, Some((sha, url))) => format!("Changed in [`{sha}`]({url}): {text}"),
        (Outcome::Changed, None) => format!("{text}\n\n(No code change was needed.)"),
        (Outcome::Answered, _) => text,
        (Outcome::Declined, _) => format!("Not changed: {text}"),
    };
    format!("{body}\n\n{}", reply_marker(key))
}

/// A thread the run leaves open, with why, for the tracking comment.
pub fn not_addressed(path: &str, line: Option<u64>, why: &str) -> String {
    let place = match line {
        Some(line) => format!("`{}` line {line}", path.replace('`', "'")),
        None => format!("`{}`", path.replace('`', "'")),
    };
    format!("{place}: {}", one_paragraph(why))
}

/// The summary that ends an attempt that answered review feedback.
pub fn feedback_answered(pr: u64, answer: &FeedbackAnswer, summary: &str) -> String {
    let mut out = match &answer.commit {
        Some(sha) => format!(
            "✅ Answered the review of #{pr}: pushed `{}` on its branch.",
            sha.get(..7).unwrap_or(sha)
        ),
        None => format!("✅ Answered the review of #{pr} without changing code."),
    };
    let summary = summary.trim();
    if !summary.is_empty() {
        out.push_str(&format!("\n\n{}", quote(summary)));
    }
    out
}

pub fn no_pull_to_revise() -> String {
    "❌ This task has no open pull request to answer a review on. Mention bosun on the issue \
     to start over."
        .to_string()
}

pub fn review_gates_failed(pr: u64, pushed: bool) -> String {
    let where_ = if pushed {
        "The new commit is on the pull request with its failing checks"
    } else {
        "The agent changed no file"
    };
    format!(
        "👀 The gates fail after answering the review of #{pr}. {where_}; no thread was \
         replied to or resolved. Push a fix yourself, or mention bosun on the pull request with \
         more guidance."
    )
}

/// The tracking comment's lines for an answered review.
pub(super) fn answered_steps(answer: &FeedbackAnswer) -> String {
    let mut out = String::new();
    if let Some(sha) = &answer.commit {
        out.push_str(&format!(
            "- [x] New commit `{}` on #{}\n",
            sha.get(..7).unwrap_or(sha),
            answer.pr
        ));
    }
    out.push_str(&format!(
        "- [x] Review threads: {} replied, {} resolved\n",
        answer.replied, answer.resolved
    ));
    if !answer.not_addressed.is_empty() {
        out.push_str("\n**Not addressed:**\n");
        for item in &answer.not_addressed {
            out.push_str(&format!("- {item}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_say_what_happened_and_carry_their_marker() {
        let changed = thread_reply(
            Outcome::Changed,
            "Renamed it.",
            Some(("abc1234", "https://x/pull/3/commits/abc1234")),
            "5-2-T1",
        );
        assert!(changed
            .starts_with("Changed in [`abc1234`](https://x/pull/3/commits/abc1234): Renamed it."));
        assert!(changed.contains("<!-- bosun:reply 5-2-T1 -->"));
        let declined = thread_reply(Outcome::Declined, "It would break X.", None, "k");
        assert!(declined.starts_with("Not changed: It would break X."));
        let answered = thread_reply(Outcome::Answered, "Because Y.", None, "k");
        assert!(answered.starts_with("Because Y."));
    }

    #[test]
    fn the_tracking_comment_lists_what_was_left_and_why() {
        let answer = FeedbackAnswer {
            pr: 3,
            commit: Some("abcdef0123".into()),
            replied: 2,
            resolved: 1,
            not_addressed: vec![not_addressed(
                "src/a.rs",
                Some(4),
                "the agent did not report on it",
            )],
        };
        let text = answered_steps(&answer);
        assert!(text.contains("New commit `abcdef0` on #3"), "{text}");
        assert!(text.contains("2 replied, 1 resolved"));
        assert!(text.contains("`src/a.rs` line 4: the agent did not report on it"));
    }
}
