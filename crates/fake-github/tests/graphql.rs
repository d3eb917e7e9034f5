//! `POST /graphql`: the reviewThreads query (shape, pagination, unknown repository or pull
//! request), resolving and unresolving threads, auth, unsupported operations, request records
//! and faults.

mod common;

use common::*;
use fake_github::{FakeGitHub, Fault};
use serde_json::{json, Value};

const THREADS: &str = "query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 2, after: $after) {
        pageInfo { hasNextPage endCursor }
        totalCount
        nodes {
          id isResolved path line resolvedBy { login }
          comments(first: 100) { nodes { fullDatabaseId body } }
        }
      }
    }
  }
}";

const RESOLVE: &str = "mutation($threadId: ID!) {
  resolveReviewThread(input: {threadId: $threadId}) {
    thread { id isResolved viewerCanResolve viewerCanUnresolve }
  }
}";

async fn graphql(fake: &FakeGitHub, token: &str, query: &str, variables: Value) -> (u16, Value) {
    let (status, _, v) = call(
        fake,
        token,
        "POST",
        "/graphql",
        Some(json!({ "query": query, "variables": variables })),
    )
    .await;
    (status, v)
}

fn threads_of(answer: &Value) -> &Value {
    &answer["data"]["repository"]["pullRequest"]["reviewThreads"]
}

#[tokio::test]
async fn review_threads_have_github_shape() {
    let (fake, token, _) = fixture().await;
    let pr = open_pull(&fake, &token, "feature").await;
    let root = fake.add_review_comment("octo/widgets", pr, "alice", "src/lib.rs", 12, "Why?");
    let (status, _, reply) = call(
        &fake,
        &token,
        "POST",
        &format!("/repos/octo/widgets/pulls/{pr}/comments/{root}/replies"),
        Some(json!({ "body": "Because" })),
    )
    .await;
    assert_eq!(status, 201);

    // GitHub's shape, for the fields asked (and only those).
    let query =
        "query { repository(owner: \"octo\", name: \"widgets\") { pullRequest(number: NUM) { \
        reviewThreads(first: 10) { totalCount pageInfo { hasNextPage endCursor } nodes { \
          id isResolved isOutdated path line originalLine diffSide resolvedBy { login } \
          comments(first: 10) { totalCount nodes { \
            id fullDatabaseId body url createdAt diffHunk path line author { login } \
            replyTo { fullDatabaseId } } } } } } } }"
            .replace("NUM", &pr.to_string());
    let (status, answer) = graphql(&fake, &token, &query, json!({})).await;
    assert_eq!(status, 200);
    assert!(answer.get("errors").is_none(), "{answer}");
    let threads = threads_of(&answer);
    assert_eq!(threads["totalCount"], 1);
    assert_eq!(threads["pageInfo"]["hasNextPage"], false);
    assert!(threads["pageInfo"]["endCursor"].is_string());
    let t = &threads["nodes"][0];
    assert!(
        t.get("isCollapsed").is_none(),
        "not asked, not answered: {t}"
    );
    let recorded = &fake.review_threads("octo/widgets", pr)[0];
    assert_eq!(t["id"], recorded.node_id.as_str());
    assert_eq!(t["isResolved"], false);
    assert_eq!(t["isOutdated"], false);
    assert_eq!(t["path"], "src/lib.rs");
    assert_eq!(t["line"], 12);
    assert_eq!(t["originalLine"], 12);
    assert_eq!(t["diffSide"], "RIGHT");
    assert_eq!(t["resolvedBy"], Value::Null);
    assert_eq!(t["comments"]["totalCount"], 2);
    let first = &t["comments"]["nodes"][0];
    assert_eq!(first["fullDatabaseId"], root.to_string());
    assert_eq!(first["body"], "Why?");
    assert_eq!(first["author"]["login"], "alice");
    assert_eq!(first["replyTo"], Value::Null);
    assert_eq!(first["path"], "src/lib.rs");
    assert_eq!(first["line"], 12);
    assert!(first["diffHunk"].as_str().unwrap().starts_with("@@"));
    assert!(first["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        first["url"],
        format!("{}/octo/widgets/pull/{pr}#discussion_r{root}", fake.url())
    );
    assert!(first["id"].is_string());
    let second = &t["comments"]["nodes"][1];
    assert_eq!(
        second["fullDatabaseId"],
        reply["id"].as_u64().unwrap().to_string()
    );
    assert_eq!(
        second["replyTo"],
        json!({ "fullDatabaseId": root.to_string() })
    );
    // GraphQL shows an App's bot as a `Bot` whose login has no `[bot]`.
    assert_eq!(second["author"]["login"], fake.app_slug());
}

#[tokio::test]
async fn resolving_and_unresolving_threads() {
    let (fake, token, _) = fixture().await;
    let pr = open_pull(&fake, &token, "feature").await;
    fake.add_review_comment("octo/widgets", pr, "alice", "a.rs", 1, "one");
    fake.add_review_comment("octo/widgets", pr, "alice", "b.rs", 2, "two");
    let threads = fake.review_threads("octo/widgets", pr);
    let (first, second) = (threads[0].node_id.clone(), threads[1].node_id.clone());

    let (status, answer) = graphql(&fake, &token, RESOLVE, json!({ "threadId": first })).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({ "data": { "resolveReviewThread": { "thread": {
            "id": first, "isResolved": true, "viewerCanResolve": false, "viewerCanUnresolve": true,
        } } } })
    );
    let threads = fake.review_threads("octo/widgets", pr);
    assert!(threads[0].resolved);
    assert_eq!(threads[0].resolved_by, Some(fake.bot_login()));
    assert!(!threads[1].resolved);

    // `input.threadId` works as well; resolving twice changes nothing.
    let plain = "mutation($input: ResolveReviewThreadInput!) { resolveReviewThread(input: $input) { thread { id isResolved } } }";
    for _ in 0..2 {
        let (status, answer) = graphql(
            &fake,
            &token,
            plain,
            json!({ "input": { "threadId": second } }),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            answer["data"]["resolveReviewThread"]["thread"]["isResolved"],
            true
        );
    }

    // The query sees it; `resolvedBy` is a User, which the App's bot is not.
    let vars = json!({ "owner": "octo", "name": "widgets", "number": pr });
    let (_, answer) = graphql(&fake, &token, THREADS, vars.clone()).await;
    let nodes = &threads_of(&answer)["nodes"];
    assert_eq!(nodes[0]["isResolved"], true);
    assert_eq!(nodes[0]["resolvedBy"], Value::Null);

    // Unresolve (the name contains `resolveReviewThread`: it must not be taken for it).
    let unresolve = "mutation($id: ID!) { unresolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }";
    let (status, answer) = graphql(&fake, &token, unresolve, json!({ "id": first })).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["data"]["unresolveReviewThread"]["thread"]["isResolved"],
        false
    );
    let threads = fake.review_threads("octo/widgets", pr);
    assert!(!threads[0].resolved);
    assert_eq!(threads[0].resolved_by, None);
    assert!(threads[1].resolved);

    // An unknown id: HTTP 200, data null, GitHub's NOT_FOUND error.
    let (status, answer) =
        graphql(&fake, &token, RESOLVE, json!({ "threadId": "PRRT_nope" })).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({
            "data": { "resolveReviewThread": null },
            "errors": [{
                "type": "NOT_FOUND",
                "path": ["resolveReviewThread"],
                "locations": [{ "line": 2, "column": 3 }],
                "message": "Could not resolve to a node with the global id of 'PRRT_nope'",
            }],
        })
    );

    // A token without pull_requests: write may not resolve.
    let installation = fake.add_repo("octo/widgets").1;
    let limited = mint_limited(&fake, installation, json!({ "issues": "write" })).await;
    let (status, answer) = graphql(&fake, &limited, RESOLVE, json!({ "threadId": first })).await;
    assert_eq!(status, 200);
    assert_eq!(answer["data"]["resolveReviewThread"], Value::Null);
    assert_eq!(answer["errors"][0]["type"], "FORBIDDEN");
    assert!(!fake.review_threads("octo/widgets", pr)[0].resolved);
}

#[tokio::test]
async fn review_threads_paginate_with_cursors() {
    let (fake, token, _) = fixture().await;
    let pr = open_pull(&fake, &token, "feature").await;
    let ids: Vec<u64> = (1..=5)
        .map(|i| fake.add_review_comment("octo/widgets", pr, "alice", "a.rs", i, &format!("c{i}")))
        .collect();

    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let vars = json!({ "owner": "octo", "name": "widgets", "number": pr, "after": after });
        let (status, answer) = graphql(&fake, &token, THREADS, vars).await;
        assert_eq!(status, 200);
        let t = threads_of(&answer);
        assert_eq!(t["totalCount"], 5);
        let nodes = t["nodes"].as_array().unwrap();
        assert!(nodes.len() <= 2);
        seen.extend(nodes.iter().map(|n| {
            n["comments"]["nodes"][0]["fullDatabaseId"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        }));
        pages += 1;
        if t["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = t["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, ids);

    // A document GitHub's schema refuses (`repository` without `owner` and `name`) is answered as
    // GitHub answers one: `errors`, no `data`, and it counts against the contract.
    let loose = "query { repository { pullRequest { reviewThreads(first: 3) { nodes { id } } } } }";
    let (status, answer) = graphql(
        &fake,
        &token,
        loose,
        json!({ "owner": "octo", "repo": "widgets", "number": pr }),
    )
    .await;
    assert_eq!(status, 200);
    assert!(answer.get("data").is_none(), "{answer}");
    let refused = answer["errors"][0]["message"].as_str().unwrap();
    assert!(refused.contains("is required"), "{refused}");
    assert!(!fake.take_contract_violations().is_empty());

    // A cursor the fake never handed out; more than 100 per page.
    let vars = json!({ "owner": "octo", "name": "widgets", "number": pr, "after": "bogus" });
    let (status, answer) = graphql(&fake, &token, THREADS, vars).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["errors"][0]["message"],
        "`bogus` does not appear to be a valid cursor."
    );
    let big = THREADS.replace("first: 2", "first: 101");
    let vars = json!({ "owner": "octo", "name": "widgets", "number": pr });
    let (_, answer) = graphql(&fake, &token, &big, vars).await;
    assert_eq!(answer["data"], Value::Null);
    assert_eq!(answer["errors"][0]["type"], "EXCESSIVE_PAGINATION");
}

#[tokio::test]
async fn unknown_repository_or_pull_request() {
    let (fake, token, issue) = fixture().await;
    let (status, answer) = graphql(
        &fake,
        &token,
        THREADS,
        json!({ "owner": "octo", "name": "nope", "number": 1 }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({
            "data": { "repository": null },
            "errors": [{
                "type": "NOT_FOUND",
                "path": ["repository"],
                "locations": [{ "line": 2, "column": 3 }],
                "message": "Could not resolve to a Repository with the name 'octo/nope'.",
            }],
        })
    );
    // A plain issue's number is no pull request.
    for n in [issue, 99] {
        let (status, answer) = graphql(
            &fake,
            &token,
            THREADS,
            json!({ "owner": "octo", "name": "widgets", "number": n }),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(
            answer["data"],
            json!({ "repository": { "pullRequest": null } })
        );
        assert_eq!(
            answer["errors"],
            json!([{
                "type": "NOT_FOUND",
                "path": ["repository", "pullRequest"],
                "locations": [{ "line": 3, "column": 5 }],
                "message": format!("Could not resolve to a PullRequest with the number of {n}."),
            }])
        );
    }
}

#[tokio::test]
async fn auth_and_unsupported_operations() {
    let (fake, token, _) = fixture().await;
    let body = json!({ "query": THREADS, "variables": {} });
    let expected = json!({ "message": "Bad credentials", "documentation_url": "https://docs.github.com/graphql" });
    let (status, _, answer) = split(
        req(&fake, "POST", "/graphql")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(answer, expected);
    let (status, _, answer) = split(
        req(&fake, "POST", "/graphql")
            .bearer_auth(app_jwt(fake.app_id()))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(answer, expected);
    fake.expire_tokens();
    assert_eq!(graphql(&fake, &token, THREADS, json!({})).await.0, 401);

    let installation = fake.add_repo("octo/widgets").1;
    let token = mint(&fake, installation).await;
    let (status, answer) = graphql(&fake, &token, "query { viewer { login } }", json!({})).await;
    assert_eq!(status, 200);
    assert!(answer["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("fake-github does not support"));
    let (status, _, answer) = call(
        &fake,
        &token,
        "POST",
        "/graphql",
        Some(json!({ "variables": {} })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["errors"][0]["message"],
        "A query attribute must be specified and must be a string."
    );
    let (status, _, answer) = split(
        req(&fake, "POST", "/graphql")
            .header("authorization", format!("token {token}"))
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["message"], "Problems parsing JSON");
}

#[tokio::test]
async fn graphql_requests_are_recorded_and_faulted() {
    let (fake, token, _) = fixture().await;
    let pr = open_pull(&fake, &token, "feature").await;
    fake.add_review_comment("octo/widgets", pr, "alice", "a.rs", 1, "x");
    let thread = fake.review_threads("octo/widgets", pr)[0].node_id.clone();
    fake.clear_requests();

    fake.inject("POST", "/graphql", Fault::Status(502), 1);
    let (status, _) = graphql(&fake, &token, RESOLVE, json!({ "threadId": thread })).await;
    assert_eq!(status, 502);
    assert!(!fake.review_threads("octo/widgets", pr)[0].resolved);
    fake.inject("POST", "/graphql", Fault::StatusAfterEffect(500), 1);
    let (status, _) = graphql(&fake, &token, RESOLVE, json!({ "threadId": thread })).await;
    assert_eq!(status, 500);
    assert!(fake.review_threads("octo/widgets", pr)[0].resolved);
    let vars = json!({ "owner": "octo", "name": "widgets", "number": pr });
    assert_eq!(graphql(&fake, &token, THREADS, vars).await.0, 200);

    let records: Vec<(String, String, u16)> = fake
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path, r.status))
        .collect();
    let post = |status: u16| ("POST".to_owned(), "/graphql".to_owned(), status);
    assert_eq!(records, vec![post(502), post(500), post(200)]);
    assert_eq!(fake.pending_faults(), 0);
}
