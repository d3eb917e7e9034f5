//! GraphQL checks against GitHub's schema.

use serde_json::{json, Map, Value};

use super::{check_graphql, Violation};

/// The review-threads query bosun sends.
const REVIEW_THREADS: &str = r#"
query($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviewThreads(first: 50, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes {
          id isResolved isOutdated path line
          comments(first: 100) { nodes { fullDatabaseId body url diffHunk author { login } } }
        }
      }
    }
  }
}
"#;

const RESOLVE: &str =
    "mutation($threadId: ID!) { resolveReviewThread(input: {threadId: $threadId}) { thread { id isResolved } } }";

fn vars(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

fn thread_vars() -> Map<String, Value> {
    vars(json!({"owner": "o", "name": "r", "number": 7, "after": null}))
}

fn has(violations: &[Violation], needle: &str) -> bool {
    violations.iter().any(|v| v.to_string().contains(needle))
}

#[test]
fn the_review_threads_query_passes() {
    let violations = check_graphql(REVIEW_THREADS, &thread_vars());
    assert!(violations.is_empty(), "{violations:#?}");
    let mut later = thread_vars();
    later.insert("after".into(), json!("Y3Vyc29yOjU="));
    later.remove("after");
    assert!(check_graphql(REVIEW_THREADS, &later).is_empty());
}

#[test]
fn deprecated_database_id_is_refused_with_the_schema_reason() {
    let query = REVIEW_THREADS.replace("fullDatabaseId", "databaseId");
    let violations = check_graphql(&query, &thread_vars());
    assert_eq!(violations.len(), 1, "{violations:#?}");
    let v = &violations[0];
    assert!(v.at.starts_with("GraphQL anonymous query repository.pullRequest.reviewThreads.nodes.comments.nodes.databaseId ("), "{v}");
    assert!(
        v.message
            .starts_with("`PullRequestReviewComment.databaseId` is deprecated: "),
        "{v}"
    );
    assert!(v.message.contains("Use `fullDatabaseId` instead."), "{v}");
}

#[test]
fn the_resolve_mutation_passes() {
    let violations = check_graphql(RESOLVE, &vars(json!({"threadId": "x"})));
    assert!(violations.is_empty(), "{violations:#?}");
    let unresolve = RESOLVE.replace("resolveReviewThread", "unresolveReviewThread");
    assert!(check_graphql(&unresolve, &vars(json!({"threadId": "x"}))).is_empty());
}

#[test]
fn a_mutation_field_is_not_a_query_field() {
    let query = RESOLVE.replace("mutation", "query");
    let violations = check_graphql(&query, &vars(json!({"threadId": "x"})));
    assert!(
        has(
            &violations,
            "type `Query` has no field `resolveReviewThread`"
        ),
        "{violations:#?}"
    );
}

#[test]
fn an_unknown_field_is_named() {
    let query = REVIEW_THREADS.replace("isOutdated", "isStale");
    let violations = check_graphql(&query, &thread_vars());
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].at.contains("reviewThreads.nodes.isStale"),
        "{violations:?}"
    );
    assert_eq!(
        violations[0].message,
        "type `PullRequestReviewThread` has no field `isStale`"
    );
}

#[test]
fn a_missing_required_argument_is_named() {
    let query = REVIEW_THREADS.replace("pullRequest(number: $number)", "pullRequest");
    let violations = check_graphql(&query, &thread_vars());
    assert!(
        has(
            &violations,
            "argument `number: Int!` of `Repository.pullRequest` is required"
        ),
        "{violations:#?}"
    );
    // `$number` is then declared but never used.
    assert!(
        has(
            &violations,
            "variable `$number`: is declared but never used"
        ),
        "{violations:#?}"
    );
}

#[test]
fn an_unknown_argument_is_named() {
    let query = REVIEW_THREADS.replace("first: 50,", "first: 50, sort: NEWEST,");
    let violations = check_graphql(&query, &thread_vars());
    assert!(
        has(
            &violations,
            "`PullRequest.reviewThreads` has no argument `sort`"
        ),
        "{violations:#?}"
    );
}

#[test]
fn an_undeclared_variable_is_named() {
    let query = REVIEW_THREADS.replace(", $after: String)", ")");
    let violations = check_graphql(&query, &thread_vars());
    assert!(
        has(
            &violations,
            "argument `after`: variable `$after` is not declared"
        ),
        "{violations:#?}"
    );
}

#[test]
fn a_variable_of_the_wrong_type_is_named() {
    // The value given is of the wrong kind.
    let mut given = thread_vars();
    given.insert("number".into(), json!("7"));
    let violations = check_graphql(REVIEW_THREADS, &given);
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].at.ends_with("variable `$number`"),
        "{violations:?}"
    );
    assert_eq!(
        violations[0].message,
        "`$number` = `\"7\"` is not a valid `Int`"
    );
    // Ints are 32-bit.
    given.insert("number".into(), json!(9_000_000_001_u64));
    assert!(has(
        &check_graphql(REVIEW_THREADS, &given),
        "is not a valid `Int`"
    ));
    // The declared type does not fit where the variable is used.
    let query = REVIEW_THREADS.replace("$number: Int!", "$number: String!");
    let mut given = thread_vars();
    given.insert("number".into(), json!("7"));
    let violations = check_graphql(&query, &given);
    assert!(
        has(
            &violations,
            "variable `$number` of type `String!` cannot be used where `Int!` is expected"
        ),
        "{violations:#?}"
    );
    // A nullable variable cannot fill a non-null argument.
    let query = REVIEW_THREADS.replace("$number: Int!", "$number: Int");
    assert!(has(
        &check_graphql(&query, &thread_vars()),
        "of type `Int` cannot be used where `Int!`"
    ));
}

#[test]
fn required_variables_must_be_given() {
    let mut given = thread_vars();
    given.remove("owner");
    let violations = check_graphql(REVIEW_THREADS, &given);
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert_eq!(
        violations[0].message,
        "is declared `String!` (required) but not given in `variables`"
    );
    given.insert("owner".into(), Value::Null);
    assert!(has(
        &check_graphql(REVIEW_THREADS, &given),
        "`$owner` is null, but `String!` is required"
    ));
}

#[test]
fn input_objects_are_checked_as_literals_and_as_variables() {
    let query =
        "mutation { resolveReviewThread(input: {clientMutationId: \"c\"}) { thread { id } } }";
    let violations = check_graphql(query, &Map::new());
    assert!(
        has(
            &violations,
            "field `threadId: ID!` of input `ResolveReviewThreadInput` is required"
        ),
        "{violations:#?}"
    );
    let query = "mutation { resolveReviewThread(input: {threadId: \"t\", thread: \"u\"}) { thread { id } } }";
    assert!(has(
        &check_graphql(query, &Map::new()),
        "input `ResolveReviewThreadInput` has no field `thread`"
    ));
    let query = "mutation($in: ResolveReviewThreadInput!) { resolveReviewThread(input: $in) { thread { id } } }";
    assert!(check_graphql(query, &vars(json!({"in": {"threadId": "t"}}))).is_empty());
    let violations = check_graphql(query, &vars(json!({"in": {"threadId": 5}})));
    assert!(
        has(&violations, "`$in.threadId` = `5` is not a valid `ID`"),
        "{violations:#?}"
    );
}

#[test]
fn selections_must_fit_leaves_and_composites() {
    let query = REVIEW_THREADS
        .replace("isResolved", "isResolved { id }")
        .replace("author { login }", "author");
    let violations = check_graphql(&query, &thread_vars());
    assert!(
        has(
            &violations,
            "`PullRequestReviewThread.isResolved` is `Boolean!`, a leaf"
        ),
        "{violations:#?}"
    );
    assert!(
        has(
            &violations,
            "`PullRequestReviewComment.author` is `Actor`: it needs a selection"
        ),
        "{violations:#?}"
    );
}

#[test]
fn enum_literals_and_fragments_are_checked() {
    let query = r#"query { repository(owner: "o", name: "r") {
        pullRequests(first: 5, states: [OPEN, SHUT]) { nodes { ...Pr ... on Issue { id } } }
        issue(number: 1) { author { ... on User { login } ... on Bot { login bogus } __typename } }
    } }
    fragment Pr on PullRequest { number title isDraft }"#;
    let violations = check_graphql(query, &Map::new());
    assert!(
        has(&violations, "argument `states[1]`: `SHUT` is not one of CLOSED, MERGED, OPEN (enum `PullRequestState`)"),
        "{violations:#?}"
    );
    assert!(
        has(
            &violations,
            "a fragment on `Issue` can never apply inside `PullRequest`"
        ),
        "{violations:#?}"
    );
    assert!(
        has(&violations, "type `Bot` has no field `bogus`"),
        "{violations:#?}"
    );
    assert_eq!(violations.len(), 3, "{violations:#?}");
    let unused = format!("{query}\nfragment Unused on Issue {{ id }}");
    assert!(has(
        &check_graphql(&unused, &Map::new()),
        "`Unused`: is defined but never used"
    ));
}

#[test]
fn a_parse_error_is_a_violation() {
    let violations = check_graphql("query { repository(owner: \"o\" { id }", &Map::new());
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert_eq!(violations[0].at, "GraphQL document");
    assert!(
        violations[0].message.starts_with("does not parse: "),
        "{violations:?}"
    );
}
