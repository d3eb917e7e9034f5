//! The door to GitHub: [`GitHub`] for App-level calls, [`Installation`] (from
//! [`GitHub::installation`]) for repository calls, and [`convert_manifest`] for the setup flow.
//! Every request goes through `transport::Transport::send`.

use super::app_auth::AppJwt;
use super::token_cache::TokenCache;
use super::transport::{Auth, Call, Credentials, Transport};
use super::types::{AppInfo, ManifestConversion, WireApp, WireInstallation};
use bosun_core::ids::{AppId, InstallationId, RepoRef};
use http::Method;
use std::fmt;
use std::sync::Arc;

pub use super::error::GitHubError;
pub use super::installation::Installation;
pub use super::retry::RetryPolicy;

/// Longest manifest code we accept; GitHub's are ~20 characters.
const MAX_MANIFEST_CODE_LEN: usize = 256;

/// How to reach GitHub and who we are there. Debug hides the private key.
#[derive(Clone)]
pub struct GitHubConfig {
    /// `https://api.github.com`, or a GHES `/api/v3` URL, or the fake's loopback URL.
    pub api_url: String,
    pub app_id: AppId,
    pub private_key_pem: String,
    pub user_agent: String,
    pub retry: RetryPolicy,
}

impl GitHubConfig {
    /// A config with bosun's User-Agent and the default retry policy.
    pub fn new(
        api_url: impl Into<String>,
        app_id: AppId,
        private_key_pem: impl Into<String>,
    ) -> Self {
        GitHubConfig {
            api_url: api_url.into(),
            app_id,
            private_key_pem: private_key_pem.into(),
            user_agent: default_user_agent(),
            retry: RetryPolicy::default(),
        }
    }
}

/// `bosun/<version>`: GitHub asks for a User-Agent naming the App.
pub fn default_user_agent() -> String {
    format!("bosun/{}", env!("CARGO_PKG_VERSION"))
}

impl fmt::Debug for GitHubConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubConfig")
            .field("api_url", &self.api_url)
            .field("app_id", &self.app_id)
            .field("private_key_pem", &"<redacted>")
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .finish()
    }
}

pub(crate) struct Inner {
    pub(crate) transport: Transport,
    app_id: AppId,
    /// `GET /app`, fetched once when needed (the bot login that identifies our comments).
    app_info: tokio::sync::OnceCell<AppInfo>,
}

impl Inner {
    pub(crate) async fn app_info(&self) -> Result<&AppInfo, GitHubError> {
        self.app_info.get_or_try_init(|| self.fetch_app()).await
    }

    async fn fetch_app(&self) -> Result<AppInfo, GitHubError> {
        let url = self.transport.url(&["app"])?;
        let reply = self
            .transport
            .send(&Call::new(Method::GET, url, Auth::App))
            .await?;
        AppInfo::try_from(reply.json::<WireApp>()?)
    }
}

/// The App's client. Cheap to clone; all clones share the token cache and counters.
#[derive(Clone)]
pub struct GitHub {
    pub(super) inner: Arc<Inner>,
}

impl GitHub {
    /// Builds the client; fails at once on a bad URL, User-Agent or private key.
    pub fn new(cfg: GitHubConfig) -> Result<Self, GitHubError> {
        let jwt = AppJwt::new(cfg.app_id, &cfg.private_key_pem)
            .map_err(|e| GitHubError::Config(e.to_string()))?;
        let creds = Credentials {
            jwt,
            tokens: TokenCache::new(),
        };
        let transport = Transport::new(&cfg.api_url, &cfg.user_agent, cfg.retry, Some(creds))?;
        Ok(GitHub {
            inner: Arc::new(Inner {
                transport,
                app_id: cfg.app_id,
                app_info: tokio::sync::OnceCell::new(),
            }),
        })
    }

    pub fn app_id(&self) -> AppId {
        self.inner.app_id
    }

    /// `GET /app` with the JWT: who GitHub thinks we are (also a credentials check).
    pub async fn app(&self) -> Result<AppInfo, GitHubError> {
        let info = self.inner.fetch_app().await?;
        // Later calls that need the slug (own-comment detection) reuse this answer.
        let _ = self.inner.app_info.set(info.clone());
        Ok(info)
    }

    /// The id of user `login` (`GET /users/{login}`; public, so asked without a credential).
    pub async fn user_id(&self, login: &str) -> Result<u64, GitHubError> {
        #[derive(serde::Deserialize)]
        struct WireUser {
            id: u64,
        }
        let url = self.inner.transport.url(&["users", login])?;
        let call = Call::new(Method::GET, url, Auth::None);
        let user: WireUser = self.inner.transport.send(&call).await?.json()?;
        Ok(user.id)
    }

    /// The installation that covers `repo` (`GET /repos/{o}/{r}/installation`); `NotFound`
    /// when the App is not installed there.
    pub async fn repo_installation(&self, repo: &RepoRef) -> Result<InstallationId, GitHubError> {
        let url = self
            .inner
            .transport
            .url(&["repos", &repo.owner, &repo.name, "installation"])?;
        let reply = self
            .inner
            .transport
            .send(&Call::new(Method::GET, url, Auth::App))
            .await?;
        Ok(reply.json::<WireInstallation>()?.id)
    }

    /// A handle for calls made as installation `id`. No request is made here.
    pub fn installation(&self, id: InstallationId) -> Installation {
        Installation::new(self.inner.clone(), id)
    }

    /// Attempts so far by HTTP status ("error" when no answer came), for Prometheus.
    pub fn call_counts(&self) -> Vec<(String, u64)> {
        self.inner.transport.call_counts()
    }
}

impl fmt::Debug for GitHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHub")
            .field("api_url", &self.inner.transport.base().as_str())
            .field("app_id", &self.inner.app_id)
            .finish_non_exhaustive()
    }
}

/// Finishes the App-manifest flow: trades the one-time `code` GitHub gave the browser for the
/// new App's id, key and secrets (`POST /app-manifests/{code}/conversions`, no auth).
///
/// The code must be ASCII letters and digits; anything else is refused without a request (it
/// arrives in a query string from the browser). The POST is not retried after an ambiguous
/// failure: a code works once, so a second try could only fail.
pub async fn convert_manifest(
    api_url: &str,
    code: &str,
    user_agent: &str,
) -> Result<ManifestConversion, GitHubError> {
    if code.is_empty()
        || code.len() > MAX_MANIFEST_CODE_LEN
        || !code.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(GitHubError::Config(
            "manifest code must be 1-256 ASCII letters or digits".into(),
        ));
    }
    let transport = Transport::new(api_url, user_agent, RetryPolicy::default(), None)?;
    let url = transport.url(&["app-manifests", code, "conversions"])?;
    let reply = transport
        .send(&Call::new(Method::POST, url, Auth::None))
        .await?;
    reply.json_secret()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_hides_the_key() {
        let cfg = GitHubConfig::new(
            "https://api.github.com",
            AppId(1),
            "-----BEGIN RSA PRIVATE KEY-----",
        );
        let d = format!("{cfg:?}");
        assert!(!d.contains("PRIVATE"), "{d}");
    }

    #[test]
    fn new_rejects_a_bad_key() {
        let cfg = GitHubConfig::new("https://api.github.com", AppId(1), "not a key");
        assert!(matches!(GitHub::new(cfg), Err(GitHubError::Config(_))));
    }

    #[tokio::test]
    async fn bad_manifest_codes_are_refused_before_any_request() {
        // Port 9 (discard) would fail with Transport if a request were made.
        for code in ["", "abc/../x", "a b", "abc?x=1", "ä", &"a".repeat(300)] {
            let err = convert_manifest("http://127.0.0.1:9", code, "ua")
                .await
                .expect_err("refused");
            assert!(matches!(err, GitHubError::Config(_)), "{code:?}: {err}");
        }
    }
}
