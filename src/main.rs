//! The `bosun` command line: parse, initialise tracing, hand over to the library.

use bosun::config::server::ServerConfig;
use bosun_core::ids::RepoRef;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "bosun",
    version,
    about = "A self-hosted GitHub App that turns issues into pull requests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: webhook receiver, setup page, workers.
    Serve(ServerConfig),
    /// Rebuild a repository's tasks in the database from its labels and tracking comments.
    Resync {
        /// The repository, as owner/name.
        repo: RepoRef,
        #[command(flatten)]
        config: ServerConfig,
    },
    /// Manage the server's scheduled jobs (tasks opened from a prompt on a cron schedule).
    Job {
        #[arg(long, env = "BOSUN_DATA_DIR", default_value = "./data")]
        data_dir: std::path::PathBuf,
        #[command(subcommand)]
        action: bosun::cli::schedule::JobAction,
    },
    /// Success rate, median time and cost of finished runs per agent and complexity.
    Stats {
        #[arg(long, env = "BOSUN_DATA_DIR", default_value = "./data")]
        data_dir: std::path::PathBuf,
    },
    /// Environment snapshots (what set-ups installed, reused by later tasks): list or prune.
    Env {
        #[arg(long, env = "BOSUN_DATA_DIR", default_value = "./data")]
        data_dir: std::path::PathBuf,
        #[command(subcommand)]
        action: bosun::cli::env::EnvAction,
    },
    /// What runs learned about a repository (notes added to later prompts): list or delete.
    Learnings {
        #[arg(long, env = "BOSUN_DATA_DIR", default_value = "./data")]
        data_dir: std::path::PathBuf,
        #[command(subcommand)]
        action: bosun::cli::learnings::LearningsAction,
    },
    /// Tasks in the data directory: list, show, stop, retry, read their agent logs.
    Task {
        #[arg(long, env = "BOSUN_DATA_DIR", default_value = "./data")]
        data_dir: std::path::PathBuf,
        #[command(subcommand)]
        action: bosun::cli::task::TaskAction,
    },
    /// Check the configuration, the App's credentials on GitHub, Docker, the agent images and
    /// disk space; one line per check, and what to fix.
    Doctor(ServerConfig),
    /// Try the whole loop locally: a built-in GitHub simulator, a sample repository and issue,
    /// a demo agent in Docker, and the timeline until the draft pull request exists.
    Demo(bosun::demo::DemoArgs),
    /// Exit 0 when the local server answers /health (for container health checks).
    Healthcheck {
        #[arg(long, env = "BOSUN_LISTEN", default_value = "127.0.0.1:3000")]
        listen: std::net::SocketAddr,
    },
}

fn init_tracing(format: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // When stderr is gone (its reader exited), tracing's fallback report of the failed
        // write is an `eprintln!`, which panics: every later log line would then panic the
        // task that logs it, a request's handler included. A lost log line is the lesser harm.
        .log_internal_errors(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> anyhow::Result<()> {
    forget_empty_settings();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(Cli::parse()))
}

/// An empty `BOSUN_*` or `GITHUB_*` variable counts as unset, as in a compose or systemd
/// environment file whose optional lines were left blank (`GITHUB_APP_ID=` must not be an App
/// id that fails to parse). Done before any thread exists, since it changes the environment.
fn forget_empty_settings() {
    for (name, value) in std::env::vars_os() {
        let ours = name
            .to_str()
            .is_some_and(|n| n.starts_with("BOSUN_") || n.starts_with("GITHUB_"));
        if ours && value.is_empty() {
            std::env::remove_var(&name);
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            init_tracing(&config.log_format);
            bosun::app::serve(config).await
        }
        Command::Resync { repo, config } => {
            init_tracing(&config.log_format);
            let report = bosun::cli::resync::run(config, &repo).await?;
            println!(
                "{repo}: {} labelled issues seen, {} tasks created or corrected",
                report.seen, report.changed
            );
            Ok(())
        }
        Command::Job { data_dir, action } => {
            init_tracing("text");
            println!("{}", bosun::cli::schedule::run(&data_dir, action).await?);
            Ok(())
        }
        Command::Stats { data_dir } => {
            println!("{}", bosun::cli::stats::run(&data_dir).await?);
            Ok(())
        }
        Command::Env { data_dir, action } => {
            println!("{}", bosun::cli::env::run(&data_dir, action)?);
            Ok(())
        }
        Command::Learnings { data_dir, action } => {
            println!("{}", bosun::cli::learnings::run(&data_dir, action).await?);
            Ok(())
        }
        Command::Task { data_dir, action } => bosun::cli::task::run(&data_dir, action).await,
        Command::Doctor(config) => {
            if !bosun::cli::doctor::run(config).await {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Demo(args) => {
            let code = bosun::demo::run(args).await;
            if code != std::process::ExitCode::SUCCESS {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Healthcheck { listen } => {
            let port = listen.port();
            let url = format!("http://127.0.0.1:{port}/health");
            let answer = reqwest::Client::new()
                .get(&url)
                .timeout(std::time::Duration::from_secs(4))
                .send()
                .await?;
            anyhow::ensure!(
                answer.status().is_success(),
                "{url} answered {}",
                answer.status()
            );
            Ok(())
        }
    }
}
