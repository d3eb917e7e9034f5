//! Webhook payloads parsed at the edge into bosun's own `Event`. Only the fields bosun reads are
//! declared; everything else in GitHub's JSON is ignored, so new fields never break parsing.

use super::ids::{
    CommentId, InstallationId, IssueNumber, RepoId, RepoRef, ReviewCommentId, ReviewId, UserId,
};
use serde::Deserialize;

/// Who did something.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    pub login: String,
    pub id: UserId,
    pub is_bot: bool,
}

/// The issue (or pull request) an event is about, and where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueContext {
    pub installation: Option<InstallationId>,
    pub repo: RepoRef,
    pub repo_id: RepoId,
    pub issue: IssueNumber,
    pub title: String,
    pub body: String,
    /// The issue's author (not the sender of the event).
    pub author: String,
    pub is_pull_request: bool,
    pub sender: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentContext {
    pub id: CommentId,
    pub body: String,
    pub author: Actor,
}

/// The pull request a review event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullContext {
    pub installation: Option<InstallationId>,
    pub repo: RepoRef,
    pub repo_id: RepoId,
    pub number: u64,
    pub head_ref: String,
    /// `owner/name` of the head branch's repository (`None` when the fork was deleted).
    pub head_repo: Option<String>,
    pub sender: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Ping,
    IssueLabeled {
        issue: IssueContext,
        label: String,
    },
    IssueOpened {
        issue: IssueContext,
    },
    /// Closed by someone (a person, or bosun's own merged pull request).
    IssueClosed {
        issue: IssueContext,
    },
    /// Opened again after it was closed.
    IssueReopened {
        issue: IssueContext,
    },
    /// A pull request was closed, merged or not.
    PullClosed {
        installation: Option<InstallationId>,
        repo: RepoRef,
        repo_id: RepoId,
        number: u64,
        merged: bool,
        head_ref: String,
        /// `owner/name` of the head branch's repository (`None` when the fork was deleted).
        head_repo: Option<String>,
        sender: Actor,
    },
    /// A review was submitted on a pull request. `state` is GitHub's, lower-case
    /// (`commented`, `changes_requested`, `approved`).
    PullReviewed {
        pull: PullContext,
        review: ReviewId,
        state: String,
        body: String,
    },
    /// An inline review comment (a thread's first comment or a reply) was written.
    PullReviewComment {
        pull: PullContext,
        comment: ReviewCommentId,
        body: String,
    },
    /// `old_body` is present only when the body itself was edited.
    IssueEdited {
        issue: IssueContext,
        old_body: Option<String>,
    },
    CommentCreated {
        issue: IssueContext,
        comment: CommentContext,
    },
    CommentEdited {
        issue: IssueContext,
        comment: CommentContext,
        old_body: Option<String>,
    },
    /// `installation` (created, deleted, suspend, unsuspend, …) or `installation_repositories`
    /// (added, removed), with the repositories it names.
    Installation {
        action: String,
        installation: InstallationId,
        /// Who did it.
        sender: String,
        /// `repositories` of `installation.created`, `repositories_added` of `.added`.
        added: Vec<crate::job::InstalledRepo>,
        /// `repositories_removed` of `installation_repositories.removed`.
        removed: Vec<crate::job::InstalledRepo>,
    },
    /// A push: bosun cares only whether it may have changed `.github/bosun.yml` on the
    /// default branch (the repository's settings and jobs).
    Pushed {
        installation: Option<InstallationId>,
        repo: RepoRef,
        repo_id: RepoId,
        to_default_branch: bool,
        /// A commit lists the file, or the push cannot tell (forced, or no commits listed).
        config_may_have_changed: bool,
    },
    /// Well-formed, but nothing bosun acts on.
    Other {
        event: String,
        action: Option<String>,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("the payload is not JSON: {0}")]
    NotJson(String),
    #[error("the {event} payload lacks what bosun needs: {detail}")]
    Shape { event: String, detail: String },
}

// --- wire shapes (private: nothing outside this file sees GitHub's JSON) -----------------------

#[derive(Deserialize)]
struct WireUser {
    login: String,
    id: u64,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

impl From<WireUser> for Actor {
    fn from(u: WireUser) -> Self {
        // GitHub marks Apps' users as type "Bot"; the `[bot]` suffix covers older payloads.
        let is_bot = u.kind.as_deref() == Some("Bot") || u.login.ends_with("[bot]");
        Actor {
            login: u.login,
            id: UserId(u.id),
            is_bot,
        }
    }
}

#[derive(Deserialize)]
struct WireRepo {
    id: u64,
    name: String,
    owner: WireOwner,
}

#[derive(Deserialize)]
struct WireOwner {
    login: String,
}

#[derive(Deserialize)]
struct WireInstallation {
    id: u64,
}

#[derive(Deserialize)]
struct WireIssue {
    number: u64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    pull_request: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    user: Option<WireAuthor>,
}

#[derive(Deserialize)]
struct WireAuthor {
    login: String,
}

#[derive(Deserialize)]
struct WireLabel {
    name: String,
}

#[derive(Deserialize)]
struct WireComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
    user: WireUser,
}

#[derive(Deserialize, Default)]
struct WireChanges {
    body: Option<WireFrom>,
}

#[derive(Deserialize)]
struct WireFrom {
    from: Option<String>,
}

#[derive(Deserialize)]
struct IssuesPayload {
    action: String,
    issue: WireIssue,
    repository: WireRepo,
    sender: WireUser,
    installation: Option<WireInstallation>,
    label: Option<WireLabel>,
    #[serde(default)]
    changes: Option<WireChanges>,
}

#[derive(Deserialize)]
struct PullRequestPayload {
    number: u64,
    pull_request: WirePull,
    repository: WireRepo,
    sender: WireUser,
    installation: Option<WireInstallation>,
}

#[derive(Deserialize)]
struct WirePull {
    #[serde(default)]
    merged: Option<bool>,
    head: WirePullHead,
}

#[derive(Deserialize)]
struct ReviewPayload {
    review: WireReview,
    pull_request: WireReviewedPull,
    repository: WireRepo,
    sender: WireUser,
    installation: Option<WireInstallation>,
}

#[derive(Deserialize)]
struct WireReview {
    id: u64,
    state: String,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct ReviewCommentPayload {
    comment: WireReviewComment,
    pull_request: WireReviewedPull,
    repository: WireRepo,
    sender: WireUser,
    installation: Option<WireInstallation>,
}

#[derive(Deserialize)]
struct WireReviewComment {
    id: u64,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct WireReviewedPull {
    number: u64,
    head: WirePullHead,
}

#[derive(Deserialize)]
struct WirePullHead {
    #[serde(rename = "ref")]
    branch: String,
    repo: Option<WireFullName>,
}

#[derive(Deserialize)]
struct WireFullName {
    full_name: String,
}

#[derive(Deserialize)]
struct IssueCommentPayload {
    action: String,
    issue: WireIssue,
    comment: WireComment,
    repository: WireRepo,
    sender: WireUser,
    installation: Option<WireInstallation>,
    #[serde(default)]
    changes: Option<WireChanges>,
}

#[derive(Deserialize)]
struct InstallationPayload {
    action: String,
    installation: WireInstallation,
    sender: WireUser,
    /// `installation.created` lists what it covers (GitHub sends null for some actions).
    #[serde(default)]
    repositories: Option<Vec<WireListedRepo>>,
    #[serde(default)]
    repositories_added: Option<Vec<WireListedRepo>>,
    #[serde(default)]
    repositories_removed: Option<Vec<WireListedRepo>>,
}

/// A repository as installation events list it: `owner/name` and id.
#[derive(Deserialize)]
struct WireListedRepo {
    id: u64,
    full_name: String,
}

fn listed(repos: Option<Vec<WireListedRepo>>) -> Vec<crate::job::InstalledRepo> {
    repos
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| {
            let (owner, name) = r.full_name.split_once('/')?;
            Some(crate::job::InstalledRepo {
                repo: RepoRef::new(owner, name),
                id: RepoId(r.id),
            })
        })
        .collect()
}

#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    pushed_ref: String,
    #[serde(default)]
    forced: bool,
    #[serde(default)]
    commits: Vec<WirePushCommit>,
    repository: WirePushRepo,
    installation: Option<WireInstallation>,
}

#[derive(Deserialize)]
struct WirePushRepo {
    id: u64,
    name: String,
    owner: WireOwner,
    default_branch: String,
}

#[derive(Deserialize)]
struct WirePushCommit {
    #[serde(default)]
    added: Vec<String>,
    #[serde(default)]
    modified: Vec<String>,
    #[serde(default)]
    removed: Vec<String>,
}

impl WirePushCommit {
    fn touches(&self, path: &str) -> bool {
        [&self.added, &self.modified, &self.removed]
            .iter()
            .any(|paths| paths.iter().any(|p| p == path))
    }
}

#[derive(Deserialize)]
struct ActionOnly {
    action: Option<String>,
}

/// The payload's `action` when it is the object's first member, read from the first bytes
/// alone. GitHub writes `action` first in every payload that has one, so for an action bosun
/// acts on this spares a scan of the whole payload (5 µs of the 12 µs an `issues.labeled`
/// example takes to parse, measured on this project's machine) before the full parse, which
/// reads the same member again and checks all of the JSON. `None` when the payload begins any
/// other way, or the action holds an escape: then the caller scans as before.
fn leading_action(payload: &[u8]) -> Option<&str> {
    fn after<'a>(text: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
        text.trim_ascii_start().strip_prefix(prefix)
    }
    let rest = after(payload, b"{")?;
    let rest = after(rest, b"\"action\"")?;
    let rest = after(rest, b":")?;
    let rest = after(rest, b"\"")?;
    let end = rest.iter().position(|b| matches!(b, b'"' | b'\\'))?;
    (rest[end] == b'"')
        .then(|| std::str::from_utf8(&rest[..end]).ok())
        .flatten()
}

fn issue_context(
    issue: WireIssue,
    repo: WireRepo,
    sender: WireUser,
    installation: Option<WireInstallation>,
) -> IssueContext {
    IssueContext {
        installation: installation.map(|i| InstallationId(i.id)),
        repo: RepoRef::new(repo.owner.login, repo.name),
        repo_id: RepoId(repo.id),
        issue: IssueNumber(issue.number),
        title: issue.title,
        body: issue.body.unwrap_or_default(),
        author: issue.user.map(|u| u.login).unwrap_or_default(),
        is_pull_request: issue.pull_request.is_some(),
        sender: sender.into(),
    }
}

fn pull_context(
    pull: WireReviewedPull,
    repo: WireRepo,
    sender: WireUser,
    installation: Option<WireInstallation>,
) -> PullContext {
    PullContext {
        installation: installation.map(|i| InstallationId(i.id)),
        repo: RepoRef::new(repo.owner.login, repo.name),
        repo_id: RepoId(repo.id),
        number: pull.number,
        head_ref: pull.head.branch,
        head_repo: pull.head.repo.map(|r| r.full_name),
        sender: sender.into(),
    }
}

fn old_body(changes: Option<WireChanges>) -> Option<String> {
    changes.and_then(|c| c.body).and_then(|b| b.from)
}

/// Parses one delivery. `NotJson` means quarantine; `Shape` means GitHub sent an event bosun
/// knows without a field it needs (also quarantined, with the reason).
pub fn parse_event(event: &str, payload: &[u8]) -> Result<Event, EventError> {
    let shape = |e: serde_json::Error| {
        if e.is_syntax() || e.is_eof() {
            EventError::NotJson(e.to_string())
        } else {
            EventError::Shape {
                event: event.to_string(),
                detail: e.to_string(),
            }
        }
    };
    // Each payload is scanned for its action first; an action bosun does not act on ends there,
    // with that one scan, and only the rest are parsed whole. An action bosun acts on that
    // leads the payload goes straight to the full parse (`leading_action`).
    let action = |acted_on: &[&str]| -> Result<Option<String>, EventError> {
        if let Some(a) = leading_action(payload).filter(|a| acted_on.contains(a)) {
            return Ok(Some(a.to_string()));
        }
        let a: ActionOnly = serde_json::from_slice(payload).map_err(shape)?;
        Ok(a.action)
    };
    let other = |action: Option<String>| -> Result<Event, EventError> {
        Ok(Event::Other {
            event: event.to_string(),
            action,
        })
    };
    match event {
        "ping" => {
            serde_json::from_slice::<serde::de::IgnoredAny>(payload).map_err(shape)?;
            Ok(Event::Ping)
        }
        "issues" => {
            const ACTED_ON: &[&str] = &["labeled", "opened", "edited", "closed", "reopened"];
            let action = action(ACTED_ON)?;
            if !action.as_deref().is_some_and(|a| ACTED_ON.contains(&a)) {
                return other(action);
            }
            let p: IssuesPayload = serde_json::from_slice(payload).map_err(shape)?;
            let changes = p.changes;
            let label = p.label;
            let action = p.action;
            let issue = issue_context(p.issue, p.repository, p.sender, p.installation);
            Ok(match action.as_str() {
                "labeled" => Event::IssueLabeled {
                    issue,
                    label: label
                        .ok_or_else(|| EventError::Shape {
                            event: event.into(),
                            detail: "issues.labeled without a label".into(),
                        })?
                        .name,
                },
                "opened" => Event::IssueOpened { issue },
                "closed" => Event::IssueClosed { issue },
                "reopened" => Event::IssueReopened { issue },
                _ => Event::IssueEdited {
                    issue,
                    old_body: old_body(changes),
                },
            })
        }
        "issue_comment" => {
            const ACTED_ON: &[&str] = &["created", "edited"];
            let action = action(ACTED_ON)?;
            if !action.as_deref().is_some_and(|a| ACTED_ON.contains(&a)) {
                return other(action);
            }
            let p: IssueCommentPayload = serde_json::from_slice(payload).map_err(shape)?;
            let edited = p.action == "edited";
            let old = old_body(p.changes);
            let comment = CommentContext {
                id: CommentId(p.comment.id),
                body: p.comment.body.unwrap_or_default(),
                author: p.comment.user.into(),
            };
            let issue = issue_context(p.issue, p.repository, p.sender, p.installation);
            Ok(if edited {
                Event::CommentEdited {
                    issue,
                    comment,
                    old_body: old,
                }
            } else {
                Event::CommentCreated { issue, comment }
            })
        }
        "pull_request" => {
            let action = action(&["closed"])?;
            if action.as_deref() != Some("closed") {
                return other(action);
            }
            let p: PullRequestPayload = serde_json::from_slice(payload).map_err(shape)?;
            Ok(Event::PullClosed {
                installation: p.installation.map(|i| InstallationId(i.id)),
                repo: RepoRef::new(p.repository.owner.login, p.repository.name),
                repo_id: RepoId(p.repository.id),
                number: p.number,
                merged: p.pull_request.merged.unwrap_or(false),
                head_ref: p.pull_request.head.branch,
                head_repo: p.pull_request.head.repo.map(|r| r.full_name),
                sender: p.sender.into(),
            })
        }
        "pull_request_review" => {
            let action = action(&["submitted"])?;
            if action.as_deref() != Some("submitted") {
                return other(action);
            }
            let p: ReviewPayload = serde_json::from_slice(payload).map_err(shape)?;
            Ok(Event::PullReviewed {
                pull: pull_context(p.pull_request, p.repository, p.sender, p.installation),
                review: ReviewId(p.review.id),
                state: p.review.state.to_ascii_lowercase(),
                body: p.review.body.unwrap_or_default(),
            })
        }
        "pull_request_review_comment" => {
            let action = action(&["created"])?;
            if action.as_deref() != Some("created") {
                return other(action);
            }
            let p: ReviewCommentPayload = serde_json::from_slice(payload).map_err(shape)?;
            Ok(Event::PullReviewComment {
                pull: pull_context(p.pull_request, p.repository, p.sender, p.installation),
                comment: ReviewCommentId(p.comment.id),
                body: p.comment.body.unwrap_or_default(),
            })
        }
        "push" => {
            let p: PushPayload = serde_json::from_slice(payload).map_err(shape)?;
            let config = crate::repo_config::REPO_CONFIG_PATH;
            Ok(Event::Pushed {
                installation: p.installation.map(|i| InstallationId(i.id)),
                repo: RepoRef::new(p.repository.owner.login, p.repository.name),
                repo_id: RepoId(p.repository.id),
                to_default_branch: p.pushed_ref
                    == format!("refs/heads/{}", p.repository.default_branch),
                config_may_have_changed: p.forced
                    || p.commits.is_empty()
                    || p.commits.iter().any(|c| c.touches(config)),
            })
        }
        "installation" | "installation_repositories" => {
            let p: InstallationPayload = serde_json::from_slice(payload).map_err(shape)?;
            let added = if p.action == "created" {
                listed(p.repositories)
            } else {
                listed(p.repositories_added)
            };
            Ok(Event::Installation {
                action: p.action,
                installation: InstallationId(p.installation.id),
                sender: p.sender.login,
                added,
                removed: listed(p.repositories_removed),
            })
        }
        _ => other(action(&[])?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leading_action_is_read_from_the_first_bytes_only_when_it_comes_first() {
        assert_eq!(
            leading_action(br#"{"action":"labeled","x":1}"#),
            Some("labeled")
        );
        assert_eq!(
            leading_action(b"\n{\n  \"action\" : \"opened\",\n  \"issue\": {}}"),
            Some("opened")
        );
        // Anywhere else, or not plain, it is left to the scan.
        assert_eq!(leading_action(br#"{"zen":"x","action":"labeled"}"#), None);
        assert_eq!(leading_action(br#"{"action":"lab\u0065led"}"#), None);
        assert_eq!(leading_action(br#"{"action":null}"#), None);
        assert_eq!(leading_action(br#"["action","labeled"]"#), None);
        assert_eq!(leading_action(br#"{"action":"labeled"#), None);
    }

    /// Every example payload of GitHub's (they are pretty-printed, `action` first) parses to
    /// the same event as the same payload with `action` moved last, which takes the scan.
    #[test]
    fn github_examples_parse_the_same_whether_or_not_the_action_leads() {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/webhooks");
        let mut leading = 0;
        for dir in std::fs::read_dir(&root).unwrap() {
            let dir = dir.unwrap().path();
            let event = dir.file_name().unwrap().to_str().unwrap().to_string();
            for file in std::fs::read_dir(&dir).unwrap() {
                let file = file.unwrap().path();
                if !file.to_str().unwrap().ends_with(".payload.json") {
                    continue;
                }
                let original = std::fs::read(&file).unwrap();
                let mut value: serde_json::Value = serde_json::from_slice(&original).unwrap();
                let Some(action) = value.as_object_mut().unwrap().remove("action") else {
                    continue;
                };
                let mut moved = serde_json::to_vec(&value).unwrap();
                moved.pop();
                moved.extend_from_slice(format!(r#","action":{action}}}"#).as_bytes());
                assert_eq!(leading_action(&moved), None, "{file:?}");
                assert_eq!(leading_action(&original), action.as_str(), "{file:?}");
                leading += 1;
                assert_eq!(
                    parse_event(&event, &original),
                    parse_event(&event, &moved),
                    "{file:?}"
                );
            }
        }
        assert!(leading > 50, "only {leading} examples with an action");
    }

    #[test]
    fn not_json_and_wrong_shapes_are_told_apart() {
        assert!(matches!(
            parse_event("issues", b"{not json"),
            Err(EventError::NotJson(_))
        ));
        assert!(matches!(
            parse_event("issues", br#"{"action":"labeled","issue":{}}"#),
            Err(EventError::Shape { .. })
        ));
        assert_eq!(
            parse_event("star", br#"{"action":"created"}"#),
            Ok(Event::Other {
                event: "star".into(),
                action: Some("created".into())
            })
        );
    }

    #[test]
    fn a_push_says_whether_the_config_on_the_default_branch_may_have_changed() {
        let push = |git_ref: &str, forced: bool, commits: &str| {
            let body = format!(
                r#"{{"ref":"{git_ref}","forced":{forced},"commits":{commits},
                "repository":{{"id":7,"name":"r","owner":{{"login":"o","name":"o"}},"default_branch":"main"}},
                "installation":{{"id":3}}}}"#
            );
            match parse_event("push", body.as_bytes()).unwrap() {
                Event::Pushed {
                    to_default_branch,
                    config_may_have_changed,
                    repo,
                    ..
                } => {
                    assert_eq!(repo.to_string(), "o/r");
                    (to_default_branch, config_may_have_changed)
                }
                other => panic!("{other:?}"),
            }
        };
        let touching = r#"[{"added":[],"modified":["README.md"],"removed":[]},
            {"added":[],"modified":[".github/bosun.yml"],"removed":[]}]"#;
        let elsewhere = r#"[{"added":["src/a.rs"],"modified":[],"removed":[]}]"#;
        assert_eq!(push("refs/heads/main", false, touching), (true, true));
        assert_eq!(push("refs/heads/main", false, elsewhere), (true, false));
        assert_eq!(push("refs/heads/main", true, elsewhere), (true, true));
        assert_eq!(push("refs/heads/main", false, "[]"), (true, true));
        assert_eq!(push("refs/heads/feature", false, touching), (false, true));
        assert_eq!(push("refs/tags/main", false, touching), (false, true));
    }

    #[test]
    fn bots_are_recognised_by_type_or_suffix() {
        let bot: Actor = WireUser {
            login: "dependabot[bot]".into(),
            id: 1,
            kind: None,
        }
        .into();
        assert!(bot.is_bot);
        let app: Actor = WireUser {
            login: "x".into(),
            id: 2,
            kind: Some("Bot".into()),
        }
        .into();
        assert!(app.is_bot);
    }
}
