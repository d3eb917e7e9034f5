//! Which versions of each CLI the adapters were checked against: the oldest version with
//! recorded streams in `tests/fixtures/agent-streams/` (and, for Claude Code and Codex, runs
//! through bosun's pipeline in `tests/real_cli.rs`). An older CLI may speak a stream format or
//! take flags the adapter does not know, so `bosun doctor` names it. Pure.

use super::AdapterKind;

/// The oldest version each adapter's parser and flags were checked against.
pub fn oldest_known(kind: AdapterKind) -> Option<Version> {
    let text = match kind {
        // Captures of 2.1.197 (npm) and 2.1.332 (PyPI, and the real-CLI tests).
        AdapterKind::Claude => "2.1.197",
        // Captures of 0.147.0 (PyPI, and the real-CLI tests) and 0.169.0 (npm).
        AdapterKind::Codex => "0.147.0",
        AdapterKind::Gemini => "0.61.0",
        AdapterKind::OpenCode => "1.18.33",
        AdapterKind::Command => return None,
    };
    Version::find(text)
}

/// A dotted version of up to three numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u64, pub u64, pub u64);

impl Version {
    /// The first `X.Y[.Z]` in a CLI's `--version` output (`2.1.332 (Claude Code)`,
    /// `codex-cli 0.147.0`).
    pub fn find(text: &str) -> Option<Version> {
        text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|word| word.contains('.'))
            .find_map(|word| {
                let mut parts = word.split('.').filter(|p| !p.is_empty());
                let major = parts.next()?.parse().ok()?;
                let minor = parts.next()?.parse().ok()?;
                let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
                Some(Version(major, minor, patch))
            })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// Why the CLI's `--version` output names a version older than the adapter knows, if it does.
pub fn too_old(kind: AdapterKind, version_output: &str) -> Option<String> {
    let known = oldest_known(kind)?;
    let found = Version::find(version_output)?;
    (found < known).then(|| {
        format!(
            "{found} is older than the versions bosun's `{}` adapter was checked against \
             ({known} and later): its flags or output may differ; update the CLI in the image",
            kind.name()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_found_in_what_the_clis_print() {
        assert_eq!(
            Version::find("2.1.332 (Claude Code)"),
            Some(Version(2, 1, 332))
        );
        assert_eq!(Version::find("codex-cli 0.147.0"), Some(Version(0, 147, 0)));
        assert_eq!(Version::find("v1.18"), Some(Version(1, 18, 0)));
        assert_eq!(Version::find("no version here"), None);
    }

    #[test]
    fn an_older_cli_is_named_and_a_known_or_newer_one_is_not() {
        let old = too_old(AdapterKind::Claude, "1.0.33 (Claude Code)").unwrap();
        assert!(old.contains("1.0.33 is older"), "{old}");
        assert!(old.contains("2.1.197 and later"), "{old}");
        assert_eq!(too_old(AdapterKind::Claude, "2.1.332 (Claude Code)"), None);
        assert_eq!(too_old(AdapterKind::Codex, "codex-cli 0.147.0"), None);
        assert!(too_old(AdapterKind::Codex, "codex-cli 0.46.0").is_some());
        assert_eq!(too_old(AdapterKind::Command, "0.0.1"), None);
        assert_eq!(too_old(AdapterKind::Gemini, "unparsable"), None);
    }
}
