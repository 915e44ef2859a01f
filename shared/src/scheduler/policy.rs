//! The product rules of a run, without I/O: when a token may be extended, by how much, and which
//! expiry notice is due (seeds: email from 20 days before expiry, at 20, 7 and 1 day(s), and once
//! the token has expired; the lead times are in `lifetimes`).
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::domain::{Organization, ScimRequirement, ScimSettings};
use crate::lifetimes;

/// One expiry notice to owners and co-owners, from the least to the most urgent. Named by its
/// place in the sequence, not by its lead time: a recorded notice keeps its meaning when the lead
/// times in `lifetimes` change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryNotice {
    /// `lifetimes::EXPIRY_WARNING` before (20 days).
    FirstWarning,
    /// `lifetimes::SECOND_NOTICE` before (7 days).
    SecondWarning,
    /// `lifetimes::LAST_NOTICE` before (1 day).
    LastWarning,
    Expired,
}

impl ExpiryNotice {
    pub const ALL: [Self; 4] = [Self::FirstWarning, Self::SecondWarning, Self::LastWarning, Self::Expired];

    /// The notice's name in logs and in the keys that record it as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstWarning => "first_warning",
            Self::SecondWarning => "second_warning",
            Self::LastWarning => "last_warning",
            Self::Expired => "expired",
        }
    }

    /// The name keys stored before notices were named by their place: the lead time of that day.
    /// Frozen (20, 7 and 1 days were the lead times then), whatever `lifetimes` says now.
    fn legacy_name(self) -> &'static str {
        match self {
            Self::FirstWarning => "20d",
            Self::SecondWarning => "7d",
            Self::LastWarning => "1d",
            Self::Expired => "expired",
        }
    }

    /// How long before expiry the notice starts being due (`None`: at expiry).
    fn lead_time(self) -> Option<Duration> {
        match self {
            Self::FirstWarning => Some(lifetimes::EXPIRY_WARNING),
            Self::SecondWarning => Some(lifetimes::SECOND_NOTICE),
            Self::LastWarning => Some(lifetimes::LAST_NOTICE),
            Self::Expired => None,
        }
    }

    /// The most urgent notice whose time has come. A run that missed a threshold (the 20-day one
    /// found on day 19) still sends it; one that missed two sends only the more urgent.
    pub fn due(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> Option<Self> {
        let left = expires_at - now;
        Self::ALL.into_iter().rev().find(|notice| match notice.lead_time() {
            None => left <= Duration::zero(),
            Some(lead) => left <= lead,
        })
    }

    /// The notice this run should send for `settings`, if any: the due one, unless it or a more
    /// urgent one was sent for this token and expiry already (never two notices in one run, never
    /// a milder one after a sterner one).
    pub fn pending(settings: &ScimSettings, now: DateTime<Utc>) -> Option<Self> {
        let due = Self::due(settings.token_expires_at?, now)?;
        let sent_already = Self::ALL.into_iter().filter(|n| *n >= due).any(|n| n.was_sent(settings));
        (!sent_already).then_some(due)
    }

    /// The key that records this notice as sent: it names the token (its creation), the expiry it
    /// warns about and the notice, so a new token or an extended expiry starts afresh.
    pub fn key(self, settings: &ScimSettings) -> Option<String> {
        self.key_named(settings, self.as_str())
    }

    fn key_named(self, settings: &ScimSettings, name: &str) -> Option<String> {
        let expires_at = settings.token_expires_at?;
        Some(format!("{}|{}|{name}", settings.token_created_at.to_rfc3339(), expires_at.to_rfc3339()))
    }

    /// Whether the notice is recorded for this token and expiry (under its key, or the key it had
    /// before notices were named by their place).
    pub fn was_sent(self, settings: &ScimSettings) -> bool {
        [self.as_str(), self.legacy_name()]
            .into_iter()
            .filter_map(|name| self.key_named(settings, name))
            .any(|key| settings.notices_sent.contains(&key))
    }

    /// The keys that record this notice about an OAuth credential (`credential`: what names it, e.g.
    /// `secret:{expiry}`) as sent: the one to write, then the one stored before notices were named
    /// by their place.
    pub fn oauth_keys(self, credential: &str) -> [String; 2] {
        [format!("{credential}:{}", self.as_str()), format!("{credential}:{}", self.legacy_name())]
    }
}

/// Whole days left before expiry, rounded up ("expires in 1 day" when 5 hours are left); 0 once
/// expired.
pub fn days_left(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> u32 {
    let left = expires_at - now;
    if left <= Duration::zero() {
        return 0;
    }
    let whole = left.num_days();
    let days = if Duration::try_days(whole).is_some_and(|d| left > d) { whole + 1 } else { whole };
    u32::try_from(days).unwrap_or(u32::MAX)
}

/// Why the scheduler cannot extend a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshBlocker {
    Unmet(ScimRequirement),
    ScimDisabled,
    /// Provisioning has stopped already; restarting it takes an admin and their passphrase.
    Expired,
    /// An owner turned automatic refresh off.
    TurnedOff,
}

impl RefreshBlocker {
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Unmet(requirement) => requirement.describe(),
            Self::ScimDisabled => "SCIM is disabled for the organization",
            Self::Expired => "the token expired before it could be refreshed automatically",
            Self::TurnedOff => {
                "automatic refresh is turned off for the organization (SCIM page: turn it on, or refresh the token)"
            }
        }
    }
}

/// Everything that stops the automatic refresh of this organization's token now (empty: extend it).
pub fn refresh_blockers(org: &Organization, settings: &ScimSettings, now: DateTime<Utc>) -> Vec<RefreshBlocker> {
    let mut blockers: Vec<_> = org.unmet_scim_requirements().into_iter().map(RefreshBlocker::Unmet).collect();
    if !settings.enabled {
        blockers.push(RefreshBlocker::ScimDisabled);
    }
    if settings.is_expired(now) {
        blockers.push(RefreshBlocker::Expired);
    }
    if !settings.auto_refresh.is_on() {
        blockers.push(RefreshBlocker::TurnedOff);
    }
    blockers
}

/// The failure reason recorded for admins.
pub fn describe_blockers(blockers: &[RefreshBlocker]) -> String {
    let reasons: Vec<_> = blockers.iter().map(RefreshBlocker::describe).collect();
    format!("automatic refresh is not possible: {}", reasons.join("; "))
}

/// Whether owners are emailed about a token that cannot be refreshed. Not when SCIM is disabled:
/// provisioning is off by an admin's choice, and "provisioning stops" would not be true.
pub fn notifies_owners(blockers: &[RefreshBlocker]) -> bool {
    !blockers.contains(&RefreshBlocker::ScimDisabled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IdentityProvider, OrgId, Plan, SsoConfig, TokenHash, TokenWindow};
    use chrono::TimeZone;

    fn created() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 8, 1, 14, 5, 0).unwrap()
    }

    fn settings() -> ScimSettings {
        let hash = TokenHash::new("h".into()).unwrap();
        ScimSettings::enabled(None, IdentityProvider::Okta, TokenWindow::Days90, hash, created())
    }

    fn days_before_expiry(days: i64) -> DateTime<Utc> {
        created() + Duration::days(90) - Duration::days(days)
    }

    fn sent(mut s: ScimSettings, notices: &[ExpiryNotice]) -> ScimSettings {
        s.notices_sent = notices.iter().filter_map(|n| n.key(&s)).collect();
        s
    }

    #[test]
    fn the_due_notice_follows_the_20_7_1_and_expired_thresholds() {
        let expires = settings().token_expires_at.unwrap();
        let due = |days: i64| ExpiryNotice::due(expires, days_before_expiry(days));
        assert_eq!(due(25), None);
        assert_eq!(ExpiryNotice::due(expires, days_before_expiry(20) - Duration::seconds(1)), None);
        assert_eq!(due(20), Some(ExpiryNotice::FirstWarning));
        assert_eq!(due(19), Some(ExpiryNotice::FirstWarning));
        assert_eq!(due(8), Some(ExpiryNotice::FirstWarning));
        assert_eq!(due(7), Some(ExpiryNotice::SecondWarning));
        assert_eq!(due(2), Some(ExpiryNotice::SecondWarning));
        assert_eq!(due(1), Some(ExpiryNotice::LastWarning));
        assert_eq!(due(0), Some(ExpiryNotice::Expired));
        assert_eq!(due(-30), Some(ExpiryNotice::Expired));
    }

    #[test]
    fn each_notice_is_pending_once_and_never_after_a_sterner_one() {
        let s = settings();
        assert_eq!(ExpiryNotice::pending(&s, days_before_expiry(19)), Some(ExpiryNotice::FirstWarning));
        let after_20 = sent(s.clone(), &[ExpiryNotice::FirstWarning]);
        assert_eq!(ExpiryNotice::pending(&after_20, days_before_expiry(19)), None);
        assert_eq!(ExpiryNotice::pending(&after_20, days_before_expiry(7)), Some(ExpiryNotice::SecondWarning));
        // A run "as of" an earlier day does not send the milder notice after the sterner one.
        let after_7 = sent(s.clone(), &[ExpiryNotice::SecondWarning]);
        assert_eq!(ExpiryNotice::pending(&after_7, days_before_expiry(15)), None);
        // Missed the 20 and 7 day runs: only the 1-day notice.
        assert_eq!(ExpiryNotice::pending(&s, days_before_expiry(1)), Some(ExpiryNotice::LastWarning));
        let all = sent(s.clone(), &ExpiryNotice::ALL);
        assert_eq!(ExpiryNotice::pending(&all, days_before_expiry(-10)), None);
        let mut no_expiry = s;
        no_expiry.token_expires_at = None;
        assert_eq!(ExpiryNotice::pending(&no_expiry, days_before_expiry(0)), None);
    }

    #[test]
    fn notice_keys_name_the_token_and_its_expiry() {
        let old = sent(settings(), &[ExpiryNotice::FirstWarning]);
        let mut extended = old.clone();
        extended.token_expires_at = old.extended(created()).and_then(|e| e.token_expires_at);
        assert!(!ExpiryNotice::FirstWarning.was_sent(&extended), "an extended expiry starts afresh");
        let mut new_token = old.clone();
        new_token.token_created_at = created() + Duration::days(1);
        assert!(!ExpiryNotice::FirstWarning.was_sent(&new_token), "a new token starts afresh");
        assert!(ExpiryNotice::FirstWarning.was_sent(&old));
        let key = ExpiryNotice::Expired.key(&old).unwrap();
        assert!(key.ends_with("|expired") && key.starts_with("2026-08-01T14:05:00+00:00|"), "{key}");
        let key = ExpiryNotice::FirstWarning.key(&old).unwrap();
        assert!(key.ends_with("|first_warning"), "named by its place, not by its lead time: {key}");
    }

    #[test]
    fn keys_stored_before_notices_were_named_by_their_place_still_count() {
        let s = settings();
        let prefix = |s: &ScimSettings| {
            format!("{}|{}|", s.token_created_at.to_rfc3339(), s.token_expires_at.unwrap().to_rfc3339())
        };
        for (notice, old_name) in [
            (ExpiryNotice::FirstWarning, "20d"),
            (ExpiryNotice::SecondWarning, "7d"),
            (ExpiryNotice::LastWarning, "1d"),
            (ExpiryNotice::Expired, "expired"),
        ] {
            let mut old = s.clone();
            old.notices_sent = vec![format!("{}{old_name}", prefix(&s))];
            for other in ExpiryNotice::ALL {
                assert_eq!(other.was_sent(&old), other == notice, "{old_name} read as {other:?}");
            }
        }
        // The 20-day notice sent by an earlier version: not pending again on day 19.
        let mut old = s.clone();
        old.notices_sent = vec![format!("{}20d", prefix(&s))];
        assert_eq!(ExpiryNotice::pending(&old, days_before_expiry(19)), None);
        assert_eq!(ExpiryNotice::pending(&old, days_before_expiry(7)), Some(ExpiryNotice::SecondWarning));
        let [new, legacy] = ExpiryNotice::FirstWarning.oauth_keys("secret:2026");
        assert_eq!((new.as_str(), legacy.as_str()), ("secret:2026:first_warning", "secret:2026:20d"));
    }

    #[test]
    fn days_left_round_up_and_stop_at_zero() {
        let expires = settings().token_expires_at.unwrap();
        assert_eq!(days_left(expires, days_before_expiry(20)), 20);
        assert_eq!(days_left(expires, days_before_expiry(20) + Duration::hours(8)), 20);
        assert_eq!(days_left(expires, expires - Duration::hours(5)), 1);
        assert_eq!(days_left(expires, expires - Duration::seconds(1)), 1);
        assert_eq!(days_left(expires, expires), 0);
        assert_eq!(days_left(expires, expires + Duration::days(3)), 0);
    }

    #[test]
    fn blockers_name_every_unmet_requirement_and_the_token_state() {
        let now = days_before_expiry(10);
        let id = OrgId::parse("acme").unwrap();
        let mut org = Organization::new(id, "Acme", Plan::Enterprise, None, created());
        org.verify_domain("acme.example.com").unwrap();
        org.sso = Some(SsoConfig { idp: IdentityProvider::Okta, configured_at: created() });
        assert_eq!(refresh_blockers(&org, &settings(), now), []);

        org.plan = Plan::Team;
        org.sso = None;
        let mut disabled = settings();
        disabled.enabled = false;
        let blockers = refresh_blockers(&org, &disabled, days_before_expiry(0));
        assert_eq!(
            blockers,
            [
                RefreshBlocker::Unmet(ScimRequirement::EnterprisePlan),
                RefreshBlocker::Unmet(ScimRequirement::SsoConfigured),
                RefreshBlocker::ScimDisabled,
                RefreshBlocker::Expired,
            ]
        );
        let reason = describe_blockers(&blockers);
        assert!(reason
            .starts_with("automatic refresh is not possible: the organization must be on the Enterprise plan; SSO"));
        assert!(!notifies_owners(&blockers));
        assert!(notifies_owners(&blockers[..2]));
    }
}
