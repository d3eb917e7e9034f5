//! Which response types the door reads GitHub's answers with: octocrab's models where they
//! take every answer GitHub's description allows, bosun's own (`types.rs`, `Wire*`) where
//! octocrab's refuse one. Each type is held to GitHub's published example answers
//! (`tests/fixtures/github-examples/`) and to the least answer GitHub's description allows
//! (`fake_github::contract::least_answer`: required fields only, `null` wherever allowed).
//! When octocrab fixes one of the refusals below, its test fails: switch that call over.

use super::pulls::{WireCheckRun, WirePull, WirePullHeadOnly};
use super::reviews::WireReview;
use super::types::{
    WireAccessToken, WireApp, WireComment, WireInstallation, WireIssue, WirePermission,
    WireRepository,
};
use fake_github::contract::least_answer;
use octocrab::models;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// GitHub's example answers of one operation, by "status name".
fn examples(file: &str) -> Vec<(String, Value)> {
    let text = match file {
        "apps__get-authenticated" => {
            include_str!("../../tests/fixtures/github-examples/apps__get-authenticated.json")
        }
        "apps__get-repo-installation" => {
            include_str!("../../tests/fixtures/github-examples/apps__get-repo-installation.json")
        }
        "apps__create-installation-access-token" => include_str!(
            "../../tests/fixtures/github-examples/apps__create-installation-access-token.json"
        ),
        "apps__list-webhook-deliveries" => {
            include_str!("../../tests/fixtures/github-examples/apps__list-webhook-deliveries.json")
        }
        "checks__create" => {
            include_str!("../../tests/fixtures/github-examples/checks__create.json")
        }
        "checks__get" => include_str!("../../tests/fixtures/github-examples/checks__get.json"),
        "issues__add-sub-issue" => {
            include_str!("../../tests/fixtures/github-examples/issues__add-sub-issue.json")
        }
        "issues__create-comment" => {
            include_str!("../../tests/fixtures/github-examples/issues__create-comment.json")
        }
        "issues__list-comments" => {
            include_str!("../../tests/fixtures/github-examples/issues__list-comments.json")
        }
        "pulls__create" => include_str!("../../tests/fixtures/github-examples/pulls__create.json"),
        "pulls__get" => include_str!("../../tests/fixtures/github-examples/pulls__get.json"),
        "pulls__list-reviews" => {
            include_str!("../../tests/fixtures/github-examples/pulls__list-reviews.json")
        }
        "pulls__create-review" => {
            include_str!("../../tests/fixtures/github-examples/pulls__create-review.json")
        }
        "pulls__create-reply-for-review-comment" => include_str!(
            "../../tests/fixtures/github-examples/pulls__create-reply-for-review-comment.json"
        ),
        "pulls__list-review-comments" => {
            include_str!("../../tests/fixtures/github-examples/pulls__list-review-comments.json")
        }
        "repos__get-collaborator-permission-level" => include_str!(
            "../../tests/fixtures/github-examples/repos__get-collaborator-permission-level.json"
        ),
        "repos__get-content" => {
            include_str!("../../tests/fixtures/github-examples/repos__get-content.json")
        }
        other => panic!("no examples copied for {other}"),
    };
    let file: Value = serde_json::from_str(text).expect("example file is JSON");
    let examples = file["examples"].as_object().expect("examples");
    assert!(!examples.is_empty(), "no examples");
    examples
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn least(method: &str, path: &str, status: u16) -> Value {
    least_answer(method, path, status)
        .unwrap_or_else(|| panic!("{method} {path} {status} is not described"))
}

fn reads<T: DeserializeOwned>(answer: &Value) -> Result<T, String> {
    serde_json::from_value::<T>(answer.clone()).map_err(|e| e.to_string())
}

/// `T` takes GitHub's examples for `file` and the least answer to `method path status`.
fn takes_all<T: DeserializeOwned>(file: &str, method: &str, path: &str, status: u16) {
    for (name, example) in examples(file) {
        if let Err(e) = reads::<T>(&example) {
            panic!(
                "{} refuses GitHub's example {file} {name}: {e}",
                std::any::type_name::<T>()
            );
        }
    }
    let answer = least(method, path, status);
    if let Err(e) = reads::<T>(&answer) {
        panic!(
            "{} refuses the least answer to {method} {path}: {e}\n{answer:#}",
            std::any::type_name::<T>()
        );
    }
}

/// A list answer holding the least item.
fn least_list(method: &str, path: &str, status: u16) -> Value {
    let Value::Array(_) = least(method, path, status) else {
        panic!("{method} {path} does not answer a list");
    };
    let item = least_item(method, path, status);
    Value::Array(vec![item])
}

/// The least item of a list answer: the description's item schema, filled the same way.
fn least_item(method: &str, path: &str, status: u16) -> Value {
    fake_github::contract::least_item(method, path, status)
        .unwrap_or_else(|| panic!("{method} {path} {status}: no item schema"))
}

#[test]
fn octocrab_models_the_door_reads_with_take_every_answer_github_allows() {
    let deliveries = "/app/hook/deliveries";
    takes_all::<Vec<models::hooks::Delivery>>(
        "apps__list-webhook-deliveries",
        "GET",
        deliveries,
        200,
    );
    reads::<Vec<models::hooks::Delivery>>(&least_list("GET", deliveries, 200)).expect("delivery");

    let comments = "/repos/o/r/pulls/1/comments";
    takes_all::<Vec<models::pulls::Comment>>("pulls__list-review-comments", "GET", comments, 200);
    reads::<Vec<models::pulls::Comment>>(&least_list("GET", comments, 200)).expect("comment");
    takes_all::<models::pulls::Comment>(
        "pulls__create-reply-for-review-comment",
        "POST",
        "/repos/o/r/pulls/1/comments/2/replies",
        201,
    );
    // A whole-file comment: GitHub answers null lines there although its description says
    // integer (see the fake's `contract_gate`).
    let mut whole_file = least_item("GET", comments, 200);
    whole_file["line"] = Value::Null;
    whole_file["original_line"] = Value::Null;
    whole_file["subject_type"] = json!("file");
    reads::<models::pulls::Comment>(&whole_file).expect("whole-file comment");

    // A directory answers a list; bosun reads files only and says so (see `repo_file`).
    for (name, example) in examples("repos__get-content") {
        if example.is_object() {
            reads::<models::repos::Content>(&example).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    reads::<models::repos::Content>(&least("GET", "/repos/o/r/contents/README.md", 200))
        .expect("least file");
}

/// Where the door keeps its own type: octocrab's model refuses an answer GitHub sends (or
/// drops a field bosun needs), and bosun's own type takes it and every example.
#[test]
fn where_bosun_keeps_its_own_types_octocrab_refuses_what_github_sends() {
    // GET /repos/{owner}/{repo}/collaborators/{username}/permission: GitHub's documentation
    // says `permission` is one of admin, write, read, none. octocrab's enum knows pull, push,
    // admin, maintain, triage, so every collaborator with write access fails to parse.
    let path = "/repos/o/r/collaborators/u/permission";
    let mut writer = examples("repos__get-collaborator-permission-level")[0]
        .1
        .clone();
    writer["permission"] = json!("write");
    writer["role_name"] = json!("write");
    assert!(reads::<models::repos::RepoPermission>(&writer).is_err());
    takes_all::<WirePermission>("repos__get-collaborator-permission-level", "GET", path, 200);
    let ours = crate::github::types::Permission::from(reads::<WirePermission>(&writer).unwrap());
    assert_eq!(ours, crate::github::types::Permission::Write);

    // Issue comments and issues: `user` may be null (a deleted account); octocrab's `Author`
    // is required. One such comment would make a whole page of comments unreadable.
    let comment = least("POST", "/repos/o/r/issues/1/comments", 201);
    assert!(reads::<models::issues::Comment>(&comment).is_err());
    takes_all::<WireComment>(
        "issues__create-comment",
        "POST",
        "/repos/o/r/issues/1/comments",
        201,
    );
    takes_all::<Vec<WireComment>>(
        "issues__list-comments",
        "GET",
        "/repos/o/r/issues/1/comments",
        200,
    );
    let issue = least("GET", "/repos/o/r/issues/1", 200);
    assert!(reads::<models::issues::Issue>(&issue).is_err());
    takes_all::<WireIssue>("issues__add-sub-issue", "GET", "/repos/o/r/issues/1", 200);

    // Reviews: octocrab's `state` is a closed enum; GitHub's description says "string".
    let reviews = "/repos/o/r/pulls/1/reviews";
    assert!(reads::<Vec<models::pulls::Review>>(&least_list("GET", reviews, 200)).is_err());
    takes_all::<Vec<WireReview>>("pulls__list-reviews", "GET", reviews, 200);
    reads::<Vec<WireReview>>(&least_list("GET", reviews, 200)).expect("least review");
    takes_all::<WireReview>("pulls__create-review", "POST", reviews, 200);

    // POST /app/installations/{id}/access_tokens: `permissions` is optional in GitHub's
    // description; octocrab requires it.
    let token_path = "/app/installations/1/access_tokens";
    assert!(reads::<models::InstallationToken>(&least("POST", token_path, 201)).is_err());
    takes_all::<WireAccessToken>(
        "apps__create-installation-access-token",
        "POST",
        token_path,
        201,
    );

    // GET /app: octocrab requires an `owner`, which GitHub's description lets be null.
    assert!(reads::<models::App>(&least("GET", "/app", 200)).is_err());
    takes_all::<WireApp>("apps__get-authenticated", "GET", "/app", 200);

    // Pull requests, repositories, installations, users: octocrab requires fields GitHub's
    // description lets be null (an installation's `account`, a user's `gravatar_id`…).
    assert!(reads::<models::pulls::PullRequest>(&least("POST", "/repos/o/r/pulls", 201)).is_err());
    takes_all::<WirePull>("pulls__create", "POST", "/repos/o/r/pulls", 201);
    takes_all::<WirePullHeadOnly>("pulls__get", "GET", "/repos/o/r/pulls/1", 200);
    assert!(reads::<models::Repository>(&least("GET", "/repos/o/r", 200)).is_err());
    reads::<WireRepository>(&least("GET", "/repos/o/r", 200)).expect("least repository");
    let installation = least("GET", "/repos/o/r/installation", 200);
    assert!(reads::<models::Installation>(&installation).is_err());
    takes_all::<WireInstallation>(
        "apps__get-repo-installation",
        "GET",
        "/repos/o/r/installation",
        200,
    );
    assert!(reads::<models::Author>(&least("GET", "/users/u", 200)).is_err());

    // Check runs: octocrab's model has no `external_id`, which the door's lost-answer
    // recovery finds its own run by (`Installation::create_check_run`).
    let (_, example) = examples("checks__get").remove(0);
    assert!(example.get("external_id").is_some());
    takes_all::<WireCheckRun>("checks__get", "GET", "/repos/o/r/check-runs/1", 200);
    takes_all::<WireCheckRun>("checks__create", "POST", "/repos/o/r/check-runs", 201);
    let parsed = reads::<models::checks::CheckRun>(&example).expect("octocrab reads it");
    let back = serde_json::to_value(parsed).expect("serializes");
    assert!(
        back.get("external_id").is_none(),
        "octocrab kept external_id: switch over"
    );
}
