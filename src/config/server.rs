//! Server configuration: flags with environment fallbacks, parsed once at start-up.
//! The README's configuration table mirrors this file.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Args)]
pub struct ServerConfig {
    /// Address the HTTP server listens on.
    #[arg(long, env = "BOSUN_LISTEN", default_value = "0.0.0.0:3000")]
    pub listen: SocketAddr,

    /// Where bosun keeps its database, credentials and (later) mirrors and worktrees.
    #[arg(long, env = "BOSUN_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// The GitHub App's numeric id.
    #[arg(long, env = "GITHUB_APP_ID")]
    pub github_app_id: Option<u64>,

    /// The App's private key (PEM text). Prefer GITHUB_PRIVATE_KEY_PATH.
    #[arg(long, env = "GITHUB_PRIVATE_KEY", hide_env_values = true)]
    pub github_private_key: Option<String>,

    /// A file holding the App's private key (PEM).
    #[arg(long, env = "GITHUB_PRIVATE_KEY_PATH")]
    pub github_private_key_path: Option<PathBuf>,

    /// Webhook secret; several, comma-separated, while rotating.
    #[arg(long, env = "GITHUB_WEBHOOK_SECRET", hide_env_values = true)]
    pub github_webhook_secret: Option<String>,

    /// GitHub's REST API base URL (GitHub Enterprise: https://HOST/api/v3).
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,

    /// GitHub's web URL, where the setup page sends the App manifest.
    #[arg(long, env = "GITHUB_WEB_URL", default_value = "https://github.com")]
    pub github_web_url: String,

    /// The name people @mention; defaults to the App's slug from `GET /app`.
    #[arg(long, env = "BOSUN_MENTION_HANDLE")]
    pub mention_handle: Option<String>,

    /// Bot account ids allowed to trigger bosun in every repository (comma-separated).
    #[arg(long, env = "BOSUN_ALLOWED_BOT_IDS", value_delimiter = ',')]
    pub allowed_bot_ids: Vec<u64>,

    /// The URL GitHub reaches this server at (used by the setup page for the webhook URL).
    #[arg(long, env = "BOSUN_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// A webhook relay channel (smee.io style) to follow when GitHub cannot reach this
    /// server: GitHub's deliveries to the channel are verified and handled as direct ones.
    #[arg(long, env = "BOSUN_WEBHOOK_PROXY_URL")]
    pub webhook_proxy_url: Option<String>,

    /// Serve the setup page to other hosts than localhost (only behind a trusted network).
    #[arg(long, env = "BOSUN_SETUP_ALLOW_REMOTE", default_value_t = false)]
    pub setup_allow_remote: bool,

    /// Webhook bodies read at once. A delivery beyond them gets 503 at once, before its body
    /// is read: GitHub shows it as failed, and the redelivery sweep asks for it again.
    #[arg(long, env = "BOSUN_WEBHOOK_BODIES_IN_FLIGHT", default_value_t = 64)]
    pub webhook_bodies_in_flight: usize,

    /// Seconds a webhook body may take to arrive; a slower one gets 408 and its connection is
    /// closed (GitHub sends a whole delivery at once).
    #[arg(long, env = "BOSUN_WEBHOOK_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub webhook_body_timeout_secs: u64,

    /// Connections open at once. Past it a new connection is closed at once (GitHub
    /// redelivers); lowered to fit the open-files limit when that is lower.
    #[arg(long, env = "BOSUN_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Seconds a request's headers may take to arrive, and an idle keep-alive connection may
    /// stay open; a slower client's connection is closed.
    #[arg(long, env = "BOSUN_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// How many jobs run at once.
    #[arg(long, env = "BOSUN_WORKERS", default_value_t = 4)]
    pub workers: usize,

    /// Seconds a claimed job stays leased without a heartbeat before another worker reclaims it.
    #[arg(long, env = "BOSUN_LEASE_SECS", default_value_t = 60)]
    pub lease_secs: u64,

    /// The run configuration file (agents, sandbox, limits); see examples/bosun-server.yml.
    #[arg(long = "config", env = "BOSUN_CONFIG")]
    pub run_config: Option<PathBuf>,

    /// `agent` runs the configured coding agent; `placeholder` runs no agent and only records
    /// a placeholder step (to try the App's GitHub side, or test it, without Docker).
    #[arg(long, env = "BOSUN_RUN_MODE", default_value = "agent", value_parser = ["agent", "placeholder"])]
    pub run_mode: String,

    /// Seconds the placeholder step takes (run mode `placeholder` only).
    #[arg(long, env = "BOSUN_PLACEHOLDER_SECS", default_value_t = 0.0)]
    pub placeholder_secs: f64,

    /// Seconds between sweeps of the App's webhook delivery log for failed deliveries to ask
    /// again (one sweep also runs at start-up); 0 turns the sweeps off.
    #[arg(long, env = "BOSUN_REDELIVERY_SWEEP_SECS", default_value_t = 300)]
    pub redelivery_sweep_secs: u64,

    /// Log format: `text` or `json`.
    #[arg(long, env = "BOSUN_LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    #[command(flatten)]
    pub dashboard: DashboardConfig,
}

/// Sign-in to the dashboard: the App's OAuth client and who sees everything.
#[derive(Debug, Clone, Default, Args)]
pub struct DashboardConfig {
    /// The App's OAuth client id, for Apps created by hand (the setup page stores the one
    /// GitHub gave the App it created).
    #[arg(long, env = "GITHUB_CLIENT_ID")]
    pub github_client_id: Option<String>,

    /// The App's OAuth client secret (see --github-client-id).
    #[arg(long, env = "GITHUB_CLIENT_SECRET", hide_env_values = true)]
    pub github_client_secret: Option<String>,

    /// GitHub logins that see every repository's tasks on the dashboard (comma-separated).
    #[arg(long, env = "BOSUN_ADMINS", value_delimiter = ',')]
    pub admins: Vec<String>,
}

impl ServerConfig {
    /// The URL to show people and to put in the App manifest.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let port = self.listen.port();
                format!("http://localhost:{port}")
            }
        }
    }
}
