//! The checks that ask GitHub: `GET /app` with the App's JWT (does GitHub accept the key?) and
//! `GET /app/installations` (is the App installed anywhere?). Both go through the client's
//! transport (`github::transport`), with its JWT minting, 401 refresh and error sorting, but
//! with a short retry policy: a doctor should answer in seconds, not wait out an outage.

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;

use crate::config::credentials::AppCredentials;
use crate::config::server::ServerConfig;
use crate::github::app_auth::AppJwt;
use crate::github::client::{default_user_agent, GitHubError, RetryPolicy};
use crate::github::link::next_url;
use crate::github::token_cache::TokenCache;
use crate::github::transport::{Auth, Call, Credentials, Transport};
use crate::github::types::{AppInfo, WireApp};

use super::setup::new_key_where;
use super::Finding;

/// Pages of installations read at most (100 each).
const MAX_PAGES: usize = 10;

/// `GET /app/installations` items, as far as the doctor reads them.
#[derive(Deserialize)]
struct WireInstallation {
    id: u64,
    account: Option<WireAccount>,
    #[serde(default)]
    suspended_at: Option<String>,
}

#[derive(Deserialize)]
struct WireAccount {
    login: String,
}

fn transport(config: &ServerConfig, creds: &AppCredentials) -> Result<Transport, String> {
    let jwt = AppJwt::new(creds.app_id, &creds.private_key_pem).map_err(|e| e.to_string())?;
    let retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(1),
        max_rate_limit_wait: Duration::from_secs(5),
        content_limit_wait: Duration::from_secs(1),
    };
    let credentials = Credentials {
        jwt,
        tokens: TokenCache::new(),
    };
    Transport::new(
        &config.github_api_url,
        &default_user_agent(),
        retry,
        Some(credentials),
    )
    .map_err(|e| e.to_string())
}

/// Asks GitHub who the App is, with a JWT signed by the configured key.
pub async fn app(
    config: &ServerConfig,
    creds: &AppCredentials,
) -> (Finding, Option<(Transport, AppInfo)>) {
    const WHAT: &str = "GitHub App";
    let api = &config.github_api_url;
    let transport = match transport(config, creds) {
        Ok(t) => t,
        Err(e) => {
            return (
                Finding::fail(WHAT, format!("{e}: fix GITHUB_API_URL")),
                None,
            )
        }
    };
    let answer = async {
        let url = transport.url(&["app"])?;
        let reply = transport
            .send(&Call::new(Method::GET, url, Auth::App))
            .await?;
        AppInfo::try_from(reply.json::<WireApp>()?)
    }
    .await;
    match answer {
        Ok(info) if info.id != creds.app_id => (
            Finding::fail(
                WHAT,
                format!(
                    "GitHub answered for App {} while {} is configured: fix GITHUB_APP_ID",
                    info.id.0, creds.app_id.0
                ),
            ),
            None,
        ),
        Ok(info) => (
            Finding::ok(
                WHAT,
                format!(
                    "`{}` (id {}) at {api}: GitHub accepts its key",
                    info.slug, info.id.0
                ),
            ),
            Some((transport, info)),
        ),
        Err(e) => (refused(config, creds, e), None),
    }
}

/// What to do about a failed `GET /app`.
fn refused(config: &ServerConfig, creds: &AppCredentials, e: GitHubError) -> Finding {
    const WHAT: &str = "GitHub App";
    let api = &config.github_api_url;
    match e {
        GitHubError::Unauthorized { message } => Finding::fail(
            WHAT,
            format!(
                "GitHub refused the App's key: {message}; download a new private key {}, then \
                 point GITHUB_PRIVATE_KEY_PATH at it (or check GITHUB_APP_ID)",
                new_key_where(config, creds)
            ),
        ),
        GitHubError::NotFound { .. } => Finding::fail(
            WHAT,
            format!(
                "{api} knows no App {}: check GITHUB_APP_ID (and GITHUB_API_URL for GitHub Enterprise)",
                creds.app_id.0
            ),
        ),
        GitHubError::Transport(why) => Finding::fail(
            WHAT,
            format!("cannot reach {api} ({why}): check the network and GITHUB_API_URL"),
        ),
        e @ (GitHubError::Server { .. } | GitHubError::RateLimited { .. }) => Finding::warn(
            WHAT,
            format!("{e}: GitHub could not answer now; run `bosun doctor` again in a minute"),
        ),
        other => Finding::fail(WHAT, format!("{other}")),
    }
}

/// Lists the App's installations: without one, no webhook ever comes.
pub async fn installations(transport: &Transport, app: &AppInfo) -> Finding {
    const WHAT: &str = "installations";
    let install_url = format!("{}/installations/new", app.html_url.trim_end_matches('/'));
    let found = match list(transport).await {
        Ok(found) => found,
        Err(e) => {
            return Finding::fail(
                WHAT,
                format!("could not list them ({e}): check the App's permissions on GitHub"),
            )
        }
    };
    let name = |i: &WireInstallation| {
        i.account
            .as_ref()
            .map_or_else(|| format!("installation {}", i.id), |a| a.login.clone())
    };
    let suspended: Vec<String> = found
        .iter()
        .filter(|i| i.suspended_at.is_some())
        .map(name)
        .collect();
    if found.is_empty() {
        return Finding::warn(
            WHAT,
            format!("the App is installed nowhere yet: install it from {install_url}"),
        );
    }
    if !suspended.is_empty() {
        return Finding::warn(
            WHAT,
            format!(
                "suspended on {}: bosun gets nothing from there until it is unsuspended in \
                 that account's settings (Applications)",
                suspended.join(", ")
            ),
        );
    }
    let mut names: Vec<String> = found.iter().map(name).collect();
    let count = names.len();
    if count > 5 {
        names.truncate(5);
        names.push(format!("and {} more", count - 5));
    }
    Finding::ok(
        WHAT,
        format!("installed on {count} account(s): {}", names.join(", ")),
    )
}

async fn list(transport: &Transport) -> Result<Vec<WireInstallation>, GitHubError> {
    let mut url = transport.url(&["app", "installations"])?;
    url.query_pairs_mut().append_pair("per_page", "100");
    let mut next = Some(url);
    let mut out = Vec::new();
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        let reply = transport
            .send(&Call::new(Method::GET, url, Auth::App))
            .await?;
        out.extend(reply.json::<Vec<WireInstallation>>()?);
        if pages >= MAX_PAGES {
            break;
        }
        next = match reply
            .headers
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(next_url)
        {
            Some(link) => Some(transport.follow(&link)?),
            None => None,
        };
    }
    Ok(out)
}
