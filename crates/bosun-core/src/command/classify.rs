//! Turns the text after a mention into a [`Command`].

use super::Command;

/// Punctuation people put after a command word ("stop!", "retry:") that
/// does not change its meaning.
const TRAILING_PUNCTUATION: &[char] = &['.', '!', '?', ',', ':', ';'];

/// Reads the instruction that followed a mention, up to the end of its line.
pub(super) fn classify(after_mention: &str) -> Command {
    let text = after_mention
        .trim_start_matches(|c: char| c == ':' || c == ',' || c.is_whitespace())
        .trim_end();
    let (first, rest) = split_first_word(text);
    let word = command_word(first);
    match word.to_ascii_lowercase().as_str() {
        // Whatever follows "stop" is ignored: when a message is ambiguous,
        // stopping is the reading that cannot do harm.
        "stop" | "cancel" => Command::Stop,
        "retry" => Command::Retry(note(rest)),
        "status" => Command::Status,
        "plan" => Command::Plan(note(rest)),
        "help" => Command::Help,
        // Whatever follows is ignored: an approval is of what the task holds back, as shown.
        "approve" => Command::Approve,
        _ if rest.is_empty() && word.is_empty() => Command::Do(String::new()),
        // One word that is not a command ("restart", "thanks") is too vague
        // to start work on; the reply lists the commands instead.
        _ if rest.is_empty() => Command::Unknown(word.to_string()),
        _ => Command::Do(text.to_string()),
    }
}

/// Splits off the first whitespace-separated word; the rest is trimmed.
fn split_first_word(text: &str) -> (&str, &str) {
    match text.split_once(char::is_whitespace) {
        Some((first, rest)) => (first, rest.trim()),
        None => (text, ""),
    }
}

/// The word without a slash-command `/` or trailing punctuation.
fn command_word(word: &str) -> &str {
    let word = word.strip_prefix('/').unwrap_or(word);
    word.trim_end_matches(TRAILING_PUNCTUATION)
}

/// The optional note after `retry` or `plan`, without separators such as
/// `retry: ...` or `plan - ...`.
fn note(rest: &str) -> Option<String> {
    let note = rest.trim_start_matches(|c: char| {
        matches!(c, ':' | ',' | '-' | '–' | '—') || c.is_whitespace()
    });
    (!note.is_empty()).then(|| note.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Command::*;

    fn some(text: &str) -> Option<String> {
        Some(text.to_string())
    }

    #[test]
    fn empty_text_is_a_bare_mention() {
        assert_eq!(classify(""), Do(String::new()));
        assert_eq!(classify("  "), Do(String::new()));
        assert_eq!(classify(": "), Do(String::new()));
        assert_eq!(classify("!"), Do(String::new()));
        assert_eq!(classify("?"), Do(String::new()));
    }

    #[test]
    fn stop_and_cancel_ignore_the_rest() {
        assert_eq!(classify("stop"), Stop);
        assert_eq!(classify("approve"), Approve);
        assert_eq!(classify("Approve!"), Approve);
        assert_eq!(classify("approve it please"), Approve);
        assert_eq!(classify(" STOP!"), Stop);
        assert_eq!(classify("cancel"), Stop);
        assert_eq!(classify("/cancel"), Stop);
        assert_eq!(classify("stop, and then fix the tests"), Stop);
    }

    #[test]
    fn retry_with_and_without_note() {
        assert_eq!(classify("retry"), Retry(None));
        assert_eq!(classify("Retry."), Retry(None));
        assert_eq!(
            classify("retry the tests were flaky"),
            Retry(some("the tests were flaky"))
        );
        assert_eq!(classify("retry: use main"), Retry(some("use main")));
        assert_eq!(classify("retry - use main"), Retry(some("use main")));
        assert_eq!(classify("retry —   use main "), Retry(some("use main")));
    }

    #[test]
    fn status_and_help() {
        assert_eq!(classify("status"), Status);
        assert_eq!(classify("status?"), Status);
        assert_eq!(classify("/status please"), Status);
        assert_eq!(classify("help"), Help);
        assert_eq!(classify("HELP!"), Help);
    }

    #[test]
    fn plan_with_and_without_guidance() {
        assert_eq!(classify("plan"), Plan(None));
        assert_eq!(
            classify("plan: keep the API stable"),
            Plan(some("keep the API stable"))
        );
        assert_eq!(classify("plan keep it small"), Plan(some("keep it small")));
    }

    #[test]
    fn single_unknown_word() {
        assert_eq!(classify("restart"), Unknown("restart".into()));
        assert_eq!(classify("Restart!"), Unknown("Restart".into()));
        assert_eq!(classify("/deploy"), Unknown("deploy".into()));
        assert_eq!(classify(", thanks"), Unknown("thanks".into()));
    }

    #[test]
    fn several_words_are_an_instruction() {
        assert_eq!(
            classify("fix the login bug"),
            Do("fix the login bug".into())
        );
        assert_eq!(
            classify(": please add tests. "),
            Do("please add tests.".into())
        );
        assert_eq!(classify("stopping is bad"), Do("stopping is bad".into()));
    }

    #[test]
    fn command_word_needs_whitespace_after_it() {
        assert_eq!(classify("stop-gap fix"), Do("stop-gap fix".into()));
        assert_eq!(classify("retry/again"), Unknown("retry/again".into()));
    }
}
