//! Finding and redacting secrets in what an agent produced (trust rule 5): text bosun posts on
//! GitHub (summaries, logs, review replies) is redacted; files that would be pushed are scanned
//! with [`Redactor::find`] and a hit blocks the push.
//!
//! Two kinds of needles:
//! - exact secrets bosun knows (model API keys, the per-task canary, the installation token).
//!   Shorter than [`MIN_EXACT_LEN`] characters they are ignored: redacting every "a" would
//!   destroy the text and the value was not much of a secret anyway;
//! - token families recognisable by shape (GitHub, Anthropic, OpenAI, Google), so a key bosun
//!   never saw is caught as well. A prefix only counts at the start of a word: `xghs_…` is not
//!   a token.
//!
//! Limits, on purpose: a secret is matched only as one unbroken run of bytes, so a token split
//! across lines, re-encoded (base64, URL-encoding) or spelled with spaces is not found. Catching
//! those needs decoding every encoding an agent could choose; the sandbox holding no credentials
//! (trust rule 3) is the real defence, this is the net below it.
//!
//! The scan is hand-written (no regex): one pass over the bytes, with a 256-entry first-byte
//! table for the exact secrets and a check of the few family prefixes, so it is linear in the
//! input for a fixed set of secrets and works on arbitrary bytes (binary files included).

use std::fmt;

/// Exact secrets shorter than this (in characters) are ignored.
pub const MIN_EXACT_LEN: usize = 8;
/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";
/// [`Redactor::find`] stops after this many hits: enough to say what and where.
pub const MAX_HITS: usize = 10;

/// A recognisable token shape: `prefix` then a run of `body` bytes of an allowed length.
struct Family {
    prefix: &'static [u8],
    kind: &'static str,
    body: fn(u8) -> bool,
    min: usize,
    /// `Some(n)`: the run must be exactly `n` long (a longer run is some other identifier).
    exact: Option<usize>,
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn word_or_dash(b: u8) -> bool {
    word(b) || b == b'-'
}

const fn github(prefix: &'static [u8], kind: &'static str) -> Family {
    Family {
        prefix,
        kind,
        body: alnum,
        min: 30,
        exact: None,
    }
}

/// Longer prefixes first where one is a prefix of another (none today, but order is the rule).
const FAMILIES: &[Family] = &[
    github(b"ghp_", "GitHub token (ghp_)"),
    github(b"gho_", "GitHub token (gho_)"),
    github(b"ghu_", "GitHub token (ghu_)"),
    github(b"ghs_", "GitHub token (ghs_)"),
    github(b"ghr_", "GitHub token (ghr_)"),
    Family {
        prefix: b"github_pat_",
        kind: "GitHub token (github_pat_)",
        body: word,
        min: 30,
        exact: None,
    },
    Family {
        prefix: b"sk-ant-",
        kind: "Anthropic API key",
        body: word_or_dash,
        min: 20,
        exact: None,
    },
    Family {
        prefix: b"sk-proj-",
        kind: "OpenAI API key",
        body: word_or_dash,
        min: 20,
        exact: None,
    },
    Family {
        prefix: b"sk-svcacct-",
        kind: "OpenAI API key",
        body: word_or_dash,
        min: 20,
        exact: None,
    },
    Family {
        prefix: b"AIza",
        kind: "Google API key",
        body: word_or_dash,
        min: 35,
        exact: Some(35),
    },
];

/// Where a secret was found, and what kind. Never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretHit {
    /// `"GitHub token (ghs_)"`, `"configured secret"`, …
    pub kind: &'static str,
    /// Byte offset of the secret's first byte.
    pub offset: usize,
}

/// Finds and redacts secrets; cheap to share (`&self` only).
#[derive(Clone)]
pub struct Redactor {
    /// Distinct exact secrets, as bytes.
    exact: Vec<Vec<u8>>,
    /// For each possible first byte, the indexes into `exact` of secrets starting with it.
    by_first_byte: Vec<Vec<usize>>,
}

/// By hand, so that logging a `Redactor` can never print what it protects.
impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("exact_secrets", &self.exact.len())
            .field("token_families", &FAMILIES.len())
            .finish()
    }
}

/// One match: bytes `start..end`.
#[derive(Debug, Clone, Copy)]
struct Match {
    start: usize,
    end: usize,
    kind: &'static str,
}

impl Redactor {
    /// A redactor for these exact secrets (plus the token families, always on). Surrounding
    /// whitespace is trimmed; secrets then shorter than [`MIN_EXACT_LEN`] characters and
    /// duplicates are dropped.
    pub fn new(exact: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<Vec<u8>> = exact
            .into_iter()
            // A key read from a file often ends in a newline that the leaked copy lacks; every
            // occurrence of the untrimmed secret contains the trimmed one, so nothing is lost.
            .map(|s| s.trim().to_string())
            .filter(|s| s.chars().count() >= MIN_EXACT_LEN)
            .map(String::into_bytes)
            .collect();
        secrets.sort();
        secrets.dedup();
        let mut by_first_byte = vec![Vec::new(); 256];
        for (index, secret) in secrets.iter().enumerate() {
            if let Some(&first) = secret.first() {
                by_first_byte[usize::from(first)].push(index);
            }
        }
        Redactor {
            exact: secrets,
            by_first_byte,
        }
    }

    /// `text` with every secret replaced by [`REDACTED`]. Overlapping or adjacent secrets become
    /// one `[REDACTED]`, so no byte of any of them survives.
    pub fn redact(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut pos = 0;
        let mut span: Option<(usize, usize)> = None;
        let flush = |out: &mut String, pos: &mut usize, (start, end): (usize, usize)| {
            // Matches start and end on ASCII bytes or at the edges of a valid UTF-8 needle, so
            // these are char boundaries; `get` keeps even a logic slip from panicking.
            out.push_str(text.get(*pos..start).unwrap_or_default());
            out.push_str(REDACTED);
            *pos = end;
        };
        self.scan(text.as_bytes(), |m| {
            span = match span {
                Some((start, end)) if m.start <= end => Some((start, end.max(m.end))),
                Some(done) => {
                    flush(&mut out, &mut pos, done);
                    Some((m.start, m.end))
                }
                None => Some((m.start, m.end)),
            };
            true
        });
        if let Some(done) = span {
            flush(&mut out, &mut pos, done);
        }
        out.push_str(text.get(pos..).unwrap_or_default());
        out
    }

    /// The first [`MAX_HITS`] secrets in `bytes` (any bytes: a binary file is fine), in order.
    /// A hit that starts inside the previous one is not reported again.
    pub fn find(&self, bytes: &[u8]) -> Vec<SecretHit> {
        let mut hits: Vec<SecretHit> = Vec::new();
        let mut covered_until = 0;
        self.scan(bytes, |m| {
            if m.start >= covered_until {
                hits.push(SecretHit {
                    kind: m.kind,
                    offset: m.start,
                });
            }
            covered_until = covered_until.max(m.end);
            hits.len() < MAX_HITS
        });
        hits
    }

    /// Calls `on_match` for every match in order of start (families before exact secrets at the
    /// same start) until it returns false.
    fn scan(&self, bytes: &[u8], mut on_match: impl FnMut(Match) -> bool) {
        // A family match runs to the end of its body; a match starting inside it would end at
        // the same place, so family checks resume after it (this keeps the scan linear).
        let mut family_skip_until = 0;
        for start in 0..bytes.len() {
            if start >= family_skip_until {
                if let Some(m) = family_at(bytes, start) {
                    family_skip_until = m.end;
                    if !on_match(m) {
                        return;
                    }
                }
            }
            for &index in &self.by_first_byte[usize::from(bytes[start])] {
                let secret = &self.exact[index];
                if bytes[start..].starts_with(secret) {
                    let m = Match {
                        start,
                        end: start + secret.len(),
                        kind: "configured secret",
                    };
                    if !on_match(m) {
                        return;
                    }
                }
            }
        }
    }
}

/// A token of one of the [`FAMILIES`] starting exactly at `start`, if any.
fn family_at(bytes: &[u8], start: usize) -> Option<Match> {
    let first = bytes[start];
    if !matches!(first, b'g' | b's' | b'A') {
        return None;
    }
    if start > 0 && word(bytes[start - 1]) {
        return None;
    }
    FAMILIES.iter().find_map(|family| {
        let rest = &bytes[start..];
        if !rest.starts_with(family.prefix) {
            return None;
        }
        let body_start = start + family.prefix.len();
        // An exact-length family never needs to look further than one past its length; this
        // keeps `AIza-AIza-AIza-…` from being rescanned to the end at every prefix.
        let limit = family.exact.map_or(usize::MAX, |n| n + 1);
        let run = bytes[body_start..]
            .iter()
            .take(limit)
            .take_while(|&&b| (family.body)(b))
            .count();
        let fits = match family.exact {
            Some(n) => run == n,
            None => run >= family.min,
        };
        fits.then_some(Match {
            start,
            end: body_start + run,
            kind: family.kind,
        })
    })
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
