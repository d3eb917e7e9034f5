//! `bosun serve` as a child process, the way it runs in production, owned by a guard: however
//! the bench ends (error, panic, Ctrl-C), dropping the guard kills and reaps the child, then
//! removes its temporary data dir.

use crate::metrics::Scrape;
use anyhow::Context;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a fresh server may take to answer `/health` (it creates and migrates SQLite).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The App configuration handed to the child, all of it pointing at the fake GitHub.
pub struct ServerEnv {
    pub app_id: u64,
    pub private_key_pem: String,
    pub webhook_secret: String,
    pub api_url: String,
    /// More variables (run mode, run configuration).
    pub extra: Vec<(String, String)>,
}

impl ServerEnv {
    /// The App of the fake GitHub `fake`, with the webhook secret `secret`.
    pub fn for_fake(
        fake: &fake_github::FakeGitHub,
        secret: &str,
        extra: Vec<(String, String)>,
    ) -> ServerEnv {
        ServerEnv {
            app_id: fake.app_id(),
            private_key_pem: fake_github::TEST_APP_PRIVATE_KEY.into(),
            webhook_secret: secret.into(),
            api_url: fake.url(),
            extra,
        }
    }
}

pub struct Server {
    child: Child,
    addr: SocketAddr,
    log_path: PathBuf,
    http: reqwest::Client,
    // Declared last: fields drop after `Drop::drop`, so the directory outlives the child.
    dir: TempDir,
}

impl Server {
    pub async fn start(bin: &Path, env: &ServerEnv) -> anyhow::Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix("bosun-bench-")
            .tempdir()
            .context("creating the temporary data dir")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let log_path = dir.path().join("bosun.log");
        let log = File::create(&log_path).context("creating the server log")?;
        let child = Command::new(bin)
            .arg("serve")
            // A clean environment: the developer's own GITHUB_*/BOSUN_* settings (workers,
            // placeholder time, a real App) must not leak into the measured server.
            .env_clear()
            .env("GITHUB_APP_ID", env.app_id.to_string())
            .env("GITHUB_PRIVATE_KEY", &env.private_key_pem)
            .env("GITHUB_WEBHOOK_SECRET", &env.webhook_secret)
            .env("GITHUB_API_URL", &env.api_url)
            .env("BOSUN_DATA_DIR", dir.path().join("data"))
            .env("BOSUN_LISTEN", addr.to_string())
            // Per-delivery info lines would make the benchmark measure the logger.
            .env("RUST_LOG", server_log_level())
            .envs(env.extra.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        // From here on the guard exists: any error below still kills the child.
        let mut server = Server {
            child,
            addr,
            log_path,
            http: reqwest::Client::new(),
            dir,
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    /// Sends one signed `issues` delivery (the benches that send a few, not a load) and
    /// checks it was answered 2xx.
    pub async fn send_issues_event(
        &self,
        http: &reqwest::Client,
        secret: &str,
        delivery: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<()> {
        let signature = crate::payloads::sign(secret, &body);
        self.send_signed_issues_event(http, &signature, delivery, body)
            .await
    }

    /// `send_issues_event` with the signature made beforehand (by a bench whose clock must not
    /// count the signing).
    pub async fn send_signed_issues_event(
        &self,
        http: &reqwest::Client,
        signature: &str,
        delivery: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<()> {
        let answer = http
            .post(self.url("/webhook"))
            .header("content-type", "application/json")
            .header("x-github-event", "issues")
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await?;
        anyhow::ensure!(
            answer.status().is_success(),
            "delivery {delivery}: the webhook answered {}",
            answer.status()
        );
        Ok(())
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "bosun exited during start-up ({status}); its log:\n{}",
                    self.log_tail(30)
                );
            }
            if let Ok(answer) = self.http.get(self.url("/health")).send().await {
                let ok = answer.status() == 200;
                let body = answer.text().await.unwrap_or_default();
                // "configured": the App settings reached it; setup mode would take no webhooks.
                anyhow::ensure!(
                    !ok || body.contains("\"configured\""),
                    "bosun started in setup mode: {body}"
                );
                if ok {
                    return Ok(());
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "bosun did not answer /health within {START_TIMEOUT:?}; its log:\n{}",
                self.log_tail(30)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn metrics(&self) -> anyhow::Result<Scrape> {
        let answer = self.http.get(self.url("/metrics")).send().await?;
        anyhow::ensure!(
            answer.status() == 200,
            "/metrics answered {}",
            answer.status()
        );
        Ok(Scrape::parse(&answer.text().await?))
    }

    /// The last `lines` lines of the server's log (warnings and errors only, unless
    /// `BENCH_SERVER_LOG` asks for more).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The size of the server's log in bytes, for the report.
    pub fn log_bytes(&self) -> u64 {
        std::fs::metadata(&self.log_path).map_or(0, |m| m.len())
    }

    /// How many lines the server logged (warnings and errors), for the report.
    pub fn log_lines(&self) -> usize {
        std::fs::read_to_string(&self.log_path)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL, not a graceful stop: nothing of this run's data is kept, and a server stuck
        // in shutdown must not hold the bench open.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port the kernel just had free. Another process could take it before bosun binds it;
/// start-up then fails loudly with bosun's "address in use" in the log.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Waits until bosun's engine is running: intake and the workers start once bosun has asked
/// GitHub who the App is; until then deliveries are stored but nobody handles them.
pub async fn wait_engine_up(fake: &fake_github::FakeGitHub, server: &Server) -> anyhow::Result<()> {
    let engine_up = |f: &fake_github::FakeGitHub| {
        f.requests()
            .iter()
            .any(|r| r.path == "/app" && r.status == 200)
    };
    anyhow::ensure!(
        fake.wait_until(engine_up, Duration::from_secs(10)).await,
        "bosun never asked the fake GitHub for its App; its log:\n{}",
        server.log_tail(30)
    );
    Ok(())
}

/// The server's `RUST_LOG`: `warn`, or `BENCH_SERVER_LOG` to look inside a run (the README's
/// numbers are measured at `warn`).
pub fn server_log_level() -> String {
    std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into())
}
