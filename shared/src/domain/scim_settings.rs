use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{IdentityProvider, ValueError};

/// The seeds: warnings and emails start 20 days before the token expires.
pub const EXPIRY_WARNING_DAYS: i64 = 20;

/// The expiry windows an admin can pick when generating a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenWindow {
    #[serde(rename = "30d")]
    Days30,
    #[serde(rename = "90d")]
    Days90,
    #[serde(rename = "180d")]
    Days180,
    #[serde(rename = "1y")]
    OneYear,
    #[serde(rename = "2y")]
    TwoYears,
    #[serde(rename = "none")]
    NoExpiry,
}

impl TokenWindow {
    pub const ALL: [&'static str; 6] = ["30d", "90d", "180d", "1y", "2y", "none"];

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "30d" | "30" => Ok(Self::Days30),
            "90d" | "90" => Ok(Self::Days90),
            "180d" | "180" => Ok(Self::Days180),
            "1y" | "365d" => Ok(Self::OneYear),
            "2y" | "730d" => Ok(Self::TwoYears),
            "none" | "never" => Ok(Self::NoExpiry),
            _ => Err(ValueError { what: "token expiry window", value: raw.to_owned(), expected: &Self::ALL }),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Days30 => "30d",
            Self::Days90 => "90d",
            Self::Days180 => "180d",
            Self::OneYear => "1y",
            Self::TwoYears => "2y",
            Self::NoExpiry => "none",
        }
    }

    pub fn duration(&self) -> Option<Duration> {
        match self {
            Self::Days30 => Some(Duration::days(30)),
            Self::Days90 => Some(Duration::days(90)),
            Self::Days180 => Some(Duration::days(180)),
            Self::OneYear => Some(Duration::days(365)),
            Self::TwoYears => Some(Duration::days(730)),
            Self::NoExpiry => None,
        }
    }

    pub fn expiry_from(&self, issued_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.duration().map(|d| issued_at + d)
    }
}

/// What the admin status shows about the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Valid,
    ExpiringSoon,
    Expired,
    NoExpiry,
    None,
}

/// An organization's SCIM settings: whether provisioning is on, with which IdP, and the current
/// token's keyed hash (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScimSettings {
    pub enabled: bool,
    pub idp: IdentityProvider,
    /// Hex HMAC-SHA256 of the token under the service's secret key.
    pub token_hash: String,
    pub token_window: TokenWindow,
    pub token_created_at: DateTime<Utc>,
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Bumped by every conditional write of this record.
    pub version: u64,
    /// When the scheduler last extended this token's expiry (the token value stays the same).
    #[serde(default)]
    pub last_auto_refresh_at: Option<DateTime<Utc>>,
    /// Why the scheduler could not extend the token; cleared when it does. See `refresh_warning`.
    #[serde(default)]
    pub last_refresh_failure: Option<RefreshFailure>,
    /// Keys of the expiry notices queued for owners, each naming the token and expiry it is about,
    /// so an extended or new token starts with none. Stored as a DynamoDB string set: the
    /// scheduler records a notice with a conditional `ADD`, at most once even across runs.
    #[serde(default, with = "serde_dynamo::string_set", skip_serializing_if = "Vec::is_empty")]
    pub notices_sent: Vec<String>,
    /// The token the last rotation replaced, while its overlap lasts (docs/ARCHITECTURE.md,
    /// "Tokens: rotation, revoke, OAuth"): at most two valid static tokens at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_token: Option<PreviousToken>,
    /// When the current token was last presented (written at most once a minute, off the response path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_last_used_at: Option<DateTime<Utc>>,
    /// Set by a revoke: no static token is valid until a new one is generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// The OAuth grant epoch: every OAuth grant (code, refresh token, access token) records the
    /// epoch it was made in and is valid only while it is still the current one, so one write
    /// (disable, revoke, a new OAuth client) ends every grant at once.
    #[serde(default)]
    pub grant_epoch: u64,
}

/// The static token a rotation replaced, valid until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousToken {
    /// Hex HMAC-SHA256 of the token under the service's secret key.
    pub hash: String,
    pub created_at: DateTime<Utc>,
    /// When the overlap ends: from then on the token is refused.
    pub valid_until: DateTime<Utc>,
    /// The previous token's own expiry (it is refused at the earlier of the two).
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_used_at: Option<DateTime<Utc>>,
    /// The id of the history entry recorded for the overlap's end (at `valid_until`).
    #[serde(default)]
    pub end_entry: Option<String>,
}

impl PreviousToken {
    /// Whether the previous token is still accepted at `now`.
    pub fn is_valid(&self, now: DateTime<Utc>) -> bool {
        now < self.valid_until && self.expires_at.is_none_or(|at| now < at)
    }
}

/// The longest overlap a rotation may keep the previous token for.
pub const MAX_OVERLAP_HOURS: u32 = 24;

/// Why the automatic refresh of a token could not happen, and when the scheduler found out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFailure {
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl ScimSettings {
    pub fn token_state(&self, now: DateTime<Utc>) -> TokenState {
        match self.token_expires_at {
            None => TokenState::NoExpiry,
            Some(at) if at <= now => TokenState::Expired,
            Some(at) if at - now <= Duration::days(EXPIRY_WARNING_DAYS) => TokenState::ExpiringSoon,
            Some(_) => TokenState::Valid,
        }
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.token_state(now) == TokenState::Expired
    }

    /// Whether a static token exists (none after a revoke, until a new one is generated).
    pub fn has_token(&self) -> bool {
        self.revoked_at.is_none() && !self.token_hash.is_empty()
    }

    /// The previous token while its overlap lasts at `now`.
    pub fn previous_in_overlap(&self, now: DateTime<Utc>) -> Option<&PreviousToken> {
        self.previous_token.as_ref().filter(|p| p.is_valid(now))
    }

    /// The refresh failure the admin status warns about: only one found for the current token (a
    /// token issued since makes an older failure moot).
    pub fn refresh_warning(&self) -> Option<&RefreshFailure> {
        self.last_refresh_failure.as_ref().filter(|failure| failure.at >= self.token_created_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(expires_in_days: Option<i64>, now: DateTime<Utc>) -> ScimSettings {
        ScimSettings {
            enabled: true,
            idp: IdentityProvider::Okta,
            token_hash: "h".into(),
            token_window: TokenWindow::Days90,
            token_created_at: now,
            token_expires_at: expires_in_days.map(|d| now + Duration::days(d)),
            version: 1,
            last_auto_refresh_at: None,
            last_refresh_failure: None,
            notices_sent: Vec::new(),
            previous_token: None,
            token_last_used_at: None,
            revoked_at: None,
            grant_epoch: 0,
        }
    }

    #[test]
    fn token_state_follows_the_20_day_rule() {
        let now = Utc::now();
        assert_eq!(settings(None, now).token_state(now), TokenState::NoExpiry);
        assert_eq!(settings(Some(21), now).token_state(now), TokenState::Valid);
        assert_eq!(settings(Some(20), now).token_state(now), TokenState::ExpiringSoon);
        assert_eq!(settings(Some(1), now).token_state(now), TokenState::ExpiringSoon);
        assert_eq!(settings(Some(0), now).token_state(now), TokenState::Expired);
        assert_eq!(settings(Some(-3), now).token_state(now), TokenState::Expired);
    }

    #[test]
    fn a_refresh_failure_warns_only_about_the_token_it_was_found_for() {
        let now = Utc::now();
        let mut s = settings(Some(10), now);
        assert_eq!(s.refresh_warning(), None);
        s.last_refresh_failure = Some(RefreshFailure { reason: "plan".into(), at: now + Duration::hours(1) });
        assert_eq!(s.refresh_warning().map(|f| f.reason.as_str()), Some("plan"));
        // A token issued after the failure was found.
        s.token_created_at = now + Duration::hours(2);
        assert_eq!(s.refresh_warning(), None);
    }

    #[test]
    fn windows_parse_and_expire() {
        let now = Utc::now();
        assert_eq!(TokenWindow::parse("90d").unwrap().expiry_from(now), Some(now + Duration::days(90)));
        assert_eq!(TokenWindow::parse("2Y").unwrap(), TokenWindow::TwoYears);
        assert_eq!(TokenWindow::parse("none").unwrap().expiry_from(now), None);
        let err = TokenWindow::parse("7d").unwrap_err().to_string();
        assert!(err.contains("30d, 90d, 180d, 1y, 2y, none"), "{err}");
    }
}
