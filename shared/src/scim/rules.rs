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
}
