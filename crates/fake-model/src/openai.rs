//! The OpenAI Responses API (`POST /v1/responses`, what codex uses) and Chat Completions API
//! (`POST /v1/chat/completions`), as JSON or SSE.
//!
//! Responses streams name their events (`event: response.created` ...) and end with
//! `response.completed`, whose `response.usage` is the only usage in the stream. Chat streams
//! are bare `data:` chunks ending with `data: [DONE]`; usage comes in one last chunk with empty
//! `choices`, and only when the request set `stream_options.include_usage`.

use crate::server::{Reply, ReplyBody};
use crate::{split_text, sse, Behavior, FakeUsage, Turn};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn model_of(request: &Value, behavior: &Behavior) -> String {
    behavior
        .model
        .clone()
        .or_else(|| request["model"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "gpt-fake".into())
}

/// OpenAI's input count includes cached tokens (and, here, cache writes, which OpenAI does
/// not bill apart).
fn input_total(u: &FakeUsage) -> u64 {
    u.input + u.cache_read + u.cache_write
}

fn request_headers(n: u64) -> Vec<(&'static str, String)> {
    vec![
        ("x-request-id", format!("req_fake{n:08}")),
        ("openai-processing-ms", "1".to_owned()),
    ]
}

pub(crate) fn responses(
    request: &Value,
    behavior: &Behavior,
    n: u64,
    turn: Option<&Turn>,
) -> Reply {
    let model = model_of(request, behavior);
    let id = format!("resp_fake{n:08}");
    let item_id = format!("msg_fake{n:08}");
    let created = now();
    let u = behavior.usage;
    let usage = json!({
        "input_tokens": input_total(&u),
        "input_tokens_details": {"cached_tokens": u.cache_read},
        "output_tokens": u.output + u.thoughts,
        "output_tokens_details": {"reasoning_tokens": u.thoughts},
        "total_tokens": input_total(&u) + u.output + u.thoughts
    });
    let text = match turn {
        Some(Turn::Text(text)) => text.clone(),
        _ => behavior.text.clone(),
    };
    let message = |status: &str, text: &str| {
        json!({
            "id": item_id,
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]
        })
    };
    let call = match turn {
        Some(Turn::Tool { name, input }) => Some(tool_call(name, input, n)),
        _ => None,
    };
    let response = |status: &str, output: Value, usage: Value| {
        json!({
            "id": id,
            "object": "response",
            "created_at": created,
            "status": status,
            "error": null,
            "incomplete_details": null,
            "model": model,
            "output": output,
            "parallel_tool_calls": true,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage
        })
    };
    let output = match &call {
        Some(call) => json!([call]),
        None => json!([message("completed", &text)]),
    };
    if request["stream"].as_bool() != Some(true) {
        return Reply {
            status: 200,
            headers: request_headers(n),
            body: ReplyBody::Json(response("completed", output, usage)),
        };
    }

    let mut seq = 0u64;
    let mut events = Vec::new();
    let mut push = |kind: &str, mut data: Value| {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(seq);
        seq += 1;
        events.push(sse::event(Some(kind), &data));
    };
    push(
        "response.created",
        json!({"response": response("in_progress", json!([]), Value::Null)}),
    );
    push(
        "response.in_progress",
        json!({"response": response("in_progress", json!([]), Value::Null)}),
    );
    if let Some(call) = &call {
        let mut started = call.clone();
        started["status"] = json!("in_progress");
        push(
            "response.output_item.added",
            json!({"output_index": 0, "item": started}),
        );
        push(
            "response.output_item.done",
            json!({"output_index": 0, "item": call}),
        );
    } else {
        push(
            "response.output_item.added",
            json!({"output_index": 0, "item": {"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}}),
        );
        push(
            "response.content_part.added",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
        );
        for piece in split_text(&text, behavior.pieces) {
            push(
                "response.output_text.delta",
                json!({"item_id": item_id, "output_index": 0, "content_index": 0, "delta": piece, "logprobs": []}),
            );
        }
        push(
            "response.output_text.done",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "text": text, "logprobs": []}),
        );
        push(
            "response.content_part.done",
            json!({"item_id": item_id, "output_index": 0, "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}}),
        );
        push(
            "response.output_item.done",
            json!({"output_index": 0, "item": message("completed", &text)}),
        );
    }
    push(
        "response.completed",
        json!({"response": response("completed", output, usage)}),
    );
    Reply {
        status: 200,
        headers: request_headers(n),
        body: ReplyBody::Sse(events),
    }
}

/// A scripted tool call as a Responses output item: `function_call` with JSON arguments, or
/// `custom_tool_call` with a string input (codex's `apply_patch`).
fn tool_call(name: &str, input: &Value, n: u64) -> Value {
    let call_id = format!("call_fake{n:08}");
    match input {
        Value::String(text) => json!({
            "id": format!("ctc_fake{n:08}"),
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": call_id,
            "name": name,
            "input": text
        }),
        arguments => json!({
            "id": format!("fc_fake{n:08}"),
            "type": "function_call",
            "status": "completed",
            "call_id": call_id,
            "name": name,
            "arguments": arguments.to_string()
        }),
    }
}

pub(crate) fn chat(request: &Value, behavior: &Behavior, n: u64) -> Reply {
    let model = model_of(request, behavior);
    let id = format!("chatcmpl-fake{n:08}");
    let created = now();
    let u = behavior.usage;
    let usage = json!({
        "prompt_tokens": input_total(&u),
        "completion_tokens": u.output + u.thoughts,
        "total_tokens": input_total(&u) + u.output + u.thoughts,
        "prompt_tokens_details": {"cached_tokens": u.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": u.thoughts, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    });
    if request["stream"].as_bool() != Some(true) {
        let body = json!({
            "id": id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": behavior.text, "refusal": null, "annotations": []},
                "logprobs": null,
                "finish_reason": "stop"
            }],
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": "fp_fake"
        });
        return Reply {
            status: 200,
            headers: request_headers(n),
            body: ReplyBody::Json(body),
        };
    }

    let include_usage = request["stream_options"]["include_usage"].as_bool() == Some(true);
    let chunk = |choices: Value, usage: Option<Value>| {
        let mut c = json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": choices
        });
        // With include_usage every chunk carries the field, null until the last one.
        if include_usage {
            c["usage"] = usage.unwrap_or(Value::Null);
        }
        sse::event(None, &c)
    };
    let mut events = vec![chunk(
        json!([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null}, "logprobs": null, "finish_reason": null}]),
        None,
    )];
    for piece in split_text(&behavior.text, behavior.pieces) {
        events.push(chunk(
            json!([{"index": 0, "delta": {"content": piece}, "logprobs": null, "finish_reason": null}]),
            None,
        ));
    }
    events.push(chunk(
        json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}]),
        None,
    ));
    if include_usage {
        events.push(chunk(json!([]), Some(usage)));
    }
    events.push(sse::raw_data("[DONE]"));
    Reply {
        status: 200,
        headers: request_headers(n),
        body: ReplyBody::Sse(events),
    }
}

/// OpenAI's error body.
pub(crate) fn error(status: u16, kind: &str, message: &str) -> Reply {
    Reply {
        status,
        headers: vec![],
        body: ReplyBody::Json(
            json!({"error": {"message": message, "type": kind, "param": null, "code": null}}),
        ),
    }
}
