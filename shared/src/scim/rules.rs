//! Attribute characteristics (RFC 7643 §2.2) as the filter and PATCH code need them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrInfo {
    pub attr_type: AttrType,
    pub multi_valued: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
}

/// What the filter/PATCH code needs to know about a resource type's schemas.
pub trait AttributeRules {
    /// The resource's core schema URN, e.g. "urn:ietf:params:scim:schemas:core:2.0:User".
    fn core_schema(&self) -> &str;
    /// Extension schema URNs the resource type knows. Extension attributes live in the JSON
    /// document under a key equal to the URN.
    fn extension_schemas(&self) -> &[&str];
    /// Characteristics of an attribute. `schema` None or equal (case-insensitively) to
    /// `core_schema()` means the core schema. Names compare case-insensitively. None = unknown.
    fn attribute(&self, schema: Option<&str>, name: &str, sub: Option<&str>) -> Option<AttrInfo>;

    /// Whether the attribute is never returned (and so never kept in a document either). Every
    /// `writeOnly` attribute is; rules that know RFC 7643's `returned` add the `never` ones.
    fn never_returned(&self, schema: Option<&str>, name: &str, sub: Option<&str>) -> bool {
        self.attribute(schema, name, sub).is_some_and(|i| i.mutability == Mutability::WriteOnly)
    }

    /// Whether the attribute is required (RFC 7643 §2.2): PATCH may not remove or unassign it.
    fn required(&self, _schema: Option<&str>, _name: &str, _sub: Option<&str>) -> bool {
        false
    }
}

/// Whether an attribute may never appear in a document: `returned: never` (RFC 7643 §2.4), which
/// every `writeOnly` attribute is (§2.2). Rules that know `returned` say so through
/// [`AttributeRules::never_returned`]; the default judges by mutability alone.
fn hidden(rules: &dyn AttributeRules, schema: Option<&str>, name: &str, sub: Option<&str>) -> bool {
    rules.never_returned(schema, name, sub)
}

/// Removes from a resource document every attribute (and sub-attribute) that is never returned,
/// whatever its spelling: any letter case, at the top level or under its extension URN, or as a
/// URN-qualified key (`urn:…:core:2.0:User:password`) or dotted key (`name.x`) that a request or an
/// older stored document left there.
///
/// The one place where write-only attributes are kept out: the PATCH engine runs it after every
/// write (POST and PUT included, which are whole-resource replaces), and projection runs it
/// before every answer, so no path can store or return such a value (docs/ARCHITECTURE.md,
/// "Write-only attributes").
pub fn remove_never_returned(doc: &mut serde_json::Value, rules: &dyn AttributeRules) {
    let Some(map) = doc.as_object_mut() else { return };
    let core = rules.core_schema().to_owned();
    let extensions: Vec<String> = rules.extension_schemas().iter().map(|s| (*s).to_owned()).collect();
    map.retain(|key, value| {
        if let Some(urn) = extensions.iter().find(|u| u.eq_ignore_ascii_case(key)) {
            if let Some(inner) = value.as_object_mut() {
                inner.retain(|name, v| keep(rules, Some(urn), name, v));
            }
            return true;
        }
        // A URN-qualified key names its schema first: the longest known schema that prefixes it.
        let qualified = std::iter::once(&core).chain(&extensions).filter(|urn| {
            key.len() > urn.len() + 1
                && key.is_char_boundary(urn.len())
                && key[..urn.len()].eq_ignore_ascii_case(urn)
                && key[urn.len()..].starts_with(':')
        });
        match qualified.max_by_key(|urn| urn.len()) {
            Some(urn) => {
                let schema = (!urn.eq_ignore_ascii_case(&core)).then_some(urn.as_str());
                keep(rules, schema, &key[urn.len() + 1..], value)
            }
            None => keep(rules, None, key, value),
        }
    });
}

/// Whether `name` (possibly `name.sub`) may stay; strips never-returned sub-attributes of what stays.
fn keep(rules: &dyn AttributeRules, schema: Option<&str>, name: &str, value: &mut serde_json::Value) -> bool {
    let (name, sub) = match name.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (name, None),
    };
    if hidden(rules, schema, name, None) || sub.is_some_and(|s| hidden(rules, schema, name, Some(s))) {
        return false;
    }
    if sub.is_none() && rules.attribute(schema, name, None).is_some_and(|i| i.attr_type == AttrType::Complex) {
        let strip = |element: &mut serde_json::Value| {
            if let Some(obj) = element.as_object_mut() {
                obj.retain(|s, _| !hidden(rules, schema, name, Some(s)));
            }
        };
        match value {
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            other => strip(other),
        }
    }
    true
}
