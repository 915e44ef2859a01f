//! Applying PATCH operations (RFC 7644 §3.5.2.1–3) to one resource's SCIM JSON document.
//!
//! The document has the core attributes at the top level and each extension's attributes in an object under a key equal
//! to the extension URN. Attribute names match existing keys case-insensitively; a new key is written as the request
//! spelled it.

use serde_json::{Map, Value};

use super::filter::{AttrInfo, AttrPath, AttrType, AttributeRules, CompareOp, Filter, Mutability, PatchPath};
use super::model::note;
use super::parse::describe;
use super::{PatchError, PatchOp, PatchOpKind, PatchRequest, Tolerance, ENTERPRISE_USER_SCHEMA};

type Object = Map<String, Value>;

/// Applies all operations, in order, to the resource document (core attributes at the top level, extension attributes
/// under their URN key).
///
/// Atomic: the operations run on a clone, and `doc` is only replaced when all succeeded, so on error it is unchanged.
/// On success the request's own tolerances and the ones needed while applying are appended to `tolerances` (each
/// once, skipping ones already listed); on error nothing is appended.
///
/// When an operation makes a known extension's object appear or disappear, the document's `schemas` array (if it has
/// one) gains or loses that extension URN.
///
/// The result never holds an attribute the rules say is never returned (`writeOnly`, such as `password`): a write to
/// one is accepted and its value dropped (see `rules::remove_never_returned`).
pub fn apply_patch(
    doc: &mut Value,
    request: &PatchRequest,
    rules: &dyn AttributeRules,
    tolerances: &mut Vec<Tolerance>,
) -> Result<(), PatchError> {
    let mut work = doc.clone();
    let Some(root) = work.as_object_mut() else {
        return Err(PatchError::InvalidSyntax(format!(
            "the resource document is {}, not a JSON object",
            describe(doc)
        )));
    };
    let mut ctx = Ctx { rules, tolerances: Vec::new() };
    for t in &request.tolerances {
        ctx.tolerate(*t);
    }
    let extensions_before = present_extensions(root, rules);
    for (i, op) in request.operations.iter().enumerate() {
        apply_op(&mut ctx, root, op).map_err(|e| e.prefixed(&format!("Operations[{i}]: ")))?;
    }
    sync_schemas(root, rules, &extensions_before);
    // Write-only attributes are accepted and dropped: the result never holds one, however it was spelled.
    crate::scim::rules::remove_never_returned(&mut work, rules);
    *doc = work;
    for t in ctx.tolerances {
        note(tolerances, t);
    }
    Ok(())
}

struct Ctx<'r> {
    rules: &'r dyn AttributeRules,
    tolerances: Vec<Tolerance>,
}

/// Where an attribute lives: the top level (core) or the object under an extension URN.
#[derive(Debug, Clone)]
enum Scope {
    Core,
    /// `known`: listed in the rules' extension schemas (then `urn` is spelled as the rules spell it).
    Ext {
        urn: String,
        known: bool,
    },
}

impl Scope {
    fn schema_arg(&self) -> Option<&str> {
        match self {
            Scope::Core => None,
            Scope::Ext { urn, .. } => Some(urn),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Add,
    Replace,
}

/// What one operation (or one key of a no-path value) targets.
struct Target {
    scope: Scope,
    name: String,
    /// None: an attribute the rules do not know, under an extension (stored as sent).
    info: Option<AttrInfo>,
    sub: Option<String>,
    sub_info: Option<AttrInfo>,
}

impl Target {
    fn label(&self) -> String {
        let mut s = match &self.scope {
            Scope::Core => self.name.clone(),
            Scope::Ext { urn, .. } => format!("{urn}:{}", self.name),
        };
        if let Some(sub) = &self.sub {
            s.push('.');
            s.push_str(sub);
        }
        s
    }

    fn parent_path(&self) -> AttrPath {
        AttrPath { schema: self.scope.schema_arg().map(str::to_owned), name: self.name.clone(), sub: None }
    }

    fn is_manager(&self) -> bool {
        matches!(&self.scope, Scope::Ext { urn, .. } if urn.eq_ignore_ascii_case(ENTERPRISE_USER_SCHEMA))
            && self.name.eq_ignore_ascii_case("manager")
    }

    /// Is the attribute multi-valued? Unknown attributes are judged by what the document holds.
    fn multi(&self, current: Option<&Value>) -> bool {
        match self.info {
            Some(i) => i.multi_valued,
            None => current.is_some_and(Value::is_array),
        }
    }

    fn mutability(&self) -> Mutability {
        let all = [self.info, self.sub_info];
        let has = |m: Mutability| all.iter().flatten().any(|i| i.mutability == m);
        if has(Mutability::ReadOnly) {
            Mutability::ReadOnly
        } else if has(Mutability::Immutable) {
            Mutability::Immutable
        } else {
            Mutability::ReadWrite
        }
    }
}

impl Ctx<'_> {
    fn tolerate(&mut self, t: Tolerance) {
        note(&mut self.tolerances, t);
    }

    fn scope_for(&self, schema: Option<&str>) -> Scope {
        let Some(schema) = schema else {
            return Scope::Core;
        };
        if schema.eq_ignore_ascii_case(self.rules.core_schema()) {
            return Scope::Core;
        }
        match self.rules.extension_schemas().iter().find(|u| u.eq_ignore_ascii_case(schema)) {
            Some(u) => Scope::Ext { urn: (*u).to_owned(), known: true },
            None => Scope::Ext { urn: schema.to_owned(), known: false },
        }
    }

    /// The scope when `s` spells a whole schema URN (core or a known extension).
    fn whole_schema(&self, s: &str) -> Option<Scope> {
        let s = s.trim();
        if s.eq_ignore_ascii_case(self.rules.core_schema()) {
            return Some(Scope::Core);
        }
        self.rules
            .extension_schemas()
            .iter()
            .find(|u| u.eq_ignore_ascii_case(s))
            .map(|u| Scope::Ext { urn: (*u).to_owned(), known: true })
    }

    fn lookup(&self, scope: &Scope, name: &str, sub: Option<&str>) -> Option<AttrInfo> {
        match scope {
            Scope::Core => self.rules.attribute(None, name, sub),
            Scope::Ext { urn, known: true } => self.rules.attribute(Some(urn), name, sub),
            Scope::Ext { known: false, .. } => None,
        }
    }

    fn resolve(&self, scope: Scope, name: &str, sub: Option<&str>) -> Result<Target, PatchError> {
        let info = self.lookup(&scope, name, None);
        if info.is_none() {
            if let Scope::Core = scope {
                return Err(PatchError::InvalidPath(format!(
                    "\"{name}\" is not an attribute of {}",
                    self.rules.core_schema()
                )));
            }
        }
        let sub_info = match (sub, info) {
            (None, _) | (Some(_), None) => None,
            (Some(s), Some(i)) => {
                if i.attr_type != AttrType::Complex {
                    return Err(PatchError::InvalidPath(format!(
                        "\"{name}\" is not a complex attribute, so it has no sub-attribute \"{s}\""
                    )));
                }
                match self.lookup(&scope, name, Some(s)) {
                    Some(si) => Some(si),
                    None => {
                        return Err(PatchError::InvalidPath(format!("\"{s}\" is not a sub-attribute of \"{name}\"")))
                    }
                }
            }
        };
        Ok(Target { scope, name: name.to_owned(), info, sub: sub.map(str::to_owned), sub_info })
    }
}

fn apply_op(ctx: &mut Ctx<'_>, doc: &mut Object, op: &PatchOp) -> Result<(), PatchError> {
    let raw = op.raw_path.as_deref().unwrap_or_default();
    match op.op {
        PatchOpKind::Remove => {
            let Some(path) = &op.path else {
                return Err(PatchError::NoTarget("\"remove\" requires a \"path\" naming what to remove".to_owned()));
            };
            if let Some(scope) = ctx.whole_schema(raw) {
                return remove_schema_object(doc, &scope, ctx.rules);
            }
            remove_path(ctx, doc, path, raw, op.value.as_ref())
        }
        PatchOpKind::Add | PatchOpKind::Replace => {
            let mode = if op.op == PatchOpKind::Add { Mode::Add } else { Mode::Replace };
            let value = match &op.value {
                Some(Value::Null) if mode == Mode::Add => None,
                v => v.as_ref(),
            };
            let Some(value) = value else {
                return Err(PatchError::InvalidValue(format!("\"{}\" requires a \"value\"", op.op)));
            };
            match &op.path {
                None => apply_object(ctx, doc, None, value, mode),
                Some(path) => match ctx.whole_schema(raw) {
                    Some(scope) => apply_schema_value(ctx, doc, &scope, value, mode),
                    None => write_path(ctx, doc, path, raw, value, mode),
                },
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// No-path values: an object of attributes

/// `value` of an operation without path (scope None), or of one addressed to a whole schema URN.
fn apply_object(
    ctx: &mut Ctx<'_>,
    doc: &mut Object,
    within: Option<&Scope>,
    value: &Value,
    mode: Mode,
) -> Result<(), PatchError> {
    let Some(obj) = value.as_object() else {
        return Err(PatchError::InvalidValue(format!(
            "without a \"path\", \"value\" must be an object of attributes, but it is {}",
            describe(value)
        )));
    };
    for (key, v) in obj {
        apply_key(ctx, doc, within, key, v, mode)?;
    }
    Ok(())
}

fn apply_key(
    ctx: &mut Ctx<'_>,
    doc: &mut Object,
    within: Option<&Scope>,
    key: &str,
    v: &Value,
    mode: Mode,
) -> Result<(), PatchError> {
    let (scope, attr) = match within {
        Some(scope) => (scope.clone(), key),
        None => {
            if key.eq_ignore_ascii_case("schemas") {
                return write_schemas(ctx, doc, v, mode);
            }
            if let Some(scope) = ctx.whole_schema(key) {
                return apply_schema_value(ctx, doc, &scope, v, mode);
            }
            match split_qualified(ctx, key) {
                Some((scope, attr)) => {
                    ctx.tolerate(Tolerance::DottedKeyInValue);
                    (scope, attr)
                }
                None if is_urn(key) && (v.is_object() || v.is_null()) => {
                    write_unknown_extension(doc, key, v, mode);
                    return Ok(());
                }
                None if is_urn(key) => match key.rfind(':') {
                    Some(i) if i + 1 < key.len() => {
                        ctx.tolerate(Tolerance::DottedKeyInValue);
                        (ctx.scope_for(Some(&key[..i])), &key[i + 1..])
                    }
                    _ => {
                        return Err(PatchError::InvalidPath(format!("\"{key}\" in \"value\" is not an attribute name")))
                    }
                },
                None => (Scope::Core, key),
            }
        }
    };
    let (name, sub) = match attr.split_once('.') {
        Some((n, s)) => {
            ctx.tolerate(Tolerance::DottedKeyInValue);
            (n, Some(s))
        }
        None => (attr, None),
    };
    if name.is_empty() || sub.is_some_and(|s| s.is_empty() || s.contains('.')) {
        return Err(PatchError::InvalidPath(format!("\"{key}\" in \"value\" is not an attribute name")));
    }
    if matches!(scope, Scope::Core) && sub.is_none() && name.eq_ignore_ascii_case("schemas") {
        return write_schemas(ctx, doc, v, mode);
    }
    let target = ctx.resolve(scope, name, sub)?;
    if target.mutability() == Mutability::ReadOnly {
        let unchanged = current(doc, &target).is_some_and(|c| c == *v);
        if unchanged {
            ctx.tolerate(Tolerance::ReadOnlyValueIgnored);
            return Ok(());
        }
        return Err(read_only(&target));
    }
    guarded(ctx, doc, &target, |ctx, doc| write_target(ctx, doc, &target, None, "", v, mode))
}

/// `urn:…:User:department` / `urn:…:User:name.givenName` for a known schema: its scope and the rest.
fn split_qualified<'k>(ctx: &Ctx<'_>, key: &'k str) -> Option<(Scope, &'k str)> {
    let core = ctx.rules.core_schema();
    let mut best: Option<(&str, bool)> = None;
    for (urn, is_core) in std::iter::once((core, true)).chain(ctx.rules.extension_schemas().iter().map(|u| (*u, false)))
    {
        let fits = key.len() > urn.len() + 1
            && key.is_char_boundary(urn.len())
            && key[..urn.len()].eq_ignore_ascii_case(urn)
            && key[urn.len()..].starts_with(':');
        if fits && best.is_none_or(|(b, _)| urn.len() > b.len()) {
            best = Some((urn, is_core));
        }
    }
    let (urn, is_core) = best?;
    let scope = if is_core { Scope::Core } else { Scope::Ext { urn: urn.to_owned(), known: true } };
    Some((scope, &key[urn.len() + 1..]))
}

fn is_urn(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// A value (or path) addressed to a whole schema URN: `{"urn:…:enterprise:2.0:User": {"department": "X"}}`.
fn apply_schema_value(
    ctx: &mut Ctx<'_>,
    doc: &mut Object,
    scope: &Scope,
    v: &Value,
    mode: Mode,
) -> Result<(), PatchError> {
    if v.is_null() && mode == Mode::Replace {
        return remove_schema_object(doc, scope, ctx.rules);
    }
    apply_object(ctx, doc, Some(scope), v, mode)
}

/// An object under a URN the rules do not know: kept as sent (replace sets it, add merges its keys).
fn write_unknown_extension(doc: &mut Object, key: &str, v: &Value, mode: Mode) {
    let k = key_in(doc, key);
    match (mode, doc.get_mut(&k), v) {
        (Mode::Add, Some(Value::Object(existing)), Value::Object(new)) => {
            for (nk, nv) in new {
                set_key(existing, nk, nv.clone());
            }
        }
        _ => {
            doc.insert(k.clone(), v.clone());
        }
    }
    tidy(doc, &k);
}

fn remove_schema_object(doc: &mut Object, scope: &Scope, rules: &dyn AttributeRules) -> Result<(), PatchError> {
    match scope {
        Scope::Core => {
            Err(PatchError::Mutability(format!("the core schema {} cannot be removed", rules.core_schema())))
        }
        Scope::Ext { urn, .. } => {
            if let Some(k) = find_key(doc, urn) {
                doc.remove(&k);
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// `schemas`

fn write_schemas(ctx: &mut Ctx<'_>, doc: &mut Object, v: &Value, mode: Mode) -> Result<(), PatchError> {
    let bad = || {
        PatchError::InvalidValue(format!(
            "\"schemas\" must be an array of schema URN strings, but it is {}",
            describe(v)
        ))
    };
    let new: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(list) => {
            list.iter().map(|s| s.as_str().map(str::to_owned).ok_or_else(bad)).collect::<Result<_, _>>()?
        }
        _ => return Err(bad()),
    };
    let key = key_in(doc, "schemas");
    let mut list: Vec<String> = match doc.get(&key) {
        Some(Value::Array(a)) => a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    };
    let contains = |list: &[String], s: &str| list.iter().any(|x| x.eq_ignore_ascii_case(s));
    match mode {
        Mode::Add => {
            for s in new {
                if !contains(&list, &s) {
                    list.push(s);
                }
            }
        }
        Mode::Replace => {
            let core = ctx.rules.core_schema();
            if !contains(&new, core) {
                return Err(PatchError::InvalidValue(format!("\"schemas\" must include the core schema \"{core}\"")));
            }
            let same = new.len() == list.len() && new.iter().all(|s| contains(&list, s));
            if same {
                return Ok(());
            }
            list = new;
        }
    }
    doc.insert(key, Value::Array(list.into_iter().map(Value::String).collect()));
    Ok(())
}

/// Known extensions whose object is present (and non-empty) in the document.
fn present_extensions(doc: &Object, rules: &dyn AttributeRules) -> Vec<String> {
    rules
        .extension_schemas()
        .iter()
        .filter(|u| {
            find_key(doc, u).and_then(|k| doc.get(&k)).is_some_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        })
        .map(|u| (*u).to_owned())
        .collect()
}

/// Adds newly present extension URNs to `schemas` and drops the ones whose object the patch removed.
fn sync_schemas(doc: &mut Object, rules: &dyn AttributeRules, before: &[String]) {
    let after = present_extensions(doc, rules);
    let Some(key) = find_key(doc, "schemas") else {
        return;
    };
    let Some(Value::Array(list)) = doc.get_mut(&key) else {
        return;
    };
    let listed =
        |list: &[Value], urn: &str| list.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
    for urn in after.iter().filter(|u| !before.contains(u)) {
        if !listed(list, urn) {
            list.push(Value::String(urn.clone()));
        }
    }
    for urn in before.iter().filter(|u| !after.contains(u)) {
        list.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// Operations with a path

fn path_target(ctx: &Ctx<'_>, path: &PatchPath, raw: &str) -> Result<Target, PatchError> {
    let sub = match (&path.attr.sub, &path.sub) {
        (Some(_), Some(_)) => {
            return Err(PatchError::InvalidPath(format!("the path \"{raw}\" names two sub-attributes")))
        }
        (a, b) => a.as_deref().or(b.as_deref()),
    };
    let scope = ctx.scope_for(path.attr.schema.as_deref());
    let target = ctx.resolve(scope, &path.attr.name, sub)?;
    if let Some(filter) = &path.value_filter {
        if let Some(info) = target.info {
            if !info.multi_valued {
                return Err(PatchError::InvalidPath(format!(
                    "the path \"{raw}\" has a value filter, but \"{}\" is not multi-valued",
                    target.name
                )));
            }
        }
        check_filter(ctx, &target, filter, raw)?;
    }
    Ok(target)
}

fn is_schemas_path(ctx: &Ctx<'_>, path: &PatchPath) -> bool {
    path.attr.name.eq_ignore_ascii_case("schemas")
        && path.attr.schema.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(ctx.rules.core_schema()))
}

fn write_path(
    ctx: &mut Ctx<'_>,
    doc: &mut Object,
    path: &PatchPath,
    raw: &str,
    value: &Value,
    mode: Mode,
) -> Result<(), PatchError> {
    if is_schemas_path(ctx, path) {
        if path.attr.sub.is_some() || path.sub.is_some() || path.value_filter.is_some() {
            return Err(PatchError::InvalidPath(format!(
                "\"schemas\" is a list of URNs; the path \"{raw}\" does not fit it"
            )));
        }
        return write_schemas(ctx, doc, value, mode);
    }
    let target = path_target(ctx, path, raw)?;
    if target.mutability() == Mutability::ReadOnly {
        return Err(read_only(&target));
    }
    let filter = path.value_filter.as_ref();
    guarded(ctx, doc, &target, |ctx, doc| write_target(ctx, doc, &target, filter, raw, value, mode))
}

fn remove_path(
    ctx: &mut Ctx<'_>,
    doc: &mut Object,
    path: &PatchPath,
    raw: &str,
    value: Option<&Value>,
) -> Result<(), PatchError> {
    if is_schemas_path(ctx, path) {
        return Err(PatchError::Mutability("\"schemas\" cannot be removed".to_owned()));
    }
    let target = path_target(ctx, path, raw)?;
    if target.mutability() == Mutability::ReadOnly {
        return Err(read_only(&target));
    }
    let filter = path.value_filter.as_ref();
    if filter.is_none() && value.is_none() {
        check_not_required(ctx, doc, &target)?;
    }
    guarded(ctx, doc, &target, |ctx, doc| {
        remove_target(ctx, doc, &target, filter, value);
        Ok(())
    })
}

/// Removing (or unassigning) a required attribute that has a value violates its requiredness: RFC 7644 §3.5.2 names
/// `mutability`. (A whole-resource write that lacks one is `invalidValue`, from the resource's own check.)
fn check_not_required(ctx: &Ctx<'_>, doc: &Object, target: &Target) -> Result<(), PatchError> {
    let required = ctx.rules.required(target.scope.schema_arg(), &target.name, target.sub.as_deref());
    if required && current(doc, target).is_some_and(|v| !v.is_null()) {
        return Err(PatchError::Mutability(format!("\"{}\" is required and cannot be removed", target.label())));
    }
    Ok(())
}

fn read_only(target: &Target) -> PatchError {
    PatchError::Mutability(format!("\"{}\" is readOnly and cannot be changed by PATCH", target.label()))
}

/// Runs `f`; for an immutable target that already had a value, refuses any change to it.
fn guarded(
    ctx: &mut Ctx<'_>,
    doc: &mut Object,
    target: &Target,
    f: impl FnOnce(&mut Ctx<'_>, &mut Object) -> Result<(), PatchError>,
) -> Result<(), PatchError> {
    let before = if target.mutability() == Mutability::Immutable { current_attr(doc, target) } else { None };
    f(ctx, doc)?;
    if let Some(before) = before {
        if current_attr(doc, target).as_ref() != Some(&before) {
            return Err(PatchError::Mutability(format!("\"{}\" is immutable and already has a value", target.label())));
        }
    }
    Ok(())
}

/// The whole attribute's current value (None when absent or null).
fn current_attr(doc: &Object, target: &Target) -> Option<Value> {
    let container = match &target.scope {
        Scope::Core => doc,
        Scope::Ext { urn, .. } => doc.get(&find_key(doc, urn)?)?.as_object()?,
    };
    container.get(&find_key(container, &target.name)?).filter(|v| !v.is_null()).cloned()
}

/// The attribute's (or, for a single complex attribute, the sub-attribute's) current value.
fn current(doc: &Object, target: &Target) -> Option<Value> {
    let attr = current_attr(doc, target)?;
    match &target.sub {
        None => Some(attr),
        Some(sub) => {
            let obj = attr.as_object()?;
            obj.get(&find_key(obj, sub)?).cloned()
        }
    }
}

/// Every path in a value filter must name a sub-attribute of the filtered attribute (or `value` for a multi-valued
/// attribute of simple values).
fn check_filter(ctx: &Ctx<'_>, target: &Target, filter: &Filter, raw: &str) -> Result<(), PatchError> {
    let Some(info) = target.info else {
        return Ok(());
    };
    let check = |p: &AttrPath| -> Result<(), PatchError> {
        let name = match (&p.sub, info.attr_type) {
            (None, _) => p.name.as_str(),
            (Some(s), AttrType::Complex) if p.name.eq_ignore_ascii_case(&target.name) => s.as_str(),
            (Some(_), _) => {
                return Err(PatchError::InvalidFilter(format!(
                    "the filter in the path \"{raw}\" refers to \"{p}\", which is not a sub-attribute of \"{}\"",
                    target.name
                )))
            }
        };
        let known = if info.attr_type == AttrType::Complex {
            ctx.lookup(&target.scope, &target.name, Some(name)).is_some()
        } else {
            name.eq_ignore_ascii_case("value")
        };
        if known {
            Ok(())
        } else {
            Err(PatchError::InvalidFilter(format!(
                "the filter in the path \"{raw}\" refers to \"{name}\", which is not a sub-attribute of \"{}\"",
                target.name
            )))
        }
    };
    walk_filter(filter, raw, &check)
}

fn walk_filter(
    filter: &Filter,
    raw: &str,
    check: &dyn Fn(&AttrPath) -> Result<(), PatchError>,
) -> Result<(), PatchError> {
    match filter {
        Filter::Compare { path, .. } | Filter::Present(path) => check(path),
        Filter::And(a, b) | Filter::Or(a, b) => {
            walk_filter(a, raw, check)?;
            walk_filter(b, raw, check)
        }
        Filter::Not(inner) => walk_filter(inner, raw, check),
        Filter::ValuePath { .. } => {
            Err(PatchError::InvalidFilter(format!("the path \"{raw}\" nests a value filter inside a value filter")))
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// add / replace

fn write_target(
    ctx: &mut Ctx<'_>,
    doc: &mut Object,
    target: &Target,
    filter: Option<&Filter>,
    raw: &str,
    value: &Value,
    mode: Mode,
) -> Result<(), PatchError> {
    let shape = match (&target.sub, filter) {
        (Some(_), _) => Shape::Sub,
        (None, Some(_)) => Shape::Element,
        (None, None) => Shape::Whole,
    };
    // Replacing a whole attribute with null, [] or {} unassigns it.
    let value = if mode == Mode::Replace && matches!(shape, Shape::Whole) && is_empty_value(value) {
        check_not_required(ctx, doc, target)?;
        Value::Null
    } else {
        normalize(ctx, target, value, shape)?
    };
    let rules = ctx.rules;
    let Some(container) = container_mut(doc, &target.scope, true) else {
        return Ok(());
    };
    let key = key_in(container, &target.name);
    match (filter, &target.sub) {
        (None, None) => write_whole(container, &key, target, value, mode),
        (None, Some(sub)) => write_sub_everywhere(container, &key, target, sub, value),
        (Some(filter), sub) => {
            let created =
                write_filtered(container, &key, target, filter, sub.as_deref(), value, mode, rules).map_err(|()| {
                    PatchError::NoTarget(format!(
                        "no value of \"{}\" matches the filter in the path \"{raw}\"",
                        target.name
                    ))
                })?;
            if created {
                ctx.tolerate(Tolerance::ValueFilterCreatedElement);
            }
        }
    }
    tidy(container, &key);
    tidy_scope(doc, &target.scope);
    Ok(())
}

fn write_whole(container: &mut Object, key: &str, target: &Target, value: Value, mode: Mode) {
    if value.is_null() {
        container.remove(key);
        return;
    }
    let multi = target.multi(container.get(key));
    // Unknown (extension) attributes are stored as sent: add merges objects, replace sets.
    let complex = match target.info {
        Some(i) => i.attr_type == AttrType::Complex,
        None => mode == Mode::Add && value.is_object(),
    };
    if multi {
        let new = match value {
            Value::Array(a) => a,
            other => vec![other],
        };
        match mode {
            Mode::Replace => {
                let written: Vec<usize> = (0..new.len()).collect();
                let mut arr = new;
                fix_primary(&mut arr, &written);
                container.insert(key.to_owned(), Value::Array(arr));
            }
            Mode::Add => {
                let mut arr = take_array(container, key);
                let mut written = Vec::new();
                for element in new {
                    match arr.iter().position(|e| same_element(e, &element)) {
                        Some(i) => {
                            if let Some(existing) = arr.get_mut(i) {
                                merge_into(existing, element);
                            }
                            written.push(i);
                        }
                        None => {
                            arr.push(element);
                            written.push(arr.len() - 1);
                        }
                    }
                }
                fix_primary(&mut arr, &written);
                container.insert(key.to_owned(), Value::Array(arr));
            }
        }
    } else if complex && value.is_object() {
        // RFC 7644 §3.5.2.1/3: sub-attributes given replace, the others are left unchanged (for add and replace).
        let slot = container.entry(key.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        merge_into(slot, value);
    } else {
        container.insert(key.to_owned(), value);
    }
}

/// `name.givenName`, or `emails.type` without a filter (every element; one new element when there is none).
fn write_sub_everywhere(container: &mut Object, key: &str, target: &Target, sub: &str, value: Value) {
    if target.multi(container.get(key)) {
        let mut arr = take_array(container, key);
        if arr.is_empty() {
            if !value.is_null() {
                let mut element = Map::new();
                element.insert(sub.to_owned(), value);
                arr.push(Value::Object(element));
            }
        } else {
            for element in arr.iter_mut() {
                if let Some(obj) = element.as_object_mut() {
                    set_key(obj, sub, value.clone());
                }
            }
        }
        let written: Vec<usize> = (0..arr.len()).collect();
        fix_primary(&mut arr, &written);
        container.insert(key.to_owned(), Value::Array(arr));
    } else {
        let slot = container.entry(key.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        if let Some(obj) = slot.as_object_mut() {
            set_key(obj, sub, value);
        }
    }
}

/// Returns Ok(true) when an element was created from the filter, Err(()) when nothing matched and nothing could be
/// created.
#[allow(clippy::too_many_arguments)]
fn write_filtered(
    container: &mut Object,
    key: &str,
    target: &Target,
    filter: &Filter,
    sub: Option<&str>,
    value: Value,
    mode: Mode,
    rules: &dyn AttributeRules,
) -> Result<bool, ()> {
    let parent = target.parent_path();
    let arr_now = match container.get(key) {
        Some(Value::Array(a)) => a.as_slice(),
        _ => &[],
    };
    let matched: Vec<usize> =
        arr_now.iter().enumerate().filter(|(_, e)| filter.matches_element(e, &parent, rules)).map(|(i, _)| i).collect();
    let mut created = false;
    let mut arr = take_array(container, key);
    let written = if matched.is_empty() {
        let Some(mut element) = element_from_filter(target, filter) else {
            if !arr.is_empty() {
                container.insert(key.to_owned(), Value::Array(arr));
            }
            return Err(());
        };
        match (sub, value) {
            (_, Value::Null) => {}
            (Some(sub), v) => set_key(&mut element, sub, v),
            (None, Value::Object(v)) => {
                for (k, v) in v {
                    set_key(&mut element, &k, v);
                }
            }
            (None, _) => {
                container.insert(key.to_owned(), Value::Array(arr));
                return Err(());
            }
        }
        arr.push(Value::Object(element));
        created = true;
        vec![arr.len() - 1]
    } else {
        for &i in &matched {
            let Some(element) = arr.get_mut(i) else { continue };
            match (sub, mode) {
                (Some(sub), _) => {
                    if let Some(obj) = element.as_object_mut() {
                        set_key(obj, sub, value.clone());
                    }
                }
                (None, Mode::Replace) => *element = value.clone(),
                (None, Mode::Add) => merge_into(element, value.clone()),
            }
        }
        matched
    };
    fix_primary(&mut arr, &written);
    container.insert(key.to_owned(), Value::Array(arr));
    Ok(created)
}

/// For a filter made only of `eq` comparisons on sub-attributes joined by `and` (`type eq "work"`), the element those
/// comparisons describe.
fn element_from_filter(target: &Target, filter: &Filter) -> Option<Object> {
    fn collect(filter: &Filter, parent: &str, out: &mut Object) -> bool {
        match filter {
            Filter::Compare { path, op: CompareOp::Eq, value }
                if !value.is_null() && !value.is_array() && !value.is_object() =>
            {
                let name = match &path.sub {
                    None => path.name.as_str(),
                    Some(s) if path.name.eq_ignore_ascii_case(parent) => s.as_str(),
                    Some(_) => return false,
                };
                set_key(out, name, value.clone());
                true
            }
            Filter::And(a, b) => collect(a, parent, out) && collect(b, parent, out),
            _ => false,
        }
    }
    let complex = target.info.is_some_and(|i| i.attr_type == AttrType::Complex && i.multi_valued);
    if !complex {
        return None;
    }
    let mut element = Map::new();
    collect(filter, &target.name, &mut element).then_some(element)
}

// ---------------------------------------------------------------------------------------------------------------------
// remove

fn remove_target(ctx: &mut Ctx<'_>, doc: &mut Object, target: &Target, filter: Option<&Filter>, value: Option<&Value>) {
    let rules = ctx.rules;
    let Some(container) = container_mut(doc, &target.scope, false) else {
        return;
    };
    let Some(key) = find_key(container, &target.name) else {
        return;
    };
    match (filter, &target.sub) {
        (None, None) => {
            let multi = target.multi(container.get(&key));
            match value {
                Some(v) if multi && !v.is_null() => {
                    ctx.tolerate(Tolerance::RemoveByValueList);
                    remove_listed(container, &key, v);
                }
                _ => {
                    container.remove(&key);
                }
            }
        }
        (None, Some(sub)) => match container.get_mut(&key) {
            Some(Value::Array(arr)) => {
                for element in arr.iter_mut() {
                    remove_key(element, sub);
                }
            }
            Some(element) => remove_key(element, sub),
            None => {}
        },
        (Some(filter), sub) => {
            let parent = target.parent_path();
            if let Some(Value::Array(arr)) = container.get_mut(&key) {
                match sub {
                    None => arr.retain(|e| !filter.matches_element(e, &parent, rules)),
                    Some(sub) => {
                        for element in arr.iter_mut() {
                            if filter.matches_element(element, &parent, rules) {
                                remove_key(element, sub);
                            }
                        }
                    }
                }
            }
        }
    }
    tidy(container, &key);
    tidy_scope(doc, &target.scope);
}

/// Entra's `{"op":"remove","path":"members","value":[{"value":"u1"}]}`: remove the elements whose `value` equals one
/// listed (or, for an item without `value`, elements equal to it).
fn remove_listed(container: &mut Object, key: &str, listed: &Value) {
    let items: Vec<&Value> = match listed {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let Some(Value::Array(arr)) = container.get_mut(key) else {
        return;
    };
    arr.retain(|element| {
        !items.iter().any(|item| {
            let wanted = match item {
                Value::Object(o) => get_ci(o, "value"),
                other if element.is_object() => Some(*other),
                _ => None,
            };
            match (wanted, element.as_object()) {
                (Some(w), Some(obj)) => get_ci(obj, "value") == Some(w),
                _ => *item == element,
            }
        })
    });
}

// ---------------------------------------------------------------------------------------------------------------------
// Values: type checks and normalisation

#[derive(Clone, Copy)]
enum Shape {
    /// The whole attribute (an array for multi-valued ones).
    Whole,
    /// One element of a multi-valued attribute.
    Element,
    /// A sub-attribute of the target.
    Sub,
}

fn normalize(ctx: &mut Ctx<'_>, target: &Target, value: &Value, shape: Shape) -> Result<Value, PatchError> {
    let mut value = value.clone();
    if target.is_manager() && !matches!(shape, Shape::Sub) {
        match &value {
            Value::String(s) if s.trim().is_empty() => return Ok(Value::Null),
            Value::String(s) => {
                ctx.tolerate(Tolerance::BareManagerId);
                let mut m = Map::new();
                m.insert("value".to_owned(), Value::String(s.clone()));
                value = Value::Object(m);
            }
            Value::Object(o) => {
                let empty = match get_ci(o, "value") {
                    Some(Value::Null) => true,
                    Some(Value::String(s)) => s.trim().is_empty(),
                    _ => false,
                };
                if empty {
                    return Ok(Value::Null);
                }
            }
            _ => {}
        }
    }
    let label = target.label();
    match shape {
        Shape::Sub => match target.sub_info {
            Some(info) => check_value(ctx, &target.scope, &target.name, &label, info, value),
            None => Ok(value),
        },
        Shape::Element => match target.info {
            Some(info) => {
                let element = AttrInfo { multi_valued: false, ..info };
                check_value(ctx, &target.scope, &target.name, &label, element, value)
            }
            None => Ok(value),
        },
        Shape::Whole => match target.info {
            Some(info) => check_value(ctx, &target.scope, &target.name, &label, info, value),
            None => Ok(value),
        },
    }
}

/// Checks `value` against `info` and returns it normalised (Boolean strings as bools, a single element of a
/// multi-valued attribute wrapped in an array, readOnly sub-attributes dropped). `attr` is the attribute whose
/// sub-attributes a complex value may hold.
fn check_value(
    ctx: &mut Ctx<'_>,
    scope: &Scope,
    attr: &str,
    label: &str,
    info: AttrInfo,
    value: Value,
) -> Result<Value, PatchError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let single = AttrInfo { multi_valued: false, ..info };
    if info.multi_valued {
        let items = match value {
            Value::Array(items) => items,
            other => {
                ctx.tolerate(Tolerance::SingleValueForMultiValued);
                vec![other]
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if item.is_null() {
                continue;
            }
            out.push(check_single(ctx, scope, attr, label, single, item)?);
        }
        return Ok(Value::Array(out));
    }
    if value.is_array() {
        return Err(PatchError::InvalidValue(format!(
            "\"{label}\" is single-valued and expects {}, but the value is an array",
            expected(info.attr_type)
        )));
    }
    check_single(ctx, scope, attr, label, single, value)
}

fn check_single(
    ctx: &mut Ctx<'_>,
    scope: &Scope,
    attr: &str,
    label: &str,
    info: AttrInfo,
    value: Value,
) -> Result<Value, PatchError> {
    let mismatch = |value: &Value| {
        PatchError::InvalidValue(format!(
            "\"{label}\" expects {}, but the value is {}",
            expected(info.attr_type),
            describe(value)
        ))
    };
    match info.attr_type {
        AttrType::String | AttrType::DateTime | AttrType::Binary | AttrType::Reference => {
            if value.is_string() {
                Ok(value)
            } else {
                Err(mismatch(&value))
            }
        }
        AttrType::Boolean => match &value {
            Value::Bool(_) => Ok(value),
            Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                ctx.tolerate(Tolerance::BooleanAsString);
                Ok(Value::Bool(s.eq_ignore_ascii_case("true")))
            }
            _ => Err(mismatch(&value)),
        },
        AttrType::Integer => match &value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(value),
            _ => Err(mismatch(&value)),
        },
        AttrType::Decimal => match &value {
            Value::Number(_) => Ok(value),
            _ => Err(mismatch(&value)),
        },
        AttrType::Complex => {
            let Value::Object(obj) = value else {
                return Err(mismatch(&value));
            };
            let mut out = Map::new();
            for (k, v) in obj {
                let Some(sub_info) = ctx.lookup(scope, attr, Some(&k)) else {
                    return Err(PatchError::InvalidValue(format!("\"{k}\" is not a sub-attribute of \"{label}\"")));
                };
                if sub_info.mutability == Mutability::ReadOnly {
                    ctx.tolerate(Tolerance::ReadOnlyValueIgnored);
                    continue;
                }
                let sub_label = format!("{label}.{k}");
                let v = check_value(ctx, scope, attr, &sub_label, sub_info, v)?;
                out.insert(k, v);
            }
            Ok(Value::Object(out))
        }
    }
}

fn expected(t: AttrType) -> &'static str {
    match t {
        AttrType::String => "a string",
        AttrType::Boolean => "a boolean (true or false)",
        AttrType::Decimal => "a number",
        AttrType::Integer => "an integer",
        AttrType::DateTime => "a date-time string",
        AttrType::Binary => "a base64 string",
        AttrType::Reference => "a reference (URI string)",
        AttrType::Complex => "an object of sub-attributes",
    }
}

// ---------------------------------------------------------------------------------------------------------------------
// JSON helpers

/// The existing key equal to `name` (exactly, else ignoring ASCII case).
fn find_key(map: &Object, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The key to write `name` under: the existing one in whatever case, else `name` as given.
fn key_in(map: &Object, name: &str) -> String {
    find_key(map, name).unwrap_or_else(|| name.to_owned())
}

fn get_ci<'a>(map: &'a Object, name: &str) -> Option<&'a Value> {
    map.get(&find_key(map, name)?)
}

/// Sets `map[name]` (matching the key case-insensitively); null removes it.
fn set_key(map: &mut Object, name: &str, value: Value) {
    let k = key_in(map, name);
    if value.is_null() {
        map.remove(&k);
    } else {
        map.insert(k, value);
    }
}

fn remove_key(element: &mut Value, name: &str) {
    if let Some(obj) = element.as_object_mut() {
        if let Some(k) = find_key(obj, name) {
            obj.remove(&k);
        }
    }
}

/// Merges an object's keys into `slot` (null removes a key); a non-object replaces `slot`.
fn merge_into(slot: &mut Value, new: Value) {
    match (slot.as_object_mut(), new) {
        (Some(existing), Value::Object(new)) => {
            for (k, v) in new {
                set_key(existing, &k, v);
            }
        }
        (_, new) => *slot = new,
    }
}

/// Removes and returns `container[key]` as an array (a lone non-null value becomes one element).
fn take_array(container: &mut Object, key: &str) -> Vec<Value> {
    match container.remove(key) {
        Some(Value::Array(a)) => a,
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// Is `new` the same element as `existing` for `add` (equal, or complex with the same `value` and no different
/// `type`)? Then it is merged instead of appended.
fn same_element(existing: &Value, new: &Value) -> bool {
    if existing == new {
        return true;
    }
    let (Some(e), Some(n)) = (existing.as_object(), new.as_object()) else {
        return false;
    };
    let (Some(ev), Some(nv)) = (get_ci(e, "value"), get_ci(n, "value")) else {
        return false;
    };
    if ev != nv {
        return false;
    }
    match (get_ci(e, "type"), get_ci(n, "type")) {
        (Some(Value::String(a)), Some(Value::String(b))) => a.eq_ignore_ascii_case(b),
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

fn is_primary(element: &Value) -> bool {
    element.as_object().and_then(|o| get_ci(o, "primary")).is_some_and(|p| *p == Value::Bool(true))
}

/// At most one element may have `primary: true`; the last written one wins, the others get `primary: false`.
fn fix_primary(arr: &mut [Value], written: &[usize]) {
    let primaries: Vec<usize> = arr.iter().enumerate().filter(|(_, e)| is_primary(e)).map(|(i, _)| i).collect();
    if primaries.len() < 2 {
        return;
    }
    let winner = written.iter().rev().copied().find(|i| primaries.contains(i)).or_else(|| primaries.last().copied());
    for i in primaries {
        if Some(i) != winner {
            if let Some(obj) = arr.get_mut(i).and_then(Value::as_object_mut) {
                set_key(obj, "primary", Value::Bool(false));
            }
        }
    }
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Unassigned is absent: drops nulls inside the attribute, empty elements, and the attribute itself when it ends up
/// null, `[]` or `{}`.
fn tidy(container: &mut Object, key: &str) {
    let Some(v) = container.get_mut(key) else {
        return;
    };
    match v {
        Value::Array(arr) => {
            for element in arr.iter_mut() {
                if let Value::Object(obj) = element {
                    obj.retain(|_, v| !v.is_null());
                }
            }
            arr.retain(|e| !is_empty_value(e));
        }
        Value::Object(obj) => obj.retain(|_, v| !is_empty_value(v)),
        _ => {}
    }
    if is_empty_value(v) {
        container.remove(key);
    }
}

/// Drops an extension's object once it is empty.
fn tidy_scope(doc: &mut Object, scope: &Scope) {
    if let Scope::Ext { urn, .. } = scope {
        if let Some(k) = find_key(doc, urn) {
            tidy(doc, &k);
        }
    }
}

/// The object holding the scope's attributes: the document itself, or the object under the extension URN (created
/// when `create`).
fn container_mut<'d>(doc: &'d mut Object, scope: &Scope, create: bool) -> Option<&'d mut Object> {
    match scope {
        Scope::Core => Some(doc),
        Scope::Ext { urn, .. } => {
            let key = match find_key(doc, urn) {
                Some(k) => k,
                None if create => urn.clone(),
                None => return None,
            };
            let slot = doc.entry(key).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                if !create {
                    return None;
                }
                *slot = Value::Object(Map::new());
            }
            slot.as_object_mut()
        }
    }
}
