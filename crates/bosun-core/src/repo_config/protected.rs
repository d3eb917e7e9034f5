//! `protected_paths`: files a change may touch only with a writer's `@bosun approve`, because
//! CI runs them with the repository's secrets on the pushed branch (workflows and actions,
//! other CI systems' configuration) or because they decide who reviews (`CODEOWNERS`). A change
//! to one is held back from the push; the tracking comment names it; `@bosun approve` pushes it.
//!
//! A pattern is one of:
//! - `dir/`: everything under that directory, from the repository's root (`.github/`);
//! - `a/b.yml`: that path exactly, from the root;
//! - `name`: a file or directory of that name anywhere (`CODEOWNERS`, `Jenkinsfile`);
//! - any of these with `*` standing for any characters within one path segment
//!   (`.github/*.yml`, `*.gradle`).

/// What is protected when a repository says nothing: GitHub's own folder (workflows, actions,
/// `CODEOWNERS`, `dependabot.yml`), `CODEOWNERS` wherever GitHub reads it, and the
/// configuration files of common CI systems.
pub const DEFAULT_PROTECTED: &[&str] = &[
    ".github/",
    "CODEOWNERS",
    ".gitlab-ci.yml",
    ".circleci/",
    "Jenkinsfile",
    ".travis.yml",
    "azure-pipelines.yml",
    ".buildkite/",
    "bitbucket-pipelines.yml",
    ".drone.yml",
    "appveyor.yml",
    ".woodpecker/",
    ".woodpecker.yml",
];

pub fn default_protected() -> Vec<String> {
    DEFAULT_PROTECTED.iter().map(|p| p.to_string()).collect()
}

/// Whether `path` (slash-separated, from the repository's root) falls under one of `patterns`.
pub fn is_protected(patterns: &[String], path: &str) -> bool {
    patterns.iter().any(|p| matches(p.trim(), path))
}

fn matches(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
    if pattern.is_empty() {
        return false;
    }
    let segments: Vec<&str> = path.split('/').collect();
    if let Some(dir) = pattern.strip_suffix('/') {
        // A directory from the root: the path has its segments as a prefix, and more.
        let wanted: Vec<&str> = dir.split('/').collect();
        return segments.len() > wanted.len()
            && wanted.iter().zip(&segments).all(|(w, s)| glob(w, s));
    }
    if pattern.contains('/') {
        let wanted: Vec<&str> = pattern.split('/').collect();
        return wanted.len() == segments.len()
            && wanted.iter().zip(&segments).all(|(w, s)| glob(w, s));
    }
    // A bare name: any segment, so a directory of that name protects what is under it.
    segments.iter().any(|s| glob(pattern, s))
}

/// `*` matches any run of characters (within one segment: segments are matched one by one).
fn glob(pattern: &str, text: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut text) = text.strip_prefix(head) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('*').collect();
    let (last, middle) = parts.split_last().expect("split yields one part at least");
    for part in middle {
        match text.find(part) {
            Some(at) => text = &text[at + part.len()..],
            None => return false,
        }
    }
    text.len() >= last.len() && text.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protects(path: &str) -> bool {
        is_protected(&default_protected(), path)
    }

    #[test]
    fn the_defaults_hold_ci_configuration_and_codeowners() {
        for path in [
            ".github/workflows/ci.yml",
            ".github/actions/setup/action.yml",
            ".github/CODEOWNERS",
            ".github/dependabot.yml",
            "CODEOWNERS",
            "docs/CODEOWNERS",
            ".gitlab-ci.yml",
            ".circleci/config.yml",
            "Jenkinsfile",
            "ci/Jenkinsfile",
            ".buildkite/pipeline.yml",
        ] {
            assert!(protects(path), "{path}");
        }
        for path in [
            "src/main.rs",
            "README.md",
            "github/workflows.md",
            "docs/.github-notes.md",
            ".gitlab-ci.yml.md",
            "Makefile",
        ] {
            assert!(!protects(path), "{path}");
        }
    }

    #[test]
    fn patterns_are_directories_exact_paths_names_and_globs() {
        let p = |s: &str| vec![s.to_string()];
        assert!(is_protected(&p("build/"), "build/x/y.sh"));
        assert!(
            !is_protected(&p("build/"), "build"),
            "the directory itself is not a file"
        );
        assert!(
            !is_protected(&p("build/"), "src/build/x.sh"),
            "from the root"
        );
        assert!(is_protected(&p("scripts/release.sh"), "scripts/release.sh"));
        assert!(!is_protected(
            &p("scripts/release.sh"),
            "x/scripts/release.sh"
        ));
        assert!(is_protected(&p("Makefile"), "sub/Makefile"));
        assert!(is_protected(&p("*.gradle"), "app/build.gradle"));
        assert!(is_protected(&p(".github/*.yml"), ".github/dependabot.yml"));
        assert!(!is_protected(
            &p(".github/*.yml"),
            ".github/workflows/ci.yml"
        ));
        assert!(
            is_protected(&p("/tools/"), "tools/a"),
            "a leading slash is the root"
        );
        assert!(!is_protected(&p(""), "anything"));
        assert!(glob("a*b*c", "aXXbYYc") && !glob("a*b*c", "aXXc") && glob("*", ""));
    }
}
