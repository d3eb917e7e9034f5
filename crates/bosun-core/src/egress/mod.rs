//! Which hosts a run may reach through the egress proxy: exact host names and suffix patterns,
//! as a repository's `egress:` and the server's clamp write them. Pure: resolving names and
//! refusing addresses is the proxy's (`bosun::egress`).
//!
//! A pattern is a DNS name (`registry.example.org`), matching that host only, or `*.` and a
//! name (`*.example.org`), matching any host below it but not the name itself. Names are
//! compared in lower case, a trailing dot ignored. IP literals, ports, schemes, paths and
//! wildcards anywhere else are refused with a reason: an allowlist of addresses would let a run
//! reach whatever a name could never be checked for. A preset's name (`pypi`, `npm`, see
//! [`presets`]) stands for its registry's hosts.

pub mod presets;

use std::fmt;
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This host only.
    Exact(String),
    /// Any host below this domain (`*.example.org` is stored as `example.org`).
    Below(String),
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let trimmed = text.trim();
        let (below, name) = match trimmed.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        let name = normalize(name).map_err(|why| format!("egress `{trimmed}`: {why}"))?;
        if below && !name.contains('.') {
            return Err(format!(
                "egress `{trimmed}`: a wildcard needs a domain with a dot after it, not a \
                 top-level domain"
            ));
        }
        Ok(if below {
            HostPattern::Below(name)
        } else {
            HostPattern::Exact(name)
        })
    }

    /// Whether `host` (already normalized by [`normalize`]) matches.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(name) => host == name,
            HostPattern::Below(domain) => host
                .strip_suffix(domain.as_str())
                .is_some_and(|head| head.len() > 1 && head.ends_with('.')),
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(name) => f.write_str(name),
            HostPattern::Below(domain) => write!(f, "*.{domain}"),
        }
    }
}

/// The hosts one run may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    patterns: Vec<HostPattern>,
    /// The server's clamp: when not empty, a host must match one of these too.
    within: Vec<HostPattern>,
}

impl Allowlist {
    /// Every entry parsed, presets expanded to their hosts; the first bad one is the error.
    /// A single word that is not a preset is refused (bar `localhost`): a misspelt preset
    /// would otherwise pass as a host name nothing resolves to.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Allowlist, String> {
        let mut patterns = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if let Some(hosts) = presets::hosts(entry) {
                patterns.extend(hosts.iter().map(|h| HostPattern::Exact(h.to_string())));
                continue;
            }
            let one_word = !entry.is_empty()
                && entry
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if one_word && !entry.eq_ignore_ascii_case("localhost") {
                return Err(format!(
                    "egress `{entry}` is neither a preset ({}) nor a host name with its domain",
                    presets::names()
                ));
            }
            patterns.push(HostPattern::parse(entry)?);
        }
        Ok(Allowlist {
            patterns,
            within: Vec::new(),
        })
    }

    /// This list narrowed to the hosts `server` allows too (a server that lists none narrows
    /// nothing).
    pub fn within(mut self, server: &Allowlist) -> Allowlist {
        self.within = server.patterns.clone();
        self
    }

    /// Whether `host` is allowed; a host that is not a valid name (an IP literal among them)
    /// never is.
    pub fn allows(&self, host: &str) -> bool {
        match normalize(host) {
            Ok(host) => {
                self.patterns.iter().any(|p| p.matches(&host))
                    && (self.within.is_empty() || self.within.iter().any(|p| p.matches(&host)))
            }
            Err(_) => false,
        }
    }

    pub fn patterns(&self) -> &[HostPattern] {
        &self.patterns
    }
}

/// A host name in lower case without a trailing dot, or why it is not one: empty, an IP
/// literal, a port, a scheme or path, a label that is empty, too long, or has characters a
/// DNS name does not (letters, digits, `-`, `_`; no `-` at either end).
pub fn normalize(host: &str) -> Result<String, String> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if host.is_empty() {
        return Err("an empty host name".into());
    }
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    if unbracketed.parse::<IpAddr>().is_ok() || looks_numeric(&host) {
        return Err("an IP address, not a host name".into());
    }
    if host.contains("://") || host.contains('/') {
        return Err("a host name only, without a scheme or a path".into());
    }
    if host.contains(':') {
        return Err("a host name only, without a port (80 and 443 are allowed)".into());
    }
    if host.len() > 253 {
        return Err("longer than a host name can be".into());
    }
    for label in host.split('.') {
        let ok_chars = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if label.is_empty() || label.len() > 63 || !ok_chars {
            return Err(format!("`{label}` is not a part of a host name"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("`{label}` starts or ends with `-`"));
        }
    }
    Ok(host)
}

/// Forms the resolver would read as an IPv4 address though `IpAddr` does not: all-numeric
/// labels (`2130706433`, `127.1`, `0x7f.1`).
fn looks_numeric(host: &str) -> bool {
    host.split('.').all(|label| {
        let digits = label
            .strip_prefix("0x")
            .map_or(label, |hex| hex.trim_start_matches('0'));
        !label.is_empty()
            && (label.bytes().all(|b| b.is_ascii_digit())
                || (label.starts_with("0x") && digits.bytes().all(|b| b.is_ascii_hexdigit())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_match_themselves_and_wildcards_what_is_below() {
        let list = Allowlist::parse(&["Registry.Example.org.", "*.cdn.example.net"]).unwrap();
        assert!(list.allows("registry.example.org"));
        assert!(list.allows("REGISTRY.example.org."));
        assert!(!list.allows("evil.registry.example.org"));
        assert!(!list.allows("example.org"));
        assert!(list.allows("a.cdn.example.net"));
        assert!(list.allows("a.b.cdn.example.net"));
        assert!(
            !list.allows("cdn.example.net"),
            "the name itself is not below itself"
        );
        assert!(
            !list.allows("evilcdn.example.net"),
            "a suffix match is by whole labels"
        );
        assert!(!list.allows("cdn.example.net.evil.org"));
        assert!(!Allowlist::default().allows("registry.example.org"));
    }

    #[test]
    fn ip_literals_never_match_and_are_refused_as_patterns() {
        let list = Allowlist::parse(&["*.example.org"]).unwrap();
        for literal in [
            "127.0.0.1",
            "[::1]",
            "::1",
            "169.254.169.254",
            "2130706433",
            "127.1",
            "0x7f.0.0.1",
        ] {
            assert!(!list.allows(literal), "{literal}");
            let err = HostPattern::parse(literal).unwrap_err();
            assert!(err.contains("IP address"), "{literal}: {err}");
        }
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        for (pattern, why) in [
            ("", "empty"),
            ("https://example.org", "scheme"),
            ("example.org/path", "scheme or a path"),
            ("example.org:8080", "port"),
            ("*.org", "top-level"),
            ("ex*mple.org", "not a part"),
            ("a..b", "not a part"),
            ("-a.org", "starts or ends"),
            ("*", "not a part"),
        ] {
            let err = HostPattern::parse(pattern).unwrap_err();
            assert!(err.contains(why), "{pattern}: {err}");
        }
        let err = Allowlist::parse(&["ok.example.org", "bad example"]).unwrap_err();
        assert!(err.contains("bad example"), "{err}");
    }

    #[test]
    fn a_preset_stands_for_its_hosts_and_a_misspelt_one_is_refused() {
        let list = Allowlist::parse(&["pypi", "Crates.io", "registry.example.org"]).unwrap();
        for host in [
            "pypi.org",
            "files.pythonhosted.org",
            "crates.io",
            "index.crates.io",
            "static.crates.io",
            "registry.example.org",
        ] {
            assert!(list.allows(host), "{host}");
        }
        assert!(!list.allows("evil.pypi.org"), "exact names, no wildcard");
        let err = Allowlist::parse(&["pipy"]).unwrap_err();
        assert!(err.contains("`pipy` is neither a preset"), "{err}");
        assert!(
            err.contains("`npm`") && err.contains("`github-releases`"),
            "{err}"
        );
        assert!(Allowlist::parse(&["localhost"])
            .unwrap()
            .allows("localhost"));
        let err = Allowlist::parse(&[""]).unwrap_err();
        assert!(err.contains("empty"), "{err}");
    }

    #[test]
    fn the_server_narrows_what_a_repository_lists() {
        let repo = Allowlist::parse(&["*.example.org", "other.example.net"]).unwrap();
        let server = Allowlist::parse(&["pkg.example.org"]).unwrap();
        let clamped = repo.clone().within(&server);
        assert!(clamped.allows("pkg.example.org"));
        assert!(!clamped.allows("evil.example.org"));
        assert!(!clamped.allows("other.example.net"));
        let unclamped = repo.within(&Allowlist::default());
        assert!(unclamped.allows("evil.example.org"));
    }

    #[test]
    fn patterns_print_as_written() {
        let list = Allowlist::parse(&["*.Example.org", "a.example.net"]).unwrap();
        let shown: Vec<String> = list.patterns().iter().map(|p| p.to_string()).collect();
        assert_eq!(shown, ["*.example.org", "a.example.net"]);
    }
}
