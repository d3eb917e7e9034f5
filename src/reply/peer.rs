//! What bosun posts about a peer review: its lines in the tracking comment, the review on the
//! pull request (inline comments and a body for the rest), the question on the issue when most
//! reviewers share a concern, and how the attempt ends. A reviewer's text is an agent's text:
//! mentions in it are defused, so a reviewer cannot ping anyone.

use super::run::{human_duration, one_paragraph, quote};
use bosun_core::model::{FindingCounts, RunProgress};
use bosun_core::peer_verdict::{Decision, Finding, Severity, Verdict};

/// Findings listed in a comment body; the review's inline comments carry the rest.
const MAX_LISTED: usize = 30;

fn icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Blocker => "🛑",
        Severity::Concern => "⚠️",
        Severity::Nit => "💬",
    }
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn counts_text(c: FindingCounts) -> String {
    if c.blockers + c.concerns + c.nits == 0 {
        return "no findings".into();
    }
    [
        plural(c.blockers, "blocker", "blockers"),
        plural(c.concerns, "concern", "concerns"),
        plural(c.nits, "nit", "nits"),
    ]
    .join(" · ")
}

/// The counts of one verdict.
pub fn counts_of(verdict: &Verdict) -> FindingCounts {
    let count = |s: Severity| verdict.findings.iter().filter(|f| f.severity == s).count() as u32;
    FindingCounts {
        blockers: count(Severity::Blocker),
        concerns: count(Severity::Concern),
        nits: count(Severity::Nit),
    }
}

/// The tracking comment's peer review lines: each review, and the fix round between passes.
pub(super) fn peer_steps(run: &RunProgress, active: bool) -> String {
    let mut out = String::new();
    let fix_line = |blockers: u32| {
        format!(
            "- 🔁 {} went back to the agent for one round of fixes\n",
            plural(blockers, "blocker", "blockers")
        )
    };
    let mut fix_shown = false;
    for p in &run.peer {
        if p.pass > 1 && !fix_shown {
            if let Some(blockers) = run.peer_fix {
                out.push_str(&fix_line(blockers));
                fix_shown = true;
            }
        }
        let again = if p.pass > 1 { " (after the fixes)" } else { "" };
        let who = format!("Review by `{}`{again}", p.reviewer.replace('`', "'"));
        if p.running && active {
            out.push_str(&format!("- [ ] {who} · 🔄 reviewing\n"));
        } else if let Some(why) = &p.failed {
            out.push_str(&format!(
                "- ⚠️ {who}: could not be used: {}\n",
                one_paragraph(why)
            ));
        } else if !p.running {
            out.push_str(&format!(
                "- [x] {who}: {} · {}\n",
                counts_text(p.findings),
                human_duration(p.secs)
            ));
        }
    }
    if let (Some(blockers), false) = (run.peer_fix, fix_shown) {
        out.push_str(&fix_line(blockers));
    }
    out
}

pub(super) fn posted_step(inline: u32) -> String {
    format!(
        "- [x] Findings posted as a review on the pull request ({} inline)\n",
        inline
    )
}

/// An inline comment of the review: one finding on its line.
pub fn finding_comment(finding: &Finding, reviewer: &str) -> String {
    format!(
        "{} **{}** · review by `{}`\n\n{}",
        icon(finding.severity),
        finding.severity.as_str(),
        reviewer.replace('`', "'"),
        finding.text.replace('@', "@\u{200b}")
    )
}

fn where_of(finding: &Finding) -> String {
    match (&finding.file, finding.line) {
        (Some(file), Some(line)) => format!("`{}:{line}`", file.replace('`', "'")),
        (Some(file), None) => format!("`{}`", file.replace('`', "'")),
        _ => "the whole change".into(),
    }
}

fn finding_item(reviewer: &str, finding: &Finding) -> String {
    format!(
        "- {} **{}** ({}, `{}`): {}\n",
        icon(finding.severity),
        finding.severity.as_str(),
        where_of(finding),
        reviewer.replace('`', "'"),
        one_paragraph(&finding.text)
    )
}

/// The body of the review posted on the pull request. `elsewhere` are the findings that could
/// not be put on a line of the diff; `failures` the reviewers whose review cannot be used.
pub fn peer_review_body(
    verdicts: &[(String, Verdict)],
    elsewhere: &[(String, Finding)],
    failures: &[(String, String)],
    decision: &Decision,
    marker: &str,
) -> String {
    let names: Vec<String> = verdicts
        .iter()
        .map(|(r, _)| format!("`{}`", r.replace('`', "'")))
        .collect();
    let mut out = format!(
        "## bosun · peer review\n\nAfter the gates passed, {} reviewed this change.\n\n",
        match names.len() {
            0 => "no agent".to_string(),
            1 => format!("another agent ({})", names[0]),
            _ => format!("other agents ({})", names.join(", ")),
        }
    );
    out.push_str(match decision {
        Decision::Escalate => {
            "**🛑 Blockers remain after one round of fixes.** A person should decide how to go on \
             before this change goes further.\n"
        }
        Decision::Ask => {
            "**⚠️ Most reviewers share concerns.** bosun asked about them on the issue and waits \
             for an answer.\n"
        }
        Decision::Note => {
            "**⚠️ A concern to look at** when you review; nothing here blocks the change.\n"
        }
        Decision::Continue => "Nothing here holds the change up.\n",
    });
    for (reviewer, verdict) in verdicts {
        out.push_str(&format!(
            "\n### `{}`: {}\n\n",
            reviewer.replace('`', "'"),
            counts_text(counts_of(verdict))
        ));
        if !verdict.summary.trim().is_empty() {
            out.push_str(&quote(&verdict.summary));
        }
    }
    if !elsewhere.is_empty() {
        out.push_str("\n### Findings not on a changed line\n\n");
        for (reviewer, finding) in elsewhere.iter().take(MAX_LISTED) {
            out.push_str(&finding_item(reviewer, finding));
        }
    }
    for (reviewer, why) in failures {
        out.push_str(&format!(
            "\n⚠️ `{}` could not review: {}\n",
            reviewer.replace('`', "'"),
            one_paragraph(why)
        ));
    }
    out.push_str(&format!("\n{marker}\n"));
    out
}

/// How the attempt ends when blockers remained after the fix round.
pub fn peer_escalated(pr: u64, url: &str, blockers: &[(String, Finding)]) -> String {
    let mut out = format!(
        "🛑 The change passes the gates, but a reviewer still finds blockers after one round \
         of fixes. The pull request [#{pr}]({url}) holds the change and the review with \
         every finding. Decide how to go on: fix it on the branch, or `retry` with guidance.\n\n"
    );
    for (reviewer, finding) in blockers.iter().take(MAX_LISTED) {
        out.push_str(&finding_item(reviewer, finding));
    }
    out
}

/// How the attempt ends when most reviewers share concerns: waiting for the person's answer.
/// The concerns are listed here too: the next attempt's prompt quotes how this one ended.
pub fn peer_asked(pr: u64, url: &str, concerns: &[(String, Finding)]) -> String {
    let mut out = format!(
        "⚠️ The pull request [#{pr}]({url}) is open, but most reviewers share concerns \
         about it. bosun asked about them below; answer there by mentioning bosun, and the \
         next run takes your answer into account.\n\n"
    );
    for (reviewer, finding) in concerns.iter().take(MAX_LISTED) {
        out.push_str(&finding_item(reviewer, finding));
    }
    out
}

/// The question on the issue about the reviewers' shared concerns.
pub fn peer_question(requester: &str, pr: u64, concerns: &[(String, Finding)]) -> String {
    let mut out = format!(
        "@{requester} before the change in #{pr} goes further: the agents reviewing it share \
         these concerns, and the issue does not settle them.\n\n"
    );
    for (reviewer, finding) in concerns.iter().take(MAX_LISTED) {
        out.push_str(&finding_item(reviewer, finding));
    }
    out.push_str(
        "\nHow should it be? Answer by mentioning bosun with what you want (for example \
         `@bosun keep the old behaviour for empty input`), and the next run works from your \
         answer.",
    );
    out
}

/// How the attempt ends when a reviewer noted concerns (the pull request is open).
pub fn peer_noted(pr: u64, url: &str, draft: bool) -> String {
    format!(
        "{} A reviewer raised a concern; it is noted in the review on the pull request.",
        super::pull_opened(pr, url, draft)
    )
}

/// How the attempt ends when no reviewer could review the change.
pub fn peer_unreviewed(pr: u64, url: &str, failures: &[(String, String)]) -> String {
    let mut out = format!(
        "⚠️ The pull request [#{pr}]({url}) is open, but no reviewer agent could review \
         it, so nobody but the gates has checked it yet. Review it yourself.\n\n"
    );
    for (reviewer, why) in failures {
        out.push_str(&format!(
            "- `{}`: {}\n",
            reviewer.replace('`', "'"),
            one_paragraph(why)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity, file: Option<&str>, line: Option<u64>, text: &str) -> Finding {
        Finding {
            severity,
            file: file.map(str::to_string),
            line,
            text: text.into(),
        }
    }

    #[test]
    fn a_review_body_with_findings_off_the_diff_and_a_failed_reviewer() {
        let verdict = Verdict {
            summary: "The parser change is fine; @octocat's edge case is not handled.".into(),
            findings: vec![
                finding(Severity::Blocker, Some("src/a.rs"), Some(3), "Off by one."),
                finding(Severity::Nit, None, None, "Name it `parse_all`."),
            ],
        };
        let body = peer_review_body(
            &[("codex".into(), verdict.clone())],
            &[("codex".into(), verdict.findings[1].clone())],
            &[("gemini".into(), "it printed no verdict".into())],
            &Decision::Escalate,
            "<!-- bosun:peer-review 1:1 -->",
        );
        insta::assert_snapshot!("peer_review_body", body);
        assert!(!body.contains("@octocat"), "mentions are defused");
    }

    #[test]
    fn tracking_lines_show_each_pass_and_the_fix_round_between() {
        use bosun_core::model::PeerProgress;
        let review = |pass, running, blockers| PeerProgress {
            pass,
            reviewer: "codex".into(),
            running,
            findings: FindingCounts {
                blockers,
                concerns: 0,
                nits: 1,
            },
            failed: None,
            secs: 42,
        };
        let mut run = RunProgress::default();
        run.peer = vec![review(1, false, 1)];
        run.peer_fix = Some(1);
        assert_eq!(
            peer_steps(&run, true),
            "- [x] Review by `codex`: 1 blocker · 0 concerns · 1 nit · 42s\n\
             - 🔁 1 blocker went back to the agent for one round of fixes\n"
        );
        run.peer.push(review(2, true, 0));
        assert_eq!(
            peer_steps(&run, true),
            "- [x] Review by `codex`: 1 blocker · 0 concerns · 1 nit · 42s\n\
             - 🔁 1 blocker went back to the agent for one round of fixes\n\
             - [ ] Review by `codex` (after the fixes) · 🔄 reviewing\n"
        );
    }

    #[test]
    fn the_question_names_the_requester_and_each_concern() {
        let q = peer_question(
            "octocat",
            7,
            &[
                (
                    "codex".into(),
                    finding(Severity::Concern, Some("a.rs"), None, "Empty input?"),
                ),
                (
                    "claude".into(),
                    finding(Severity::Concern, None, None, "Ask @hubot."),
                ),
            ],
        );
        assert!(q.starts_with("@octocat "), "{q}");
        assert!(q.contains("(`a.rs`, `codex`): Empty input?"), "{q}");
        assert!(
            q.contains("(the whole change, `claude`): Ask @\u{200b}hubot."),
            "{q}"
        );
    }
}
