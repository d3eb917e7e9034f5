//! Named sets of hosts a repository (or the server's clamp) can list under `egress:` instead
//! of spelling each host: the package registries most set-ups fetch from. A preset expands to
//! exact names, never to a wildcard, so listing one opens no more than its registry needs.

/// Each preset's name and its hosts.
pub const PRESETS: &[(&str, &[&str])] = &[
    // The index (sparse protocol) and the crate files; `crates.io` itself for the API.
    (
        "crates.io",
        &["crates.io", "index.crates.io", "static.crates.io"],
    ),
    // The simple index and the distribution files.
    ("pypi", &["pypi.org", "files.pythonhosted.org"]),
    ("npm", &["registry.npmjs.org", "registry.yarnpkg.com"]),
    // The module proxy and the checksum database `go` asks by default.
    ("go", &["proxy.golang.org", "sum.golang.org"]),
    ("debian", &["deb.debian.org", "security.debian.org"]),
    // A release asset's URL on the site redirects to one of the asset hosts.
    (
        "github-releases",
        &[
            "github.com",
            "objects.githubusercontent.com",
            "release-assets.githubusercontent.com",
        ],
    ),
];

/// The hosts of the preset named `name`, if it is one.
pub fn hosts(name: &str) -> Option<&'static [&'static str]> {
    let name = name.trim();
    PRESETS
        .iter()
        .find(|(preset, _)| preset.eq_ignore_ascii_case(name))
        .map(|(_, hosts)| *hosts)
}

/// The presets' names, for an error that lists them.
pub fn names() -> String {
    PRESETS
        .iter()
        .map(|(name, _)| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::normalize;

    #[test]
    fn every_preset_expands_to_valid_exact_names() {
        for (name, hosts) in PRESETS {
            assert!(!hosts.is_empty(), "{name}");
            for host in *hosts {
                assert_eq!(normalize(host).as_deref(), Ok(*host), "{name}: {host}");
            }
        }
        assert_eq!(hosts("PyPI"), hosts("pypi"));
        assert_eq!(hosts("pipy"), None);
    }
}
