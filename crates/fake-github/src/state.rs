//! The in-memory model: repositories, issues, comments, labels, reactions, installations, tokens,
//! files, manifest codes, pending faults and the request log. Lives behind one `std::sync::Mutex`.
//! Pull requests (`crate::pulls`) are issues with a `pull` part (their reviews: `crate::reviews`);
//! check runs live in `crate::checks`, sub-issue links are kept by `crate::sub_issues`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime};

use crate::checks::CheckRun;
use crate::faults::FaultQueue;
pub(crate) use crate::pulls::Pull;
use crate::util;
use crate::RequestRecord;

/// Who authored something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Actor {
    User(String),
    /// The App's bot user, `<slug>[bot]`.
    Bot,
}

#[derive(Debug, Clone)]
pub(crate) struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
    pub default: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Reaction {
    pub id: u64,
    pub content: String,
    pub actor: Actor,
    pub created: SystemTime,
    pub at: Instant,
}

#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub id: u64,
    pub number: u64,
    pub title: String,
    pub body: String,
    pub author: String,
    pub state: String,
    pub state_reason: Option<String>,
    pub closed_at: Option<SystemTime>,
    /// Label ids, in the order they were added.
    pub labels: Vec<u64>,
    pub comment_ids: Vec<u64>,
    pub reactions: Vec<Reaction>,
    pub created: SystemTime,
    pub updated: SystemTime,
    /// `Some` when this issue is a pull request (numbers are shared, as on GitHub).
    pub pull: Option<Pull>,
    /// The parent issue's number when this is a sub-issue (same repository).
    pub parent: Option<u64>,
    /// Numbers of the sub-issues, in the order they were added.
    pub sub_issues: Vec<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Comment {
    pub id: u64,
    /// Lower-case `owner/name` key of the repository.
    pub repo: String,
    pub issue: u64,
    pub body: String,
    pub author: Actor,
    pub created: SystemTime,
    pub updated: SystemTime,
    pub edits: usize,
    pub reactions: Vec<Reaction>,
}

#[derive(Debug, Clone)]
pub(crate) struct File {
    pub content: Vec<u8>,
    pub sha: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub installation_id: u64,
    pub default_branch: String,
    /// Overrides the rendered `clone_url` (e.g. a local `file://` bare repository).
    pub clone_url: Option<String>,
    /// A local bare repository served over git's smart HTTP at the default `clone_url`.
    pub git_dir: Option<std::path::PathBuf>,
    pub created: SystemTime,
    /// Lower-case login -> "admin" | "maintain" | "write" | "triage" | "read" | "none".
    pub permissions: HashMap<String, String>,
    pub issues: BTreeMap<u64, Issue>,
    pub next_number: u64,
    pub labels: Vec<Label>,
    pub files: BTreeMap<String, File>,
    /// Check runs by id (ids are global, runs belong to one repository).
    pub check_runs: BTreeMap<u64, CheckRun>,
    /// Check suite id per head sha (one suite per commit for the App).
    pub check_suites: BTreeMap<String, u64>,
    /// Whether the repository's plan offers draft pull requests (GitHub's free plans do not
    /// for private repositories).
    pub drafts: bool,
}

impl Repo {
    /// The local repository behind this one, if any: the one served over HTTP, else a local
    /// `clone_url` (branch and commit look-ups use it).
    pub fn local_git_dir(&self) -> Option<std::path::PathBuf> {
        self.git_dir
            .clone()
            .or_else(|| crate::git::local_git_dir(self.clone_url.as_deref()))
    }

    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// The permission a user has; unknown users can read (every fake repo is public).
    pub fn permission(&self, login: &str) -> &str {
        self.permissions
            .get(&login.to_ascii_lowercase())
            .map(String::as_str)
            .unwrap_or("read")
    }

    pub fn label(&self, id: u64) -> Option<&Label> {
        self.labels.iter().find(|l| l.id == id)
    }

    pub fn label_by_name(&self, name: &str) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Installation {
    pub id: u64,
    pub account: String,
    pub created: SystemTime,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub installation_id: u64,
    pub expires_at: SystemTime,
    pub revoked: bool,
    pub permissions: BTreeMap<String, String>,
    /// `Some` when the token was restricted to some repositories.
    pub repo_ids: Option<Vec<u64>>,
}

impl Token {
    pub fn is_valid(&self, now: SystemTime) -> bool {
        !self.revoked && now < self.expires_at
    }

    /// Whether the token grants `level` ("read" | "write") on `permission`.
    pub fn allows(&self, permission: &str, level: &str) -> bool {
        self.permissions
            .get(permission)
            .is_some_and(|have| level_rank(have) >= level_rank(level))
    }
}

pub(crate) fn level_rank(level: &str) -> u8 {
    match level {
        "read" => 1,
        "write" => 2,
        "admin" => 3,
        _ => 0,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ManifestCode {
    pub client_secret: String,
    pub webhook_secret: String,
    pub used: bool,
}

/// The core rate-limit window shown in `x-ratelimit-*` headers and `/rate_limit`.
#[derive(Debug, Clone)]
pub(crate) struct Rate {
    pub used: u64,
    pub reset: u64,
}

pub(crate) const RATE_LIMIT: u64 = 5000;

impl Rate {
    /// Rolls the hourly window over if it has passed.
    pub fn roll(&mut self, now: u64) {
        if now >= self.reset {
            self.used = 0;
            self.reset = now + 3600;
        }
    }

    pub fn remaining(&self) -> u64 {
        RATE_LIMIT.saturating_sub(self.used)
    }
}

/// What a reaction is put on.
#[derive(Debug, Clone)]
pub(crate) enum Target<'a> {
    Issue(&'a str, u64),
    Comment(u64),
}

/// Why a label could not be removed.
pub(crate) enum RemoveLabel {
    NoIssue,
    NotOnIssue,
}

#[derive(Debug)]
pub(crate) struct Model {
    next_repo: u64,
    next_installation: u64,
    next_issue: u64,
    next_comment: u64,
    next_label: u64,
    next_reaction: u64,
    pub next_pull: u64,
    pub next_check_run: u64,
    pub next_check_suite: u64,
    pub next_review: u64,
    pub next_review_comment: u64,
    pub next_thread: u64,
    pub repos: BTreeMap<String, Repo>,
    pub installations: BTreeMap<u64, Installation>,
    pub comments: BTreeMap<u64, Comment>,
    pub tokens: HashMap<String, Token>,
    pub tokens_issued: usize,
    pub manifest_codes: HashMap<String, ManifestCode>,
    pub faults: FaultQueue,
    /// Slot per arrived request, filled when it is answered.
    pub requests: Vec<Option<RequestRecord>>,
    pub git_requests: Vec<crate::GitRequestRecord>,
    pub hook_deliveries: Vec<crate::HookDeliveryRecord>,
    /// Ids of deliveries whose redelivery was asked for, in order.
    pub redelivery_requests: Vec<u64>,
    /// The REST API's quota ("core").
    pub rate: Rate,
    /// GraphQL's own quota ("graphql").
    pub graphql_rate: Rate,
    /// The OAuth web flow: who is signed in to the website, codes, user tokens.
    pub oauth: crate::oauth::OAuth,
    /// `GET /issues?creator=<slug>[bot]` answers nothing (see `FakeGitHub::set_creator_filter_ignores_apps`).
    pub creator_filter_ignores_apps: bool,
    /// Where requests or answers broke GitHub's published contract (`contract_gate`).
    pub contract_violations: Vec<String>,
}

/// Lower-case `owner/name`, the key repositories are stored under (GitHub names are case-insensitive).
pub(crate) fn repo_key(owner: &str, name: &str) -> String {
    format!("{owner}/{name}").to_ascii_lowercase()
}

/// The color GitHub gives a label created implicitly by adding it to an issue.
const NEW_LABEL_COLOR: &str = "ededed";

impl Model {
    pub fn new(now: SystemTime) -> Self {
        Model {
            next_repo: 700_000_001,
            next_installation: 50_000_001,
            next_issue: 2_000_000_001,
            next_comment: 3_000_000_001,
            next_label: 6_000_000_001,
            next_reaction: 200_000_001,
            next_pull: 900_000_001,
            next_check_run: 4_000_000_001,
            next_check_suite: 5_000_000_001,
            next_review: 7_000_000_001,
            next_review_comment: 8_000_000_001,
            next_thread: 9_000_000_001,
            repos: BTreeMap::new(),
            installations: BTreeMap::new(),
            comments: BTreeMap::new(),
            tokens: HashMap::new(),
            tokens_issued: 0,
            manifest_codes: HashMap::new(),
            faults: FaultQueue::default(),
            requests: Vec::new(),
            git_requests: Vec::new(),
            hook_deliveries: Vec::new(),
            redelivery_requests: Vec::new(),
            rate: Rate {
                used: 0,
                reset: util::epoch_secs(now) + 3600,
            },
            graphql_rate: Rate {
                used: 0,
                reset: util::epoch_secs(now) + 3600,
            },
            oauth: crate::oauth::OAuth::default(),
            creator_filter_ignores_apps: false,
            contract_violations: Vec::new(),
        }
    }

    fn bump(counter: &mut u64) -> u64 {
        let id = *counter;
        *counter += 1;
        id
    }

    /// Creates the repository (idempotent) and installs the App on its owner.
    pub fn add_repo(&mut self, owner: &str, name: &str, now: SystemTime) -> (u64, u64) {
        let key = repo_key(owner, name);
        if let Some(r) = self.repos.get(&key) {
            return (r.id, r.installation_id);
        }
        let installation_id = match self
            .installations
            .values()
            .find(|i| i.account.eq_ignore_ascii_case(owner))
        {
            Some(i) => i.id,
            None => {
                let id = Self::bump(&mut self.next_installation);
                self.installations.insert(
                    id,
                    Installation {
                        id,
                        account: owner.to_owned(),
                        created: now,
                    },
                );
                id
            }
        };
        let id = Self::bump(&mut self.next_repo);
        let mut permissions = HashMap::new();
        permissions.insert(owner.to_ascii_lowercase(), "admin".to_owned());
        self.repos.insert(
            key,
            Repo {
                id,
                owner: owner.to_owned(),
                name: name.to_owned(),
                installation_id,
                default_branch: "main".to_owned(),
                clone_url: None,
                git_dir: None,
                created: now,
                permissions,
                issues: BTreeMap::new(),
                next_number: 1,
                labels: Vec::new(),
                files: BTreeMap::new(),
                check_runs: BTreeMap::new(),
                check_suites: BTreeMap::new(),
                drafts: true,
            },
        );
        (id, installation_id)
    }

    pub fn repo(&self, key: &str) -> Option<&Repo> {
        self.repos.get(key)
    }

    pub fn repo_mut(&mut self, key: &str) -> Option<&mut Repo> {
        self.repos.get_mut(key)
    }

    pub fn issue(&self, key: &str, number: u64) -> Option<&Issue> {
        self.repos.get(key)?.issues.get(&number)
    }

    pub fn add_issue(
        &mut self,
        key: &str,
        title: &str,
        body: &str,
        author: &str,
        now: SystemTime,
    ) -> Option<u64> {
        let id = self.next_issue;
        let repo = self.repos.get_mut(key)?;
        self.next_issue += 1;
        let number = repo.next_number;
        repo.next_number += 1;
        repo.issues.insert(
            number,
            Issue {
                id,
                number,
                title: title.to_owned(),
                body: body.to_owned(),
                author: author.to_owned(),
                state: "open".to_owned(),
                state_reason: None,
                closed_at: None,
                labels: Vec::new(),
                comment_ids: Vec::new(),
                reactions: Vec::new(),
                created: now,
                updated: now,
                pull: None,
                parent: None,
                sub_issues: Vec::new(),
            },
        );
        Some(number)
    }

    pub fn add_comment(
        &mut self,
        key: &str,
        number: u64,
        body: &str,
        author: Actor,
        now: SystemTime,
    ) -> Option<u64> {
        let id = self.next_comment;
        let issue = self.repos.get_mut(key)?.issues.get_mut(&number)?;
        self.next_comment += 1;
        issue.comment_ids.push(id);
        issue.updated = now;
        self.comments.insert(
            id,
            Comment {
                id,
                repo: key.to_owned(),
                issue: number,
                body: body.to_owned(),
                author,
                created: now,
                updated: now,
                edits: 0,
                reactions: Vec::new(),
            },
        );
        Some(id)
    }

    /// A comment, if it belongs to the repository `key`.
    pub fn comment_in(&self, key: &str, id: u64) -> Option<&Comment> {
        self.comments.get(&id).filter(|c| c.repo == key)
    }

    pub fn update_comment(&mut self, id: u64, body: &str, now: SystemTime) {
        if let Some(c) = self.comments.get_mut(&id) {
            c.body = body.to_owned();
            c.updated = now;
            c.edits += 1;
        }
    }

    /// Adds labels to an issue, creating unknown ones on the repository. `None` if no such issue.
    /// Makes a label in repository `key`: `None` without the repository, `Some(None)` when
    /// one of that name exists, else its id.
    pub fn create_label(
        &mut self,
        key: &str,
        name: &str,
        color: &str,
        description: Option<String>,
    ) -> Option<Option<u64>> {
        let next_label = &mut self.next_label;
        let repo = self.repos.get_mut(key)?;
        if repo.label_by_name(name).is_some() {
            return Some(None);
        }
        let id = Self::bump(next_label);
        repo.labels.push(Label {
            id,
            name: name.to_owned(),
            color: color.to_owned(),
            description,
            default: false,
        });
        Some(Some(id))
    }

    pub fn add_labels(
        &mut self,
        key: &str,
        number: u64,
        names: &[String],
        now: SystemTime,
    ) -> Option<()> {
        let next_label = &mut self.next_label;
        let repo = self.repos.get_mut(key)?;
        if !repo.issues.contains_key(&number) {
            return None;
        }
        for name in names {
            let label_id = match repo.label_by_name(name) {
                Some(l) => l.id,
                None => {
                    let id = Self::bump(next_label);
                    repo.labels.push(Label {
                        id,
                        name: name.clone(),
                        color: NEW_LABEL_COLOR.to_owned(),
                        description: None,
                        default: false,
                    });
                    id
                }
            };
            let issue = repo.issues.get_mut(&number)?;
            if !issue.labels.contains(&label_id) {
                issue.labels.push(label_id);
                issue.updated = now;
            }
        }
        Some(())
    }

    pub fn remove_label(
        &mut self,
        key: &str,
        number: u64,
        name: &str,
        now: SystemTime,
    ) -> Result<(), RemoveLabel> {
        let repo = self.repos.get_mut(key).ok_or(RemoveLabel::NoIssue)?;
        let label_id = repo.label_by_name(name).map(|l| l.id);
        let issue = repo.issues.get_mut(&number).ok_or(RemoveLabel::NoIssue)?;
        let label_id = label_id.ok_or(RemoveLabel::NotOnIssue)?;
        let before = issue.labels.len();
        issue.labels.retain(|&l| l != label_id);
        if issue.labels.len() == before {
            return Err(RemoveLabel::NotOnIssue);
        }
        issue.updated = now;
        Ok(())
    }

    /// The labels on an issue, as GitHub lists them (sorted by name).
    pub fn issue_labels(&self, key: &str, number: u64) -> Option<Vec<Label>> {
        let repo = self.repos.get(key)?;
        let issue = repo.issues.get(&number)?;
        let mut labels: Vec<Label> = issue
            .labels
            .iter()
            .filter_map(|&id| repo.label(id).cloned())
            .collect();
        labels.sort_by_key(|l| l.name.to_lowercase());
        Some(labels)
    }

    fn reactions_mut(&mut self, target: &Target<'_>) -> Option<&mut Vec<Reaction>> {
        match *target {
            Target::Issue(key, number) => {
                Some(&mut self.repos.get_mut(key)?.issues.get_mut(&number)?.reactions)
            }
            Target::Comment(id) => Some(&mut self.comments.get_mut(&id)?.reactions),
        }
    }

    /// Adds a reaction unless this actor already reacted with this content. Returns the reaction
    /// and whether it is new. `None` if the target does not exist.
    pub fn react(
        &mut self,
        target: &Target<'_>,
        content: &str,
        actor: Actor,
        now: SystemTime,
    ) -> Option<(Reaction, bool)> {
        let id = self.next_reaction;
        let reactions = self.reactions_mut(target)?;
        if let Some(existing) = reactions
            .iter()
            .find(|r| r.content == content && r.actor == actor)
        {
            return Some((existing.clone(), false));
        }
        let reaction = Reaction {
            id,
            content: content.to_owned(),
            actor,
            created: now,
            at: Instant::now(),
        };
        reactions.push(reaction.clone());
        self.next_reaction += 1;
        Some((reaction, true))
    }

    /// Mints an installation token; returns it with its expiry.
    pub fn mint_token(
        &mut self,
        installation_id: u64,
        ttl: Duration,
        permissions: BTreeMap<String, String>,
        repo_ids: Option<Vec<u64>>,
        now: SystemTime,
    ) -> (String, SystemTime) {
        let token = format!("ghs_{}", util::random_alnum(36));
        let expires_at = now + ttl;
        self.tokens.insert(
            token.clone(),
            Token {
                installation_id,
                expires_at,
                revoked: false,
                permissions,
                repo_ids,
            },
        );
        self.tokens_issued += 1;
        (token, expires_at)
    }

    pub fn expire_tokens(&mut self) {
        for t in self.tokens.values_mut() {
            t.revoked = true;
        }
    }
}
