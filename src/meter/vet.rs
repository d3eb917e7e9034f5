//! What the proxy changes in a model call's body before it spends the server's key on it:
//! provider-side tools the run's repository does not allow are taken out (`tools.rs`), and an
//! OpenAI chat-completions stream is made to report the usage the meter needs.

use super::estimate::CallFacts;
use super::tools::strip_provider_tools;
use super::usage::Api;
use super::Provider;
use bytes::Bytes;
use serde_json::Value;

/// The most a model call's body may hold. Claude Code's largest requests (a long session with
/// its tool results) stay well under this; a body over it is refused, not streamed unread.
pub(crate) const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// A model call's body as it goes upstream.
#[derive(Debug)]
pub(crate) struct Vetted {
    pub(crate) body: Bytes,
    /// Provider-side tools taken out, by bosun's names.
    pub(crate) stripped: Vec<String>,
    /// What the request says about its cost.
    pub(crate) facts: CallFacts,
}

/// The body to forward for a metered call of `api`, or why it is refused (a message for the
/// agent's user). `allows` says whether the run's repository allows a provider-side tool;
/// `path_model` is the model a Gemini path names. A body left as it was is forwarded byte for
/// byte.
pub(crate) fn vet_body(
    provider: Provider,
    api: Api,
    body: Bytes,
    path_model: Option<&str>,
    allows: impl Fn(&str) -> bool,
) -> Result<Vetted, String> {
    if body.is_empty() {
        let facts = CallFacts::read(api, &Value::Null, path_model, 0);
        return Ok(Vetted {
            body,
            stripped: Vec::new(),
            facts,
        });
    }
    let mut json: Value = serde_json::from_slice(&body)
        .map_err(|_| "bosun: a model call's body must be JSON".to_owned())?;
    let facts = CallFacts::read(api, &json, path_model, body.len());
    let stripped = strip_provider_tools(provider, &mut json, allows);
    let usage_asked = api == Api::OpenAiChatCompletions && asks_for_usage(&mut json);
    if stripped.is_empty() && !usage_asked {
        return Ok(Vetted {
            body,
            stripped,
            facts,
        });
    }
    let body = serde_json::to_vec(&json)
        .map(Bytes::from)
        .map_err(|_| "bosun: the model call could not be re-encoded".to_owned())?;
    Ok(Vetted {
        body,
        stripped,
        facts,
    })
}

/// A chat-completions stream reports usage only when asked (`stream_options.include_usage`);
/// without it the meter would count the call as free. Sets it; whether anything changed.
fn asks_for_usage(json: &mut Value) -> bool {
    if json.get("stream") != Some(&Value::Bool(true)) {
        return false;
    }
    let Some(request) = json.as_object_mut() else {
        return false;
    };
    let options = request
        .entry("stream_options")
        .or_insert_with(|| Value::Object(Default::default()));
    if !options.is_object() {
        *options = Value::Object(Default::default());
    }
    let Some(options) = options.as_object_mut() else {
        return false;
    };
    if options.get("include_usage") == Some(&Value::Bool(true)) {
        return false;
    }
    options.insert("include_usage".into(), Value::Bool(true));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(v: Value) -> Bytes {
        Bytes::from(v.to_string())
    }

    /// `body` vetted as a call of `api`, the repository allowing the tools `allows` says.
    fn vet(api: Api, body: Bytes, allows: fn(&str) -> bool) -> Result<Vetted, String> {
        let provider = match api {
            Api::AnthropicMessages => Provider::Anthropic,
            Api::OpenAiResponses | Api::OpenAiChatCompletions => Provider::OpenAi,
            Api::GeminiGenerateContent => Provider::Gemini,
        };
        vet_body(provider, api, body, None, allows)
    }

    #[test]
    fn a_plain_call_passes_byte_for_byte() {
        let body = Bytes::from_static(br#"{"model": "m",  "messages": []}"#);
        let out = vet(Api::AnthropicMessages, body.clone(), |_| false);
        assert_eq!(out.unwrap().body, body);
        assert!(vet(Api::OpenAiResponses, Bytes::new(), |_| { false }).is_ok());
        assert!(vet(Api::OpenAiResponses, bytes(json!(1)), |_| false).is_ok());
        let not_json = Bytes::from_static(b"model=m");
        assert!(vet(Api::OpenAiResponses, not_json, |_| true).is_err());
    }

    #[test]
    fn provider_side_tools_are_taken_out_unless_allowed() {
        let body = bytes(json!({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}));
        let out = vet(Api::AnthropicMessages, body.clone(), |_| false).unwrap();
        assert_eq!(out.stripped, ["web_search"]);
        let sent: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(sent["tools"], json!([]));
        let allowed = vet_body(
            Provider::Anthropic,
            Api::AnthropicMessages,
            body.clone(),
            None,
            |t| t == "web_search",
        )
        .unwrap();
        assert_eq!((allowed.body, allowed.stripped.len()), (body, 0));
    }

    #[test]
    fn a_chat_stream_is_made_to_report_its_usage() {
        let body = bytes(json!({"model": "m", "stream": true, "messages": []}));
        let out = vet(Api::OpenAiChatCompletions, body, |_| false).unwrap();
        let out: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(out["stream_options"], json!({"include_usage": true}));
        assert_eq!(out["model"], "m");
        let other =
            bytes(json!({"stream": true, "stream_options": {"include_usage": false, "x": 1}}));
        let out = vet(Api::OpenAiChatCompletions, other, |_| false).unwrap();
        let out: Value = serde_json::from_slice(&out.body).unwrap();
        assert_eq!(
            out["stream_options"],
            json!({"include_usage": true, "x": 1})
        );
        // Already asked, or not a stream: the bytes pass unchanged.
        for body in [
            bytes(json!({"stream": true, "stream_options": {"include_usage": true}})),
            bytes(json!({"stream": false})),
        ] {
            let out = vet(Api::OpenAiChatCompletions, body.clone(), |_| false);
            assert_eq!(out.unwrap().body, body);
        }
    }
}
