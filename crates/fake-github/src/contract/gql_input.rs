//! GraphQL input checks: literal argument values and the JSON `variables` against input types
//! (scalars, enums, input objects, lists, non-null), and where a variable may be used.

use graphql_parser::query as q;
use serde_json::Value;

use super::gql_schema::{Ty, TypeDef};
use super::graphql::Walker;
use super::violation::show;

/// Whether a variable of type `var` (with a default or not) may be used where `at` is expected.
fn usable(var: &Ty<'_>, has_default: bool, at: &Ty<'_>) -> bool {
    match at {
        Ty::NonNull(inner) if !var.is_non_null() => has_default && compatible(var, inner),
        _ => compatible(var, at),
    }
}

fn compatible(var: &Ty<'_>, at: &Ty<'_>) -> bool {
    match (var, at) {
        (Ty::NonNull(v), Ty::NonNull(a)) => compatible(v, a),
        (_, Ty::NonNull(_)) => false,
        (Ty::NonNull(v), _) => compatible(v, at),
        (Ty::List(v), Ty::List(a)) => compatible(v, a),
        (Ty::Named(v), Ty::Named(a)) => v == a,
        _ => false,
    }
}

/// Whether a literal fits a scalar: built-ins strictly, GitHub's custom scalars (`BigInt`,
/// `URI`, `DateTime`, `GitObjectID`, …) as any string, number or boolean.
fn scalar_literal<'a>(name: &str, value: &q::Value<'a, &'a str>) -> bool {
    match (name, value) {
        ("Int", q::Value::Int(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        ("Float", q::Value::Int(_) | q::Value::Float(_)) => true,
        ("String", q::Value::String(_)) => true,
        ("Boolean", q::Value::Boolean(_)) => true,
        ("ID", q::Value::String(_) | q::Value::Int(_)) => true,
        ("Int" | "Float" | "String" | "Boolean" | "ID", _) => false,
        (_, v) => matches!(
            v,
            q::Value::String(_) | q::Value::Int(_) | q::Value::Float(_) | q::Value::Boolean(_)
        ),
    }
}

/// Whether a JSON variable value fits a scalar: `String`/`ID` strings, `Int` whole numbers within
/// 32 bits, `Float` numbers, `Boolean` booleans; custom scalars a string or a number.
fn scalar_json(name: &str, value: &Value) -> bool {
    match name {
        "String" | "ID" => value.is_string(),
        "Int" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "Float" => value.is_number(),
        "Boolean" => value.is_boolean(),
        _ => value.is_string() || value.is_number(),
    }
}

impl<'q> Walker<'_, 'q, '_> {
    /// Checks a literal (or a `$variable`) of type `ty` given for `path` (e.g. `input.threadId`);
    /// `role` says what the path names (`argument`, `default value of`).
    pub(super) fn literal(
        &mut self,
        value: &q::Value<'q, &'q str>,
        ty: &Ty<'_>,
        role: &str,
        path: &str,
        at: &str,
    ) {
        let what = format!("{role} `{path}`");
        if let q::Value::Variable(name) = value {
            match self.variables.get(name) {
                None => self
                    .report
                    .push(at, format!("{what}: variable `${name}` is not declared")),
                Some((declared, has_default)) => {
                    if !usable(declared, *has_default, ty) {
                        let message = format!(
                            "{what}: variable `${name}` of type `{declared}` cannot be used where `{ty}` is expected"
                        );
                        self.report.push(at, message);
                    }
                    self.used_variables.insert(name);
                }
            }
            return;
        }
        if matches!(value, q::Value::Null) {
            if ty.is_non_null() {
                self.report
                    .push(at, format!("{what}: `null` given where `{ty}` is required"));
            }
            return;
        }
        let name = match ty {
            Ty::NonNull(inner) => return self.literal(value, inner, role, path, at),
            Ty::List(inner) => {
                match value {
                    q::Value::List(items) => {
                        for (i, item) in items.iter().enumerate() {
                            self.literal(item, inner, role, &format!("{path}[{i}]"), at);
                        }
                    }
                    single => self.literal(single, inner, role, path, at),
                }
                return;
            }
            Ty::Named(name) => *name,
        };
        let schema = self.schema;
        match schema.types.get(name) {
            Some(TypeDef::Scalar) if !scalar_literal(name, value) => {
                self.report.push(at, format!("{what}: `{value}` is not a valid `{name}`"));
            }
            Some(TypeDef::Enum(values)) => match value {
                q::Value::Enum(given) => self.enum_value(name, values, given, &what, at),
                other => self.report.push(
                    at,
                    format!("{what}: `{other}` is not a value of enum `{name}` (enum values take no quotes)"),
                ),
            },
            Some(TypeDef::InputObject(fields)) => match value {
                q::Value::Object(given) => {
                    for (key, field_value) in given {
                        match fields.iter().find(|(n, _)| n == key) {
                            None => self.report.push(at, format!("{what}: input `{name}` has no field `{key}`")),
                            Some((_, def)) => {
                                if let Some(reason) = &def.deprecated {
                                    self.report.push(at, format!("{what}: `{name}.{key}` is deprecated: {reason}"));
                                }
                                self.literal(field_value, &def.ty, role, &format!("{path}.{key}"), at);
                            }
                        }
                    }
                    for (key, def) in fields {
                        if def.is_required() && !given.contains_key(key) {
                            let message = format!("{what}: field `{key}: {}` of input `{name}` is required", def.ty);
                            self.report.push(at, message);
                        }
                    }
                }
                other => self.report.push(at, format!("{what}: `{other}` is not an input object `{name}`")),
            },
            _ => {}
        }
    }

    fn enum_value(
        &mut self,
        name: &str,
        values: &[(&str, Option<String>)],
        given: &str,
        what: &str,
        at: &str,
    ) {
        match values.iter().find(|(v, _)| *v == given) {
            None => {
                let listed: Vec<&str> = values.iter().map(|(v, _)| *v).collect();
                self.report.push(
                    at,
                    format!(
                        "{what}: `{given}` is not one of {} (enum `{name}`)",
                        listed.join(", ")
                    ),
                );
            }
            Some((_, Some(reason))) => {
                self.report.push(
                    at,
                    format!("{what}: `{name}.{given}` is deprecated: {reason}"),
                );
            }
            Some(_) => {}
        }
    }

    /// Checks a JSON variable value (or part of one, named `what`, e.g. `$input.threadId`).
    pub(super) fn json(&mut self, value: &Value, ty: &Ty<'_>, what: &str, at: &str) {
        let name = match ty {
            Ty::NonNull(_) if value.is_null() => {
                self.report
                    .push(at, format!("`{what}` is null, but `{ty}` is required"));
                return;
            }
            Ty::NonNull(inner) => return self.json(value, inner, what, at),
            _ if value.is_null() => return,
            Ty::List(inner) => {
                match value.as_array() {
                    Some(items) => {
                        for (i, item) in items.iter().enumerate() {
                            self.json(item, inner, &format!("{what}[{i}]"), at);
                        }
                    }
                    None => self.json(value, inner, what, at),
                }
                return;
            }
            Ty::Named(name) => *name,
        };
        let schema = self.schema;
        match schema.types.get(name) {
            Some(TypeDef::Scalar) if !scalar_json(name, value) => {
                let message = format!("`{what}` = `{}` is not a valid `{name}`", show(value));
                self.report.push(at, message);
            }
            Some(TypeDef::Enum(values)) => match value.as_str() {
                Some(given) => self.enum_value(name, values, given, &format!("`{what}`"), at),
                None => self.report.push(
                    at,
                    format!(
                        "`{what}` = `{}` is not a value of enum `{name}`",
                        show(value)
                    ),
                ),
            },
            Some(TypeDef::InputObject(fields)) => match value.as_object() {
                Some(given) => {
                    for (key, field_value) in given {
                        match fields.iter().find(|(n, _)| *n == key.as_str()) {
                            None => self
                                .report
                                .push(at, format!("`{what}`: input `{name}` has no field `{key}`")),
                            Some((_, def)) => {
                                if let Some(reason) = &def.deprecated {
                                    self.report.push(
                                        at,
                                        format!("`{what}`: `{name}.{key}` is deprecated: {reason}"),
                                    );
                                }
                                self.json(field_value, &def.ty, &format!("{what}.{key}"), at);
                            }
                        }
                    }
                    for (key, def) in fields {
                        if def.is_required() && !given.contains_key(*key) {
                            let message = format!(
                                "`{what}`: field `{key}: {}` of input `{name}` is required",
                                def.ty
                            );
                            self.report.push(at, message);
                        }
                    }
                }
                None => self.report.push(
                    at,
                    format!(
                        "`{what}` = `{}` is not an input object `{name}`",
                        show(value)
                    ),
                ),
            },
            _ => {}
        }
    }
}
