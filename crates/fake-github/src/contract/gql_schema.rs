//! GitHub's public GraphQL schema (SDL), parsed once into a look-up table of types, fields,
//! arguments, enum values and their deprecations.
//!
//! Parsing uses the `graphql-parser` crate: it reads both the schema language and executable
//! documents into a plain typed AST (with line/column positions) over borrowed `&str`, so the
//! table below can point into the `include_str!` text and keep no copy; its dependencies are
//! small (`combine`, `thiserror`). `apollo-parser` is a lossless, error-tolerant syntax tree
//! meant for editors; walking it takes more code for no gain here.

use std::collections::HashMap;
use std::sync::OnceLock;

use graphql_parser::schema::{self as ast, Definition, Directive, TypeDefinition};

const SCHEMA: &str = include_str!("../../../../tests/fixtures/github-contract/schema.graphql");

/// A GraphQL type reference: `Name`, `[T]` or `T!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ty<'a> {
    Named(&'a str),
    List(Box<Ty<'a>>),
    NonNull(Box<Ty<'a>>),
}

impl<'a> Ty<'a> {
    pub(crate) fn from_ast(ty: &ast::Type<'a, &'a str>) -> Self {
        match ty {
            ast::Type::NamedType(name) => Ty::Named(name),
            ast::Type::ListType(inner) => Ty::List(Box::new(Ty::from_ast(inner))),
            ast::Type::NonNullType(inner) => Ty::NonNull(Box::new(Ty::from_ast(inner))),
        }
    }

    /// The named type at the bottom of lists and non-nulls.
    pub(crate) fn name(&self) -> &'a str {
        match self {
            Ty::Named(name) => name,
            Ty::List(inner) | Ty::NonNull(inner) => inner.name(),
        }
    }

    pub(crate) fn is_non_null(&self) -> bool {
        matches!(self, Ty::NonNull(_))
    }
}

impl std::fmt::Display for Ty<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ty::Named(name) => f.write_str(name),
            Ty::List(inner) => write!(f, "[{inner}]"),
            Ty::NonNull(inner) => write!(f, "{inner}!"),
        }
    }
}

/// An argument or input-object field.
#[derive(Debug)]
pub(crate) struct InputDef {
    pub(crate) ty: Ty<'static>,
    pub(crate) has_default: bool,
    pub(crate) deprecated: Option<String>,
}

impl InputDef {
    /// Non-null without a default: it must be given.
    pub(crate) fn is_required(&self) -> bool {
        self.ty.is_non_null() && !self.has_default
    }
}

/// A field of an object or interface type.
#[derive(Debug)]
pub(crate) struct FieldDef {
    pub(crate) ty: Ty<'static>,
    pub(crate) args: Vec<(&'static str, InputDef)>,
    pub(crate) deprecated: Option<String>,
}

#[derive(Debug)]
pub(crate) enum TypeDef {
    Scalar,
    Object(HashMap<&'static str, FieldDef>),
    Interface(HashMap<&'static str, FieldDef>),
    Union(Vec<&'static str>),
    Enum(Vec<(&'static str, Option<String>)>),
    InputObject(Vec<(&'static str, InputDef)>),
}

#[derive(Debug)]
pub(crate) struct Schema {
    pub(crate) types: HashMap<&'static str, TypeDef>,
    /// Interface name -> the object types implementing it.
    implementers: HashMap<&'static str, Vec<&'static str>>,
    pub(crate) query: &'static str,
    pub(crate) mutation: Option<&'static str>,
    pub(crate) subscription: Option<&'static str>,
}

impl Schema {
    /// The object types a value of type `name` may have at run time.
    pub(crate) fn possible_types(&self, name: &'static str) -> Vec<&'static str> {
        match self.types.get(name) {
            Some(TypeDef::Object(_)) => vec![name],
            Some(TypeDef::Union(members)) => members.clone(),
            Some(TypeDef::Interface(_)) => self.implementers.get(name).cloned().unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

/// The reason of a `@deprecated` directive, if there is one.
fn deprecation(directives: &[Directive<'static, &'static str>]) -> Option<String> {
    let directive = directives.iter().find(|d| d.name == "deprecated")?;
    let reason = directive
        .arguments
        .iter()
        .find(|(name, _)| *name == "reason");
    Some(match reason {
        Some((_, ast::Value::String(text))) => text.clone(),
        _ => "No longer supported".to_owned(),
    })
}

fn inputs(values: &[ast::InputValue<'static, &'static str>]) -> Vec<(&'static str, InputDef)> {
    values
        .iter()
        .map(|v| {
            let def = InputDef {
                ty: Ty::from_ast(&v.value_type),
                has_default: v.default_value.is_some(),
                deprecated: deprecation(&v.directives),
            };
            (v.name, def)
        })
        .collect()
}

fn fields(list: &[ast::Field<'static, &'static str>]) -> HashMap<&'static str, FieldDef> {
    list.iter()
        .map(|f| {
            let def = FieldDef {
                ty: Ty::from_ast(&f.field_type),
                args: inputs(&f.arguments),
                deprecated: deprecation(&f.directives),
            };
            (f.name, def)
        })
        .collect()
}

/// The schema, parsed on first use.
pub(crate) fn schema() -> &'static Schema {
    static SCHEMA_TABLE: OnceLock<Schema> = OnceLock::new();
    SCHEMA_TABLE.get_or_init(build)
}

pub(crate) fn build() -> Schema {
    let document =
        ast::parse_schema::<&'static str>(SCHEMA).expect("the GraphQL schema fixture parses");
    let mut types = HashMap::new();
    let mut implementers: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
    let (mut query, mut mutation, mut subscription) = (None, None, None);
    for definition in &document.definitions {
        match definition {
            Definition::SchemaDefinition(roots) => {
                query = roots.query;
                mutation = roots.mutation;
                subscription = roots.subscription;
            }
            Definition::TypeDefinition(definition) => {
                let (name, def) = match definition {
                    TypeDefinition::Scalar(t) => (t.name, TypeDef::Scalar),
                    TypeDefinition::Object(t) => {
                        for interface in &t.implements_interfaces {
                            implementers.entry(interface).or_default().push(t.name);
                        }
                        (t.name, TypeDef::Object(fields(&t.fields)))
                    }
                    TypeDefinition::Interface(t) => (t.name, TypeDef::Interface(fields(&t.fields))),
                    TypeDefinition::Union(t) => (t.name, TypeDef::Union(t.types.clone())),
                    TypeDefinition::Enum(t) => {
                        let values = t
                            .values
                            .iter()
                            .map(|v| (v.name, deprecation(&v.directives)))
                            .collect();
                        (t.name, TypeDef::Enum(values))
                    }
                    TypeDefinition::InputObject(t) => {
                        (t.name, TypeDef::InputObject(inputs(&t.fields)))
                    }
                };
                types.insert(name, def);
            }
            Definition::TypeExtension(_) | Definition::DirectiveDefinition(_) => {}
        }
    }
    for builtin in ["String", "Int", "Float", "Boolean", "ID"] {
        types.entry(builtin).or_insert(TypeDef::Scalar);
    }
    let present = |name: &'static str| types.contains_key(name).then_some(name);
    Schema {
        query: query.or_else(|| present("Query")).unwrap_or("Query"),
        mutation: mutation.or_else(|| present("Mutation")),
        subscription: subscription.or_else(|| present("Subscription")),
        implementers,
        types,
    }
}
