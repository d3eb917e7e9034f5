//! The command line: `<ingest|ack|all|run|env|proxy|flood|drain|labels|tasks|mix> [--seconds N] [--connections N]
//! [--issues N] [--tasks N] [--agent-secs N] [--setup-secs N] [--calls N] [--fsync-delay-us N]
//! [--slow N] [--big N] [--big-mib N] [--rate N] [--max-connections N]
//! [--header-timeout-secs N]`.
//! Parsed by hand: a few numeric flags do not justify another dependency in the bench.

use anyhow::{bail, Context};

pub const USAGE: &str =
    "usage: bosun-bench <ingest|ack|all|run|env|proxy|flood|drain|labels|tasks|mix> [--seconds N] [--connections N]
                   [--issues N] [--tasks N] [--agent-secs N] [--setup-secs N] [--calls N]
                   [--fsync-delay-us N] [--slow N] [--big N] [--big-mib N] [--rate N]
                   [--max-connections N] [--header-timeout-secs N]

  ingest   signed webhooks over keep-alive connections: deliveries/s and ack latency
  ack      webhook -> eyes reaction latency, one labelled issue at a time
  all      ingest, then ack, against the same server
  run      webhook -> agent running in Docker, agent exit -> draft PR, beside a fresh
           git clone per task (needs a Docker engine and Debian's busybox-static)
  env      run, twice, with a set-up of --setup-secs before each agent: run every time, then
           kept as an environment snapshot that later tasks start from
  proxy    streamed model calls straight to a fake model API and through bosun's
           metering proxy, in process on loopback: time to last byte and added latency
  labels   a label flood (`bug`, by a writer) on one issue, then on 500 in rotation, sent
           to bosun and then to a peer receiver (aiohttp + gidgethub, storing nothing, in a
           venv made once from PyPI): deliveries/s and ack latency of both (defaults
           --seconds 8 --connections 16)
  tasks    --tasks tasks at once over 10 repositories (a busybox agent in Docker works
           --agent-secs and writes a file; one draft PR each) while --connections send a
           label flood; when all agents ran, when all PRs were open, the server's memory
           (defaults --tasks 50 --agent-secs 20 --connections 16)
  mix      a busy organization's day (labels added and removed over 500 issues, comments,
           pushes, pull-request and check-suite events, 1% real triggers) over 10
           repositories, closed loop on --connections: alone, then while --tasks tasks run
           (as in tasks); acks, jobs queued, time until the queue is empty (needs Docker;
           defaults --seconds 6 --connections 16 --tasks 20 --agent-secs 30)
  drain    the job queue alone, in process on a SQLite file: what a claim costs with 0 to
           10,000 jobs queued (on one serial key and on 1,000), and how fast 10,000 trivial
           jobs drain with --workers workers
  flood    unauthenticated pressure, all at once: slow-loris connections, big unsigned
           bodies, and signed deliveries at a steady rate that must still be answered 2xx;
           the server's RSS peak must stay under 200 MiB

  --seconds N       measured load time of ingest (default 10, after a 1 s warm-up), or
                    length of flood (default 20)
  --connections N   concurrent keep-alive connections of ingest (default 32)
  --issues N        issues labelled by ack (default 100)
  --tasks N         tasks run one at a time by run (default 10)
  --agent-secs N    how long run's fake agent works (default 1)
  --setup-secs N    how long env's set-up step takes (default 10)
  --calls N         streamed calls per side measured by proxy (default 2000)
  --fsync-delay-us N  ingest and ack: every fsync of the server waits N microseconds more,
                    to see what a slower disk than this machine's would give (a preload
                    library, crates/slow-disk; a sleep, so no CPU and no queueing)
  --slow N          flood: slow-loris connections held open (default 500; 0 for none)
  --big N           flood: unsigned big bodies sent at a time (default 200; 0 for none)
  --big-mib N       flood: size of each big body in MiB (default 20)
  --rate N          flood: signed deliveries per second (default 20)
  --max-connections N       flood: passed to the server as BOSUN_MAX_CONNECTIONS
  --header-timeout-secs N   flood: passed to the server as BOSUN_HEADER_TIMEOUT_SECS
  --workers N       drain: workers claiming at once (default 4, the server's default)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ingest,
    Ack,
    All,
    Run,
    Env,
    Proxy,
    Flood,
    Drain,
    Labels,
    Tasks,
    Mix,
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
            Mode::Flood => "flood",
            Mode::Drain => "drain",
            Mode::Labels => "labels",
            Mode::Tasks => "tasks",
            Mode::Mix => "mix",
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
    /// Slow-loris connections held by flood.
    pub slow: usize,
    /// Big unsigned bodies in flight in flood.
    pub big: usize,
    pub big_mib: u64,
    /// Signed deliveries per second in flood.
    pub rate: u64,
    /// Passed through to the server by flood, only when given.
    pub max_connections: Option<u64>,
    pub header_timeout_secs: Option<u64>,
    /// Workers of drain.
    pub workers: usize,
}

/// Upper bounds that keep a typo from turning into an hour-long run or a fork bomb of sockets.
const MAX_SECONDS: u64 = 600;
const MAX_CONNECTIONS: usize = 1024;
const MAX_ISSUES: u64 = 10_000;
const MAX_CALLS: u64 = 100_000;
const MAX_FSYNC_DELAY_US: u64 = 100_000;
const MAX_SLOW: usize = 4096;
const MAX_BIG: usize = 1024;
/// Above bosun's 25 MiB cap, so a body over it can be tried too.
const MAX_BIG_MIB: u64 = 100;
const MAX_RATE: u64 = 1000;
const MAX_TASKS: u64 = 500;

/// `Ok(None)` means help was asked for.
pub fn parse(args: impl IntoIterator<Item = String>) -> anyhow::Result<Option<Args>> {
    let mut mode = None;
    let mut parsed = Args {
        mode: Mode::All,
        seconds: 0,
        connections: 32,
        issues: 100,
        tasks: 10,
        agent_secs: 1,
        setup_secs: 10,
        calls: 2000,
        fsync_delay_us: None,
        slow: 500,
        big: 200,
        big_mib: 20,
        rate: 20,
        max_connections: None,
        header_timeout_secs: None,
        workers: 4,
    };
    let mut seconds = None;
    let mut connections = None;
    let (mut tasks, mut agent_secs) = (None, None);
    let mut flood_flag = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // Zero allowed: flood's --slow 0 or --big 0 leave one load out.
        let mut number = |flag: &str| -> anyhow::Result<u64> {
            let v = args
                .next()
                .with_context(|| format!("{flag} needs a number"))?;
            v.parse()
                .with_context(|| format!("{flag} {v}: not a number"))
        };
        if arg.starts_with("--")
            && matches!(
                &arg[2..],
                "slow" | "big" | "big-mib" | "rate" | "max-connections" | "header-timeout-secs"
            )
        {
            flood_flag = Some(arg.clone());
        }
        let mut value = |flag: &str| -> anyhow::Result<u64> {
            let n = number(flag)?;
            anyhow::ensure!(n > 0, "{flag} must be at least 1");
            Ok(n)
        };
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok(None),
            "--seconds" => seconds = Some(value("--seconds")?.min(MAX_SECONDS)),
            "--connections" => {
                connections = Some((value("--connections")? as usize).min(MAX_CONNECTIONS))
            }
            "--issues" => parsed.issues = value("--issues")?.min(MAX_ISSUES),
            "--tasks" => tasks = Some(value("--tasks")?.min(MAX_TASKS)),
            "--agent-secs" => agent_secs = Some(value("--agent-secs")?.min(600)),
            "--setup-secs" => parsed.setup_secs = value("--setup-secs")?.min(600),
            "--calls" => parsed.calls = value("--calls")?.min(MAX_CALLS),
            "--fsync-delay-us" => {
                parsed.fsync_delay_us = Some(value("--fsync-delay-us")?.min(MAX_FSYNC_DELAY_US))
            }
            "--slow" => parsed.slow = (number("--slow")? as usize).min(MAX_SLOW),
            "--big" => parsed.big = (number("--big")? as usize).min(MAX_BIG),
            "--big-mib" => parsed.big_mib = value("--big-mib")?.min(MAX_BIG_MIB),
            "--rate" => parsed.rate = value("--rate")?.min(MAX_RATE),
            "--max-connections" => parsed.max_connections = Some(value("--max-connections")?),
            "--header-timeout-secs" => {
                parsed.header_timeout_secs = Some(value("--header-timeout-secs")?)
            }
            "--workers" => parsed.workers = (value("--workers")? as usize).min(64),
            "ingest" | "ack" | "all" | "run" | "env" | "proxy" | "flood" | "drain" | "labels"
            | "tasks" | "mix"
                if mode.is_none() =>
            {
                mode = Some(match arg.as_str() {
                    "ingest" => Mode::Ingest,
                    "ack" => Mode::Ack,
                    "run" => Mode::Run,
                    "env" => Mode::Env,
                    "proxy" => Mode::Proxy,
                    "flood" => Mode::Flood,
                    "drain" => Mode::Drain,
                    "labels" => Mode::Labels,
                    "tasks" => Mode::Tasks,
                    "mix" => Mode::Mix,
                    _ => Mode::All,
                })
            }
            other => bail!("unexpected argument {other:?}\n\n{USAGE}"),
        }
    }
    parsed.mode = mode.with_context(|| format!("which benchmark?\n\n{USAGE}"))?;
    let (default_seconds, default_connections) = match parsed.mode {
        Mode::Flood => (20, 32),
        // As the label flood was first measured (issue 21).
        Mode::Labels | Mode::Tasks => (8, 16),
        // Shorter: the mix's triggers and config pushes call the fake GitHub, whose hourly
        // quota (5,000, for every caller together) must last the whole run.
        Mode::Mix => (6, 16),
        _ => (10, 32),
    };
    parsed.seconds = seconds.unwrap_or(default_seconds);
    parsed.connections = connections.unwrap_or(default_connections);
    // `run` and `env` go one task at a time; `tasks` runs them all at once.
    let (default_tasks, default_agent_secs, most_tasks) = match parsed.mode {
        Mode::Tasks => (50, 20, MAX_TASKS),
        // Long enough agents that the tasks still run while the second load does.
        Mode::Mix => (20, 30, MAX_TASKS),
        _ => (10, 1, 100),
    };
    parsed.tasks = tasks.unwrap_or(default_tasks).min(most_tasks);
    parsed.agent_secs = agent_secs.unwrap_or(default_agent_secs);
    if let Some(flag) = flood_flag {
        anyhow::ensure!(parsed.mode == Mode::Flood, "{flag} is for flood");
    }
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
        let a = parse_str("tasks").unwrap().unwrap();
        assert_eq!(
            (a.mode, a.tasks, a.agent_secs, a.connections),
            (Mode::Tasks, 50, 20, 16)
        );
        let a = parse_str("tasks --tasks 200 --connections 4")
            .unwrap()
            .unwrap();
        assert_eq!((a.tasks, a.connections), (200, 4));
        assert_eq!(parse_str("run --tasks 300").unwrap().unwrap().tasks, 100);
        let a = parse_str("labels").unwrap().unwrap();
        assert_eq!((a.mode, a.seconds, a.connections), (Mode::Labels, 8, 16));
        let a = parse_str("labels --connections 4").unwrap().unwrap();
        assert_eq!(a.connections, 4);
        let a = parse_str("drain --workers 8").unwrap().unwrap();
        assert_eq!((a.mode, a.workers), (Mode::Drain, 8));
        assert_eq!(parse_str("drain").unwrap().unwrap().workers, 4);
        assert_eq!(parse_str("all").unwrap().unwrap().fsync_delay_us, None);
        let a = parse_str("ingest --fsync-delay-us 700").unwrap().unwrap();
        assert_eq!(a.fsync_delay_us, Some(700));
        let a = parse_str("flood").unwrap().unwrap();
        assert_eq!(
            (a.mode, a.seconds, a.slow, a.big, a.big_mib, a.rate),
            (Mode::Flood, 20, 500, 200, 20, 20)
        );
        assert_eq!((a.max_connections, a.header_timeout_secs), (None, None));
        let a = parse_str("flood --seconds 5 --slow 0 --big 3 --big-mib 30 --rate 5 --max-connections 600 --header-timeout-secs 4")
            .unwrap()
            .unwrap();
        assert_eq!(
            (a.seconds, a.slow, a.big, a.big_mib, a.rate),
            (5, 0, 3, 30, 5)
        );
        assert_eq!(
            (a.max_connections, a.header_timeout_secs),
            (Some(600), Some(4))
        );
    }

    #[test]
    fn mistakes_are_refused() {
        assert!(parse_str("").is_err());
        assert!(parse_str("ingest ack").is_err());
        assert!(parse_str("ack --issues").is_err());
        assert!(parse_str("ack --issues 0").is_err());
        assert!(parse_str("ack --issues many").is_err());
        assert!(parse_str("proxy --fsync-delay-us 500").is_err());
        assert!(parse_str("ingest --slow 10").is_err());
        assert!(parse_str("flood --rate 0").is_err());
        assert!(parse_str("flood --fsync-delay-us 500").is_err());
        assert!(parse_str("drain --workers 0").is_err());
    }
}
