//! The sample repository and issue: a tiny shell project whose greeting the issue asks to
//! change, with a check the repository runs as its gate. The repository is a real bare git
//! repository (libgit2) that the simulator serves over git's smart HTTP, as GitHub would.

use std::path::{Path, PathBuf};

use git2::{Oid, Repository, RepositoryInitOptions, Signature};

pub const REPO: &str = "bosun-demo/hello";
pub const DEFAULT_BRANCH: &str = "main";
/// The person who labels the issue; has write permission on the repository.
pub const WRITER: &str = "octocat";
pub const ISSUE_TITLE: &str = "Greet the crew, not the world";
pub const ISSUE_BODY: &str = "`sh hello.sh` prints `Hello, world!`. It should print \
`Hello, crew!` instead. Keep `check.sh` passing.";

/// The files of the first commit: (path, content, executable).
pub const FILES: &[(&str, &str, bool)] = &[
    (
        "README.md",
        "# hello\n\nA tiny program for bosun's demo: `sh hello.sh` prints a greeting, and \
         `sh check.sh` checks that it still does.\n",
        false,
    ),
    (
        "hello.sh",
        "#!/bin/sh\n# Prints the greeting.\necho \"Hello, world!\"\n",
        true,
    ),
    (
        "check.sh",
        "#!/bin/sh\n# The repository's test: hello.sh runs and prints a greeting.\n\
         out=$(sh hello.sh) || exit 1\n\
         case \"$out\" in\n\
         \tHello,*) echo \"ok: $out\" ;;\n\
         \t*) echo \"hello.sh printed no greeting: $out\"; exit 1 ;;\n\
         esac\n",
        true,
    ),
    (
        ".github/bosun.yml",
        "# bosun's settings for this repository (see examples/bosun.yml in bosun).\n\
         gates:\n  - name: check\n    run: sh check.sh\n",
        false,
    ),
];

/// Creates `<dir>/hello.git`, a bare repository with [`FILES`] committed on `main`.
pub fn create(dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("hello.git");
    let mut options = RepositoryInitOptions::new();
    options.bare(true).initial_head(DEFAULT_BRANCH);
    let repo = Repository::init_opts(&path, &options)?;
    let mut root = repo.treebuilder(None)?;
    let mut github = repo.treebuilder(None)?;
    for (file, content, executable) in FILES {
        let blob = repo.blob(content.as_bytes())?;
        let mode = if *executable { 0o100_755 } else { 0o100_644 };
        match file.strip_prefix(".github/") {
            Some(name) => github.insert(name, blob, mode)?,
            None => root.insert(file, blob, mode)?,
        };
    }
    root.insert(".github", github.write()?, 0o040_000)?;
    let tree = repo.find_tree(root.write()?)?;
    let who = Signature::now("bosun demo", "demo@bosun.invalid")?;
    repo.commit(
        Some(&format!("refs/heads/{DEFAULT_BRANCH}")),
        &who,
        &who,
        "A greeting and its check",
        &tree,
        &[],
    )?;
    Ok(path)
}

/// The paths a commit changed against the default branch (what the pull request shows).
pub fn changed_files(bare: &Path, head_sha: &str) -> anyhow::Result<Vec<String>> {
    let repo = Repository::open_bare(bare)?;
    let head = repo.find_commit(Oid::from_str(head_sha)?)?.tree()?;
    let base = repo
        .find_branch(DEFAULT_BRANCH, git2::BranchType::Local)?
        .get()
        .peel_to_tree()?;
    let diff = repo.diff_tree_to_tree(Some(&base), Some(&head), None)?;
    Ok(diff
        .deltas()
        .filter_map(|d| d.new_file().path().map(|p| p.display().to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_holds_the_files_on_main() {
        let dir = std::env::temp_dir().join(format!("bosun-demo-sample-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let bare = create(&dir).unwrap();
        let repo = Repository::open_bare(&bare).unwrap();
        let tree = repo.head().unwrap().peel_to_tree().unwrap();
        assert_eq!(repo.head().unwrap().shorthand(), Some("main"));
        let hello = tree.get_path(Path::new("hello.sh")).unwrap();
        assert_eq!(hello.filemode(), 0o100_755);
        assert!(tree.get_path(Path::new(".github/bosun.yml")).is_ok());
        let head = repo.head().unwrap().target().unwrap().to_string();
        assert!(changed_files(&bare, &head).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
