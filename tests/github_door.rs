//! The GitHub door against the real fake GitHub over loopback: token caching and refresh,
//! retries, lost replies, rate limits, pagination, files and the manifest flow.

use bosun::github::client::{convert_manifest, GitHubError};
use bosun::github::reviews::InlineComment;
use bosun::github::types::{Permission, Reaction};
use bosun_core::ids::{AppId, CommentId, InstallationId, IssueNumber, RepoRef};
use fake_github::{AuthKind, FakeGitHub, Fault};
use std::time::{Duration, Instant};

mod support;

use support::door::{count, within, world, DOOR_REPO as REPO};

#[tokio::test]
async fn app_and_repo_installation() {
    within(async {
        let w = world().await;
        let app = w.gh.app().await.expect("app");
        assert_eq!(app.id, AppId(w.fake.app_id()));
        assert_eq!(app.slug, w.fake.app_slug());
        let id = w.gh.repo_installation(&w.repo).await.expect("installed");
        assert_eq!(id, InstallationId(w.installation_id));
        let err =
            w.gh.repo_installation(&RepoRef::new("nobody", "nothing"))
                .await
                .expect_err("not installed");
        assert!(matches!(err, GitHubError::NotFound { .. }), "{err}");
        assert!(w.fake.requests().iter().all(|r| r.auth == AuthKind::AppJwt));
    })
    .await
}

#[tokio::test]
async fn concurrent_first_calls_mint_exactly_one_token() {
    within(async {
        let w = world().await;
        let n = w.fake.add_issue(REPO, "t", "b", "alice");
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (inst, repo) = (w.inst.clone(), w.repo.clone());
            tasks.push(tokio::spawn(async move {
                inst.get_issue(&repo, IssueNumber(n)).await
            }));
        }
        for t in tasks {
            t.await.expect("join").expect("issue");
        }
        assert_eq!(w.fake.tokens_issued(), 1);
        let with_token = w
            .fake
            .requests()
            .iter()
            .filter(|r| r.auth == AuthKind::InstallationToken(w.installation_id))
            .count();
        assert_eq!(with_token, 16);
    })
    .await
}

#[tokio::test]
async fn expired_token_gets_one_401_and_one_refresh() {
    within(async {
        let w = world().await;
        let n = w.fake.add_issue(REPO, "t", "b", "alice");
        w.inst
            .get_issue(&w.repo, IssueNumber(n))
            .await
            .expect("first");
        let before = w.fake.tokens_issued();
        w.fake.expire_tokens();
        let issue = w
            .inst
            .get_issue(&w.repo, IssueNumber(n))
            .await
            .expect("after refresh");
        assert_eq!(issue.title, "t");
        assert_eq!(w.fake.tokens_issued(), before + 1);
        let unauthorized = w.fake.requests().iter().filter(|r| r.status == 401).count();
        assert_eq!(unauthorized, 1);
        // The fresh token is cached: the next call mints nothing.
        w.inst
            .get_issue(&w.repo, IssueNumber(n))
            .await
            .expect("cached");
        assert_eq!(w.fake.tokens_issued(), before + 1);
    })
    .await
}

#[tokio::test]
async fn a_second_401_is_unauthorized() {
    within(async {
        let w = world().await;
        let n = w.fake.add_issue(REPO, "t", "b", "alice");
        let path = format!("/repos/{REPO}/issues/{n}");
        w.fake.inject("GET", &path, Fault::Status(401), 2);
        let err = w
            .inst
            .get_issue(&w.repo, IssueNumber(n))
            .await
            .expect_err("401 twice");
        assert!(matches!(err, GitHubError::Unauthorized { .. }), "{err}");
        assert!(!err.is_transient());
        assert_eq!(w.fake.tokens_issued(), 2, "one mint, one refresh, no more");
        assert_eq!(count(&w.fake, "GET", &path), 2);
    })
    .await
}

#[tokio::test]
async fn lost_reply_on_comment_post_yields_exactly_one_comment() {
    within(async {
        let w = world().await;
        let n = w.fake.add_issue(REPO, "t", "b", "alice");
        let path = format!("/repos/{REPO}/issues/{n}/comments");
        w.fake
            .inject("POST", &path, Fault::StatusAfterEffect(502), 1);
        let marker = "<!-- bosun:tracking -->";
        let body = format!("Working on it.\n{marker}");
        let got = w
            .inst
            .create_comment(&w.repo, IssueNumber(n), &body, marker)
            .await
            .expect("the comment that landed");
        let comments = w.fake.comments(REPO, n);
        assert_eq!(comments.len(), 1, "{comments:?}");
        assert_eq!(got.id, CommentId(comments[0].id));
        assert_eq!(got.body, body);
        assert_eq!(got.author_login, w.fake.bot_login());
        assert_eq!(count(&w.fake, "POST", &path), 1, "never posted twice");
    })
    .await
}

#[tokio::test]
async fn failed_comment_post_without_effect_is_posted_once_more() {
    within(async {
        let w = world().await;
        let n = w.fake.add_issue(REPO, "t", "b", "alice");
        // A user quoting our marker must not be mistaken for our comment.
        let marker = "<!-- bosun:reply:1 -->";
        w.fake
            .add_comment(REPO, n, &format!("quoting {marker}"), "mallory");
        let path = format!("/repos/{REPO}/issues/{n}/comments");
        w.fake.inject("POST", &path, Fault::Status(502), 1);
        let got = w
            .inst
            .create_comment(&w.repo, IssueNumber(n), &format!("hi {marker}"), marker)
            .await
            .expect("posted");
        let comments = w.fake.comments(REPO, n);
        assert_eq!(comments.len(), 2);
        assert_eq!(got.id, CommentId(comments[1].id));
        assert_eq!(count(&w.fake, "POST", &path), 2);
        // A body without its marker is refused before any request.
        let err = w
            .inst
            .create_comment(&w.repo, IssueNumber(n), "no marker", marker)
            .await
            .expect_err("refused");
        assert!(matches!(err, GitHubError::Config(_)));
    })
    .await
}

#[tokio::test]
async fn get_is_retried_through_502s() {
    within(async {
        let w = world().await;
        let n = w.fake.add_issue(REPO, "t", "b", "alice");
        let path = format!("/repos/{REPO}/issues/{n}");
        w.fake.inject("GET", &path, Fault::Status(502), 2);
        w.inst
            .get_issue(&w.repo, IssueNumber(n))
            .await
            .expect("third try");
        assert_eq!(count(&w.fake, "GET", &path), 3);

        // Past max_attempts the error surfaces, and is transient.
        w.fake.inject("GET", &path, Fault::Status(502), 10);
        let err = w
            .inst
            .get_issue(&w.repo, IssueNumber(n))
            .await
            .expect_err("gives up");
        assert!(matches!(err, GitHubError::Server { status: 502 }), "{err}");
        assert!(err.is_transient());
        assert_eq!(count(&w.fake, "GET", &path), 3 + 4);
        let counts = w.gh.call_counts();
        let of = |k: &str| counts.iter().find(|(s, _)| s == k).map_or(0, |(_, c)| *c);
        assert_eq!(of("502"), 6);
        assert!(of("200") >= 1 && of("201") == 1, "{counts:?}");
    })
    .await
}

#[tokio::test]
async fn secondary_rate_limit_is_waited_out() {
    within(async {
        let w = world().await;
        let n = w.fake.add_issue(REPO, "t", "b", "alice");
        w.inst
            .get_issue(&w.repo, IssueNumber(n))
            .await
            .expect("warm token");
        let path = format!("/repos/{REPO}/issues/{n}");
        w.fake.inject(
            "GET",
            &path,
            Fault::SecondaryRateLimit {
                retry_after_secs: 1,
            },
            1,
        );
        let started = Instant::now();
        w.inst
            .get_issue(&w.repo, IssueNumber(n))
            .await
            .expect("after the pause");
        assert!(
            started.elapsed() >= Duration::from_millis(950),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(count(&w.fake, "GET", &path), 3);
    })
    .await
}

#[tokio::test]
async fn primary_limit_beyond_max_wait_is_rate_limited_and_remembered() {
    within(async {
        let w = world().await;
        let n = w.fake.add_issue(REPO, "t", "b", "alice");
        let path = format!("/repos/{REPO}/issues/{n}");
        w.fake.inject(
            "GET",
            &path,
            Fault::PrimaryRateLimit {
                reset_in_secs: 3600,
            },
            1,
        );
        let err = w
            .inst
            .get_issue(&w.repo, IssueNumber(n))
            .await
            .expect_err("limited");
        match err {
            GitHubError::RateLimited { wait } => {
                assert!(wait > Duration::from_secs(3000), "{wait:?}")
            }
            other => panic!("expected RateLimited, got {other}"),
        }
        // The next call for this installation does not even knock.
        let sent = w.fake.requests().len();
        let err = w
            .inst
            .get_issue(&w.repo, IssueNumber(n))
            .await
            .expect_err("still limited");
        assert!(matches!(err, GitHubError::RateLimited { .. }) && err.is_transient());
        assert_eq!(w.fake.requests().len(), sent);
        // The App's own quota is separate.
        w.gh.app().await.expect("app JWT calls still go through");
    })
    .await
}

#[tokio::test]
async fn labels_add_and_remove_with_odd_names() {
    within(async {
        let w = world().await;
        let n = IssueNumber(w.fake.add_issue(REPO, "t", "b", "alice"));
        let odd = "bosun: in progress".to_string();
        let now = w
            .inst
            .add_labels(&w.repo, n, &[odd.clone(), "bug".into()])
            .await
            .expect("added");
        assert!(
            now.contains(&odd) && now.contains(&"bug".to_string()),
            "{now:?}"
        );
        w.inst
            .remove_label(&w.repo, n, &odd)
            .await
            .expect("removed");
        assert_eq!(w.fake.issue_labels(REPO, n.0), vec!["bug".to_string()]);
        // Already gone: still fine.
        w.inst
            .remove_label(&w.repo, n, &odd)
            .await
            .expect("404 is ok");
        w.inst
            .remove_label(&w.repo, n, "never-there")
            .await
            .expect("404 is ok");
    })
    .await
}

#[tokio::test]
async fn list_issues_with_label_sees_open_and_closed() {
    within(async {
        let w = world().await;
        let mut labelled = Vec::new();
        for i in 0..5 {
            let n = w.fake.add_issue(REPO, &format!("issue {i}"), "", "alice");
            if i % 2 == 0 {
                w.fake.label_issue(REPO, n, "bosun:new");
                labelled.push(n);
            }
        }
        let found = w
            .inst
            .list_issues_with_label(&w.repo, "bosun:new")
            .await
            .expect("listed");
        let mut numbers: Vec<u64> = found.iter().map(|i| i.number.0).collect();
        numbers.sort();
        assert_eq!(numbers, labelled);
        assert!(found
            .iter()
            .all(|i| i.body.is_empty() && !i.is_pull_request));
    })
    .await
}

#[tokio::test]
async fn reactions_and_comment_edits() {
    within(async {
        let w = world().await;
        let n = w.fake.add_issue(REPO, "t", "b", "alice");
        let c = w.fake.add_comment(REPO, n, "@bosun-test fix", "alice");
        w.inst
            .react_to_issue(&w.repo, IssueNumber(n), Reaction::Eyes)
            .await
            .expect("issue reaction");
        w.inst
            .react_to_comment(&w.repo, CommentId(c), Reaction::PlusOne)
            .await
            .expect("comment reaction");
        // Reacting twice is fine.
        w.inst
            .react_to_comment(&w.repo, CommentId(c), Reaction::PlusOne)
            .await
            .expect("again");
        assert_eq!(w.fake.issue_reactions(REPO, n)[0].content, "eyes");
        let reactions = w.fake.comment_reactions(REPO, c);
        assert_eq!(reactions.len(), 1);
        assert_eq!(reactions[0].content, "+1");

        let marker = "<!-- m -->";
        let mine = w
            .inst
            .create_comment(&w.repo, IssueNumber(n), &format!("v1 {marker}"), marker)
            .await
            .expect("created");
        let edited = w
            .inst
            .update_comment(&w.repo, mine.id, &format!("v2 {marker}"))
            .await
            .expect("edited");
        assert_eq!(edited.body, format!("v2 {marker}"));
        let record = w.fake.comments(REPO, n).pop().expect("ours");
        assert_eq!(record.edits, 1);
    })
    .await
}

#[tokio::test]
async fn permissions_come_from_role_names() {
    within(async {
        let w = world().await;
        for (set, want) in [
            ("admin", Permission::Admin),
            ("maintain", Permission::Maintain),
            ("write", Permission::Write),
            ("triage", Permission::Triage),
            ("read", Permission::Read),
            ("none", Permission::None),
        ] {
            let login = format!("user-{set}");
            w.fake.set_permission(REPO, &login, set);
            let got = w
                .inst
                .collaborator_permission(&w.repo, &login)
                .await
                .expect("permission");
            assert_eq!(got, want, "{set}");
        }
        let stranger = w
            .inst
            .collaborator_permission(&w.repo, "stranger")
            .await
            .expect("permission");
        assert!(!stranger.can_write());
    })
    .await
}

#[tokio::test]
async fn get_file_decodes_and_reports_missing() {
    within(async {
        let w = world().await;
        let text = "agent: claude\nlabels:\n  new: \"bosun:new\"\n# a comment line long enough to wrap the base64 past sixty characters ✓\n";
        w.fake.put_file(REPO, ".github/bosun.yml", text);
        let file = w
            .inst
            .get_file(&w.repo, ".github/bosun.yml")
            .await
            .expect("read")
            .expect("present");
        assert_eq!(file.text, text);
        assert!(!file.sha.is_empty());
        assert_eq!(w.inst.get_file(&w.repo, ".github/missing.yml").await.expect("read"), None);
        let repo = w.inst.repository(&w.repo).await.expect("repo");
        assert_eq!(repo.default_branch, "main");
        assert_eq!(repo.full_name, REPO);
    })
    .await
}

#[tokio::test]
async fn list_comments_follows_pagination() {
    within(async {
        let w = world().await;
        let n = w.fake.add_issue(REPO, "t", "b", "alice");
        for i in 0..130 {
            w.fake
                .add_comment(REPO, n, &format!("comment {i}"), "alice");
        }
        let comments = w
            .inst
            .list_comments(&w.repo, IssueNumber(n))
            .await
            .expect("all");
        assert_eq!(comments.len(), 130);
        assert_eq!(comments[0].body, "comment 0");
        assert_eq!(comments[129].body, "comment 129");
        let path = format!("/repos/{REPO}/issues/{n}/comments");
        assert_eq!(count(&w.fake, "GET", &path), 2);
    })
    .await
}

#[tokio::test]
async fn manifest_code_round_trip_and_bad_code() {
    within(async {
        let fake = FakeGitHub::start().await;
        fake.register_manifest_code("abc123XYZ");
        let conv = convert_manifest(&fake.url(), "abc123XYZ", "bosun-test")
            .await
            .expect("converted");
        assert!(conv.id.0 > 0 && !conv.slug.is_empty() && !conv.client_id.is_empty());
        assert!(conv.pem.contains("PRIVATE KEY"));
        assert!(!format!("{conv:?}").contains("PRIVATE KEY"));
        let before = fake.requests().len();
        let err = convert_manifest(&fake.url(), "abc/../../app", "bosun-test")
            .await
            .expect_err("bad code");
        assert!(matches!(err, GitHubError::Config(_)));
        assert_eq!(fake.requests().len(), before, "no request for a bad code");
    })
    .await
}

#[tokio::test]
async fn a_review_whose_answer_was_lost_is_posted_once_with_its_inline_comments() {
    within(async {
        let w = world().await;
        let pr = w
            .inst
            .open_draft_pull(
                &w.repo,
                &bosun::github::pulls::NewPull {
                    title: "Fix",
                    head: "bosun/1-fix",
                    base: "main",
                    body: "Closes #1",
                },
            )
            .await
            .expect("pull opened");
        let path = format!("/repos/{REPO}/pulls/{}/reviews", pr.number);
        w.fake
            .inject("POST", &path, Fault::StatusAfterEffect(502), 1);
        let marker = "<!-- bosun:peer-review 1:1 -->";
        let comments = vec![
            InlineComment {
                path: "src/a.rs".into(),
                line: 3,
                body: "**blocker**: off by one".into(),
            },
            InlineComment {
                path: "src/b.rs".into(),
                line: 9,
                body: "**nit**: name".into(),
            },
        ];
        let body = format!("Two findings.\n{marker}");
        let id = w
            .inst
            .create_review(&w.repo, pr.number, "abc123", &body, &comments, marker)
            .await
            .expect("the review that landed");
        let reviews = w.fake.reviews(REPO, pr.number);
        assert_eq!(reviews.len(), 1, "{reviews:?}");
        assert_eq!(reviews[0].id, id.0);
        assert_eq!(reviews[0].state, "COMMENTED");
        assert_eq!(reviews[0].user_login, w.fake.bot_login());
        let threads = w.fake.review_threads(REPO, pr.number);
        let spots: Vec<(String, Option<u64>)> =
            threads.iter().map(|t| (t.path.clone(), t.line)).collect();
        assert_eq!(
            spots,
            vec![
                ("src/a.rs".to_string(), Some(3)),
                ("src/b.rs".to_string(), Some(9))
            ]
        );
        assert_eq!(count(&w.fake, "POST", &path), 1, "never posted twice");
        let err = w
            .inst
            .create_review(&w.repo, pr.number, "abc123", "no marker", &[], marker)
            .await
            .expect_err("refused");
        assert!(matches!(err, GitHubError::Config(_)));
    })
    .await
}
