//! Scripted conversations, for driving a real agent CLI: the fake answers the first requests of
//! a conversation with tool calls (Claude Code's `Write`, `Edit`, `Bash`; codex's
//! `exec_command`, `apply_patch`), which the CLI really runs, then with text.
//!
//! The fake keeps no conversation state: how far a conversation got is read from the request
//! itself, as the number of assistant turns already in it (Anthropic: `assistant` messages;
//! OpenAI Responses: `function_call`, `custom_tool_call` and assistant `message` items). So a
//! CLI that retries a request gets the same answer, and several conversations (an implementer,
//! a reviewer) can run at once; each script applies to the requests whose body contains its
//! `when` text (the first one that matches wins).

use serde_json::Value;

/// One assistant turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// A plain answer: the agent's turn ends.
    Text(String),
    /// A call of the tool `name`. An object `input` is Anthropic's `tool_use.input` and
    /// OpenAI's `function_call.arguments`; a string is an OpenAI `custom_tool_call`'s `input`
    /// (codex's `apply_patch` takes the patch so).
    Tool { name: String, input: Value },
}

impl Turn {
    pub fn text(text: &str) -> Turn {
        Turn::Text(text.to_string())
    }

    pub fn tool(name: &str, input: Value) -> Turn {
        Turn::Tool {
            name: name.to_string(),
            input,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Script {
    pub(crate) when: String,
    pub(crate) turns: Vec<Turn>,
}

/// The API a request came to, as far as counting turns goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Anthropic,
    Responses,
}

/// The turn to answer `request` with, if a script covers it and has not run out.
pub(crate) fn turn_for(
    scripts: &[Script],
    dialect: Dialect,
    body: &[u8],
    request: &Value,
) -> Option<Turn> {
    let text = String::from_utf8_lossy(body);
    let script = scripts.iter().find(|s| text.contains(&s.when))?;
    script.turns.get(turns_so_far(dialect, request)).cloned()
}

/// How many assistant turns the conversation in `request` holds.
pub(crate) fn turns_so_far(dialect: Dialect, request: &Value) -> usize {
    let items = match dialect {
        Dialect::Anthropic => request["messages"].as_array(),
        Dialect::Responses => request["input"].as_array(),
    };
    items
        .into_iter()
        .flatten()
        .filter(|item| match dialect {
            Dialect::Anthropic => item["role"] == "assistant",
            Dialect::Responses => {
                matches!(
                    item["type"].as_str(),
                    Some("function_call") | Some("custom_tool_call")
                ) || (item["type"] == "message" && item["role"] == "assistant")
            }
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_turn_is_read_from_the_conversation_so_far() {
        let scripts = vec![Script {
            when: "SCENARIO: write".into(),
            turns: vec![
                Turn::tool("Write", json!({"file_path": "a", "content": "b"})),
                Turn::text("done"),
            ],
        }];
        let first = json!({"messages": [{"role": "user", "content": "SCENARIO: write"}]});
        let body = first.to_string();
        assert!(matches!(
            turn_for(&scripts, Dialect::Anthropic, body.as_bytes(), &first),
            Some(Turn::Tool { .. })
        ));
        let second = json!({"messages": [
            {"role": "user", "content": "SCENARIO: write"},
            {"role": "assistant", "content": [{"type": "tool_use"}]},
            {"role": "user", "content": [{"type": "tool_result"}]}
        ]});
        let body = second.to_string();
        assert_eq!(
            turn_for(&scripts, Dialect::Anthropic, body.as_bytes(), &second),
            Some(Turn::text("done"))
        );
        let other = json!({"messages": [{"role": "user", "content": "something else"}]});
        let body = other.to_string();
        assert_eq!(
            turn_for(&scripts, Dialect::Anthropic, body.as_bytes(), &other),
            None
        );
    }

    #[test]
    fn codex_turns_are_its_calls_and_answers() {
        let request = json!({"input": [
            {"type": "message", "role": "developer"},
            {"type": "message", "role": "user"},
            {"type": "function_call", "name": "exec_command"},
            {"type": "function_call_output"},
            {"type": "custom_tool_call", "name": "apply_patch"},
            {"type": "custom_tool_call_output"}
        ]});
        assert_eq!(turns_so_far(Dialect::Responses, &request), 2);
    }
}
