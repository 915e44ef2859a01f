//! PATCH errors, each one of RFC 7644 §3.12's `scimType` values (all are HTTP 400).

/// Why a PATCH request was refused. The `Display` text is a human sentence meant for the SCIM error's `detail`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PatchError {
    /// The message structure is wrong (`schemas`, `Operations`, `op`).
    #[error("{0}")]
    InvalidSyntax(String),
    /// A `path` is malformed or names an attribute the resource type does not have.
    #[error("{0}")]
    InvalidPath(String),
    /// The operation has no target: `remove` without `path`, or a value filter that matched nothing for `replace`.
    #[error("{0}")]
    NoTarget(String),
    /// A required `value` is missing or does not fit the attribute's type.
    #[error("{0}")]
    InvalidValue(String),
    /// The operation would change a readOnly or already-set immutable attribute, or remove `schemas`.
    #[error("{0}")]
    Mutability(String),
    /// A value filter refers to something the attribute does not have.
    #[error("{0}")]
    InvalidFilter(String),
}

impl PatchError {
    /// The RFC 7644 `scimType` for the error response.
    pub fn scim_type(&self) -> &'static str {
        match self {
            PatchError::InvalidSyntax(_) => "invalidSyntax",
            PatchError::InvalidPath(_) => "invalidPath",
            PatchError::NoTarget(_) => "noTarget",
            PatchError::InvalidValue(_) => "invalidValue",
            PatchError::Mutability(_) => "mutability",
            PatchError::InvalidFilter(_) => "invalidFilter",
        }
    }

    /// The HTTP status of the error response (every PATCH error of RFC 7644 is a 400).
    pub fn status(&self) -> u16 {
        400
    }

    /// The human sentence (same as `Display`).
    pub fn detail(&self) -> &str {
        match self {
            PatchError::InvalidSyntax(m)
            | PatchError::InvalidPath(m)
            | PatchError::NoTarget(m)
            | PatchError::InvalidValue(m)
            | PatchError::Mutability(m)
            | PatchError::InvalidFilter(m) => m,
        }
    }

    /// Same kind, message prefixed with `prefix` (e.g. `Operations[2]: `).
    pub(crate) fn prefixed(self, prefix: &str) -> PatchError {
        let wrap = |m: String| format!("{prefix}{m}");
        match self {
            PatchError::InvalidSyntax(m) => PatchError::InvalidSyntax(wrap(m)),
            PatchError::InvalidPath(m) => PatchError::InvalidPath(wrap(m)),
            PatchError::NoTarget(m) => PatchError::NoTarget(wrap(m)),
            PatchError::InvalidValue(m) => PatchError::InvalidValue(wrap(m)),
            PatchError::Mutability(m) => PatchError::Mutability(wrap(m)),
            PatchError::InvalidFilter(m) => PatchError::InvalidFilter(wrap(m)),
        }
    }
}
