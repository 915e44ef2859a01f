//! Checking the PatchOp message (RFC 7644 §3.5.2) and turning it into a [`PatchRequest`].

use serde_json::{Map, Value};

use super::filter::parse_path;
use super::model::note;
use super::{PatchError, PatchOp, PatchOpKind, PatchRequest, Tolerance, PATCH_OP_SCHEMA};

/// Validates the PatchOp message: `schemas` must contain `urn:ietf:params:scim:api:messages:2.0:PatchOp`,
/// `Operations` must be a non-empty array, each operation an object with `op` (`add`, `remove` or `replace`; any case,
/// see [`Tolerance::CapitalisedOp`]), an optional `path` (parsed with the filter grammar; a parse error is
/// `invalidPath`) and a `value` for `add` / `replace`. `remove` without `path` is `noTarget`.
///
/// Member names are matched exactly first and then case-insensitively ([`Tolerance::MessageKeyCase`]).
pub fn parse_patch(body: &Value) -> Result<PatchRequest, PatchError> {
    let Some(obj) = body.as_object() else {
        return Err(PatchError::InvalidSyntax(format!(
            "the PATCH request body must be a JSON object (a PatchOp message), but it is {}",
            describe(body)
        )));
    };
    let mut tolerances = Vec::new();

    match member(obj, "schemas", &mut tolerances) {
        None => {
            return Err(PatchError::InvalidSyntax(format!(
                "the PATCH request body has no \"schemas\"; it must be [\"{PATCH_OP_SCHEMA}\"]"
            )))
        }
        Some(Value::Array(list)) => {
            let listed = list.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA)));
            if !listed {
                return Err(PatchError::InvalidSyntax(format!(
                    "\"schemas\" of a PATCH request must contain \"{PATCH_OP_SCHEMA}\""
                )));
            }
        }
        Some(other) => {
            return Err(PatchError::InvalidSyntax(format!(
                "\"schemas\" must be an array containing \"{PATCH_OP_SCHEMA}\", but it is {}",
                describe(other)
            )))
        }
    }

    let ops = match member(obj, "Operations", &mut tolerances) {
        None => return Err(PatchError::InvalidSyntax("the PATCH request body has no \"Operations\" array".to_owned())),
        Some(Value::Array(ops)) if ops.is_empty() => {
            return Err(PatchError::InvalidSyntax(
                "\"Operations\" is empty; a PATCH request needs at least one operation".to_owned(),
            ))
        }
        Some(Value::Array(ops)) => ops,
        Some(other) => {
            return Err(PatchError::InvalidSyntax(format!(
                "\"Operations\" must be an array of operations, but it is {}",
                describe(other)
            )))
        }
    };

    let mut operations = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let parsed = parse_op(op, &mut tolerances).map_err(|e| e.prefixed(&format!("Operations[{i}]: ")))?;
        operations.push(parsed);
    }
    Ok(PatchRequest { operations, tolerances })
}

fn parse_op(op: &Value, tolerances: &mut Vec<Tolerance>) -> Result<PatchOp, PatchError> {
    let Some(obj) = op.as_object() else {
        return Err(PatchError::InvalidSyntax(format!(
            "an operation must be a JSON object with \"op\", \"path\" and \"value\", but it is {}",
            describe(op)
        )));
    };

    let kind = match member(obj, "op", tolerances) {
        None => {
            return Err(PatchError::InvalidSyntax(
                "the operation has no \"op\"; expected \"add\", \"remove\" or \"replace\"".to_owned(),
            ))
        }
        Some(Value::String(s)) => {
            let kind = match s.to_ascii_lowercase().as_str() {
                "add" => PatchOpKind::Add,
                "remove" => PatchOpKind::Remove,
                "replace" => PatchOpKind::Replace,
                _ => {
                    return Err(PatchError::InvalidSyntax(format!(
                        "unknown PATCH op \"{s}\"; expected \"add\", \"remove\" or \"replace\""
                    )))
                }
            };
            if s != kind.as_str() {
                note(tolerances, Tolerance::CapitalisedOp);
            }
            kind
        }
        Some(other) => {
            return Err(PatchError::InvalidSyntax(format!(
                "\"op\" must be the string \"add\", \"remove\" or \"replace\", but it is {}",
                describe(other)
            )))
        }
    };

    let (path, raw_path) = match member(obj, "path", tolerances) {
        None | Some(Value::Null) => (None, None),
        Some(Value::String(s)) if s.trim().is_empty() => {
            note(tolerances, Tolerance::EmptyPath);
            (None, None)
        }
        Some(Value::String(s)) => match parse_path(s) {
            Ok(p) => (Some(p), Some(s.clone())),
            Err(e) => {
                return Err(PatchError::InvalidPath(format!(
                    "the path \"{s}\" is not a valid SCIM attribute path: {e}"
                )))
            }
        },
        Some(other) => {
            return Err(PatchError::InvalidPath(format!("\"path\" must be a string, but it is {}", describe(other))))
        }
    };

    let value = member(obj, "value", tolerances).cloned();
    match kind {
        PatchOpKind::Add if value.as_ref().is_none_or(Value::is_null) => {
            return Err(PatchError::InvalidValue("\"add\" requires a \"value\" holding what to add".to_owned()))
        }
        PatchOpKind::Replace if value.is_none() => {
            return Err(PatchError::InvalidValue("\"replace\" requires a \"value\" holding the new value".to_owned()))
        }
        PatchOpKind::Remove if path.is_none() => {
            return Err(PatchError::NoTarget("\"remove\" requires a \"path\" naming what to remove".to_owned()))
        }
        _ => {}
    }

    Ok(PatchOp { op: kind, path, raw_path, value })
}

/// `obj[name]`, falling back to a key equal ignoring ASCII case (noting [`Tolerance::MessageKeyCase`]).
fn member<'a>(obj: &'a Map<String, Value>, name: &str, tolerances: &mut Vec<Tolerance>) -> Option<&'a Value> {
    if let Some(v) = obj.get(name) {
        return Some(v);
    }
    let found = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    if found.is_some() {
        note(tolerances, Tolerance::MessageKeyCase);
    }
    found
}

/// A short description of a JSON value for error messages: `a string ("x")`, `an array`, ….
pub(crate) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) if s.chars().count() > 40 => {
            let head: String = s.chars().take(40).collect();
            format!("a string (\"{head}…\")")
        }
        Value::String(s) => format!("a string (\"{s}\")"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}
