//! The contract checker: requests, responses and GraphQL documents against GitHub's own
//! published description of its API, so the fake (and the client it serves) cannot drift from
//! what GitHub accepts and answers.
//!
//! The inputs are unmodified copies in `tests/fixtures/github-contract/` (see `SOURCES.md`
//! there): the OpenAPI excerpt of GitHub's REST description and GitHub's public GraphQL schema.
//! Each is parsed once per process, on first use (or by [`preload`]); a check afterwards only
//! walks the parsed tables.
//!
//! * REST ([`check_request`], [`check_response`], [`operation_id`]): the operation is found by
//!   method and path template (a parameter is one segment, except those the description marks
//!   `x-multi-segment`: `{path}` of `/contents/{path}` and the git `{ref}`s; `/contents` and
//!   `/contents/` are the root). Path and query parameters, request and response bodies are
//!   checked against their schemas (see `schema.rs` for the keywords). A parameter whose
//!   description states "(max N)" (`per_page`) is held to it. Deprecated query parameters and
//!   request-body properties are violations too.
//! * GraphQL ([`check_graphql`]): see `graphql.rs`.

mod gql_input;
mod gql_schema;
mod graphql;
mod least;
mod openapi;
mod rest;
mod schema;
mod violation;

#[cfg(test)]
mod graphql_tests;
#[cfg(test)]
mod rest_tests;

use serde_json::{Map, Value};

pub use least::{least_answer, least_item};
pub use openapi::Operation;
pub use violation::{Violation, MAX_VIOLATIONS};

/// Parses both descriptions now rather than on the first check.
pub fn preload() {
    openapi::root();
    let _ = openapi::lookup("GET", "/");
    gql_schema::schema();
}

/// Checks a REST request: `path` is the concrete path (percent-encoded as sent), `query` the
/// query string without or with its leading `?` (may be empty), `body` the JSON body if one was
/// sent. Returns the operation, or every violation (at most [`MAX_VIOLATIONS`] and a note).
pub fn check_request(
    method: &str,
    path: &str,
    query: &str,
    body: Option<&Value>,
) -> Result<&'static Operation, Vec<Violation>> {
    rest::check_request(method, path, query, body)
}

/// Checks a REST response: the status must be one the operation lists (or `default`), and the
/// body must fit that response's `application/json` schema. Pass `Value::Null` for an empty body
/// (right for a status described without content, such as 204 or 304).
pub fn check_response(method: &str, path: &str, status: u16, body: &Value) -> Vec<Violation> {
    rest::check_response(method, path, status, body)
}

/// Checks a GraphQL document and its variables against GitHub's schema.
pub fn check_graphql(document: &str, variables: &Map<String, Value>) -> Vec<Violation> {
    graphql::check(document, variables)
}

/// GitHub's operation id (e.g. `issues/get`) for a method and concrete path, if it is one.
pub fn operation_id(method: &str, path: &str) -> Option<&'static str> {
    match openapi::lookup(method, path) {
        openapi::Lookup::Found(op, _) => Some(op.operation_id),
        _ => None,
    }
}
