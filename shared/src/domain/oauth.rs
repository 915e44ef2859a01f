//! The OAuth 2.0 connection of an organization's SCIM connector: its client and the grants made to
//! it (docs/ARCHITECTURE.md, "Tokens: rotation, revoke, OAuth"). Secrets are never held here, only
//! their keyed hashes.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{EmailAddress, OrgId};

/// Registered redirect URIs per client.
pub const MAX_REDIRECT_URIS: usize = 5;

/// A client id: `{orgId}.{random}`, so the token endpoint finds the organization without an index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    pub fn new(org: &OrgId, random: &str) -> Self {
        Self(format!("{org}.{random}"))
    }

    pub fn parse(raw: &str) -> Option<(Self, OrgId)> {
        let (org, rest) = raw.split_once('.')?;
        let org = OrgId::parse(org).ok()?;
        let ok =
            (8..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| (Self(raw.to_owned()), org))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registered redirect URI: absolute `https` (or `http` on a loopback host, RFC 8252 §7.3), no
/// fragment, compared by exact string match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > 1000 {
            return Err("a redirect URI must be 1 to 1000 characters".into());
        }
        if raw.bytes().any(|b| !b.is_ascii_graphic()) || raw.contains('#') {
            return Err(format!("'{raw}' has spaces, control characters or a fragment"));
        }
        let rest = raw
            .strip_prefix("https://")
            .or_else(|| {
                let loopback = ["http://localhost", "http://127.0.0.1", "http://[::1]"];
                loopback
                    .iter()
                    .any(|l| raw.strip_prefix(l).is_some_and(|r| r.is_empty() || r.starts_with([':', '/'])))
                    .then(|| raw.trim_start_matches("http://"))
            })
            .ok_or_else(|| format!("'{raw}' must be an https URL (http only on a loopback host)"))?;
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        if host.is_empty() || host.contains('@') {
            return Err(format!("'{raw}' names no host"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The organization's OAuth client for SCIM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthClient {
    pub client_id: ClientId,
    pub secret_hash: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub created_at: DateTime<Utc>,
    pub created_by: EmailAddress,
    pub secret_expires_at: DateTime<Utc>,
    /// The grant epoch of the SCIM settings when the client was made: grants of an older client
    /// are refused, since replacing the client moves the epoch on.
    pub epoch: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
    /// Keys of the expiry notices queued about this client's secret and refresh tokens (a string
    /// set the scheduler adds to with a conditional `ADD`; read to honour keys stored before).
    #[serde(default, with = "serde_dynamo::string_set", skip_serializing_if = "Vec::is_empty")]
    pub notices_sent: Vec<String>,
}

impl OAuthClient {
    pub fn allows(&self, redirect_uri: &str) -> bool {
        self.redirect_uris.iter().any(|uri| uri.as_str() == redirect_uri)
    }
}

/// What an access token grants (stored under its keyed hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessGrant {
    pub client_id: ClientId,
    pub epoch: u64,
    pub expires_at: DateTime<Utc>,
    /// The refresh-token family it came from (none: client credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

/// A refresh token (stored under its keyed hash); single use, rotated by each refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshGrant {
    pub client_id: ClientId,
    pub epoch: u64,
    pub family: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set when it was exchanged: presenting it again revokes its family (RFC 9700 §4.14.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
}

/// An authorization code (stored under its keyed hash), single use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: ClientId,
    pub epoch: u64,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub approved_by: EmailAddress,
    pub expires_at: DateTime<Utc>,
    /// The refresh-token family its exchange started (set at exchange): a reused code revokes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<DateTime<Utc>>,
}

/// A refresh-token family: every token rotated from one code exchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantFamily {
    pub id: String,
    pub client_id: ClientId,
    pub created_at: DateTime<Utc>,
    /// When a reused token revoked it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Keyed hashes of its access tokens that may still be unexpired (deleted on revocation).
    #[serde(default)]
    pub access_tokens: Vec<(String, DateTime<Utc>)>,
    /// When its newest refresh token expires (what the scheduler warns about).
    pub refresh_expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_without_fragment() {
        for ok in ["https://idp.example.com/cb", "https://a.b/x?y=1", "http://localhost:8080/cb", "http://127.0.0.1/cb"]
        {
            assert!(RedirectUri::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "http://evil.example.com/cb",
            "https://x.example.com/cb#frag",
            "https:///path",
            "https://user@host/cb",
            "javascript:alert(1)",
            "https://a b",
            "http://localhost.evil.com/cb",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_ids_name_their_organization() {
        let org = OrgId::parse("acme").unwrap();
        let id = ClientId::new(&org, "abcdefgh1234");
        assert_eq!(ClientId::parse(id.as_str()), Some((id, org)));
        assert!(ClientId::parse("acme").is_none());
        assert!(ClientId::parse("acme.short").is_none());
        assert!(ClientId::parse("a#b.abcdefgh1234").is_none());
    }
}
