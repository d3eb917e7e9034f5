//! A second agent's review of a change that already passes the repository's tests: the fenced
//! `json` block of findings the reviewer prompt asks for at the end of its final message, and
//! what bosun does with the findings of all reviewers. Tests catch what the repository already
//! checks; a reviewer catches the rest (a wrong reading of the issue, a missed case), so its
//! verdict decides whether the run goes on, pauses for a person, or stops. Pure. A verdict that
//! cannot be read is refused with a message written for the reviewer, so it can correct itself
//! in another round: guessing "looks good" from a broken report would let the change through
//! unreviewed.

use serde::Deserialize;

use crate::review_report::json_blocks;

/// A finding's text longer than this is cut: it is posted on GitHub as is.
const MAX_TEXT_CHARS: usize = 2_000;
/// A file path longer than this is cut; no real path in a repository is that long.
const MAX_FILE_CHARS: usize = 300;
/// Findings past this many are dropped (the least severe first): a reviewer that reports more
/// has stopped reviewing and started listing, and every finding may end up in a comment.
const MAX_FINDINGS: usize = 50;
/// Where the agent's checkout is mounted in its sandbox; paths are kept relative to the
/// repository, as the pull request shows them.
const WORKSPACE_PREFIX: &str = "/workspace/";

/// How much a finding matters. The order is the order of importance: blockers first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The change is wrong or harmful as it is.
    Blocker,
    /// Probably fine, but a person should look at it.
    Concern,
    /// Style or taste; never holds the change up.
    Nit,
}

impl Severity {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Blocker => "blocker",
            Severity::Concern => "concern",
            Severity::Nit => "nit",
        }
    }

    /// Reviewers are agents: accept "Blocker" or " nit " rather than fail a round over case.
    fn from_wire(raw: &str) -> Option<Severity> {
        let raw = raw.trim();
        [Severity::Blocker, Severity::Concern, Severity::Nit]
            .into_iter()
            .find(|s| raw.eq_ignore_ascii_case(s.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// Relative to the repository's root; `None` for a finding about the change as a whole.
    pub file: Option<String>,
    /// 1-based; `None` when the finding is about a whole file or the whole change.
    pub line: Option<u64>,
    pub text: String,
}

/// One reviewer's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The reviewer's text around the block (redacted by the caller before it is posted).
    pub summary: String,
    /// Blockers first, then concerns, then nits, each in the reviewer's order. Empty when the
    /// reviewer found nothing.
    pub findings: Vec<Finding>,
}

/// What bosun does after the reviews.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No blocker or concern (nits may exist): go on.
    Continue,
    /// Concerns but no blocker, either exactly one concern in total or concerns from no more
    /// than half of the reviewers: go on and note them on the pull request.
    Note,
    /// Concerns from more than half of the reviewers (and more than one concern in total), no
    /// blocker: a person should answer.
    Ask,
    /// At least one blocker from any reviewer.
    Escalate,
}

#[derive(Deserialize)]
struct WireVerdict {
    // Required: a JSON snippet quoted in the summary must not pass for an empty verdict.
    findings: Vec<WireFinding>,
}

// Everything optional on the wire, so a missing field gets a message naming the finding
// instead of serde's line and column.
#[derive(Deserialize)]
struct WireFinding {
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    line: Option<u64>,
    #[serde(default)]
    text: Option<String>,
}

/// The verdict in the reviewer's final message, or why it cannot be used (for the reviewer).
pub fn parse(message: &str) -> Result<Verdict, String> {
    let blocks = json_blocks(message);
    let mut last_error = None;
    for &(start, end, body) in blocks.iter().rev() {
        match serde_json::from_str::<WireVerdict>(body) {
            Ok(wire) => {
                let findings = validate(wire.findings)?;
                let summary = summary_around(message, start, end);
                return Ok(Verdict { summary, findings });
            }
            // The last block is the one meant as the verdict: its error is the useful one.
            Err(e) => {
                last_error.get_or_insert(e);
            }
        }
    }
    Err(match last_error {
        None => "Your final message has no fenced `json` block with the findings.".into(),
        Some(e) => format!(
            "The last `json` block in your final message is not a verdict as described \
             (an object with a `findings` list): {e}."
        ),
    })
}

/// The findings of `severity` across all verdicts, in the reviewers' order.
pub fn findings_of(verdicts: &[Verdict], severity: Severity) -> Vec<&Finding> {
    verdicts
        .iter()
        .flat_map(|v| &v.findings)
        .filter(|f| f.severity == severity)
        .collect()
}

/// The policy: "any blocker → stop and escalate; concerns from the majority of reviewers →
/// pause and ask a clarifying question on the issue; a single concern → note it in the PR;
/// none → continue".
pub fn decide(verdicts: &[Verdict]) -> Decision {
    // One reviewer is enough to stop: shipping a wrong change costs more than a pause.
    let blocked = verdicts
        .iter()
        .flat_map(|v| &v.findings)
        .any(|f| f.severity == Severity::Blocker);
    if blocked {
        return Decision::Escalate;
    }
    let concerns = findings_of(verdicts, Severity::Concern).len();
    let raising = verdicts
        .iter()
        .filter(|v| v.findings.iter().any(|f| f.severity == Severity::Concern))
        .count();
    match concerns {
        0 => Decision::Continue,
        1 => Decision::Note,
        // Worries shared by most reviewers are likely real and worth a person's answer; one
        // reviewer's worries, however many, are only noted, or every run would wait on someone.
        _ if raising * 2 > verdicts.len() => Decision::Ask,
        _ => Decision::Note,
    }
}

/// The reviewer's text before and after the block, like `review_report::parse` builds it.
fn summary_around(message: &str, start: usize, end: usize) -> String {
    [message[..start].trim(), message[end..].trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn validate(wire: Vec<WireFinding>) -> Result<Vec<Finding>, String> {
    let mut findings = Vec::with_capacity(wire.len());
    for (index, w) in wire.into_iter().enumerate() {
        let which = format!("Finding {}", index + 1);
        let raw_severity = w.severity.unwrap_or_default();
        if raw_severity.trim().is_empty() {
            return Err(format!(
                "{which} has no `severity`; use `blocker`, `concern` or `nit`."
            ));
        }
        let Some(severity) = Severity::from_wire(&raw_severity) else {
            return Err(format!(
                "{which} has the severity `{}`; use `blocker`, `concern` or `nit`.",
                quoted(&raw_severity)
            ));
        };
        let text = w.text.unwrap_or_default();
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("{which} has no `text`; say what is wrong and why."));
        }
        findings.push(Finding {
            severity,
            file: w.file.as_deref().and_then(clean_path),
            // Lines are 1-based: 0 is a reviewer's way of saying "no particular line".
            line: w.line.filter(|&l| l > 0),
            text: text.chars().take(MAX_TEXT_CHARS).collect(),
        });
    }
    // Stable, so each severity keeps the reviewer's order; cut after sorting so that what is
    // dropped is the least important.
    findings.sort_by_key(|f| f.severity);
    findings.truncate(MAX_FINDINGS);
    Ok(findings)
}

/// The path relative to the repository: the agent sees it at `/workspace`, and may write
/// `./src/x.rs` or `/workspace/src/x.rs` for `src/x.rs`.
fn clean_path(raw: &str) -> Option<String> {
    let mut path = raw.trim();
    while let Some(rest) = path
        .strip_prefix(WORKSPACE_PREFIX)
        .or_else(|| path.strip_prefix("./"))
    {
        path = rest;
    }
    let path = path.trim();
    (!path.is_empty()).then(|| path.chars().take(MAX_FILE_CHARS).collect())
}

/// A reviewer's value echoed in an error: short, and unable to break out of the backticks.
fn quoted(raw: &str) -> String {
    raw.trim()
        .chars()
        .take(40)
        .collect::<String>()
        .replace('`', "'")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Severity::{Blocker, Concern, Nit};

    fn message(findings: &str) -> String {
        format!("Looked at the diff.\n\n```json\n{{\"findings\": [{findings}]}}\n```\n")
    }

    fn finding(severity: Severity) -> Finding {
        Finding {
            severity,
            file: None,
            line: None,
            text: format!("a {}", severity.as_str()),
        }
    }

    fn verdict(severities: &[Severity]) -> Verdict {
        Verdict {
            summary: String::new(),
            findings: severities.iter().copied().map(finding).collect(),
        }
    }

    #[test]
    fn a_verdict_comes_back_with_its_summary_and_findings_most_severe_first() {
        let text = format!(
            "{}\nThanks.",
            message(
                r#"{"severity": "nit", "file": "src/a.rs", "line": 3, "text": "Typo."},
                   {"severity": " Concern ", "text": "  Is the cache needed?  ", "why": 1},
                   {"severity": "BLOCKER", "file": "src/lib.rs", "line": 12, "text": "Off by one."},
                   {"severity": "nit", "text": "Second nit."}"#
            )
        );
        let verdict = parse(&text).unwrap();
        assert_eq!(verdict.summary, "Looked at the diff.\n\nThanks.");
        let got: Vec<(Severity, &str)> = verdict
            .findings
            .iter()
            .map(|f| (f.severity, f.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (Blocker, "Off by one."),
                (Concern, "Is the cache needed?"),
                (Nit, "Typo."),
                (Nit, "Second nit."),
            ]
        );
        assert_eq!(verdict.findings[0].file.as_deref(), Some("src/lib.rs"));
        assert_eq!(verdict.findings[0].line, Some(12));
        assert_eq!(verdict.findings[1].file, None);
        assert_eq!(verdict.findings[1].line, None);
    }

    #[test]
    fn an_empty_list_is_a_clean_verdict() {
        let verdict = parse("```json\n{\"findings\": []}\n```").unwrap();
        assert_eq!(verdict.summary, "");
        assert!(verdict.findings.is_empty());
        assert_eq!(decide(&[verdict]), Decision::Continue);
    }

    #[test]
    fn the_last_block_that_parses_is_the_verdict() {
        // A quoted snippet without `findings` is not mistaken for a clean verdict.
        let quoted = "The config:\n\n```\n{\"name\": \"x\"}\n```\n\n";
        let text = format!(
            "{quoted}{}",
            message(r#"{"severity": "nit", "text": "Ok."}"#)
        );
        let verdict = parse(&text).unwrap();
        assert!(verdict.summary.contains("\"name\""), "{}", verdict.summary);
        assert_eq!(verdict.findings.len(), 1);

        let trailing = format!("{}\n```json\n{{\"name\": \"y\"}}\n```\n", message(""));
        let verdict = parse(&trailing).unwrap();
        assert!(verdict.findings.is_empty());
        assert!(verdict.summary.contains("\"y\""), "{}", verdict.summary);
    }

    #[test]
    fn unreadable_verdicts_are_refused_with_a_reason_for_the_reviewer() {
        let cases = [
            ("Looks good to me.".to_string(), "no fenced `json` block"),
            ("```rust\n{\"findings\": []}\n```".to_string(), "no fenced"),
            (
                "```json\n{\"findings\": [}\n```".to_string(),
                "not a verdict as described",
            ),
            (
                "```json\n{\"verdict\": \"ok\"}\n```".to_string(),
                "`findings` list",
            ),
            (
                message(r#"{"severity": "nit", "text": "a"}, {"severity": "Major", "text": "b"}"#),
                "Finding 2 has the severity `Major`; use `blocker`, `concern` or `nit`.",
            ),
            (
                message(r#"{"severity": "ma`jor", "text": "b"}"#),
                "`ma'jor`",
            ),
            (message(r#"{"text": "b"}"#), "Finding 1 has no `severity`"),
            (
                message(r#"{"severity": "nit", "text": "a"}, {"severity": "nit", "text": "  "}"#),
                "Finding 2 has no `text`",
            ),
            (
                message(r#"{"severity": "concern", "file": "a.rs"}"#),
                "Finding 1 has no `text`",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text).unwrap_err();
            assert!(err.contains(expected), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn paths_are_made_relative_and_lines_and_texts_bounded() {
        let long_path = format!("src/{}.rs", "p".repeat(400));
        let long_text = "t".repeat(5_000);
        let text = message(&format!(
            r#"{{"severity": "nit", "file": " ./src/a.rs ", "line": 0, "text": "a"}},
               {{"severity": "nit", "file": "/workspace/src/b.rs", "line": 7, "text": "b"}},
               {{"severity": "nit", "file": "   ", "text": "c"}},
               {{"severity": "nit", "file": "./", "line": null, "text": "d"}},
               {{"severity": "nit", "file": "{long_path}", "text": "{long_text}"}}"#
        ));
        let findings = parse(&text).unwrap().findings;
        let files: Vec<Option<&str>> = findings.iter().map(|f| f.file.as_deref()).collect();
        assert_eq!(files[..4], [Some("src/a.rs"), Some("src/b.rs"), None, None]);
        assert_eq!(findings[0].line, None);
        assert_eq!(findings[1].line, Some(7));
        assert_eq!(findings[3].line, None);
        let cut = findings[4].file.as_deref().unwrap();
        assert_eq!(cut.chars().count(), MAX_FILE_CHARS);
        assert!(long_path.starts_with(cut));
        assert_eq!(findings[4].text.chars().count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn at_most_fifty_findings_are_kept_and_the_least_severe_go_first() {
        let mut wire: Vec<String> = (0..55)
            .map(|i| format!(r#"{{"severity": "nit", "text": "nit {i}"}}"#))
            .collect();
        wire.push(r#"{"severity": "concern", "text": "concern"}"#.into());
        wire.push(r#"{"severity": "blocker", "text": "blocker"}"#.into());
        let findings = parse(&message(&wire.join(","))).unwrap().findings;
        assert_eq!(findings.len(), MAX_FINDINGS);
        assert_eq!(findings[0].severity, Blocker);
        assert_eq!(findings[1].severity, Concern);
        assert_eq!(findings[2].text, "nit 0");
        assert_eq!(findings[49].text, "nit 47");
    }

    #[test]
    fn nothing_or_only_nits_continue() {
        assert_eq!(decide(&[]), Decision::Continue);
        assert_eq!(decide(&[verdict(&[])]), Decision::Continue);
        assert_eq!(
            decide(&[verdict(&[Nit, Nit]), verdict(&[Nit])]),
            Decision::Continue
        );
    }

    #[test]
    fn any_blocker_escalates() {
        assert_eq!(decide(&[verdict(&[Blocker])]), Decision::Escalate);
        // Even when the others are happy, or would otherwise ask.
        let v = [
            verdict(&[]),
            verdict(&[Concern, Concern]),
            verdict(&[Concern, Nit, Blocker]),
        ];
        assert_eq!(decide(&v), Decision::Escalate);
    }

    #[test]
    fn a_single_concern_is_noted() {
        assert_eq!(decide(&[verdict(&[Concern, Nit])]), Decision::Note);
        assert_eq!(
            decide(&[verdict(&[]), verdict(&[Nit, Concern]), verdict(&[])]),
            Decision::Note
        );
    }

    #[test]
    fn concerns_from_most_reviewers_ask_and_from_a_minority_are_noted() {
        // One reviewer: it is the majority.
        assert_eq!(decide(&[verdict(&[Concern, Concern])]), Decision::Ask);
        // Two reviewers: one of two is not more than half.
        assert_eq!(
            decide(&[verdict(&[Concern, Concern]), verdict(&[Nit])]),
            Decision::Note
        );
        assert_eq!(
            decide(&[verdict(&[Concern]), verdict(&[Concern])]),
            Decision::Ask
        );
        // Three reviewers.
        assert_eq!(
            decide(&[verdict(&[Concern, Concern]), verdict(&[]), verdict(&[])]),
            Decision::Note
        );
        assert_eq!(
            decide(&[verdict(&[Concern]), verdict(&[Concern]), verdict(&[])]),
            Decision::Ask
        );
        assert_eq!(
            decide(&[
                verdict(&[Concern]),
                verdict(&[Concern]),
                verdict(&[Concern])
            ]),
            Decision::Ask
        );
    }

    #[test]
    fn findings_of_collects_across_verdicts_in_order() {
        let mut first = verdict(&[Blocker, Concern]);
        first.findings[1].text = "first".into();
        let mut second = verdict(&[Concern, Nit]);
        second.findings[0].text = "second".into();
        let v = [first, verdict(&[]), second];
        let texts: Vec<&str> = findings_of(&v, Concern)
            .iter()
            .map(|f| f.text.as_str())
            .collect();
        assert_eq!(texts, ["first", "second"]);
        assert_eq!(findings_of(&v, Blocker).len(), 1);
        assert!(findings_of(&[], Nit).is_empty());
        assert_eq!(Concern.as_str(), "concern");
    }
}
