//! What a contract check reports: one [`Violation`] per broken rule, capped per check.

use std::fmt;

/// Most violations one check reports; past this a single note says how many were left out.
pub const MAX_VIOLATIONS: usize = 20;

/// One way a request, response or GraphQL document departs from GitHub's published contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where: the operation and the part of it, then a JSON pointer or a GraphQL field path,
    /// e.g. `POST /repos/{owner}/{repo}/pulls request body /draft`.
    pub at: String,
    /// Which rule is broken, e.g. ``required property `node_id` is missing``.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// Collects violations up to [`MAX_VIOLATIONS`] and notes whether more were left out.
#[derive(Debug, Default)]
pub(crate) struct Report {
    list: Vec<Violation>,
    dropped: usize,
}

impl Report {
    pub(crate) fn push(&mut self, at: impl Into<String>, message: impl Into<String>) {
        if self.list.len() < MAX_VIOLATIONS {
            self.list.push(Violation {
                at: at.into(),
                message: message.into(),
            });
        } else {
            self.dropped += 1;
        }
    }

    /// Whether the cap is reached (callers may stop looking).
    pub(crate) fn is_full(&self) -> bool {
        self.list.len() >= MAX_VIOLATIONS
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The violations, without exact duplicates, plus a note if some were left out.
    pub(crate) fn finish(self) -> Vec<Violation> {
        let mut list = Vec::with_capacity(self.list.len() + 1);
        for v in self.list {
            if !list.contains(&v) {
                list.push(v);
            }
        }
        if self.dropped > 0 {
            list.push(Violation {
                at: "(contract check)".to_owned(),
                message: format!(
                    "more violations not shown (a check stops after {MAX_VIOLATIONS})"
                ),
            });
        }
        list
    }
}

/// A short rendering of a JSON value for messages: compact JSON, cut at 60 characters.
pub(crate) fn show(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= 60 {
        text
    } else {
        let cut: String = text.chars().take(57).collect();
        format!("{cut}…")
    }
}
