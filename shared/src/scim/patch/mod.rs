//! SCIM 2.0 PATCH (RFC 7644 §3.5.2): parsing of the `PatchOp` message and its atomic application to one resource's
//! SCIM JSON document.
//!
//! * [`parse_patch`] checks the message (`schemas`, `Operations`, each operation's `op`, `path` and `value`) and parses
//!   every `path` with the filter grammar.
//! * [`apply_patch`] applies the operations in order to a clone of the document and only replaces the caller's document
//!   when all of them succeeded.
//!
//! Real identity providers (Entra ID, Okta, …) send bodies that bend the RFC. Each bend this crate accepts is a
//! [`Tolerance`]; the ones that were needed for a request are reported so the host can name them in its request log.
//!
//! Everything this crate knows about schemas comes from the host's [`AttributeRules`](filter::AttributeRules). Paths into this crate's
//! siblings go through `super::`/`self::` only, and the filter crate is reached through the one alias `filter` below,
//! so the files can become a module of a bigger crate by changing that one `use` line.
//!
//! # What the host must know
//!
//! * `AttributeRules::attribute(None, ..)` must answer for core attributes; extension attributes are asked with the
//!   extension URN as the rules spell it. Sub-attributes of known complex attributes must all be listed: an unknown
//!   one in a path is `invalidPath`, inside a value `invalidValue`. Unknown attributes under a known extension, and
//!   objects under unknown `urn:` keys, are stored as sent.
//! * `schemas` is handled here (add merges, replace must keep the core URN, remove is refused). When a patch makes a
//!   known extension's object appear or disappear, its URN is added to / dropped from the document's `schemas`.
//! * readOnly attributes are refused, except a no-path value repeating the stored value (Okta's `id`); readOnly
//!   sub-attributes inside values are dropped. `meta` is not touched here: the host bumps `lastModified`/`version`
//!   after a successful [`apply_patch`]. Required attributes (e.g. `userName`) are not enforced: check the result.
//! * writeOnly values (`password`) are written into the document as sent; hash/strip them after applying.
//! * Errors are all HTTP 400 with [`PatchError::scim_type`] and the `Display` text as `detail`.

pub(crate) use super::filter;

mod apply;
mod error;
mod model;
mod parse;

#[cfg(test)]
mod tests;

pub use self::apply::apply_patch;
pub use self::error::PatchError;
pub use self::model::{PatchOp, PatchOpKind, PatchRequest, Tolerance};
pub use self::parse::parse_patch;

pub use super::PATCH_OP_SCHEMA;

pub use super::schema::ENTERPRISE_USER_SCHEMA;
