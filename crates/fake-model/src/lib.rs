//! A fake of the model APIs the coding agents call, served over real HTTP on 127.0.0.1: the
//! Anthropic Messages API (`POST /v1/messages`), the OpenAI Responses (`POST /v1/responses`)
//! and Chat Completions (`POST /v1/chat/completions`) APIs, and Google's Gemini API
//! (`POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent`), each streaming
//! (SSE) or not.
//!
//! It stands in for the real APIs in bosun's metering-proxy tests and benchmark. The event
//! sequences and field names follow the public API formats; the text, ids and token counts
//! are whatever the test configures. Every request is recorded (path, headers, body) together
//! with the exact bytes of the body that was sent back, so a test can compare what an agent
//! received through a proxy with what the fake sent.
//!
//! Token counts are set once for all providers with [`FakeModel::set_usage`] and
//! [`FakeModel::set_cache_write`], and reported the way each API does: Anthropic's
//! `input_tokens` exclude cache reads and writes; OpenAI's `input_tokens` / `prompt_tokens`
//! and Gemini's `promptTokenCount` include them, with the reads repeated as `cached_tokens` /
//! `cachedContentTokenCount`. Thinking tokens ([`FakeModel::set_thoughts`]) are Gemini's
//! `thoughtsTokenCount`, OpenAI's `reasoning_tokens` inside `output_tokens`, and part of
//! Anthropic's `output_tokens`.
//!
//! The key a request carried is in its [`RecordedCall`]: headers (`x-api-key`,
//! `authorization`, `x-goog-api-key`) and the query string (Gemini's `key=`).

mod anthropic;
mod gemini;
mod openai;
mod script;
mod server;
mod sse;

pub use script::Turn;

use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Token counts the fake reports for each call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FakeUsage {
    /// Fresh input tokens (neither read from nor written to a cache).
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    /// Thinking (reasoning) tokens, billed as output, on top of `output`.
    pub thoughts: u64,
}

/// How the fake answers; shared by every API.
#[derive(Debug, Clone)]
pub(crate) struct Behavior {
    pub(crate) text: String,
    /// How many text deltas a stream splits the text into.
    pub(crate) pieces: usize,
    pub(crate) usage: FakeUsage,
    /// The model named in responses; `None` echoes the request's `model`.
    pub(crate) model: Option<String>,
    /// Pause between SSE events (or between chunks, with `chunk_bytes`).
    pub(crate) event_delay: Duration,
    /// Cut the SSE body into pieces of this many bytes instead of one piece per event.
    pub(crate) chunk_bytes: Option<usize>,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            text: "Hello from the fake model.".into(),
            pieces: 4,
            usage: FakeUsage {
                input: 100,
                output: 20,
                cache_read: 0,
                cache_write: 0,
                thoughts: 0,
            },
            model: None,
            event_delay: Duration::ZERO,
            chunk_bytes: None,
        }
    }
}

/// One request the fake answered, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The raw query string (without `?`), empty if none.
    pub query: String,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub status: u16,
    /// Every byte of the response body the fake sent (or began to send).
    pub response_body: Bytes,
}

impl RecordedCall {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether any header's value contains `needle` (to check a secret never arrived).
    pub fn any_header_contains(&self, needle: &str) -> bool {
        self.headers.iter().any(|(_, v)| v.contains(needle))
    }

    /// The raw values of query parameter `name`, in order (Gemini clients may send `key=`).
    pub fn query_values(&self, name: &str) -> Vec<&str> {
        self.query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v)
            .collect()
    }
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) behavior: Behavior,
    pub(crate) calls: Vec<RecordedCall>,
    pub(crate) next_id: u64,
    pub(crate) scripts: Vec<script::Script>,
    /// The one key accepted, when set: any other gets each API's 401.
    pub(crate) key: Option<String>,
}

pub(crate) type Shared = Arc<Mutex<State>>;

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake. Dropping it stops the server; [`FakeModel::shutdown`] also waits for it.
pub struct FakeModel {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeModel {
    /// Starts on an ephemeral port of 127.0.0.1.
    pub async fn start() -> FakeModel {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let shared: Shared = Arc::default();
        // As a real API server does: each SSE event leaves when written, not after an ACK.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = server::router(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        FakeModel {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:<port>`: the base URL of every API (paths start with `/v1` or, for
    /// Gemini, `/v1beta`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.shared))
    }

    /// Fresh input, output and cache-read tokens reported for each following call.
    pub fn set_usage(&self, input: u64, output: u64, cache_read: u64) {
        self.with(|s| {
            s.behavior.usage.input = input;
            s.behavior.usage.output = output;
            s.behavior.usage.cache_read = cache_read;
        });
    }

    /// Cache-write tokens reported for each following call (Anthropic's
    /// `cache_creation_input_tokens`; OpenAI reports them as plain input).
    pub fn set_cache_write(&self, tokens: u64) {
        self.with(|s| s.behavior.usage.cache_write = tokens);
    }

    /// Thinking tokens reported for each following call, on top of the output tokens.
    pub fn set_thoughts(&self, tokens: u64) {
        self.with(|s| s.behavior.usage.thoughts = tokens);
    }

    pub fn usage(&self) -> FakeUsage {
        self.with(|s| s.behavior.usage)
    }

    /// The assistant text of each following answer.
    pub fn set_text(&self, text: &str) {
        self.with(|s| s.behavior.text = text.to_owned());
    }

    /// How many text deltas a stream splits the text into (at least 1).
    pub fn set_pieces(&self, pieces: usize) {
        self.with(|s| s.behavior.pieces = pieces.max(1));
    }

    /// The model named in responses (e.g. a dated snapshot); `None` echoes the request's.
    pub fn set_model(&self, model: Option<&str>) {
        self.with(|s| s.behavior.model = model.map(str::to_owned));
    }

    /// A pause between SSE events, or between chunks when [`FakeModel::set_chunk_bytes`] is set.
    pub fn set_event_delay(&self, delay: Duration) {
        self.with(|s| s.behavior.event_delay = delay);
    }

    /// Sends an SSE body in pieces of `bytes` bytes, cutting through events and lines, instead
    /// of one piece per event. `None` goes back to one piece per event.
    pub fn set_chunk_bytes(&self, bytes: Option<usize>) {
        self.with(|s| s.behavior.chunk_bytes = bytes.map(|b| b.max(1)));
    }

    /// Answers the Messages and Responses requests whose body contains `when` with `turns`,
    /// one per assistant turn the conversation already holds (see [`Turn`]); past the last,
    /// with the plain text of [`FakeModel::set_text`]. Scripts added first are tried first.
    pub fn script(&self, when: &str, turns: Vec<Turn>) {
        self.with(|s| {
            s.scripts.push(script::Script {
                when: when.to_owned(),
                turns,
            })
        });
    }

    /// Accepts only `key` from now on (in `x-api-key`, `Authorization: Bearer`,
    /// `x-goog-api-key` or `key=`); any other key gets the API's own 401, as a revoked or
    /// mistyped key does.
    pub fn require_key(&self, key: &str) {
        self.with(|s| s.key = Some(key.to_owned()));
    }

    /// Every request answered so far, oldest first.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.with(|s| s.calls.clone())
    }

    pub fn call_count(&self) -> usize {
        self.with(|s| s.calls.len())
    }

    pub fn clear_calls(&self) {
        self.with(|s| s.calls.clear());
    }

    /// Stops the server and waits for it to finish, at most 5 s, then cuts what is left.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
                let _ = task.await;
            }
        }
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Splits `text` into `pieces` parts of about equal length, on character boundaries.
pub(crate) fn split_text(text: &str, pieces: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let pieces = pieces.clamp(1, chars.len().max(1));
    let size = chars.len().div_ceil(pieces).max(1);
    let mut out: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_splits_into_the_asked_number_of_pieces() {
        assert_eq!(split_text("abcdefgh", 4), vec!["ab", "cd", "ef", "gh"]);
        assert_eq!(split_text("abc", 10), vec!["a", "b", "c"]);
        assert_eq!(split_text("", 3), vec![""]);
        assert_eq!(split_text("héllo", 2).concat(), "héllo");
    }
}
