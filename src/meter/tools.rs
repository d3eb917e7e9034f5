//! Tools the model provider runs itself. A model call may ask the provider to search the web,
//! fetch a URL, run code or call a remote MCP server on the model's behalf: that reaches the
//! network from outside the sandbox (past the egress proxy) and costs what the meter cannot
//! see. Such tools are taken out of the call before it is forwarded, unless the repository
//! allows each by name (`model_tools:` in `.github/bosun.yml`). Codex 0.147 asks for
//! `web_search` in every call (seen in `tests/real_cli.rs`): stripped, Codex works on without
//! it.
//!
//! Tools the agent runs itself (function and custom tools, Codex's `local_shell`, any tool
//! marked `"execution": "client"` such as Codex's `tool_search` over its own deferred tools,
//! Anthropic's client-side `bash`/`text_editor`/`computer`/`memory` tools, Gemini's
//! `functionDeclarations`) stay. Everything else counts as the provider's, including a kind of
//! tool this list does not know yet: new provider-side tools are taken out until named here.

use super::Provider;
use bosun_core::repo_config::ModelTool;
use serde_json::Value;

/// The provider-side tools `body` asks for, each once, in order of appearance. A tool of a
/// kind bosun does not know is named by its own `type` (or Gemini key).
pub(crate) fn provider_tools(provider: Provider, body: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut note = |name: String| {
        if !found.contains(&name) {
            found.push(name);
        }
    };
    let tools = body.get("tools").and_then(Value::as_array);
    match provider {
        Provider::Anthropic | Provider::OpenAi => {
            for tool in tools.into_iter().flatten() {
                if let Some(name) = provider_side(tool) {
                    note(name);
                }
            }
            // Anthropic's MCP connector and OpenAI chat completions' built-in search are
            // request fields, not tools.
            let asks = |field: &str| body.get(field).is_some_and(|v| !v.is_null());
            if body
                .get("mcp_servers")
                .and_then(Value::as_array)
                .is_some_and(|servers| !servers.is_empty())
            {
                note(ModelTool::Mcp.name().to_owned());
            }
            if asks("web_search_options") {
                note(ModelTool::WebSearch.name().to_owned());
            }
        }
        Provider::Gemini => {
            for tool in tools.into_iter().flatten() {
                for key in tool.as_object().into_iter().flat_map(|o| o.keys()) {
                    if !matches!(
                        key.as_str(),
                        "functionDeclarations" | "function_declarations"
                    ) {
                        note(canonical(key));
                    }
                }
            }
        }
    }
    found
}

/// The name of an Anthropic or OpenAI tool the provider runs; `None` for the agent's own.
fn provider_side(tool: &Value) -> Option<String> {
    let kind = tool.get("type").and_then(Value::as_str).unwrap_or("custom");
    let client = tool.get("execution").and_then(Value::as_str) == Some("client");
    (!client && !runs_in_the_agent(kind)).then(|| canonical(kind))
}

/// Takes every provider-side tool `allows` refuses out of `body`, with the fields that ask
/// for one (Anthropic's `mcp_servers`, chat completions' `web_search_options`) and a
/// `tool_choice` naming one. Returns the names taken out, each once.
pub(crate) fn strip_provider_tools(
    provider: Provider,
    body: &mut Value,
    allows: impl Fn(&str) -> bool,
) -> Vec<String> {
    let refused: Vec<String> = provider_tools(provider, body)
        .into_iter()
        .filter(|name| !allows(name))
        .collect();
    if refused.is_empty() {
        return refused;
    }
    let gone = |name: &str| refused.iter().any(|r| r == name);
    let Some(request) = body.as_object_mut() else {
        return refused;
    };
    match provider {
        Provider::Anthropic | Provider::OpenAi => {
            if let Some(Value::Array(tools)) = request.get_mut("tools") {
                tools.retain(|tool| provider_side(tool).is_none_or(|name| !gone(&name)));
            }
            if gone(ModelTool::Mcp.name()) {
                request.remove("mcp_servers");
            }
            if gone(ModelTool::WebSearch.name()) {
                request.remove("web_search_options");
            }
            let forced = request
                .get("tool_choice")
                .and_then(|choice| choice.get("type"))
                .and_then(Value::as_str)
                .is_some_and(|kind| gone(&canonical(kind)));
            if forced {
                request.insert("tool_choice".into(), Value::from("auto"));
            }
        }
        Provider::Gemini => {
            if let Some(Value::Array(tools)) = request.get_mut("tools") {
                for tool in tools.iter_mut() {
                    if let Some(fields) = tool.as_object_mut() {
                        fields.retain(|key, _| !gone(&canonical(key)));
                    }
                }
                tools.retain(|tool| tool.as_object().is_none_or(|fields| !fields.is_empty()));
            }
        }
    }
    refused
}

/// Tool types the agent's own process carries out.
fn runs_in_the_agent(kind: &str) -> bool {
    matches!(kind, "function" | "custom" | "local_shell")
        || ["bash_", "text_editor_", "computer_", "memory_"]
            .iter()
            .any(|prefix| kind.starts_with(prefix))
}

/// The name a repository allows a tool by: bosun's for the kinds it knows (across providers
/// and versions: `web_search_20250305`, `web_search_preview`, `googleSearch` are all
/// `web_search`), else the provider's own.
fn canonical(kind: &str) -> String {
    let known = match kind {
        k if k.starts_with("web_search") => Some(ModelTool::WebSearch),
        "googleSearch" | "google_search" | "googleSearchRetrieval" | "google_search_retrieval" => {
            Some(ModelTool::WebSearch)
        }
        k if k.starts_with("web_fetch") => Some(ModelTool::WebFetch),
        "urlContext" | "url_context" => Some(ModelTool::WebFetch),
        k if k.starts_with("code_execution") => Some(ModelTool::CodeExecution),
        "code_interpreter" | "codeExecution" => Some(ModelTool::CodeExecution),
        k if k.starts_with("mcp") => Some(ModelTool::Mcp),
        "file_search" => Some(ModelTool::FileSearch),
        "image_generation" => Some(ModelTool::ImageGeneration),
        _ => None,
    };
    known.map_or_else(|| kind.to_owned(), |tool| tool.name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn agent_side_tools_pass() {
        let claude = json!({"tools": [
            {"name": "Bash", "input_schema": {}},
            {"type": "custom", "name": "Edit", "input_schema": {}},
            {"type": "bash_20250124", "name": "bash"},
            {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        ]});
        assert!(provider_tools(Provider::Anthropic, &claude).is_empty());
        let codex = json!({"tools": [
            {"type": "function", "name": "exec_command"},
            {"type": "custom", "name": "apply_patch"},
            {"type": "local_shell"},
            {"type": "tool_search", "execution": "client", "parameters": {}},
        ]});
        assert!(provider_tools(Provider::OpenAi, &codex).is_empty());
        let gemini = json!({"tools": [{"functionDeclarations": [{"name": "run_shell_command"}]}]});
        assert!(provider_tools(Provider::Gemini, &gemini).is_empty());
        assert!(provider_tools(Provider::OpenAi, &json!({"input": "hi"})).is_empty());
    }

    #[test]
    fn stripping_leaves_the_agents_tools_and_what_is_allowed() {
        // What Codex 0.147 sends (the tool list of its captured request, shortened).
        let mut codex = json!({"tools": [
            {"type": "function", "name": "exec_command"},
            {"type": "custom", "name": "apply_patch"},
            {"type": "tool_search", "execution": "client"},
            {"type": "web_search", "external_web_access": true},
        ], "tool_choice": "auto"});
        let gone = strip_provider_tools(Provider::OpenAi, &mut codex, |_| false);
        assert_eq!(gone, ["web_search"]);
        let kinds: Vec<&str> = codex["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["function", "custom", "tool_search"]);

        let mut forced = json!({"tools": [{"type": "web_search_20250305", "name": "web_search"},
                                          {"type": "web_fetch_20250910", "name": "web_fetch"}],
                                "tool_choice": {"type": "web_search_20250305"},
                                "mcp_servers": [{"url": "https://mcp.example"}]});
        let gone = strip_provider_tools(Provider::Anthropic, &mut forced, |t| t == "web_fetch");
        assert_eq!(gone, ["web_search", "mcp"]);
        assert_eq!(forced["tools"].as_array().unwrap().len(), 1);
        assert_eq!(forced["tool_choice"], "auto");
        assert!(forced.get("mcp_servers").is_none());

        let mut gemini = json!({"tools": [{"googleSearch": {}}, {"functionDeclarations": []}]});
        strip_provider_tools(Provider::Gemini, &mut gemini, |_| false);
        assert_eq!(gemini["tools"], json!([{"functionDeclarations": []}]));

        let mut plain = json!({"tools": [{"type": "function", "name": "f"}]});
        let before = plain.clone();
        assert!(strip_provider_tools(Provider::OpenAi, &mut plain, |_| false).is_empty());
        assert_eq!(plain, before);
    }

    #[test]
    fn provider_side_tools_are_named_across_providers() {
        let anthropic = json!({
            "tools": [
                {"type": "web_search_20250305", "name": "web_search"},
                {"type": "web_fetch_20250910", "name": "web_fetch"},
                {"type": "code_execution_20250825", "name": "code_execution"},
                {"type": "web_search_20260101", "name": "web_search"},
            ],
            "mcp_servers": [{"type": "url", "url": "https://mcp.example", "name": "x"}],
        });
        assert_eq!(
            provider_tools(Provider::Anthropic, &anthropic),
            ["web_search", "web_fetch", "code_execution", "mcp"]
        );
        let openai = json!({"tools": [
            {"type": "mcp", "server_url": "https://mcp.example"},
            {"type": "web_search_preview"},
            {"type": "file_search"},
            {"type": "code_interpreter"},
            {"type": "image_generation"},
            {"type": "shiny_new_hosted_tool"},
        ]});
        assert_eq!(
            provider_tools(Provider::OpenAi, &openai),
            [
                "mcp",
                "web_search",
                "file_search",
                "code_execution",
                "image_generation",
                "shiny_new_hosted_tool"
            ]
        );
        let chat = json!({"web_search_options": {}, "messages": []});
        assert_eq!(provider_tools(Provider::OpenAi, &chat), ["web_search"]);
        let gemini = json!({"tools": [
            {"googleSearch": {}},
            {"url_context": {}},
            {"codeExecution": {}},
            {"functionDeclarations": []},
        ]});
        assert_eq!(
            provider_tools(Provider::Gemini, &gemini),
            ["web_search", "web_fetch", "code_execution"]
        );
    }
}
