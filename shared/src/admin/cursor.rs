//! Opaque paging cursors: the sort key of the last item handed out (the rest of DynamoDB's
//! LastEvaluatedKey, the partition, is implied by the endpoint), base64url-encoded JSON.
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::AdminError;

const MAX_CURSOR_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "k")]
    pub after: String,
}

impl Cursor {
    pub fn encode(after: &str) -> String {
        let json = serde_json::json!({ "k": after }).to_string();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// The sort key a client's cursor continues after; anything else is `InvalidCursor`.
    pub fn decode(raw: &str) -> Result<String, AdminError> {
        if raw.len() > MAX_CURSOR_LEN {
            return Err(AdminError::InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')).map_err(|_| AdminError::InvalidCursor)?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| AdminError::InvalidCursor)?;
        if cursor.after.is_empty() || cursor.after.chars().any(char::is_control) {
            return Err(AdminError::InvalidCursor);
        }
        Ok(cursor.after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let sk = "2026-11-03T10:00:00.000000Z#abc";
        assert_eq!(Cursor::decode(&Cursor::encode(sk)).unwrap(), sk);
        for bad in ["", "!!!", "bm90IGpzb24", &URL_SAFE_NO_PAD.encode(r#"{"k":""}"#), &"a".repeat(2000)] {
            assert!(matches!(Cursor::decode(bad), Err(AdminError::InvalidCursor)), "{bad}");
        }
    }
}
