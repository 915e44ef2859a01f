//! Who is calling the SCIM connector, and the token check that lets them in: one read of the
//! organization's SCIM settings together with what the use case needs first.
use crate::auth::{AuthError, AuthorizedOrg, PresentedToken};
use crate::domain::OrgId;
use crate::log::LogSlot;
use crate::store::{Prefetch, Prefetched};

use super::{fair_use, last_use, Provisioning, ProvisioningError};

/// The caller of an organization's connector: the organization in the URL and the bearer token
/// presented (checked by the use case, not yet here).
pub struct Caller {
    pub org: OrgId,
    pub token: Result<PresentedToken, AuthError>,
    /// What the request log learns as the request goes (the organization, tolerances applied).
    pub log: LogSlot,
}

impl Provisioning<'_> {
    /// Checks the caller's token (one read of the SCIM settings).
    pub async fn authorize(&self, caller: &Caller) -> Result<AuthorizedOrg, ProvisioningError> {
        self.authorize_with(caller, &Prefetch::default()).await.map(|(org, _)| org)
    }

    /// Checks the caller's token while reading `prefetch` in the same BatchGetItem, so the check
    /// costs no round trip of its own.
    pub(super) async fn authorize_with(
        &self,
        caller: &Caller,
        prefetch: &Prefetch,
    ) -> Result<(AuthorizedOrg, Prefetched), ProvisioningError> {
        // The fair-use count rides the token check's read (docs/ARCHITECTURE.md, "Fair use"), for a
        // request presenting a token this instance saw pass; all valid tokens share one counter.
        let (budget, known_buckets) = fair_use::remembered(&caller.org);
        let bucket = caller.token.as_ref().ok().map(|token| self.token_key.bucket(token));
        let window = bucket
            .as_ref()
            .filter(|bucket| known_buckets.contains(bucket))
            .map(|_| fair_use::window(budget, fair_use::VALID_BUCKET.to_owned(), self.clock.now()));
        // An OAuth access token's grant is read under its keyed hash in the same BatchGetItem.
        let access_hash = caller.token.as_ref().ok().and_then(|token| self.token_key.access_token_hash(token));
        let with_access;
        let prefetch = match access_hash {
            Some(hash) => {
                with_access = prefetch.clone().with_access_token(hash);
                &with_access
            }
            None => prefetch,
        };
        let (settings, mut found) = self.store.scim_settings_counted(&caller.org, prefetch, window.as_ref()).await?;
        if settings.is_some() {
            // Only an organization with SCIM settings has a request log.
            let org = caller.org.clone();
            caller.log.update(|note| note.org = Some(org));
            // The request's span (api::request_log) learns the organization when its log record does.
            tracing::Span::current().record("org", caller.org.as_str());
        }
        let token = caller.token.as_ref().map_err(|err| ProvisioningError::Auth(*err))?;
        let now = self.clock.now();
        let checked = self.token_key.authorize(&caller.org, settings.as_ref(), found.access_grant.as_ref(), token, now);
        let read_budget = found.rate_budget.unwrap_or(fair_use::DEFAULT_BUDGET);
        // The token that passed is remembered; a remembered one is forgotten once it fails (disabled,
        // expired, replaced, revoked), so its requests stop being counted. Another wrong token changes nothing.
        fair_use::remember(&caller.org, read_budget, bucket.as_deref(), checked.is_ok());
        if let (Ok((_, credential)), Some(settings)) = (&checked, settings.as_ref()) {
            last_use::note(self.store, self.background, &caller.org, settings, credential, now);
        }
        let checked = checked.map(|(org, _)| org);
        let org = checked?;
        caller.log.update(|note| note.authenticated = true);
        // Judged only once the token is valid: a wrong token never learns or spends the budget.
        if let (Some(window), Some(count)) = (window, found.rate_count.take()) {
            match count {
                Ok(count) => {
                    if let Some(retry_after) = fair_use::over_budget(budget, &window, count, self.clock.now()) {
                        return Err(ProvisioningError::OverBudget {
                            retry_after,
                            per_second: budget.per_second,
                            burst: budget.burst,
                        });
                    }
                }
                // Fair use is no reason to fail a request: an uncounted one goes through.
                Err(err) => tracing::warn!(error = %err, "fair-use count failed; request let through"),
            }
        }
        Ok((org, found))
    }
}
