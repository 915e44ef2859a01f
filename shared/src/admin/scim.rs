//! SCIM enablement and the token lifecycle, as the console drives them: status, enable, manual
//! refresh (with the caller's passphrase), disable, and the history of those changes.
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::authz::OrgCaller;
use super::confirm::ConfirmedByPassphrase;
use super::cursor::Cursor;
use super::status::{build_status, requirements, HealthView, OAuthClientView, ScimStatus, Warning};
use super::{AdminError, Console, Unmet};
use crate::auth::AuthorizedOrg;
use crate::domain::{
    AutoRefresh, GrantFamily, IdentityProvider, OAuthClient, OrgId, Organization, ScimRequirement, ScimSettings,
    TokenState, TokenWindow,
};
use crate::enablement::{enable_scim, EnableError};
use crate::lifetimes;
use crate::store::{GuardedAction, ScimHistoryAction, ScimHistoryEntry};

/// Changes shown with the status; the history endpoint pages through the rest.
const STATUS_HISTORY: i32 = 10;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub at: DateTime<Utc>,
    pub action: ScimHistoryAction,
    /// The account that made the change; None for the automatic refresh.
    pub actor: Option<String>,
    pub idp: Option<IdentityProvider>,
    pub window: Option<TokenWindow>,
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Of an automatic extension: the expiry it replaced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_token_expires_at: Option<DateTime<Utc>>,
    /// Of a rotation with overlap: until when the previous token works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlap_until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Of a refused passphrase: the change it was given for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempted: Option<GuardedAction>,
}

impl From<ScimHistoryEntry> for HistoryView {
    fn from(entry: ScimHistoryEntry) -> Self {
        Self {
            at: entry.at,
            action: entry.action,
            actor: entry.actor.map(String::from),
            idp: entry.idp,
            window: entry.window,
            previous_token_expires_at: entry.previous_token_expires_at,
            token_expires_at: entry.token_expires_at,
            overlap_until: entry.overlap_until,
            client_id: entry.client_id,
            attempted: entry.attempted,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    pub history: Vec<HistoryView>,
    pub next_cursor: Option<String>,
}

/// The answer of enable and refresh: the only time a token is ever shown. `Debug` hides it.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedTokenView {
    pub org_id: String,
    pub connector_url: String,
    pub token: String,
    pub idp: IdentityProvider,
    pub window: TokenWindow,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub token_state: TokenState,
    pub message: &'static str,
}

impl fmt::Debug for IssuedTokenView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedTokenView")
            .field("org_id", &self.org_id)
            .field("connector_url", &self.connector_url)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

const SHOWN_ONCE: &str = "Copy the token now: it is shown only this once and cannot be retrieved later. Paste the \
                          connector URL and the token into your identity provider's SCIM provisioning settings.";

/// The overlap-end entry recorded ahead for an overlap that has not ended at `now`: a change that
/// ends the overlap early removes it (its own entry says what happened).
/// New enabled settings and the history entry that records the change (`moved`: a scheduled
/// overlap end the change removes, as `write_scim_settings_with_entries` takes it).
struct SettingsChange {
    next: ScimSettings,
    entry: ScimHistoryEntry,
    moved: Option<(DateTime<Utc>, String)>,
}

pub(super) fn scheduled_end_moved(settings: &ScimSettings, now: DateTime<Utc>) -> Option<(DateTime<Utc>, String)> {
    let previous = settings.previous_token.as_ref().filter(|p| p.valid_until > now)?;
    previous.end_entry.clone().map(|id| (previous.valid_until, id))
}

/// What can still expire in an OAuth connection, 20 days ahead: the client secret, and a refresh
/// token its IdP stopped using (one that keeps refreshing renews its lifetime and needs nothing).
fn oauth_warnings(client: &OAuthClient, families: &[GrantFamily], now: DateTime<Utc>) -> Vec<Warning> {
    let soon = now + lifetimes::EXPIRY_WARNING;
    let date = |at: DateTime<Utc>| at.format("%B %-d, %Y at %H:%M UTC").to_string();
    let mut warnings = Vec::new();
    if client.secret_expires_at <= soon {
        let (level, verb) = if client.secret_expires_at <= now { ("error", "expired") } else { ("warning", "expires") };
        warnings.push(Warning {
            level,
            code: "oauth_client_secret_expiring",
            message: format!(
                "The OAuth client secret {verb} on {}: create a new OAuth client and enter it in your identity provider.",
                date(client.secret_expires_at)
            ),
        });
    }
    let stale = families
        .iter()
        .filter(|f| f.client_id == client.client_id && f.revoked_at.is_none())
        .filter(|f| f.refresh_expires_at > now && f.refresh_expires_at <= soon)
        .map(|f| f.refresh_expires_at)
        .min();
    if let Some(at) = stale {
        warnings.push(Warning {
            level: "warning",
            code: "oauth_refresh_token_expiring",
            message: format!(
                "Your identity provider has not renewed its OAuth access for a long time: its refresh token expires on \
                 {}. Authenticate the connection again in the identity provider before then.",
                date(at)
            ),
        });
    }
    warnings
}

pub fn connector_url(origin: &str, org: &OrgId) -> String {
    format!("{}/scim/v2/orgs/{org}", origin.trim_end_matches('/'))
}

fn enable_refused(err: EnableError) -> AdminError {
    match err {
        EnableError::UnknownOrganization(org) => AdminError::OrganizationGone(org.to_string()),
        EnableError::Unmet(unmet) => AdminError::RequirementsUnmet(unmet.into_iter().map(Unmet::new).collect()),
        EnableError::IdpMismatch { configured, confirmed } => AdminError::RequirementsUnmet(vec![Unmet {
            requirement: ScimRequirement::IdpConfirmed,
            message: format!("SSO is configured with {configured}, not {confirmed}: confirm {configured}"),
        }]),
        EnableError::Store(err) => err.into(),
    }
}

impl Console {
    pub(super) async fn organization_of(&self, org: &AuthorizedOrg) -> Result<Organization, AdminError> {
        let found = self.store.organization(org).await?;
        found.map(|(org, _)| org).ok_or_else(|| AdminError::OrganizationGone(org.to_string()))
    }

    async fn latest_history(&self, org: &AuthorizedOrg) -> Result<Vec<HistoryView>, AdminError> {
        let (entries, _) = self.store.scim_history_page(org, None, STATUS_HISTORY).await?;
        Ok(entries.into_iter().filter(|e| e.at <= self.now).map(HistoryView::from).collect())
    }

    pub async fn scim_status(&self, caller: &OrgCaller, origin: &str) -> Result<ScimStatus, AdminError> {
        caller.require_admin()?;
        let (org, settings, history, client, families, health, budget) = tokio::try_join!(
            self.organization_of(&caller.org),
            async { self.store.scim_settings(&caller.org).await.map_err(AdminError::from) },
            self.latest_history(&caller.org),
            async { self.store.oauth_client(&caller.org).await.map_err(AdminError::from) },
            async { self.store.oauth_families(&caller.org).await.map_err(AdminError::from) },
            async { self.store.health(&caller.org).await.map_err(AdminError::from) },
            async { self.store.rate_budget(&caller.org).await.map_err(AdminError::from) },
        )?;
        let url = connector_url(origin, &caller.org);
        let mut status = build_status(&org, settings.as_ref(), true, url, history, self.now);
        if let Some(live) = settings.as_ref().filter(|s| s.enabled) {
            let idp = crate::provisioning::health::idp_name(Some(live.idp));
            let budget = budget.unwrap_or(crate::provisioning::fair_use::DEFAULT_BUDGET);
            let record = health.as_ref().map(|h| &h.record);
            status.health = Some(HealthView::new(record, idp, (budget.per_second, budget.burst), self.now));
        }
        // A client of an earlier grant epoch (before a revoke or disable) no longer works: not shown.
        let live = |c: &OAuthClient| settings.as_ref().is_some_and(|s| s.enabled && s.grant_epoch == c.epoch);
        if let Some(client) = client.filter(live) {
            status.warnings.extend(oauth_warnings(&client, &families, self.now));
            status.oauth_client = Some(OAuthClientView::new(&client, origin));
        }
        Ok(status)
    }

    /// Enables SCIM with a new token, for a caller who gave their passphrase (the first enable
    /// issues a token too). Refused, naming every unmet requirement at once, unless the
    /// organization is on Enterprise with a verified domain and SSO, the caller is an Owner or
    /// Co-Owner, and the caller confirms the IdP that SSO is configured with (`idp`: None when the
    /// caller confirmed none).
    pub async fn enable_scim(
        &self,
        confirmed: &ConfirmedByPassphrase,
        idp: Option<IdentityProvider>,
        window: TokenWindow,
        origin: &str,
    ) -> Result<IssuedTokenView, AdminError> {
        let caller = confirmed.caller();
        let org = self.organization_of(&caller.org).await?;
        let mut unmet: Vec<Unmet> = requirements(&org, None, caller.is_admin())
            .into_iter()
            .filter(|r| !r.met && r.requirement != ScimRequirement::IdpConfirmed)
            .map(|r| Unmet { requirement: r.requirement, message: r.message })
            .collect();
        match (idp, org.sso.as_ref()) {
            (None, _) => unmet.push(Unmet::new(ScimRequirement::IdpConfirmed)),
            (Some(confirmed), Some(sso)) if sso.idp != confirmed => unmet.push(Unmet {
                requirement: ScimRequirement::IdpConfirmed,
                message: format!("SSO is configured with {}, not {confirmed}: confirm {}", sso.idp, sso.idp),
            }),
            _ => {}
        }
        let Some(idp) = idp.filter(|_| unmet.is_empty()) else {
            return Err(AdminError::RequirementsUnmet(unmet));
        };
        if self.store.scim_settings(&caller.org).await?.is_some_and(|s| s.enabled) {
            return Err(AdminError::AlreadyEnabled);
        }
        let token =
            enable_scim(&self.store, &self.key, &caller.org, idp, window, self.now).await.map_err(enable_refused)?;
        let expires_at = window.expiry_from(self.now);
        let mut entry = ScimHistoryEntry::new(ScimHistoryAction::Enabled, Some(confirmed.email().clone()), self.now);
        entry.idp = Some(idp);
        entry.window = Some(window);
        entry.token_expires_at = expires_at;
        // The settings are written by the shared enablement; the entry follows. Should it fail,
        // the token is still handed out (it works and would otherwise be lost).
        if let Err(err) = self.store.append_scim_history(&caller.org, &entry).await {
            tracing::error!(org = %caller.org, error = %crate::telemetry::Chain(&err), "recording SCIM enablement in the history failed");
        }
        tracing::info!(org = %caller.org, idp = %idp, window = window.as_str(), "SCIM enabled from the console");
        Ok(IssuedTokenView {
            org_id: caller.org.to_string(),
            connector_url: connector_url(origin, &caller.org),
            token: token.reveal().to_owned(),
            idp,
            window,
            created_at: self.now,
            expires_at,
            token_state: if expires_at.is_some() { TokenState::Valid } else { TokenState::NoExpiry },
            message: SHOWN_ONCE,
        })
    }

    /// Issues a new token after checking the caller's passphrase (a wrong one changes nothing), with
    /// `window` (the current one when None). With `overlap_hours` (0–24, default 0) the token it
    /// replaces keeps working until the overlap ends, so the IdP can be updated without a gap; with 0
    /// it stops at once. At most two static tokens are valid at once: a token still in an earlier
    /// overlap stops now. The connector URL stays.
    pub async fn refresh_scim_token(
        &self,
        confirmed: &ConfirmedByPassphrase,
        window: Option<TokenWindow>,
        overlap_hours: Option<u32>,
        origin: &str,
    ) -> Result<IssuedTokenView, AdminError> {
        let caller = confirmed.caller();
        let overlap_hours = overlap_hours.unwrap_or(0);
        let overlap = Duration::hours(i64::from(overlap_hours));
        if overlap > lifetimes::MAX_OVERLAP {
            return Err(AdminError::InvalidRequest(format!(
                "`overlapHours` must be 0 to {} (hours the previous token keeps working).",
                lifetimes::MAX_OVERLAP.num_hours()
            )));
        }

        let (org, previous) = tokio::try_join!(self.organization_of(&caller.org), async {
            self.store.scim_settings(&caller.org).await.map_err(AdminError::from)
        })?;
        let unmet = org.unmet_scim_requirements();
        if !unmet.is_empty() {
            return Err(AdminError::RefreshBlocked(unmet.into_iter().map(Unmet::new).collect()));
        }
        let previous = previous.filter(|s| s.enabled).ok_or(AdminError::NotEnabled)?;
        let window = window.unwrap_or(previous.token_window);
        let (token, token_hash) = self.key.issue();
        let expires_at = window.expiry_from(self.now);
        let mut entry =
            ScimHistoryEntry::new(ScimHistoryAction::TokenRefreshed, Some(confirmed.email().clone()), self.now);
        entry.idp = Some(previous.idp);
        entry.window = Some(window);
        entry.token_expires_at = expires_at;
        // The token it replaces, kept for the overlap (only a token that still works now), with the
        // history entry of the overlap's end recorded ahead.
        let kept = (overlap_hours > 0)
            .then(|| ScimHistoryEntry::new(ScimHistoryAction::OverlapEnded, None, self.now + overlap))
            .and_then(|end| Some((previous.kept_until(end.at, end.id.clone(), self.now)?, end)));
        entry.overlap_until = kept.as_ref().map(|(kept, _)| kept.valid_until);
        let (kept, end) = kept.unzip();
        let entries: Vec<ScimHistoryEntry> = std::iter::once(entry).chain(end).collect();
        let next = previous.rotated(token_hash, window, kept, self.now);
        let moved = scheduled_end_moved(&previous, self.now);
        self.store
            .write_scim_settings_with_entries(&caller.org, &next, Some(previous.version), &entries, moved)
            .await?;
        tracing::info!(org = %caller.org, window = window.as_str(), overlap_hours, "SCIM token refreshed from the console");
        Ok(IssuedTokenView {
            org_id: caller.org.to_string(),
            connector_url: connector_url(origin, &caller.org),
            token: token.reveal().to_owned(),
            idp: previous.idp,
            window,
            created_at: self.now,
            expires_at,
            token_state: next.token_state(self.now),
            message: SHOWN_ONCE,
        })
    }

    /// Revokes every credential of the organization at once (after the caller's passphrase): the
    /// current token, the previous one in its overlap, and every OAuth grant (the grant epoch moves
    /// on). SCIM stays enabled with no valid token until a new one is generated (refresh).
    pub async fn revoke_scim_tokens(
        &self,
        confirmed: &ConfirmedByPassphrase,
        origin: &str,
    ) -> Result<ScimStatus, AdminError> {
        let caller = confirmed.caller();
        let (org, previous) = tokio::try_join!(self.organization_of(&caller.org), async {
            self.store.scim_settings(&caller.org).await.map_err(AdminError::from)
        })?;
        let previous = previous.filter(|s| s.enabled).ok_or(AdminError::NotEnabled)?;
        let next = previous.revoked(self.now);
        let mut entry =
            ScimHistoryEntry::new(ScimHistoryAction::TokensRevoked, Some(confirmed.email().clone()), self.now);
        entry.idp = Some(previous.idp);
        let moved = scheduled_end_moved(&previous, self.now);
        self.store
            .write_scim_settings_with_entries(&caller.org, &next, Some(previous.version), &[entry], moved)
            .await?;
        tracing::info!(org = %caller.org, "every SCIM token and OAuth grant revoked from the console");
        let history = self.latest_history(&caller.org).await?;
        Ok(build_status(&org, Some(&next), true, connector_url(origin, &caller.org), history, self.now))
    }

    /// Turns SCIM off (after the caller's passphrase): every SCIM request of the organization is
    /// refused until it is enabled again, with a new token.
    pub async fn disable_scim(
        &self,
        confirmed: &ConfirmedByPassphrase,
        origin: &str,
    ) -> Result<ScimStatus, AdminError> {
        let status = self
            .change_enabled_settings(confirmed, origin, |previous| {
                let entry = self.history_entry(confirmed, ScimHistoryAction::Disabled, previous);
                Some(SettingsChange {
                    next: previous.disabled(),
                    entry,
                    moved: scheduled_end_moved(previous, self.now),
                })
            })
            .await?;
        tracing::info!(org = %confirmed.caller().org, "SCIM disabled from the console");
        Ok(status)
    }

    /// Turns the token scheduler's automatic refresh of this organization's token on or off.
    pub async fn set_auto_refresh(
        &self,
        confirmed: &ConfirmedByPassphrase,
        origin: &str,
        auto_refresh: AutoRefresh,
    ) -> Result<ScimStatus, AdminError> {
        let status = self
            .change_enabled_settings(confirmed, origin, |previous| {
                if previous.auto_refresh == auto_refresh {
                    return None;
                }
                let action = match auto_refresh {
                    AutoRefresh::On => ScimHistoryAction::AutoRefreshOn,
                    AutoRefresh::Off => ScimHistoryAction::AutoRefreshOff,
                };
                let mut entry = self.history_entry(confirmed, action, previous);
                entry.token_expires_at = previous.token_expires_at;
                Some(SettingsChange { next: previous.with_auto_refresh(auto_refresh), entry, moved: None })
            })
            .await?;
        tracing::info!(org = %confirmed.caller().org, auto_refresh = auto_refresh.is_on(), "automatic refresh set from the console");
        Ok(status)
    }

    /// A history entry of `action` by the confirmed caller, on the IdP of `previous`.
    fn history_entry(
        &self,
        confirmed: &ConfirmedByPassphrase,
        action: ScimHistoryAction,
        previous: &ScimSettings,
    ) -> ScimHistoryEntry {
        let mut entry = ScimHistoryEntry::new(action, Some(confirmed.email().clone()), self.now);
        entry.idp = Some(previous.idp);
        entry
    }

    /// The prelude and the end that the changes of enabled settings share: reads the organization
    /// and its settings (`NotEnabled` unless enabled), asks `change` for the new settings and their
    /// history entry (none: nothing to change), writes both in one transaction conditioned on the
    /// version read, and answers the status.
    async fn change_enabled_settings(
        &self,
        confirmed: &ConfirmedByPassphrase,
        origin: &str,
        change: impl FnOnce(&ScimSettings) -> Option<SettingsChange>,
    ) -> Result<ScimStatus, AdminError> {
        let caller = confirmed.caller();
        let (org, previous) = tokio::try_join!(self.organization_of(&caller.org), async {
            self.store.scim_settings(&caller.org).await.map_err(AdminError::from)
        })?;
        let previous = previous.filter(|s| s.enabled).ok_or(AdminError::NotEnabled)?;
        let settings = match change(&previous) {
            None => previous,
            Some(SettingsChange { next, entry, moved }) => {
                self.store
                    .write_scim_settings_with_entries(&caller.org, &next, Some(previous.version), &[entry], moved)
                    .await?;
                next
            }
        };
        let history = self.latest_history(&caller.org).await?;
        Ok(build_status(&org, Some(&settings), true, connector_url(origin, &caller.org), history, self.now))
    }

    pub async fn scim_history(
        &self,
        caller: &OrgCaller,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<HistoryPage, AdminError> {
        caller.require_admin()?;
        let after = cursor.map(Cursor::decode).transpose()?;
        let (entries, next) = self.store.scim_history_page(&caller.org, after, limit).await?;
        Ok(HistoryPage {
            // An overlap's end is recorded with its rotation and shown once it happened.
            history: entries.into_iter().filter(|e| e.at <= self.now).map(HistoryView::from).collect(),
            next_cursor: next.as_deref().map(Cursor::encode),
        })
    }
}
