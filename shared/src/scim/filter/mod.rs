//! SCIM 2.0 filters (RFC 7644 §3.4.2.2), PATCH paths (RFC 7644 §3.5.2) and attribute paths.
//!
//! Parsing is a hand-written recursive descent over a small tokenizer; every error names the byte offset (0-based) and
//! what was expected. Matching is done against the resource's SCIM JSON document with the help of an [`AttributeRules`]
//! implementation supplied by the host.

mod datetime;
mod eval;
mod parser;

#[cfg(test)]
mod tests;

use std::fmt;

pub use super::rules::{AttrInfo, AttrType, AttributeRules, Mutability};

/// The longest filter, PATCH path or attribute path accepted, in bytes.
pub const MAX_INPUT_LEN: usize = 4096;
/// The deepest nesting of parentheses, `not (…)` and value filters accepted.
pub const MAX_DEPTH: usize = 64;

/// An attribute path: `[URI ":"] ATTRNAME ["." subAttr]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URN prefix as written (e.g. the Enterprise User URN), or None when the path is unqualified.
    pub schema: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// A comparison operator of RFC 7644 §3.4.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed SCIM filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// value is a JSON string, number, bool or null (compValue of RFC 7644)
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: serde_json::Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work" and primary eq true]`: path is the multi-valued (or complex) attribute, filter's paths are relative to one element.
    /// Entra's `emails[type eq "work"].value eq "x"` parses as `emails[type eq "work" and value eq "x"]`.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// A PATCH `path` (RFC 7644 §3.5.2): attrPath / valuePath [subAttr].
/// `emails[type eq "work"].value` → attr = emails (attr.sub None), value_filter Some, sub Some("value").
/// `name.givenName` → attr = {name, sub: Some(givenName)}, value_filter None, sub None.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub value_filter: Option<Filter>,
    pub sub: Option<String>,
}

/// Why a filter, PATCH path or attribute path could not be parsed.
///
/// Positions are 0-based byte offsets into the input. Every message is a complete sentence suitable for the `detail`
/// of a SCIM error response (scimType `invalidFilter` for filters, `invalidPath` for PATCH paths).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("the {what} is empty")]
    Empty { what: &'static str },
    #[error("the {what} is {len} bytes long, but at most {max} bytes are allowed")]
    TooLong { what: &'static str, len: usize, max: usize },
    #[error("the filter is nested more than {max} levels deep at position {position}")]
    TooDeep { max: usize, position: usize },
    #[error("unterminated string starting at position {position}: a closing '\"' is missing")]
    UnterminatedString { position: usize },
    #[error("invalid string at position {position}: {reason}")]
    InvalidString { position: usize, reason: String },
    #[error("invalid number '{text}' at position {position}")]
    InvalidNumber { text: String, position: usize },
    #[error("invalid attribute path '{text}' at position {position}: {reason}")]
    InvalidAttrPath { text: String, position: usize, reason: String },
    #[error("unknown comparison operator '{op}' after '{attr}' at position {position}; expected one of eq, ne, co, sw, ew, gt, ge, lt, le or pr")]
    UnknownOperator { op: String, attr: String, position: usize },
    #[error("expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after '{attr}' at position {position}, found {found}")]
    ExpectedOperator { attr: String, found: String, position: usize },
    #[error("expected a comparison value (a double-quoted string, a number, true, false or null) after '{op}' at position {position}, found {found}")]
    ExpectedValue { op: String, found: String, position: usize },
    #[error("expected '(' after 'not' at position {position}, found {found}")]
    ExpectedParenAfterNot { found: String, position: usize },
    #[error("the '(' at position {position} is never closed: expected ')' at position {end}, found {found}")]
    UnclosedParen { position: usize, end: usize, found: String },
    #[error("unmatched ')' at position {position}")]
    UnmatchedParen { position: usize },
    #[error("the '[' at position {position} is never closed: expected ']' at position {end}, found {found}")]
    UnclosedBracket { position: usize, end: usize, found: String },
    #[error("unmatched ']' at position {position}")]
    UnmatchedBracket { position: usize },
    #[error("nested value filter at position {position}: a '[' cannot appear inside the value filter opened at position {outer}")]
    NestedValueFilter { position: usize, outer: usize },
    #[error("expected {expected} at position {position}, found {found}")]
    Expected { expected: String, found: String, position: usize },
}

impl FilterError {
    /// The byte offset the error refers to, when there is one.
    pub fn position(&self) -> Option<usize> {
        match self {
            FilterError::Empty { .. } | FilterError::TooLong { .. } => None,
            FilterError::TooDeep { position, .. }
            | FilterError::UnterminatedString { position }
            | FilterError::InvalidString { position, .. }
            | FilterError::InvalidNumber { position, .. }
            | FilterError::InvalidAttrPath { position, .. }
            | FilterError::UnknownOperator { position, .. }
            | FilterError::ExpectedOperator { position, .. }
            | FilterError::ExpectedValue { position, .. }
            | FilterError::ExpectedParenAfterNot { position, .. }
            | FilterError::UnclosedParen { position, .. }
            | FilterError::UnmatchedParen { position }
            | FilterError::UnclosedBracket { position, .. }
            | FilterError::UnmatchedBracket { position }
            | FilterError::NestedValueFilter { position, .. }
            | FilterError::Expected { position, .. } => Some(*position),
        }
    }
}

/// Parses a SCIM filter (the `filter` query parameter or a search request's `filter`).
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    parser::parse_filter(input)
}

/// Parses a PATCH operation's `path` (RFC 7644 §3.5.2).
pub fn parse_path(input: &str) -> Result<PatchPath, FilterError> {
    parser::parse_path(input)
}

/// Parses one attribute path (`sortBy`, one entry of `attributes=` / `excludedAttributes=`).
pub fn parse_attr_path(input: &str) -> Result<AttrPath, FilterError> {
    parser::parse_attr_path(input)
}

/// Parses a comma-separated list of attribute paths (`attributes=userName,emails.value`). Blanks around commas are
/// ignored; an empty entry is an error. Positions in errors refer to the whole list.
pub fn parse_attr_path_list(input: &str) -> Result<Vec<AttrPath>, FilterError> {
    parser::parse_attr_path_list(input)
}

impl Filter {
    /// Does the whole resource document (SCIM JSON) match?
    pub fn matches(&self, resource: &serde_json::Value, rules: &dyn AttributeRules) -> bool {
        eval::matches(self, eval::Scope::Resource(resource), rules)
    }

    /// Does one element of the multi-valued attribute `parent` match (used for value filters in PATCH paths)?
    pub fn matches_element(&self, element: &serde_json::Value, parent: &AttrPath, rules: &dyn AttributeRules) -> bool {
        eval::matches(self, eval::Scope::Element { element, parent }, rules)
    }

    /// `Some((path, value))` when the filter is exactly `<attrPath> eq "<string>"` (the key-lookup fast path the store uses
    /// for userName/externalId/emails.value/displayName/id).
    pub fn as_string_equality(&self) -> Option<(&AttrPath, &str)> {
        match self {
            Filter::Compare { path, op: CompareOp::Eq, value: serde_json::Value::String(s) } => {
                Some((path, s.as_str()))
            }
            _ => None,
        }
    }

    /// Every `(path, value)` such that a resource can match the filter only if `path eq "value"` holds for it: the
    /// filter itself, a side of an `and`, or, inside a value filter on `attr`, a condition `sub eq "value"` on
    /// the elements (giving `attr.sub`). A store can answer the filter by a key lookup on one of them, as long as
    /// it re-checks the candidates against the whole filter.
    pub fn required_string_equalities(&self) -> Vec<(AttrPath, &str)> {
        let mut out = Vec::new();
        self.collect_required_equalities(&mut out);
        out
    }

    fn collect_required_equalities<'f>(&'f self, out: &mut Vec<(AttrPath, &'f str)>) {
        match self {
            Filter::Compare { path, op: CompareOp::Eq, value: serde_json::Value::String(s) } => {
                out.push((path.clone(), s.as_str()));
            }
            Filter::And(l, r) => {
                l.collect_required_equalities(out);
                r.collect_required_equalities(out);
            }
            Filter::ValuePath { path, filter } if path.sub.is_none() => {
                for (inner, value) in filter.required_string_equalities() {
                    // Element paths are relative and one level deep; anything else names no `attr.sub`.
                    if inner.schema.is_none() && inner.sub.is_none() {
                        let full =
                            AttrPath { schema: path.schema.clone(), name: path.name.clone(), sub: Some(inner.name) };
                        out.push((full, value));
                    }
                }
            }
            _ => {}
        }
    }
}

impl AttrPath {
    /// An unqualified path `name` or `name.sub`.
    pub fn new(name: impl Into<String>, sub: Option<&str>) -> Self {
        AttrPath { schema: None, name: name.into(), sub: sub.map(str::to_owned) }
    }

    /// True when this names the given core attribute (schema absent or the core URN), case-insensitive, e.g. path.is("userName", None).
    pub fn is(&self, rules: &dyn AttributeRules, name: &str, sub: Option<&str>) -> bool {
        self.is_core(rules)
            && self.name.eq_ignore_ascii_case(name)
            && match (&self.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }

    /// True when the path is unqualified or qualified with the core schema URN.
    pub fn is_core(&self, rules: &dyn AttributeRules) -> bool {
        match &self.schema {
            None => true,
            Some(s) => s.eq_ignore_ascii_case(rules.core_schema()),
        }
    }

    /// The extension schema URN (spelled as `rules` spells it) when the path is qualified with one of the resource
    /// type's extension schemas; None for core or unknown schemas.
    pub fn extension<'r>(&self, rules: &'r dyn AttributeRules) -> Option<&'r str> {
        let schema = self.schema.as_deref()?;
        rules.extension_schemas().iter().copied().find(|u| u.eq_ignore_ascii_case(schema))
    }

    /// When the whole path spells a schema URN rather than an attribute (a PATCH path such as
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User` parses as schema `…:2.0` + name `User`), the URN as
    /// `rules` spells it (an extension URN or the core URN).
    pub fn as_schema_urn<'r>(&self, rules: &'r dyn AttributeRules) -> Option<&'r str> {
        if self.sub.is_some() {
            return None;
        }
        let schema = self.schema.as_deref()?;
        let matches = |urn: &str| {
            urn.len() == schema.len() + 1 + self.name.len()
                && urn.is_char_boundary(schema.len())
                && urn[..schema.len()].eq_ignore_ascii_case(schema)
                && urn[schema.len()..].starts_with(':')
                && urn[schema.len() + 1..].eq_ignore_ascii_case(&self.name)
        };
        let core = rules.core_schema();
        if matches(core) {
            return Some(core);
        }
        rules.extension_schemas().iter().copied().find(|u| matches(u))
    }

    /// The characteristics of the attribute this path names, from `rules` (None when unknown).
    pub fn info(&self, rules: &dyn AttributeRules) -> Option<AttrInfo> {
        rules.attribute(self.schema.as_deref(), &self.name, self.sub.as_deref())
    }

    /// The value(s) this path selects in a resource document (flattening multi-valued attributes and their sub-attribute).
    pub fn values<'a>(
        &self,
        resource: &'a serde_json::Value,
        rules: &dyn AttributeRules,
    ) -> Vec<&'a serde_json::Value> {
        eval::path_values(self, resource, rules)
    }
}

impl CompareOp {
    /// The operator as written in a filter (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Parses an operator keyword, case-insensitively (`pr` is not a comparison operator).
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Renders the filter in SCIM syntax; parsing the output gives back an equal filter.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(l, r) => {
                write_operand(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                write_operand(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                write_operand(f, l, false)?;
                f.write_str(" or ")?;
                write_operand(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn write_operand(f: &mut fmt::Formatter<'_>, filter: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({filter})")
    } else {
        write!(f, "{filter}")
    }
}

/// Renders the PATCH path in SCIM syntax.
impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.value_filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}
