//! Google's Gemini API: `POST /v1beta/models/{model}:generateContent` (one JSON response) and
//! `:streamGenerateContent` (with `alt=sse`, server-sent events whose `data:` lines are each a
//! whole response, framed with CRLF; without it, one JSON array of those responses).
//!
//! The model is named by the path, not the body. Every response carries `usageMetadata`; in a
//! stream the counts are cumulative: the first chunks report only the prompt, the last one
//! everything. `promptTokenCount` includes the cached tokens, which are repeated as
//! `cachedContentTokenCount`; thinking tokens are `thoughtsTokenCount`, apart from
//! `candidatesTokenCount`. Counts that are zero are left out, as the real API does.

use crate::server::{Reply, ReplyBody};
use crate::{split_text, sse, Behavior, FakeUsage};
use serde_json::{json, Map, Value};

/// `/v1beta/models/gemini-2.5-pro:generateContent` → `("gemini-2.5-pro", "generateContent")`.
pub(crate) fn model_call(path: &str) -> Option<(&str, &str)> {
    let rest = ["/v1beta/models/", "/v1/models/"]
        .iter()
        .find_map(|prefix| path.strip_prefix(prefix))?;
    rest.split_once(':')
}

fn prompt_total(u: &FakeUsage) -> u64 {
    // Gemini has no per-call cache writes; they are plain prompt tokens here.
    u.input + u.cache_read + u.cache_write
}

/// The final (whole-call) usage, or the prompt-only usage of an early stream chunk.
fn usage_metadata(u: &FakeUsage, complete: bool) -> Value {
    let prompt = prompt_total(u);
    let mut m = Map::new();
    m.insert("promptTokenCount".into(), json!(prompt));
    if complete {
        m.insert("candidatesTokenCount".into(), json!(u.output));
    }
    let total = if complete {
        prompt + u.output + u.thoughts
    } else {
        prompt
    };
    m.insert("totalTokenCount".into(), json!(total));
    if u.cache_read > 0 {
        m.insert("cachedContentTokenCount".into(), json!(u.cache_read));
    }
    m.insert(
        "promptTokensDetails".into(),
        json!([{"modality": "TEXT", "tokenCount": prompt}]),
    );
    if complete && u.thoughts > 0 {
        m.insert("thoughtsTokenCount".into(), json!(u.thoughts));
    }
    Value::Object(m)
}

fn response(text: &str, last: bool, usage: Value, model: &str, id: &str) -> Value {
    let mut candidate = json!({
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0
    });
    if last {
        candidate["finishReason"] = json!("STOP");
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": id
    })
}

pub(crate) fn answer(path: &str, query: &str, behavior: &Behavior, n: u64) -> Reply {
    let Some((path_model, call)) = model_call(path) else {
        return error(404, "NOT_FOUND", &format!("Method not found: {path}"));
    };
    let model = behavior.model.clone().unwrap_or_else(|| path_model.into());
    let id = format!("fakeGemini{n:08}");
    let u = behavior.usage;
    // Google's front end reports its time in `server-timing`; a header to see pass through.
    let headers = vec![("server-timing", "gfet4t7; dur=1".to_owned())];
    let sse = query.split('&').any(|pair| pair == "alt=sse");
    let stream_parts = || {
        let pieces = split_text(&behavior.text, behavior.pieces);
        let last = pieces.len() - 1;
        pieces
            .into_iter()
            .enumerate()
            .map(|(i, piece)| {
                let done = i == last;
                response(&piece, done, usage_metadata(&u, done), &model, &id)
            })
            .collect::<Vec<Value>>()
    };
    let body = match call {
        "generateContent" => ReplyBody::Json(response(
            &behavior.text,
            true,
            usage_metadata(&u, true),
            &model,
            &id,
        )),
        "streamGenerateContent" if sse => {
            ReplyBody::Sse(stream_parts().iter().map(sse::crlf_data).collect())
        }
        "streamGenerateContent" => ReplyBody::Json(Value::Array(stream_parts())),
        other => {
            return error(
                404,
                "NOT_FOUND",
                &format!("models/{path_model} does not support the method {other}"),
            )
        }
    };
    Reply {
        status: 200,
        headers,
        body,
    }
}

/// Google's error body: the HTTP status again as `code`, and the canonical status name.
pub(crate) fn error(status: u16, grpc_status: &str, message: &str) -> Reply {
    Reply {
        status,
        headers: vec![],
        body: ReplyBody::Json(
            json!({"error": {"code": status, "message": message, "status": grpc_status}}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_and_method_are_in_the_path() {
        assert_eq!(
            model_call("/v1beta/models/gemini-2.5-pro:streamGenerateContent"),
            Some(("gemini-2.5-pro", "streamGenerateContent"))
        );
        assert_eq!(model_call("/v1beta/files"), None);
    }

    #[test]
    fn usage_counts_the_cache_inside_the_prompt_and_thoughts_apart() {
        let u = FakeUsage {
            input: 100,
            output: 20,
            cache_read: 50,
            cache_write: 0,
            thoughts: 7,
        };
        assert_eq!(
            usage_metadata(&u, true),
            json!({"promptTokenCount": 150, "candidatesTokenCount": 20, "totalTokenCount": 177,
                   "cachedContentTokenCount": 50, "thoughtsTokenCount": 7,
                   "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 150}]})
        );
        assert_eq!(
            usage_metadata(&u, false),
            json!({"promptTokenCount": 150, "totalTokenCount": 150, "cachedContentTokenCount": 50,
                   "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 150}]})
        );
    }
}
