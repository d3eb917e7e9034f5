//! The labels bosun makes in a repository it is installed on, so people find them in GitHub's
//! label menu instead of having to create them by hand.

/// A label as bosun makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupLabel {
    pub name: String,
    pub color: &'static str,
    /// GitHub allows 100 characters.
    pub description: &'static str,
}

/// The trigger label and the plan label (`<prefix>:plan`), as the repository names them.
pub fn setup_labels(trigger_label: &str, label_prefix: &str) -> Vec<SetupLabel> {
    vec![
        SetupLabel {
            name: trigger_label.to_string(),
            color: "1d76db",
            description: "Ask bosun to work on this issue",
        },
        SetupLabel {
            name: format!("{label_prefix}:plan"),
            color: "5319e7",
            description: "Ask bosun to plan this issue into sub-issues first",
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_s_names_with_descriptions_github_takes() {
        let labels = setup_labels("ai please", "bot");
        let names: Vec<&str> = labels.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["ai please", "bot:plan"]);
        for label in &labels {
            assert!(label.description.chars().count() <= 100);
            assert_eq!(label.color.len(), 6);
            assert!(label.color.chars().all(|c| c.is_ascii_hexdigit()));
        }
    }
}
