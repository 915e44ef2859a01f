use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::domain::{ClientId, TokenHash};

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
    #[error("The OAuth access token has expired: get a new one from the token endpoint (refresh token or client credentials).")]
    ExpiredAccessToken,
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

    /// Generates a new token. The caller stores only its hash and shows the token once.
    pub fn issue(&self) -> (IssuedToken, TokenHash) {
        let mut bytes = [0u8; TOKEN_RANDOM_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
        let hash = TokenHash::of_key(self.hash(&token));
        (IssuedToken(token), hash)
    }

    /// The keyed hash of a presented token: the form the token check compares
    /// (`provisioning::decide`).
    pub fn presented_hash(&self, presented: &PresentedToken) -> String {
        self.hash(&presented.0)
    }

    /// The keyed hash of a presented token that has the shape of an OAuth access token (its grant
    /// is read under that hash), else None.
    pub fn access_token_hash(&self, presented: &PresentedToken) -> Option<String> {
        self.oauth_hash(super::SecretKind::AccessToken, &presented.0)
    }
}

/// Which credential passed the token check (for its last-use record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// The organization's current static token.
    Current,
    /// The token a rotation replaced, during its overlap.
    Previous,
    /// An OAuth access token of this client.
    Access(ClientId),
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
    use crate::domain::{AccessGrant, IdentityProvider, ScimSettings, TokenWindow};
    use chrono::{DateTime, Duration, Utc};

    fn key() -> TokenKey {
        TokenKey::new(&[7u8; 32]).unwrap()
    }

    /// The token check as the gate makes it: the presented token's keyed hash, decided on.
    fn authorize(
        key: &TokenKey,
        settings: Option<&ScimSettings>,
        grant: Option<&AccessGrant>,
        presented: &PresentedToken,
        now: DateTime<Utc>,
    ) -> Result<Credential, AuthError> {
        crate::provisioning::decide(settings, grant, &key.presented_hash(presented), now)
    }

    fn settings(hash: TokenHash, expires: Option<DateTime<Utc>>) -> ScimSettings {
        let settings = ScimSettings::enabled(None, IdentityProvider::Azure, TokenWindow::Days30, hash, Utc::now());
        ScimSettings { token_expires_at: expires, ..settings }
    }

    #[test]
    fn issued_tokens_are_unique_prefixed_and_verify() {
        let key = key();
        let (a, hash_a) = key.issue();
        let (b, _) = key.issue();
        assert!(a.reveal().starts_with("iscim_"));
        assert_ne!(a.reveal(), b.reveal());
        assert_eq!(hash_a.as_str().len(), 64);
        assert!(!hash_a.as_str().contains(a.reveal()));
        let now = Utc::now();
        let s = settings(hash_a, Some(now + Duration::days(1)));
        let presented = PresentedToken::from_authorization(Some(&format!("Bearer {}", a.reveal()))).unwrap();
        assert_eq!(authorize(&key, Some(&s), None, &presented, now).map(|_| ()), Ok(()));
        let other = PresentedToken::from_authorization(Some(&format!("bearer {}", b.reveal()))).unwrap();
        assert_eq!(authorize(&key, Some(&s), None, &other, now).map(|_| ()), Err(AuthError::InvalidToken));
        assert_eq!(authorize(&key, None, None, &presented, now).map(|_| ()), Err(AuthError::InvalidToken));
        assert_eq!(
            authorize(&key, Some(&s), None, &presented, now + Duration::days(2)).map(|_| ()),
            Err(AuthError::ExpiredToken)
        );
        let disabled = ScimSettings { enabled: false, ..s };
        assert_eq!(authorize(&key, Some(&disabled), None, &presented, now).map(|_| ()), Err(AuthError::InvalidToken));
    }

    #[test]
    fn the_previous_token_works_during_its_overlap_and_access_grants_by_epoch() {
        let key = key();
        let now = Utc::now();
        let (old, old_hash) = key.issue();
        let (new, new_hash) = key.issue();
        let mut s = settings(new_hash, Some(now + Duration::days(30)));
        s.previous_token = Some(crate::domain::PreviousToken {
            hash: old_hash,
            created_at: now,
            valid_until: now + Duration::hours(2),
            expires_at: None,
            last_used_at: None,
            end_entry: None,
        });
        let bearer = |t: &str| PresentedToken::from_authorization(Some(&format!("Bearer {t}"))).unwrap();
        let check = |s: &ScimSettings, t: &str, at| authorize(&key, Some(s), None, &bearer(t), at);
        assert_eq!(check(&s, new.reveal(), now), Ok(Credential::Current));
        assert_eq!(check(&s, old.reveal(), now), Ok(Credential::Previous));
        assert_eq!(check(&s, old.reveal(), now + Duration::hours(2)), Err(AuthError::InvalidToken));
        let revoked = ScimSettings { revoked_at: Some(now), ..s.clone() };
        assert_eq!(check(&revoked, new.reveal(), now), Err(AuthError::InvalidToken));
        assert_eq!(check(&revoked, old.reveal(), now), Err(AuthError::InvalidToken));

        let client = ClientId::parse("acme.abcdefgh1234").unwrap().0;
        let grant =
            AccessGrant { client_id: client.clone(), epoch: 0, expires_at: now + Duration::hours(1), family: None };
        let access = bearer("iscim_at_whatever");
        let with = |s: &ScimSettings, g: &AccessGrant, at| authorize(&key, Some(s), Some(g), &access, at);
        assert_eq!(with(&s, &grant, now), Ok(Credential::Access(client)));
        assert_eq!(with(&s, &grant, now + Duration::hours(1)), Err(AuthError::ExpiredAccessToken));
        let moved_on = ScimSettings { grant_epoch: 1, ..s.clone() };
        assert_eq!(with(&moved_on, &grant, now), Err(AuthError::InvalidToken));
        let disabled = ScimSettings { enabled: false, ..s };
        assert_eq!(with(&disabled, &grant, now), Err(AuthError::InvalidToken));
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
