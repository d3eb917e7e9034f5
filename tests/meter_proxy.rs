//! The metering proxy on loopback between a test client (standing in for an agent) and the fake
//! model API: key swap, byte-exact pass-through, usage and cost, budgets, refusals.
//! No test asserts a duration; delays only shape how bytes arrive.

use bosun::github::secret::Secret;
use bosun::meter::{
    MeterProxy, ModelPrice, PriceTable, Provider, RunBudget, RunId, Spent, Upstream, UpstreamApi,
    BUDGET_SPENT, KEY_REFUSED,
};
use bytes::Bytes;
use fake_model::{FakeModel, RecordedCall};
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

const TEST_TIMEOUT: Duration = Duration::from_secs(60);
const ANTHROPIC_KEY: &str = "sk-ant-api03-REAL-KEY-only-the-upstream-sees";
const OPENAI_KEY: &str = "sk-proj-REAL-KEY-only-the-upstream-sees";
const GEMINI_KEY: &str = "AIzaSy-REAL-KEY-only-the-upstream-sees";
/// The model every Gemini call of [`Rig::call`] names in its path.
const GEMINI_MODEL: &str = "gemini-2.5-pro";

/// Prices in USD per million tokens, and the same in micro-USD per million tokens for the
/// independent cost computation in [`expected_micro_usd`].
const SONNET: (f64, f64, f64, f64) = (3.0, 15.0, 0.3, 3.75);
const GPT5: (f64, f64, f64, f64) = (1.25, 10.0, 0.125, 1.25);
const MINI: (f64, f64, f64, f64) = (0.15, 0.6, 0.075, 0.15);
const GEMINI_PRO: (f64, f64, f64, f64) = (1.25, 10.0, 0.31, 1.25);
const GEMINI_FLASH: (f64, f64, f64, f64) = (0.3, 2.5, 0.075, 0.3);

fn price((input, output, cache_read, cache_write): (f64, f64, f64, f64)) -> ModelPrice {
    ModelPrice {
        input,
        output,
        cache_read: Some(cache_read),
        cache_write: Some(cache_write),
    }
}

fn prices() -> PriceTable {
    PriceTable::new()
        .with("claude-sonnet-4-5", price(SONNET))
        .unwrap()
        .with("gpt-5", price(GPT5))
        .unwrap()
        .with("gpt-4o-mini", price(MINI))
        .unwrap()
        .with("gemini-2.5-pro", price(GEMINI_PRO))
        .unwrap()
        .with("gemini-2.5-flash", price(GEMINI_FLASH))
        .unwrap()
}

/// tokens x (USD per million) is micro-USD; summed exactly in millionths, rounded up once.
fn expected_micro_usd(
    p: (f64, f64, f64, f64),
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
) -> u64 {
    let per_mtok = |usd: f64| (usd * 1e6).round() as u128;
    let total = input as u128 * per_mtok(p.0)
        + output as u128 * per_mtok(p.1)
        + cache_read as u128 * per_mtok(p.2)
        + cache_write as u128 * per_mtok(p.3);
    total.div_ceil(1_000_000) as u64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Messages,
    Responses,
    Chat,
    /// `generateContent`, or `streamGenerateContent?alt=sse` when streamed.
    Gemini,
}

impl Call {
    fn provider(self) -> Provider {
        match self {
            Call::Messages => Provider::Anthropic,
            Call::Responses | Call::Chat => Provider::OpenAi,
            Call::Gemini => Provider::Gemini,
        }
    }
}

struct Rig {
    fake: FakeModel,
    proxy: MeterProxy,
    client: reqwest::Client,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// What the client sent as the request body.
    sent: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

impl Rig {
    async fn start() -> Rig {
        let fake = FakeModel::start().await;
        let upstream = Upstream {
            anthropic: Some(UpstreamApi::new(
                fake.url().parse().unwrap(),
                Secret::new(ANTHROPIC_KEY),
            )),
            openai: Some(UpstreamApi::new(
                fake.url().parse().unwrap(),
                Secret::new(OPENAI_KEY),
            )),
            gemini: Some(UpstreamApi::new(
                fake.url().parse().unwrap(),
                Secret::new(GEMINI_KEY),
            )),
        };
        let proxy = MeterProxy::bind("127.0.0.1:0".parse().unwrap(), upstream, prices())
            .await
            .unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        Rig {
            fake,
            proxy,
            client,
        }
    }

    async fn stop(self) {
        self.proxy.shutdown().await;
        self.fake.shutdown().await;
    }

    /// One call the way the agent CLIs make it: Anthropic with `x-api-key` and
    /// `anthropic-version`, OpenAI with a bearer token, Gemini with `x-goog-api-key` (as the
    /// Gemini CLI's SDK sends it) or, streamed, in the `key` query parameter (Google's other
    /// way of passing a key), so that both are exercised.
    async fn call(&self, call: Call, token: &str, stream: bool) -> Answer {
        let base = self.proxy.base_url(call.provider());
        let (url, body) = match call {
            Call::Messages => (
                format!("{base}/v1/messages?beta=true"),
                json!({"model": "claude-sonnet-4-5", "max_tokens": 1024, "stream": stream,
                       "messages": [{"role": "user", "content": "Say hello"}]}),
            ),
            Call::Responses => (
                format!("{base}/responses"),
                json!({"model": "gpt-5-codex", "stream": stream, "store": false,
                       "input": [{"type": "message", "role": "user",
                                  "content": [{"type": "input_text", "text": "Say hello"}]}]}),
            ),
            Call::Chat => (
                format!("{base}/chat/completions"),
                json!({"model": "gpt-4o-mini", "stream": stream,
                       "stream_options": {"include_usage": true},
                       "messages": [{"role": "user", "content": "Say hello"}]}),
            ),
            Call::Gemini => (
                if stream {
                    format!("{base}/v1beta/models/{GEMINI_MODEL}:streamGenerateContent?alt=sse&key={token}")
                } else {
                    format!("{base}/v1beta/models/{GEMINI_MODEL}:generateContent")
                },
                json!({"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}],
                       "generationConfig": {"temperature": 0,
                                            "thinkingConfig": {"includeThoughts": true}}}),
            ),
        };
        let sent = body.to_string();
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("x-agent-marker", "from-the-agent")
            .body(sent.clone());
        request = match call {
            Call::Messages => request
                .header("x-api-key", token)
                .header("anthropic-version", "2023-06-01")
                .header("anthropic-beta", "fine-grained-tool-streaming-2025-05-14"),
            Call::Responses | Call::Chat => request.bearer_auth(token),
            Call::Gemini if stream => request,
            Call::Gemini => request.header("x-goog-api-key", token).header(
                "x-goog-api-client",
                "google-genai-sdk/1.30.0 gl-node/v22.19.0",
            ),
        };
        let response = request.send().await.expect("the proxy answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("a complete body");
        Answer {
            status,
            headers,
            body,
            sent,
        }
    }

    fn last_upstream_call(&self) -> RecordedCall {
        self.fake.calls().pop().expect("the upstream saw a call")
    }

    fn spent(&self, run: RunId) -> Spent {
        self.proxy.spent(run).expect("a registered run")
    }
}

async fn within_timeout(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("the test finished in time");
}

/// The numbers each API reports for one fake call, and the price row of the model it names.
struct Case {
    call: Call,
    stream: bool,
    model: &'static str,
    price: (f64, f64, f64, f64),
    /// fresh input, output, cache read, cache write as the fake is told
    usage: (u64, u64, u64, u64),
    /// thinking tokens, on top of the output
    thoughts: u64,
}

#[tokio::test]
async fn every_api_streamed_or_not_gets_the_real_key_upstream_and_the_exact_bytes_back() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (run, token) = rig.proxy.register_run(RunBudget::default());
        let cases = [
            Case {
                call: Call::Messages,
                stream: true,
                model: "claude-sonnet-4-5-20250929",
                price: SONNET,
                usage: (1000, 200, 10_000, 400),
                thoughts: 0,
            },
            Case {
                call: Call::Messages,
                stream: false,
                model: "claude-sonnet-4-5-20250929",
                price: SONNET,
                usage: (7, 3, 0, 11),
                thoughts: 0,
            },
            Case {
                call: Call::Responses,
                stream: true,
                model: "gpt-5-codex",
                price: GPT5,
                usage: (1500, 321, 2048, 0),
                thoughts: 64,
            },
            Case {
                call: Call::Responses,
                stream: false,
                model: "gpt-5-2025-08-07",
                price: GPT5,
                usage: (10, 20, 30, 0),
                thoughts: 0,
            },
            Case {
                call: Call::Chat,
                stream: true,
                model: "gpt-4o-mini-2024-07-18",
                price: MINI,
                usage: (2000, 50, 1024, 0),
                thoughts: 0,
            },
            Case {
                call: Call::Chat,
                stream: false,
                model: "gpt-4o-mini-2024-07-18",
                price: MINI,
                usage: (19, 10, 0, 0),
                thoughts: 0,
            },
            // Gemini names no model in its body: the response's modelVersion is what the fake
            // is told, the price is the path's model's.
            Case {
                call: Call::Gemini,
                stream: true,
                model: "gemini-2.5-pro",
                price: GEMINI_PRO,
                usage: (5210, 42, 4096, 0),
                thoughts: 200,
            },
            Case {
                call: Call::Gemini,
                stream: false,
                model: "gemini-2.5-pro",
                price: GEMINI_PRO,
                usage: (1200, 9, 0, 30),
                thoughts: 22,
            },
        ];
        let mut expected = Spent::default();
        for case in &cases {
            let what = format!("{:?} stream={}", case.call, case.stream);
            let (input, output, cache_read, cache_write) = case.usage;
            rig.fake.set_usage(input, output, cache_read);
            rig.fake.set_cache_write(cache_write);
            rig.fake.set_thoughts(case.thoughts);
            rig.fake.set_model(Some(case.model));
            let answer = rig.call(case.call, token.expose(), case.stream).await;
            assert_eq!(answer.status, 200, "{what}: {:?}", answer.body);
            let upstream = rig.last_upstream_call();

            // What the agent got is what the upstream sent, byte for byte, headers included.
            assert_eq!(answer.body, upstream.response_body, "{what}: body");
            let content_type = answer.headers["content-type"].to_str().unwrap();
            assert_eq!(
                content_type.starts_with("text/event-stream"),
                case.stream,
                "{what}"
            );
            let (id_header, id_prefix) = match case.call.provider() {
                Provider::Anthropic => ("request-id", "req_fake"),
                Provider::OpenAi => ("x-request-id", "req_fake"),
                Provider::Gemini => ("server-timing", "gfet4t7; dur="),
            };
            assert!(
                answer.headers[id_header]
                    .to_str()
                    .unwrap()
                    .starts_with(id_prefix),
                "{what}: response headers pass through"
            );

            // The upstream got the real key, the agent's own headers and body, never the token.
            assert!(
                !upstream.any_header_contains(token.expose()),
                "{what}: token leaked"
            );
            assert!(
                !upstream.query.contains(token.expose()),
                "{what}: token leaked in the query"
            );
            match case.call.provider() {
                Provider::Anthropic => {
                    assert_eq!(upstream.header("x-api-key"), Some(ANTHROPIC_KEY), "{what}");
                    assert_eq!(upstream.header("authorization"), None, "{what}");
                    assert_eq!(upstream.header("anthropic-version"), Some("2023-06-01"));
                    assert_eq!(
                        upstream.header("anthropic-beta"),
                        Some("fine-grained-tool-streaming-2025-05-14")
                    );
                    assert_eq!(
                        (upstream.path.as_str(), upstream.query.as_str()),
                        ("/v1/messages", "beta=true")
                    );
                }
                Provider::OpenAi => {
                    let bearer = format!("Bearer {OPENAI_KEY}");
                    assert_eq!(
                        upstream.header("authorization"),
                        Some(bearer.as_str()),
                        "{what}"
                    );
                    assert_eq!(upstream.header("x-api-key"), None, "{what}");
                }
                Provider::Gemini => {
                    assert_eq!(
                        upstream.header("x-goog-api-key"),
                        Some(GEMINI_KEY),
                        "{what}"
                    );
                    assert_eq!(upstream.header("authorization"), None, "{what}");
                    assert_eq!(upstream.header("x-api-key"), None, "{what}");
                    assert!(upstream.query_values("key").is_empty(), "{what}");
                    let (path, query) = if case.stream {
                        ("streamGenerateContent", "alt=sse")
                    } else {
                        assert_eq!(
                            upstream.header("x-goog-api-client"),
                            Some("google-genai-sdk/1.30.0 gl-node/v22.19.0")
                        );
                        ("generateContent", "")
                    };
                    assert_eq!(
                        (upstream.path.as_str(), upstream.query.as_str()),
                        (
                            format!("/v1beta/models/{GEMINI_MODEL}:{path}").as_str(),
                            query
                        ),
                        "{what}"
                    );
                }
            }
            assert_eq!(
                upstream.header("x-agent-marker"),
                Some("from-the-agent"),
                "{what}"
            );
            assert_eq!(
                upstream.body,
                answer.sent.as_bytes(),
                "{what}: request body"
            );

            // Usage, normalized: OpenAI's and Gemini's cache reads are taken out of their input
            // counts, and thinking tokens are output.
            expected.input_tokens += input
                + if case.call == Call::Messages {
                    0
                } else {
                    cache_write
                };
            expected.output_tokens += output + case.thoughts;
            expected.cache_read_tokens += cache_read;
            expected.cache_write_tokens += if case.call == Call::Messages {
                cache_write
            } else {
                0
            };
            let (cost_write, cost_input) = if case.call == Call::Messages {
                (cache_write, input)
            } else {
                (0, input + cache_write)
            };
            expected.micro_usd += expected_micro_usd(
                case.price,
                cost_input,
                output + case.thoughts,
                cache_read,
                cost_write,
            );
            expected.calls += 1;
            assert_eq!(rig.spent(run), expected, "{what}: spent after the call");
        }
        // The first case by hand, as a check on the helper: 1000 x $3 + 200 x $15 + 10k x $0.30
        // + 400 x $3.75 per million = 3000 + 3000 + 3000 + 1500 micro-USD.
        assert_eq!(expected_micro_usd(SONNET, 1000, 200, 10_000, 400), 10_500);
        assert_eq!(rig.proxy.in_flight(run), Some(0));
        rig.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_token_budget_lets_the_crossing_call_finish_and_refuses_the_next_without_the_upstream() {
    within_timeout(async {
        let rig = Rig::start().await;
        rig.fake.set_usage(200, 100, 0);
        // 300 tokens a call: 300, 600, 900 stay under 1000; the fourth call is admitted at 900
        // and crosses to 1200; the fifth is refused.
        let (run, token) = rig.proxy.register_run(RunBudget {
            max_tokens: Some(1000),
            max_micro_usd: None,
        });
        for n in 1..=4u64 {
            let answer = rig.call(Call::Messages, token.expose(), true).await;
            assert_eq!(answer.status, 200, "call {n}");
            assert_eq!(rig.spent(run).total_tokens(), 300 * n);
        }
        assert_eq!(rig.fake.call_count(), 4);
        for _ in 0..2 {
            let refused = rig.call(Call::Messages, token.expose(), true).await;
            assert_eq!(refused.status, 400);
            let body = refused.json();
            assert_eq!(body["type"], "error");
            assert_eq!(body["error"]["type"], "invalid_request_error");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with(BUDGET_SPENT), "{message}");
            assert!(message.contains("token budget: 1200 of 1000"), "{message}");
        }
        assert_eq!(
            rig.fake.call_count(),
            4,
            "refused calls never reach the upstream"
        );
        let spent = rig.spent(run);
        assert_eq!(
            (spent.calls, spent.refused, spent.total_tokens()),
            (4, 2, 1200)
        );
        rig.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_usd_budget_refuses_openai_calls_with_an_openai_shaped_400() {
    within_timeout(async {
        let rig = Rig::start().await;
        rig.fake.set_model(Some("gpt-5-codex"));
        rig.fake.set_usage(1000, 1000, 0);
        let per_call = expected_micro_usd(GPT5, 1000, 1000, 0, 0);
        assert_eq!(per_call, 11_250);
        // Two calls stay under 30_000 micro-USD, the third crosses it, the fourth is refused.
        let (run, token) = rig.proxy.register_run(RunBudget {
            max_tokens: None,
            max_micro_usd: Some(30_000),
        });
        for _ in 0..3 {
            assert_eq!(
                rig.call(Call::Responses, token.expose(), true).await.status,
                200
            );
        }
        let refused = rig.call(Call::Chat, token.expose(), false).await;
        assert_eq!(refused.status, 400);
        let body = refused.json();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "bosun_budget_spent");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.starts_with(BUDGET_SPENT), "{message}");
        assert!(
            message.contains("USD budget: $0.033750 of $0.030000"),
            "{message}"
        );
        assert_eq!(rig.fake.call_count(), 3);
        let spent = rig.spent(run);
        assert_eq!(
            (spent.micro_usd, spent.calls, spent.refused),
            (3 * per_call, 3, 1)
        );
        rig.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_servers_key_refused_upstream_reaches_the_agent_as_a_400_naming_the_setting() {
    within_timeout(async {
        let rig = Rig::start().await;
        rig.fake.require_key("a-key-the-server-does-not-have");
        let (_run, token) = rig.proxy.register_run(RunBudget::default());
        for (call, setting, status_field) in [
            (Call::Messages, "meter.anthropic.key_env", "/error/type"),
            (Call::Responses, "meter.openai.key_env", "/error/code"),
        ] {
            let answer = rig.call(call, token.expose(), true).await;
            assert_eq!(answer.status, 400, "{call:?}: not 401, which CLIs retry");
            let body = answer.json();
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with(KEY_REFUSED), "{message}");
            assert!(message.contains("(HTTP 401)"), "{message}");
            assert!(message.contains(setting), "{message}");
            assert!(body.pointer(status_field).is_some(), "{body}");
        }
        assert_eq!(
            rig.fake.call_count(),
            2,
            "each call did reach the model API"
        );
        rig.stop().await;
    })
    .await;
}

#[tokio::test]
async fn missing_unknown_forged_and_ended_tokens_get_401_and_the_upstream_sees_nothing() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (live, live_token) = rig.proxy.register_run(RunBudget::default());
        let (ended, ended_token) = rig.proxy.register_run(RunBudget::default());
        assert_eq!(
            rig.call(Call::Messages, ended_token.expose(), false)
                .await
                .status,
            200
        );
        rig.fake.clear_calls();
        assert!(rig.proxy.end_run(ended).is_some());

        let forged = format!("bosun-run-{}-{}", live.get(), "ab".repeat(32));
        let bad_tokens = [
            "",
            "sk-ant-api03-guess",
            forged.as_str(),
            ended_token.expose(),
        ];
        for token in bad_tokens {
            for (call, stream) in [
                (Call::Messages, true),
                (Call::Responses, true),
                (Call::Gemini, true),
                (Call::Gemini, false),
            ] {
                let answer = rig.call(call, token, stream).await;
                assert_eq!(answer.status, 401, "{call:?} with {token:?}");
                let body = answer.json();
                match call.provider() {
                    Provider::Anthropic => {
                        assert_eq!(body["error"]["type"], "authentication_error")
                    }
                    Provider::OpenAi => assert_eq!(body["error"]["code"], "invalid_api_key"),
                    Provider::Gemini => {
                        assert_eq!(body["error"]["code"], 401);
                        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
                    }
                }
                let message = body.to_string();
                assert!(message.contains("bosun:"), "{message}");
                assert!(!message.contains(live_token.expose()));
            }
        }
        assert_eq!(rig.fake.call_count(), 0, "nothing reached the upstream");
        // The live run's token still works, and the refusals were not charged to any run.
        assert_eq!(
            rig.call(Call::Chat, live_token.expose(), false)
                .await
                .status,
            200
        );
        assert_eq!(rig.spent(live).calls, 1);
        assert_eq!(rig.spent(ended).calls, 1);
        rig.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_stream_in_small_delayed_chunks_is_metered_right() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (run, token) = rig.proxy.register_run(RunBudget::default());
        rig.fake
            .set_text("A longer answer, streamed as many small deltas across the wire.");
        rig.fake.set_pieces(16);
        // 7-byte pieces cut through field names, JSON strings and line ends alike.
        rig.fake.set_chunk_bytes(Some(7));
        rig.fake.set_event_delay(Duration::from_millis(1));
        rig.fake.set_usage(4321, 765, 999);
        rig.fake.set_cache_write(55);
        rig.fake.set_model(Some("claude-sonnet-4-5-20250929"));
        let answer = rig.call(Call::Messages, token.expose(), true).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, rig.last_upstream_call().response_body);
        rig.fake.set_model(Some("gpt-5-codex"));
        let answer = rig.call(Call::Responses, token.expose(), true).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, rig.last_upstream_call().response_body);
        // Gemini's CRLF-framed chunks, cut through their line ends too.
        rig.fake.set_model(None);
        let answer = rig.call(Call::Gemini, token.expose(), true).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body, rig.last_upstream_call().response_body);

        let spent = rig.spent(run);
        assert_eq!(spent.input_tokens, 4321 + 2 * (4321 + 55));
        assert_eq!(spent.output_tokens, 765 * 3);
        assert_eq!(spent.cache_read_tokens, 999 * 3);
        assert_eq!(spent.cache_write_tokens, 55);
        assert_eq!(
            spent.micro_usd,
            expected_micro_usd(SONNET, 4321, 765, 999, 55)
                + expected_micro_usd(GPT5, 4321 + 55, 765, 999, 0)
                + expected_micro_usd(GEMINI_PRO, 4321 + 55, 765, 999, 0)
        );
        rig.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_agent_that_hangs_up_mid_stream_is_charged_for_what_it_was_sent() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (run, token) = rig.proxy.register_run(RunBudget::default());
        rig.fake.set_usage(500, 80, 0);
        rig.fake.set_pieces(50);
        rig.fake.set_event_delay(Duration::from_millis(20));
        let mut response = rig
            .client
            .post(format!(
                "{}/v1/messages",
                rig.proxy.base_url(Provider::Anthropic)
            ))
            .header("x-api-key", token.expose())
            .header("anthropic-version", "2023-06-01")
            .body(
                json!({"model": "claude-sonnet-4-5", "max_tokens": 10, "stream": true}).to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains("content_block_start") {
            seen.extend_from_slice(&response.chunk().await.unwrap().expect("more body"));
        }
        drop(response);
        // Settled once the proxy notices the agent is gone; poll, no deadline but the test's.
        while rig.proxy.in_flight(run) != Some(0) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let spent = rig.spent(run);
        // message_start was seen, so its input count is charged, with its initial output count
        // of 1, or the final 80 should the proxy have read to the end before noticing (the
        // exact partial count is checked in the unit tests of `usage`, free of timing).
        assert_eq!(spent.input_tokens, 500);
        assert!(matches!(spent.output_tokens, 1 | 80), "{spent:?}");
        assert_eq!((spent.calls, spent.unmetered_calls), (1, 0));
        assert!(rig.fake.call_count() == 1);
        rig.stop().await;
    })
    .await;
}

/// A chat-completions stream reports usage only when asked: the proxy asks for it, so such
/// a call is metered rather than counted free (issue 20, hole 3).
#[tokio::test]
async fn a_chat_stream_that_does_not_ask_for_usage_is_made_to_and_metered() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (run, token) = rig.proxy.register_run(RunBudget::default());
        let response = rig
            .client
            .post(format!(
                "{}/chat/completions",
                rig.proxy.base_url(Provider::OpenAi)
            ))
            .bearer_auth(token.expose())
            .body(json!({"model": "gpt-4o-mini", "stream": true, "messages": []}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body = response.bytes().await.unwrap();
        assert!(body.ends_with(b"data: [DONE]\n\n"));
        let sent: Value = serde_json::from_slice(&rig.last_upstream_call().body).unwrap();
        assert_eq!(sent["stream_options"]["include_usage"], true);
        let spent = rig.spent(run);
        assert_eq!((spent.calls, spent.unmetered_calls), (1, 0));
        assert!(spent.total_tokens() > 0, "{spent:?}");
        rig.stop().await;
    })
    .await;
}

/// Sends `request` as raw bytes (a client library would normalise `..` away first) and
/// returns the status code the proxy answers and the whole answer.
async fn raw_answer(proxy: &MeterProxy, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(proxy.local_addr())
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {answer:?}"));
    (status, answer)
}

/// `GET /openai/v1/models/%2e%2e/files` used to be classed as a free model listing and then
/// normalised to `/v1/files` on the way up, with the real key (issue 20, hole 2). Every
/// spelling of it is refused now, and the upstream sees nothing.
#[tokio::test]
async fn a_path_that_would_normalise_to_another_endpoint_never_reaches_the_upstream() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (_run, token) = rig.proxy.register_run(RunBudget::default());
        for path in [
            "/openai/v1/models/%2e%2e/files",
            "/openai/v1/models/%2E%2E/files",
            "/openai/v1/models/gpt-5/../../files",
            "/openai/v1/models/./../files",
            "/openai/v1/models/gpt-5%2f..%2f..%2ffiles",
            "/openai/v1/models//files",
            "/anthropic/v1/messages/..%5cbatches",
        ] {
            let request = format!(
                "GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
                token.expose()
            );
            let (status, answer) = raw_answer(&rig.proxy, &request).await;
            // The proxy's own refusal, not the upstream's 404 for a path it was sent.
            assert_eq!(status, 404, "{path}");
            assert!(answer.contains("bosun: a path with"), "{path}: {answer}");
        }
        assert_eq!(rig.fake.call_count(), 0, "{:?}", rig.fake.calls());
        // The listing itself still passes: the fake model has no GET route there and answers
        // 405, which the proxy never answers itself.
        let listing = format!(
            "GET /openai/v1/models/gpt-5 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
            token.expose()
        );
        assert_eq!(raw_answer(&rig.proxy, &listing).await.0, 405);
        rig.stop().await;
    })
    .await;
}

/// An agent does not choose whose account pays: the organisation, project and billing-project
/// headers are dropped on the way up.
#[tokio::test]
async fn billing_headers_from_the_agent_are_not_forwarded() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (_run, token) = rig.proxy.register_run(RunBudget::default());
        let response = rig
            .client
            .post(format!(
                "{}/responses",
                rig.proxy.base_url(Provider::OpenAi)
            ))
            .bearer_auth(token.expose())
            .header("OpenAI-Organization", "org-someone-else")
            .header("OpenAI-Project", "proj_someone_else")
            .header("x-goog-user-project", "someone-else")
            .body(json!({"model": "gpt-5-codex", "input": "hi"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let seen = rig.last_upstream_call();
        for name in [
            "openai-organization",
            "openai-project",
            "x-goog-user-project",
        ] {
            assert_eq!(seen.header(name), None, "{name} reached the upstream");
        }
        assert_eq!(
            seen.header("authorization"),
            Some(format!("Bearer {OPENAI_KEY}").as_str())
        );
        rig.stop().await;
    })
    .await;
}

/// Tools the provider runs itself (web search, fetch, code execution, remote MCP) reach the
/// network past the sandbox and cost what the meter cannot see: they are taken out of a model
/// call before it goes upstream, unless the run's repository allows them (`model_tools:`).
/// The agent's own tools stay.
#[tokio::test]
async fn provider_side_tools_are_taken_out_unless_the_repository_allows_them() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (run, token) = rig.proxy.register_run(RunBudget::default());
        let anthropic = rig.proxy.base_url(Provider::Anthropic);
        let with_search = json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
            "messages": [{"role": "user", "content": "look it up"}],
            "tools": [{"name": "Bash", "input_schema": {"type": "object"}},
                      {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}],
            "mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "x"}]});
        let call = |token: String| {
            rig.client
                .post(format!("{anthropic}/v1/messages"))
                .header("x-api-key", token)
                .header("anthropic-version", "2023-06-01")
                .body(with_search.to_string())
                .send()
        };
        assert_eq!(call(token.expose().to_owned()).await.unwrap().status(), 200);
        let sent: Value = serde_json::from_slice(&rig.last_upstream_call().body).unwrap();
        assert_eq!(
            sent["tools"],
            json!([{"name": "Bash", "input_schema": {"type": "object"}}])
        );
        assert!(sent.get("mcp_servers").is_none(), "{sent}");
        assert_eq!(rig.spent(run).calls, 1);

        // Codex's call as the real CLI 0.147 makes it: its `web_search` goes, its client-run
        // `tool_search` stays.
        let codex = json!({"model": "gpt-5-codex", "input": "hi", "tools": [
            {"type": "function", "name": "exec_command", "parameters": {}},
            {"type": "tool_search", "execution": "client", "parameters": {}},
            {"type": "web_search", "external_web_access": true}]});
        let answer = rig
            .client
            .post(format!(
                "{}/responses",
                rig.proxy.base_url(Provider::OpenAi)
            ))
            .bearer_auth(token.expose())
            .body(codex.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let sent: Value = serde_json::from_slice(&rig.last_upstream_call().body).unwrap();
        let kinds: Vec<&str> = sent["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["function", "tool_search"]);

        let (_, allowed) = rig.proxy.register_run_allowing(
            RunBudget::default(),
            vec![bosun_core::repo_config::ModelTool::WebSearch],
        );
        assert_eq!(
            call(allowed.expose().to_owned()).await.unwrap().status(),
            200
        );
        let sent: Value = serde_json::from_slice(&rig.last_upstream_call().body).unwrap();
        assert_eq!(
            sent["tools"], with_search["tools"],
            "web_search allowed: kept"
        );
        assert!(
            sent.get("mcp_servers").is_none(),
            "mcp not allowed: taken out"
        );
        rig.stop().await;
    })
    .await;
}

#[tokio::test]
async fn unforwarded_endpoints_get_404_and_an_unreachable_upstream_502() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (run, token) = rig.proxy.register_run(RunBudget::default());
        let batches = rig
            .client
            .post(format!(
                "{}/v1/messages/batches",
                rig.proxy.base_url(Provider::Anthropic)
            ))
            .header("x-api-key", token.expose())
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(batches.status(), 404);
        let body: Value = batches.json().await.unwrap();
        assert_eq!(body["error"]["type"], "not_found_error");
        assert_eq!(rig.fake.call_count(), 0);
        assert_eq!(rig.spent(run).calls, 0);

        // A proxy whose upstream port has nothing listening.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead: reqwest::Url = format!("http://{}", closed.local_addr().unwrap())
            .parse()
            .unwrap();
        drop(closed);
        let proxy = MeterProxy::bind(
            "127.0.0.1:0".parse().unwrap(),
            Upstream {
                anthropic: Some(UpstreamApi::new(dead.clone(), Secret::new(ANTHROPIC_KEY))),
                openai: None,
                gemini: None,
            },
            prices(),
        )
        .await
        .unwrap();
        let (run, token) = proxy.register_run(RunBudget::default());
        let answer = rig
            .client
            .post(format!(
                "{}/v1/messages",
                proxy.base_url(Provider::Anthropic)
            ))
            .header("x-api-key", token.expose())
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 502);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["type"], "api_error");
        // No OpenAI upstream configured: 502 in OpenAI's shape.
        let answer = rig
            .client
            .post(format!("{}/responses", proxy.base_url(Provider::OpenAi)))
            .bearer_auth(token.expose())
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 502);
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["type"], "server_error");
        let spent = proxy.spent(run).unwrap();
        assert_eq!((spent.calls, spent.total_tokens()), (1, 0));
        proxy.shutdown().await;
        rig.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_gemini_budget_is_refused_in_googles_error_shape_without_the_upstream() {
    within_timeout(async {
        let rig = Rig::start().await;
        // 1000 prompt tokens (400 of them cached), 100 out and 50 thinking: 1150 tokens a call,
        // priced as the path's gemini-2.5-pro although the response names another model.
        rig.fake.set_usage(600, 100, 400);
        rig.fake.set_thoughts(50);
        rig.fake.set_model(Some("gemini-2.5-flash"));
        let per_call = expected_micro_usd(GEMINI_PRO, 600, 150, 400, 0);
        // 750 + 1500 + 124 (0.31 x 400, rounded up once) micro-USD.
        assert_eq!(per_call, 2374);
        let (run, token) = rig.proxy.register_run(RunBudget {
            max_tokens: None,
            max_micro_usd: Some(2 * per_call + 1),
        });
        // Two calls stay under the budget, the third crosses it, the fourth is refused.
        for stream in [true, false, true] {
            let answer = rig.call(Call::Gemini, token.expose(), stream).await;
            assert_eq!(answer.status, 200, "{:?}", answer.body);
        }
        let spent = rig.spent(run);
        assert_eq!(spent.micro_usd, 3 * per_call);
        assert_eq!(
            (
                spent.input_tokens,
                spent.cache_read_tokens,
                spent.output_tokens
            ),
            (3 * 600, 3 * 400, 3 * 150)
        );
        assert_eq!(spent.unpriced_calls, 0);
        for stream in [false, true] {
            let refused = rig.call(Call::Gemini, token.expose(), stream).await;
            assert_eq!(refused.status, 400);
            assert_eq!(
                refused.headers["content-type"].to_str().unwrap(),
                "application/json"
            );
            let body = refused.json();
            assert_eq!(body["error"]["code"], 400);
            assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with(BUDGET_SPENT), "{message}");
            assert!(
                message.contains("USD budget: $0.007122 of $0.004749"),
                "{message}"
            );
            assert_eq!(
                body.as_object().unwrap().keys().collect::<Vec<_>>(),
                ["error"]
            );
        }
        assert_eq!(
            rig.fake.call_count(),
            3,
            "refused calls never reach the upstream"
        );
        assert_eq!(rig.spent(run).refused, 2);
        rig.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_gemini_token_budget_counts_thinking_and_cached_tokens() {
    within_timeout(async {
        let rig = Rig::start().await;
        rig.fake.set_usage(100, 20, 50);
        rig.fake.set_thoughts(30);
        // 200 tokens a call: the fifth call is admitted at 800 and crosses 900.
        let (run, token) = rig.proxy.register_run(RunBudget {
            max_tokens: Some(900),
            max_micro_usd: None,
        });
        for n in 1..=5u64 {
            let answer = rig.call(Call::Gemini, token.expose(), n % 2 == 0).await;
            assert_eq!(answer.status, 200, "call {n}");
            assert_eq!(rig.spent(run).total_tokens(), 200 * n);
        }
        let refused = rig.call(Call::Gemini, token.expose(), true).await;
        assert_eq!(refused.status, 400);
        let message = refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            message.contains("token budget: 1000 of 900 tokens used"),
            "{message}"
        );
        assert_eq!(rig.fake.call_count(), 5);
        rig.stop().await;
    })
    .await;
}

#[tokio::test]
async fn gemini_calls_the_meter_cannot_read_are_refused_and_free_ones_pass() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (run, token) = rig.proxy.register_run(RunBudget::default());
        let base = rig.proxy.base_url(Provider::Gemini);
        let post = |path: &str| {
            rig.client
                .post(format!("{base}{path}"))
                .header("x-goog-api-key", token.expose())
                .body(json!({"contents": [{"parts": [{"text": "hi"}]}]}).to_string())
                .send()
        };
        // A stream as one JSON array (no alt=sse), and endpoints that cost money unmetered.
        for path in [
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent",
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=json",
            "/v1beta/models/text-embedding-004:embedContent",
            "/v1beta/models/gemini-2.5-pro:batchGenerateContent",
            "/v1beta/cachedContents",
        ] {
            let answer = post(path).await.unwrap();
            assert_eq!(answer.status(), 404, "{path}");
            let body: Value = answer.json().await.unwrap();
            assert_eq!(body["error"]["status"], "NOT_FOUND", "{path}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with("bosun: POST /v1beta/"), "{message}");
            if path.contains("streamGenerateContent") {
                assert!(message.contains("without alt=sse"), "{message}");
            }
        }
        assert_eq!(rig.fake.call_count(), 0);
        assert_eq!(rig.spent(run).calls, 0);

        // The fake answers a streamed call without alt=sse as the real API does, one JSON
        // array: what the proxy would have had to read.
        let direct = rig
            .client
            .post(format!(
                "{}/v1beta/models/gemini-2.5-pro:streamGenerateContent",
                rig.fake.url()
            ))
            .body("{}")
            .send()
            .await
            .unwrap();
        let chunks: Value = direct.json().await.unwrap();
        assert!(chunks.as_array().is_some_and(|a| a.len() > 1), "{chunks}");
        rig.fake.clear_calls();

        // countTokens costs nothing: forwarded (the fake does not know it), not metered.
        let answer = post("/v1beta/models/gemini-2.5-pro:countTokens")
            .await
            .unwrap();
        assert_eq!(answer.status(), 404);
        let seen = rig.last_upstream_call();
        assert_eq!(seen.header("x-goog-api-key"), Some(GEMINI_KEY));
        let spent = rig.spent(run);
        assert_eq!(
            (spent.calls, spent.unmetered_calls, spent.total_tokens()),
            (1, 0, 0)
        );
        rig.stop().await;
    })
    .await;
}

/// Eight calls made at once against a budget with room for about four: each call reserves the
/// most its request allows while it is answered, so the run overshoots by one call at most
/// (issue 20, hole 3). Admitted against settled spend alone, all eight went through.
#[tokio::test]
async fn eight_parallel_calls_overshoot_the_budget_by_one_call_at_most() {
    within_timeout(async {
        let rig = Rig::start().await;
        rig.fake.set_usage(20, 100, 0);
        rig.fake.set_event_delay(Duration::from_millis(50));
        let budget = 500;
        let (run, token) = rig.proxy.register_run(RunBudget {
            max_tokens: Some(budget),
            max_micro_usd: None,
        });
        let url = format!("{}/v1/messages", rig.proxy.base_url(Provider::Anthropic));
        let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 100, "stream": true,
                          "messages": [{"role": "user", "content": "hi"}]})
        .to_string();
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let request = rig
                    .client
                    .post(&url)
                    .header("x-api-key", token.expose())
                    .header("anthropic-version", "2023-06-01")
                    .body(body.clone());
                tokio::spawn(async move {
                    let response = request.send().await.unwrap();
                    let status = response.status().as_u16();
                    response.bytes().await.unwrap();
                    status
                })
            })
            .collect();
        let mut statuses = Vec::new();
        for call in calls {
            statuses.push(call.await.unwrap());
        }
        let answered = statuses.iter().filter(|s| **s == 200).count() as u64;
        let refused = statuses.iter().filter(|s| **s == 400).count() as u64;
        assert_eq!(answered + refused, 8, "{statuses:?}");
        let spent = rig.spent(run);
        // One call is 20 + 100 tokens.
        assert_eq!(spent.total_tokens(), answered * 120, "{spent:?}");
        assert!(
            spent.total_tokens() <= budget + 120,
            "{statuses:?} {spent:?}"
        );
        assert!(refused >= 3, "{statuses:?} {spent:?}");
        assert_eq!(rig.proxy.in_flight(run), Some(0));
        rig.stop().await;
    })
    .await;
}

/// Under a budget in dollars, a call of a model the price table does not know would cost $0:
/// it is refused, saying which model and where its price goes. A priced model passes.
#[tokio::test]
async fn an_unpriced_model_is_refused_under_a_dollar_budget() {
    within_timeout(async {
        let rig = Rig::start().await;
        let (run, token) = rig.proxy.register_run(RunBudget {
            max_tokens: None,
            max_micro_usd: Some(5_000_000),
        });
        let url = format!("{}/v1/messages", rig.proxy.base_url(Provider::Anthropic));
        let call = |model: &str| {
            rig.client
                .post(&url)
                .header("x-api-key", token.expose())
                .header("anthropic-version", "2023-06-01")
                .body(
                    json!({"model": model, "max_tokens": 64,
                           "messages": [{"role": "user", "content": "hi"}]})
                    .to_string(),
                )
                .send()
        };
        let refused = call("claude-unlisted-9").await.unwrap();
        assert_eq!(refused.status(), 400);
        let body: Value = refused.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("claude-unlisted-9") && message.contains("meter.prices"),
            "{message}"
        );
        assert_eq!(rig.fake.call_count(), 0);
        assert_eq!(call("claude-sonnet-4-5").await.unwrap().status(), 200);
        assert_eq!(rig.spent(run).calls, 1);
        rig.stop().await;
    })
    .await;
}
