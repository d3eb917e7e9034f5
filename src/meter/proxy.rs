//! The proxy server: authenticates a run by its token, swaps the token for the real key,
//! forwards the request and streams the response back unchanged while metering it.
//!
//! Order of checks for each request: known route (404), run token (401), forwarded endpoint
//! (404), configured upstream (502), budget (400, without contacting the upstream). Only then is
//! the upstream called; if it cannot be reached the agent gets 502.
//!
//! Nothing here logs a key or a token: keys live in [`Secret`]s and are marked sensitive on the
//! wire, tokens are only ever compared. Each request's log lines carry the run id in a span.

use super::body::MeteredBody;
use super::errors::{self, Kind, BUDGET_SPENT, KEY_REFUSED};
use super::estimate::Estimate;
use super::prices::PriceTable;
use super::route::{self, Endpoint};
use super::runs::{Run, RunBudget, RunId, Runs, Spent};
use super::usage::{Framing, UsageReader};
use super::vet;
use super::Provider;
use crate::github::secret::Secret;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::response::Response;
use axum::serve::ListenerExt;
use axum::Router;
use bosun_core::repo_config::ModelTool;
use reqwest::Url;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// One provider's real API: where it is and the key the proxy injects.
#[derive(Debug, Clone)]
pub struct UpstreamApi {
    /// The API origin, plus a path prefix if the API lives under one: `https://api.anthropic.com`,
    /// `https://api.openai.com`, `https://generativelanguage.googleapis.com`. The agent's path
    /// (`/v1/messages`, `/v1beta/models/...`) is appended to it.
    pub base_url: Url,
    pub key: Secret,
}

impl UpstreamApi {
    pub fn new(base_url: Url, key: Secret) -> Self {
        UpstreamApi { base_url, key }
    }
}

/// The real APIs behind the proxy; a provider left `None` answers 502.
#[derive(Debug, Clone, Default)]
pub struct Upstream {
    pub anthropic: Option<UpstreamApi>,
    pub openai: Option<UpstreamApi>,
    pub gemini: Option<UpstreamApi>,
}

impl Upstream {
    pub fn get(&self, provider: Provider) -> Option<&UpstreamApi> {
        match provider {
            Provider::Anthropic => self.anthropic.as_ref(),
            Provider::OpenAi => self.openai.as_ref(),
            Provider::Gemini => self.gemini.as_ref(),
        }
    }
}

struct Shared {
    runs: Runs,
    prices: Arc<PriceTable>,
    upstream: Upstream,
    client: reqwest::Client,
}

/// A running metering proxy. Dropping it stops accepting connections at once (responses
/// already streaming go on until their agents hang up); [`MeterProxy::shutdown`] closes idle
/// connections, lets calls in flight finish for a few seconds, then stops.
pub struct MeterProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// How long [`MeterProxy::shutdown`] waits for open responses before cutting them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

impl MeterProxy {
    /// Serves on `listener` (call from inside a tokio runtime). The proxy must be reachable by
    /// the agents' containers and by nothing else: bind it to an address only they can reach.
    pub fn start(
        listener: TcpListener,
        upstream: Upstream,
        prices: PriceTable,
    ) -> io::Result<Self> {
        let addr = listener.local_addr()?;
        let client = reqwest::Client::builder()
            // The upstream is the configured one, never one from the environment or a redirect.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .build()
            .map_err(io::Error::other)?;
        let shared = Arc::new(Shared {
            runs: Runs::default(),
            prices: Arc::new(prices),
            upstream,
            client,
        });
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        // Without TCP_NODELAY, an SSE event written on its own waits for the agent's delayed
        // ACK of the previous one (about 40 ms on Linux) before it leaves.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY on an agent connection");
            }
        });
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the metering proxy stopped serving");
            }
        });
        tracing::info!(%addr, "metering proxy listening");
        Ok(MeterProxy {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Binds `addr` and serves on it; see [`MeterProxy::start`].
    pub async fn bind(
        addr: SocketAddr,
        upstream: Upstream,
        prices: PriceTable,
    ) -> io::Result<Self> {
        Self::start(TcpListener::bind(addr).await?, upstream, prices)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL an agent on this host uses for `provider`: `http://<addr>/anthropic` for
    /// `ANTHROPIC_BASE_URL`, `http://<addr>/openai/v1` for an OpenAI base URL,
    /// `http://<addr>/gemini` for `GOOGLE_GEMINI_BASE_URL`. An agent in a
    /// container reaches the proxy by another host name; [`Provider::base_path`] is the part to
    /// append to it.
    pub fn base_url(&self, provider: Provider) -> String {
        format!("http://{}{}", self.addr, provider.base_path())
    }

    /// A new run with its budget, and the token its agent uses in place of an API key. Tools
    /// the provider would run itself are taken out of its model calls (see
    /// [`MeterProxy::register_run_allowing`]).
    pub fn register_run(&self, budget: RunBudget) -> (RunId, Secret) {
        self.register_run_allowing(budget, Vec::new())
    }

    /// A new run whose model calls may ask the provider to run `model_tools` (the run's
    /// repository's `model_tools:`); any other provider-side tool is taken out of its calls.
    pub fn register_run_allowing(
        &self,
        budget: RunBudget,
        model_tools: Vec<ModelTool>,
    ) -> (RunId, Secret) {
        let (id, token) = self.shared.runs.register(budget, model_tools.clone());
        tracing::info!(run = %id, ?budget, ?model_tools, "metered run registered");
        (id, token)
    }

    /// What the run has used so far; `None` for a run never registered or forgotten.
    pub fn spent(&self, run: RunId) -> Option<Spent> {
        self.shared.runs.spent(run)
    }

    /// Provider-side tools taken out of the run's calls so far (not in its `model_tools:`).
    pub fn stripped_tools(&self, run: RunId) -> Vec<String> {
        self.shared.runs.stripped(run)
    }

    /// Calls of the run whose responses are still streaming.
    pub fn in_flight(&self, run: RunId) -> Option<u64> {
        self.shared.runs.in_flight(run)
    }

    /// Ends a run: its token stops working at once. Calls still streaming finish and are
    /// counted, so [`MeterProxy::spent`] keeps working (and may grow) until
    /// [`MeterProxy::forget_run`]. Returns what was spent so far.
    pub fn end_run(&self, run: RunId) -> Option<Spent> {
        let spent = self.shared.runs.end(run);
        if let Some(s) = &spent {
            tracing::info!(run = %run, spent = ?s, "metered run ended");
        }
        spent
    }

    /// Drops the run's record (ending it first if needed); returns its final numbers.
    pub fn forget_run(&self, run: RunId) -> Option<Spent> {
        self.shared.runs.forget(run)
    }

    /// Stops accepting connections, lets open responses finish for a few seconds, then cuts
    /// whatever is left and returns once the server task is gone.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
            {
                task.abort();
                let _ = task.await;
            }
        }
    }
}

impl Drop for MeterProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let Some((provider, path)) = route::split_provider(request.uri().path()) else {
        return errors::respond(
            Provider::OpenAi,
            Kind::NotFound,
            "bosun: unknown route; the metering proxy serves /anthropic/..., /openai/... and /gemini/...",
        );
    };
    if let Err(why) = route::plain_path(path) {
        tracing::info!(provider = provider.name(), why, "path refused");
        return errors::respond(
            provider,
            Kind::NotFound,
            &format!("bosun: a path with {why} is not forwarded by the metering proxy"),
        );
    }
    let path = path.to_owned();
    let Some(token) = route::run_token(request.headers(), provider, request.uri().query()) else {
        tracing::info!(
            provider = provider.name(),
            "request without a run token refused"
        );
        let how = match provider {
            Provider::Gemini => "x-goog-api-key or the key query parameter",
            Provider::Anthropic | Provider::OpenAi => "x-api-key or Authorization: Bearer",
        };
        return errors::respond(
            provider,
            Kind::Unauthorized,
            &format!("bosun: this request carries no run token (send it as {how})"),
        );
    };
    let Some(run) = shared.runs.authenticate(&token) else {
        tracing::info!(
            provider = provider.name(),
            "request with an unknown or ended run token refused"
        );
        return errors::respond(
            provider,
            Kind::Unauthorized,
            "bosun: the run token is unknown or its run has ended",
        );
    };
    let span =
        tracing::info_span!("meter", run = %run.id(), provider = provider.name(), path = %path);
    forward(shared, run, provider, path, request)
        .instrument(span)
        .await
}

async fn forward(
    shared: Arc<Shared>,
    run: Arc<Run>,
    provider: Provider,
    path: String,
    request: Request,
) -> Response {
    let endpoint = route::classify(provider, request.method(), &path, request.uri().query());
    if endpoint == Endpoint::Refused {
        tracing::info!(method = %request.method(), "endpoint not forwarded");
        return errors::respond(
            provider,
            Kind::NotFound,
            &format!(
                "bosun: {} {path}{} is not available through the metering proxy",
                request.method(),
                route::refusal_hint(provider, &path),
            ),
        );
    }
    let Some(api) = shared.upstream.get(provider) else {
        return errors::respond(
            provider,
            Kind::BadGateway,
            &format!(
                "bosun: no {} API is configured behind the metering proxy",
                provider.name()
            ),
        );
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, vet::MAX_REQUEST_BYTES).await else {
        return errors::respond(
            provider,
            Kind::Refused,
            &format!(
                "bosun: the request body is over {} MiB or was cut off",
                vet::MAX_REQUEST_BYTES >> 20
            ),
        );
    };
    // Gemini names the model in the path: its calls are estimated and priced by it.
    let path_model = match provider {
        Provider::Gemini => route::gemini_model_call(&path).map(|(model, _)| model),
        Provider::Anthropic | Provider::OpenAi => None,
    };
    let (body, estimate) = match endpoint {
        Endpoint::Metered(api) => {
            let vetted = match vet::vet_body(provider, api, body, path_model, |tool| {
                run.allows_tool(tool)
            }) {
                Ok(vetted) => vetted,
                Err(why) => {
                    tracing::info!(%why, "model call refused");
                    return errors::respond(provider, Kind::Refused, &why);
                }
            };
            if !vetted.stripped.is_empty() {
                run.note_stripped(&vetted.stripped);
                tracing::info!(
                    tools = %vetted.stripped.join(", "),
                    "provider-side tools taken out of the model call (not in the repository's model_tools)"
                );
            }
            let model = vetted.facts.model.as_deref();
            if run.has_usd_budget() && model.and_then(|m| shared.prices.entry_for(m)).is_none() {
                let model = model.unwrap_or("(none named)");
                tracing::info!(
                    model,
                    "call refused: no price for its model under a USD budget"
                );
                return errors::respond(
                    provider,
                    Kind::Refused,
                    &format!(
                        "bosun: the model {model} has no price in this server's meter.prices, so this \
                         run's budget in dollars cannot count it; an operator adds its price there"
                    ),
                );
            }
            (vetted.body, Estimate::of(&vetted.facts, &shared.prices))
        }
        Endpoint::Free | Endpoint::Refused => (body, Estimate::default()),
    };
    let ticket = match run.admit(&shared.prices, estimate) {
        Ok(ticket) => ticket,
        Err(exhausted) => {
            tracing::info!(%exhausted, "call refused: the run's budget is spent");
            return errors::respond(
                provider,
                Kind::BudgetSpent,
                &format!(
                    "{BUDGET_SPENT} ({exhausted}); no further model calls are allowed in this run"
                ),
            );
        }
    };
    let headers = match route::upstream_request_headers(&parts.headers, provider, api.key.expose())
    {
        Ok(headers) => headers,
        Err(_) => {
            tracing::error!("the configured API key is not a valid header value");
            return errors::respond(
                provider,
                Kind::BadGateway,
                "bosun: the metering proxy's API key for this provider is misconfigured",
            );
        }
    };
    let query = route::upstream_query(provider, parts.uri.query());
    let url = upstream_url(&api.base_url, &path, query.as_deref());
    let upstream = match shared
        .client
        .request(parts.method, url)
        .headers(headers)
        .body(body)
        .send()
        .await
    {
        Ok(response) => response,
        Err(e) => {
            // Dropping the ticket settles the call with no usage: nothing was answered.
            tracing::warn!(error = %e, "the model API could not be reached");
            return errors::respond(
                provider,
                Kind::BadGateway,
                "bosun: the metering proxy could not reach the model API",
            );
        }
    };

    let status = upstream.status();
    if matches!(status.as_u16(), 401 | 403) {
        // The server's key, not the run's token: say so, in a way the CLIs do not retry.
        tracing::error!(
            status = status.as_u16(),
            "the model API refused the server's key; check meter.{}.key_env",
            provider.name()
        );
        return errors::respond(
            provider,
            Kind::KeyRefused,
            &format!(
                "{KEY_REFUSED} (HTTP {}): its operator must check the key in meter.{}.key_env",
                status.as_u16(),
                provider.name()
            ),
        );
    }
    let headers = route::agent_response_headers(upstream.headers());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let reader = match endpoint {
        Endpoint::Metered(api) => {
            let reader = UsageReader::new(api, Framing::from_content_type(content_type));
            match path_model {
                Some(model) => Some(reader.with_model(model)),
                None => Some(reader),
            }
        }
        Endpoint::Free | Endpoint::Refused => None,
    };
    let expect_usage = reader.is_some() && status.is_success();
    let content_length = upstream.content_length();
    tracing::debug!(status = status.as_u16(), "upstream answered");
    let body = MeteredBody::new(
        Box::pin(upstream.bytes_stream()),
        content_length,
        reader,
        ticket,
        expect_usage,
        tracing::Span::current(),
    );
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// `base` + the agent's path + the query string to forward (see [`route::upstream_query`]).
fn upstream_url(base: &Url, path: &str, query: Option<&str>) -> String {
    let mut url = base.as_str().trim_end_matches('/').to_owned();
    url.push_str(path);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls_keep_prefix_and_query() {
        let base = Url::parse("https://api.anthropic.com").unwrap();
        assert_eq!(
            upstream_url(&base, "/v1/messages", Some("beta=true")),
            "https://api.anthropic.com/v1/messages?beta=true"
        );
        let base = Url::parse("http://127.0.0.1:9/prefix/").unwrap();
        assert_eq!(
            upstream_url(&base, "/v1/responses", None),
            "http://127.0.0.1:9/prefix/v1/responses"
        );
    }
}
