//! The agents of the run configuration: is each image on the Docker host, and does its CLI
//! start? The version is asked in a throw-away container built by the same sandbox, with
//! the same limits and user, as a real run (network off, nothing mounted but an empty scratch
//! directory), so "it answers here" means it would start in a task.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::docker::PullPolicy;
use crate::config::run::{AgentConfig, RunConfig, SandboxKind};
use crate::config::server::ServerConfig;
use crate::run::runner::{give_to, Runner};
use crate::run::sandbox::{DockerSandbox, Role, Sandbox, SandboxError, SandboxSpec, Stream};
use bosun_core::agent::{shell, versions, AdapterKind};

use super::{progress, Finding};

/// A CLI that has not printed its version in this time is not going to.
const VERSION_DEADLINE: Duration = Duration::from_secs(60);

/// One finding per image, then one per agent whose image is there.
pub async fn check(config: &ServerConfig, run: &RunConfig, backend_ok: bool) -> Vec<Finding> {
    if !backend_ok {
        return vec![Finding::skip(
            "agents",
            "images and CLIs not checked while the Docker engine is unreachable",
        )];
    }
    let mut out = Vec::new();
    let mut present: BTreeMap<String, bool> = BTreeMap::new();
    if run.sandbox == SandboxKind::Docker {
        // Looking at images starts nothing, so it needs no instance label (and no data
        // directory, which the runner's label would create).
        let engine = run
            .docker
            .engine()
            .write_tls_files(&config.data_dir.join("docker-tls"));
        let sandbox = match engine
            .map_err(|e| e.to_string())
            .and_then(|e| DockerSandbox::on_engine(e, "bosun-doctor").map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => return vec![Finding::fail("agents", e.to_string())],
        };
        for (image, users) in images(run) {
            let finding = image_finding(&sandbox, &image, &users, run.docker.pull).await;
            present.insert(image, finding.level == super::Level::Ok);
            out.push(finding);
        }
    }
    let mut asked: Vec<(&String, &AgentConfig)> = Vec::new();
    for (name, agent) in &run.agents {
        let image_there = present.get(&agent.image).copied().unwrap_or(false);
        if run.sandbox == SandboxKind::Docker && !image_there {
            continue; // its image's line above says what to do
        }
        if agent.adapter == "command" {
            out.push(Finding::ok(
                format!("agent `{name}`"),
                "a `command` agent runs its own program; there is no CLI version to ask",
            ));
        } else {
            asked.push((name, agent));
        }
    }
    if asked.is_empty() {
        return out;
    }
    let runner = match runner(&config.data_dir, run) {
        Ok(r) => r,
        Err(e) => {
            out.push(Finding::fail("agents", format!("{e:#}")));
            return out;
        }
    };
    for (name, agent) in asked {
        out.push(version_finding(&runner, &config.data_dir, name, agent).await);
    }
    out
}

/// The runner a server with this configuration would build (sandbox, user, limits): the
/// version check's containers then carry the server's instance label, so a check cut short
/// (Ctrl-C) leaves nothing the server's start-up does not remove. The data directory is
/// created first as the server creates it (owner only): the scratch directory lives there.
fn runner(data_dir: &Path, run: &RunConfig) -> anyhow::Result<Runner> {
    crate::db::create_private_dir(data_dir)?;
    Runner::new(data_dir, run.clone())
}

/// Every image the agents and gates use, with who uses it.
fn images(run: &RunConfig) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, agent) in &run.agents {
        out.entry(agent.image.clone())
            .or_default()
            .push(format!("agent `{name}`"));
        if let Some(gate) = agent.gate_image.as_ref().filter(|g| !g.trim().is_empty()) {
            out.entry(gate.clone())
                .or_default()
                .push(format!("`{name}`'s gates"));
        }
    }
    out
}

async fn image_finding(
    sandbox: &DockerSandbox,
    image: &str,
    users: &[String],
    pull: PullPolicy,
) -> Finding {
    let what = format!("image {image}");
    let users = users.join(", ");
    match sandbox.check(image).await {
        Ok(()) => Finding::ok(what, format!("on the Docker host ({users})")),
        Err(SandboxError::ImageMissing { .. }) if pull != PullPolicy::Never => Finding::warn(
            what,
            format!(
                "not on the Docker host ({users}) yet: the first run that needs it pulls it \
                 (docker.pull); a private registry needs the engine's own login"
            ),
        ),
        Err(SandboxError::ImageMissing { .. }) => Finding::fail(
            what,
            format!(
                "not on the Docker host ({users}), and docker.pull is `never`: build it \
                 (`docker build -f docker/agent.Dockerfile -t {image} .`) or `docker load` it"
            ),
        ),
        Err(SandboxError::Unavailable(why)) => Finding::fail(
            what,
            format!("{why}: start Docker or set BOSUN_SANDBOX=process"),
        ),
        Err(e) => Finding::fail(what, format!("{e}")),
    }
}

/// The words that start the agent's CLI: its configured `program`, else the adapter's name.
fn cli_words(agent: &AgentConfig) -> Result<Vec<String>, String> {
    match agent.program.as_deref().filter(|p| !p.trim().is_empty()) {
        Some(program) => shell::split(program)
            .map_err(|e| format!("its `program` {program:?} cannot be split into words: {e}")),
        None => Ok(vec![agent.adapter.clone()]),
    }
}

async fn version_finding(
    runner: &Runner,
    data_dir: &Path,
    name: &str,
    agent: &AgentConfig,
) -> Finding {
    let what = format!("agent `{name}`");
    let words = match cli_words(agent) {
        Ok(w) => w,
        Err(e) => return Finding::fail(what, format!("{e}: fix it in the run configuration")),
    };
    let shown = format!("{} --version", words.join(" "));
    let place = match runner.sandbox.name() {
        "docker" => format!("in a throw-away container of {}", agent.image),
        _ => "on this host (process sandbox)".to_string(),
    };
    progress(&format!("{what}: running `{shown}` {place}"));
    match cli_version(runner, data_dir, &agent.image, &words).await {
        Ok(version) => {
            let old = agent
                .adapter
                .parse::<AdapterKind>()
                .ok()
                .and_then(|kind| versions::too_old(kind, &version));
            match old {
                Some(why) => Finding::warn(what, format!("`{shown}` {place}: {why}")),
                None => Finding::ok(what, format!("`{shown}` {place}: {version}")),
            }
        }
        Err(Failed::Cli(why)) => Finding::fail(
            what,
            format!(
                "`{shown}` failed {place} ({why}): install the `{}` CLI in the image, or set \
                 the agent's `program` to where it is",
                agent.adapter
            ),
        ),
        Err(Failed::Sandbox(why)) => Finding::fail(
            what,
            format!("could not run `{shown}` {place}: {why}; a task's run would fail the same way"),
        ),
    }
}

/// Why no version came back: the CLI ran and failed, or the sandbox could not run it at all
/// (then installing anything in the image would not help).
enum Failed {
    Cli(String),
    Sandbox(String),
}

fn sandbox_error(e: SandboxError) -> Failed {
    Failed::Sandbox(match e {
        // The whole chain: the outer context alone ("spawn /bin/sh") does not say why.
        SandboxError::Other(e) => format!("{e:#}"),
        other => other.to_string(),
    })
}

/// Runs `<words> --version` in the sandbox; the first line it printed, or why it failed.
async fn cli_version(
    runner: &Runner,
    data_dir: &Path,
    image: &str,
    words: &[String],
) -> Result<String, Failed> {
    let scratch = Scratch::new(data_dir, runner.user)
        .map_err(|e| Failed::Sandbox(format!("preparing a scratch directory: {e}")))?;
    let spec = SandboxSpec {
        task_id: 0,
        role: Role::Agent,
        name_hint: "doctor-version".into(),
        image: image.to_string(),
        workspace: scratch.0.clone(),
        inputs: None,
        script: format!("exec {} --version", shell::quote_all(words)),
        env: Vec::new(),
        network: false,
        doors: None,
        limits: runner.limits.clone(),
        deadline: VERSION_DEADLINE,
        user: runner.user,
        mounts: Vec::new(),
    };
    let (tx, mut rx) = mpsc::channel(64);
    let collect = async {
        let mut lines = Vec::new();
        while let Some(line) = rx.recv().await {
            lines.push(line);
        }
        lines
    };
    let (exit, lines) = tokio::join!(
        runner.sandbox.run(spec, tx, CancellationToken::new()),
        collect
    );
    let exit = exit.map_err(sandbox_error)?;
    let first = |stream: Stream| {
        lines
            .iter()
            .find(|l| l.stream == stream && !l.text.trim().is_empty())
            .map(|l| l.text.trim().to_string())
    };
    if exit.success() {
        return Ok(first(Stream::Stdout)
            .or_else(|| first(Stream::Stderr))
            .unwrap_or_else(|| "(it printed nothing)".into()));
    }
    let said = lines
        .iter()
        .rev()
        .find(|l| !l.text.trim().is_empty())
        .map(|l| format!(": {}", l.text.trim()))
        .unwrap_or_default();
    Err(Failed::Cli(match (exit.code, exit.timed_out) {
        (_, true) => format!("no answer in {}s", VERSION_DEADLINE.as_secs()),
        (Some(code), _) => format!("exit {code}{said}"),
        (None, _) => format!("it did not run{said}"),
    }))
}

/// An empty directory under the data directory for the check's container to start in
/// (bind mounts are resolved by the engine's host, where the data directory is at the same
/// path), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(data_dir: &Path, user: (u32, u32)) -> std::io::Result<Scratch> {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::path::absolute(data_dir)?.join(format!(
            "doctor-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let scratch = Scratch(dir);
        give_to(&scratch.0, user)?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
