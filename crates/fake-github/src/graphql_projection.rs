//! GraphQL answers hold what was asked, as on GitHub: the fake's handlers build each node
//! with every field they know, and this keeps only the fields the document's selection sets
//! name, under their aliases, in the document's order. A client that reads a field it never
//! asked for then finds it missing here as it would on GitHub. `__typename` is answered from
//! the node's `__typename` when the handler gave one.

use std::collections::HashMap;

use graphql_parser::query::{self as q, Definition, OperationDefinition, Selection};
use serde_json::{Map, Value};

type Fragments<'a> = HashMap<&'a str, &'a q::FragmentDefinition<'a, &'a str>>;

/// `data` cut down to the selection of the document's (first) operation; `data` unchanged
/// when the document does not parse (the contract check has refused it already).
pub(crate) fn project(document: &str, data: Value) -> Value {
    let Ok(doc) = q::parse_query::<&str>(document) else {
        return data;
    };
    let fragments: Fragments = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Fragment(f) => Some((f.name, f)),
            Definition::Operation(_) => None,
        })
        .collect();
    let selection = doc.definitions.iter().find_map(|d| match d {
        Definition::Operation(OperationDefinition::Query(op)) => Some(&op.selection_set),
        Definition::Operation(OperationDefinition::Mutation(op)) => Some(&op.selection_set),
        Definition::Operation(OperationDefinition::SelectionSet(set)) => Some(set),
        _ => None,
    });
    match selection {
        Some(set) => select(&data, set, &fragments),
        None => data,
    }
}

fn select<'a>(
    value: &Value,
    set: &'a q::SelectionSet<'a, &'a str>,
    fragments: &Fragments<'a>,
) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| select(item, set, fragments))
                .collect(),
        ),
        Value::Object(node) => {
            let mut out = Map::new();
            fields(node, set, fragments, &mut out);
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn fields<'a>(
    node: &Map<String, Value>,
    set: &'a q::SelectionSet<'a, &'a str>,
    fragments: &Fragments<'a>,
    out: &mut Map<String, Value>,
) {
    for item in &set.items {
        match item {
            Selection::Field(field) => {
                let key = field.alias.unwrap_or(field.name);
                let value = node.get(field.name).cloned().unwrap_or(Value::Null);
                let value = if field.selection_set.items.is_empty() {
                    value
                } else {
                    select(&value, &field.selection_set, fragments)
                };
                out.insert(key.to_owned(), value);
            }
            // The fake's nodes are of the type asked for: a fragment's fields are taken.
            Selection::InlineFragment(inline) => {
                fields(node, &inline.selection_set, fragments, out)
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = fragments.get(spread.fragment_name) {
                    fields(node, &fragment.selection_set, fragments, out)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_what_was_asked_under_its_alias() {
        let data = json!({ "repository": { "name": "x", "pullRequest": {
            "reviewThreads": { "nodes": [
                { "id": "T1", "isResolved": false, "path": "a.rs",
                  "comments": { "nodes": [{ "fullDatabaseId": "9000000001", "body": "b", "url": "u" }] } },
            ] } } } });
        let document = "query { repository(owner: \"o\", name: \"n\") { pullRequest(number: 1) { \
             reviewThreads(first: 1) { nodes { id done: isResolved \
             comments(first: 1) { nodes { fullDatabaseId ...B } } } } } } } \
             fragment B on PullRequestReviewComment { body }";
        assert_eq!(
            project(document, data),
            json!({ "repository": { "pullRequest": { "reviewThreads": { "nodes": [
                { "id": "T1", "done": false,
                  "comments": { "nodes": [{ "fullDatabaseId": "9000000001", "body": "b" }] } },
            ] } } } })
        );
    }

    #[test]
    fn nulls_stay_null_and_a_document_that_does_not_parse_changes_nothing() {
        let data = json!({ "repository": null });
        assert_eq!(
            project(
                "query { repository(owner: \"o\", name: \"n\") { id } }",
                data.clone()
            ),
            data
        );
        let whole = json!({ "a": 1 });
        assert_eq!(project("query {", whole.clone()), whole);
    }
}
