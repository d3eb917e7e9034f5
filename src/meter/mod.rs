//! A metering proxy for model APIs, so that agents never hold a real API key and runs cannot
//! spend past a budget.
//!
//! bosun points each agent's base URL at a [`MeterProxy`] on the host and gives the agent a
//! per-run token in place of its API key. The proxy checks the token, swaps it for the real key,
//! forwards the request, streams the upstream's response back byte for byte, reads the token
//! usage out of it on the way ([`usage`]), prices it ([`prices`]) and refuses further calls of
//! the run once a budget is spent, without contacting the upstream.
//!
//! Wiring for a run (done by the run code, not here):
//! ```text
//! let (run, token) = proxy.register_run(RunBudget { max_tokens: Some(2_000_000), max_micro_usd: Some(5_000_000) });
//! claude: ANTHROPIC_BASE_URL=http://<host>:<port>/anthropic  ANTHROPIC_API_KEY=<token>
//! codex:  model_providers.bosun.base_url="http://<host>:<port>/openai/v1", wire_api="responses",
//!         env_key naming a variable that holds <token>
//! gemini: GOOGLE_GEMINI_BASE_URL=http://<host>:<port>/gemini  GEMINI_API_KEY=<token>
//! opencode: OPENCODE_CONFIG_CONTENT with provider.<id>.options {baseURL, apiKey: <token>}
//! after the run: proxy.end_run(run), then proxy.spent(run) / proxy.forget_run(run)
//! ```

mod body;
mod errors;
mod estimate;
mod json_pick;
pub mod prices;
mod proxy;
mod route;
mod runs;
mod sse;
mod tools;
pub mod usage;
mod vet;

pub use errors::{BUDGET_SPENT, KEY_REFUSED};
pub use prices::{ModelPrice, PriceError, PriceTable};
pub use proxy::{MeterProxy, Upstream, UpstreamApi};
pub use runs::{RunBudget, RunId, Spent};
pub use usage::{Api, Framing, Reading, Usage, UsageReader};

/// The model API providers the proxy fronts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Anthropic,
    OpenAi,
    /// Google's Gemini API (the Generative Language API at generativelanguage.googleapis.com).
    Gemini,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
            Provider::Gemini => "gemini",
        }
    }

    /// The path on the proxy that stands for the provider's base URL: `/anthropic` (Anthropic
    /// clients add `/v1/...` themselves), `/openai/v1` (OpenAI base URLs include `/v1`) or
    /// `/gemini` (Google's clients add `/v1beta/models/...` themselves; the AI SDK's Google
    /// provider, whose base URL includes the version, gets `/gemini/v1beta`).
    pub fn base_path(self) -> &'static str {
        match self {
            Provider::Anthropic => "/anthropic",
            Provider::OpenAi => "/openai/v1",
            Provider::Gemini => "/gemini",
        }
    }
}
