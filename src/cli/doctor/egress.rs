//! The egress proxy as the run configuration sets it: on or off, whether the sandboxes can
//! reach it (their doors' folder and relay), and whether a trusted range opens what the proxy
//! exists to keep shut.

use super::Finding;
use crate::config::run::RunConfig;
use crate::egress::addresses::Range;
use crate::run::doors::DoorKeeper;
use std::path::Path;

/// Addresses no trusted range should cover without the operator meaning it.
const SENSITIVE: [(&str, &str); 2] = [
    ("169.254.169.254", "the cloud metadata service"),
    ("127.0.0.1", "this host's own services"),
];

/// The folder containers reach the proxies through: made, with a relay that runs here.
pub fn doors(run_config: &RunConfig, data_dir: &Path) -> Finding {
    const WHAT: &str = "sandbox doors";
    if !run_config.containers_mount_this_host() {
        return Finding::skip(
            WHAT,
            "containers here cannot mount this host's folders; they get no proxies",
        );
    }
    let keeper = match DoorKeeper::prepare(data_dir) {
        Ok(keeper) => keeper,
        Err(e) => return Finding::fail(WHAT, format!("{e:#}")),
    };
    let relay = keeper.relay_path();
    // With no arguments the relay prints its usage and exits 125: proof that it runs.
    match std::process::Command::new(&relay).output() {
        Ok(out) if out.status.code() == Some(125) => Finding::ok(
            WHAT,
            format!(
                "{}: the relay runs; containers reach the metering and egress proxies through \
                 sockets here, with no network of their own",
                keeper.dir().display()
            ),
        ),
        Ok(out) => Finding::fail(
            WHAT,
            format!(
                "{} answered {}: is the folder mounted noexec?",
                relay.display(),
                out.status
            ),
        ),
        Err(e) => Finding::fail(
            WHAT,
            format!(
                "{} does not run ({e}): is the folder mounted noexec?",
                relay.display()
            ),
        ),
    }
}

pub fn check(run_config: &RunConfig) -> Finding {
    let egress = &run_config.egress;
    const WHAT: &str = "egress";
    if !egress.enabled {
        return Finding::ok(
            WHAT,
            "off: runs reach no host; a repository that lists `egress:` hosts gets a failed task \
             saying so",
        );
    }
    if !run_config.sandboxes_reach_proxies() {
        return Finding::warn(
            WHAT,
            "the Docker engine cannot mount this host's folders (another host's, or checkouts \
             copied), so its containers cannot reach a proxy here: runs get no egress, and a \
             repository that lists `egress:` hosts gets a failed task",
        );
    }
    let ranges: Vec<Range> = egress
        .trusted_ranges
        .iter()
        .filter_map(|r| r.parse().ok())
        .collect();
    for (address, what) in SENSITIVE {
        let ip = address.parse().expect("a literal address");
        if let Some(range) = ranges.iter().find(|r| r.contains(ip)) {
            return Finding::warn(
                WHAT,
                format!(
                    "egress.trusted_ranges has {range}, which lets runs reach {address} \
                     ({what}) through any name that points there: trust only the registry's \
                     own addresses"
                ),
            );
        }
    }
    let ports: Vec<String> = egress.ports.iter().map(u16::to_string).collect();
    let hosts = if egress.allow.is_empty() {
        "whatever hosts a repository lists".to_string()
    } else {
        format!("only {}", egress.allow.join(", "))
    };
    Finding::ok(
        WHAT,
        format!(
            "on: {hosts}, ports {}, {} trusted range(s); the proxy starts with the first run \
             that needs it",
            ports.join(", "),
            ranges.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::doctor::Level;

    fn config(yaml: &str) -> RunConfig {
        RunConfig::parse(yaml).unwrap()
    }

    #[test]
    fn the_default_is_on_and_a_range_over_metadata_or_loopback_is_a_warning() {
        let on = check(&config(""));
        assert_eq!(on.level, Level::Ok, "{on}");
        assert!(on.text.contains("ports 80, 443"), "{on}");
        let off = check(&config("egress: {enabled: false}\n"));
        assert!(off.text.starts_with("off"), "{off}");
        let wide = check(&config("egress: {trusted_ranges: ['169.254.0.0/16']}\n"));
        assert_eq!(wide.level, Level::Warn, "{wide}");
        assert!(wide.text.contains("metadata"), "{wide}");
        let home = check(&config("egress: {trusted_ranges: ['127.0.0.0/8']}\n"));
        assert_eq!(home.level, Level::Warn, "{home}");
        let intranet = check(&config(
            "egress: {trusted_ranges: ['10.1.2.0/24'], allow: [pkg.example.org]}\n",
        ));
        assert_eq!(intranet.level, Level::Ok, "{intranet}");
        assert!(intranet.text.contains("only pkg.example.org"), "{intranet}");
    }
}
