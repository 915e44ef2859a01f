use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::AuthorizedOrg;
use crate::domain::{OrgId, ScimSettings};

/// Prefix of every SCIM token: lets secret scanners recognise a leaked token.
const TOKEN_PREFIX: &str = "iscim_";
const TOKEN_RANDOM_BYTES: usize = 32;

/// Why a SCIM request was not authenticated. All of them answer 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("An Authorization header with a Bearer token is required.")]
    MissingToken,
    #[error("The Authorization header must have the form 'Bearer <token>'.")]
    MalformedHeader,
    /// Unknown organization, SCIM disabled, or a token that is not this organization's current one.
    /// One answer for all three, so the response does not tell which organizations exist.
    #[error("The bearer token is not valid for this organization's SCIM connector.")]
    InvalidToken,
    #[error(
        "The SCIM token has expired, so provisioning has stopped. An organization owner must refresh the token \
         in Enterprise Controls > SCIM (with their passphrase) and update it in the identity provider."
    )]
    ExpiredToken,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenKeyError {
    #[error("the token hashing key must be at least 32 bytes")]
    TooShort,
}

/// The secret key (from Secrets Manager) under which token hashes are computed. A database dump
/// alone therefore cannot be used to test guessed tokens.
#[derive(Clone)]
pub struct TokenKey(Vec<u8>);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(<redacted>)")
    }
}

impl TokenKey {
    pub fn new(secret: &[u8]) -> Result<Self, TokenKeyError> {
        if secret.len() < 32 {
            return Err(TokenKeyError::TooShort);
        }
        Ok(Self(secret.to_vec()))
    }

    /// A fresh random key, as `scimctl bootstrap` stores it in the secret.
    pub fn generate_secret_string() -> String {
        let mut bytes = [0u8; 48];
        rand::rng().fill_bytes(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn hash(&self, token: &str) -> String {
        // HMAC accepts keys of any length; the error branch cannot happen.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(token.as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The fair-use bucket of a presented token: a prefix of its keyed hash, so a wrong token
    /// counts in a bucket of its own, never in the organization's (docs/ARCHITECTURE.md, "Fair use").
    pub fn bucket(&self, presented: &PresentedToken) -> String {
        self.hash(&presented.0).chars().take(16).collect()
    }

    /// Generates a new token. The caller stores only `hash` and shows the token once.
    pub fn issue(&self) -> (IssuedToken, String) {
        let mut bytes = [0u8; TOKEN_RANDOM_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = self.hash(&token);
        (IssuedToken(token), hash)
    }

    /// Checks a presented token against `org`'s SCIM settings: on success, the organization's
    /// data is the caller's to touch.
    pub fn authorize(
        &self,
        org: &OrgId,
        settings: Option<&ScimSettings>,
        presented: &PresentedToken,
        now: DateTime<Utc>,
    ) -> Result<AuthorizedOrg, AuthError> {
        let settings = settings.filter(|s| s.enabled).ok_or(AuthError::InvalidToken)?;
        let presented_hash = self.hash(&presented.0);
        let matches: bool = presented_hash.as_bytes().ct_eq(settings.token_hash.as_bytes()).into();
        if !matches {
            return Err(AuthError::InvalidToken);
        }
        // Expiry is told only to a caller holding the right token.
        if settings.is_expired(now) {
            return Err(AuthError::ExpiredToken);
        }
        Ok(AuthorizedOrg::checked(org.clone()))
    }
}

/// A freshly issued token: shown to the admin exactly once, never logged (Debug is redacted).
pub struct IssuedToken(String);

impl IssuedToken {
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssuedToken(<redacted>)")
    }
}

/// The bearer token a caller presented (Debug is redacted).
#[derive(Clone)]
pub struct PresentedToken(String);

impl fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresentedToken(<redacted>)")
    }
}

impl PresentedToken {
    /// Parses an `Authorization` header value. The scheme is case-insensitive (RFC 7235).
    pub fn from_authorization(header: Option<&str>) -> Result<Self, AuthError> {
        let header = header.map(str::trim).filter(|h| !h.is_empty()).ok_or(AuthError::MissingToken)?;
        let (scheme, token) = header.split_once(' ').ok_or(AuthError::MalformedHeader)?;
        let token = token.trim();
        let token_ok = !token.is_empty() && token.len() <= 512 && token.bytes().all(|b| b.is_ascii_graphic());
        if !scheme.eq_ignore_ascii_case("bearer") || !token_ok {
            return Err(AuthError::MalformedHeader);
        }
        Ok(Self(token.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IdentityProvider, TokenWindow};
    use chrono::Duration;

    fn key() -> TokenKey {
        TokenKey::new(&[7u8; 32]).unwrap()
    }

    fn org() -> OrgId {
        OrgId::parse("acme").unwrap()
    }

    fn settings(hash: String, expires: Option<DateTime<Utc>>) -> ScimSettings {
        ScimSettings {
            enabled: true,
            idp: IdentityProvider::Azure,
            token_hash: hash,
            token_window: TokenWindow::Days30,
            token_created_at: Utc::now(),
            token_expires_at: expires,
            version: 1,
            last_auto_refresh_at: None,
            last_refresh_failure: None,
            notices_sent: Vec::new(),
        }
    }

    #[test]
    fn issued_tokens_are_unique_prefixed_and_verify() {
        let key = key();
        let (a, hash_a) = key.issue();
        let (b, _) = key.issue();
        assert!(a.reveal().starts_with("iscim_"));
        assert_ne!(a.reveal(), b.reveal());
        assert_eq!(hash_a.len(), 64);
        assert!(!hash_a.contains(a.reveal()));
        let now = Utc::now();
        let s = settings(hash_a, Some(now + Duration::days(1)));
        let presented = PresentedToken::from_authorization(Some(&format!("Bearer {}", a.reveal()))).unwrap();
        assert_eq!(key.authorize(&org(), Some(&s), &presented, now).map(|_| ()), Ok(()));
        let other = PresentedToken::from_authorization(Some(&format!("bearer {}", b.reveal()))).unwrap();
        assert_eq!(key.authorize(&org(), Some(&s), &other, now).map(|_| ()), Err(AuthError::InvalidToken));
        assert_eq!(key.authorize(&org(), None, &presented, now).map(|_| ()), Err(AuthError::InvalidToken));
        assert_eq!(
            key.authorize(&org(), Some(&s), &presented, now + Duration::days(2)).map(|_| ()),
            Err(AuthError::ExpiredToken)
        );
        let disabled = ScimSettings { enabled: false, ..s };
        assert_eq!(key.authorize(&org(), Some(&disabled), &presented, now).map(|_| ()), Err(AuthError::InvalidToken));
    }

    #[test]
    fn a_different_key_gives_a_different_hash() {
        let other = TokenKey::new(&[8u8; 32]).unwrap();
        assert_ne!(key().hash("iscim_x"), other.hash("iscim_x"));
        assert!(TokenKey::new(b"short").is_err());
    }

    #[test]
    fn header_parsing() {
        assert_eq!(PresentedToken::from_authorization(None).unwrap_err(), AuthError::MissingToken);
        assert_eq!(PresentedToken::from_authorization(Some("  ")).unwrap_err(), AuthError::MissingToken);
        for bad in ["Basic abc", "Bearer", "Bearer ", "Token abc", "abc", "Bearer a b"] {
            assert_eq!(PresentedToken::from_authorization(Some(bad)).unwrap_err(), AuthError::MalformedHeader, "{bad}");
        }
        assert!(PresentedToken::from_authorization(Some("BEARER abc")).is_ok());
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let (token, _) = key().issue();
        assert_eq!(format!("{token:?}"), "IssuedToken(<redacted>)");
        let presented = PresentedToken::from_authorization(Some("Bearer secret-value")).unwrap();
        assert!(!format!("{presented:?}").contains("secret-value"));
        assert!(!format!("{:?}", key()).contains('7'));
    }
}
