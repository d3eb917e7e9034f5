//! The checks that need nothing but this machine: the run configuration, the run mode, and
//! the App's credentials (present, and a key that parses).

use crate::config::credentials::{self, AppCredentials, CredentialsError};
use crate::config::run::RunConfig;
use crate::config::server::ServerConfig;
use crate::github::app_auth::AppJwt;

use super::Finding;

/// The run configuration file (`--config`/`BOSUN_CONFIG`) with its environment overrides,
/// loaded and validated as `bosun serve` does.
pub fn run_config(config: &ServerConfig) -> (Finding, Option<RunConfig>) {
    const WHAT: &str = "run configuration";
    let source = match &config.run_config {
        Some(path) => path.display().to_string(),
        None => "built-in defaults (no --config)".to_string(),
    };
    match RunConfig::load(config.run_config.as_deref()) {
        Ok(run) => {
            let agents: Vec<&str> = run.agents.keys().map(String::as_str).collect();
            let sandbox = match run.sandbox {
                crate::config::run::SandboxKind::Docker => "docker",
                crate::config::run::SandboxKind::Process => "process",
            };
            let text = format!(
                "{source}: agents {} (default `{}`), sandbox {sandbox}",
                agents.join(", "),
                run.default_agent
            );
            (Finding::ok(WHAT, text), Some(run))
        }
        Err(e) => (
            Finding::fail(
                WHAT,
                format!(
                    "{e:#}: fix it (every key is described in examples/bosun-server.yml); \
                     the server refuses to start with it"
                ),
            ),
            None,
        ),
    }
}

/// Placeholder mode is for trying the GitHub side: worth a word, since it changes no code.
pub fn run_mode(config: &ServerConfig) -> Finding {
    if config.run_mode == "placeholder" {
        Finding::warn(
            "run mode",
            "placeholder: tasks run no agent and change no code; set BOSUN_RUN_MODE=agent to run agents",
        )
    } else {
        Finding::ok("run mode", config.run_mode.clone())
    }
}

/// Where the credentials came from, for the finding's text.
fn source(config: &ServerConfig) -> String {
    if config.github_app_id.is_some() {
        "the environment (GITHUB_APP_ID …)".to_string()
    } else {
        config
            .data_dir
            .join(credentials::CREDENTIALS_FILE)
            .display()
            .to_string()
    }
}

/// Where a new private key is made, said as "for App N at <url>": the App's settings page
/// when its slug is known, else the account's list of Apps (an organization's are under its
/// own settings).
pub fn new_key_where(config: &ServerConfig, creds: &AppCredentials) -> String {
    let web = config.github_web_url.trim_end_matches('/');
    let id = creds.app_id.0;
    match &creds.slug {
        Some(slug) => format!("for App {id} at {web}/settings/apps/{slug}"),
        None => format!(
            "for App {id} at {web}/settings/apps (an organization's App: its Settings → \
             Developer settings → GitHub Apps)"
        ),
    }
}

/// The App's credentials as the server would load them, and a private key that parses.
pub fn credentials(config: &ServerConfig) -> (Finding, Option<AppCredentials>) {
    const WHAT: &str = "App credentials";
    let creds = match credentials::load(config) {
        Ok(Some(creds)) => creds,
        Ok(None) => {
            let port = config.listen.port();
            return (
                Finding::fail(
                    WHAT,
                    format!(
                        "none: run `bosun serve` and open http://localhost:{port}/setup on this \
                         machine, or set GITHUB_APP_ID, GITHUB_PRIVATE_KEY_PATH and \
                         GITHUB_WEBHOOK_SECRET"
                    ),
                ),
                None,
            );
        }
        Err(e) => return (Finding::fail(WHAT, fix_for(&e)), None),
    };
    match AppJwt::new(creds.app_id, &creds.private_key_pem) {
        Ok(_) => (
            Finding::ok(
                WHAT,
                format!(
                    "App {} from {}; the private key parses",
                    creds.app_id.0,
                    source(config)
                ),
            ),
            Some(creds),
        ),
        Err(e) => (
            Finding::fail(
                WHAT,
                format!(
                    "the private key from {} is not usable ({e}): download a new private key {}, \
                     then point GITHUB_PRIVATE_KEY_PATH at it",
                    source(config),
                    new_key_where(config, &creds)
                ),
            ),
            None,
        ),
    }
}

/// The loader's error with what to do about it; most of its messages already say.
fn fix_for(e: &CredentialsError) -> String {
    match e {
        CredentialsError::KeyFile { .. } => {
            format!("{e}: point GITHUB_PRIVATE_KEY_PATH at the App's .pem file")
        }
        CredentialsError::Stored { .. } => {
            format!("{e}: fix the file, or remove it and create the App again on the setup page")
        }
        other => other.to_string(),
    }
}
