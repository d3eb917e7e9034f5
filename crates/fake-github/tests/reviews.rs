//! Pull request reviews and review comments: threads with replies, the REST shapes, GitHub's
//! 422s (own pull request, blank body, one pending review, paths and lines outside the diff),
//! the live head commit after a push, permissions, faults and the test-side API.

mod common;

use common::*;
use fake_github::{FakeGitHub, Fault, ReviewCommentRecord, ReviewRecord};
use serde_json::{json, Value};

const ZEROS: &str = "0000000000000000000000000000000000000000";

async fn post(fake: &FakeGitHub, token: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, _, v) = call(fake, token, "POST", path, Some(body)).await;
    (status, v)
}

async fn get(fake: &FakeGitHub, token: &str, path: &str) -> (u16, Value) {
    let (status, _, v) = call(fake, token, "GET", path, None).await;
    (status, v)
}

#[tokio::test]
async fn comments_and_replies_form_threads() {
    let (fake, token, _) = fixture().await;
    let pr = open_pull(&fake, &token, "bosun/issue-1").await;
    let url = fake.url();
    let root =
        fake.add_review_comment("octo/widgets", pr, "alice", "src/lib.rs", 10, "Rename this");
    let other = fake.add_review_comment("octo/widgets", pr, "bob", "src/main.rs", 3, "Why?");

    // The bot replies through the API; the reply joins the root's thread.
    let replies = format!("/repos/octo/widgets/pulls/{pr}/comments/{root}/replies");
    let (status, headers, reply) = call(
        &fake,
        &token,
        "POST",
        &replies,
        Some(json!({ "body": "Renamed in the next commit" })),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let reply_id = reply["id"].as_u64().unwrap();
    assert_eq!(
        headers["location"],
        format!("{url}/repos/octo/widgets/pulls/comments/{reply_id}").as_str()
    );
    assert_eq!(reply["in_reply_to_id"], root);
    assert_eq!(reply["user"]["login"], fake.bot_login());
    assert_eq!(reply["user"]["type"], "Bot");
    assert_eq!(reply["path"], "src/lib.rs");
    assert_eq!(reply["line"], 10);
    assert_eq!(reply["side"], "RIGHT");
    assert_eq!(reply["commit_id"], ZEROS);
    assert_eq!(reply["body"], "Renamed in the next commit");
    assert_eq!(
        reply["html_url"],
        format!("{url}/octo/widgets/pull/{pr}#discussion_r{reply_id}")
    );
    assert_eq!(
        reply["pull_request_url"],
        format!("{url}/repos/octo/widgets/pulls/{pr}")
    );
    assert_eq!(
        reply["_links"]["self"]["href"],
        format!("{url}/repos/octo/widgets/pulls/comments/{reply_id}")
    );
    assert!(reply["node_id"].is_string());
    assert!(reply["diff_hunk"].as_str().unwrap().starts_with("@@ "));
    assert!(reply["pull_request_review_id"].is_u64());

    // A reply to the reply still threads under the root (GitHub has one level of replies).
    let (status, second) = post(
        &fake,
        &token,
        &format!("/repos/octo/widgets/pulls/{pr}/comments/{reply_id}/replies"),
        json!({ "body": "Done" }),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["in_reply_to_id"], root);

    let threads = fake.review_threads("octo/widgets", pr);
    assert_eq!(threads.len(), 2);
    assert!(threads[0].node_id.starts_with("PRRT_"));
    assert_ne!(threads[0].node_id, threads[1].node_id);
    assert!(!threads[0].resolved);
    assert_eq!(threads[0].resolved_by, None);
    assert_eq!(
        (threads[0].path.as_str(), threads[0].line),
        ("src/lib.rs", Some(10))
    );
    let ids: Vec<u64> = threads[0].comments.iter().map(|c| c.id).collect();
    assert_eq!(ids, vec![root, reply_id, second["id"].as_u64().unwrap()]);
    assert_eq!(
        threads[0].comments[1],
        ReviewCommentRecord {
            id: reply_id,
            body: "Renamed in the next commit".into(),
            user_login: fake.bot_login(),
            in_reply_to: Some(root),
            path: "src/lib.rs".into(),
            line: Some(10),
        }
    );
    assert_eq!(threads[1].comments.len(), 1);
    assert_eq!(threads[1].comments[0].id, other);
    assert_eq!(threads[1].comments[0].user_login, "bob");

    // Listed oldest first; a root has no in_reply_to_id key; get answers the same shape.
    let (status, list) = get(
        &fake,
        &token,
        &format!("/repos/octo/widgets/pulls/{pr}/comments"),
    )
    .await;
    assert_eq!(status, 200);
    let listed: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, vec![root, other, reply_id, ids[2]]);
    assert!(list[0].get("in_reply_to_id").is_none());
    assert_eq!(list[0]["user"]["login"], "alice");
    // Every standalone comment and reply has a review of its own.
    let review_ids: std::collections::HashSet<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pull_request_review_id"].as_u64().unwrap())
        .collect();
    assert_eq!(review_ids.len(), 4);
    let (status, one) = get(
        &fake,
        &token,
        &format!("/repos/octo/widgets/pulls/comments/{root}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(one, list[0]);
    assert_eq!(one, fake.review_comment_json("octo/widgets", root));

    // The pull request counts its review comments.
    let (_, pull) = get(&fake, &token, &format!("/repos/octo/widgets/pulls/{pr}")).await;
    assert_eq!(pull["review_comments"], 4);
    assert_eq!(pull, fake.pull_json("octo/widgets", pr));

    // Paginated with GitHub's Link header.
    let (_, headers, page) = call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/pulls/{pr}/comments?per_page=3"),
        None,
    )
    .await;
    assert_eq!(page.as_array().unwrap().len(), 3);
    assert!(headers["link"].to_str().unwrap().contains("rel=\"next\""));
}

#[tokio::test]
async fn reply_and_get_errors() {
    let (fake, token, issue) = fixture().await;
    let pr = open_pull(&fake, &token, "one").await;
    let pr2 = open_pull(&fake, &token, "two").await;
    let root = fake.add_review_comment("octo/widgets", pr, "alice", "a.rs", 1, "x");
    let elsewhere = fake.add_review_comment("octo/widgets", pr2, "alice", "a.rs", 1, "y");
    let replies = |n: u64, c: u64| format!("/repos/octo/widgets/pulls/{n}/comments/{c}/replies");

    // A comment that is not on this pull request, or none at all: 404.
    for (n, c) in [(pr, elsewhere), (pr, 999), (issue, root), (777, root)] {
        let (status, body) = post(&fake, &token, &replies(n, c), json!({ "body": "hi" })).await;
        assert_eq!(status, 404, "{n}/{c}: {body}");
        assert_eq!(body["message"], "Not Found");
    }
    // No body, a blank one, the wrong type.
    let (status, body) = post(&fake, &token, &replies(pr, root), json!({})).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "Invalid request.\n\n\"body\" wasn't supplied."
    );
    assert_eq!(
        body["documentation_url"],
        "https://docs.github.com/rest/pulls/comments#create-a-reply-for-a-review-comment"
    );
    let (status, body) = post(&fake, &token, &replies(pr, root), json!({ "body": " " })).await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "Validation Failed");
    assert_eq!(
        body["errors"],
        json!([{ "resource": "PullRequestReviewComment", "code": "missing_field", "field": "body" }])
    );
    let (status, body) = post(&fake, &token, &replies(pr, root), json!({ "body": 5 })).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "Invalid request.\n\nFor 'properties/body', 5 is not a string."
    );
    // Unknown comment ids on get.
    let (status, _) = get(&fake, &token, "/repos/octo/widgets/pulls/comments/12345").await;
    assert_eq!(status, 404);
    let (status, _) = get(
        &fake,
        &token,
        &format!("/repos/octo/widgets/pulls/{issue}/comments"),
    )
    .await;
    assert_eq!(status, 404);
    // Nothing was added.
    assert_eq!(fake.review_threads("octo/widgets", pr)[0].comments.len(), 1);

    // Without a token: 401 as everywhere.
    let (status, _, body) = split(
        req(&fake, "POST", &replies(pr, root))
            .json(&json!({ "body": "hi" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Bad credentials");
    // This test sends reply bodies that break the schema on purpose.
    take_deliberate_request_violations(&fake);
}

#[tokio::test]
async fn single_review_comments_through_the_api() {
    let (fake, token, _) = fixture().await;
    let pr = open_pull(&fake, &token, "feature").await;
    let path = format!("/repos/octo/widgets/pulls/{pr}/comments");

    let (status, c) = post(
        &fake,
        &token,
        &path,
        json!({ "body": "Note", "commit_id": "abc123", "path": "src/a.rs", "line": 4, "side": "LEFT" }),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["commit_id"], "abc123");
    assert_eq!(c["side"], "LEFT");
    assert_eq!(c["line"], 4);
    assert_eq!(c["subject_type"], "line");
    let root = c["id"].as_u64().unwrap();

    // `in_reply_to` makes it a reply: the other fields are ignored.
    let (status, r) = post(
        &fake,
        &token,
        &path,
        json!({ "body": "Reply", "commit_id": "abc123", "path": "ignored", "in_reply_to": root }),
    )
    .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["in_reply_to_id"], root);
    assert_eq!(r["path"], "src/a.rs");
    let (status, _) = post(
        &fake,
        &token,
        &path,
        json!({ "body": "Reply", "commit_id": "abc123", "path": "x", "in_reply_to": 4242 }),
    )
    .await;
    assert_eq!(status, 404);

    // A comment on the whole file.
    let (status, f) = post(
        &fake,
        &token,
        &path,
        json!({ "body": "File", "commit_id": "abc123", "path": "src/b.rs", "subject_type": "file" }),
    )
    .await;
    assert_eq!(status, 201, "{f}");
    assert_eq!(f["line"], Value::Null);
    assert_eq!(f["subject_type"], "file");

    // The schema's required fields, the line, the side.
    let (status, e) = post(&fake, &token, &path, json!({ "body": "x" })).await;
    assert_eq!(status, 422);
    assert_eq!(
        e["message"],
        "Invalid request.\n\n\"commit_id\", \"path\" weren't supplied."
    );
    let (status, e) = post(
        &fake,
        &token,
        &path,
        json!({ "body": "x", "commit_id": "a", "path": "p" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        e["errors"],
        json!([{ "resource": "PullRequestReviewComment", "code": "missing_field", "field": "line" }])
    );
    let (status, e) = post(
        &fake,
        &token,
        &path,
        json!({ "body": "x", "commit_id": "a", "path": "p", "line": 1, "side": "UP" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        e["message"],
        "Invalid request.\n\nFor 'properties/side', \"UP\" is not a member of [\"LEFT\", \"RIGHT\"]."
    );
    assert_eq!(fake.review_threads("octo/widgets", pr).len(), 2);
    // This test sends review-comment bodies that break the schema on purpose.
    take_deliberate_request_violations(&fake);
}

#[tokio::test]
async fn reviews_create_list_and_pending() {
    let (fake, token, _) = fixture().await;
    let pr = open_pull(&fake, &token, "feature").await;
    let url = fake.url();
    let reviews = format!("/repos/octo/widgets/pulls/{pr}/reviews");
    let (alice_review, alice_comments) = fake.add_review(
        "octo/widgets",
        pr,
        "alice",
        "CHANGES_REQUESTED",
        "Needs work",
        &[("src/a.rs", 3, "Off by one"), ("src/b.rs", 7, "Typo")],
    );
    assert_eq!(alice_comments.len(), 2);

    let (status, review) = post(
        &fake,
        &token,
        &reviews,
        json!({
            "body": "Answered inline",
            "event": "COMMENT",
            "comments": [{ "path": "src/c.rs", "line": 2, "body": "Explained here" }],
        }),
    )
    .await;
    assert_eq!(status, 200, "{review}");
    let id = review["id"].as_u64().unwrap();
    assert_eq!(review["state"], "COMMENTED");
    assert_eq!(review["body"], "Answered inline");
    assert_eq!(review["user"]["login"], fake.bot_login());
    assert_eq!(review["commit_id"], ZEROS);
    assert_eq!(
        review["html_url"],
        format!("{url}/octo/widgets/pull/{pr}#pullrequestreview-{id}")
    );
    assert_eq!(
        review["_links"]["pull_request"]["href"],
        format!("{url}/repos/octo/widgets/pulls/{pr}")
    );
    assert!(review["submitted_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(review, fake.review_json("octo/widgets", pr, id));

    // Each inline comment opened a thread tied to its review.
    let threads = fake.review_threads("octo/widgets", pr);
    assert_eq!(threads.len(), 3);
    assert_eq!(threads[2].path, "src/c.rs");
    let recorded = fake.reviews("octo/widgets", pr);
    assert_eq!(recorded.len(), 2);
    assert_eq!(
        recorded[0],
        ReviewRecord {
            id: alice_review,
            state: "CHANGES_REQUESTED".into(),
            body: "Needs work".into(),
            user_login: "alice".into(),
            commit_id: ZEROS.into(),
            comment_ids: alice_comments,
        }
    );
    assert_eq!(recorded[1].comment_ids, vec![threads[2].comments[0].id]);
    let (_, c) = get(
        &fake,
        &token,
        &format!(
            "/repos/octo/widgets/pulls/comments/{}",
            recorded[1].comment_ids[0]
        ),
    )
    .await;
    assert_eq!(c["pull_request_review_id"], id);

    // No event: a pending review, without submitted_at; a second one (or any comment) is refused.
    let (status, pending) = post(&fake, &token, &reviews, json!({ "body": "draft" })).await;
    assert_eq!(status, 200, "{pending}");
    assert_eq!(pending["state"], "PENDING");
    assert!(pending.get("submitted_at").is_none());
    let one_pending = json!(["User can only have one pending review per pull request"]);
    let (status, e) = post(
        &fake,
        &token,
        &reviews,
        json!({ "body": "again", "event": "COMMENT" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(e["message"], "Unprocessable Entity");
    assert_eq!(e["errors"], one_pending);
    let (status, e) = post(
        &fake,
        &token,
        &format!(
            "/repos/octo/widgets/pulls/{pr}/comments/{}/replies",
            alice_comments_first(&fake, pr)
        ),
        json!({ "body": "hi" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(e["errors"], one_pending);

    // Listed oldest first; the caller sees its own pending review; others' are hidden.
    fake.add_review(
        "octo/widgets",
        pr,
        "carol",
        "PENDING",
        "",
        &[("src/z.rs", 1, "hidden")],
    );
    let (status, headers, list) =
        call(&fake, &token, "GET", &format!("{reviews}?per_page=2"), None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(headers["link"]
        .to_str()
        .unwrap()
        .contains("page=2>; rel=\"next\""));
    let (_, all) = get(&fake, &token, &format!("{reviews}?per_page=100")).await;
    let states: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, vec!["CHANGES_REQUESTED", "COMMENTED", "PENDING"]);
    let (_, comments) = get(
        &fake,
        &token,
        &format!("/repos/octo/widgets/pulls/{pr}/comments"),
    )
    .await;
    assert_eq!(
        comments.as_array().unwrap().len(),
        3,
        "carol's pending comment is hidden"
    );
    assert_eq!(fake.review_threads("octo/widgets", pr).len(), 4);
}

fn alice_comments_first(fake: &FakeGitHub, pr: u64) -> u64 {
    fake.review_threads("octo/widgets", pr)[0].comments[0].id
}

#[tokio::test]
async fn reviews_refused_like_github() {
    let (fake, token, issue) = fixture().await;
    let pr = open_pull(&fake, &token, "feature").await;
    let reviews = format!("/repos/octo/widgets/pulls/{pr}/reviews");
    let docs = "https://docs.github.com/rest/pulls/reviews#create-a-review-for-a-pull-request";

    // The bot opened this pull request: it may not approve it nor request changes on it.
    for (event, reason) in [
        (
            "REQUEST_CHANGES",
            "Review Can not request changes on your own pull request",
        ),
        ("APPROVE", "Review Can not approve your own pull request"),
    ] {
        let (status, e) = post(
            &fake,
            &token,
            &reviews,
            json!({ "body": "b", "event": event }),
        )
        .await;
        assert_eq!(status, 422, "{event}");
        assert_eq!(
            e,
            json!({
                "message": "Unprocessable Entity",
                "errors": [reason],
                "documentation_url": docs,
                "status": "422",
            })
        );
    }
    // COMMENT needs a body (or inline comments).
    let (status, e) = post(&fake, &token, &reviews, json!({ "event": "COMMENT" })).await;
    assert_eq!(status, 422);
    assert_eq!(e["errors"], json!(["Body can't be blank"]));
    let (status, _) = post(
        &fake,
        &token,
        &reviews,
        json!({ "event": "COMMENT", "comments": [{ "path": "a", "line": 1, "body": "c" }] }),
    )
    .await;
    assert_eq!(status, 200);
    // Schema errors.
    let (status, e) = post(&fake, &token, &reviews, json!({ "event": "LGTM" })).await;
    assert_eq!(status, 422);
    assert_eq!(
        e["message"],
        "Invalid request.\n\nFor 'properties/event', \"LGTM\" is not a member of [\"APPROVE\", \"REQUEST_CHANGES\", \"COMMENT\"]."
    );
    let (status, e) = post(
        &fake,
        &token,
        &reviews,
        json!({ "event": "COMMENT", "body": "b", "comments": [{ "line": 1 }] }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        e["message"],
        "Invalid request.\n\n\"path\", \"body\" weren't supplied."
    );
    // A plain issue's number, an unknown one.
    for n in [issue, 999] {
        let (status, _) = post(
            &fake,
            &token,
            &format!("/repos/octo/widgets/pulls/{n}/reviews"),
            json!({ "body": "b", "event": "COMMENT" }),
        )
        .await;
        assert_eq!(status, 404);
    }
    assert_eq!(fake.reviews("octo/widgets", pr).len(), 1);

    // Someone else may request changes on the bot's pull request.
    let (id, _) = fake.add_review("octo/widgets", pr, "alice", "CHANGES_REQUESTED", "No", &[]);
    let (_, list) = get(&fake, &token, &reviews).await;
    assert_eq!(list[1]["id"], id);
    assert_eq!(list[1]["state"], "CHANGES_REQUESTED");
    assert_eq!(list[1]["user"]["login"], "alice");
    // This test sends review bodies that break the schema on purpose.
    take_deliberate_request_violations(&fake);
}

#[tokio::test]
#[should_panic(expected = "GitHub refuses APPROVED by the author")]
async fn the_test_api_refuses_approving_ones_own_pull_request() {
    let (fake, token, _) = fixture().await;
    let pr = open_pull(&fake, &token, "feature").await;
    let bot = fake.bot_login();
    fake.add_review("octo/widgets", pr, &bot, "APPROVED", "", &[]);
}

#[tokio::test]
async fn paths_and_lines_are_checked_against_the_local_repository() {
    let local = LocalRepo::create();
    let (fake, token, _) = fixture().await;
    fake.set_clone_url("octo/widgets", &local.file_url());
    let pr = open_pull(&fake, &token, "feature").await;
    let reviews = format!("/repos/octo/widgets/pulls/{pr}/reviews");
    let review_with = |path: &str, line: u64| json!({ "event": "COMMENT", "body": "b", "comments": [{ "path": path, "line": line, "body": "c" }] });

    let (status, e) = post(&fake, &token, &reviews, review_with("missing.txt", 1)).await;
    assert_eq!(status, 422);
    assert_eq!(e["errors"], json!(["Path could not be resolved"]));
    let (status, e) = post(&fake, &token, &reviews, review_with("README.md", 9)).await;
    assert_eq!(status, 422);
    assert_eq!(e["errors"], json!(["Line could not be resolved"]));
    assert!(fake.reviews("octo/widgets", pr).is_empty());

    // README.md went from "hello" to "hello\nworld": line 2 is the added one.
    let (status, review) = post(&fake, &token, &reviews, review_with("README.md", 2)).await;
    assert_eq!(status, 200, "{review}");
    assert_eq!(review["commit_id"], local.feature_sha.as_str());
    let threads = fake.review_threads("octo/widgets", pr);
    let (_, c) = get(
        &fake,
        &token,
        &format!(
            "/repos/octo/widgets/pulls/comments/{}",
            threads[0].comments[0].id
        ),
    )
    .await;
    assert_eq!(c["diff_hunk"], "@@ -1 +1,2 @@\n hello\n+world");
    assert_eq!(c["position"], 2);
    assert_eq!(c["commit_id"], local.feature_sha.as_str());

    // Single comments get the Validation Failed form.
    let comments = format!("/repos/octo/widgets/pulls/{pr}/comments");
    let single = |path: &str, line: u64| json!({ "body": "x", "commit_id": local.feature_sha, "path": path, "line": line });
    let (status, e) = post(&fake, &token, &comments, single("nope.md", 1)).await;
    assert_eq!(status, 422);
    assert_eq!(e["message"], "Validation Failed");
    assert_eq!(e["errors"][0]["field"], "pull_request_review_thread.path");
    assert_eq!(e["errors"][0]["message"], "could not be resolved");
    let (status, e) = post(&fake, &token, &comments, single("NEW.md", 3)).await;
    assert_eq!(status, 422);
    assert_eq!(e["errors"][0]["field"], "pull_request_review_thread.line");
    let (status, c) = post(&fake, &token, &comments, single("NEW.md", 1)).await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["diff_hunk"], "@@ -0,0 +1 @@\n+new");

    // The test API anchors on the real diff too, and never refuses.
    let id = fake.add_review_comment("octo/widgets", pr, "alice", "README.md", 1, "ok?");
    assert_eq!(
        fake.review_comment_json("octo/widgets", id)["diff_hunk"],
        "@@ -1 +1,2 @@\n hello"
    );
    fake.add_review_comment("octo/widgets", pr, "alice", "elsewhere.md", 50, "free");
}

#[tokio::test]
async fn head_sha_is_live_after_a_push() {
    let local = LocalRepo::create();
    let (fake, token, _) = fixture().await;
    fake.set_clone_url("octo/widgets", &local.file_url());
    let pr = open_pull(&fake, &token, "feature").await;
    let root = fake.add_review_comment("octo/widgets", pr, "alice", "README.md", 2, "Say more");

    // Push one more commit to the branch after the pull request was opened.
    let work = local.dir.path().join("work");
    std::fs::write(work.join("MORE.md"), "more\n").unwrap();
    git(&work, &["add", "MORE.md"]);
    git(&work, &["commit", "--quiet", "-m", "more"]);
    git(&work, &["push", "--quiet", "origin", "feature"]);
    let pushed = git(&work, &["rev-parse", "HEAD"]);
    assert_ne!(pushed, local.feature_sha);

    let (status, pull) = get(&fake, &token, &format!("/repos/octo/widgets/pulls/{pr}")).await;
    assert_eq!(status, 200);
    assert_eq!(pull["head"]["sha"], pushed.as_str());
    assert_eq!(pull["base"]["sha"], local.main_sha.as_str());
    assert_eq!(pull["commits"], 2);
    assert_eq!(pull["changed_files"], 3);
    assert!(pull["statuses_url"].as_str().unwrap().ends_with(&pushed));
    let (_, list) = get(&fake, &token, "/repos/octo/widgets/pulls").await;
    assert_eq!(list[0]["head"]["sha"], pushed.as_str());
    assert_eq!(fake.pulls("octo/widgets")[0].head_sha, pushed);
    assert_eq!(
        fake.pull_json("octo/widgets", pr)["head"]["sha"],
        pushed.as_str()
    );

    // New comments and replies are on the new head; check runs on it find the pull request.
    let (status, reply) = post(
        &fake,
        &token,
        &format!("/repos/octo/widgets/pulls/{pr}/comments/{root}/replies"),
        json!({ "body": "Said more in MORE.md" }),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(reply["commit_id"], pushed.as_str());
    let (status, run) = post(
        &fake,
        &token,
        "/repos/octo/widgets/check-runs",
        json!({ "name": "bosun", "head_sha": pushed }),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["pull_requests"][0]["number"], pr);
    assert_eq!(run["pull_requests"][0]["head"]["sha"], pushed.as_str());
}

#[tokio::test]
async fn permissions_faults_and_records() {
    let (fake, token, _) = fixture().await;
    let pr = open_pull(&fake, &token, "feature").await;
    let root = fake.add_review_comment("octo/widgets", pr, "alice", "a.rs", 1, "x");
    let installation = fake.add_repo("octo/widgets").1;
    let limited = mint_limited(&fake, installation, json!({ "issues": "write" })).await;
    let replies = format!("/repos/octo/widgets/pulls/{pr}/comments/{root}/replies");
    for (method, path) in [
        ("GET", format!("/repos/octo/widgets/pulls/{pr}/comments")),
        ("GET", format!("/repos/octo/widgets/pulls/{pr}/reviews")),
        ("GET", format!("/repos/octo/widgets/pulls/comments/{root}")),
        ("POST", replies.clone()),
        ("POST", format!("/repos/octo/widgets/pulls/{pr}/reviews")),
    ] {
        let body = (method == "POST").then(|| json!({ "body": "b", "event": "COMMENT" }));
        let (status, _, e) = call(&fake, &limited, method, &path, body).await;
        assert_eq!(status, 403, "{method} {path}");
        assert_eq!(e["message"], "Resource not accessible by integration");
    }

    fake.inject(
        "POST",
        "/repos/*/*/pulls/*/comments/*/replies",
        Fault::Status(502),
        1,
    );
    let (status, e) = post(&fake, &token, &replies, json!({ "body": "lost" })).await;
    assert_eq!(status, 502);
    assert_eq!(e["message"], "Bad Gateway");
    assert_eq!(fake.review_threads("octo/widgets", pr)[0].comments.len(), 1);
    fake.inject(
        "POST",
        "/repos/*/*/pulls/*/comments/*/replies",
        Fault::StatusAfterEffect(500),
        1,
    );
    assert_eq!(
        post(&fake, &token, &replies, json!({ "body": "kept" }))
            .await
            .0,
        500
    );
    let thread = &fake.review_threads("octo/widgets", pr)[0];
    assert_eq!(thread.comments.len(), 2);
    assert_eq!(thread.comments[1].body, "kept");
    assert_eq!(fake.pending_faults(), 0);

    let statuses: Vec<u16> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == replies)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![403, 502, 500]);
}
