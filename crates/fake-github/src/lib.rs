//! A stateful fake of the GitHub REST API, served over real HTTP on 127.0.0.1.
//!
//! It is the one deliberate stand-in for GitHub in bosun's integration tests, benchmarks and demo.
//! Shapes (field names, status codes, error bodies, `Link` pagination, rate-limit headers) follow the
//! recorded material in `shared/fixtures`. See `CONTRACT.md` for the routes and the API.

#![recursion_limit = "256"]

mod anchors;
mod auth;
mod checks;
pub mod contract;
mod contract_gate;
mod diff;
mod error;
mod faults;
mod git;
mod git_http;
mod graphql;
mod graphql_projection;
mod handle;
mod middleware;
mod oauth;
mod pull_heads;
mod pulls;
mod render;
mod review_shapes;
mod reviews;
mod routes;
mod shared;
mod state;
mod sub_issues;
mod util;

use std::time::{Duration, Instant};

pub use handle::FakeGitHub;

/// The test App's private key (PKCS#1 RSA PEM). For tests only.
pub const TEST_APP_PRIVATE_KEY: &str = include_str!("../keys/test-app.pem");
/// The public half of [`TEST_APP_PRIVATE_KEY`] (SPKI PEM).
pub const TEST_APP_PUBLIC_KEY: &str = include_str!("../keys/test-app.pub.pem");

/// How the fake App is configured.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// The App id, expected as `iss` in App JWTs.
    pub app_id: u64,
    /// The App slug; the App's bot user is `<slug>[bot]`.
    pub app_slug: String,
    /// PEM public key App JWTs are verified with (RS256).
    pub public_key_pem: String,
    /// Lifetime of minted installation tokens.
    pub token_ttl: Duration,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            app_id: 4242,
            app_slug: "bosun-test".to_owned(),
            public_key_pem: TEST_APP_PUBLIC_KEY.to_owned(),
            token_ttl: Duration::from_secs(3600),
        }
    }
}

/// What an injected fault does to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with a GitHub-shaped error body, without doing anything.
    Status(u16),
    /// Perform the request's effect, then answer this status (a lost reply).
    StatusAfterEffect(u16),
    /// 403 with `retry-after` and GitHub's secondary-rate-limit message.
    SecondaryRateLimit { retry_after_secs: u64 },
    /// 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` = now + `reset_in_secs`.
    PrimaryRateLimit { reset_in_secs: u64 },
    /// Answer normally after this delay.
    Delay(Duration),
    /// 422 from GitHub's content-creation limit (`errors[].message` "was submitted too
    /// quickly"), without doing anything. It can last a minute or more on GitHub.
    SubmittedTooQuickly,
}

/// An issue comment as stored by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRecord {
    pub id: u64,
    pub body: String,
    pub user_login: String,
    /// `"User"` or `"Bot"`.
    pub user_type: String,
    pub created_at: String,
    pub updated_at: String,
    /// How many times the comment was edited through `PATCH`.
    pub edits: usize,
}

/// A reaction on an issue or a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReactionRecord {
    pub content: String,
    pub user_login: String,
    pub at: Instant,
}

/// One entry of the App's webhook delivery log (`GET /app/hook/deliveries`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookDeliveryRecord {
    pub id: u64,
    /// The `X-GitHub-Delivery` header of the delivery (shared by its redeliveries).
    pub guid: String,
    pub delivered_at: std::time::SystemTime,
    pub redelivery: bool,
    /// What the App's server answered; 0 when it could not be reached.
    pub status_code: u16,
    pub event: String,
    pub action: Option<String>,
    pub installation_id: Option<u64>,
    pub repository_id: Option<u64>,
}

/// One request to the git smart-HTTP endpoint (see `FakeGitHub::serve_git`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitRequestRecord {
    pub method: String,
    /// The path, without the query string (`/o/r.git/info/refs`, `/o/r.git/git-upload-pack`, …).
    pub path: String,
    pub query: String,
    pub status: u16,
    /// The Basic-auth user name sent, if any (`x-access-token` for installation tokens).
    pub user: Option<String>,
    /// Whether the password was a valid installation token of the repository's installation.
    pub token_valid: bool,
}

/// One HTTP request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The final status sent (after any fault).
    pub status: u16,
    pub auth: AuthKind,
    /// When the request arrived.
    pub at: Instant,
    /// The raw query string (without `?`), empty if none. Added beyond the contract.
    pub query: String,
}

/// The credential a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    None,
    AppJwt,
    InstallationToken(u64),
    /// A user access token (`ghu_…`) from the OAuth web flow. Added beyond the contract.
    UserToken,
    /// A credential was sent but was not valid (bad JWT, unknown or expired token).
    Invalid,
}

/// Credentials returned by a manifest conversion (see [`FakeGitHub::manifest_credentials`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: String,
    /// The private key handed out (always [`TEST_APP_PRIVATE_KEY`]).
    pub pem: String,
}

/// A pull request as stored by the fake (see [`FakeGitHub::pulls`]). Added beyond the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRecord {
    /// Shared with issues: a pull request is also issue `number`.
    pub number: u64,
    pub title: String,
    pub body: String,
    /// The head branch name (without `owner:`).
    pub head: String,
    /// The head branch's commit in the local repository, or 40 zeros without one.
    pub head_sha: String,
    pub base: String,
    pub draft: bool,
    /// `"open"` or `"closed"`.
    pub state: String,
    pub user_login: String,
    pub html_url: String,
}

/// A check run as stored by the fake (see [`FakeGitHub::check_runs`]). Added beyond the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRunRecord {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    /// `"queued"`, `"in_progress"` or `"completed"`.
    pub status: String,
    pub conclusion: Option<String>,
    /// `output.title` / `output.summary` / `output.text`.
    pub title: Option<String>,
    pub summary: Option<String>,
    pub text: Option<String>,
    /// As sent by the client (`None` if never sent; the API then shows the App's homepage).
    pub details_url: Option<String>,
}

/// A pull request review comment (see [`FakeGitHub::review_threads`]). Added beyond the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewCommentRecord {
    pub id: u64,
    pub body: String,
    /// REST form: the App's bot is `<slug>[bot]`.
    pub user_login: String,
    /// The thread's root comment, for replies.
    pub in_reply_to: Option<u64>,
    pub path: String,
    /// `None` for a comment on the whole file.
    pub line: Option<u64>,
}

/// A review thread: a root comment and its replies (see [`FakeGitHub::review_threads`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewThreadRecord {
    /// The GraphQL id (`PRRT_…`), what `resolveReviewThread` takes.
    pub node_id: String,
    pub resolved: bool,
    /// Who resolved it (REST login form), while resolved.
    pub resolved_by: Option<String>,
    pub path: String,
    pub line: Option<u64>,
    /// Oldest first; the first one opened the thread.
    pub comments: Vec<ReviewCommentRecord>,
}

/// A pull request review (see [`FakeGitHub::reviews`]). Added beyond the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRecord {
    pub id: u64,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED` or `PENDING`.
    pub state: String,
    pub body: String,
    pub user_login: String,
    pub commit_id: String,
    pub comment_ids: Vec<u64>,
}

/// An issue (or the issue side of a pull request) as stored (see [`FakeGitHub::issue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRecord {
    pub number: u64,
    /// The global id (what `sub_issue_id` takes).
    pub id: u64,
    pub title: String,
    pub body: String,
    /// Sorted by name, as GitHub lists them.
    pub labels: Vec<String>,
    pub user_login: String,
    /// `"open"` or `"closed"`.
    pub state: String,
    pub state_reason: Option<String>,
    /// The parent issue's number, for a sub-issue.
    pub parent: Option<u64>,
    /// Sub-issue numbers, in order.
    pub sub_issues: Vec<u64>,
    pub is_pull_request: bool,
}
