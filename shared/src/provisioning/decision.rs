//! The token check's decision: which credential a presented token is, if any, given what was read
//! (docs/ARCHITECTURE.md, "The token check"). Pure: no read, no clock, no memory; the gate
//! (`provisioning::gate`) reads, hashes and remembers around it.
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use crate::auth::{AuthError, Credential};
use crate::domain::{AccessGrant, ScimSettings, TokenHash};

/// The credential the presented token is, or why it is refused (every refusal answers 401).
pub type Decision = Result<Credential, AuthError>;

/// Decides on a presented token, by its keyed hash. Accepted: the current static token, the
/// previous one while its overlap lasts, and an OAuth access token (`grant`: the grant stored under
/// the presented token's keyed hash, read in the same BatchGetItem) of the current grant epoch.
pub fn decide(
    settings: Option<&ScimSettings>,
    grant: Option<&AccessGrant>,
    presented_hash: &str,
    now: DateTime<Utc>,
) -> Decision {
    let settings = settings.filter(|s| s.enabled).ok_or(AuthError::InvalidToken)?;
    // Both static comparisons always run: the time taken does not tell which one matched.
    let current_hash = settings.token_hash.as_ref().map_or("", TokenHash::as_str);
    let current: bool = presented_hash.as_bytes().ct_eq(current_hash.as_bytes()).into();
    let previous_hash = settings.previous_token.as_ref().map_or("", |p| p.hash.as_str());
    let previous: bool = presented_hash.as_bytes().ct_eq(previous_hash.as_bytes()).into();
    if current && settings.has_token() {
        // Expiry is told only to a caller holding the right token.
        if settings.is_expired(now) {
            return Err(AuthError::ExpiredToken);
        }
        return Ok(Credential::Current);
    }
    if previous && settings.revoked_at.is_none() && settings.previous_in_overlap(now).is_some() {
        return Ok(Credential::Previous);
    }
    // The grant was found under the presented token's keyed hash: its key is the comparison.
    if let Some(grant) = grant.filter(|g| g.epoch == settings.grant_epoch) {
        if now >= grant.expires_at {
            return Err(AuthError::ExpiredAccessToken);
        }
        return Ok(Credential::Access(grant.client_id.clone()));
    }
    Err(AuthError::InvalidToken)
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::domain::{ClientId, IdentityProvider, PreviousToken, TokenWindow};

    const CURRENT: &str = "c0ffee-current";
    const PREVIOUS: &str = "c0ffee-previous";
    const ACCESS: &str = "c0ffee-access";
    const WRONG: &str = "c0ffee-wrong";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().unwrap()
    }

    fn settings() -> ScimSettings {
        ScimSettings {
            enabled: true,
            idp: IdentityProvider::Azure,
            token_hash: TokenHash::new(CURRENT.into()),
            token_window: TokenWindow::Days30,
            token_created_at: now() - Duration::days(1),
            token_expires_at: Some(now() + Duration::days(29)),
            version: 3,
            last_auto_refresh_at: None,
            last_refresh_failure: None,
            notices_sent: Vec::new(),
            previous_token: Some(PreviousToken {
                hash: TokenHash::of_key(PREVIOUS.into()),
                created_at: now() - Duration::days(31),
                valid_until: now() + Duration::hours(2),
                expires_at: None,
                last_used_at: None,
                end_entry: None,
            }),
            token_last_used_at: None,
            revoked_at: None,
            grant_epoch: 2,
            auto_refresh: crate::domain::AutoRefresh::On,
        }
    }

    fn client() -> ClientId {
        ClientId::parse("acme.abcdefgh1234").unwrap().0
    }

    fn grant(epoch: u64) -> AccessGrant {
        AccessGrant { client_id: client(), epoch, expires_at: now() + Duration::hours(1), family: None }
    }

    fn with(edit: impl FnOnce(&mut ScimSettings)) -> ScimSettings {
        let mut s = settings();
        edit(&mut s);
        s
    }

    #[test]
    fn no_settings_or_disabled_refuses_every_token() {
        for hash in [CURRENT, PREVIOUS, ACCESS, WRONG] {
            assert_eq!(decide(None, Some(&grant(2)), hash, now()), Err(AuthError::InvalidToken), "{hash}");
            let disabled = with(|s| s.enabled = false);
            assert_eq!(decide(Some(&disabled), Some(&grant(2)), hash, now()), Err(AuthError::InvalidToken), "{hash}");
        }
    }

    #[test]
    fn the_current_token_passes_until_it_expires() {
        let s = settings();
        assert_eq!(decide(Some(&s), None, CURRENT, now()), Ok(Credential::Current));
        let expiry = now() + Duration::days(29);
        assert_eq!(decide(Some(&s), None, CURRENT, expiry - Duration::seconds(1)), Ok(Credential::Current));
        assert_eq!(decide(Some(&s), None, CURRENT, expiry), Err(AuthError::ExpiredToken));
        let never = with(|s| s.token_expires_at = None);
        assert_eq!(decide(Some(&never), None, CURRENT, now() + Duration::days(3650)), Ok(Credential::Current));
    }

    #[test]
    fn expiry_is_told_only_to_the_holder_of_the_token() {
        let expired = with(|s| s.token_expires_at = Some(now() - Duration::seconds(1)));
        assert_eq!(decide(Some(&expired), None, CURRENT, now()), Err(AuthError::ExpiredToken));
        assert_eq!(decide(Some(&expired), None, WRONG, now()), Err(AuthError::InvalidToken));
        // The previous token's overlap is its own: the current one's expiry does not end it.
        assert_eq!(decide(Some(&expired), None, PREVIOUS, now()), Ok(Credential::Previous));
    }

    #[test]
    fn the_previous_token_passes_within_its_overlap_only() {
        let s = settings();
        assert_eq!(decide(Some(&s), None, PREVIOUS, now()), Ok(Credential::Previous));
        let end = now() + Duration::hours(2);
        assert_eq!(decide(Some(&s), None, PREVIOUS, end - Duration::seconds(1)), Ok(Credential::Previous));
        assert_eq!(decide(Some(&s), None, PREVIOUS, end), Err(AuthError::InvalidToken));
        // Its own expiry ends the overlap early.
        let cut = with(|s| {
            if let Some(p) = s.previous_token.as_mut() {
                p.expires_at = Some(now() - Duration::seconds(1));
            }
        });
        assert_eq!(decide(Some(&cut), None, PREVIOUS, now()), Err(AuthError::InvalidToken));
        let none = with(|s| s.previous_token = None);
        assert_eq!(decide(Some(&none), None, PREVIOUS, now()), Err(AuthError::InvalidToken));
    }

    #[test]
    fn a_revoke_refuses_both_static_tokens_but_not_a_grant_of_the_epoch() {
        let revoked = with(|s| {
            s.revoked_at = Some(now());
            s.token_hash = None;
        });
        assert_eq!(decide(Some(&revoked), None, CURRENT, now()), Err(AuthError::InvalidToken));
        assert_eq!(decide(Some(&revoked), None, PREVIOUS, now()), Err(AuthError::InvalidToken));
        // An empty presented hash never matches the empty hash a revoke leaves.
        assert_eq!(decide(Some(&revoked), None, "", now()), Err(AuthError::InvalidToken));
        let revoked_keeping_hash = with(|s| s.revoked_at = Some(now()));
        assert_eq!(decide(Some(&revoked_keeping_hash), None, CURRENT, now()), Err(AuthError::InvalidToken));
        // The epoch decides for grants (a revoke that ends them moves it on).
        assert_eq!(decide(Some(&revoked), Some(&grant(2)), ACCESS, now()), Ok(Credential::Access(client())));
    }

    #[test]
    fn an_unknown_token_is_refused() {
        let s = settings();
        assert_eq!(decide(Some(&s), None, WRONG, now()), Err(AuthError::InvalidToken));
        assert_eq!(decide(Some(&s), None, "", now()), Err(AuthError::InvalidToken));
    }

    #[test]
    fn an_access_grant_passes_in_its_epoch_until_it_expires() {
        let s = settings();
        assert_eq!(decide(Some(&s), Some(&grant(2)), ACCESS, now()), Ok(Credential::Access(client())));
        let expires = now() + Duration::hours(1);
        assert_eq!(
            decide(Some(&s), Some(&grant(2)), ACCESS, expires - Duration::seconds(1)),
            Ok(Credential::Access(client()))
        );
        assert_eq!(decide(Some(&s), Some(&grant(2)), ACCESS, expires), Err(AuthError::ExpiredAccessToken));
        // A grant of an earlier (or any other) epoch is refused as unknown, expired or not.
        assert_eq!(decide(Some(&s), Some(&grant(1)), ACCESS, now()), Err(AuthError::InvalidToken));
        assert_eq!(decide(Some(&s), Some(&grant(3)), ACCESS, now()), Err(AuthError::InvalidToken));
        assert_eq!(decide(Some(&s), Some(&grant(1)), ACCESS, expires), Err(AuthError::InvalidToken));
    }

    #[test]
    fn a_static_token_wins_over_a_grant_read_beside_it() {
        let s = settings();
        assert_eq!(decide(Some(&s), Some(&grant(2)), CURRENT, now()), Ok(Credential::Current));
        assert_eq!(decide(Some(&s), Some(&grant(2)), PREVIOUS, now()), Ok(Credential::Previous));
    }
}
