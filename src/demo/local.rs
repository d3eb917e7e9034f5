//! bosun itself, as `bosun serve` builds it, pointed at the simulator: the simulated App's id
//! and key, a webhook secret made for this demo, a run configuration (the demo agent's, or the
//! one `--agent`/`--config` gave), and the real router served on `--listen`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use clap::Parser;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::image::AGENT_PROGRAM;
use super::simulator::Simulator;
use crate::app::Bosun;
use crate::config::server::ServerConfig;

/// The demo's run configuration: one agent, `demo`, of the `command` adapter, in the demo
/// image. Peer review stays on (as on a real server): with no other agent the implementer's
/// own reviews, and the demo agent answers a review prompt with a verdict of no findings, so
/// the timeline shows the whole loop. Small limits: the demo's work is a one-line change.
pub fn run_config(image: &str) -> String {
    format!(
        "# Written by `bosun demo`; see examples/bosun-server.yml for every key.\n\
         sandbox: docker\n\
         default_agent: demo\n\
         agents:\n  demo:\n    adapter: command\n    image: {image}\n    program: {AGENT_PROGRAM}\n\
         limits:\n  memory_mb: 256\n  cpus: 1\n  max_agent_minutes: 2\n  max_gate_minutes: 1\n\
         peer_review:\n  enabled: true\n  reviewers: [demo]\n"
    )
}

/// `ServerConfig` is read from flags, so a field added to it later gets its default here too.
#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    config: ServerConfig,
}

pub struct Local {
    pub bosun: Bosun,
    /// Where bosun answers, e.g. `http://127.0.0.1:3000`.
    pub url: String,
    stop: CancellationToken,
    server: JoinHandle<()>,
}

impl Local {
    /// Binds `listen` (another free port on the same address when it is taken), builds bosun
    /// and serves its router. `note` hears about a port fallback.
    pub async fn start(
        data_dir: &Path,
        sim: &Simulator,
        run_config: &str,
        listen: SocketAddr,
        secret: &str,
        note: impl Fn(&str),
    ) -> anyhow::Result<Local> {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && listen.port() != 0 => {
                let any = SocketAddr::new(listen.ip(), 0);
                let listener = tokio::net::TcpListener::bind(any).await?;
                note(&format!(
                    "{listen} is in use; bosun listens on {} instead",
                    listener.local_addr()?
                ));
                listener
            }
            Err(e) => anyhow::bail!("cannot listen on {listen}: {e}"),
        };
        let addr = listener.local_addr()?;
        // A server on every address is still reached on loopback from here.
        let reach = if addr.ip().is_unspecified() {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        } else {
            addr
        };
        let url = format!("http://{reach}");
        let config_path = data_dir.join("demo-server.yml");
        std::fs::write(&config_path, run_config)?;
        let config = server_config(data_dir, &config_path, sim, addr, &url, secret)?;
        let bosun = Bosun::build(config).await?;
        let stop = CancellationToken::new();
        let server = {
            let stop = stop.clone();
            tokio::spawn(bosun.serve_on(listener, async move { stop.cancelled().await }))
        };
        Ok(Local {
            bosun,
            url,
            stop,
            server,
        })
    }

    /// Stops serving, then the engine (a run still going is cancelled and its container
    /// removed by the sandbox).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        self.bosun.stop(Duration::from_secs(10)).await;
    }
}

fn server_config(
    data_dir: &Path,
    run_config: &Path,
    sim: &Simulator,
    listen: SocketAddr,
    url: &str,
    secret: &str,
) -> anyhow::Result<ServerConfig> {
    let github = sim.github.url();
    let flags = [
        "bosun".to_string(),
        format!("--listen={listen}"),
        format!("--data-dir={}", data_dir.display()),
        format!("--github-app-id={}", sim.github.app_id()),
        format!("--github-api-url={github}"),
        format!("--github-web-url={github}"),
        format!("--config={}", run_config.display()),
        format!("--public-url={url}"),
        "--run-mode=agent".into(),
        "--workers=4".into(),
        "--lease-secs=60".into(),
        // The simulator's delivery log holds nothing to redeliver.
        "--redelivery-sweep-secs=0".into(),
    ];
    let mut config = Flags::try_parse_from(flags)?.config;
    // Set here rather than as flags: values from the environment must not reach the demo.
    config.github_private_key = Some(fake_github::TEST_APP_PRIVATE_KEY.to_string());
    config.github_private_key_path = None;
    config.github_webhook_secret = Some(secret.to_string());
    config.mention_handle = None;
    config.allowed_bot_ids = Vec::new();
    config.placeholder_secs = 0.0;
    config.log_format = "text".into();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_configuration_loads() {
        let config = crate::config::run::RunConfig::parse(&run_config("img:1")).unwrap();
        assert_eq!(config.default_agent, "demo");
        assert_eq!(config.agents["demo"].adapter, "command");
        assert_eq!(
            config.agents["demo"].program.as_deref(),
            Some(AGENT_PROGRAM)
        );
    }
}
