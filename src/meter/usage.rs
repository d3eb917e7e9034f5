//! Token usage and model name of one model call, read from the response body as it streams by.
//!
//! [`UsageReader`] is pure and incremental: it is fed the response body in chunks split at any
//! byte, keeps only bounded state (see `json_pick` and `sse`), and is asked for the result when
//! the body ends, or when it was cut off (it then reports what it saw). Four wire formats:
//!
//! - Anthropic Messages (`POST /v1/messages`). JSON: top-level `usage{input_tokens,
//!   output_tokens, cache_creation_input_tokens, cache_read_input_tokens}` and `model`. SSE:
//!   `message_start` carries `message.usage` and `message.model`; each `message_delta` carries a
//!   cumulative `usage` (always `output_tokens`, newer API versions also the input counts), so
//!   every field seen replaces the earlier value of that field.
//! - OpenAI Responses (`POST /v1/responses`). JSON: the response object's `usage{input_tokens,
//!   output_tokens, input_tokens_details.cached_tokens}`. SSE: the terminal
//!   `response.completed` (or `response.incomplete` / `response.failed`) event's
//!   `response.usage`; earlier events carry `"usage": null`.
//! - OpenAI Chat Completions (`POST /v1/chat/completions`). JSON: `usage{prompt_tokens,
//!   completion_tokens, prompt_tokens_details.cached_tokens}`. SSE: the usage arrives in the
//!   last chunk, and only when the request asked for it with `stream_options.include_usage`;
//!   without it the stream has no usage at all and the call reads as unmetered.
//! - Gemini (`POST /v1beta/models/{model}:generateContent`, and `:streamGenerateContent?alt=sse`).
//!   JSON: the response's `usageMetadata{promptTokenCount, candidatesTokenCount,
//!   cachedContentTokenCount, thoughtsTokenCount, toolUsePromptTokenCount}`. SSE: every
//!   `data:` chunk is a whole response whose `usageMetadata` is cumulative (early chunks may
//!   carry only the prompt count), so, as with Anthropic, each field seen replaces its earlier
//!   value and the last chunk's counts are the call's. The model is the one the request's path
//!   names (see [`UsageReader::with_model`]).
//!
//! [`Usage`] is normalized so that every token is counted once at one price: OpenAI's
//! `input_tokens` include the cached ones, Anthropic's exclude cache reads and writes, and
//! Gemini's `promptTokenCount` includes `cachedContentTokenCount` while its thinking tokens
//! (`thoughtsTokenCount`, billed as output) are apart from `candidatesTokenCount`.

use super::json_pick::{JsonPicker, Path};
use super::sse::{SsePiece, SseSplitter};
use serde::Deserialize;

/// Tokens of one call (or a sum of calls), each counted once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input tokens billed at the plain input price (not read from or written to a cache).
    pub input_tokens: u64,
    /// Output tokens, reasoning tokens included.
    pub output_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_tokens: u64,
    /// Input tokens written to the prompt cache (Anthropic; OpenAI does not bill them apart).
    pub cache_write_tokens: u64,
}

impl Usage {
    /// All tokens of every kind: what a token budget counts.
    pub fn total(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }
}

/// Which API a response comes from; decided by the request's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    AnthropicMessages,
    OpenAiResponses,
    OpenAiChatCompletions,
    /// Gemini's `generateContent` and `streamGenerateContent` (one response format for both).
    GeminiGenerateContent,
}

/// How the response body is framed; decided by its `content-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Json,
    EventStream,
}

impl Framing {
    /// `text/event-stream` is SSE; anything else is read as one JSON document.
    pub fn from_content_type(content_type: Option<&str>) -> Framing {
        let is_sse = content_type
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/event-stream"));
        if is_sse {
            Framing::EventStream
        } else {
            Framing::Json
        }
    }
}

/// What a response said about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// `None` when the body carried no usage (an error body, a chat stream without
    /// `include_usage`, a stream cut off before its usage).
    pub usage: Option<Usage>,
    pub model: Option<String>,
}

// The key paths the picker watches; the same set serves every API and framing.
const USAGE: usize = 0;
const MODEL: usize = 1;
const MESSAGE_USAGE: usize = 2;
const MESSAGE_MODEL: usize = 3;
const RESPONSE_USAGE: usize = 4;
const RESPONSE_MODEL: usize = 5;
const USAGE_METADATA: usize = 6;
const TARGETS: &[Path] = &[
    &["usage"],
    &["model"],
    &["message", "usage"],
    &["message", "model"],
    &["response", "usage"],
    &["response", "model"],
    &["usageMetadata"],
];

/// Incremental usage extraction for one response body.
#[derive(Debug)]
pub struct UsageReader {
    api: Api,
    framing: Framing,
    picker: JsonPicker,
    sse: SseSplitter,
    found: Reading,
    /// Gemini's counts as sent, merged chunk by chunk: the normalized [`Usage`] is computed
    /// from them, since its input count needs the prompt and cached counts together.
    gemini: GeminiUsage,
}

impl UsageReader {
    pub fn new(api: Api, framing: Framing) -> Self {
        UsageReader {
            api,
            framing,
            picker: JsonPicker::new(TARGETS),
            sse: SseSplitter::default(),
            found: Reading::default(),
            gemini: GeminiUsage::default(),
        }
    }

    /// The model the request named, for an API whose responses are priced by it: Gemini's
    /// request names its model in the path and the proxy prices by that name (its responses'
    /// `modelVersion` may name what an alias resolved to, which a price table does not list).
    /// For the other APIs the response's own `model` still wins when it has one.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.found.model = Some(model.into());
        self
    }

    /// The next bytes of the body, split anywhere.
    pub fn feed(&mut self, chunk: &[u8]) {
        match self.framing {
            Framing::Json => self.picker.feed(chunk),
            Framing::EventStream => {
                let UsageReader {
                    api,
                    picker,
                    sse,
                    found,
                    gemini,
                    ..
                } = self;
                sse.feed(chunk, &mut |piece| {
                    on_sse_piece(*api, picker, found, gemini, piece)
                });
            }
        }
    }

    /// The body ended, normally or not: what was read.
    pub fn finish(mut self) -> Reading {
        match self.framing {
            Framing::Json => take_values(self.api, &self.picker, &mut self.found, &mut self.gemini),
            Framing::EventStream => {
                let UsageReader {
                    api,
                    picker,
                    sse,
                    found,
                    gemini,
                    ..
                } = &mut self;
                sse.finish(&mut |piece| on_sse_piece(*api, picker, found, gemini, piece));
            }
        }
        self.found
    }
}

fn on_sse_piece(
    api: Api,
    picker: &mut JsonPicker,
    found: &mut Reading,
    gemini: &mut GeminiUsage,
    piece: SsePiece<'_>,
) {
    match piece {
        SsePiece::Data(data) => picker.feed(data),
        SsePiece::EventEnd => {
            take_values(api, picker, found, gemini);
            picker.reset();
        }
    }
}

/// Folds what the picker found in one document (a JSON body or one SSE event) into `found`.
fn take_values(api: Api, picker: &JsonPicker, found: &mut Reading, gemini: &mut GeminiUsage) {
    let model_paths: &[usize] = match api {
        Api::AnthropicMessages => &[MESSAGE_MODEL, MODEL],
        Api::OpenAiResponses => &[RESPONSE_MODEL, MODEL],
        Api::OpenAiChatCompletions => &[MODEL],
        // Priced by the model the request's path named; see `UsageReader::with_model`.
        Api::GeminiGenerateContent => &[],
    };
    for &path in model_paths {
        if let Some(model) = parse::<String>(picker.picked(path)) {
            found.model = Some(model);
        }
    }
    match api {
        Api::AnthropicMessages => {
            for path in [MESSAGE_USAGE, USAGE] {
                if let Some(wire) = parse::<AnthropicUsage>(picker.picked(path)) {
                    let usage = found.usage.get_or_insert_with(Usage::default);
                    wire.merge_into(usage);
                }
            }
        }
        Api::OpenAiResponses => {
            for path in [RESPONSE_USAGE, USAGE] {
                if let Some(wire) = parse::<ResponsesUsage>(picker.picked(path)) {
                    found.usage = Some(split_cached(
                        wire.input_tokens,
                        wire.input_tokens_details.and_then(|d| d.cached_tokens),
                        wire.output_tokens,
                    ));
                }
            }
        }
        Api::OpenAiChatCompletions => {
            if let Some(wire) = parse::<ChatUsage>(picker.picked(USAGE)) {
                found.usage = Some(split_cached(
                    wire.prompt_tokens,
                    wire.prompt_tokens_details.and_then(|d| d.cached_tokens),
                    wire.completion_tokens,
                ));
            }
        }
        Api::GeminiGenerateContent => {
            if let Some(wire) = parse::<GeminiUsage>(picker.picked(USAGE_METADATA)) {
                wire.merge_into(gemini);
                found.usage = Some(gemini.normalized());
            }
        }
    }
}

/// Parses a picked value; `null`, a wrong type or bad JSON all read as absent.
fn parse<T: serde::de::DeserializeOwned>(raw: Option<&[u8]>) -> Option<T> {
    serde_json::from_slice::<Option<T>>(raw?).ok().flatten()
}

/// OpenAI and Gemini count cached tokens inside the input tokens; take them out.
fn split_cached(input: Option<u64>, cached: Option<u64>, output: Option<u64>) -> Usage {
    let input = input.unwrap_or(0);
    let cached = cached.unwrap_or(0).min(input);
    Usage {
        input_tokens: input - cached,
        output_tokens: output.unwrap_or(0),
        cache_read_tokens: cached,
        cache_write_tokens: 0,
    }
}

#[derive(Deserialize)]
struct AnthropicUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

impl AnthropicUsage {
    /// Fields present replace earlier values: Anthropic's stream counts are cumulative.
    fn merge_into(&self, usage: &mut Usage) {
        let fields = [
            (self.input_tokens, &mut usage.input_tokens),
            (self.output_tokens, &mut usage.output_tokens),
            (self.cache_read_input_tokens, &mut usage.cache_read_tokens),
            (
                self.cache_creation_input_tokens,
                &mut usage.cache_write_tokens,
            ),
        ];
        for (value, slot) in fields {
            if let Some(value) = value {
                *slot = value;
            }
        }
    }
}

#[derive(Deserialize)]
struct CachedDetails {
    cached_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct ResponsesUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    input_tokens_details: Option<CachedDetails>,
}

/// Gemini's `usageMetadata` (camelCase on the wire, as the REST API sends it).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GeminiUsage {
    /// The whole prompt, cached part included.
    prompt_token_count: Option<u64>,
    candidates_token_count: Option<u64>,
    /// The part of the prompt read from a context cache.
    cached_content_token_count: Option<u64>,
    /// Thinking tokens: billed at the output price, not counted in `candidatesTokenCount`.
    thoughts_token_count: Option<u64>,
    /// Tokens of tool-use prompts (results of built-in tools fed back to the model), reported
    /// apart from the prompt; counted as input so that nothing billed goes unseen.
    tool_use_prompt_token_count: Option<u64>,
}

impl GeminiUsage {
    /// Fields present replace earlier values: a stream's counts are cumulative.
    fn merge_into(&self, acc: &mut GeminiUsage) {
        let fields = [
            (self.prompt_token_count, &mut acc.prompt_token_count),
            (self.candidates_token_count, &mut acc.candidates_token_count),
            (
                self.cached_content_token_count,
                &mut acc.cached_content_token_count,
            ),
            (self.thoughts_token_count, &mut acc.thoughts_token_count),
            (
                self.tool_use_prompt_token_count,
                &mut acc.tool_use_prompt_token_count,
            ),
        ];
        for (value, slot) in fields {
            if value.is_some() {
                *slot = value;
            }
        }
    }

    fn normalized(&self) -> Usage {
        let prompt = self
            .prompt_token_count
            .unwrap_or(0)
            .saturating_add(self.tool_use_prompt_token_count.unwrap_or(0));
        let mut usage = split_cached(
            Some(prompt),
            self.cached_content_token_count,
            self.candidates_token_count,
        );
        usage.output_tokens = usage
            .output_tokens
            .saturating_add(self.thoughts_token_count.unwrap_or(0));
        usage
    }
}

#[derive(Deserialize)]
struct ChatUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
    prompt_tokens_details: Option<CachedDetails>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_in_two(api: Api, framing: Framing, body: &str, cut: usize) -> Reading {
        let mut r = UsageReader::new(api, framing);
        r.feed(&body.as_bytes()[..cut]);
        r.feed(&body.as_bytes()[cut..]);
        r.finish()
    }

    /// Reads `body` whole, then split in two at every byte, then one byte at a time, and
    /// checks all of them agree with `expected`.
    fn check_every_split(api: Api, framing: Framing, body: &str, expected: &Reading) {
        for cut in 0..=body.len() {
            assert_eq!(
                &read_in_two(api, framing, body, cut),
                expected,
                "cut at byte {cut}"
            );
        }
        let mut r = UsageReader::new(api, framing);
        for b in body.as_bytes() {
            r.feed(std::slice::from_ref(b));
        }
        assert_eq!(&r.finish(), expected, "one byte at a time");
    }

    fn reading(model: &str, input: u64, output: u64, cache_read: u64, cache_write: u64) -> Reading {
        Reading {
            usage: Some(Usage {
                input_tokens: input,
                output_tokens: output,
                cache_read_tokens: cache_read,
                cache_write_tokens: cache_write,
            }),
            model: Some(model.into()),
        }
    }

    // Shaped like a real Messages stream: ping, a text block, a tool_use block whose
    // partial_json mentions "usage", and a final message_delta with cumulative usage.
    const ANTHROPIC_SSE: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01Xk\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"cache_creation_input_tokens\":1200,\"cache_read_input_tokens\":9000,\"cache_creation\":{\"ephemeral_5m_input_tokens\":1200,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n",
        "\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n",
        "\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n",
        "\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"I'll check \\\"usage\\\": {\\\"output_tokens\\\": 999}\"}}\n",
        "\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n",
        "\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01\",\"name\":\"Bash\",\"input\":{}}}\n",
        "\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"command\\\": \\\"echo usage\\\"}\"}}\n",
        "\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n",
        "\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n",
        "\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n",
        "\n",
    );

    #[test]
    fn anthropic_stream_at_every_split() {
        let expected = reading("claude-sonnet-4-5-20250929", 472, 89, 9000, 1200);
        check_every_split(
            Api::AnthropicMessages,
            Framing::EventStream,
            ANTHROPIC_SSE,
            &expected,
        );
    }

    #[test]
    fn anthropic_delta_with_cumulative_input_counts_replaces_them() {
        let body = concat!(
            "event: message_start\r\n",
            "data: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-haiku-4-5\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\r\n\r\n",
            "event: message_delta\r\n",
            "data: {\"type\":\"message_delta\",\"delta\":{},\"usage\":{\"input_tokens\":12,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":30,\"output_tokens\":5}}\r\n\r\n",
        );
        check_every_split(
            Api::AnthropicMessages,
            Framing::EventStream,
            body,
            &reading("claude-haiku-4-5", 12, 5, 30, 0),
        );
    }

    #[test]
    fn anthropic_stream_cut_off_counts_what_was_seen() {
        let cut = ANTHROPIC_SSE.find("event: message_delta").unwrap();
        let mut r = UsageReader::new(Api::AnthropicMessages, Framing::EventStream);
        r.feed(&ANTHROPIC_SSE.as_bytes()[..cut]);
        // The input side is known from message_start; output so far is message_start's 1.
        assert_eq!(
            r.finish(),
            reading("claude-sonnet-4-5-20250929", 472, 1, 9000, 1200)
        );
        // Cut inside message_start's data: nothing complete, nothing counted.
        let mut r = UsageReader::new(Api::AnthropicMessages, Framing::EventStream);
        r.feed(&ANTHROPIC_SSE.as_bytes()[..100]);
        assert_eq!(r.finish(), Reading::default());
    }

    #[test]
    fn anthropic_json_at_every_split() {
        let body = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-opus-4-1-20250805","content":[{"type":"text","text":"Hi \"model\": x"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":2095,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":503}}"#;
        check_every_split(
            Api::AnthropicMessages,
            Framing::Json,
            body,
            &reading("claude-opus-4-1-20250805", 2095, 503, 0, 0),
        );
    }

    #[test]
    fn anthropic_error_body_has_no_usage() {
        let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let mut r = UsageReader::new(Api::AnthropicMessages, Framing::Json);
        r.feed(body.as_bytes());
        assert_eq!(r.finish(), Reading::default());
    }

    const RESPONSES_SSE: &str = concat!(
        "event: response.created\n",
        "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_68a\",\"object\":\"response\",\"created_at\":1760000000,\"status\":\"in_progress\",\"model\":\"gpt-5-codex\",\"output\":[],\"usage\":null}}\n",
        "\n",
        "event: response.in_progress\n",
        "data: {\"type\":\"response.in_progress\",\"sequence_number\":1,\"response\":{\"id\":\"resp_68a\",\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-5-codex\",\"output\":[],\"usage\":null}}\n",
        "\n",
        "event: response.output_item.added\n",
        "data: {\"type\":\"response.output_item.added\",\"sequence_number\":2,\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"in_progress\",\"role\":\"assistant\",\"content\":[]}}\n",
        "\n",
        "event: response.output_text.delta\n",
        "data: {\"type\":\"response.output_text.delta\",\"sequence_number\":3,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hello\"}\n",
        "\n",
        "event: response.output_text.done\n",
        "data: {\"type\":\"response.output_text.done\",\"sequence_number\":4,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"text\":\"Hello\"}\n",
        "\n",
        "event: response.completed\n",
        "data: {\"type\":\"response.completed\",\"sequence_number\":5,\"response\":{\"id\":\"resp_68a\",\"object\":\"response\",\"created_at\":1760000000,\"status\":\"completed\",\"model\":\"gpt-5-codex-2025-09-15\",\"output\":[{\"id\":\"msg_1\",\"type\":\"message\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hello\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":3000,\"input_tokens_details\":{\"cached_tokens\":2048},\"output_tokens\":120,\"output_tokens_details\":{\"reasoning_tokens\":64},\"total_tokens\":3120}}}\n",
        "\n",
    );

    #[test]
    fn responses_stream_at_every_split() {
        check_every_split(
            Api::OpenAiResponses,
            Framing::EventStream,
            RESPONSES_SSE,
            &reading("gpt-5-codex-2025-09-15", 952, 120, 2048, 0),
        );
    }

    #[test]
    fn responses_stream_cut_before_completion_has_a_model_but_no_usage() {
        let cut = RESPONSES_SSE.find("event: response.completed").unwrap();
        let mut r = UsageReader::new(Api::OpenAiResponses, Framing::EventStream);
        r.feed(&RESPONSES_SSE.as_bytes()[..cut]);
        assert_eq!(
            r.finish(),
            Reading {
                usage: None,
                model: Some("gpt-5-codex".into())
            }
        );
    }

    #[test]
    fn responses_json_at_every_split() {
        let body = r#"{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"gpt-4.1-2025-04-14","output":[{"type":"message","content":[{"type":"output_text","text":"{\"usage\":1}"}]}],"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":87,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":123}}"#;
        check_every_split(
            Api::OpenAiResponses,
            Framing::Json,
            body,
            &reading("gpt-4.1-2025-04-14", 36, 87, 0, 0),
        );
    }

    const CHAT_SSE: &str = concat!(
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\",\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\",\"choices\":[],\"usage\":{\"prompt_tokens\":1500,\"completion_tokens\":9,\"total_tokens\":1509,\"prompt_tokens_details\":{\"cached_tokens\":1024,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n",
        "data: [DONE]\n\n",
    );

    #[test]
    fn chat_stream_at_every_split() {
        check_every_split(
            Api::OpenAiChatCompletions,
            Framing::EventStream,
            CHAT_SSE,
            &reading("gpt-4o-mini-2024-07-18", 476, 9, 1024, 0),
        );
    }

    #[test]
    fn chat_stream_without_include_usage_reads_as_no_usage() {
        let body = CHAT_SSE.replace(",\"usage\":null", "");
        let cut = body.find("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_1\",\"choices\":[],").unwrap();
        let without = format!("{}data: [DONE]\n\n", &body[..cut]);
        let mut r = UsageReader::new(Api::OpenAiChatCompletions, Framing::EventStream);
        r.feed(without.as_bytes());
        let got = r.finish();
        assert_eq!(got.usage, None);
        assert_eq!(got.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    }

    #[test]
    fn chat_json_at_every_split() {
        let body = r#"{"id":"chatcmpl-2","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"ok","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0}}}"#;
        check_every_split(
            Api::OpenAiChatCompletions,
            Framing::Json,
            body,
            &reading("gpt-4o-2024-08-06", 19, 10, 0, 0),
        );
    }

    // Shaped like a real `streamGenerateContent?alt=sse` body: CRLF-framed `data:` chunks, each
    // a whole response with cumulative usageMetadata (the first has no candidates count yet),
    // text that mentions usageMetadata, and a function call in the last chunk.
    const GEMINI_SSE: &str = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"I'll look\", \"thought\": false}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 5210,\"totalTokenCount\": 5330,\"cachedContentTokenCount\": 4096,\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": 5210}],\"cacheTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": 4096}],\"thoughtsTokenCount\": 120},\"modelVersion\": \"gemini-2.5-pro\",\"responseId\": \"kP1aaK2bC\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" at \\\"usageMetadata\\\": {\\\"promptTokenCount\\\": 1}\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 5210,\"candidatesTokenCount\": 17,\"totalTokenCount\": 5427,\"cachedContentTokenCount\": 4096,\"thoughtsTokenCount\": 200},\"modelVersion\": \"gemini-2.5-pro\",\"responseId\": \"kP1aaK2bC\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"run_shell_command\",\"args\": {\"command\": \"ls\"}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 5210,\"candidatesTokenCount\": 42,\"totalTokenCount\": 5452,\"cachedContentTokenCount\": 4096,\"promptTokensDetails\": [{\"modality\": \"TEXT\",\"tokenCount\": 5210}],\"thoughtsTokenCount\": 200},\"modelVersion\": \"gemini-2.5-pro\",\"responseId\": \"kP1aaK2bC\"}\r\n\r\n",
    );

    fn unnamed(input: u64, output: u64, cache_read: u64) -> Reading {
        Reading {
            model: None,
            ..reading("", input, output, cache_read, 0)
        }
    }

    #[test]
    fn gemini_stream_at_every_split() {
        // 5210 prompt of which 4096 cached; 42 candidates + 200 thinking tokens of output. The
        // responses' modelVersion is not read: the model comes from the request's path.
        check_every_split(
            Api::GeminiGenerateContent,
            Framing::EventStream,
            GEMINI_SSE,
            &unnamed(1114, 242, 4096),
        );
    }

    #[test]
    fn gemini_stream_cut_off_counts_the_last_complete_chunk() {
        let cut = GEMINI_SSE
            .find("data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\"")
            .unwrap();
        let mut r = UsageReader::new(Api::GeminiGenerateContent, Framing::EventStream)
            .with_model("gemini-2.5-pro");
        r.feed(&GEMINI_SSE.as_bytes()[..cut]);
        assert_eq!(r.finish(), reading("gemini-2.5-pro", 1114, 217, 4096, 0));
        // Only the first chunk: the prompt is known, the output so far is its thinking.
        let cut = GEMINI_SSE.find("\r\n\r\n").unwrap() + 4;
        let mut r = UsageReader::new(Api::GeminiGenerateContent, Framing::EventStream);
        r.feed(&GEMINI_SSE.as_bytes()[..cut]);
        assert_eq!(r.finish(), unnamed(1114, 120, 4096));
    }

    #[test]
    fn gemini_json_at_every_split() {
        let body = r#"{
  "candidates": [
    {
      "content": {"parts": [{"text": "Hello from \"usageMetadata\""}], "role": "model"},
      "finishReason": "STOP",
      "index": 0
    }
  ],
  "usageMetadata": {
    "promptTokenCount": 1200,
    "candidatesTokenCount": 9,
    "totalTokenCount": 1231,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1200}],
    "thoughtsTokenCount": 22
  },
  "modelVersion": "gemini-2.5-flash",
  "responseId": "mP1aaLn3Ew"
}"#;
        check_every_split(
            Api::GeminiGenerateContent,
            Framing::Json,
            body,
            &unnamed(1200, 31, 0),
        );
    }

    #[test]
    fn gemini_tool_use_prompt_tokens_count_as_input() {
        let body = r#"{"candidates":[],"usageMetadata":{"promptTokenCount":100,"toolUsePromptTokenCount":50,"candidatesTokenCount":10,"cachedContentTokenCount":30,"totalTokenCount":160}}"#;
        let mut r = UsageReader::new(Api::GeminiGenerateContent, Framing::Json)
            .with_model("gemini-2.5-flash");
        r.feed(body.as_bytes());
        assert_eq!(r.finish(), reading("gemini-2.5-flash", 120, 10, 30, 0));
    }

    #[test]
    fn a_gemini_error_body_has_no_usage_but_keeps_the_requested_model() {
        let body = r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#;
        let mut r = UsageReader::new(Api::GeminiGenerateContent, Framing::Json)
            .with_model("gemini-2.5-pro");
        r.feed(body.as_bytes());
        assert_eq!(
            r.finish(),
            Reading {
                usage: None,
                model: Some("gemini-2.5-pro".into())
            }
        );
    }

    #[test]
    fn a_response_model_still_wins_over_the_requested_one_elsewhere() {
        let body =
            r#"{"model":"claude-haiku-4-5-20251001","usage":{"input_tokens":1,"output_tokens":2}}"#;
        let mut r =
            UsageReader::new(Api::AnthropicMessages, Framing::Json).with_model("claude-haiku-4-5");
        r.feed(body.as_bytes());
        assert_eq!(r.finish(), reading("claude-haiku-4-5-20251001", 1, 2, 0, 0));
    }

    #[test]
    fn a_huge_completed_event_is_read_without_a_line_limit() {
        // A response.completed event that repeats 4 MiB of output still yields its usage.
        let text = "y".repeat(4 << 20);
        let body = format!(
            "event: response.completed\ndata: {{\"type\":\"response.completed\",\"response\":{{\"model\":\"gpt-5\",\"output\":[{{\"type\":\"message\",\"content\":[{{\"type\":\"output_text\",\"text\":\"{text}\"}}]}}],\"usage\":{{\"input_tokens\":7,\"output_tokens\":1000000,\"input_tokens_details\":{{\"cached_tokens\":0}}}}}}}}\n\n"
        );
        let mut r = UsageReader::new(Api::OpenAiResponses, Framing::EventStream);
        for piece in body.as_bytes().chunks(8192) {
            r.feed(piece);
        }
        assert_eq!(r.finish(), reading("gpt-5", 7, 1_000_000, 0, 0));
    }

    #[test]
    fn content_type_decides_framing() {
        assert_eq!(
            Framing::from_content_type(Some("text/event-stream; charset=utf-8")),
            Framing::EventStream
        );
        assert_eq!(
            Framing::from_content_type(Some("Text/Event-Stream")),
            Framing::EventStream
        );
        assert_eq!(
            Framing::from_content_type(Some("application/json")),
            Framing::Json
        );
        assert_eq!(Framing::from_content_type(None), Framing::Json);
    }

    #[test]
    fn usage_total_saturates() {
        let u = Usage {
            input_tokens: u64::MAX,
            output_tokens: 1,
            ..Usage::default()
        };
        assert_eq!(u.total(), u64::MAX);
    }
}
