//! The Anthropic Messages API: `POST /v1/messages`, as JSON or as an SSE stream of
//! `message_start`, `content_block_start`, `ping`, `content_block_delta`..., `content_block_stop`,
//! `message_delta` (final `stop_reason` and cumulative `usage.output_tokens`), `message_stop`.

use crate::server::{Reply, ReplyBody};
use crate::{split_text, sse, Behavior, Turn};
use serde_json::{json, Value};

pub(crate) fn answer(request: &Value, behavior: &Behavior, n: u64, turn: Option<&Turn>) -> Reply {
    let model = behavior
        .model
        .clone()
        .or_else(|| request["model"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "claude-fake".into());
    let id = format!("msg_fake{n:08}");
    let u = behavior.usage;
    // Anthropic counts thinking tokens inside output_tokens.
    let output = u.output + u.thoughts;
    let headers = vec![
        ("request-id", format!("req_fake{n:08}")),
        ("anthropic-organization-id", "fake-org".to_owned()),
    ];
    let block = Block::of(turn, behavior, n);
    if request["stream"].as_bool() != Some(true) {
        let body = json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [block.whole()],
            "stop_reason": block.stop_reason(),
            "stop_sequence": null,
            "usage": {
                "input_tokens": u.input,
                "cache_creation_input_tokens": u.cache_write,
                "cache_read_input_tokens": u.cache_read,
                "output_tokens": output,
                "service_tier": "standard"
            }
        });
        return Reply {
            status: 200,
            headers,
            body: ReplyBody::Json(body),
        };
    }

    let mut events = vec![
        sse::event(
            Some("message_start"),
            &json!({
                "type": "message_start",
                "message": {
                    "id": id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": {
                        "input_tokens": u.input,
                        "cache_creation_input_tokens": u.cache_write,
                        "cache_read_input_tokens": u.cache_read,
                        "output_tokens": 1,
                        "service_tier": "standard"
                    }
                }
            }),
        ),
        sse::event(
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": 0, "content_block": block.opening()}),
        ),
        sse::event(Some("ping"), &json!({"type": "ping"})),
    ];
    for delta in block.deltas(behavior.pieces) {
        events.push(sse::event(
            Some("content_block_delta"),
            &json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ));
    }
    events.push(sse::event(
        Some("content_block_stop"),
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(sse::event(
        Some("message_delta"),
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": block.stop_reason(), "stop_sequence": null},
            "usage": {"output_tokens": output}
        }),
    ));
    events.push(sse::event(
        Some("message_stop"),
        &json!({"type": "message_stop"}),
    ));
    Reply {
        status: 200,
        headers,
        body: ReplyBody::Sse(events),
    }
}

/// The one content block of an answer: text, or a scripted tool call.
enum Block {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

impl Block {
    fn of(turn: Option<&Turn>, behavior: &Behavior, n: u64) -> Block {
        match turn {
            Some(Turn::Tool { name, input }) => Block::ToolUse {
                id: format!("toolu_fake{n:08}"),
                name: name.clone(),
                input: input.clone(),
            },
            Some(Turn::Text(text)) => Block::Text(text.clone()),
            None => Block::Text(behavior.text.clone()),
        }
    }

    fn stop_reason(&self) -> &'static str {
        match self {
            Block::Text(_) => "end_turn",
            Block::ToolUse { .. } => "tool_use",
        }
    }

    /// The block as a non-streaming answer carries it.
    fn whole(&self) -> Value {
        match self {
            Block::Text(text) => json!({"type": "text", "text": text}),
            Block::ToolUse { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        }
    }

    /// `content_block_start`'s block: empty text, or the tool use with an empty input.
    fn opening(&self) -> Value {
        match self {
            Block::Text(_) => json!({"type": "text", "text": ""}),
            Block::ToolUse { id, name, .. } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": {}})
            }
        }
    }

    /// The deltas: the text in `pieces`, or the input's JSON in one `input_json_delta`.
    fn deltas(&self, pieces: usize) -> Vec<Value> {
        match self {
            Block::Text(text) => split_text(text, pieces)
                .into_iter()
                .map(|piece| json!({"type": "text_delta", "text": piece}))
                .collect(),
            Block::ToolUse { input, .. } => {
                vec![json!({"type": "input_json_delta", "partial_json": input.to_string()})]
            }
        }
    }
}

/// Anthropic's error body.
pub(crate) fn error(status: u16, kind: &str, message: &str) -> Reply {
    Reply {
        status,
        headers: vec![],
        body: ReplyBody::Json(
            json!({"type": "error", "error": {"type": kind, "message": message}}),
        ),
    }
}
