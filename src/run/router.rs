//! Choosing who works on a task and how hard it is, before the run: labels a person put on the
//! issue (`<prefix>:agent:<name>`, `<prefix>:complexity:<level>`) win; what they leave open a
//! small model decides (the router run's answer, read here); when the router cannot answer,
//! the agents take turns. Pure: the run itself is in `run::pipeline::route`.

use serde::Deserialize;

use bosun_core::repo_config::Complexity;
use bosun_core::review_report::json_blocks;

/// A rationale longer than this is cut: it is shown in the tracking comment.
const MAX_RATIONALE_CHARS: usize = 300;

/// What a route says; `None` leaves the choice to what comes next (the router, the
/// repository's config, the server's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    pub agent: Option<String>,
    pub complexity: Option<Complexity>,
}

impl Choice {
    pub fn is_complete(&self) -> bool {
        self.agent.is_some() && self.complexity.is_some()
    }

    /// `self`, with what it leaves open taken from `other`.
    pub fn or(self, other: Choice) -> Choice {
        Choice {
            agent: self.agent.or(other.agent),
            complexity: self.complexity.or(other.complexity),
        }
    }
}

/// A complexity as written in labels and by routers (`standard`, the earlier name of `medium`,
/// is still read).
pub fn complexity_named(raw: &str) -> Option<Complexity> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "simple" => Some(Complexity::Simple),
        "standard" | "medium" => Some(Complexity::Medium),
        "complex" => Some(Complexity::Complex),
        _ => None,
    }
}

/// The choice the issue's labels make. An agent this server does not have, or an unknown
/// level, is ignored (the label may be from another setup); the first valid label wins.
pub fn from_labels(labels: &[String], prefix: &str, agents: &[String]) -> Choice {
    let agent_prefix = format!("{prefix}:agent:");
    let complexity_prefix = format!("{prefix}:complexity:");
    let agent = labels
        .iter()
        .filter_map(|l| l.strip_prefix(&agent_prefix))
        .find(|name| agents.iter().any(|a| a == name))
        .map(str::to_string);
    let complexity = labels
        .iter()
        .filter_map(|l| l.strip_prefix(&complexity_prefix))
        .find_map(complexity_named);
    Choice { agent, complexity }
}

/// The router's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub choice: Choice,
    pub rationale: String,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    complexity: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    rationale: Option<String>,
}

/// Reads the router's answer: the last fenced `json` block of its final message, or the
/// message itself when it is one JSON object (small models often skip the fence). An agent
/// that is not among `agents` is dropped (the rest of the answer still counts); an answer
/// without a known complexity is refused.
pub fn parse(message: &str, agents: &[String]) -> Result<Routed, String> {
    let mut candidates: Vec<&str> = json_blocks(message)
        .into_iter()
        .rev()
        .map(|(_, _, body)| body)
        .collect();
    candidates.push(message.trim());
    let wire = candidates
        .into_iter()
        .find_map(|text| serde_json::from_str::<Wire>(text).ok())
        .ok_or_else(|| "the router's answer holds no JSON object".to_string())?;
    let complexity = wire
        .complexity
        .as_deref()
        .and_then(complexity_named)
        .ok_or_else(|| {
            format!(
                "the router named no known complexity ({:?})",
                wire.complexity.unwrap_or_default()
            )
        })?;
    let agent = wire
        .agent
        .map(|a| a.trim().to_string())
        .filter(|a| agents.contains(a));
    let rationale: String = wire
        .rationale
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_RATIONALE_CHARS)
        .collect();
    Ok(Routed {
        choice: Choice {
            agent,
            complexity: Some(complexity),
        },
        rationale,
    })
}

/// The agent whose turn it is: the `turn`-th of `agents`, round and round.
pub fn in_turn(agents: &[String], turn: usize) -> Option<String> {
    (!agents.is_empty()).then(|| agents[turn % agents.len()].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agents() -> Vec<String> {
        vec!["claude".into(), "codex".into()]
    }

    #[test]
    fn labels_choose_known_agents_and_levels() {
        let labels: Vec<String> = [
            "bug",
            "bosun:agent:gemini",
            "bosun:agent:codex",
            "bosun:complexity:medium",
            "other:agent:claude",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            from_labels(&labels, "bosun", &agents()),
            Choice {
                agent: Some("codex".into()),
                complexity: Some(Complexity::Medium)
            }
        );
        assert_eq!(from_labels(&[], "bosun", &agents()), Choice::default());
        let partial = from_labels(&["bosun:complexity:complex".into()], "bosun", &agents());
        assert!(!partial.is_complete());
        let filled = partial.or(Choice {
            agent: Some("claude".into()),
            complexity: Some(Complexity::Simple),
        });
        assert_eq!(filled.agent.as_deref(), Some("claude"));
        assert_eq!(
            filled.complexity,
            Some(Complexity::Complex),
            "the label wins"
        );
    }

    #[test]
    fn the_router_answer_is_read_fenced_or_bare() {
        let fenced = "Small.\n\n```json\n{\"complexity\": \"simple\", \"agent\": \"codex\", \
                      \"rationale\": \"a one-line\\n fix\"}\n```";
        let routed = parse(fenced, &agents()).unwrap();
        assert_eq!(routed.choice.agent.as_deref(), Some("codex"));
        assert_eq!(routed.choice.complexity, Some(Complexity::Simple));
        assert_eq!(routed.rationale, "a one-line fix");
        let bare = parse(r#"{"complexity": "Complex", "agent": "gemini"}"#, &agents()).unwrap();
        assert_eq!(bare.choice.agent, None, "not an agent of this server");
        assert_eq!(bare.choice.complexity, Some(Complexity::Complex));
    }

    #[test]
    fn an_answer_without_a_level_is_refused() {
        assert!(parse("I think it is easy.", &agents()).is_err());
        let err = parse(r#"{"complexity": "huge"}"#, &agents()).unwrap_err();
        assert!(err.contains("huge"), "{err}");
    }

    #[test]
    fn agents_take_turns() {
        assert_eq!(in_turn(&agents(), 0).as_deref(), Some("claude"));
        assert_eq!(in_turn(&agents(), 3).as_deref(), Some("codex"));
        assert_eq!(in_turn(&[], 3), None);
    }
}
