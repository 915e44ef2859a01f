//! RFC 9865 cursors: opaque, tamper-evident, bound to the organization and the query, with an
//! expiry (docs/ARCHITECTURE.md, "Paging").
//!
//! A cursor is `base64url(payload) "." mac`, the payload `v1`, the organization, the query's
//! fingerprint, the id the next page continues after, the 1-based index of its first resource and
//! the expiry (Unix seconds), one per line; the mac is the first 128 bits of HMAC-SHA256 under the
//! token key of `cursor:` and the payload. Nothing is stored: a cursor costs no read.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};

use crate::auth::TokenKey;
use crate::domain::OrgId;
use crate::scim::{ScimError, ScimType, CURSOR_TIMEOUT_SECS};

const VERSION: &str = "v1";
/// Hex digits of the mac kept in a cursor (128 bits).
const MAC_HEX: usize = 32;

/// Where a cursor page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorPosition {
    /// The id the page continues after.
    pub after: String,
    /// The 1-based index of the page's first resource.
    pub index: usize,
}

fn mac(key: &TokenKey, payload: &str) -> String {
    key.hash(&format!("cursor:{payload}")).chars().take(MAC_HEX).collect()
}

/// Equal strings, compared in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The cursor naming `position` of the query `fingerprint` in `org`, valid for `cursorTimeout`.
pub fn encode(key: &TokenKey, org: &OrgId, fingerprint: &str, position: &CursorPosition, now: DateTime<Utc>) -> String {
    let expires = now.timestamp() + CURSOR_TIMEOUT_SECS;
    let payload = format!("{VERSION}\n{org}\n{fingerprint}\n{}\n{}\n{expires}", position.after, position.index);
    format!("{}.{}", URL_SAFE_NO_PAD.encode(payload.as_bytes()), mac(key, &payload))
}

fn invalid() -> ScimError {
    ScimError::bad_request(
        ScimType::InvalidCursor,
        "The cursor is not one this service issued for this organization and query; start again without a cursor value.",
    )
}

/// The position a cursor names: 400 `invalidCursor` unless this service issued it for this
/// organization and query, 400 `expiredCursor` past its `cursorTimeout`.
pub fn decode(
    key: &TokenKey,
    org: &OrgId,
    fingerprint: &str,
    cursor: &str,
    now: DateTime<Utc>,
) -> Result<CursorPosition, ScimError> {
    let (encoded, presented_mac) = cursor.split_once('.').ok_or_else(invalid)?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| invalid())?;
    let payload = String::from_utf8(bytes).map_err(|_| invalid())?;
    if !same(&mac(key, &payload), presented_mac) {
        return Err(invalid());
    }
    let fields: Vec<&str> = payload.split('\n').collect();
    let [version, cursor_org, cursor_fingerprint, after, index, expires] = fields.as_slice() else {
        return Err(invalid());
    };
    if *version != VERSION || *cursor_org != org.as_str() || *cursor_fingerprint != fingerprint {
        return Err(invalid());
    }
    let index: usize = index.parse().map_err(|_| invalid())?;
    let expires: i64 = expires.parse().map_err(|_| invalid())?;
    if now.timestamp() > expires {
        return Err(ScimError::bad_request(
            ScimType::ExpiredCursor,
            format!("The cursor expired (cursors last {CURSOR_TIMEOUT_SECS} s); start again without a cursor value."),
        ));
    }
    Ok(CursorPosition { after: (*after).to_owned(), index })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> TokenKey {
        TokenKey::new(&[byte; 32]).unwrap()
    }

    fn org(id: &str) -> OrgId {
        OrgId::parse(id).unwrap()
    }

    #[test]
    fn a_cursor_names_its_position_until_it_expires() {
        let now = Utc::now();
        let position = CursorPosition { after: "u-42".into(), index: 101 };
        let cursor = encode(&key(1), &org("acme"), "USERS", &position, now);
        assert_eq!(decode(&key(1), &org("acme"), "USERS", &cursor, now).unwrap(), position);
        let later = now + chrono::Duration::seconds(CURSOR_TIMEOUT_SECS + 1);
        let expired = decode(&key(1), &org("acme"), "USERS", &cursor, later).unwrap_err();
        assert_eq!(expired.scim_type, Some(ScimType::ExpiredCursor));
    }

    #[test]
    fn a_cursor_of_another_key_organization_or_query_or_a_changed_one_is_invalid() {
        let now = Utc::now();
        let position = CursorPosition { after: "u-42".into(), index: 101 };
        let cursor = encode(&key(1), &org("acme"), "USERS", &position, now);
        let (payload, mac) = cursor.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD
            .encode(String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap().replace("u-42", "u-43"));
        for (key, org_id, fingerprint, text) in [
            (key(2), "acme", "USERS", cursor.clone()),
            (key(1), "other", "USERS", cursor.clone()),
            (key(1), "acme", "GROUP#t1", cursor.clone()),
            (key(1), "acme", "USERS", format!("{forged_payload}.{mac}")),
            (key(1), "acme", "USERS", "garbage".to_owned()),
            (key(1), "acme", "USERS", "!!!.abc".to_owned()),
        ] {
            let err = decode(&key, &org(org_id), fingerprint, &text, now).unwrap_err();
            assert_eq!(err.scim_type, Some(ScimType::InvalidCursor), "{org_id} {fingerprint} {text}");
        }
    }
}
