//! `bosun doctor`: checks what a server needs, in the order it needs it, and prints one line
//! per check: `ok`, `warn` or `FAIL` and what to do, or `skip` when an earlier failure makes
//! the check meaningless (a GitHub call without a key would only repeat the key's failure).
//! Exits non-zero when any check fails.
//!
//! It reads the same flags and environment as `bosun serve`, so it sees what the server would.
//! Nothing here changes the server's state. It starts one throw-away container per agent, to
//! ask the agent's CLI for its version, in a scratch directory under the data directory (which
//! it creates, owner-only as the server would, if it is missing).

mod agents;
mod disk;
mod docker;
mod egress;
mod github;
mod keys;
mod setup;

use std::fmt;

use crate::config::server::ServerConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
    /// Not checked, because something it depends on failed above.
    Skip,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
            Level::Skip => "skip",
        })
    }
}

/// One check's outcome: what was checked, and one line saying how it stands or what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub what: String,
    pub text: String,
}

impl Finding {
    pub fn new(level: Level, what: impl Into<String>, text: impl Into<String>) -> Self {
        Finding {
            level,
            what: what.into(),
            // One line each, whatever an error message held.
            text: text.into().split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }

    pub fn ok(what: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Level::Ok, what, text)
    }

    pub fn warn(what: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Level::Warn, what, text)
    }

    pub fn fail(what: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Level::Fail, what, text)
    }

    pub fn skip(what: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(Level::Skip, what, text)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<4}  {}: {}",
            self.level.to_string(),
            self.what,
            self.text
        )
    }
}

/// Prints findings as they come (the container checks take seconds) and counts failures.
#[derive(Default)]
struct Report {
    failures: usize,
}

impl Report {
    fn add(&mut self, finding: Finding) {
        if finding.level == Level::Fail {
            self.failures += 1;
        }
        println!("{finding}");
    }

    /// Adds a check's finding and hands on what it found for the checks after it.
    fn take<T>(&mut self, (finding, found): (Finding, Option<T>)) -> Option<T> {
        self.add(finding);
        found
    }
}

/// Progress of a long step, on stderr so stdout keeps one line per check.
pub(crate) fn progress(text: &str) {
    eprintln!("…     {text}");
}

/// Runs every check; true when none failed.
pub async fn run(config: ServerConfig) -> bool {
    let mut report = Report::default();
    let run_config = report.take(setup::run_config(&config));
    report.add(setup::run_mode(&config));
    let credentials = report.take(setup::credentials(&config));

    match &credentials {
        Some(creds) => match report.take(github::app(&config, creds).await) {
            Some((transport, app)) => report.add(github::installations(&transport, &app).await),
            None => report.add(Finding::skip(
                "installations",
                "not asked until GitHub accepts the App's key",
            )),
        },
        None => report.add(Finding::skip(
            "GitHub App",
            "not asked until the App's credentials load",
        )),
    }

    match &run_config {
        // The placeholder step runs nothing: no engine, image or CLI is needed.
        _ if config.run_mode == "placeholder" => report.add(Finding::skip(
            "sandbox",
            "placeholder mode runs no agent: Docker and agent images are not needed",
        )),
        Some(run_config) => {
            let engine = report.take(docker::engine(run_config, &config.data_dir).await);
            for finding in agents::check(&config, run_config, engine.is_some()).await {
                report.add(finding);
            }
            report.add(egress::doors(run_config, &config.data_dir));
            for finding in keys::check(run_config, crate::run::meter_host::key_is_set) {
                report.add(finding);
            }
            report.add(egress::check(run_config));
        }
        None => report.add(Finding::skip(
            "sandbox",
            "not checked until the run configuration loads",
        )),
    }

    report.add(disk::snapshots(&config.data_dir));
    report.add(disk::free_space(&config.data_dir));
    report.failures == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_is_one_line_with_its_level_first() {
        let f = Finding::fail(
            "Docker engine",
            "not reachable\n(connection refused):  start it",
        );
        assert_eq!(
            f.to_string(),
            "FAIL  Docker engine: not reachable (connection refused): start it"
        );
        assert_eq!(Finding::ok("disk", "fine").to_string(), "ok    disk: fine");
    }
}
