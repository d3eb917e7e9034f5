//! The one place bosun's requests to GitHub leave from. [`Transport::send`] adds the headers
//! and credentials, retries what is safe to retry, sits out rate limits, swaps a refused
//! installation token for a fresh one, counts and traces every attempt. Endpoint code in
//! `client` / `installation` only builds [`Call`]s and parses replies.
//!
//! Each attempt goes out through octocrab ([`Octocrab::execute`]), built on its documented
//! custom-service path with no layer of its own: no retry (the door decides what is safe to
//! send twice), no credentials (the door's own `Authorization`, minted and refreshed here), no
//! extra `User-Agent`. See `docs/architecture.md`, "The door and octocrab".

use super::app_auth::AppJwt;
use super::classify::{classify, Verdict};
use super::error::GitHubError;
use super::rate_limit::{self, RateGate};
use super::retry::{Replay, RetryPolicy, CONTENT_LIMIT_WAITS};
use super::secret::Secret;
use super::token_cache::{InstallationToken, TokenCache};
use super::types::WireAccessToken;
use crate::locks::lock;
use bosun_core::ids::InstallationId;
use http::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::Method;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use octocrab::{AuthState, OctoBody, Octocrab, OctocrabBuilder};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use url::Url;

/// Whole-request cap: a hung GitHub must not hold a worker forever.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const API_VERSION: &str = "2022-11-28";

/// Which credential a call carries. Also the key of the rate-limit memory: each credential
/// has its own quota on GitHub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    None,
    /// `Authorization: Bearer <App JWT>`, for `/app...` routes.
    App,
    /// `Authorization: token <installation token>`, for repository routes.
    Installation(InstallationId),
}

/// Which of GitHub's quotas a call spends (`x-ratelimit-resource`): GraphQL's is separate
/// from the REST API's ("core").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Core,
    GraphQl,
}

impl Resource {
    /// By path: `/graphql` (`/api/graphql` on GitHub Enterprise Server) is GraphQL's.
    pub fn of(path: &str) -> Resource {
        if path.ends_with("/graphql") {
            Resource::GraphQl
        } else {
            Resource::Core
        }
    }
}

/// One logical API call (which may take several attempts).
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub url: Url,
    pub auth: Auth,
    pub body: Option<serde_json::Value>,
    pub replay: Replay,
}

impl Call {
    pub fn new(method: Method, url: Url, auth: Auth) -> Call {
        Call {
            replay: Replay::for_method(&method),
            method,
            url,
            auth,
            body: None,
        }
    }

    pub fn json(mut self, body: serde_json::Value) -> Call {
        self.body = Some(body);
        self
    }

    /// Marks a POST as safe to send twice (labels, reactions, token minting).
    pub fn idempotent(mut self) -> Call {
        self.replay = Replay::Safe;
        self
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The request path, for error messages (never the query).
    pub path: String,
}

impl Reply {
    /// Parses the body, reporting serde's reason (fine for bodies that hold no secrets).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, GitHubError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| GitHubError::Decode(format!("{}: {e}", self.path)))
    }

    /// Parses a body that carries credentials: serde's message may quote the offending value,
    /// so it is left out.
    pub fn json_secret<T: DeserializeOwned>(&self) -> Result<T, GitHubError> {
        serde_json::from_slice(&self.body)
            .map_err(|_| GitHubError::Decode(format!("{}: unexpected response shape", self.path)))
    }
}

/// The App's credentials; absent for the unauthenticated manifest conversion.
pub struct Credentials {
    pub jwt: AppJwt,
    pub tokens: TokenCache,
}

pub struct Transport {
    /// Made on first use: octocrab's client starts a task of its own (a tower `Buffer`),
    /// which needs the Tokio runtime, while a `Transport` may be made before there is one.
    octocrab: OnceLock<Octocrab>,
    user_agent: HeaderValue,
    base: Url,
    retry: RetryPolicy,
    creds: Option<Credentials>,
    /// Rate limits remembered per credential and per GitHub quota ("resource"): GraphQL has
    /// its own quota, so a spent one must not hold REST calls back.
    gate: RateGate<(Auth, Resource)>,
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Transport {
    pub fn new(
        api_url: &str,
        user_agent: &str,
        retry: RetryPolicy,
        creds: Option<Credentials>,
    ) -> Result<Transport, GitHubError> {
        let base = Url::parse(api_url)
            .map_err(|e| GitHubError::Config(format!("GitHub API URL {api_url:?}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(GitHubError::Config(format!(
                "GitHub API URL {api_url:?} must be http(s)"
            )));
        }
        if user_agent.trim().is_empty() {
            // GitHub refuses requests without a User-Agent.
            return Err(GitHubError::Config("User-Agent must not be empty".into()));
        }
        let user_agent = HeaderValue::from_str(user_agent).map_err(|_| {
            GitHubError::Config(format!("User-Agent {user_agent:?} is not a header value"))
        })?;
        Ok(Transport {
            octocrab: OnceLock::new(),
            user_agent,
            base,
            retry,
            creds,
            gate: RateGate::default(),
            counts: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// `base/seg1/seg2…`, each segment percent-encoded (label names hold `:`, spaces, `/`).
    /// Empty, `.` and `..` segments are refused: they would change which resource is meant.
    pub fn url(&self, segments: &[&str]) -> Result<Url, GitHubError> {
        if let Some(bad) = segments
            .iter()
            .find(|s| s.is_empty() || **s == "." || **s == "..")
        {
            return Err(GitHubError::Config(format!("invalid path segment {bad:?}")));
        }
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|_| GitHubError::Config("GitHub API URL cannot be a base".into()))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// A `Link: rel="next"` URL, accepted only on our own API origin so a forged or
    /// misdirected link can never carry our token to another host.
    pub fn follow(&self, link: &str) -> Result<Url, GitHubError> {
        let url = Url::parse(link)
            .map_err(|e| GitHubError::Decode(format!("bad pagination link: {e}")))?;
        if url.origin() != self.base.origin() {
            return Err(GitHubError::Decode(format!(
                "pagination link leaves the API host: {}",
                url.origin().ascii_serialization()
            )));
        }
        Ok(url)
    }

    /// Status-code tallies (and "error" for requests that got no answer), for Prometheus.
    pub fn call_counts(&self) -> Vec<(String, u64)> {
        let counts = lock(&self.counts);
        counts.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    fn count(&self, key: String) {
        let mut counts = lock(&self.counts);
        *counts.entry(key).or_insert(0) += 1;
    }

    /// Sends `call` until it succeeds, fails for good, or runs out of attempts.
    pub async fn send(&self, call: &Call) -> Result<Reply, GitHubError> {
        let path = call.url.path().to_string();
        let quota = (call.auth, Resource::of(&path));
        let mut allowed = self.retry.max_attempts.max(1);
        let mut attempt = 0u32;
        let mut backoffs = 0u32;
        let mut content_waits = 0u32;
        let mut reauthed = false;
        loop {
            attempt += 1;
            self.wait_out_rate_limit(&quota).await?;
            let (authorization, used) = self.credential(call.auth).await?;
            let started = Instant::now();
            let result = self.exchange(call, authorization, &path).await;
            let elapsed_ms = started.elapsed().as_millis() as u64;

            let reply = match result {
                Ok(reply) => reply,
                Err(err) => {
                    self.count("error".into());
                    tracing::debug!(method = %call.method, path = %path, status = "error", attempt, elapsed_ms, error = %err, "github call");
                    // Nothing came back: the request may or may not have been carried out.
                    if call.replay == Replay::Safe && attempt < allowed {
                        backoffs += 1;
                        tokio::time::sleep(self.retry.backoff(backoffs)).await;
                        continue;
                    }
                    return Err(err);
                }
            };
            self.count(reply.status.to_string());
            tracing::debug!(method = %call.method, path = %path, status = reply.status, attempt, elapsed_ms, "github call");

            let now = unix_now();
            // The call that spends the last unit of quota says so; later calls wait for the
            // reset instead of each collecting a 403.
            if let Some(wait) = rate_limit::exhausted_for(&reply.headers, now) {
                self.gate.block(&quota, wait);
            }
            match classify(reply.status, &reply.headers, &reply.body, &path, now) {
                Verdict::Success => return Ok(reply),
                Verdict::Reauth { message } => {
                    if reauthed || call.auth == Auth::None {
                        return Err(GitHubError::Unauthorized { message });
                    }
                    // One fresh credential, one more attempt: a token can be revoked or expire
                    // early; if the fresh one is refused too, the App itself is the problem.
                    reauthed = true;
                    allowed += 1;
                    self.drop_credential(call.auth, used.as_ref()).await;
                }
                Verdict::RateLimited(wait) => {
                    self.gate.block(&quota, wait);
                    if wait > self.retry.max_rate_limit_wait || attempt >= allowed {
                        tracing::warn!(path = %path, wait_s = wait.as_secs(), "github rate limit: giving up for now");
                        return Err(GitHubError::RateLimited { wait });
                    }
                    tracing::info!(path = %path, wait_ms = wait.as_millis() as u64, "github rate limit: waiting");
                    // The wait itself happens at the top of the loop, through the gate.
                }
                Verdict::ContentLimited { message } => {
                    // Not carried out: resending cannot duplicate, whatever the method.
                    content_waits += 1;
                    let wait = self.retry.content_limit_pause(content_waits);
                    if content_waits > CONTENT_LIMIT_WAITS {
                        tracing::warn!(path = %path, %message, "github content-creation limit: giving up for now");
                        return Err(GitHubError::RateLimited { wait });
                    }
                    tracing::info!(path = %path, wait_ms = wait.as_millis() as u64, "github content-creation limit: waiting");
                    allowed += 1;
                    tokio::time::sleep(wait).await;
                }
                Verdict::ServerError(status) => {
                    if call.replay == Replay::Safe && attempt < allowed {
                        backoffs += 1;
                        tokio::time::sleep(self.retry.backoff(backoffs)).await;
                        continue;
                    }
                    return Err(GitHubError::Server { status });
                }
                Verdict::Fail(err) => return Err(err),
            }
        }
    }

    /// Sleeps through a remembered rate limit, or fails at once if it lasts too long.
    async fn wait_out_rate_limit(&self, quota: &(Auth, Resource)) -> Result<(), GitHubError> {
        if let Some(wait) = self.gate.remaining(quota) {
            if wait > self.retry.max_rate_limit_wait {
                return Err(GitHubError::RateLimited { wait });
            }
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// One attempt through octocrab, answer read whole, within [`REQUEST_TIMEOUT`].
    async fn exchange(
        &self,
        call: &Call,
        authorization: Option<HeaderValue>,
        path: &str,
    ) -> Result<Reply, GitHubError> {
        let mut request = http::Request::builder()
            .method(call.method.clone())
            .uri(call.url.as_str())
            .header(ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .header(USER_AGENT, self.user_agent.clone());
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        let body = match &call.body {
            Some(body) => {
                request = request.header(CONTENT_TYPE, "application/json");
                OctoBody::from(
                    serde_json::to_vec(body)
                        .map_err(|e| GitHubError::Config(format!("request body: {e}")))?,
                )
            }
            None => OctoBody::empty(),
        };
        let request = request
            .body(body)
            .map_err(|e| GitHubError::Config(format!("request for {path}: {e}")))?;
        let attempt = async {
            let response = self
                .octocrab()?
                .execute(request)
                .await
                .map_err(transport_error)?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(transport_error)?.to_bytes();
            Ok::<_, GitHubError>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(REQUEST_TIMEOUT, attempt)
            .await
            .map_err(|_| {
                GitHubError::Transport(format!("timed out after {}s", REQUEST_TIMEOUT.as_secs()))
            })??;
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: body.to_vec(),
            path: path.to_string(),
        })
    }

    fn octocrab(&self) -> Result<&Octocrab, GitHubError> {
        if let Some(octocrab) = self.octocrab.get() {
            return Ok(octocrab);
        }
        // Two first calls at once may both build one; the loser's is dropped unused.
        let _ = self.octocrab.set(octocrab_client()?);
        Ok(self.octocrab.get().expect("set just now"))
    }

    fn creds(&self) -> Result<&Credentials, GitHubError> {
        self.creds
            .as_ref()
            .ok_or_else(|| GitHubError::Config("this client has no App credentials".into()))
    }

    /// The `Authorization` value for `auth`, and the secret in it (to drop it after a 401).
    async fn credential(
        &self,
        auth: Auth,
    ) -> Result<(Option<HeaderValue>, Option<Secret>), GitHubError> {
        let (scheme, secret) = match auth {
            Auth::None => return Ok((None, None)),
            Auth::App => (
                "Bearer",
                self.creds()?
                    .jwt
                    .token()
                    .map_err(|e| GitHubError::Config(e.to_string()))?,
            ),
            Auth::Installation(id) => ("token", self.installation_token(id).await?),
        };
        let mut value = HeaderValue::from_str(&format!("{scheme} {}", secret.expose()))
            .map_err(|_| GitHubError::Decode("credential is not a valid header value".into()))?;
        // Keeps it out of hyper's and octocrab's own Debug output.
        value.set_sensitive(true);
        Ok((Some(value), Some(secret)))
    }

    async fn drop_credential(&self, auth: Auth, used: Option<&Secret>) {
        let Ok(creds) = self.creds() else { return };
        match (auth, used) {
            (Auth::App, _) => creds.jwt.invalidate(),
            (Auth::Installation(id), Some(stale)) => {
                creds.tokens.invalidate_if_current(id, stale).await
            }
            (Auth::Installation(id), None) => creds.tokens.invalidate(id).await,
            (Auth::None, _) => {}
        }
    }

    /// The installation's token for use outside the API (git over HTTPS).
    pub async fn installation_access_token(
        &self,
        id: InstallationId,
    ) -> Result<Secret, GitHubError> {
        self.installation_token(id).await
    }

    /// Forgets the installation's cached token (it was refused somewhere).
    pub async fn invalidate_installation(&self, id: InstallationId) {
        if let Ok(creds) = self.creds() {
            creds.tokens.invalidate(id).await;
        }
    }

    /// A cached installation token, or a new one from
    /// `POST /app/installations/{id}/access_tokens` (single-flight per installation).
    ///
    /// Minting goes through `send`, which comes back here for installation routes; the boxed
    /// return type gives that recursion a known size and a declared `Send`.
    fn installation_token(&self, id: InstallationId) -> BoxFuture<'_, Result<Secret, GitHubError>> {
        Box::pin(async move {
            let creds = self.creds()?;
            creds
                .tokens
                .get_or_mint(id, || async move {
                    let url =
                        self.url(&["app", "installations", &id.to_string(), "access_tokens"])?;
                    let call = Call::new(Method::POST, url, Auth::App).idempotent();
                    let reply = self.send(&call).await?;
                    let wire: WireAccessToken = reply.json_secret()?;
                    tracing::debug!(installation = %id, expires_at = %wire.expires_at, "minted installation token");
                    Ok(InstallationToken {
                        token: Secret::new(wire.token),
                        expires_at: wire.expires_at,
                    })
                })
                .await
        })
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// octocrab over hyper with nothing of its own in between: TLS with the webpki roots (the
/// same trust as before, and no dependence on the host's CA bundle), HTTP/1.1, redirects
/// followed the way octocrab's default client follows them (credentials dropped on another
/// origin).
fn octocrab_client() -> Result<Octocrab, GitHubError> {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http.enforce_http(false);
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(provider)
        .map_err(|e| GitHubError::Config(format!("TLS: {e}")))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https);
    let octocrab = OctocrabBuilder::new_empty()
        .with_service(client)
        .with_layer(&tower_http::follow_redirect::FollowRedirectLayer::new())
        .with_auth(AuthState::None)
        .build();
    match octocrab {
        Ok(octocrab) => Ok(octocrab),
        Err(never) => match never {},
    }
}

/// The error and its causes (refused, reset, TLS), which never hold the URL or a header.
fn transport_error(err: impl std::error::Error) -> GitHubError {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    GitHubError::Transport(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(base: &str) -> Transport {
        Transport::new(base, "bosun-test", RetryPolicy::default(), None).expect("transport")
    }

    #[test]
    fn segments_are_percent_encoded() {
        let t = transport("https://api.github.com");
        let url = t
            .url(&[
                "repos",
                "o",
                "r",
                "issues",
                "1",
                "labels",
                "bosun: in progress/x",
            ])
            .expect("url");
        assert_eq!(
            url.as_str(),
            "https://api.github.com/repos/o/r/issues/1/labels/bosun:%20in%20progress%2Fx"
        );
        // An enterprise base path is kept.
        let t = transport("https://ghe.example.com/api/v3/");
        assert_eq!(
            t.url(&["app"]).expect("url").as_str(),
            "https://ghe.example.com/api/v3/app"
        );
        for bad in ["", ".", ".."] {
            assert!(t.url(&["repos", bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pagination_links_must_stay_on_the_api_origin() {
        let t = transport("http://127.0.0.1:8080");
        assert!(t
            .follow("http://127.0.0.1:8080/repos/o/r/issues?page=2")
            .is_ok());
        assert!(t
            .follow("http://127.0.0.1:9999/repos/o/r/issues?page=2")
            .is_err());
        assert!(t.follow("https://evil.example/x").is_err());
        assert!(t.follow("not a url").is_err());
    }

    #[test]
    fn config_is_validated() {
        assert!(Transport::new("ftp://x", "ua", RetryPolicy::default(), None).is_err());
        assert!(Transport::new("nonsense", "ua", RetryPolicy::default(), None).is_err());
        assert!(Transport::new("https://x", " ", RetryPolicy::default(), None).is_err());
    }
}
