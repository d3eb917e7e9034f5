//! The command line: `<ingest|ack|all|run|env|proxy> [--seconds N] [--connections N]
//! [--issues N] [--tasks N] [--agent-secs N] [--setup-secs N] [--calls N] [--fsync-delay-us N]`.
//! Parsed by hand: a few numeric flags do not justify another dependency in the bench.

use anyhow::{bail, Context};

pub const USAGE: &str =
    "usage: bosun-bench <ingest|ack|all|run|env|proxy> [--seconds N] [--connections N]
                   [--issues N] [--tasks N] [--agent-secs N] [--setup-secs N] [--calls N]
                   [--fsync-delay-us N]

  ingest   signed webhooks over keep-alive connections: deliveries/s and ack latency
  ack      webhook -> eyes reaction latency, one labelled issue at a time
  all      ingest, then ack, against the same server
  run      webhook -> agent running in Docker, agent exit -> draft PR, beside a fresh
           git clone per task (needs a Docker engine and Debian's busybox-static)
  env      run, twice, with a set-up of --setup-secs before each agent: run every time, then
           kept as an environment snapshot that later tasks start from
  proxy    streamed model calls straight to a fake model API and through bosun's
           metering proxy, in process on loopback: time to last byte and added latency

  --seconds N       measured load time of ingest (default 10, after a 1 s warm-up)
  --connections N   concurrent keep-alive connections of ingest (default 32)
  --issues N        issues labelled by ack (default 100)
  --tasks N         tasks run one at a time by run (default 10)
  --agent-secs N    how long run's fake agent works (default 1)
  --setup-secs N    how long env's set-up step takes (default 10)
  --calls N         streamed calls per side measured by proxy (default 2000)
  --fsync-delay-us N  ingest and ack: every fsync of the server waits N microseconds more,
                    to see what a slower disk than this machine's would give (a preload
                    library, crates/slow-disk; a sleep, so no CPU and no queueing)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ingest,
    Ack,
    All,
    Run,
    Env,
    Proxy,
}

impl Mode {
    pub fn runs_ingest(self) -> bool {
        matches!(self, Mode::Ingest | Mode::All)
    }

    pub fn runs_ack(self) -> bool {
        matches!(self, Mode::Ack | Mode::All)
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Ingest => "ingest",
            Mode::Ack => "ack",
            Mode::All => "all",
            Mode::Run => "run",
            Mode::Env => "env",
            Mode::Proxy => "proxy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub mode: Mode,
    pub seconds: u64,
    pub connections: usize,
    pub issues: u64,
    pub tasks: u64,
    pub agent_secs: u64,
    pub setup_secs: u64,
    pub calls: u64,
    /// Added to each fsync of the server, to stand in for a slower disk.
    pub fsync_delay_us: Option<u64>,
}

/// Upper bounds that keep a typo from turning into an hour-long run or a fork bomb of sockets.
const MAX_SECONDS: u64 = 600;
const MAX_CONNECTIONS: usize = 1024;
const MAX_ISSUES: u64 = 10_000;
const MAX_CALLS: u64 = 100_000;
const MAX_FSYNC_DELAY_US: u64 = 100_000;

/// `Ok(None)` means help was asked for.
pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Args>> {
    let mut mode = None;
    let mut parsed = Args {
        mode: Mode::All,
        seconds: 10,
        connections: 32,
        issues: 100,
        tasks: 10,
        agent_secs: 1,
        setup_secs: 10,
        calls: 2000,
        fsync_delay_us: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| -> anyhow::Result<u64> {
            let v = args
                .next()
                .with_context(|| format!("{flag} needs a number"))?;
            let n: u64 = v
                .parse()
                .with_context(|| format!("{flag} {v}: not a number"))?;
            anyhow::ensure!(n > 0, "{flag} must be at least 1");
            Ok(n)
        };
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok(None),
            "--seconds" => parsed.seconds = value("--seconds")?.min(MAX_SECONDS),
            "--connections" => {
                parsed.connections = (value("--connections")? as usize).min(MAX_CONNECTIONS)
            }
            "--issues" => parsed.issues = value("--issues")?.min(MAX_ISSUES),
            "--tasks" => parsed.tasks = value("--tasks")?.min(100),
            "--agent-secs" => parsed.agent_secs = value("--agent-secs")?.min(600),
            "--setup-secs" => parsed.setup_secs = value("--setup-secs")?.min(600),
            "--calls" => parsed.calls = value("--calls")?.min(MAX_CALLS),
            "--fsync-delay-us" => {
                parsed.fsync_delay_us = Some(value("--fsync-delay-us")?.min(MAX_FSYNC_DELAY_US))
            }
            "ingest" | "ack" | "all" | "run" | "env" | "proxy" if mode.is_none() => {
                mode = Some(match arg.as_str() {
                    "ingest" => Mode::Ingest,
                    "ack" => Mode::Ack,
                    "run" => Mode::Run,
                    "env" => Mode::Env,
                    "proxy" => Mode::Proxy,
                    _ => Mode::All,
                })
            }
            other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
        }
    }
    parsed.mode = mode.with_context(|| format!("which benchmark?\n\n{USAGE}"))?;
    anyhow::ensure!(
        parsed.fsync_delay_us.is_none() || parsed.mode.runs_ingest() || parsed.mode.runs_ack(),
        "--fsync-delay-us is for ingest, ack and all"
    );
    Ok(Some(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> anyhow::Result<Option<Args>> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse_str("all").unwrap().unwrap();
        assert_eq!(
            (a.mode, a.seconds, a.connections, a.issues),
            (Mode::All, 10, 32, 100)
        );
        let a = parse_str("ingest --seconds 3 --connections 8")
            .unwrap()
            .unwrap();
        assert_eq!((a.mode, a.seconds, a.connections), (Mode::Ingest, 3, 8));
        assert!(parse_str("--help").unwrap().is_none());
        let a = parse_str("run --tasks 3 --agent-secs 2").unwrap().unwrap();
        assert_eq!((a.mode, a.tasks, a.agent_secs), (Mode::Run, 3, 2));
        let a = parse_str("proxy --calls 50").unwrap().unwrap();
        assert_eq!((a.mode, a.calls), (Mode::Proxy, 50));
        assert_eq!(parse_str("proxy").unwrap().unwrap().calls, 2000);
        assert_eq!(parse_str("all").unwrap().unwrap().fsync_delay_us, None);
        let a = parse_str("ingest --fsync-delay-us 700").unwrap().unwrap();
        assert_eq!(a.fsync_delay_us, Some(700));
    }

    #[test]
    fn mistakes_are_refused() {
        assert!(parse_str("").is_err());
        assert!(parse_str("ingest ack").is_err());
        assert!(parse_str("ack --issues").is_err());
        assert!(parse_str("ack --issues 0").is_err());
        assert!(parse_str("ack --issues many").is_err());
        assert!(parse_str("proxy --fsync-delay-us 500").is_err());
    }
}
