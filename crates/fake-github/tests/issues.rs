//! Issues, comments (with pagination), reactions, labels, contents, permissions, manifests.

mod common;

use common::*;
use fake_github::TEST_APP_PRIVATE_KEY;
use serde_json::{json, Value};

/// Parses a `Link` header into (rel, url) pairs.
fn links(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    let Some(link) = headers.get("link") else {
        return Vec::new();
    };
    link.to_str()
        .unwrap()
        .split(", ")
        .map(|part| {
            let (url, rel) = part.split_once("; ").unwrap();
            let url = url.trim_start_matches('<').trim_end_matches('>').to_owned();
            let rel = rel
                .trim_start_matches("rel=\"")
                .trim_end_matches('"')
                .to_owned();
            (rel, url)
        })
        .collect()
}

#[tokio::test]
async fn get_issue_shape() {
    let (fake, token, n) = fixture().await;
    fake.label_issue("octo/widgets", n, "bug");
    let (status, _, issue) = call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/issues/{n}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(issue["number"], n);
    assert_eq!(issue["title"], "Widgets wobble");
    assert_eq!(issue["body"], "They wobble.");
    assert_eq!(issue["state"], "open");
    assert_eq!(issue["user"]["login"], "alice");
    assert_eq!(issue["user"]["type"], "User");
    assert_eq!(issue["user"]["id"], fake.user_id("alice"));
    assert_eq!(issue["labels"][0]["name"], "bug");
    assert_eq!(issue["labels"][0]["color"], "ededed");
    assert_eq!(issue["labels"][0]["default"], false);
    assert!(issue["labels"][0]["id"].is_u64());
    assert!(issue.get("pull_request").is_none());
    assert_eq!(
        issue["url"],
        format!("{}/repos/octo/widgets/issues/{n}", fake.url())
    );
    assert!(issue["created_at"].as_str().unwrap().ends_with('Z'));
    let (status, _, body) = call(&fake, &token, "GET", "/repos/octo/widgets/issues/99", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Not Found");
}

#[tokio::test]
async fn list_issues_filters_by_label_and_state() {
    let (fake, token, first) = fixture().await;
    let second = fake.add_issue("octo/widgets", "Second", "", "bob");
    let third = fake.add_issue("octo/widgets", "Third", "", "bob");
    fake.label_issue("octo/widgets", first, "bosun");
    fake.label_issue("octo/widgets", third, "bosun");
    fake.label_issue("octo/widgets", third, "urgent");
    fake.set_issue_state("octo/widgets", first, "closed");

    let numbers = |v: &Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["number"].as_u64().unwrap())
            .collect()
    };
    let (_, _, open) = call(&fake, &token, "GET", "/repos/octo/widgets/issues", None).await;
    assert_eq!(numbers(&open), vec![third, second]);
    let (_, _, labeled) = call(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/issues?labels=bosun&state=all",
        None,
    )
    .await;
    assert_eq!(numbers(&labeled), vec![third, first]);
    let (_, _, both) = call(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/issues?labels=bosun,urgent",
        None,
    )
    .await;
    assert_eq!(numbers(&both), vec![third]);
    let (_, _, closed) = call(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/issues?state=closed",
        None,
    )
    .await;
    assert_eq!(numbers(&closed), vec![first]);
    assert_eq!(closed[0]["state_reason"], "completed");
    assert_eq!(open[0]["body"], Value::Null);
}

#[tokio::test]
async fn comments_create_list_update_with_pagination() {
    let (fake, token, n) = fixture().await;
    fake.add_comment("octo/widgets", n, "first!", "alice");
    let path = format!("/repos/octo/widgets/issues/{n}/comments");

    let (status, headers, c) = call(
        &fake,
        &token,
        "POST",
        &path,
        Some(json!({ "body": "On it." })),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(c["body"], "On it.");
    assert_eq!(c["user"]["login"], "bosun-test[bot]");
    assert_eq!(c["user"]["type"], "Bot");
    assert_eq!(c["user"]["id"], fake.bot_user_id());
    assert_eq!(c["performed_via_github_app"]["slug"], "bosun-test");
    let id = c["id"].as_u64().unwrap();
    assert_eq!(
        headers["location"].to_str().unwrap(),
        format!("{}/repos/octo/widgets/issues/comments/{id}", fake.url())
    );
    assert_eq!(
        c["html_url"],
        format!("{}/octo/widgets/issues/{n}#issuecomment-{id}", fake.url())
    );
    assert_eq!(
        c["issue_url"],
        format!("{}/repos/octo/widgets/issues/{n}", fake.url())
    );

    for i in 0..5 {
        call(
            &fake,
            &token,
            "POST",
            &path,
            Some(json!({ "body": format!("c{i}") })),
        )
        .await;
    }
    let records = fake.comments("octo/widgets", n);
    assert_eq!(records.len(), 7);
    assert_eq!(records[0].user_login, "alice");
    assert_eq!(records[0].user_type, "User");
    assert_eq!(records[1].user_type, "Bot");

    // Page 1 of 3 (per_page=3): next + last.
    let (status, headers, page1) =
        call(&fake, &token, "GET", &format!("{path}?per_page=3"), None).await;
    assert_eq!(status, 200);
    assert_eq!(page1.as_array().unwrap().len(), 3);
    assert_eq!(page1[0]["body"], "first!");
    let base = format!("{}{path}", fake.url());
    assert_eq!(
        headers["link"].to_str().unwrap(),
        format!(
            "<{base}?per_page=3&page=2>; rel=\"next\", <{base}?per_page=3&page=3>; rel=\"last\""
        )
    );
    // Follow `next` to the middle page: prev, next, last, first.
    let next = links(&headers)
        .into_iter()
        .find(|(r, _)| r == "next")
        .unwrap()
        .1;
    let resp = req(&fake, "GET", next.trim_start_matches(&fake.url()))
        .header("authorization", format!("token {token}"))
        .send()
        .await
        .unwrap();
    let (_, headers, page2) = split(resp).await;
    assert_eq!(page2[0]["body"], "c1");
    let rels: Vec<String> = links(&headers).into_iter().map(|(r, _)| r).collect();
    assert_eq!(rels, ["prev", "next", "last", "first"]);
    // Last page: prev + first, 1 item.
    let (_, headers, page3) = call(
        &fake,
        &token,
        "GET",
        &format!("{path}?per_page=3&page=3"),
        None,
    )
    .await;
    assert_eq!(page3.as_array().unwrap().len(), 1);
    let rels: Vec<String> = links(&headers).into_iter().map(|(r, _)| r).collect();
    assert_eq!(rels, ["prev", "first"]);
    // Default page size 30: everything, no Link.
    let (_, headers, all) = call(&fake, &token, "GET", &path, None).await;
    assert_eq!(all.as_array().unwrap().len(), 7);
    assert!(headers.get("link").is_none());

    // Get and update.
    let cpath = format!("/repos/octo/widgets/issues/comments/{id}");
    let (status, _, got) = call(&fake, &token, "GET", &cpath, None).await;
    assert_eq!(status, 200);
    assert_eq!(got["body"], "On it.");
    let (status, _, updated) = call(
        &fake,
        &token,
        "PATCH",
        &cpath,
        Some(json!({ "body": "Done." })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["body"], "Done.");
    assert_eq!(updated["id"], id);
    let rec = fake
        .comments("octo/widgets", n)
        .into_iter()
        .find(|c| c.id == id)
        .unwrap();
    assert_eq!((rec.body.as_str(), rec.edits), ("Done.", 1));

    // Errors.
    assert_eq!(
        call(
            &fake,
            &token,
            "PATCH",
            "/repos/octo/widgets/issues/comments/1",
            Some(json!({ "body": "x" }))
        )
        .await
        .0,
        404
    );
    let (status, _, body) = call(&fake, &token, "POST", &path, Some(json!({}))).await;
    assert_eq!(status, 422);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("\"body\" wasn't supplied"));
    let (status, _, body) = call(
        &fake,
        &token,
        "POST",
        &path,
        Some(json!({ "body": "x".repeat(65_537) })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "body");
    let resp = req(&fake, "POST", &path)
        .header("authorization", format!("token {token}"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, _, body) = split(resp).await;
    assert_eq!(
        (status, body["message"].as_str().unwrap()),
        (400, "Problems parsing JSON")
    );
    assert_eq!(
        call(
            &fake,
            &token,
            "POST",
            "/repos/octo/widgets/issues/42/comments",
            Some(json!({ "body": "x" }))
        )
        .await
        .0,
        404
    );
    assert_eq!(fake.comments("octo/widgets", n).len(), 7);
    // This test sends a comment without `body` on purpose.
    take_deliberate_request_violations(&fake);
}

#[tokio::test]
async fn reactions_are_201_then_200() {
    let (fake, token, n) = fixture().await;
    let comment = fake.add_comment("octo/widgets", n, "please fix", "alice");

    let path = format!("/repos/octo/widgets/issues/{n}/reactions");
    let (status, _, first) = call(
        &fake,
        &token,
        "POST",
        &path,
        Some(json!({ "content": "eyes" })),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(first["content"], "eyes");
    assert_eq!(first["user"]["login"], "bosun-test[bot]");
    let (status, _, again) = call(
        &fake,
        &token,
        "POST",
        &path,
        Some(json!({ "content": "eyes" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again["id"], first["id"]);
    let (status, _, _) = call(
        &fake,
        &token,
        "POST",
        &path,
        Some(json!({ "content": "rocket" })),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _, body) = call(
        &fake,
        &token,
        "POST",
        &path,
        Some(json!({ "content": "thumbsup" })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["message"], "Validation Failed");
    let reactions = fake.issue_reactions("octo/widgets", n);
    assert_eq!(reactions.len(), 2);
    assert_eq!(reactions[0].content, "eyes");
    assert_eq!(reactions[0].user_login, "bosun-test[bot]");

    let cpath = format!("/repos/octo/widgets/issues/comments/{comment}/reactions");
    assert_eq!(
        call(
            &fake,
            &token,
            "POST",
            &cpath,
            Some(json!({ "content": "+1" }))
        )
        .await
        .0,
        201
    );
    assert_eq!(
        call(
            &fake,
            &token,
            "POST",
            &cpath,
            Some(json!({ "content": "+1" }))
        )
        .await
        .0,
        200
    );
    assert_eq!(fake.comment_reactions("octo/widgets", comment).len(), 1);
    assert_eq!(
        call(
            &fake,
            &token,
            "POST",
            "/repos/octo/widgets/issues/comments/5/reactions",
            Some(json!({ "content": "+1" }))
        )
        .await
        .0,
        404
    );

    // The roll-up on the issue counts them.
    let (_, _, issue) = call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/issues/{n}"),
        None,
    )
    .await;
    assert_eq!(issue["reactions"]["total_count"], 2);
    assert_eq!(issue["reactions"]["eyes"], 1);
    // This test sends a reaction content GitHub does not know on purpose.
    take_deliberate_request_violations(&fake);
}

#[tokio::test]
async fn labels_add_and_remove() {
    let (fake, token, n) = fixture().await;
    let path = format!("/repos/octo/widgets/issues/{n}/labels");
    fake.label_issue("octo/widgets", n, "bosun");

    let (status, _, all) = call(
        &fake,
        &token,
        "POST",
        &path,
        Some(json!({ "labels": ["bosun:working", "Bug"] })),
    )
    .await;
    assert_eq!(status, 200);
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bosun", "bosun:working", "Bug"]);
    for l in all.as_array().unwrap() {
        for field in [
            "id",
            "node_id",
            "url",
            "name",
            "color",
            "default",
            "description",
        ] {
            assert!(l.get(field).is_some(), "label lacks {field}");
        }
    }
    // A bare array is accepted too, and existing labels match case-insensitively.
    let (status, _, all) = call(&fake, &token, "POST", &path, Some(json!(["bug"]))).await;
    assert_eq!((status, all.as_array().unwrap().len()), (200, 3));

    let (status, _, left) = call(
        &fake,
        &token,
        "DELETE",
        &format!("{path}/bosun%3Aworking"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(left.as_array().unwrap().len(), 2);
    assert_eq!(fake.issue_labels("octo/widgets", n), ["bosun", "Bug"]);

    let (status, _, body) = call(
        &fake,
        &token,
        "DELETE",
        &format!("{path}/bosun%3Aworking"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "Label does not exist");
    let (status, _, body) =
        call(&fake, &token, "DELETE", &format!("{path}/never-seen"), None).await;
    assert_eq!(
        (status, body["message"].as_str().unwrap()),
        (404, "Label does not exist")
    );
    assert_eq!(
        call(
            &fake,
            &token,
            "DELETE",
            "/repos/octo/widgets/issues/77/labels/bosun",
            None
        )
        .await
        .0,
        404
    );

    let (status, _, listed) = call(&fake, &token, "GET", &path, None).await;
    assert_eq!((status, listed.as_array().unwrap().len()), (200, 2));
}

#[tokio::test]
async fn contents_are_base64_with_blob_sha() {
    let (fake, token, _) = fixture().await;
    let text = "bosun:\n  agent: claude\n".repeat(10);
    fake.put_file("octo/widgets", ".github/bosun.yml", &text);
    fake.put_file("octo/widgets", "README.md", "hello\n");

    let (status, _, f) = call(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/contents/.github/bosun.yml",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(f["type"], "file");
    assert_eq!(f["encoding"], "base64");
    assert_eq!(f["name"], "bosun.yml");
    assert_eq!(f["path"], ".github/bosun.yml");
    assert_eq!(f["size"], text.len());
    let content = f["content"].as_str().unwrap();
    assert!(content.split_terminator('\n').all(|l| l.len() <= 60));
    assert!(content.ends_with('\n'));
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(content.replace('\n', ""))
        .unwrap();
    assert_eq!(decoded, text.as_bytes());

    let (_, _, readme) = call(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/contents/README.md?ref=main",
        None,
    )
    .await;
    assert_eq!(readme["sha"], "ce013625030ba8dba906f756967f9e9ca394464a");

    let (status, _, body) = call(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/contents/missing.yml",
        None,
    )
    .await;
    assert_eq!(
        (status, body["message"].as_str().unwrap()),
        (404, "Not Found")
    );
    let (status, _, _) = call(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/contents/README.md?ref=nope",
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Directories list their entries.
    let (status, _, dir) = call(&fake, &token, "GET", "/repos/octo/widgets/contents/", None).await;
    assert_eq!(status, 200);
    let entries: Vec<(&str, &str)> = dir
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["path"].as_str().unwrap()))
        .collect();
    assert_eq!(entries, [("dir", ".github"), ("file", "README.md")]);
}

#[tokio::test]
async fn permission_levels() {
    let (fake, token, _) = fixture().await;
    for (login, level) in [
        ("ada", "admin"),
        ("max", "maintain"),
        ("wes", "write"),
        ("tia", "triage"),
        ("rex", "read"),
        ("nan", "none"),
    ] {
        fake.set_permission("octo/widgets", login, level);
    }
    let expect = [
        ("ada", "admin", "admin"),
        ("max", "write", "maintain"),
        ("wes", "write", "write"),
        ("tia", "read", "triage"),
        ("rex", "read", "read"),
        ("nan", "none", "none"),
        ("stranger", "read", "read"),
        ("octo", "admin", "admin"),
    ];
    for (login, permission, role) in expect {
        let (status, _, body) = call(
            &fake,
            &token,
            "GET",
            &format!("/repos/octo/widgets/collaborators/{login}/permission"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["permission"], permission, "{login}");
        assert_eq!(body["role_name"], role, "{login}");
        assert_eq!(body["user"]["login"], login);
    }
    assert_eq!(
        call(
            &fake,
            &token,
            "GET",
            "/repos/octo/nothing/collaborators/ada/permission",
            None
        )
        .await
        .0,
        404
    );
}

#[tokio::test]
async fn manifest_conversion() {
    let fake = fake_github::FakeGitHub::start().await;
    fake.register_manifest_code("abc123");
    let creds = fake.manifest_credentials("abc123").unwrap();
    let resp = req(&fake, "POST", "/app-manifests/abc123/conversions")
        .send()
        .await
        .unwrap();
    let (status, _, body) = split(resp).await;
    assert_eq!(status, 201);
    assert_eq!(body["id"], 4242);
    assert_eq!(body["slug"], "bosun-test");
    assert_eq!(body["pem"], TEST_APP_PRIVATE_KEY);
    assert_eq!(body["webhook_secret"], creds.webhook_secret);
    assert_eq!(body["client_secret"], creds.client_secret);
    assert_eq!(body["client_id"], creds.client_id);
    for field in [
        "node_id",
        "owner",
        "name",
        "html_url",
        "permissions",
        "events",
        "created_at",
    ] {
        assert!(body.get(field).is_some(), "missing {field}");
    }
    // Codes are single-use; unknown codes are 404.
    let resp = req(&fake, "POST", "/app-manifests/abc123/conversions")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = req(&fake, "POST", "/app-manifests/zzz/conversions")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
