//! The token check's decision: which credential a presented token is, if any, given what was read
//! (docs/ARCHITECTURE.md, "The token check"). Pure: no read, no clock, no memory; the gate
//! (`provisioning::gate`) reads, hashes and remembers around it.
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use crate::auth::{AuthError, Credential};
use crate::domain::health::RefusedCredential;
use crate::domain::{AccessGrant, Retirement, ScimSettings, TokenHash};

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

/// Which credential this organization issued a refused token is, if any (docs/ARCHITECTURE.md,
/// "Connector health"): the current token expired, the previous one past its overlap, one of the
/// retired tokens (by keyed hash), an OAuth access token of an ended grant or past its hour. A
/// token it never issued (or none) is `None`: anyone can send those. Called only once `decide`
/// refused; reads nothing more.
pub fn recognise_refused(
    settings: Option<&ScimSettings>,
    grant: Option<&AccessGrant>,
    presented_hash: &str,
    refusal: AuthError,
    now: DateTime<Utc>,
) -> Option<RefusedCredential> {
    let settings = settings.filter(|s| s.enabled)?;
    let same = |hash: &TokenHash| -> bool { presented_hash.as_bytes().ct_eq(hash.as_str().as_bytes()).into() };
    match refusal {
        AuthError::ExpiredToken => return settings.token_expires_at.map(|at| RefusedCredential::Expired { at }),
        AuthError::ExpiredAccessToken => return Some(RefusedCredential::AccessTokenExpired),
        _ => {}
    }
    if let Some(retired) = settings.retired_tokens.iter().find(|r| same(&r.hash)) {
        return Some(match retired.why {
            Retirement::Replaced => RefusedCredential::Replaced { at: retired.at },
            Retirement::Revoked => RefusedCredential::Revoked { at: retired.at },
        });
    }
    // Settings written before retired tokens were kept: the previous token past its overlap.
    if settings.previous_token.as_ref().is_some_and(|p| same(&p.hash) && !p.is_valid(now)) {
        return Some(RefusedCredential::Replaced { at: settings.token_created_at });
    }
    if grant.is_some_and(|g| g.epoch != settings.grant_epoch) {
        return Some(RefusedCredential::GrantEnded);
    }
    None
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
            retired_tokens: Vec::new(),
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

    fn refused(
        s: &ScimSettings,
        grant: Option<&AccessGrant>,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Option<RefusedCredential> {
        let refusal = decide(Some(s), grant, hash, at).err()?;
        recognise_refused(Some(s), grant, hash, refusal, at)
    }

    #[test]
    fn a_refused_credential_of_the_organization_is_recognised_and_a_stranger_is_not() {
        let s = settings();
        assert_eq!(refused(&s, None, CURRENT, now()), None, "accepted: nothing refused");
        assert_eq!(refused(&s, None, WRONG, now()), None);
        let expiry = now() + Duration::days(29);
        assert_eq!(refused(&s, None, CURRENT, expiry), Some(RefusedCredential::Expired { at: expiry }));
        // The previous token past its overlap: replaced when the current one was made.
        let end = now() + Duration::hours(2);
        assert_eq!(
            refused(&s, None, PREVIOUS, end),
            Some(RefusedCredential::Replaced { at: now() - Duration::days(1) })
        );
        // A rotation retires both static tokens; a revoke after it says revoked.
        let rotated = s.rotated(TokenHash::of_key("c0ffee-newer".into()), TokenWindow::Days30, None, now());
        assert_eq!(refused(&rotated, None, CURRENT, now()), Some(RefusedCredential::Replaced { at: now() }));
        assert_eq!(refused(&rotated, None, PREVIOUS, now()), Some(RefusedCredential::Replaced { at: now() }));
        let later = now() + Duration::hours(1);
        let revoked = rotated.revoked(later);
        assert_eq!(refused(&revoked, None, "c0ffee-newer", later), Some(RefusedCredential::Revoked { at: later }));
        assert_eq!(refused(&revoked, None, CURRENT, later), Some(RefusedCredential::Replaced { at: now() }));
        assert_eq!(refused(&revoked, None, WRONG, later), None);
        // The list is bounded: the oldest retired tokens are forgotten.
        let mut many = s.clone();
        for i in 0..crate::domain::RETIRED_TOKENS + 2 {
            many = many.rotated(TokenHash::of_key(format!("c0ffee-{i}")), TokenWindow::Days30, None, now());
        }
        assert_eq!(many.retired_tokens.len(), crate::domain::RETIRED_TOKENS);
        assert_eq!(refused(&many, None, CURRENT, now()), None);
        // Grants: of an ended epoch, or past their hour.
        assert_eq!(refused(&s, Some(&grant(1)), ACCESS, now()), Some(RefusedCredential::GrantEnded));
        let expires = now() + Duration::hours(1);
        assert_eq!(refused(&s, Some(&grant(2)), ACCESS, expires), Some(RefusedCredential::AccessTokenExpired));
        // Re-enabled after a disable: the token of before is a replaced one.
        let reenabled = ScimSettings::enabled(
            Some(&s.disabled()),
            IdentityProvider::Azure,
            TokenWindow::Days30,
            TokenHash::of_key("c0ffee-reenabled".into()),
            later,
        );
        assert_eq!(refused(&reenabled, None, CURRENT, later), Some(RefusedCredential::Replaced { at: later }));
        assert_eq!(refused(&reenabled, None, "c0ffee-reenabled", later), None);
        // Disabled: nothing is recognised.
        let disabled = with(|s| s.enabled = false);
        assert_eq!(recognise_refused(Some(&disabled), None, CURRENT, AuthError::InvalidToken, now()), None);
    }

    #[test]
    fn a_static_token_wins_over_a_grant_read_beside_it() {
        let s = settings();
        assert_eq!(decide(Some(&s), Some(&grant(2)), CURRENT, now()), Ok(Credential::Current));
        assert_eq!(decide(Some(&s), Some(&grant(2)), PREVIOUS, now()), Ok(Credential::Previous));
    }
}
