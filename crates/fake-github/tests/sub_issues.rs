//! Issues for planning: create and update through the API, sub-issues (add by id, list, remove,
//! one parent per child, replace_parent), `sub_issues_summary`, the test-side API, faults.

mod common;

use common::*;
use fake_github::{FakeGitHub, Fault, IssueRecord};
use serde_json::{json, Value};

async fn send(
    fake: &FakeGitHub,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    // `null`: no body (GitHub's GET operations take none).
    let body = (!body.is_null()).then_some(body);
    let (status, _, v) = call(fake, token, method, path, body).await;
    (status, v)
}

async fn add_sub(fake: &FakeGitHub, token: &str, parent: u64, body: Value) -> (u16, Value) {
    let path = format!("/repos/octo/widgets/issues/{parent}/sub_issues");
    send(fake, token, "POST", &path, body).await
}

#[tokio::test]
async fn create_and_update_issues() {
    let (fake, token, first) = fixture().await;
    let url = fake.url();
    let (status, headers, issue) = call(
        &fake,
        &token,
        "POST",
        "/repos/octo/widgets/issues",
        Some(json!({ "title": "Step 1: parse", "body": "Part of the plan", "labels": ["plan", { "name": "bosun" }] })),
    )
    .await;
    assert_eq!(status, 201, "{issue}");
    let n = issue["number"].as_u64().unwrap();
    assert_eq!(n, first + 1);
    assert_eq!(
        headers["location"],
        format!("{url}/repos/octo/widgets/issues/{n}").as_str()
    );
    assert_eq!(issue["user"]["login"], fake.bot_login());
    assert_eq!(issue["state"], "open");
    assert_eq!(issue["body"], "Part of the plan");
    let labels: Vec<&str> = issue["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(labels, vec!["bosun", "plan"]);
    assert_eq!(
        issue["sub_issues_summary"],
        json!({ "total": 0, "completed": 0, "percent_completed": 0 })
    );
    assert_eq!(issue, fake.issue_json("octo/widgets", n));
    assert_eq!(
        fake.issue("octo/widgets", n),
        Some(IssueRecord {
            number: n,
            id: fake.issue_id("octo/widgets", n),
            title: "Step 1: parse".into(),
            body: "Part of the plan".into(),
            labels: vec!["bosun".into(), "plan".into()],
            user_login: fake.bot_login(),
            state: "open".into(),
            state_reason: None,
            parent: None,
            sub_issues: vec![],
            is_pull_request: false,
        })
    );
    assert_eq!(fake.issue("octo/widgets", 99), None);

    // Update: fields sent change, labels are replaced.
    let path = format!("/repos/octo/widgets/issues/{n}");
    let (status, issue) = send(
        &fake,
        &token,
        "PATCH",
        &path,
        json!({ "title": "Step 1: parse input", "labels": ["ready"] }),
    )
    .await;
    assert_eq!(status, 200, "{issue}");
    assert_eq!(issue["title"], "Step 1: parse input");
    assert_eq!(issue["body"], "Part of the plan");
    assert_eq!(fake.issue_labels("octo/widgets", n), vec!["ready"]);

    // Closing as not planned, reopening, closing as completed by default.
    let (status, issue) = send(
        &fake,
        &token,
        "PATCH",
        &path,
        json!({ "state": "closed", "state_reason": "not_planned" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(issue["state"], "closed");
    assert_eq!(issue["state_reason"], "not_planned");
    assert!(issue["closed_at"].is_string());
    assert_eq!(
        fake.issue_state("octo/widgets", n),
        ("closed".to_owned(), Some("not_planned".to_owned()))
    );
    let (_, issue) = send(&fake, &token, "PATCH", &path, json!({ "state": "open" })).await;
    assert_eq!(issue["state_reason"], "reopened");
    assert_eq!(issue["closed_at"], Value::Null);
    let (_, issue) = send(
        &fake,
        &token,
        "PATCH",
        &path,
        json!({ "state": "closed", "body": null }),
    )
    .await;
    assert_eq!(issue["state_reason"], "completed");
    assert_eq!(issue["body"], Value::Null);

    // Errors.
    let (status, e) = send(
        &fake,
        &token,
        "POST",
        "/repos/octo/widgets/issues",
        json!({ "body": "x" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        e["message"],
        "Invalid request.\n\n\"title\" wasn't supplied."
    );
    let (status, e) = send(
        &fake,
        &token,
        "POST",
        "/repos/octo/widgets/issues",
        json!({ "title": " " }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        e["errors"],
        json!([{ "resource": "Issue", "code": "missing_field", "field": "title" }])
    );
    let (status, e) = send(&fake, &token, "PATCH", &path, json!({ "state": "done" })).await;
    assert_eq!(status, 422);
    assert_eq!(
        e["message"],
        "Invalid request.\n\nFor 'properties/state', \"done\" is not a member of [\"open\", \"closed\"]."
    );
    let (status, _) = send(
        &fake,
        &token,
        "PATCH",
        "/repos/octo/widgets/issues/999",
        json!({ "title": "t" }),
    )
    .await;
    assert_eq!(status, 404);
    let installation = fake.add_repo("octo/widgets").1;
    let read_only = mint_limited(&fake, installation, json!({ "pull_requests": "write" })).await;
    let (status, e) = send(
        &fake,
        &read_only,
        "POST",
        "/repos/octo/widgets/issues",
        json!({ "title": "t" }),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(e["message"], "Resource not accessible by integration");
    // This test sends issue bodies that break the schema on purpose.
    take_deliberate_request_violations(&fake);
}

#[tokio::test]
async fn sub_issues_add_list_and_remove() {
    let (fake, token, parent) = fixture().await;
    let url = fake.url();
    let a = fake.add_issue("octo/widgets", "A", "", "alice");
    let b = fake.add_issue("octo/widgets", "B", "", "alice");
    let other_parent = fake.add_issue("octo/widgets", "Other plan", "", "alice");

    let (status, headers, answer) = call(
        &fake,
        &token,
        "POST",
        &format!("/repos/octo/widgets/issues/{parent}/sub_issues"),
        Some(json!({ "sub_issue_id": fake.issue_id("octo/widgets", a) })),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        headers["location"],
        format!("{url}/repos/octo/widgets/issues/{parent}").as_str()
    );
    // The answer is the parent.
    assert_eq!(answer["number"], parent);
    assert_eq!(
        answer["sub_issues_summary"],
        json!({ "total": 1, "completed": 0, "percent_completed": 0 })
    );
    let (status, _) = add_sub(
        &fake,
        &token,
        parent,
        json!({ "sub_issue_id": fake.issue_id("octo/widgets", b) }),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(fake.sub_issues("octo/widgets", parent), vec![a, b]);
    assert_eq!(fake.issue("octo/widgets", a).unwrap().parent, Some(parent));

    let list_path = format!("/repos/octo/widgets/issues/{parent}/sub_issues");
    let (status, list) = send(&fake, &token, "GET", &list_path, Value::Null).await;
    assert_eq!(status, 200);
    let numbers: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, vec![a, b]);
    assert_eq!(list[0], fake.issue_json("octo/widgets", a));
    let (_, headers, page) = call(
        &fake,
        &token,
        "GET",
        &format!("{list_path}?per_page=1"),
        None,
    )
    .await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert!(headers["link"].to_str().unwrap().contains("rel=\"last\""));

    // GitHub's 422s: twice under the same parent, under another parent, the parent itself.
    let lead = "An error occurred while adding the sub-issue to the parent issue. ";
    let a_id = fake.issue_id("octo/widgets", a);
    let (status, e) = add_sub(&fake, &token, parent, json!({ "sub_issue_id": a_id })).await;
    assert_eq!(status, 422);
    assert_eq!(
        e["message"],
        format!("{lead}Issue may not contain duplicate sub-issues and Sub issue may only have one parent")
    );
    assert_eq!(
        e["documentation_url"],
        "https://docs.github.com/rest/issues/sub-issues#add-sub-issue"
    );
    let (status, e) = add_sub(&fake, &token, other_parent, json!({ "sub_issue_id": a_id })).await;
    assert_eq!(status, 422);
    assert_eq!(
        e["message"],
        format!("{lead}Sub issue may only have one parent")
    );
    let (status, e) = add_sub(
        &fake,
        &token,
        parent,
        json!({ "sub_issue_id": fake.issue_id("octo/widgets", parent) }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        e["message"],
        format!("{lead}Sub issue cannot be the same as the parent issue")
    );
    // Unknown ids (a number is not an id), unknown parent, missing field.
    for (p, id) in [
        (parent, json!(a)),
        (parent, json!(12345)),
        (999, json!(a_id)),
    ] {
        let (status, _) = add_sub(&fake, &token, p, json!({ "sub_issue_id": id })).await;
        assert_eq!(status, 404, "{p} {id}");
    }
    let (status, e) = add_sub(&fake, &token, parent, json!({})).await;
    assert_eq!(status, 422);
    assert_eq!(
        e["message"],
        "Invalid request.\n\n\"sub_issue_id\" wasn't supplied."
    );
    assert_eq!(fake.sub_issues("octo/widgets", parent), vec![a, b]);

    // replace_parent moves the child.
    let (status, moved) = add_sub(
        &fake,
        &token,
        other_parent,
        json!({ "sub_issue_id": a_id, "replace_parent": true }),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(moved["sub_issues_summary"]["total"], 1);
    assert_eq!(fake.sub_issues("octo/widgets", parent), vec![b]);
    assert_eq!(fake.sub_issues("octo/widgets", other_parent), vec![a]);

    // Remove (singular path), then again: 404.
    let remove = format!("/repos/octo/widgets/issues/{parent}/sub_issue");
    let b_id = fake.issue_id("octo/widgets", b);
    let (status, answer) = send(
        &fake,
        &token,
        "DELETE",
        &remove,
        json!({ "sub_issue_id": b_id }),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["number"], parent);
    assert_eq!(answer["sub_issues_summary"]["total"], 0);
    assert!(fake.sub_issues("octo/widgets", parent).is_empty());
    assert_eq!(fake.issue("octo/widgets", b).unwrap().parent, None);
    let (status, _) = send(
        &fake,
        &token,
        "DELETE",
        &remove,
        json!({ "sub_issue_id": b_id }),
    )
    .await;
    assert_eq!(status, 404);
    // This test sends a sub-issue body without `sub_issue_id` on purpose.
    take_deliberate_request_violations(&fake);
}

#[tokio::test]
async fn closing_children_shows_in_the_summary() {
    let (fake, token, parent) = fixture().await;
    let children: Vec<u64> = (1..=3)
        .map(|i| fake.add_issue("octo/widgets", &format!("Step {i}"), "", "alice"))
        .collect();
    for c in &children {
        let id = fake.issue_id("octo/widgets", *c);
        assert_eq!(
            add_sub(&fake, &token, parent, json!({ "sub_issue_id": id }))
                .await
                .0,
            201
        );
    }
    let (status, _) = send(
        &fake,
        &token,
        "PATCH",
        &format!("/repos/octo/widgets/issues/{}", children[0]),
        json!({ "state": "closed" }),
    )
    .await;
    assert_eq!(status, 200);
    let (_, issue) = send(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/issues/{parent}"),
        Value::Null,
    )
    .await;
    assert_eq!(
        issue["sub_issues_summary"],
        json!({ "total": 3, "completed": 1, "percent_completed": 33 })
    );
    fake.set_issue_state("octo/widgets", children[1], "closed");
    fake.set_issue_state("octo/widgets", children[2], "closed");
    assert_eq!(
        fake.issue_json("octo/widgets", parent)["sub_issues_summary"],
        json!({ "total": 3, "completed": 3, "percent_completed": 100 })
    );
    // The issues list carries it too.
    let (_, list) = send(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/issues?state=all",
        Value::Null,
    )
    .await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["number"] == parent)
        .unwrap();
    assert_eq!(listed["sub_issues_summary"]["completed"], 3);
}

#[tokio::test]
async fn faults_apply_to_sub_issue_routes() {
    let (fake, token, parent) = fixture().await;
    let child = fake.add_issue("octo/widgets", "Child", "", "alice");
    let id = fake.issue_id("octo/widgets", child);
    fake.inject(
        "POST",
        "/repos/*/*/issues/*/sub_issues",
        Fault::Status(502),
        1,
    );
    assert_eq!(
        add_sub(&fake, &token, parent, json!({ "sub_issue_id": id }))
            .await
            .0,
        502
    );
    assert!(fake.sub_issues("octo/widgets", parent).is_empty());
    fake.inject(
        "POST",
        "/repos/*/*/issues/*/sub_issues",
        Fault::StatusAfterEffect(500),
        1,
    );
    assert_eq!(
        add_sub(&fake, &token, parent, json!({ "sub_issue_id": id }))
            .await
            .0,
        500
    );
    assert_eq!(fake.sub_issues("octo/widgets", parent), vec![child]);
    // The retry meets the duplicate 422.
    assert_eq!(
        add_sub(&fake, &token, parent, json!({ "sub_issue_id": id }))
            .await
            .0,
        422
    );
    let path = format!("/repos/octo/widgets/issues/{parent}/sub_issues");
    let statuses: Vec<u16> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![502, 500, 422]);
}
