//! OAuth 2.0 credentials of the SCIM connector (docs/ARCHITECTURE.md, "Tokens: rotation, revoke,
//! OAuth"): access tokens, refresh tokens, authorization codes and client secrets, each a random
//! value with a prefix that says its kind, stored only as its keyed hash (the same HMAC-SHA256
//! under the secret key as SCIM tokens), plus PKCE (RFC 7636, S256 only).
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::TokenKey;

/// The kinds of OAuth secret, by prefix. All start with `iscim_`, so the request log's and
/// secret scanners' masks cover them (docs/ARCHITECTURE.md, "Secrets").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    AccessToken,
    RefreshToken,
    AuthorizationCode,
    ClientSecret,
}

impl SecretKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::AccessToken => "iscim_at_",
            Self::RefreshToken => "iscim_rt_",
            Self::AuthorizationCode => "iscim_ac_",
            Self::ClientSecret => "iscim_cs_",
        }
    }
}

/// A freshly made OAuth secret: handed out once, never logged (Debug is redacted).
pub struct OAuthSecret {
    value: String,
    /// The keyed hash: the only form stored.
    pub hash: String,
}

impl OAuthSecret {
    pub fn reveal(&self) -> &str {
        &self.value
    }
}

impl fmt::Debug for OAuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OAuthSecret(<redacted>)")
    }
}

impl TokenKey {
    /// A new random secret of `kind`.
    pub fn issue_oauth(&self, kind: SecretKind) -> OAuthSecret {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let value = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes));
        let hash = self.hash(&value);
        OAuthSecret { value, hash }
    }

    /// A new refresh token of a family: `iscim_rt_{family}_{random}`, so the token endpoint reads
    /// the family in the same BatchGetItem as the token.
    pub fn issue_refresh_token(&self, family: &str) -> OAuthSecret {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let value = format!("{}{family}_{}", SecretKind::RefreshToken.prefix(), URL_SAFE_NO_PAD.encode(bytes));
        let hash = self.hash(&value);
        OAuthSecret { value, hash }
    }

    /// The family a presented refresh token names (not a proof of anything: its hash is).
    pub fn refresh_token_family(presented: &str) -> Option<&str> {
        let rest = presented.strip_prefix(SecretKind::RefreshToken.prefix())?;
        let (family, _) = rest.split_once('_')?;
        (family.len() == 32 && family.bytes().all(|b| b.is_ascii_hexdigit())).then_some(family)
    }

    /// The keyed hash of a presented secret of `kind`; None when it does not have the kind's shape
    /// (so no lookup is made for it).
    pub fn oauth_hash(&self, kind: SecretKind, presented: &str) -> Option<String> {
        let shaped = presented.starts_with(kind.prefix())
            && presented.len() <= 128
            && presented.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        shaped.then(|| self.hash(presented))
    }

    /// Whether `presented` is the secret whose keyed hash is `stored` (constant time).
    pub fn matches(&self, presented: &str, stored: &str) -> bool {
        let hash = self.hash(presented);
        !stored.is_empty() && bool::from(hash.as_bytes().ct_eq(stored.as_bytes()))
    }

    /// A signed token for a form, binding `purpose` (the request's parameters) and an expiry
    /// (Unix seconds): `{expiry}.{mac}`.
    pub fn sign_form(&self, purpose: &str, expires_unix: i64) -> String {
        format!("{expires_unix}.{}", self.hash(&format!("form:{expires_unix}:{purpose}")))
    }

    /// Checks a form token made by `sign_form` for the same `purpose`, unexpired at `now_unix`.
    pub fn verify_form(&self, token: &str, purpose: &str, now_unix: i64) -> bool {
        let Some((expiry, mac)) = token.split_once('.') else { return false };
        let Ok(expires_unix) = expiry.parse::<i64>() else { return false };
        let expected = self.hash(&format!("form:{expires_unix}:{purpose}"));
        now_unix < expires_unix && bool::from(expected.as_bytes().ct_eq(mac.as_bytes()))
    }
}

/// A PKCE code challenge (RFC 7636 §4.2, S256): 43 base64url characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == 43 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The challenge of a verifier: BASE64URL(SHA256(verifier)).
    pub fn of_verifier(verifier: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
    }

    /// Whether `verifier` (43–128 unreserved characters, RFC 7636 §4.1) answers this challenge,
    /// compared in constant time.
    pub fn verifies(&self, verifier: &str) -> bool {
        let shaped = (43..=128).contains(&verifier.len())
            && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
        shaped && bool::from(Self::of_verifier(verifier).0.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey::new(&[9u8; 32]).unwrap()
    }

    #[test]
    fn secrets_have_their_kind_and_only_their_hash_is_kept() {
        let key = key();
        let secret = key.issue_oauth(SecretKind::AccessToken);
        assert!(secret.reveal().starts_with("iscim_at_"));
        assert_eq!(key.oauth_hash(SecretKind::AccessToken, secret.reveal()), Some(secret.hash.clone()));
        assert_eq!(key.oauth_hash(SecretKind::RefreshToken, secret.reveal()), None);
        assert!(key.matches(secret.reveal(), &secret.hash));
        assert!(!key.matches("iscim_at_other", &secret.hash));
        assert!(!key.matches(secret.reveal(), ""));
        assert!(!format!("{secret:?}").contains("iscim_"));
    }

    #[test]
    fn refresh_tokens_name_their_family() {
        let key = key();
        let family = "0123456789abcdef0123456789abcdef";
        let token = key.issue_refresh_token(family);
        assert_eq!(TokenKey::refresh_token_family(token.reveal()), Some(family));
        assert!(key.oauth_hash(SecretKind::RefreshToken, token.reveal()).is_some());
        assert_eq!(TokenKey::refresh_token_family("iscim_rt_nope_x"), None);
    }

    #[test]
    fn pkce_s256_follows_rfc_7636_appendix_b() {
        let challenge = CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
        assert!(challenge.verifies("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!challenge.verifies("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl"));
        assert!(!challenge.verifies("short"));
        assert!(CodeChallenge::parse("plain").is_none());
    }

    #[test]
    fn form_tokens_bind_their_purpose_and_expire() {
        let key = key();
        let token = key.sign_form("client|uri|challenge|state", 1000);
        assert!(key.verify_form(&token, "client|uri|challenge|state", 999));
        assert!(!key.verify_form(&token, "client|uri|challenge|state", 1000));
        assert!(!key.verify_form(&token, "client|other|challenge|state", 999));
        assert!(!key.verify_form(&token.replace("1000.", "2000."), "client|uri|challenge|state", 999));
        assert!(!key.verify_form("garbage", "x", 0));
    }
}
