//! Console session tokens: random, shown once at sign-in, stored only as a keyed hash.
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

use super::AdminError;
use crate::auth::TokenKey;
use crate::store::SessionRecord;

/// Lets secret scanners recognise a leaked session token (SCIM tokens use `iscim_`).
const SESSION_PREFIX: &str = "isess_";
const SESSION_RANDOM_BYTES: usize = 32;

/// A session token as handed to the user or presented by them. `Debug` never shows it.
#[derive(Clone)]
pub struct SessionToken(String);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

impl SessionToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; SESSION_RANDOM_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{SESSION_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Parses an `Authorization: Bearer <token>` header value (scheme case-insensitive).
    pub fn from_authorization(header: Option<&str>) -> Result<Self, AdminError> {
        let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(AdminError::SessionMissing)?;
        let (scheme, token) = header.split_once(' ').ok_or(AdminError::SessionInvalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AdminError::SessionInvalid);
        }
        Self::parse(token.trim())
    }

    /// A token as presented bare (the console's session cookie holds one).
    pub fn parse(token: &str) -> Result<Self, AdminError> {
        let well_formed = token.starts_with(SESSION_PREFIX)
            && token.len() <= 128
            && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !well_formed {
            return Err(AdminError::SessionInvalid);
        }
        Ok(Self(token.to_owned()))
    }

    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// The keyed hash under which the session is stored.
    pub fn hash(&self, key: &TokenKey) -> String {
        key.hash(&self.0)
    }
}

/// The CSRF secret of a session, derived from its stored hash under the token key: the console
/// page must send it (`X-CSRF-Token`) with every state change made with the session cookie. A page
/// of another site can neither read it nor compute it (docs/ARCHITECTURE.md, "Console (web page)").
pub fn csrf_token(key: &TokenKey, token_hash: &str) -> String {
    key.hash(&format!("csrf:{token_hash}"))
}

/// Whether `presented` is the session's CSRF secret, compared in constant time.
pub fn csrf_matches(key: &TokenKey, token_hash: &str, presented: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = csrf_token(key, token_hash);
    expected.len() == presented.len() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// An authenticated console caller.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: String,
    pub record: SessionRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_redacted() {
        let a = SessionToken::generate();
        assert!(a.reveal().starts_with("isess_"));
        assert_ne!(a.reveal(), SessionToken::generate().reveal());
        assert_eq!(format!("{a:?}"), "SessionToken(<redacted>)");
        let key = TokenKey::new(&[3u8; 32]).unwrap();
        assert_eq!(a.hash(&key).len(), 64);
        assert!(!a.hash(&key).contains(a.reveal()));
    }

    #[test]
    fn csrf_secrets_are_per_session_and_checked_exactly() {
        let key = TokenKey::new(&[3u8; 32]).unwrap();
        let a = SessionToken::generate().hash(&key);
        let b = SessionToken::generate().hash(&key);
        let secret = csrf_token(&key, &a);
        assert_eq!(secret.len(), 64);
        assert_ne!(secret, csrf_token(&key, &b));
        assert!(csrf_matches(&key, &a, &secret));
        assert!(!csrf_matches(&key, &b, &secret));
        assert!(!csrf_matches(&key, &a, &secret[..63]));
        assert!(!csrf_matches(&key, &a, ""));
        let other_key = TokenKey::new(&[4u8; 32]).unwrap();
        assert!(!csrf_matches(&other_key, &a, &secret));
    }

    #[test]
    fn headers_parse_or_name_the_problem() {
        let token = SessionToken::generate();
        let parsed = SessionToken::from_authorization(Some(&format!("bearer {}", token.reveal()))).unwrap();
        assert_eq!(parsed.reveal(), token.reveal());
        assert!(matches!(SessionToken::from_authorization(None), Err(AdminError::SessionMissing)));
        for bad in ["Basic abc", "Bearer iscim_abc", "Bearer isess_a b", "isess_abc"] {
            assert!(matches!(SessionToken::from_authorization(Some(bad)), Err(AdminError::SessionInvalid)), "{bad}");
        }
    }
}
