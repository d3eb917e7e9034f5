//! GraphQL checks: a document and its variables against GitHub's schema. Operations are checked
//! against the query or mutation root; every selected field must exist on its parent type, leaf
//! fields take no selection and the others need one, fragments need a possible type condition,
//! arguments must exist and required ones be given, variables must be declared, used, given and
//! of the right kind, and anything marked `@deprecated` (field, argument, input field, enum value)
//! is a violation that quotes the schema's reason.
//!
//! Not checked: field-merging conflicts between same-named selections, directive placement,
//! and the fields of introspection (`__schema`, `__type`).

use std::collections::{HashMap, HashSet};

use graphql_parser::query::{self as q, Definition, OperationDefinition, Selection, TypeCondition};
use graphql_parser::Pos;
use serde_json::{Map, Value};

use super::gql_schema::{schema, InputDef, Schema, Ty, TypeDef};
use super::violation::{Report, Violation};

type Fragments<'d, 'q> = HashMap<&'q str, &'d q::FragmentDefinition<'q, &'q str>>;

/// See [`super::check_graphql`].
pub(crate) fn check(document: &str, variables: &Map<String, Value>) -> Vec<Violation> {
    let document = match q::parse_query::<&str>(document) {
        Ok(document) => document,
        Err(error) => {
            let text = error.to_string();
            return vec![Violation {
                at: "GraphQL document".to_owned(),
                message: format!(
                    "does not parse: {}",
                    text.split_whitespace().collect::<Vec<_>>().join(" ")
                ),
            }];
        }
    };
    let mut report = Report::default();
    let mut fragments: Fragments = HashMap::new();
    let mut operations = Vec::new();
    for definition in &document.definitions {
        match definition {
            Definition::Fragment(fragment) => {
                if fragments.insert(fragment.name, fragment).is_some() {
                    report.push(
                        format!("GraphQL fragment `{}`", fragment.name),
                        "is defined twice",
                    );
                }
            }
            Definition::Operation(operation) => operations.push(operation),
        }
    }
    if operations.is_empty() {
        report.push("GraphQL document", "has no operation");
    }
    let anonymous = operations.iter().filter(|op| parts(op).1.is_none()).count();
    if operations.len() > 1 && anonymous > 0 {
        report.push(
            "GraphQL document",
            "an anonymous operation must be the only operation in the document",
        );
    }
    let mut used_fragments = HashSet::new();
    for operation in operations {
        let mut walker = Walker {
            schema: schema(),
            fragments: &fragments,
            variables: HashMap::new(),
            used_variables: HashSet::new(),
            used_fragments: &mut used_fragments,
            spreads: Vec::new(),
            path: Vec::new(),
            label: String::new(),
            report: &mut report,
        };
        walker.operation(operation, variables);
    }
    for name in fragments.keys() {
        if !used_fragments.contains(name) {
            report.push(
                format!("GraphQL fragment `{name}`"),
                "is defined but never used",
            );
        }
    }
    report.finish()
}

type Parts<'d, 'q> = (
    &'static str,
    Option<&'q str>,
    &'d [q::VariableDefinition<'q, &'q str>],
    &'d [q::Directive<'q, &'q str>],
    &'d q::SelectionSet<'q, &'q str>,
    Pos,
);

/// Kind, name, variables, directives, selection set and position of an operation.
fn parts<'d, 'q>(operation: &'d OperationDefinition<'q, &'q str>) -> Parts<'d, 'q> {
    match operation {
        OperationDefinition::SelectionSet(set) => ("query", None, &[], &[], set, set.span.0),
        OperationDefinition::Query(o) => (
            "query",
            o.name,
            &o.variable_definitions,
            &o.directives,
            &o.selection_set,
            o.position,
        ),
        OperationDefinition::Mutation(o) => (
            "mutation",
            o.name,
            &o.variable_definitions,
            &o.directives,
            &o.selection_set,
            o.position,
        ),
        OperationDefinition::Subscription(o) => (
            "subscription",
            o.name,
            &o.variable_definitions,
            &o.directives,
            &o.selection_set,
            o.position,
        ),
    }
}

/// Walks one operation (and the fragments it spreads), reporting into a shared [`Report`].
pub(super) struct Walker<'d, 'q, 'r> {
    pub(super) schema: &'static Schema,
    fragments: &'r Fragments<'d, 'q>,
    /// Declared variables: type and whether a default is given.
    pub(super) variables: HashMap<&'q str, (Ty<'q>, bool)>,
    pub(super) used_variables: HashSet<&'q str>,
    used_fragments: &'r mut HashSet<&'q str>,
    /// Fragments being spread right now (to stop at cycles).
    spreads: Vec<&'q str>,
    /// Response keys from the root to the current field.
    path: Vec<&'q str>,
    /// e.g. ``query `ReviewThreads` `` or `anonymous mutation`.
    label: String,
    pub(super) report: &'r mut Report,
}

impl<'d, 'q, 'r> Walker<'d, 'q, 'r> {
    /// `GraphQL <operation> <field path> (line:column)`.
    pub(super) fn at(&self, position: Pos) -> String {
        let path = if self.path.is_empty() {
            "(root)".to_owned()
        } else {
            self.path.join(".")
        };
        format!(
            "GraphQL {} {} ({}:{})",
            self.label, path, position.line, position.column
        )
    }

    fn operation(
        &mut self,
        operation: &'d OperationDefinition<'q, &'q str>,
        given: &Map<String, Value>,
    ) {
        let (kind, name, definitions, directives, set, position) = parts(operation);
        self.label = match name {
            Some(name) => format!("{kind} `{name}`"),
            None => format!("anonymous {kind}"),
        };
        let root = match kind {
            "query" => Some(self.schema.query),
            "mutation" => self.schema.mutation,
            _ => self.schema.subscription,
        };
        let at = self.at(position);
        let Some(root) = root else {
            self.report
                .push(at, format!("GitHub's schema has no {kind} root"));
            return;
        };
        for definition in definitions {
            let ty = Ty::from_ast(&definition.var_type);
            let name = definition.name;
            let at = format!("GraphQL {} variable `${name}`", self.label);
            if self
                .variables
                .insert(name, (ty.clone(), definition.default_value.is_some()))
                .is_some()
            {
                self.report.push(at.clone(), "is declared twice");
            }
            match self.schema.types.get(ty.name()) {
                None => self
                    .report
                    .push(at.clone(), format!("unknown type `{}`", ty.name())),
                Some(TypeDef::Object(_) | TypeDef::Interface(_) | TypeDef::Union(_)) => self
                    .report
                    .push(at.clone(), format!("`{}` is not an input type", ty.name())),
                Some(_) => {}
            }
            if let Some(default) = &definition.default_value {
                self.literal(default, &ty, "default value of", &format!("${name}"), &at);
            }
            match given.get(name) {
                None if ty.is_non_null() && definition.default_value.is_none() => self.report.push(
                    at,
                    format!("is declared `{ty}` (required) but not given in `variables`"),
                ),
                None => {}
                Some(value) => self.json(value, &ty, &format!("${name}"), &at),
            }
        }
        self.directives(directives, &at);
        self.selection_set(root, set);
        for definition in definitions {
            if !self.used_variables.contains(definition.name) {
                let at = format!("GraphQL {} variable `${}`", self.label, definition.name);
                self.report.push(at, "is declared but never used");
            }
        }
    }

    fn selection_set(&mut self, parent: &'static str, set: &'d q::SelectionSet<'q, &'q str>) {
        for item in &set.items {
            if self.report.is_full() {
                return;
            }
            match item {
                Selection::Field(field) => self.field(parent, field),
                Selection::InlineFragment(fragment) => {
                    let at = self.at(fragment.position);
                    self.directives(&fragment.directives, &at);
                    let target = match &fragment.type_condition {
                        Some(TypeCondition::On(name)) => self.fragment_target(parent, name, &at),
                        None => Some(parent),
                    };
                    if let Some(target) = target {
                        self.selection_set(target, &fragment.selection_set);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let at = self.at(spread.position);
                    self.directives(&spread.directives, &at);
                    let name = spread.fragment_name;
                    let Some(fragment) = self.fragments.get(name).copied() else {
                        self.report
                            .push(at, format!("fragment `{name}` is not defined"));
                        continue;
                    };
                    self.used_fragments.insert(name);
                    if self.spreads.contains(&name) {
                        self.report
                            .push(at, format!("fragment `{name}` spreads itself"));
                        continue;
                    }
                    let TypeCondition::On(on) = &fragment.type_condition;
                    let fragment_at = format!("{at} fragment `{name}`");
                    self.directives(&fragment.directives, &fragment_at);
                    if let Some(target) = self.fragment_target(parent, on, &fragment_at) {
                        self.spreads.push(name);
                        self.selection_set(target, &fragment.selection_set);
                        self.spreads.pop();
                    }
                }
            }
        }
    }

    /// The schema's name for a fragment's type condition, if it is a composite type that can
    /// apply inside `parent`.
    fn fragment_target(
        &mut self,
        parent: &'static str,
        on: &str,
        at: &str,
    ) -> Option<&'static str> {
        let Some((&target, def)) = self.schema.types.get_key_value(on) else {
            self.report
                .push(at, format!("fragment on unknown type `{on}`"));
            return None;
        };
        if !matches!(
            def,
            TypeDef::Object(_) | TypeDef::Interface(_) | TypeDef::Union(_)
        ) {
            self.report.push(
                at,
                format!("fragment on `{on}`, which is not an object, interface or union"),
            );
            return None;
        }
        let inside = self.schema.possible_types(parent);
        if !self
            .schema
            .possible_types(target)
            .iter()
            .any(|t| inside.contains(t))
        {
            self.report.push(
                at,
                format!("a fragment on `{on}` can never apply inside `{parent}`"),
            );
            return None;
        }
        Some(target)
    }

    fn field(&mut self, parent: &'static str, field: &'d q::Field<'q, &'q str>) {
        self.path.push(field.alias.unwrap_or(field.name));
        let at = self.at(field.position);
        self.directives(&field.directives, &at);
        self.field_inner(parent, field, &at);
        self.path.pop();
    }

    fn field_inner(&mut self, parent: &'static str, field: &'d q::Field<'q, &'q str>, at: &str) {
        let name = field.name;
        if name == "__typename" {
            if !field.arguments.is_empty() || !field.selection_set.items.is_empty() {
                self.report
                    .push(at, "`__typename` takes no arguments and no selection");
            }
            return;
        }
        if matches!(name, "__schema" | "__type") && parent == self.schema.query {
            return;
        }
        let fields = match self.schema.types.get(parent) {
            Some(TypeDef::Object(fields) | TypeDef::Interface(fields)) => fields,
            Some(TypeDef::Union(_)) => {
                self.report.push(
                    at,
                    format!("`{parent}` is a union: select `{name}` inside an inline fragment (`... on Type`)"),
                );
                return;
            }
            _ => return,
        };
        let Some(def) = fields.get(name) else {
            self.report
                .push(at, format!("type `{parent}` has no field `{name}`"));
            return;
        };
        if let Some(reason) = &def.deprecated {
            self.report
                .push(at, format!("`{parent}.{name}` is deprecated: {reason}"));
        }
        self.arguments(&format!("{parent}.{name}"), &def.args, &field.arguments, at);
        let target = def.ty.name();
        let empty = field.selection_set.items.is_empty();
        match self.schema.types.get(target) {
            Some(TypeDef::Scalar | TypeDef::Enum(_)) if !empty => self.report.push(
                at,
                format!(
                    "`{parent}.{name}` is `{}`, a leaf: it takes no selection of subfields",
                    def.ty
                ),
            ),
            Some(TypeDef::Object(_) | TypeDef::Interface(_) | TypeDef::Union(_)) => {
                if empty {
                    self.report.push(
                        at,
                        format!(
                            "`{parent}.{name}` is `{}`: it needs a selection of subfields",
                            def.ty
                        ),
                    );
                } else {
                    self.selection_set(target, &field.selection_set);
                }
            }
            _ => {}
        }
    }

    /// Checks given arguments against their definitions on `owner` (a field or a directive).
    fn arguments(
        &mut self,
        owner: &str,
        definitions: &[(&'static str, InputDef)],
        given: &'d [(&'q str, q::Value<'q, &'q str>)],
        at: &str,
    ) {
        for (i, (name, value)) in given.iter().enumerate() {
            if given[..i].iter().any(|(earlier, _)| earlier == name) {
                self.report
                    .push(at, format!("argument `{name}` is given twice"));
            }
            match definitions.iter().find(|(n, _)| n == name) {
                None => self
                    .report
                    .push(at, format!("`{owner}` has no argument `{name}`")),
                Some((_, def)) => {
                    if let Some(reason) = &def.deprecated {
                        self.report.push(
                            at,
                            format!("argument `{name}` of `{owner}` is deprecated: {reason}"),
                        );
                    }
                    self.literal(value, &def.ty, "argument", name, at);
                }
            }
        }
        for (name, def) in definitions {
            if def.is_required() && !given.iter().any(|(n, _)| n == name) {
                self.report.push(
                    at,
                    format!("argument `{name}: {}` of `{owner}` is required", def.ty),
                );
            }
        }
    }

    /// `@include(if:)` and `@skip(if:)`; any other directive is unknown.
    fn directives(&mut self, directives: &'d [q::Directive<'q, &'q str>], at: &str) {
        for directive in directives {
            match directive.name {
                "include" | "skip" => {
                    let definitions = [(
                        "if",
                        InputDef {
                            ty: Ty::NonNull(Box::new(Ty::Named("Boolean"))),
                            has_default: false,
                            deprecated: None,
                        },
                    )];
                    let owner = format!("@{}", directive.name);
                    self.arguments(&owner, &definitions, &directive.arguments, at);
                }
                other => self
                    .report
                    .push(at, format!("unknown directive `@{other}`")),
            }
        }
    }
}
