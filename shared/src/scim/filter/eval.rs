//! Matching filters against SCIM JSON documents.

use super::{datetime, AttrInfo, AttrPath, AttrType, AttributeRules, CompareOp, Filter};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Where a filter's attribute paths are resolved.
#[derive(Clone, Copy)]
pub(crate) enum Scope<'a> {
    /// Paths are relative to the whole resource document.
    Resource(&'a Value),
    /// Paths are relative to one element of the (multi-valued) attribute `parent`.
    Element { element: &'a Value, parent: &'a AttrPath },
}

/// Looks a key up case-insensitively, preferring an exact match.
fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// Pushes a value, or the elements of an array, skipping nulls.
fn push_flat<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v {
        Value::Null => {}
        Value::Array(items) => out.extend(items.iter().filter(|x| !x.is_null())),
        _ => out.push(v),
    }
}

/// Pushes the member `key` of every object among `values` (flattened).
fn members<'a>(values: &[&'a Value], key: &str) -> Vec<&'a Value> {
    let mut out = Vec::new();
    for v in values {
        if let Some(m) = v.as_object().and_then(|o| get_ci(o, key)) {
            push_flat(m, &mut out);
        }
    }
    out
}

/// The JSON object holding the attributes of the path's schema.
fn container<'a>(path: &AttrPath, resource: &'a Value, rules: &dyn AttributeRules) -> Option<&'a Map<String, Value>> {
    let root = resource.as_object()?;
    if path.is_core(rules) {
        return Some(root);
    }
    let schema = path.schema.as_deref()?;
    get_ci(root, schema)?.as_object()
}

pub(crate) fn path_values<'a>(path: &AttrPath, resource: &'a Value, rules: &dyn AttributeRules) -> Vec<&'a Value> {
    let mut out = Vec::new();
    if let Some(v) = container(path, resource, rules).and_then(|c| get_ci(c, &path.name)) {
        push_flat(v, &mut out);
    }
    match &path.sub {
        None => out,
        Some(sub) => members(&out, sub),
    }
}

/// The values selected by a path inside one element of `parent`, and what `rules` knows about them.
fn element_values<'a>(
    path: &AttrPath,
    element: &'a Value,
    parent: &AttrPath,
    rules: &dyn AttributeRules,
) -> (Vec<&'a Value>, Option<AttrInfo>) {
    let mut out = Vec::new();
    match element {
        Value::Object(o) => {
            if let Some(v) = get_ci(o, &path.name) {
                push_flat(v, &mut out);
            }
        }
        // The elements of a multi-valued attribute of simple type are addressed as `value` (RFC 7644 §3.5.2).
        Value::Null => {}
        _ if path.name.eq_ignore_ascii_case("value") && path.sub.is_none() => out.push(element),
        _ => {}
    }
    match &path.sub {
        None => {
            let info = rules.attribute(parent.schema.as_deref(), &parent.name, Some(&path.name));
            (out, info)
        }
        Some(sub) => (members(&out, sub), None),
    }
}

fn resolve<'a>(path: &AttrPath, scope: Scope<'a>, rules: &dyn AttributeRules) -> (Vec<&'a Value>, Option<AttrInfo>) {
    match scope {
        Scope::Resource(resource) => (path_values(path, resource, rules), path.info(rules)),
        Scope::Element { element, parent } => element_values(path, element, parent, rules),
    }
}

pub(crate) fn matches(filter: &Filter, scope: Scope<'_>, rules: &dyn AttributeRules) -> bool {
    match filter {
        Filter::And(l, r) => matches(l, scope, rules) && matches(r, scope, rules),
        Filter::Or(l, r) => matches(l, scope, rules) || matches(r, scope, rules),
        Filter::Not(inner) => !matches(inner, scope, rules),
        Filter::Present(path) => resolve(path, scope, rules).0.into_iter().any(is_present),
        Filter::Compare { path, op, value } => {
            let (mut values, mut info) = resolve(path, scope, rules);
            // A complex attribute compared directly stands for its `value` sub-attribute (`emails co "example.com"`).
            let complex = match info {
                Some(i) => i.attr_type == AttrType::Complex,
                None => values.iter().any(|v| v.is_object()),
            };
            if complex && path.sub.is_none() {
                let (objects, simple): (Vec<&Value>, Vec<&Value>) = values.into_iter().partition(|v| v.is_object());
                values = simple;
                values.extend(members(&objects, "value"));
                info = match scope {
                    Scope::Resource(_) => rules.attribute(path.schema.as_deref(), &path.name, Some("value")),
                    Scope::Element { .. } => None,
                };
            }
            compare_all(&values, info, *op, value)
        }
        Filter::ValuePath { path, filter } => {
            let elements = match scope {
                Scope::Resource(resource) => path_values(path, resource, rules),
                Scope::Element { element, parent, .. } => element_values(path, element, parent, rules).0,
            };
            elements.into_iter().any(|element| matches(filter, Scope::Element { element, parent: path }, rules))
        }
    }
}

/// `pr`: the value exists, is not null, not an empty string and not an empty array or object.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(members) => members.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// Any-element semantics for multi-valued attributes; `ne` holds when no value equals.
fn compare_all(values: &[&Value], info: Option<AttrInfo>, op: CompareOp, comp: &Value) -> bool {
    if comp.is_null() {
        let present = values.iter().any(|v| is_present(v));
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    match op {
        CompareOp::Ne => !values.iter().any(|v| compare_one(v, info, CompareOp::Eq, comp)),
        _ => values.iter().any(|v| compare_one(v, info, op, comp)),
    }
}

fn ordering_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_one(v: &Value, info: Option<AttrInfo>, op: CompareOp, comp: &Value) -> bool {
    let attr_type = match info {
        Some(i) => i.attr_type,
        None => match v {
            Value::Bool(_) => AttrType::Boolean,
            Value::Number(_) => AttrType::Decimal,
            Value::String(_) => AttrType::String,
            _ => return false,
        },
    };
    let case_exact = info.is_some_and(|i| i.case_exact);
    match attr_type {
        AttrType::Boolean => match (v, comp) {
            (Value::Bool(a), Value::Bool(b)) => {
                matches!(op, CompareOp::Eq | CompareOp::Ne) && ordering_matches(op, a.cmp(b))
            }
            _ => false,
        },
        AttrType::Integer | AttrType::Decimal => match (v, comp) {
            (Value::Number(a), Value::Number(b)) => compare_numbers(a, b).is_some_and(|ord| ordering_matches(op, ord)),
            _ => false,
        },
        AttrType::DateTime => match (v, comp) {
            (Value::String(a), Value::String(b)) => compare_datetimes(a, b, op),
            _ => false,
        },
        AttrType::String | AttrType::Reference | AttrType::Binary => match (v, comp) {
            (Value::String(a), Value::String(b)) => compare_strings(a, b, op, case_exact),
            _ => false,
        },
        AttrType::Complex => false,
    }
}

fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn compare_strings(a: &str, b: &str, op: CompareOp, case_exact: bool) -> bool {
    let (a, b) = if case_exact { (a.to_owned(), b.to_owned()) } else { (a.to_lowercase(), b.to_lowercase()) };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        _ => ordering_matches(op, a.cmp(&b)),
    }
}

/// Chronological for eq/ne/gt/ge/lt/le when both sides parse as RFC 3339; otherwise only string operators and exact
/// textual equality can match.
fn compare_datetimes(a: &str, b: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => compare_strings(a, b, op, false),
        _ => match (datetime::parse(a), datetime::parse(b)) {
            (Some(x), Some(y)) => ordering_matches(op, x.cmp(&y)),
            _ => matches!(op, CompareOp::Eq | CompareOp::Ne) && compare_strings(a, b, op, true),
        },
    }
}
