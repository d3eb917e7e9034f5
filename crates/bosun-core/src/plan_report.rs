//! The planner's breakdown of an issue: the fenced `json` block the plan prompt asks for at the
//! end of its final message, parsed and validated. Pure. A plan that breaks a rule is refused
//! with a message written for the planner, so it can correct itself in another round.

use serde::Deserialize;

use crate::repo_config::Complexity;
use crate::review_report::json_blocks;

/// A sub-issue title longer than this is cut (GitHub allows 256 characters).
const MAX_TITLE_CHARS: usize = 200;
/// A sub-issue body longer than this is cut.
const MAX_BODY_CHARS: usize = 20_000;
/// Part ids are the planner's own short names; longer ones are refused.
const MAX_ID_CHARS: usize = 64;

/// What a plan may contain on this server and repository.
#[derive(Debug, Clone)]
pub struct PlanRules {
    pub max_parts: usize,
    /// The agents this server has; a part may suggest only one of them.
    pub agents: Vec<String>,
}

/// A validated plan: its parts in an order where each comes after what it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The planner's text before the block (redacted by the caller before it is posted).
    pub summary: String,
    pub parts: Vec<PlanPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanPart {
    /// The planner's id for the part, unique in the plan.
    pub key: String,
    pub title: String,
    pub body: String,
    /// Keys of the parts that must be done first.
    pub depends_on: Vec<String>,
    pub agent: Option<String>,
    pub complexity: Option<Complexity>,
}

#[derive(Deserialize)]
struct WirePlan {
    parts: Vec<WirePart>,
}

#[derive(Deserialize)]
struct WirePart {
    id: String,
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    depends_on: Vec<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    complexity: Option<String>,
}

/// The plan in the planner's final message, or why it cannot be used (for the planner).
pub fn parse(message: &str, rules: &PlanRules) -> Result<Plan, String> {
    let blocks = json_blocks(message);
    let Some(&(start, end, body)) = blocks.last() else {
        return Err("Your final message has no fenced `json` block with the plan.".into());
    };
    let wire: WirePlan = serde_json::from_str(body)
        .map_err(|e| format!("The `json` block is not a plan as described: {e}."))?;
    let mut summary = message[..start].trim_end().to_string();
    let rest = message[end..].trim();
    if !rest.is_empty() {
        summary.push_str("\n\n");
        summary.push_str(rest);
    }
    let parts = validate(wire.parts, rules)?;
    Ok(Plan { summary, parts })
}

fn validate(wire: Vec<WirePart>, rules: &PlanRules) -> Result<Vec<PlanPart>, String> {
    if wire.is_empty() {
        return Err("The plan has no parts.".into());
    }
    if wire.len() > rules.max_parts {
        return Err(format!(
            "The plan has {} parts; at most {} are allowed. Merge smaller parts.",
            wire.len(),
            rules.max_parts
        ));
    }
    let mut parts = Vec::with_capacity(wire.len());
    for (index, w) in wire.into_iter().enumerate() {
        let key = w.id.trim().to_string();
        let which = format!("Part {} (`{}`)", index + 1, key.replace('`', "'"));
        if key.is_empty() || key.chars().count() > MAX_ID_CHARS {
            return Err(format!(
                "Part {} needs an `id` of 1 to {MAX_ID_CHARS} characters.",
                index + 1
            ));
        }
        let title = w.title.split_whitespace().collect::<Vec<_>>().join(" ");
        if title.is_empty() {
            return Err(format!("{which} has no title."));
        }
        let agent = match w
            .agent
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
        {
            Some(a) if !rules.agents.contains(&a) => {
                return Err(format!(
                    "{which} suggests the agent `{}`, which this server does not have. \
                     Choose one of: {}, or leave `agent` out.",
                    a.replace('`', "'"),
                    rules.agents.join(", ")
                ))
            }
            other => other,
        };
        let complexity = match w.complexity.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("simple") => Some(Complexity::Simple),
            Some("medium" | "standard") => Some(Complexity::Medium),
            Some("complex") => Some(Complexity::Complex),
            Some(other) => {
                return Err(format!(
                    "{which} has the complexity `{}`; use `simple`, `medium` or `complex`.",
                    other.replace('`', "'")
                ))
            }
        };
        let mut depends_on: Vec<String> = Vec::new();
        for d in w.depends_on.iter().map(|d| d.trim().to_string()) {
            if !depends_on.contains(&d) {
                depends_on.push(d);
            }
        }
        parts.push(PlanPart {
            key,
            title: title.chars().take(MAX_TITLE_CHARS).collect(),
            body: w.body.trim().chars().take(MAX_BODY_CHARS).collect(),
            depends_on,
            agent,
            complexity,
        });
    }
    for (i, part) in parts.iter().enumerate() {
        if parts[..i].iter().any(|p| p.key == part.key) {
            return Err(format!("Two parts have the id `{}`.", part.key));
        }
    }
    for part in &parts {
        for d in &part.depends_on {
            if *d == part.key {
                return Err(format!("Part `{}` depends on itself.", part.key));
            }
            if !parts.iter().any(|p| p.key == *d) {
                return Err(format!(
                    "Part `{}` depends on `{}`, which is not a part of the plan.",
                    part.key,
                    d.replace('`', "'")
                ));
            }
        }
    }
    dependency_order(parts)
}

/// Kahn's algorithm, keeping the planner's order among parts that are ready together.
fn dependency_order(mut left: Vec<PlanPart>) -> Result<Vec<PlanPart>, String> {
    let mut ordered: Vec<PlanPart> = Vec::with_capacity(left.len());
    while !left.is_empty() {
        let ready = left.iter().position(|p| {
            p.depends_on
                .iter()
                .all(|d| ordered.iter().any(|o| o.key == *d))
        });
        match ready {
            Some(i) => ordered.push(left.remove(i)),
            None => {
                let keys: Vec<String> = left.iter().map(|p| format!("`{}`", p.key)).collect();
                return Err(format!(
                    "The dependencies between {} form a cycle; a part cannot wait for itself.",
                    keys.join(", ")
                ));
            }
        }
    }
    Ok(ordered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> PlanRules {
        PlanRules {
            max_parts: 4,
            agents: vec!["claude".into(), "codex".into()],
        }
    }

    fn message(parts: &str) -> String {
        format!("Three steps.\n\n```json\n{{\"parts\": [{parts}]}}\n```\n")
    }

    #[test]
    fn a_plan_comes_back_in_dependency_order_with_its_suggestions() {
        let text = message(
            r#"{"id": "ui", "title": "Show  it", "body": "Render.", "depends_on": ["api", "api"]},
               {"id": "api", "title": "Add the API", "agent": "codex", "complexity": "simple"},
               {"id": "docs", "title": "Document"}"#,
        );
        let plan = parse(&text, &rules()).unwrap();
        assert_eq!(plan.summary, "Three steps.");
        let keys: Vec<&str> = plan.parts.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, ["api", "ui", "docs"]);
        assert_eq!(plan.parts[0].agent.as_deref(), Some("codex"));
        assert_eq!(plan.parts[0].complexity, Some(Complexity::Simple));
        assert_eq!(plan.parts[1].title, "Show it");
        assert_eq!(plan.parts[1].depends_on, ["api"]);
    }

    #[test]
    fn broken_plans_are_refused_with_a_reason_for_the_planner() {
        let cases = [
            ("No plan here.".to_string(), "no fenced"),
            (message(""), "no parts"),
            (message(r#"{"title": "x"}"#), "not a plan"),
            (message(r#"{"id": "a", "title": "  "}"#), "no title"),
            (
                message(r#"{"id": "a", "title": "x"}, {"id": "a", "title": "y"}"#),
                "Two parts",
            ),
            (
                message(r#"{"id": "a", "title": "x", "depends_on": ["b"]}"#),
                "not a part",
            ),
            (
                message(r#"{"id": "a", "title": "x", "depends_on": ["a"]}"#),
                "itself",
            ),
            (
                message(
                    r#"{"id": "a", "title": "x", "depends_on": ["b"]},
                       {"id": "b", "title": "y", "depends_on": ["a"]}"#,
                ),
                "cycle",
            ),
            (
                message(r#"{"id": "a", "title": "x", "agent": "gpt-9"}"#),
                "does not have",
            ),
            (
                message(r#"{"id": "a", "title": "x", "complexity": "huge"}"#),
                "complexity",
            ),
            (
                message(&[r#"{"id": "x", "title": "x"}"#; 5].join(",")),
                "at most 4",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(&text, &rules()).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }

    #[test]
    fn long_titles_and_bodies_are_cut() {
        let text = message(&format!(
            r#"{{"id": "a", "title": "{}", "body": "{}"}}"#,
            "t".repeat(300),
            "b".repeat(30_000)
        ));
        let plan = parse(&text, &rules()).unwrap();
        assert_eq!(plan.parts[0].title.chars().count(), MAX_TITLE_CHARS);
        assert_eq!(plan.parts[0].body.chars().count(), MAX_BODY_CHARS);
    }
}
