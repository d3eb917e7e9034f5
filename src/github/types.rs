//! Our typed views of the GitHub REST responses bosun uses. Responses are parsed here, at the
//! edge, into small structs holding only what bosun reads; GitHub's full shapes stay private.

use base64::Engine;
use bosun_core::ids::{AppId, CommentId, IssueNumber, RepoId};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `GET /app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInfo {
    pub id: AppId,
    pub slug: String,
    pub name: String,
    pub html_url: String,
}

impl AppInfo {
    /// The login GitHub gives the App's bot user: comments posted with an installation token
    /// carry it.
    pub fn bot_login(&self) -> String {
        format!("{}[bot]", self.slug)
    }
}

/// `GET /repos/{owner}/{repo}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    pub id: RepoId,
    pub full_name: String,
    pub default_branch: String,
    pub clone_url: String,
    pub private: bool,
}

/// A user's effective access to a repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Admin,
    Maintain,
    Write,
    Triage,
    Read,
    None,
}

impl Permission {
    /// `role_name` distinguishes maintain and triage, which the legacy `permission` field folds
    /// into write and read; it is tried first. Custom roles have other names and fall back to
    /// `permission`. Anything unrecognised means no access.
    pub fn from_api(role_name: Option<&str>, permission: Option<&str>) -> Permission {
        role_name
            .and_then(Self::from_name)
            .or_else(|| permission.and_then(Self::from_name))
            .unwrap_or(Permission::None)
    }

    fn from_name(name: &str) -> Option<Permission> {
        Some(match name {
            "admin" => Permission::Admin,
            "maintain" => Permission::Maintain,
            "write" => Permission::Write,
            "triage" => Permission::Triage,
            "read" => Permission::Read,
            "none" => Permission::None,
            _ => return None,
        })
    }

    /// May this user drive bosun (push-level access)?
    pub fn can_write(&self) -> bool {
        matches!(
            self,
            Permission::Admin | Permission::Maintain | Permission::Write
        )
    }
}

/// An issue (or pull request: they share numbers and this endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueInfo {
    /// The issue's global id (what `POST .../sub_issues` takes), not its number.
    pub id: u64,
    pub number: IssueNumber,
    pub title: String,
    /// GitHub sends `null` for an empty body; it becomes "".
    pub body: String,
    pub author_login: String,
    pub labels: Vec<String>,
    /// "open" or "closed".
    pub state: String,
    /// Why a closed issue was closed: "completed", "not_planned", "duplicate"…
    pub state_reason: Option<String>,
    pub is_pull_request: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueComment {
    pub id: CommentId,
    pub body: String,
    pub author_login: String,
    /// "User", "Bot" or "Organization".
    pub author_type: String,
    pub html_url: String,
}

/// A text file read from a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoFile {
    /// Blob sha (needed to update the file later).
    pub sha: String,
    pub text: String,
}

/// The reactions GitHub supports, serialized with GitHub's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Reaction {
    #[serde(rename = "+1")]
    PlusOne,
    #[serde(rename = "-1")]
    MinusOne,
    #[serde(rename = "laugh")]
    Laugh,
    #[serde(rename = "confused")]
    Confused,
    #[serde(rename = "heart")]
    Heart,
    #[serde(rename = "hooray")]
    Hooray,
    #[serde(rename = "rocket")]
    Rocket,
    #[serde(rename = "eyes")]
    Eyes,
}

impl Reaction {
    pub fn as_str(&self) -> &'static str {
        match self {
            Reaction::PlusOne => "+1",
            Reaction::MinusOne => "-1",
            Reaction::Laugh => "laugh",
            Reaction::Confused => "confused",
            Reaction::Heart => "heart",
            Reaction::Hooray => "hooray",
            Reaction::Rocket => "rocket",
            Reaction::Eyes => "eyes",
        }
    }
}

impl fmt::Display for Reaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of the App-manifest flow: the new App's credentials. Debug redacts the secrets.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ManifestConversion {
    pub id: AppId,
    pub slug: String,
    pub name: String,
    pub html_url: String,
    pub pem: String,
    #[serde(default)]
    pub webhook_secret: Option<String>,
    pub client_id: String,
    pub client_secret: String,
}

impl fmt::Debug for ManifestConversion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const R: &str = "<redacted>";
        f.debug_struct("ManifestConversion")
            .field("id", &self.id)
            .field("slug", &self.slug)
            .field("name", &self.name)
            .field("html_url", &self.html_url)
            .field("pem", &R)
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| R))
            .field("client_id", &self.client_id)
            .field("client_secret", &R)
            .finish()
    }
}

// ---- wire shapes: only the fields we read -----------------------------------------------------

#[derive(Deserialize)]
pub(crate) struct WireApp {
    id: AppId,
    /// Optional in GitHub's description; bosun cannot do without it (see below).
    slug: Option<String>,
    name: String,
    html_url: String,
}

impl TryFrom<WireApp> for AppInfo {
    type Error = super::error::GitHubError;

    fn try_from(w: WireApp) -> Result<Self, Self::Error> {
        let slug = w.slug.filter(|s| !s.is_empty()).ok_or_else(|| {
            super::error::GitHubError::Decode(
                "GET /app answered without the App's slug, which bosun needs to know its own \
                 login (<slug>[bot]) and the @mention it answers to"
                    .into(),
            )
        })?;
        Ok(AppInfo {
            id: w.id,
            slug,
            name: w.name,
            html_url: w.html_url,
        })
    }
}

#[derive(Deserialize)]
pub(crate) struct WireRepository {
    id: RepoId,
    full_name: String,
    default_branch: String,
    clone_url: String,
    #[serde(default)]
    private: bool,
}

impl From<WireRepository> for Repository {
    fn from(w: WireRepository) -> Self {
        Repository {
            id: w.id,
            full_name: w.full_name,
            default_branch: w.default_branch,
            clone_url: w.clone_url,
            private: w.private,
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct WirePermission {
    permission: Option<String>,
    role_name: Option<String>,
}

impl From<WirePermission> for Permission {
    fn from(w: WirePermission) -> Self {
        Permission::from_api(w.role_name.as_deref(), w.permission.as_deref())
    }
}

/// `null` for a deleted account (GitHub's description: `nullable-simple-user`); read as an
/// empty login, which no trust rule matches.
#[derive(Deserialize, Default)]
struct WireUser {
    login: String,
    #[serde(rename = "type", default)]
    kind: String,
}

/// Labels come as objects from the REST API but as bare names in some payloads.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum WireLabel {
    Object { name: String },
    Name(String),
}

impl WireLabel {
    pub(crate) fn into_name(self) -> String {
        match self {
            WireLabel::Object { name } | WireLabel::Name(name) => name,
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct WireIssue {
    id: u64,
    number: IssueNumber,
    title: String,
    body: Option<String>,
    user: Option<WireUser>,
    #[serde(default)]
    labels: Vec<WireLabel>,
    state: String,
    #[serde(default)]
    state_reason: Option<String>,
    pull_request: Option<serde::de::IgnoredAny>,
}

impl From<WireIssue> for IssueInfo {
    fn from(w: WireIssue) -> Self {
        IssueInfo {
            id: w.id,
            number: w.number,
            title: w.title,
            body: w.body.unwrap_or_default(),
            author_login: w.user.unwrap_or_default().login,
            labels: w.labels.into_iter().map(WireLabel::into_name).collect(),
            state: w.state,
            state_reason: w.state_reason,
            is_pull_request: w.pull_request.is_some(),
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct WireComment {
    id: CommentId,
    body: Option<String>,
    user: Option<WireUser>,
    html_url: String,
}

impl From<WireComment> for IssueComment {
    fn from(w: WireComment) -> Self {
        let user = w.user.unwrap_or_default();
        IssueComment {
            id: w.id,
            body: w.body.unwrap_or_default(),
            author_login: user.login,
            author_type: user.kind,
            html_url: w.html_url,
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct WireInstallation {
    pub(crate) id: bosun_core::ids::InstallationId,
}

#[derive(Deserialize)]
pub(crate) struct WireAccessToken {
    pub(crate) token: String,
    pub(crate) expires_at: chrono::DateTime<chrono::Utc>,
}

/// A file from `GET /repos/{owner}/{repo}/contents/{path}` (octocrab's model), its base64
/// content decoded (GitHub wraps it with newlines). Directories, symlinks, and files over 1 MB
/// (sent without content) are errors: bosun only reads small text files.
pub(crate) fn file_from(content: octocrab::models::repos::Content) -> Result<RepoFile, String> {
    if content.r#type != "file" {
        return Err(format!("expected a file, got a {}", content.r#type));
    }
    if content.encoding.as_deref() != Some("base64") {
        return Err(format!(
            "unsupported content encoding {:?} (file too large?)",
            content.encoding.as_deref().unwrap_or("none")
        ));
    }
    let packed: String = content
        .content
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(packed)
        .map_err(|e| format!("bad base64 content: {e}"))?;
    let text = String::from_utf8(bytes).map_err(|_| "file is not UTF-8 text".to_string())?;
    Ok(RepoFile {
        sha: content.sha,
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_prefers_role_name() {
        use Permission as P;
        let cases = [
            (Some("admin"), Some("admin"), P::Admin),
            (Some("maintain"), Some("write"), P::Maintain),
            (Some("write"), Some("write"), P::Write),
            (Some("triage"), Some("read"), P::Triage),
            (Some("read"), Some("read"), P::Read),
            (Some("none"), Some("none"), P::None),
            (Some("custom-reviewer"), Some("write"), P::Write),
            (None, Some("admin"), P::Admin),
            (None, Some("banana"), P::None),
            (None, None, P::None),
        ];
        for (role, perm, want) in cases {
            assert_eq!(Permission::from_api(role, perm), want, "{role:?}/{perm:?}");
        }
        assert!(P::Admin.can_write() && P::Maintain.can_write() && P::Write.can_write());
        assert!(!P::Triage.can_write() && !P::Read.can_write() && !P::None.can_write());
    }

    #[test]
    fn reactions_use_github_names() {
        assert_eq!(serde_json::to_string(&Reaction::PlusOne).unwrap(), "\"+1\"");
        assert_eq!(serde_json::to_string(&Reaction::Eyes).unwrap(), "\"eyes\"");
        for r in [
            Reaction::PlusOne,
            Reaction::MinusOne,
            Reaction::Rocket,
            Reaction::Hooray,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }

    #[test]
    fn issue_parses_null_body_and_label_objects() {
        let w: WireIssue = serde_json::from_value(serde_json::json!({
            "id": 1001, "number": 3, "title": "t", "body": null, "state": "open",
            "user": {"login": "octo", "type": "User"},
            "labels": [{"name": "bosun:new", "color": "fff"}, "plain"],
            "pull_request": {"url": "x"}
        }))
        .unwrap();
        let i = IssueInfo::from(w);
        assert_eq!(i.body, "");
        assert_eq!((i.id, i.state_reason), (1001, None));
        assert_eq!(i.labels, vec!["bosun:new", "plain"]);
        assert!(i.is_pull_request);
    }

    #[test]
    fn content_decodes_wrapped_base64() {
        let mut answer = fake_github::contract::least_answer("GET", "/repos/o/r/contents/a", 200)
            .expect("described");
        answer["type"] = "file".into();
        answer["encoding"] = "base64".into();
        answer["sha"] = "abc".into();
        answer["content"] = "aGVsbG8g\nd29ybGQ=\n".into();
        let content = serde_json::from_value(answer).unwrap();
        assert_eq!(file_from(content).unwrap().text, "hello world");
    }

    #[test]
    fn manifest_debug_redacts() {
        let m = ManifestConversion {
            id: AppId(1),
            slug: "s".into(),
            name: "n".into(),
            html_url: "u".into(),
            pem: "-----BEGIN RSA PRIVATE KEY-----".into(),
            webhook_secret: Some("whsec".into()),
            client_id: "Iv1.abc".into(),
            client_secret: "csecret".into(),
        };
        let d = format!("{m:?}");
        assert!(
            !d.contains("PRIVATE") && !d.contains("whsec") && !d.contains("csecret"),
            "{d}"
        );
        assert!(d.contains("Iv1.abc"));
    }
}
