//! JSON shapes of users, apps, installations, repositories, issues, comments, labels, reactions
//! and contents, following the recorded GitHub examples. URLs are built from the fake's base URL:
//! API URLs as `{base}/repos/...`, web URLs as `{base}/{owner}/{repo}/...`.

use serde_json::{json, Value};

use crate::shared::{installation_permissions, Shared, APP_EVENTS};
use crate::state::{Actor, Comment, File, Installation, Issue, Label, Reaction, Repo};
use crate::util::{self, node_id, pct, rfc3339};

/// The reaction contents GitHub accepts, in the order of the `reactions` roll-up.
pub(crate) const REACTION_CONTENTS: &[&str] = &[
    "+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes",
];

/// The actor for a login: the App's own `<slug>[bot]` login maps to the bot user.
pub(crate) fn actor_for(s: &Shared, login: &str) -> Actor {
    if login.eq_ignore_ascii_case(&s.app.bot_login()) {
        Actor::Bot
    } else {
        Actor::User(login.to_owned())
    }
}

pub(crate) fn login_of(s: &Shared, actor: &Actor) -> String {
    match actor {
        Actor::User(login) => login.clone(),
        Actor::Bot => s.app.bot_login(),
    }
}

pub(crate) fn type_of(actor: &Actor) -> &'static str {
    match actor {
        Actor::User(_) => "User",
        Actor::Bot => "Bot",
    }
}

pub(crate) fn user(s: &Shared, actor: &Actor) -> Value {
    let base = &s.base;
    let (login, id, node, html_url) = match actor {
        Actor::User(login) => {
            let id = util::user_id_for(login);
            (
                login.clone(),
                id,
                node_id("User", id),
                format!("{base}/{}", pct(login)),
            )
        }
        Actor::Bot => (
            s.app.bot_login(),
            s.app.bot_id,
            node_id("Bot", s.app.bot_id),
            format!("{base}/apps/{}", s.app.slug),
        ),
    };
    let api = format!("{base}/users/{}", pct(&login));
    json!({
        "login": login,
        "id": id,
        "node_id": node,
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": api,
        "html_url": html_url,
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": type_of(actor),
        "site_admin": false,
    })
}

pub(crate) fn user_login(s: &Shared, login: &str) -> Value {
    user(s, &actor_for(s, login))
}

/// `GET /app` (also the base of the manifest conversion answer).
pub(crate) fn app(s: &Shared, installations_count: usize) -> Value {
    let created = rfc3339(s.started);
    json!({
        "id": s.app.id,
        "slug": s.app.slug,
        "client_id": s.app.client_id,
        "node_id": node_id("Integration", s.app.id),
        "owner": user_login(s, &format!("{}-owner", s.app.slug)),
        "name": s.app.slug,
        "description": "",
        "external_url": s.base,
        "html_url": format!("{}/apps/{}", s.base, s.app.slug),
        "created_at": created,
        "updated_at": created,
        "permissions": installation_permissions(),
        "events": APP_EVENTS,
        "installations_count": installations_count,
    })
}

pub(crate) fn installation(s: &Shared, inst: &Installation) -> Value {
    let base = &s.base;
    let account = user_login(s, &inst.account);
    let created = rfc3339(inst.created);
    json!({
        "id": inst.id,
        "client_id": s.app.client_id,
        "account": account,
        "repository_selection": "all",
        "access_tokens_url": format!("{base}/app/installations/{}/access_tokens", inst.id),
        "repositories_url": format!("{base}/installation/repositories"),
        "html_url": format!("{base}/settings/installations/{}", inst.id),
        "app_id": s.app.id,
        "app_slug": s.app.slug,
        "target_id": account["id"],
        "target_type": "User",
        "permissions": installation_permissions(),
        "events": APP_EVENTS,
        "created_at": created,
        "updated_at": created,
        "single_file_name": null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
        "suspended_by": null,
        "suspended_at": null,
    })
}

pub(crate) fn repo(s: &Shared, r: &Repo) -> Value {
    let base = &s.base;
    let full = r.full_name();
    let api = format!("{base}/repos/{full}");
    let html = format!("{base}/{full}");
    let created = rfc3339(r.created);
    let open_issues = r.issues.values().filter(|i| i.state == "open").count();
    json!({
        "id": r.id,
        "node_id": node_id("Repository", r.id),
        "name": r.name,
        "full_name": full,
        "private": false,
        "owner": user_login(s, &r.owner),
        "html_url": html,
        "description": null,
        "fork": false,
        "url": api,
        "archive_url": format!("{api}/{{archive_format}}{{/ref}}"),
        "assignees_url": format!("{api}/assignees{{/user}}"),
        "blobs_url": format!("{api}/git/blobs{{/sha}}"),
        "branches_url": format!("{api}/branches{{/branch}}"),
        "collaborators_url": format!("{api}/collaborators{{/collaborator}}"),
        "comments_url": format!("{api}/comments{{/number}}"),
        "commits_url": format!("{api}/commits{{/sha}}"),
        "compare_url": format!("{api}/compare/{{base}}...{{head}}"),
        "contents_url": format!("{api}/contents/{{+path}}"),
        "contributors_url": format!("{api}/contributors"),
        "deployments_url": format!("{api}/deployments"),
        "downloads_url": format!("{api}/downloads"),
        "events_url": format!("{api}/events"),
        "forks_url": format!("{api}/forks"),
        "git_commits_url": format!("{api}/git/commits{{/sha}}"),
        "git_refs_url": format!("{api}/git/refs{{/sha}}"),
        "git_tags_url": format!("{api}/git/tags{{/sha}}"),
        "hooks_url": format!("{api}/hooks"),
        "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
        "issue_events_url": format!("{api}/issues/events{{/number}}"),
        "issues_url": format!("{api}/issues{{/number}}"),
        "keys_url": format!("{api}/keys{{/key_id}}"),
        "labels_url": format!("{api}/labels{{/name}}"),
        "languages_url": format!("{api}/languages"),
        "merges_url": format!("{api}/merges"),
        "milestones_url": format!("{api}/milestones{{/number}}"),
        "notifications_url": format!("{api}/notifications{{?since,all,participating}}"),
        "pulls_url": format!("{api}/pulls{{/number}}"),
        "releases_url": format!("{api}/releases{{/id}}"),
        "stargazers_url": format!("{api}/stargazers"),
        "statuses_url": format!("{api}/statuses/{{sha}}"),
        "subscribers_url": format!("{api}/subscribers"),
        "subscription_url": format!("{api}/subscription"),
        "tags_url": format!("{api}/tags"),
        "teams_url": format!("{api}/teams"),
        "trees_url": format!("{api}/git/trees{{/sha}}"),
        "created_at": created,
        "updated_at": created,
        "pushed_at": created,
        "git_url": format!("git://127.0.0.1/{full}.git"),
        "ssh_url": format!("git@127.0.0.1:{full}.git"),
        "clone_url": r.clone_url.clone().unwrap_or_else(|| format!("{html}.git")),
        "svn_url": html,
        "homepage": null,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": null,
        "has_issues": true,
        "has_projects": true,
        "has_downloads": true,
        "has_wiki": true,
        "has_pages": false,
        "has_discussions": false,
        "forks_count": 0,
        "mirror_url": null,
        "archived": false,
        "disabled": false,
        "open_issues_count": open_issues,
        "license": null,
        "allow_forking": true,
        "is_template": false,
        "web_commit_signoff_required": false,
        "topics": [],
        "visibility": "public",
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": r.default_branch,
    })
}

/// The repository as `repos/get` answers it: [`repo`] plus the counts only that answer has.
pub(crate) fn full_repo(s: &Shared, r: &Repo) -> Value {
    let mut v = repo(s, r);
    v["subscribers_count"] = json!(0);
    v["network_count"] = json!(0);
    v
}

pub(crate) fn label(s: &Shared, r: &Repo, l: &Label) -> Value {
    json!({
        "id": l.id,
        "node_id": node_id("Label", l.id),
        "url": format!("{}/repos/{}/labels/{}", s.base, r.full_name(), pct(&l.name)),
        "name": l.name,
        "description": l.description,
        "color": l.color,
        "default": l.default,
    })
}

pub(crate) fn reactions_rollup(url: String, reactions: &[Reaction]) -> Value {
    let mut v = json!({ "url": url, "total_count": reactions.len() });
    for content in REACTION_CONTENTS {
        v[*content] = json!(reactions.iter().filter(|r| r.content == *content).count());
    }
    v
}

/// `author_association` of a login on a repository.
pub(crate) fn association(r: &Repo, actor: &Actor) -> &'static str {
    match actor {
        Actor::Bot => "NONE",
        Actor::User(login) if login.eq_ignore_ascii_case(&r.owner) => "OWNER",
        Actor::User(login) => match r.permission(login) {
            "admin" | "maintain" | "write" | "triage" => "COLLABORATOR",
            _ => "NONE",
        },
    }
}

pub(crate) fn issue(s: &Shared, r: &Repo, i: &Issue) -> Value {
    let api = format!("{}/repos/{}/issues/{}", s.base, r.full_name(), i.number);
    let author = actor_for(s, &i.author);
    let mut labels: Vec<&Label> = i.labels.iter().filter_map(|&id| r.label(id)).collect();
    labels.sort_by_key(|l| l.name.to_lowercase());
    let mut v = json!({
        "url": api,
        "repository_url": format!("{}/repos/{}", s.base, r.full_name()),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": format!("{}/{}/issues/{}", s.base, r.full_name(), i.number),
        "id": i.id,
        "node_id": node_id("Issue", i.id),
        "number": i.number,
        "title": i.title,
        "user": user(s, &author),
        "labels": labels.iter().map(|l| label(s, r, l)).collect::<Vec<_>>(),
        "state": i.state,
        "locked": false,
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "comments": i.comment_ids.len(),
        "created_at": rfc3339(i.created),
        "updated_at": rfc3339(i.updated),
        "closed_at": i.closed_at.map(rfc3339),
        "author_association": association(r, &author),
        "active_lock_reason": null,
        "body": if i.body.is_empty() { Value::Null } else { json!(i.body) },
        "reactions": reactions_rollup(format!("{api}/reactions"), &i.reactions),
        "timeline_url": format!("{api}/timeline"),
        "performed_via_github_app": null,
        "state_reason": i.state_reason,
    });
    // A pull request seen through the issues API (as GitHub does: `pull_request`, `draft`, and the
    // web URL of the pull request); plain issues carry their sub-issue progress instead.
    if let Some(p) = &i.pull {
        v["pull_request"] = crate::pulls::issue_link(s, r, i.number);
        v["draft"] = json!(p.draft);
        v["html_url"] = json!(crate::pulls::html_url(s, r, i.number));
    } else {
        v["sub_issues_summary"] = crate::sub_issues::summary(r, i);
    }
    v
}

pub(crate) fn comment(s: &Shared, r: &Repo, c: &Comment) -> Value {
    let api = format!(
        "{}/repos/{}/issues/comments/{}",
        s.base,
        r.full_name(),
        c.id
    );
    let performed_via = match c.author {
        Actor::Bot => app(s, 0),
        Actor::User(_) => Value::Null,
    };
    let kind = match r.issues.get(&c.issue) {
        Some(i) if i.pull.is_some() => "pull",
        _ => "issues",
    };
    json!({
        "url": api,
        "html_url": format!("{}/{}/{kind}/{}#issuecomment-{}", s.base, r.full_name(), c.issue, c.id),
        "issue_url": format!("{}/repos/{}/issues/{}", s.base, r.full_name(), c.issue),
        "id": c.id,
        "node_id": node_id("IssueComment", c.id),
        "user": user(s, &c.author),
        "created_at": rfc3339(c.created),
        "updated_at": rfc3339(c.updated),
        "author_association": association(r, &c.author),
        "body": c.body,
        "reactions": reactions_rollup(format!("{api}/reactions"), &c.reactions),
        "performed_via_github_app": performed_via,
    })
}

pub(crate) fn reaction(s: &Shared, re: &Reaction) -> Value {
    json!({
        "id": re.id,
        "node_id": node_id("Reaction", re.id),
        "user": user(s, &re.actor),
        "content": re.content,
        "created_at": rfc3339(re.created),
    })
}

fn content_links(
    s: &Shared,
    r: &Repo,
    path: &str,
    sha: &str,
    kind: &str,
) -> (String, String, String) {
    let full = r.full_name();
    let self_url = format!(
        "{}/repos/{full}/contents/{path}?ref={}",
        s.base, r.default_branch
    );
    let git_kind = if kind == "dir" { "trees" } else { "blobs" };
    let git_url = format!("{}/repos/{full}/git/{git_kind}/{sha}", s.base);
    let web_kind = if kind == "dir" { "tree" } else { "blob" };
    let html_url = format!("{}/{full}/{web_kind}/{}/{path}", s.base, r.default_branch);
    (self_url, git_url, html_url)
}

/// A file's entry in a contents answer (with `content` when `with_content`).
pub(crate) fn file(s: &Shared, r: &Repo, path: &str, f: &File, with_content: bool) -> Value {
    let (self_url, git_url, html_url) = content_links(s, r, path, &f.sha, "file");
    let mut v = json!({
        "type": "file",
        "size": f.content.len(),
        "name": path.rsplit('/').next().unwrap_or(path),
        "path": path,
        "sha": f.sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": format!("{}/raw/{}/{}/{path}", s.base, r.full_name(), r.default_branch),
        "_links": { "self": self_url, "git": git_url, "html": html_url },
    });
    if with_content {
        v["encoding"] = json!("base64");
        v["content"] = json!(util::base64_wrapped(&f.content));
    }
    v
}

/// A directory's entry in a directory listing.
pub(crate) fn dir_entry(s: &Shared, r: &Repo, path: &str) -> Value {
    let sha = util::git_blob_sha(path.as_bytes());
    let (self_url, git_url, html_url) = content_links(s, r, path, &sha, "dir");
    json!({
        "type": "dir",
        "size": 0,
        "name": path.rsplit('/').next().unwrap_or(path),
        "path": path,
        "sha": sha,
        "url": self_url,
        "git_url": git_url,
        "html_url": html_url,
        "download_url": null,
        "_links": { "self": self_url, "git": git_url, "html": html_url },
    })
}
