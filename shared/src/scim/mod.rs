//! The SCIM 2.0 protocol (RFC 7643 / RFC 7644): errors, schemas, discovery documents, media types.
pub mod bulk;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod group;
pub mod list;
pub mod patch;
pub mod rules;
pub mod schema;
pub mod user;

pub use error::{ScimError, ScimType};

/// The SCIM media type; responses always carry it.
pub const SCIM_MEDIA_TYPE: &str = "application/scim+json";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// Largest request body accepted, advertised in ServiceProviderConfig (Lambda's own limit is 6 MB).
pub const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
/// Largest page a list request returns, advertised as `filter.maxResults`.
pub const MAX_RESULTS: usize = 200;
/// Page size when a list request gives no `count`.
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// How long a `nextCursor` stays usable (RFC 9865 `cursorTimeout`), in seconds.
pub const CURSOR_TIMEOUT_SECS: i64 = crate::lifetimes::CURSOR_TIMEOUT.num_seconds();

/// Longest value (in bytes) of an attribute that is also part of a key (uniqueness guards and
/// lookups): DynamoDB sort keys stop at 1 KiB.
pub const MAX_KEYED_VALUE_BYTES: usize = 512;

pub(crate) fn check_key_length(attribute: &str, value: &str) -> Result<(), ScimError> {
    if value.len() > MAX_KEYED_VALUE_BYTES {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("'{attribute}' is {} bytes long; at most {MAX_KEYED_VALUE_BYTES} are accepted.", value.len()),
        ));
    }
    Ok(())
}
