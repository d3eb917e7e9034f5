//! Pull requests: create (with and without a local repository), list, get, the issue view of a
//! pull request, GitHub's 422s, permissions and faults.

mod common;

use common::*;
use fake_github::{Fault, PullRecord};
use serde_json::{json, Value};

const ZEROS: &str = "0000000000000000000000000000000000000000";

async fn create_pull(fake: &fake_github::FakeGitHub, token: &str, body: Value) -> (u16, Value) {
    let (status, _, v) = call(fake, token, "POST", "/repos/octo/widgets/pulls", Some(body)).await;
    (status, v)
}

/// The single `errors` entry of a 422 `Validation Failed`.
fn only_error(status: u16, body: &Value) -> Value {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["message"], "Validation Failed", "{body}");
    assert_eq!(body["status"], "422");
    assert_eq!(
        body["documentation_url"],
        "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
    );
    let errors = body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{body}");
    errors[0].clone()
}

#[tokio::test]
async fn create_draft_pull_shape() {
    let (fake, token, issue) = fixture().await;
    let (status, headers, pr) = call(
        &fake,
        &token,
        "POST",
        "/repos/octo/widgets/pulls",
        Some(json!({
            "title": "Fix the wobble",
            "head": "bosun/issue-1",
            "base": "main",
            "body": "Closes #1",
            "draft": true,
            "maintainer_can_modify": false,
        })),
    )
    .await;
    assert_eq!(status, 201, "{pr}");
    let n = issue + 1;
    let url = fake.url();
    assert_eq!(
        headers["location"],
        format!("{url}/repos/octo/widgets/pulls/{n}").as_str()
    );
    assert_eq!(pr["number"], n);
    assert_eq!(pr["state"], "open");
    assert_eq!(pr["draft"], true);
    assert_eq!(pr["title"], "Fix the wobble");
    assert_eq!(pr["body"], "Closes #1");
    assert_eq!(pr["locked"], false);
    assert_eq!(pr["merged"], false);
    assert_eq!(pr["merged_at"], Value::Null);
    assert_eq!(pr["maintainer_can_modify"], false);
    assert_eq!(pr["url"], format!("{url}/repos/octo/widgets/pulls/{n}"));
    assert_eq!(pr["html_url"], format!("{url}/octo/widgets/pull/{n}"));
    assert_eq!(pr["diff_url"], format!("{url}/octo/widgets/pull/{n}.diff"));
    assert_eq!(
        pr["issue_url"],
        format!("{url}/repos/octo/widgets/issues/{n}")
    );
    assert_eq!(
        pr["_links"]["self"]["href"],
        format!("{url}/repos/octo/widgets/pulls/{n}")
    );
    assert!(pr["id"].is_u64());
    assert!(pr["node_id"].is_string());
    assert!(pr["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(pr["user"]["login"], fake.bot_login());
    assert_eq!(pr["user"]["type"], "Bot");
    assert_eq!(pr["user"]["id"], fake.bot_user_id());
    assert_eq!(pr["head"]["ref"], "bosun/issue-1");
    assert_eq!(pr["head"]["label"], "octo:bosun/issue-1");
    assert_eq!(pr["head"]["sha"], ZEROS);
    assert_eq!(pr["head"]["repo"]["full_name"], "octo/widgets");
    assert_eq!(pr["head"]["user"]["login"], "octo");
    assert_eq!(pr["base"]["ref"], "main");
    assert_eq!(pr["base"]["label"], "octo:main");
    assert_eq!(pr["base"]["repo"]["default_branch"], "main");
    assert_eq!(pr["labels"], json!([]));
    assert_eq!(pr["comments"], 0);

    assert_eq!(
        fake.pulls("octo/widgets"),
        vec![PullRecord {
            number: n,
            title: "Fix the wobble".into(),
            body: "Closes #1".into(),
            head: "bosun/issue-1".into(),
            head_sha: ZEROS.into(),
            base: "main".into(),
            draft: true,
            state: "open".into(),
            user_login: fake.bot_login(),
            html_url: format!("{url}/octo/widgets/pull/{n}"),
        }]
    );

    // `owner:branch` works as well; draft defaults to false, body to null.
    let (status, pr) = create_pull(
        &fake,
        &token,
        json!({ "title": "Other", "head": "octo:other", "base": "main" }),
    )
    .await;
    assert_eq!(status, 201, "{pr}");
    assert_eq!(pr["head"]["ref"], "other");
    assert_eq!(pr["draft"], false);
    assert_eq!(pr["body"], Value::Null);
    assert_eq!(fake.pulls("octo/widgets").len(), 2);
    assert!(fake.pulls("octo/nothing").is_empty());
}

#[tokio::test]
async fn a_pull_request_is_an_issue() {
    let (fake, token, issue) = fixture().await;
    let (_, pr) = create_pull(
        &fake,
        &token,
        json!({ "title": "PR", "head": "b", "base": "main", "draft": true }),
    )
    .await;
    let n = pr["number"].as_u64().unwrap();
    assert_eq!(n, issue + 1);
    // The number series is shared both ways.
    assert_eq!(fake.add_issue("octo/widgets", "After", "", "bob"), n + 1);

    let url = fake.url();
    let (status, _, as_issue) = call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/issues/{n}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(as_issue["number"], n);
    assert_eq!(as_issue["title"], "PR");
    assert_eq!(as_issue["user"]["login"], fake.bot_login());
    assert_eq!(as_issue["draft"], true);
    assert_eq!(as_issue["html_url"], format!("{url}/octo/widgets/pull/{n}"));
    assert_eq!(
        as_issue["pull_request"],
        json!({
            "url": format!("{url}/repos/octo/widgets/pulls/{n}"),
            "html_url": format!("{url}/octo/widgets/pull/{n}"),
            "diff_url": format!("{url}/octo/widgets/pull/{n}.diff"),
            "patch_url": format!("{url}/octo/widgets/pull/{n}.patch"),
            "merged_at": null,
        })
    );

    // The issues list has pull requests too, with the key; plain issues do not.
    let (_, _, list) = call(&fake, &token, "GET", "/repos/octo/widgets/issues", None).await;
    let keyed: Vec<(u64, bool)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["number"].as_u64().unwrap(),
                i.get("pull_request").is_some(),
            )
        })
        .collect();
    assert_eq!(keyed, vec![(n + 1, false), (n, true), (issue, false)]);

    // Comments and labels on the pull request's number work like on issues.
    let (status, _, comment) = call(
        &fake,
        &token,
        "POST",
        &format!("/repos/octo/widgets/issues/{n}/comments"),
        Some(json!({ "body": "Working on it" })),
    )
    .await;
    assert_eq!(status, 201);
    assert!(comment["html_url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{url}/octo/widgets/pull/{n}#issuecomment-")));
    assert_eq!(fake.comments("octo/widgets", n).len(), 1);
    let (status, _, _) = call(
        &fake,
        &token,
        "POST",
        &format!("/repos/octo/widgets/issues/{n}/labels"),
        Some(json!({ "labels": ["bosun"] })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(fake.issue_labels("octo/widgets", n), vec!["bosun"]);
    let (_, _, pr) = call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/pulls/{n}"),
        None,
    )
    .await;
    assert_eq!(pr["labels"][0]["name"], "bosun");
    assert_eq!(pr["comments"], 1);

    // A plain issue is not a pull request.
    let (status, _, body) = call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/pulls/{issue}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Not Found");
    assert_eq!(
        body["documentation_url"],
        "https://docs.github.com/rest/pulls/pulls#get-a-pull-request"
    );
    let (status, _, _) = call(&fake, &token, "GET", "/repos/octo/widgets/pulls/999", None).await;
    assert_eq!(status, 404);
    let (status, _, _) = call(&fake, &token, "GET", "/repos/octo/widgets/pulls/x", None).await;
    assert_eq!(status, 404);
    // This test asks for a pull number that is not a number on purpose.
    take_deliberate_request_violations(&fake);
}

#[tokio::test]
async fn create_errors_like_github() {
    let (fake, token, _) = fixture().await;

    let (status, body) = create_pull(&fake, &token, json!({ "head": "b", "base": "main" })).await;
    assert_eq!(
        only_error(status, &body),
        json!({ "resource": "Issue", "code": "missing_field", "field": "title" })
    );
    let (status, body) = create_pull(
        &fake,
        &token,
        json!({ "title": "  ", "head": "b", "base": "main" }),
    )
    .await;
    assert_eq!(only_error(status, &body)["field"], "title");
    let (status, body) = create_pull(&fake, &token, json!({ "title": "t", "base": "main" })).await;
    assert_eq!(
        only_error(status, &body),
        json!({ "resource": "PullRequest", "code": "missing_field", "field": "head" })
    );
    let (status, body) = create_pull(&fake, &token, json!({ "title": "t", "head": "b" })).await;
    assert_eq!(
        only_error(status, &body),
        json!({ "resource": "PullRequest", "code": "missing_field", "field": "base" })
    );
    let (status, body) = create_pull(
        &fake,
        &token,
        json!({ "title": "t", "head": "b", "base": "develop" }),
    )
    .await;
    assert_eq!(
        only_error(status, &body),
        json!({ "resource": "PullRequest", "field": "base", "code": "invalid" })
    );
    // A head in another owner's fork: the fake knows no forks.
    let (status, body) = create_pull(
        &fake,
        &token,
        json!({ "title": "t", "head": "mallory:b", "base": "main" }),
    )
    .await;
    assert_eq!(
        only_error(status, &body),
        json!({ "resource": "PullRequest", "field": "head", "code": "invalid" })
    );
    // Wrong types are schema errors.
    let (status, body) = create_pull(
        &fake,
        &token,
        json!({ "title": "t", "head": "b", "base": "main", "draft": "yes" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "Invalid request.\n\nFor 'properties/draft', \"yes\" is not a boolean."
    );
    let (status, body) = create_pull(
        &fake,
        &token,
        json!({ "title": "t", "head": "b", "base": "main", "body": null }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "Invalid request.\n\nFor 'properties/body', nil is not a string."
    );
    let (status, _, body) = split(
        req(&fake, "POST", "/repos/octo/widgets/pulls")
            .header("authorization", format!("token {token}"))
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Problems parsing JSON");
    assert!(fake.pulls("octo/widgets").is_empty());

    // One open pull request per head.
    let ok = json!({ "title": "t", "head": "bosun/issue-1", "base": "main" });
    assert_eq!(create_pull(&fake, &token, ok.clone()).await.0, 201);
    let (status, body) = create_pull(&fake, &token, ok.clone()).await;
    assert_eq!(
        only_error(status, &body),
        json!({
            "resource": "PullRequest",
            "code": "custom",
            "message": "A pull request already exists for octo:bosun/issue-1.",
        })
    );
    let (status, body) = create_pull(
        &fake,
        &token,
        json!({ "title": "t", "head": "octo:bosun/issue-1", "base": "main" }),
    )
    .await;
    assert_eq!(only_error(status, &body)["code"], "custom");
    // Once it is closed, a new one may be opened.
    let first = fake.pulls("octo/widgets")[0].number;
    fake.set_issue_state("octo/widgets", first, "closed");
    assert_eq!(fake.pulls("octo/widgets")[0].state, "closed");
    assert_eq!(create_pull(&fake, &token, ok).await.0, 201);
    assert_eq!(fake.pulls("octo/widgets").len(), 2);

    // Unknown repository.
    let (status, _, _) = call(
        &fake,
        &token,
        "POST",
        "/repos/octo/nothing/pulls",
        Some(json!({ "title": "t", "head": "b", "base": "main" })),
    )
    .await;
    assert_eq!(status, 404);
    // This test sends pull-request bodies that break the schema on purpose.
    take_deliberate_request_violations(&fake);
}

#[tokio::test]
async fn list_filters_and_paginates() {
    let (fake, token, _) = fixture().await;
    for head in ["a", "b", "c"] {
        let body = json!({ "title": format!("PR {head}"), "head": head, "base": "main" });
        assert_eq!(create_pull(&fake, &token, body).await.0, 201);
    }
    let numbers = |v: &Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|p| p["number"].as_u64().unwrap())
            .collect()
    };
    let b_number = fake.pulls("octo/widgets")[1].number;
    fake.set_issue_state("octo/widgets", b_number, "closed");

    let list = |q: &'static str| {
        let fake = fake.clone();
        let token = token.clone();
        async move {
            let (status, headers, v) = call(
                &fake,
                &token,
                "GET",
                &format!("/repos/octo/widgets/pulls{q}"),
                None,
            )
            .await;
            assert_eq!(status, 200, "{v}");
            (headers, v)
        }
    };
    // Open by default, newest first; plain issues are not listed.
    assert_eq!(numbers(&list("").await.1), vec![4, 2]);
    assert_eq!(numbers(&list("?state=all").await.1), vec![4, 3, 2]);
    assert_eq!(numbers(&list("?state=closed").await.1), vec![3]);
    assert_eq!(
        numbers(&list("?state=all&direction=asc").await.1),
        vec![2, 3, 4]
    );
    assert_eq!(numbers(&list("?head=octo:a").await.1), vec![2]);
    assert_eq!(numbers(&list("?head=OCTO%3Ac&state=all").await.1), vec![4]);
    assert_eq!(numbers(&list("?head=octo:b").await.1), Vec::<u64>::new());
    assert_eq!(numbers(&list("?head=octo:b&state=all").await.1), vec![3]);
    assert_eq!(numbers(&list("?head=other:a").await.1), Vec::<u64>::new());
    // A bare branch name does not filter (GitHub wants `owner:branch`).
    assert_eq!(numbers(&list("?head=a").await.1), vec![4, 2]);
    assert_eq!(numbers(&list("?base=main").await.1), vec![4, 2]);
    assert_eq!(numbers(&list("?base=develop").await.1), Vec::<u64>::new());
    let (headers, v) = list("?state=all&per_page=2").await;
    assert_eq!(numbers(&v), vec![4, 3]);
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.contains("/repos/octo/widgets/pulls?state=all&per_page=2&page=2>; rel=\"next\""),
        "{link}"
    );
    let (headers, v) = list("?state=all&per_page=2&page=2").await;
    assert_eq!(numbers(&v), vec![2]);
    assert!(headers["link"].to_str().unwrap().contains("rel=\"prev\""));
    // Each item is the full pull request shape.
    let (_, v) = list("?head=octo:a").await;
    assert_eq!(v[0]["head"]["ref"], "a");
    assert_eq!(v[0]["base"]["ref"], "main");
    assert_eq!(v[0]["user"]["login"], fake.bot_login());
}

#[tokio::test]
async fn branches_come_from_a_local_bare_repository() {
    let local = LocalRepo::create();
    let (fake, token, _) = fixture().await;
    fake.set_clone_url("octo/widgets", &local.file_url());

    // A branch that is not in the repository.
    let (status, body) = create_pull(
        &fake,
        &token,
        json!({ "title": "t", "head": "missing", "base": "main" }),
    )
    .await;
    assert_eq!(
        only_error(status, &body),
        json!({ "resource": "PullRequest", "field": "head", "code": "invalid" })
    );
    // A branch with nothing beyond main.
    let (status, body) = create_pull(
        &fake,
        &token,
        json!({ "title": "t", "head": "same", "base": "main" }),
    )
    .await;
    assert_eq!(
        only_error(status, &body),
        json!({
            "resource": "PullRequest",
            "code": "custom",
            "message": "No commits between main and same",
        })
    );

    let (status, pr) = create_pull(
        &fake,
        &token,
        json!({ "title": "Feature", "head": "octo:feature", "base": "main", "draft": true }),
    )
    .await;
    assert_eq!(status, 201, "{pr}");
    assert_eq!(pr["head"]["sha"], local.feature_sha.as_str());
    assert_eq!(pr["base"]["sha"], local.main_sha.as_str());
    assert_eq!(pr["commits"], 1);
    assert_eq!(pr["changed_files"], 2);
    assert_eq!(pr["additions"], 2);
    assert_eq!(pr["deletions"], 0);
    assert_eq!(
        pr["statuses_url"],
        format!(
            "{}/repos/octo/widgets/statuses/{}",
            fake.url(),
            local.feature_sha
        )
    );
    assert_eq!(fake.pulls("octo/widgets")[0].head_sha, local.feature_sha);
    // Still one open pull request per head, whatever form `head` takes.
    let (status, body) = create_pull(
        &fake,
        &token,
        json!({ "title": "again", "head": "feature", "base": "main" }),
    )
    .await;
    assert_eq!(
        only_error(status, &body)["message"],
        "A pull request already exists for octo:feature."
    );

    // A plain absolute path works as a clone_url too; so does a new commit on the branch.
    let (_, installation) = fake.add_repo("octo/gadgets");
    let token2 = mint(&fake, installation).await;
    fake.set_clone_url("octo/gadgets", local.bare.to_str().unwrap());
    let (status, _, pr) = call(
        &fake,
        &token2,
        "POST",
        "/repos/octo/gadgets/pulls",
        Some(json!({ "title": "Feature", "head": "feature", "base": "main" })),
    )
    .await;
    assert_eq!(status, 201, "{pr}");
    assert_eq!(pr["head"]["sha"], local.feature_sha.as_str());

    // A base branch missing from the local repository is an invalid base.
    let no_main = LocalRepo::create();
    git(&no_main.bare, &["update-ref", "-d", "refs/heads/main"]);
    fake.set_clone_url("octo/gadgets", &no_main.file_url());
    let (status, _, body) = call(
        &fake,
        &token2,
        "POST",
        "/repos/octo/gadgets/pulls",
        Some(json!({ "title": "Feature", "head": "same", "base": "main" })),
    )
    .await;
    assert_eq!(
        only_error(status, &body),
        json!({ "resource": "PullRequest", "field": "base", "code": "invalid" })
    );

    // A clone_url that is not a git repository is a set-up error: 500 saying so.
    let not_repo = TempDir::new("not-a-repo");
    fake.set_clone_url("octo/gadgets", not_repo.path().to_str().unwrap());
    let (status, _, body) = call(
        &fake,
        &token2,
        "POST",
        "/repos/octo/gadgets/pulls",
        Some(json!({ "title": "x", "head": "other", "base": "main" })),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("fake-github: "));
}

#[tokio::test]
async fn tokens_without_pull_requests_permission_get_403() {
    let (fake, _, _) = fixture().await;
    let installation = fake.add_repo("octo/widgets").1;
    let resp = req(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
    )
    .bearer_auth(app_jwt(fake.app_id()))
    .json(&json!({ "permissions": { "issues": "write", "checks": "write" } }))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let limited = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({ "title": "t", "head": "b", "base": "main" });
    let (status, body) = create_pull(&fake, &limited, body).await;
    assert_eq!(status, 403);
    assert_eq!(body["message"], "Resource not accessible by integration");
    for path in ["/repos/octo/widgets/pulls", "/repos/octo/widgets/pulls/1"] {
        let (status, _, body) = call(&fake, &limited, "GET", path, None).await;
        assert_eq!(status, 403);
        assert_eq!(body["message"], "Resource not accessible by integration");
    }
    assert!(fake.pulls("octo/widgets").is_empty());
    // Without a token at all: 401 as everywhere.
    let (status, _, body) = split(
        req(&fake, "GET", "/repos/octo/widgets/pulls")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Bad credentials");
}

#[tokio::test]
async fn faults_apply_to_pull_routes() {
    let (fake, token, _) = fixture().await;
    let body = json!({ "title": "t", "head": "b", "base": "main" });
    fake.inject("POST", "/repos/*/*/pulls", Fault::Status(502), 1);
    let (status, v) = create_pull(&fake, &token, body.clone()).await;
    assert_eq!(status, 502);
    assert_eq!(v["message"], "Bad Gateway");
    assert!(fake.pulls("octo/widgets").is_empty());

    // The effect happens, only the answer is lost; the retry then meets the duplicate 422.
    fake.inject("POST", "/repos/*/*/pulls", Fault::StatusAfterEffect(500), 1);
    assert_eq!(create_pull(&fake, &token, body.clone()).await.0, 500);
    assert_eq!(fake.pulls("octo/widgets").len(), 1);
    let (status, v) = create_pull(&fake, &token, body).await;
    assert_eq!(status, 422);
    assert_eq!(v["errors"][0]["code"], "custom");

    fake.inject(
        "GET",
        "/repos/*/*/pulls/**",
        Fault::SecondaryRateLimit {
            retry_after_secs: 7,
        },
        1,
    );
    let n = fake.pulls("octo/widgets")[0].number;
    let path = format!("/repos/octo/widgets/pulls/{n}");
    let (status, headers, _) = call(&fake, &token, "GET", &path, None).await;
    assert_eq!(status, 403);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(call(&fake, &token, "GET", &path, None).await.0, 200);
    assert_eq!(fake.pending_faults(), 0);
}
