//! Check runs: create, update, get, list for a commit, GitHub's 422s, the local-repository sha
//! checks, permissions and faults.

mod common;

use common::*;
use fake_github::{CheckRunRecord, FakeGitHub, Fault};
use serde_json::{json, Value};

const SHA: &str = "ce587453ced02b1526dfb4cb910479d431683101";

async fn create_run(fake: &FakeGitHub, token: &str, body: Value) -> (u16, Value) {
    let (status, _, v) = call(
        fake,
        token,
        "POST",
        "/repos/octo/widgets/check-runs",
        Some(body),
    )
    .await;
    (status, v)
}

#[tokio::test]
async fn create_minimal_run_shape() {
    let (fake, token, _) = fixture().await;
    let (status, headers, run) = call(
        &fake,
        &token,
        "POST",
        "/repos/octo/widgets/check-runs",
        Some(json!({ "name": "bosun", "head_sha": SHA })),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_u64().unwrap();
    let url = fake.url();
    assert_eq!(
        headers["location"],
        format!("{url}/repos/octo/widgets/check-runs/{id}").as_str()
    );
    assert_eq!(run["name"], "bosun");
    assert_eq!(run["head_sha"], SHA);
    assert_eq!(run["status"], "queued");
    assert_eq!(run["conclusion"], Value::Null);
    assert!(run["started_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(run["completed_at"], Value::Null);
    assert_eq!(run["external_id"], "");
    assert_eq!(
        run["url"],
        format!("{url}/repos/octo/widgets/check-runs/{id}")
    );
    assert_eq!(run["html_url"], format!("{url}/octo/widgets/runs/{id}"));
    // No details_url sent: GitHub shows the App's homepage.
    assert_eq!(run["details_url"], run["app"]["external_url"]);
    assert!(run["node_id"].is_string());
    assert!(run["check_suite"]["id"].is_u64());
    assert_eq!(run["app"]["id"], fake.app_id());
    assert_eq!(run["app"]["slug"], fake.app_slug());
    assert!(run["app"].get("installations_count").is_none());
    assert_eq!(run["pull_requests"], json!([]));
    assert_eq!(
        run["output"],
        json!({
            "title": null, "summary": null, "text": null, "annotations_count": 0,
            "annotations_url": format!("{url}/repos/octo/widgets/check-runs/{id}/annotations"),
        })
    );
    assert_eq!(
        fake.check_runs("octo/widgets"),
        vec![CheckRunRecord {
            id,
            name: "bosun".into(),
            head_sha: SHA.into(),
            status: "queued".into(),
            conclusion: None,
            title: None,
            summary: None,
            text: None,
            details_url: None,
        }]
    );

    // GET answers the same run; another run on the same sha shares the check suite.
    let (status, _, got) = call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/check-runs/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(got, run);
    let (_, second) = create_run(&fake, &token, json!({ "name": "lint", "head_sha": SHA })).await;
    assert_eq!(second["check_suite"], run["check_suite"]);
    let (_, other) = create_run(&fake, &token, json!({ "name": "lint", "head_sha": "abc" })).await;
    assert_ne!(other["check_suite"], run["check_suite"]);
    assert!(fake.check_runs("octo/nothing").is_empty());
}

#[tokio::test]
async fn conclusion_completes_and_patch_updates() {
    let (fake, token, _) = fixture().await;
    let (status, done) = create_run(
        &fake,
        &token,
        json!({
            "name": "bosun", "head_sha": SHA, "conclusion": "success",
            "started_at": "2024-05-04T01:14:52Z",
            "output": { "title": "Done", "summary": "All good" },
        }),
    )
    .await;
    assert_eq!(status, 201, "{done}");
    assert_eq!(done["status"], "completed");
    assert_eq!(done["conclusion"], "success");
    assert_eq!(done["started_at"], "2024-05-04T01:14:52Z");
    assert!(done["completed_at"].as_str().unwrap().ends_with('Z'));

    let (status, run) = create_run(
        &fake,
        &token,
        json!({
            "name": "bosun", "head_sha": SHA, "status": "in_progress", "external_id": "42",
            "details_url": "https://bosun.example/runs/1",
            "output": { "title": "Working", "summary": "Started", "text": "log…" },
        }),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_u64().unwrap();
    assert_eq!(run["status"], "in_progress");
    assert_eq!(run["external_id"], "42");
    assert_eq!(run["details_url"], "https://bosun.example/runs/1");
    assert_eq!(run["output"]["title"], "Working");
    assert_eq!(run["output"]["text"], "log…");

    let path = format!("/repos/octo/widgets/check-runs/{id}");
    let (status, _, updated) = call(
        &fake,
        &token,
        "PATCH",
        &path,
        Some(json!({
            "conclusion": "failure",
            "completed_at": "2024-05-04T02:00:00Z",
            "output": {
                "summary": "It failed",
                "annotations": [{ "path": "a.rs", "start_line": 1, "end_line": 1,
                                  "annotation_level": "failure", "message": "no" }],
            },
        })),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["id"], id);
    assert_eq!(updated["status"], "completed");
    assert_eq!(updated["conclusion"], "failure");
    assert_eq!(updated["completed_at"], "2024-05-04T02:00:00Z");
    assert_eq!(updated["output"]["title"], "Working");
    assert_eq!(updated["output"]["summary"], "It failed");
    assert_eq!(updated["output"]["text"], "log…");
    assert_eq!(updated["output"]["annotations_count"], 1);
    let (_, _, got) = call(&fake, &token, "GET", &path, None).await;
    assert_eq!(got, updated);
    assert_eq!(
        fake.check_runs("octo/widgets")[1],
        CheckRunRecord {
            id,
            name: "bosun".into(),
            head_sha: SHA.into(),
            status: "completed".into(),
            conclusion: Some("failure".into()),
            title: Some("Working".into()),
            summary: Some("It failed".into()),
            text: Some("log…".into()),
            details_url: Some("https://bosun.example/runs/1".into()),
        }
    );

    // Status only (no conclusion): back in progress.
    let (status, _, again) = call(
        &fake,
        &token,
        "PATCH",
        &path,
        Some(json!({ "status": "in_progress", "name": "bosun (retry)" })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(again["status"], "in_progress");
    assert_eq!(again["conclusion"], Value::Null);
    assert_eq!(again["completed_at"], Value::Null);
    assert_eq!(again["name"], "bosun (retry)");

    // Unknown ids, and ids of another repository, are 404.
    let (status, _, body) = call(
        &fake,
        &token,
        "PATCH",
        "/repos/octo/widgets/check-runs/1",
        Some(json!({ "status": "queued" })),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        body["documentation_url"],
        "https://docs.github.com/rest/checks/runs#update-a-check-run"
    );
    let (_, installation) = fake.add_repo("octo/gadgets");
    let token2 = mint(&fake, installation).await;
    let (status, _, _) = call(
        &fake,
        &token2,
        "GET",
        &format!("/repos/octo/gadgets/check-runs/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn schema_errors_like_github() {
    let (fake, token, _) = fixture().await;
    let message = |v: &Value| v["message"].as_str().unwrap().to_owned();

    let (status, v) = create_run(
        &fake,
        &token,
        json!({ "name": "bosun", "head_sha": SHA, "status": "completed" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        message(&v),
        "Invalid request.\n\nNo subschema in \"anyOf\" matched.\n\"conclusion\" wasn't supplied."
    );
    assert_eq!(
        v["documentation_url"],
        "https://docs.github.com/rest/checks/runs#create-a-check-run"
    );
    let (status, _) = create_run(
        &fake,
        &token,
        json!({ "name": "bosun", "head_sha": SHA, "completed_at": "2024-05-04T02:00:00Z" }),
    )
    .await;
    assert_eq!(status, 422);
    let (status, v) = create_run(&fake, &token, json!({ "head_sha": SHA })).await;
    assert_eq!(status, 422);
    assert_eq!(message(&v), "Invalid request.\n\n\"name\" wasn't supplied.");
    let (status, v) = create_run(&fake, &token, json!({ "name": "bosun" })).await;
    assert_eq!(status, 422);
    assert_eq!(
        message(&v),
        "Invalid request.\n\n\"head_sha\" wasn't supplied."
    );
    let (status, v) = create_run(
        &fake,
        &token,
        json!({ "name": "bosun", "head_sha": SHA, "status": "done" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        message(&v),
        "Invalid request.\n\nFor 'properties/status', \"done\" is not a member of [\"queued\", \"in_progress\", \"completed\"]."
    );
    let (status, v) = create_run(
        &fake,
        &token,
        json!({ "name": "bosun", "head_sha": SHA, "conclusion": "great" }),
    )
    .await;
    assert_eq!(status, 422);
    assert!(message(&v).starts_with("Invalid request.\n\nFor 'properties/conclusion', \"great\""));
    let (status, v) = create_run(
        &fake,
        &token,
        json!({ "name": "bosun", "head_sha": SHA, "details_url": null }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        message(&v),
        "Invalid request.\n\nFor 'properties/details_url', nil is not a string."
    );
    let (status, v) = create_run(
        &fake,
        &token,
        json!({ "name": "bosun", "head_sha": SHA, "output": { "title": "t" } }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        message(&v),
        "Invalid request.\n\n\"summary\" wasn't supplied."
    );
    let (status, v) = create_run(
        &fake,
        &token,
        json!({ "name": "bosun", "head_sha": SHA, "output": { "summary": "s" } }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        message(&v),
        "Invalid request.\n\n\"title\" wasn't supplied."
    );
    let long = "x".repeat(65_536);
    let (status, v) = create_run(
        &fake,
        &token,
        json!({ "name": "bosun", "head_sha": SHA,
                "output": { "title": "t", "summary": "s", "text": long } }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        message(&v),
        "Invalid request.\n\nOnly 65535 characters are allowed; 65536 were supplied."
    );
    let (status, v) = create_run(&fake, &token, json!({ "name": "bosun", "head_sha": "" })).await;
    assert_eq!(status, 422);
    assert_eq!(message(&v), "No commit found for SHA: ");
    assert!(fake.check_runs("octo/widgets").is_empty());

    // Update: `status: completed` still needs a conclusion; an output needs a summary.
    let (_, run) = create_run(&fake, &token, json!({ "name": "bosun", "head_sha": SHA })).await;
    let path = format!("/repos/octo/widgets/check-runs/{}", run["id"]);
    let (status, _, v) = call(
        &fake,
        &token,
        "PATCH",
        &path,
        Some(json!({ "status": "completed" })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        v["documentation_url"],
        "https://docs.github.com/rest/checks/runs#update-a-check-run"
    );
    let (status, _, _) = call(
        &fake,
        &token,
        "PATCH",
        &path,
        Some(json!({ "output": { "title": "only a title" } })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(fake.check_runs("octo/widgets")[0].status, "queued");
    // This test sends bodies that break the check-run schema on purpose.
    take_deliberate_request_violations(&fake);
}

#[tokio::test]
async fn list_for_ref_filters_and_paginates() {
    let (fake, token, _) = fixture().await;
    let mut ids = Vec::new();
    for (name, extra) in [
        ("build", json!({ "conclusion": "failure" })),
        ("lint", json!({ "status": "in_progress" })),
        ("build", json!({ "conclusion": "success" })),
    ] {
        let mut body = json!({ "name": name, "head_sha": SHA });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, run) = create_run(&fake, &token, body).await;
        assert_eq!(status, 201, "{run}");
        ids.push(run["id"].as_u64().unwrap());
    }
    create_run(&fake, &token, json!({ "name": "build", "head_sha": "abc" })).await;

    let list = |q: String| {
        let fake = fake.clone();
        let token = token.clone();
        async move {
            let (status, headers, v) = call(
                &fake,
                &token,
                "GET",
                &format!("/repos/octo/widgets/commits/{SHA}/check-runs{q}"),
                None,
            )
            .await;
            assert_eq!(status, 200, "{v}");
            let got: Vec<u64> = v["check_runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_u64().unwrap())
                .collect();
            (v["total_count"].as_u64().unwrap(), got, headers)
        }
    };
    // filter=latest (default): the newest run of each name, newest first.
    let (total, got, _) = list(String::new()).await;
    assert_eq!((total, got), (2, vec![ids[2], ids[1]]));
    let (total, got, _) = list("?filter=all".into()).await;
    assert_eq!((total, got), (3, vec![ids[2], ids[1], ids[0]]));
    let (total, got, _) = list("?check_name=lint".into()).await;
    assert_eq!((total, got), (1, vec![ids[1]]));
    let (total, got, _) = list("?status=completed&filter=all".into()).await;
    assert_eq!((total, got), (2, vec![ids[2], ids[0]]));
    let (total, got, headers) = list("?filter=all&per_page=1".into()).await;
    assert_eq!((total, got), (3, vec![ids[2]]));
    let link = headers["link"].to_str().unwrap();
    assert!(
        link.contains(&format!(
            "/repos/octo/widgets/commits/{SHA}/check-runs?filter=all&per_page=1&page=2>; rel=\"next\""
        )),
        "{link}"
    );
    assert!(link.contains("page=3>; rel=\"last\""), "{link}");
    // Without a local repository any other ref simply has no runs.
    let (status, _, v) = call(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/commits/0123abc/check-runs",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v, json!({ "total_count": 0, "check_runs": [] }));
}

#[tokio::test]
async fn shas_are_checked_against_a_local_repository() {
    let local = LocalRepo::create();
    let (fake, token, _) = fixture().await;
    fake.set_clone_url("octo/widgets", &local.file_url());

    let (status, v) = create_run(
        &fake,
        &token,
        json!({ "name": "bosun", "head_sha": "1111111111111111111111111111111111111111" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        v["message"],
        "No commit found for SHA: 1111111111111111111111111111111111111111"
    );
    // A short sha is stored as the full one.
    let (status, run) = create_run(
        &fake,
        &token,
        json!({ "name": "bosun", "head_sha": &local.feature_sha[..12] }),
    )
    .await;
    assert_eq!(status, 201, "{run}");
    assert_eq!(run["head_sha"], local.feature_sha.as_str());
    assert_eq!(run["pull_requests"], json!([]));

    // An open pull request whose head is this commit is listed on the run.
    let (status, _, pr) = call(
        &fake,
        &token,
        "POST",
        "/repos/octo/widgets/pulls",
        Some(json!({ "title": "Feature", "head": "feature", "base": "main", "draft": true })),
    )
    .await;
    assert_eq!(status, 201, "{pr}");
    let (_, _, got) = call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/check-runs/{}", run["id"]),
        None,
    )
    .await;
    let prs = got["pull_requests"].as_array().unwrap();
    assert_eq!(prs.len(), 1);
    assert_eq!(prs[0]["number"], pr["number"]);
    assert_eq!(prs[0]["head"]["ref"], "feature");
    assert_eq!(prs[0]["head"]["sha"], local.feature_sha.as_str());
    assert_eq!(prs[0]["base"]["sha"], local.main_sha.as_str());

    // The ref of the list route may be a branch name; unknown refs are 422.
    let (status, _, v) = call(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/commits/feature/check-runs",
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["total_count"], 1);
    assert_eq!(v["check_runs"][0]["id"], run["id"]);
    let (status, _, v) = call(
        &fake,
        &token,
        "GET",
        &format!("/repos/octo/widgets/commits/{}/check-runs", local.main_sha),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["total_count"], 0);
    let (status, _, v) = call(
        &fake,
        &token,
        "GET",
        "/repos/octo/widgets/commits/no-such-branch/check-runs",
        None,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(v["message"], "No commit found for SHA: no-such-branch");
}

#[tokio::test]
async fn tokens_without_checks_permission_get_403() {
    let (fake, _, _) = fixture().await;
    let installation = fake.add_repo("octo/widgets").1;
    let resp = req(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
    )
    .bearer_auth(app_jwt(fake.app_id()))
    .json(&json!({ "permissions": { "pull_requests": "write", "issues": "write" } }))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 201);
    let limited = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, v) = create_run(&fake, &limited, json!({ "name": "b", "head_sha": SHA })).await;
    assert_eq!(status, 403);
    assert_eq!(v["message"], "Resource not accessible by integration");
    for (method, path) in [
        (
            "GET",
            format!("/repos/octo/widgets/commits/{SHA}/check-runs"),
        ),
        ("GET", "/repos/octo/widgets/check-runs/1".to_owned()),
        ("PATCH", "/repos/octo/widgets/check-runs/1".to_owned()),
    ] {
        let body = (method == "PATCH").then(|| json!({}));
        let (status, _, v) = call(&fake, &limited, method, &path, body).await;
        assert_eq!(status, 403, "{method} {path}");
        assert_eq!(v["message"], "Resource not accessible by integration");
    }
    // Read-only checks permission: reads work, writes do not.
    let resp = req(
        &fake,
        "POST",
        &format!("/app/installations/{installation}/access_tokens"),
    )
    .bearer_auth(app_jwt(fake.app_id()))
    .json(&json!({ "permissions": { "checks": "read" } }))
    .send()
    .await
    .unwrap();
    let reader = resp.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = create_run(&fake, &reader, json!({ "name": "b", "head_sha": SHA })).await;
    assert_eq!(status, 403);
    let path = format!("/repos/octo/widgets/commits/{SHA}/check-runs");
    assert_eq!(call(&fake, &reader, "GET", &path, None).await.0, 200);
    assert!(fake.check_runs("octo/widgets").is_empty());
}

#[tokio::test]
async fn faults_apply_to_check_run_routes() {
    let (fake, token, _) = fixture().await;
    fake.inject("POST", "/repos/*/*/check-runs", Fault::Status(500), 1);
    let body = json!({ "name": "bosun", "head_sha": SHA });
    let (status, v) = create_run(&fake, &token, body.clone()).await;
    assert_eq!(status, 500);
    assert_eq!(v["message"], "Server Error");
    assert!(fake.check_runs("octo/widgets").is_empty());
    let (status, run) = create_run(&fake, &token, body).await;
    assert_eq!(status, 201);

    let path = format!("/repos/octo/widgets/check-runs/{}", run["id"]);
    fake.inject(
        "PATCH",
        "/repos/*/*/check-runs/*",
        Fault::StatusAfterEffect(502),
        1,
    );
    let (status, _, _) = call(
        &fake,
        &token,
        "PATCH",
        &path,
        Some(json!({ "conclusion": "success" })),
    )
    .await;
    assert_eq!(status, 502);
    assert_eq!(fake.check_runs("octo/widgets")[0].status, "completed");

    fake.inject(
        "GET",
        "/repos/*/*/commits/*/check-runs",
        Fault::PrimaryRateLimit { reset_in_secs: 60 },
        1,
    );
    let list = format!("/repos/octo/widgets/commits/{SHA}/check-runs");
    let (status, headers, v) = call(&fake, &token, "GET", &list, None).await;
    assert_eq!(status, 403);
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .starts_with("API rate limit exceeded for installation ID"));
    assert_eq!(call(&fake, &token, "GET", &list, None).await.0, 200);
    let statuses: Vec<u16> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("check-runs"))
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![500, 201, 502, 403, 200]);
}
