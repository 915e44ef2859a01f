//! What the SCIM page shows: the state, the token's lifecycle, warnings and the requirements.
//! Built from what is stored, without I/O.
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::scim::HistoryView;
use crate::domain::health::{Health, HealthKind, HealthRecord, RefusedCredential};
use crate::domain::{
    IdentityProvider, OAuthClient, Organization, Plan, RefreshFailure, ScimRequirement, ScimSettings, TokenState,
    TokenWindow,
};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub state: TokenState,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub window: Option<TokenWindow>,
    /// Whole days left, rounded up (None without an expiry).
    pub days_left: Option<i64>,
    /// Whole days since it expired (None unless it has).
    pub expired_days_ago: Option<i64>,
    /// Whole days since the token was issued: automatic refresh extends a token, so this says how
    /// long one secret has lived.
    pub age_days: Option<i64>,
    /// When the token was last presented (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// During a rotation's overlap: the token it replaced, and when it stops.
    pub previous: Option<PreviousTokenView>,
    /// When every token was revoked (none is valid until a new one is generated).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The previous token while its overlap lasts.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreviousTokenView {
    pub created_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The organization's OAuth client for SCIM (never its secret).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClientView {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub secret_expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub authorize_url: String,
    pub token_url: String,
}

impl OAuthClientView {
    pub fn new(client: &OAuthClient, origin: &str) -> Self {
        let origin = origin.trim_end_matches('/');
        Self {
            client_id: client.client_id.as_str().to_owned(),
            redirect_uris: client.redirect_uris.iter().map(|u| u.as_str().to_owned()).collect(),
            created_at: client.created_at,
            secret_expires_at: client.secret_expires_at,
            last_used_at: client.last_used_at,
            authorize_url: format!("{origin}/oauth/authorize"),
            token_url: format!("{origin}/oauth/token"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// `error` (provisioning has stopped), `warning` (act soon) or `info`.
    pub level: &'static str,
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequirementView {
    pub requirement: ScimRequirement,
    pub met: bool,
    pub message: String,
}

/// The SCIM status of an organization. Never holds a token or a token hash.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScimStatus {
    pub org_id: String,
    pub organization_name: String,
    pub enabled: bool,
    /// The IdP SCIM was enabled for.
    pub idp: Option<IdentityProvider>,
    /// The IdP SSO is configured with.
    pub sso_idp: Option<IdentityProvider>,
    pub connector_url: String,
    pub token: TokenView,
    /// When the token scheduler last extended the token.
    pub last_auto_refresh_at: Option<DateTime<Utc>>,
    /// Whether the token scheduler extends the token before it expires (owners may turn it off).
    pub auto_refresh: bool,
    /// Why the scheduler could not extend the current token, if it could not.
    pub last_refresh_failure: Option<FailureView>,
    pub warnings: Vec<Warning>,
    pub requirements: Vec<RequirementView>,
    pub unmet: Vec<ScimRequirement>,
    /// The latest changes, newest first (the history endpoint pages through all of them).
    pub history: Vec<HistoryView>,
    /// The OAuth client for SCIM, if one was created.
    pub oauth_client: Option<OAuthClientView>,
    /// The connector's health (docs/ARCHITECTURE.md, "Connector health"); None while SCIM is off.
    pub health: Option<HealthView>,
}

/// The connector's health as the SCIM page shows it, evaluated at the status's instant from the
/// counters the request log keeps. Never holds a credential.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthView {
    /// `waiting`, `healthy`, `failing_credentials`, `errors`, `quiet` or `throttled`.
    pub state: &'static str,
    /// Since when the stored state has held (None before the first change is stored).
    pub since: Option<DateTime<Utc>>,
    /// `ok`, `warning` (quiet, throttled) or `error` (failing credentials, errors): the banner's level.
    pub level: &'static str,
    pub headline: String,
    /// What to do (empty when healthy).
    pub advice: String,
    /// The refused credential, for failing credentials: `replaced`, `revoked`, `expired`,
    /// `grant_ended` or `access_token_expired`.
    pub credential: Option<&'static str>,
    /// The request log's `status` filter that lists the requests at fault.
    pub log_filter: Option<&'static str>,
    /// The most frequent failure reasons in the last hour, for errors ("409 uniqueness").
    pub top_reasons: Vec<ReasonView>,
    /// Requests with unknown tokens (or none) in the last hour: anyone can send them, so they are
    /// only counted.
    pub unknown_tokens: u64,
    pub last_call_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonView {
    pub reason: String,
    pub count: u64,
}

impl HealthView {
    /// `record`: the health item (None before the IdP's first request); `idp`: as people write it;
    /// `budget`: the organization's fair-use budget (per second, burst).
    pub fn new(record: Option<&HealthRecord>, idp: &str, budget: (u32, u32), now: DateTime<Utc>) -> Self {
        let empty = HealthRecord::default();
        let record = record.unwrap_or(&empty);
        let health = record.evaluate(now);
        let kind = health.kind();
        let level = match kind {
            HealthKind::Waiting | HealthKind::Healthy => "ok",
            HealthKind::Quiet | HealthKind::Throttled => "warning",
            HealthKind::FailingCredentials | HealthKind::Errors => "error",
        };
        let credential = match &health {
            Health::FailingCredentials { credential, .. } => Some(match credential {
                RefusedCredential::Replaced { .. } => "replaced",
                RefusedCredential::Revoked { .. } => "revoked",
                RefusedCredential::Expired { .. } => "expired",
                RefusedCredential::GrantEnded => "grant_ended",
                RefusedCredential::AccessTokenExpired => "access_token_expired",
            }),
            _ => None,
        };
        let top_reasons = match &health {
            Health::Errors { top_reasons, .. } => {
                top_reasons.iter().map(|(reason, count)| ReasonView { reason: reason.clone(), count: *count }).collect()
            }
            _ => Vec::new(),
        };
        Self {
            state: kind.as_str(),
            // The stored state's time while it is the one shown; a state not yet stored starts now.
            since: if record.state == Some(kind) { record.since } else { Some(now).filter(|_| record.state.is_some()) },
            level,
            headline: health.headline(idp),
            advice: health.advice(idp, budget),
            credential,
            log_filter: health.log_filter(),
            top_reasons,
            unknown_tokens: record.unknown_tokens(now),
            last_call_at: record.last_call_at,
            last_success_at: record.last_success_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureView {
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl From<&RefreshFailure> for FailureView {
    fn from(failure: &RefreshFailure) -> Self {
        Self { reason: failure.reason.clone(), at: failure.at }
    }
}

fn days_left(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let seconds = (expires_at - now).num_seconds();
    if seconds <= 0 {
        0
    } else {
        (seconds + 86_399) / 86_400
    }
}

fn date(at: DateTime<Utc>) -> String {
    at.format("%B %-d, %Y at %H:%M UTC").to_string()
}

/// Each requirement, met or not, for a caller who is (`caller_is_admin`) or is not an admin.
pub fn requirements(
    org: &Organization,
    settings: Option<&ScimSettings>,
    caller_is_admin: bool,
) -> Vec<RequirementView> {
    let view = |requirement: ScimRequirement, met: bool, message: String| RequirementView { requirement, met, message };
    let describe = |r: ScimRequirement| r.describe().to_owned();
    let confirmed = settings.map(|s| s.idp);
    let idp = match (confirmed, org.sso.as_ref().map(|s| s.idp)) {
        (Some(confirmed), Some(sso)) if confirmed == sso => {
            view(ScimRequirement::IdpConfirmed, true, format!("confirmed: SSO and SCIM use {confirmed}"))
        }
        (Some(confirmed), Some(sso)) => view(
            ScimRequirement::IdpConfirmed,
            false,
            format!("SCIM was set up for {confirmed}, but SSO is configured with {sso}: confirm {sso}"),
        ),
        _ => view(ScimRequirement::IdpConfirmed, false, describe(ScimRequirement::IdpConfirmed)),
    };
    vec![
        view(ScimRequirement::EnterprisePlan, org.plan == Plan::Enterprise, describe(ScimRequirement::EnterprisePlan)),
        view(ScimRequirement::OwnerOrCoOwner, caller_is_admin, describe(ScimRequirement::OwnerOrCoOwner)),
        view(
            ScimRequirement::VerifiedDomain,
            !org.verified_domains.is_empty(),
            describe(ScimRequirement::VerifiedDomain),
        ),
        view(ScimRequirement::SsoConfigured, org.sso.is_some(), describe(ScimRequirement::SsoConfigured)),
        idp,
    ]
}

fn warnings(org: &Organization, settings: Option<&ScimSettings>, now: DateTime<Utc>) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let Some(settings) = settings else { return warnings };
    if !settings.enabled {
        warnings.push(Warning {
            level: "info",
            code: "scim_disabled",
            message: "SCIM is disabled: every SCIM request of this organization is refused (401). Enabling it again \
                      issues a new token."
                .into(),
        });
        return warnings;
    }
    if !settings.has_token() {
        warnings.push(Warning {
            level: "error",
            code: "tokens_revoked",
            message: "Every SCIM token and OAuth grant was revoked, and the OAuth client with them: provisioning is \
                      refused (401) until you generate a new token, or create a new OAuth client and enter it in your \
                      identity provider."
                .into(),
        });
        return warnings;
    }
    let failure = settings.refresh_warning();
    let unmet = org.unmet_scim_requirements();
    let unmet_text = unmet.iter().map(|r| r.describe()).collect::<Vec<_>>().join("; ");
    let cannot_auto_refresh = !unmet.is_empty() || failure.is_some();
    match (settings.token_state(now), settings.token_expires_at) {
        (TokenState::Expired, Some(at)) => warnings.push(Warning {
            level: "error",
            code: "token_expired",
            message: format!(
                "The SCIM token expired on {}: provisioning has stopped (your identity provider gets 401 on every \
                 request). Refresh the token with your passphrase and paste the new one into your identity provider.",
                date(at)
            ),
        }),
        (TokenState::ExpiringSoon, Some(at)) => {
            let days = days_left(at, now);
            let plural = if days == 1 { "" } else { "s" };
            let next = if cannot_auto_refresh {
                "It could not be refreshed automatically: refresh it with your passphrase, then update it in your \
                 identity provider."
            } else {
                "It is refreshed automatically before then while the organization meets the SCIM requirements."
            };
            warnings.push(Warning {
                level: "warning",
                code: "token_expiring_soon",
                message: format!("The SCIM token expires in {days} day{plural}, on {}. {next}", date(at)),
            });
        }
        _ => {}
    }
    if let Some(failure) = failure {
        warnings.push(Warning {
            level: "warning",
            code: "auto_refresh_failed",
            message: format!(
                "The automatic token refresh failed on {}: {}.",
                date(failure.at),
                failure.reason.trim_end_matches('.')
            ),
        });
    }
    if !unmet.is_empty() {
        warnings.push(Warning {
            level: "warning",
            code: "requirements_unmet",
            message: format!(
                "The organization no longer meets every SCIM requirement ({unmet_text}); the token cannot be \
                 refreshed automatically until it does."
            ),
        });
    }
    if let Some(sso) = org.sso.as_ref().filter(|sso| sso.idp != settings.idp) {
        warnings.push(Warning {
            level: "warning",
            code: "idp_mismatch",
            message: format!("SCIM was enabled for {}, but SSO is now configured with {}.", settings.idp, sso.idp),
        });
    }
    warnings
}

/// The status of `org` as `caller_is_admin` sees it at `now`.
pub fn build_status(
    org: &Organization,
    settings: Option<&ScimSettings>,
    caller_is_admin: bool,
    connector_url: String,
    history: Vec<HistoryView>,
    now: DateTime<Utc>,
) -> ScimStatus {
    let live = settings.filter(|s| s.enabled);
    let none = TokenView {
        state: TokenState::None,
        created_at: None,
        expires_at: None,
        window: None,
        days_left: None,
        expired_days_ago: None,
        age_days: None,
        last_used_at: None,
        previous: None,
        revoked_at: None,
    };
    let token = match live {
        Some(s) if !s.has_token() => TokenView { revoked_at: s.revoked_at, ..none },
        Some(s) => TokenView {
            state: s.token_state(now),
            created_at: Some(s.token_created_at),
            expires_at: s.token_expires_at,
            window: Some(s.token_window),
            days_left: s.token_expires_at.map(|at| days_left(at, now)),
            expired_days_ago: s.token_expires_at.filter(|at| *at <= now).map(|at| (now - at).num_days()),
            age_days: Some((now - s.token_created_at).num_days().max(0)),
            last_used_at: s.token_last_used_at,
            previous: s.previous_in_overlap(now).map(|p| PreviousTokenView {
                created_at: p.created_at,
                valid_until: p.valid_until,
                last_used_at: p.last_used_at,
            }),
            revoked_at: None,
        },
        None => none,
    };
    let requirements = requirements(org, settings, caller_is_admin);
    let unmet = requirements.iter().filter(|r| !r.met).map(|r| r.requirement).collect();
    ScimStatus {
        org_id: org.id.to_string(),
        organization_name: org.name.clone(),
        enabled: live.is_some(),
        idp: settings.map(|s| s.idp),
        sso_idp: org.sso.as_ref().map(|s| s.idp),
        connector_url,
        token,
        warnings: warnings(org, settings, now),
        last_auto_refresh_at: settings.and_then(|s| s.last_auto_refresh_at),
        auto_refresh: settings.is_none_or(|s| s.auto_refresh.is_on()),
        last_refresh_failure: live.and_then(ScimSettings::refresh_warning).map(FailureView::from),
        requirements,
        unmet,
        history,
        oauth_client: None,
        health: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{OrgId, SsoConfig};
    use chrono::Duration;

    fn org(plan: Plan) -> Organization {
        let mut org = Organization::new(OrgId::parse("acme").unwrap(), "Acme", plan, None, Utc::now());
        org.verify_domain("acme.com").unwrap();
        org.sso = Some(SsoConfig { idp: IdentityProvider::Okta, configured_at: Utc::now() });
        org
    }

    /// Through the codec, so fields other concerns add (optional ones) need no change here.
    fn settings(expires_in: Option<Duration>, now: DateTime<Utc>) -> ScimSettings {
        serde_json::from_value(serde_json::json!({
            "enabled": true,
            "idp": "okta",
            "token_hash": "secret-hash",
            "token_window": "30d",
            "token_created_at": now,
            "token_expires_at": expires_in.map(|d| now + d),
            "version": 1,
        }))
        .unwrap()
    }

    fn codes(status: &ScimStatus) -> Vec<&'static str> {
        status.warnings.iter().map(|w| w.code).collect()
    }

    #[test]
    fn a_fresh_organization_has_no_token_and_one_unmet_requirement() {
        let now = Utc::now();
        let status = build_status(&org(Plan::Enterprise), None, true, "u".into(), Vec::new(), now);
        assert!(!status.enabled);
        assert_eq!(status.token.state, TokenState::None);
        assert_eq!(status.unmet, vec![ScimRequirement::IdpConfirmed]);
        assert!(status.warnings.is_empty());
    }

    #[test]
    fn token_states_and_their_warnings() {
        let now = Utc::now();
        let org = org(Plan::Enterprise);
        let valid = build_status(&org, Some(&settings(Some(Duration::days(25)), now)), true, "u".into(), vec![], now);
        assert_eq!(valid.token.state, TokenState::Valid);
        assert_eq!(valid.token.days_left, Some(25));
        assert!(valid.warnings.is_empty());
        assert!(valid.unmet.is_empty());

        let soon = build_status(&org, Some(&settings(Some(Duration::days(5)), now)), true, "u".into(), vec![], now);
        assert_eq!(soon.token.state, TokenState::ExpiringSoon);
        assert_eq!(codes(&soon), ["token_expiring_soon"]);
        assert!(soon.warnings[0].message.contains("expires in 5 days"), "{}", soon.warnings[0].message);
        assert!(soon.warnings[0].message.contains("refreshed automatically"));

        let expired = build_status(&org, Some(&settings(Some(-Duration::days(1)), now)), true, "u".into(), vec![], now);
        assert_eq!(expired.token.state, TokenState::Expired);
        assert_eq!(expired.warnings[0].level, "error");

        let forever = build_status(&org, Some(&settings(None, now)), true, "u".into(), vec![], now);
        assert_eq!(forever.token.state, TokenState::NoExpiry);
        assert_eq!(forever.token.days_left, None);
    }

    #[test]
    fn an_expiring_token_that_cannot_be_refreshed_says_so() {
        let now = Utc::now();
        let team = org(Plan::Team);
        let status = build_status(&team, Some(&settings(Some(Duration::days(3)), now)), true, "u".into(), vec![], now);
        assert_eq!(codes(&status), ["token_expiring_soon", "requirements_unmet"]);
        assert!(status.warnings[0].message.contains("could not be refreshed automatically"));
        assert_eq!(status.unmet, vec![ScimRequirement::EnterprisePlan]);
    }

    #[test]
    fn a_refresh_failure_of_the_current_token_is_shown() {
        let now = Utc::now();
        let mut failing = settings(Some(Duration::days(4)), now);
        failing.last_refresh_failure = Some(RefreshFailure { reason: "no verified domain".into(), at: now });
        let status = build_status(&org(Plan::Enterprise), Some(&failing), true, "u".into(), vec![], now);
        assert_eq!(codes(&status), ["token_expiring_soon", "auto_refresh_failed"]);
        assert!(status.warnings[0].message.contains("could not be refreshed automatically"));
        assert!(status.warnings[1].message.contains("no verified domain"));
        assert_eq!(status.last_refresh_failure.unwrap().reason, "no verified domain");
    }

    #[test]
    fn an_expired_token_says_how_long_ago_and_every_token_its_age() {
        let now = Utc::now();
        let mut expired = settings(Some(Duration::days(30)), now - Duration::days(33));
        expired.token_created_at = now - Duration::days(33);
        let status = build_status(&org(Plan::Enterprise), Some(&expired), true, "u".into(), vec![], now);
        assert_eq!(status.token.state, TokenState::Expired);
        assert_eq!(status.token.expired_days_ago, Some(3));
        assert_eq!(status.token.age_days, Some(33));
        let valid = settings(Some(Duration::days(30)), now);
        let status = build_status(&org(Plan::Enterprise), Some(&valid), true, "u".into(), vec![], now);
        assert_eq!((status.token.expired_days_ago, status.token.age_days), (None, Some(0)));
    }

    #[test]
    fn a_disabled_organization_shows_no_token() {
        let now = Utc::now();
        let disabled = ScimSettings { enabled: false, ..settings(Some(Duration::days(50)), now) };
        let status = build_status(&org(Plan::Enterprise), Some(&disabled), true, "u".into(), vec![], now);
        assert!(!status.enabled);
        assert_eq!(status.token.state, TokenState::None);
        assert_eq!(codes(&status), ["scim_disabled"]);
        let text = serde_json::to_string(&status).unwrap();
        assert!(!text.contains("secret-hash"), "{text}");
    }

    #[test]
    fn days_round_up() {
        let now = Utc::now();
        assert_eq!(days_left(now + Duration::hours(1), now), 1);
        assert_eq!(days_left(now + Duration::days(2), now), 2);
        assert_eq!(days_left(now - Duration::days(2), now), 0);
    }
}
