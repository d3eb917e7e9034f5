//! `bosun-bench`: builds the release `bosun`, runs it as a child process against the in-process
//! fake GitHub, and prints numbers: ingest throughput and ack latency, and webhook → 👀 latency.
//! `proxy` instead measures bosun's metering proxy in process against the fake model API.
//! `flood` holds slow-loris connections and pushes big unsigned bodies at the server while
//! signed deliveries keep coming, and checks its memory peak and their answers.
//! A command to run by hand; no test asserts a time.
//!
//! `cargo run --release -p bosun-bench -- <ingest|ack|all|run|env|proxy|flood|drain|labels|tasks|mix> [--seconds N]
//! [--connections N] [--issues N] [--tasks N] [--agent-secs N] [--setup-secs N] [--calls N]
//! [--fsync-delay-us N] [--slow N] [--big N] [--big-mib N] [--rate N] [--max-connections N]
//! [--header-timeout-secs N]`

mod ack;
mod args;
mod binary;
mod disk;
mod drain;
mod flood;
mod ingest;
mod labels;
mod load;
mod metrics;
mod mix;
mod payloads;
mod peer;
mod procfs;
mod proxy;
mod run;
mod server;
mod stats;
mod tasks;

use anyhow::Context;
use args::Args;
use fake_github::FakeGitHub;
use payloads::Target;
use server::{Server, ServerEnv};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const REPO: &str = "bench-org/bench-repo";
const WRITER: &str = "bench-writer";

fn main() -> ExitCode {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bosun-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    let outcome = if args.mode == args::Mode::Proxy {
        run_proxy(args.calls)
    } else if args.mode == args::Mode::Drain {
        run_drain(args.workers)
    } else {
        binary::build_bosun().and_then(|bin| {
            // One thread for the load generator and the fake GitHub: the client shares the
            // machine's cores with the server it measures, so it must stay small and its CPU
            // use must be measurable.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(until_interrupted(run(args, bin)))
        })
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("bosun-bench: some checks failed (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bosun-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The proxy benchmark needs no bosun binary: the proxy is a library component, run here with
/// the fake model API on a two-thread runtime, as it runs inside bosun's multi-threaded server.
fn run_proxy(calls: u64) -> anyhow::Result<bool> {
    in_process(
        "proxy",
        "fake model API, metering proxy and client in this process (2 tokio worker threads), loopback",
        async move {
            println!(
                "\n== proxy: {calls} streamed Anthropic calls each way, time to last byte"
            );
            let report = proxy::run(calls).await?;
            report.print();
            let source = binary::source_version().unwrap_or_else(|| "unknown source".into());
            let machine = procfs::machine();
            println!("\n== summary (for the README)");
            println!(
                "machine {} CPUs ({}), Linux {}, shared by the client, the proxy and the fake",
                machine.cpus, machine.model, machine.kernel
            );
            println!("bosun   metering proxy from {source}, in process");
            for line in report.summary() {
                println!("{line}");
            }
            println!(
                "checks  {}",
                if report.passed() { "all passed" } else { "FAILED" }
            );
            Ok(report.passed())
        },
    )
}

/// Runs a benchmark that needs no bosun binary, on a two-thread runtime like the server's,
/// after a header naming it, the machine and `setup`.
fn in_process(
    name: &str,
    setup: &str,
    work: impl std::future::Future<Output = anyhow::Result<bool>>,
) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let machine = procfs::machine();
    println!("bosun-bench {name}");
    if cfg!(debug_assertions) {
        println!("WARNING   a debug build: run it with --release for numbers worth quoting");
    }
    println!(
        "machine   {} CPUs, {}, Linux {}",
        machine.cpus, machine.model, machine.kernel
    );
    println!("setup     {setup}");
    runtime.block_on(until_interrupted(work))
}

/// The queue benchmark needs no bosun binary either: it drives bosun's `Db` in process, on a
/// two-thread runtime like the server's, on a SQLite file in the system's temporary folder.
fn run_drain(workers: usize) -> anyhow::Result<bool> {
    let setup = format!(
        "bosun's Db in process (2 tokio worker threads), a SQLite file under {}, trivial jobs",
        std::env::temp_dir().display()
    );
    in_process("drain", &setup, async move {
        let report = drain::run(workers).await?;
        report.print();
        let source = binary::source_version().unwrap_or_else(|| "unknown source".into());
        println!("\n== summary (for the README)");
        println!("bosun   job queue from {source}, in process");
        for line in report.summary() {
            println!("{line}");
        }
        let passed = report.passed();
        println!("checks  {}", if passed { "all passed" } else { "FAILED" });
        Ok(passed)
    })
}

/// Ctrl-C or SIGTERM drops the benchmark future, and with it the server guard, which kills
/// the child: an interrupted run leaves no `bosun` behind.
async fn until_interrupted(
    work: impl std::future::Future<Output = anyhow::Result<bool>>,
) -> anyhow::Result<bool> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = work => result,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
        _ = term.recv() => anyhow::bail!("terminated"),
    }
}

/// Runs the chosen benchmarks against one server start; true when every check passed.
async fn run(args: Args, bin: PathBuf) -> anyhow::Result<bool> {
    if args.mode == args::Mode::Run {
        let source = binary::source_version().unwrap_or_else(|| "unknown source".into());
        println!("bosun-bench run\n\n== run: webhook -> agent in its container -> draft PR");
        let report = run::run(&bin, args.tasks, args.agent_secs, None).await?;
        report.print();
        print_summary(&source, &report.summary(), report.passed());
        return Ok(report.passed());
    }
    if args.mode == args::Mode::Tasks {
        let source = binary::source_version().unwrap_or_else(|| "unknown source".into());
        println!(
            "bosun-bench tasks\n\n== tasks: {} at once, during a label flood",
            args.tasks
        );
        let report = tasks::run(&bin, args.tasks, args.agent_secs, args.connections).await?;
        report.print();
        print_summary(&source, &report.summary(), report.passed());
        return Ok(report.passed());
    }
    if args.mode == args::Mode::Mix {
        let source = binary::source_version().unwrap_or_else(|| "unknown source".into());
        println!("bosun-bench mix\n\n== mix: a busy organization's day, alone and beside tasks");
        let report = mix::run(
            &bin,
            args.tasks,
            args.agent_secs,
            args.seconds,
            args.connections,
        )
        .await?;
        report.print();
        print_summary(&source, &report.summary(), report.passed());
        return Ok(report.passed());
    }
    if args.mode == args::Mode::Env {
        let source = binary::source_version().unwrap_or_else(|| "unknown source".into());
        let mut summary = Vec::new();
        let mut passed = true;
        for snapshot in [false, true] {
            let setup = run::SetUp {
                secs: args.setup_secs,
                snapshot,
            };
            let name = if snapshot { "snapshot" } else { "every time" };
            println!("\n== env: set-up {name}: webhook -> agent in its container -> draft PR");
            let report = run::run(&bin, args.tasks, args.agent_secs, Some(setup)).await?;
            report.print();
            summary.push(format!(
                "env     set-up {name} ({} s): webhook -> agent running, tasks 2..{}: {}",
                args.setup_secs,
                args.tasks,
                report.start_shown()
            ));
            passed &= report.passed();
        }
        print_summary(&source, &summary, passed);
        return Ok(passed);
    }
    let fake = FakeGitHub::start().await;
    let (repo_id, installation_id) = fake.add_repo(REPO);
    fake.set_permission(REPO, WRITER, "write");
    let target = Target {
        full_name: REPO.into(),
        repo_id,
        installation_id,
        sender_login: WRITER.into(),
        sender_id: fake.user_id(WRITER),
    };
    let secret = random_secret()?;
    let slow_disk = match args.fsync_delay_us {
        Some(us) => Some((binary::build_slow_disk()?, us)),
        None => None,
    };
    let mut more_env = Vec::new();
    let mut open_files = None;
    if args.mode == args::Mode::Flood {
        // Before the server starts: it inherits the limit, and both sides hold every connection.
        open_files = Some(flood::raise_open_files().context("raising the open-files limit")?);
        if let Some(n) = args.max_connections {
            more_env.push(("BOSUN_MAX_CONNECTIONS".to_string(), n.to_string()));
        }
        if let Some(n) = args.header_timeout_secs {
            more_env.push(("BOSUN_HEADER_TIMEOUT_SECS".to_string(), n.to_string()));
        }
    }
    let server = start_server(&bin, &fake, &secret, slow_disk.as_ref(), &more_env).await?;
    let source = binary::source_version().unwrap_or_else(|| "unknown source".into());
    print_header(&args, &bin, &source, &server, &fake);
    for (name, value) in &more_env {
        println!("          {name}={value}");
    }
    if let Some(open_files) = open_files {
        let settings = flood_settings(&args);
        let needed = flood::descriptors_needed(&settings);
        println!(
            "open files {open_files}, inherited by the server; the bench needs up to {needed}{}",
            if open_files.now < needed {
                ": TOO LOW, expect failed connects"
            } else {
                ""
            }
        );
    }
    // Every 202 waits for an fsync: the disk's speed belongs beside the numbers.
    let mut disk = disk::fsync_latency(server.data_dir())
        .map(|latency| disk::describe(&latency))
        .context("timing fsync in the data directory")?;
    if let Some(us) = args.fsync_delay_us {
        disk.push_str(&format!(
            "; the server's every fsync waits {us} µs more (--fsync-delay-us)"
        ));
    }
    println!("disk      {disk}, in the data directory, server idle");

    let mut passed = true;
    let mut summary = vec![format!("disk    {disk}")];
    if args.mode == args::Mode::Flood {
        let s = flood_settings(&args);
        println!(
            "\n== flood: {} slow-loris connections, {} unsigned {} MiB bodies at a time, {} signed \
             deliveries/s, for {} s",
            s.slow, s.big, s.big_mib, s.rate, s.seconds
        );
        let report = flood::run(&server, &secret, s).await?;
        report.print();
        passed &= report.passed();
        summary.extend(report.summary());
    }
    if args.mode == args::Mode::Labels {
        let peer = peer::Peer::start(&secret).await?;
        println!(
            "\n== labels: a label flood on one issue and on 500, to bosun and then to the peer"
        );
        let report = labels::run(
            &fake,
            &server,
            &peer,
            &target,
            &secret,
            args.seconds,
            args.connections,
        )
        .await?;
        report.print();
        passed &= report.passed();
        summary.extend(report.summary());
    }
    if args.mode.runs_ingest() {
        println!(
            "\n== ingest: {} keep-alive connections, {} s measured after a {} s warm-up",
            args.connections,
            args.seconds,
            ingest::WARMUP.as_secs()
        );
        let report = ingest::run(&server, &secret, args.seconds, args.connections).await?;
        report.print();
        passed &= report.passed();
        summary.extend(report.summary());
    }
    if args.mode.runs_ack() {
        println!(
            "\n== ack: webhook -> 👀 reaction{}",
            if args.mode.runs_ingest() {
                " (same server, after intake handled the ingest backlog)"
            } else {
                ""
            }
        );
        let report = ack::run(&fake, &server, &target, &secret, args.issues).await?;
        report.print();
        passed &= report.passed();
        summary.extend(report.summary());
    }
    if !passed {
        println!("\nlast lines of the server log:\n{}", server.log_tail(20));
    }

    print_summary(&source, &summary, passed);
    Ok(passed)
}

fn flood_settings(args: &Args) -> flood::Settings {
    flood::Settings {
        seconds: args.seconds,
        slow: args.slow,
        big: args.big,
        big_mib: args.big_mib,
        rate: args.rate,
    }
}

/// Starts `bosun serve` against the fake and waits until its engine is running; with
/// `slow_disk` (the preload library and its delay), every fsync of the server waits longer.
/// `more_env` is added to the server's environment (flood's pass-through settings).
async fn start_server(
    bin: &Path,
    fake: &FakeGitHub,
    secret: &str,
    slow_disk: Option<&(PathBuf, u64)>,
    more_env: &[(String, String)],
) -> anyhow::Result<Server> {
    // Ingest, ack and flood measure the App core: no agent runs.
    let mut extra = vec![("BOSUN_RUN_MODE".into(), "placeholder".into())];
    extra.extend(more_env.iter().cloned());
    if let Some((library, us)) = slow_disk {
        extra.push(("LD_PRELOAD".into(), library.display().to_string()));
        extra.push(("BOSUN_BENCH_FSYNC_DELAY_US".into(), us.to_string()));
    }
    let server = Server::start(bin, &ServerEnv::for_fake(fake, secret, extra)).await?;
    server::wait_engine_up(fake, &server).await?;
    Ok(server)
}

fn print_header(args: &Args, bin: &Path, source: &str, server: &Server, fake: &FakeGitHub) {
    let machine = procfs::machine();
    println!("bosun-bench {}", args.mode.name());
    if cfg!(debug_assertions) {
        println!("WARNING   this bench client is a debug build: run it with --release, or it takes CPU from the server");
    }
    println!(
        "machine   {} CPUs, {}, Linux {}",
        machine.cpus, machine.model, machine.kernel
    );
    let settings = if args.mode == args::Mode::Flood {
        let mut s = format!(
            "--seconds {} --slow {} --big {} --big-mib {} --rate {}",
            args.seconds, args.slow, args.big, args.big_mib, args.rate
        );
        if let Some(n) = args.max_connections {
            s.push_str(&format!(" --max-connections {n}"));
        }
        if let Some(n) = args.header_timeout_secs {
            s.push_str(&format!(" --header-timeout-secs {n}"));
        }
        s
    } else {
        format!(
            "--seconds {} --connections {} --issues {}",
            args.seconds, args.connections, args.issues
        )
    };
    println!("settings  {settings}; one server start for the whole run");
    println!(
        "server    {} serve (pid {}), built from {source}",
        bin.display(),
        server.pid()
    );
    println!(
        "          default settings (4 workers), RUST_LOG={}",
        server::server_log_level()
    );
    println!(
        "          SQLite (WAL, group commit, WAL fsynced before each 2xx) in {}",
        server.data_dir().display()
    );
    println!(
        "fake      GitHub at {}, in the bench process (one tokio thread with the load generator)",
        fake.url()
    );
}

/// The block to paste into the README.
fn print_summary(source: &str, lines: &[String], passed: bool) {
    let machine = procfs::machine();
    println!("\n== summary (for the README)");
    println!(
        "machine {} CPUs ({}), Linux {}, shared by bosun and the load generator",
        machine.cpus, machine.model, machine.kernel
    );
    println!(
        "bosun   release build of {source}, SQLite WAL, group commit, WAL fsynced before each 2xx"
    );
    for line in lines {
        println!("{line}");
    }
    println!("checks  {}", if passed { "all passed" } else { "FAILED" });
}

/// A fresh webhook secret per run, from the kernel's random source.
fn random_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(hex::encode(bytes))
}
