//! The parsed PATCH request and the list of tolerated deviations from RFC 7644.

use std::fmt;

use serde_json::Value;

use super::filter::PatchPath;

/// The three PATCH operations of RFC 7644 §3.5.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Remove,
    Replace,
}

impl PatchOpKind {
    /// The operation as the RFC spells it (lower case).
    pub fn as_str(&self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }
}

impl fmt::Display for PatchOpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `Operations`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: PatchOpKind,
    /// The parsed `path`; None when the operation has none (or an empty one, see [`Tolerance::EmptyPath`]).
    pub path: Option<PatchPath>,
    /// `path` exactly as sent, for messages and logs.
    pub raw_path: Option<String>,
    /// `value` as sent; None when absent. Present-but-null is `Some(Value::Null)`.
    pub value: Option<Value>,
}

/// Non-standard input accepted from real IdPs; each applied one is reported so the host can name it in the request log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tolerance {
    /// `"op": "Replace"`, `"Add"`, `"REMOVE"` (Entra).
    CapitalisedOp,
    /// `"False"` / `"true"` (any case) for a Boolean attribute or sub-attribute, stored as a JSON bool (Entra).
    BooleanAsString,
    /// A no-path value object with keys like `"name.givenName"` or
    /// `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"` (Entra).
    DottedKeyInValue,
    /// The Enterprise User `manager` given as a bare id string instead of `{"value": id}` (Entra).
    BareManagerId,
    /// `emails[type eq "work"].value` (a value filter made only of `eq` comparisons) matched no element, so one was
    /// created from the filter's comparisons and the value (Entra).
    ValueFilterCreatedElement,
    /// `{"op":"remove","path":"members","value":[{"value":"id"}]}`: only the listed elements are removed, not the whole
    /// attribute (Entra).
    RemoveByValueList,
    /// PatchOp message member names in another case: `"operations"`, `"Op"`, `"Path"`, `"Value"`, `"Schemas"`.
    MessageKeyCase,
    /// `"path": ""` (or blanks) treated as if `path` were omitted.
    EmptyPath,
    /// A single element given for a multi-valued attribute (`"emails": {"value": "a@b"}`); it was wrapped in an array.
    SingleValueForMultiValued,
    /// A readOnly attribute in a no-path value whose value equals the stored one (Okta sends the resource's own `id`), or a
    /// readOnly sub-attribute inside a value (e.g. the manager's `displayName`): it was ignored.
    ReadOnlyValueIgnored,
}

impl Tolerance {
    /// Every tolerance, in declaration order.
    pub const ALL: [Tolerance; 10] = [
        Tolerance::CapitalisedOp,
        Tolerance::BooleanAsString,
        Tolerance::DottedKeyInValue,
        Tolerance::BareManagerId,
        Tolerance::ValueFilterCreatedElement,
        Tolerance::RemoveByValueList,
        Tolerance::MessageKeyCase,
        Tolerance::EmptyPath,
        Tolerance::SingleValueForMultiValued,
        Tolerance::ReadOnlyValueIgnored,
    ];

    /// Stable snake_case name for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Tolerance::CapitalisedOp => "capitalised_op",
            Tolerance::BooleanAsString => "boolean_as_string",
            Tolerance::DottedKeyInValue => "dotted_key_in_value",
            Tolerance::BareManagerId => "bare_manager_id",
            Tolerance::ValueFilterCreatedElement => "value_filter_created_element",
            Tolerance::RemoveByValueList => "remove_by_value_list",
            Tolerance::MessageKeyCase => "message_key_case",
            Tolerance::EmptyPath => "empty_path",
            Tolerance::SingleValueForMultiValued => "single_value_for_multi_valued",
            Tolerance::ReadOnlyValueIgnored => "read_only_value_ignored",
        }
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialises as its [`Tolerance::as_str`] name.
impl serde::Serialize for Tolerance {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A checked PatchOp message.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOp>,
    /// Tolerances needed to read the message itself (op spelling, member-name case, empty path). [`super::apply_patch`]
    /// reports these too, together with the ones it needed.
    pub tolerances: Vec<Tolerance>,
}

/// Pushes `t` unless already listed.
pub(crate) fn note(list: &mut Vec<Tolerance>, t: Tolerance) {
    if !list.contains(&t) {
        list.push(t);
    }
}
