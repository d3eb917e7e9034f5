//! Which model an agent runs with: a map from agent name and use (a task's complexity, or
//! reviewing a change) to a model name, in the server's configuration and in a repository's
//! `.github/bosun.yml`. The repository's entries win over the server's; a use with no entry
//! in either leaves the model to the agent CLI's own default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Complexity;

/// What a model is chosen for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelUse {
    Simple,
    #[serde(alias = "standard")]
    Medium,
    Complex,
    /// A second agent reviewing the change (peer review).
    Review,
}

impl From<Complexity> for ModelUse {
    fn from(c: Complexity) -> Self {
        match c {
            Complexity::Simple => ModelUse::Simple,
            Complexity::Medium => ModelUse::Medium,
            Complexity::Complex => ModelUse::Complex,
        }
    }
}

/// Agent name → use → model, e.g. `claude: {simple: claude-haiku-4-5, review: claude-sonnet-4-5}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct ModelMap(pub BTreeMap<String, BTreeMap<ModelUse, String>>);

impl ModelMap {
    fn get(&self, agent: &str, model_use: ModelUse) -> Option<&String> {
        self.0.get(agent).and_then(|uses| uses.get(&model_use))
    }

    pub fn agents(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The model `agent` runs with for `model_use`: the repository's map first, then the
/// server's. A review with no `review` entry takes the task's complexity entry, as the
/// agent would for its own work.
pub fn pick(
    repo: &ModelMap,
    server: &ModelMap,
    agent: &str,
    model_use: ModelUse,
    complexity: Complexity,
) -> Option<String> {
    let find = |u: ModelUse| repo.get(agent, u).or_else(|| server.get(agent, u));
    find(model_use)
        .or_else(|| {
            (model_use == ModelUse::Review)
                .then(|| find(complexity.into()))
                .flatten()
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(yaml: &str) -> ModelMap {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    #[test]
    fn the_repository_wins_then_the_server_then_the_cli_default() {
        let server = map(
            "claude: {simple: haiku, medium: sonnet, complex: opus, review: sonnet}\n\
                          codex: {simple: mini}\n",
        );
        let repo = map("claude: {complex: opus-max}\n");
        let p = |agent, u, c| pick(&repo, &server, agent, u, c);
        assert_eq!(
            p("claude", ModelUse::Complex, Complexity::Complex).as_deref(),
            Some("opus-max")
        );
        assert_eq!(
            p("claude", ModelUse::Simple, Complexity::Simple).as_deref(),
            Some("haiku")
        );
        assert_eq!(
            p("claude", ModelUse::Review, Complexity::Complex).as_deref(),
            Some("sonnet")
        );
        // No review entry: the complexity's.
        assert_eq!(
            p("codex", ModelUse::Review, Complexity::Simple).as_deref(),
            Some("mini")
        );
        assert_eq!(p("codex", ModelUse::Complex, Complexity::Complex), None);
        assert_eq!(p("gemini", ModelUse::Simple, Complexity::Simple), None);
    }

    #[test]
    fn the_earlier_name_of_medium_is_read_and_unknown_uses_are_refused() {
        let m = map("claude: {standard: sonnet}\n");
        assert_eq!(
            pick(
                &m,
                &ModelMap::default(),
                "claude",
                ModelUse::Medium,
                Complexity::Medium
            )
            .as_deref(),
            Some("sonnet")
        );
        assert!(serde_yaml_ng::from_str::<ModelMap>("claude: {huge: x}\n").is_err());
    }
}
