//! The public handle: starting and stopping the server, state set-up, inspection and faults.
//! Reviews (`handle/reviews.rs`), issue planning (`handle/planning.rs`) and webhook payload
//! builders (`handle/payloads.rs`) are set up and inspected in their own files.

mod oauth;
mod payloads;
mod planning;
mod reviews;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::render::{actor_for, login_of, type_of};
use crate::shared::Shared;
use crate::state::{repo_key, ManifestCode, Reaction};
use crate::{
    routes, util, CheckRunRecord, CommentRecord, FakeOptions, Fault, ManifestCredentials,
    PullRecord, ReactionRecord, RequestRecord, TEST_APP_PRIVATE_KEY,
};

/// A running fake. Cheap to clone; the server stops when the last clone is dropped or on
/// [`FakeGitHub::shutdown`].
#[derive(Clone)]
pub struct FakeGitHub {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping the sender also wakes the server; sending is just explicit.
        if let Some(tx) = self.stop.get_mut().ok().and_then(Option::take) {
            let _ = tx.send(());
        }
        // The test that broke GitHub's contract fails here, unless it fails already.
        let broken = std::mem::take(&mut self.shared.model().contract_violations);
        if !broken.is_empty() && !std::thread::panicking() {
            panic!("{}", contract_report(&broken));
        }
    }
}

fn contract_report(broken: &[String]) -> String {
    let mut seen = std::collections::BTreeSet::new();
    let lines: Vec<&str> = broken
        .iter()
        .filter(|v| seen.insert(v.as_str()))
        .map(String::as_str)
        .collect();
    format!(
        "fake-github: {} exchange(s) broke GitHub's published contract \
         (tests/fixtures/github-contract):\n  {}",
        broken.len(),
        lines.join("\n  ")
    )
}

/// Splits `owner/name`; panics on anything else (a test set-up mistake).
fn split_full_name(full_name: &str) -> (&str, &str) {
    match full_name.split_once('/') {
        Some((o, n)) if !o.is_empty() && !n.is_empty() && !n.contains('/') => (o, n),
        _ => panic!("fake-github: {full_name:?} is not an owner/name repository name"),
    }
}

fn key_of(full_name: &str) -> String {
    let (o, n) = split_full_name(full_name);
    repo_key(o, n)
}

impl FakeGitHub {
    /// Starts a fake with [`FakeOptions::default`].
    pub async fn start() -> FakeGitHub {
        Self::start_with(FakeOptions::default()).await
    }

    /// Starts a fake on `127.0.0.1` with a random port.
    pub async fn start_with(opts: FakeOptions) -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake-github: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("fake-github: no local address");
        let shared = Arc::new(Shared::new(&opts, format!("http://{addr}")));
        let app = routes::router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        FakeGitHub {
            inner: Arc::new(Inner {
                shared,
                stop: Mutex::new(Some(tx)),
                task: Mutex::new(Some(task)),
            }),
        }
    }

    fn s(&self) -> &Shared {
        &self.inner.shared
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        self.s().base.clone()
    }

    pub fn app_id(&self) -> u64 {
        self.s().app.id
    }

    pub fn app_slug(&self) -> String {
        self.s().app.slug.clone()
    }

    /// `<slug>[bot]`.
    pub fn bot_login(&self) -> String {
        self.s().app.bot_login()
    }

    /// Stops the server (for every clone of this handle) and waits for it to finish, at most 5 s
    /// (in-flight requests are completed; a request stuck longer is aborted).
    pub async fn shutdown(self) {
        let tx = self.inner.stop.lock().ok().and_then(|mut g| g.take());
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
        let task = self.inner.task.lock().ok().and_then(|mut g| g.take());
        if let Some(mut task) = task {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }

    /// Fails (naming each) if a request or an answer so far broke GitHub's published contract.
    /// Dropping the last handle checks the same; this says it where the test is.
    pub fn assert_contract_kept(&self) {
        let broken = std::mem::take(&mut self.s().model().contract_violations);
        if !broken.is_empty() {
            panic!("{}", contract_report(&broken));
        }
    }

    /// Takes the contract violations so far, for a test that breaks the contract on purpose.
    pub fn take_contract_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.s().model().contract_violations)
    }

    // --- state set-up ---------------------------------------------------------------------------

    /// Creates the repository (public, default branch `main`) and installs the App on its owner.
    /// Returns (repository id, installation id). Same owner => same installation. Idempotent.
    pub fn add_repo(&self, full_name: &str) -> (u64, u64) {
        let (o, n) = split_full_name(full_name);
        self.s().model().add_repo(o, n, SystemTime::now())
    }

    /// permission: "admin" | "maintain" | "write" | "triage" | "read" | "none".
    pub fn set_permission(&self, full_name: &str, login: &str, permission: &str) {
        assert!(
            ["admin", "maintain", "write", "triage", "read", "none"].contains(&permission),
            "fake-github: unknown permission {permission:?}"
        );
        let key = key_of(full_name);
        let mut m = self.s().model();
        let repo = m
            .repo_mut(&key)
            .unwrap_or_else(|| panic!("fake-github: unknown repo {full_name}"));
        repo.permissions
            .insert(login.to_ascii_lowercase(), permission.to_owned());
    }

    /// The repository's label `name` (any case) as (name, colour, description).
    pub fn repo_label(
        &self,
        full_name: &str,
        name: &str,
    ) -> Option<(String, String, Option<String>)> {
        let m = self.s().model();
        let repo = m.repo(&key_of(full_name))?;
        let l = repo.label_by_name(name)?;
        Some((l.name.clone(), l.color.clone(), l.description.clone()))
    }

    /// Whether the repository takes draft pull requests (true by default). GitHub's free plans
    /// offer none in private repositories: `POST /pulls` with `draft: true` answers 422
    /// "Draft pull requests are not supported in this repository.".
    pub fn set_drafts_supported(&self, full_name: &str, supported: bool) {
        let key = key_of(full_name);
        let mut m = self.s().model();
        let repo = m
            .repo_mut(&key)
            .unwrap_or_else(|| panic!("fake-github: unknown repo {full_name}"));
        repo.drafts = supported;
    }

    /// Makes `GET /repos/{o}/{r}/issues?creator=<slug>[bot]` answer an empty list. Whether
    /// GitHub resolves an App's bot login in that filter is not documented; a client must
    /// find its own issues either way.
    pub fn set_creator_filter_ignores_apps(&self, ignores: bool) {
        self.s().model().creator_filter_ignores_apps = ignores;
    }

    /// Creates an open issue; returns its number (from 1 per repository).
    pub fn add_issue(&self, full_name: &str, title: &str, body: &str, author: &str) -> u64 {
        self.s()
            .model()
            .add_issue(&key_of(full_name), title, body, author, SystemTime::now())
            .unwrap_or_else(|| panic!("fake-github: unknown repo {full_name}"))
    }

    /// Adds a comment as user `author` (the bot login `<slug>[bot]` makes it a bot comment);
    /// returns the comment id.
    pub fn add_comment(&self, full_name: &str, issue: u64, body: &str, author: &str) -> u64 {
        let actor = actor_for(self.s(), author);
        self.s()
            .model()
            .add_comment(&key_of(full_name), issue, body, actor, SystemTime::now())
            .unwrap_or_else(|| panic!("fake-github: unknown issue {full_name}#{issue}"))
    }

    /// Puts a label on an issue as a user would (no webhook is sent). Unknown labels are created.
    pub fn label_issue(&self, full_name: &str, issue: u64, label: &str) {
        self.s()
            .model()
            .add_labels(
                &key_of(full_name),
                issue,
                &[label.to_owned()],
                SystemTime::now(),
            )
            .unwrap_or_else(|| panic!("fake-github: unknown issue {full_name}#{issue}"));
    }

    /// A file on the default branch (served by GET contents, base64, with its git blob sha).
    pub fn put_file(&self, full_name: &str, path: &str, content: &str) {
        let key = key_of(full_name);
        let mut m = self.s().model();
        let repo = m
            .repo_mut(&key)
            .unwrap_or_else(|| panic!("fake-github: unknown repo {full_name}"));
        let bytes = content.as_bytes().to_vec();
        let sha = util::git_blob_sha(&bytes);
        repo.files.insert(
            path.trim_matches('/').to_owned(),
            crate::state::File {
                content: bytes,
                sha,
            },
        );
    }

    /// Registers a one-time code for `POST /app-manifests/{code}/conversions`.
    pub fn register_manifest_code(&self, code: &str) {
        self.s().model().manifest_codes.insert(
            code.to_owned(),
            ManifestCode {
                client_secret: util::random_hex(40),
                webhook_secret: util::random_hex(40),
                used: false,
            },
        );
    }

    // --- set-up helpers added beyond the contract -------------------------------------------------

    /// Closes (`"closed"`, with `state_reason` "completed") or reopens (`"open"`) an issue.
    pub fn set_issue_state(&self, full_name: &str, issue: u64, state: &str) {
        assert!(
            state == "open" || state == "closed",
            "fake-github: issue state is open or closed"
        );
        self.change_issue_state(full_name, issue, state, None);
    }

    /// Closes an issue with GitHub's `state_reason`: "completed", "not_planned" or "duplicate".
    pub fn close_issue_as(&self, full_name: &str, issue: u64, reason: &str) {
        assert!(
            matches!(reason, "completed" | "not_planned" | "duplicate"),
            "fake-github: a closed issue's state_reason is completed, not_planned or duplicate"
        );
        self.change_issue_state(full_name, issue, "closed", Some(reason));
    }

    fn change_issue_state(&self, full_name: &str, issue: u64, state: &str, reason: Option<&str>) {
        let key = key_of(full_name);
        let mut m = self.s().model();
        let i = m
            .repo_mut(&key)
            .and_then(|r| r.issues.get_mut(&issue))
            .unwrap_or_else(|| panic!("fake-github: unknown issue {full_name}#{issue}"));
        let now = SystemTime::now();
        i.state = state.to_owned();
        i.updated = now;
        if state == "closed" {
            i.closed_at = Some(now);
            i.state_reason = Some(reason.unwrap_or("completed").to_owned());
        } else {
            i.closed_at = None;
            i.state_reason = Some("reopened".to_owned());
        }
    }

    /// Serves the local bare repository `git_dir` over git's smart HTTP protocol at the
    /// repository's default `clone_url` (`{url}/{owner}/{repo}.git`), as GitHub does: Basic
    /// auth with an installation token of the repository's installation as the password
    /// (fetch needs `contents: read`, push `contents: write`); anything else gets 401.
    pub fn serve_git(&self, full_name: &str, git_dir: &std::path::Path) {
        let key = key_of(full_name);
        let mut m = self.s().model();
        let repo = m
            .repo_mut(&key)
            .unwrap_or_else(|| panic!("fake-github: unknown repo {full_name}"));
        repo.git_dir = Some(git_dir.to_path_buf());
        repo.clone_url = None;
    }

    /// Adds an entry to the App's webhook delivery log, delivered now; returns its id.
    pub fn add_hook_delivery(
        &self,
        guid: &str,
        event: &str,
        action: Option<&str>,
        status_code: u16,
    ) -> u64 {
        let mut m = self.s().model();
        let id = 1_000 + m.hook_deliveries.len() as u64;
        let redelivery = m.hook_deliveries.iter().any(|d| d.guid == guid);
        m.hook_deliveries.push(crate::HookDeliveryRecord {
            id,
            guid: guid.to_owned(),
            delivered_at: std::time::SystemTime::now(),
            redelivery,
            status_code,
            event: event.to_owned(),
            action: action.map(str::to_owned),
            installation_id: None,
            repository_id: None,
        });
        id
    }

    /// Ids of the deliveries whose redelivery was asked for, in order.
    pub fn redelivery_requests(&self) -> Vec<u64> {
        self.s().model().redelivery_requests.clone()
    }

    /// Every request to the git endpoint, in arrival order.
    pub fn git_requests(&self) -> Vec<crate::GitRequestRecord> {
        self.s().model().git_requests.clone()
    }

    /// Makes the repository's `clone_url` point somewhere real (e.g. a local bare repository).
    pub fn set_clone_url(&self, full_name: &str, clone_url: &str) {
        let key = key_of(full_name);
        let mut m = self.s().model();
        let repo = m
            .repo_mut(&key)
            .unwrap_or_else(|| panic!("fake-github: unknown repo {full_name}"));
        repo.clone_url = Some(clone_url.to_owned());
    }

    /// The stable id the fake gives a user login (as rendered in `user.id`).
    pub fn user_id(&self, login: &str) -> u64 {
        if login.eq_ignore_ascii_case(&self.bot_login()) {
            self.bot_user_id()
        } else {
            util::user_id_for(login)
        }
    }

    /// The App bot user's id.
    pub fn bot_user_id(&self) -> u64 {
        self.s().app.bot_id
    }

    /// The secrets a manifest code converts to (known once the code is registered).
    pub fn manifest_credentials(&self, code: &str) -> Option<ManifestCredentials> {
        let m = self.s().model();
        let c = m.manifest_codes.get(code)?;
        Some(ManifestCredentials {
            client_id: self.s().app.client_id.clone(),
            client_secret: c.client_secret.clone(),
            webhook_secret: c.webhook_secret.clone(),
            pem: TEST_APP_PRIVATE_KEY.to_owned(),
        })
    }

    // --- inspection -------------------------------------------------------------------------------

    /// Label names on an issue, sorted by name as GitHub lists them. Empty if unknown.
    pub fn issue_labels(&self, full_name: &str, issue: u64) -> Vec<String> {
        self.s()
            .model()
            .issue_labels(&key_of(full_name), issue)
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.name)
            .collect()
    }

    /// Comments on an issue, oldest first. Empty if unknown.
    pub fn comments(&self, full_name: &str, issue: u64) -> Vec<CommentRecord> {
        let key = key_of(full_name);
        let m = self.s().model();
        let Some(i) = m.issue(&key, issue) else {
            return Vec::new();
        };
        i.comment_ids
            .iter()
            .filter_map(|id| m.comments.get(id))
            .map(|c| CommentRecord {
                id: c.id,
                body: c.body.clone(),
                user_login: login_of(self.s(), &c.author),
                user_type: type_of(&c.author).to_owned(),
                created_at: util::rfc3339(c.created),
                updated_at: util::rfc3339(c.updated),
                edits: c.edits,
            })
            .collect()
    }

    fn reaction_records(&self, reactions: &[Reaction]) -> Vec<ReactionRecord> {
        reactions
            .iter()
            .map(|r| ReactionRecord {
                content: r.content.clone(),
                user_login: login_of(self.s(), &r.actor),
                at: r.at,
            })
            .collect()
    }

    /// Reactions on an issue, oldest first.
    pub fn issue_reactions(&self, full_name: &str, issue: u64) -> Vec<ReactionRecord> {
        let key = key_of(full_name);
        let m = self.s().model();
        m.issue(&key, issue)
            .map(|i| self.reaction_records(&i.reactions))
            .unwrap_or_default()
    }

    /// Reactions on a comment of this repository, oldest first.
    pub fn comment_reactions(&self, full_name: &str, comment_id: u64) -> Vec<ReactionRecord> {
        let key = key_of(full_name);
        let m = self.s().model();
        m.comment_in(&key, comment_id)
            .map(|c| self.reaction_records(&c.reactions))
            .unwrap_or_default()
    }

    /// Pull requests of a repository, oldest first (added beyond the contract). Empty if unknown.
    /// With a local repository, head shas are the branches' current commits.
    pub fn pulls(&self, full_name: &str) -> Vec<PullRecord> {
        let key = key_of(full_name);
        crate::pull_heads::refresh_now(self.s(), &key);
        let m = self.s().model();
        let Some(repo) = m.repo(&key) else {
            return Vec::new();
        };
        repo.issues
            .values()
            .filter_map(|i| Some((i, i.pull.as_ref()?)))
            .map(|(i, p)| PullRecord {
                number: i.number,
                title: i.title.clone(),
                body: i.body.clone(),
                head: p.head.clone(),
                head_sha: p.head_sha.clone(),
                base: p.base.clone(),
                draft: p.draft,
                state: i.state.clone(),
                user_login: login_of(self.s(), &actor_for(self.s(), &i.author)),
                html_url: crate::pulls::html_url(self.s(), repo, i.number),
            })
            .collect()
    }

    /// Check runs of a repository, oldest first (added beyond the contract). Empty if unknown.
    pub fn check_runs(&self, full_name: &str) -> Vec<CheckRunRecord> {
        let key = key_of(full_name);
        let m = self.s().model();
        let Some(repo) = m.repo(&key) else {
            return Vec::new();
        };
        repo.check_runs
            .values()
            .map(|c| CheckRunRecord {
                id: c.id,
                name: c.name.clone(),
                head_sha: c.head_sha.clone(),
                status: c.status.clone(),
                conclusion: c.conclusion.clone(),
                title: c.title.clone(),
                summary: c.summary.clone(),
                text: c.text.clone(),
                details_url: c.details_url.clone(),
            })
            .collect()
    }

    /// Every answered request, in arrival order (requests still in flight are not listed).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.s()
            .model()
            .requests
            .iter()
            .flatten()
            .cloned()
            .collect()
    }

    /// Forgets the request log (added beyond the contract).
    pub fn clear_requests(&self) {
        let mut m = self.s().model();
        // Keep in-flight slots so their records still land; drop the answered ones.
        if m.requests.iter().all(Option::is_some) {
            m.requests.clear();
        } else {
            for r in m.requests.iter_mut() {
                if r.is_some() {
                    *r = None;
                }
            }
        }
    }

    /// Installation tokens minted so far.
    pub fn tokens_issued(&self) -> usize {
        self.s().model().tokens_issued
    }

    /// Polls `what` every ~10 ms until it holds (true) or `timeout` passes (false).
    pub async fn wait_until(&self, what: impl Fn(&FakeGitHub) -> bool, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if what(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    // --- faults -----------------------------------------------------------------------------------

    /// The next `times` requests with this method whose path matches `path_glob` (`*` = one
    /// segment, `**` = any rest; query ignored) get `fault`. First matching rule wins.
    pub fn inject(&self, method: &str, path_glob: &str, fault: Fault, times: usize) {
        self.s()
            .model()
            .faults
            .push(method, path_glob, fault, times);
    }

    /// Fault firings not yet consumed (added beyond the contract).
    pub fn pending_faults(&self) -> usize {
        self.s().model().faults.pending()
    }

    /// Every installation token issued so far becomes invalid (401 Bad credentials).
    pub fn expire_tokens(&self) {
        self.s().model().expire_tokens();
    }
}
