//! `bosun demo`: the whole loop on one machine with Docker and nothing else configured. It
//! starts the built-in GitHub simulator (`fake-github`, the one the integration tests use)
//! with a sample repository and issue, builds the demo agent's image, starts bosun against
//! the simulator, labels the issue through a signed webhook to bosun's own `/webhook`, and
//! prints the timeline until the simulator holds a draft pull request. Then it keeps serving
//! for a look around (or, with `--once`, exits).
//!
//! Everything between the webhook and the pull request is the real product: the router,
//! intake, the queue, the trust checks, the checkout, the hardened container, the gates, peer
//! review, the push and the pull request. Only GitHub is simulated, and the agent is a script
//! that knows the one change the issue asks for instead of calling a model; `--agent` and
//! `--config` put a real coding agent in its place (`agent_config`).

mod agent_config;
mod busybox;
mod datadir;
mod events;
mod image;
mod local;
mod preflight;
mod sample;
mod simulator;
mod tar;
mod timeline;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;

use datadir::DataDir;
use local::Local;
use simulator::Simulator;
use timeline::End;

/// Everything is done or given up by then, so `--once` ends within two minutes.
const DEADLINE: Duration = Duration::from_secs(110);

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Exit 0 as soon as the pull request exists, non-zero with the reason on any failure,
    /// instead of staying up to explore.
    #[arg(long)]
    pub once: bool,
    /// Where the demo keeps bosun's data (empty or an earlier demo's; default: a new
    /// temporary directory, removed at the end).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where bosun listens (another free port when this one is taken; port 0: any).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// A real coding agent instead of the demo's script: `claude` or `codex` in the
    /// production agent image against the vendor's API (its key in ANTHROPIC_API_KEY or
    /// OPENAI_API_KEY, kept in the metering proxy), or any agent `--config` names.
    #[arg(long)]
    pub agent: Option<String>,
    /// A run configuration (as for `bosun serve`) for the demo's bosun: its agents, and the
    /// model APIs behind its `meter`.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// Runs the demo; the process's exit status is 0 when the pull request was opened.
pub async fn run(args: DemoArgs) -> std::process::ExitCode {
    init_logs();
    match demo(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bosun demo failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// bosun's own log goes to stderr at `warn` unless `RUST_LOG` says otherwise, so the
/// timeline on stdout stays readable.
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn say(line: &str) {
    println!("{line}");
}

async fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let deadline = started + DEADLINE;
    say("bosun demo: an issue becomes a draft pull request, with GitHub simulated on this machine");
    let docker = preflight::check().await?;
    let data = DataDir::prepare(args.data_dir.as_deref())?;
    let result = with_data(&args, &docker, &data, deadline).await;
    if data.is_temporary() {
        sweep_containers(&data).await;
    }
    data.finish();
    result
}

async fn with_data(
    args: &DemoArgs,
    docker: &bollard::Docker,
    data: &DataDir,
    deadline: Instant,
) -> anyhow::Result<()> {
    let run_config = match agent_config::run_config(args.agent.as_deref(), args.config.as_deref())?
    {
        Some(text) => {
            say(&format!(
                "agent {}, as the run configuration names it",
                args.agent
                    .as_deref()
                    .unwrap_or("(the configuration's default)")
            ));
            text
        }
        None => {
            let built = image::ensure(docker, say).await?;
            say(&format!(
                "agent image {} {}",
                built.tag,
                if built.fresh {
                    "built"
                } else {
                    "already built"
                }
            ));
            local::run_config(&built.tag)
        }
    };
    let sim = Simulator::start(data.path()).await?;
    say(&format!(
        "GitHub simulator at {}: repository {} with issue #{} \"{}\"",
        sim.github.url(),
        sample::REPO,
        sim.issue,
        sample::ISSUE_TITLE
    ));
    let secret = format!("{:032x}", rand::random::<u128>());
    let local = Local::start(data.path(), &sim, &run_config, args.listen, &secret, say).await?;
    say(&format!(
        "bosun at {} (data in {}{})",
        local.url,
        data.path().display(),
        if data.is_temporary() {
            ", removed at the end"
        } else {
            ""
        }
    ));
    say(
        "the first task clones the repository into a fresh mirror; each step prints as it happens:",
    );
    // Ctrl-C while the task runs ends the demo cleanly (containers and temporary data
    // removed) instead of killing the process.
    let outcome = tokio::select! {
        outcome = label_and_follow(&local, &sim, &secret, deadline) => Some(outcome),
        _ = crate::app::shutdown_signal() => None,
    };
    let failed = match &outcome {
        Some(Ok(pull)) => {
            report(&sim, pull);
            None
        }
        Some(Err(e)) => Some(format!("{e:#}")),
        None => Some("interrupted".to_string()),
    };
    if !args.once && outcome.is_some() {
        if let Some(why) = &failed {
            say(&format!("the demo did not get its pull request: {why}"));
        }
        say(&format!(
            "\nbosun stays up to explore: the dashboard is at {}/, and in another terminal \
             `bosun task --data-dir {} get 1` shows the task (`logs 1` the agent's output). \
             Ctrl-C to quit.",
            local.url,
            data.path().display()
        ));
        crate::app::shutdown_signal().await;
    }
    say("stopping");
    local.stop().await;
    sim.github.shutdown().await;
    match failed {
        None => Ok(()),
        Some(why) => Err(anyhow::anyhow!(why)),
    }
}

async fn label_and_follow(
    local: &Local,
    sim: &Simulator,
    secret: &str,
    deadline: Instant,
) -> anyhow::Result<fake_github::PullRecord> {
    let t0 = Instant::now();
    let t0_ms = crate::db::now_ms();
    sim.label(&local.url, secret).await?;
    println!(
        "{:>6.1}s  @{} labelled issue #{} `{}`; bosun answered the signed webhook 202",
        t0.elapsed().as_secs_f64(),
        sample::WRITER,
        sim.issue,
        simulator::TRIGGER_LABEL
    );
    match timeline::follow(&local.bosun.state.db, sim, t0, t0_ms, deadline).await {
        End::Pull(pull) => Ok(pull),
        End::Failed(why) => Err(anyhow::anyhow!(why)),
    }
}

/// The pull request as the simulator holds it, what it changed, and the issue's tracking
/// comment (the Markdown GitHub would render; its hidden marker left out).
fn report(sim: &Simulator, pull: &fake_github::PullRecord) {
    let changed = sample::changed_files(&sim.bare, &pull.head_sha)
        .map(|files| files.join(", "))
        .unwrap_or_else(|e| format!("(could not read the branch: {e})"));
    say(&format!(
        "\nthe simulator holds draft pull request #{} \"{}\"\n  {} -> {}, changed: {changed}",
        pull.number, pull.title, pull.head, pull.base,
    ));
    let tracking = sim
        .github
        .comments(sample::REPO, sim.issue)
        .into_iter()
        .find(|c| c.user_type == "Bot" && c.body.contains("bosun:task"));
    if let Some(comment) = tracking {
        say(&format!("\nissue #{}'s tracking comment:", sim.issue));
        for line in comment.body.lines().filter(|l| !l.starts_with("<!--")) {
            say(&format!("  | {line}"));
        }
    }
}

/// Containers of a run cut short (the deadline, Ctrl-C) would keep their labels; a temporary
/// data directory is never started again, so nothing else would remove them.
async fn sweep_containers(data: &DataDir) {
    use crate::run::sandbox::{DockerSandbox, Sandbox};
    let instance = crate::run::runner::instance_label(data.path());
    if let Ok(sandbox) = DockerSandbox::new(instance) {
        let _ = sandbox.reap_orphans().await;
    }
}
