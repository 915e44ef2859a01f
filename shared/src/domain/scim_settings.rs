//! An organization's SCIM settings and the transitions of its token's life (docs/ARCHITECTURE.md,
//! "Tokens: rotation, revoke, OAuth"): every change is a method here that answers the next
//! settings with the version bumped once, written conditionally on the version read.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::{next_version, IdentityProvider, ValueError};
use crate::lifetimes;

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
            Self::Days30 => Some(lifetimes::TOKEN_WINDOW_30_DAYS),
            Self::Days90 => Some(lifetimes::TOKEN_WINDOW_90_DAYS),
            Self::Days180 => Some(lifetimes::TOKEN_WINDOW_180_DAYS),
            Self::OneYear => Some(lifetimes::TOKEN_WINDOW_1_YEAR),
            Self::TwoYears => Some(lifetimes::TOKEN_WINDOW_2_YEARS),
            Self::NoExpiry => None,
        }
    }

    pub fn expiry_from(&self, issued_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.duration().map(|d| issued_at + d)
    }
}

/// The console's spelling (lenient: `90`, `365d`, `never` too), for request bodies.
impl FromStr for TokenWindow {
    type Err = ValueError;

    fn from_str(raw: &str) -> Result<Self, ValueError> {
        Self::parse(raw)
    }
}

/// The keyed hash of a static token (hex HMAC-SHA256 under the service's secret key): what is
/// stored instead of the token. Never empty: "no token" is `None` where one is held.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(String);

impl TokenHash {
    /// `None` for an empty value (the stored form of "no token" before it was an `Option`).
    pub fn new(hex: String) -> Option<Self> {
        (!hex.is_empty()).then_some(Self(hex))
    }

    /// The output of `TokenKey::hash` (a hex HMAC, never empty).
    pub(crate) fn of_key(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A hash is not a secret, but it is not for logs either.
impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

/// Reads `token_hash` as stored by every version: absent or `null` (none, as written now) and `""`
/// (none, as revokes wrote it before the hash was an `Option`) are both no token.
fn token_hash_or_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<TokenHash>, D::Error> {
    let raw: Option<String> = Option::deserialize(deserializer)?;
    Ok(raw.and_then(TokenHash::new))
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

/// Whether the token scheduler extends the token before it expires. On unless an owner turned it
/// off (the documents: the token is refreshed automatically); off, the owners are warned before
/// expiry as when a requirement is unmet, and refresh it themselves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoRefresh {
    #[default]
    On,
    Off,
}

impl AutoRefresh {
    pub fn is_on(&self) -> bool {
        *self == Self::On
    }
}

/// An organization's SCIM settings: whether provisioning is on, with which IdP, and the current
/// token's keyed hash (the token itself is never stored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScimSettings {
    pub enabled: bool,
    pub idp: IdentityProvider,
    /// The current static token's keyed hash; `None` after a revoke, until a new one is generated.
    /// Left out of the item when `None`; an empty string (how revokes stored it before) reads as `None`.
    #[serde(default, deserialize_with = "token_hash_or_none", skip_serializing_if = "Option::is_none")]
    pub token_hash: Option<TokenHash>,
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
    /// Stored only when an owner turned it off (settings written before it existed read as on).
    #[serde(default, skip_serializing_if = "AutoRefresh::is_on")]
    pub auto_refresh: AutoRefresh,
    /// The keyed hashes of the latest static tokens taken out of service (never the tokens), with
    /// when and why, newest first, at most `RETIRED_TOKENS`: written by the rotation or revoke that
    /// retires them, so connector health can tell an IdP still sending one of them from a stranger
    /// (docs/ARCHITECTURE.md, "Connector health").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_tokens: Vec<RetiredToken>,
}

/// Retired static tokens remembered per organization.
pub const RETIRED_TOKENS: usize = 5;

/// Why a static token was taken out of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Retirement {
    /// A rotation replaced it (it may still work during the rotation's overlap).
    Replaced,
    /// A revoke ended it.
    Revoked,
}

/// A static token taken out of service, by its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredToken {
    pub hash: TokenHash,
    pub at: DateTime<Utc>,
    pub why: Retirement,
}

/// `retired` (newest first) with `hashes` retired at `at` for `why` in front, each hash once (the
/// newest reason wins), bounded.
fn retire(retired: &[RetiredToken], hashes: &[&TokenHash], at: DateTime<Utc>, why: Retirement) -> Vec<RetiredToken> {
    let mut list: Vec<RetiredToken> =
        hashes.iter().map(|hash| RetiredToken { hash: (*hash).clone(), at, why }).collect();
    list.extend(retired.iter().filter(|r| !hashes.contains(&&r.hash)).cloned());
    list.truncate(RETIRED_TOKENS);
    list
}

/// The static token a rotation replaced, valid until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousToken {
    pub hash: TokenHash,
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
            Some(at) if at - now <= lifetimes::EXPIRY_WARNING => TokenState::ExpiringSoon,
            Some(_) => TokenState::Valid,
        }
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.token_state(now) == TokenState::Expired
    }

    /// Whether a static token exists (none after a revoke, until a new one is generated).
    pub fn has_token(&self) -> bool {
        self.revoked_at.is_none() && self.token_hash.is_some()
    }

    /// The previous token while its overlap lasts at `now`.
    pub fn previous_in_overlap(&self, now: DateTime<Utc>) -> Option<&PreviousToken> {
        self.previous_token.as_ref().filter(|p| p.is_valid(now))
    }

    /// The version the next write of these settings stores.
    pub fn next_version(&self) -> u64 {
        next_version(self.version)
    }

    /// The settings of a new enable: on, with a new token and none of the old one's history. After a
    /// disable (`previous`), the grant epoch moves on: grants made before stay dead.
    pub fn enabled(
        previous: Option<&ScimSettings>,
        idp: IdentityProvider,
        window: TokenWindow,
        token_hash: TokenHash,
        now: DateTime<Utc>,
    ) -> Self {
        // A token of before the disable is still one this organization issued.
        let retired_tokens = previous.map_or_else(Vec::new, |p| {
            let hashes: Vec<&TokenHash> = p.token_hash.iter().filter(|h| **h != token_hash).collect();
            retire(&p.retired_tokens, &hashes, now, Retirement::Replaced)
        });
        Self {
            enabled: true,
            idp,
            token_hash: Some(token_hash),
            token_window: window,
            token_created_at: now,
            token_expires_at: window.expiry_from(now),
            version: previous.map_or(1, ScimSettings::next_version),
            last_auto_refresh_at: None,
            last_refresh_failure: None,
            notices_sent: Vec::new(),
            previous_token: None,
            token_last_used_at: None,
            revoked_at: None,
            grant_epoch: previous.map_or(0, |p| p.grant_epoch + 1),
            // An owner's choice outlives a re-enable.
            auto_refresh: previous.map_or(AutoRefresh::On, |p| p.auto_refresh),
            retired_tokens,
        }
    }

    /// Automatic refresh turned on or off by an owner.
    pub fn with_auto_refresh(&self, auto_refresh: AutoRefresh) -> Self {
        Self { auto_refresh, version: self.next_version(), ..self.clone() }
    }

    /// The current token, to keep working until `valid_until` after a rotation (None when there is
    /// no token that works at `now`: nothing to keep). `end_entry`: the history entry of the
    /// overlap's end.
    pub fn kept_until(
        &self,
        valid_until: DateTime<Utc>,
        end_entry: String,
        now: DateTime<Utc>,
    ) -> Option<PreviousToken> {
        let hash = self.token_hash.clone().filter(|_| self.has_token() && !self.is_expired(now))?;
        Some(PreviousToken {
            hash,
            created_at: self.token_created_at,
            valid_until,
            expires_at: self.token_expires_at,
            last_used_at: self.token_last_used_at,
            end_entry: Some(end_entry),
        })
    }

    /// A manual rotation: a new token with `window` from `now`; `kept` (see `kept_until`) is the
    /// replaced token during its overlap, the only previous token (an earlier one stops now).
    pub fn rotated(
        &self,
        token_hash: TokenHash,
        window: TokenWindow,
        kept: Option<PreviousToken>,
        now: DateTime<Utc>,
    ) -> Self {
        let replaced: Vec<&TokenHash> =
            self.token_hash.iter().chain(self.previous_token.as_ref().map(|p| &p.hash)).collect();
        Self {
            retired_tokens: retire(&self.retired_tokens, &replaced, now, Retirement::Replaced),
            token_hash: Some(token_hash),
            token_window: window,
            token_created_at: now,
            token_expires_at: window.expiry_from(now),
            version: self.next_version(),
            // A new token: no failure or notice is about it yet, no use.
            last_refresh_failure: None,
            notices_sent: Vec::new(),
            token_last_used_at: None,
            previous_token: kept,
            revoked_at: None,
            ..self.clone()
        }
    }

    /// Every credential revoked at `now`: no static token (the current nor the previous) and a new
    /// grant epoch (every OAuth grant ends). SCIM stays enabled until a new token is generated.
    pub fn revoked(&self, now: DateTime<Utc>) -> Self {
        let ended: Vec<&TokenHash> =
            self.token_hash.iter().chain(self.previous_token.as_ref().map(|p| &p.hash)).collect();
        Self {
            retired_tokens: retire(&self.retired_tokens, &ended, now, Retirement::Revoked),
            token_hash: None,
            previous_token: None,
            revoked_at: Some(now),
            // No token, nothing to expire: out of the scheduler's expiry index until a new one.
            token_expires_at: None,
            last_refresh_failure: None,
            notices_sent: Vec::new(),
            grant_epoch: self.grant_epoch + 1,
            version: self.next_version(),
            ..self.clone()
        }
    }

    /// SCIM turned off: every OAuth grant ends with it (and stays dead after an enable); the
    /// previous token stops. The current token is kept but refused while disabled.
    pub fn disabled(&self) -> Self {
        Self {
            enabled: false,
            grant_epoch: self.grant_epoch + 1,
            previous_token: None,
            version: self.next_version(),
            ..self.clone()
        }
    }

    /// The OAuth client created, replaced or deleted: the grant epoch moves on, so grants made to
    /// an earlier client stop at once.
    pub fn grants_ended(&self) -> Self {
        Self { grant_epoch: self.grant_epoch + 1, version: self.next_version(), ..self.clone() }
    }

    /// The scheduler's automatic refresh at `now`: the same token, its expiry extended by its
    /// window from the current expiry (not from now, so the token keeps its rhythm). The failure
    /// and the notices were about the old expiry. None for a token without expiry.
    pub fn extended(&self, now: DateTime<Utc>) -> Option<Self> {
        let expires_at = self.token_expires_at? + self.token_window.duration()?;
        Some(Self {
            token_expires_at: Some(expires_at),
            last_auto_refresh_at: Some(now),
            last_refresh_failure: None,
            notices_sent: Vec::new(),
            version: self.next_version(),
            ..self.clone()
        })
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

    #[test]
    fn automatic_refresh_is_on_unless_turned_off_and_turning_it_bumps_the_version_once() {
        let now = Utc::now();
        let on = ScimSettings::enabled(None, IdentityProvider::Okta, TokenWindow::Days30, hash("h"), now);
        assert_eq!(on.auto_refresh, AutoRefresh::On);
        let stored = serde_json::to_value(&on).unwrap();
        assert!(stored.get("auto_refresh").is_none(), "on is not stored: {stored}");
        let off = on.with_auto_refresh(AutoRefresh::Off);
        assert_eq!((off.auto_refresh, off.version), (AutoRefresh::Off, on.version + 1));
        let read: ScimSettings = serde_json::from_value(serde_json::to_value(&off).unwrap()).unwrap();
        assert_eq!(read.auto_refresh, AutoRefresh::Off);
        let again =
            ScimSettings::enabled(Some(&off.disabled()), IdentityProvider::Okta, TokenWindow::Days30, hash("i"), now);
        assert_eq!(again.auto_refresh, AutoRefresh::Off, "a re-enable keeps the owners' choice");
    }

    fn hash(hex: &str) -> TokenHash {
        TokenHash::new(hex.into()).unwrap()
    }

    fn settings(expires_in_days: Option<i64>, now: DateTime<Utc>) -> ScimSettings {
        let mut s = ScimSettings::enabled(None, IdentityProvider::Okta, TokenWindow::Days90, hash("h"), now);
        s.token_expires_at = expires_in_days.map(|d| now + Duration::days(d));
        s
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
        assert_eq!("365d".parse::<TokenWindow>(), Ok(TokenWindow::OneYear));
        assert_eq!(TokenWindow::parse("none").unwrap().expiry_from(now), None);
        let err = TokenWindow::parse("7d").unwrap_err().to_string();
        assert!(err.contains("30d, 90d, 180d, 1y, 2y, none"), "{err}");
    }

    /// Something of every field, so that a transition that keeps "the rest" is seen keeping it.
    fn lived_in(now: DateTime<Utc>) -> ScimSettings {
        let mut s = settings(Some(90), now - Duration::days(80));
        s.version = 7;
        s.grant_epoch = 3;
        s.last_auto_refresh_at = Some(now - Duration::days(80));
        s.last_refresh_failure = Some(RefreshFailure { reason: "plan".into(), at: now - Duration::days(2) });
        s.notices_sent = vec!["a|b|first_warning".into()];
        s.token_last_used_at = Some(now - Duration::minutes(3));
        s.previous_token = s.kept_until(now + Duration::hours(1), "end".into(), now);
        s
    }

    #[test]
    fn enabling_starts_a_token_afresh_and_after_a_disable_moves_the_grant_epoch_on() {
        let now = Utc::now();
        let first = ScimSettings::enabled(None, IdentityProvider::Azure, TokenWindow::Days30, hash("a"), now);
        assert_eq!((first.version, first.grant_epoch, first.enabled), (1, 0, true));
        assert_eq!(first.token_expires_at, Some(now + Duration::days(30)));
        assert!(first.has_token());
        let old = lived_in(now).disabled();
        let again = ScimSettings::enabled(Some(&old), IdentityProvider::Okta, TokenWindow::NoExpiry, hash("b"), now);
        assert_eq!((again.version, again.grant_epoch), (old.version + 1, old.grant_epoch + 1));
        assert_eq!((again.token_expires_at, again.previous_token.as_ref()), (None, None));
        assert!(again.notices_sent.is_empty() && again.last_refresh_failure.is_none());
        assert_eq!((again.last_auto_refresh_at, again.token_last_used_at, again.revoked_at), (None, None, None));
    }

    #[test]
    fn a_rotation_issues_a_new_token_and_keeps_only_what_it_is_given() {
        let now = Utc::now();
        let old = lived_in(now);
        let kept = old.kept_until(now + Duration::hours(2), "end-2".into(), now).unwrap();
        assert_eq!(
            (&kept.hash, kept.created_at, kept.expires_at),
            (&hash("h"), old.token_created_at, old.token_expires_at)
        );
        assert_eq!((kept.last_used_at, kept.end_entry.as_deref()), (old.token_last_used_at, Some("end-2")));
        let next = old.rotated(hash("new"), TokenWindow::Days180, Some(kept.clone()), now);
        assert_eq!(next.version, old.version + 1);
        assert_eq!(next.token_hash, Some(hash("new")));
        assert_eq!(next.token_expires_at, Some(now + Duration::days(180)));
        assert_eq!(next.previous_token, Some(kept), "the earlier previous token stops");
        assert!(
            next.notices_sent.is_empty() && next.last_refresh_failure.is_none() && next.token_last_used_at.is_none()
        );
        assert_eq!((next.grant_epoch, next.idp, next.enabled), (old.grant_epoch, old.idp, true));
        assert_eq!(old.rotated(hash("n"), TokenWindow::Days30, None, now).previous_token, None);
    }

    #[test]
    fn only_a_token_that_works_is_kept_for_an_overlap() {
        let now = Utc::now();
        let expired = settings(Some(-1), now);
        assert_eq!(expired.kept_until(now + Duration::hours(1), "e".into(), now), None);
        let revoked = lived_in(now).revoked(now);
        assert_eq!(revoked.kept_until(now + Duration::hours(1), "e".into(), now), None);
    }

    #[test]
    fn a_revoke_leaves_no_token_and_ends_every_grant() {
        let now = Utc::now();
        let old = lived_in(now);
        let next = old.revoked(now);
        assert_eq!((next.version, next.grant_epoch), (old.version + 1, old.grant_epoch + 1));
        assert_eq!((next.token_hash.as_ref(), next.previous_token.as_ref()), (None, None));
        assert_eq!((next.revoked_at, next.token_expires_at), (Some(now), None));
        assert!(!next.has_token() && next.enabled);
        assert!(next.notices_sent.is_empty() && next.last_refresh_failure.is_none());
    }

    #[test]
    fn a_disable_keeps_the_token_but_ends_grants_and_the_overlap() {
        let now = Utc::now();
        let old = lived_in(now);
        let next = old.disabled();
        assert!(!next.enabled);
        assert_eq!((next.version, next.grant_epoch), (old.version + 1, old.grant_epoch + 1));
        assert_eq!((next.token_hash.as_ref(), next.previous_token.as_ref()), (old.token_hash.as_ref(), None));
        assert_eq!(next.notices_sent, old.notices_sent);
    }

    #[test]
    fn a_new_oauth_client_moves_the_grant_epoch_on_and_nothing_else() {
        let old = lived_in(Utc::now());
        let next = old.grants_ended();
        assert_eq!(next, ScimSettings { grant_epoch: 4, version: 8, ..old });
    }

    #[test]
    fn an_extension_adds_the_window_to_the_current_expiry_and_forgets_the_old_expirys_notices() {
        let now = Utc::now();
        let old = lived_in(now);
        let next = old.extended(now).unwrap();
        assert_eq!(next.token_expires_at, Some(old.token_expires_at.unwrap() + Duration::days(90)));
        assert_eq!((next.version, next.last_auto_refresh_at), (old.version + 1, Some(now)));
        assert!(next.notices_sent.is_empty() && next.last_refresh_failure.is_none());
        assert_eq!((next.token_hash, next.token_created_at), (old.token_hash.clone(), old.token_created_at));
        let forever = ScimSettings::enabled(None, IdentityProvider::Okta, TokenWindow::NoExpiry, hash("h"), now);
        assert_eq!(forever.extended(now), None);
    }

    #[test]
    fn each_transition_bumps_the_version_once() {
        let now = Utc::now();
        let old = lived_in(now);
        for next in [
            old.rotated(hash("x"), TokenWindow::Days30, None, now),
            old.revoked(now),
            old.disabled(),
            old.grants_ended(),
            old.extended(now).unwrap(),
            ScimSettings::enabled(Some(&old), IdentityProvider::Okta, TokenWindow::Days30, hash("x"), now),
        ] {
            assert_eq!(next.version, old.version + 1);
        }
    }

    #[test]
    fn a_revoked_token_stored_as_an_empty_string_reads_as_none() {
        let now = Utc::now();
        let revoked = settings(Some(5), now).revoked(now);
        let mut item = serde_json::to_value(&revoked).unwrap();
        assert!(item.get("token_hash").is_none(), "no token: no attribute");
        assert_eq!(serde_json::from_value::<ScimSettings>(item.clone()).unwrap(), revoked);
        // As revokes stored it before the hash was an Option.
        item["token_hash"] = serde_json::json!("");
        assert_eq!(serde_json::from_value::<ScimSettings>(item).unwrap().token_hash, None);
        let current = settings(Some(5), now);
        let item = serde_json::to_value(&current).unwrap();
        assert_eq!(item["token_hash"], "h", "stored as the plain hex string it always was");
        assert_eq!(serde_json::from_value::<ScimSettings>(item).unwrap(), current);
        assert_eq!(TokenHash::new(String::new()), None);
    }

    #[test]
    fn the_same_holds_through_the_dynamodb_codec() {
        use serde_dynamo::{AttributeValue, Item};
        let now = Utc::now();
        let revoked = settings(Some(5), now).revoked(now);
        let mut item: Item = serde_dynamo::to_item(&revoked).unwrap();
        assert!(!item.contains_key("token_hash"));
        item.insert("token_hash".into(), AttributeValue::S(String::new()));
        assert_eq!(serde_dynamo::from_item::<_, ScimSettings>(item).unwrap(), revoked);
        let current = settings(Some(5), now);
        let item: Item = serde_dynamo::to_item(&current).unwrap();
        assert_eq!(item.get("token_hash"), Some(&AttributeValue::S("h".into())));
        assert_eq!(serde_dynamo::from_item::<_, ScimSettings>(item).unwrap(), current);
    }
}
